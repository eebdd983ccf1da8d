// SPDX-License-Identifier: GPL-2.0
/*
 * hs-bench: responder handshakes per second on one core, in process, against the bound set by
 * the four X25519 operations a responder does (DH(s, e_i) to open the initiation - the
 * static-static DH is computed once per peer, on its first handshake -, a fresh ephemeral key, DH(e_r, e_i), DH(e_r, s_i)).
 *   hs-bench [N [IDLE]]     (default 2000 handshakes, 0 idle peers)
 * IDLE: so many idle peers more on the responder (random keys, one IPv6 /128 each, in one
 * apply), so the rate with one peer and with a million can be compared (issue #21).
 * Two devices with a fake I/O and a fake clock, driven through the engine's public API only
 * (device.h): the initiator announces itself N times first, and each initiation it sends is
 * kept (timestamps 100 ms apart, so neither the replay nor the flood check refuses them);
 * then the clock runs only over the responder: wg_device_rx (mac1 check, queueing) and
 * wg_device_process_handshakes (consume, answer, derive the session) per initiation. X25519
 * operations per second are measured in the same run. Prints both and the fraction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "crypto.h"
#include "device.h"

enum {
	HS_MAX = 100000,
	HS_IDLE_MAX = 1 << 20,
	HS_STEP_NS = 100000000, /* 100 ms of fake time per handshake */
};

static uint64_t fake_now = 1000000000000ULL;
static unsigned long responses;
/* where the initiator's next initiation goes, while they are being made */
static struct wg_msg_initiation *capture;

static uint64_t hs_clock(void *ctx)
{
	(void)ctx;
	return fake_now;
}

static int hs_send(void *ctx, const struct wg_endpoint *dst, const uint8_t *buf, size_t len)
{
	(void)ctx;
	(void)dst;
	if (len == WG_MSG_RESPONSE_LEN && buf[0] == WG_MSG_HANDSHAKE_RESPONSE)
		responses++;
	if (capture && len == sizeof(*capture) && buf[0] == WG_MSG_HANDSHAKE_INITIATION) {
		memcpy(capture, buf, len);
		capture = NULL;
	}
	return 0;
}

static int hs_deliver(void *ctx, const uint8_t *pkt, size_t len)
{
	(void)ctx;
	(void)pkt;
	(void)len;
	return 0;
}

static const struct wg_io_ops hs_ops = { .send = hs_send, .deliver = hs_deliver };

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct wg_device *hs_device(const char *name, const uint8_t priv[WG_KEY_LEN],
				   const uint8_t peer_pub[WG_KEY_LEN], bool with_endpoint)
{
	struct wg_device_opts o = { .ops = &hs_ops, .clock = hs_clock, .name = name };
	struct wg_device *dev = wg_device_new(&o);
	struct conf_dev *c = conf_new();
	struct conf_peer *p;
	char err[128];

	if (!dev || !c || !(p = conf_add_peer(c)))
		return NULL;
	memcpy(c->private_key, priv, WG_KEY_LEN);
	c->flags |= CONF_DEV_HAS_PRIVATE_KEY;
	memcpy(p->public_key, peer_pub, WG_KEY_LEN);
	if (with_endpoint) {
		p->endpoint.addr.in4.sin_family = AF_INET;
		p->endpoint.addr.in4.sin_port = htons(51820);
		p->endpoint.addr.in4.sin_addr.s_addr = htonl(0xc6120001); /* 198.18.0.1 */
		p->flags |= CONF_PEER_HAS_ENDPOINT;
	}
	if (wg_device_apply(dev, c, err, sizeof(err))) {
		fprintf(stderr, "hs-bench: apply: %s\n", err);
		return NULL;
	}
	conf_free(c);
	return dev;
}

