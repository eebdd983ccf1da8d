// SPDX-License-Identifier: GPL-2.0
/*
 * Handshakes under load and handshakes that do not complete, in-process on a fake clock:
 *   - the initiator resends at once with its mac2 when a cookie reply answers the initiation in
 *     flight, and only once per initiation;
 *   - the responder's priority lane: a message with a valid mac2 goes ahead of a deep queue;
 *   - the likely cause the initiator names when its handshake does not complete (no
 *     authenticated reply, send errors), the log line that carries it, and that what arrived
 *     unauthenticated (cookie replies, replies that do not authenticate, from elsewhere) is
 *     reported as such and never chooses the cause: a forged response (valid mac1, the
 *     initiation's sender index, both on the wire) or a forged cookie reply cannot name one;
 *   - the responder's rate-limited line for an initiation from an unknown public key.
 */
#include <stdio.h>
#include <unistd.h>

#include "tap.h"
#include "wg_harness.h"

#include "cookie.h"
#include "peer.h"
#include "send.h"
#include "timers.h"

static struct wgh_host *A, *B;
static int send_errno; /* non-zero: A's sends fail with -send_errno */

static int failing_send(void *ctx, const struct wg_endpoint *dst, const uint8_t *buf, size_t len)
{
	if (send_errno)
		return -send_errno;
	return wgh_send(ctx, dst, buf, len);
}

static const struct wg_io_ops failing_ops = {
	.send = failing_send,
	.deliver = wgh_deliver,
	.bind = wgh_bind,
	.endpoint_moved = wgh_moved,
	.session_add = wgh_session_add,
	.session_del = wgh_session_del,
};

/* wgh_host_new with sends that can be made to fail. */
static struct wgh_host *host_failing(const char *name, const char *addr)
{
	return wgh_host_new_ops(name, addr, &failing_ops);
}

static void setup_psk(const uint8_t *psk_a, const uint8_t *psk_b)
{
	wgh_reset();
	send_errno = 0;
	A = host_failing("a", "198.51.100.1:51820");
	B = wgh_host_new("b", "198.18.0.1:51821");
	wgh_pair(A, B, psk_a, psk_b, true, false);
}

static void setup(void)
{
	setup_psk(NULL, NULL);
}

static struct wg_peer *a_peer(void)
{
	return wg_device_lookup_peer(A->dev, B->pub);
}

/* Take the last queued datagram of a type out of h's queue (copied to p); false if none. */
static bool take(struct wgh_host *h, unsigned int type, struct wgh_pkt *p)
{
	size_t i;

	for (i = h->n_out; i-- > 0;) {
		if (wgh_msg_type(&h->out[i]) != type)
			continue;
		*p = h->out[i];
		memmove(&h->out[i], &h->out[i + 1], (h->n_out - i - 1) * sizeof(h->out[0]));
		h->n_out--;
		return true;
	}
	return false;
}

static void deliver(struct wgh_host *to, const struct wgh_pkt *p, const char *src)
{
	struct wg_endpoint s;

	wgh_set_addr(&s, src);
	wgh_inject(to, p->data, p->len, &s);
	wg_device_process_handshakes(to->dev, 10000);
}

static void tx_a(void)
{
	uint8_t pkt[128];
	size_t len = wgh_ip4(pkt, "192.0.2.1", "192.0.2.2", 20, 7);

	wg_device_tx(wg_device_path(A->dev), pkt, len);
}

static void test_cookie_retry(void)
{
	setup();
	wg_device_set_under_load_for_test(B->dev, true);
	wg_device_announce(A->dev, NULL);
	wgh_pump();
	is_int(wgh_drops(B, WG_DROP_COOKIE_SENT), 1,
	       "under load: the first initiation got a cookie");
	is_int(A->sent_type[WG_MSG_HANDSHAKE_INITIATION], 2,
	       "the initiator resent at once with its mac2");
	ok(wgh_peer_snap(A).last_handshake_sec > 0, "handshake complete without waiting 5 s");
	is_int(wgh_drops(B, WG_DROP_COOKIE_SENT), 1, "no second cookie needed");
}

