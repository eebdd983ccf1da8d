// SPDX-License-Identifier: GPL-2.0
/*
 * Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s, as WireGuard instantiates it (the paper, section 5.4),
 * and the keypair rotation that follows a handshake. Every function keeps its intermediate
 * secrets on the stack and wipes them at its one exit label, on success and failure alike.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"
#include "noise.h"
#include "peer.h"
#include "send.h"
#include "timers.h"

static const char noise_construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
static const char noise_identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";

/* HASH(CONSTRUCTION) and HASH(HASH(CONSTRUCTION) || IDENTIFIER): the same for every handshake. */
static uint8_t noise_init_chaining_key[NOISE_HASH_LEN];
static uint8_t noise_init_hash[NOISE_HASH_LEN];
static pthread_once_t noise_once = PTHREAD_ONCE_INIT;
static atomic_uint_fast64_t noise_keypair_counter;

static void noise_init_once(void)
{
	crypto_hash(noise_init_chaining_key, noise_construction, strlen(noise_construction), NULL,
		    0);
	crypto_hash(noise_init_hash, noise_init_chaining_key, NOISE_HASH_LEN, noise_identifier,
		    strlen(noise_identifier));
}

void noise_init(void)
{
	pthread_once(&noise_once, noise_init_once);
}

void noise_set_static_identity_private_key(struct noise_static_identity *id,
					   const uint8_t private_key[NOISE_PUBLIC_KEY_LEN])
{
	/* An all-zero key means "no key", as `wg set private-key /dev/null` intends. */
	if (!private_key || crypto_is_zero(private_key, NOISE_PUBLIC_KEY_LEN)) {
		crypto_wipe(id->static_private, NOISE_PUBLIC_KEY_LEN);
		crypto_wipe(id->static_public, NOISE_PUBLIC_KEY_LEN);
		id->has_identity = false;
		return;
	}
	memcpy(id->static_private, private_key, NOISE_PUBLIC_KEY_LEN);
	crypto_clamp(id->static_private);
	crypto_pubkey(id->static_public, id->static_private);
	id->has_identity = true;
}

void noise_handshake_init(struct noise_handshake *hs, struct noise_static_identity *id,
			  const uint8_t peer_public_key[NOISE_PUBLIC_KEY_LEN],
			  const uint8_t preshared_key[NOISE_SYMMETRIC_KEY_LEN],
			  struct wg_peer *peer)
{
	memset(hs, 0, sizeof(*hs));
	hs->entry.type = INDEX_TYPE_HANDSHAKE;
	hs->entry.peer = peer;
	hs->static_identity = id;
	memcpy(hs->remote_static, peer_public_key, NOISE_PUBLIC_KEY_LEN);
	if (preshared_key)
		memcpy(hs->preshared_key, preshared_key, NOISE_SYMMETRIC_KEY_LEN);
	hs->state = HANDSHAKE_ZEROED;
	noise_precompute_static_static(hs);
}

/*
 * DH(S_i, S_r) is computed lazily, by the first handshake that needs it, not when the peer is
 * added or our key changes: one X25519 (25-70 us) per peer made a 100,000-peer setconf take
 * 7-12 s, and a new private key stalled the device's write lock for as long, for peers that may
 * never handshake. Handshakes run on the control thread only, so the cache needs no lock.
 *
 * All zero means "not computed yet"; a DH that yields all zero (a low-order public key) stays
 * unusable and is refused at each attempt, exactly as an eager precomputation refused it, at
 * the cost of one X25519 per attempt for such a (misconfigured) peer.
 */
void noise_precompute_static_static(struct noise_handshake *hs)
{
	crypto_wipe(hs->precomputed_static_static, NOISE_PUBLIC_KEY_LEN);
}

