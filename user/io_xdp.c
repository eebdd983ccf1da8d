// SPDX-License-Identifier: GPL-2.0
/*
 * The AF_XDP back-end (see io_xdp.h for the picture). One worker per (uplink, RX queue); a
 * worker is the only thread touching its socket's rings, so the rings need no locks. The shared
 * state a worker reads per packet is the next-hop cache, under a reader/writer lock that is
 * written only when something changed.
 */
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto.h"
#include "io_xdp.h"
#include "log.h"
#include "netlink.h"
#include "nexthop.h"
#include "send.h"
#include "xsk.h"

struct io_xdp_worker {
	struct io_xdp *x;
	/* the next hop the frame being processed came through: learnt only once the engine has
	 * authenticated that frame, so a forged frame cannot steer our replies elsewhere */
	struct nexthop rx_hop;
	uint64_t rx_ns;	    /* XDP timestamp of the frame being processed, 0 if none */
	uint64_t picked_ns; /* when this burst was taken off the RX ring (CLOCK_MONOTONIC ns) */
	pthread_t thread;
	bool started;
	struct xsk_port *port;
	int ifindex;
	/* the uplink's own MAC: the source MAC of our replies (not the received frame's
	 * destination MAC, which need not be ours: promiscuous or multicast delivery) */
	uint8_t mac[6];
	bool has_mac;
	uint32_t queue;
	unsigned int tunq;
	int cpu;
	struct xsk_frame pending[IO_XDP_BATCH];
	unsigned int n_pending;
	/* a transmit frame lent to the engine to encrypt into (send.h); the message starts at
	 * IO_XDP_TX_PAYLOAD_OFF, room for the largest (IPv6) headers in front */
	struct send_tx_lender lender;
	struct xsk_frame lent;
	bool lent_valid;
	uint8_t tunbuf[TUN_GSO_BUF]; /* a TSO super-packet and one segment */
	bool gro;		     /* join decrypted TCP segments before writing them */
	struct tun_gro tungro;	     /* what is being joined, written at the end of a burst */
	/* counters, read racily by io_xdp_worker_info */
	_Atomic uint64_t rx_frames, rx_bad, tx_frames, tx_fallback, tun_packets;
};

struct io_xdp {
	struct wg_device *dev;
	struct tun_dev *tun;
	struct xdpwg_loader *ld;
	int ifindex[IO_XDP_MAX_IFACES];
	unsigned int n_ifaces;
	struct io_xdp_worker *workers[IO_XDP_MAX_WORKERS];
	unsigned int n_workers;
	int stop_fd;
	atomic_bool stop;
	bool busy_poll; /* workers spin instead of sleeping in poll() (io_xdp_worker_busy) */
	int cpus[IO_XDP_MAX_WORKERS]; /* --worker-cpus, in order; n_cpus 0: round robin */
	unsigned int n_cpus;
	_Atomic uint16_t port; /* our UDP source port */
	struct nexthop_cache neigh;
};

/* The worker running on this thread, if any: how send/deliver know which rings to use. */
static __thread struct io_xdp_worker *io_xdp_current;

static size_t io_xdp_alen(int family)
{
	return family == AF_INET ? 4 : 16;
}

static bool io_xdp_neigh_get(struct io_xdp *x, int family, const union nl_addr *ip,
			     struct nexthop *out)
{
	return nexthop_get(&x->neigh, family, ip, out);
}

static void io_xdp_neigh_put(struct io_xdp *x, const struct nexthop *e)
{
	nexthop_put(&x->neigh, e);
}

/* A next hop learnt from an authenticated frame, kept only if the kernel would also send to
 * that address out of the uplink the frame came in on. Not so when the frame came through a
 * VLAN device on the uplink (the NIC or veth may have stripped the tag before XDP saw it) or
 * the routing is asymmetric: our untagged AF_XDP replies would go astray, so replies to it
 * take the kernel socket. The route lookup runs only when the entry would change. */
static void io_xdp_neigh_learn(struct io_xdp *x, const struct nexthop *e)
{
	struct sockaddr_storage ss = { 0 };
	struct nexthop cur;
	struct nl_route rt;

	if (nexthop_get(&x->neigh, e->family, &e->ip, &cur) && !memcmp(&cur, e, sizeof(cur)))
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
	if (nl_route_get((struct sockaddr *)&ss, 0, &rt) < 0 || rt.oif != e->ifindex)
		return;
	nexthop_put(&x->neigh, e);
}

