/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The peers the tick must look at: those with a timer armed or a handshake wanted. A million
 * idle peers cost the tick nothing; walking them all once a second was 5% of a core.
 *
 * Any thread that arms a timer (timers.c) or wants a handshake (peer.c) enlists the peer
 * (ticklist_add: one exchange when it is listed already, else a push on a lock-free stack);
 * the control thread moves what was pushed into its array and walks only that, dropping a
 * peer once nothing is armed and no handshake is wanted. A listed peer holds a reference.
 */
#ifndef XDPWG_TICKLIST_H
#define XDPWG_TICKLIST_H

#include <stdint.h>

struct wg_device;
struct wg_peer;

/* Any thread, after arming a timer or setting handshake_wanted. */
void ticklist_add(struct wg_peer *peer);
/* Control thread: fire due timers of listed peers; the earliest deadline left (0: none). */
uint64_t ticklist_run(struct wg_device *dev, uint64_t now);
/* Control thread: send the initiations workers asked for (peer->handshake_wanted). */
void ticklist_handshakes(struct wg_device *dev);
/* wg_device_free, after every peer was removed: drop the list's references. */
void ticklist_free(struct wg_device *dev);

#endif
