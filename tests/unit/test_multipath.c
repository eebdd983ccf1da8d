// SPDX-License-Identifier: GPL-2.0
/*
 * The gateway's side of the multipath and redundant roam policies, in-process on a fake clock
 * (a is the client, b the gateway; engine/multipath.c):
 *   - a single keepalive from another source is a standby probe: the endpoint stays, the
 *     source joins the peer's paths, and it is answered with one keepalive on that path;
 *   - two keepalives back to back from there are the client's announce: the endpoint moves;
 *     so does a second keepalive from there while the active source stayed silent (a stock
 *     client's persistent keepalives after it moved);
 *   - data from another source moves it at once (the client sends data on its active path);
 *   - a replayed or forged packet from anywhere adds no path and is answered by nothing;
 *   - redundant: the second copy of a packet is counted as a duplicate, not as a replay, and
 *     delivered once;
 *   - probes from two paths in either order, or an active probe lost, move nothing;
 *   - both ends multipath without uplinks: an answer is never answered (no ping-pong);
 *   - sources not heard for 90 s are forgotten;
 *   - policy roam (the default) stays WireGuard's: a keepalive moves, nothing is echoed.
 */
#include <stdio.h>

#include "tap.h"
#include "wg_harness.h"

static struct wgh_host *A, *B;

#define is_str(got, want, name)                                                                    \
	do {                                                                                       \
		const char *g_ = (got), *w_ = (want);                                              \
		if (!ok(!strcmp(g_, w_), "%s", name))                                              \
			tap_diag("got %s, want %s", g_, w_);                                       \
	} while (0)

static const char *const WIFI = "198.51.100.2:51821", *const LTE = "203.0.113.2:51821",
			 *const OTHER = "198.51.100.3:51821", *const SPOOF = "203.0.113.130:4444";

static void tx4(struct wgh_host *from, const char *src, const char *dst, uint8_t fill)
{
	uint8_t pkt[256];
	size_t len = wgh_ip4(pkt, src, dst, 20, fill);

	wg_device_tx(wg_device_path(from->dev), pkt, len);
}

static void set_policy(struct wgh_host *h, const struct wgh_host *peer, enum conf_roam_policy p)
{
	struct conf_dev *c = conf_new();
	struct conf_peer *cp = wgh_add_peer(c, peer, false, NULL);

	cp->flags |= CONF_PEER_UPDATE_ONLY | CONF_PEER_HAS_ROAM_POLICY;
	cp->roam_policy = p;
	if (wgh_apply(h, c))
		abort();
	conf_free(c);
}

static void setup(enum conf_roam_policy p)
{
	wgh_reset();
	A = wgh_host_new("a", WIFI);
	B = wgh_host_new("b", "198.18.0.1:51820");
	wgh_pair(A, B, NULL, NULL, true, false);
	set_policy(B, A, p);
	tx4(A, "192.0.2.1", "192.0.2.2", 1);
	wgh_pump();
	tx4(B, "192.0.2.2", "192.0.2.1", 2);
	wgh_pump();
	wgh_advance_ms(1000);
}

static char *b_endpoint(char buf[ENDPOINT_STRLEN])
{
	struct conf_peer p = wgh_peer_snap(B);

	return (char *)endpoint_format(&p.endpoint, buf);
}

/* a's next datagrams come from s (the client's other uplink, or a NAT's new port) */
static void a_from(const char *s)
{
	wgh_set_addr(&A->addr, s);
}

/* one keepalive from a, held back (not delivered): the caller delivers or replays it */
static struct wgh_pkt a_keepalive(void)
{
	struct wgh_pkt p;

	A->n_out = 0;
	if (!wg_device_announce_key(A->dev, B->pub) || A->n_out != 1)
		abort();
	p = A->out[0];
	A->n_out = 0;
	return p;
}

static void deliver_from(const struct wgh_pkt *p, const char *src)
{
	struct wg_endpoint s;

	wgh_set_addr(&s, src);
	wgh_inject(B, p->data, p->len, &s);
}

/* after ms, one keepalive from a delivered as if from src */
static void keepalive_from(uint64_t ms, const char *src)
{
	struct wgh_pkt k;

	wgh_advance_ms(ms);
	k = a_keepalive();
	deliver_from(&k, src);
}

