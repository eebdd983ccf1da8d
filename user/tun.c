// SPDX-License-Identifier: GPL-2.0
/*
 * TUN queues. A TUN created with TUNSETIFF and never made persistent lives exactly as long as its
 * queue file descriptors, so closing them is how the daemon deletes its interface on exit, and
 * reads failing with EBADFD is how it learns that someone deleted it (wg-quick down does
 * `ip link delete`).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "tun.h"

bool tun_name_valid(const char *name)
{
	size_t i, len = strlen(name);

	if (len == 0 || len >= IFNAMSIZ)
		return false;
	/* "." and ".." are valid characters but not valid interface names */
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (i = 0; i < len; ++i) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '=' || c == '+' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

static int tun_open_queue(const char *name)
{
	struct ifreq ifr = { 0 };
	int fd, ret;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int tun_set_mtu(const char *name, unsigned int mtu)
{
	struct ifreq ifr = { 0 };
	int fd, ret = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	ifr.ifr_mtu = (int)mtu;
	if (ioctl(fd, SIOCSIFMTU, &ifr) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int tun_get_mtu(const char *name)
{
	struct ifreq ifr = { 0 };
	int fd, ret;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	ret = ioctl(fd, SIOCGIFMTU, &ifr) < 0 ? -errno : ifr.ifr_mtu;
	close(fd);
	return ret;
}

int tun_open(struct tun_dev *t, const char *name, unsigned int mtu)
{
	int fd, ret;

	memset(t, 0, sizeof(*t));
	for (unsigned int i = 0; i < TUN_MAX_QUEUES; ++i)
		t->fds[i] = -1;
	if (!tun_name_valid(name))
		return -EINVAL;
	strncpy(t->name, name, IFNAMSIZ - 1);
	fd = tun_open_queue(name);
	if (fd < 0) {
		log_err("%s: cannot create TUN: %s", name, strerror(-fd));
		return fd;
	}
	t->fds[0] = fd;
	t->n_queues = 1;
	t->ifindex = (int)if_nametoindex(name);
	if (mtu) {
		ret = tun_set_mtu(name, mtu);
		if (ret < 0) {
			log_err("%s: cannot set MTU %u: %s", name, mtu, strerror(-ret));
			tun_close(t);
			return ret;
		}
	}
	return 0;
}

int tun_add_queue(struct tun_dev *t)
{
	int fd;

	if (t->n_queues >= TUN_MAX_QUEUES)
		return -ENOSPC;
	fd = tun_open_queue(t->name);
	if (fd < 0)
		return fd;
	t->fds[t->n_queues++] = fd;
	return fd;
}

ssize_t tun_read(const struct tun_dev *t, unsigned int q, void *buf, size_t len)
{
	ssize_t n = read(t->fds[q], buf, len);

	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EINTR)
		return 0;
	return -errno;
}

int tun_write(const struct tun_dev *t, unsigned int q, const void *pkt, size_t len)
{
	ssize_t n = write(t->fds[q], pkt, len);

	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

void tun_close(struct tun_dev *t)
{
	for (unsigned int i = 0; i < t->n_queues; ++i) {
		if (t->fds[i] >= 0)
			close(t->fds[i]);
		t->fds[i] = -1;
	}
	t->n_queues = 0;
}
