/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The protocol's constants in one place, the kernel driver's messages.h habit: the paper's
 * timers and message limits, and the engine's own bounds on queues. The wire formats themselves
 * are the BPF/userspace contract (headers/xdpwg_wire.h). Part of the engine's public face: the
 * back-ends and the daemon size their buffers from it.
 */
#ifndef XDPWG_MESSAGES_H
#define XDPWG_MESSAGES_H

#include <stdint.h>

#include "xdpwg_wire.h"

/* The protocol's clocks, in seconds (the paper's table). */
enum wg_timings {
	REKEY_AFTER_TIME = 120,
	REJECT_AFTER_TIME = 180,
	REKEY_ATTEMPT_TIME = 90,
	REKEY_TIMEOUT = 5,
	KEEPALIVE_TIMEOUT = 10,
	/* retransmits of one initiation before giving up */
	MAX_TIMER_HANDSHAKES = REKEY_ATTEMPT_TIME / REKEY_TIMEOUT,
	/* REKEY_TIMEOUT's random extra, in milliseconds (the kernel's HZ/3) */
	REKEY_TIMEOUT_JITTER_MAX_MS = 334,
	/* consumed initiations per second and peer; also sets the timestamp granularity */
	INITIATIONS_PER_SECOND = 50,
};

#define NSEC_PER_SEC  1000000000ULL
#define NSEC_PER_MSEC 1000000ULL

/* The replay window (RFC 6479's bitmap): REPLAY_BITS_TOTAL counters, one word of which is
 * always being rotated in. */
enum wg_replay_bits {
	REPLAY_BITS_TOTAL = 8192,
	REPLAY_BITS_PER_WORD = 64,
	REPLAY_WORDS = REPLAY_BITS_TOTAL / REPLAY_BITS_PER_WORD,
	/* one word is always being rotated in, so this much history is guaranteed */
	REPLAY_WINDOW_SIZE = REPLAY_BITS_TOTAL - REPLAY_BITS_PER_WORD, /* 8128 */
};

/* Messages under one keypair: a new handshake past the first, none at all past the second
 * (2^64 - 2^13 - 1, so that the replay window never wraps). */
#define REKEY_AFTER_MESSAGES  (1ULL << 60)
#define REJECT_AFTER_MESSAGES (UINT64_MAX - REPLAY_BITS_TOTAL)

enum wg_noise_lengths {
	NOISE_PUBLIC_KEY_LEN = WG_KEY_LEN,
	NOISE_SYMMETRIC_KEY_LEN = WG_KEY_LEN,
	NOISE_TIMESTAMP_LEN = WG_TIMESTAMP_LEN,
	NOISE_HASH_LEN = WG_HASH_LEN,
};

enum wg_device_constants {
	WG_MAX_QUEUED_INCOMING_HANDSHAKES = 4096,
	/* under load once the queue is this deep */
	WG_UNDER_LOAD_QUEUE_DEPTH = WG_MAX_QUEUED_INCOMING_HANDSHAKES / 8,
	/* the priority lane: handshake messages with a valid mac2 (their source proved it receives
	 * at its address) go ahead of the queue; when it is full they queue like the rest */
	WG_MAX_QUEUED_PRIORITY_HANDSHAKES = 512,
	WG_MAX_STAGED_PACKETS = 128,
	/* the largest IP packet wg_device_tx accepts */
	WG_MAX_PACKET = 65535,
	/* as the kernel's: peers per device */
	MAX_PEERS_PER_DEVICE = 1U << 20,
};

#endif
