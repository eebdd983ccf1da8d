// SPDX-License-Identifier: GPL-2.0
/*
 * The batch transmit path: the segments of one TUN super-packet handed over at once
 * (tun_read_gso_batch) and sent with one route lookup and one reservation of nonces
 * (wg_device_tx_batch). It must do what wg_device_tx on each packet does: consecutive
 * counters the peer decrypts in order, the same drop counts, staging without a session, the
 * message limits to the nonce (no nonce >= REJECT_AFTER_MESSAGES, whatever the reservation),
 * the peer's counters; and packets to different destinations go their own way, in order.
 */
#include <stdatomic.h>
#include <sys/socket.h>
#include <unistd.h>

#include "peer.h"
#include "send.h"
#include "timers.h"
#include "replay.h"
#include "tap.h"
#include "tun.h"
#include "wg_harness.h"

static const char A_ADDR[] = "198.51.100.1:51820";
static const char B_ADDR[] = "198.51.100.2:51821";

enum {
	TEST_MAX = 200,
	TEST_PKT = 1500,
};

static struct wgh_host *A, *B;
static uint8_t pkts[TEST_MAX][TEST_PKT];
static struct iovec iov[TEST_MAX];

static void setup(bool b_knows_a)
{
	wgh_reset();
	A = wgh_host_new("a", A_ADDR);
	B = wgh_host_new("b", B_ADDR);
	wgh_pair(A, B, NULL, NULL, true, b_knows_a);
}

/* n IPv4 packets src -> dst, packet i of 40 + i % 50 bytes filled with tag + i */
static void make4(size_t n, const char *src, const char *dst, uint8_t tag)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = wgh_ip4(pkts[i], src, dst, 20 + i % 50, (uint8_t)(tag + i));

		iov[i] = (struct iovec){ .iov_base = pkts[i], .iov_len = len };
	}
}

/* B delivered packets [from, from + n) of iov exactly, in order, starting at its index at. */
static bool delivered_in_order(size_t at, size_t from, size_t n)
{
	if (B->n_delivered != at + n)
		return false;
	for (size_t i = 0; i < n; i++) {
		const struct wgh_pkt *d = &B->delivered[at + i];

		if (d->len != iov[from + i].iov_len ||
		    memcmp(d->data, iov[from + i].iov_base, d->len))
			return false;
	}
	return true;
}

static uint64_t msg_counter(const struct wgh_pkt *p)
{
	uint64_t c;

	memcpy(&c, p->data + 8, 8);
	return le64toh(c);
}

/* The data messages A has queued since out index from: consecutive counters from first? */
static bool consecutive(size_t from, size_t n, uint64_t first)
{
	size_t seen = 0;

	for (size_t i = from; i < A->n_out; i++) {
		if (wgh_msg_type(&A->out[i]) != WG_MSG_DATA)
			continue;
		if (msg_counter(&A->out[i]) != first + seen)
			return false;
		seen++;
	}
	return seen == n;
}

static struct noise_keypair *a_keypair(void)
{
	struct wg_peer *peer = wg_device_lookup_peer(A->dev, B->pub);

	return noise_keypairs_current(&peer->keypairs);
}

static void test_batch(size_t n)
{
	struct wg_peer *peer;
	struct noise_keypair *kp;
	uint64_t first, tx_pk, tx_b, since, bytes = 0;
	size_t out0, at;

	setup(false);
	make4(1, "192.0.2.1", "192.0.2.2", 1);
	wg_device_tx(wg_device_path(A->dev), pkts[0], iov[0].iov_len);
	wgh_pump();
	peer = wg_device_lookup_peer(A->dev, B->pub);
	kp = a_keypair();
	first = atomic_load(&kp->sending_counter);
	tx_pk = atomic_load(&peer->tx_packets);
	tx_b = atomic_load(&peer->tx_bytes);
	since = atomic_load(&peer->tx_since_rx);
	at = B->n_delivered;
	out0 = A->n_out;

	make4(n, "192.0.2.1", "192.0.2.2", 0x40);
	wg_device_tx_batch(wg_device_path(A->dev), iov, n);
	ok(consecutive(out0, n, first), "batch of %zu: %zu data messages, counters %llu on", n, n,
	   (unsigned long long)first);
	is_int(atomic_load(&kp->sending_counter), first + n, "nonces reserved: exactly n");
	for (size_t i = out0; i < A->n_out; i++)
		bytes += A->out[i].len;
	is_int(atomic_load(&peer->tx_packets) - tx_pk, n, "tx_packets counts each");
	is_int(atomic_load(&peer->tx_bytes) - tx_b, bytes, "tx_bytes counts each datagram");
	is_int(atomic_load(&peer->tx_since_rx) - since, n, "tx_since_rx counts each");
	noise_keypair_put(kp, false);
	wgh_pump();
	ok(delivered_in_order(at, 0, n), "batch of %zu: b decrypts and delivers all, in order", n);
}

