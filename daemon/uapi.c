// SPDX-License-Identifier: GPL-2.0
/*
 * The configuration socket server. Requests are parsed only once complete (a get=1 with its
 * blank line, a set=1 through its blank line), so a slow or malicious client can hold a
 * connection but never a half-applied change. Buffers that may hold keys (set bodies carry the
 * private key, get replies too) grow by copy-and-wipe and are wiped when freed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "crypto.h"
#include "log.h"
#include "uapi.h"
#include "unixsock.h"

enum uapi_internal {
	UAPI_BACKLOG = 16,
	UAPI_OP_MAX = 16, /* longer than any operation line ("set=1\n", "get=1\n") */
	UAPI_ERRLEN = 256,
	UAPI_FORMAT_BUF = 16 << 10, /* stdio's buffer while formatting a get=1 (on the stack) */
};

struct uapi_buf {
	char *p;
	size_t len, cap;
};

struct uapi_conn {
	struct uapi_server *srv;
	int fd;
	struct uapi_buf in, out;
	bool eof;     /* the client will send nothing more */
	bool closing; /* close once out is flushed */
	bool want_out;
	size_t scanned; /* c->in searched this far for the end of a set=1 body */
	void *stream;	/* a get=1 reply being streamed (uapi_handler.get_begin) */
	struct uapi_conn *prev, *next;
};

struct uapi_server {
	int epfd, lfd, ifd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct unixsock_id id; /* the socket file we created */
	const struct uapi_handler *h;
	void *ctx;
	struct uapi_conn *conns;
	unsigned int n_conns;
};

/* --- buffers that may hold secrets --- */

static int ubuf_reserve(struct uapi_buf *b, size_t extra)
{
	size_t cap;
	char *p;

	if (b->len + extra <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + extra)
		cap *= 2;
	p = malloc(cap);
	if (!p)
		return -ENOMEM;
	if (b->p) {
		memcpy(p, b->p, b->len);
		crypto_wipe(b->p, b->cap);
		free(b->p);
	}
	b->p = p;
	b->cap = cap;
	return 0;
}

static int ubuf_append(struct uapi_buf *b, const void *data, size_t n)
{
	if (ubuf_reserve(b, n) < 0)
		return -ENOMEM;
	memcpy(b->p + b->len, data, n);
	b->len += n;
	return 0;
}

static void ubuf_consume(struct uapi_buf *b, size_t n)
{
	if (!n)
		return;
	memmove(b->p, b->p + n, b->len - n);
	crypto_wipe(b->p + b->len - n, n);
	b->len -= n;
}

static void ubuf_truncate(struct uapi_buf *b, size_t len)
{
	crypto_wipe(b->p + len, b->len - len);
	b->len = len;
}

static void ubuf_free(struct uapi_buf *b)
{
	if (b->p) {
		crypto_wipe(b->p, b->cap);
		free(b->p);
	}
	memset(b, 0, sizeof(*b));
}

/* --- socket file --- */

