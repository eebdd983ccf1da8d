// SPDX-License-Identifier: GPL-2.0
/*
 * The AF_XDP workers (see io_xdp.h for the picture). One worker per (uplink, RX queue); a worker
 * is the only thread touching its socket's rings, so the rings need no locks. It hands the
 * engine its frames through its own struct wg_path, whose ops (below) send through its AF_XDP
 * socket, deliver into its own TUN queue and lend the engine transmit frames to encrypt into.
 * The shared state a worker reads per packet is the next-hop cache (nexthop.h).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "io_socket.h"
#include "log.h"
#include "netlink.h"
#include "xdp_internal.h"

void io_xdp_endpoint_addr(const struct wg_endpoint *ep, int *family, union nl_addr *ip)
{
	memset(ip, 0, sizeof(*ip));
	*family = ep->addr.sa.sa_family;
	if (*family == AF_INET)
		ip->v4 = ep->addr.in4.sin_addr;
	else
		ip->v6 = ep->addr.in6.sin6_addr;
}

/* A next hop learnt from an authenticated frame, kept only if the kernel would also send to
 * that address, from the local address the frame was sent to (source routing counts: a
 * multi-homed gateway answers from B through B's uplink), out of the uplink the frame came in
 * on. Not so when the frame came through a
 * VLAN device on the uplink (the NIC or veth may have stripped the tag before XDP saw it) or
 * the routing is asymmetric: our untagged AF_XDP replies would go astray, so replies to it
 * take the kernel socket. The route lookup runs only when the entry would change. */
static void io_xdp_neigh_learn(struct io_xdp *x, const struct nexthop *e)
{
	struct sockaddr_storage ss = { 0 };
	struct nexthop cur;
	struct nl_route rt;

	if (!e->used)
		return;
	if (nexthop_get(&x->hops, e->family, &e->ip, &cur) && !memcmp(&cur, e, sizeof(cur)))
		return;
	if (e->family == AF_INET) {
		struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;

		in4->sin_family = AF_INET;
		in4->sin_addr = e->ip.v4;
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_addr = e->ip.v6;
	}
	if (nl_route_get_from((struct sockaddr *)&ss, &e->local_ip, 0, &rt) < 0 ||
	    rt.oif != e->ifindex)
		return;
	nexthop_put(&x->hops, e);
}

/* --- the worker --- */

static void io_xdp_flush(struct io_xdp_worker *w)
{
	if (!w->n_pending)
		return;
	xsk_port_tx_submit(w->port, w->pending, w->n_pending);
	atomic_fetch_add_explicit(&w->tx_frames, w->n_pending, memory_order_relaxed);
	w->n_pending = 0;
	xsk_port_kick(w->port);
}

/* wg_path_ops.tx_room: the engine encrypts into a transmit frame of ours */
static uint8_t *io_xdp_lend(void *ctx, size_t need)
{
	struct io_xdp_worker *w = ctx;

	if (!w->lent_valid) {
		if (xsk_port_tx_alloc(w->port, &w->lent, 1) != 1) {
			io_xdp_flush(w);
			if (xsk_port_tx_alloc(w->port, &w->lent, 1) != 1)
				return NULL;
		}
		w->lent_valid = true;
	}
	if (IO_XDP_TX_PAYLOAD_OFF + need > w->lent.cap)
		return NULL;
	return w->lent.data + IO_XDP_TX_PAYLOAD_OFF;
}

