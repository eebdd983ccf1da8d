/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Two (or more) wg_devices in one process, wired by fake io_ops: every datagram a device sends
 * is queued with its destination, and wgh_pump delivers the queues to whichever host owns the
 * destination address, with the sender's current outer address as the source. A fake clock
 * drives all timers. Outer addresses live in 198.51.100.0/24 and 198.18.0.0/24.
 */
#ifndef XDPWG_WG_HARNESS_H
#define XDPWG_WG_HARNESS_H

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "device.h"
#include "endpoint.h"
#include "log.h"
#include "xdpwg_wire.h"

/* Handshakes and moves are logged at info; TAP output stays readable unless asked for. */
__attribute__((constructor)) static void wg_harness_quiet(void)
{
	if (!getenv("XDPWG_TEST_VERBOSE"))
		log_set_level(LOG_WARNING);
}

enum wgh_limits {
	WGH_MAX_HOSTS = 4,
	WGH_MAX_OUT = 512,
	WGH_MAX_DELIVERED = 512,
	WGH_PKT_MAX = 2048,
};

struct wgh_pkt {
	struct wg_endpoint dst;
	size_t len;
	uint8_t data[WGH_PKT_MAX];
};

struct wgh_host {
	const char *name;
	struct wg_device *dev;
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
	struct wg_endpoint addr; /* our outer address: where peers send, our source when sending */
	struct wgh_pkt out[WGH_MAX_OUT];
	size_t n_out;
	struct wgh_pkt delivered[WGH_MAX_DELIVERED];
	size_t n_delivered;
	size_t sent_total;
	int bind_ret; /* what bind returns; 0 = the port asked for (or 40000 for 0) */
	int binds;
	unsigned int moves;
	unsigned int sessions;
	bool mute;	     /* everything this host sends is lost */
	size_t sent_type[5]; /* by message type */
	size_t sent_keepalives;
};

static uint64_t wgh_now_ns = 1000ULL * 1000000000ULL;
static struct wgh_host wgh_hosts[WGH_MAX_HOSTS];
static int wgh_n_hosts;
/* Drop datagrams instead of delivering them (per type, 1..4), e.g. to lose a response. */
static int wgh_drop_type[5];

static inline uint64_t wgh_clock(void *ctx)
{
	(void)ctx;
	return wgh_now_ns;
}

static inline void wgh_advance_ms(uint64_t ms)
{
	wgh_now_ns += ms * 1000000ULL;
}

static inline int wgh_send(void *ctx, const struct wg_endpoint *dst, const uint8_t *buf, size_t len)
{
	struct wgh_host *h = ctx;
	struct wgh_pkt *p;

	if (h->n_out >= WGH_MAX_OUT || len > WGH_PKT_MAX)
		return -ENOBUFS;
	p = &h->out[h->n_out++];
	p->dst = *dst;
	p->len = len;
	memcpy(p->data, buf, len);
	h->sent_total++;
	if (buf[0] < 5)
		h->sent_type[buf[0]]++;
	if (buf[0] == WG_MSG_DATA && len == WG_MSG_DATA_MIN_LEN)
		h->sent_keepalives++;
	return 0;
}

static inline int wgh_deliver(void *ctx, const uint8_t *pkt, size_t len)
{
	struct wgh_host *h = ctx;
	struct wgh_pkt *p;

	if (h->n_delivered >= WGH_MAX_DELIVERED || len > WGH_PKT_MAX)
		return -ENOBUFS;
	p = &h->delivered[h->n_delivered++];
	p->len = len;
	memcpy(p->data, pkt, len);
	return 0;
}

static inline int wgh_bind(void *ctx, uint16_t port, uint32_t fwmark)
{
	struct wgh_host *h = ctx;

	(void)fwmark;
	h->binds++;
	if (h->bind_ret)
		return h->bind_ret;
	return port ? port : 40000;
}

static inline void wgh_moved(void *ctx, struct wg_peer *peer, const struct wg_endpoint *old,
			     const struct wg_endpoint *new_ep)
{
	struct wgh_host *h = ctx;

	(void)peer;
	if (endpoint_is_set(old) && !endpoint_eq(old, new_ep))
		h->moves++;
}

static inline void wgh_session_add(void *ctx, uint32_t idx, struct wg_peer *peer)
{
	struct wgh_host *h = ctx;

	(void)idx;
	(void)peer;
	h->sessions++;
}

static inline void wgh_session_del(void *ctx, uint32_t idx)
{
	struct wgh_host *h = ctx;

	(void)idx;
	h->sessions--;
}

static const struct wg_io_ops wgh_ops = {
	.send = wgh_send,
	.deliver = wgh_deliver,
	.bind = wgh_bind,
	.endpoint_moved = wgh_moved,
	.session_add = wgh_session_add,
	.session_del = wgh_session_del,
};

static inline void wgh_set_addr(struct wg_endpoint *e, const char *s)
{
	memset(e, 0, sizeof(*e));
	if (endpoint_parse(e, s))
		abort();
}

