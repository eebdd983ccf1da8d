// SPDX-License-Identifier: GPL-2.0
/*
 * The control loop. Every state change happens here, on one thread: configuration requests,
 * handshakes, timers, rebinding. Level-triggered epoll with a budget per source, so a flood on
 * one socket cannot starve the configuration socket or the timers.
 */
#include <bpf/libbpf.h>
#include <endian.h>
#include <errno.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "allowedips.h"
#include "crypto.h"
#include "daemon.h"
#include "device.h"
#include "droplog.h"
#include "events.h"
#include "io_socket.h"
#include "io_xdp.h"
#include "loader.h"
#include "local_addrs.h"
#include "log.h"
#include "netlink.h"
#include "peer_sync.h"
#include "send.h"
#include "tun.h"
#include "uapi.h"
#include "xdpwg_wire.h"

enum daemon_source {
	DAEMON_EV_SIGNAL = 1,
	DAEMON_EV_TIMER,
	DAEMON_EV_HANDSHAKE,
	DAEMON_EV_UAPI,
	DAEMON_EV_TUN,
	DAEMON_EV_UDP4,
	DAEMON_EV_UDP6,
	DAEMON_EV_EVENTS,      /* the events socket's epoll set */
	DAEMON_EV_MOVES,       /* moves queued by the engine (events_push) */
	DAEMON_EV_NETLINK,     /* link/address/route changes */
	DAEMON_EV_ROUTE_TIMER, /* the coalescing timer after a change */
	DAEMON_EV_RINGBUF,     /* the XDP program's new-source events */
};

enum daemon_roam_constants {
	/* the first link/address/route change is checked at once; changes within this after a
	 * check are one more check at its end */
	DAEMON_ROUTE_COALESCE_MS = 5,
	/* beyond this many peers with an endpoint, no per-peer route tracking (a gateway's job
	 * is to follow its clients, not to chase their routes) */
	DAEMON_ROUTE_MAX_PEERS = 4096,
	/* XDP new-source sightings kept for matching moves: (peer, source) -> first time seen */
	DAEMON_SEEN_SLOTS = 1024,
	DAEMON_SEEN_MAX_AGE_S = 10,
	DAEMON_MOVES_BATCH = 64,
};

/* What the kernel said about the route to one peer's endpoint at the last check. */
struct daemon_route {
	uint8_t pub[WG_KEY_LEN];
	struct wg_endpoint ep;
	int err; /* nl_route_get's result */
	struct nl_route rt;
};

/* The first packet from a new source for a peer, as the XDP program reported it. */
struct daemon_seen {
	uint32_t peer_id;
	struct xdpwg_endpoint src;
	uint64_t ts_ns;
};

struct xdpwgd {
	char ifname[IFNAMSIZ];
	struct tun_dev tun;
	struct io_socket sock;
	struct wg_device *dev;
	struct io_xdp *xdp; /* the AF_XDP back-end, when uplinks are attached */
	bool under_load;    /* as last mirrored into the XDP program */
	struct uapi_server *uapi;
	struct io_rx_batch *rx;
	uint8_t *pkt;	     /* one TUN read: a packet or a TSO super-packet */
	struct tun_gro *gro; /* decrypted TCP segments joined before they are written */
	/* the data messages of one TUN read, sent with UDP GSO (control thread only) */
	struct io_tx_batch *txb;
	struct send_tx_lender txb_lender;
	int epfd, sigfd, timerfd;
	int mtu; /* last MTU told to the engine */
	/* roaming: move events, route changes, XDP new-source sightings */
	struct events *events;
	struct nl_monitor *nlmon;
	int routefd;		  /* timerfd: coalesces a burst of changes into one check */
	bool route_armed;	  /* a route check is due when routefd fires */
	atomic_bool routes_stale; /* an endpoint changed: refresh the route records */
	struct daemon_route *routes;
	size_t n_routes;
	struct ring_buffer *rb;
	struct daemon_seen seen[DAEMON_SEEN_SLOTS];
	bool stop;
	int exit_err;
	/* the source allowlist (xdpwg extension): empty = any source. Enforced by the XDP
	 * program when attached, and here for what reaches the kernel sockets (socket mode, and
	 * what XDP passes up), through a trie built from the same list. Control thread only. */
	struct conf_allowedip *allow_src;
	size_t n_allow_src;
	struct allowedips *allow_trie; /* NULL: any source */
	uint64_t src_not_allowed;      /* datagrams the kernel-socket path dropped for it */
	/* observability on the tick: drop bursts logged, engine tx counters into the peers map */
	struct droplog *droplog;
	struct peer_sync *peer_sync;
};

static int daemon_watch(struct xdpwgd *d, int fd, enum daemon_source src)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = src };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* --- wg_io_ops --- */

/* Set by the control thread while it handles TUN reads: its kernel-socket sends go through
 * d->txb. Per thread, so a worker's fallback sends never touch the batch. */
static __thread struct io_tx_batch *daemon_txb;

/*
 * With uplinks attached, a worker sends through its AF_XDP socket; what the back-end cannot send
 * (the control thread's handshake messages, an unknown next hop) goes through the kernel socket,
 * which the kernel routes and resolves as usual. Likewise a worker delivers into its own TUN
 * queue, and everything else into queue 0. The control thread's data messages of one TUN read
 * gather in a UDP GSO batch; anything else it sends goes after them.
 */
/* Send the data messages gathered in d->txb; a failure is only logged (they are datagrams). */
static void daemon_txb_flush(struct xdpwgd *d)
{
	int ret = io_tx_batch_flush(&d->sock, d->txb);

	if (ret)
		log_debug("%s: batched send failed: %s", d->ifname, strerror(-ret));
}

