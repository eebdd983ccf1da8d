// SPDX-License-Identifier: GPL-2.0
/*
 * The move acknowledgment and the client's re-announce, in-process on a fake clock (a is the
 * client, b the gateway):
 *   - a keepalive announce nobody answers is re-sent after 50, 100, 200 and 400 ms, four times
 *     and no more, then logged as unacknowledged; the tick asks to run again in 50 ms;
 *   - any authenticated packet from the peer ends it, and a new announce starts it afresh;
 *   - the gateway answers a real move by data with one keepalive to the new endpoint, under
 *     the keypair that very packet confirmed, so the client stops at once; a lost first
 *     announce costs one re-send;
 *   - no acknowledgment for a move the roam policy refuses, nor for a packet from where the
 *     peer already is.
 */
#include <stdio.h>
#include <unistd.h>

#include "tap.h"
#include "wg_harness.h"

static struct wgh_host *A, *B;

enum {
	/* bounds every clock loop below: well past the last re-send (750 ms) and its last wait */
	RUN_MS = 3000,
};

static void tx4(struct wgh_host *from, const char *src, const char *dst, uint8_t fill)
{
	uint8_t pkt[256];
	size_t len = wgh_ip4(pkt, src, dst, 20, fill);

	wg_device_tx(wg_device_path(from->dev), pkt, len);
}

/* A session both ways, then quiet: nothing queued, counters noted by the caller. */
static void setup(void)
{
	wgh_reset();
	A = wgh_host_new("a", "198.51.100.1:51820");
	B = wgh_host_new("b", "198.18.0.1:51821");
	wgh_pair(A, B, NULL, NULL, true, false);
	tx4(A, "192.0.2.1", "192.0.2.2", 1);
	wgh_pump();
	tx4(B, "192.0.2.2", "192.0.2.1", 2);
	wgh_pump();
}

/* Advance a's clock by ms in 1 ms steps, ticking a only. Each keepalive a sends is recorded
 * (ms since the start, in at[], up to max) and, unless deliver, lost. Returns how many. */
static int run_a(unsigned int ms, bool deliver, unsigned int *at, int max)
{
	size_t k = A->sent_keepalives;
	int n = 0;

	for (unsigned int t = 1; t <= ms; t++) {
		wgh_advance_ms(1);
		wg_device_tick(A->dev);
		if (A->sent_keepalives != k) {
			if (n < max)
				at[n] = t;
			n++;
			k = A->sent_keepalives;
		}
		if (deliver)
			wgh_pump();
		else
			A->n_out = 0;
	}
	return n;
}

static int count(const char *s, const char *what)
{
	int n = 0;

	for (; (s = strstr(s, what)); s += strlen(what))
		n++;
	return n;
}

static unsigned int sched_at[8];
static int sched_n;

static void schedule_run(void)
{
	sched_n = run_a(RUN_MS, false, sched_at, 8);
}

static void test_schedule(void)
{
	char log[4096];
	size_t k0;
	int ms;

	setup();
	A->n_out = 0;
	k0 = A->sent_keepalives;
	wg_device_announce(A->dev, NULL);
	is_int(A->sent_keepalives, k0 + 1, "a valid session: the announce is one keepalive");
	ms = wg_device_tick(A->dev);
	is_int(ms, 50, "the tick asks to run again in 50 ms, not in a second");
	A->n_out = 0;
	wgh_capture_log(schedule_run, log, sizeof(log));
	is_int(sched_n, 4, "unanswered: four re-sends, no more");
	is_int(sched_at[0], 50, "first re-send after 50 ms");
	is_int(sched_at[1], 150, "second 100 ms later");
	is_int(sched_at[2], 350, "third 200 ms later");
	is_int(sched_at[3], 750, "fourth 400 ms later");
	ok(strstr(log, "announce to peer ") && strstr(log, "not acknowledged after 4 re-sends"),
	   "one info line says it went unacknowledged");
	is_int(count(log, "acknowledged after"), 1, "and only that line");
	is_int(run_a(RUN_MS, false, sched_at, 8), 0, "quiet afterwards");
}