/* The static-static secret, computed now if it was not yet; false when there is none. */
static bool noise_static_static(struct noise_handshake *hs)
{
	if (!crypto_is_zero(hs->precomputed_static_static, NOISE_PUBLIC_KEY_LEN))
		return true;
	if (!hs->static_identity->has_identity ||
	    !crypto_dh(hs->precomputed_static_static, hs->static_identity->static_private,
		       hs->remote_static)) {
		crypto_wipe(hs->precomputed_static_static, NOISE_PUBLIC_KEY_LEN);
		return false;
	}
	return true;
}

static void noise_handshake_zero(struct noise_handshake *hs)
{
	crypto_wipe(hs->ephemeral_private, NOISE_PUBLIC_KEY_LEN);
	crypto_wipe(hs->remote_ephemeral, NOISE_PUBLIC_KEY_LEN);
	crypto_wipe(hs->hash, NOISE_HASH_LEN);
	crypto_wipe(hs->chaining_key, NOISE_HASH_LEN);
	hs->remote_index = 0;
	hs->state = HANDSHAKE_ZEROED;
}

void noise_handshake_clear(struct noise_handshake *hs, struct index_table *t)
{
	index_table_remove(t, &hs->entry);
	noise_handshake_zero(hs);
}

void noise_tai64n(uint8_t out[NOISE_TIMESTAMP_LEN], uint64_t wall_ns)
{
	/* Round down to 2^24 ns (the power of two below 1 s / INITIATIONS_PER_SECOND): precise
	 * enough to order initiations, coarse enough to leak nothing about our clock. */
	const uint64_t granularity = 1ULL << 24;
	uint64_t secs = wall_ns / NSEC_PER_SEC;
	uint32_t nsecs = (uint32_t)(wall_ns % NSEC_PER_SEC);
	uint64_t be_secs = htobe64(0x400000000000000aULL + secs);
	uint32_t be_nsecs;

	_Static_assert(NSEC_PER_SEC / INITIATIONS_PER_SECOND >= (1ULL << 24) &&
			       NSEC_PER_SEC / INITIATIONS_PER_SECOND < (1ULL << 25),
		       "timestamp granularity");
	nsecs -= nsecs % granularity;
	be_nsecs = htobe32(nsecs);
	memcpy(out, &be_secs, sizeof(be_secs));
	memcpy(out + sizeof(be_secs), &be_nsecs, sizeof(be_nsecs));
}

/* H = HASH(H || src) */
static void noise_mix_hash(uint8_t hash[NOISE_HASH_LEN], const uint8_t *src, size_t len)
{
	crypto_hash(hash, hash, NOISE_HASH_LEN, src, len);
}

/* (C, k) = KDF2(C, DH(priv, pub)); k may be NULL for KDF1. False on a low-order point. */
static bool noise_mix_dh(uint8_t chaining_key[NOISE_HASH_LEN], uint8_t *key,
			 const uint8_t priv[NOISE_PUBLIC_KEY_LEN],
			 const uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	uint8_t dh[NOISE_PUBLIC_KEY_LEN];
	bool ret = false;

	if (!crypto_dh(dh, priv, pub))
		goto out;
	crypto_kdf(chaining_key, key, NULL, chaining_key, dh, sizeof(dh));
	ret = true;
out:
	crypto_wipe(dh, sizeof(dh));
	return ret;
}

static bool noise_mix_precomputed_dh(uint8_t chaining_key[NOISE_HASH_LEN], uint8_t *key,
				     const uint8_t precomputed[NOISE_PUBLIC_KEY_LEN])
{
	if (crypto_is_zero(precomputed, NOISE_PUBLIC_KEY_LEN))
		return false;
	crypto_kdf(chaining_key, key, NULL, chaining_key, precomputed, NOISE_PUBLIC_KEY_LEN);
	return true;
}

/* (C, t, k) = KDF3(C, psk); H = HASH(H || t) */
static void noise_mix_psk(uint8_t chaining_key[NOISE_HASH_LEN], uint8_t hash[NOISE_HASH_LEN],
			  uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
			  const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN])
{
	uint8_t temp_hash[NOISE_HASH_LEN];

	crypto_kdf(chaining_key, temp_hash, key, chaining_key, psk, NOISE_SYMMETRIC_KEY_LEN);
	noise_mix_hash(hash, temp_hash, NOISE_HASH_LEN);
	crypto_wipe(temp_hash, sizeof(temp_hash));
}

