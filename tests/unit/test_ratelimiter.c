// SPDX-License-Identifier: GPL-2.0
/*
 * ratelimiter against a fake clock: burst, refill, per-source and per-/64 buckets, gc and the
 * table bound.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>

#include "ratelimiter.h"
#include "tap.h"

enum {
	MS = 1000000,
	SEC = 1000000000,
	THREADS = 4,
	THREAD_SOURCES = 2000,
};

static struct sockaddr_storage src(const char *ip)
{
	struct sockaddr_storage ss = { 0 };

	if (strchr(ip, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(51820);
		if (inet_pton(AF_INET6, ip, &s6->sin6_addr) != 1)
			abort();
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		s4->sin_family = AF_INET;
		s4->sin_port = htons(51820);
		if (inet_pton(AF_INET, ip, &s4->sin_addr) != 1)
			abort();
	}
	return ss;
}

static bool allow(struct ratelimiter *r, const char *ip, uint64_t now)
{
	struct sockaddr_storage ss = src(ip);

	return ratelimiter_allow(r, (struct sockaddr *)&ss, now);
}

static struct sockaddr_in v4_n(uint32_t n)
{
	struct sockaddr_in s = { .sin_family = AF_INET };

	s.sin_addr.s_addr = htonl(0x0a000000u + n);
	return s;
}

/* How many of a burst sent at one instant get through. */
static int burst(struct ratelimiter *r, const char *ip, uint64_t now, int n)
{
	int allowed = 0;

	for (int i = 0; i < n; ++i)
		allowed += allow(r, ip, now);
	return allowed;
}

static void test_bucket(void)
{
	struct ratelimiter *r = ratelimiter_new();
	uint64_t t0 = 1000ULL * SEC; /* an arbitrary monotonic origin */

	ok(r != NULL, "new");
	is_int(burst(r, "192.0.2.1", t0, 5), 5, "a burst of 5 is allowed");
	ok(!allow(r, "192.0.2.1", t0), "the 6th at the same instant is refused");
	ok(!allow(r, "192.0.2.1", t0 + 49 * MS), "49 ms later: still refused");
	ok(allow(r, "192.0.2.1", t0 + 50 * MS), "50 ms later: one more");
	ok(!allow(r, "192.0.2.1", t0 + 50 * MS), "and only one");
	/* refill at 20/s: one second of steady sending at 20/s all gets through */
	{
		int got = 0;

		for (int i = 2; i <= 21; ++i)
			got += allow(r, "192.0.2.1", t0 + (uint64_t)i * 50 * MS);
		is_int(got, 20, "20 per second sustained");
	}
	/* faster than 20/s: about half of 40/s gets through */
	{
		int got = 0;
		uint64_t base = t0 + 21 * 50 * MS;

		for (int i = 1; i <= 40; ++i)
			got += allow(r, "192.0.2.1", base + (uint64_t)i * 25 * MS);
		is_int(got, 20, "40/s offered for a second: 20 allowed");
	}
	/* a long idle fills the bucket only to the burst */
	is_int(burst(r, "192.0.2.1", t0 + 60ULL * SEC, 10), 5, "after a minute idle: burst of 5");
	/* the clock going backwards credits nothing */
	ok(!allow(r, "192.0.2.1", t0 + 59ULL * SEC), "a clock step back does not refill");
	ok(allow(r, "192.0.2.1", t0 + 60ULL * SEC + 50 * MS), "and time moving on does");

	/* sources are independent */
	is_int(burst(r, "192.0.2.2", t0 + 60ULL * SEC, 7), 5, "another v4 source has its own 5");
	ok(!allow(r, "192.0.2.1", t0 + 60ULL * SEC + 50 * MS), "the first is still limited");

	/* IPv6 buckets are per /64 */
	is_int(burst(r, "2001:db8:1:2::1", t0, 5), 5, "v6 source: 5");
	ok(!allow(r, "2001:db8:1:2::1", t0), "v6 source: 6th refused");
	ok(!allow(r, "2001:db8:1:2:ffff:ffff:ffff:ffff", t0), "same /64: shares the bucket");
	ok(!allow(r, "2001:db8:1:2:1234::99", t0), "same /64 again: refused");
	is_int(burst(r, "2001:db8:1:3::1", t0, 6), 5, "next /64: its own bucket");
	is_int(burst(r, "2001:db8:1:2::1", t0 + 3 * 50 * MS, 5), 3,
	       "first /64 refills 3 in 150 ms");
	/* a v4 address and a v6 /64 with the same leading bytes are different sources */
	is_int(burst(r, "::ffff:192.0.2.3", t0, 6), 5, "v4-mapped v6 is its own bucket");
	is_int(burst(r, "192.0.2.3", t0, 6), 5, "and so is the plain v4");

	/* anything else is refused */
	{
		struct sockaddr sa = { .sa_family = AF_UNIX };

		ok(!ratelimiter_allow(r, &sa, t0), "AF_UNIX source refused");
		ok(!ratelimiter_allow(r, NULL, t0), "NULL source refused");
	}
	ratelimiter_free(r);
	ratelimiter_free(NULL);
}