static void io_xdp_endpoint_addr(const struct wg_endpoint *ep, int *family, union nl_addr *ip)
{
	memset(ip, 0, sizeof(*ip));
	*family = ep->addr.sa.sa_family;
	if (*family == AF_INET)
		ip->v4 = ep->addr.in4.sin_addr;
	else
		ip->v6 = ep->addr.in6.sin6_addr;
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

	/* once per burst: a move event splits its delay into the kernel's part and ours */
	if (n)
		w->picked_ns = wg_monotonic_ns();

	for (unsigned int i = 0; i < n; i++) {
		struct xsk_udp_params p;
		struct wg_endpoint src;
		struct nexthop ne = { 0 };
		size_t off, len;

		if (xsk_parse_udp(f[i].data, f[i].len, &p, &off, &len) < 0) {
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
		src.src_ifindex = p.vlans ? 0 : w->ifindex;
		/* the frame's source MAC is the next hop back towards this address */
		ne.family = (uint8_t)p.family;
		ne.ifindex = w->ifindex;
		memcpy(ne.mac, p.src_mac, 6);
		memcpy(ne.local_mac, w->has_mac ? w->mac : p.dst_mac, 6);
		/* Our AF_XDP replies are untagged: a tagged frame's next hop is not one they can
		 * reach, so replies to it take the kernel socket (routed out of the VLAN device). */
		ne.used = !p.vlans;
		w->rx_hop = ne;
		w->rx_ns = f[i].meta ? f[i].meta->rx_ns : 0;
		atomic_fetch_add_explicit(&w->rx_frames, 1, memory_order_relaxed);
		if (wg_device_rx(w->x->dev, f[i].data + off, len, &src) && w->rx_hop.used)
			io_xdp_neigh_learn(w->x, &w->rx_hop);
		w->rx_hop.used = 0;
		w->rx_ns = 0;
	}
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
	wg_device_tx_batch(w->x->dev, segs, n);
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

static void *io_xdp_worker_main(void *arg)
{
	struct io_xdp_worker *w = arg;
	cpu_set_t set;

	io_xdp_current = w;
	w->lender = (struct send_tx_lender){ .get = io_xdp_lend, .ctx = w };
	send_set_tx_lender(&w->lender);
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
	send_set_tx_lender(NULL);
	if (w->lent_valid)
		xsk_port_tx_cancel(w->port, &w->lent, 1);
	w->lent_valid = false;
	io_xdp_current = NULL;
	return NULL;
}

/* --- glue called by the engine --- */

int io_xdp_send(struct io_xdp *x, const struct wg_endpoint *dst, const uint8_t *buf, size_t len)
{
	struct io_xdp_worker *w = io_xdp_current;
	struct xsk_udp_params p = { 0 };
	struct nexthop ne;
	struct xsk_frame fr;
	union nl_addr ip;
	size_t hl;
	int family, flen;

	if (!w || w->x != x || !endpoint_is_set(dst))
		return -EAGAIN;
	io_xdp_endpoint_addr(dst, &family, &ip);
	if (!io_xdp_neigh_get(x, family, &ip, &ne) || ne.ifindex != w->ifindex)
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
	w->pending[w->n_pending++] = fr;
	if (w->n_pending == IO_XDP_BATCH)
		io_xdp_flush(w);
	return 0;
fallback:
	atomic_fetch_add_explicit(&w->tx_fallback, 1, memory_order_relaxed);
	return -EAGAIN;
}

int io_xdp_deliver(struct io_xdp *x, const uint8_t *pkt, size_t len)
{
	struct io_xdp_worker *w = io_xdp_current;

	if (!w || w->x != x)
		return -EAGAIN;
	if (w->gro)
		return tun_gro_write(x->tun, w->tunq, &w->tungro, pkt, len);
	return tun_write(x->tun, w->tunq, pkt, len);
}

int io_xdp_set_port(struct io_xdp *x, uint16_t port)
{
	atomic_store(&x->port, port);
	return loader_set_port(x->ld, port);
}

void io_xdp_session_add(struct io_xdp *x, uint32_t index, struct wg_peer *peer)
{
	int ret = loader_session_add(x->ld, index, wg_peer_id(peer));

	if (ret < 0) {
		/* Without its index in the map XDP would drop this peer's data as unknown: let
		 * unknown indexes through to the kernel socket instead, where the engine decides. */
		log_warn("xdp: sessions map: adding index %u failed (%s); unknown indexes now go "
			 "to the kernel socket",
			 index, strerror(-ret));
		if (loader_set_pass_unknown(x->ld) < 0)
			log_err("xdp: cannot switch the program to passing unknown indexes");
	}
}

void io_xdp_session_del(struct io_xdp *x, uint32_t index)
{
	loader_session_del(x->ld, index);
}

void io_xdp_peer_update(struct io_xdp *x, struct wg_peer *peer)
{
	struct wg_endpoint ep;
	struct nexthop ne;
	union nl_addr ip;
	int family, ret;
	uint32_t flags = wg_peer_roam_pinned(peer) ? XDPWG_PEER_F_ROAM_PINNED : 0;

	wg_peer_get_endpoint(peer, &ep);
	if (!endpoint_is_set(&ep)) {
		loader_peer_update(x->ld, wg_peer_id(peer), NULL, NULL, NULL, flags);
		return;
	}
	io_xdp_endpoint_addr(&ep, &family, &ip);
	/* Called by the engine on the worker that just authenticated a packet from the peer's
	 * new address: that packet's next hop is now trustworthy, and the replies that follow at
	 * once can leave through AF_XDP. */
	if (io_xdp_current && io_xdp_current->x == x && io_xdp_current->rx_hop.used &&
	    io_xdp_current->rx_hop.family == family &&
	    !memcmp(&io_xdp_current->rx_hop.ip, &ip, io_xdp_alen(family)))
		io_xdp_neigh_learn(x, &io_xdp_current->rx_hop);
	if (!io_xdp_neigh_get(x, family, &ip, &ne)) {
		/* never heard from it: ask the kernel how it would get there */
		struct nl_route rt;

		memset(&ne, 0, sizeof(ne));
		if (nl_route_get(&ep.addr.sa, 0, &rt) == 0) {
			const union nl_addr *hop = rt.has_gateway ? &rt.gateway : &ip;

			for (unsigned int i = 0; i < x->n_ifaces; i++) {
				if (x->ifindex[i] != rt.oif)
					continue;
				if (nl_neigh_get(rt.oif, family, hop, ne.mac) == 0 &&
				    nl_link_mac(rt.oif, ne.local_mac) == 0) {
					ne.used = 1;
					ne.family = (uint8_t)family;
					ne.ifindex = rt.oif;
					ne.ip = ip;
					if (rt.has_prefsrc)
						ne.local_ip = rt.prefsrc;
					io_xdp_neigh_put(x, &ne);
				}
			}
		}
	}
	ret = loader_peer_update(x->ld, wg_peer_id(peer), &ep, ne.used ? ne.mac : NULL,
				 ne.used ? ne.local_mac : NULL, flags);
	if (ret < 0)
		log_warn("xdp: peers map: update failed: %s", strerror(-ret));
}

void io_xdp_peer_removed(struct io_xdp *x, struct wg_peer *peer)
{
	loader_peer_delete(x->ld, wg_peer_id(peer));
}

unsigned int io_xdp_workers(const struct io_xdp *x)
{
	return x->n_workers;
}

struct xdpwg_loader *io_xdp_loader(struct io_xdp *x)
{
	return x->ld;
}

int io_xdp_worker_info(const struct io_xdp *x, unsigned int i, struct io_xdp_worker_info *out)
{
	const struct io_xdp_worker *w;
	struct xsk_port_depths d;

	if (i >= x->n_workers)
		return -ENOENT;
	w = x->workers[i];
	memset(out, 0, sizeof(*out));
	out->ifindex = w->ifindex;
	out->queue = w->queue;
	out->cpu = w->cpu;
	out->tun_queue = w->tunq;
	out->zerocopy = xsk_port_zerocopy(w->port);
	out->busy_poll = x->busy_poll;
	out->rx_frames = atomic_load(&w->rx_frames);
	out->rx_bad = atomic_load(&w->rx_bad);
	out->tx_frames = atomic_load(&w->tx_frames);
	out->tx_fallback = atomic_load(&w->tx_fallback);
	out->tun_packets = atomic_load(&w->tun_packets);
	xsk_port_depths(w->port, &d);
	out->rx_ring = d.rx;
	out->fill_ring = d.fill;
	out->tx_ring = d.tx;
	out->tx_inflight = d.tx_inflight;
	return 0;
}

void io_xdp_routes_changed(struct io_xdp *x)
{
	nexthop_cache_clear(&x->neigh);
}

uint64_t io_xdp_current_picked_ns(const struct io_xdp *x)
{
	const struct io_xdp_worker *w = io_xdp_current;

	return w && w->x == x && w->rx_ns ? w->picked_ns : 0;
}

uint64_t io_xdp_current_rx_ns(const struct io_xdp *x)
{
	const struct io_xdp_worker *w = io_xdp_current;

	return w && w->x == x ? w->rx_ns : 0;
}

/* --- set-up and tear-down --- */

/* RX queues of an interface: the driver's channel count (ethtool), else what sysfs lists. */
static unsigned int io_xdp_rx_queues(const char *ifname)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr = { 0 };
	unsigned int n = 0;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd >= 0) {
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
		ifr.ifr_data = (void *)&ch;
		if (ioctl(fd, SIOCETHTOOL, &ifr) == 0)
			n = ch.combined_count > ch.rx_count ? ch.combined_count : ch.rx_count;
		close(fd);
	}
	if (!n) {
		char path[64 + IF_NAMESIZE];

		for (n = 0; n < XDPWG_MAX_QUEUES; n++) {
			snprintf(path, sizeof(path), "/sys/class/net/%s/queues/rx-%u", ifname, n);
			if (access(path, F_OK))
				break;
		}
	}
	return n ? n : 1;
}

