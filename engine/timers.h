/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The protocol's timers (the table at the top of timers.c): what each event arms or disarms,
 * and the handshake watch that names why a handshake does not complete.
 */
#ifndef XDPWG_TIMERS_H
#define XDPWG_TIMERS_H

#include <stddef.h>
#include <stdint.h>

#include "peer.h"

void timers_init(struct wg_peer *peer, uint64_t now);
void timers_data_sent(struct wg_peer *peer);
void timers_data_received(struct wg_peer *peer);
void timers_any_authenticated_packet_sent(struct wg_peer *peer);
void timers_any_authenticated_packet_received(struct wg_peer *peer);
void timers_any_authenticated_packet_traversal(struct wg_peer *peer);
void timers_handshake_initiated(struct wg_peer *peer);
void timers_handshake_complete(struct wg_peer *peer);
void timers_session_derived(struct wg_peer *peer);
void timers_stop(struct wg_peer *peer);
/* A keepalive announce went out (control thread): re-send it on a short backoff until any
 * authenticated packet comes back. */
void timers_announce_sent(struct wg_peer *peer);
/* Run the multipath tick after delay_ns, unless it is armed already (multipath.c). */
void timers_path_arm(struct wg_peer *peer, uint64_t delay_ns);
/* Forget an announce in progress (a handshake initiation replaced it). */
void timers_announce_cancel(struct wg_peer *peer);
/* Fire what is due for peer; returns the next deadline (0: none). Control thread. */
uint64_t timers_run(struct wg_peer *peer, uint64_t now);
/* The handshake watch (control thread): an initiation was handed to the back-end for `to`
 * (ret: its 0 or -errno); a reply to our initiation arrived from src, authenticated (a cookie
 * that decrypted) or not. */
void timers_watch_sent(struct wg_peer *peer, const struct wg_endpoint *to, int ret);
void timers_watch_cookie(struct wg_peer *peer, const struct wg_endpoint *src);
void timers_watch_bad_reply(struct wg_peer *peer, const struct wg_endpoint *src);
enum peer_hs_cause timers_watch_cause(struct wg_peer *peer);
/* The cause in words, for the log: buf, always NUL-terminated. */
const char *timers_watch_describe(struct wg_peer *peer, char *buf, size_t len);

#endif
