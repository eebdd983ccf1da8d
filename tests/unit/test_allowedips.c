// SPDX-License-Identifier: GPL-2.0
/*
 * allowedips: the kinds of cases the kernel's selftest has (overlaps, defaults, host routes,
 * ownership moves, removal), then a randomized comparison against a linear-scan reference,
 * then a 100k-peer load.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "allowedips.h"
#include "tap.h"

enum {
	RAND_OWNERS = 48,
	RAND_PREFIXES = 3000,
	RAND_LOOKUPS = 30000,
	BIG_PEERS = 100000,
	WALK_MAX = RAND_PREFIXES * 2,
};

static char peer[8]; /* owners a..h are &peer[0..7] */
#define A (&peer[0])
#define B (&peer[1])
#define C (&peer[2])
#define D (&peer[3])
#define E (&peer[4])
#define F (&peer[5])
#define G (&peer[6])
#define H (&peer[7])

static int family_of(const char *ip)
{
	return strchr(ip, ':') ? AF_INET6 : AF_INET;
}

static int ins(struct allowedips *t, const char *ip, uint8_t cidr, void *owner)
{
	uint8_t a[16];
	int fam = family_of(ip);

	if (inet_pton(fam, ip, a) != 1)
		abort();
	return allowedips_insert(t, fam, a, cidr, owner);
}

static int rem(struct allowedips *t, const char *ip, uint8_t cidr, void *owner)
{
	uint8_t a[16];
	int fam = family_of(ip);

	if (inet_pton(fam, ip, a) != 1)
		abort();
	return allowedips_remove(t, fam, a, cidr, owner);
}

static void *look(struct allowedips *t, const char *ip)
{
	uint8_t a[16];
	int fam = family_of(ip);

	if (inet_pton(fam, ip, a) != 1)
		abort();
	return allowedips_lookup(t, fam, a);
}

static const char *name_of(void *p)
{
	static const char *const names[] = { "a", "b", "c", "d", "e", "f", "g", "h" };

	if (!p)
		return "NULL";
	if ((char *)p >= peer && (char *)p < peer + 8)
		return names[(char *)p - peer];
	return "?";
}

#define LOOK(t, ip, want)                                                                          \
	do {                                                                                       \
		void *_got = look(t, ip);                                                          \
		if (!ok(_got == (void *)(want), "lookup %s -> %s", ip, name_of(want)))             \
			tap_diag("  got %s", name_of(_got));                                       \
	} while (0)

/* ---- walk collection ---- */

struct walked {
	int n;
	int family[WALK_MAX];
	uint8_t addr[WALK_MAX][16];
	uint8_t cidr[WALK_MAX];
	int stop_after; /* 0: never */
};

static int collect(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct walked *w = ctx;

	if (w->n >= WALK_MAX)
		return -1;
	w->family[w->n] = family;
	memset(w->addr[w->n], 0, 16);
	memcpy(w->addr[w->n], addr, family == AF_INET ? 4 : 16);
	w->cidr[w->n] = cidr;
	++w->n;
	if (w->stop_after && w->n >= w->stop_after)
		return 42;
	return 0;
}

static int walk(struct allowedips *t, void *owner, struct walked *w)
{
	w->n = 0;
	return allowedips_walk_by_owner(t, owner, collect, w);
}

static struct allowedips *remove_ctx_t;

/* A walk callback that removes what it is shown: the walk must not trip over it. */
static int remove_walked(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	int *n = ctx;

	if (!allowedips_remove(remove_ctx_t, family, addr, cidr, H))
		++*n;
	return 0;
}

/* ---- fixed cases ---- */

