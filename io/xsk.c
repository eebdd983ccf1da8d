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
	bool meta_inline;
	int map_fd;
	uint32_t map_key;
	uint64_t *tx_free; /* stack of free transmit frame addresses */
	uint32_t tx_nfree;
	uint32_t tx_inflight;
};

static bool xsk_pow2(uint32_t v)
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
	if (!xsk_pow2(p->frame_count) || p->frame_count < 2 || !xsk_pow2(p->ring_size) ||
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
	p->meta_inline = opts->meta_inline;
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
		if (p->meta_inline) {
			/* the metadata is the frame's first bytes: step over them */
			m = (const struct xdpwg_meta *)out[i].data;
			if (d->len >= sizeof(*m) && m->magic == XDPWG_META_MAGIC) {
				out[i].meta = m;
				out[i].data += sizeof(*m);
				out[i].len -= (uint32_t)sizeof(*m);
				out[i].cap -= (uint32_t)sizeof(*m);
			}
		} else if (in_frame >= sizeof(*m)) {
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

static uint32_t xsk_ring_used(const uint32_t *producer, const uint32_t *consumer)
{
	return __atomic_load_n(producer, __ATOMIC_RELAXED) -
	       __atomic_load_n(consumer, __ATOMIC_RELAXED);
}

void xsk_port_depths(const struct xsk_port *p, struct xsk_port_depths *d)
{
	d->rx = xsk_ring_used(p->rx.producer, p->rx.consumer);
	d->fill = xsk_ring_used(p->fill.producer, p->fill.consumer);
	d->tx = xsk_ring_used(p->tx.producer, p->tx.consumer);
	d->tx_inflight = __atomic_load_n(&p->tx_inflight, __ATOMIC_RELAXED);
}