static int daemon_send(void *ctx, const struct wg_endpoint *dst, const uint8_t *buf, size_t len)
{
	struct xdpwgd *d = ctx;
	uint32_t type;

	if (d->xdp && io_xdp_send(d->xdp, dst, buf, len) == 0)
		return 0;
	if (daemon_txb != d->txb || !daemon_txb)
		return io_socket_send(&d->sock, dst, buf, len);
	if (len >= WG_MSG_DATA_HEADER_LEN) {
		memcpy(&type, buf, sizeof(type));
		if (le32toh(type) == WG_MSG_DATA)
			return io_tx_batch_add(&d->sock, d->txb, dst, buf, len);
	}
	/* anything else leaves after the data messages gathered before it */
	daemon_txb_flush(d);
	return io_socket_send(&d->sock, dst, buf, len);
}

/* send_tx_lender: the engine encrypts straight into the batch */
static uint8_t *daemon_txb_get(void *ctx, size_t need)
{
	struct xdpwgd *d = ctx;

	return io_tx_batch_room(d->txb, need);
}

static int daemon_deliver(void *ctx, const uint8_t *pkt, size_t len)
{
	struct xdpwgd *d = ctx;
	int ret;

	if (d->xdp) {
		ret = io_xdp_deliver(d->xdp, pkt, len);
		if (ret != -EAGAIN)
			return ret;
	}
	return tun_gro_write(&d->tun, 0, d->gro, pkt, len);
}

static int daemon_bind(void *ctx, uint16_t port, uint32_t fwmark)
{
	struct xdpwgd *d = ctx;
	int old4 = d->sock.fd4, old6 = d->sock.fd6, ret;

	ret = io_socket_bind(&d->sock, port, fwmark);
	if (ret < 0)
		return ret;
	/* Closing the old sockets took them out of the epoll set; watch the new ones. Events
	 * already fetched for the old ones find the new fds, which just read nothing. */
	if (d->sock.fd4 != old4 && d->sock.fd4 >= 0 && daemon_watch(d, d->sock.fd4, DAEMON_EV_UDP4))
		log_err("cannot watch the IPv4 socket: %s", strerror(errno));
	if (d->sock.fd6 != old6 && d->sock.fd6 >= 0 && daemon_watch(d, d->sock.fd6, DAEMON_EV_UDP6))
		log_err("cannot watch the IPv6 socket: %s", strerror(errno));
	if (port == 0 || d->sock.fd4 != old4)
		log_info("%s: listening on UDP port %u", d->ifname, ret);
	/* XDP follows the port live: the program reads it from its config map */
	if (d->xdp && io_xdp_set_port(d->xdp, (uint16_t)ret) < 0)
		log_err("%s: cannot set the XDP program's port", d->ifname);
	return ret;
}

/* The BPF maps follow the engine: sessions while a keypair may receive, peers with their
 * endpoints. No key material crosses over. */
static void daemon_session_add(void *ctx, uint32_t index, struct wg_peer *peer)
{
	struct xdpwgd *d = ctx;

	if (d->xdp)
		io_xdp_session_add(d->xdp, index, peer);
}

static void daemon_session_del(void *ctx, uint32_t index)
{
	struct xdpwgd *d = ctx;

	if (d->xdp)
		io_xdp_session_del(d->xdp, index);
}

static void daemon_endpoint_moved(void *ctx, struct wg_peer *peer, const struct wg_endpoint *old,
				  const struct wg_endpoint *new_ep)
{
	struct xdpwgd *d = ctx;

	(void)old;
	(void)new_ep;
	/* Synchronous, on the thread that authenticated the packet and before it sends anything
	 * more to this peer: the BPF peers map moves with the engine's endpoint. */
	if (d->xdp)
		io_xdp_peer_update(d->xdp, peer);
	atomic_store_explicit(&d->routes_stale, true, memory_order_relaxed);
}

/* Any thread: queue the move; the control thread dates, logs, keeps and streams it. */
static void daemon_peer_moved(void *ctx, const struct wg_peer_move *m)
{
	struct xdpwgd *d = ctx;

	if (d->events)
		events_push(d->events, m, d->xdp ? io_xdp_current_rx_ns(d->xdp) : 0,
			    d->xdp ? io_xdp_current_picked_ns(d->xdp) : 0);
}

static void daemon_peer_added(void *ctx, struct wg_peer *peer)
{
	struct xdpwgd *d = ctx;

	if (d->xdp)
		io_xdp_peer_update(d->xdp, peer);
}

static void daemon_peer_removed(void *ctx, struct wg_peer *peer)
{
	struct xdpwgd *d = ctx;

	if (d->xdp)
		io_xdp_peer_removed(d->xdp, peer);
}

static const struct wg_io_ops daemon_io_ops = {
	.send = daemon_send,
	.deliver = daemon_deliver,
	.bind = daemon_bind,
	.session_add = daemon_session_add,
	.session_del = daemon_session_del,
	.endpoint_moved = daemon_endpoint_moved,
	.peer_added = daemon_peer_added,
	.peer_removed = daemon_peer_removed,
	.peer_moved = daemon_peer_moved,
};

static void daemon_arm_route_timer(struct xdpwgd *d);
static void daemon_arm_timer(struct xdpwgd *d, int ms);

/* --- configuration socket handlers --- */

