// SPDX-License-Identifier: GPL-2.0
/*
 * The replay window against a naive model: a counter is accepted iff it is below
 * REJECT_AFTER_MESSAGES, was never accepted, and is no more than REPLAY_WINDOW_SIZE below the
 * greatest counter accepted so far. Input: a sequence of ops, each one byte and its operand:
 *   0: absolute counter (8 bytes LE)        1: greatest + signed 16-bit delta
 *   2: window edge: greatest - WINDOW + s8  3: near REJECT_AFTER_MESSAGES: limit - 1 - u8 + ...
 *   4: greatest + 64 * u8 (word jumps)     5: reset both
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"

enum {
	MODEL_MAX = 4096
};

static uint64_t seen[MODEL_MAX];
static size_t n_seen;
static uint64_t greatest;
static bool any;

static bool model_check(uint64_t c)
{
	size_t i;

	if (c >= REJECT_AFTER_MESSAGES)
		return false;
	if (any && c < greatest && greatest - c > REPLAY_WINDOW_SIZE)
		return false;
	for (i = 0; i < n_seen; i++)
		if (seen[i] == c)
			return false;
	if (n_seen < MODEL_MAX)
		seen[n_seen++] = c;
	if (!any || c > greatest)
		greatest = c;
	any = true;
	return true;
}

static uint64_t take(const uint8_t **p, const uint8_t *end, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n && *p < end; i++, (*p)++)
		v |= (uint64_t) * *p << (8 * i);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct replay_window w;
	const uint8_t *p = data, *end = data + size;

	replay_init(&w);
	n_seen = 0;
	greatest = 0;
	any = false;
	while (p < end && n_seen < MODEL_MAX) {
		uint8_t op = *p++;
		uint64_t c;
		bool got, want;

		switch (op % 6) {
		case 0:
			c = take(&p, end, 8);
			break;
		case 1:
			c = greatest + (uint64_t)(int64_t)(int16_t)take(&p, end, 2);
			break;
		case 2:
			c = greatest - REPLAY_WINDOW_SIZE +
			    (uint64_t)(int64_t)(int8_t)take(&p, end, 1);
			break;
		case 3:
			c = REJECT_AFTER_MESSAGES - 1 - REPLAY_BITS_TOTAL +
			    (uint64_t)(int64_t)(int16_t)take(&p, end, 2) + REPLAY_BITS_TOTAL / 2;
			break;
		case 4:
			c = greatest + 64 * take(&p, end, 1);
			break;
		default:
			replay_init(&w);
			n_seen = 0;
			greatest = 0;
			any = false;
			continue;
		}
		got = replay_check(&w, c);
		want = model_check(c);
		if (got != want) {
			fprintf(stderr, "replay: counter %llu (greatest %llu): got %d, model %d\n",
				(unsigned long long)c, (unsigned long long)greatest, got, want);
			abort();
		}
	}
	return 0;
}
