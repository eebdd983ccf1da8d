/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Bursts of drops, as log lines: on the daemon's tick the per-reason drop counters of the XDP
 * program (summed over CPUs) and of the engine are sampled, and a reason whose count grew by a
 * burst since the last sample is logged in one line:
 *
 *   wg0: dropped 12034 packets in 1.0 s: bad_mac1 (xdp)
 *
 * A flood goes on for minutes, so a reason logs at most one line per DROPLOG_HOLD_NS: what it
 * drops meanwhile is folded into its next line, which says over how long and how many bursts:
 *
 *   wg0: dropped 120340 packets in 10.0 s: bad_mac1 (xdp, 9 bursts folded in)
 *
 * A trickle below the burst size is never logged (`xdpwgctl stats` counts it). Control thread.
 */
#ifndef XDPWG_DROPLOG_H
#define XDPWG_DROPLOG_H

#include <stddef.h>
#include <stdint.h>

struct wg_device;

enum droplog_constants {
	DROPLOG_BURST = 64, /* drops in one sample that make a burst */
	/* sample at most this often: just under the daemon's 1 s tick, which may come early */
	DROPLOG_SAMPLE_NS = 900000000,
	DROPLOG_LINE_MAX = 192,
};
#define DROPLOG_HOLD_NS 10000000000ULL /* at most one line per reason this often */

enum droplog_source {
	DROPLOG_SRC_XDP = 0, /* the XDP program's stats map */
	DROPLOG_SRC_ENGINE,  /* wg_device_drop_counts and the daemon's own */
	DROPLOG_SRC_MAX,
};

struct droplog;

/* emit gets each line (without a newline); NULL: log_info. NULL with *err = -ENOMEM. */
struct droplog *droplog_new(const char *ifname, void (*emit)(void *ctx, const char *line),
			    void *emit_ctx);
void droplog_free(struct droplog *dl);

/* One sample of one source: totals[i] is reason names[i]'s counter now (a counter that went
 * backwards starts over). now_ns: CLOCK_MONOTONIC (tests pass their own). The first sample of a
 * reason only records it. */
void droplog_sample(struct droplog *dl, enum droplog_source src, const uint64_t *totals,
		    const char *const *names, size_t n, uint64_t now_ns);

/* The daemon's tick: at most once per DROPLOG_SAMPLE_NS, sample the XDP program's counters
 * (xdp_stats: XDPWG_STAT_MAX of them, NULL in socket mode or when they could not be read) and
 * the engine's, plus extra_engine (the daemon's own source_not_allowed count). */
void droplog_tick(struct droplog *dl, struct wg_device *dev, const uint64_t *xdp_stats,
		  uint64_t extra_engine, uint64_t now_ns);

#endif
