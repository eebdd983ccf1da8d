/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The receive side: transport data (any thread) and queued handshake messages (control thread).
 */
#ifndef XDPWG_RECEIVE_H
#define XDPWG_RECEIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "peer.h"

/* Any thread, through its path: true when the message authenticated and was fresh. */
bool receive_data(struct wg_path *path, uint8_t *buf, size_t len, const struct wg_endpoint *src);
void receive_handshake(struct wg_device *dev, struct handshake_queue_entry *e);
/* Report the end of an "under load" episode (control thread, each tick). */
void receive_load_tick(struct wg_device *dev);

#endif
