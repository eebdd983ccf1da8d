// SPDX-License-Identifier: GPL-2.0
/*
 * xdpwg's XDP program, one per uplink. This file is the entry point and the order of the checks;
 * the pieces live in headers of their own, one concern each (the xdp-tools layout): maps.bpf.h
 * (maps and tunables), parse.bpf.h (the cursor, Ethernet/VLAN, IPv4, IPv6), harden.bpf.h
 * (allowlist, token buckets, mac1 with blake2s.bpf.h), redirect.bpf.h (counters, capture,
 * events, metadata and the XSK redirect) and cluster.bpf.h (a gateway cluster: a message for
 * another member's receiver index sent there IP-in-IP, and IP-in-IP from a member unwrapped
 * first and then classified as if direct; docs/cluster.md).
 *
 * It parses Ethernet (with up to two VLAN tags), IPv4 (with options) or IPv6 (through up to
 * XDPWG_IPV6_EXT_MAX extension headers) and UDP through a cursor. With XDPWG_CFG_F_LOCAL_ADDRS,
 * UDP and fragments to an address that is not ours (local_addrs) are transit traffic and pass
 * untouched; an IPv6 chain to us too deep to see through is dropped; first fragments to our port
 * get a per-source budget (frag_buckets) and go to the kernel, later fragments pass. UDP to the
 * listen port
 * (config map) is checked for a WireGuard message type and its exact size; malformed messages and
 * data for unknown receiver indexes are dropped and counted; the rest gets a struct xdpwg_meta in
 * front and goes into the AF_XDP socket of its receive queue (xsks), or, when no socket is bound
 * there, up the stack to the kernel socket. Everything else is handed to the next tunnel on the
 * uplink (chain.bpf.h), and passes untouched when there is none.
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
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "xdpwg_kern_user.h"
#include "xdpwg_wire.h"

#include "maps.bpf.h"	  /* maps and tunables: the ABI with user/loader.c */
#include "parse.bpf.h"	  /* Ethernet, VLAN, IPv4, IPv6 up to the UDP header */
#include "harden.bpf.h"	  /* allowlist, handshake buckets, mac1 */
#include "redirect.bpf.h" /* counters, capture, events, metadata, XSK redirect */
#include "cluster.bpf.h"  /* a gateway cluster: forward by receiver index, unwrap */

/* Not ours, but unwrapped from a member's IP-in-IP: dropped. A member forwards only WireGuard
 * messages to our port, so anything else inside is forged (a spoofed member address) and must
 * not reach the kernel, which would deliver or route it as if it had come in directly: an open
 * relay past the router's filters, or a BFD or BGP packet whose TTL no router decremented. */
