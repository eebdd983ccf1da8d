// SPDX-License-Identifier: GPL-2.0
/*
 * The metrics endpoint (see metrics_http.h), streamed. A scrape of a million peers is ~1.5 GB
 * of text in nine families; answered at once it held the control thread (handshakes, timers,
 * the configuration socket) for the whole of it and needed a snapshot of every peer first
 * (issue #21). Now each connection is a small state machine on the control thread, like the
 * configuration socket's streamed get=1: its request head is read as it arrives, and its body
 * is formatted a piece at a time (DAEMON_GET_PIECE peers, at most METRICS_OUT_HIGH bytes ahead
 * of the socket) only when the socket has room, so a scrape costs the control thread short
 * turns between its other work and a slow scraper costs memory, not time.
 *
 * The exposition wants each family's lines together, so the peers are walked once per family:
 * each walk is a fresh engine dump (references to the peers of that moment, see
 * engine/device_dump.c). Like a netlink dump, the answer is not one atomic picture: a peer added
 * or removed mid-scrape may be in some families and not in others.
 *
 * The body ends with the connection (no Content-Length; HTTP/1.1 allows it with "Connection:
 * close"). A connection that makes no progress for METRICS_STALL_MS is dropped; at most
 * METRICS_CONNS_MAX are served at once and a connection beyond them gets a 503.
 *
 * Answers: 200 for GET (and HEAD) of /metrics, 404 for another path, 405 for another method,
 * 400 for what is not an HTTP request line. Nothing else (no TLS, no authentication): bind it to
 * a management address.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics_http.h"
#include "prom.h"
#include "uapi.h"
#include "xdpwgd.h"

enum metrics_http_limits {
	METRICS_BACKLOG = 16,
	METRICS_CONNS_MAX = 4,
	METRICS_POLL_BUDGET = 16,      /* events handled per wakeup */
	METRICS_STALL_MS = 10000,      /* no byte read or sent this long: dropped */
	METRICS_REQUEST_MAX = 4096,    /* the request head we read at most */
	METRICS_OUT_HIGH = 256 << 10,  /* formatted ahead of the socket, at most: ~1.5 ms a turn */
	METRICS_FORMAT_BUF = 64 << 10, /* stdio's buffer while formatting */
	METRICS_WORKERS_MAX = 256,
};

enum metrics_state {
	METRICS_READ,  /* the request head */
	METRICS_PEERS, /* the body: family `family`, a dump in progress */
	METRICS_FLUSH, /* everything formatted; the rest is sending it */
};

struct metrics_conn {
	int fd;
	enum metrics_state state;
	char req[METRICS_REQUEST_MAX];
	size_t req_len;
	char *out; /* formatted, not sent yet: out[off..len) */
	size_t off, len, cap;
	bool want_out; /* EPOLLOUT registered */
	uint64_t progress_ms;
	/* the body */
	struct prom_input in;
	uint64_t xdp[XDPWG_STAT_MAX];
	struct prom_worker *workers;
	unsigned int family;
	void *dump;	  /* daemon_uapi_handler's streamed get, for this family */
	bool family_head; /* the family's HELP/TYPE lines are still due */
	bool head_done;	  /* xdpwg_up, xdpwg_xdp_attached, xdpwg_peers */
};

struct metrics_http {
	int fd, epfd;
	struct metrics_conn *conns[METRICS_CONNS_MAX];
	struct xdpwgd *d; /* the daemon of the last poll: what a dump left at free goes back to */
};

