/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A gateway cluster's forwarding in XDP (issue #17, docs/cluster.md "Receiver indexes and
 * forwarding"). Every member hands out receiver indexes with its gateway id in the top
 * XDPWG_GW_ID_BITS bits; the upstream router spreads clients by a hash of the 5-tuple, so a
 * client that changed its address may land on a member that does not hold its keys. That
 * member sees from the index whose keys they are and sends the datagram there, untouched,
 * IP-in-IP (the XDP load balancer way: Katran, Cilium's DSR):
 *
 *   forward (xdpwg_cluster_encap): a data message, handshake response or cookie reply whose
 *     receiver index carries another member's id gets an outer IPv4 (protocol 4 for an IPv4
 *     inner packet, 41 for IPv6) or IPv6 header (next header 4 or 41) of the family of our
 *     underlay, from our underlay address to the member's (gateways map), and leaves through
 *     bpf_fib_lookup's interface: XDP_TX when it is the one it came in on, bpf_redirect
 *     otherwise. The inner packet keeps the client's source address and port. Handshake
 *     initiations are never forwarded: whoever receives one answers it. An index of an id with
 *     no member is dropped (cluster_unknown_gateway): its gateway is dead or was never there.
 *
 *   unwrap (xdpwg_cluster_decap): IP-in-IP to our underlay address from a member's underlay
 *     address (gateway_addrs) loses its outer header and is then classified exactly as if it
 *     had arrived directly, so every check (sizes, mac1, buckets, sessions) and the engine's
 *     authentication decide about it: a forged or replayed inner packet moves nothing. Its
 *     Ethernet addresses are rewritten to those of our own next hop back to the client
 *     (bpf_fib_lookup), so the worker learns the right next hop and the replies leave from
 *     the service address straight to the client; without one (no neighbour yet) the
 *     metadata says so and replies take the kernel's routing. IP-in-IP to our underlay from
 *     anyone else is dropped (cluster_not_member).
 *
 * A forwarded-in packet is never forwarded again (no loops between members that disagree).
 * With no cluster (gateways[0].id == 0) nothing here runs beyond one array lookup.
 *
 * Both are global functions: the verifier checks each once on its own, so the program's
 * other paths do not multiply theirs.
 */
#ifndef XDPWG_CLUSTER_BPF_H
#define XDPWG_CLUSTER_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "xdpwg_kern_user.h"
#include "xdpwg_wire.h"

#include "maps.bpf.h"
#include "redirect.bpf.h"

#ifndef IP_DF
#define IP_DF 0x4000
#endif

enum cluster_consts {
	CLUSTER_AF_INET = 2, /* bpf_fib_lookup's families: AF_INET, AF_INET6 */
	CLUSTER_AF_INET6 = 10,
	CLUSTER_TTL = 64,
	CLUSTER_L2_MAX = ETH_HLEN + 8, /* Ethernet and up to two VLAN tags (parse_eth) */
	/* xdpwg_cluster_decap's answers */
	CLUSTER_NOT_ENCAP = 0,	  /* not IP-in-IP to our underlay: classify as usual */
	CLUSTER_UNWRAPPED,	  /* unwrapped, Ethernet addresses those of our next hop back */
	CLUSTER_UNWRAPPED_NO_HOP, /* unwrapped, no next hop back found (XDPWG_META_F_NO_HOP) */
	CLUSTER_DROPPED,	  /* dropped and counted */
};

/* Our gateway id, 0 when not in a cluster. */
static __always_inline __u32 cluster_self_id(void)
{
	__u32 key = 0;
	struct xdpwg_gateway *self = bpf_map_lookup_elem(&gateways, &key);

	return self && self->family ? self->id : 0;
}

/* The receiver index of a message that names one of a gateway's indexes (data: key_idx at
 * offset 4, response: receiver_index at 8, cookie reply: receiver_index at 4), host order. */
static __always_inline int cluster_receiver(void *payload, void *data_end, __u32 type, __u32 *idx)
{
	__le32 *p;

	if (payload + 12 > data_end)
		return -1;
	p = payload + (type == WG_MSG_HANDSHAKE_RESPONSE ? 8 : 4);
	if ((void *)(p + 1) > data_end)
		return -1;
	*idx = *p;
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	*idx = __builtin_bswap32(*idx);
#endif
	return 0;
}