/* A host whose device sends through ops (tests with failing back-ends pass their own). */
static inline struct wgh_host *wgh_host_new_ops(const char *name, const char *addr,
						const struct wg_io_ops *ops)
{
	struct wgh_host *h = &wgh_hosts[wgh_n_hosts++];
	struct wg_device_opts o = { .ops = ops, .clock = wgh_clock, .name = name };

	memset(h, 0, sizeof(*h));
	h->name = name;
	o.io_ctx = h;
	crypto_genkey(h->priv);
	crypto_pubkey(h->pub, h->priv);
	wgh_set_addr(&h->addr, addr);
	h->dev = wg_device_new(&o);
	if (!h->dev)
		abort();
	return h;
}

static inline struct wgh_host *wgh_host_new(const char *name, const char *addr)
{
	return wgh_host_new_ops(name, addr, &wgh_ops);
}

static inline void wgh_reset(void)
{
	int i;

	for (i = 0; i < wgh_n_hosts; i++)
		wg_device_free(wgh_hosts[i].dev);
	wgh_n_hosts = 0;
	memset(wgh_drop_type, 0, sizeof(wgh_drop_type));
}

static inline struct wgh_host *wgh_host_at(const struct wg_endpoint *dst)
{
	int i;

	for (i = 0; i < wgh_n_hosts; i++)
		if (endpoint_eq(&wgh_hosts[i].addr, dst))
			return &wgh_hosts[i];
	return NULL;
}

/* Hand one datagram to `to` as if it came from `src`. */
static inline void wgh_inject(struct wgh_host *to, const uint8_t *buf, size_t len,
			      const struct wg_endpoint *src)
{
	uint8_t copy[WGH_PKT_MAX];
	struct wg_endpoint s = *src;

	memcpy(copy, buf, len);
	/* the local address it arrived on, as a socket back-end reports it */
	if (to->addr.addr.sa.sa_family == AF_INET)
		s.src4 = to->addr.addr.in4.sin_addr;
	wg_device_rx(wg_device_path(to->dev), copy, len, &s);
}

static inline unsigned int wgh_msg_type(const struct wgh_pkt *p)
{
	return p->len >= 4 ? p->data[0] : 0;
}

/* Deliver everything queued until the network is quiet; returns datagrams delivered. */
static inline int wgh_pump(void)
{
	int rounds, i, total = 0;
	size_t j;

	for (rounds = 0; rounds < 64; rounds++) {
		int moved = 0;

		for (i = 0; i < wgh_n_hosts; i++) {
			struct wgh_host *h = &wgh_hosts[i];
			struct wgh_pkt *batch;
			size_t n = h->n_out;

			if (!n)
				continue;
			batch = malloc(n * sizeof(*batch));
			memcpy(batch, h->out, n * sizeof(*batch));
			h->n_out = 0;
			for (j = 0; j < n; j++) {
				struct wgh_host *to = wgh_host_at(&batch[j].dst);
				unsigned int t = wgh_msg_type(&batch[j]);

				if (!to || h->mute || (t < 5 && wgh_drop_type[t]))
					continue;
				wgh_inject(to, batch[j].data, batch[j].len, &h->addr);
				moved++;
			}
			free(batch);
		}
		for (i = 0; i < wgh_n_hosts; i++)
			wg_device_process_handshakes(wgh_hosts[i].dev, 1000);
		total += moved;
		if (!moved) {
			for (i = 0; i < wgh_n_hosts; i++)
				if (wgh_hosts[i].n_out)
					moved = 1;
			if (!moved)
				break;
		}
	}
	return total;
}

static inline void wgh_tick_all(void)
{
	int i;

	for (i = 0; i < wgh_n_hosts; i++)
		wg_device_tick(wgh_hosts[i].dev);
}

/* Advance the clock in steps of step_ms, ticking and pumping each time. */
static inline void wgh_run_ms(uint64_t total_ms, uint64_t step_ms)
{
	uint64_t t;

	for (t = 0; t < total_ms; t += step_ms) {
		wgh_advance_ms(step_ms);
		wgh_tick_all();
		wgh_pump();
	}
}

static inline void wgh_prefix(struct conf_allowedip *ip, const char *s)
{
	if (conf_parse_allowedip(ip, s))
		abort();
}

/* Make `h` know `peer`: public key, optional endpoint, allowed IPs (comma-free list). */
static inline struct conf_peer *wgh_add_peer(struct conf_dev *c, const struct wgh_host *peer,
					     bool with_endpoint, const char *const *ips)
{
	struct conf_peer *p = conf_add_peer(c);
	struct conf_allowedip ip;

	memcpy(p->public_key, peer->pub, WG_KEY_LEN);
	if (with_endpoint) {
		p->endpoint = peer->addr;
		p->flags |= CONF_PEER_HAS_ENDPOINT;
	}
	for (; ips && *ips; ips++) {
		wgh_prefix(&ip, *ips);
		conf_peer_add_allowedip(p, &ip);
	}
	return p;
}

