// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon's socket files (see unixsock.h).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "unixsock.h"

int unixsock_mkdirs(const char *dir)
{
	char tmp[sizeof(((struct sockaddr_un *)0)->sun_path)];
	size_t len = strlen(dir);

	if (len >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, dir, len + 1);
	for (size_t i = 1; i <= len; ++i) {
		if (tmp[i] != '/' && tmp[i] != '\0')
			continue;
		tmp[i] = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		tmp[i] = i == len ? '\0' : '/';
	}
	return 0;
}

static int unixsock_addr(const char *path, struct sockaddr_un *addr)
{
	memset(addr, 0, sizeof(*addr));
	addr->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(addr->sun_path))
		return -ENAMETOOLONG;
	memcpy(addr->sun_path, path, strlen(path) + 1);
	return 0;
}

bool unixsock_in_use(const char *path)
{
	struct sockaddr_un addr;
	bool used;
	int fd;

	if (unixsock_addr(path, &addr) < 0)
		return false;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	/* EAGAIN: a listener whose backlog is full — still a live daemon */
	used = connect(fd, (const struct sockaddr *)&addr, sizeof(addr)) == 0 || errno == EAGAIN;
	close(fd);
	return used;
}

static int unixsock_bind(int fd, const struct sockaddr_un *addr)
{
	mode_t old = umask(0077);
	int ret = bind(fd, (const struct sockaddr *)addr, sizeof(*addr));

	ret = ret < 0 ? -errno : 0;
	umask(old);
	return ret;
}

int unixsock_listen(const char *path, int backlog, bool check_live, struct unixsock_id *id)
{
	struct sockaddr_un addr;
	struct stat st;
	int fd, ret;

	ret = unixsock_addr(path, &addr);
	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = unixsock_bind(fd, &addr);
	if (ret == -EADDRINUSE) {
		if (check_live && unixsock_in_use(path)) {
			log_err("%s is in use: another daemon runs this interface", path);
			goto err;
		}
		/* Only ever remove a stale socket, never some other file that happens to be
		 * there. */
		if (lstat(path, &st) < 0 || !S_ISSOCK(st.st_mode)) {
			log_err("%s exists and is not a socket", path);
			ret = -EEXIST;
			goto err;
		}
		if (check_live)
			log_info("removing stale socket %s", path);
		if (unlink(path) < 0 && errno != ENOENT) {
			ret = -errno;
			goto err;
		}
		ret = unixsock_bind(fd, &addr);
	}
	if (ret < 0) {
		log_err("cannot bind %s: %s", path, strerror(-ret));
		goto err;
	}
	if (listen(fd, backlog) < 0 || lstat(path, &st) < 0) {
		ret = -errno;
		unlink(path);
		goto err;
	}
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	return fd;

err:
	close(fd);
	return ret;
}

bool unixsock_still_ours(const char *path, const struct unixsock_id *id)
{
	struct stat st;

	return id->ino && lstat(path, &st) == 0 && st.st_dev == id->dev && st.st_ino == id->ino;
}