static void noise_handshake_start(uint8_t chaining_key[NOISE_HASH_LEN],
				  uint8_t hash[NOISE_HASH_LEN],
				  const uint8_t remote_static[NOISE_PUBLIC_KEY_LEN])
{
	noise_init();
	memcpy(chaining_key, noise_init_chaining_key, NOISE_HASH_LEN);
	memcpy(hash, noise_init_hash, NOISE_HASH_LEN);
	noise_mix_hash(hash, remote_static, NOISE_PUBLIC_KEY_LEN);
}

static void noise_message_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
				  const uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
				  uint8_t hash[NOISE_HASH_LEN])
{
	crypto_aead_encrypt(dst, src, len, hash, NOISE_HASH_LEN, 0, key);
	noise_mix_hash(hash, dst, len + WG_AUTHTAG_LEN);
}

static bool noise_message_decrypt(uint8_t *dst, const uint8_t *src, size_t len,
				  const uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
				  uint8_t hash[NOISE_HASH_LEN])
{
	if (!crypto_aead_decrypt(dst, src, len, hash, NOISE_HASH_LEN, 0, key))
		return false;
	noise_mix_hash(hash, src, len);
	return true;
}

/* C = KDF1(C, e); H = HASH(H || e) */
static void noise_message_ephemeral(uint8_t dst[NOISE_PUBLIC_KEY_LEN],
				    const uint8_t src[NOISE_PUBLIC_KEY_LEN],
				    uint8_t chaining_key[NOISE_HASH_LEN],
				    uint8_t hash[NOISE_HASH_LEN])
{
	if (dst != src)
		memcpy(dst, src, NOISE_PUBLIC_KEY_LEN);
	noise_mix_hash(hash, src, NOISE_PUBLIC_KEY_LEN);
	crypto_kdf(chaining_key, NULL, NULL, chaining_key, src, NOISE_PUBLIC_KEY_LEN);
}

static void noise_new_ephemeral(uint8_t priv[NOISE_PUBLIC_KEY_LEN],
				uint8_t pub[NOISE_PUBLIC_KEY_LEN])
{
	crypto_genkey(priv);
	crypto_pubkey(pub, priv);
}

bool noise_handshake_create_initiation(struct wg_msg_initiation *dst, struct noise_handshake *hs,
				       struct index_table *t, uint64_t wall_ns)
{
	uint8_t timestamp[NOISE_TIMESTAMP_LEN];
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	bool ret = false;

	if (!hs->static_identity->has_identity)
		goto out;
	memset(dst, 0, sizeof(*dst));
	dst->header.type = htole32(WG_MSG_HANDSHAKE_INITIATION);

	noise_handshake_start(hs->chaining_key, hs->hash, hs->remote_static);

	/* e */
	noise_new_ephemeral(hs->ephemeral_private, dst->unencrypted_ephemeral);
	noise_message_ephemeral(dst->unencrypted_ephemeral, dst->unencrypted_ephemeral,
				hs->chaining_key, hs->hash);
	/* es */
	if (!noise_mix_dh(hs->chaining_key, key, hs->ephemeral_private, hs->remote_static))
		goto out;
	/* s */
	noise_message_encrypt(dst->encrypted_static, hs->static_identity->static_public,
			      NOISE_PUBLIC_KEY_LEN, key, hs->hash);
	/* ss */
	if (!noise_static_static(hs) ||
	    !noise_mix_precomputed_dh(hs->chaining_key, key, hs->precomputed_static_static))
		goto out;
	/* {t} */
	noise_tai64n(timestamp, wall_ns);
	noise_message_encrypt(dst->encrypted_timestamp, timestamp, NOISE_TIMESTAMP_LEN, key,
			      hs->hash);

