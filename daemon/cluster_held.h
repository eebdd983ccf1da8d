/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Who holds a session, in etcd (docs/cluster.md, "Who holds a session"). When a peer becomes
 * held here (cluster_routes: a handshake completed here), the gateway writes
 *
 *   /xdpwg/NAME/held/KEY = {"gateway":ID}
 *
 * under its membership lease, so that a dead gateway's claims go with it. Every gateway sees
 * the held/ records through the cluster's one watch of /xdpwg/NAME/ (cluster.c); when another
 * gateway claims a peer this gateway holds, it drops its routes for it
 * (cluster_routes_release) and BIRD withdraws them. When a peer stops being held here, the
 * claim is deleted only while it is still ours (a transaction comparing the value).
 *
 * The writes happen on a thread of their own with bounded timeouts; the control thread only
 * marks what to write. The newest claim wins: the watch delivers claims in revision order, and
 * a claim of another gateway seen while ours is still on its way (not yet seen in the watch)
 * is older than ours and is ignored.
 */
#ifndef XDPWG_CLUSTER_HELD_H
#define XDPWG_CLUSTER_HELD_H

#include <stdbool.h>
#include <stdint.h>

#include "xdpwg_wire.h"

struct cluster_held;
struct cluster_routes;

enum cluster_held_constants {
	CLUSTER_HELD_BUCKETS = 4096,
	CLUSTER_HELD_RETRY_MS = 1000, /* after a write failed */
	CLUSTER_HELD_WAIT_MS = 1000,  /* the writer looks at its stop flag this often */
};

/* Claims of gateway self_id under prefix ("/xdpwg/NAME/"), through etcd at urls, for the
 * peers cr holds; registers itself as cr's held function. NULL with a log line. */
struct cluster_held *cluster_held_new(const char *ifname, const char *urls, const char *prefix,
				      unsigned int self_id, struct cluster_routes *cr);
/* Unregister from cr, stop the writer (within about a second), free. NULL is fine. */
/* Stop writing claims (the writer joined, the hook gone); the table stays for the registrar,
 * which may still hand over a lease until it is joined. NULL is fine. */
void cluster_held_stop(struct cluster_held *h);
/* cluster_held_stop, then free. Only after every thread that may call in has been joined. */
void cluster_held_free(struct cluster_held *h);
/* The registrar's membership lease (0: none now). A new lease: every claim is written again
 * under it. Any thread. */
void cluster_held_set_lease(struct cluster_held *h, int64_t lease);
/* A held/ record seen in etcd (in revision order): gateway claims pub (deleted: the claim
 * went). Control thread. */
void cluster_held_on_record(struct cluster_held *h, const uint8_t pub[WG_KEY_LEN],
			    unsigned int gateway, bool deleted);

#endif
