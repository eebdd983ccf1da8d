// SPDX-License-Identifier: GPL-2.0
/*
 * The outer headers of what an AF_XDP worker sends and receives: Ethernet, IPv4/IPv6 and UDP
 * built in front of a message (with the checksums a veth peer or a NIC expects), and parsed off
 * a received frame, in full or, when XDP wrote its metadata, only for the addresses. The rings
 * themselves are xsk.c.
 */
#include <errno.h>
#include <string.h>

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>

#include "csum.h"
#include "xsk.h"

size_t xsk_udp_hdr_len(int family)
{
	if (family == AF_INET)
		return sizeof(struct ethhdr) + sizeof(struct iphdr) + sizeof(struct udphdr);
	if (family == AF_INET6)
		return sizeof(struct ethhdr) + sizeof(struct ipv6hdr) + sizeof(struct udphdr);
	return 0;
}

/* Headers are written and read through local copies: after a 14-byte Ethernet header the IP
 * header is only 2-byte aligned. */
int xsk_build_udp(uint8_t *frame, size_t cap, const struct xsk_udp_params *p, size_t payload_len)
{
	size_t hlen = xsk_udp_hdr_len(p->family);
	size_t ulen = sizeof(struct udphdr) + payload_len;
	struct ethhdr eth;
	struct udphdr uh;
	uint64_t sum;
	uint16_t c;

	if (!hlen)
		return -EINVAL;
	if (hlen + payload_len > cap || ulen > 0xffff ||
	    (p->family == AF_INET && ulen + sizeof(struct iphdr) > 0xffff))
		return -EMSGSIZE;
	memcpy(eth.h_dest, p->dst_mac, ETH_ALEN);
	memcpy(eth.h_source, p->src_mac, ETH_ALEN);
	uh.source = htons(p->sport);
	uh.dest = htons(p->dport);
	uh.len = htons((uint16_t)ulen);
	uh.check = 0;

	if (p->family == AF_INET) {
		struct iphdr ip;
		uint8_t pseudo[12];

		eth.h_proto = htons(ETH_P_IP);
		memset(&ip, 0, sizeof(ip));
		ip.version = 4;
		ip.ihl = 5;
		ip.tot_len = htons((uint16_t)(sizeof(ip) + ulen));
		ip.frag_off = htons(0x4000); /* DF */
		ip.ttl = p->ttl ? p->ttl : 64;
		ip.protocol = IPPROTO_UDP;
		ip.saddr = p->src.v4.s_addr;
		ip.daddr = p->dst.v4.s_addr;
		ip.check = (uint16_t)~csum_fold(csum_add(0, (const uint8_t *)&ip, sizeof(ip)));
		memcpy(frame + sizeof(eth), &ip, sizeof(ip));
		memcpy(pseudo, &ip.saddr, 4);
		memcpy(pseudo + 4, &ip.daddr, 4);
		pseudo[8] = 0;
		pseudo[9] = IPPROTO_UDP;
		pseudo[10] = (uint8_t)(ulen >> 8);
		pseudo[11] = (uint8_t)ulen;
		sum = csum_add(0, pseudo, sizeof(pseudo));
	} else {
		struct ipv6hdr ip6;
		uint8_t pseudo[40];

		eth.h_proto = htons(ETH_P_IPV6);
		memset(&ip6, 0, sizeof(ip6));
		ip6.version = 6;
		ip6.payload_len = htons((uint16_t)ulen);
		ip6.nexthdr = IPPROTO_UDP;
		ip6.hop_limit = p->ttl ? p->ttl : 64;
		memcpy(&ip6.saddr, &p->src.v6, 16);
		memcpy(&ip6.daddr, &p->dst.v6, 16);
		memcpy(frame + sizeof(eth), &ip6, sizeof(ip6));
		memset(pseudo, 0, sizeof(pseudo));
		memcpy(pseudo, &p->src.v6, 16);
		memcpy(pseudo + 16, &p->dst.v6, 16);
		pseudo[34] = (uint8_t)(ulen >> 8);
		pseudo[35] = (uint8_t)ulen;
		pseudo[39] = IPPROTO_UDP;
		sum = csum_add(0, pseudo, sizeof(pseudo));
	}
	memcpy(frame, &eth, sizeof(eth));
	sum = csum_add(sum, (const uint8_t *)&uh, sizeof(uh));
	sum = csum_add(sum, frame + hlen, payload_len);
	c = (uint16_t)~csum_fold(sum);
	uh.check = c ? c : 0xffff; /* 0 means "no checksum": the one's complement twin instead */
	memcpy(frame + hlen - sizeof(uh), &uh, sizeof(uh));
	return (int)(hlen + payload_len);
}

