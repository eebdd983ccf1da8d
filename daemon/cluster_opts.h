/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xdpwgd's gateway-cluster options (docs/cluster.md): --gateway-id N (XDPWG_GATEWAY_ID) puts N
 * in the top bits of every receiver index this gateway hands out, and --cluster-gateway ID=ADDR
 * (repeatable; XDPWG_CLUSTER_GATEWAYS="ID=ADDR,...") names a static member and its underlay
 * address; the list may name this gateway too, which gives its own underlay address. Parsed
 * and checked by main (one line naming the option and the fault, exit 1); started by
 * daemon_cluster_start once the XDP program is up, before any peer is configured.
 */
#ifndef XDPWG_CLUSTER_OPTS_H
#define XDPWG_CLUSTER_OPTS_H

#include <stdbool.h>

#include "cluster_fwd.h"
#include "xdpwg_kern_user.h"

struct xdpwgd;

struct cluster_fwd_opts {
	unsigned int gateway_id; /* 0: not in a cluster */
	struct cluster_member members[XDPWG_GW_ID_MAX];
	unsigned int n_members;
};

/* --gateway-id / XDPWG_GATEWAY_ID (what names the source in the error). 0 or -1. */
int cluster_opts_parse_id(struct cluster_fwd_opts *o, const char *what, const char *arg);
/* --cluster-gateway ID=ADDR, or XDPWG_CLUSTER_GATEWAYS's comma-separated list of them. 0 or -1.
 */
int cluster_opts_parse_members(struct cluster_fwd_opts *o, const char *what, const char *arg);
/* After the command line: the environment where the command line said nothing, then the checks
 * across options (members need an id). 0 or -1. */
int cluster_opts_finish(struct cluster_fwd_opts *o);

/* The daemon's side: the engine's index owner, the maps, forwarding on the uplinks, the static
 * members. Nothing when o is NULL or has no id. 0 or -errno, logged. */
int daemon_cluster_start(struct xdpwgd *d, const struct cluster_fwd_opts *o);
/* Routes changed: keep the members' next hops resolved. */
void daemon_cluster_routes_changed(struct xdpwgd *d);
void daemon_cluster_stop(struct xdpwgd *d);

#endif
