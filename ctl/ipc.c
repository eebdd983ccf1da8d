// SPDX-License-Identifier: GPL-2.0
/*
 * The client side of the configuration protocol: connect to /var/run/wireguard/IFACE.sock,
 * write one request, read until the blank line that follows "errno=". Replies hold private
 * keys, so every buffer that sees them is secure memory, wiped when freed.
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "crypto.h"
#include "ctl.h"

enum ctl_ipc_limits {
	CTL_IPC_TIMEOUT_MS = 10000,
	/* A get=1 for a million peers is ~400 MB of text. xdpwgctl still reads a reply whole
	 * (show sorts, showconf is a snapshot); the daemon streams it (daemon/uapi.c). */
	CTL_IPC_REPLY_MAX = 1 << 30,
	CTL_IPC_CHUNK = 64 << 10,
	/* ctl_ipc_get_each: parsed and handed on about every 16 KB (~50 peers), so that a piece's
	 * peer array (216 bytes a peer, secure memory) stays within secmem.c's arena blocks: with
	 * 2 MiB pieces its doublings went through sodium_malloc (mmap, guard pages, a canary fill
	 * and a zeroing each), and memset was a third of `show` (perf, issue #21) */
	CTL_IPC_PIECE = 32 << 10,
};

const char *ctl_socket_dir(void)
{
	return "/var/run/wireguard";
}

static int ctl_ipc_connect(const char *iface, bool quiet)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, ret;

	if (!*iface || strchr(iface, '/') || strlen(iface) >= 16) {
		if (!quiet)
			ctl_err("%s: not an interface name", iface);
		return -EINVAL;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.sock", ctl_socket_dir(), iface);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		if (!quiet)
			ctl_err("socket: %s", strerror(errno));
		return ret;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		ret = -errno;
		if (!quiet)
			ctl_err("Unable to access interface %s: %s (%s)", iface, strerror(errno),
				sun.sun_path);
		close(fd);
		return ret;
	}
	return fd;
}

static int ctl_write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Complete once an "errno=" line is followed by an empty line. The search resumes at *from,
 * where the last one stopped: a reply of a million peers arrives in thousands of reads, and
 * scanning it from the start each time was quadratic. memmem for "\nerrno=", not a test at
 * every byte: that loop was an eighth of `xdpwgctl show` at 50,000 peers (callgrind). */
static bool ctl_reply_complete(const char *buf, size_t len, size_t *from, size_t *errno_off)
{
	size_t i = *from;
	const char *hit, *nl;

	if (i == 0 && len >= 6 && !memcmp(buf, "errno=", 6)) {
		hit = buf;
	} else {
		/* a line start before i was looked at already; back up one for its newline */
		if (i)
			i--;
		hit = len > i ? memmem(buf + i, len - i, "\nerrno=", 7) : NULL;
		if (!hit) {
			/* the last 6 bytes may be the start of one still arriving */
			*from = len > 6 ? len - 6 : 0;
			return false;
		}
		hit++;
	}
	i = (size_t)(hit - buf);
	*from = i;
	nl = memchr(hit, '\n', len - i);
	if (nl && (size_t)(nl - buf) + 1 < len && nl[1] == '\n') {
		*errno_off = i;
		return true;
	}
	return false;
}

/* The reply buffer doubled (secure memory: the reply may carry keys), up to CTL_IPC_REPLY_MAX.
 * 0, or -EMSGSIZE (said) / -ENOMEM; *buf stays valid either way. */
static int ctl_reply_grow(char **buf, size_t *cap, size_t len, const char *iface)
{
	char *grown;

	if (*cap >= CTL_IPC_REPLY_MAX) {
		ctl_err("%s: reply larger than %d bytes", iface, CTL_IPC_REPLY_MAX);
		return -EMSGSIZE;
	}
	grown = crypto_secure_alloc(*cap * 2 + 1);
	if (!grown)
		return -ENOMEM;
	memcpy(grown, *buf, len);
	crypto_secure_free(*buf);
	*buf = grown;
	*cap *= 2;
	return 0;
}

