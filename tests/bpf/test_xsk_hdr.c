// SPDX-License-Identifier: GPL-2.0
/*
 * xsk_build_udp / xsk_parse_udp: header layout, IPv4 header and UDP checksums (verified the way
 * a receiver does: the one's-complement sum over pseudo header and datagram folds to 0xffff),
 * and a build -> parse round trip. No privileges needed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "../unit/tap.h"
#include "xsk.h"

/* A receiver's check, written independently of xsk.c: 16-bit words, end-around carry. */
static uint16_t verify_sum(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	uint64_t sum = 0;
	size_t i;

	for (i = 0; i < alen; i += 2)
		sum += (uint64_t)((a[i] << 8) | (i + 1 < alen ? a[i + 1] : 0));
	for (i = 0; i < blen; i += 2)
		sum += (uint64_t)((b[i] << 8) | (i + 1 < blen ? b[i + 1] : 0));
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static void fill_params(struct xsk_udp_params *p, int family)
{
	static const uint8_t a[6] = { 0x02, 1, 2, 3, 4, 5 }, b[6] = { 0x02, 6, 7, 8, 9, 10 };

	memset(p, 0, sizeof(*p));
	memcpy(p->src_mac, a, 6);
	memcpy(p->dst_mac, b, 6);
	p->family = family;
	if (family == AF_INET) {
		inet_pton(AF_INET, "198.18.0.1", &p->src.v4);
		inet_pton(AF_INET, "203.0.113.7", &p->dst.v4);
	} else {
		inet_pton(AF_INET6, "2001:db8::1", &p->src.v6);
		inet_pton(AF_INET6, "2001:db8:ffff::7", &p->dst.v6);
	}
	p->sport = 51820;
	p->dport = 40001;
	p->ttl = 64;
}

static void check_family(int family, size_t plen)
{
	uint8_t frame[2048], pseudo[40];
	struct xsk_udp_params p, q;
	size_t hlen = xsk_udp_hdr_len(family), off = 0, len = 0, i;
	const char *fam = family == AF_INET ? "IPv4" : "IPv6";
	const uint8_t *udp;
	int n;

	fill_params(&p, family);
	for (i = 0; i < plen; i++)
		frame[hlen + i] = (uint8_t)(i * 13 + 1);
	n = xsk_build_udp(frame, sizeof(frame), &p, plen);
	is_int(n, (int)(hlen + plen), "built frame length");
	udp = frame + hlen - 8;
	is_int((udp[4] << 8) | udp[5], 8 + plen, "UDP length field");
	ok(udp[6] || udp[7], "%s UDP checksum present (%zu-byte payload)", fam, plen);
	memset(pseudo, 0, sizeof(pseudo));
	if (family == AF_INET) {
		is_int(frame[12] << 8 | frame[13], 0x0800, "EtherType IPv4");
		is_int(verify_sum(frame + 14, 20, NULL, 0), 0xffff,
		       "IPv4 header checksum verifies");
		memcpy(pseudo, frame + 14 + 12, 8);
		pseudo[9] = 17;
		pseudo[10] = (uint8_t)((8 + plen) >> 8);
		pseudo[11] = (uint8_t)(8 + plen);
		is_int(verify_sum(pseudo, 12, udp, 8 + plen), 0xffff, "IPv4 UDP checksum verifies");
	} else {
		is_int(frame[12] << 8 | frame[13], 0x86dd, "EtherType IPv6");
		memcpy(pseudo, frame + 14 + 8, 32);
		pseudo[34] = (uint8_t)((8 + plen) >> 8);
		pseudo[35] = (uint8_t)(8 + plen);
		pseudo[39] = 17;
		is_int(verify_sum(pseudo, 40, udp, 8 + plen), 0xffff, "IPv6 UDP checksum verifies");
	}
	is_int(xsk_parse_udp(frame, (size_t)n, &q, &off, &len), 0, "parses back");
	ok(off == hlen && len == plen && q.family == family && q.sport == p.sport &&
		   q.dport == p.dport && !memcmp(&q.src, &p.src, sizeof(p.src)) &&
		   !memcmp(&q.dst, &p.dst, sizeof(p.dst)) && !memcmp(q.src_mac, p.src_mac, 6) &&
		   !memcmp(q.dst_mac, p.dst_mac, 6),
	   "%s round trip", fam);
}

/* A built IPv6 frame with n 8-byte extension headers of type t inserted after the IPv6
 * header (what XDP redirects since #15): the worker must find the same payload. */
static int parse_with_ext(int n, uint8_t t, uint16_t frag_off, size_t *off, size_t *len)
{
	static uint8_t frame[2048], out[2048];
	struct xsk_udp_params p, q;
	size_t ext = 8 * (size_t)n, plen = 40;
	int fl, i;

	fill_params(&p, AF_INET6);
	memset(frame, 0x5a, sizeof(frame));
	fl = xsk_build_udp(frame, sizeof(frame), &p, plen);
	if (fl < 0)
		return fl;
	memcpy(out, frame, 14 + 40);
	memcpy(out + 14 + 40 + ext, frame + 14 + 40, (size_t)fl - 14 - 40);
	for (i = 0; i < n; i++) {
		uint8_t *h = out + 14 + 40 + 8 * i;

		memset(h, 0, 8);
		h[0] = i + 1 < n ? t : IPPROTO_UDP;
		if (t == IPPROTO_FRAGMENT) {
			h[2] = (uint8_t)(frag_off >> 8);
			h[3] = (uint8_t)frag_off;
		} else {
			h[2] = 1; /* PadN */
			h[3] = 4;
		}
	}
	out[14 + 6] = t;
	out[14 + 4] = (uint8_t)((8 + plen + ext) >> 8);
	out[14 + 5] = (uint8_t)(8 + plen + ext);
	return xsk_parse_udp(out, (size_t)fl + ext, &q, off, len);
}

static void check_ext(void)
{
	size_t off = 0, len = 0;

	is_int(parse_with_ext(1, IPPROTO_DSTOPTS, 0, &off, &len), 0,
	       "IPv6 + destination options parses");
	ok(off == 14 + 40 + 8 + 8 && len == 40, "  payload after the extension header (%zu, %zu)",
	   off, len);
	is_int(parse_with_ext(6, IPPROTO_HOPOPTS, 0, &off, &len), 0, "six headers parse");
	is_int(off, 14 + 40 + 48 + 8, "  payload after six");
	is_int(parse_with_ext(7, IPPROTO_DSTOPTS, 0, &off, &len), -EINVAL, "seven refused");
	is_int(parse_with_ext(1, IPPROTO_FRAGMENT, 0, &off, &len), 0, "atomic fragment parses");
	is_int(parse_with_ext(1, IPPROTO_FRAGMENT, 1, &off, &len), -EINVAL,
	       "first fragment refused (the kernel reassembles)");
	is_int(parse_with_ext(1, IPPROTO_FRAGMENT, 8, &off, &len), -EINVAL,
	       "later fragment refused");
	is_int(parse_with_ext(1, 50, 0, &off, &len), -EINVAL, "ESP refused");
}

int main(void)
{
	struct xsk_udp_params p;
	uint8_t frame[128];
	size_t off, len;

	check_family(AF_INET, 32);
	check_family(AF_INET, 33);
	check_family(AF_INET, 1440);
	check_family(AF_INET6, 32);
	check_family(AF_INET6, 147);
	check_family(AF_INET6, 1424);

	fill_params(&p, AF_INET);
	is_int(xsk_build_udp(frame, sizeof(frame), &p, 100), -EMSGSIZE, "too big for the frame");
	p.family = 99;
	is_int(xsk_build_udp(frame, sizeof(frame), &p, 10), -EINVAL, "unknown family");
	fill_params(&p, AF_INET);
	xsk_build_udp(frame, sizeof(frame), &p, 40);
	is_int(xsk_parse_udp(frame, 14 + 20 + 8 + 39, &p, &off, &len), -EINVAL,
	       "truncated frame refused");
	frame[12] = 0x08;
	frame[13] = 0x06;
	is_int(xsk_parse_udp(frame, 82, &p, &off, &len), -EINVAL, "ARP refused");
	check_ext();
	return done_testing();
}
