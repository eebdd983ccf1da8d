// SPDX-License-Identifier: GPL-2.0
/*
 * Handshake rate limiter: the kernel driver's token bucket. Tokens are nanoseconds of credit;
 * one packet costs a twentieth of a second and the bucket holds five packets' worth, so a
 * source gets a burst of five and then twenty a second.
 *
 * Sources are kept in a chained hash table under one mutex. The table is keyed with a random
 * SipHash key (libsodium's crypto_shorthash): the sources are chosen by whoever floods us, and
 * an unkeyed hash would let them pile every entry into one chain.
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "ratelimiter.h"

enum ratelimiter_internal {
	RL_NSEC_PER_SEC = 1000000000,
	RL_PACKET_COST = RL_NSEC_PER_SEC / RATELIMITER_PACKETS_PER_SECOND,
	/* the kernel's sizing: eight entries per bucket at most */
	RL_BUCKETS = RATELIMITER_MAX_ENTRIES / 8,
	RL_IDLE_NS = RL_NSEC_PER_SEC,
};

#define RL_TOKEN_MAX ((uint64_t)RL_PACKET_COST * RATELIMITER_PACKETS_BURSTABLE)

_Static_assert((RL_BUCKETS & (RL_BUCKETS - 1)) == 0, "bucket count must be a power of two");

/* IPv4 address, or the /64 of an IPv6 address (the smallest block one host gets, so the
 * unit an attacker cannot cheaply multiply). */
struct rl_key {
	uint64_t ip;
	uint8_t family;
	uint8_t pad[7];
};

struct rl_entry {
	struct rl_entry *next;
	struct rl_key key;
	uint64_t last_time_ns;
	uint64_t tokens;
};

struct ratelimiter {
	pthread_mutex_t lock;
	size_t count;
	unsigned char hash_key[crypto_shorthash_KEYBYTES];
	struct rl_entry *buckets[RL_BUCKETS];
};

static bool rl_key_from_sockaddr(struct rl_key *k, const struct sockaddr *src)
{
	memset(k, 0, sizeof(*k));
	if (src->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)src;

		memcpy(&k->ip, &sin->sin_addr, sizeof(sin->sin_addr));
		k->family = AF_INET;
		return true;
	}
	if (src->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)src;

		memcpy(&k->ip, &sin6->sin6_addr, sizeof(k->ip));
		k->family = AF_INET6;
		return true;
	}
	return false;
}

static size_t rl_bucket(const struct ratelimiter *r, const struct rl_key *k)
{
	uint64_t h;

	crypto_shorthash((unsigned char *)&h, (const unsigned char *)k, sizeof(*k), r->hash_key);
	return (size_t)(h & (RL_BUCKETS - 1));
}

struct ratelimiter *ratelimiter_new(void)
{
	struct ratelimiter *r;

	/* idempotent and thread-safe; randombytes_buf needs it */
	if (sodium_init() < 0)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	if (pthread_mutex_init(&r->lock, NULL)) {
		free(r);
		return NULL;
	}
	randombytes_buf(r->hash_key, sizeof(r->hash_key));
	return r;
}

void ratelimiter_free(struct ratelimiter *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < RL_BUCKETS; ++i) {
		struct rl_entry *e = r->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	pthread_mutex_destroy(&r->lock);
	sodium_memzero(r->hash_key, sizeof(r->hash_key));
	free(r);
}

bool ratelimiter_allow(struct ratelimiter *r, const struct sockaddr *src, uint64_t now_ns)
{
	struct rl_entry *e;
	struct rl_key k;
	bool ret = false;
	size_t b;

	if (!r || !src || !rl_key_from_sockaddr(&k, src))
		return false;
	b = rl_bucket(r, &k);

	pthread_mutex_lock(&r->lock);
	for (e = r->buckets[b]; e; e = e->next)
		if (!memcmp(&e->key, &k, sizeof(k)))
			break;
	if (e) {
		/* Credit the time since the last packet, capped at the burst. A clock that went
		 * backwards credits nothing rather than wrapping to a full bucket. */
		uint64_t elapsed = now_ns > e->last_time_ns ? now_ns - e->last_time_ns : 0;
		uint64_t tokens = e->tokens + elapsed;

		if (tokens > RL_TOKEN_MAX || tokens < e->tokens)
			tokens = RL_TOKEN_MAX;
		if (now_ns > e->last_time_ns)
			e->last_time_ns = now_ns;
		ret = tokens >= RL_PACKET_COST;
		e->tokens = ret ? tokens - RL_PACKET_COST : tokens;
		goto out;
	}

	/* A new source. When full, refuse: under a flood of fresh sources this keeps memory
	 * bounded, and gc frees room within a second of the flood stopping. */
	if (r->count >= RATELIMITER_MAX_ENTRIES)
		goto out;
	e = malloc(sizeof(*e));
	if (!e)
		goto out;
	e->key = k;
	e->last_time_ns = now_ns;
	/* this packet is charged at once */
	e->tokens = RL_TOKEN_MAX - RL_PACKET_COST;
	e->next = r->buckets[b];
	r->buckets[b] = e;
	++r->count;
	ret = true;
out:
	pthread_mutex_unlock(&r->lock);
	return ret;
}

void ratelimiter_gc(struct ratelimiter *r, uint64_t now_ns)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < RL_BUCKETS; ++i) {
		struct rl_entry **pp = &r->buckets[i], *e;

		while ((e = *pp)) {
			if (now_ns > e->last_time_ns && now_ns - e->last_time_ns > RL_IDLE_NS) {
				*pp = e->next;
				free(e);
				--r->count;
			} else {
				pp = &e->next;
			}
		}
	}
	pthread_mutex_unlock(&r->lock);
}