	dst->sender_index = htole32(index_table_insert(t, &hs->entry));
	hs->state = HANDSHAKE_CREATED_INITIATION;
	ret = true;
out:
	crypto_wipe(key, sizeof(key));
	crypto_wipe(timestamp, sizeof(timestamp));
	return ret;
}

struct wg_peer *noise_handshake_consume_initiation(const struct wg_msg_initiation *src,
						   struct wg_device *dev, uint64_t now, int *why,
						   uint8_t unknown_static[NOISE_PUBLIC_KEY_LEN],
						   bool *unknown)
{
	struct noise_static_identity *id = dev->identity;
	uint8_t chaining_key[NOISE_HASH_LEN];
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t s[NOISE_PUBLIC_KEY_LEN];
	uint8_t e[NOISE_PUBLIC_KEY_LEN];
	uint8_t t[NOISE_TIMESTAMP_LEN];
	struct noise_handshake *hs;
	struct wg_peer *peer = NULL, *ret = NULL;
	bool replay_attack, flood_attack;

	*why = WG_DROP_HANDSHAKE_INVALID;
	if (unknown)
		*unknown = false;
	if (!id->has_identity)
		goto out;
	noise_handshake_start(chaining_key, hash, id->static_public);

	/* e */
	noise_message_ephemeral(e, src->unencrypted_ephemeral, chaining_key, hash);
	/* es */
	if (!noise_mix_dh(chaining_key, key, id->static_private, e))
		goto out;
	/* s */
	if (!noise_message_decrypt(s, src->encrypted_static, sizeof(src->encrypted_static), key,
				   hash))
		goto out;
	/* which peer we are actually talking to */
	peer = wg_device_lookup_peer(dev, s);
	if (!peer) {
		/* authentic (s decrypted) but not configured: worth telling the operator */
		if (unknown && unknown_static) {
			memcpy(unknown_static, s, NOISE_PUBLIC_KEY_LEN);
			*unknown = true;
		}
		goto out;
	}
	hs = &peer->handshake;
	/* ss */
	if (!noise_static_static(hs) ||
	    !noise_mix_precomputed_dh(chaining_key, key, hs->precomputed_static_static))
		goto out;
	/* {t} */
	if (!noise_message_decrypt(t, src->encrypted_timestamp, sizeof(src->encrypted_timestamp),
				   key, hash))
		goto out;

	/* A replayed initiation would make us drop the session in use for a stale one; a flood
	 * of fresh ones would make us burn DH: both are refused. */
	replay_attack = memcmp(t, hs->latest_timestamp, NOISE_TIMESTAMP_LEN) <= 0;
	flood_attack = hs->last_initiation_consumption &&
		       (int64_t)(hs->last_initiation_consumption +
				 NSEC_PER_SEC / INITIATIONS_PER_SECOND) > (int64_t)now;
	if (replay_attack || flood_attack) {
		if (flood_attack && !replay_attack)
			*why = WG_DROP_HANDSHAKE_FLOOD;
		goto out;
	}

	memcpy(hs->remote_ephemeral, e, NOISE_PUBLIC_KEY_LEN);
	memcpy(hs->latest_timestamp, t, NOISE_TIMESTAMP_LEN);
	memcpy(hs->hash, hash, NOISE_HASH_LEN);
	memcpy(hs->chaining_key, chaining_key, NOISE_HASH_LEN);
	hs->remote_index = src->sender_index;
	hs->last_initiation_consumption = now;
	hs->state = HANDSHAKE_CONSUMED_INITIATION;
	ret = peer;
	*why = WG_DROP_NONE;
out:
	crypto_wipe(key, sizeof(key));
	crypto_wipe(hash, sizeof(hash));
	crypto_wipe(chaining_key, sizeof(chaining_key));
	crypto_wipe(s, sizeof(s));
	crypto_wipe(e, sizeof(e));
	crypto_wipe(t, sizeof(t));
	return ret;
}