static unsigned int io_xdp_rx_burst(struct io_xdp_worker *w)
{
	struct xsk_frame f[IO_XDP_BATCH];
	unsigned int n = xsk_port_rx(w->port, f, IO_XDP_BATCH);
	uint64_t picked_ns = 0;

	/* once per burst: a move event splits its delay into the kernel's part and ours */
	if (n)
		picked_ns = wg_monotonic_ns();

	for (unsigned int i = 0; i < n; i++) {
		struct xsk_udp_params p;
		struct wg_endpoint src;
		struct nexthop ne = { 0 };
		size_t off, len;

		/* where XDP said the message is (its metadata), the addresses around it */
		if (xsk_frame_udp(&f[i], &p, &off, &len) < 0) {
			atomic_fetch_add_explicit(&w->rx_bad, 1, memory_order_relaxed);
			continue;
		}
		memset(&src, 0, sizeof(src));
		if (p.family == AF_INET) {
			src.addr.in4.sin_family = AF_INET;
			src.addr.in4.sin_addr = p.src.v4;
			src.addr.in4.sin_port = htons(p.sport);
			src.src4 = p.dst.v4;
			ne.ip.v4 = p.src.v4;
			ne.local_ip.v4 = p.dst.v4;
		} else {
			src.addr.in6.sin6_family = AF_INET6;
			src.addr.in6.sin6_addr = p.src.v6;
			src.addr.in6.sin6_port = htons(p.sport);
			src.src6 = p.dst.v6;
			ne.ip.v6 = p.src.v6;
			ne.local_ip.v6 = p.dst.v6;
		}
		/* a tagged frame came through a VLAN device on the uplink, not the uplink: no
		 * interface to pin replies to, the kernel routes them */
		src.src_ifindex = p.vlans || p.no_hop ? 0 : w->ifindex;
		/* the frame's source MAC is the next hop back towards this address */
		ne.family = (uint8_t)p.family;
		ne.ifindex = w->ifindex;
		memcpy(ne.mac, p.src_mac, 6);
		/* our source MAC is our uplink's own, not the frame's destination MAC, which need
		 * not be ours (promiscuous or multicast delivery) */
		memcpy(ne.local_mac, w->has_mac ? w->mac : p.dst_mac, 6);
		/* Our AF_XDP replies are untagged: a tagged frame's next hop is not one they can
		 * reach, so replies to it take the kernel socket (routed out of the VLAN device). */
		ne.used = !p.vlans && !p.no_hop;
		w->rx_hop = ne;
		if (f[i].meta)
			wg_path_set_rx_times(w->path, f[i].meta->rx_ns, picked_ns);
		else
			wg_path_set_rx_times(w->path, 0, 0);
		atomic_fetch_add_explicit(&w->rx_frames, 1, memory_order_relaxed);
		if (wg_device_rx(w->path, f[i].data + off, len, &src))
			io_xdp_neigh_learn(w->x, &w->rx_hop);
		w->rx_hop.used = 0;
	}
	wg_path_batch_end(w->path);
	/* at the latest here: what was joined must not wait for the next burst */
	if (w->tungro.len)
		tun_gro_flush(w->x->tun, w->tunq, &w->tungro);
	if (n)
		xsk_port_rx_release(w->port, f, n);
	return n;
}

/* The segments of one super-packet: one route lookup and nonce reservation for them all. */
static void io_xdp_tun_packets(void *ctx, const struct iovec *segs, unsigned int n)
{
	struct io_xdp_worker *w = ctx;

	atomic_fetch_add_explicit(&w->tun_packets, n, memory_order_relaxed);
	wg_device_tx_batch(w->path, segs, n);
}

static unsigned int io_xdp_tun_burst(struct io_xdp_worker *w)
{
	unsigned int i;

	/* with offloads one read may be a 64 KB super-packet: up to ~45 segments */
	for (i = 0; i < IO_XDP_BATCH; i++) {
		ssize_t r = tun_read_gso_batch(w->x->tun, w->tunq, w->tunbuf, sizeof(w->tunbuf),
					       io_xdp_tun_packets, w);

		if (r <= 0)
			break;
	}
	return i;
}

/* Sleep in poll() until the socket, the TUN queue or the stop eventfd has something. */
static void io_xdp_worker_sleep(struct io_xdp_worker *w)
{
	struct io_xdp *x = w->x;
	struct pollfd pfd[3] = {
		{ .fd = xsk_port_fd(w->port), .events = POLLIN },
		{ .fd = x->tun->fds[w->tunq], .events = POLLIN },
		{ .fd = x->stop_fd, .events = POLLIN },
	};

	while (!atomic_load_explicit(&x->stop, memory_order_relaxed)) {
		if (poll(pfd, 3, IO_XDP_POLL_MS) < 0 && errno != EINTR)
			break;
		/* drain both directions before sleeping again; bounded so neither starves */
		for (int round = 0; round < 64; round++) {
			unsigned int r = io_xdp_rx_burst(w);
			unsigned int t = io_xdp_tun_burst(w);

			io_xdp_flush(w);
			if (!r && !t)
				break;
		}
		xsk_port_tx_reap(w->port);
	}
}