static __always_inline int pass_unless_unwrapped(struct xdp_md *ctx, const struct pkt_info *pi,
						 __u32 reason)
{
	if (pi->meta_flags & XDPWG_META_F_FORWARDED)
		return verdict(XDPWG_STAT_CLUSTER_BAD_ENCAP, XDP_DROP);
	return pass_on(ctx, reason);
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
	struct udphdr *udph;
	__u32 key = 0, ip_plen = 0, ulen, plen, type, reason, peer_id = 0, cflags, l3_off, self_id;
	__u64 now;
	__be16 proto;
	void *payload;

	cfg = bpf_map_lookup_elem(&config, &key);
	if (!cfg || cfg->listen_port == 0)
		return pass_on(ctx, XDPWG_STAT_PASS_DISABLED);
	cflags = cfg->flags;

	proto = parse_eth(&cur, data_end, &pi.meta_flags);
	l3_off = cur.pos - data;
	/* In a cluster, IP-in-IP from another member is unwrapped and then classified as if it
	 * had come straight from the client; it is never forwarded again (self_id 0). */
	self_id = cluster_self_id();
	if (self_id && (proto == bpf_htons(ETH_P_IP) || proto == bpf_htons(ETH_P_IPV6))) {
		switch (xdpwg_cluster_decap(ctx, l3_off, proto)) {
		case CLUSTER_NOT_ENCAP:
			break;
		case CLUSTER_DROPPED:
			return XDP_DROP;
		case CLUSTER_UNWRAPPED_NO_HOP:
			pi.meta_flags = XDPWG_META_F_FORWARDED | XDPWG_META_F_NO_HOP;
			self_id = 0;
			break;
		default:
			pi.meta_flags = XDPWG_META_F_FORWARDED;
			self_id = 0;
			break;
		}
		/* the call may have moved the frame's start: no packet pointer survives it */
		data = (void *)(long)ctx->data;
		data_end = (void *)(long)ctx->data_end;
		cur.pos = data;
		proto = parse_eth(&cur, data_end, &pi.meta_flags);
		l3_off = cur.pos - data;
	}
	if (proto == bpf_htons(ETH_P_IP))
		reason = parse_ipv4(&cur, data_end, &pi, &ip_plen);
	else if (proto == bpf_htons(ETH_P_IPV6))
		reason = parse_ipv6(ctx, &cur, data, data_end, &pi, &ip_plen);
	else
		reason = XDPWG_STAT_PASS_OTHER;
	if (reason != XDPWG_STAT_MAX && reason != XDPWG_STAT_IPV6_EXT_DEEP)
		return pass_unless_unwrapped(ctx, &pi, reason);

	/* UDP, a fragment or a chain too deep to see through: ours, or transit? Before the
	 * port: traffic to a host behind us on the same port is not ours to judge. */
	if (!dest_is_local(cflags, &pi))
		return pass_unless_unwrapped(ctx, &pi,
					     reason == XDPWG_STAT_IPV6_EXT_DEEP
						     ? XDPWG_STAT_PASS_OTHER
						     : XDPWG_STAT_PASS_TRANSIT);
	/* to us, and whatever is behind the chain cannot be checked: it might be our port */
	if (reason == XDPWG_STAT_IPV6_EXT_DEEP)
		return verdict(XDPWG_STAT_IPV6_EXT_DEEP, XDP_DROP);
	if (pi.frag == PARSE_FRAG_LATER)
		return pass_unless_unwrapped(ctx, &pi, XDPWG_STAT_PASS_FRAGMENT);

	udph = cur.pos;
	if ((void *)(udph + 1) > data_end)
		return pass_unless_unwrapped(
			ctx, &pi, pi.frag ? XDPWG_STAT_PASS_FRAGMENT : XDPWG_STAT_PASS_OTHER);
	if (udph->dest != bpf_htons(cfg->listen_port))
		return pass_unless_unwrapped(ctx, &pi, XDPWG_STAT_PASS_OTHER);
	pi.src.port = udph->source;
	if ((cflags & XDPWG_CFG_F_ALLOW_SRC) && !source_allowed(&pi, cflags))
		return wg_verdict(ctx, XDPWG_STAT_SRC_NOT_ALLOWED, XDP_DROP);
	/* A first fragment: the kernel reassembles it and the socket path checks the datagram;
	 * XDP bounds how many a source may send that way. */
	if (pi.frag == PARSE_FRAG_FIRST) {
		if (frag_allow(&pi, bpf_ktime_get_ns()))
			return wg_verdict(ctx, XDPWG_STAT_FRAG_PASSED, XDP_PASS);
		return wg_verdict(ctx, XDPWG_STAT_FRAG_BUDGET, XDP_DROP);
	}

	/* Ours from here on: the UDP length must fit the IP payload and the frame. */
	ulen = bpf_ntohs(udph->len);
	/* 6.1's verifier keeps no bounds through a byte swap: give it 16 bits, in a form the
	 * compiler cannot fold away */
	asm volatile("%0 &= 0xffff" : "+r"(ulen));
	if (ulen < sizeof(*udph) + sizeof(struct wg_msg_header) || ulen > ip_plen)
		return wg_verdict(ctx, XDPWG_STAT_TRUNCATED, XDP_DROP);
	if ((void *)udph + ulen > data_end)
		return wg_verdict(ctx, XDPWG_STAT_TRUNCATED, XDP_DROP);
	plen = ulen - sizeof(*udph);
	payload = udph + 1;
	pi.payload_off = payload - data;
	pi.payload_len = plen;

	if (payload + sizeof(struct wg_msg_data) > data_end) {
		/* shorter than a data header: only the type can be read */
		if (payload + sizeof(struct wg_msg_header) > data_end)
			return wg_verdict(ctx, XDPWG_STAT_TRUNCATED, XDP_DROP);
	}
	type = ((struct wg_msg_header *)payload)->type;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	type = __builtin_bswap32(type);
#endif
	switch (type) {
	case WG_MSG_HANDSHAKE_INITIATION:
		if (plen != WG_MSG_INITIATION_LEN)
			return wg_verdict(ctx, XDPWG_STAT_BAD_SIZE_INITIATION, XDP_DROP);
		break;
	case WG_MSG_HANDSHAKE_RESPONSE:
		if (plen != WG_MSG_RESPONSE_LEN)
			return wg_verdict(ctx, XDPWG_STAT_BAD_SIZE_RESPONSE, XDP_DROP);
		break;
	case WG_MSG_HANDSHAKE_COOKIE:
		if (plen != WG_MSG_COOKIE_LEN)
			return wg_verdict(ctx, XDPWG_STAT_BAD_SIZE_COOKIE, XDP_DROP);
		break;
	case WG_MSG_DATA:
		/* No alignment check: senders pad to a multiple of 16 only up to their MTU
		 * (the kernel's min(ALIGN(len, 16), mtu)), so a full-size packet through a
		 * 1420-byte MTU ends 12 bytes short of alignment. */
		if (plen < WG_MSG_DATA_MIN_LEN)
			return wg_verdict(ctx, XDPWG_STAT_BAD_SIZE_DATA, XDP_DROP);
		break;
	default:
		return wg_verdict(ctx, XDPWG_STAT_BAD_TYPE, XDP_DROP);
	}

	/* In a cluster: a message for another member's receiver index goes there as it is; an
	 * initiation names no index of ours and is answered here. */
	if (self_id && type != WG_MSG_HANDSHAKE_INITIATION) {
		__u32 idx;

		if (cluster_receiver(payload, data_end, type, &idx) < 0)
			return wg_verdict(ctx, XDPWG_STAT_TRUNCATED, XDP_DROP);
		if (idx >> XDPWG_GW_ID_SHIFT != self_id)
			return xdpwg_cluster_encap(ctx, idx >> XDPWG_GW_ID_SHIFT, type, l3_off,
						   (__u32)((void *)udph - data) - l3_off + ip_plen);
	}

	now = bpf_ktime_get_ns();
	if (type == WG_MSG_DATA) {
		struct wg_msg_data *msg = payload;
		__u32 idx;

		if ((void *)(msg + 1) > data_end)
			return wg_verdict(ctx, XDPWG_STAT_TRUNCATED, XDP_DROP);
		idx = msg->key_idx;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		idx = __builtin_bswap32(idx);
#endif
		sess = bpf_map_lookup_elem(&sessions, &idx);
		if (!sess) {
			if (cflags & XDPWG_CFG_F_PASS_UNKNOWN)
				return wg_verdict(ctx, XDPWG_STAT_UNKNOWN_INDEX_PASSED, XDP_PASS);
			return wg_verdict(ctx, XDPWG_STAT_UNKNOWN_INDEX, XDP_DROP);
		}
		peer_id = sess->peer_id;
		pi.meta_flags |= XDPWG_META_F_PEER;
		peer = bpf_map_lookup_elem(&peers, &peer_id);
		if (peer) {
			peer->last_seen_ns = now;
			__sync_fetch_and_add(&peer->rx_packets, 1);
			__sync_fetch_and_add(&peer->rx_bytes, plen);
			if (endpoint_differs(&peer->endpoint, &pi.src) &&
			    !known_path(peer, &pi.src)) {
				pi.meta_flags |= XDPWG_META_F_NEW_SOURCE;
				emit_new_source(ctx, peer, peer_id, &pi, now);
			}
		}
	} else {
		int under_load = cflags & XDPWG_CFG_F_UNDER_LOAD;

		/* under load, a source already over its bucket costs no BLAKE2s */
		if (under_load && !bucket_allow(&pi, now, 0))
			return wg_verdict(ctx, XDPWG_STAT_HS_RATELIMITED, XDP_DROP);
		if ((cflags & XDPWG_CFG_F_MAC1) && type != WG_MSG_HANDSHAKE_COOKIE &&
		    mac1_valid(cfg, payload, data_end, type) == 0)
			return wg_verdict(ctx, XDPWG_STAT_BAD_MAC1, XDP_DROP);
		if (!bucket_allow(&pi, now, 1))
			return wg_verdict(ctx, XDPWG_STAT_HS_RATELIMITED, XDP_DROP);
		if (under_load && type == WG_MSG_HANDSHAKE_INITIATION)
			count(XDPWG_STAT_HS_UNDER_LOAD);
		if (!handshakes_to_xsk)
			return wg_verdict(ctx, XDPWG_STAT_NO_XSK_PASSED, XDP_PASS);
	}

	return deliver_xsk(ctx, &pi, type, peer_id, now);
}

char LICENSE[] SEC("license") = "GPL";
