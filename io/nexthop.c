// SPDX-License-Identifier: GPL-2.0
/*
 * The next-hop cache (see nexthop.h).
 */
#include <string.h>
#include <sys/socket.h>

#include "nexthop.h"

void nexthop_init(struct nexthop_cache *c)
{
	memset(c->slot, 0, sizeof(c->slot));
	pthread_rwlock_init(&c->lock, NULL);
}

void nexthop_destroy(struct nexthop_cache *c)
{
	pthread_rwlock_destroy(&c->lock);
}

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

/* The slot holding ip, or the empty slot where it would go, or NULL (probe limit reached). */
static struct nexthop *nexthop_slot(struct nexthop_cache *c, int family, const union nl_addr *ip)
{
	uint32_t h = nexthop_hash(family, ip);

	for (unsigned int i = 0; i < NEXTHOP_PROBE; i++) {
		struct nexthop *n = &c->slot[(h + i) & (NEXTHOP_SLOTS - 1)];

		if (!n->used)
			return n;
		if (n->family == family && !memcmp(&n->ip, ip, nexthop_alen(family)))
			return n;
	}
	return NULL;
}

bool nexthop_get(struct nexthop_cache *c, int family, const union nl_addr *ip, struct nexthop *out)
{
	struct nexthop *n;
	bool found = false;

	pthread_rwlock_rdlock(&c->lock);
	n = nexthop_slot(c, family, ip);
	if (n && n->used) {
		*out = *n;
		found = true;
	}
	pthread_rwlock_unlock(&c->lock);
	return found;
}

bool nexthop_put(struct nexthop_cache *c, const struct nexthop *e)
{
	struct nexthop *n, cur;

	/* the common case is "nothing changed": check under the read lock first */
	if (nexthop_get(c, e->family, &e->ip, &cur) && !memcmp(&cur, e, sizeof(cur)))
		return true;
	pthread_rwlock_wrlock(&c->lock);
	n = nexthop_slot(c, e->family, &e->ip);
	if (n) {
		*n = *e;
		n->used = 1;
	}
	pthread_rwlock_unlock(&c->lock);
	return n != NULL;
}

void nexthop_flush(struct nexthop_cache *c)
{
	pthread_rwlock_wrlock(&c->lock);
	memset(c->slot, 0, sizeof(c->slot));
	pthread_rwlock_unlock(&c->lock);
}
