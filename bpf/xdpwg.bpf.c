// SPDX-License-Identifier: GPL-2.0
/*
 * xdpwg's XDP program, one per uplink. It parses Ethernet (with up to two VLAN tags), IPv4 (with
 * options) or IPv6 (without extension headers) and UDP through a cursor. UDP to the listen port
 * (config map) is checked for a WireGuard message type and its exact size; malformed messages and
 * data for unknown receiver indexes are dropped and counted; the rest gets a struct xdpwg_meta in
 * front and goes into the AF_XDP socket of its receive queue (xsks), or, when no socket is bound
 * there, up the stack to the kernel socket. Everything else passes untouched.
 *
 * For data messages it also records per-peer last-seen and receive counters in the peers map and,
 * when the outer source differs from the peer's endpoint, flags the metadata and emits a
 * rate-limited ring-buffer event: roaming wants the time the first packet from a new source
 * reached XDP.
 *
 * Hardening at the edge, in this order for every datagram to the listen port:
 *  1. source allowlist (allow_src LPM trie, when config says it is authoritative);
 *  2. exact sizes and types (above);
 *  3. mac1 of initiations and responses, keyed BLAKE2s-128 with HASH("mac1----" || our public
 *     key) from config (blake2s.bpf.h); no key set: no check;
 *  4. a per-source token bucket (hs_buckets, IPv4 /32, IPv6 /64) for handshake messages (types
 *     1, 2, 3) only, never data: the kernel's 20 per second with a burst of 5 by default. Junk
 *     with a bad mac1 spends no tokens, so it cannot starve a source's legitimate handshakes.
 * Under load (a flag userspace sets from its handshake queue depth) a source already over its
 * bucket is dropped before the BLAKE2s work, and valid initiations still go to userspace, which
 * answers with a cookie reply instead of doing DH. The cookie reply itself stays in userspace on
 * purpose: it needs the cookie secret (rotated every two minutes) and XChaCha20-Poly1305, and no
 * secret may enter a BPF map (maps are readable by anyone with CAP_BPF, and pinned); nor is a
 * 24-round XChaCha20 plus Poly1305 something to hand-write for the verifier. XDP's part is to
 * make sure only well-formed, mac1-valid, rate-bounded initiations ever reach that queue.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "xdpwg_kern_user.h"
#include "xdpwg_wire.h"

#include "blake2s.bpf.h"

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif
#define IP_MF	  0x2000
#define IP_OFFSET 0x1FFF
#define VLAN_MAX  2

/* Tunables, set by the loader before load. */
const volatile __u64 event_interval_ns = 100000000ULL; /* per-peer new-source event spacing */
const volatile __u8 handshakes_to_xsk = 1; /* 0: valid handshake messages go to the stack */
const volatile __u32 hs_rate = XDPWG_HS_RATE_DEFAULT; /* handshake messages/s per source; 0: off */
const volatile __u32 hs_burst = XDPWG_HS_BURST_DEFAULT; /* bucket depth in messages */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpwg_config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XDPWG_DEFAULT_MAX_SESSIONS);
	__type(key, __u32);
	__type(value, struct xdpwg_session);
} sessions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XDPWG_DEFAULT_MAX_PEERS);
	__type(key, __u32);
	__type(value, struct xdpwg_peer);
} peers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDPWG_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct xdpwg_iface);
} ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPWG_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XDPWG_EVENTS_BYTES);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, XDPWG_XSKS_MAX);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

/* Source allowlist: see struct xdpwg_src_key. Used only with XDPWG_CFG_F_ALLOW_SRC. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XDPWG_ALLOW_SRC_MAX);
	__type(key, struct xdpwg_src_key);
	__type(value, __u32);
} allow_src SEC(".maps");

/* Per-source handshake token buckets; LRU: a flood of sources evicts the oldest buckets, which
 * then start full again (the same trade the kernel's table makes when it is full). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XDPWG_HS_BUCKETS);
	__type(key, struct xdpwg_bucket_key);
	__type(value, struct xdpwg_bucket);
} hs_buckets SEC(".maps");

/* xdpwgctl capture: see struct xdpwg_capture. Written only while XDPWG_CFG_F_CAPTURE is set. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XDPWG_CAPTURE_BYTES);
} capture SEC(".maps");

/* BLAKE2s state: per CPU (XDP runs with migration off), off the 512-byte stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpwg_b2s);
} b2s_scratch SEC(".maps");

struct hdr_cursor {
	void *pos;
};

struct vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

/* What the parse found out about a UDP datagram to the listen port. */
struct pkt_info {
	struct xdpwg_endpoint src;
	__u16 payload_off;
	__u16 payload_len;
	__u16 meta_flags;
};