void io_xdp_stop(struct io_xdp *x)
{
	uint64_t one = 1;

	if (!x)
		return;
	atomic_store(&x->stop, true);
	if (x->stop_fd >= 0 && write(x->stop_fd, &one, sizeof(one)) < 0)
		log_debug("xdp: waking workers: %s", strerror(errno));
	for (unsigned int i = 0; i < x->n_workers; i++) {
		struct io_xdp_worker *w = x->workers[i];

		if (w->started)
			pthread_join(w->thread, NULL);
		xsk_port_close(w->port);
		/* the last plaintext packet read from the TUN, as the daemon does with its own */
		crypto_wipe(w->tunbuf, sizeof(w->tunbuf));
		crypto_wipe(w->tungro.buf, sizeof(w->tungro.buf));
		free(w);
	}
	loader_destroy(x->ld);
	if (x->stop_fd >= 0)
		close(x->stop_fd);
	nexthop_cache_destroy(&x->neigh);
	free(x);
}

static int io_xdp_add_workers(struct io_xdp *x, const char *ifname, int ifindex, unsigned int ncpu)
{
	unsigned int nq = io_xdp_rx_queues(ifname);

	for (unsigned int q = 0; q < nq; q++) {
		struct xsk_port_opts po = { 0 };
		struct io_xdp_worker *w;
		int key, ret;

		if (x->n_workers == IO_XDP_MAX_WORKERS) {
			log_warn("xdp: %s: queues beyond %u stay on the kernel socket", ifname,
				 IO_XDP_MAX_WORKERS);
			return 0;
		}
		key = loader_xsk_key(x->ld, ifindex, q);
		if (key < 0)
			return key;
		w = calloc(1, sizeof(*w));
		if (!w)
			return -ENOMEM;
		w->x = x;
		w->ifindex = ifindex;
		w->has_mac = nl_link_mac(ifindex, w->mac) == 0;
		if (!w->has_mac)
			log_warn("xdp: %s: no MAC address: replies copy the received frames'",
				 ifname);
		w->queue = q;
		w->cpu = x->n_cpus ? x->cpus[x->n_workers % x->n_cpus] : (int)(x->n_workers % ncpu);
		po.ifname = ifname;
		po.queue = q;
		po.xsks_map_fd = loader_xsks_fd(x->ld);
		po.map_key = (uint32_t)key;
		ret = xsk_port_open(&po, &w->port);
		if (ret < 0) {
			log_err("xdp: %s queue %u: AF_XDP socket: %s", ifname, q, strerror(-ret));
			free(w);
			return ret;
		}
		log_info("xdp: %s queue %u: AF_XDP socket in %s mode", ifname, q,
			 xsk_port_zerocopy(w->port) ? "zero-copy" : "copy");
		x->workers[x->n_workers++] = w;
	}
	return 0;
}

