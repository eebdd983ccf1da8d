// SPDX-License-Identifier: GPL-2.0
/*
 * The AF_XDP back-end's next-hop cache (io/nexthop.h), through its public API only.
 *
 * Why: every frame the workers send leaves with the MACs and uplink this cache returns, so a
 * lookup that answers for the wrong address (an IPv4 key matching an IPv6 one, a stale entry
 * after a flush, a torn entry read while the control thread rewrites it) sends a frame to the
 * wrong host. And the table is bounded: when an address's probe window is full, put evicts the
 * entry written longest ago, so the newest peer is always cached.
 *
 * What it proves:
 *   - put then get returns the same entry, for IPv4 and IPv6; putting the same key again
 *     replaces it in place; an IPv4 key is its 4 address bytes (what follows them in the union
 *     is not part of it);
 *   - an IPv4 address and an IPv6 address whose first 4 bytes are the same never answer for
 *     each other;
 *   - flush forgets everything, and the table is usable again afterwards;
 *   - eviction: with three times as many addresses as slots, every newly put entry is found,
 *     and the oldest made room;
 *   - readers and writers on several threads: every entry a reader gets is whole (all its
 *     fields from the same put), is the key asked for, and never older than one it saw
 *     before; at the end each key holds its last put unless a flush took it. Bounded loop
 *     counts, no timing.
 */
#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "nexthop.h"
#include "tap.h"

/* An entry whose every field is derived from (key, version), so a reader can tell a torn one. */
static void mk(struct nexthop *e, int family, const union nl_addr *ip, uint32_t version)
{
	uint8_t k = ip->bytes[family == AF_INET ? 3 : 15];

	memset(e, 0, sizeof(*e));
	e->used = 1;
	e->family = (uint8_t)family;
	memcpy(&e->ip, ip, nexthop_alen(family));
	e->ifindex = (int)version;
	e->mac[0] = 0x02;
	e->mac[1] = k;
	memcpy(e->mac + 2, &version, 4);
	e->local_mac[0] = 0x06;
	e->local_mac[1] = (uint8_t)~k;
	memcpy(e->local_mac + 2, &version, 4);
	memcpy(e->local_ip.bytes, &version, 4);
	e->local_ip.bytes[4] = k;
	e->local_ip.bytes[5] = (uint8_t)family;
}

/* Whether e is what mk(family, ip, e->ifindex) made. */
static bool whole(const struct nexthop *e, int family, const union nl_addr *ip)
{
	struct nexthop want;

	mk(&want, family, ip, (uint32_t)e->ifindex);
	return e->family == family && !memcmp(&e->ip, ip, nexthop_alen(family)) &&
	       !memcmp(e->mac, want.mac, 6) && !memcmp(e->local_mac, want.local_mac, 6) &&
	       !memcmp(&e->local_ip, &want.local_ip, sizeof(want.local_ip));
}

static bool same(const struct nexthop *a, const struct nexthop *b)
{
	size_t alen = nexthop_alen(a->family);

	return a->family == b->family && !memcmp(&a->ip, &b->ip, alen) &&
	       !memcmp(a->mac, b->mac, 6) && !memcmp(a->local_mac, b->local_mac, 6) &&
	       a->ifindex == b->ifindex && !memcmp(&a->local_ip, &b->local_ip, sizeof(a->local_ip));
}

static union nl_addr v4(uint32_t host_order)
{
	union nl_addr a;

	memset(&a, 0, sizeof(a));
	a.v4.s_addr = htonl(host_order);
	return a;
}

static union nl_addr parse(int family, const char *s)
{
	union nl_addr a;

	memset(&a, 0, sizeof(a));
	if (inet_pton(family, s, &a) != 1)
		abort();
	return a;
}

static struct nexthop_cache *cache_new(void)
{
	struct nexthop_cache *c = malloc(sizeof(*c));

	if (!c)
		abort();
	nexthop_cache_init(c);
	return c;
}

static void cache_free(struct nexthop_cache *c)
{
	nexthop_cache_destroy(c);
	free(c);
}

