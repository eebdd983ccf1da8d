// SPDX-License-Identifier: GPL-2.0
/*
 * AF_XDP ports on libxdp's xsk API. See xsk.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/if_ether.h>
#include <linux/if_xdp.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include <xdp/xsk.h>

#include "csum.h"
#include "log.h"
#include "xsk.h"

#ifndef ETH_P_8021AD
#define ETH_P_8021AD 0x88A8
#endif

struct xsk_port {
	struct xsk_ring_prod fill;
	struct xsk_ring_cons comp;
	struct xsk_ring_cons rx;
	struct xsk_ring_prod tx;
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	void *area;
	size_t area_len;
	uint32_t frame_size;
	uint32_t frame_count;
	uint32_t ring_size;
	uint32_t queue;
	bool zerocopy;
	bool need_wakeup;
	int map_fd;
	uint32_t map_key;
	uint64_t *tx_free; /* stack of free transmit frame addresses */
	uint32_t tx_nfree;
	uint32_t tx_inflight;
};

static bool pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

static void port_teardown(struct xsk_port *p)
{
	if (p->xsk)
		xsk_socket__delete(p->xsk);
	p->xsk = NULL;
	if (p->umem)
		xsk_umem__delete(p->umem);
	p->umem = NULL;
}

/* UMEM, rings and socket; bind_flags XDP_ZEROCOPY or XDP_COPY (plus need-wakeup). */
static int port_setup(struct xsk_port *p, const char *ifname, uint32_t bind_flags)
{
	struct xsk_umem_config ucfg = {
		.fill_size = p->ring_size,
		.comp_size = p->ring_size,
		.frame_size = p->frame_size,
		.frame_headroom = 0,
		.flags = 0,
	};
	struct xsk_socket_config scfg = {
		.rx_size = p->ring_size,
		.tx_size = p->ring_size,
		.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD,
		.xdp_flags = 0,
		.bind_flags = (uint16_t)bind_flags,
	};
	int err;

	/* libxdp 1.3.1 leaves the cached producer/consumer of these uninitialised */
	memset(&p->fill, 0, sizeof(p->fill));
	memset(&p->comp, 0, sizeof(p->comp));
	memset(&p->rx, 0, sizeof(p->rx));
	memset(&p->tx, 0, sizeof(p->tx));
	err = xsk_umem__create(&p->umem, p->area, p->area_len, &p->fill, &p->comp, &ucfg);
	if (err) {
		p->umem = NULL;
		return err;
	}
	err = xsk_socket__create(&p->xsk, ifname, p->queue, p->umem, &p->rx, &p->tx, &scfg);
	if (err) {
		p->xsk = NULL;
		port_teardown(p);
		return err;
	}
	return 0;
}

