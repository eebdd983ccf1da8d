/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Header parsing for the XDP program, the xdp-tools way: a cursor walks Ethernet (with up to two
 * VLAN tags), then IPv4 (with options) or IPv6 (with a bounded chain of extension headers), and
 * stops in front of the UDP header. Fragments are recognised here (first or not) so that the
 * program can give them their own budget: a UDP check that a fragment or an extension header
 * could skip is no check (issue #15, docs/security.md). Every read
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
#ifndef IPPROTO_MH
#define IPPROTO_MH 135 /* IPv6 mobility header */
#endif

struct hdr_cursor {
	void *pos;
};

struct vlan_hdr {
	__be16 tci;
	__be16 encap_proto;
};

enum parse_frag {
	PARSE_FRAG_NONE = 0, /* not a fragment (or an atomic one: offset 0, no more fragments) */
	PARSE_FRAG_FIRST,    /* offset 0 with more to come: the UDP header is in this one */
	PARSE_FRAG_LATER,    /* offset != 0: no UDP header at all */
};

/* What the parse found out about a UDP datagram (or fragment) and its outer header. */
struct pkt_info {
	struct xdpwg_endpoint src;
	union xdpwg_addr dst; /* outer destination (family = src.family) */
	__u16 payload_off;
	__u16 payload_len;
	__u16 meta_flags;
	__u16 frag; /* enum parse_frag */
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

/* IPv4: returns the stat reason to pass with, or XDPWG_STAT_MAX when the packet is UDP (or a
 * fragment of UDP, pi->frag) and c points at the UDP header, whose datagram may extend up to
 * *ip_payload_len bytes. */
static __always_inline __u32 parse_ipv4(struct hdr_cursor *c, void *data_end, struct pkt_info *pi,
					__u32 *ip_payload_len)
{
	struct iphdr *iph = c->pos;
	__u32 hlen, tot;

	if ((void *)(iph + 1) > data_end)
		return XDPWG_STAT_PASS_OTHER;
	if (iph->version != 4 || iph->ihl < 5)
		return XDPWG_STAT_PASS_OTHER;
	hlen = iph->ihl * 4;
	tot = bpf_ntohs(iph->tot_len);
	if (c->pos + hlen > data_end)
		return XDPWG_STAT_PASS_OTHER;
	if (tot < hlen)
		return XDPWG_STAT_PASS_OTHER;
	if (iph->protocol != IPPROTO_UDP)
		return XDPWG_STAT_PASS_OTHER;
	if (iph->frag_off & bpf_htons(IP_OFFSET))
		pi->frag = PARSE_FRAG_LATER;
	else if (iph->frag_off & bpf_htons(IP_MF))
		pi->frag = PARSE_FRAG_FIRST;
	pi->src.family = XDPWG_FAMILY_INET;
	pi->src.addr.v4 = iph->saddr;
	pi->dst.v4 = iph->daddr;
	*ip_payload_len = tot - hlen;
	c->pos += hlen;
	return XDPWG_STAT_MAX;
}

/* The IPv6 extension-header walk's answer: enum walk_result << WALK_RES_SHIFT, WALK_F_FRAG_FIRST,
 * and in the low 16 bits the offset of the UDP header from the frame start (WALK_UDP). */
enum walk_result {
	WALK_UDP = 1,	     /* the chain ends at UDP */
	WALK_OTHER,	     /* ends at anything else (ESP, No Next Header, mobility, TCP...) */
	WALK_DEEP,	     /* more than XDPWG_IPV6_EXT_MAX headers, or one runs past the frame */
	WALK_FRAG_LATER,     /* a Fragment header with a non-zero offset */
	WALK_RES_SHIFT = 16, /* where the result sits in the return value */
	WALK_RES_MASK = 0xf,
	WALK_OFF_MASK = 0xffff,
	WALK_F_FRAG_FIRST = 1 << 20, /* a Fragment header with offset 0 and M set on the way */
	WALK_OFF_MAX = 0x3fff,	     /* beyond any linear XDP frame: keeps offsets small for the
				      * verifier's packet-range tracking */
};

struct ipv6_frag_hdr {
	__u8 nexthdr;
	__u8 reserved;
	__be16 frag_off; /* offset in 8-byte units << 3, M flag in bit 0 */
	__be32 identification;
};

#define IP6_FRAG_OFFSET 0xfff8
#define IP6_FRAG_MORE	0x0001

/* Walk the IPv6 extension headers from off (the first one, of type nexthdr) to UDP: hop-by-hop,
 * routing, destination options ((hdrlen + 1) * 8 bytes), AH ((hdrlen + 2) * 4) and Fragment
 * (8), at most XDPWG_IPV6_EXT_MAX of them, each within the frame as a whole. A global function:
 * the verifier checks it once on its own (it only sees ctx and scalars), so the unrolled walk's
 * paths do not multiply the rest of the program's. Returns an enum walk_result encoding. */
__noinline int xdpwg_ipv6_ext_walk(struct xdp_md *ctx, __u32 off, __u32 nexthdr)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	__u32 first = 0;
	int i;

#pragma unroll
	for (i = 0; i < XDPWG_IPV6_EXT_MAX; i++) {
		struct ipv6_frag_hdr *fh;
		__u8 *h;
		__u32 len;

		if (nexthdr == IPPROTO_UDP)
			return (WALK_UDP << WALK_RES_SHIFT) | first | (off & WALK_OFF_MASK);
		/* the type first: a chain that ends in anything but an extension header ends here,
		 * even right at the frame's end (fuzz_xdp F1: hop-by-hop then No Next Header as
		 * the frame's last bytes was dropped as too deep) */
		if (nexthdr != IPPROTO_HOPOPTS && nexthdr != IPPROTO_ROUTING &&
		    nexthdr != IPPROTO_DSTOPTS && nexthdr != IPPROTO_AH &&
		    nexthdr != IPPROTO_FRAGMENT)
			return WALK_OTHER << WALK_RES_SHIFT;
		if (off > WALK_OFF_MAX)
			return WALK_DEEP << WALK_RES_SHIFT;
		h = data + off;
		if ((void *)(h + 2) > data_end)
			return WALK_DEEP << WALK_RES_SHIFT;
		switch (nexthdr) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			len = ((__u32)h[1] + 1) * 8;
			break;
		case IPPROTO_AH:
			len = ((__u32)h[1] + 2) * 4;
			break;
		case IPPROTO_FRAGMENT:
			fh = (void *)h;
			if ((void *)(fh + 1) > data_end)
				return WALK_DEEP << WALK_RES_SHIFT;
			/* a later fragment has no UDP header, whatever its next header says */
			if (fh->frag_off & bpf_htons(IP6_FRAG_OFFSET))
				return WALK_FRAG_LATER << WALK_RES_SHIFT;
			/* offset 0 without M is an atomic fragment: not fragmented at all */
			if (fh->frag_off & bpf_htons(IP6_FRAG_MORE))
				first = WALK_F_FRAG_FIRST;
			len = sizeof(*fh);
			break;
		default:
			/* mobility carries no upper layer; ESP, No Next Header, TCP... are not UDP */
			return WALK_OTHER << WALK_RES_SHIFT;
		}
		if ((void *)(h + len) > data_end)
			return WALK_DEEP << WALK_RES_SHIFT;
		nexthdr = h[0];
		off += len;
	}
	switch (nexthdr) {
	case IPPROTO_UDP:
		return (WALK_UDP << WALK_RES_SHIFT) | first | (off & WALK_OFF_MASK);
	case IPPROTO_HOPOPTS:
	case IPPROTO_ROUTING:
	case IPPROTO_DSTOPTS:
	case IPPROTO_AH:
	case IPPROTO_FRAGMENT:
		return WALK_DEEP << WALK_RES_SHIFT; /* a seventh extension header */
	default:
		return WALK_OTHER << WALK_RES_SHIFT;
	}
}