/* Read a whole reply into secure memory. */
static int ctl_read_reply(int fd, const char *iface, char **out, size_t *outlen, size_t *errno_off)
{
	size_t cap = CTL_IPC_CHUNK, len = 0, from = 0;
	char *buf = crypto_secure_alloc(cap + 1);
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int ret;

	if (!buf)
		return -ENOMEM;
	/* bounded: every pass reads something, and the total is capped */
	for (;;) {
		ssize_t r;

		if (ctl_reply_complete(buf, len, &from, errno_off))
			break;
		if (len == cap && (ret = ctl_reply_grow(&buf, &cap, len, iface)))
			goto err;
		ret = poll(&pfd, 1, CTL_IPC_TIMEOUT_MS);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret <= 0) {
			ret = ret ? -errno : -ETIMEDOUT;
			ctl_err("%s: no complete reply from the daemon: %s", iface, strerror(-ret));
			goto err;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			ret = r ? -errno : -EPROTO;
			ctl_err("%s: reply ended early: %s", iface, strerror(-ret));
			goto err;
		}
		len += (size_t)r;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	return 0;
err:
	crypto_secure_free(buf);
	return ret;
}

/* One poll and read into buf: bytes read, or -errno after a message. */
static ssize_t ctl_read_some(int fd, const char *iface, char *buf, size_t room)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	/* bounded: at most one wait of CTL_IPC_TIMEOUT_MS per interruption-free try */
	for (;;) {
		int ret = poll(&pfd, 1, CTL_IPC_TIMEOUT_MS);
		ssize_t r;

		if (ret < 0 && errno == EINTR)
			continue;
		if (ret <= 0) {
			ret = ret ? -errno : -ETIMEDOUT;
			ctl_err("%s: no complete reply from the daemon: %s", iface, strerror(-ret));
			return ret;
		}
		r = read(fd, buf, room);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			ret = r ? -errno : -EPROTO;
			ctl_err("%s: reply ended early: %s", iface, strerror(-ret));
			return ret;
		}
		return r;
	}
}

/* Where the last peer in buf[0..len) starts (a "public_key=" line after the first byte), or 0. */
static size_t ctl_last_peer(const char *buf, size_t len)
{
	static const char key[] = "public_key=";

	for (size_t i = len; i-- > 0;)
		if (buf[i] == '\n' && len - i - 1 >= sizeof(key) - 1 &&
		    !memcmp(buf + i + 1, key, sizeof(key) - 1))
			return i + 1;
	return 0;
}

/* Connected, with get=1 sent: the socket, or -errno (said). */
static int ctl_ipc_get_open(const char *iface)
{
	int fd = ctl_ipc_connect(iface, false), ret;

	if (fd < 0)
		return fd;
	ret = ctl_write_all(fd, "get=1\n\n", 7);
	if (ret) {
		ctl_err("%s: sending the request: %s", iface, strerror(-ret));
		close(fd);
		return ret;
	}
	return fd;
}

/* A piece's consumer; it may keep the piece (and set *piece to NULL) or leave it to be freed. */
typedef int (*ctl_take_fn)(void *ctx, struct conf_dev **piece, bool first);