int xsk_port_open(const struct xsk_port_opts *opts, struct xsk_port **out)
{
	uint32_t need_wakeup, i, idx, nrx;
	struct xsk_port *p;
	int err;

	*out = NULL;
	if (!opts || !opts->ifname)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->area = MAP_FAILED;
	p->map_fd = -1;
	p->queue = opts->queue;
	p->frame_count = opts->frame_count ? opts->frame_count : 4096;
	p->frame_size = opts->frame_size ? opts->frame_size : XSK_UMEM__DEFAULT_FRAME_SIZE;
	p->ring_size = opts->ring_size ? opts->ring_size : p->frame_count / 2;
	if (!pow2(p->frame_count) || p->frame_count < 2 || !pow2(p->ring_size) ||
	    (p->frame_size != 2048 && p->frame_size != 4096) || p->ring_size < p->frame_count / 2) {
		err = -EINVAL;
		goto cleanup;
	}
	p->area_len = (size_t)p->frame_count * p->frame_size;
	p->area =
		mmap(NULL, p->area_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p->area == MAP_FAILED) {
		err = -errno;
		goto cleanup;
	}
	p->tx_free = calloc(p->frame_count / 2, sizeof(*p->tx_free));
	if (!p->tx_free) {
		err = -ENOMEM;
		goto cleanup;
	}

	p->need_wakeup = !opts->no_need_wakeup;
	need_wakeup = p->need_wakeup ? XDP_USE_NEED_WAKEUP : 0;
	err = -EOPNOTSUPP;
	if (opts->mode != XSK_PORT_MODE_COPY) {
		err = port_setup(p, opts->ifname, XDP_ZEROCOPY | need_wakeup);
		if (!err)
			p->zerocopy = true;
		else if (opts->mode == XSK_PORT_MODE_AUTO)
			log_debug("xsk: %s queue %u: zero-copy refused (%s), using copy mode",
				  opts->ifname, p->queue, strerror(-err));
	}
	if (err && opts->mode != XSK_PORT_MODE_ZEROCOPY)
		err = port_setup(p, opts->ifname, XDP_COPY | need_wakeup);
	if (err) {
		log_err("xsk: %s queue %u: %s", opts->ifname, p->queue, strerror(-err));
		goto cleanup;
	}

	/* first half of the UMEM receives, second half transmits */
	nrx = p->frame_count / 2;
	if (xsk_ring_prod__reserve(&p->fill, nrx, &idx) != nrx) {
		err = -ENOSPC;
		goto cleanup;
	}
	for (i = 0; i < nrx; i++)
		*xsk_ring_prod__fill_addr(&p->fill, idx + i) = (uint64_t)i * p->frame_size;
	xsk_ring_prod__submit(&p->fill, nrx);
	for (i = 0; i < p->frame_count - nrx; i++)
		p->tx_free[i] = (uint64_t)(nrx + i) * p->frame_size;
	p->tx_nfree = p->frame_count - nrx;

	if (opts->xsks_map_fd > 0) {
		int fd = xsk_socket__fd(p->xsk);

		if (bpf_map_update_elem(opts->xsks_map_fd, &opts->map_key, &fd, BPF_ANY)) {
			err = -errno;
			log_err("xsk: registering %s queue %u in xsks[%u]: %s", opts->ifname,
				p->queue, opts->map_key, strerror(errno));
			goto cleanup;
		}
		p->map_fd = opts->xsks_map_fd;
		p->map_key = opts->map_key;
	}
	log_info("xsk: %s queue %u bound (%s mode)", opts->ifname, p->queue,
		 p->zerocopy ? "zero-copy" : "copy");
	*out = p;
	return 0;

cleanup:
	xsk_port_close(p);
	return err;
}

void xsk_port_close(struct xsk_port *p)
{
	if (!p)
		return;
	if (p->map_fd > 0)
		bpf_map_delete_elem(p->map_fd, &p->map_key);
	port_teardown(p);
	if (p->area != MAP_FAILED)
		munmap(p->area, p->area_len);
	free(p->tx_free);
	free(p);
}

int xsk_port_fd(const struct xsk_port *p)
{
	return xsk_socket__fd(p->xsk);
}

bool xsk_port_zerocopy(const struct xsk_port *p)
{
	return p->zerocopy;
}

uint32_t xsk_port_queue(const struct xsk_port *p)
{
	return p->queue;
}

unsigned int xsk_port_rx(struct xsk_port *p, struct xsk_frame *out, unsigned int max)
{
	unsigned int n, i;
	uint32_t idx = 0;

	n = xsk_ring_cons__peek(&p->rx, max, &idx);
	for (i = 0; i < n; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&p->rx, idx + i);
		uint64_t addr = xsk_umem__add_offset_to_addr(d->addr);
		uint64_t in_frame = addr & (p->frame_size - 1);
		const struct xdpwg_meta *m;

		out[i].addr = addr;
		out[i].data = xsk_umem__get_data(p->area, addr);
		out[i].len = d->len;
		out[i].cap = p->frame_size - (uint32_t)in_frame;
		out[i].meta = NULL;
		if (in_frame >= sizeof(*m)) {
			m = (const struct xdpwg_meta *)(out[i].data - sizeof(*m));
			if (m->magic == XDPWG_META_MAGIC)
				out[i].meta = m;
		}
	}
	if (n)
		xsk_ring_cons__release(&p->rx, n);
	return n;
}