/* XDP checks mac1 itself: its key is HASH("mac1----" || our public key), public material. */
static void daemon_sync_mac1(struct xdpwgd *d, const uint8_t private_key[WG_KEY_LEN])
{
	static const char label[] = "mac1----";
	uint8_t pub[WG_KEY_LEN], key[WG_HASH_LEN];

	if (crypto_is_zero(private_key, WG_KEY_LEN)) {
		loader_set_mac1_key(io_xdp_loader(d->xdp), NULL);
		return;
	}
	crypto_pubkey(pub, private_key);
	crypto_hash(key, label, sizeof(label) - 1, pub, sizeof(pub));
	if (loader_set_mac1_key(io_xdp_loader(d->xdp), key) < 0)
		log_err("%s: cannot set the XDP program's mac1 key", d->ifname);
}

/* The list a request asks for: its CIDRs, after the current ones unless it replaces them. */
static int daemon_allow_src_merge(const struct xdpwgd *d, const struct conf_dev *req,
				  struct conf_allowedip **out, size_t *n, char *err, size_t errlen)
{
	size_t keep = req->flags & CONF_DEV_REPLACE_ALLOW_SOURCE ? 0 : d->n_allow_src;
	size_t total = keep + req->n_allow_src;
	struct conf_allowedip *list;

	*out = NULL;
	*n = 0;
	if (total > XDPWG_ALLOW_SRC_MAX) {
		snprintf(err, errlen, "allow_source: %zu CIDRs, more than %d", total,
			 XDPWG_ALLOW_SRC_MAX);
		return -E2BIG;
	}
	if (!total)
		return 0;
	list = calloc(total, sizeof(*list));
	if (!list) {
		snprintf(err, errlen, "allow_source: out of memory");
		return -ENOMEM;
	}
	if (keep)
		memcpy(list, d->allow_src, keep * sizeof(*list));
	if (req->n_allow_src)
		memcpy(list + keep, req->allow_src, req->n_allow_src * sizeof(*list));
	*out = list;
	*n = total;
	return 0;
}

/* A trie of the list for the kernel-socket path; *out NULL for an empty list (any source). */
static int daemon_allow_src_trie(struct xdpwgd *d, const struct conf_allowedip *list, size_t n,
				 struct allowedips **out)
{
	struct allowedips *t;

	*out = NULL;
	if (!n)
		return 0;
	t = allowedips_new();
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const void *a =
			list[i].family == AF_INET ? (const void *)&list[i].ip4 : &list[i].ip6;
		int ret = allowedips_insert(t, list[i].family, a, list[i].cidr, d);

		if (ret < 0) {
			allowedips_free(t);
			return ret;
		}
	}
	*out = t;
	return 0;
}

/* Whether a datagram from src may reach the engine (control thread). */
static bool daemon_source_allowed(struct xdpwgd *d, const struct wg_endpoint *src)
{
	const struct sockaddr *sa = &src->addr.sa;

	if (!d->allow_trie)
		return true;
	if (sa->sa_family == AF_INET)
		return allowedips_lookup(d->allow_trie, AF_INET, &src->addr.in4.sin_addr) != NULL;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &src->addr.in6.sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a6))
			return allowedips_lookup(d->allow_trie, AF_INET, &a6->s6_addr[12]) != NULL;
		return allowedips_lookup(d->allow_trie, AF_INET6, a6) != NULL;
	}
	return false;
}

/*
 * All or nothing: the allowlist is checked and built first, written into the XDP program (which
 * validates it too), then the engine applies the rest; if the engine refuses, the program gets
 * the old list back and nothing has changed.
 */
static int daemon_uapi_set(void *ctx, const struct conf_dev *req, char *err, size_t errlen)
{
	struct xdpwgd *d = ctx;
	bool allow = req->flags & CONF_DEV_HAS_ALLOW_SOURCE;
	struct conf_allowedip *list = NULL;
	struct allowedips *trie = NULL;
	size_t n = 0;
	int ret;

	if (allow) {
		ret = daemon_allow_src_merge(d, req, &list, &n, err, errlen);
		if (ret == 0 && (ret = daemon_allow_src_trie(d, list, n, &trie)) < 0)
			snprintf(err, errlen, "allow_source: %s", strerror(-ret));
		if (ret == 0 && d->xdp &&
		    (ret = loader_allow_source_set(io_xdp_loader(d->xdp), list, n)) < 0)
			snprintf(err, errlen, "allow_source: the XDP program refused it: %s",
				 strerror(-ret));
		if (ret < 0) {
			free(list);
			allowedips_free(trie);
			return ret;
		}
	}
	ret = wg_device_apply(d->dev, req, err, errlen);
	if (allow) {
		if (ret < 0) {
			if (d->xdp && loader_allow_source_set(io_xdp_loader(d->xdp), d->allow_src,
							      d->n_allow_src) < 0)
				log_err("%s: cannot restore the XDP source allowlist", d->ifname);
			free(list);
			allowedips_free(trie);
		} else {
			free(d->allow_src);
			allowedips_free(d->allow_trie);
			d->allow_src = list;
			d->n_allow_src = n;
			d->allow_trie = trie;
			if (n)
				log_info("%s: source allowlist: %zu CIDR%s", d->ifname, n,
					 n == 1 ? "" : "s");
			else
				log_info("%s: source allowlist cleared: any source", d->ifname);
		}
	}
	if (ret == 0 && d->xdp && (req->flags & CONF_DEV_HAS_PRIVATE_KEY))
		daemon_sync_mac1(d, req->private_key);
	/* new or changed endpoints: record their routes now, so the next change is seen */
	if (ret == 0)
		daemon_arm_route_timer(d);
	return ret;
}

/* The engine's snapshot plus the daemon's extensions: the allowlist and the drop counters. */
static struct conf_dev *daemon_uapi_get(void *ctx)
{
	struct xdpwgd *d = ctx;
	uint64_t drops[WG_DROP_REASON_MAX];
	struct conf_dev *c = wg_device_snapshot(d->dev);

