/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A gateway cluster's forwarding, userspace side (docs/cluster.md "Receiver indexes and
 * forwarding"): this gateway's id and underlay address and the other members' (id, underlay
 * address), kept in the XDP program's gateways and gateway_addrs maps (bpf/cluster.bpf.h), and
 * the neighbours of the members' next hops kept resolved, so that the program's bpf_fib_lookup
 * towards a member finds a MAC without any traffic having gone there first.
 *
 * The membership may come from the command line (daemon/cluster_opts.c) or from etcd (the
 * cluster module): both call cluster_fwd_gateway_set/_del, on the control thread. Every
 * member shares this gateway's underlay family (the outer header is of that family).
 *
 * Neighbours: each member's next hop (the member itself on a shared link, else the route's
 * gateway) gets a managed neighbour entry (NTF_EXT_MANAGED, Linux 5.16+): the kernel resolves
 * it at once and keeps it resolved by itself, no probe traffic of ours. It is re-checked when
 * routes change (cluster_fwd_routes_changed) and removed with the last member using it. Where
 * the kernel refuses managed entries the first forwarded packets are dropped and counted
 * (cluster_no_neighbour) until normal resolution, which nothing of ours then triggers:
 * logged once.
 */
#ifndef XDPWG_CLUSTER_FWD_H
#define XDPWG_CLUSTER_FWD_H

#include <stdbool.h>
#include <sys/socket.h>

#include "xdpwg_kern_user.h"

struct xdpwg_loader;
struct cluster_fwd;

/* One member as the command line or etcd names it. */
struct cluster_member {
	unsigned int id;		  /* 1..XDPWG_GW_ID_MAX */
	struct sockaddr_storage underlay; /* AF_INET or AF_INET6, port ignored */
};

/* This gateway joins with self_id (1..63) and its underlay address (the outer source of what it
 * forwards, the outer destination it unwraps). ld NULL: no XDP program (socket mode), the
 * membership is only recorded. -EINVAL for a bad id or address, -ENOMEM; logged. */
int cluster_fwd_new(struct xdpwg_loader *ld, unsigned int self_id,
		    const struct sockaddr_storage *self_underlay, struct cluster_fwd **out);
/* Leave: the maps say "no cluster" again, kept neighbours are removed. NULL is fine. */
void cluster_fwd_free(struct cluster_fwd *cf);

/* Add member id at underlay, or move it there. -EINVAL: id 0, out of range or our own, or an
 * address of another family than ours; -EEXIST: the address is ours or another member's.
 * Nothing changes on an error; the error is logged naming the member. */
int cluster_fwd_gateway_set(struct cluster_fwd *cf, unsigned int id,
			    const struct sockaddr_storage *underlay);
/* Remove member id: its indexes are dropped and counted from now on (cluster_unknown_gateway).
 * -ENOENT when there is no such member. */
int cluster_fwd_gateway_del(struct cluster_fwd *cf, unsigned int id);
/* Member id's underlay address. true when it is a member. */
bool cluster_fwd_gateway_get(const struct cluster_fwd *cf, unsigned int id,
			     struct sockaddr_storage *out);
unsigned int cluster_fwd_self_id(const struct cluster_fwd *cf);
const struct sockaddr_storage *cluster_fwd_self_underlay(const struct cluster_fwd *cf);
/* Turn on forwarding of family (AF_INET, AF_INET6) on the uplink ifname: the XDP program's
 * bpf_fib_lookup answers only on an interface that forwards (BPF_FIB_LKUP_RET_FWD_DISABLED
 * otherwise), and a gateway routes between its TUN and its uplink anyway. IPv6: an interface
 * that forwards ignores router advertisements unless accept_ra is 2; a cluster's underlay is
 * configured statically. 0, or -errno (-ENOENT: no such interface). Logged when it changed. */
int cluster_fwd_enable_forwarding(const char *ifname, int family);
/* Routes changed: re-check every member's next hop and keep the right neighbours. */
void cluster_fwd_routes_changed(struct cluster_fwd *cf);

#endif