int xsk_parse_udp(const uint8_t *frame, size_t len, struct xsk_udp_params *p, size_t *payload_off,
		  size_t *payload_len)
{
	size_t off = sizeof(struct ethhdr), ulen, avail;
	struct ethhdr eth;
	struct udphdr uh;
	uint16_t proto;
	int i;

	if (len < off)
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	memcpy(&eth, frame, sizeof(eth));
	memcpy(p->dst_mac, eth.h_dest, ETH_ALEN);
	memcpy(p->src_mac, eth.h_source, ETH_ALEN);
	proto = ntohs(eth.h_proto);
	for (i = 0; i < 2 && (proto == ETH_P_8021Q || proto == ETH_P_8021AD); i++) {
		if (len < off + 4)
			return -EINVAL;
		proto = (uint16_t)(frame[off + 2] << 8 | frame[off + 3]);
		off += 4;
		p->vlans++;
	}
	if (proto == ETH_P_IP) {
		struct iphdr ip;
		size_t hl, tot;

		if (len < off + sizeof(ip))
			return -EINVAL;
		memcpy(&ip, frame + off, sizeof(ip));
		if (ip.version != 4 || ip.protocol != IPPROTO_UDP)
			return -EINVAL;
		hl = (size_t)ip.ihl * 4;
		tot = ntohs(ip.tot_len);
		if (hl < sizeof(ip) || tot < hl || len < off + tot)
			return -EINVAL;
		p->family = AF_INET;
		p->src.v4.s_addr = ip.saddr;
		p->dst.v4.s_addr = ip.daddr;
		p->ttl = ip.ttl;
		avail = tot - hl;
		off += hl;
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr ip6;

		if (len < off + sizeof(ip6))
			return -EINVAL;
		uint8_t next;

		memcpy(&ip6, frame + off, sizeof(ip6));
		if (ip6.version != 6)
			return -EINVAL;
		p->family = AF_INET6;
		memcpy(&p->src.v6, &ip6.saddr, 16);
		memcpy(&p->dst.v6, &ip6.daddr, 16);
		p->ttl = ip6.hop_limit;
		avail = ntohs(ip6.payload_len);
		off += sizeof(ip6);
		if (len < off + avail)
			return -EINVAL;
		/* extension headers in front of UDP (XDP walks the same bounded chain) */
		next = ip6.nexthdr;
		for (i = 0; i < XDPWG_IPV6_EXT_MAX && next != IPPROTO_UDP; i++) {
			size_t hl;

			if (avail < 8)
				return -EINVAL;
			switch (next) {
			case IPPROTO_HOPOPTS:
			case IPPROTO_ROUTING:
			case IPPROTO_DSTOPTS:
				hl = ((size_t)frame[off + 1] + 1) * 8;
				break;
			case IPPROTO_AH:
				hl = ((size_t)frame[off + 1] + 2) * 4;
				break;
			case IPPROTO_FRAGMENT:
				/* only a whole datagram: offset 0 and no more fragments */
				if ((frame[off + 2] << 8 | frame[off + 3]) & 0xfff9)
					return -EINVAL;
				hl = 8;
				break;
			default:
				return -EINVAL;
			}
			if (hl > avail)
				return -EINVAL;
			next = frame[off];
			off += hl;
			avail -= hl;
		}
		if (next != IPPROTO_UDP)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	if (avail < sizeof(uh))
		return -EINVAL;
	memcpy(&uh, frame + off, sizeof(uh));
	ulen = ntohs(uh.len);
	if (ulen < sizeof(uh) || ulen > avail)
		return -EINVAL;
	p->sport = ntohs(uh.source);
	p->dport = ntohs(uh.dest);
	*payload_off = off + sizeof(uh);
	*payload_len = ulen - sizeof(uh);
	return 0;
}

int xsk_frame_udp(const struct xsk_frame *f, struct xsk_udp_params *p, size_t *payload_off,
		  size_t *payload_len)
{
	const struct xdpwg_meta *m = f->meta;
	size_t off = sizeof(struct ethhdr), poff, plen;
	uint16_t proto;
	struct udphdr uh;

	if (!m || m->magic != XDPWG_META_MAGIC)
		return xsk_parse_udp(f->data, f->len, p, payload_off, payload_len);
	/* XDP checked the headers and the lengths; what it wrote must still fit the frame */
	poff = m->payload_off;
	plen = m->payload_len;
	if (f->len < off || poff < off + sizeof(uh) || poff + plen > f->len)
		return -EINVAL;
	memset(p, 0, sizeof(*p));
	p->no_hop = !!(m->flags & XDPWG_META_F_NO_HOP);
	memcpy(p->dst_mac, f->data, ETH_ALEN);
	memcpy(p->src_mac, f->data + ETH_ALEN, ETH_ALEN);
	proto = (uint16_t)(f->data[12] << 8 | f->data[13]);
	for (int i = 0; i < 2 && (proto == ETH_P_8021Q || proto == ETH_P_8021AD); i++) {
		proto = (uint16_t)(f->data[off + 2] << 8 | f->data[off + 3]);
		off += 4;
		p->vlans++;
	}
	/* only the fixed IP header: options and extension headers lie between it and poff */
	if (proto == ETH_P_IP && !(m->flags & XDPWG_META_F_IPV6) &&
	    off + sizeof(struct iphdr) + sizeof(uh) <= poff) {
		struct iphdr ip;

		memcpy(&ip, f->data + off, sizeof(ip));
		p->family = AF_INET;
		p->src.v4.s_addr = ip.saddr;
		p->dst.v4.s_addr = ip.daddr;
		p->ttl = ip.ttl;
	} else if (proto == ETH_P_IPV6 && (m->flags & XDPWG_META_F_IPV6) &&
		   off + sizeof(struct ipv6hdr) + sizeof(uh) <= poff) {
		struct ipv6hdr ip6;

		memcpy(&ip6, f->data + off, sizeof(ip6));
		p->family = AF_INET6;
		memcpy(&p->src.v6, &ip6.saddr, 16);
		memcpy(&p->dst.v6, &ip6.daddr, 16);
		p->ttl = ip6.hop_limit;
	} else {
		return -EINVAL;
	}
	memcpy(&uh, f->data + poff - sizeof(uh), sizeof(uh));
	p->sport = ntohs(uh.source);
	p->dport = ntohs(uh.dest);
	*payload_off = poff;
	*payload_len = plen;
	return 0;
}
