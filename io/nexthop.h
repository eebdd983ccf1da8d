/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The AF_XDP back-end's next-hop cache: for a remote address, the uplink, the next hop's MAC and
 * ours, learnt from authenticated frames (or from the kernel's route and neighbour tables), so
 * that a worker can build the Ethernet header of a reply itself. A fixed open-addressing table
 * with a short probe; when the probe window is full the entry written longest ago in it is
 * evicted, so a new peer always gets in (before, a full window refused every newcomer for good
 * and its replies fell back to the kernel socket). Readers share a rwlock; writers take it only
 * when something changed.
 */
#ifndef XDPWG_NEXTHOP_H
#define XDPWG_NEXTHOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netlink.h"

enum nexthop_limits {
	NEXTHOP_SLOTS = 4096, /* entries (power of two) */
	NEXTHOP_PROBE = 16,   /* slots looked at per address: the eviction window */
};

struct nexthop {
	uint8_t used;
	uint8_t family;
	uint8_t mac[6];	      /* next hop (destination MAC) */
	uint8_t local_mac[6]; /* our uplink's MAC (source MAC) */
	int ifindex;
	union nl_addr ip;	/* the remote endpoint address this entry serves */
	union nl_addr local_ip; /* our address the remote last wrote to */
};

struct nexthop_cache {
	pthread_rwlock_t lock;
	uint64_t clock; /* write count: the age of an entry */
	struct nexthop e[NEXTHOP_SLOTS];
	uint64_t written[NEXTHOP_SLOTS];
};

void nexthop_cache_init(struct nexthop_cache *c);
void nexthop_cache_destroy(struct nexthop_cache *c);
/* Forget everything (routes changed). */
void nexthop_cache_clear(struct nexthop_cache *c);
/* The entry for ip, copied into out. */
bool nexthop_get(struct nexthop_cache *c, int family, const union nl_addr *ip, struct nexthop *out);
/* Insert or update e (by e->family, e->ip); evicts the oldest entry of a full probe window. */
void nexthop_put(struct nexthop_cache *c, const struct nexthop *e);
/* Bytes of an address of family. */
size_t nexthop_alen(int family);

#endif
