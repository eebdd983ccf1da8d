/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The BPF peers map's transmit counters, kept in step with the engine's: XDP counts what it
 * receives (rx_packets, rx_bytes) itself, but what the daemon sends never passes the program, so
 * on the daemon's tick (at most once per PEER_SYNC_INTERVAL_NS) each peer's engine tx counters
 * (the figures `wg show` prints) are copied into its map entry, for the peers whose counters
 * changed since the last copy only. Only the peers with a handshake or a session (an entry in
 * the receiver-index table) are looked at, and every peer once in PEER_SYNC_FULL_EVERY ticks:
 * 100k idle peers cost nothing most seconds, a walk of the peer list and no map write in the
 * others. Control thread.
 */
#ifndef XDPWG_PEER_SYNC_H
#define XDPWG_PEER_SYNC_H

#include <stdint.h>

struct wg_device;
struct wg_peer;
struct xdpwg_loader;

/* just under the daemon's 1 s tick, which may come a little early */
#define PEER_SYNC_INTERVAL_NS 900000000ULL
/* every peer, not only those in the index table, once in so many ticks (about half a minute):
 * the bound on how late a counter can be for a send that raced its keypair's removal */
#define PEER_SYNC_FULL_EVERY  30

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