static __always_inline void count(__u32 reason)
{
	__u64 *v = bpf_map_lookup_elem(&stats, &reason);

	if (v)
		*v += 1;
}

static __always_inline int verdict(__u32 reason, int action)
{
	count(reason);
	return action;
}

/* Mirror the frame's first bytes and its verdict into the capture ring buffer. A subprogram of
 * its own: verified once, and the data path pays only the caller's flag test when it is off. */
static __noinline int capture_frame(struct xdp_md *ctx, __u32 reason, __u32 action)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct xdpwg_capture *rec;
	/* 64 bits: the size check and the helper call see the same register */
	__u64 len = data_end - data, caplen;

	rec = bpf_ringbuf_reserve(&capture, sizeof(*rec), 0);
	if (!rec) {
		count(XDPWG_STAT_CAPTURE_LOST);
		return 0;
	}
	/* min(len, SNAPLEN) written as (masked value) + 1, so that even the 6.1 verifier, which
	 * narrows no range on "!= 0", sees caplen within [1, SNAPLEN] (SNAPLEN a power of two) */
	_Static_assert((XDPWG_CAPTURE_SNAPLEN & (XDPWG_CAPTURE_SNAPLEN - 1)) == 0,
		       "capture snap length must be a power of two");
	caplen = len > XDPWG_CAPTURE_SNAPLEN ? XDPWG_CAPTURE_SNAPLEN : len;
	if (!caplen) {
		bpf_ringbuf_discard(rec, 0);
		count(XDPWG_STAT_CAPTURE_LOST);
		return 0;
	}
	caplen = ((caplen - 1) & (XDPWG_CAPTURE_SNAPLEN - 1)) + 1;
	if (bpf_xdp_load_bytes(ctx, 0, rec->data, caplen) < 0) {
		bpf_ringbuf_discard(rec, 0);
		count(XDPWG_STAT_CAPTURE_LOST);
		return 0;
	}
	rec->ts_ns = bpf_ktime_get_ns();
	rec->ifindex = ctx->ingress_ifindex;
	rec->rx_queue = ctx->rx_queue_index;
	rec->len = len;
	rec->caplen = caplen;
	rec->action = action;
	rec->reason = reason;
	bpf_ringbuf_submit(rec, 0);
	return 0;
}

/* verdict() for datagrams to the listen port: mirrored when capture is on. */
static __always_inline int wg_verdict(struct xdp_md *ctx, __u32 cflags, __u32 reason, int action)
{
	count(reason);
	if (cflags & XDPWG_CFG_F_CAPTURE)
		capture_frame(ctx, reason, action);
	return action;
}

/* Ethernet plus up to VLAN_MAX 802.1Q/802.1ad tags; returns the inner EtherType (network order)
 * or 0 when the frame is too short. */
static __always_inline __be16 parse_eth(struct hdr_cursor *c, void *data_end, __u16 *flags)
{
	struct ethhdr *eth = c->pos;
	__be16 proto;
	int i;

	if ((void *)(eth + 1) > data_end)
		return 0;
	c->pos = eth + 1;
	proto = eth->h_proto;
#pragma unroll
	for (i = 0; i < VLAN_MAX; i++) {
		struct vlan_hdr *vh = c->pos;

		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if ((void *)(vh + 1) > data_end)
			return 0;
		proto = vh->encap_proto;
		c->pos = vh + 1;
		*flags |= XDPWG_META_F_VLAN;
	}
	return proto;
}

/* Returns the stat reason to pass with, or XDPWG_STAT_MAX when c now points at a UDP header
 * whose datagram may extend up to *ip_payload_len bytes. */
