// SPDX-License-Identifier: GPL-2.0
/*
 * The receive side of the message-count limit, end to end through wg_device_rx: data packets
 * authenticated with the real sending key but carrying counters near REJECT_AFTER_MESSAGES
 * (which the send path never produces), replays of captured packets, forged counters with bad
 * tags, truncated and bit-flipped copies, and a replay from another source address. Nothing
 * of that may be delivered, move the endpoint or advance the window; fresh traffic still flows.
 * (test_replay covers the window itself at the limit, test_device the send side.)
 */
#include <stdatomic.h>

#include "peer.h"
#include "send.h"
#include "timers.h"
#include "replay.h"
#include "tap.h"
#include "wg_harness.h"

static const char A_ADDR[] = "198.51.100.1:51820";
static const char B_ADDR[] = "198.51.100.2:51821";
static const char SPOOF_ADDR[] = "203.0.113.9:40000";

static struct wgh_host *A, *B;

static bool send4(struct wgh_host *from, struct wgh_host *to, uint8_t fill)
{
	uint8_t pkt[128];
	size_t len = wgh_ip4(pkt, "192.0.2.1", "192.0.2.2", 28, fill);
	size_t before = to->n_delivered;

	wg_device_tx(wg_device_path(from->dev), pkt, len);
	wgh_pump();
	return to->n_delivered == before + 1 && to->delivered[before].len == len &&
	       !memcmp(to->delivered[before].data, pkt, len);
}

/* A data message from A to B under A's current keypair with an arbitrary counter. tag_ok false:
 * the tag is corrupted after encryption. Returns its length. */
static size_t forge(uint8_t *msg, uint64_t counter, uint8_t fill, bool tag_ok)
{
	struct wg_peer *peer = wg_device_lookup_peer(A->dev, B->pub);
	struct noise_keypair *kp = noise_keypairs_current(&peer->keypairs);
	struct wg_msg_data *hdr = (struct wg_msg_data *)msg;
	uint8_t pt[64];
	size_t len = wgh_ip4(pt, "192.0.2.1", "192.0.2.2", 28, fill); /* 48: no padding needed */

	memset(msg, 0, WG_MSG_DATA_HEADER_LEN);
	msg[0] = WG_MSG_DATA;
	hdr->key_idx = htole32(kp->remote_index);
	hdr->counter = htole64(counter);
	crypto_aead_encrypt(msg + WG_MSG_DATA_HEADER_LEN, pt, len, NULL, 0, counter,
			    kp->sending.key);
	noise_keypair_put(kp, false);
	if (!tag_ok)
		msg[WG_MSG_DATA_HEADER_LEN + len + 3] ^= 0x40;
	return WG_MSG_DATA_HEADER_LEN + len + WG_AUTHTAG_LEN;
}

static void inject_from(struct wgh_host *to, const uint8_t *msg, size_t len, const char *src)
{
	struct wg_endpoint s;

	wgh_set_addr(&s, src);
	wgh_inject(to, msg, len, &s);
}

