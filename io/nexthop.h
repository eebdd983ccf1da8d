/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The AF_XDP back-end's next-hop cache: for a remote address, the MACs and uplink a frame to it
 * leaves with. Workers learn entries from received frames (only once the engine authenticated
 * the frame, so a forged one cannot steer our replies) and the control thread from the kernel's
 * route and neighbour tables. Read per packet by every worker, written only when something
 * changed: a reader/writer lock around an open-addressed table with a short probe.
 */
#ifndef XDPWG_NEXTHOP_H
#define XDPWG_NEXTHOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "netlink.h"

enum nexthop_constants {
	NEXTHOP_SLOTS = 4096, /* entries (power of two) */
	NEXTHOP_PROBE = 16,   /* slots looked at per address */
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
	struct nexthop slot[NEXTHOP_SLOTS];
};

void nexthop_init(struct nexthop_cache *c);
void nexthop_destroy(struct nexthop_cache *c);
/* The entry for (family, ip) into out; false when there is none. Any thread. */
bool nexthop_get(struct nexthop_cache *c, int family, const union nl_addr *ip, struct nexthop *out);
/* Insert or replace e (keyed by e->family, e->ip). False when its probe run is full: a full
 * neighbourhood only means more kernel-socket fallbacks. Any thread. */
bool nexthop_put(struct nexthop_cache *c, const struct nexthop *e);
/* Forget every entry (the kernel's routes changed). */
void nexthop_flush(struct nexthop_cache *c);
/* Bytes of an address of family. */
size_t nexthop_alen(int family);

#endif