static void test_cookie_retry_once(void)
{
	struct wgh_pkt p;

	setup();
	wg_device_set_under_load_for_test(B->dev, true);
	wg_device_announce(A->dev, NULL);
	ok(take(A, WG_MSG_HANDSHAKE_INITIATION, &p), "initiation 1");
	deliver(B, &p, "198.51.100.1:51820");
	ok(take(B, WG_MSG_HANDSHAKE_COOKIE, &p), "cookie reply 1");
	deliver(A, &p, "198.18.0.1:51821");
	ok(take(A, WG_MSG_HANDSHAKE_INITIATION, &p), "resent at once");
	/* a NAT moved us meanwhile: the cookie does not fit the new source, another cookie */
	deliver(B, &p, "198.51.100.1:40000");
	ok(take(B, WG_MSG_HANDSHAKE_COOKIE, &p), "cookie reply 2 (mac2 for another source)");
	deliver(A, &p, "198.18.0.1:51821");
	is_int(wgh_count_out_type(A, WG_MSG_HANDSHAKE_INITIATION), 0,
	       "no second resend for the same initiation: no loop");
	is_int(timers_watch_cause(a_peer()), PEER_HS_CAUSE_NO_REPLY,
	       "cause: no authenticated reply (cookie replies decide nothing)");
	ok(a_peer()->hs_watch.cookies == 2, "both cookie replies counted as unauthenticated");
	/* the retransmit timer still runs, and its initiation may be resent once again */
	wgh_advance_ms(5400);
	wgh_tick_all();
	ok(take(A, WG_MSG_HANDSHAKE_INITIATION, &p), "retransmit after REKEY_TIMEOUT");
	deliver(B, &p, "198.51.100.1:40001");
	ok(take(B, WG_MSG_HANDSHAKE_COOKIE, &p), "cookie reply 3");
	deliver(A, &p, "198.18.0.1:51821");
	is_int(wgh_count_out_type(A, WG_MSG_HANDSHAKE_INITIATION), 1,
	       "the new initiation is resent once");
}

/* An initiation with a valid mac1 for B (garbage inside), as a flood sends them. */
static void forged_initiation(struct wgh_pkt *p)
{
	uint8_t key[WG_HASH_LEN];

	memset(p, 0, sizeof(*p));
	p->len = WG_MSG_INITIATION_LEN;
	crypto_random(p->data, p->len);
	memset(p->data, 0, 4);
	p->data[0] = WG_MSG_HANDSHAKE_INITIATION;
	crypto_hash(key, "mac1----", 8, B->pub, WG_KEY_LEN);
	crypto_mac(p->data + 116, key, sizeof(key), p->data, 116);
	memset(p->data + 132, 0, WG_MAC_LEN);
}

static void test_priority_lane(void)
{
	struct wgh_pkt p, junk;
	char src[64];
	int i;

	setup();
	wg_device_set_under_load_for_test(B->dev, true);
	wg_device_announce(A->dev, NULL);
	ok(take(A, WG_MSG_HANDSHAKE_INITIATION, &p), "initiation");
	deliver(B, &p, "198.51.100.1:51820");
	ok(take(B, WG_MSG_HANDSHAKE_COOKIE, &p), "cookie reply");
	wg_device_set_under_load_for_test(B->dev, false);
	/* a flood queues up before the resend arrives: deep enough to be under load */
	for (i = 0; i < WG_UNDER_LOAD_QUEUE_DEPTH + 100; i++) {
		forged_initiation(&junk);
		snprintf(src, sizeof(src), "203.0.113.%d:%d", 16 + i % 200, 1024 + i);
		{
			struct wg_endpoint s;

			wgh_set_addr(&s, src);
			wgh_inject(B, junk.data, junk.len, &s);
		}
	}
	ok(wg_device_under_load(B->dev), "the flood put b under load");
	/* the cookie reaches a: it resends with the mac2, the resend reaches b's queue */
	wgh_inject(A, p.data, p.len, &B->addr);
	wg_device_process_handshakes(A->dev, 100);
	ok(take(A, WG_MSG_HANDSHAKE_INITIATION, &p), "resent with mac2");
	wgh_inject(B, p.data, p.len, &A->addr);
	B->n_out = 0;
	is_int(wg_device_process_handshakes(B->dev, 1), 1, "one message processed");
	is_int(wgh_count_out_type(B, WG_MSG_HANDSHAKE_RESPONSE), 1,
	       "it was the proven source's: answered ahead of the flood");
	wg_device_process_handshakes(B->dev, 10000);
	ok(wgh_drops(B, WG_DROP_COOKIE_SENT) >= WG_UNDER_LOAD_QUEUE_DEPTH,
	   "the flood behind it got cookies (%llu)",
	   (unsigned long long)wgh_drops(B, WG_DROP_COOKIE_SENT));
	/* a forged non-zero mac2 does not buy a place in the lane */
	forged_initiation(&junk);
	memset(junk.data + 132, 0x5a, WG_MAC_LEN);
	B->n_out = 0;
	{
		struct wg_endpoint s;

		wgh_set_addr(&s, "203.0.113.77:1000");
		wgh_inject(B, junk.data, junk.len, &s);
	}
	wg_device_process_handshakes(B->dev, 10000);
	is_int(wgh_count_out_type(B, WG_MSG_HANDSHAKE_COOKIE), 1,
	       "a forged mac2 is treated as none: cookie reply");
}