static void test_round_trip(void)
{
	struct nexthop_cache *c = cache_new();
	union nl_addr a4 = parse(AF_INET, "198.51.100.7"), a6 = parse(AF_INET6, "2001:db8::7");
	union nl_addr other = parse(AF_INET, "198.51.100.8"), junk = a4;
	struct nexthop e4, e6, got;

	ok(!nexthop_get(c, AF_INET, &a4, &got), "an empty cache has no IPv4 entry");
	ok(!nexthop_get(c, AF_INET6, &a6, &got), "an empty cache has no IPv6 entry");

	mk(&e4, AF_INET, &a4, 1);
	mk(&e6, AF_INET6, &a6, 2);
	nexthop_put(c, &e4);
	nexthop_put(c, &e6);
	memset(&got, 0xa5, sizeof(got));
	ok(nexthop_get(c, AF_INET, &a4, &got) && same(&got, &e4) && got.used,
	   "IPv4: get returns what was put");
	memset(&got, 0xa5, sizeof(got));
	ok(nexthop_get(c, AF_INET6, &a6, &got) && same(&got, &e6) && got.used,
	   "IPv6: get returns what was put");
	ok(!nexthop_get(c, AF_INET, &other, &got), "another IPv4 address: no entry");

	/* the key is the 4 address bytes: what the union holds after them does not matter */
	memset(junk.bytes + 4, 0xee, 12);
	ok(nexthop_get(c, AF_INET, &junk, &got) && same(&got, &e4),
	   "IPv4 lookup ignores the union's bytes after the address");

	/* put of an entry whose used flag is clear still stores a live entry */
	mk(&e4, AF_INET, &a4, 7);
	e4.used = 0;
	nexthop_put(c, &e4);
	ok(nexthop_get(c, AF_INET, &a4, &got) && got.ifindex == 7 && got.used &&
		   whole(&got, AF_INET, &a4),
	   "... get returns the new one, marked used");
	mk(&e6, AF_INET6, &a6, 9);
	nexthop_put(c, &e6);
	ok(nexthop_get(c, AF_INET6, &a6, &got) && same(&got, &e6), "... get returns the new one");
	nexthop_put(c, &e6);
	ok(nexthop_get(c, AF_INET6, &a6, &got) && same(&got, &e6), "... and it is still there");
	ok(nexthop_get(c, AF_INET, &a4, &got) && got.ifindex == 7,
	   "replacing one entry left the other alone");
	cache_free(c);
}

static void test_families(void)
{
	struct nexthop_cache *c = cache_new();
	/* 10.1.2.3 and 0a01:0203:: share their first 4 bytes */
	union nl_addr a4 = parse(AF_INET, "10.1.2.3"), a6 = parse(AF_INET6, "a01:203::");
	struct nexthop e4, e6, got;

	ok(!memcmp(a4.bytes, a6.bytes, 4), "the two addresses share their first 4 bytes");
	mk(&e4, AF_INET, &a4, 4);
	nexthop_put(c, &e4);
	ok(!nexthop_get(c, AF_INET6, &a6, &got),
	   "the IPv6 one is not found through the IPv4 entry");
	/* and an IPv6 key whose other 12 bytes are zero, as an IPv4 key's union would be */
	ok(!nexthop_get(c, AF_INET6, &a4, &got), "the IPv4 union read as IPv6 finds nothing");
	mk(&e6, AF_INET6, &a6, 6);
	nexthop_put(c, &e6);
	ok(nexthop_get(c, AF_INET, &a4, &got) && same(&got, &e4),
	   "IPv4 still answers with its own");
	ok(nexthop_get(c, AF_INET6, &a6, &got) && same(&got, &e6), "IPv6 answers with its own");
	mk(&e6, AF_INET6, &a6, 66);
	nexthop_put(c, &e6);
	ok(nexthop_get(c, AF_INET, &a4, &got) && got.ifindex == 4,
	   "replacing the IPv6 entry did not replace the IPv4 one");
	cache_free(c);
}

