// SPDX-License-Identifier: GPL-2.0
/*
 * mac1, mac2 and cookie replies. mac1 proves the sender knows our public key (cheap to check,
 * so junk is dropped before any DH); mac2 proves the sender can receive at its source address,
 * which is what lets a responder under load spend its DH budget only on real addresses.
 */
#include <endian.h>
#include <string.h>

#include "cookie.h"
#include "crypto.h"
#include "noise.h"
#include "ratelimiter.h"

static const char cookie_label_mac1[] = "mac1----";
static const char cookie_label_cookie[] = "cookie--";

/* Where the macs sit: the last 32 bytes of every handshake message. */
static inline size_t cookie_mac1_offset(size_t len)
{
	return len - sizeof(struct wg_msg_macs);
}

static inline size_t cookie_mac2_offset(size_t len)
{
	return len - WG_MAC_LEN;
}

static void cookie_precompute_key(uint8_t key[COOKIE_KEY_LEN], const uint8_t pub[WG_KEY_LEN],
				  const char *label)
{
	crypto_hash(key, label, 8, pub, WG_KEY_LEN);
}

void cookie_checker_init(struct cookie_checker *c)
{
	pthread_mutex_init(&c->secret_lock, NULL);
}

void cookie_checker_destroy(struct cookie_checker *c)
{
	pthread_mutex_destroy(&c->secret_lock);
}

void cookie_checker_precompute_device_keys(struct cookie_checker *c, const uint8_t *public_key)
{
	if (public_key) {
		cookie_precompute_key(c->cookie_encryption_key, public_key, cookie_label_cookie);
		cookie_precompute_key(c->message_mac1_key, public_key, cookie_label_mac1);
	} else {
		crypto_wipe(c->cookie_encryption_key, COOKIE_KEY_LEN);
		crypto_wipe(c->message_mac1_key, COOKIE_KEY_LEN);
	}
}

void cookie_init_peer(struct cookie *c, const uint8_t public_key[WG_KEY_LEN])
{
	memset(c, 0, sizeof(*c));
	cookie_precompute_key(c->cookie_decryption_key, public_key, cookie_label_cookie);
	cookie_precompute_key(c->message_mac1_key, public_key, cookie_label_mac1);
}

static void cookie_compute_mac1(struct crypto_ctx *cc, uint8_t out[WG_MAC_LEN], const uint8_t *msg,
				size_t len, const uint8_t key[COOKIE_KEY_LEN])
{
	crypto_ctx_mac(cc, out, key, COOKIE_KEY_LEN, msg, cookie_mac1_offset(len));
}

static void cookie_compute_mac2(struct crypto_ctx *cc, uint8_t out[WG_MAC_LEN], const uint8_t *msg,
				size_t len, const uint8_t cookie[WG_COOKIE_LEN])
{
	crypto_ctx_mac(cc, out, cookie, WG_COOKIE_LEN, msg, cookie_mac2_offset(len));
}

/* cookie = MAC(R, source address || source port), R rotated every COOKIE_SECRET_MAX_AGE. Any
 * thread: workers check mac2 too. */
static void cookie_make(struct crypto_ctx *cc, uint8_t cookie[WG_COOKIE_LEN],
			struct cookie_checker *c, const struct wg_endpoint *src, uint64_t now)
{
	uint8_t in[sizeof(struct in6_addr) + sizeof(uint16_t)];
	size_t n;

	/* Network byte order, as the address and port sit in the packet headers. */
	if (src->addr.sa.sa_family == AF_INET6) {
		memcpy(in, &src->addr.in6.sin6_addr, sizeof(struct in6_addr));
		memcpy(in + sizeof(struct in6_addr), &src->addr.in6.sin6_port, sizeof(uint16_t));
		n = sizeof(struct in6_addr) + sizeof(uint16_t);
	} else {
		memcpy(in, &src->addr.in4.sin_addr, sizeof(struct in_addr));
		memcpy(in + sizeof(struct in_addr), &src->addr.in4.sin_port, sizeof(uint16_t));
		n = sizeof(struct in_addr) + sizeof(uint16_t);
	}
	pthread_mutex_lock(&c->secret_lock);
	if (!c->secret_valid ||
	    noise_has_expired(c->secret_birthdate, COOKIE_SECRET_MAX_AGE, now)) {
		crypto_random(c->secret, sizeof(c->secret));
		c->secret_birthdate = now;
		c->secret_valid = true;
	}
	crypto_ctx_mac(cc, cookie, c->secret, sizeof(c->secret), in, n);
	pthread_mutex_unlock(&c->secret_lock);
}

bool cookie_check_mac1(const struct cookie_checker *c, struct crypto_ctx *cc, const uint8_t *msg,
		       size_t len)
{
	uint8_t computed[WG_MAC_LEN];
	bool ret;

	if (len < sizeof(struct wg_msg_macs) + sizeof(struct wg_msg_header))
		return false;
	cookie_compute_mac1(cc, computed, msg, len, c->message_mac1_key);
	ret = crypto_equal(computed, msg + cookie_mac1_offset(len), WG_MAC_LEN);
	crypto_wipe(computed, sizeof(computed));
	return ret;
}

