/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-source token bucket for handshake messages, the kernel driver's numbers: 20 packets per
 * second with a burst of 5, keyed by IPv4 address or IPv6 /64. Entries idle for a second are
 * reclaimed by ratelimiter_gc. Thread-safe.
 */
#ifndef XDPWG_RATELIMITER_H
#define XDPWG_RATELIMITER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

enum ratelimiter_constants {
	RATELIMITER_PACKETS_PER_SECOND = 20,
	RATELIMITER_PACKETS_BURSTABLE = 5,
	RATELIMITER_MAX_ENTRIES = 8192 * 16,
};

struct ratelimiter;

struct ratelimiter *ratelimiter_new(void);
void ratelimiter_free(struct ratelimiter *r);
/* True when a packet from this source may be processed now (now_ns: monotonic ns). */
bool ratelimiter_allow(struct ratelimiter *r, const struct sockaddr *src, uint64_t now_ns);
/* Drop entries idle for more than a second. */
void ratelimiter_gc(struct ratelimiter *r, uint64_t now_ns);

#endif