	if (!c)
		return NULL;
	for (size_t i = 0; i < d->n_allow_src; i++) {
		if (conf_dev_add_allow_src(c, &d->allow_src[i]) < 0) {
			conf_free(c);
			return NULL;
		}
	}
	wg_device_drop_counts(d->dev, drops);
	for (int r = WG_DROP_NONE + 1; r < WG_DROP_REASON_MAX; r++) {
		if (conf_dev_add_drop(c, wg_drop_reason_name((enum wg_drop_reason)r), drops[r]) ==
		    -ENOMEM) {
			conf_free(c);
			return NULL;
		}
	}
	if (conf_dev_add_drop(c, "source_not_allowed", d->src_not_allowed) == -ENOMEM) {
		conf_free(c);
		return NULL;
	}
	return c;
}

static const struct uapi_handler daemon_uapi_handler = {
	.set = daemon_uapi_set,
	.get = daemon_uapi_get,
};

/* --- roaming: move events, route changes --- */

static uint32_t daemon_seen_hash(uint32_t peer_id, const struct xdpwg_endpoint *src)
{
	const uint8_t *b = (const uint8_t *)src;
	uint32_t h = 2166136261u ^ peer_id;

	for (size_t i = 0; i < sizeof(*src); i++)
		h = (h ^ b[i]) * 16777619u;
	return h % DAEMON_SEEN_SLOTS;
}

static void daemon_xdp_endpoint(const struct wg_endpoint *ep, struct xdpwg_endpoint *out)
{
	memset(out, 0, sizeof(*out));
	if (ep->addr.sa.sa_family == AF_INET) {
		out->family = XDPWG_FAMILY_INET;
		out->addr.v4 = ep->addr.in4.sin_addr.s_addr;
		out->port = ep->addr.in4.sin_port;
	} else if (ep->addr.sa.sa_family == AF_INET6) {
		out->family = XDPWG_FAMILY_INET6;
		memcpy(out->addr.v6, &ep->addr.in6.sin6_addr, 16);
		out->port = ep->addr.in6.sin6_port;
	}
}

/* Ring-buffer callback: remember when a peer was first seen from a source (XDP rate-limits
 * these per peer; the first one of a burst is what a move is dated by). */
static int daemon_on_xdp_event(void *ctx, void *data, size_t size)
{
	struct xdpwgd *d = ctx;
	const struct xdpwg_event *e = data;
	struct xdpwg_endpoint src;
	struct daemon_seen *slot;

	if (size < sizeof(*e) || e->type != XDPWG_EVENT_NEW_SOURCE)
		return 0;
	memset(&src, 0, sizeof(src));
	src.family = e->src.family;
	src.port = e->src.port;
	memcpy(&src.addr, &e->src.addr, e->src.family == XDPWG_FAMILY_INET ? 4 : 16);
	slot = &d->seen[daemon_seen_hash(e->peer_id, &src)];
	/* the same peer and source seen recently: keep the earlier time */
	if (slot->ts_ns && slot->peer_id == e->peer_id && !memcmp(&slot->src, &src, sizeof(src)) &&
	    e->ts_ns >= slot->ts_ns &&
	    e->ts_ns - slot->ts_ns < (uint64_t)DAEMON_SEEN_MAX_AGE_S * 1000000000ULL)
		return 0;
	slot->peer_id = e->peer_id;
	slot->src = src;
	slot->ts_ns = e->ts_ns;
	return 0;
}

/* Date the move by the XDP sighting of its new source, when there is one. */
static void daemon_date_move(struct xdpwgd *d, struct events_move *m)
{
	struct xdpwg_endpoint src;
	struct daemon_seen *slot;

	daemon_xdp_endpoint(&m->new_ep, &src);
	slot = &d->seen[daemon_seen_hash(m->peer_id, &src)];
	if (!slot->ts_ns || slot->peer_id != m->peer_id || memcmp(&slot->src, &src, sizeof(src)))
		return;
	if (slot->ts_ns <= m->moved_ns && slot->ts_ns <= m->first_seen_ns &&
	    m->moved_ns - slot->ts_ns < (uint64_t)DAEMON_SEEN_MAX_AGE_S * 1000000000ULL) {
		m->first_seen_ns = slot->ts_ns;
		m->first_seen_from = EVENTS_SEEN_XDP_EVENT;
	}
	/* used: a later move back to this source is dated by its own sighting */
	memset(slot, 0, sizeof(*slot));
}

static void daemon_on_moves(struct xdpwgd *d)
{
	struct events_move m[DAEMON_MOVES_BATCH];
	size_t n;

	/* XDP wrote the sighting before it redirected the packet that moved the peer: drain the
	 * ring buffer first and it is there. */
	if (d->rb)
		ring_buffer__consume(d->rb);
	for (int round = 0; round < 16; round++) {
		n = events_take(d->events, m, DAEMON_MOVES_BATCH);
		for (size_t i = 0; i < n; i++) {
			daemon_date_move(d, &m[i]);
			events_record(d->events, &m[i]);
		}
		if (n < DAEMON_MOVES_BATCH)
			break;
	}
}

/*
 * Route checks and their timer. A change notification with the timer idle is checked at once
 * (the first change of a burst: a switch costs no coalescing delay), and starts a hold-off of
 * DAEMON_ROUTE_COALESCE_MS; whatever arrives during it (the rest of the burst) is one more
 * check when it ends, which starts another. So a burst is at most two checks, a storm one per
 * hold-off, and a check never misses a change: anything after it sends another notification.
 * route_armed: a check is due when the timer fires.
 */
