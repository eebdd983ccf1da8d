/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The fixed world of fuzz_receive and fuzz_handshake, built on tests/unit/wg_harness.h's fake
 * io_ops and clock: the device under test T (198.51.100.1) knows two peers, A (198.51.100.2,
 * allowed 192.0.2.2/32 and 2001:db8::2/128) and B (198.51.100.3, 10.0.0.0/8 and fd00::/8).
 * A is a second real device that knows T, so the harness can make genuine messages (and a
 * session) to mutate. Keys are fixed; only ephemerals and indexes are random.
 */
#ifndef XDPWG_FUZZ_WG_H
#define XDPWG_FUZZ_WG_H

#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"
#include "peer.h"
#include "send.h"
#include "timers.h"
#include "wg_harness.h"

static struct wgh_host *fz_t, *fz_a;
static uint8_t fz_b_pub[WG_KEY_LEN];

static inline void fz_key(uint8_t priv[WG_KEY_LEN], uint8_t pub[WG_KEY_LEN], uint8_t seed)
{
	int i;

	for (i = 0; i < WG_KEY_LEN; i++)
		priv[i] = (uint8_t)(seed * 37 + i * 11);
	crypto_clamp(priv);
	crypto_pubkey(pub, priv);
}

/* T's peer entry for A, and A's for T (the engine's own structs: single-threaded here). */
static inline struct wg_peer *fz_t_peer_a(void)
{
	return wg_device_lookup_peer(fz_t->dev, fz_a->pub);
}

static inline struct wg_peer *fz_a_peer_t(void)
{
	return wg_device_lookup_peer(fz_a->dev, fz_t->pub);
}

static inline void fz_drain(void)
{
	fz_t->n_out = fz_t->n_delivered = 0;
	fz_a->n_out = fz_a->n_delivered = 0;
}

static inline void fz_setup(void)
{
	static const char *const ips_a[] = { "192.0.2.2/32", "2001:db8::2/128", NULL };
	static const char *const ips_b[] = { "10.0.0.0/8", "fd00::/8", NULL };
	static const char *const ips_all[] = { "0.0.0.0/0", "::/0", NULL };
	struct wgh_host hb;
	struct conf_dev *c;
	struct conf_peer *p;
	uint8_t b_priv[WG_KEY_LEN];

	log_set_level(LOG_ERR);
	if (crypto_init())
		abort();
	fz_t = wgh_host_new("T", "198.51.100.1:51820");
	fz_a = wgh_host_new("A", "198.51.100.2:51820");
	fz_key(fz_t->priv, fz_t->pub, 1);
	fz_key(fz_a->priv, fz_a->pub, 2);
	fz_key(b_priv, fz_b_pub, 3);
	memset(&hb, 0, sizeof(hb));
	memcpy(hb.pub, fz_b_pub, WG_KEY_LEN);
	wgh_set_addr(&hb.addr, "198.51.100.3:51820");

	c = conf_new();
	memcpy(c->private_key, fz_t->priv, WG_KEY_LEN);
	c->flags = CONF_DEV_HAS_PRIVATE_KEY | CONF_DEV_HAS_LISTEN_PORT;
	c->listen_port = 51820;
	wgh_add_peer(c, fz_a, true, ips_a);
	p = wgh_add_peer(c, &hb, true, ips_b);
	memset(p->preshared_key, 0x5a, WG_KEY_LEN);
	p->flags |= CONF_PEER_HAS_PRESHARED_KEY;
	if (wgh_apply(fz_t, c))
		abort();
	conf_free(c);

	c = conf_new();
	memcpy(c->private_key, fz_a->priv, WG_KEY_LEN);
	c->flags = CONF_DEV_HAS_PRIVATE_KEY | CONF_DEV_HAS_LISTEN_PORT;
	c->listen_port = 51820;
	wgh_add_peer(c, fz_t, true, ips_all);
	if (wgh_apply(fz_a, c))
		abort();
	conf_free(c);
	crypto_wipe(b_priv, sizeof(b_priv));
	if (!fz_t_peer_a() || !fz_a_peer_t())
		abort();
}

/* mac1 of a handshake message to T, computed here from the protocol's definition rather than
 * with cookie.c: MAC(HASH("mac1----" || T's public key), msg up to mac1). */
static inline void fz_put_mac1(uint8_t *msg, size_t len)
{
	static const char label[] = "mac1----";
	uint8_t key[WG_HASH_LEN];
	size_t off = len - 2 * WG_MAC_LEN;

	crypto_hash(key, label, sizeof(label) - 1, fz_t->pub, WG_KEY_LEN);
	crypto_mac(msg + off, key, sizeof(key), msg, off);
}

/* A genuine initiation from A to T (A's handshake state moves on). False if A cannot. */
static inline bool fz_a_initiation(struct wg_msg_initiation *msg)
{
	struct wg_peer *peer = fz_a_peer_t();

	if (!noise_handshake_create_initiation(msg, &peer->handshake, fz_a->dev->index,
					       (uint64_t)wg_device_wall_ns(fz_a->dev)))
		return false;
	memset(&msg->macs, 0, sizeof(msg->macs));
	fz_put_mac1((uint8_t *)msg, sizeof(*msg));
	return true;
}

/* The keypair A sends to T with, with a reference; (re)handshakes when there is none or T no
 * longer knows its index. NULL if no session could be made. */
static inline struct noise_keypair *fz_session(void)
{
	struct noise_keypair *kp = noise_keypairs_current(&fz_a_peer_t()->keypairs), *tk;
	int tries;

	for (tries = 0; tries < 2; tries++) {
		if (kp) {
			tk = index_table_lookup_keypair(fz_t->dev->index, kp->remote_index);
			if (tk && !noise_has_expired(kp->sending.birthdate, REJECT_AFTER_TIME - 10,
						     wgh_now_ns)) {
				noise_keypair_put(tk, false);
				return kp;
			}
			if (tk)
				noise_keypair_put(tk, false);
			noise_keypair_put(kp, false);
		}
		/* past the initiation rate limits and the timestamp granularity */
		wgh_advance_ms(6000);
		fz_drain();
		wg_device_announce(fz_a->dev, NULL);
		wgh_pump();
		fz_drain();
		kp = noise_keypairs_current(&fz_a_peer_t()->keypairs);
	}
	return kp;
}

#endif