static __always_inline __u16 cluster_csum_fold(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Forward the datagram (type, ours to judge: the caller checked its size) to member gid:
 * l3_off is where its IP header starts, inner_len the IP packet's length. Returns the XDP
 * action, counted. The frame is changed only once the route and neighbour are known. */
__noinline int xdpwg_cluster_encap(struct xdp_md *ctx, __u32 gid, __u32 type, __u32 l3_off,
				   __u32 inner_len)
{
	struct bpf_fib_lookup fib = {};
	struct xdpwg_gateway *self, *gw;
	__u32 key = 0, ohl, reason, proto, inner_v6;
	void *data, *data_end;
	struct ethhdr *eth;
	int rc, delta;

	self = bpf_map_lookup_elem(&gateways, &key);
	if (gid == 0 || gid > XDPWG_GW_ID_MAX)
		return wg_verdict(ctx, XDPWG_STAT_CLUSTER_UNKNOWN_GW, XDP_DROP);
	key = gid;
	gw = bpf_map_lookup_elem(&gateways, &key);
	if (!self || !gw || !gw->family)
		return wg_verdict(ctx, XDPWG_STAT_CLUSTER_UNKNOWN_GW, XDP_DROP);
	/* the daemon refuses members of the other family; a map written by hand gets this */
	if (gw->family != self->family)
		return wg_verdict(ctx, XDPWG_STAT_CLUSTER_FWD_FAILED, XDP_DROP);
	if (l3_off < ETH_HLEN || l3_off > CLUSTER_L2_MAX || inner_len > 0xffff - 40)
		return wg_verdict(ctx, XDPWG_STAT_CLUSTER_FWD_FAILED, XDP_DROP);
	/* bounds the verifier keeps (it sees a global function's arguments as any scalar) */
	asm volatile("%0 &= 0x1f" : "+r"(l3_off));

	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + l3_off + 1 > data_end)
		return wg_verdict(ctx, XDPWG_STAT_CLUSTER_FWD_FAILED, XDP_DROP);
	inner_v6 = (*(__u8 *)(data + l3_off) >> 4) == 6;
	proto = inner_v6 ? IPPROTO_IPV6 : IPPROTO_IPIP;
	ohl = self->family == XDPWG_FAMILY_INET6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);

	/* where to: route and neighbour first, so that a miss leaves the frame as it was */
	fib.ifindex = ctx->ingress_ifindex;
	fib.l4_protocol = proto;
	fib.tot_len = ohl + inner_len; /* the kernel compares it with the route's MTU */
	if (self->family == XDPWG_FAMILY_INET6) {
		fib.family = CLUSTER_AF_INET6;
		__builtin_memcpy(fib.ipv6_src, self->addr.v6, 16);
		__builtin_memcpy(fib.ipv6_dst, gw->addr.v6, 16);
	} else {
		fib.family = CLUSTER_AF_INET;
		fib.ipv4_src = self->addr.v4;
		fib.ipv4_dst = gw->addr.v4;
	}
	rc = bpf_fib_lookup(ctx, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH)
		return wg_verdict(ctx, XDPWG_STAT_CLUSTER_NO_NEIGH, XDP_DROP);
	if (rc != BPF_FIB_LKUP_RET_SUCCESS)
		return wg_verdict(ctx, XDPWG_STAT_CLUSTER_FWD_FAILED, XDP_DROP);

	/* room for Ethernet and the outer header in front of the inner IP header; VLAN tags of
	 * the frame as it came in are not kept (the member is reached on the route's device) */
	delta = (int)(ETH_HLEN + ohl) - (int)l3_off;
	if (bpf_xdp_adjust_head(ctx, -delta) < 0)
		return wg_verdict(ctx, XDPWG_STAT_CLUSTER_FWD_FAILED, XDP_DROP);
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data; /* within the bounds each branch checks for its outer header */
	if (self->family == XDPWG_FAMILY_INET6) {
		struct ipv6hdr *ip6 = data + ETH_HLEN;

		if ((void *)(ip6 + 1) > data_end)
			return wg_verdict(ctx, XDPWG_STAT_CLUSTER_FWD_FAILED, XDP_DROP);
		*(__be32 *)ip6 = bpf_htonl(0x60000000); /* version 6, no class, no flow label */
		ip6->payload_len = bpf_htons(inner_len);
		ip6->nexthdr = proto;
		ip6->hop_limit = CLUSTER_TTL;
		__builtin_memcpy(&ip6->saddr, self->addr.v6, 16);
		__builtin_memcpy(&ip6->daddr, gw->addr.v6, 16);
		eth->h_proto = bpf_htons(ETH_P_IPV6);
	} else {
		struct iphdr *ip = data + ETH_HLEN;
		__u16 *w = (void *)ip;
		__u32 sum = 0;
		int i;

		if ((void *)(ip + 1) > data_end)
			return wg_verdict(ctx, XDPWG_STAT_CLUSTER_FWD_FAILED, XDP_DROP);
		ip->version = 4;
		ip->ihl = 5;
		ip->tos = 0;
		ip->tot_len = bpf_htons(sizeof(*ip) + inner_len);
		ip->id = 0;
		/* XDP cannot fragment: a path between members with too small an MTU must fail
		 * visibly (ICMP), not lose fragments no XDP program can unwrap */
		ip->frag_off = bpf_htons(IP_DF);
		ip->ttl = CLUSTER_TTL;
		ip->protocol = proto;
		ip->check = 0;
		ip->saddr = self->addr.v4;
		ip->daddr = gw->addr.v4;
#pragma unroll
		for (i = 0; i < (int)(sizeof(*ip) / 2); i++)
			sum += w[i];
		ip->check = cluster_csum_fold(sum);
		eth->h_proto = bpf_htons(ETH_P_IP);
	}
	__builtin_memcpy(eth->h_dest, fib.dmac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, fib.smac, ETH_ALEN);

	switch (type) {
	case WG_MSG_HANDSHAKE_RESPONSE:
		reason = XDPWG_STAT_CLUSTER_FWD_RESPONSE;
		break;
	case WG_MSG_HANDSHAKE_COOKIE:
		reason = XDPWG_STAT_CLUSTER_FWD_COOKIE;
		break;
	default:
		reason = XDPWG_STAT_CLUSTER_FWD_DATA;
		break;
	}
	if (fib.ifindex == ctx->ingress_ifindex)
		return wg_verdict(ctx, reason, XDP_TX);
	return wg_verdict(ctx, reason, bpf_redirect(fib.ifindex, 0));
}