static void test_gc_and_bound(void)
{
	struct ratelimiter *r = ratelimiter_new();
	uint64_t t0 = 5ULL * SEC;
	struct sockaddr_in s;
	int got = 0, half = RATELIMITER_MAX_ENTRIES / 2;

	/* fill the table: half the sources at t0, half 800 ms later */
	for (int i = 0; i < RATELIMITER_MAX_ENTRIES; ++i) {
		s = v4_n((uint32_t)i);
		got += ratelimiter_allow(r, (struct sockaddr *)&s, i < half ? t0 : t0 + 800 * MS);
	}
	is_int(got, RATELIMITER_MAX_ENTRIES, "every new source allowed until the table is full");
	s = v4_n(RATELIMITER_MAX_ENTRIES);
	ok(!ratelimiter_allow(r, (struct sockaddr *)&s, t0 + 800 * MS),
	   "a new source is refused when full");
	ok(!allow(r, "2001:db8::1", t0 + 800 * MS), "a new v6 source too");
	s = v4_n(7);
	ok(ratelimiter_allow(r, (struct sockaddr *)&s, t0 + 800 * MS),
	   "known sources still work when full");

	/* gc too early removes nothing: the first half is idle exactly one second */
	ratelimiter_gc(r, t0 + SEC);
	s = v4_n(RATELIMITER_MAX_ENTRIES);
	ok(!ratelimiter_allow(r, (struct sockaddr *)&s, t0 + SEC), "gc at 1 s idle frees nothing");

	/* at t0 + 1.5 s the first half (bar #7, used at +800 ms) is over a second idle */
	ratelimiter_gc(r, t0 + 1500 * MS);
	got = 0;
	for (int i = 0; i < half; ++i) {
		s = v4_n((uint32_t)(RATELIMITER_MAX_ENTRIES + i));
		got += ratelimiter_allow(r, (struct sockaddr *)&s, t0 + 1500 * MS);
	}
	is_int(got, half - 1, "gc freed the idle half (less the one still in use)");
	s = v4_n(RATELIMITER_MAX_ENTRIES + half);
	ok(!ratelimiter_allow(r, (struct sockaddr *)&s, t0 + 1500 * MS), "and full again");

	/* the entries gc kept still carry their state: #half+1 spent one token at +800 ms */
	{
		int n = 0;

		s = v4_n((uint32_t)half + 1);
		for (int i = 0; i < 6; ++i)
			n += ratelimiter_allow(r, (struct sockaddr *)&s, t0 + 800 * MS);
		is_int(n, 4, "a kept entry still has its bucket (4 left of 5)");
	}

	/* everything idle: gc empties the table */
	ratelimiter_gc(r, t0 + 10ULL * SEC);
	got = 0;
	for (int i = 0; i < 1000; ++i) {
		s = v4_n((uint32_t)(3 * RATELIMITER_MAX_ENTRIES + i));
		got += ratelimiter_allow(r, (struct sockaddr *)&s, t0 + 10ULL * SEC);
	}
	is_int(got, 1000, "after a full gc new sources are welcome");
	ratelimiter_free(r);
}

struct thread_arg {
	struct ratelimiter *r;
	int id;
	int allowed;
};

static void *hammer(void *p)
{
	struct thread_arg *a = p;

	for (int i = 0; i < THREAD_SOURCES; ++i) {
		struct sockaddr_in s = v4_n((uint32_t)(a->id * THREAD_SOURCES + i));

		for (int j = 0; j < 7; ++j)
			a->allowed += ratelimiter_allow(a->r, (struct sockaddr *)&s, SEC);
	}
	return NULL;
}

static void test_threads(void)
{
	struct ratelimiter *r = ratelimiter_new();
	struct thread_arg args[THREADS];
	pthread_t th[THREADS];
	int total = 0;

	for (int i = 0; i < THREADS; ++i) {
		args[i] = (struct thread_arg){ .r = r, .id = i };
		pthread_create(&th[i], NULL, hammer, &args[i]);
	}
	for (int i = 0; i < THREADS; ++i) {
		pthread_join(th[i], NULL);
		total += args[i].allowed;
	}
	is_int(total, THREADS * THREAD_SOURCES * 5, "threads: exactly 5 per source allowed");
	ratelimiter_free(r);
}

int main(void)
{
	test_bucket();
	test_gc_and_bound();
	test_threads();
	return done_testing();
}