static void test_flush(void)
{
	struct nexthop_cache *c = cache_new();
	struct nexthop e, got;
	int i, found = 0;

	for (i = 0; i < 100; i++) {
		union nl_addr a = v4(0xc6336400u + (uint32_t)i); /* 198.51.100.i */

		mk(&e, AF_INET, &a, (uint32_t)i + 1);
		nexthop_put(c, &e);
	}
	for (i = 0, found = 0; i < 100; i++) {
		union nl_addr a = v4(0xc6336400u + (uint32_t)i);

		found += nexthop_get(c, AF_INET, &a, &got);
	}
	is_int(found, 100, "100 entries put and found");
	found = 0;
	nexthop_cache_clear(c);
	for (i = 0; i < 100; i++) {
		union nl_addr a = v4(0xc6336400u + (uint32_t)i);

		found += nexthop_get(c, AF_INET, &a, &got);
	}
	is_int(found, 0, "after a flush none of them is found");
	{
		union nl_addr a = v4(0xc6336405u);

		mk(&e, AF_INET, &a, 55);
		nexthop_put(c, &e);
		ok(nexthop_get(c, AF_INET, &a, &got) && got.ifindex == 55,
		   "the cache takes entries again after a flush");
	}
	cache_free(c);
}

/* --- readers and writers on several threads --- */

enum {
	MT_KEYS = 32,	/* per writer */
	MT_WRITERS = 2, /* each owns its own keys */
	MT_READERS = 3,
	MT_ROUNDS = 400,     /* per writer: every key put once per round */
	MT_FLUSH_EVERY = 50, /* writer 0 flushes every this many rounds */
	MT_READS = 20000,    /* per reader at least, and on until the writers are done */
	MT_READS_MAX = 20000000,
};

static struct nexthop_cache *mt_cache;

struct mt_key {
	int family;
	union nl_addr ip;
};
static struct mt_key mt_keys[MT_WRITERS * MT_KEYS];
static atomic_ulong mt_torn, mt_wrong, mt_backwards, mt_found;
static atomic_int mt_writers_left;
static pthread_barrier_t mt_start;

static void *mt_writer(void *arg)
{
	unsigned int w = (unsigned int)(uintptr_t)arg;
	struct nexthop e;

	pthread_barrier_wait(&mt_start);
	for (uint32_t r = 1; r <= MT_ROUNDS; r++) {
		for (unsigned int k = 0; k < MT_KEYS; k++) {
			const struct mt_key *key = &mt_keys[w * MT_KEYS + k];

			mk(&e, key->family, &key->ip, r);
			nexthop_put(mt_cache, &e);
		}
		if (w == 0 && r % MT_FLUSH_EVERY == 0 && r != MT_ROUNDS)
			nexthop_cache_clear(mt_cache);
	}
	atomic_fetch_sub(&mt_writers_left, 1);
	return NULL;
}

static void *mt_reader(void *arg)
{
	uint32_t seen[MT_WRITERS * MT_KEYS] = { 0 };
	unsigned int seed = (unsigned int)(uintptr_t)arg * 2654435761u + 1;
	struct nexthop got;

	pthread_barrier_wait(&mt_start);
	for (unsigned int i = 0;
	     i < MT_READS_MAX && (i < MT_READS || atomic_load(&mt_writers_left)); i++) {
		unsigned int k = rand_r(&seed) % (MT_WRITERS * MT_KEYS);
		const struct mt_key *key = &mt_keys[k];

		if (!nexthop_get(mt_cache, key->family, &key->ip, &got))
			continue;
		atomic_fetch_add(&mt_found, 1);
		if (got.family != key->family ||
		    memcmp(&got.ip, &key->ip, nexthop_alen(key->family)))
			atomic_fetch_add(&mt_wrong, 1);
		else if (!whole(&got, key->family, &key->ip) || got.ifindex < 1)
			atomic_fetch_add(&mt_torn, 1);
		else if ((uint32_t)got.ifindex < seen[k])
			atomic_fetch_add(&mt_backwards, 1);
		else
			seen[k] = (uint32_t)got.ifindex;
	}
	return NULL;
}

