/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The BPF peers map's transmit counters, kept in step with the engine's: XDP counts what it
 * receives (rx_packets, rx_bytes) itself, but what the daemon sends never passes the program, so
 * on the daemon's tick (at most once per PEER_SYNC_INTERVAL_NS) each peer's engine tx counters
 * (the figures `wg show` prints) are copied into its map entry, for the peers whose counters
 * changed since the last copy only: 100k idle peers cost a walk of the peer list and no map
 * write. Control thread.
 */
#ifndef XDPWG_PEER_SYNC_H
#define XDPWG_PEER_SYNC_H

#include <stdint.h>

struct wg_device;
struct wg_peer;
struct xdpwg_loader;

/* just under the daemon's 1 s tick, which may come a little early */
#define PEER_SYNC_INTERVAL_NS 900000000ULL

struct peer_sync;

/* repair(ctx, peer): the map's endpoint for peer is not the engine's (a worker moved the peer
 * while its entry was being rewritten): rewrite the entry from the engine (io_xdp_peer_update). */
struct peer_sync *peer_sync_new(void (*repair)(void *ctx, struct wg_peer *peer), void *ctx);
void peer_sync_free(struct peer_sync *ps);
/* Copy what changed; the number of entries written, or -errno. Does nothing (0) when called
 * again within PEER_SYNC_INTERVAL_NS. */
int peer_sync_tick(struct peer_sync *ps, struct wg_device *dev, struct xdpwg_loader *ld,
		   uint64_t now_ns);

#endif
