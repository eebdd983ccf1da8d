// SPDX-License-Identifier: GPL-2.0
/*
 * Roaming besides the engine, on the control thread: the move events (dated by the XDP program's
 * first sighting of the new source when there is one, then logged, kept and streamed by
 * events.c), and the watch on the kernel's routes that makes us announce ourselves at once when
 * the path to a peer changes under an unchanged endpoint (a client whose network changed).
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "cluster_opts.h"
#include "log.h"
#include "xdpwgd.h"

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

void daemon_on_moves(struct xdpwgd *d)
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

void daemon_arm_route_timer(struct xdpwgd *d)
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
void daemon_check_routes(struct xdpwgd *d)
{
	struct daemon_route *now = NULL;
	struct conf_dev *c;
	size_t n = 0, announced = 0;
	bool flushed = false;

	atomic_store(&d->routes_stale, false);
	/* first: an announce below goes out on the uplink chosen now */
	daemon_paths_refresh(d);
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

void daemon_on_netlink(struct xdpwgd *d)
{
	int bits = nl_monitor_read(d->nlmon);

	if (bits < 0 && bits != -EAGAIN) {
		log_debug("%s: netlink monitor: %s", d->ifname, strerror(-bits));
		return;
	}
	if (bits <= 0 || !(bits & (NL_CHANGE_LINK | NL_CHANGE_ADDR | NL_CHANGE_ROUTE)))
		return;
	if (d->xdp && (bits & NL_CHANGE_ADDR))
		io_xdp_local_addrs_refresh(d->xdp);
	/* a member's next hop may have changed */
	if (bits & (NL_CHANGE_ROUTE | NL_CHANGE_LINK))
		daemon_cluster_routes_changed(d);
	if (daemon_route_holding(d)) {
		d->route_armed = true;
		return;
	}
	daemon_check_routes(d);
	daemon_start_route_timer(d);
}

void daemon_on_route_timer(struct xdpwgd *d)
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
void daemon_roam_init(struct xdpwgd *d)
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
		d->rb = ring_buffer__new(io_xdp_events_fd(d->xdp), daemon_on_xdp_event, d, NULL);
		if (!d->rb || daemon_watch(d, ring_buffer__epoll_fd(d->rb), DAEMON_EV_RINGBUF) < 0)
			log_warn("%s: no XDP new-source events: moves dated by receive time",
				 d->ifname);
	}
}

void daemon_roam_free(struct xdpwgd *d)
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
