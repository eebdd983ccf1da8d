/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Hardening at the edge: the checks that cost an attacker something before userspace spends
 * anything on a datagram to the listen port. Whether the destination is ours at all
 * (local_addrs), the source allowlist (allow_src LPM trie), the per-source token buckets for
 * handshake messages (hs_buckets) and for first fragments (frag_buckets), and mac1 of
 * initiations and responses (keyed BLAKE2s-128, blake2s.bpf.h). Kept apart from parsing and delivery because each piece
 * has its own map, its own tunables and its own cross-check in tests/bpf/test_xdp_harden.c;
 * the order they run in is the program's business (bpf/xdpwg.bpf.c).
 */
#ifndef XDPWG_HARDEN_BPF_H
#define XDPWG_HARDEN_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "xdpwg_kern_user.h"
#include "xdpwg_wire.h"

#include "blake2s.bpf.h"
#include "maps.bpf.h"
#include "parse.bpf.h"

/* BLAKE2s state: per CPU (XDP runs with migration off), off the 512-byte stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpwg_b2s);
} b2s_scratch SEC(".maps");

/* Source allowed by the trie in force (cflags: the config's flags)? */
static __always_inline int source_allowed(const struct pkt_info *pi, __u16 cflags)
{
	struct xdpwg_src_key k = {};

	k.family = pi->src.family;
	if (pi->src.family == XDPWG_FAMILY_INET) {
		k.prefixlen = 32 + 32;
		__builtin_memcpy(k.addr, &pi->src.addr.v4, 4);
	} else {
		k.prefixlen = 32 + 128;
		__builtin_memcpy(k.addr, pi->src.addr.v6, 16);
	}
	if (cflags & XDPWG_CFG_F_ALLOW_SRC_B)
		return bpf_map_lookup_elem(&allow_src_b, &k) != NULL;
	return bpf_map_lookup_elem(&allow_src, &k) != NULL;
}

/* A source's token bucket in map (hs_buckets or frag_buckets) at rate per second and burst
 * deep: 1 when a message may pass. consume 0 only looks (a source already over its limit), 1
 * takes a token (creating a full bucket for a new source). Racy between CPUs (plain
 * read-modify-write): at worst a token or two too many pass. */
static __always_inline int bucket_take(void *map, __u32 rate, __u32 burst,
				       const struct pkt_info *pi, __u64 now, int consume)
{
	struct xdpwg_bucket_key k = {};
	struct xdpwg_bucket *b, nb;
	__u64 cost, max, tokens;

	if (!rate)
		return 1;
	cost = 1000000000ULL / rate;
	max = cost * (burst ? burst : 1);
	k.family = pi->src.family;
	if (pi->src.family == XDPWG_FAMILY_INET)
		__builtin_memcpy(k.addr, &pi->src.addr.v4, 4);
	else
		__builtin_memcpy(k.addr, pi->src.addr.v6, 8); /* the /64 */
	b = bpf_map_lookup_elem(map, &k);
	if (!b) {
		if (!consume)
			return 1;
		nb.tokens = max - cost;
		nb.last_ns = now;
		bpf_map_update_elem(map, &k, &nb, BPF_ANY);
		return 1;
	}
	tokens = b->tokens + (now > b->last_ns ? now - b->last_ns : 0);
	if (tokens > max)
		tokens = max;
	if (!consume)
		return tokens >= cost;
	b->last_ns = now;
	if (tokens < cost) {
		b->tokens = tokens;
		return 0;
	}
	b->tokens = tokens - cost;
	return 1;
}

/* The source's handshake bucket (types 1, 2, 3). */
static __always_inline int bucket_allow(const struct pkt_info *pi, __u64 now, int consume)
{
	return bucket_take(&hs_buckets, hs_rate, hs_burst, pi, now, consume);
}

/* The source's fragment budget: first fragments to our port skip every UDP-payload check
 * (the kernel reassembles them and hands them to the socket path), so they get a per-source
 * rate of their own instead. */
static __always_inline int frag_allow(const struct pkt_info *pi, __u64 now)
{
	return bucket_take(&frag_buckets, frag_rate, frag_burst, pi, now, 1);
}

/* Is the outer destination one of ours? Without XDPWG_CFG_F_LOCAL_ADDRS every address is (the
 * behaviour before local_addrs existed); with it, only what the daemon put into local_addrs, so
 * that a gateway in front of other WireGuard hosts leaves their traffic alone. */
static __always_inline int dest_is_local(__u32 cflags, const struct pkt_info *pi)
{
	struct xdpwg_addr_key k = {};

	if (!(cflags & XDPWG_CFG_F_LOCAL_ADDRS))
		return 1;
	k.family = pi->src.family;
	if (pi->src.family == XDPWG_FAMILY_INET)
		__builtin_memcpy(k.addr, &pi->dst.v4, 4);
	else
		__builtin_memcpy(k.addr, pi->dst.v6, 16);
	return bpf_map_lookup_elem(&local_addrs, &k) != NULL;
}

/* Copy nwords little-endian words of the packet at p into the block, zero-padding to 16. */
#define B2S_LOAD(s, p, first, nwords)                                                              \
	do {                                                                                       \
		int _i;                                                                            \
		_Pragma("unroll") for (_i = 0; _i < 16; _i++)(s)->m[_i] =                          \
			_i < (nwords) ? ((const __u32 *)(p))[(first) + _i] : 0;                    \
	} while (0)

/* mac1 = keyed BLAKE2s-128(mac1_key, the message up to mac1) for an initiation (116 bytes) or
 * a response (60 bytes). The caller checked the message's full size against data_end.
 * 1: valid, 0: invalid, -1: could not compute (no scratch; let userspace decide). */
static __always_inline int mac1_valid(const struct xdpwg_config *cfg, const void *msg,
				      const void *data_end, __u32 type)
{
	const __u32 *mac;
	struct xdpwg_b2s *s;
	__u32 key0 = 0;
	__u32 diff;

	s = bpf_map_lookup_elem(&b2s_scratch, &key0);
	if (!s)
		return -1;
	xdpwg_b2s_init_keyed(s, (const __u32 *)cfg->mac1_key, WG_MAC_LEN);
	if (type == WG_MSG_HANDSHAKE_INITIATION) {
		if (msg + WG_MSG_INITIATION_LEN > data_end)
			return 0;
		B2S_LOAD(s, msg, 0, 16);
		s->t = 128;
		xdpwg_b2s_compress(s);
		B2S_LOAD(s, msg, 16, 13); /* bytes 64..115 */
		s->t = 64 + 116;
		s->last = 1;
		xdpwg_b2s_compress(s);
		mac = msg + 116;
	} else {
		if (msg + WG_MSG_RESPONSE_LEN > data_end)
			return 0;
		B2S_LOAD(s, msg, 0, 15); /* bytes 0..59 */
		s->t = 64 + 60;
		s->last = 1;
		xdpwg_b2s_compress(s);
		mac = msg + 60;
	}
	diff = (s->h[0] ^ mac[0]) | (s->h[1] ^ mac[1]) | (s->h[2] ^ mac[2]) | (s->h[3] ^ mac[3]);
	return diff == 0;
}

#endif