void xsk_port_rx_release(struct xsk_port *p, const struct xsk_frame *f, unsigned int n)
{
	uint32_t idx = 0;
	unsigned int i;

	if (!n)
		return;
	/* the fill ring holds every receive frame, so this always fits */
	if (xsk_ring_prod__reserve(&p->fill, n, &idx) != n) {
		log_err("xsk: queue %u: fill ring full, %u frames lost", p->queue, n);
		return;
	}
	for (i = 0; i < n; i++) {
		uint64_t base = f[i].addr & ~((uint64_t)p->frame_size - 1);
		uint64_t in_frame = f[i].addr - base;

		if (in_frame >= sizeof(struct xdpwg_meta)) /* no stale metadata next time */
			((struct xdpwg_meta *)(f[i].data - sizeof(struct xdpwg_meta)))->magic = 0;
		*xsk_ring_prod__fill_addr(&p->fill, idx + i) = base;
	}
	xsk_ring_prod__submit(&p->fill, n);
}

bool xsk_port_rx_needs_wakeup(const struct xsk_port *p)
{
	return p->need_wakeup && xsk_ring_prod__needs_wakeup(&p->fill);
}

unsigned int xsk_port_tx_reap(struct xsk_port *p)
{
	uint32_t idx = 0;
	unsigned int n, i;

	n = xsk_ring_cons__peek(&p->comp, p->ring_size, &idx);
	for (i = 0; i < n; i++) {
		uint64_t addr = *xsk_ring_cons__comp_addr(&p->comp, idx + i);

		p->tx_free[p->tx_nfree++] = addr & ~((uint64_t)p->frame_size - 1);
	}
	if (n) {
		xsk_ring_cons__release(&p->comp, n);
		p->tx_inflight -= n;
	}
	return n;
}

unsigned int xsk_port_tx_alloc(struct xsk_port *p, struct xsk_frame *out, unsigned int n)
{
	unsigned int i;

	if (p->tx_nfree < n)
		xsk_port_tx_reap(p);
	if (n > p->tx_nfree)
		n = p->tx_nfree;
	for (i = 0; i < n; i++) {
		uint64_t addr = p->tx_free[--p->tx_nfree];

		out[i].addr = addr;
		out[i].data = xsk_umem__get_data(p->area, addr);
		out[i].cap = p->frame_size;
		out[i].len = 0;
		out[i].meta = NULL;
	}
	return n;
}

void xsk_port_tx_submit(struct xsk_port *p, const struct xsk_frame *f, unsigned int n)
{
	uint32_t idx = 0;
	unsigned int i;

	if (!n)
		return;
	if (xsk_ring_prod__reserve(&p->tx, n, &idx) != n) {
		log_err("xsk: queue %u: tx ring full", p->queue);
		xsk_port_tx_cancel(p, f, n);
		return;
	}
	for (i = 0; i < n; i++) {
		struct xdp_desc *d = xsk_ring_prod__tx_desc(&p->tx, idx + i);

		d->addr = f[i].addr;
		d->len = f[i].len;
		d->options = 0;
	}
	xsk_ring_prod__submit(&p->tx, n);
	p->tx_inflight += n;
}

void xsk_port_tx_cancel(struct xsk_port *p, const struct xsk_frame *f, unsigned int n)
{
	unsigned int i;

	/* a frame may have been moved to start later within its chunk: give back the chunk */
	for (i = 0; i < n; i++)
		p->tx_free[p->tx_nfree++] = f[i].addr & ~((uint64_t)p->frame_size - 1);
}

/* Frames on the TX ring the kernel has not taken yet (its consumer index read with acquire:
 * what it took is done with). */
static bool xsk_tx_pending(const struct xsk_port *p)
{
	return __atomic_load_n(p->tx.consumer, __ATOMIC_ACQUIRE) != *p->tx.producer;
}