static inline int wgh_apply(struct wgh_host *h, struct conf_dev *c)
{
	char err[256];
	int ret = wg_device_apply(h->dev, c, err, sizeof(err));

	if (ret)
		printf("# apply on %s: %s\n", h->name, err);
	return ret;
}

/* Identity + one peer each: a is 192.0.2.1 / 2001:db8::1, b is 192.0.2.2 / 2001:db8::2. */
static inline void wgh_pair(struct wgh_host *a, struct wgh_host *b, const uint8_t *psk_a,
			    const uint8_t *psk_b, bool a_knows_b_endpoint, bool b_knows_a_endpoint)
{
	static const char *const ips_a[] = { "192.0.2.1/32", "2001:db8::1/128", NULL };
	static const char *const ips_b[] = { "192.0.2.2/32", "2001:db8::2/128", NULL };
	struct conf_dev *c;
	struct conf_peer *p;

	c = conf_new();
	memcpy(c->private_key, a->priv, WG_KEY_LEN);
	c->flags = CONF_DEV_HAS_PRIVATE_KEY | CONF_DEV_HAS_LISTEN_PORT;
	c->listen_port = ntohs(a->addr.addr.in4.sin_port);
	p = wgh_add_peer(c, b, a_knows_b_endpoint, ips_b);
	if (psk_a) {
		memcpy(p->preshared_key, psk_a, WG_KEY_LEN);
		p->flags |= CONF_PEER_HAS_PRESHARED_KEY;
	}
	if (wgh_apply(a, c))
		abort();
	conf_free(c);

	c = conf_new();
	memcpy(c->private_key, b->priv, WG_KEY_LEN);
	c->flags = CONF_DEV_HAS_PRIVATE_KEY | CONF_DEV_HAS_LISTEN_PORT;
	c->listen_port = ntohs(b->addr.addr.in4.sin_port);
	p = wgh_add_peer(c, a, b_knows_a_endpoint, ips_a);
	if (psk_b) {
		memcpy(p->preshared_key, psk_b, WG_KEY_LEN);
		p->flags |= CONF_PEER_HAS_PRESHARED_KEY;
	}
	if (wgh_apply(b, c))
		abort();
	conf_free(c);
}

/* An IPv4 packet src -> dst carrying `payload` bytes of pattern `fill`. Returns its length. */
static inline size_t wgh_ip4(uint8_t *buf, const char *src, const char *dst, size_t payload,
			     uint8_t fill)
{
	size_t len = 20 + payload;

	memset(buf, 0, 20);
	buf[0] = 0x45;
	buf[2] = (uint8_t)(len >> 8);
	buf[3] = (uint8_t)len;
	buf[8] = 64;
	buf[9] = 17;
	inet_pton(AF_INET, src, buf + 12);
	inet_pton(AF_INET, dst, buf + 16);
	memset(buf + 20, fill, payload);
	return len;
}

static inline size_t wgh_ip6(uint8_t *buf, const char *src, const char *dst, size_t payload,
			     uint8_t fill)
{
	memset(buf, 0, 40);
	buf[0] = 0x60;
	buf[4] = (uint8_t)(payload >> 8);
	buf[5] = (uint8_t)payload;
	buf[6] = 17;
	buf[7] = 64;
	inet_pton(AF_INET6, src, buf + 8);
	inet_pton(AF_INET6, dst, buf + 24);
	memset(buf + 40, fill, payload);
	return 40 + payload;
}

static inline uint64_t wgh_drops(struct wgh_host *h, enum wg_drop_reason r)
{
	uint64_t d[WG_DROP_REASON_MAX];

	wg_device_drop_counts(h->dev, d);
	return d[r];
}

/* The snapshot's first peer, copied out (conf freed). */
static inline struct conf_peer wgh_peer_snap(struct wgh_host *h)
{
	struct conf_dev *c = wg_device_snapshot(h->dev);
	struct conf_peer p;

	memset(&p, 0, sizeof(p));
	if (c && c->n_peers) {
		p = c->peers[0];
		p.allowedips = NULL;
		p.roam_cidrs = NULL;
	}
	conf_free(c);
	return p;
}

static inline size_t wgh_count_out_type(const struct wgh_host *h, unsigned int type)
{
	size_t i, n = 0;

	for (i = 0; i < h->n_out; i++)
		if (wgh_msg_type(&h->out[i]) == type)
			n++;
	return n;
}

/* Run stderr into a file while fn runs at LOG_INFO; the captured text in out (the log lines a
 * test expects). */
static inline void wgh_capture_log(void (*fn)(void), char *out, size_t outlen)
{
	char path[] = "/tmp/xdpwg-test-log-XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO), level = log_get_level();
	ssize_t n;

	if (fd < 0 || saved < 0)
		abort();
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	log_set_level(LOG_INFO);
	fn();
	fflush(stderr);
	log_set_level(level);
	dup2(saved, STDERR_FILENO);
	close(saved);
	n = pread(fd, out, outlen - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
}

#endif
