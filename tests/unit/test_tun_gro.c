// SPDX-License-Identifier: GPL-2.0
/*
 * Coalescing decrypted TCP segments into one TUN write (tun_gro_*): which segments join and
 * which do not, the virtio header and partial checksum of the result, and the round trip: the
 * super-packet cut again as TSO would cut it (tun_tso_split) gives back the original segments
 * byte for byte, checksums included.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "tun.h"

enum {
	TEST_MSS = 1368, /* 1420 MTU - 20 IPv4 - 32 TCP with timestamps */
	TEST_SEGS = 49,	 /* more than fit in 64 KB */
	TEST_TCP_HL = 32,
};

static uint8_t segs[TEST_SEGS][1500];
static size_t seg_len[TEST_SEGS];
static unsigned int n_cut;
static int cut_ok;

static uint32_t sum16(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

/* The TCP checksum of a whole packet (v4 or v6), as it should be on the wire. */
static uint16_t tcp_csum(const uint8_t *pkt, size_t len, size_t l3, const uint8_t *tcp_field)
{
	uint8_t tmp[70000];
	uint32_t sum;

	memcpy(tmp, pkt, len);
	memcpy(tmp + (tcp_field - pkt), "\0\0", 2);
	sum = l3 == 40 ? sum16(0, tmp + 8, 32) : sum16(0, tmp + 12, 8);
	sum += 6 + (uint32_t)(len - l3);
	return (uint16_t)~fold(sum16(sum, tmp + l3, len - l3));
}

/* Segment i of a flow: seq 1000 + i * MSS, IPv4 ID 100 + i, PSH on the last (i == last). */
static size_t make_seg(uint8_t *p, unsigned int i, size_t payload, bool v6, bool psh)
{
	size_t l3 = v6 ? 40 : 20, len = l3 + TEST_TCP_HL + payload;
	uint8_t *t = p + l3;
	uint32_t seq = htonl(1000 + i * TEST_MSS), ack = htonl(777);
	uint16_t v, c;

	memset(p, 0, len);
	if (v6) {
		p[0] = 0x60;
		v = htons((uint16_t)(len - 40));
		memcpy(p + 4, &v, 2);
		p[6] = 6;
		p[7] = 64;
		p[8] = 0x20, p[9] = 0x01, p[10] = 0x0d, p[11] = 0xb8, p[23] = 2;
		p[24] = 0x20, p[25] = 0x01, p[26] = 0x0d, p[27] = 0xb8, p[39] = 1;
	} else {
		p[0] = 0x45;
		v = htons((uint16_t)len);
		memcpy(p + 2, &v, 2);
		v = htons((uint16_t)(100 + i));
		memcpy(p + 4, &v, 2);
		p[6] = 0x40; /* DF */
		p[8] = 64;
		p[9] = 6;
		p[12] = 192, p[13] = 0, p[14] = 2, p[15] = 2;
		p[16] = 192, p[17] = 0, p[18] = 2, p[19] = 1;
		c = htons((uint16_t)~fold(sum16(0, p, 20)));
		memcpy(p + 10, &c, 2);
	}
	t[0] = 0x9c, t[1] = 0x40, t[2] = 0x14, t[3] = 0x51;
	memcpy(t + 4, &seq, 4);
	memcpy(t + 8, &ack, 4);
	t[12] = (TEST_TCP_HL / 4) << 4;
	t[13] = 0x10 | (psh ? 0x08 : 0);
	t[14] = 0x01, t[15] = 0xf5;
	t[20] = 1, t[21] = 1, t[22] = 8, t[23] = 10; /* NOP NOP timestamps */
	t[24] = 0x11, t[28] = 0x22;
	for (size_t k = 0; k < payload; k++)
		t[TEST_TCP_HL + k] = (uint8_t)(i * 7 + k);
	c = htons(tcp_csum(p, len, l3, t + 16));
	memcpy(t + 16, &c, 2);
	return len;
}

static void check_cut(void *ctx, uint8_t *pkt, size_t len)
{
	(void)ctx;
	if (n_cut >= TEST_SEGS || len != seg_len[n_cut] || memcmp(pkt, segs[n_cut], len)) {
		if (cut_ok)
			tap_diag("segment %u differs after the round trip (len %zu vs %zu)", n_cut,
				 len, n_cut < TEST_SEGS ? seg_len[n_cut] : 0);
		cut_ok = 0;
	}
	n_cut++;
}

static void round_trip(bool v6)
{
	static struct tun_gro g;
	static uint8_t out[2048];
	const char *fam = v6 ? "IPv6" : "IPv4";
	size_t l3 = v6 ? 40 : 20, full;
	struct virtio_net_hdr h;
	unsigned int joined = 0, last;
	uint16_t want, got;

	/* as many full segments as fit, the last one shorter and with PSH */
	last = (unsigned int)((TUN_GRO_MAX - l3 - TEST_TCP_HL) / TEST_MSS) - 1;
	for (unsigned int i = 0; i <= last; i++)
		seg_len[i] = make_seg(segs[i], i, i == last ? 100 : TEST_MSS, v6, i == last);
	memset(&g, 0, sizeof(g));
	for (unsigned int i = 0; i <= last; i++)
		joined += tun_gro_add(&g, segs[i], seg_len[i]);
	is_int(joined, last + 1, "every segment of the flow joins");
	is_int(g.segs, last + 1, "segment count");
	full = l3 + TEST_TCP_HL + (size_t)last * TEST_MSS + 100;
	is_int(g.len, full, "super-packet length");
	seg_len[last + 1] = make_seg(segs[last + 1], last + 1, TEST_MSS, v6, false);
	ok(!tun_gro_add(&g, segs[last + 1], seg_len[last + 1]), "%s: nothing joins after PSH", fam);

	tun_gro_finish(&g, &h);
	is_int(h.gso_type, v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4, "gso type");
	is_int(h.gso_size, TEST_MSS, "gso size is the first segment's payload");
	is_int(h.hdr_len, l3 + TEST_TCP_HL, "header length");
	is_int(h.csum_start, l3, "checksum starts at TCP");
	is_int(h.csum_offset, 16, "checksum offset");
	ok(h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM, "%s: partial checksum for the stack", fam);
	ok(g.buf[l3 + 13] & 0x08, "%s: PSH of the last segment kept", fam);
	if (!v6)
		is_int(fold(sum16(0, g.buf, 20)), 0xffff, "IPv4 header checksum of the whole");
	/* the stack completes the partial sum over csum_start..end: it must come out right */
	want = tcp_csum(g.buf, g.len, l3, g.buf + l3 + 16);
	got = (uint16_t)~fold(sum16(0, g.buf + l3, g.len - l3));
	ok(got == want, "%s: partial checksum completes to the real one (%04x)", fam, want);

	n_cut = 0;
	cut_ok = 1;
	ok(tun_tso_split(&h, g.buf, g.len, out, sizeof(out), check_cut, NULL), "%s: cut again",
	   fam);
	ok(cut_ok && n_cut == last + 1, "%s: round trip gives the %u segments back", fam, last + 1);
}

static void refusals(void)
{
	static struct tun_gro g;
	uint8_t a[1500], b[1500];
	size_t la, lb;

	la = make_seg(a, 0, TEST_MSS, false, false);
	lb = make_seg(b, 2, TEST_MSS, false, false);
	memset(&g, 0, sizeof(g));
	ok(tun_gro_add(&g, a, la), "the first segment starts a super-packet");
	ok(!tun_gro_add(&g, b, lb), "a sequence gap does not join");

	lb = make_seg(b, 1, TEST_MSS, false, false);
	b[21] ^= 1; /* another source port */
	ok(!tun_gro_add(&g, b, lb), "another flow does not join");

	lb = make_seg(b, 1, TEST_MSS, false, false);
	b[5] ^= 3; /* IPv4 ID not counting up */
	ok(!tun_gro_add(&g, b, lb), "a jumping IPv4 ID does not join");

	lb = make_seg(b, 1, TEST_MSS, false, false);
	b[20 + 28] ^= 1; /* another timestamp */
	ok(!tun_gro_add(&g, b, lb), "other TCP options do not join");

	lb = make_seg(b, 1, TEST_MSS, false, false);
	b[20 + 13] |= 0x01; /* FIN */
	ok(!tun_gro_add(&g, b, lb), "FIN does not join");

	lb = make_seg(b, 1, TEST_MSS + 1, false, false);
	ok(!tun_gro_add(&g, b, lb), "a segment longer than the first does not join");

	lb = make_seg(b, 1, 10, false, false);
	ok(tun_gro_add(&g, b, lb), "a shorter segment joins");
	lb = make_seg(b, 2, 10, false, false);
	ok(!tun_gro_add(&g, b, lb), "... and ends the super-packet");

	memset(&g, 0, sizeof(g));
	la = make_seg(a, 0, 0, false, false);
	ok(!tun_gro_add(&g, a, la), "a pure ACK is not joined");
	la = make_seg(a, 0, TEST_MSS, false, false);
	a[20 + 13] = 0x02; /* SYN */
	ok(!tun_gro_add(&g, a, la), "a SYN is not joined");
	la = make_seg(a, 0, TEST_MSS, false, false);
	a[9] = 17;
	ok(!tun_gro_add(&g, a, la), "UDP is not joined");
	la = make_seg(a, 0, TEST_MSS, false, false);
	ok(!tun_gro_add(&g, a, la - 1), "a length that disagrees with the IP header is refused");

	memset(&g, 0, sizeof(g));
	la = make_seg(a, 0, TEST_MSS, false, false);
	ok(tun_gro_add(&g, a, la), "one segment alone");
	{
		struct virtio_net_hdr h;
		uint8_t copy[1500];

		memcpy(copy, a, la);
		tun_gro_finish(&g, &h);
		ok(h.gso_type == VIRTIO_NET_HDR_GSO_NONE && (h.flags & VIRTIO_NET_HDR_F_DATA_VALID),
		   "one segment goes out as it came, no GSO");
		is_mem(g.buf, copy, la, "... unchanged");
	}
}

int main(void)
{
	round_trip(false);
	round_trip(true);
	refusals();
	return done_testing();
}
