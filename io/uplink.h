/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Several tunnels on one uplink (bpf/chain.bpf.h). Each xdpwgd loads its own xdpwg_rx and owns
 * its own maps; what the daemons of one network namespace share is the uplink's entry program
 * (xdpwg_mux, loaded and attached through libxdp) and three small maps: chain (the tunnels'
 * programs, a row of XDPWG_CHAIN_SLOTS slots per uplink), rows (ifindex -> row) and owners (who
 * holds a slot). A daemon joins an uplink by taking a free slot in its row and leaves by
 * clearing it; the last one out detaches the entry program. A slot whose daemon died (kill -9)
 * or whose TUN is the one starting again is reclaimed on the next join.
 *
 * The shared maps are found through the entry program attached to one of the uplinks (so the
 * daemons need not share a bpffs mount), else through their pins under
 * <pin_root>/@uplinks/, else they are the ones the caller's own object creates. Joins and leaves
 * of the namespace are serialized by a lock: an abstract unix socket, which is per network
 * namespace and released by the kernel when its holder dies.
 *
 * With libxdp's dispatcher (kernels with freplace) the entry program is one of the dispatcher's
 * programs and shares the uplink with other XDP programs (xdp-filter, ...); without it (this
 * host's kernel) libxdp attaches it alone and says so in one log line.
 */
#ifndef XDPWG_UPLINK_H
#define XDPWG_UPLINK_H

#include <stdbool.h>
#include <stdint.h>

#include "loader.h"

struct bpf_object;
struct uplink;
struct xdp_program;

/* Take the namespace's lock (waits up to 10 s) and find the shared maps for the uplinks named
 * (their ifindexes, n of them). pin_root NULL: nothing is pinned or looked up in bpffs.
 * -EBUSY when two of the uplinks are served by different chains (foreign daemons). */
int uplink_open(const int *ifindexes, unsigned int n, const char *pin_root, struct uplink **out);
/* Before the tunnel's object is loaded: make its chain, rows and owners maps the shared ones
 * (when there are any yet). */
int uplink_reuse_maps(struct uplink *u, struct bpf_object *obj);
/* After it is loaded: where there were none, its maps become the shared ones (and are pinned). */
int uplink_adopt_maps(struct uplink *u, struct bpf_object *obj);

/* Reserve a slot on ifindex for tunnel tun (listen port port): *chain_at gets row * SLOTS +
 * slot. -EADDRINUSE if a live tunnel on this uplink has the same port, -ENOSPC when the row is
 * full. The caller then writes chain_at into its ifaces map and calls uplink_join. */
int uplink_reserve(struct uplink *u, int ifindex, const char *tun, uint16_t port,
		   uint32_t *chain_at);
/* Put prog_fd into the reserved slot and make sure the entry program is attached (mode for a
 * first attach; a tunnel alone on the uplink re-attaches it in its mode). *native: the mode
 * the uplink's entry program runs in. */
int uplink_join(struct uplink *u, int ifindex, uint32_t chain_at, int prog_fd,
		enum loader_mode mode, bool *native);
/* Let other daemons join and leave (the lock is held from uplink_open). */
void uplink_unlock(struct uplink *u);
/* Clear our slot (takes the lock); the last tunnel out detaches the entry program. */
int uplink_leave(struct uplink *u, int ifindex, uint32_t chain_at);
/* Our listen port changed: say so in our slot's record. */
void uplink_set_port(struct uplink *u, int ifindex, uint32_t chain_at, uint16_t port);
void uplink_close(struct uplink *u);

/* Where libxdp's dispatcher is on the uplink already (xdp-filter, ...), a tunnel that is the only
 * one of its daemon's uplinks runs as one of the dispatcher's programs instead of behind our
 * entry program: the kernel lets no dispatcher program tail-call ours. */
bool uplink_dispatcher_on(int ifindex);
/* Load obj (not loaded yet) through libxdp and attach its program to ifindex's dispatcher. */
int uplink_dispatcher_attach(struct bpf_object *obj, int ifindex, enum loader_mode mode,
			     struct xdp_program **out, bool *native);
void uplink_dispatcher_detach(struct xdp_program *xp, int ifindex);

#endif