static void test_probe_and_announce(void)
{
	char ep[ENDPOINT_STRLEN];
	struct wgh_pkt k;
	struct conf_peer snap;
	size_t before;

	setup(CONF_ROAM_MULTIPATH);
	is_str(b_endpoint(ep), WIFI, "multipath: the endpoint is the client's wifi source");

	a_from(LTE);
	k = a_keepalive();
	before = B->sent_keepalives;
	B->n_out = 0;
	deliver_from(&k, LTE);
	is_str(b_endpoint(ep), WIFI, "a single keepalive from lte (a probe) does not move it");
	snap = wgh_peer_snap(B);
	is_int((int)snap.n_paths, 2, "lte joins the peer's paths");
	is_int((int)(B->sent_keepalives - before), 1, "the probe is answered with one keepalive");
	ok(B->n_out == 1 && endpoint_eq(&B->out[0].dst, &A->addr),
	   "the answer goes to lte, where the probe came from");
	is_int((int)snap.endpoint_moves, 0, "no move counted");

	/* the active path's own probe, then lte's next one: still no move */
	keepalive_from(500, WIFI);
	keepalive_from(500, LTE);
	is_str(b_endpoint(ep), WIFI, "a probe a second later, wifi heard meanwhile: no move");

	/* the announce: two keepalives back to back */
	keepalive_from(1000, LTE);
	keepalive_from(1, LTE);
	is_str(b_endpoint(ep), LTE, "two keepalives back to back (an announce) move it to lte");
	is_int((int)wgh_peer_snap(B).endpoint_moves, 1, "one move counted");

	/* data from yet another source moves it at once */
	wgh_advance_ms(1000);
	a_from(OTHER);
	tx4(A, "192.0.2.1", "192.0.2.2", 3);
	wgh_pump();
	is_str(b_endpoint(ep), OTHER, "data from a third source moves it at once");
	is_int((int)wgh_peer_snap(B).n_paths, 3, "three paths known");

	/* 90 s later only the active source is heard: the others are forgotten */
	keepalive_from(91000, OTHER);
	snap = wgh_peer_snap(B);
	is_int((int)snap.n_paths, 1, "sources not heard for 90 s are forgotten");
	is_str(endpoint_format(&snap.paths[0].endpoint, ep), OTHER, "the active one stays");
}

/* A client that probes nothing (stock, with persistent keepalive) and moved: its third
 * keepalive from the new source, the old one silent for two of its intervals, moves it. */
static void test_stock_keepalives(void)
{
	char ep[ENDPOINT_STRLEN];
	struct wgh_pkt k;

	setup(CONF_ROAM_MULTIPATH);
	a_from(LTE);
	k = a_keepalive();
	deliver_from(&k, LTE);
	is_str(b_endpoint(ep), WIFI, "stock client: its first keepalive from lte does not move it");
	keepalive_from(25000, LTE);
	is_str(b_endpoint(ep), WIFI, "nor its second (one interval of silence proves little)");
	keepalive_from(25000, LTE);
	is_str(b_endpoint(ep), LTE, "its third, wifi silent for two intervals, does");
}

/* A client's probes on two paths arrive in either order from one round to the next, and an
 * active path's probe may be lost: neither is the active path's silence. */
static void test_probe_order(void)
{
	char ep[ENDPOINT_STRLEN];
	struct wgh_pkt k;

	setup(CONF_ROAM_MULTIPATH);
	for (int round = 0; round < 4; round++) {
		const char *first = round % 2 ? LTE : WIFI, *second = round % 2 ? WIFI : LTE;

		k = a_keepalive();
		deliver_from(&k, first);
		wgh_advance_ms(5);
		k = a_keepalive();
		/* round 2: the wifi probe is lost */
		if (round != 2 || strcmp(second, WIFI))
			deliver_from(&k, second);
		wgh_advance_ms(995);
	}
	is_str(b_endpoint(ep), WIFI, "probes in either order, one lost: the endpoint stays");
	is_int((int)wgh_peer_snap(B).endpoint_moves, 0, "no move");
}

/* Both ends multipath and neither with uplinks: only the side that was not told where the
 * other is (the gateway) answers keepalives, so answers are never answered. */
