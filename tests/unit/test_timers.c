// SPDX-License-Identifier: GPL-2.0
/*
 * The timer table, driven by a fake clock through wg_device_tick: rekeying, retransmits,
 * giving up, passive and persistent keepalives, the 15 s no-reply handshake, key zeroing and
 * REJECT_AFTER_TIME.
 */
#include "tap.h"
#include "wg_harness.h"

static struct wgh_host *A, *B;

static void setup(void)
{
	wgh_reset();
	A = wgh_host_new("a", "198.51.100.1:51820");
	B = wgh_host_new("b", "198.51.100.2:51821");
	wgh_pair(A, B, NULL, NULL, true, false);
}

static void tx4(struct wgh_host *from, const char *src, const char *dst, uint8_t fill)
{
	uint8_t pkt[256];
	size_t len = wgh_ip4(pkt, src, dst, 20, fill);

	wg_device_tx(wg_device_path(from->dev), pkt, len);
}

static bool a_to_b(uint8_t fill)
{
	size_t before = B->n_delivered;

	tx4(A, "192.0.2.1", "192.0.2.2", fill);
	wgh_pump();
	return B->n_delivered == before + 1;
}

static void test_rekey_after_time(void)
{
	struct conf_peer s0, s1;

	setup();
	ok(a_to_b(1), "session up");
	s0 = wgh_peer_snap(A);
	wgh_run_ms(110000, 1000);
	ok(a_to_b(2), "data at 110 s");
	is_int(wgh_peer_snap(A).last_handshake_sec, s0.last_handshake_sec,
	       "no rekey before REKEY_AFTER_TIME");
	wgh_run_ms(11000, 1000);
	ok(a_to_b(3), "data at 121 s still flows");
	wgh_run_ms(1000, 1000);
	s1 = wgh_peer_snap(A);
	ok(s1.last_handshake_sec >= s0.last_handshake_sec + 120,
	   "initiator rekeyed on send after REKEY_AFTER_TIME (%lld -> %lld)",
	   (long long)s0.last_handshake_sec, (long long)s1.last_handshake_sec);
	ok(a_to_b(4), "data flows on the new session");
	ok(B->sessions <= 2 && A->sessions <= 2, "old sessions retired (a %u, b %u)", A->sessions,
	   B->sessions);
}

static void test_rekey_on_receive(void)
{
	size_t before;
	uint8_t pkt[256];
	size_t len;
	int i;

	setup();
	ok(a_to_b(1), "session up");
	/* only b talks; a (the initiator) must refresh before REJECT_AFTER_TIME */
	before = A->sent_type[WG_MSG_HANDSHAKE_INITIATION];
	for (i = 0; i < 170; i++) {
		len = wgh_ip4(pkt, "192.0.2.2", "192.0.2.1", 20, 5);
		wg_device_tx(wg_device_path(B->dev), pkt, len);
		wgh_run_ms(1000, 1000);
	}
	ok(A->sent_type[WG_MSG_HANDSHAKE_INITIATION] > before,
	   "initiator receiving only rekeyed before REJECT_AFTER_TIME");
	is_int(wgh_drops(A, WG_DROP_KEY_EXPIRED), 0, "nothing arrived on an expired key");
}

static void test_retransmit(void)
{
	size_t n0;

	setup();
	wgh_drop_type[WG_MSG_HANDSHAKE_RESPONSE] = 1;
	tx4(A, "192.0.2.1", "192.0.2.2", 1);
	wgh_pump();
	n0 = A->sent_type[WG_MSG_HANDSHAKE_INITIATION];
	is_int(n0, 1, "one initiation");
	wgh_run_ms(4900, 100);
	is_int(A->sent_type[WG_MSG_HANDSHAKE_INITIATION], 1, "no retransmit before REKEY_TIMEOUT");
	wgh_run_ms(500, 100);
	is_int(A->sent_type[WG_MSG_HANDSHAKE_INITIATION], 2,
	       "retransmitted within REKEY_TIMEOUT + jitter");
	wgh_drop_type[WG_MSG_HANDSHAKE_RESPONSE] = 0;
	wgh_run_ms(5500, 100);
	is_int(B->n_delivered, 1, "staged packet delivered once the response got through");
}

static void test_give_up(void)
{
	size_t n;

	setup();
	B->mute = true;
	tx4(A, "192.0.2.1", "192.0.2.2", 1);
	wgh_pump();
	wgh_run_ms(120000, 250);
	n = A->sent_type[WG_MSG_HANDSHAKE_INITIATION];
	is_int(n, 18 + 2, "gave up after REKEY_ATTEMPT_TIME's worth of attempts");
	wgh_run_ms(30000, 1000);
	is_int(A->sent_type[WG_MSG_HANDSHAKE_INITIATION], n, "and stays quiet");
	B->mute = false;
	wg_device_announce(B->dev, NULL);
	wgh_pump();
	wgh_run_ms(12000, 1000);
	is_int(B->n_delivered, 0, "the staged packet was dropped when it gave up");
	ok(a_to_b(2), "a later packet starts afresh");
}