static void test_drops(void)
{
	uint64_t d0, e0, b0;
	size_t at;

	setup(false);
	/* b knows no endpoint for a until a speaks first */
	make4(7, "192.0.2.2", "192.0.2.1", 1);
	e0 = wgh_drops(B, WG_DROP_NO_ENDPOINT);
	wg_device_tx_batch(wg_device_path(B->dev), iov, 7);
	is_int(wgh_drops(B, WG_DROP_NO_ENDPOINT) - e0, 7, "no endpoint: counted once per packet");
	is_int(B->n_out, 0, "and nothing sent");

	make4(9, "192.0.2.1", "203.0.113.5", 2);
	d0 = wgh_drops(A, WG_DROP_NO_PEER);
	wg_device_tx_batch(wg_device_path(A->dev), iov, 9);
	is_int(wgh_drops(A, WG_DROP_NO_PEER) - d0, 9, "no route: counted once per packet");
	is_int(A->n_out, 0, "and nothing sent, no handshake");

	/* mixed: runs to b, a packet to nowhere, a packet that is no IP packet, IPv6 to b */
	setup(false);
	make4(1, "192.0.2.1", "192.0.2.2", 1);
	wg_device_tx(wg_device_path(A->dev), pkts[0], iov[0].iov_len);
	wgh_pump();
	at = B->n_delivered;
	make4(10, "192.0.2.1", "192.0.2.2", 3);
	iov[2].iov_len = wgh_ip4(pkts[2], "192.0.2.1", "203.0.113.5", 30, 9);
	pkts[4][0] = 0x10;
	iov[6].iov_len = wgh_ip6(pkts[6], "2001:db8::1", "2001:db8::2", 60, 7);
	d0 = wgh_drops(A, WG_DROP_NO_PEER);
	b0 = wgh_drops(A, WG_DROP_BAD_INNER);
	wg_device_tx_batch(wg_device_path(A->dev), iov, 10);
	wgh_pump();
	is_int(wgh_drops(A, WG_DROP_NO_PEER) - d0, 1, "mixed batch: one without a route");
	is_int(wgh_drops(A, WG_DROP_BAD_INNER) - b0, 1, "mixed batch: one not an IP packet");
	{
		static const size_t want[] = { 0, 1, 3, 5, 6, 7, 8, 9 };
		bool in_order = B->n_delivered == at + 8;

		for (size_t i = 0; in_order && i < 8; i++)
			in_order = B->delivered[at + i].len == iov[want[i]].iov_len &&
				   !memcmp(B->delivered[at + i].data, pkts[want[i]],
					   iov[want[i]].iov_len);
		ok(in_order, "mixed batch: the other eight delivered, in order");
	}
}

static void test_staging(void)
{
	setup(false);
	make4(20, "192.0.2.1", "192.0.2.2", 5);
	wg_device_tx_batch(wg_device_path(A->dev), iov, 20);
	is_int(A->sent_type[WG_MSG_DATA], 0, "no session: no data sent");
	is_int(atomic_load(&wg_device_lookup_peer(A->dev, B->pub)->staged_count), 20,
	       "all twenty staged");
	wgh_pump();
	is_int(A->sent_type[WG_MSG_HANDSHAKE_INITIATION], 1, "one handshake for the batch");
	ok(delivered_in_order(0, 0, 20), "after the handshake b delivers them all, in order");

	/* more than the staged queue holds: the oldest go, as packet by packet */
	setup(false);
	make4(TEST_MAX, "192.0.2.1", "192.0.2.2", 6);
	wg_device_tx_batch(wg_device_path(A->dev), iov, TEST_MAX);
	wgh_pump();
	ok(delivered_in_order(0, TEST_MAX - WG_MAX_STAGED_PACKETS, WG_MAX_STAGED_PACKETS),
	   "a batch beyond the staged queue: the last %d delivered, in order",
	   WG_MAX_STAGED_PACKETS);
}

/* The sending counter of a's keypair set to start, then a batch of n: how many data messages
 * leave (checked consecutive from start), and whether the keypair is still valid after. */