static void answer_run(void)
{
	sched_n = run_a(60, false, sched_at, 8);
	/* the gateway has data for the client: an authenticated packet, from where it was */
	tx4(B, "192.0.2.2", "192.0.2.1", 3);
	wgh_pump();
	sched_n += run_a(RUN_MS, false, sched_at, 8);
}

static void test_stops_on_receive(void)
{
	char log[4096];

	setup();
	A->n_out = 0;
	wg_device_announce(A->dev, NULL);
	A->n_out = 0;
	wgh_capture_log(answer_run, log, sizeof(log));
	is_int(sched_n, 1, "an authenticated packet after the first re-send stops it");
	ok(strstr(log, "acknowledged after 1 re-send") && !strstr(log, "not acknowledged"),
	   "one info line: acknowledged after 1 re-send");
	is_int(count(log, "acknowledged after"), 1, "only one");
}

static void test_superseded(void)
{
	unsigned int at[8];
	int n;

	setup();
	A->n_out = 0;
	wg_device_announce(A->dev, NULL);
	A->n_out = 0;
	n = run_a(160, false, at, 8);
	is_int(n, 2, "two re-sends in 160 ms");
	wg_device_announce(A->dev, NULL);
	A->n_out = 0;
	n = run_a(RUN_MS, false, at, 8);
	is_int(n, 4, "a new announce starts the count again");
	is_int(at[0], 50, "its first re-send 50 ms after it");
	is_int(at[3], 750, "its last 750 ms after it");
}

static void test_no_resend_without_session(void)
{
	unsigned int at[8];

	wgh_reset();
	A = wgh_host_new("a", "198.51.100.1:51820");
	B = wgh_host_new("b", "198.18.0.1:51821");
	wgh_pair(A, B, NULL, NULL, true, false);
	wg_device_announce(A->dev, NULL);
	is_int(wgh_count_out_type(A, WG_MSG_HANDSHAKE_INITIATION), 1,
	       "no session: the announce is an initiation");
	A->n_out = 0;
	is_int(run_a(RUN_MS, false, at, 8), 0, "which is not re-sent as a keepalive");
}

static void test_move_ack(void)
{
	struct conf_peer sb;
	struct wgh_pkt ack;
	unsigned int at[8];
	size_t kb, i, n_ack = 0;

	memset(&ack, 0, sizeof(ack));
	setup();
	A->n_out = 0;
	B->n_out = 0;
	kb = B->sent_keepalives;
	/* same address: no move, no acknowledgment */
	wg_device_announce(A->dev, NULL);
	wgh_inject(B, A->out[0].data, A->out[0].len, &A->addr);
	A->n_out = 0;
	is_int(B->sent_keepalives, kb, "a keepalive from where the peer is: not acknowledged");
	run_a(RUN_MS, false, at, 8);

	/* the client switched uplinks */
	wgh_set_addr(&A->addr, "198.51.100.77:40000");
	wg_device_announce(A->dev, NULL);
	is_int(A->n_out, 1, "the announce");
	wgh_inject(B, A->out[0].data, A->out[0].len, &A->addr);
	A->n_out = 0;
	sb = wgh_peer_snap(B);
	ok(endpoint_eq(&sb.endpoint, &A->addr), "the gateway moved on the announce");
	is_int(B->moves, 1, "one move");
	for (i = 0; i < B->n_out; i++) {
		if (wgh_msg_type(&B->out[i]) == WG_MSG_DATA) {
			ack = B->out[i];
			n_ack++;
		}
	}
	is_int(n_ack, 1, "the gateway answered the move with one data message");
	is_int(n_ack ? ack.len : 0, WG_MSG_DATA_MIN_LEN, "a keepalive (32 bytes)");
	ok(n_ack && endpoint_eq(&ack.dst, &A->addr), "to the new endpoint");
	wgh_pump();
	is_int(run_a(RUN_MS, false, at, 8), 0, "the client got it: no re-send");
	is_int(B->moves, 1, "and the ack moved nothing back");
}