int uapi_socket_path(char *buf, size_t len, const char *ifname)
{
	int n = snprintf(buf, len, "%s/%s.sock", UAPI_SOCKET_DIR, ifname);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int uapi_listen(struct uapi_server *s)
{
	int ret = unixsock_mkdirs(UAPI_SOCKET_DIR);

	if (ret < 0) {
		log_err("cannot create %s: %s", UAPI_SOCKET_DIR, strerror(-ret));
		return ret;
	}
	ret = unixsock_listen(s->path, UAPI_BACKLOG, true, &s->id);
	if (ret < 0)
		return ret;
	s->lfd = ret;
	return 0;
}

/* --- connections --- */

static int uapi_conn_events(struct uapi_conn *c, bool want_out)
{
	/* While a reply is pending, later requests wait anyway: watch only for writability, or a
	 * client that has closed its side would keep the fd readable and the loop spinning. */
	struct epoll_event ev = { .events = want_out ? EPOLLOUT : EPOLLIN, .data.ptr = c };

	if (c->want_out == want_out)
		return 0;
	c->want_out = want_out;
	return epoll_ctl(c->srv->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0 ? -errno : 0;
}

static void uapi_conn_free(struct uapi_conn *c)
{
	struct uapi_server *s = c->srv;

	if (c->stream)
		s->h->get_end(s->ctx, c->stream);
	epoll_ctl(s->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	ubuf_free(&c->in);
	ubuf_free(&c->out);
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	s->n_conns--;
	free(c);
}

static ssize_t uapi_cookie_write(void *cookie, const char *buf, size_t len)
{
	struct uapi_conn *c = cookie;

	if (ubuf_append(&c->out, buf, len) < 0) {
		errno = ENOMEM;
		return -1;
	}
	return (ssize_t)len;
}

/* A snapshot (or a piece of one) as get=1 text appended to c->out. */
static int uapi_format_into(struct uapi_conn *c, const struct conf_dev *snap)
{
	cookie_io_functions_t io = { .write = uapi_cookie_write };
	char buf[UAPI_FORMAT_BUF];
	FILE *f;
	int ret;

	f = fopencookie(c, "w", io);
	if (!f)
		return -ENOMEM;
	/* Our own buffer, wiped below: the reply holds the private key, and a buffer of stdio's
	 * own would be freed unwiped. Unbuffered, every line was a call of the write hook: a
	 * third of a million peers' get=1. */
	setvbuf(f, buf, _IOFBF, sizeof(buf));
	ret = uapi_format_get(snap, f);
	if (fclose(f) != 0 && ret >= 0)
		ret = -ENOMEM;
	crypto_wipe(buf, sizeof(buf));
	return ret;
}

static int uapi_do_get(struct uapi_conn *c)
{
	size_t start = c->out.len;
	struct conf_dev *snap;
	int ret;

	snap = c->srv->h->get(c->srv->ctx);
	if (!snap)
		return -ENOMEM;
	ret = uapi_format_into(c, snap);
	conf_free(snap);
	if (ret < 0) {
		/* a half-written reply would be misread as a device: send only the error */
		ubuf_truncate(&c->out, start);
		return ret;
	}
	return 0;
}

/* A streamed get=1: the next pieces into c->out until UAPI_STREAM_HIGH bytes wait or the
 * reply ends (then its errno line). 0, or -1 to close the connection: part of the reply may
 * have left already, and a reply cut short must not read as a smaller device. */
static int uapi_conn_pump(struct uapi_conn *c)
{
	const struct uapi_handler *h = c->srv->h;

	while (c->stream && c->out.len < UAPI_STREAM_HIGH) {
		struct conf_dev *piece;
		int err, ret;

		piece = h->get_next(c->srv->ctx, c->stream, &err);
		if (!piece) {
			h->get_end(c->srv->ctx, c->stream);
			c->stream = NULL;
			if (err) {
				log_err("configuration socket: get: %s", strerror(-err));
				return -1;
			}
			return ubuf_append(&c->out, "errno=0\n\n", 9) < 0 ? -1 : 0;
		}
		ret = uapi_format_into(c, piece);
		conf_free(piece);
		if (ret < 0) {
			h->get_end(c->srv->ctx, c->stream);
			c->stream = NULL;
			return -1;
		}
	}
	return 0;
}

static int uapi_do_set(struct uapi_conn *c, const char *body, size_t len)
{
	char err[UAPI_ERRLEN] = "";
	struct conf_dev *req = NULL;
	int ret;

	ret = uapi_parse_set(body, len, &req, err, sizeof(err));
	if (ret >= 0) {
		ret = c->srv->h->set(c->srv->ctx, req, err, sizeof(err));
		conf_free(req);
	}
	if (ret < 0)
		log_err("configuration refused: %s", err[0] ? err : strerror(-ret));
	return ret;
}

/* Handle one complete request at the head of c->in: 1 if one was handled, 0 if it is not
 * complete yet, -1 to close the connection (protocol error, after replying when possible). */
static int uapi_conn_request(struct uapi_conn *c)
{
	const char *p = c->in.p, *nl, *end;
	size_t len = c->in.len, used;
	char reply[32];
	int ret, close_after = 0;

	nl = len ? memchr(p, '\n', len) : NULL;
	if (!nl)
		return len > UAPI_OP_MAX ? -1 : 0;
	if ((size_t)(nl - p) == 5 && !memcmp(p, "get=1", 5)) {
		if (len < 7)
			return 0;
		used = 7;
		if (p[6] != '\n') {
			/* wireguard-go's answer; the stream is out of step after it */
			ret = -EINVAL;
			close_after = 1;
		} else if (c->srv->h->get_begin) {
			c->stream = c->srv->h->get_begin(c->srv->ctx);
			if (c->stream) {
				/* the errno line ends the stream (uapi_conn_pump) */
				ubuf_consume(&c->in, used);
				c->scanned = 0;
				return 1;
			}
			ret = -ENOMEM;
		} else {
			ret = uapi_do_get(c);
		}
	} else if ((size_t)(nl - p) == 5 && !memcmp(p, "set=1", 5)) {
		/* The body ends at the first empty line; "set=1\n\n" has an empty body. Resume
		 * the search where the last one stopped: a large body arrives in many reads. */
		size_t from = c->scanned > 5 ? c->scanned - 1 : 5;

		end = memmem(p + from, len - from, "\n\n", 2);
		if (!end) {
			c->scanned = len;
			return len > UAPI_MAX_REQUEST ? -1 : 0;
		}
		used = (size_t)(end - p) + 2;
		ret = uapi_do_set(c, p + 6, end == p + 5 ? 0 : (size_t)(end - (p + 6)) + 1);
	} else {
		log_warn("configuration socket: invalid operation, closing the connection");
		return -1;
	}
	/* Negative, as wireguard-go sends it: wg(8) sets errno to minus this value, so a
	 * positive one would print as "Unknown error -22". */
	snprintf(reply, sizeof(reply), "errno=%d\n\n", ret < 0 ? ret : 0);
	if (ubuf_append(&c->out, reply, strlen(reply)) < 0)
		return -1;
	ubuf_consume(&c->in, used);
	c->scanned = 0;
	return close_after ? -1 : 1;
}

/* Write what is pending, formatting more of a streamed reply as it drains, at most
 * UAPI_FLUSH_BUDGET bytes per call (then EPOLLOUT brings us back on the next round of the
 * loop). 0, or -1 when the connection is dead. */
static int uapi_conn_flush(struct uapi_conn *c)
{
	size_t sent = 0, total = 0;
	int ret = 0;

	for (;;) {
		ssize_t n;

		if (c->stream && c->out.len - sent < UAPI_STREAM_HIGH) {
			/* one memmove per piece, not per send */
			ubuf_consume(&c->out, sent);
			sent = 0;
			if (uapi_conn_pump(c) < 0)
				return -1;
		}
		if (c->out.len == sent)
			break;
		if (total >= UAPI_FLUSH_BUDGET) {
			ubuf_consume(&c->out, sent);
			return uapi_conn_events(c, true) < 0 ? -1 : 0;
		}
		n = send(c->fd, c->out.p + sent, c->out.len - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				ubuf_consume(&c->out, sent);
				return uapi_conn_events(c, true) < 0 ? -1 : 0;
			}
			ret = -1;
			break;
		}
		sent += (size_t)n;
		total += (size_t)n;
	}
	ubuf_consume(&c->out, sent);
	if (ret < 0)
		return ret;
	return uapi_conn_events(c, false) < 0 ? -1 : 0;
}

/* Read what is there (bounded), answer every complete request, write. Frees c when done. */
static void uapi_conn_handle(struct uapi_conn *c, uint32_t events)
{
	int ret;

	if (events & EPOLLERR)
		goto close;
	for (int i = 0; (events & (EPOLLIN | EPOLLHUP)) && !c->eof && i < 16; ++i) {
		ssize_t n;

		if (ubuf_reserve(&c->in, UAPI_READ_CHUNK) < 0)
			goto close;
		n = recv(c->fd, c->in.p + c->in.len, UAPI_READ_CHUNK, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			goto close;
		}
		if (n == 0)
			c->eof = true;
		c->in.len += (size_t)n;
		if (c->in.len > UAPI_MAX_REQUEST + UAPI_READ_CHUNK) {
			log_warn("configuration socket: request too large, closing the connection");
			goto close;
		}
	}
	/* Answer in order; while a reply is still unsent, leave later requests queued. */
	while (!c->closing && c->out.len == 0 && !c->stream) {
		ret = uapi_conn_request(c);
		if (ret < 0)
			c->closing = true;
		if (ret <= 0)
			break;
		if (uapi_conn_flush(c) < 0)
			goto close;
	}
	if (uapi_conn_flush(c) < 0)
		goto close;
	if (c->out.len == 0 && (c->closing || c->eof))
		goto close;
	return;

close:
	uapi_conn_free(c);
}

static void uapi_accept(struct uapi_server *s)
{
	for (int i = 0; i < UAPI_POLL_BUDGET; ++i) {
		struct epoll_event ev = { .events = EPOLLIN };
		struct uapi_conn *c;
		int fd;

		fd = accept4(s->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		if (s->n_conns >= UAPI_MAX_CONNS) {
			log_warn("configuration socket: too many connections");
			close(fd);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->srv = s;
		c->fd = fd;
		ev.data.ptr = c;
		if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		s->n_conns++;
	}
}

/* Whether the socket file is still the one we created. */
int uapi_server_poll(struct uapi_server *s)
{
	struct epoll_event evs[UAPI_POLL_BUDGET];
	int n, ret = 0;

	n = epoll_wait(s->epfd, evs, UAPI_POLL_BUDGET, 0);
	for (int i = 0; i < n; ++i) {
		if (evs[i].data.ptr == &s->lfd) {
			uapi_accept(s);
		} else if (evs[i].data.ptr == &s->ifd) {
			char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));

			while (read(s->ifd, buf, sizeof(buf)) > 0)
				;
			/* unlinking a bound socket only changes its link count (IN_ATTRIB) */
			if (!unixsock_still_ours(s->path, &s->id))
				ret = -ENOENT;
		} else {
			uapi_conn_handle(evs[i].data.ptr, evs[i].events);
		}
	}
	return ret;
}

int uapi_server_fd(const struct uapi_server *s)
{
	return s->epfd;
}

struct uapi_server *uapi_server_new(const char *ifname, const struct uapi_handler *h, void *ctx,
				    int *err)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct uapi_server *s;
	int ret;

	s = calloc(1, sizeof(*s));
	if (!s) {
		*err = -ENOMEM;
		return NULL;
	}
	s->h = h;
	s->ctx = ctx;
	s->lfd = s->ifd = -1;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (s->epfd < 0) {
		ret = -errno;
		goto err;
	}
	ret = uapi_socket_path(s->path, sizeof(s->path), ifname);
	if (ret < 0)
		goto err;
	ret = uapi_listen(s);
	if (ret < 0)
		goto err;
	ev.data.ptr = &s->lfd;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->lfd, &ev) < 0) {
		ret = -errno;
		goto err;
	}
	/* Like wireguard-go, stop when someone removes the socket: a way to shut the daemon
	 * down, and the sign that a new instance has taken over the name. Best effort. */
	s->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->ifd >= 0) {
		ev.data.ptr = &s->ifd;
		if (inotify_add_watch(s->ifd, s->path, IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF) <
			    0 ||
		    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->ifd, &ev) < 0) {
			close(s->ifd);
			s->ifd = -1;
		}
	}
	return s;

err:
	*err = ret;
	uapi_server_free(s);
	return NULL;
}

void uapi_server_free(struct uapi_server *s)
{
	if (!s)
		return;
	while (s->conns)
		uapi_conn_free(s->conns);
	if (s->ifd >= 0)
		close(s->ifd);
	if (s->lfd >= 0) {
		close(s->lfd);
		if (unixsock_still_ours(s->path, &s->id))
			unlink(s->path);
	}
	if (s->epfd >= 0)
		close(s->epfd);
	free(s);
}
