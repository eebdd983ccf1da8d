// SPDX-License-Identifier: GPL-2.0
/*
 * Endpoint move events (see events.h for the channel and the format). Workers only ever touch
 * the pending queue (a mutex, a bounded array, an eventfd); the ring and the connections belong to
 * the control thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "crypto.h"
#include "events.h"
#include "io_xdp.h"
#include "log.h"
#include "uapi.h"
#include "unixsock.h"

enum events_internal {
	EVENTS_BACKLOG = 8,
	EVENTS_REQ_MAX = 64,	  /* a request is "follow=1\n\n"; more without one closes */
	EVENTS_WORKER_MAX = 1024, /* workers=1: never more lines than this */
	EVENTS_POLL_BUDGET = 32,
};

struct events_conn {
	int fd;
	bool follow;
	bool closing; /* close once out is written */
	bool want_out;
	char in[EVENTS_REQ_MAX];
	size_t in_len;
	char *out;
	size_t out_len, out_cap;
	struct events_conn *next;
};

struct events {
	char ifname[32];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int epfd, lfd, efd;
	struct unixsock_id id; /* the socket file we created */
	/* pending: any thread */
	pthread_mutex_t lock;
	struct events_move pending[EVENTS_PENDING_MAX];
	size_t n_pending;
	uint64_t dropped;
	/* control thread */
	struct events_move ring[EVENTS_RING];
	uint64_t next_seq; /* seq of the next event; the ring holds [next_seq - n, next_seq) */
	struct events_conn *conns;
	unsigned int n_conns;
	events_worker_fn worker_fn; /* workers=1 */
	void *worker_ctx;
};