static void lost_first_run(void)
{
	/* the new link loses the announce; then delivers */
	A->n_out = 0;
	sched_n = run_a(RUN_MS, true, sched_at, 8);
}

static void test_lost_first_announce(void)
{
	char log[4096];
	size_t kb;

	setup();
	A->n_out = 0;
	B->n_out = 0;
	kb = B->sent_keepalives;
	wgh_set_addr(&A->addr, "198.51.100.78:40000");
	wg_device_announce(A->dev, NULL);
	wgh_capture_log(lost_first_run, log, sizeof(log));
	is_int(sched_n, 1, "one re-send got through");
	is_int(sched_at[0], 50, "50 ms after the lost announce");
	is_int(B->moves, 1, "the gateway moved on the re-send");
	is_int(B->sent_keepalives, kb + 1, "and acknowledged it once");
	ok(strstr(log, "acknowledged after 1 re-send"), "the client logs it");
}

static void test_responder_confirms(void)
{
	struct wgh_pkt p;
	size_t kb;

	/* b learns a's keys from a's initiation, then a's first data under them comes from a
	 * new address: b moves before the keypair is confirmed, and acknowledges after */
	wgh_reset();
	A = wgh_host_new("a", "198.51.100.1:51820");
	B = wgh_host_new("b", "198.18.0.1:51821");
	wgh_pair(A, B, NULL, NULL, true, false);
	wg_device_announce(A->dev, NULL);
	p = A->out[0];
	A->n_out = 0;
	wgh_inject(B, p.data, p.len, &A->addr);
	wg_device_process_handshakes(B->dev, 10);
	is_int(wgh_count_out_type(B, WG_MSG_HANDSHAKE_RESPONSE), 1, "b responded");
	p = B->out[0];
	B->n_out = 0;
	wgh_inject(A, p.data, p.len, &B->addr);
	wg_device_process_handshakes(A->dev, 10);
	is_int(wgh_count_out_type(A, WG_MSG_DATA), 1, "a confirms with a keepalive");
	p = A->out[0];
	A->n_out = 0;
	kb = B->sent_keepalives;
	wgh_set_addr(&A->addr, "198.51.100.79:40000");
	wgh_inject(B, p.data, p.len, &A->addr);
	is_int(B->moves, 1, "b moved on the confirming packet");
	is_int(B->sent_keepalives, kb + 1, "and acknowledged under the keypair it confirmed");
	wgh_pump();
	is_int(A->n_delivered + B->n_delivered, 0, "nothing but keepalives");
}

static void test_pinned_no_ack(void)
{
	struct conf_dev *c;
	struct conf_peer *p;
	unsigned int at[8];
	size_t kb;

	setup();
	c = conf_new();
	p = conf_add_peer(c);
	memcpy(p->public_key, A->pub, WG_KEY_LEN);
	p->flags = CONF_PEER_UPDATE_ONLY | CONF_PEER_HAS_ROAM_POLICY;
	p->roam_policy = CONF_ROAM_PINNED;
	is_int(wgh_apply(B, c), 0, "gateway pins the client");
	conf_free(c);
	A->n_out = 0;
	B->n_out = 0;
	kb = B->sent_keepalives;
	wgh_set_addr(&A->addr, "198.51.100.80:40000");
	wg_device_announce(A->dev, NULL);
	wgh_pump();
	is_int(B->moves, 0, "pinned: no move");
	is_int(B->sent_keepalives, kb, "and no acknowledgment");
	is_int(run_a(RUN_MS, true, at, 8), 4, "so the client re-sends four times");
	is_int(B->sent_keepalives, kb, "none of them acknowledged");
}

int main(void)
{
	test_schedule();
	test_stops_on_receive();
	test_superseded();
	test_no_resend_without_session();
	test_move_ack();
	test_lost_first_announce();
	test_responder_confirms();
	test_pinned_no_ack();
	wgh_reset();
	return done_testing();
}