static void test_no_ping_pong(void)
{
	size_t before;

	setup(CONF_ROAM_MULTIPATH);
	set_policy(A, B, CONF_ROAM_MULTIPATH);
	wgh_advance_ms(1000);
	before = A->sent_keepalives + B->sent_keepalives;
	if (!wg_device_announce_key(A->dev, B->pub))
		abort();
	for (int i = 0; i < 50; i++) {
		wgh_advance_ms(30);
		wgh_pump();
	}
	is_int((int)(A->sent_keepalives + B->sent_keepalives - before), 2,
	       "one keepalive, one answer, and quiet");
}

static void test_forged(void)
{
	char ep[ENDPOINT_STRLEN];
	struct wgh_pkt k, junk;
	size_t before;

	setup(CONF_ROAM_MULTIPATH);
	k = a_keepalive();
	deliver_from(&k, WIFI);
	wgh_advance_ms(100);
	before = B->sent_total;
	B->n_out = 0;
	/* the same keepalive again from a spoofer, twice (as an announce would be) */
	deliver_from(&k, SPOOF);
	deliver_from(&k, SPOOF);
	is_int((int)wgh_peer_snap(B).n_paths, 1, "a replayed keepalive adds no path");
	is_str(b_endpoint(ep), WIFI, "and moves nothing");
	is_int((int)(B->sent_total - before), 0, "and is answered by nothing");
	ok(wgh_drops(B, WG_DROP_REPLAY) >= 2, "counted as replays");

	/* a forged one: the index is right, the ciphertext is not */
	k = a_keepalive();
	junk = k;
	junk.data[junk.len - 1] ^= 0x55;
	deliver_from(&junk, SPOOF);
	deliver_from(&junk, SPOOF);
	is_int((int)wgh_peer_snap(B).n_paths, 1, "a forged keepalive adds no path");
	is_int((int)(B->sent_total - before), 0, "nothing sent for it");
	ok(wgh_drops(B, WG_DROP_DECRYPT) >= 2, "counted as failed decryption");
}

static void test_redundant_dups(void)
{
	uint8_t pkt[256];
	size_t len = wgh_ip4(pkt, "192.0.2.1", "192.0.2.2", 20, 9), delivered;
	struct wgh_pkt d;
	uint64_t replays;

	setup(CONF_ROAM_REDUNDANT);
	A->n_out = 0;
	wg_device_tx(wg_device_path(A->dev), pkt, len);
	if (A->n_out != 1)
		abort();
	d = A->out[0];
	A->n_out = 0;
	delivered = B->n_delivered;
	replays = wgh_drops(B, WG_DROP_REPLAY);
	deliver_from(&d, WIFI);
	deliver_from(&d, LTE);
	is_int((int)(B->n_delivered - delivered), 1, "redundant: the packet is delivered once");
	is_int((int)wgh_drops(B, WG_DROP_DUPLICATE), 1, "its second copy counts as a duplicate");
	is_int((int)(wgh_drops(B, WG_DROP_REPLAY) - replays), 0, "not as a replay");
	is_int((int)wgh_peer_snap(B).dup_packets, 1, "and in the peer's dup_packets");

	/* an old packet replayed long after (300 newer ones since): a replay, not a copy */
	for (int i = 0; i < 300; i++) {
		tx4(A, "192.0.2.1", "192.0.2.2", 9);
		wgh_pump();
	}
	replays = wgh_drops(B, WG_DROP_REPLAY);
	deliver_from(&d, LTE);
	is_int((int)(wgh_drops(B, WG_DROP_REPLAY) - replays), 1,
	       "a copy 300 counters old counts as a replay");
	is_int((int)wgh_drops(B, WG_DROP_DUPLICATE), 1, "not as a duplicate");
}

static void test_roam_default(void)
{
	char ep[ENDPOINT_STRLEN];
	struct wgh_pkt k;
	size_t before;

	setup(CONF_ROAM_ANY);
	a_from(LTE);
	k = a_keepalive();
	before = B->sent_total;
	deliver_from(&k, LTE);
	is_str(b_endpoint(ep), LTE,
	       "policy roam: one keepalive moves the endpoint (WireGuard's rule)");
	is_int((int)wgh_peer_snap(B).n_paths, 0, "and keeps no paths");
	/* the move acknowledgment, and nothing else */
	is_int((int)(B->sent_total - before), 1, "one keepalive back: the move's acknowledgment");
}

int main(void)
{
	test_probe_and_announce();
	test_stock_keepalives();
	test_probe_order();
	test_no_ping_pong();
	test_forged();
	test_redundant_dups();
	test_roam_default();
	wgh_reset();
	return done_testing();
}