int io_xdp_start(const struct io_xdp_opts *o, struct io_xdp **out)
{
	/* The peers and sessions maps are not preallocated: size them for the engine's own limit
	 * (DEVICE_MAX_PEERS, 2^20) rather than the BPF defaults (65536 peers), so 100,000 peers
	 * fit; an entry costs memory only once it exists. */
	struct loader_opts lo = { .tun_name = o->tun_name,
				  .max_peers = IO_XDP_MAX_PEERS,
				  .max_sessions = 3 * IO_XDP_MAX_PEERS };
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct io_xdp *x;
	int ret;

	*out = NULL;
	if (!o->n_ifaces || o->n_ifaces > IO_XDP_MAX_IFACES)
		return -EINVAL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->dev = o->dev;
	x->tun = o->tun;
	x->busy_poll = o->busy_poll;
	x->n_cpus = o->n_cpus < IO_XDP_MAX_WORKERS ? o->n_cpus : IO_XDP_MAX_WORKERS;
	if (x->n_cpus)
		memcpy(x->cpus, o->cpus, x->n_cpus * sizeof(x->cpus[0]));
	x->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	nexthop_cache_init(&x->neigh);
	if (x->stop_fd < 0) {
		ret = -errno;
		goto err;
	}
	ret = loader_create(&lo, &x->ld);
	if (ret < 0) {
		log_err("xdp: loading the XDP program: %s", strerror(-ret));
		x->ld = NULL;
		goto err;
	}
	ret = io_xdp_set_port(x, o->listen_port);
	if (ret < 0)
		goto err;
	for (unsigned int i = 0; i < o->n_ifaces; i++) {
		ret = loader_attach(x->ld, o->ifaces[i], o->mode);
		if (ret < 0) {
			log_err("xdp: attaching to %s: %s", o->ifaces[i], strerror(-ret));
			goto err;
		}
		x->ifindex[x->n_ifaces++] = ret;
		log_info("xdp: attached to %s in %s mode", o->ifaces[i],
			 loader_attach_mode(x->ld, ret) == LOADER_MODE_NATIVE ? "native"
									      : "generic");
		ret = io_xdp_add_workers(x, o->ifaces[i], x->ifindex[i], ncpu > 0 ? ncpu : 1);
		if (ret < 0)
			goto err;
	}
	/* one TUN queue per worker: the kernel spreads outgoing flows over the queues */
	while (x->tun->n_queues < x->n_workers) {
		ret = tun_add_queue(x->tun);
		if (ret < 0) {
			log_err("xdp: adding a TUN queue: %s", strerror(-ret));
			goto err;
		}
	}
	/* TSO from the TUN: the kernel's TCP hands us 64 KB at a time; we cut and encrypt */
	/* XDPWG_NO_TUN_OFFLOAD=1: off, for measuring what the lever buys */
	if (!o->no_tun_offload && !getenv("XDPWG_NO_TUN_OFFLOAD")) {
		ret = tun_enable_offload(x->tun);
		if (ret < 0)
			log_warn("xdp: TUN offloads unavailable (%s): one packet per read",
				 strerror(-ret));
	}
	for (unsigned int i = 0; i < x->n_workers; i++) {
		struct io_xdp_worker *w = x->workers[i];
		char name[16];

		w->tunq = i % x->tun->n_queues;
		/* XDPWG_NO_TUN_GRO=1: one write per packet, for measuring what joining buys */
		w->gro = x->tun->vnet_hdr && !getenv("XDPWG_NO_TUN_GRO");
		ret = -pthread_create(&w->thread, NULL, io_xdp_worker_main, w);
		if (ret < 0)
			goto err;
		w->started = true;
		/* named, so that top -H and the benchmark can tell the crypto workers' CPU apart */
		snprintf(name, sizeof(name), "xdpwg-wk%u", (unsigned int)(uint8_t)i); /* i < 16 */
		pthread_setname_np(w->thread, name);
	}
	if (x->busy_poll) {
		cpu_set_t busy;
		unsigned int cores;

		CPU_ZERO(&busy);
		for (unsigned int i = 0; i < x->n_workers; i++)
			CPU_SET(x->workers[i]->cpu, &busy);
		cores = (unsigned int)CPU_COUNT(&busy);
		log_info("xdp: workers busy-poll: %u core%s kept busy (%u workers)", cores,
			 cores == 1 ? "" : "s", x->n_workers);
		/* nothing is left for the control thread, handshakes and the kernel's softirqs
		 * but what the scheduler takes from the spinning workers */
		if (ncpu > 0 && cores >= (unsigned int)ncpu)
			log_warn("xdp: busy-poll workers spin on every online CPU (%ld)", ncpu);
	}
	*out = x;
	return 0;
err:
	io_xdp_stop(x);
	return ret;
}
