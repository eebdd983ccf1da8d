/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The Internet checksum (RFC 1071) for the headers xdpwg builds (AF_XDP frames) and the TCP
 * segments it cuts or joins (TUN offloads). Sums are in native byte order; the folded value,
 * stored through memcpy, is in network order.
 */
#ifndef XDPWG_CSUM_H
#define XDPWG_CSUM_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Internet checksum in native byte order: 32-bit words into a 64-bit accumulator (no carry is
 * lost below 2^32 words), folded at the end. Stored through memcpy the folded value is in
 * network order. Per packet this runs over the whole datagram: a 16-bit loop cost ~7% of a
 * worker on gw->client TCP. Pieces summed one after another must start at even offsets. */
static inline uint64_t csum_add(uint64_t sum, const uint8_t *b, size_t len)
{
	uint64_t w;
	uint32_t v;

	for (; len >= 8; b += 8, len -= 8) {
		memcpy(&w, b, 8);
		sum += (w & 0xffffffffu) + (w >> 32);
	}
	if (len >= 4) {
		memcpy(&v, b, 4);
		sum += v;
		b += 4;
		len -= 4;
	}
	if (len >= 2) {
		uint16_t h;

		memcpy(&h, b, 2);
		sum += h;
		b += 2;
		len -= 2;
	}
	if (len) {
		uint16_t h = 0;

		memcpy(&h, b, 1);
		sum += h;
	}
	return sum;
}

/* The 16-bit one's complement sum, not inverted: a checksum field wants ~csum_fold(sum). */
static inline uint16_t csum_fold(uint64_t sum)
{
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffffffffu) + (sum >> 32);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

#endif