static void test_cause_no_reply(void)
{
	setup();
	B->mute = true;
	tx_a();
	wgh_run_ms(16000, 500);
	is_int(timers_watch_cause(a_peer()), PEER_HS_CAUSE_NO_REPLY, "silent peer: no reply");
	ok(a_peer()->hs_watch.tries >= 3, "after %u tries", a_peer()->hs_watch.tries);
}

static void run_no_reply_long(void)
{
	int i;

	/* traffic keeps asking (the retransmit count resets), the watch keeps counting */
	for (i = 0; i < 30; i++) {
		tx_a();
		wgh_run_ms(1000, 500);
	}
}

static void test_cause_log(void)
{
	char log[8192];

	setup();
	B->mute = true;
	wgh_capture_log(run_no_reply_long, log, sizeof(log));
	ok(strstr(log, "did not complete after 3 tries: no authenticated reply") != NULL,
	   "log: did not complete after 3 tries, no authenticated reply");
	ok(strstr(log, "our public key is not configured on the peer") != NULL,
	   "log: names the missing key as one cause");
	ok(strstr(log, "after 4 tries") == NULL, "log: once, not every try");
}

static void test_cause_send_error(void)
{
	char why[512];

	setup();
	send_errno = ENETUNREACH;
	tx_a();
	wgh_run_ms(11000, 500);
	is_int(timers_watch_cause(a_peer()), PEER_HS_CAUSE_SEND_ERROR, "every send failed");
	timers_watch_describe(a_peer(), why, sizeof(why));
	ok(strstr(why, "Network is unreachable") && strstr(why, "errno 101") &&
		   strstr(why, "no route"),
	   "names the errno: %s", why);
	/* some sends going out turns it back into "no reply" with the failures noted */
	send_errno = 0;
	B->mute = true;
	wgh_run_ms(6000, 500);
	is_int(timers_watch_cause(a_peer()), PEER_HS_CAUSE_NO_REPLY, "then silence: no reply");
	timers_watch_describe(a_peer(), why, sizeof(why));
	ok(strstr(why, "sends failed") != NULL, "with the failed sends noted: %s", why);
}

static void test_cause_cookie_only(void)
{
	char why[512];

	setup();
	wg_device_set_under_load_for_test(B->dev, true);
	wgh_drop_type[WG_MSG_HANDSHAKE_RESPONSE] = 1;
	tx_a();
	wgh_run_ms(11000, 500);
	is_int(timers_watch_cause(a_peer()), PEER_HS_CAUSE_NO_REPLY,
	       "cookie replies only: no authenticated reply");
	/* later initiations carry the mac2 and need no cookie: one is all there is */
	ok(a_peer()->hs_watch.cookies >= 1, "%u cookie seen", a_peer()->hs_watch.cookies);
	timers_watch_describe(a_peer(), why, sizeof(why));
	ok(strstr(why, "unauthenticated") && strstr(why, "cookie replies"),
	   "reported as unauthenticated: %s", why);
}