static void test_passive_keepalive(void)
{
	size_t k0;

	setup();
	ok(a_to_b(1), "session up");
	wgh_run_ms(11000, 500);
	k0 = B->sent_keepalives;
	ok(a_to_b(2), "a sends data");
	wgh_run_ms(9500, 500);
	is_int(B->sent_keepalives, k0, "b silent before KEEPALIVE_TIMEOUT");
	wgh_run_ms(1000, 500);
	is_int(B->sent_keepalives, k0 + 1, "b sends a passive keepalive after KEEPALIVE_TIMEOUT");
	wgh_run_ms(20000, 500);
	is_int(B->sent_keepalives, k0 + 1, "and only one");
}

static void test_new_handshake_unanswered(void)
{
	size_t n0;

	setup();
	ok(a_to_b(1), "session up");
	wgh_run_ms(12000, 1000);
	B->mute = true;
	n0 = A->sent_type[WG_MSG_HANDSHAKE_INITIATION];
	tx4(A, "192.0.2.1", "192.0.2.2", 2);
	wgh_pump();
	wgh_run_ms(14900, 100);
	is_int(A->sent_type[WG_MSG_HANDSHAKE_INITIATION], n0, "no new handshake before 15 s");
	wgh_run_ms(500, 100);
	is_int(A->sent_type[WG_MSG_HANDSHAKE_INITIATION], n0 + 1,
	       "new handshake after KEEPALIVE_TIMEOUT + REKEY_TIMEOUT without a reply");
	B->mute = false;
}

static void test_persistent_keepalive(void)
{
	struct conf_dev *c;
	struct conf_peer *p;
	size_t k0;

	setup();
	ok(a_to_b(1), "session up");
	wgh_run_ms(12000, 1000);
	k0 = A->sent_keepalives;
	c = conf_new();
	p = conf_add_peer(c);
	memcpy(p->public_key, B->pub, WG_KEY_LEN);
	p->flags = CONF_PEER_UPDATE_ONLY | CONF_PEER_HAS_PERSISTENT_KEEPALIVE;
	p->persistent_keepalive = 25;
	is_int(wgh_apply(A, c), 0, "persistent keepalive 25 s");
	conf_free(c);
	is_int(A->sent_keepalives, k0 + 1, "a keepalive goes out at once");
	wgh_pump();
	wgh_run_ms(24000, 500);
	is_int(A->sent_keepalives, k0 + 1, "none before the interval");
	wgh_run_ms(1500, 500);
	is_int(A->sent_keepalives, k0 + 2, "one after 25 s");
	wgh_run_ms(50000, 500);
	is_int(A->sent_keepalives, k0 + 4, "and every 25 s after");
	ok(wgh_peer_snap(A).persistent_keepalive == 25, "snapshot shows the interval");
}

static void test_zero_keys(void)
{
	setup();
	ok(a_to_b(1), "session up");
	ok(A->sessions >= 1 && B->sessions >= 1, "sessions exist");
	wgh_run_ms(530000, 5000);
	ok(A->sessions >= 1, "keys kept before 540 s");
	wgh_run_ms(15000, 1000);
	is_int(A->sessions, 0, "initiator's keys zeroed after 3 x REJECT_AFTER_TIME");
	is_int(B->sessions, 0, "responder's keys zeroed too");
	ok(a_to_b(2), "a new handshake makes a new session");
}

static void test_reject_after_time(void)
{
	uint8_t held[WGH_PKT_MAX];
	size_t held_len, n0;

	setup();
	ok(a_to_b(1), "session up");
	tx4(A, "192.0.2.1", "192.0.2.2", 2);
	is_int(A->n_out, 1, "one data packet");
	held_len = A->out[0].len;
	memcpy(held, A->out[0].data, held_len);
	A->n_out = 0;
	wgh_run_ms(181000, 1000);
	wgh_inject(B, held, held_len, &A->addr);
	is_int(wgh_drops(B, WG_DROP_KEY_EXPIRED), 1, "data under a keypair past 180 s refused");
	is_int(B->n_delivered, 1, "and not delivered");
	n0 = A->sent_type[WG_MSG_DATA];
	tx4(A, "192.0.2.1", "192.0.2.2", 3);
	is_int(A->sent_type[WG_MSG_DATA], n0, "no data sent under an expired keypair");
	wgh_pump();
	ok(B->n_delivered == 2, "sent after a fresh handshake instead");
}

int main(void)
{
	test_rekey_after_time();
	test_rekey_on_receive();
	test_retransmit();
	test_give_up();
	test_passive_keepalive();
	test_new_handshake_unanswered();
	test_persistent_keepalive();
	test_zero_keys();
	test_reject_after_time();
	wgh_reset();
	return done_testing();
}