int events_socket_path(char *buf, size_t len, const char *ifname)
{
	int n = snprintf(buf, len, "%s/%s.events", UAPI_SOCKET_DIR, ifname);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static const char *events_seen_name(enum events_seen s)
{
	switch (s) {
	case EVENTS_SEEN_XDP_EVENT:
		return "xdp_event";
	case EVENTS_SEEN_XDP_META:
		return "xdp_meta";
	default:
		return "receive";
	}
}

int events_format_json(const struct events_move *e, const char *ifname, char *buf, size_t len)
{
	char key[CRYPTO_KEY_BASE64_LEN + 1], o[ENDPOINT_STRLEN], n[ENDPOINT_STRLEN];
	uint64_t detect = e->moved_ns > e->first_seen_ns ? e->moved_ns - e->first_seen_ns : 0;
	int r;

	crypto_key_to_base64(key, e->public_key);
	r = snprintf(buf, len,
		     "{\"seq\":%" PRIu64 ",\"interface\":\"%s\",\"peer\":\"%s\",\"old_endpoint\":"
		     "\"%s\",\"new_endpoint\":\"%s\",\"first_seen_ns\":%" PRIu64
		     ",\"first_seen_source\":\"%s\",\"moved_ns\":%" PRIu64 ",\"detect_ns\":%" PRIu64
		     ",\"time\":\"%" PRId64 ".%09" PRId64 "\",\"sent_to_old\":%" PRIu64
		     ",\"moves\":%" PRIu64 ",\"ack_sent\":%d,\"queue_ns\":%" PRIu64 "}\n",
		     e->seq, ifname, key, endpoint_format(&e->old_ep, o),
		     endpoint_format(&e->new_ep, n), e->first_seen_ns,
		     events_seen_name(e->first_seen_from), e->moved_ns, detect,
		     e->moved_wall_ns / 1000000000, e->moved_wall_ns % 1000000000, e->sent_to_old,
		     e->moves, e->ack_sent ? 1 : 0, e->queue_ns);
	return r < 0 || (size_t)r >= len ? -ENOSPC : r;
}

/* --- the pending queue (any thread) --- */

void events_push(struct events *ev, const struct wg_peer_move *m)
{
	uint64_t one = 1, seen_ns = m->xdp_ns, picked_ns = m->picked_ns;
	struct events_move *e;

	pthread_mutex_lock(&ev->lock);
	if (ev->n_pending == EVENTS_PENDING_MAX) {
		ev->dropped++;
		pthread_mutex_unlock(&ev->lock);
		return;
	}
	e = &ev->pending[ev->n_pending++];
	memset(e, 0, sizeof(*e));
	e->peer_id = m->peer_id;
	memcpy(e->public_key, m->public_key, WG_KEY_LEN);
	e->old_ep = m->old_ep;
	e->new_ep = m->new_ep;
	if (seen_ns && seen_ns <= m->moved_ns) {
		e->first_seen_ns = seen_ns;
		e->first_seen_from = EVENTS_SEEN_XDP_META;
		/* how much of detect_ns the frame spent before the worker saw it (the kernel's
		 * part, on the way from XDP to the AF_XDP ring) */
		if (picked_ns >= seen_ns && picked_ns <= m->moved_ns)
			e->queue_ns = picked_ns - seen_ns;
	} else {
		e->first_seen_ns = m->moved_ns;
		e->first_seen_from = EVENTS_SEEN_RECEIVE;
	}
	e->moved_ns = m->moved_ns;
	e->moved_wall_ns = m->moved_wall_ns;
	e->sent_to_old = m->sent_to_old;
	e->moves = m->moves;
	e->ack_sent = m->acked;
	pthread_mutex_unlock(&ev->lock);
	if (write(ev->efd, &one, sizeof(one)) < 0)
		return; /* EAGAIN: readable anyway */
}

size_t events_take(struct events *ev, struct events_move *out, size_t max)
{
	uint64_t v, dropped;
	size_t n;

	if (read(ev->efd, &v, sizeof(v)) < 0) {
		/* EAGAIN: look anyway */
	}
	pthread_mutex_lock(&ev->lock);
	n = ev->n_pending < max ? ev->n_pending : max;
	memcpy(out, ev->pending, n * sizeof(*out));
	memmove(ev->pending, ev->pending + n, (ev->n_pending - n) * sizeof(*out));
	ev->n_pending -= n;
	dropped = ev->dropped;
	ev->dropped = 0;
	pthread_mutex_unlock(&ev->lock);
	if (dropped)
		log_warn("%s: %" PRIu64 " move events lost (queue full)", ev->ifname, dropped);
	if (ev->n_pending) {
		uint64_t one = 1;

		if (write(ev->efd, &one, sizeof(one)) < 0) {
			/* readable anyway */
		}
	}
	return n;
}

/* --- connections --- */

static int events_conn_events(struct events *ev, struct events_conn *c, bool want_out)
{
	struct epoll_event e = { .events = want_out ? EPOLLOUT : EPOLLIN, .data.ptr = c };

	if (c->want_out == want_out)
		return 0;
	c->want_out = want_out;
	return epoll_ctl(ev->epfd, EPOLL_CTL_MOD, c->fd, &e) < 0 ? -errno : 0;
}

static void events_conn_free(struct events *ev, struct events_conn *c)
{
	struct events_conn **pp;

	for (pp = &ev->conns; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	epoll_ctl(ev->epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	free(c->out);
	free(c);
	ev->n_conns--;
}

static int events_conn_append(struct events_conn *c, const char *s, size_t n)
{
	if (c->out_len + n > EVENTS_OUT_MAX)
		return -ENOBUFS;
	if (c->out_len + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *p;

		while (cap < c->out_len + n)
			cap *= 2;
		p = realloc(c->out, cap);
		if (!p)
			return -ENOMEM;
		c->out = p;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, s, n);
	c->out_len += n;
	return 0;
}

/* Write what is pending: 0, or -1 when the connection is done (error, or closing and flushed). */
static int events_conn_flush(struct events *ev, struct events_conn *c)
{
	while (c->out_len) {
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return events_conn_events(ev, c, true) < 0 ? -1 : 0;
			return -1;
		}
		memmove(c->out, c->out + n, c->out_len - (size_t)n);
		c->out_len -= (size_t)n;
	}
	if (c->closing)
		return -1;
	return events_conn_events(ev, c, false) < 0 ? -1 : 0;
}

static int events_send_ring(struct events *ev, struct events_conn *c)
{
	uint64_t n = ev->next_seq < EVENTS_RING ? ev->next_seq : EVENTS_RING;
	char line[EVENTS_LINE_MAX];

	for (uint64_t s = ev->next_seq - n; s < ev->next_seq; s++) {
		int len = events_format_json(&ev->ring[s % EVENTS_RING], ev->ifname, line,
					     sizeof(line));

		if (len > 0 && events_conn_append(c, line, (size_t)len) < 0)
			return -1;
	}
	return 0;
}

void events_set_workers(struct events *ev, events_worker_fn fn, void *ctx)
{
	ev->worker_fn = fn;
	ev->worker_ctx = ctx;
}

int events_format_worker(const struct io_xdp_worker_info *w, unsigned int i, const char *ifname,
			 const char *uplink, char *buf, size_t len)
{
	int r = snprintf(buf, len,
			 "{\"interface\":\"%s\",\"worker\":%u,\"uplink\":\"%s\",\"ifindex\":%d,"
			 "\"queue\":%" PRIu32 ",\"cpu\":%d,\"tun_queue\":%u,\"zerocopy\":%d,"
			 "\"rx_frames\":%" PRIu64 ",\"rx_bad\":%" PRIu64 ",\"tx_frames\":%" PRIu64
			 ",\"tx_fallback\":%" PRIu64 ",\"tun_packets\":%" PRIu64
			 ",\"rx_ring\":%" PRIu32 ",\"fill_ring\":%" PRIu32 ",\"tx_ring\":%" PRIu32
			 ",\"tx_inflight\":%" PRIu32 ",\"busy_poll\":%d}\n",
			 ifname, i, uplink, w->ifindex, w->queue, w->cpu, w->tun_queue,
			 w->zerocopy ? 1 : 0, w->rx_frames, w->rx_bad, w->tx_frames, w->tx_fallback,
			 w->tun_packets, w->rx_ring, w->fill_ring, w->tx_ring, w->tx_inflight,
			 w->busy_poll ? 1 : 0);

	return r < 0 || (size_t)r >= len ? -ENOSPC : r;
}

/* The workers=1 answer: a snapshot, one line per worker (the counters are atomics the workers
 * keep; the ring depths are read without stopping anyone, so they are approximate). */
static int events_send_workers(struct events *ev, struct events_conn *c)
{
	char line[EVENTS_LINE_MAX], uplink[IF_NAMESIZE];

	for (unsigned int i = 0; ev->worker_fn && i < EVENTS_WORKER_MAX; i++) {
		struct io_xdp_worker_info w;
		int len;

		if (ev->worker_fn(ev->worker_ctx, i, &w) < 0)
			break;
		if (!if_indextoname((unsigned int)w.ifindex, uplink))
			snprintf(uplink, sizeof(uplink), "if%d", w.ifindex);
		len = events_format_worker(&w, i, ev->ifname, uplink, line, sizeof(line));
		if (len > 0 && events_conn_append(c, line, (size_t)len) < 0)
			return -1;
	}
	return 0;
}

static void events_conn_handle(struct events *ev, struct events_conn *c, uint32_t what)
{
	if (what & EPOLLERR)
		goto close;
	if ((what & (EPOLLIN | EPOLLHUP)) && !c->want_out) {
		ssize_t n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			goto close;
		if (n > 0) {
			c->in_len += (size_t)n;
			if (c->follow) {
				/* a follower has nothing more to say: ignore what it sends */
				c->in_len = 0;
			} else if (memmem(c->in, c->in_len, "\n\n", 2)) {
				bool workers = false;

				if (!strncmp(c->in, "get=1\n\n", c->in_len))
					c->closing = true;
				else if (!strncmp(c->in, "follow=1\n\n", c->in_len))
					c->follow = true;
				else if (!strncmp(c->in, "workers=1\n\n", c->in_len))
					c->closing = workers = true;
				else
					goto close;
				c->in_len = 0;
				if (workers ? events_send_workers(ev, c) < 0
					    : events_send_ring(ev, c) < 0)
					goto close;
			} else if (c->in_len == sizeof(c->in)) {
				goto close;
			}
		}
	}
	if (events_conn_flush(ev, c) < 0)
		goto close;
	return;
close:
	events_conn_free(ev, c);
}

static void events_accept(struct events *ev)
{
	for (int i = 0; i < EVENTS_POLL_BUDGET; i++) {
		struct epoll_event e = { .events = EPOLLIN };
		struct events_conn *c;
		int fd = accept4(ev->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		if (ev->n_conns >= EVENTS_MAX_CONNS || !(c = calloc(1, sizeof(*c)))) {
			close(fd);
			continue;
		}
		c->fd = fd;
		e.data.ptr = c;
		if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, fd, &e) < 0) {
			close(fd);
			free(c);
			continue;
		}
		c->next = ev->conns;
		ev->conns = c;
		ev->n_conns++;
	}
}

int events_poll(struct events *ev)
{
	struct epoll_event evs[EVENTS_POLL_BUDGET];
	int n = epoll_wait(ev->epfd, evs, EVENTS_POLL_BUDGET, 0);

	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		if (evs[i].data.ptr == &ev->lfd)
			events_accept(ev);
		else
			events_conn_handle(ev, evs[i].data.ptr, evs[i].events);
	}
	return 0;
}

