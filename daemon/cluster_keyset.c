// SPDX-License-Identifier: GPL-2.0
/*
 * The set of public keys the cluster applied from etcd (cluster_internal.h): a peer etcd
 * manages is told from a local one, and a local request that would remove one is undone.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_internal.h"

static size_t cluster_hash(const uint8_t *k, size_t cap)
{
	uint64_t h;

	/* public keys are uniformly distributed: their first bytes are hash enough */
	memcpy(&h, k, sizeof(h));
	return (size_t)((h * 0x9e3779b97f4a7c15ULL) >> 17) & (cap - 1);
}

struct cluster_slot *cluster_keyset_find(const struct cluster_keyset *s, const uint8_t *k)
{
	if (!s->cap)
		return NULL;
	for (size_t i = cluster_hash(k, s->cap);; i = (i + 1) & (s->cap - 1)) {
		if (!s->slots[i].used)
			return NULL;
		if (!memcmp(s->slots[i].k, k, WG_KEY_LEN))
			return &s->slots[i];
	}
}

int cluster_keyset_add(struct cluster_keyset *s, const uint8_t *k)
{
	size_t i;

	if (cluster_keyset_find(s, k))
		return 0;
	if ((s->n + 1) * 2 > s->cap) {
		struct cluster_keyset g = { .cap = s->cap ? s->cap * 2 : 64 };

		g.slots = calloc(g.cap, sizeof(*g.slots));
		if (!g.slots)
			return -ENOMEM;
		for (i = 0; i < s->cap; i++) {
			if (s->slots[i].used)
				cluster_keyset_add(&g, s->slots[i].k); /* fits: no growth */
		}
		free(s->slots);
		*s = g;
	}
	for (i = cluster_hash(k, s->cap); s->slots[i].used; i = (i + 1) & (s->cap - 1))
		;
	memcpy(s->slots[i].k, k, WG_KEY_LEN);
	s->slots[i].used = true;
	s->n++;
	return 0;
}

/* Backward-shift deletion: the entries after the hole that probed past it move into it. */
void cluster_keyset_del(struct cluster_keyset *s, const uint8_t *k)
{
	struct cluster_slot *slot = cluster_keyset_find(s, k);
	size_t i, j, mask = s->cap - 1;

	if (!slot)
		return;
	i = (size_t)(slot - s->slots);
	s->slots[i].used = false;
	s->n--;
	for (j = (i + 1) & mask; s->slots[j].used; j = (j + 1) & mask) {
		size_t h = cluster_hash(s->slots[j].k, s->cap);

		/* j stays when its home h lies cyclically in (i, j] */
		if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		s->slots[i] = s->slots[j];
		s->slots[j].used = false;
		i = j;
	}
}

void cluster_keyset_free(struct cluster_keyset *s)
{
	free(s->slots);
	memset(s, 0, sizeof(*s));
}
