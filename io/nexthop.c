// SPDX-License-Identifier: GPL-2.0
/*
 * The next-hop cache. See nexthop.h.
 */
#include <string.h>
#include <sys/socket.h>

#include "nexthop.h"

size_t nexthop_alen(int family)
{
	return family == AF_INET ? 4 : 16;
}

static uint32_t nexthop_hash(int family, const union nl_addr *a)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < nexthop_alen(family); i++)
		h = (h ^ a->bytes[i]) * 16777619u;
	return h;
}

/* The slot holding ip, or else (evict) the empty slot where it would go, or with evict the
 * slot of the window written longest ago; without evict NULL when ip is not there. */
static int nexthop_slot(const struct nexthop_cache *c, int family, const union nl_addr *ip,
			bool evict)
{
	uint32_t h = nexthop_hash(family, ip);
	int oldest = -1, empty = -1;

	for (unsigned int i = 0; i < NEXTHOP_PROBE; i++) {
		int s = (int)((h + i) & (NEXTHOP_SLOTS - 1));
		const struct nexthop *n = &c->e[s];

		if (!n->used) {
			if (empty < 0)
				empty = s;
			continue;
		}
		if (n->family == family && !memcmp(&n->ip, ip, nexthop_alen(family)))
			return s;
		if (oldest < 0 || c->written[s] < c->written[oldest])
			oldest = s;
	}
	if (!evict)
		return -1;
	return empty >= 0 ? empty : oldest;
}

void nexthop_cache_init(struct nexthop_cache *c)
{
	memset(c->e, 0, sizeof(c->e));
	memset(c->written, 0, sizeof(c->written));
	c->clock = 0;
	pthread_rwlock_init(&c->lock, NULL);
}

void nexthop_cache_destroy(struct nexthop_cache *c)
{
	pthread_rwlock_destroy(&c->lock);
}

void nexthop_cache_clear(struct nexthop_cache *c)
{
	pthread_rwlock_wrlock(&c->lock);
	memset(c->e, 0, sizeof(c->e));
	pthread_rwlock_unlock(&c->lock);
}

bool nexthop_get(struct nexthop_cache *c, int family, const union nl_addr *ip, struct nexthop *out)
{
	bool found = false;
	int s;

	pthread_rwlock_rdlock(&c->lock);
	s = nexthop_slot(c, family, ip, false);
	if (s >= 0) {
		*out = c->e[s];
		found = true;
	}
	pthread_rwlock_unlock(&c->lock);
	return found;
}

void nexthop_put(struct nexthop_cache *c, const struct nexthop *e)
{
	struct nexthop cur;
	int s;

	/* the common case is "nothing changed": check under the read lock first */
	if (nexthop_get(c, e->family, &e->ip, &cur) && !memcmp(&cur, e, sizeof(cur)))
		return;
	pthread_rwlock_wrlock(&c->lock);
	s = nexthop_slot(c, e->family, &e->ip, true);
	c->e[s] = *e;
	c->e[s].used = 1;
	c->written[s] = ++c->clock;
	pthread_rwlock_unlock(&c->lock);
}
