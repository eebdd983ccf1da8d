/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What happens once the XDP program has decided: counting the reason (stats), mirroring the
 * frame and its verdict while xdpwgctl capture runs (capture ring buffer), telling userspace
 * about a peer's new source (events ring buffer), and handing an accepted datagram to its
 * AF_XDP socket with struct xdpwg_meta in front (xsks, ifaces). Everything userspace reads back
 * about a frame is written here, so the formats of headers/xdpwg_kern_user.h have one writer.
 */
#ifndef XDPWG_REDIRECT_BPF_H
#define XDPWG_REDIRECT_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "xdpwg_kern_user.h"

#include "chain.bpf.h"
#include "maps.bpf.h"
#include "parse.bpf.h"

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

/* Not ours (another port, not UDP, not to us): counted, then the tunnels after ours on this
 * uplink see it (chain.bpf.h); when none claims it, it passes to the kernel untouched. */
static __always_inline int pass_on(struct xdp_md *ctx, __u32 reason)
{
	__u32 key = ctx->ingress_ifindex, at;
	struct xdpwg_iface *iface;

	count(reason);
	iface = bpf_map_lookup_elem(&ifaces, &key);
	if (iface && iface->chain_at < XDPWG_CHAIN_MAX) {
		at = iface->chain_at;
		chain_from(ctx, at & ~(XDPWG_CHAIN_SLOTS - 1u),
			   (at & (XDPWG_CHAIN_SLOTS - 1u)) + 1);
	}
	return XDP_PASS;
}

/* Mirror the frame's first bytes and its verdict into the capture ring buffer. A subprogram of
 * its own: verified once, and the data path pays only the caller's flag test when it is off. */
static __noinline int capture_frame(struct xdp_md *ctx, __u32 reason, __u32 action, __u32 skip)
{
	void *data_end = (void *)(long)ctx->data_end;
	void *data = (void *)(long)ctx->data;
	struct xdpwg_capture *rec;
	/* 64 bits: the size check and the helper call see the same register */
	__u64 len = data_end - data, caplen;

	/* skip: inline metadata in front of the frame (meta_inline), not on the wire */
	skip &= 0xff;
	if (len < skip)
		return 0;
	len -= skip;

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
	if (bpf_xdp_load_bytes(ctx, skip, rec->data, caplen) < 0) {
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

/* xdpwgctl capture runs (its own switch: an array lookup, inlined by the verifier). */
static __always_inline int capture_on(void)
{
	__u32 key = 0;
	struct xdpwg_capture_ctl *c = bpf_map_lookup_elem(&capture_ctl, &key);

	return c && c->on;
}

/* verdict() for datagrams to the listen port: mirrored when capture is on, without the SKIP
 * bytes of inline metadata the frame may carry in front (meta_inline) */
static __always_inline int wg_verdict_skip(struct xdp_md *ctx, __u32 reason, int action, __u32 skip)
{
	count(reason);
	if (capture_on())
		capture_frame(ctx, reason, action, skip);
	return action;
}

static __always_inline int wg_verdict(struct xdp_md *ctx, __u32 reason, int action)
{
	return wg_verdict_skip(ctx, reason, action, 0);
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

/* One of a multipath peer's other recent sources (the loader keeps them): a standby path's
 * probe is no new source, and raises no event. An unused slot (family 0) never matches. */
static __always_inline int known_path(const struct xdpwg_peer *peer,
				      const struct xdpwg_endpoint *src)
{
#pragma unroll
	for (int i = 0; i < XDPWG_PEER_PATHS; i++)
		if (!endpoint_differs(&peer->paths[i], src))
			return 1;
	return 0;
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

/* Deliver a datagram that passed every check: struct xdpwg_meta in front of the frame, then into
 * the AF_XDP socket of its (interface, receive queue) slot; no socket there, or no room for the
 * metadata: up the stack to the kernel socket. */
static __always_inline int deliver_xsk(struct xdp_md *ctx, const struct pkt_info *pi, __u32 type,
				       __u32 peer_id, __u64 now)
{
	struct xdpwg_iface *iface;
	struct xdpwg_meta *meta;
	__u32 key, slot;
	void *data;
	int ret;

	if (ctx->rx_queue_index >= XDPWG_MAX_QUEUES)
		return wg_verdict(ctx, XDPWG_STAT_NO_XSK_PASSED, XDP_PASS);
	slot = ctx->rx_queue_index;
	key = ctx->ingress_ifindex;
	iface = bpf_map_lookup_elem(&ifaces, &key);
	if (iface)
		slot += iface->slot_base;
	if (slot >= XDPWG_XSKS_MAX)
		return wg_verdict(ctx, XDPWG_STAT_NO_XSK_PASSED, XDP_PASS);

	/* Where it came from and when, in front of the frame for the worker: in the metadata
	 * area, or, where the kernel refuses that, inside the frame itself (meta_inline) */
	if (meta_inline) {
		if (bpf_xdp_adjust_head(ctx, -(int)sizeof(struct xdpwg_meta)) < 0)
			return wg_verdict(ctx, XDPWG_STAT_META_FAILED, XDP_PASS);
		meta = (void *)(long)ctx->data;
		data = (void *)(long)ctx->data_end;
		/* loaded here: the compiler may not merge the two branches' loads into one
		 * through a pointer into ctx (the verifier refuses those) */
		asm volatile("" : "+r"(meta), "+r"(data));
	} else {
		if (bpf_xdp_adjust_meta(ctx, -(int)sizeof(struct xdpwg_meta)) < 0)
			return wg_verdict(ctx, XDPWG_STAT_META_FAILED, XDP_PASS);
		data = (void *)(long)ctx->data;
		meta = (void *)(long)ctx->data_meta;
		asm volatile("" : "+r"(meta), "+r"(data));
	}
	if ((void *)(meta + 1) > data) {
		if (meta_inline)
			bpf_xdp_adjust_head(ctx, (int)sizeof(struct xdpwg_meta));
		return wg_verdict(ctx, XDPWG_STAT_META_FAILED, XDP_PASS);
	}
	meta->rx_ns = now;
	meta->peer_id = peer_id;
	meta->flags = pi->meta_flags;
	meta->msg_type = type;
	meta->payload_off = pi->payload_off;
	meta->payload_len = pi->payload_len;
	meta->magic = XDPWG_META_MAGIC;
	meta->reserved = 0;

	/* redirected frames never reach tcpdump on the uplink: capture mirrors them */
	ret = bpf_redirect_map(&xsks, slot, XDP_PASS);
	if (ret == XDP_REDIRECT)
		return wg_verdict_skip(ctx, XDPWG_STAT_REDIRECTED, XDP_REDIRECT,
				       meta_inline ? sizeof(struct xdpwg_meta) : 0);
	/* up the stack: the kernel must see the frame as it came, without our bytes in front */
	if (meta_inline && !meta_inline_keep &&
	    bpf_xdp_adjust_head(ctx, (int)sizeof(struct xdpwg_meta)) < 0)
		return wg_verdict(ctx, XDPWG_STAT_META_FAILED, XDP_DROP);
	return wg_verdict(ctx, XDPWG_STAT_NO_XSK_PASSED, ret);
}

#endif
