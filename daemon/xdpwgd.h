/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The daemon's own view of itself, shared by its files, one concern each:
 *
 *   daemon.c          set-up, tear-down and the event loop (which source wakes what)
 *   ops.c             the engine's hooks: the control thread's sends, rebinding, the BPF maps
 *   uapi_handlers.c   the configuration socket's get and set
 *   allowlist.c       the source allowlist for what reaches the kernel sockets
 *   roam_watch.c      roaming besides the engine: move events, XDP sightings, route changes
 *   observe.c         the tick's housekeeping: MTU, a deleted TUN, drop bursts, counters
 *   metrics_http.c    GET /metrics for Prometheus (--metrics)
 *   cluster_routes.c  the routes of the sessions held here (--cluster-table)
 *   cluster_opts.c    a gateway cluster: --gateway-id, --cluster-gateway, their start
 *   cluster.c         the cluster's peer set and membership from etcd (--cluster)
 *   cluster_held.c    who holds a session, in etcd (held/ claims; releases the old holder)
 *
 * Everything here runs on the control thread, except the hooks that ops.c marks otherwise.
 */
#ifndef XDPWG_XDPWGD_H
#define XDPWG_XDPWGD_H

#include <net/if.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "allowedips.h"
#include "config.h"
#include "daemon.h"
#include "device.h"
#include "events.h"
#include "io_socket.h"
#include "io_xdp.h"
#include "netlink.h"
#include "tun.h"
#include "xdpwg_kern_user.h"

struct cluster_routes;
struct cluster_fwd;
struct cluster_sock;
struct cluster;
struct droplog;
struct metrics_http;
struct io_sockpath;
struct ring_buffer;
struct uapi_server;

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
	DAEMON_EV_METRICS,     /* a scraper connected to --metrics */
	DAEMON_EV_CLUSTER,     /* the etcd watcher queued changes (cluster.c) */
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

enum daemon_uapi_constants {
	/* peers per piece of a streamed get=1 (~24 KB of text): a piece's peer array (216 bytes
	 * a peer, secure memory) stays within secmem.c's arena blocks (16 KB). With 1,024 its
	 * doublings went to sodium_malloc, an mmap with guard pages, a canary fill and a zeroing
	 * each: a fifth of a get=1's time was memset (perf, issue #21). */
	DAEMON_GET_PIECE = 64,
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
	/* the socket back-end's data path, without XDP (io/sock_path.c) */
	struct io_sockpath *sockpath;
	struct uapi_server *uapi;
	struct metrics_http *metrics; /* --metrics, or NULL */
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
	/* a multipath client's uplinks (paths.c): --uplinks names, or none at all */
	char uplink_names[4][IFNAMSIZ];
	size_t n_uplink_names;
	bool uplinks_off;
	/* observability on the tick: drop bursts logged */
	struct droplog *droplog;
	/* --cluster-table: routes to the peers whose session is held here, or NULL */
	struct cluster_routes *croutes;
	/* a gateway cluster's members and forwarding (cluster_opts.c), or NULL */
	struct cluster_fwd *cfwd;
	struct cluster_sock *cluster_sock; /* its forwarding on the socket path, without XDP */
	/* the peer set and membership from etcd (cluster.c), or NULL */
	struct cluster *cluster;
};

/* daemon.c */
int daemon_watch(struct xdpwgd *d, int fd, enum daemon_source src);
/* Re-arm the engine's tick in ms (clamped to 1..DAEMON_TICK_MAX_MS). */
void daemon_arm_timer(struct xdpwgd *d, int ms);

/* ops.c */
extern const struct wg_io_ops daemon_io_ops;

/* uapi_handlers.c */
extern const struct uapi_handler daemon_uapi_handler;

/* allowlist.c */
/* The list a request asks for: its CIDRs, after the current ones unless it replaces them. */
int daemon_allow_src_merge(const struct xdpwgd *d, const struct conf_dev *req,
			   struct conf_allowedip **out, size_t *n, char *err, size_t errlen);
/* A trie of the list for the kernel-socket path; *out NULL for an empty list (any source). */
int daemon_allow_src_trie(struct xdpwgd *d, const struct conf_allowedip *list, size_t n,
			  struct allowedips **out);
/* Whether a datagram from src may reach the engine; counts the ones that may not. */
bool daemon_source_allowed(void *ctx, const struct wg_endpoint *src);

/* roam_watch.c */
void daemon_roam_init(struct xdpwgd *d);
void daemon_roam_free(struct xdpwgd *d);
/* A route check within DAEMON_ROUTE_COALESCE_MS (configuration changes, moved endpoints). */
void daemon_arm_route_timer(struct xdpwgd *d);
/* The routes to every peer's endpoint looked up now and compared with the last ones: a peer
 * whose route changed under an unchanged endpoint is announced, the rest only recorded. */
void daemon_check_routes(struct xdpwgd *d);
void daemon_on_moves(struct xdpwgd *d);
void daemon_on_netlink(struct xdpwgd *d);
void daemon_on_route_timer(struct xdpwgd *d);

/* paths.c */
/* --uplinks LIST ("none": no multipath client role; NULL: automatic) and --path-probe MS (0:
 * the default). -EINVAL with a log line. */
int daemon_paths_init(struct xdpwgd *d, const char *uplinks, unsigned int probe_ms);
/* Tell the engine the uplinks as they are now (links, addresses, default routes). */
void daemon_paths_refresh(struct xdpwgd *d);

/* observe.c */
/* Tell the engine the TUN's MTU when it changed. */
void daemon_sync_mtu(struct xdpwgd *d);
void daemon_observe_init(struct xdpwgd *d);
void daemon_observe_free(struct xdpwgd *d);
/* The tick's housekeeping; false when the TUN is gone and the daemon must stop. */
bool daemon_observe_tick(struct xdpwgd *d);

#endif
