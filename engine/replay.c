// SPDX-License-Identifier: GPL-2.0
/*
 * The replay window, with the kernel driver's semantics (receive.c, counter_validate) so that
 * a peer sees the same acceptance from us as from the kernel.
 *
 * Bits are indexed by counter + 1, not by the counter: the stored `counter` is then the
 * greatest accepted counter plus one, and 0 means "nothing accepted yet" without a flag.
 * The bitmap is a ring of words; moving forward zeroes the words passed over, never more than
 * the whole ring, so a jump of any size costs at most REPLAY_WORDS stores.
 */
#include <string.h>

#include "replay.h"

void replay_init(struct replay_window *w)
{
	memset(w, 0, sizeof(*w));
}

bool replay_check(struct replay_window *w, uint64_t counter)
{
	uint64_t next, index, index_current, top, i, bit;

	/* The sender must have rekeyed long before; the last counters are never valid. */
	if (counter >= REJECT_AFTER_MESSAGES)
		return false;
	/* Cannot overflow: counter < REJECT_AFTER_MESSAGES leaves room for the window. */
	next = counter + 1;
	/* Older than the window: accepted counters down to greatest - REPLAY_WINDOW_SIZE. */
	if (next + REPLAY_WINDOW_SIZE < w->counter)
		return false;

	index = next / REPLAY_BITS_PER_WORD;
	bit = 1ULL << (next % REPLAY_BITS_PER_WORD);
	if (next > w->counter) {
		/* Newer than anything seen: clear the words between, then mark. */
		index_current = w->counter / REPLAY_BITS_PER_WORD;
		top = index - index_current;
		if (top > REPLAY_WORDS)
			top = REPLAY_WORDS;
		for (i = 1; i <= top; ++i)
			w->bitmap[(index_current + i) % REPLAY_WORDS] = 0;
		w->counter = next;
		w->bitmap[index % REPLAY_WORDS] |= bit;
		return true;
	}
	/* Within the window: accept once. A refusal leaves the window as it was. */
	index %= REPLAY_WORDS;
	if (w->bitmap[index] & bit)
		return false;
	w->bitmap[index] |= bit;
	return true;
}