static size_t at_limit(uint64_t start, size_t n, bool *valid)
{
	struct noise_keypair *kp;
	size_t out0 = A->n_out, sent;

	kp = a_keypair();
	atomic_store(&kp->sending_counter, start);
	make4(n, "192.0.2.1", "192.0.2.2", (uint8_t)start);
	wg_device_tx_batch(wg_device_path(A->dev), iov, n);
	sent = 0;
	for (size_t i = out0; i < A->n_out; i++)
		sent += wgh_msg_type(&A->out[i]) == WG_MSG_DATA;
	ok(consecutive(out0, sent, start), "counters from %llu, consecutive",
	   (unsigned long long)start);
	for (size_t i = out0; i < A->n_out; i++)
		if (wgh_msg_type(&A->out[i]) == WG_MSG_DATA &&
		    msg_counter(&A->out[i]) >= REJECT_AFTER_MESSAGES)
			ok(0, "a nonce >= REJECT_AFTER_MESSAGES left");
	*valid = atomic_load(&kp->sending.is_valid);
	noise_keypair_put(kp, false);
	return sent;
}

static void test_limits(void)
{
	size_t at, n0;
	bool valid;

	/* a reservation across the limit: what is below it leaves, the rest waits for a rekey */
	setup(false);
	make4(1, "192.0.2.1", "192.0.2.2", 1);
	wg_device_tx(wg_device_path(A->dev), pkts[0], iov[0].iov_len);
	wgh_pump();
	wgh_run_ms(6000, 1000);
	at = B->n_delivered;
	n0 = A->sent_type[WG_MSG_HANDSHAKE_INITIATION];
	is_int(at_limit(REJECT_AFTER_MESSAGES - 3, 10, &valid), 3,
	       "across REJECT_AFTER_MESSAGES: the three nonces below it used");
	ok(!valid, "and the keypair retired for sending");
	is_int(atomic_load(&wg_device_lookup_peer(A->dev, B->pub)->staged_count), 7,
	       "the other seven staged");
	wgh_pump();
	ok(A->sent_type[WG_MSG_HANDSHAKE_INITIATION] > n0, "a handshake started");
	wgh_run_ms(6000, 500);
	ok(delivered_in_order(at, 0, 10), "all ten delivered in order, seven on the new session");

	/* a reservation ending on the limit: all of it used, the next packet finds it spent */
	setup(false);
	make4(1, "192.0.2.1", "192.0.2.2", 1);
	wg_device_tx(wg_device_path(A->dev), pkts[0], iov[0].iov_len);
	wgh_pump();
	wgh_run_ms(6000, 1000);
	is_int(at_limit(REJECT_AFTER_MESSAGES - 10, 10, &valid), 10,
	       "ending on REJECT_AFTER_MESSAGES: all ten sent");
	ok(valid, "the keypair not retired yet (as one at a time)");
	is_int(at_limit(REJECT_AFTER_MESSAGES, 5, &valid), 0, "at the limit: nothing sent");
	ok(!valid, "and now the keypair is retired");

	/* far past it (other threads' reservations): nothing, and no wrap round */
	setup(false);
	make4(1, "192.0.2.1", "192.0.2.2", 1);
	wg_device_tx(wg_device_path(A->dev), pkts[0], iov[0].iov_len);
	wgh_pump();
	wgh_run_ms(6000, 1000);
	is_int(at_limit(REJECT_AFTER_MESSAGES + 1000, TEST_MAX, &valid), 0,
	       "past the limit, a batch of 200: nothing sent");

	/* REKEY_AFTER_MESSAGES crossed inside a batch: a handshake is asked for */
	setup(false);
	make4(1, "192.0.2.1", "192.0.2.2", 1);
	wg_device_tx(wg_device_path(A->dev), pkts[0], iov[0].iov_len);
	wgh_pump();
	wgh_run_ms(6000, 1000);
	n0 = A->sent_type[WG_MSG_HANDSHAKE_INITIATION];
	at = B->n_delivered;
	is_int(at_limit(REKEY_AFTER_MESSAGES - 2, 5, &valid), 5,
	       "across REKEY_AFTER_MESSAGES: all five sent");
	ok(valid, "the keypair still valid");
	wgh_pump();
	ok(A->sent_type[WG_MSG_HANDSHAKE_INITIATION] > n0, "a rekey started");
	ok(delivered_in_order(at, 0, 5), "and b took all five");
}