static void test_threads(void)
{
	pthread_t w[MT_WRITERS], r[MT_READERS];
	unsigned int i, started = 0, last = 0, stale = 0;
	struct nexthop got;

	mt_cache = cache_new();
	atomic_store(&mt_writers_left, MT_WRITERS);
	if (pthread_barrier_init(&mt_start, NULL, MT_READERS + MT_WRITERS))
		abort();
	for (i = 0; i < MT_WRITERS * MT_KEYS; i++) {
		/* half IPv4 (198.18.0.i), half IPv6 (2001:db8::i) */
		if (i % 2) {
			mt_keys[i].family = AF_INET6;
			mt_keys[i].ip = parse(AF_INET6, "2001:db8::");
			mt_keys[i].ip.bytes[14] = (uint8_t)(i >> 8);
			mt_keys[i].ip.bytes[15] = (uint8_t)i;
		} else {
			mt_keys[i].family = AF_INET;
			mt_keys[i].ip = v4(0xc6120000u + i);
		}
	}
	for (i = 0; i < MT_READERS; i++)
		started += !pthread_create(&r[i], NULL, mt_reader, (void *)(uintptr_t)i);
	for (i = 0; i < MT_WRITERS; i++)
		started += !pthread_create(&w[i], NULL, mt_writer, (void *)(uintptr_t)i);
	if (started != MT_READERS + MT_WRITERS)
		abort(); /* the others wait at the barrier for ever */
	tap_diag("%d readers and %d writers started together", MT_READERS, MT_WRITERS);
	for (i = 0; i < MT_WRITERS; i++)
		pthread_join(w[i], NULL);
	for (i = 0; i < MT_READERS; i++)
		pthread_join(r[i], NULL);
	tap_diag("%lu entries read while %d writers put and flushed", atomic_load(&mt_found),
		 MT_WRITERS);
	ok(atomic_load(&mt_found) > 0, "the readers found entries");
	is_int(atomic_load(&mt_wrong), 0, "every entry read is the key asked for");
	is_int(atomic_load(&mt_torn), 0, "every entry read is whole (one put's fields)");
	is_int(atomic_load(&mt_backwards), 0, "no reader saw a key go back to an older entry");
	/* writer 0 flushes, so another writer's last puts may be gone; none may be older */
	for (i = 0; i < MT_WRITERS * MT_KEYS; i++) {
		bool found = nexthop_get(mt_cache, mt_keys[i].family, &mt_keys[i].ip, &got);

		if (found && got.ifindex == MT_ROUNDS &&
		    whole(&got, mt_keys[i].family, &mt_keys[i].ip))
			last++;
		else if (found || i < MT_KEYS)
			stale++;
	}
	is_int(stale, 0, "at the end every key holds its last put (or was flushed by writer 0)");
	ok(last >= MT_KEYS, "... writer 0's keys are all there (%u keys hold their last put)",
	   last);
	pthread_barrier_destroy(&mt_start);
	cache_free(mt_cache);
}

static struct nexthop entry(uint32_t n, uint8_t mac_last)
{
	struct nexthop e;

	memset(&e, 0, sizeof(e));
	e.used = 1;
	e.family = AF_INET;
	e.ip.v4.s_addr = htonl(0xc6120000u + n); /* 198.18.0.0/15 */
	e.ifindex = 3;
	e.mac[0] = 0x02;
	e.mac[5] = mac_last;
	return e;
}

/* A full probe window evicts the entry written longest ago: the newest peer is always cached
 * (before, a full window refused newcomers until the routes changed, and their replies went
 * through the kernel socket). */
static void test_eviction(void)
{
	static struct nexthop_cache c;
	struct nexthop e, got;
	unsigned int i, missing_newest = 0, found_old = 0;

	nexthop_cache_init(&c);
	/* three times as many addresses as slots: the newest is always there */
	for (i = 0; i < 3 * NEXTHOP_SLOTS; i++) {
		e = entry(100 + i, (uint8_t)i);
		nexthop_put(&c, &e);
		if (!nexthop_get(&c, AF_INET, &e.ip, &got) || got.mac[5] != (uint8_t)i)
			missing_newest++;
	}
	ok(missing_newest == 0,
	   "every newly put entry is found (%u addresses, %u slots, %u missing)", 3 * NEXTHOP_SLOTS,
	   NEXTHOP_SLOTS, missing_newest);
	for (i = 0; i < 64; i++) {
		e = entry(100 + i, 0);
		found_old += nexthop_get(&c, AF_INET, &e.ip, &got);
	}
	ok(found_old < 64, "the oldest made room (%u of the first 64 left)", found_old);
	nexthop_cache_destroy(&c);
}

int main(void)
{
	test_round_trip();
	test_families();
	test_flush();
	test_eviction();
	test_threads();
	return done_testing();
}