int xsk_port_kick(struct xsk_port *p)
{
	if (!p->tx_inflight)
		return 0;
	if (p->need_wakeup && !xsk_ring_prod__needs_wakeup(&p->tx))
		return 0;
	/* In copy mode one sendto transmits at most the socket's TX budget (32 frames by
	 * default) and answers EAGAIN when more wait: kick again while the ring still holds
	 * frames, or the rest would sit there until the next batch (and run the UMEM dry).
	 * Bounded by the ring size over the smallest budget. */
	for (uint32_t i = 0; i <= p->ring_size / 32; i++) {
		if (sendto(xsk_socket__fd(p->xsk), NULL, 0, MSG_DONTWAIT, NULL, 0) >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			break;
		/* EAGAIN with an empty ring: the completion ring is full, reap first */
		if (!xsk_tx_pending(p))
			return 0;
		xsk_port_tx_reap(p);
	}
	if (errno == EAGAIN || errno == EBUSY || errno == ENOBUFS || errno == EINTR)
		return 0;
	return -errno;
}

void xsk_port_busy_kick(struct xsk_port *p)
{
	/* errors (a link going down) are not logged: this runs a million times a second, and
	 * poll() would not have reported them either */
	if (xsk_port_rx_needs_wakeup(p))
		(void)recvfrom(xsk_socket__fd(p->xsk), NULL, 0, MSG_DONTWAIT, NULL, NULL);
	/* two reads of the ring's indexes; the sendto only while frames wait */
	if (xsk_tx_pending(p))
		xsk_port_kick(p);
}

unsigned int xsk_port_tx_inflight(const struct xsk_port *p)
{
	return p->tx_inflight;
}

static uint32_t ring_used(const uint32_t *producer, const uint32_t *consumer)
{
	return __atomic_load_n(producer, __ATOMIC_RELAXED) -
	       __atomic_load_n(consumer, __ATOMIC_RELAXED);
}

void xsk_port_depths(const struct xsk_port *p, struct xsk_port_depths *d)
{
	d->rx = ring_used(p->rx.producer, p->rx.consumer);
	d->fill = ring_used(p->fill.producer, p->fill.consumer);
	d->tx = ring_used(p->tx.producer, p->tx.consumer);
	d->tx_inflight = __atomic_load_n(&p->tx_inflight, __ATOMIC_RELAXED);
}

/* --- headers --- */

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

/* Step over IPv6 extension headers from *off (the first of type nexthdr) to UDP, as the XDP
 * program does (bpf/parse.bpf.h): at most XDPWG_IPV6_EXT_MAX hop-by-hop, routing, destination
 * options, AH and atomic Fragment headers, each whole within end. XDP redirects UDP behind them
 * since #15, so the worker must find the payload the same way. Fragments proper never get here
 * (XDP passes them to the kernel). Returns the extension bytes, or -EINVAL. */
static int xsk_ipv6_skip_ext(const uint8_t *frame, size_t end, size_t *off, uint8_t nexthdr)
{
	size_t start = *off, hl;
	int i;

	for (i = 0; i < XDPWG_IPV6_EXT_MAX && nexthdr != IPPROTO_UDP; i++) {
		if (end < *off + 2)
			return -EINVAL;
		switch (nexthdr) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			hl = ((size_t)frame[*off + 1] + 1) * 8;
			break;
		case IPPROTO_AH:
			hl = ((size_t)frame[*off + 1] + 2) * 4;
			break;
		case IPPROTO_FRAGMENT:
			/* offset 0 and no more fragments only: an atomic fragment */
			if (end < *off + 8 || (frame[*off + 2] << 8 | frame[*off + 3]) != 0)
				return -EINVAL;
			hl = 8;
			break;
		default:
			return -EINVAL;
		}
		if (end < *off + hl)
			return -EINVAL;
		nexthdr = frame[*off];
		*off += hl;
	}
	return nexthdr == IPPROTO_UDP ? (int)(*off - start) : -EINVAL;
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
		memcpy(&ip6, frame + off, sizeof(ip6));
		int ext;

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
		ext = xsk_ipv6_skip_ext(frame, off + avail, &off, ip6.nexthdr);
		if (ext < 0)
			return -EINVAL;
		avail -= (size_t)ext;
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