static inline void io_xdp_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	/* lets a hyperthread sibling run and spares the pipeline flush a tight spin pays when
	 * it ends; ~20 ns on the test VM */
	__builtin_ia32_pause();
#else
	__asm__ __volatile__("" ::: "memory");
#endif
}

/*
 * --busy-poll: never sleep. poll()'s wakeup is most of the delay between XDP redirecting a
 * frame and the worker acting on it (0.14-0.24 ms p50 on the test VM); spinning on the RX
 * ring's producer index turns that into a memory read, at the price of the whole CPU. The
 * TUN has no ring to look at, only a read() syscall: it is asked every IO_XDP_BUSY_TUN_EVERY
 * loops, and on every loop while it keeps returning packets.
 */
static void io_xdp_worker_busy(struct io_xdp_worker *w)
{
	struct io_xdp *x = w->x;
	unsigned int since_tun = 0;
	bool tun_busy = true;

	while (!atomic_load_explicit(&x->stop, memory_order_relaxed)) {
		unsigned int r = io_xdp_rx_burst(w), t = 0;

		if (tun_busy || ++since_tun >= IO_XDP_BUSY_TUN_EVERY) {
			t = io_xdp_tun_burst(w);
			tun_busy = t > 0;
			since_tun = 0;
		}
		io_xdp_flush(w);
		xsk_port_tx_reap(w->port);
		/* what poll() did for us: the fill ring's need_wakeup, TX left behind by a kick */
		xsk_port_busy_kick(w->port);
		if (!r && !t)
			io_xdp_cpu_relax();
	}
}

void *io_xdp_worker_main(void *arg)
{
	struct io_xdp_worker *w = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	/* pinned so that the queue's interrupts, its ring and its worker share a cache */
	errno = pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	if (errno)
		log_warn("xdp: worker for queue %u: cannot pin to CPU %d: %s", w->queue, w->cpu,
			 strerror(errno));

	if (w->x->busy_poll)
		io_xdp_worker_busy(w);
	else
		io_xdp_worker_sleep(w);
	io_xdp_flush(w);
	if (w->lent_valid)
		xsk_port_tx_cancel(w->port, &w->lent, 1);
	w->lent_valid = false;
	return NULL;
}

/* --- the worker's path: what the engine does with the packets it handles here --- */

/* xdpwgctl capture runs: the frame as it leaves, into the capture_tx queue (a syscall per frame,
 * only while capturing; a full queue loses the copy, not the frame). */
static void io_xdp_capture_tx(struct io_xdp_worker *w, const uint8_t *frame, uint32_t len)
{
	struct xdpwg_capture rec = { 0 };
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* bpf_ktime_get_ns's clock: one timeline */
	rec.ts_ns = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	rec.ifindex = (uint32_t)w->ifindex;
	rec.rx_queue = w->queue;
	rec.len = len;
	rec.caplen = len < XDPWG_CAPTURE_SNAPLEN ? len : XDPWG_CAPTURE_SNAPLEN;
	rec.action = XDPWG_CAPTURE_ACTION_TX;
	memcpy(rec.data, frame, rec.caplen);
	bpf_map_update_elem(loader_capture_tx_fd(w->x->ld), NULL, &rec, BPF_ANY);
}