bool cookie_check_mac2(struct cookie_checker *c, struct crypto_ctx *cc, const uint8_t *msg,
		       size_t len, const struct wg_endpoint *src, uint64_t now)
{
	uint8_t computed[WG_MAC_LEN];
	uint8_t cookie[WG_COOKIE_LEN];
	bool ret;

	if (len < sizeof(struct wg_msg_macs) + sizeof(struct wg_msg_header) ||
	    crypto_is_zero(msg + cookie_mac2_offset(len), WG_MAC_LEN))
		return false;
	cookie_make(cc, cookie, c, src, now);
	cookie_compute_mac2(cc, computed, msg, len, cookie);
	ret = crypto_equal(computed, msg + cookie_mac2_offset(len), WG_MAC_LEN);
	crypto_wipe(computed, sizeof(computed));
	crypto_wipe(cookie, sizeof(cookie));
	return ret;
}

enum cookie_mac_state cookie_validate_packet(struct cookie_checker *c, const uint8_t *msg,
					     size_t len, const struct wg_endpoint *src,
					     bool check_cookie, struct ratelimiter *rl,
					     uint64_t now)
{
	enum cookie_mac_state ret = COOKIE_INVALID_MAC;
	uint8_t computed[WG_MAC_LEN];
	uint8_t cookie[WG_COOKIE_LEN];

	if (!cookie_check_mac1(c, NULL, msg, len))
		goto out;
	ret = COOKIE_VALID_MAC_BUT_NO_COOKIE;
	if (!check_cookie)
		goto out;
	cookie_make(NULL, cookie, c, src, now);
	cookie_compute_mac2(NULL, computed, msg, len, cookie);
	if (!crypto_equal(computed, msg + cookie_mac2_offset(len), WG_MAC_LEN))
		goto out;
	/* The source is proven; now it must also not be sending too many. */
	ret = COOKIE_VALID_MAC_WITH_COOKIE_BUT_RATELIMITED;
	if (rl && !ratelimiter_allow(rl, &src->addr.sa, now))
		goto out;
	ret = COOKIE_VALID_MAC_WITH_COOKIE;
out:
	crypto_wipe(computed, sizeof(computed));
	crypto_wipe(cookie, sizeof(cookie));
	return ret;
}

void cookie_add_mac_to_packet(uint8_t *msg, size_t len, struct cookie *c, uint64_t now)
{
	struct wg_msg_macs *macs = (struct wg_msg_macs *)(msg + cookie_mac1_offset(len));

	cookie_compute_mac1(NULL, macs->mac1, msg, len, c->message_mac1_key);
	/* A cookie reply is only accepted for the mac1 it answers. */
	memcpy(c->last_mac1_sent, macs->mac1, WG_MAC_LEN);
	c->have_sent_mac1 = true;

	/* Trusted a little less than the responder keeps its secret, for the round trip. */
	if (c->is_valid &&
	    !noise_has_expired(c->birthdate, COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY, now))
		cookie_compute_mac2(NULL, macs->mac2, msg, len, c->cookie);
	else
		memset(macs->mac2, 0, WG_MAC_LEN);
}

void cookie_message_create(struct wg_msg_cookie *dst, const uint8_t *msg, size_t len,
			   uint32_t index, struct cookie_checker *c, const struct wg_endpoint *src,
			   uint64_t now)
{
	const struct wg_msg_macs *macs =
		(const struct wg_msg_macs *)(msg + cookie_mac1_offset(len));
	uint8_t cookie[WG_COOKIE_LEN];

	dst->header.type = htole32(WG_MSG_HANDSHAKE_COOKIE);
	dst->receiver_index = index;
	crypto_random(dst->nonce, sizeof(dst->nonce));
	cookie_make(NULL, cookie, c, src, now);
	crypto_xaead_encrypt(dst->encrypted_cookie, cookie, WG_COOKIE_LEN, macs->mac1, WG_MAC_LEN,
			     dst->nonce, c->cookie_encryption_key);
	crypto_wipe(cookie, sizeof(cookie));
}

bool cookie_message_consume(const struct wg_msg_cookie *src, struct cookie *c, uint64_t now)
{
	uint8_t cookie[WG_COOKIE_LEN];
	bool ret = false;

	/* Unsolicited replies are ignored: only an answer to a mac1 we sent decrypts. */
	if (!c->have_sent_mac1)
		goto out;
	if (!crypto_xaead_decrypt(cookie, src->encrypted_cookie, sizeof(src->encrypted_cookie),
				  c->last_mac1_sent, WG_MAC_LEN, src->nonce,
				  c->cookie_decryption_key))
		goto out;
	memcpy(c->cookie, cookie, WG_COOKIE_LEN);
	c->birthdate = now;
	c->is_valid = true;
	c->have_sent_mac1 = false;
	ret = true;
out:
	crypto_wipe(cookie, sizeof(cookie));
	return ret;
}
