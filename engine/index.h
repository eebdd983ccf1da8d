/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The receiver-index table: every handshake in flight and every keypair that can receive owns a
 * random, unique 32-bit local index, which the peer echoes in its messages. Looking a data packet
 * up by index is the first thing the receive path does, so lookups take only a read lock and hand
 * back a referenced keypair; writers (handshakes, rotations) are rare.
 */
#ifndef XDPWG_INDEX_H
#define XDPWG_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wg_peer;
struct noise_keypair;

enum index_entry_type {
	INDEX_TYPE_HANDSHAKE = 1U << 0,
	INDEX_TYPE_KEYPAIR = 1U << 1,
};

enum index_constants {
	/* the kernel's size: a few thousand peers fit without long chains */
	INDEX_BUCKETS_LOG2 = 13,
	INDEX_BUCKETS = 1U << INDEX_BUCKETS_LOG2,
};

struct index_entry {
	struct index_entry *next; /* bucket chain */
	struct wg_peer *peer;
	uint32_t index; /* host order; on the wire as-is (LE) */
	enum index_entry_type type;
	bool hashed;
};

struct index_table;

struct index_table *index_table_new(void);
void index_table_free(struct index_table *t);
/* In a cluster, put gateway_id (1..XDPWG_GW_ID_MAX; 0: no cluster, indexes fully random) in
 * the top bits of every index handed out from now on. -EINVAL for an id out of range, -EBUSY
 * when indexes are out already and the id would change. */
int index_table_set_owner(struct index_table *t, unsigned int gateway_id);
unsigned int index_table_owner(struct index_table *t);
/* Give entry a fresh random index nobody else holds and hash it. Returns the index. */
uint32_t index_table_insert(struct index_table *t, struct index_entry *entry);
/* new takes over old's index (a handshake becoming a keypair). False when old is not hashed. */
bool index_table_replace(struct index_table *t, struct index_entry *old, struct index_entry *new_e);
void index_table_remove(struct index_table *t, struct index_entry *entry);
/* The keypair holding index, with a reference taken (noise_keypair_put it), or NULL. */
struct noise_keypair *index_table_lookup_keypair(struct index_table *t, uint32_t index);
/* The peer owning an entry of one of `types` at index, with a reference (peer_put it). */
struct wg_peer *index_table_lookup_peer(struct index_table *t, uint32_t index, unsigned int types,
					struct index_entry **entry);

/* The peers owning an entry (a handshake in flight or a keypair: every peer that can send
 * anything), up to max into out, each with a reference taken (peer_put every one stored); a peer
 * with several entries comes several times. Returns how many entries there are in all: more than
 * max means out was too small and only max were stored. Walks every bucket under the read lock:
 * for the control thread's once-a-second work, not the data path. */
size_t index_table_peers(struct index_table *t, struct wg_peer **out, size_t max);

#endif