bool noise_handshake_create_response(struct wg_msg_response *dst, struct noise_handshake *hs,
				     struct index_table *t)
{
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	bool ret = false;

	if (!hs->static_identity->has_identity || hs->state != HANDSHAKE_CONSUMED_INITIATION)
		goto out;
	memset(dst, 0, sizeof(*dst));
	dst->header.type = htole32(WG_MSG_HANDSHAKE_RESPONSE);
	dst->receiver_index = hs->remote_index;

	/* e */
	noise_new_ephemeral(hs->ephemeral_private, dst->unencrypted_ephemeral);
	noise_message_ephemeral(dst->unencrypted_ephemeral, dst->unencrypted_ephemeral,
				hs->chaining_key, hs->hash);
	/* ee */
	if (!noise_mix_dh(hs->chaining_key, NULL, hs->ephemeral_private, hs->remote_ephemeral))
		goto out;
	/* se */
	if (!noise_mix_dh(hs->chaining_key, NULL, hs->ephemeral_private, hs->remote_static))
		goto out;
	/* psk */
	noise_mix_psk(hs->chaining_key, hs->hash, key, hs->preshared_key);
	/* {} */
	noise_message_encrypt(dst->encrypted_nothing, NULL, 0, key, hs->hash);

	dst->sender_index = htole32(index_table_insert(t, &hs->entry));
	hs->state = HANDSHAKE_CREATED_RESPONSE;
	ret = true;
out:
	crypto_wipe(key, sizeof(key));
	return ret;
}

struct wg_peer *noise_handshake_consume_response(const struct wg_msg_response *src,
						 struct wg_device *dev)
{
	struct noise_static_identity *id = dev->identity;
	uint8_t chaining_key[NOISE_HASH_LEN];
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t e[NOISE_PUBLIC_KEY_LEN];
	struct noise_handshake *hs;
	struct wg_peer *peer = NULL;

	if (!id->has_identity)
		goto out;
	peer = index_table_lookup_peer(dev->index, le32toh(src->receiver_index),
				       INDEX_TYPE_HANDSHAKE, NULL);
	if (!peer)
		goto out;
	hs = &peer->handshake;
	if (hs->state != HANDSHAKE_CREATED_INITIATION)
		goto fail;
	memcpy(chaining_key, hs->chaining_key, NOISE_HASH_LEN);
	memcpy(hash, hs->hash, NOISE_HASH_LEN);

	/* e */
	noise_message_ephemeral(e, src->unencrypted_ephemeral, chaining_key, hash);
	/* ee */
	if (!noise_mix_dh(chaining_key, NULL, hs->ephemeral_private, e))
		goto fail;
	/* se */
	if (!noise_mix_dh(chaining_key, NULL, id->static_private, e))
		goto fail;
	/* psk */
	noise_mix_psk(chaining_key, hash, key, hs->preshared_key);
	/* {} */
	if (!noise_message_decrypt(NULL, src->encrypted_nothing, sizeof(src->encrypted_nothing),
				   key, hash))
		goto fail;

	memcpy(hs->remote_ephemeral, e, NOISE_PUBLIC_KEY_LEN);
	memcpy(hs->hash, hash, NOISE_HASH_LEN);
	memcpy(hs->chaining_key, chaining_key, NOISE_HASH_LEN);
	hs->remote_index = src->sender_index;
	hs->state = HANDSHAKE_CONSUMED_RESPONSE;
	goto out;
fail:
	peer_put(peer);
	peer = NULL;
out:
	crypto_wipe(key, sizeof(key));
	crypto_wipe(hash, sizeof(hash));
	crypto_wipe(chaining_key, sizeof(chaining_key));
	crypto_wipe(e, sizeof(e));
	return peer;
}

static struct noise_keypair *noise_keypair_create(struct wg_peer *peer)
{
	struct noise_keypair *kp = crypto_secure_alloc(sizeof(*kp));