static __always_inline __u32 parse_ipv4(struct hdr_cursor *c, void *data_end, struct pkt_info *pi,
					__u32 *ip_payload_len)
{
	struct iphdr *iph = c->pos;
	__u32 hlen, tot;

	if ((void *)(iph + 1) > data_end)
		return XDPWG_STAT_PASS_OTHER;
	if (iph->version != 4 || iph->ihl < 5)
		return XDPWG_STAT_PASS_OTHER;
	if (iph->protocol != IPPROTO_UDP)
		return XDPWG_STAT_PASS_OTHER;
	if (iph->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return XDPWG_STAT_PASS_FRAGMENT;
	hlen = iph->ihl * 4;
	tot = bpf_ntohs(iph->tot_len);
	if (tot < hlen)
		return XDPWG_STAT_PASS_OTHER;
	if (c->pos + hlen > data_end)
		return XDPWG_STAT_PASS_OTHER;
	pi->src.family = XDPWG_FAMILY_INET;
	pi->src.addr.v4 = iph->saddr;
	*ip_payload_len = tot - hlen;
	c->pos += hlen;
	return XDPWG_STAT_MAX;
}

static __always_inline __u32 parse_ipv6(struct hdr_cursor *c, void *data_end, struct pkt_info *pi,
					__u32 *ip_payload_len)
{
	struct ipv6hdr *ip6h = c->pos;

	if ((void *)(ip6h + 1) > data_end)
		return XDPWG_STAT_PASS_OTHER;
	if (ip6h->version != 6)
		return XDPWG_STAT_PASS_OTHER;
	if (ip6h->nexthdr != IPPROTO_UDP) {
		switch (ip6h->nexthdr) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_FRAGMENT:
		case IPPROTO_DSTOPTS:
		case 135: /* mobility */
			return XDPWG_STAT_PASS_IPV6_EXT;
		default:
			return XDPWG_STAT_PASS_OTHER;
		}
	}
	pi->src.family = XDPWG_FAMILY_INET6;
	__builtin_memcpy(pi->src.addr.v6, &ip6h->saddr, 16);
	pi->meta_flags |= XDPWG_META_F_IPV6;
	*ip_payload_len = bpf_ntohs(ip6h->payload_len);
	c->pos = ip6h + 1;
	return XDPWG_STAT_MAX;
}

static __always_inline int endpoint_differs(const struct xdpwg_endpoint *ep,
					    const struct xdpwg_endpoint *src)
{
	if (ep->family != src->family || ep->port != src->port)
		return 1;
	if (src->family == XDPWG_FAMILY_INET)
		return ep->addr.v4 != src->addr.v4;
	return (ep->addr.v6w[0] ^ src->addr.v6w[0]) | (ep->addr.v6w[1] ^ src->addr.v6w[1]) |
	       (ep->addr.v6w[2] ^ src->addr.v6w[2]) | (ep->addr.v6w[3] ^ src->addr.v6w[3]);
}

static __always_inline void emit_new_source(struct xdp_md *ctx, struct xdpwg_peer *peer,
					    __u32 peer_id, const struct pkt_info *pi, __u64 now)
{
	struct xdpwg_event *ev;

	count(XDPWG_STAT_NEW_SOURCE);
	if (peer->flags & XDPWG_PEER_F_ROAM_PINNED)
		return;
	if (peer->last_event_ns && now - peer->last_event_ns < event_interval_ns) {
		count(XDPWG_STAT_EVENT_RATELIMITED);
		return;
	}
	peer->last_event_ns = now;
	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		count(XDPWG_STAT_EVENT_LOST);
		return;
	}
	ev->ts_ns = now;
	ev->type = XDPWG_EVENT_NEW_SOURCE;
	ev->peer_id = peer_id;
	ev->src = pi->src;
	ev->ifindex = ctx->ingress_ifindex;
	ev->rx_queue = ctx->rx_queue_index;
	bpf_ringbuf_submit(ev, 0);
	count(XDPWG_STAT_EVENT_SENT);
}

/* Source allowed by the trie? */
static __always_inline int source_allowed(const struct pkt_info *pi)
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
	return bpf_map_lookup_elem(&allow_src, &k) != NULL;
}

/* The source's handshake bucket: 1 when a message may pass. consume 0 only looks (a source
 * already over its limit), 1 takes a token (creating a full bucket for a new source). Racy
 * between CPUs (plain read-modify-write): at worst a token or two too many pass. */