/* IDLE peers more on dev, in one apply: 0 or -1. */
static int hs_idle_peers(struct wg_device *dev, long idle)
{
	struct conf_dev *c = conf_new();
	char err[128];
	int ret = -1;

	if (!c)
		return -1;
	for (long i = 0; i < idle; i++) {
		struct conf_peer *p = conf_add_peer(c);
		struct conf_allowedip ip = { .family = AF_INET6, .cidr = 128 };

		if (!p)
			goto out;
		crypto_random(p->public_key, WG_KEY_LEN);
		/* 2001:db8:1::/96 + i */
		ip.ip6.s6_addr[0] = 0x20;
		ip.ip6.s6_addr[1] = 0x01;
		ip.ip6.s6_addr[2] = 0x0d;
		ip.ip6.s6_addr[3] = 0xb8;
		ip.ip6.s6_addr[5] = 0x01;
		ip.ip6.s6_addr[12] = (uint8_t)(i >> 24);
		ip.ip6.s6_addr[13] = (uint8_t)(i >> 16);
		ip.ip6.s6_addr[14] = (uint8_t)(i >> 8);
		ip.ip6.s6_addr[15] = (uint8_t)i;
		if (conf_peer_add_allowedip(p, &ip))
			goto out;
	}
	if (wg_device_apply(dev, c, err, sizeof(err))) {
		fprintf(stderr, "hs-bench: idle peers: %s\n", err);
		goto out;
	}
	ret = 0;
out:
	conf_free(c);
	return ret;
}

int main(int argc, char **argv)
{
	uint8_t ipriv[WG_KEY_LEN], ipub[WG_KEY_LEN], rpriv[WG_KEY_LEN], rpub[WG_KEY_LEN];
	uint8_t out[WG_KEY_LEN];
	struct wg_device *ini, *resp;
	struct wg_msg_initiation *msgs;
	struct wg_endpoint src;
	uint64_t start;
	long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000;
	long idle = argc > 2 ? strtol(argv[2], NULL, 10) : 0;
	double t0, t1, x_rate, hs_rate;
	long i, dh = 0;

	if (n < 1 || n > HS_MAX || idle < 0 || idle > HS_IDLE_MAX || crypto_init()) {
		fprintf(stderr, "usage: %s [N 1..%d [IDLE 0..%d]]\n", argv[0], HS_MAX, HS_IDLE_MAX);
		return 2;
	}
	crypto_genkey(ipriv);
	crypto_pubkey(ipub, ipriv);
	crypto_genkey(rpriv);
	crypto_pubkey(rpub, rpriv);
	ini = hs_device("ini", ipriv, rpub, true);
	resp = hs_device("resp", rpriv, ipub, false);
	msgs = calloc((size_t)n, sizeof(*msgs));
	if (!ini || !resp || !msgs || (idle && hs_idle_peers(resp, idle)))
		return 1;
	/* the initiator's work, outside the measurement: with no session, each announce is an
	 * initiation at once (timestamped by the fake clock) */
	start = fake_now;
	for (i = 0; i < n; i++) {
		fake_now = start + (uint64_t)i * HS_STEP_NS;
		capture = &msgs[i];
		if (!wg_device_announce_key(ini, rpub) || capture) {
			fprintf(stderr, "hs-bench: the initiator sent no initiation\n");
			free(msgs);
			return 1;
		}
	}
	fake_now = start;
	memset(&src, 0, sizeof(src));
	src.addr.in4.sin_family = AF_INET;
	src.addr.in4.sin_port = htons(51820);
	src.addr.in4.sin_addr.s_addr = htonl(0xc6120002);

	t0 = now_s();
	for (i = 0; i < n; i++) {
		fake_now += HS_STEP_NS;
		wg_device_rx(wg_device_path(resp), (uint8_t *)&msgs[i], sizeof(msgs[i]), &src);
		wg_device_process_handshakes(resp, 1);
	}
	t1 = now_s();
	hs_rate = (double)n / (t1 - t0);

	/* X25519 in the same run: as many operations as the handshakes did, at least 1000 */
	t0 = now_s();
	for (dh = 0; dh < (n * 4 > 1000 ? n * 4 : 1000); dh++)
		crypto_dh(out, rpriv, ipub);
	t1 = now_s();
	x_rate = (double)dh / (t1 - t0);
	printf("handshakes %ld responses %lu hs_per_s %.0f x25519_per_s %.0f bound_hs_per_s %.0f "
	       "fraction %.2f idle_peers %ld\n",
	       n, responses, hs_rate, x_rate, x_rate / 4, hs_rate / (x_rate / 4), idle);
	free(msgs);
	wg_device_free(ini);
	wg_device_free(resp);
	return responses == (unsigned long)n ? 0 : 1;
}
