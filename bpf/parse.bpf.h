/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Header parsing for the XDP program, the xdp-tools way: a cursor walks Ethernet (with up to two
 * VLAN tags), then IPv4 (with options) or IPv6, and stops in front of the UDP header. Every read
 * is bounds-checked against data_end where it happens, so the verifier sees each check next to
 * its access. Nothing here looks at maps or decides a verdict beyond "not for us" (a stat reason
 * to pass with): policy lives in harden.bpf.h and redirect.bpf.h.
 */
#ifndef XDPWG_PARSE_BPF_H
#define XDPWG_PARSE_BPF_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "xdpwg_kern_user.h"

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif
#define IP_MF	  0x2000
#define IP_OFFSET 0x1FFF
#define VLAN_MAX  2

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

#endif