void events_record(struct events *ev, struct events_move *e)
{
	char key[CRYPTO_KEY_BASE64_LEN + 1], o[ENDPOINT_STRLEN], n[ENDPOINT_STRLEN];
	char line[EVENTS_LINE_MAX];
	struct events_conn *c, *next;
	int len;

	e->seq = ev->next_seq++;
	ev->ring[e->seq % EVENTS_RING] = *e;
	crypto_key_to_base64(key, e->public_key);
	log_info("%s: peer %.8s… moved %s -> %s (first seen %s, %.3f ms before the move; %" PRIu64
		 " sent to the old endpoint since its last packet; move %" PRIu64 "%s)",
		 ev->ifname, key, endpoint_format(&e->old_ep, o), endpoint_format(&e->new_ep, n),
		 events_seen_name(e->first_seen_from),
		 (double)(e->moved_ns > e->first_seen_ns ? e->moved_ns - e->first_seen_ns : 0) /
			 1e6,
		 e->sent_to_old, e->moves, e->ack_sent ? "; acknowledged" : "");
	len = events_format_json(e, ev->ifname, line, sizeof(line));
	if (len < 0)
		return;
	for (c = ev->conns; c; c = next) {
		int ret;

		next = c->next;
		if (!c->follow)
			continue;
		ret = events_conn_append(c, line, (size_t)len);
		if (ret < 0 || events_conn_flush(ev, c) < 0) {
			/* the line did not fit: out_len itself stays below EVENTS_OUT_MAX */
			if (ret == -ENOBUFS)
				log_warn("%s: dropping an events follower that stopped reading",
					 ev->ifname);
			events_conn_free(ev, c);
		}
	}
}