static void test_cause_bad_reply(void)
{
	uint8_t psk1[WG_KEY_LEN], psk2[WG_KEY_LEN];
	char why[512];

	crypto_random(psk1, sizeof(psk1));
	crypto_random(psk2, sizeof(psk2));
	setup_psk(psk1, psk2);
	tx_a();
	wgh_run_ms(11000, 500);
	ok(B->sent_type[WG_MSG_HANDSHAKE_RESPONSE] >= 2, "b answered (%zu responses)",
	   B->sent_type[WG_MSG_HANDSHAKE_RESPONSE]);
	is_int(timers_watch_cause(a_peer()), PEER_HS_CAUSE_NO_REPLY,
	       "PSK mismatch: no authenticated reply");
	timers_watch_describe(a_peer(), why, sizeof(why));
	ok(strstr(why, "preshared key") != NULL, "the preshared key among the causes: %s", why);
	ok(strstr(why, "replies that did not authenticate") != NULL,
	   "and the replies reported as unauthenticated");
}

static void test_cause_foreign_reply(void)
{
	uint8_t psk1[WG_KEY_LEN], psk2[WG_KEY_LEN];
	struct wgh_pkt p;
	char why[512];

	crypto_random(psk1, sizeof(psk1));
	crypto_random(psk2, sizeof(psk2));
	setup_psk(psk1, psk2);
	wg_device_announce(A->dev, NULL);
	ok(take(A, WG_MSG_HANDSHAKE_INITIATION, &p), "initiation");
	deliver(B, &p, "198.51.100.1:51820");
	ok(take(B, WG_MSG_HANDSHAKE_RESPONSE, &p), "response");
	deliver(A, &p, "198.18.0.99:9999");
	is_int(timers_watch_cause(a_peer()), PEER_HS_CAUSE_NO_REPLY,
	       "an unauthenticated reply from elsewhere decides nothing");
	timers_watch_describe(a_peer(), why, sizeof(why));
	ok(strstr(why, "1 from elsewhere (last 198.18.0.99:9999)") != NULL,
	   "reports where it came from: %s", why);
	ok(strstr(why, "another host") == NULL, "and concludes nothing from it");
}

/* An off-path attacker with a copy of a's initiation (and the public keys, which are no secret)
 * answers it: a response with a valid mac1 and the initiation's sender index as its receiver
 * index, from b's own address and from elsewhere, and a cookie reply that decrypts. None of it
 * authenticates b, so none of it may name a cause; the real b stays silent. */
static void forge_replies(const struct wgh_pkt *init)
{
	struct cookie_checker *fake_b = crypto_secure_alloc(sizeof(*fake_b));
	struct wg_msg_initiation in;
	struct wg_msg_response r;
	struct wg_msg_cookie ck;
	struct cookie for_a;
	struct wg_endpoint a_ep;
	struct wgh_pkt p;

	memcpy(&in, init->data, sizeof(in));
	memset(&r, 0, sizeof(r));
	r.header.type = htole32(WG_MSG_HANDSHAKE_RESPONSE);
	r.sender_index = htole32(0x12345678);
	r.receiver_index = in.sender_index;
	crypto_random(r.unencrypted_ephemeral, sizeof(r.unencrypted_ephemeral));
	crypto_random(r.encrypted_nothing, sizeof(r.encrypted_nothing));
	memset(&for_a, 0, sizeof(for_a));
	cookie_init_peer(&for_a, A->pub); /* mac1 keyed by a's public key */
	cookie_add_mac_to_packet((uint8_t *)&r, sizeof(r), &for_a, wgh_now_ns);
	memcpy(p.data, &r, sizeof(r));
	p.len = sizeof(r);
	deliver(A, &p, "198.18.0.1:51821");
	deliver(A, &p, "203.0.113.66:51821");
	/* a cookie reply: b's public key and the initiation's mac1 are all it takes */
	cookie_checker_init(fake_b);
	cookie_checker_precompute_device_keys(fake_b, B->pub);
	wgh_set_addr(&a_ep, "198.51.100.1:51820");
	cookie_message_create(&ck, init->data, init->len, in.sender_index, fake_b, &a_ep,
			      wgh_now_ns);
	memcpy(p.data, &ck, sizeof(ck));
	p.len = sizeof(ck);
	deliver(A, &p, "203.0.113.66:51821");
	cookie_checker_destroy(fake_b);
	crypto_secure_free(fake_b);
}