static void test_basic(void)
{
	struct allowedips *t = allowedips_new();
	static struct walked w;
	uint8_t a4[4] = { 10, 0, 0, 1 };

	ok(t != NULL, "new");
	is_int(allowedips_count(t), 0, "empty count");
	LOOK(t, "1.2.3.4", NULL);
	LOOK(t, "::1", NULL);

	is_int(allowedips_insert(t, AF_UNIX, a4, 8, A), -EINVAL, "bad family");
	is_int(allowedips_insert(t, AF_INET, a4, 33, A), -EINVAL, "v4 cidr 33");
	is_int(ins(t, "::", 129, A), -EINVAL, "v6 cidr 129");
	is_int(allowedips_remove(t, AF_INET, a4, 33, A), -EINVAL, "remove v4 cidr 33");
	is_int(allowedips_remove(t, 12345, a4, 8, A), -EINVAL, "remove bad family");
	ok(allowedips_lookup(t, AF_UNIX, a4) == NULL, "lookup bad family");
	is_int(allowedips_count(t), 0, "nothing inserted by bad calls");

	/* overlapping v4 prefixes, in an order that forces branch nodes and splits */
	is_int(ins(t, "192.168.4.0", 24, A), 0, "insert 192.168.4.0/24 a");
	is_int(ins(t, "192.168.4.4", 32, B), 0, "insert 192.168.4.4/32 b");
	is_int(ins(t, "192.168.0.0", 16, C), 0, "insert 192.168.0.0/16 c");
	is_int(ins(t, "192.95.5.64", 27, D), 0, "insert 192.95.5.64/27 d");
	/* host bits set: same prefix as the one above, so the owner moves to c */
	is_int(ins(t, "192.95.5.65", 27, C), 0, "insert 192.95.5.65/27 c (masks host bits)");
	is_int(ins(t, "2607:5300:60:6b0::c05f:543", 128, D), 0, "insert v6 /128 d");
	is_int(ins(t, "2607:5300:60:6b0::c02e:1ee", 128, C), 0, "insert v6 /128 c");
	is_int(ins(t, "2607:5300:60:6b0::", 64, E), 0, "insert v6 /64 e");
	is_int(ins(t, "0.0.0.0", 0, E), 0, "insert 0/0 e");
	is_int(ins(t, "::", 0, E), 0, "insert ::/0 e");
	is_int(ins(t, "2607:5300:60:6b1::", 64, F), 0, "insert v6 /64 f");
	is_int(ins(t, "10.0.0.0", 8, G), 0, "insert 10/8 g");
	is_int(ins(t, "10.1.0.0", 16, H), 0, "insert 10.1/16 h");
	is_int(ins(t, "10.1.0.0", 24, A), 0, "insert 10.1.0/24 a");
	is_int(allowedips_count(t), 13, "count after inserts");

	LOOK(t, "192.168.4.20", A);
	LOOK(t, "192.168.4.0", A);
	LOOK(t, "192.168.4.4", B);
	LOOK(t, "192.168.200.182", C);
	LOOK(t, "192.168.5.1", C);
	LOOK(t, "192.95.5.68", C);
	LOOK(t, "192.95.5.64", C);
	LOOK(t, "192.95.5.95", C);
	LOOK(t, "192.95.5.96", E);
	LOOK(t, "192.95.5.63", E);
	LOOK(t, "2607:5300:60:6b0::c05f:543", D);
	LOOK(t, "2607:5300:60:6b0::c02e:1ee", C);
	LOOK(t, "2607:5300:60:6b0::c02e:1ef", E);
	LOOK(t, "2607:5300:60:6b1::1", F);
	LOOK(t, "2607:5300:60:6b2::1", E);
	LOOK(t, "2001:db8::1", E);
	LOOK(t, "8.8.8.8", E);
	LOOK(t, "10.0.0.1", G);
	LOOK(t, "10.1.0.1", A);
	LOOK(t, "10.1.1.1", H);
	LOOK(t, "10.2.1.1", G);
	LOOK(t, "11.0.0.1", E);
	/* families are separate tables: a v4-looking v6 address must not hit v4 prefixes */
	LOOK(t, "::ffff:192.168.4.4", E);

	/* walk: stable order, v4 before v6, ascending address then cidr, host bits zero */
	is_int(walk(t, C, &w), 0, "walk c");
	is_int(w.n, 3, "c owns 3 prefixes");
	if (w.n == 3) {
		uint8_t x[16];

		inet_pton(AF_INET, "192.95.5.64", x);
		ok(w.family[0] == AF_INET && !memcmp(w.addr[0], x, 4) && w.cidr[0] == 27,
		   "walk c [0] = 192.95.5.64/27 (host bits zero)");
		inet_pton(AF_INET, "192.168.0.0", x);
		ok(w.family[1] == AF_INET && !memcmp(w.addr[1], x, 4) && w.cidr[1] == 16,
		   "walk c [1] = 192.168.0.0/16");
		inet_pton(AF_INET6, "2607:5300:60:6b0::c02e:1ee", x);
		ok(w.family[2] == AF_INET6 && !memcmp(w.addr[2], x, 16) && w.cidr[2] == 128,
		   "walk c [2] = the v6 /128");
	}
	is_int(walk(t, E, &w), 0, "walk e");
	is_int(w.n, 3, "e owns 3");
	if (w.n == 3) {
		ok(w.family[0] == AF_INET && w.cidr[0] == 0, "e: 0.0.0.0/0 first");
		ok(w.family[1] == AF_INET6 && w.cidr[1] == 0, "e: ::/0 before the /64");
		ok(w.family[2] == AF_INET6 && w.cidr[2] == 64, "e: /64 last");
	}
	is_int(walk(t, D, &w), 0, "walk d");
	is_int(w.n, 1, "d lost its v4 /27 to c");
	is_int(walk(t, "not an owner", &w), 0, "walk unknown owner");
	is_int(w.n, 0, "unknown owner has nothing");
	/* same cidr order for a shared address: 10.1.0.0/16 before 10.1.0.0/24 */
	ins(t, "10.1.0.0", 16, A);
	is_int(walk(t, A, &w), 0, "walk a");
	ok(w.n == 3 && w.cidr[0] == 16 && w.cidr[1] == 24 && w.cidr[2] == 24,
	   "a: 10.1.0.0/16, 10.1.0.0/24, 192.168.4.0/24");
	w.stop_after = 2;
	is_int(walk(t, A, &w), 42, "walk stops early with fn's value");
	is_int(w.n, 2, "walk called fn twice");
	w.stop_after = 0;
	LOOK(t, "10.1.1.1", A);
	is_int(ins(t, "10.1.0.0", 16, H), 0, "give 10.1/16 back to h");

	/* removal semantics */
	is_int(rem(t, "192.168.4.4", 32, A), -ENOENT, "remove with wrong owner");
	LOOK(t, "192.168.4.4", B);
	is_int(rem(t, "192.168.4.0", 25, A), -ENOENT, "remove a prefix never inserted");
	is_int(rem(t, "192.168.4.4", 32, B), 0, "remove 192.168.4.4/32 b");
	is_int(rem(t, "192.168.4.4", 32, B), -ENOENT, "remove it twice");
	LOOK(t, "192.168.4.4", A);
	is_int(rem(t, "192.168.4.77", 24, A), 0, "remove /24 with host bits set");
	LOOK(t, "192.168.4.4", C);
	/* 10.1.0.0/16 and 10.1.0.0/24 with 10/8: drop the middle one */
	is_int(rem(t, "10.1.0.0", 16, H), 0, "remove 10.1/16");
	LOOK(t, "10.1.1.1", G);
	LOOK(t, "10.1.0.9", A);
	/* an intermediate (branch point) node is not a prefix */
	is_int(rem(t, "2607:5300:60:6b0::", 63, E), -ENOENT, "branch point is not removable");
	is_int(allowedips_count(t), 10, "count after removals");

	allowedips_remove_by_owner(t, C);
	is_int(walk(t, C, &w), 0, "walk c after remove_by_owner");
	is_int(w.n, 0, "c has nothing");
	LOOK(t, "192.168.4.4", E);
	LOOK(t, "192.95.5.70", E);
	LOOK(t, "2607:5300:60:6b0::c02e:1ee", E);
	LOOK(t, "2607:5300:60:6b0::c05f:543", D);
	is_int(allowedips_count(t), 7, "count after remove_by_owner(c)");
	allowedips_remove_by_owner(t, C); /* nothing left: no-op */
	allowedips_remove_by_owner(t, E);
	LOOK(t, "8.8.8.8", NULL);
	LOOK(t, "2001:db8::1", NULL);
	LOOK(t, "2607:5300:60:6b1::1", F);
	is_int(allowedips_count(t), 4, "count after remove_by_owner(e)");

	/* a prefix that was a branch point becomes owned, then the branch goes */
	is_int(ins(t, "2607:5300:60:6b0::", 63, B), 0, "insert at the branch point");
	LOOK(t, "2607:5300:60:6b0::1", B);
	LOOK(t, "2607:5300:60:6b1::1", F);
	LOOK(t, "2607:5300:60:6b0::c05f:543", D);
	allowedips_remove_by_owner(t, F);
	allowedips_remove_by_owner(t, D);
	LOOK(t, "2607:5300:60:6b1::1", B);
	LOOK(t, "2607:5300:60:6b0::c05f:543", B);
	is_int(rem(t, "2607:5300:60:6b0::", 63, B), 0, "remove it");
	LOOK(t, "2607:5300:60:6b1::1", NULL);
	is_int(allowedips_count(t), 2, "g and a remain");
	allowedips_free(t);
}