static uint64_t metrics_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct metrics_http *metrics_http_new(const struct wg_endpoint *addr, int *err)
{
	struct metrics_http *m = calloc(1, sizeof(*m));
	struct epoll_event ev = { .events = EPOLLIN };
	char buf[ENDPOINT_STRLEN];
	int one = 1;

	if (!m) {
		*err = -ENOMEM;
		return NULL;
	}
	m->epfd = epoll_create1(EPOLL_CLOEXEC);
	m->fd = socket(addr->addr.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	ev.data.ptr = m;
	if (m->epfd < 0 || m->fd < 0 ||
	    setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(m->fd, &addr->addr.sa, endpoint_socklen(addr)) < 0 ||
	    listen(m->fd, METRICS_BACKLOG) < 0 ||
	    epoll_ctl(m->epfd, EPOLL_CTL_ADD, m->fd, &ev) < 0) {
		*err = -errno;
		log_err("metrics: cannot listen on %s: %s", endpoint_format(addr, buf),
			strerror(errno));
		metrics_http_free(m);
		return NULL;
	}
	log_info("metrics: serving http://%s/metrics", endpoint_format(addr, buf));
	return m;
}

/* The inner epoll set (listening socket and connections): readable when any of them is ready. */
int metrics_http_fd(const struct metrics_http *m)
{
	return m->epfd;
}

static void metrics_conn_free(struct metrics_http *m, struct metrics_conn *c, struct xdpwgd *d)
{
	for (int i = 0; i < METRICS_CONNS_MAX; i++)
		if (m->conns[i] == c)
			m->conns[i] = NULL;
	if (c->dump)
		daemon_uapi_handler.get_end(d, c->dump);
	epoll_ctl(m->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->workers);
	free(c->out);
	free(c);
}

void metrics_http_free(struct metrics_http *m)
{
	if (!m)
		return;
	/* a dump holds peer references: freed through the daemon before the engine goes */
	for (int i = 0; i < METRICS_CONNS_MAX; i++)
		if (m->conns[i])
			metrics_conn_free(m, m->conns[i], m->d);
	if (m->fd >= 0)
		close(m->fd);
	if (m->epfd >= 0)
		close(m->epfd);
	free(m);
}

static ssize_t metrics_cookie_write(void *cookie, const char *buf, size_t len)
{
	struct metrics_conn *c = cookie;

	if (c->len + len > c->cap) {
		size_t cap = c->cap ? c->cap : METRICS_FORMAT_BUF;
		char *grown;

		while (cap < c->len + len)
			cap *= 2;
		grown = realloc(c->out, cap);
		if (!grown)
			return -1;
		c->out = grown;
		c->cap = cap;
	}
	memcpy(c->out + c->len, buf, len);
	c->len += len;
	return (ssize_t)len;
}

static int metrics_out(struct metrics_conn *c, const char *s)
{
	return metrics_cookie_write(c, s, strlen(s)) < 0 ? -ENOMEM : 0;
}

static void metrics_status(struct metrics_conn *c, const char *status, const char *body)
{
	char head[256];

	snprintf(head, sizeof(head),
		 "HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
		 "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		 status, strlen(body));
	if (metrics_out(c, head) == 0)
		metrics_out(c, body);
	c->state = METRICS_FLUSH;
}

/* What the body needs besides the peers, taken when the answer starts. */
static void metrics_gather(struct metrics_conn *c, struct xdpwgd *d)
{
	struct timespec now;
	size_t n = 0;

	c->in.iface = d->ifname;
	if (d->xdp && io_xdp_stats(d->xdp, c->xdp) == 0) {
		c->in.xdp = c->xdp;
		c->in.n_xdp = XDPWG_STAT_MAX;
	}
	if (d->xdp)
		c->workers = calloc(METRICS_WORKERS_MAX, sizeof(*c->workers));
	for (unsigned int i = 0; c->workers && i < METRICS_WORKERS_MAX; i++) {
		struct prom_worker *w = &c->workers[n];
		struct io_xdp_worker_info wi;

		if (io_xdp_worker_info(d->xdp, i, &wi) < 0)
			break;
		if (!if_indextoname((unsigned int)wi.ifindex, w->uplink))
			snprintf(w->uplink, sizeof(w->uplink), "if%d", wi.ifindex);
		w->worker = i;
		w->queue = wi.queue;
		w->tun_queue = wi.tun_queue;
		w->cpu = wi.cpu;
		w->zerocopy = wi.zerocopy;
		w->rx_frames = wi.rx_frames;
		w->rx_bad = wi.rx_bad;
		w->tx_frames = wi.tx_frames;
		w->tx_fallback = wi.tx_fallback;
		w->tun_packets = wi.tun_packets;
		w->rx_ring = wi.rx_ring;
		w->fill_ring = wi.fill_ring;
		w->tx_ring = wi.tx_ring;
		w->tx_inflight = wi.tx_inflight;
		w->busy_poll = wi.busy_poll;
		n++;
	}
	c->in.workers = c->workers;
	c->in.n_workers = n;
	clock_gettime(CLOCK_REALTIME, &now);
	c->in.now = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* The request head is complete (or as long as we read): start the answer. */
static void metrics_start(struct metrics_conn *c, struct xdpwgd *d)
{
	char method[16], path[256];

	c->req[c->req_len] = '\0';
	if (sscanf(c->req, "%15s %255s HTTP/1.%*c", method, path) != 2) {
		metrics_status(c, "400 Bad Request", "not an HTTP request\n");
	} else if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		metrics_status(c, "405 Method Not Allowed", "GET /metrics\n");
	} else if (strcmp(path, "/metrics") && strncmp(path, "/metrics?", 9)) {
		metrics_status(c, "404 Not Found", "GET /metrics\n");
	} else {
		metrics_out(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; "
			       "charset=utf-8\r\n"
			       "Connection: close\r\n\r\n");
		if (!strcmp(method, "HEAD")) {
			c->state = METRICS_FLUSH;
			return;
		}
		metrics_gather(c, d);
		c->state = METRICS_PEERS;
		c->family = 0;
		c->family_head = true;
	}
}

static const struct conf_dev metrics_no_peers;

/* Format the next part of the body into c->out, up to METRICS_OUT_HIGH waiting. 0, or -errno
 * to drop the connection (a body cut short must not read as a smaller device: it is closed
 * without its tail, and Prometheus refuses a truncated scrape). */
static int metrics_format(struct metrics_conn *c, struct xdpwgd *d)
{
	cookie_io_functions_t io = { .write = metrics_cookie_write };
	char buf[METRICS_FORMAT_BUF];
	int ret = 0;
	FILE *f;

	f = fopencookie(c, "w", io);
	if (!f)
		return -ENOMEM;
	setvbuf(f, buf, _IOFBF, sizeof(buf));
	if (!c->head_done) {
		prom_write_head(f, &c->in, true, wg_device_peer_count(d->dev));
		c->head_done = true;
	}
	while (c->state == METRICS_PEERS && c->len - c->off < METRICS_OUT_HIGH) {
		struct conf_dev *piece;
		int err = 0;

		if (c->family >= PROM_PEER_FAMILIES) {
			ret = prom_write_tail(f, &c->in);
			c->state = METRICS_FLUSH;
			break;
		}
		if (!c->dump) {
			c->dump = daemon_uapi_handler.get_begin(d);
			if (!c->dump) {
				ret = -ENOMEM;
				break;
			}
		}
		piece = daemon_uapi_handler.get_next(d, c->dump, &err);
		if (!piece) {
			daemon_uapi_handler.get_end(d, c->dump);
			c->dump = NULL;
			if (err) {
				ret = err;
				break;
			}
			/* a family of no peers still gets its HELP and TYPE, as before */
			if (c->family_head)
				prom_write_peer_family(f, c->in.iface, c->family, &metrics_no_peers,
						       NULL, c->in.now, true);
			c->family++;
			c->family_head = true;
			continue;
		}
		prom_write_peer_family(f, c->in.iface, c->family, piece, NULL, c->in.now,
				       c->family_head);
		c->family_head = false;
		conf_free(piece);
		/* let stdio hand over what it holds, so the watermark sees it */
		fflush(f);
	}
	if (fclose(f) != 0 && !ret)
		ret = -ENOMEM;
	return ret;
}

static int metrics_want_out(struct metrics_http *m, struct metrics_conn *c, bool on)
{
	struct epoll_event ev = { .events = on ? EPOLLOUT : EPOLLIN, .data.ptr = c };

	if (c->want_out == on)
		return 0;
	c->want_out = on;
	return epoll_ctl(m->epfd, EPOLL_CTL_MOD, c->fd, &ev) < 0 ? -errno : 0;
}

/* Send what waits; true when the connection is finished (or broken) and goes. */
static bool metrics_send(struct metrics_http *m, struct metrics_conn *c)
{
	while (c->off < c->len) {
		ssize_t w =
			send(c->fd, c->out + c->off, c->len - c->off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return metrics_want_out(m, c, true) < 0;
		if (w <= 0) {
			log_debug("metrics: the scraper went away mid-answer");
			return true;
		}
		c->off += (size_t)w;
		c->progress_ms = metrics_now_ms();
	}
	c->off = c->len = 0;
	if (c->state == METRICS_FLUSH)
		return true;
	/* more to format: come back when the socket can take it */
	return metrics_want_out(m, c, true) < 0;
}

static bool metrics_read(struct metrics_conn *c)
{
	for (;;) {
		ssize_t n = recv(c->fd, c->req + c->req_len, sizeof(c->req) - 1 - c->req_len,
				 MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return false;
		if (n <= 0)
			return true; /* closed before a whole head: answer what came */
		c->req_len += (size_t)n;
		c->progress_ms = metrics_now_ms();
		c->req[c->req_len] = '\0';
		if (strstr(c->req, "\r\n\r\n") || strstr(c->req, "\n\n") ||
		    c->req_len + 1 >= sizeof(c->req))
			return true;
	}
}

/* One turn of a connection; false when it is finished and was freed. */
static bool metrics_conn_turn(struct metrics_http *m, struct metrics_conn *c, struct xdpwgd *d)
{
	if (c->state == METRICS_READ) {
		if (!metrics_read(c))
			return true;
		if (!c->req_len) {
			metrics_conn_free(m, c, d);
			return false;
		}
		metrics_start(c, d);
	}
	if (c->state == METRICS_PEERS && c->len - c->off < METRICS_OUT_HIGH &&
	    metrics_format(c, d) < 0) {
		log_debug("metrics: cannot format the answer; connection closed");
		metrics_conn_free(m, c, d);
		return false;
	}
	if (metrics_send(m, c)) {
		metrics_conn_free(m, c, d);
		return false;
	}
	return true;
}

static void metrics_accept(struct metrics_http *m, struct xdpwgd *d)
{
	for (int k = 0; k < METRICS_BACKLOG; k++) {
		static const char busy[] =
			"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
			"Connection: close\r\n\r\n";
		struct epoll_event ev = { .events = EPOLLIN };
		struct metrics_conn *c;
		int fd = accept4(m->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC), slot = -1;

		if (fd < 0)
			return;
		for (int i = 0; i < METRICS_CONNS_MAX && slot < 0; i++)
			if (!m->conns[i])
				slot = i;
		c = slot < 0 ? NULL : calloc(1, sizeof(*c));
		if (!c) {
			if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				log_debug("metrics: 503: %s", strerror(errno));
			close(fd);
			continue;
		}
		c->fd = fd;
		c->progress_ms = metrics_now_ms();
		ev.data.ptr = c;
		if (epoll_ctl(m->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		m->conns[slot] = c;
		(void)d;
	}
}

/* Connections that made no progress for METRICS_STALL_MS: a scraper that stopped reading. */
static void metrics_reap(struct metrics_http *m, struct xdpwgd *d)
{
	uint64_t now = metrics_now_ms();

	for (int i = 0; i < METRICS_CONNS_MAX; i++) {
		struct metrics_conn *c = m->conns[i];

		if (c && now - c->progress_ms > METRICS_STALL_MS) {
			log_debug("metrics: a scraper stalled for %d ms; connection closed",
				  METRICS_STALL_MS);
			metrics_conn_free(m, c, d);
		}
	}
}

void metrics_http_poll(struct metrics_http *m, struct xdpwgd *d)
{
	struct epoll_event evs[METRICS_POLL_BUDGET];
	int n = epoll_wait(m->epfd, evs, METRICS_POLL_BUDGET, 0);

	m->d = d;
	metrics_reap(m, d);
	for (int i = 0; i < n; i++) {
		struct metrics_conn *c = evs[i].data.ptr;
		bool live = false;

		if (evs[i].data.ptr == m) {
			metrics_accept(m, d);
			continue;
		}
		/* reaped above, or freed by an earlier event of this round */
		for (int j = 0; j < METRICS_CONNS_MAX; j++)
			live = live || m->conns[j] == c;
		if (live)
			metrics_conn_turn(m, c, d);
	}
}