/* --- set-up --- */

static int events_listen(struct events *ev)
{
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = &ev->lfd };
	int ret;

	/* We hold IFNAME.sock, so a socket here is a dead daemon's: no liveness check */
	ret = unixsock_listen(ev->path, EVENTS_BACKLOG, false, &ev->id);
	if (ret < 0)
		return ret;
	ev->lfd = ret;
	if (epoll_ctl(ev->epfd, EPOLL_CTL_ADD, ev->lfd, &e) < 0) {
		ret = -errno;
		unlink(ev->path);
		return ret;
	}
	return 0;
}

struct events *events_new(const char *ifname, int *err)
{
	struct events *ev = calloc(1, sizeof(*ev));
	int ret;

	if (!ev) {
		*err = -ENOMEM;
		return NULL;
	}
	snprintf(ev->ifname, sizeof(ev->ifname), "%s", ifname);
	ev->lfd = -1;
	pthread_mutex_init(&ev->lock, NULL);
	ev->epfd = epoll_create1(EPOLL_CLOEXEC);
	ev->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ev->epfd < 0 || ev->efd < 0) {
		ret = -errno;
		goto err;
	}
	ret = events_socket_path(ev->path, sizeof(ev->path), ifname);
	if (ret == 0)
		ret = events_listen(ev);
	if (ret < 0) {
		log_err("cannot listen on %s: %s", ev->path, strerror(-ret));
		goto err;
	}
	return ev;
err:
	*err = ret;
	events_free(ev);
	return NULL;
}

void events_free(struct events *ev)
{
	if (!ev)
		return;
	while (ev->conns)
		events_conn_free(ev, ev->conns);
	if (ev->lfd >= 0) {
		close(ev->lfd);
		if (unixsock_still_ours(ev->path, &ev->id))
			unlink(ev->path);
	}
	if (ev->epfd >= 0)
		close(ev->epfd);
	if (ev->efd >= 0)
		close(ev->efd);
	pthread_mutex_destroy(&ev->lock);
	free(ev);
}

int events_server_fd(const struct events *ev)
{
	return ev->epfd;
}

int events_pending_fd(const struct events *ev)
{
	return ev->efd;
}
