// SPDX-License-Identifier: GPL-2.0
/*
 * mac1, mac2 and cookie replies at the unit level: a checker (the responder) and a peer's
 * cookie state (the initiator), with a hand-driven clock.
 */
#include <string.h>

#include "cookie.h"
#include "crypto.h"
#include "noise.h"
#include "ratelimiter.h"
#include "tap.h"

#define SEC 1000000000ULL

static void set_src(struct wg_endpoint *e, const char *s)
{
	memset(e, 0, sizeof(*e));
	if (endpoint_parse(e, s))
		abort();
}

int main(void)
{
	struct cookie_checker checker;
	struct cookie peer_side;
	struct wg_msg_initiation msg;
	struct wg_msg_cookie reply;
	struct wg_endpoint src, other, src6;
	struct ratelimiter *rl = ratelimiter_new();
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN], expect[WG_MAC_LEN], key[WG_HASH_LEN];
	uint64_t now = 5000 * SEC;
	int i, limited = 0;

	crypto_init();
	crypto_genkey(priv);
	crypto_pubkey(pub, priv);
	memset(&checker, 0, sizeof(checker));
	cookie_checker_precompute_device_keys(&checker, pub);
	cookie_init_peer(&peer_side, pub);
	set_src(&src, "198.51.100.7:1234");
	set_src(&other, "198.51.100.8:1234");
	set_src(&src6, "[2001:db8::7]:1234");

	memset(&msg, 0, sizeof(msg));
	msg.header.type = htole32(WG_MSG_HANDSHAKE_INITIATION);
	crypto_random(msg.unencrypted_ephemeral, sizeof(msg.unencrypted_ephemeral));
	cookie_add_mac_to_packet((uint8_t *)&msg, sizeof(msg), &peer_side, now);

	/* mac1 = MAC(HASH("mac1----" || pub), bytes before mac1), computed independently */
	crypto_hash(key, "mac1----", 8, pub, WG_KEY_LEN);
	crypto_mac(expect, key, WG_HASH_LEN, &msg, offsetof(struct wg_msg_initiation, macs));
	is_mem(msg.macs.mac1, expect, WG_MAC_LEN, "mac1 as the paper defines it");
	ok(crypto_is_zero(msg.macs.mac2, WG_MAC_LEN), "mac2 zero without a cookie");
	ok(cookie_check_mac1(&checker, NULL, (uint8_t *)&msg, sizeof(msg)), "checker accepts mac1");
	is_int(cookie_validate_packet(&checker, (uint8_t *)&msg, sizeof(msg), &src, false, rl, now),
	       COOKIE_VALID_MAC_BUT_NO_COOKIE, "not under load: valid, no cookie needed");
	is_int(cookie_validate_packet(&checker, (uint8_t *)&msg, sizeof(msg), &src, true, rl, now),
	       COOKIE_VALID_MAC_BUT_NO_COOKIE, "under load: valid mac1 but no cookie");
	msg.unencrypted_ephemeral[3] ^= 1;
	ok(!cookie_check_mac1(&checker, NULL, (uint8_t *)&msg, sizeof(msg)),
	   "bit flip breaks mac1");
	is_int(cookie_validate_packet(&checker, (uint8_t *)&msg, sizeof(msg), &src, true, rl, now),
	       COOKIE_INVALID_MAC, "invalid mac1 is invalid under load too");
	msg.unencrypted_ephemeral[3] ^= 1;

	/* the cookie reply and its consumption */
	cookie_message_create(&reply, (uint8_t *)&msg, sizeof(msg), 0x11223344, &checker, &src,
			      now);
	is_int(le32toh(reply.header.type), WG_MSG_HANDSHAKE_COOKIE, "reply type 3");
	is_int(reply.receiver_index, 0x11223344, "reply addressed to the sender index");
	{
		struct cookie copy = peer_side;
		struct wg_msg_cookie bad = reply;

		bad.encrypted_cookie[0] ^= 1;
		ok(!cookie_message_consume(&bad, &copy, now), "tampered reply refused");
		copy.have_sent_mac1 = false;
		ok(!cookie_message_consume(&reply, &copy, now), "unsolicited reply refused");
	}
	ok(cookie_message_consume(&reply, &peer_side, now), "reply decrypts with our last mac1");
	ok(!cookie_message_consume(&reply, &peer_side, now), "and only once");

	cookie_add_mac_to_packet((uint8_t *)&msg, sizeof(msg), &peer_side, now + SEC);
	ok(!crypto_is_zero(msg.macs.mac2, WG_MAC_LEN), "mac2 set from the fresh cookie");
	is_int(cookie_validate_packet(&checker, (uint8_t *)&msg, sizeof(msg), &src, true, rl,
				      now + SEC),
	       COOKIE_VALID_MAC_WITH_COOKIE, "under load: valid mac2 from the cookie's source");
	is_int(cookie_validate_packet(&checker, (uint8_t *)&msg, sizeof(msg), &other, true, rl,
				      now + SEC),
	       COOKIE_VALID_MAC_BUT_NO_COOKIE, "same mac2 from another source is not valid");
	is_int(cookie_validate_packet(&checker, (uint8_t *)&msg, sizeof(msg), &src6, true, rl,
				      now + SEC),
	       COOKIE_VALID_MAC_BUT_NO_COOKIE, "nor from an IPv6 source");

	/* the per-source rate limit applies to messages with a valid cookie */
	for (i = 0; i < 40; i++)
		if (cookie_validate_packet(&checker, (uint8_t *)&msg, sizeof(msg), &src, true, rl,
					   now + SEC) ==
		    COOKIE_VALID_MAC_WITH_COOKIE_BUT_RATELIMITED)
			limited++;
	ok(limited >= 30, "a burst from one source is rate limited (%d of 40)", limited);

	/* the peer stops using a cookie older than 120 - 5 s */
	cookie_add_mac_to_packet((uint8_t *)&msg, sizeof(msg), &peer_side, now + 116 * SEC);
	ok(crypto_is_zero(msg.macs.mac2, WG_MAC_LEN), "stale cookie: mac2 zero again");

	/* the checker's secret rotates after 120 s: an old cookie no longer validates */
	cookie_message_create(&reply, (uint8_t *)&msg, sizeof(msg), 1, &checker, &src,
			      now + 116 * SEC);
	ok(cookie_message_consume(&reply, &peer_side, now + 116 * SEC), "second cookie taken");
	cookie_add_mac_to_packet((uint8_t *)&msg, sizeof(msg), &peer_side, now + 117 * SEC);
	is_int(cookie_validate_packet(&checker, (uint8_t *)&msg, sizeof(msg), &other, true, NULL,
				      now + 117 * SEC),
	       COOKIE_VALID_MAC_BUT_NO_COOKIE, "(other source still refused)");
	is_int(cookie_validate_packet(&checker, (uint8_t *)&msg, sizeof(msg), &src, true, NULL,
				      now + 400 * SEC),
	       COOKIE_VALID_MAC_BUT_NO_COOKIE, "after the secret rotated the cookie is worthless");

	/* no identity: nothing validates */
	cookie_checker_precompute_device_keys(&checker, NULL);
	ok(!cookie_check_mac1(&checker, NULL, (uint8_t *)&msg, sizeof(msg)),
	   "no key, no valid mac1");

	ratelimiter_free(rl);
	crypto_wipe(priv, sizeof(priv));
	return done_testing();
}