/* --- the TUN side: one read, the super-packet's segments in one call --- */

static struct iovec got[400];
static uint8_t got_data[400][TUN_SEG_MAX];
static unsigned int n_got, n_calls, max_call;

static void on_batch(void *ctx, const struct iovec *segs, unsigned int n)
{
	(void)ctx;
	n_calls++;
	max_call = n > max_call ? n : max_call;
	for (unsigned int i = 0; i < n && n_got < 400; i++, n_got++) {
		memcpy(got_data[n_got], segs[i].iov_base, segs[i].iov_len);
		got[n_got] =
			(struct iovec){ .iov_base = got_data[n_got], .iov_len = segs[i].iov_len };
	}
}

static struct iovec one[400];
static uint8_t one_data[400][TUN_SEG_MAX];
static unsigned int n_one;

static void on_packet(void *ctx, uint8_t *pkt, size_t len)
{
	(void)ctx;
	if (n_one < 400) {
		memcpy(one_data[n_one], pkt, len);
		one[n_one] = (struct iovec){ .iov_base = one_data[n_one], .iov_len = len };
		n_one++;
	}
}

/* A TSO super-packet of total bytes (IPv4, TCP without options), gso_size mss, into fd. */
static void write_tso(int fd, size_t total, uint16_t mss)
{
	static uint8_t buf[sizeof(struct virtio_net_hdr) + 65535];
	struct virtio_net_hdr h = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = VIRTIO_NET_HDR_GSO_TCPV4,
		.hdr_len = 40,
		.gso_size = mss,
		.csum_start = 20,
		.csum_offset = 16,
	};
	uint8_t *p = buf + sizeof(h);

	memcpy(buf, &h, sizeof(h));
	wgh_ip4(p, "192.0.2.1", "192.0.2.2", total - 20, 0);
	p[2] = (uint8_t)(total >> 8);
	p[3] = (uint8_t)total;
	p[9] = 6;
	memset(p + 20, 0, 20);
	p[32] = 5 << 4;
	p[33] = 0x18;
	for (size_t k = 40; k < total; k++)
		p[k] = (uint8_t)(k * 13);
	if (write(fd, buf, sizeof(h) + total) != (ssize_t)(sizeof(h) + total))
		abort();
}

static void test_tun(size_t total, uint16_t mss)
{
	static uint8_t buf[TUN_GSO_BUF];
	struct tun_dev t;
	unsigned int segs = (unsigned int)((total - 40 + mss - 1) / mss);
	int sv[2];
	bool same = true;

	if (socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) < 0) {
		ok(0, "socketpair");
		return;
	}
	memset(&t, 0, sizeof(t));
	t.fds[0] = sv[0];
	t.n_queues = 1;
	t.vnet_hdr = true;
	n_got = n_calls = max_call = n_one = 0;
	write_tso(sv[1], total, mss);
	ok(tun_read_gso_batch(&t, 0, buf, sizeof(buf), on_batch, NULL) > 0, "batch read");
	write_tso(sv[1], total, mss);
	ok(tun_read_gso(&t, 0, buf, sizeof(buf), on_packet, NULL) > 0, "per-packet read");
	is_int(n_got, segs, "every segment handed over");
	is_int(n_calls, (segs + TUN_BATCH_MAX - 1) / TUN_BATCH_MAX, "in as few calls as may be");
	ok(max_call <= TUN_BATCH_MAX, "none larger than TUN_BATCH_MAX");
	for (unsigned int i = 0; i < n_got && i < n_one; i++)
		same &= got[i].iov_len == one[i].iov_len &&
			!memcmp(got_data[i], one_data[i], got[i].iov_len);
	ok(same && n_one == n_got, "the same segments as the per-packet read, byte for byte");

	t.no_batch = true;
	n_got = n_calls = max_call = 0;
	write_tso(sv[1], total, mss);
	ok(tun_read_gso_batch(&t, 0, buf, sizeof(buf), on_batch, NULL) > 0, "unbatched read");
	ok(n_got == segs && n_calls == segs && max_call == 1,
	   "XDPWG_NO_TX_BATCH: one segment per call");
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	if (crypto_init() < 0)
		return 1;
	test_batch(2);
	test_batch(45);
	test_batch(TEST_MAX); /* more than one nonce reservation */
	test_drops();
	test_staging();
	test_limits();
	test_tun(65535, 1448); /* 46 segments, one call */
	test_tun(20000, 100);  /* 200 segments: four calls */
	wgh_reset();
	return done_testing();
}