static void test_edges(void)
{
	struct allowedips *t = allowedips_new();

	/* host routes at both ends of the address space */
	is_int(ins(t, "255.255.255.255", 32, A), 0, "insert 255.255.255.255/32");
	is_int(ins(t, "0.0.0.0", 32, B), 0, "insert 0.0.0.0/32");
	is_int(ins(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128, C), 0, "insert all-ones/128");
	is_int(ins(t, "::", 128, D), 0, "insert ::/128");
	is_int(ins(t, "128.0.0.0", 1, E), 0, "insert 128/1");
	is_int(ins(t, "8000::", 1, F), 0, "insert 8000::/1");
	LOOK(t, "255.255.255.255", A);
	LOOK(t, "255.255.255.254", E);
	LOOK(t, "0.0.0.0", B);
	LOOK(t, "0.0.0.1", NULL);
	LOOK(t, "127.255.255.255", NULL);
	LOOK(t, "128.0.0.0", E);
	LOOK(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", C);
	LOOK(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", F);
	LOOK(t, "::", D);
	LOOK(t, "::1", NULL);
	/* bit 64 boundary */
	is_int(ins(t, "1:2:3:4:8000::", 65, G), 0, "insert /65");
	is_int(ins(t, "1:2:3:4::", 64, H), 0, "insert /64");
	LOOK(t, "1:2:3:4:8000::1", G);
	LOOK(t, "1:2:3:4:7fff::1", H);
	LOOK(t, "1:2:3:5::", NULL);
	/* re-inserting with the same owner changes nothing */
	is_int(ins(t, "1:2:3:4::", 64, H), 0, "re-insert same owner");
	is_int(allowedips_count(t), 8, "count");
	/* re-inserting with another owner moves it */
	is_int(ins(t, "1:2:3:4::", 64, A), 0, "re-insert moves owner");
	is_int(allowedips_count(t), 8, "count unchanged by a move");
	LOOK(t, "1:2:3:4:7fff::1", A);
	is_int(rem(t, "1:2:3:4::", 64, H), -ENOENT, "old owner cannot remove it");
	is_int(rem(t, "1:2:3:4::", 64, A), 0, "new owner can");
	allowedips_free(t);

	/* inserting a shorter prefix above existing ones, deep chains, then removing bottom-up */
	t = allowedips_new();
	for (int c = 32; c >= 0; --c)
		ins(t, "172.16.255.255", (uint8_t)c, &peer[c % 8]);
	is_int(allowedips_count(t), 33, "33 nested prefixes");
	LOOK(t, "172.16.255.255", &peer[0]);
	LOOK(t, "172.16.255.254", &peer[31 % 8]);
	LOOK(t, "0.0.0.0", &peer[0]);
	for (int c = 32; c >= 1; --c)
		rem(t, "172.16.255.255", (uint8_t)c, &peer[c % 8]);
	LOOK(t, "172.16.255.255", &peer[0]);
	is_int(allowedips_count(t), 1, "only /0 left");
	allowedips_free(t);

	/* removing every prefix from inside the walk */
	t = allowedips_new();
	for (int i = 0; i < 100; ++i) {
		uint8_t x[4] = { 10, 9, (uint8_t)i, 0 };

		allowedips_insert(t, AF_INET, x, (uint8_t)(24 + i % 9), H);
	}
	{
		int n = 0;

		remove_ctx_t = t;
		is_int(allowedips_walk_by_owner(t, H, remove_walked, &n), 0, "walk that removes");
		is_int(n, 100, "every walked prefix removed from inside the walk");
		is_int(allowedips_count(t), 0, "table empty");
	}
	allowedips_free(t);

	allowedips_free(NULL);
	ok(allowedips_lookup(NULL, AF_INET, "abcd") == NULL, "lookup on NULL table");
}

/* ---- randomized comparison against a linear scan ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic for a given seed, good enough for test data */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

struct ref_prefix {
	uint8_t addr[16];
	uint8_t cidr;
	int family;
	void *owner; /* NULL: removed */
};

static struct ref_prefix ref[2 * RAND_PREFIXES + 16];
static int nref;
static char rand_owner[RAND_OWNERS];

static void mask_addr(uint8_t *a, int len, int cidr)
{
	for (int i = 0; i < len; ++i) {
		int keep = cidr - i * 8;

		if (keep <= 0)
			a[i] = 0;
		else if (keep < 8)
			a[i] &= (uint8_t)(0xff << (8 - keep));
	}
}

static bool in_prefix(const struct ref_prefix *p, const uint8_t *a)
{
	uint8_t m[16];
	int len = p->family == AF_INET ? 4 : 16;

	memcpy(m, a, len);
	mask_addr(m, len, p->cidr);
	return !memcmp(m, p->addr, len);
}

static void *ref_lookup(int family, const uint8_t *a)
{
	int best = -1;
	void *owner = NULL;

	for (int i = 0; i < nref; ++i)
		if (ref[i].owner && ref[i].family == family && ref[i].cidr > best &&
		    in_prefix(&ref[i], a)) {
			best = ref[i].cidr;
			owner = ref[i].owner;
		}
	return owner;
}

static struct ref_prefix *ref_find(int family, const uint8_t *a, int cidr)
{
	int len = family == AF_INET ? 4 : 16;

	for (int i = 0; i < nref; ++i)
		if (ref[i].owner && ref[i].family == family && ref[i].cidr == cidr &&
		    !memcmp(ref[i].addr, a, len))
			return &ref[i];
	return NULL;
}

static size_t ref_count(void)
{
	size_t n = 0;

	for (int i = 0; i < nref; ++i)
		n += ref[i].owner != NULL;
	return n;
}

/* Random addresses clustered under a few leading bytes, so prefixes overlap a lot. */
static void rand_addr(int family, uint8_t *a)
{
	int len = family == AF_INET ? 4 : 16;
	uint64_t r = rnd();

	for (int i = 0; i < len; ++i)
		a[i] = (uint8_t)rnd();
	a[0] = (uint8_t)(r % 4 + (family == AF_INET ? 10 : 0x20));
	if (r & 0x100)
		a[1] = (uint8_t)((r >> 16) % 4);
	if (family == AF_INET6 && (r & 0x200))
		memset(a + 2, 0, 6);
}

static int rand_cidr(int family)
{
	int bits = family == AF_INET ? 32 : 128;
	uint64_t r = rnd();

	/* favour the kinds people configure: host routes and common lengths */
	switch (r % 6) {
	case 0:
		return bits;
	case 1:
		return family == AF_INET ? 24 : 64;
	default:
		return (int)((r >> 8) % (bits + 1));
	}
}

/* An address near an existing prefix: its network with random host bits. */
static void rand_lookup_addr(int family, uint8_t *a)
{
	int len = family == AF_INET ? 4 : 16;

	rand_addr(family, a);
	if (nref && rnd() % 4) {
		const struct ref_prefix *p = &ref[rnd() % nref];

		if (p->family == family) {
			uint8_t host[16];

			memcpy(host, a, len);
			memcpy(a, p->addr, len);
			/* keep the network, flip in random host bits */
			for (int i = 0; i < len; ++i) {
				uint8_t m = 0xff;
				int keep = p->cidr - i * 8;

				if (keep >= 8)
					m = 0;
				else if (keep > 0)
					m = (uint8_t)(0xff >> keep);
				a[i] |= host[i] & m;
			}
		}
	}
}

struct order_check {
	int n, bad;
	int last_family;
	uint8_t last_addr[16];
	int last_cidr;
	void *owner;
	int not_in_ref;
};

static int check_walk(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct order_check *oc = ctx;
	uint8_t a[16] = { 0 };
	int len = family == AF_INET ? 4 : 16;
	const struct ref_prefix *p;

	memcpy(a, addr, len);
	if (oc->n) {
		int c = oc->last_family == family ? memcmp(oc->last_addr, a, 16)
						  : (oc->last_family == AF_INET ? -1 : 1);

		if (c > 0 || (c == 0 && oc->last_cidr >= cidr))
			++oc->bad;
	}
	p = ref_find(family, a, cidr);
	if (!p || p->owner != oc->owner)
		++oc->not_in_ref;
	oc->last_family = family;
	memcpy(oc->last_addr, a, 16);
	oc->last_cidr = cidr;
	++oc->n;
	return 0;
}

static void test_random(void)
{
	struct allowedips *t = allowedips_new();
	int lookup_bad = 0, insert_bad = 0, remove_bad = 0, walk_bad = 0;
	int lookups = 0, removes = 0, by_owner = 0;
	const char *env = getenv("ALLOWEDIPS_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : 0x5eed1234abcdULL;

	rng_state = seed ? seed : 1;
	tap_diag("random seed 0x%llx (set ALLOWEDIPS_SEED to repeat)", (unsigned long long)seed);
	nref = 0;

	for (int i = 0; i < 2 * RAND_PREFIXES; ++i) {
		int family = i & 1 ? AF_INET6 : AF_INET, len = family == AF_INET ? 4 : 16;
		int cidr = rand_cidr(family);
		void *owner = &rand_owner[rnd() % RAND_OWNERS];
		struct ref_prefix *p;
		uint8_t a[16], m[16];

		rand_addr(family, a);
		memcpy(m, a, 16);
		mask_addr(m, len, cidr);
		if (allowedips_insert(t, family, a, (uint8_t)cidr, owner))
			++insert_bad;
		p = ref_find(family, m, cidr);
		if (!p) {
			p = &ref[nref++];
			memset(p, 0, sizeof(*p));
			memcpy(p->addr, m, len);
			p->cidr = (uint8_t)cidr;
			p->family = family;
		}
		p->owner = owner;

		/* interleaved removals: right owner, wrong owner, and whole owners */
		if (i % 7 == 3) {
			struct ref_prefix *q = &ref[rnd() % nref];

			if (q->owner) {
				void *wrong = &rand_owner[(q->owner == &rand_owner[0]) ? 1 : 0];

				if (allowedips_remove(t, q->family, q->addr, q->cidr, wrong) !=
				    -ENOENT)
					++remove_bad;
				if (allowedips_remove(t, q->family, q->addr, q->cidr, q->owner))
					++remove_bad;
				q->owner = NULL;
				++removes;
			}
		}
		if (i % 1000 == 999) {
			void *o = &rand_owner[rnd() % RAND_OWNERS];

			allowedips_remove_by_owner(t, o);
			for (int j = 0; j < nref; ++j)
				if (ref[j].owner == o)
					ref[j].owner = NULL;
			++by_owner;
		}
		if (i % 10 == 0) {
			for (int j = 0; j < 50; ++j) {
				int fam = rnd() & 1 ? AF_INET6 : AF_INET;
				uint8_t la[16];

				rand_lookup_addr(fam, la);
				if (allowedips_lookup(t, fam, la) != ref_lookup(fam, la))
					++lookup_bad;
				++lookups;
			}
		}
	}
	is_int(insert_bad, 0, "random inserts all succeed");
	is_int(remove_bad, 0, "random removes behave");
	tap_diag("%d removes, %d remove_by_owner", removes, by_owner);
	is_int(allowedips_count(t), ref_count(), "count matches reference");

	/* each owner's walk: sorted, and exactly the reference's prefixes of that owner */
	{
		size_t total = 0;

		for (int o = 0; o < RAND_OWNERS; ++o) {
			struct order_check oc = { .owner = &rand_owner[o] };
			size_t want = 0;

			allowedips_walk_by_owner(t, &rand_owner[o], check_walk, &oc);
			for (int j = 0; j < nref; ++j)
				want += ref[j].owner == &rand_owner[o];
			if (oc.bad || oc.not_in_ref || (size_t)oc.n != want)
				++walk_bad;
			total += (size_t)oc.n;
		}
		is_int(walk_bad, 0, "walks sorted and match the reference per owner");
		is_int(total, allowedips_count(t), "walks add up to count");
	}

	for (int j = 0; j < RAND_LOOKUPS; ++j) {
		int fam = j & 1 ? AF_INET6 : AF_INET;
		uint8_t la[16];

		rand_lookup_addr(fam, la);
		if (allowedips_lookup(t, fam, la) != ref_lookup(fam, la))
			++lookup_bad;
		++lookups;
	}
	is_int(lookup_bad, 0, "random lookups match the linear scan");
	tap_diag("%d lookups compared", lookups);

	/* drain: every owner removed, table empty, nothing matches */
	for (int o = 0; o < RAND_OWNERS; ++o)
		allowedips_remove_by_owner(t, &rand_owner[o]);
	is_int(allowedips_count(t), 0, "empty after removing every owner");
	{
		uint8_t z[16] = { 0 };
		int hits = 0;

		for (int j = 0; j < 1000; ++j) {
			int fam = j & 1 ? AF_INET6 : AF_INET;

			rand_lookup_addr(fam, z);
			hits += allowedips_lookup(t, fam, z) != NULL;
		}
		is_int(hits, 0, "no lookup hits an empty table");
	}
	allowedips_free(t);
}

/* ---- scale: 100k peers with three prefixes each ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void big_addrs(uint32_t i, uint8_t v4[4], uint8_t v4net[4], uint8_t v6[16])
{
	/* 10.0.0.0/8 host routes, 100.64.0.0/10-ish /30s, and v6 /128s */
	v4[0] = 10;
	v4[1] = (uint8_t)(i >> 16);
	v4[2] = (uint8_t)(i >> 8);
	v4[3] = (uint8_t)i;
	v4net[0] = (uint8_t)(100 + (i >> 22));
	v4net[1] = (uint8_t)(i >> 14);
	v4net[2] = (uint8_t)(i >> 6);
	v4net[3] = (uint8_t)(i << 2);
	memset(v6, 0, 16);
	v6[0] = 0xfd;
	v6[1] = 0x77;
	v6[12] = (uint8_t)(i >> 24);
	v6[13] = (uint8_t)(i >> 16);
	v6[14] = (uint8_t)(i >> 8);
	v6[15] = (uint8_t)i;
}

static void test_scale(void)
{
	static char owners[BIG_PEERS];
	struct allowedips *t = allowedips_new();
	uint8_t v4[4], v4net[4], v6[16];
	int bad = 0, lbad = 0;
	double t0 = now_s(), t1, t2;

	for (uint32_t i = 0; i < BIG_PEERS; ++i) {
		big_addrs(i, v4, v4net, v6);
		bad += allowedips_insert(t, AF_INET, v4, 32, &owners[i]) != 0;
		bad += allowedips_insert(t, AF_INET, v4net, 30, &owners[i]) != 0;
		bad += allowedips_insert(t, AF_INET6, v6, 128, &owners[i]) != 0;
	}
	ins(t, "0.0.0.0", 0, A);
	t1 = now_s();
	is_int(bad, 0, "100k peers x 3 prefixes inserted");
	is_int(allowedips_count(t), 3 * BIG_PEERS + 1, "count 300001");
	for (uint32_t i = 0; i < BIG_PEERS; ++i) {
		big_addrs(i, v4, v4net, v6);
		v4net[3] |= (uint8_t)(i & 3);
		lbad += allowedips_lookup(t, AF_INET, v4) != &owners[i];
		lbad += allowedips_lookup(t, AF_INET, v4net) != &owners[i];
		lbad += allowedips_lookup(t, AF_INET6, v6) != &owners[i];
	}
	t2 = now_s();
	is_int(lbad, 0, "300k lookups find their peers");
	/* remove every other peer one by one, as a daemon dropping peers would */
	for (uint32_t i = 0; i < BIG_PEERS; i += 2)
		allowedips_remove_by_owner(t, &owners[i]);
	is_int(allowedips_count(t), 3 * (BIG_PEERS / 2) + 1, "half removed by owner");
	lbad = 0;
	for (uint32_t i = 0; i < BIG_PEERS; ++i) {
		void *want = i & 1 ? (void *)&owners[i] : NULL;

		big_addrs(i, v4, v4net, v6);
		lbad += allowedips_lookup(t, AF_INET, v4) != (want ? want : A);
		lbad += allowedips_lookup(t, AF_INET, v4net) != (want ? want : A);
		lbad += allowedips_lookup(t, AF_INET6, v6) != want;
	}
	is_int(lbad, 0, "removed peers fall back to the default route");
	for (uint32_t i = 1; i < BIG_PEERS; i += 2)
		allowedips_remove_by_owner(t, &owners[i]);
	is_int(allowedips_count(t), 1, "all peers removed");
	tap_diag("insert %.3f s, lookup %.3f s, total %.3f s", t1 - t0, t2 - t1, now_s() - t0);
	allowedips_free(t);
}

int main(void)
{
	test_basic();
	test_edges();
	test_random();
	test_scale();
	return done_testing();
}
