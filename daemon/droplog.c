// SPDX-License-Identifier: GPL-2.0
/*
 * Bursts of drops by reason (see droplog.h). Per reason: the total at the last sample, and since
 * the reason's last line the drops and bursts folded in, so that a flood costs one line per
 * reason every DROPLOG_HOLD_NS however long it lasts, and the line still accounts for all of it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "droplog.h"
#include "pins.h"
#include "log.h"
#include "xdpwg_kern_user.h"

enum droplog_internal {
	DROPLOG_REASONS_MAX = 64, /* per source; more are not watched */
};

struct droplog_reason {
	bool seen;	     /* has a previous total */
	uint64_t total;	     /* at the last sample */
	uint64_t line_ns;    /* when the last line was logged; 0: never */
	uint64_t folded;     /* drops since that line */
	uint64_t fold_start; /* the sample time the folded drops count from */
	unsigned int bursts; /* bursts among them */
};

struct droplog {
	char ifname[32];
	void (*emit)(void *ctx, const char *line);
	void *emit_ctx;
	uint64_t last_tick_ns;
	bool ticked;
	uint64_t last_ns[DROPLOG_SRC_MAX]; /* the previous sample of each source */
	struct droplog_reason r[DROPLOG_SRC_MAX][DROPLOG_REASONS_MAX];
};

static const char *const droplog_src_name[DROPLOG_SRC_MAX] = {
	[DROPLOG_SRC_XDP] = "xdp",
	[DROPLOG_SRC_ENGINE] = "engine",
};

static void droplog_default_emit(void *ctx, const char *line)
{
	(void)ctx;
	log_info("%s", line);
}

struct droplog *droplog_new(const char *ifname, void (*emit)(void *ctx, const char *line),
			    void *emit_ctx)
{
	struct droplog *dl = calloc(1, sizeof(*dl));

	if (!dl)
		return NULL;
	snprintf(dl->ifname, sizeof(dl->ifname), "%s", ifname);
	dl->emit = emit ? emit : droplog_default_emit;
	dl->emit_ctx = emit_ctx;
	return dl;
}

void droplog_free(struct droplog *dl)
{
	free(dl);
}

static void droplog_line(struct droplog *dl, enum droplog_source src, const char *name,
			 uint64_t count, uint64_t span_ns, unsigned int folded_bursts)
{
	char line[DROPLOG_LINE_MAX];

	if (folded_bursts)
		snprintf(line, sizeof(line),
			 "%s: dropped %" PRIu64 " packets in %.1f s: %s (%s, %u burst%s folded in)",
			 dl->ifname, count, (double)span_ns / 1e9, name, droplog_src_name[src],
			 folded_bursts, folded_bursts == 1 ? "" : "s");
	else
		snprintf(line, sizeof(line), "%s: dropped %" PRIu64 " packets in %.1f s: %s (%s)",
			 dl->ifname, count, (double)span_ns / 1e9, name, droplog_src_name[src]);
	dl->emit(dl->emit_ctx, line);
}

void droplog_sample(struct droplog *dl, enum droplog_source src, const uint64_t *totals,
		    const char *const *names, size_t n, uint64_t now_ns)
{
	uint64_t prev_ns = dl->last_ns[src];

	if (n > DROPLOG_REASONS_MAX)
		n = DROPLOG_REASONS_MAX;
	dl->last_ns[src] = now_ns;
	for (size_t i = 0; i < n; i++) {
		struct droplog_reason *r = &dl->r[src][i];
		uint64_t delta;
		bool burst, holding;

		if (!r->seen || totals[i] < r->total) {
			/* first sight, or the counter started over (a new program) */
			r->seen = true;
			r->total = totals[i];
			continue;
		}
		delta = totals[i] - r->total;
		r->total = totals[i];
		burst = delta >= DROPLOG_BURST;
		holding = r->line_ns && now_ns - r->line_ns < DROPLOG_HOLD_NS;
		if (holding) {
			/* within the hold after a line: count everything towards the next one */
			if (!r->folded && !delta)
				continue;
			if (!r->folded)
				r->fold_start = prev_ns;
			r->folded += delta;
			r->bursts += burst;
			continue;
		}
		if (r->folded) {
			/* the hold is over: one line for all that was folded, this sample with it;
			 * a trickle after the burst that ended is left to the counters */
			if (r->bursts || burst)
				droplog_line(dl, src, names[i], r->folded + delta,
					     now_ns - r->fold_start, r->bursts + burst);
			r->folded = 0;
			r->bursts = 0;
			/* a flood that still goes on keeps the hold; a quiet one releases it */
			r->line_ns = burst ? now_ns : 0;
			continue;
		}
		if (burst) {
			droplog_line(dl, src, names[i], delta, now_ns - prev_ns, 0);
			r->line_ns = now_ns;
		}
	}
}

void droplog_tick(struct droplog *dl, struct wg_device *dev, const uint64_t *xdp_stats,
		  uint64_t extra_engine, uint64_t now_ns)
{
	uint64_t xdp[XDPWG_STAT_MAX], eng[WG_DROP_REASON_MAX + 1];
	const char *xnames[XDPWG_STAT_MAX], *enames[WG_DROP_REASON_MAX + 1];
	size_t nx = 0, ne = 0;

	if (!dl || (dl->ticked && now_ns - dl->last_tick_ns < DROPLOG_SAMPLE_NS))
		return;
	dl->ticked = true;
	dl->last_tick_ns = now_ns;
	if (xdp_stats) {
		for (unsigned int k = 0; k < XDPWG_STAT_MAX; k++) {
			if (pins_stat_action((enum xdpwg_stat)k) != PINS_STAT_DROP)
				continue;
			xdp[nx] = xdp_stats[k];
			xnames[nx++] = pins_stat_name((enum xdpwg_stat)k);
		}
		droplog_sample(dl, DROPLOG_SRC_XDP, xdp, xnames, nx, now_ns);
	}
	wg_device_drop_counts(dev, eng);
	for (int r = WG_DROP_NONE + 1; r < WG_DROP_REASON_MAX; r++) {
		eng[ne] = eng[r];
		enames[ne++] = wg_drop_reason_name((enum wg_drop_reason)r);
	}
	eng[ne] = extra_engine;
	enames[ne++] = "source_not_allowed";
	droplog_sample(dl, DROPLOG_SRC_ENGINE, eng, enames, ne, now_ns);
}
