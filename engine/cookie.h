/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mac1/mac2 and cookie replies, the WireGuard paper's DoS mitigation (section 5.4.7). The checker
 * is the device's side (validating incoming macs, making cookies); struct cookie is a peer's side
 * (the macs we put on our handshake messages, the last cookie the peer gave us).
 */
#ifndef XDPWG_COOKIE_H
#define XDPWG_COOKIE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"
#include "xdpwg_wire.h"

struct crypto_ctx; /* a data-path thread's own contexts (crypto.h); NULL: the thread's */

struct ratelimiter;

enum cookie_values {
	COOKIE_SECRET_MAX_AGE = 2 * 60, /* seconds */
	/* a cookie is trusted this much less than the secret lives, for the round trip */
	COOKIE_SECRET_LATENCY = 5,
	COOKIE_KEY_LEN = WG_KEY_LEN,
};

enum cookie_mac_state {
	COOKIE_INVALID_MAC,
	COOKIE_VALID_MAC_BUT_NO_COOKIE,
	COOKIE_VALID_MAC_WITH_COOKIE_BUT_RATELIMITED,
	COOKIE_VALID_MAC_WITH_COOKIE,
};

/* The device's. Lives inside secure memory (the secret). Control thread, except that the mac1
 * key is read by workers under the device lock, and that workers check mac2 (the priority lane
 * for sources that proved their address): the secret and its birthdate are only read or rotated
 * under secret_lock. */
struct cookie_checker {
	pthread_mutex_t secret_lock; /* all-zero is a valid unlocked mutex (glibc) */
	uint8_t secret[COOKIE_KEY_LEN];
	uint8_t cookie_encryption_key[COOKIE_KEY_LEN];
	uint8_t message_mac1_key[COOKIE_KEY_LEN];
	uint64_t secret_birthdate;
	bool secret_valid;
};

/* A peer's. Control thread only. */
struct cookie {
	uint64_t birthdate;
	bool is_valid;
	uint8_t cookie[WG_COOKIE_LEN];
	bool have_sent_mac1;
	uint8_t last_mac1_sent[WG_MAC_LEN];
	uint8_t cookie_decryption_key[COOKIE_KEY_LEN];
	uint8_t message_mac1_key[COOKIE_KEY_LEN];
};

void cookie_checker_init(struct cookie_checker *c);
void cookie_checker_destroy(struct cookie_checker *c);
/* Re-key the checker from the device's public key (NULL: no identity, macs never match). */
void cookie_checker_precompute_device_keys(struct cookie_checker *c, const uint8_t *public_key);
void cookie_init_peer(struct cookie *c, const uint8_t public_key[WG_KEY_LEN]);

/* mac1 only: the cheap check a worker does before queueing a handshake message. */
bool cookie_check_mac1(const struct cookie_checker *c, struct crypto_ctx *cc, const uint8_t *msg,
		       size_t len);
/* mac2 only: whether msg carries a valid mac2 for src's current cookie. Any thread; a zero
 * mac2 (what every sender without a cookie writes) costs nothing. */
bool cookie_check_mac2(struct cookie_checker *c, struct crypto_ctx *cc, const uint8_t *msg,
		       size_t len, const struct wg_endpoint *src, uint64_t now);
/* The full verdict (mac1, then mac2 against src's cookie when check_cookie, then src's rate). */
enum cookie_mac_state cookie_validate_packet(struct cookie_checker *c, const uint8_t *msg,
					     size_t len, const struct wg_endpoint *src,
					     bool check_cookie, struct ratelimiter *rl,
					     uint64_t now);
/* Fill mac1 (and mac2 when the peer's cookie is fresh) of an outgoing handshake message. */
void cookie_add_mac_to_packet(uint8_t *msg, size_t len, struct cookie *c, uint64_t now);
/* A cookie reply to msg (a handshake message from src) addressed to index. */
void cookie_message_create(struct wg_msg_cookie *dst, const uint8_t *msg, size_t len,
			   uint32_t index, struct cookie_checker *c, const struct wg_endpoint *src,
			   uint64_t now);
/* Take a cookie reply meant for this peer. False when it does not decrypt or was not asked. */
bool cookie_message_consume(const struct wg_msg_cookie *src, struct cookie *c, uint64_t now);

#endif