int main(void)
{
	uint8_t msg[128], captured[WGH_PKT_MAX];
	size_t len, clen = 0, delivered;
	uint64_t drops;
	struct conf_peer snap;
	struct wg_endpoint a_ep;

	if (crypto_init() < 0)
		return 1;
	wgh_reset();
	A = wgh_host_new("a", A_ADDR);
	B = wgh_host_new("b", B_ADDR);
	wgh_pair(A, B, NULL, NULL, true, false);
	wgh_set_addr(&a_ep, A_ADDR);
	ok(send4(A, B, 1), "session up, a -> b");

	/* capture a real data packet a sends, then deliver it normally */
	{
		uint8_t pkt[128];
		size_t plen = wgh_ip4(pkt, "192.0.2.1", "192.0.2.2", 28, 2);

		wg_device_tx(wg_device_path(A->dev), pkt, plen);
		for (size_t i = 0; i < A->n_out; i++) {
			if (wgh_msg_type(&A->out[i]) == WG_MSG_DATA) {
				clen = A->out[i].len;
				memcpy(captured, A->out[i].data, clen);
			}
		}
		wgh_pump();
	}
	ok(clen > WG_MSG_DATA_HEADER_LEN, "a data packet captured");
	delivered = B->n_delivered;

	/* replays: same source, then another source; neither delivered nor moves the endpoint */
	drops = wgh_drops(B, WG_DROP_REPLAY);
	inject_from(B, captured, clen, A_ADDR);
	inject_from(B, captured, clen, SPOOF_ADDR);
	is_int(B->n_delivered, delivered, "replayed data not delivered (same and spoofed source)");
	is_int(wgh_drops(B, WG_DROP_REPLAY) - drops, 2, "both counted as replays");
	snap = wgh_peer_snap(B);
	ok(endpoint_eq(&snap.endpoint, &a_ep), "endpoint did not move to the spoofer");
	is_int(B->moves, 0, "no endpoint move");

	/* truncated and bit-flipped copies */
	drops = wgh_drops(B, WG_DROP_DECRYPT);
	for (size_t cut = 1; cut <= 16; cut++)
		inject_from(B, captured, clen - cut, SPOOF_ADDR);
	for (size_t bit = 0; bit < 8 * (clen - WG_MSG_DATA_HEADER_LEN); bit += 37) {
		uint8_t c[WGH_PKT_MAX];

		memcpy(c, captured, clen);
		c[WG_MSG_DATA_HEADER_LEN + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		inject_from(B, c, clen, SPOOF_ADDR);
	}
	is_int(B->n_delivered, delivered, "truncated and bit-flipped copies not delivered");
	ok(wgh_drops(B, WG_DROP_DECRYPT) - drops >= 16, "and counted as failed authentication");
	snap = wgh_peer_snap(B);
	ok(endpoint_eq(&snap.endpoint, &a_ep), "endpoint still a's");

	/* unauthenticated big counters change nothing */
	drops = wgh_drops(B, WG_DROP_KEY_EXPIRED);
	len = forge(msg, REJECT_AFTER_MESSAGES, 3, false);
	inject_from(B, msg, len, SPOOF_ADDR);
	len = forge(msg, UINT64_MAX, 3, false);
	inject_from(B, msg, len, SPOOF_ADDR);
	is_int(wgh_drops(B, WG_DROP_KEY_EXPIRED) - drops, 2,
	       "counters >= REJECT_AFTER_MESSAGES refused before decryption");
	drops = wgh_drops(B, WG_DROP_DECRYPT);
	len = forge(msg, REJECT_AFTER_MESSAGES - 1, 3, false);
	inject_from(B, msg, len, SPOOF_ADDR);
	is_int(wgh_drops(B, WG_DROP_DECRYPT) - drops, 1,
	       "REJECT - 1 with a bad tag: decrypt fails");
	ok(send4(A, B, 4), "fresh traffic still flows: the window did not move");

	/* authenticated, near the limit */
	delivered = B->n_delivered;
	len = forge(msg, REJECT_AFTER_MESSAGES - 1, 5, true);
	inject_from(B, msg, len, A_ADDR);
	is_int(B->n_delivered, delivered + 1, "authenticated REJECT_AFTER_MESSAGES - 1 accepted");
	drops = wgh_drops(B, WG_DROP_KEY_EXPIRED);
	len = forge(msg, REJECT_AFTER_MESSAGES, 6, true);
	inject_from(B, msg, len, A_ADDR);
	is_int(B->n_delivered, delivered + 1, "authenticated REJECT_AFTER_MESSAGES refused");
	is_int(wgh_drops(B, WG_DROP_KEY_EXPIRED) - drops, 1, "counted as key expired");
	len = forge(msg, REJECT_AFTER_MESSAGES - 2, 7, true);
	inject_from(B, msg, len, A_ADDR);
	is_int(B->n_delivered, delivered + 2, "REJECT - 2, within the window, accepted");
	drops = wgh_drops(B, WG_DROP_REPLAY);
	len = forge(msg, REJECT_AFTER_MESSAGES - 1, 5, true);
	inject_from(B, msg, len, A_ADDR);
	is_int(B->n_delivered, delivered + 2, "REJECT - 1 replayed: refused");
	is_int(wgh_drops(B, WG_DROP_REPLAY) - drops, 1, "counted as a replay");
	drops = wgh_drops(B, WG_DROP_REPLAY);
	len = forge(msg, REJECT_AFTER_MESSAGES - 1 - REPLAY_WINDOW_SIZE - 1, 8, true);
	inject_from(B, msg, len, A_ADDR);
	is_int(B->n_delivered, delivered + 2, "a counter beyond the window behind: refused");
	is_int(wgh_drops(B, WG_DROP_REPLAY) - drops, 1, "counted as a replay");
	/* the old packet, now far behind the window */
	inject_from(B, captured, clen, A_ADDR);
	is_int(B->n_delivered, delivered + 2, "the captured packet, far behind: refused");

	/* this keypair can carry nothing more from a; a new handshake makes things flow again */
	wgh_run_ms(200000, 1000);
	ok(send4(A, B, 9), "after a rekey, fresh traffic flows again");
	wgh_reset();
	return done_testing();
}