/* Through our AF_XDP socket when the next hop is known on our uplink, else -EAGAIN. */
static int io_xdp_xsk_send(struct io_xdp_worker *w, const struct wg_endpoint *dst,
			   const uint8_t *buf, size_t len)
{
	struct io_xdp *x = w->x;
	struct xsk_udp_params p = { 0 };
	struct nexthop ne;
	struct xsk_frame fr;
	union nl_addr ip;
	size_t hl;
	int family, flen;

	if (!endpoint_is_set(dst))
		return -EAGAIN;
	io_xdp_endpoint_addr(dst, &family, &ip);
	if (!nexthop_get(&x->hops, family, &ip, &ne) || ne.ifindex != w->ifindex)
		goto fallback;
	/* The entry was learnt for another of our addresses than the one the peer now writes to
	 * (its cached source changed before a frame to the new one taught a next hop): the uplink
	 * may be the wrong one for that source, so the kernel routes this one. */
	if (family == AF_INET ? dst->src4.s_addr && dst->src4.s_addr != ne.local_ip.v4.s_addr
			      : !IN6_IS_ADDR_UNSPECIFIED(&dst->src6) &&
					memcmp(&dst->src6, &ne.local_ip.v6, 16))
		goto fallback;
	hl = xsk_udp_hdr_len(family);
	if (w->lent_valid && buf == w->lent.data + IO_XDP_TX_PAYLOAD_OFF) {
		/* encrypted where it leaves from: headers go right in front of it */
		size_t off = IO_XDP_TX_PAYLOAD_OFF - hl;

		fr = w->lent;
		w->lent_valid = false;
		fr.data += off;
		fr.addr += off;
		fr.cap -= (uint32_t)off;
	} else if (xsk_port_tx_alloc(w->port, &fr, 1) != 1) {
		/* every transmit frame in flight: push what we have and try once more */
		io_xdp_flush(w);
		if (xsk_port_tx_alloc(w->port, &fr, 1) != 1)
			goto fallback;
	}
	if (hl + len > fr.cap) {
		xsk_port_tx_cancel(w->port, &fr, 1);
		goto fallback;
	}
	memcpy(p.src_mac, ne.local_mac, 6);
	memcpy(p.dst_mac, ne.mac, 6);
	p.family = family;
	if (family == AF_INET) {
		p.dst.v4 = dst->addr.in4.sin_addr;
		p.src.v4 = dst->src4.s_addr ? dst->src4 : ne.local_ip.v4;
		p.dport = ntohs(dst->addr.in4.sin_port);
	} else {
		static const struct in6_addr any = IN6ADDR_ANY_INIT;

		p.dst.v6 = dst->addr.in6.sin6_addr;
		p.src.v6 = memcmp(&dst->src6, &any, sizeof(any)) ? dst->src6 : ne.local_ip.v6;
		p.dport = ntohs(dst->addr.in6.sin6_port);
	}
	p.sport = atomic_load_explicit(&x->port, memory_order_relaxed);
	if (fr.data + hl != buf)
		memcpy(fr.data + hl, buf, len);
	flen = xsk_build_udp(fr.data, fr.cap, &p, len);
	if (flen < 0) {
		xsk_port_tx_cancel(w->port, &fr, 1);
		goto fallback;
	}
	fr.len = (uint32_t)flen;
	if (x->capture && x->capture->on)
		io_xdp_capture_tx(w, fr.data, fr.len);
	w->pending[w->n_pending++] = fr;
	if (w->n_pending == IO_XDP_BATCH)
		io_xdp_flush(w);
	return 0;
fallback:
	atomic_fetch_add_explicit(&w->tx_fallback, 1, memory_order_relaxed);
	return -EAGAIN;
}

/* wg_path_ops.send: AF_XDP, else the kernel socket, which routes and resolves as usual */
static int io_xdp_path_send(void *ctx, const struct wg_endpoint *dst, const uint8_t *buf,
			    size_t len)
{
	struct io_xdp_worker *w = ctx;

	if (io_xdp_xsk_send(w, dst, buf, len) == 0)
		return 0;
	return io_socket_send(w->x->sock, dst, buf, len);
}

/* wg_path_ops.deliver: into this worker's own TUN queue */
static int io_xdp_path_deliver(void *ctx, const uint8_t *pkt, size_t len)
{
	struct io_xdp_worker *w = ctx;

	if (w->gro)
		return tun_gro_write(w->x->tun, w->tunq, &w->tungro, pkt, len);
	return tun_write(w->x->tun, w->tunq, pkt, len);
}

/* wg_path_ops.endpoint_moved: the frame being handled authenticated and moved its peer; its
 * next hop is now trustworthy, and the replies that follow at once (the acknowledgment, the
 * peers map's next hop that the daemon's hook writes next) can leave through AF_XDP. */
static void io_xdp_path_moved(void *ctx, const struct wg_endpoint *new_ep)
{
	struct io_xdp_worker *w = ctx;
	union nl_addr ip;
	int family;

	io_xdp_endpoint_addr(new_ep, &family, &ip);
	if (w->rx_hop.used && w->rx_hop.family == family &&
	    !memcmp(&w->rx_hop.ip, &ip, nexthop_alen(family)))
		io_xdp_neigh_learn(w->x, &w->rx_hop);
}

const struct wg_path_ops io_xdp_path_ops = {
	.send = io_xdp_path_send,
	.deliver = io_xdp_path_deliver,
	.tx_room = io_xdp_lend,
	.endpoint_moved = io_xdp_path_moved,
};
