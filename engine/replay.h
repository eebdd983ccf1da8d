/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The receive-side replay window (RFC 6479's bitmap, as the kernel driver keeps it): a
 * counter is accepted once, and only if it is newer than the greatest seen minus the window.
 * Not locked: the owner (one keypair, one worker) serialises access.
 */
#ifndef XDPWG_REPLAY_H
#define XDPWG_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#include "messages.h"

struct replay_window {
	uint64_t counter; /* one more than the greatest counter accepted so far; 0: none yet */
	uint64_t bitmap[REPLAY_WORDS];
};

void replay_init(struct replay_window *w);
/*
 * True when `counter` has not been seen, is within the window and is below
 * REJECT_AFTER_MESSAGES; it is then marked as seen. False leaves the window unchanged.
 * Call only after the packet authenticated.
 */
bool replay_check(struct replay_window *w, uint64_t counter);

#endif
