// SPDX-License-Identifier: GPL-2.0
/*
 * Receiver-index hash table. Indexes are random so that they reveal nothing about how many
 * sessions we have or in which order they were made, and unique so that a packet names exactly
 * one handshake or keypair. Chained buckets, one rwlock: data-path lookups share it.
 */
#include <errno.h>
#include <stdlib.h>

#include "crypto.h"
#include "index.h"
#include "xdpwg_kern_user.h"
#include "noise.h"
#include "peer.h"

struct index_table {
	pthread_rwlock_t lock;
	/* In a cluster, the gateway id in the top XDPWG_GW_ID_BITS of every index we hand out, so
	 * that any gateway can tell from a packet's receiver index which one holds its keys
	 * (docs/cluster.md); 0 outside a cluster: all 32 bits random. */
	uint32_t owner_bits;
	size_t count; /* entries hashed: the owner id may change only while there are none */
	struct index_entry *buckets[INDEX_BUCKETS];
};

static inline unsigned int index_bucket(uint32_t index)
{
	/* the indexes are random already: their low bits are as good as a hash (the gateway id
	 * sits in the top bits, far above the bucket bits) */
	return index & (INDEX_BUCKETS - 1);
}

struct index_table *index_table_new(void)
{
	struct index_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	if (pthread_rwlock_init(&t->lock, NULL)) {
		free(t);
		return NULL;
	}
	return t;
}

void index_table_free(struct index_table *t)
{
	if (!t)
		return;
	pthread_rwlock_destroy(&t->lock);
	free(t);
}

static struct index_entry *index_find_locked(struct index_table *t, uint32_t index)
{
	struct index_entry *e;

	for (e = t->buckets[index_bucket(index)]; e; e = e->next)
		if (e->index == index)
			return e;
	return NULL;
}

static void index_unlink_locked(struct index_table *t, struct index_entry *entry)
{
	struct index_entry **pp;

	for (pp = &t->buckets[index_bucket(entry->index)]; *pp; pp = &(*pp)->next) {
		if (*pp == entry) {
			*pp = entry->next;
			break;
		}
	}
	entry->next = NULL;
	entry->hashed = false;
	t->count--;
}

int index_table_set_owner(struct index_table *t, unsigned int gateway_id)
{
	uint32_t bits;
	int ret = 0;

	if (gateway_id > XDPWG_GW_ID_MAX)
		return -EINVAL;
	bits = (uint32_t)gateway_id << XDPWG_GW_ID_SHIFT;
	pthread_rwlock_wrlock(&t->lock);
	/* indexes already handed out carry the old id: peers would keep naming a gateway that is
	 * no longer us, and the cluster would forward their packets away from their keys */
	if (bits != t->owner_bits && t->count)
		ret = -EBUSY;
	else
		t->owner_bits = bits;
	pthread_rwlock_unlock(&t->lock);
	return ret;
}

unsigned int index_table_owner(struct index_table *t)
{
	unsigned int id;

	pthread_rwlock_rdlock(&t->lock);
	id = t->owner_bits >> XDPWG_GW_ID_SHIFT;
	pthread_rwlock_unlock(&t->lock);
	return id;
}

uint32_t index_table_insert(struct index_table *t, struct index_entry *entry)
{
	uint32_t index;

	pthread_rwlock_wrlock(&t->lock);
	if (entry->hashed)
		index_unlink_locked(t, entry);
	/* 2^32 indexes against at most a few per peer: a collision is rare, a second one rarer;
	 * the loop ends with overwhelming probability within a couple of rounds.
	 * With a gateway id, 2^26 low bits are left: still rare. */
	do {
		index = crypto_random_u32();
		if (t->owner_bits)
			index = (index & XDPWG_GW_INDEX_MASK) | t->owner_bits;
	} while (index_find_locked(t, index));
	entry->index = index;
	entry->next = t->buckets[index_bucket(index)];
	t->buckets[index_bucket(index)] = entry;
	entry->hashed = true;
	t->count++;
	pthread_rwlock_unlock(&t->lock);
	return index;
}

bool index_table_replace(struct index_table *t, struct index_entry *old, struct index_entry *new_e)
{
	struct index_entry **pp;
	bool ret = false;

	pthread_rwlock_wrlock(&t->lock);
	if (!old->hashed)
		goto out;
	for (pp = &t->buckets[index_bucket(old->index)]; *pp; pp = &(*pp)->next) {
		if (*pp == old) {
			new_e->index = old->index;
			new_e->next = old->next;
			new_e->hashed = true;
			*pp = new_e;
			ret = true;
			break;
		}
	}
	/* The old entry keeps its number so that a reused slot cannot be removed twice, but it
	 * is no longer reachable. */
	old->next = NULL;
	old->hashed = false;
out:
	pthread_rwlock_unlock(&t->lock);
	return ret;
}

void index_table_remove(struct index_table *t, struct index_entry *entry)
{
	pthread_rwlock_wrlock(&t->lock);
	if (entry->hashed)
		index_unlink_locked(t, entry);
	pthread_rwlock_unlock(&t->lock);
}

struct noise_keypair *index_table_lookup_keypair(struct index_table *t, uint32_t index)
{
	struct noise_keypair *kp = NULL;
	struct index_entry *e;

	pthread_rwlock_rdlock(&t->lock);
	e = index_find_locked(t, index);
	/* The reference is taken under the lock: removal takes the write lock, so a keypair still
	 * hashed cannot have dropped its last reference yet. */
	if (e && e->type == INDEX_TYPE_KEYPAIR && !atomic_load(&e->peer->is_dead)) {
		kp = (struct noise_keypair *)((char *)e - offsetof(struct noise_keypair, entry));
		noise_keypair_get(kp);
	}
	pthread_rwlock_unlock(&t->lock);
	return kp;
}

struct wg_peer *index_table_lookup_peer(struct index_table *t, uint32_t index, unsigned int types,
					struct index_entry **entry)
{
	struct wg_peer *peer = NULL;
	struct index_entry *e;

	pthread_rwlock_rdlock(&t->lock);
	e = index_find_locked(t, index);
	if (e && (e->type & types) && !atomic_load(&e->peer->is_dead)) {
		peer = peer_get(e->peer);
		if (entry)
			*entry = e;
	}
	pthread_rwlock_unlock(&t->lock);
	return peer;
}

size_t index_table_peers(struct index_table *t, struct wg_peer **out, size_t max)
{
	struct index_entry *e;
	size_t n = 0;

	pthread_rwlock_rdlock(&t->lock);
	for (unsigned int b = 0; b < INDEX_BUCKETS; b++) {
		for (e = t->buckets[b]; e; e = e->next) {
			if (n < max)
				out[n] = peer_get(e->peer);
			n++;
		}
	}
	pthread_rwlock_unlock(&t->lock);
	return n;
}
