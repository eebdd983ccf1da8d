/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A cluster gateway's routes to the peers whose session it holds (--cluster-table N): for every
 * allowed IP of every peer whose last handshake completed here and whose session has not
 * expired, a route on the tunnel device in kernel table N. The routing daemon beside xdpwgd
 * (BIRD, dist/bird/gateway.conf) learns that table and announces it, so the upstream router
 * sends traffic for a client to the gateway that holds its keys (docs/cluster.md).
 *
 * A peer is held from the handshake that gives it a session here (session_add) until its last
 * session here is gone (session_del), its session is older than REJECT_AFTER_TIME with no new
 * handshake, it is removed, or another gateway takes it (cluster_routes_release). Control
 * thread only.
 */
#ifndef XDPWG_CLUSTER_ROUTES_H
#define XDPWG_CLUSTER_ROUTES_H

#include <stdbool.h>
#include <stdint.h>

#include "xdpwg_wire.h"

struct conf_dev;
struct cluster_routes;
struct wg_device;
struct wg_peer;

enum cluster_routes_constants {
	/* the protocol number of our routes (rtnetlink's rtm_protocol; `ip route ... proto 88`):
	 * unassigned in the kernel's and iproute2's lists; a flush at start takes only these */
	CLUSTER_RTPROT = 88,
	/* indexes (keypairs: previous, current, next, and ones on their way out) per held peer */
	CLUSTER_ROUTES_MAX_INDEXES = 8,
	CLUSTER_ROUTES_BUCKETS = 16384,
};

/* Routes in kernel table `table` on the interface oif; what an earlier run left there (our
 * protocol only) is flushed. NULL with a log line. */
struct cluster_routes *cluster_routes_new(struct wg_device *dev, const char *ifname, uint32_t table,
					  int oif);
/* Every route of ours taken away, then freed. NULL is fine. */
void cluster_routes_free(struct cluster_routes *cr);

/* The engine's hooks (daemon/ops.c): a local index began or stopped receiving; a peer was
 * removed (called with the device's lock held: no engine call from here). */
void cluster_routes_session_add(struct cluster_routes *cr, uint32_t index, struct wg_peer *peer);
void cluster_routes_session_del(struct cluster_routes *cr, uint32_t index);
void cluster_routes_peer_removed(struct cluster_routes *cr, struct wg_peer *peer);
/* A configuration request was applied: the held peers it names (all with replace_peers) get
 * their routes from their allowed IPs again. Then as cluster_routes_flush. */
void cluster_routes_applied(struct cluster_routes *cr, const struct conf_dev *req);
/* Install what the hooks asked for since the last call (after handshakes were processed). */
void cluster_routes_flush(struct cluster_routes *cr);
/* Once a second or so: expired sessions let go; everything again after the tunnel device was
 * down (the kernel drops its routes with it); failed installs retried. */
void cluster_routes_tick(struct cluster_routes *cr, uint64_t now_ns);
/* Another gateway holds this peer's session now (the cluster's store said so): our routes for
 * it go at once. True when it was held here. A later handshake here holds it again. */
bool cluster_routes_release(struct cluster_routes *cr, const uint8_t pub[WG_KEY_LEN]);
/* Told when a peer becomes held here (held true: a handshake completed here while it was not;
 * at the flush after it) and when it stops being held (false: its session here is gone,
 * expired or removed, or the daemon stops), so that the cluster's store can say which gateway
 * holds whom. Not told of a cluster_routes_release: the caller knows. The false call may come
 * from the engine's peer_removed hook, with the device's lock held: no engine call from it. */
typedef void (*cluster_routes_held_fn)(void *ctx, const uint8_t pub[WG_KEY_LEN], bool held);
void cluster_routes_set_held_fn(struct cluster_routes *cr, cluster_routes_held_fn fn, void *ctx);
/* How many peers are held (routes installed or pending). */
unsigned int cluster_routes_held(const struct cluster_routes *cr);

#endif