	if (!kp)
		return NULL;
	kp->internal_id = atomic_fetch_add(&noise_keypair_counter, 1) + 1;
	kp->entry.type = INDEX_TYPE_KEYPAIR;
	kp->entry.peer = peer_get(peer);
	atomic_init(&kp->refcount, 1);
	atomic_init(&kp->sending_counter, 0);
	pthread_spin_init(&kp->replay_lock, PTHREAD_PROCESS_PRIVATE);
	replay_init(&kp->replay);
	return kp;
}

static void noise_symmetric_key_init(struct noise_symmetric_key *k, uint64_t now)
{
	k->birthdate = now;
	atomic_store(&k->is_valid, true);
}

/* (T_first, T_second) = KDF2(C, empty) */
static void noise_derive_keys(struct noise_symmetric_key *first, struct noise_symmetric_key *second,
			      const uint8_t chaining_key[NOISE_HASH_LEN], uint64_t now)
{
	crypto_kdf(first->key, second->key, NULL, chaining_key, NULL, 0);
	noise_symmetric_key_init(first, now);
	noise_symmetric_key_init(second, now);
}

/* Slot a new keypair in (the kernel's add_new_keypair). Caller holds kps->lock. Returns the
 * keypairs to release once the lock is dropped. */
static void noise_add_new_keypair(struct noise_keypairs *kps, struct noise_keypair *new_kp,
				  struct noise_keypair *release[2])
{
	struct noise_keypair *previous = atomic_load(&kps->previous);
	struct noise_keypair *next = atomic_load(&kps->next);
	struct noise_keypair *current = atomic_load(&kps->current);

	if (new_kp->i_am_the_initiator) {
		/* The response confirmed the keys: usable at once. A pending unconfirmed "next"
		 * becomes previous (it may still see late packets) and current goes. */
		if (next) {
			atomic_store(&kps->next, NULL);
			atomic_store(&kps->previous, next);
			release[0] = current;
		} else {
			atomic_store(&kps->previous, current);
		}
		release[1] = previous;
		atomic_store(&kps->current, new_kp);
	} else {
		/* The responder may not send under the new keys until the initiator's first data
		 * packet confirms them: it waits in "next". */
		atomic_store(&kps->next, new_kp);
		release[0] = next;
		atomic_store(&kps->previous, NULL);
		release[1] = previous;
	}
}

bool noise_handshake_begin_session(struct noise_handshake *hs, struct noise_keypairs *kps,
				   struct index_table *t, uint64_t now)
{
	struct noise_keypair *new_kp, *release[2] = { NULL, NULL };
	struct wg_peer *peer = hs->entry.peer;
	bool ret = false;

	if (hs->state != HANDSHAKE_CREATED_RESPONSE && hs->state != HANDSHAKE_CONSUMED_RESPONSE)
		goto out;
	new_kp = noise_keypair_create(peer);
	if (!new_kp)
		goto out;
	new_kp->i_am_the_initiator = hs->state == HANDSHAKE_CONSUMED_RESPONSE;
	new_kp->remote_index = hs->remote_index;
	if (new_kp->i_am_the_initiator)
		noise_derive_keys(&new_kp->sending, &new_kp->receiving, hs->chaining_key, now);
	else
		noise_derive_keys(&new_kp->receiving, &new_kp->sending, hs->chaining_key, now);
	/* The handshake's index now names the keypair. */
	if (!index_table_replace(t, &hs->entry, &new_kp->entry)) {
		noise_handshake_zero(hs);
		noise_keypair_put(new_kp, false);
		goto out;
	}
	noise_handshake_zero(hs);
	if (atomic_load(&peer->is_dead)) {
		noise_keypair_put(new_kp, true);
		goto out;
	}
	pthread_spin_lock(&kps->lock);
	noise_add_new_keypair(kps, new_kp, release);
	pthread_spin_unlock(&kps->lock);
	noise_keypair_put(release[0], true);
	noise_keypair_put(release[1], true);
	if (peer->dev->ops.session_add)
		peer->dev->ops.session_add(peer->dev->io_ctx, new_kp->entry.index, peer);
	log_debug("%s: keypair %llu created for peer %s", peer->dev->name,
		  (unsigned long long)new_kp->internal_id, peer->name);
	ret = true;
out:
	return ret;
}