static bool daemon_route_holding(const struct xdpwgd *d)
{
	struct itimerspec its;

	return d->routefd >= 0 && timerfd_gettime(d->routefd, &its) == 0 &&
	       (its.it_value.tv_sec || its.it_value.tv_nsec);
}

static void daemon_start_route_timer(struct xdpwgd *d)
{
	struct itimerspec its = { .it_value.tv_nsec = DAEMON_ROUTE_COALESCE_MS * 1000000L };

	if (d->routefd >= 0 && timerfd_settime(d->routefd, 0, &its, NULL) < 0)
		log_debug("route timerfd: %s", strerror(errno));
}

/* A check within DAEMON_ROUTE_COALESCE_MS (configuration changes, moved endpoints). */
static void daemon_arm_route_timer(struct xdpwgd *d)
{
	if (d->routefd < 0)
		return;
	d->route_armed = true;
	if (!daemon_route_holding(d))
		daemon_start_route_timer(d);
}

static bool daemon_route_same(const struct daemon_route *a, const struct daemon_route *b)
{
	if (a->err != b->err)
		return false;
	if (a->err)
		return true;
	return a->rt.oif == b->rt.oif && a->rt.has_prefsrc == b->rt.has_prefsrc &&
	       a->rt.has_gateway == b->rt.has_gateway &&
	       (!a->rt.has_prefsrc ||
		!memcmp(&a->rt.prefsrc, &b->rt.prefsrc, sizeof(a->rt.prefsrc))) &&
	       (!a->rt.has_gateway ||
		!memcmp(&a->rt.gateway, &b->rt.gateway, sizeof(a->rt.gateway)));
}

static const struct daemon_route *daemon_route_find(const struct xdpwgd *d,
						    const uint8_t pub[WG_KEY_LEN])
{
	for (size_t i = 0; i < d->n_routes; i++)
		if (!memcmp(d->routes[i].pub, pub, WG_KEY_LEN))
			return &d->routes[i];
	return NULL;
}

/*
 * Ask the kernel how it routes to each peer's endpoint now and compare with the last answer: a
 * peer whose endpoint is unchanged but whose route changed (another source address, another
 * device, a different next hop, unreachable <-> reachable) is announced at once from the new path
 * (wg_device_announce: a keepalive with a valid session, else an initiation; the cached source is
 * dropped). Peers seen for the first time, or with a new endpoint, are only recorded.
 */
static void daemon_check_routes(struct xdpwgd *d)
{
	struct daemon_route *now = NULL;
	struct conf_dev *c;
	size_t n = 0, announced = 0;
	bool flushed = false;

	atomic_store(&d->routes_stale, false);
	/* counted before the snapshot: a gateway with 100k peers must not copy them all (keys
	 * included, into locked memory) on every route change only to skip them */
	if (wg_device_peer_count(d->dev) > DAEMON_ROUTE_MAX_PEERS) {
		log_debug("%s: %zu peers: no route tracking", d->ifname,
			  wg_device_peer_count(d->dev));
		return;
	}
	c = wg_device_snapshot(d->dev);
	if (!c)
		return;
	if (c->n_peers > DAEMON_ROUTE_MAX_PEERS)
		goto out;
	now = calloc(c->n_peers ? c->n_peers : 1, sizeof(*now));
	if (!now)
		goto out;
	for (size_t i = 0; i < c->n_peers; i++) {
		const struct conf_peer *p = &c->peers[i];
		struct daemon_route *r = &now[n];
		const struct daemon_route *was;

		if (!endpoint_is_set(&p->endpoint))
			continue;
		memcpy(r->pub, p->public_key, WG_KEY_LEN);
		r->ep = p->endpoint;
		r->err = nl_route_get(&p->endpoint.addr.sa, c->fwmark, &r->rt);
		n++;
		was = daemon_route_find(d, r->pub);
		if (!was || !endpoint_eq(&was->ep, &r->ep) || daemon_route_same(was, r))
			continue;
		/* the workers' next hops were resolved on the old route: drop them (once) before
		 * anything is sent, so the announce and what follows take the new path */
		if (d->xdp && !flushed) {
			io_xdp_routes_changed(d->xdp);
			flushed = true;
		}
		if (r->err == 0 && wg_device_announce_key(d->dev, r->pub))
			announced++;
	}
	if (announced) {
		log_info("%s: route changed: announced to %zu peer%s from the new path", d->ifname,
			 announced, announced == 1 ? "" : "s");
		/* the announce's first re-send is due in 50 ms; the armed tick may be a second off */
		daemon_arm_timer(d, wg_device_tick(d->dev));
	}
	free(d->routes);
	d->routes = now;
	d->n_routes = n;
	now = NULL;
out:
	free(now);
	conf_free(c);
}

static void daemon_on_netlink(struct xdpwgd *d)
{
	int bits = nl_monitor_read(d->nlmon);

	if (bits < 0 && bits != -EAGAIN) {
		log_debug("%s: netlink monitor: %s", d->ifname, strerror(-bits));
		return;
	}
	if (bits <= 0 || !(bits & (NL_CHANGE_LINK | NL_CHANGE_ADDR | NL_CHANGE_ROUTE)))
		return;
	if (d->xdp && (bits & NL_CHANGE_ADDR))
		local_addrs_refresh(io_xdp_loader(d->xdp));
	if (daemon_route_holding(d)) {
		d->route_armed = true;
		return;
	}
	daemon_check_routes(d);
	daemon_start_route_timer(d);
}

