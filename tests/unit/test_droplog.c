// SPDX-License-Identifier: GPL-2.0
/*
 * droplog: which samples make a line, the hold between lines of one reason, what a line says
 * about what was folded into it; driven by a fake clock, lines captured instead of logged.
 */
#include <stdio.h>
#include <string.h>

#include "droplog.h"
#include "tap.h"

#define SEC 1000000000ULL

static char lines[64][DROPLOG_LINE_MAX];
static int n_lines;

static void capture(void *ctx, const char *line)
{
	(void)ctx;
	if (n_lines < 64)
		snprintf(lines[n_lines], sizeof(lines[0]), "%s", line);
	n_lines++;
}

static const char *const names[] = { "bad_mac1", "unknown_index" };
static uint64_t tot[2];

static void step(struct droplog *dl, uint64_t t_s, uint64_t add0, uint64_t add1)
{
	tot[0] += add0;
	tot[1] += add1;
	droplog_sample(dl, DROPLOG_SRC_XDP, tot, names, 2, t_s * SEC);
}

int main(void)
{
	struct droplog *dl = droplog_new("wg0", capture, NULL);
	uint64_t t;

	ok(dl != NULL, "droplog_new");
	tot[0] = 5000; /* drops from before the daemon looked: not a burst */
	step(dl, 1, 0, 0);
	is_int(n_lines, 0, "the first sample only records the totals");
	step(dl, 2, DROPLOG_BURST - 1, 10);
	is_int(n_lines, 0, "fewer than a burst in a sample: no line");
	step(dl, 3, 12034, 0);
	is_int(n_lines, 1, "a burst: one line");
	is_mem(lines[0], "wg0: dropped 12034 packets in 1.0 s: bad_mac1 (xdp)",
	       sizeof("wg0: dropped 12034 packets in 1.0 s: bad_mac1 (xdp)"),
	       "the line: count, span, reason, source");
	tap_diag("%s", lines[0]);

	/* the flood goes on: nothing for 10 s, then one line with all of it */
	for (t = 4; t <= 12; t++)
		step(dl, t, 1000, 0);
	is_int(n_lines, 1, "bursts within 10 s of the line are folded in");
	step(dl, 13, 1000, 0);
	is_int(n_lines, 2, "10 s after the line: the next one");
	is_mem(lines[1],
	       "wg0: dropped 10000 packets in 10.0 s: bad_mac1 (xdp, 10 bursts folded in)",
	       sizeof("wg0: dropped 10000 packets in 10.0 s: bad_mac1 (xdp, 10 bursts folded in)"),
	       "it counts everything since the last line, over its span, and the bursts");
	tap_diag("%s", lines[1]);

	/* another reason bursts meanwhile: its own line, its own hold */
	step(dl, 14, 0, 500);
	is_int(n_lines, 3, "a second reason is not held by the first");
	ok(strstr(lines[2], "dropped 500 packets in 1.0 s: unknown_index (xdp)") != NULL,
	   "the second reason's line");

	/* the flood stops within the hold: the rest is logged once the hold is over */
	step(dl, 15, 300, 0);
	step(dl, 16, 0, 0);
	for (t = 17; t <= 22; t++)
		step(dl, t, 0, 0);
	is_int(n_lines, 3, "quiet within the hold (10 s from the line at 13 s): no line");
	step(dl, 23, 0, 0);
	is_int(n_lines, 4, "the hold over: a line for what was folded");
	/* counted from the sample before the first folded drops (14 s) */
	ok(strstr(lines[3], "dropped 300 packets in 9.0 s: bad_mac1 (xdp, 1 burst folded in)") !=
		   NULL,
	   "... with its count and one burst");
	tap_diag("%s", lines[3]);
	step(dl, 24, 100, 0);
	is_int(n_lines, 5, "released: the next burst is logged at once");
	ok(strstr(lines[4], "dropped 100 packets in 1.0 s: bad_mac1 (xdp)") != NULL,
	   "... as a fresh line");

	/* a trickle folded after a burst, never a burst again: not logged */
	for (t = 25; t <= 40; t++)
		step(dl, t, 3, 0);
	is_int(n_lines, 5, "a trickle after a burst makes no line");

	/* a counter that goes backwards (the program was replaced) starts over */
	tot[1] = 0;
	droplog_sample(dl, DROPLOG_SRC_XDP, tot, names, 2, 41 * SEC);
	is_int(n_lines, 5, "a counter reset is not a burst");
	step(dl, 42, 0, 64);
	is_int(n_lines, 6, "after the reset, a burst is counted from the new total");

	/* sources are separate: the same index in the engine's source is another reason */
	{
		uint64_t e[2] = { 0, 0 };
		const char *const en[] = { "decrypt", "replay" };

		droplog_sample(dl, DROPLOG_SRC_ENGINE, e, en, 2, 43 * SEC);
		e[0] = 70;
		droplog_sample(dl, DROPLOG_SRC_ENGINE, e, en, 2, 45 * SEC);
		is_int(n_lines, 7, "an engine burst");
		ok(strstr(lines[6], "dropped 70 packets in 2.0 s: decrypt (engine)") != NULL,
		   "... named after its source, over the time since that source's last sample");
	}

	droplog_free(dl);
	return done_testing();
}
