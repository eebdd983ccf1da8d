/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The gateway cluster's peer set and membership in etcd (docs/cluster.md, "The peer set in
 * etcd"): --cluster NAME --etcd URL[,URL...].
 *
 * A thread reads /xdpwg/NAME/ from etcd: first the whole prefix at one revision, applied as
 * one atomic set (every peer of the store, and the removal of the peers an earlier sync
 * applied that are gone), then a watch from the next revision, each change applied
 * atomically. The applying happens on the control thread, through the same handler as a UAPI
 * set: the thread parses and queues, an eventfd wakes the loop (DAEMON_EV_CLUSTER). A
 * malformed record is refused with one log line naming its key, and changes nothing.
 *
 * Peers from etcd and peers configured locally (wg set, setconf) coexist: the daemon
 * remembers which public keys it applied from etcd and only ever removes those. A key that
 * appears in etcd while configured locally is taken over by etcd; a local request that
 * removes a peer from etcd makes the daemon read etcd again and put it back.
 *
 * With a gateway id (XDPWG_GATEWAY_ID, 1-63) and an underlay address (XDPWG_UNDERLAY) the
 * gateway registers itself under /xdpwg/NAME/gateways/ID with a lease of
 * CLUSTER_LEASE_TTL_S seconds, kept alive every CLUSTER_KEEPALIVE_MS: a gateway that dies
 * leaves the membership by itself. Membership changes reach cluster_member_changed.
 *
 * With a gateway id and --cluster-table, the held/ claims (cluster_held.h): which gateway
 * holds which peer's session, written under the same lease, read through the same watch.
 */
#ifndef XDPWG_DAEMON_CLUSTER_H
#define XDPWG_DAEMON_CLUSTER_H

#include <stdbool.h>
#include <sys/socket.h>

#include "cluster_record.h"

enum cluster_constants {
	CLUSTER_LEASE_TTL_S = 3,
	CLUSTER_KEEPALIVE_MS = 1000,
	CLUSTER_REVOKE_MS = 500,      /* per member, on the way out */
	CLUSTER_RETRY_MS = 1000,      /* after every etcd endpoint failed */
	CLUSTER_WARN_EVERY_S = 30,    /* a watch failing all along: one line this often */
	CLUSTER_ITEMS_PER_WAKE = 256, /* queued changes applied per loop round */
};

struct xdpwgd;
struct cluster;

struct cluster_opts {
	const char *name; /* NULL: no cluster */
	const char *etcd;
	unsigned int gateway_id; /* 0: do not register */
	struct sockaddr_storage underlay;
};

/*
 * --cluster NAME, --etcd URLS (or XDPWG_CLUSTER, XDPWG_ETCD; the command line wins), with
 * XDPWG_GATEWAY_ID and XDPWG_UNDERLAY from the environment. Validated: one line on stderr
 * naming the option and why, and -1; 0 when fine (o->name NULL: no cluster).
 */
int cluster_parse_opts(struct cluster_opts *o, const char *name, const char *etcd);

/* Start the thread(s); the daemon's loop must be set up. 0 or -errno, logged. */
int cluster_start(struct xdpwgd *d, const struct cluster_opts *o);
/* The eventfd woke the loop: apply what the thread queued. */
void cluster_on_event(struct xdpwgd *d);
/* Stop the threads (revoking the membership lease), free everything. NULL is fine. */
void cluster_free(struct cluster *c);

/*
 * A configuration request (UAPI set) was applied: if it removed peers that came from etcd
 * (setconf's replace_peers, syncconf's or wg set's removals), read the peer set again so that
 * they come back: etcd keeps them, and a local file must not take them away (the systemd
 * unit runs setconf after every start). Control thread.
 */
struct conf_dev;
void cluster_on_local_set(struct xdpwgd *d, const struct conf_dev *req);

/*
 * A member gateway joined (alive, with its underlay address) or left (its lease expired, or
 * its key was deleted). Called on the control thread, never for this gateway's own id. The
 * hook for forwarding to member gateways (io/cluster_fwd.h) goes here.
 */
void cluster_member_changed(struct xdpwgd *d, unsigned int id,
			    const struct sockaddr_storage *underlay, bool alive);

#endif