static void daemon_on_route_timer(struct xdpwgd *d)
{
	uint64_t expirations;

	if (read(d->routefd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_debug("route timerfd read: %s", strerror(errno));
	if (!d->route_armed)
		return;
	d->route_armed = false;
	daemon_check_routes(d);
	daemon_start_route_timer(d);
}

/* Events, the route monitor and the XDP sightings: what roaming needs besides the engine. A
 * failure here costs the feature, not the daemon. */
static void daemon_roam_init(struct xdpwgd *d)
{
	int ret = 0;

	d->events = events_new(d->ifname, &ret);
	if (d->events && (daemon_watch(d, events_server_fd(d->events), DAEMON_EV_EVENTS) < 0 ||
			  daemon_watch(d, events_pending_fd(d->events), DAEMON_EV_MOVES) < 0))
		log_err("%s: cannot watch the events socket", d->ifname);
	d->nlmon = nl_monitor_open(false);
	d->routefd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (!d->nlmon || d->routefd < 0 ||
	    daemon_watch(d, nl_monitor_fd(d->nlmon), DAEMON_EV_NETLINK) < 0 ||
	    daemon_watch(d, d->routefd, DAEMON_EV_ROUTE_TIMER) < 0)
		log_warn("%s: no route monitor: roaming waits for the timers", d->ifname);
	if (d->xdp) {
		d->rb = ring_buffer__new(loader_events_fd(io_xdp_loader(d->xdp)),
					 daemon_on_xdp_event, d, NULL);
		if (!d->rb || daemon_watch(d, ring_buffer__epoll_fd(d->rb), DAEMON_EV_RINGBUF) < 0)
			log_warn("%s: no XDP new-source events: moves dated by receive time",
				 d->ifname);
	}
}

static void daemon_roam_free(struct xdpwgd *d)
{
	ring_buffer__free(d->rb);
	d->rb = NULL;
	nl_monitor_close(d->nlmon);
	d->nlmon = NULL;
	if (d->routefd >= 0)
		close(d->routefd);
	d->routefd = -1;
	free(d->routes);
	d->routes = NULL;
}

/* --- event sources --- */

static void daemon_arm_timer(struct xdpwgd *d, int ms)
{
	struct itimerspec its = { 0 };

	if (ms < 1)
		ms = 1;
	if (ms > DAEMON_TICK_MAX_MS)
		ms = DAEMON_TICK_MAX_MS;
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	if (timerfd_settime(d->timerfd, 0, &its, NULL) < 0)
		log_err("timerfd_settime: %s", strerror(errno));
}

/* The engine pads packets up to the TUN's MTU, which wg-quick changes after start. Polled with
 * the timers (one ioctl a second) rather than followed through rtnetlink: a late update costs
 * at most some padding for a second. */
static void daemon_sync_mtu(struct xdpwgd *d)
{
	int mtu = tun_get_mtu(d->ifname);

	if (mtu <= 0 || mtu == d->mtu)
		return;
	if (d->mtu)
		log_info("%s: MTU %d", d->ifname, mtu);
	d->mtu = mtu;
	wg_device_set_mtu(d->dev, (unsigned int)mtu);
}

/* With XDP the workers read every TUN queue, so no failing read tells the control loop that
 * the TUN was deleted: ask its queue 0 on each tick (TUNGETIFF fails with EBADFD then). */
static bool daemon_tun_gone(const struct xdpwgd *d)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	return ioctl(d->tun.fds[0], TUNGETIFF, &ifr) < 0 && errno == EBADFD;
}

/* --- observability: per-worker figures, drop bursts, the peers map's tx counters --- */

/* workers=1 on the events socket (xdpwgctl metrics, top) */
static int daemon_worker_info(void *ctx, unsigned int i, struct io_xdp_worker_info *out)
{
	struct xdpwgd *d = ctx;

	return d->xdp ? io_xdp_worker_info(d->xdp, i, out) : -ENOENT;
}

static void daemon_peer_repair(void *ctx, struct wg_peer *peer)
{
	struct xdpwgd *d = ctx;

	if (d->xdp)
		io_xdp_peer_update(d->xdp, peer);
}

/* What this costs is one failure message: the data path does not depend on it. */
static void daemon_observe_init(struct xdpwgd *d)
{
	if (d->events && d->xdp)
		events_set_workers(d->events, daemon_worker_info, d);
	d->droplog = droplog_new(d->ifname, NULL, NULL);
	if (d->xdp)
		d->peer_sync = peer_sync_new(daemon_peer_repair, d);
	if (!d->droplog || (d->xdp && !d->peer_sync))
		log_warn("%s: out of memory: no drop-burst log or peers-map tx counters",
			 d->ifname);
}

static void daemon_observe_free(struct xdpwgd *d)
{
	droplog_free(d->droplog);
	d->droplog = NULL;
	peer_sync_free(d->peer_sync);
	d->peer_sync = NULL;
}

/* Once a second at most (each module keeps its own pace): a tick can come much sooner. */
static void daemon_observe_tick(struct xdpwgd *d)
{
	uint64_t now = wg_monotonic_ns();

	droplog_tick(d->droplog, d->dev, d->xdp ? io_xdp_loader(d->xdp) : NULL, d->src_not_allowed,
		     now);
	if (d->xdp && peer_sync_tick(d->peer_sync, d->dev, io_xdp_loader(d->xdp), now) < 0)
		log_debug("%s: peers map tx counters: out of memory", d->ifname);
}

static void daemon_on_timer(struct xdpwgd *d)
{
	uint64_t expirations;

	if (read(d->timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_debug("timerfd read: %s", strerror(errno));
	if (d->xdp && daemon_tun_gone(d)) {
		log_info("%s: interface gone, shutting down", d->ifname);
		d->stop = true;
		return;
	}
	daemon_sync_mtu(d);
	/* endpoints moved since the last tick: record their routes (at most once a second) */
	if (atomic_load_explicit(&d->routes_stale, memory_order_relaxed))
		daemon_arm_route_timer(d);
	if (d->xdp) {
		bool under_load = wg_device_under_load(d->dev);

		if (under_load != d->under_load &&
		    loader_set_under_load(io_xdp_loader(d->xdp), under_load) == 0)
			d->under_load = under_load;
	}
	daemon_observe_tick(d);
	daemon_arm_timer(d, wg_device_tick(d->dev));
}

static void daemon_on_signal(struct xdpwgd *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			continue; /* no configuration file to reload */
		log_info("%s: %s, shutting down", d->ifname, strsignal((int)si.ssi_signo));
		d->stop = true;
	}
}

static void daemon_tun_packets(void *ctx, const struct iovec *segs, unsigned int n)
{
	struct xdpwgd *d = ctx;

	wg_device_tx_batch(d->dev, segs, n);
}

static void daemon_on_tun(struct xdpwgd *d)
{
	/* The segments of one super-packet to one peer leave in one UDP GSO send. */
	daemon_txb = d->txb;
	if (d->txb)
		send_set_tx_lender(&d->txb_lender);
	for (int i = 0; i < DAEMON_TUN_BUDGET; ++i) {
		ssize_t n =
			tun_read_gso_batch(&d->tun, 0, d->pkt, TUN_GSO_BUF, daemon_tun_packets, d);

		if (d->txb)
			daemon_txb_flush(d);
		if (n == 0)
			break;
		if (n < 0) {
			/* EBADFD: the interface was deleted (wg-quick down): like wireguard-go,
			 * the daemon goes with it. */
			log_info("%s: interface gone (%s), shutting down", d->ifname,
				 strerror((int)-n));
			d->stop = true;
			break;
		}
	}
	send_set_tx_lender(NULL);
	daemon_txb = NULL;
}

static void daemon_on_udp(struct xdpwgd *d, int fd)
{
	for (int round = 0; fd >= 0 && round < DAEMON_UDP_BUDGET; ++round) {
		int n = io_socket_recv(fd, d->rx);

		if (n < 0) {
			log_debug("recvmmsg: %s", strerror(-n));
			return;
		}
		for (int i = 0; i < n; ++i) {
			if (!daemon_source_allowed(d, &d->rx->src[i])) {
				d->src_not_allowed++;
				continue;
			}
			wg_device_rx(d->dev, d->rx->data[i], d->rx->len[i], &d->rx->src[i]);
		}
		tun_gro_flush(&d->tun, 0, d->gro);
		if (n < IO_SOCKET_BATCH)
			return;
	}
}

static void daemon_on_handshake(struct xdpwgd *d)
{
	for (int i = 0; i < DAEMON_HANDSHAKE_ROUNDS; ++i) {
		if (wg_device_process_handshakes(d->dev, DAEMON_HANDSHAKE_BUDGET) <
		    DAEMON_HANDSHAKE_BUDGET)
			break;
	}
}

int daemon_run(struct xdpwgd *d)
{
	struct epoll_event evs[DAEMON_MAX_EVENTS];

	daemon_arm_timer(d, wg_device_tick(d->dev));
	while (!d->stop) {
		int n = epoll_wait(d->epfd, evs, DAEMON_MAX_EVENTS, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("epoll_wait: %s", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n && !d->stop; ++i) {
			switch ((enum daemon_source)evs[i].data.u64) {
			case DAEMON_EV_SIGNAL:
				daemon_on_signal(d);
				break;
			case DAEMON_EV_TIMER:
				daemon_on_timer(d);
				break;
			case DAEMON_EV_HANDSHAKE:
				daemon_on_handshake(d);
				break;
			case DAEMON_EV_UAPI:
				if (uapi_server_poll(d->uapi) == -ENOENT) {
					log_info("%s: configuration socket removed, shutting down",
						 d->ifname);
					d->stop = true;
				}
				break;
			case DAEMON_EV_TUN:
				daemon_on_tun(d);
				break;
			case DAEMON_EV_UDP4:
				daemon_on_udp(d, d->sock.fd4);
				break;
			case DAEMON_EV_UDP6:
				daemon_on_udp(d, d->sock.fd6);
				break;
			case DAEMON_EV_EVENTS:
				events_poll(d->events);
				break;
			case DAEMON_EV_MOVES:
				daemon_on_moves(d);
				break;
			case DAEMON_EV_NETLINK:
				daemon_on_netlink(d);
				break;
			case DAEMON_EV_ROUTE_TIMER:
				daemon_on_route_timer(d);
				break;
			case DAEMON_EV_RINGBUF:
				ring_buffer__consume(d->rb);
				break;
			}
		}
	}
	return d->exit_err;
}

/* Bind the engine to a random port now, through the engine so that it knows the port (`wg show`
 * prints it, as wireguard-go does) until the configuration sets one. */
static int daemon_initial_bind(struct xdpwgd *d)
{
	char err[256] = "";
	struct conf_dev *req = conf_new();
	int ret;

	if (!req)
		return -ENOMEM;
	req->flags = CONF_DEV_HAS_LISTEN_PORT;
	req->listen_port = 0;
	ret = wg_device_apply(d->dev, req, err, sizeof(err));
	conf_free(req);
	if (ret < 0)
		log_err("%s: cannot bind: %s", d->ifname, err[0] ? err : strerror(-ret));
	return ret;
}

int daemon_new(const struct daemon_opts *o, struct xdpwgd **out)
{
	struct wg_device_opts dopts = { 0 };
	struct xdpwgd *d;
	sigset_t mask;
	int ret;

	*out = NULL;
	if (!tun_name_valid(o->ifname)) {
		log_err("invalid interface name '%s'", o->ifname);
		return -EINVAL;
	}
	if (crypto_init() < 0) {
		log_err("cannot initialise the crypto libraries");
		return -ENOTSUP;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	strncpy(d->ifname, o->ifname, IFNAMSIZ - 1);
	d->epfd = d->sigfd = d->timerfd = d->routefd = -1;
	io_socket_init(&d->sock);
	for (unsigned int i = 0; i < TUN_MAX_QUEUES; ++i)
		d->tun.fds[i] = -1;

	ret = -ENOMEM;
	d->rx = io_rx_batch_new();
	d->pkt = malloc(TUN_GSO_BUF);
	d->gro = calloc(1, sizeof(*d->gro));
	d->txb = io_tx_batch_new();
	if (!d->rx || !d->pkt || !d->gro || !d->txb)
		goto err;
	d->txb_lender = (struct send_tx_lender){ .get = daemon_txb_get, .ctx = d };
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epfd < 0)
		goto err_errno;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	d->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->sigfd < 0 || d->timerfd < 0)
		goto err_errno;

	/* The socket first: if another daemon answers on it, it may own the TUN as well, and
	 * attaching a queue to its multi-queue TUN would steal its packets. */
	d->uapi = uapi_server_new(d->ifname, &daemon_uapi_handler, d, &ret);
	if (!d->uapi)
		goto err;
	ret = tun_open(&d->tun, d->ifname, o->mtu ? o->mtu : TUN_DEFAULT_MTU);
	if (ret < 0)
		goto err;

	dopts.ops = &daemon_io_ops;
	dopts.io_ctx = d;
	dopts.name = d->ifname;
	d->dev = wg_device_new(&dopts);
	if (!d->dev) {
		log_err("%s: cannot create the device", d->ifname);
		ret = -ENOMEM;
		goto err;
	}
	daemon_sync_mtu(d);
	ret = daemon_initial_bind(d);
	if (ret < 0)
		goto err;
	if (o->n_attach) {
		struct io_xdp_opts xo = {
			.tun_name = d->ifname,
			.ifaces = o->attach,
			.n_ifaces = o->n_attach,
			.mode = (enum loader_mode)o->xdp_mode,
			.dev = d->dev,
			.tun = &d->tun,
			.listen_port = d->sock.port,
			.busy_poll = o->busy_poll,
			.cpus = o->worker_cpus,
			.n_cpus = o->n_worker_cpus,
		};

		ret = io_xdp_start(&xo, &d->xdp);
		if (ret < 0)
			goto err;
	}

	/* TSO from the TUN and GRO into it in socket mode too (io_xdp does its own) */
	if (!d->xdp && !getenv("XDPWG_NO_TUN_OFFLOAD") && (ret = tun_enable_offload(&d->tun)) < 0)
		log_warn("%s: TUN offloads unavailable (%s)", d->ifname, strerror(-ret));
	if ((ret = daemon_watch(d, d->sigfd, DAEMON_EV_SIGNAL)) < 0 ||
	    (ret = daemon_watch(d, d->timerfd, DAEMON_EV_TIMER)) < 0 ||
	    (ret = daemon_watch(d, wg_device_handshake_fd(d->dev), DAEMON_EV_HANDSHAKE)) < 0 ||
	    (ret = daemon_watch(d, uapi_server_fd(d->uapi), DAEMON_EV_UAPI)) < 0)
		goto err;
	/* with XDP the workers read every TUN queue, queue 0 included */
	if (!d->xdp && (ret = daemon_watch(d, d->tun.fds[0], DAEMON_EV_TUN)) < 0)
		goto err;
	daemon_roam_init(d);
	/* after the monitor is open, so that no address change falls in between */
	if (d->xdp)
		local_addrs_refresh(io_xdp_loader(d->xdp));
	daemon_observe_init(d);
	log_info("%s: up (TUN ifindex %d, MTU %u, UDP port %u)", d->ifname, d->tun.ifindex,
		 o->mtu ? o->mtu : TUN_DEFAULT_MTU, d->sock.port);
	*out = d;
	return 0;

err_errno:
	ret = -errno;
err:
	daemon_free(d);
	return ret;
}

void daemon_free(struct xdpwgd *d)
{
	if (!d)
		return;
	/* The socket goes first, so nobody configures a device that is being torn down. */
	uapi_server_free(d->uapi);
	/* before the engine's teardown: no more move events, no more announcements */
	daemon_roam_free(d);
	daemon_observe_free(d);
	/* workers use the engine: they stop first; then the program leaves the uplinks */
	io_xdp_stop(d->xdp);
	d->xdp = NULL; /* the engine's teardown still calls the hooks */
	/* no worker is left to report a move */
	events_free(d->events);
	d->events = NULL;
	wg_device_free(d->dev);
	io_socket_close(&d->sock);
	tun_close(&d->tun);
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->sigfd >= 0)
		close(d->sigfd);
	if (d->timerfd >= 0)
		close(d->timerfd);
	io_rx_batch_free(d->rx);
	io_tx_batch_free(d->txb);
	allowedips_free(d->allow_trie);
	free(d->allow_src);
	if (d->pkt) {
		/* the last plaintext packet read from the TUN */
		crypto_wipe(d->pkt, TUN_GSO_BUF);
		free(d->pkt);
	}
	if (d->gro) {
		crypto_wipe(d->gro, sizeof(*d->gro));
		free(d->gro);
	}
	free(d);
}