static __always_inline int bucket_allow(const struct pkt_info *pi, __u64 now, int consume)
{
	struct xdpwg_bucket_key k = {};
	struct xdpwg_bucket *b, nb;
	__u64 cost, max, tokens;

	if (!hs_rate)
		return 1;
	cost = 1000000000ULL / hs_rate;
	max = cost * (hs_burst ? hs_burst : 1);
	k.family = pi->src.family;
	if (pi->src.family == XDPWG_FAMILY_INET)
		__builtin_memcpy(k.addr, &pi->src.addr.v4, 4);
	else
		__builtin_memcpy(k.addr, pi->src.addr.v6, 8); /* the /64 */
	b = bpf_map_lookup_elem(&hs_buckets, &k);
	if (!b) {
		if (!consume)
			return 1;
		nb.tokens = max - cost;
		nb.last_ns = now;
		bpf_map_update_elem(&hs_buckets, &k, &nb, BPF_ANY);
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

SEC("xdp")
int xdpwg_rx(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct hdr_cursor cur = { .pos = data };
	struct pkt_info pi = {};
	struct xdpwg_config *cfg;
	struct xdpwg_session *sess;
	struct xdpwg_peer *peer = NULL;
	struct xdpwg_iface *iface;
	struct xdpwg_meta *meta;
	struct udphdr *udph;
	__u32 key = 0, ip_plen = 0, ulen, plen, type, reason, peer_id = 0, slot, cflags;
	__u64 now;
	__be16 proto;
	void *payload;
	int ret;

	cfg = bpf_map_lookup_elem(&config, &key);
	if (!cfg || cfg->listen_port == 0)
		return verdict(XDPWG_STAT_PASS_DISABLED, XDP_PASS);
	cflags = cfg->flags;

	proto = parse_eth(&cur, data_end, &pi.meta_flags);
	if (proto == bpf_htons(ETH_P_IP))
		reason = parse_ipv4(&cur, data_end, &pi, &ip_plen);
	else if (proto == bpf_htons(ETH_P_IPV6))
		reason = parse_ipv6(&cur, data_end, &pi, &ip_plen);
	else
		reason = XDPWG_STAT_PASS_OTHER;
	if (reason != XDPWG_STAT_MAX)
		return verdict(reason, XDP_PASS);

	udph = cur.pos;
	if ((void *)(udph + 1) > data_end)
		return verdict(XDPWG_STAT_PASS_OTHER, XDP_PASS);
	if (udph->dest != bpf_htons(cfg->listen_port))
		return verdict(XDPWG_STAT_PASS_OTHER, XDP_PASS);
	pi.src.port = udph->source;
	if ((cflags & XDPWG_CFG_F_ALLOW_SRC) && !source_allowed(&pi))
		return wg_verdict(ctx, cflags, XDPWG_STAT_SRC_NOT_ALLOWED, XDP_DROP);

	/* Ours from here on: the UDP length must fit the IP payload and the frame. */
	ulen = bpf_ntohs(udph->len);
	/* 6.1's verifier keeps no bounds through a byte swap: give it 16 bits, in a form the
	 * compiler cannot fold away */
	asm volatile("%0 &= 0xffff" : "+r"(ulen));
	if (ulen < sizeof(*udph) + sizeof(struct wg_msg_header) || ulen > ip_plen)
		return wg_verdict(ctx, cflags, XDPWG_STAT_TRUNCATED, XDP_DROP);
	if ((void *)udph + ulen > data_end)
		return wg_verdict(ctx, cflags, XDPWG_STAT_TRUNCATED, XDP_DROP);
	plen = ulen - sizeof(*udph);
	payload = udph + 1;
	pi.payload_off = payload - data;
	pi.payload_len = plen;

	if (payload + sizeof(struct wg_msg_data) > data_end) {
		/* shorter than a data header: only the type can be read */
		if (payload + sizeof(struct wg_msg_header) > data_end)
			return wg_verdict(ctx, cflags, XDPWG_STAT_TRUNCATED, XDP_DROP);
	}
	type = ((struct wg_msg_header *)payload)->type;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	type = __builtin_bswap32(type);
#endif
	switch (type) {
	case WG_MSG_HANDSHAKE_INITIATION:
		if (plen != WG_MSG_INITIATION_LEN)
			return wg_verdict(ctx, cflags, XDPWG_STAT_BAD_SIZE_INITIATION, XDP_DROP);
		break;
	case WG_MSG_HANDSHAKE_RESPONSE:
		if (plen != WG_MSG_RESPONSE_LEN)
			return wg_verdict(ctx, cflags, XDPWG_STAT_BAD_SIZE_RESPONSE, XDP_DROP);
		break;
	case WG_MSG_HANDSHAKE_COOKIE:
		if (plen != WG_MSG_COOKIE_LEN)
			return wg_verdict(ctx, cflags, XDPWG_STAT_BAD_SIZE_COOKIE, XDP_DROP);
		break;
	case WG_MSG_DATA:
		/* No alignment check: senders pad to a multiple of 16 only up to their MTU
		 * (the kernel's min(ALIGN(len, 16), mtu)), so a full-size packet through a
		 * 1420-byte MTU ends 12 bytes short of alignment. */
		if (plen < WG_MSG_DATA_MIN_LEN)
			return wg_verdict(ctx, cflags, XDPWG_STAT_BAD_SIZE_DATA, XDP_DROP);
		break;
	default:
		return wg_verdict(ctx, cflags, XDPWG_STAT_BAD_TYPE, XDP_DROP);
	}

	now = bpf_ktime_get_ns();
	if (type == WG_MSG_DATA) {
		struct wg_msg_data *msg = payload;
		__u32 idx;

		if ((void *)(msg + 1) > data_end)
			return wg_verdict(ctx, cflags, XDPWG_STAT_TRUNCATED, XDP_DROP);
		idx = msg->key_idx;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		idx = __builtin_bswap32(idx);
#endif
		sess = bpf_map_lookup_elem(&sessions, &idx);
		if (!sess) {
			if (cflags & XDPWG_CFG_F_PASS_UNKNOWN)
				return wg_verdict(ctx, cflags, XDPWG_STAT_UNKNOWN_INDEX_PASSED,
						  XDP_PASS);
			return wg_verdict(ctx, cflags, XDPWG_STAT_UNKNOWN_INDEX, XDP_DROP);
		}
		peer_id = sess->peer_id;
		pi.meta_flags |= XDPWG_META_F_PEER;
		peer = bpf_map_lookup_elem(&peers, &peer_id);
		if (peer) {
			peer->last_seen_ns = now;
			__sync_fetch_and_add(&peer->rx_packets, 1);
			__sync_fetch_and_add(&peer->rx_bytes, plen);
			if (endpoint_differs(&peer->endpoint, &pi.src)) {
				pi.meta_flags |= XDPWG_META_F_NEW_SOURCE;
				emit_new_source(ctx, peer, peer_id, &pi, now);
			}
		}
	} else {
		int under_load = cflags & XDPWG_CFG_F_UNDER_LOAD;

		/* under load, a source already over its bucket costs no BLAKE2s */
		if (under_load && !bucket_allow(&pi, now, 0))
			return wg_verdict(ctx, cflags, XDPWG_STAT_HS_RATELIMITED, XDP_DROP);
		if ((cflags & XDPWG_CFG_F_MAC1) && type != WG_MSG_HANDSHAKE_COOKIE &&
		    mac1_valid(cfg, payload, data_end, type) == 0)
			return wg_verdict(ctx, cflags, XDPWG_STAT_BAD_MAC1, XDP_DROP);
		if (!bucket_allow(&pi, now, 1))
			return wg_verdict(ctx, cflags, XDPWG_STAT_HS_RATELIMITED, XDP_DROP);
		if (under_load && type == WG_MSG_HANDSHAKE_INITIATION)
			count(XDPWG_STAT_HS_UNDER_LOAD);
		if (!handshakes_to_xsk)
			return wg_verdict(ctx, cflags, XDPWG_STAT_NO_XSK_PASSED, XDP_PASS);
	}

	if (ctx->rx_queue_index >= XDPWG_MAX_QUEUES)
		return wg_verdict(ctx, cflags, XDPWG_STAT_NO_XSK_PASSED, XDP_PASS);
	slot = ctx->rx_queue_index;
	key = ctx->ingress_ifindex;
	iface = bpf_map_lookup_elem(&ifaces, &key);
	if (iface)
		slot += iface->slot_base;
	if (slot >= XDPWG_XSKS_MAX)
		return wg_verdict(ctx, cflags, XDPWG_STAT_NO_XSK_PASSED, XDP_PASS);

	/* Where it came from and when, in front of the frame for the worker. */
	if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(struct xdpwg_meta)) < 0)
		return wg_verdict(ctx, cflags, XDPWG_STAT_META_FAILED, XDP_PASS);
	data = (void *)(long)ctx->data;
	meta = (void *)(long)ctx->data_meta;
	if ((void *)(meta + 1) > data)
		return wg_verdict(ctx, cflags, XDPWG_STAT_META_FAILED, XDP_PASS);
	meta->rx_ns = now;
	meta->peer_id = peer_id;
	meta->flags = pi.meta_flags;
	meta->msg_type = type;
	meta->payload_off = pi.payload_off;
	meta->payload_len = pi.payload_len;
	meta->magic = XDPWG_META_MAGIC;
	meta->reserved = 0;

	/* redirected frames never reach tcpdump on the uplink: capture mirrors them */
	ret = bpf_redirect_map(&xsks, slot, XDP_PASS);
	if (ret == XDP_REDIRECT)
		return wg_verdict(ctx, cflags, XDPWG_STAT_REDIRECTED, XDP_REDIRECT);
	return wg_verdict(ctx, cflags, XDPWG_STAT_NO_XSK_PASSED, ret);
}

char LICENSE[] SEC("license") = "GPL";