/* IP-in-IP to our underlay address from a member: unwrap it (see the top). l3_off is where the
 * outer IP header starts, eth_proto the frame's EtherType (network order). Returns an enum
 * cluster_consts answer; CLUSTER_DROPPED is counted. */
__noinline int xdpwg_cluster_decap(struct xdp_md *ctx, __u32 l3_off, __u32 eth_proto)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct bpf_fib_lookup fib = {};
	struct xdpwg_addr_key src = {};
	struct xdpwg_gateway *self;
	__u8 macs[2 * ETH_ALEN];
	__u32 key = 0, ohl, proto, inner_v6, ret = CLUSTER_UNWRAPPED;
	struct ethhdr *eth;
	__u8 *inner;

	self = bpf_map_lookup_elem(&gateways, &key);
	if (!self || !self->id || !self->family)
		return CLUSTER_NOT_ENCAP;
	if (l3_off < ETH_HLEN || l3_off > CLUSTER_L2_MAX)
		return CLUSTER_NOT_ENCAP;
	/* bounds the verifier keeps (it sees a global function's arguments as any scalar) */
	asm volatile("%0 &= 0x1f" : "+r"(l3_off));
	if (eth_proto == bpf_htons(ETH_P_IP) && self->family == XDPWG_FAMILY_INET) {
		struct iphdr *ip = data + l3_off;

		if ((void *)(ip + 1) > data_end)
			return CLUSTER_NOT_ENCAP;
		if (ip->version != 4 ||
		    (ip->protocol != IPPROTO_IPIP && ip->protocol != IPPROTO_IPV6))
			return CLUSTER_NOT_ENCAP;
		if (ip->daddr != self->addr.v4)
			return CLUSTER_NOT_ENCAP; /* through us, or to another of our addresses */
		src.family = XDPWG_FAMILY_INET;
		__builtin_memcpy(src.addr, &ip->saddr, 4);
		if (!bpf_map_lookup_elem(&gateway_addrs, &src)) {
			count(XDPWG_STAT_CLUSTER_NOT_MEMBER);
			return CLUSTER_DROPPED;
		}
		/* members send no options and no fragments (DF, XDP cannot reassemble) */
		if (ip->ihl != 5 || (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET)))
			goto bad;
		proto = ip->protocol;
		ohl = sizeof(*ip);
	} else if (eth_proto == bpf_htons(ETH_P_IPV6) && self->family == XDPWG_FAMILY_INET6) {
		struct ipv6hdr *ip6 = data + l3_off;

		if ((void *)(ip6 + 1) > data_end)
			return CLUSTER_NOT_ENCAP;
		if (ip6->version != 6 ||
		    (ip6->nexthdr != IPPROTO_IPIP && ip6->nexthdr != IPPROTO_IPV6))
			return CLUSTER_NOT_ENCAP;
		if (ip6->daddr.in6_u.u6_addr32[0] != self->addr.v6w[0] ||
		    ip6->daddr.in6_u.u6_addr32[1] != self->addr.v6w[1] ||
		    ip6->daddr.in6_u.u6_addr32[2] != self->addr.v6w[2] ||
		    ip6->daddr.in6_u.u6_addr32[3] != self->addr.v6w[3])
			return CLUSTER_NOT_ENCAP;
		src.family = XDPWG_FAMILY_INET6;
		__builtin_memcpy(src.addr, &ip6->saddr, 16);
		if (!bpf_map_lookup_elem(&gateway_addrs, &src)) {
			count(XDPWG_STAT_CLUSTER_NOT_MEMBER);
			return CLUSTER_DROPPED;
		}
		proto = ip6->nexthdr;
		ohl = sizeof(*ip6);
	} else {
		return CLUSTER_NOT_ENCAP;
	}

	/* the inner header: the version its protocol number says, and whole */
	inner_v6 = proto == IPPROTO_IPV6;
	inner = data + l3_off + ohl;
	if (inner_v6) {
		struct ipv6hdr *i6 = (void *)inner;

		if ((void *)(i6 + 1) > data_end || i6->version != 6)
			goto bad;
		/* our next hop back to the client, from the address it wrote to */
		fib.family = CLUSTER_AF_INET6;
		__builtin_memcpy(fib.ipv6_src, &i6->daddr, 16);
		__builtin_memcpy(fib.ipv6_dst, &i6->saddr, 16);
	} else {
		struct iphdr *i4 = (void *)inner;

		if ((void *)(i4 + 1) > data_end || i4->version != 4)
			goto bad;
		fib.family = CLUSTER_AF_INET;
		fib.ipv4_src = i4->daddr;
		fib.ipv4_dst = i4->saddr;
	}
	fib.ifindex = ctx->ingress_ifindex;
	fib.l4_protocol = IPPROTO_UDP;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		goto bad;
	if (bpf_fib_lookup(ctx, &fib, sizeof(fib), 0) == BPF_FIB_LKUP_RET_SUCCESS &&
	    fib.ifindex == ctx->ingress_ifindex) {
		/* as if the client's packet had come from our own next hop towards it */
		__builtin_memcpy(macs, fib.smac, ETH_ALEN);
		__builtin_memcpy(macs + ETH_ALEN, fib.dmac, ETH_ALEN);
	} else {
		__builtin_memcpy(macs, eth->h_dest, 2 * ETH_ALEN);
		ret = CLUSTER_UNWRAPPED_NO_HOP;
	}

	if (bpf_xdp_adjust_head(ctx, (int)(l3_off + ohl - ETH_HLEN)) < 0)
		goto bad;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end) {
		count(XDPWG_STAT_CLUSTER_BAD_ENCAP);
		return CLUSTER_DROPPED;
	}
	__builtin_memcpy(eth->h_dest, macs, 2 * ETH_ALEN);
	eth->h_proto = bpf_htons(inner_v6 ? ETH_P_IPV6 : ETH_P_IP);
	count(XDPWG_STAT_CLUSTER_FWD_IN);
	return ret;
bad:
	count(XDPWG_STAT_CLUSTER_BAD_ENCAP);
	return CLUSTER_DROPPED;
}

#endif