/* IPv6: as parse_ipv4, plus XDPWG_STAT_IPV6_EXT_DEEP for a chain too long or truncated (the
 * caller drops it when the destination is ours, passes it otherwise). */
static __always_inline __u32 parse_ipv6(struct xdp_md *ctx, struct hdr_cursor *c, void *data,
					void *data_end, struct pkt_info *pi, __u32 *ip_payload_len)
{
	struct ipv6hdr *ip6h = c->pos;
	__u32 plen, start, off, ext, w;

	if ((void *)(ip6h + 1) > data_end)
		return XDPWG_STAT_PASS_OTHER;
	if (ip6h->version != 6)
		return XDPWG_STAT_PASS_OTHER;
	pi->src.family = XDPWG_FAMILY_INET6;
	__builtin_memcpy(pi->src.addr.v6, &ip6h->saddr, 16);
	__builtin_memcpy(pi->dst.v6, &ip6h->daddr, 16);
	pi->meta_flags |= XDPWG_META_F_IPV6;
	plen = bpf_ntohs(ip6h->payload_len);
	if (ip6h->nexthdr == IPPROTO_UDP) {
		*ip_payload_len = plen;
		c->pos = ip6h + 1;
		return XDPWG_STAT_MAX;
	}
	start = (void *)(ip6h + 1) - data;
	w = xdpwg_ipv6_ext_walk(ctx, start, ip6h->nexthdr);
	switch ((w >> WALK_RES_SHIFT) & WALK_RES_MASK) {
	case WALK_UDP:
		break;
	case WALK_FRAG_LATER:
		pi->frag = PARSE_FRAG_LATER;
		return XDPWG_STAT_MAX;
	case WALK_DEEP:
		return XDPWG_STAT_IPV6_EXT_DEEP;
	default:
		return XDPWG_STAT_PASS_OTHER;
	}
	if (w & WALK_F_FRAG_FIRST)
		pi->frag = PARSE_FRAG_FIRST;
	off = w & WALK_OFF_MASK;
	/* the walk checked it against the frame; this bounds it for the verifier */
	if (off > WALK_OFF_MAX + 2048 || off < start)
		return XDPWG_STAT_IPV6_EXT_DEEP;
	/* the extension headers are part of the IPv6 payload; more of them than payload leaves
	 * nothing for UDP, which the length check then calls truncated */
	ext = off - start;
	*ip_payload_len = plen > ext ? plen - ext : 0;
	c->pos = data + off;
	return XDPWG_STAT_MAX;
}

#endif