void noise_keypairs_init(struct noise_keypairs *kps)
{
	atomic_init(&kps->current, NULL);
	atomic_init(&kps->previous, NULL);
	atomic_init(&kps->next, NULL);
	pthread_spin_init(&kps->lock, PTHREAD_PROCESS_PRIVATE);
}

void noise_keypairs_destroy(struct noise_keypairs *kps)
{
	noise_keypairs_clear(kps);
	pthread_spin_destroy(&kps->lock);
}

struct noise_keypair *noise_keypairs_current(struct noise_keypairs *kps)
{
	struct noise_keypair *kp;

	pthread_spin_lock(&kps->lock);
	kp = atomic_load(&kps->current);
	if (kp)
		noise_keypair_get(kp);
	pthread_spin_unlock(&kps->lock);
	return kp;
}

bool noise_received_with_keypair(struct noise_keypairs *kps, struct noise_keypair *kp)
{
	struct noise_keypair *old;

	/* The common case, a packet under current, costs one load. */
	if (atomic_load(&kps->next) != kp)
		return false;
	pthread_spin_lock(&kps->lock);
	if (atomic_load(&kps->next) != kp) {
		pthread_spin_unlock(&kps->lock);
		return false;
	}
	old = atomic_load(&kps->previous);
	atomic_store(&kps->previous, atomic_load(&kps->current));
	atomic_store(&kps->current, kp);
	atomic_store(&kps->next, NULL);
	pthread_spin_unlock(&kps->lock);
	noise_keypair_put(old, true);
	return true;
}

void noise_keypairs_clear(struct noise_keypairs *kps)
{
	struct noise_keypair *k[3];
	int i;

	pthread_spin_lock(&kps->lock);
	k[0] = atomic_exchange(&kps->previous, NULL);
	k[1] = atomic_exchange(&kps->next, NULL);
	k[2] = atomic_exchange(&kps->current, NULL);
	pthread_spin_unlock(&kps->lock);
	for (i = 0; i < 3; i++)
		noise_keypair_put(k[i], true);
}

void noise_expire_current_peer_keypairs(struct noise_keypairs *kps)
{
	struct noise_keypair *kp;

	pthread_spin_lock(&kps->lock);
	kp = atomic_load(&kps->next);
	if (kp)
		atomic_store(&kp->sending.is_valid, false);
	kp = atomic_load(&kps->current);
	if (kp)
		atomic_store(&kp->sending.is_valid, false);
	pthread_spin_unlock(&kps->lock);
}

struct noise_keypair *noise_keypair_get(struct noise_keypair *kp)
{
	atomic_fetch_add(&kp->refcount, 1);
	return kp;
}

void noise_keypair_put(struct noise_keypair *kp, bool unreference_now)
{
	struct wg_peer *peer;

	if (!kp)
		return;
	peer = kp->entry.peer;
	if (unreference_now && kp->entry.hashed) {
		index_table_remove(peer->dev->index, &kp->entry);
		wg_device_session_gone(peer->dev, kp->entry.index);
	}
	if (atomic_fetch_sub(&kp->refcount, 1) != 1)
		return;
	/* Last reference: nobody can reach it any more. */
	if (kp->entry.hashed) {
		index_table_remove(peer->dev->index, &kp->entry);
		wg_device_session_gone(peer->dev, kp->entry.index);
	}
	log_debug("%s: keypair %llu destroyed for peer %s", peer->dev->name,
		  (unsigned long long)kp->internal_id, peer->name);
	pthread_spin_destroy(&kp->replay_lock);
	crypto_secure_free(kp);
	peer_put(peer);
}