static void test_forged_replies(void)
{
	struct wgh_pkt init;
	char why[512];
	int i;

	setup();
	B->mute = true;
	for (i = 0; i < 3; i++) {
		if (i == 0)
			wg_device_announce(A->dev, NULL);
		else {
			wgh_advance_ms(5400);
			wg_device_tick(A->dev);
		}
		ok(take(A, WG_MSG_HANDSHAKE_INITIATION, &init), "initiation %d seen on the wire",
		   i + 1);
		forge_replies(&init);
	}
	ok(a_peer()->hs_watch.bad_replies >= 6, "forged responses counted as unauthenticated (%u)",
	   a_peer()->hs_watch.bad_replies);
	is_int(timers_watch_cause(a_peer()), PEER_HS_CAUSE_NO_REPLY,
	       "forged replies do not choose the cause");
	timers_watch_describe(a_peer(), why, sizeof(why));
	ok(strstr(why, "no authenticated reply") == why, "cause: no authenticated reply: %s", why);
	ok(!strstr(why, "another host") && !strstr(why, "mismatch") && !strstr(why, "only cookie"),
	   "no forged cause named");
	ok(strstr(why, "unauthenticated") != NULL, "the forgeries reported as unauthenticated");
}

static void test_cause_resets(void)
{
	setup();
	B->mute = true;
	tx_a();
	wgh_run_ms(6000, 500);
	is_int(timers_watch_cause(a_peer()), PEER_HS_CAUSE_NO_REPLY, "no reply while b is mute");
	B->mute = false;
	wgh_run_ms(6000, 500);
	ok(wgh_peer_snap(A).last_handshake_sec > 0, "then the handshake completes");
	is_int(timers_watch_cause(a_peer()), PEER_HS_CAUSE_NONE, "and the watch starts over");
}

static void unknown_key_run(void)
{
	int i;

	/* a knows b; b does not know a: a retries every 5 s for 30 s */
	for (i = 0; i < 60; i++) {
		tx_a();
		wgh_run_ms(500, 500);
	}
}

static void test_unknown_key_log(void)
{
	char log[8192], b64[CRYPTO_KEY_BASE64_LEN + 1], want[256];
	struct conf_dev *c;
	const char *p;
	int lines = 0;

	setup();
	c = conf_new();
	c->flags = CONF_DEV_REPLACE_PEERS;
	if (wgh_apply(B, c))
		abort();
	conf_free(c);
	wgh_capture_log(unknown_key_run, log, sizeof(log));
	crypto_key_to_base64(b64, A->pub);
	snprintf(want, sizeof(want),
		 "initiation from 198.51.100.1:51820 for an unknown public key %s", b64);
	ok(strstr(log, want) != NULL, "responder names the source and the key");
	for (p = log; (p = strstr(p, "for an unknown public key")); p++)
		lines++;
	ok(lines >= 2 && lines <= 4, "at most once per 10 s (%d lines in 30 s, 6+ initiations)",
	   lines);
	ok(wgh_drops(B, WG_DROP_HANDSHAKE_INVALID) >= 6, "every one counted (%llu)",
	   (unsigned long long)wgh_drops(B, WG_DROP_HANDSHAKE_INVALID));
}

static void flood_forged(void)
{
	struct wgh_pkt junk;
	struct wg_endpoint s;
	int i;

	setup();
	wgh_set_addr(&s, "203.0.113.9:999");
	for (i = 0; i < 50; i++) {
		forged_initiation(&junk);
		wgh_inject(B, junk.data, junk.len, &s);
		wg_device_process_handshakes(B->dev, 100);
	}
}

static void test_forged_not_logged(void)
{
	char log[8192];

	wgh_capture_log(flood_forged, log, sizeof(log));
	ok(strstr(log, "unknown public key") == NULL, "forged initiations are not an unknown key");
	ok(wgh_drops(B, WG_DROP_HANDSHAKE_INVALID) == 50, "but counted as invalid");
}

int main(void)
{
	test_cookie_retry();
	test_cookie_retry_once();
	test_priority_lane();
	test_cause_no_reply();
	test_cause_log();
	test_cause_send_error();
	test_cause_cookie_only();
	test_cause_bad_reply();
	test_cause_foreign_reply();
	test_forged_replies();
	test_cause_resets();
	test_unknown_key_log();
	test_forged_not_logged();
	wgh_reset();
	return done_testing();
}