static int ctl_ipc_get_pieces(const char *iface, ctl_take_fn fn, void *ctx)
{
	size_t cap = CTL_IPC_PIECE, len = 0, from = 0, eoff = 0;
	char err[CTL_ERR_LEN], *buf = NULL;
	bool first = true;
	int fd, ret;

	fd = ctl_ipc_get_open(iface);
	if (fd < 0)
		return fd;
	buf = crypto_secure_alloc(cap + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	/* bounded: every pass reads something or ends; the buffer only grows for a single peer
	 * longer than it, up to CTL_IPC_REPLY_MAX */
	for (;;) {
		bool done = ctl_reply_complete(buf, len, &from, &eoff);
		size_t cut = done ? eoff + strcspn(buf + eoff, "\n") : 0;
		ssize_t r;

		if (!done && len >= cap / 2)
			cut = ctl_last_peer(buf, len);
		if (cut) {
			struct conf_dev *piece;

			/* whole lines only: the device's, or whole peers, or the errno line */
			ret = uapi_parse_get(buf, cut, &piece, err, sizeof(err));
			if (ret) {
				ctl_err("Unable to access interface %s: %s", iface, err);
				goto out;
			}
			ret = fn(ctx, &piece, first);
			conf_free(piece);
			first = false;
			if (ret || done)
				goto out;
			len -= cut;
			memmove(buf, buf + cut, len);
			crypto_wipe(buf + len, cut);
			from = from > cut ? from - cut : 0;
		}
		if (len == cap && (ret = ctl_reply_grow(&buf, &cap, len, iface)))
			goto out;
		/* up to half the buffer, where a piece is cut: a piece of at most ~50 peers keeps
		 * its peer array in the arena (CTL_IPC_PIECE); past it, only a peer longer than
		 * that fills the rest */
		r = ctl_read_some(fd, iface, buf + len, len < cap / 2 ? cap / 2 - len : cap - len);
		if (r < 0) {
			ret = (int)r;
			goto out;
		}
		len += (size_t)r;
	}
out:
	crypto_secure_free(buf);
	close(fd);
	return ret;
}

struct ctl_each {
	ctl_piece_fn fn;
	void *ctx;
};

static int ctl_each_piece(void *ctx, struct conf_dev **piece, bool first)
{
	struct ctl_each *e = ctx;

	return e->fn(e->ctx, *piece, first);
}

int ctl_ipc_get_each(const char *iface, ctl_piece_fn fn, void *ctx)
{
	struct ctl_each e = { .fn = fn, .ctx = ctx };

	return ctl_ipc_get_pieces(iface, ctl_each_piece, &e);
}

/* ctl_ipc_get's consumer: the first piece (the device's fields and extensions) is kept, the
 * peers of the later ones are moved into it (their allowed IPs with them, not copied). */
static int ctl_gather_piece(void *ctx, struct conf_dev **piece, bool first)
{
	struct conf_dev **all = ctx, *p = *piece;

	if (first) {
		*all = p;
		*piece = NULL;
		return 0;
	}
	for (size_t i = 0; i < p->n_peers; i++) {
		struct conf_peer *to = conf_add_peer(*all), *from = &p->peers[i];

		if (!to) {
			ctl_err("out of memory");
			return -ENOMEM;
		}
		*to = *from;
		from->allowedips = from->roam_cidrs = NULL;
		from->n_allowedips = from->n_roam_cidrs = 0;
	}
	return 0;
}

/* The reply read piece by piece, never whole: a million peers' reply is ~400 MB of text, and
 * holding it in secure memory (zeroed, copied and wiped at every doubling) was most of `show`
 * and `metrics` (issue #21). The parsed peers are gathered into one snapshot. */
int ctl_ipc_get(const char *iface, struct conf_dev **out)
{
	struct conf_dev *all = NULL;
	int ret;

	*out = NULL;
	ret = ctl_ipc_get_pieces(iface, ctl_gather_piece, &all);
	if (ret) {
		conf_free(all);
		return ret;
	}
	*out = all;
	return 0;
}

static int ctl_snap_piece(void *ctx, struct conf_dev **piece, bool first)
{
	struct ctl_snap *s = ctx;
	struct conf_dev *p = *piece;

	(void)first;
	if (s->n_pieces == s->cap_pieces) {
		size_t cap = s->cap_pieces ? s->cap_pieces * 2 : 64;
		struct conf_dev **grown = realloc(s->pieces, cap * sizeof(*grown));

		if (!grown)
			goto nomem;
		s->pieces = grown;
		s->cap_pieces = cap;
	}
	if (s->n_peers + p->n_peers > s->cap_peers) {
		size_t cap = s->cap_peers ? s->cap_peers : 1024;
		const struct conf_peer **grown;

		while (cap < s->n_peers + p->n_peers)
			cap *= 2;
		grown = realloc(s->peers, cap * sizeof(*grown));
		if (!grown)
			goto nomem;
		s->peers = grown;
		s->cap_peers = cap;
	}
	for (size_t i = 0; i < p->n_peers; i++)
		s->peers[s->n_peers++] = &p->peers[i];
	s->pieces[s->n_pieces++] = p;
	s->dev = s->pieces[0];
	*piece = NULL;
	return 0;
nomem:
	ctl_err("out of memory");
	return -ENOMEM;
}

void ctl_snap_free(struct ctl_snap *s)
{
	for (size_t i = 0; i < s->n_pieces; i++)
		conf_free(s->pieces[i]);
	free(s->pieces);
	free(s->peers);
	memset(s, 0, sizeof(*s));
}

int ctl_ipc_get_snap(const char *iface, struct ctl_snap *s)
{
	int ret;

	memset(s, 0, sizeof(*s));
	ret = ctl_ipc_get_pieces(iface, ctl_snap_piece, s);
	if (ret)
		ctl_snap_free(s);
	return ret;
}

/* An upper bound on the set body's size, so it can be formatted into secure memory. */
static size_t ctl_set_size(const struct conf_dev *req)
{
	size_t n = 512 + req->n_allow_src * 64, i;

	for (i = 0; i < req->n_peers; ++i)
		n += 1024 + (req->peers[i].n_allowedips + req->peers[i].n_roam_cidrs) * 64;
	return n;
}

int ctl_ipc_set(const char *iface, const struct conf_dev *req)
{
	size_t cap = ctl_set_size(req), len, eoff = 0;
	char *body = NULL, *reply = NULL, *end;
	FILE *f = NULL;
	long e;
	int fd, ret;

	fd = ctl_ipc_connect(iface, false);
	if (fd < 0)
		return fd;
	body = crypto_secure_alloc(cap);
	if (body)
		f = fmemopen(body, cap, "w");
	if (!f) {
		ret = -ENOMEM;
		ctl_err("out of memory");
		goto out;
	}
	/* unbuffered: stdio's own buffer would be ordinary heap, and this holds keys */
	setvbuf(f, NULL, _IONBF, 0);
	fputs("set=1\n", f);
	uapi_format_set(req, f);
	fputs("\n", f);
	if (ferror(f) || ftell(f) < 0 || (size_t)ftell(f) >= cap) {
		ret = -EMSGSIZE;
		ctl_err("%s: request too large", iface);
		goto out;
	}
	len = (size_t)ftell(f);
	fclose(f);
	f = NULL;
	ret = ctl_write_all(fd, body, len);
	if (ret) {
		ctl_err("%s: sending the request: %s", iface, strerror(-ret));
		goto out;
	}
	ret = ctl_read_reply(fd, iface, &reply, &len, &eoff);
	if (ret)
		goto out;
	errno = 0;
	e = strtol(reply + eoff + 6, &end, 10);
	if (errno || *end != '\n') {
		ret = -EPROTO;
		ctl_err("Unable to modify interface %s: malformed reply", iface);
	} else if (e) {
		/* negative on the wire (wireguard-go, xdpwgd); accept a positive one too */
		ret = e < 0 ? (int)e : -(int)e;
		ctl_err("Unable to modify interface %s: %s", iface, strerror(-ret));
	}
out:
	if (f)
		fclose(f);
	crypto_secure_free(body);
	crypto_secure_free(reply);
	close(fd);
	return ret;
}

static int ctl_cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void ctl_free_list(char **names, size_t n)
{
	size_t i;

	for (i = 0; i < n; ++i)
		free(names[i]);
	free(names);
}

int ctl_ipc_list(char ***names, size_t *n)
{
	char **list = NULL;
	size_t count = 0;
	struct dirent *de;
	DIR *dir;

	*names = NULL;
	*n = 0;
	dir = opendir(ctl_socket_dir());
	if (!dir)
		return errno == ENOENT ? 0 : -errno;
	list = calloc(CTL_MAX_IFACES, sizeof(*list));
	if (!list) {
		closedir(dir);
		return -ENOMEM;
	}
	while ((de = readdir(dir)) && count < CTL_MAX_IFACES) {
		size_t l = strlen(de->d_name);
		char name[64];
		int fd;

		if (l <= 5 || l - 5 >= sizeof(name) || strcmp(de->d_name + l - 5, ".sock"))
			continue;
		memcpy(name, de->d_name, l - 5);
		name[l - 5] = '\0';
		/* only live daemons: a stale socket refuses the connection */
		fd = ctl_ipc_connect(name, true);
		if (fd < 0)
			continue;
		close(fd);
		list[count] = strdup(name);
		if (list[count])
			++count;
	}
	closedir(dir);
	qsort(list, count, sizeof(*list), ctl_cmp_names);
	*names = list;
	*n = count;
	return 0;
}
