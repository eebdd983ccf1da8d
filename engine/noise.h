/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Noise_IKpsk2 handshakes and the transport keypairs they produce, the kernel driver's noise.c
 * translated to userspace. Handshake state is touched only by the control thread; keypairs are
 * shared with the data path through reference counts (C11 atomics) and a per-peer spinlock that
 * guards the current/previous/next slots.
 */
#ifndef XDPWG_NOISE_H
#define XDPWG_NOISE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "index.h"
#include "messages.h"
#include "replay.h"
#include "xdpwg_wire.h"

struct wg_device;
struct wg_peer;

/* True once birth + seconds is at or before now; signed so "long ago" birthdates work. */
static inline bool noise_has_expired(uint64_t birth_ns, uint64_t seconds, uint64_t now_ns)
{
	return (int64_t)(birth_ns + seconds * NSEC_PER_SEC) <= (int64_t)now_ns;
}

struct noise_static_identity {
	uint8_t static_public[NOISE_PUBLIC_KEY_LEN];
	uint8_t static_private[NOISE_PUBLIC_KEY_LEN];
	bool has_identity;
};

struct noise_symmetric_key {
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	uint64_t birthdate;
	atomic_bool is_valid;
};

/* Lives in crypto_secure_alloc memory as a whole: the keys never leave it. */
struct noise_keypair {
	struct index_entry entry;
	struct noise_symmetric_key sending;
	atomic_uint_fast64_t sending_counter;
	struct noise_symmetric_key receiving;
	/* replay windows are per keypair, so two workers only contend on one peer's keypair */
	pthread_spinlock_t replay_lock;
	struct replay_window replay;
	uint32_t remote_index;
	bool i_am_the_initiator;
	uint64_t internal_id;
	atomic_int refcount;
};

struct noise_keypairs {
	/* written under lock; the data path takes a reference under lock too, except the receive
	 * path's lock-free peek at next (a pointer compare, never a dereference) */
	struct noise_keypair *_Atomic current;
	struct noise_keypair *_Atomic previous;
	struct noise_keypair *_Atomic next;
	pthread_spinlock_t lock;
};

enum noise_handshake_state {
	HANDSHAKE_ZEROED,
	HANDSHAKE_CREATED_INITIATION,
	HANDSHAKE_CONSUMED_INITIATION,
	HANDSHAKE_CREATED_RESPONSE,
	HANDSHAKE_CONSUMED_RESPONSE,
};

/* Embedded in the peer, which lives in secure memory. Control thread only. */
struct noise_handshake {
	struct index_entry entry;
	struct noise_static_identity *static_identity;
	enum noise_handshake_state state;
	uint64_t last_initiation_consumption;
	uint8_t ephemeral_private[NOISE_PUBLIC_KEY_LEN];
	uint8_t remote_static[NOISE_PUBLIC_KEY_LEN];
	uint8_t remote_ephemeral[NOISE_PUBLIC_KEY_LEN];
	/* DH(S_i, S_r) never changes for a pair of keys: computed on the first handshake
	 * that needs it (noise.c), so loading 100k peers costs no X25519 */
	uint8_t precomputed_static_static[NOISE_PUBLIC_KEY_LEN];
	uint8_t preshared_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t chaining_key[NOISE_HASH_LEN];
	uint8_t latest_timestamp[NOISE_TIMESTAMP_LEN];
	uint32_t remote_index;
};

/* Precompute HASH(CONSTRUCTION) and its successor; once per process, thread-safe. */
void noise_init(void);

void noise_set_static_identity_private_key(struct noise_static_identity *id,
					   const uint8_t private_key[NOISE_PUBLIC_KEY_LEN]);
void noise_handshake_init(struct noise_handshake *hs, struct noise_static_identity *id,
			  const uint8_t peer_public_key[NOISE_PUBLIC_KEY_LEN],
			  const uint8_t preshared_key[NOISE_SYMMETRIC_KEY_LEN],
			  struct wg_peer *peer);
void noise_precompute_static_static(struct noise_handshake *hs);
/* Forget the handshake in flight (and its index). */
void noise_handshake_clear(struct noise_handshake *hs, struct index_table *t);

/* TAI64N of wall_ns with the nanoseconds rounded down to a power of two. */
void noise_tai64n(uint8_t out[NOISE_TIMESTAMP_LEN], uint64_t wall_ns);

bool noise_handshake_create_initiation(struct wg_msg_initiation *dst, struct noise_handshake *hs,
				       struct index_table *t, uint64_t wall_ns);
/* The peer the initiation is from (no reference: control thread), or NULL; *why names the
 * drop reason on failure (a device enum wg_drop_reason). When the initiator's static key
 * decrypts but is no peer of ours, *unknown is set and that key is copied to unknown_static
 * (both may be NULL), for the operator's log. */
struct wg_peer *noise_handshake_consume_initiation(const struct wg_msg_initiation *src,
						   struct wg_device *dev, uint64_t now, int *why,
						   uint8_t unknown_static[NOISE_PUBLIC_KEY_LEN],
						   bool *unknown);
bool noise_handshake_create_response(struct wg_msg_response *dst, struct noise_handshake *hs,
				     struct index_table *t);
/* The peer whose initiation this answers, with a reference (peer_put), or NULL. */
struct wg_peer *noise_handshake_consume_response(const struct wg_msg_response *src,
						 struct wg_device *dev);
/* Derive the transport keys from a finished handshake and slot them in. */
bool noise_handshake_begin_session(struct noise_handshake *hs, struct noise_keypairs *kps,
				   struct index_table *t, uint64_t now);

void noise_keypairs_init(struct noise_keypairs *kps);
void noise_keypairs_destroy(struct noise_keypairs *kps);
/* The current keypair with a reference, or NULL. */
struct noise_keypair *noise_keypairs_current(struct noise_keypairs *kps);
/* A data packet arrived under kp: if kp was the responder's unconfirmed "next", promote it.
 * True when that happened (the handshake is now complete from the responder's side). */
bool noise_received_with_keypair(struct noise_keypairs *kps, struct noise_keypair *kp);
void noise_keypairs_clear(struct noise_keypairs *kps);
void noise_expire_current_peer_keypairs(struct noise_keypairs *kps);
struct noise_keypair *noise_keypair_get(struct noise_keypair *kp);
/* Drop a reference; unreference_now also takes kp out of the index table so it receives no
 * more. */
void noise_keypair_put(struct noise_keypair *kp, bool unreference_now);

#endif
