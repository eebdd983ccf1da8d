/* SPDX-License-Identifier: GPL-2.0 */
/*
 * BLAKE2s (RFC 7693) for the XDP program: BPF cannot call a library, so the compression function
 * is written out here. It is a global (non-static, noinline) BPF function: the verifier checks it
 * once, on its own, instead of once per call site and per path that reaches it (kernel 5.12+:
 * a pointer argument to a sized struct). The ten rounds are unrolled by macro, so the message
 * schedule (sigma) is constant offsets and there is no loop for the verifier to bound.
 *
 * The caller keeps the state in a struct xdpwg_b2s (a per-CPU scratch map value: the BPF stack
 * is 512 bytes for the whole call chain), sets m, t and last, and calls xdpwg_b2s_compress once
 * per 64-byte block. Keyed hashing (the caller's job, see xdpwg_b2s_init_keyed): h[0] carries
 * the parameter block word 0x0101kknn (key length kk, digest length nn); the key, zero-padded to
 * 64 bytes, is the first block; the final block is zero-padded, t counts the real bytes.
 *
 * Include from exactly one BPF translation unit: it defines the global function.
 */
#ifndef XDPWG_BLAKE2S_BPF_H
#define XDPWG_BLAKE2S_BPF_H

#include <linux/types.h>
#include <bpf/bpf_helpers.h>

#define B2S_IV0 0x6A09E667u
#define B2S_IV1 0xBB67AE85u
#define B2S_IV2 0x3C6EF372u
#define B2S_IV3 0xA54FF53Au
#define B2S_IV4 0x510E527Fu
#define B2S_IV5 0x9B05688Cu
#define B2S_IV6 0x1F83D9ABu
#define B2S_IV7 0x5BE0CD19u

struct xdpwg_b2s {
	__u32 h[8];  /* chaining value */
	__u32 m[16]; /* the block to compress, little-endian words */
	__u32 t;     /* bytes hashed so far including this block (messages < 4 GiB: t1 = 0) */
	__u32 last;  /* non-zero on the final block */
};

#define B2S_ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

#define B2S_G(a, b, c, d, x, y)                                                                    \
	do {                                                                                       \
		a = a + b + s->m[x];                                                               \
		d = B2S_ROR(d ^ a, 16);                                                            \
		c = c + d;                                                                         \
		b = B2S_ROR(b ^ c, 12);                                                            \
		a = a + b + s->m[y];                                                               \
		d = B2S_ROR(d ^ a, 8);                                                             \
		c = c + d;                                                                         \
		b = B2S_ROR(b ^ c, 7);                                                             \
	} while (0)

#define B2S_ROUND(s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15)            \
	do {                                                                                       \
		B2S_G(v0, v4, v8, v12, s0, s1);                                                    \
		B2S_G(v1, v5, v9, v13, s2, s3);                                                    \
		B2S_G(v2, v6, v10, v14, s4, s5);                                                   \
		B2S_G(v3, v7, v11, v15, s6, s7);                                                   \
		B2S_G(v0, v5, v10, v15, s8, s9);                                                   \
		B2S_G(v1, v6, v11, v12, s10, s11);                                                 \
		B2S_G(v2, v7, v8, v13, s12, s13);                                                  \
		B2S_G(v3, v4, v9, v14, s14, s15);                                                  \
	} while (0)

__noinline int xdpwg_b2s_compress(struct xdpwg_b2s *s)
{
	__u32 v0, v1, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13, v14, v15;

	if (!s)
		return -1;
	v0 = s->h[0];
	v1 = s->h[1];
	v2 = s->h[2];
	v3 = s->h[3];
	v4 = s->h[4];
	v5 = s->h[5];
	v6 = s->h[6];
	v7 = s->h[7];
	v8 = B2S_IV0;
	v9 = B2S_IV1;
	v10 = B2S_IV2;
	v11 = B2S_IV3;
	v12 = B2S_IV4 ^ s->t;
	v13 = B2S_IV5; /* ^ t1 = 0 */
	v14 = B2S_IV6 ^ (s->last ? 0xFFFFFFFFu : 0);
	v15 = B2S_IV7;

	B2S_ROUND(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	B2S_ROUND(14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3);
	B2S_ROUND(11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4);
	B2S_ROUND(7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8);
	B2S_ROUND(9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13);
	B2S_ROUND(2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9);
	B2S_ROUND(12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11);
	B2S_ROUND(13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10);
	B2S_ROUND(6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5);
	B2S_ROUND(10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0);

	s->h[0] ^= v0 ^ v8;
	s->h[1] ^= v1 ^ v9;
	s->h[2] ^= v2 ^ v10;
	s->h[3] ^= v3 ^ v11;
	s->h[4] ^= v4 ^ v12;
	s->h[5] ^= v5 ^ v13;
	s->h[6] ^= v6 ^ v14;
	s->h[7] ^= v7 ^ v15;
	return 0;
}

/* Keyed BLAKE2s with a 32-byte key and an outlen-byte digest, for a non-empty message: the key
 * block is compressed here (t = 64, not last). key: 8 little-endian words. */
static __always_inline void xdpwg_b2s_init_keyed(struct xdpwg_b2s *s, const __u32 key[8],
						 __u32 outlen)
{
	int i;

	s->h[0] = B2S_IV0 ^ 0x01010000u ^ (32u << 8) ^ outlen;
	s->h[1] = B2S_IV1;
	s->h[2] = B2S_IV2;
	s->h[3] = B2S_IV3;
	s->h[4] = B2S_IV4;
	s->h[5] = B2S_IV5;
	s->h[6] = B2S_IV6;
	s->h[7] = B2S_IV7;
#pragma unroll
	for (i = 0; i < 8; i++) {
		s->m[i] = key[i];
		s->m[i + 8] = 0;
	}
	s->t = 64;
	s->last = 0;
	xdpwg_b2s_compress(s);
}

#endif
