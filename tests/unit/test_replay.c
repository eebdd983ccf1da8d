// SPDX-License-Identifier: GPL-2.0
/*
 * The replay window against the kernel's counter_validate semantics: with G the greatest
 * counter accepted, a counter c is accepted iff c < REJECT_AFTER_MESSAGES, c was not accepted
 * before, and c >= G - REPLAY_WINDOW_SIZE (8128). The last part is checked exhaustively at the
 * edges and by a randomized comparison with a naive model that remembers every counter.
 */
#include <stdlib.h>
#include <string.h>

#include "replay.h"
#include "tap.h"

enum {
	TEST_RANDOM_OPS = 100000,
	/* the model's memory: counters base .. base + TEST_SPAN - 1 */
	TEST_SPAN = 1 << 25,
	/* counters tried lately, replayed to make duplicates */
	TEST_RECENT = 32,
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

/* xorshift64*: a fixed seed so a failure reproduces. */
static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static uint64_t rng_below(uint64_t bound)
{
	return rng() % bound;
}

/* Accepts first..last in order; true if every one was accepted. */
static bool accept_range(struct replay_window *w, uint64_t first, uint64_t last)
{
	uint64_t c;
	bool all = true;

	for (c = first; c <= last && c >= first; ++c)
		all = replay_check(w, c) && all;
	return all;
}

/* True if no counter in first..last is accepted. */
static bool refuse_range(struct replay_window *w, uint64_t first, uint64_t last)
{
	uint64_t c;
	bool none = true;

	for (c = first; c <= last && c >= first; ++c)
		none = !replay_check(w, c) && none;
	return none;
}

static void test_basics(void)
{
	struct replay_window w, snap;
	uint64_t c;
	bool good = true;

	replay_init(&w);
	ok(replay_check(&w, 0), "counter 0 accepted on a fresh window");
	ok(!replay_check(&w, 0), "counter 0 refused the second time");
	ok(accept_range(&w, 1, 20000), "in order 1..20000 accepted");
	ok(refuse_range(&w, 20000 - REPLAY_WINDOW_SIZE, 20000), "all of them refused again");

	/* Reordering within the window: odds first, then evens, then neither again. */
	replay_init(&w);
	for (c = 1; c < 4000; c += 2)
		good = replay_check(&w, c) && good;
	for (c = 0; c < 4000; c += 2)
		good = replay_check(&w, c) && good;
	ok(good, "reordered odds then evens all accepted");
	ok(refuse_range(&w, 0, 3999), "and none twice");

	/* Backwards within the window. */
	replay_init(&w);
	good = true;
	for (c = 8000; c <= 8000; --c)
		good = replay_check(&w, c) && good;
	ok(good, "8000 down to 0 accepted (all within the window of 8000)");

	/* A refusal changes nothing. */
	replay_init(&w);
	accept_range(&w, 100, 200);
	snap = w;
	replay_check(&w, 150);
	replay_check(&w, REJECT_AFTER_MESSAGES);
	ok(!memcmp(&w, &snap, sizeof(w)), "refusals leave the window untouched");
}

static void test_boundary(void)
{
	struct replay_window w;
	const uint64_t g = 100000;

	/* The kernel keeps exactly REPLAY_WINDOW_SIZE counters below the greatest. */
	replay_init(&w);
	ok(replay_check(&w, g), "greatest = %llu", (unsigned long long)g);
	ok(!replay_check(&w, g - REPLAY_WINDOW_SIZE - 1), "greatest - 8129 refused (too old)");
	ok(replay_check(&w, g - REPLAY_WINDOW_SIZE), "greatest - 8128 accepted (oldest in window)");
	ok(!replay_check(&w, g - REPLAY_WINDOW_SIZE), "greatest - 8128 refused the second time");
	ok(accept_range(&w, g - REPLAY_WINDOW_SIZE + 1, g - 1), "everything between accepted");

	/* The window slides with the greatest counter, one at a time. */
	ok(replay_check(&w, g + 1), "greatest + 1 accepted");
	ok(!replay_check(&w, g + 1 - REPLAY_WINDOW_SIZE - 1), "the new oldest - 1 refused");

	/* At every alignment of the counter in the ring of words. */
	{
		uint64_t off;
		bool good = true;

		for (off = 0; off < 2 * REPLAY_BITS_PER_WORD; ++off) {
			uint64_t top = 3 * REPLAY_BITS_TOTAL + off;

			replay_init(&w);
			good = replay_check(&w, top) && good;
			good = !replay_check(&w, top - REPLAY_WINDOW_SIZE - 1) && good;
			good = replay_check(&w, top - REPLAY_WINDOW_SIZE) && good;
		}
		ok(good, "boundary holds at all 128 word alignments");
	}

	/* With a small greatest counter nothing is "too old". */
	replay_init(&w);
	ok(replay_check(&w, 5000) && replay_check(&w, 0), "0 within the window of 5000");
}

static void test_jumps(void)
{
	struct replay_window w;
	uint64_t g;

	/* Fill the whole ring, then jump so every old bit shares a slot with a new counter. */
	replay_init(&w);
	ok(accept_range(&w, 0, REPLAY_BITS_TOTAL - 1), "0..8191 accepted (every slot used)");
	g = 2 * REPLAY_BITS_TOTAL - 1;
	ok(replay_check(&w, g), "jump to %llu", (unsigned long long)g);
	ok(accept_range(&w, g - REPLAY_WINDOW_SIZE, g - 1),
	   "the whole window below the jump is fresh (old bits cleared)");
	ok(!replay_check(&w, g - REPLAY_WINDOW_SIZE - 1), "below it is too old");

	/* A jump of less than a ring also clears exactly what it passes. */
	replay_init(&w);
	accept_range(&w, 0, 999);
	ok(replay_check(&w, 5000), "jump forward by 4001");
	ok(refuse_range(&w, 0, 999), "counters before the jump stay seen");
	ok(accept_range(&w, 1000, 4999), "counters jumped over are fresh");

	/* Far ahead. */
	replay_init(&w);
	accept_range(&w, 0, 10000);
	g = 1ULL << 40;
	ok(replay_check(&w, g), "jump to 2^40");
	ok(!replay_check(&w, 10000) && !replay_check(&w, 0), "the old counters are now too old");
	ok(accept_range(&w, g - REPLAY_WINDOW_SIZE, g - 1), "the window below 2^40 is fresh");
}

static void test_limits(void)
{
	struct replay_window w;
	const uint64_t last = REJECT_AFTER_MESSAGES - 1;

	ok(REJECT_AFTER_MESSAGES == 0xffffffffffffdfffULL,
	   "REJECT_AFTER_MESSAGES = 2^64 - 2^13 - 1");
	replay_init(&w);
	ok(!replay_check(&w, UINT64_MAX), "2^64 - 1 refused");
	ok(!replay_check(&w, REJECT_AFTER_MESSAGES), "REJECT_AFTER_MESSAGES refused");
	ok(replay_check(&w, last), "REJECT_AFTER_MESSAGES - 1 accepted");
	ok(!replay_check(&w, last), "and only once");
	ok(!replay_check(&w, REJECT_AFTER_MESSAGES),
	   "REJECT_AFTER_MESSAGES still refused after it");
	ok(accept_range(&w, last - REPLAY_WINDOW_SIZE, last - 1),
	   "the window below the last counter works");
	ok(!replay_check(&w, last - REPLAY_WINDOW_SIZE - 1), "and ends where it should");

	replay_init(&w);
	ok(accept_range(&w, last - 300, last), "in order up to the last counter");
	ok(refuse_range(&w, REJECT_AFTER_MESSAGES, REJECT_AFTER_MESSAGES + 100),
	   "the 8192 counters above it all refused (sample)");
	ok(!replay_check(&w, UINT64_MAX), "even 2^64 - 1");
}

/* The model: a bit per counter in [base, base + TEST_SPAN), and the greatest accepted. */
struct model {
	uint64_t base, greatest;
	bool any;
	uint8_t *seen;
};

static bool model_check(struct model *m, uint64_t c)
{
	uint64_t i = c - m->base;

	if (c >= REJECT_AFTER_MESSAGES || (m->seen[i / 8] >> (i % 8)) & 1)
		return false;
	if (m->any && c + REPLAY_WINDOW_SIZE < m->greatest)
		return false;
	m->seen[i / 8] |= (uint8_t)(1 << (i % 8));
	if (!m->any || c > m->greatest)
		m->greatest = c;
	m->any = true;
	return true;
}

static void test_random(uint64_t base, const char *name)
{
	struct replay_window w;
	struct model m = { .base = base };
	uint64_t c, pos = base, mismatch_at = 0, recent[TEST_RECENT];
	int op, mismatches = 0, accepted = 0, old = 0, dup = 0, limit = 0;
	bool got;

	m.seen = calloc(TEST_SPAN / 8, 1);
	if (!m.seen) {
		ok(0, "%s: model allocation", name);
		return;
	}
	for (op = 0; op < TEST_RECENT; ++op)
		recent[op] = base;
	replay_init(&w);
	for (op = 0; op < TEST_RANDOM_OPS; ++op) {
		uint64_t r = rng_below(100);

		/* Ahead a little, duplicates of recent ones, reordering around the window's
		 * edge, the occasional jump forward, and the occasional ancient counter. */
		if (r < 30)
			c = pos + rng_below(64);
		else if (r < 50)
			c = recent[rng_below(TEST_RECENT)];
		else if (r < 70)
			c = pos - rng_below(REPLAY_WINDOW_SIZE + 200);
		else if (r < 85)
			c = pos - rng_below(REPLAY_WINDOW_SIZE - 200) + 100;
		else if (r < 95)
			c = pos - rng_below(REPLAY_BITS_TOTAL + 100) + 50;
		else if (r < 99)
			c = pos + rng_below(REPLAY_BITS_TOTAL + 256);
		else
			c = base + rng_below(pos - base + 1);
		/* Keep inside the model's memory (the arithmetic above may wrap). */
		if (c < base || c - base >= TEST_SPAN)
			c = pos;

		/* Classify before the model learns c, to report which rules were exercised. */
		if (c >= REJECT_AFTER_MESSAGES)
			++limit;
		else if (m.any && c + REPLAY_WINDOW_SIZE < m.greatest)
			++old;
		else if ((m.seen[(c - base) / 8] >> ((c - base) % 8)) & 1)
			++dup;
		recent[op % TEST_RECENT] = c;
		got = replay_check(&w, c);
		if (got != model_check(&m, c) && !mismatches++)
			mismatch_at = c;
		accepted += got;
		if (m.any)
			pos = m.greatest;
		if (pos - base > TEST_SPAN - 4 * REPLAY_BITS_TOTAL)
			break;
	}
	free(m.seen);
	if (!ok(mismatches == 0 && op == TEST_RANDOM_OPS, "%s: %d operations agree with the model",
		name, op))
		tap_diag("%d mismatches, first at counter %llu", mismatches,
			 (unsigned long long)mismatch_at);
	tap_diag("%s: %d accepted; refused %d too old, %d duplicate, %d past the limit", name,
		 accepted, old, dup, limit);
	ok(accepted > 1000 && old > 1000 && dup > 1000, "%s: every rule exercised", name);
}

int main(void)
{
	test_basics();
	test_boundary();
	test_jumps();
	test_limits();
	test_random(0, "random from 0");
	/* The top end, where forward counters cross REJECT_AFTER_MESSAGES. */
	test_random(REJECT_AFTER_MESSAGES - TEST_SPAN / 2, "random near REJECT_AFTER_MESSAGES");
	return done_testing();
}
