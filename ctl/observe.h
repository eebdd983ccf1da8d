/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What metrics, top and capture share: the pinned XDP maps of an interface (found without the
 * daemon's socket, under XDPWG_PIN_ROOT or /sys/fs/bpf/xdpwg), the per-reason counters summed
 * over CPUs, and how each reason is classed (pass, redirect, drop, event).
 */
#ifndef XDPWGCTL_OBSERVE_H
#define XDPWGCTL_OBSERVE_H

#include <stddef.h>
#include <stdint.h>

#include "prom.h"

enum obs_limits {
	OBS_MAX_REASONS = 256, /* a pinned map from another version may have more or fewer */
};

/* $XDPWG_PIN_ROOT or XDPWG_PIN_ROOT. */
const char *obs_pin_root(void);
/* An interface name that is safe as a path component. */
int obs_name_ok(const char *name);
/* "<pin root>/<iface>/<map>"; 0 or -ENAMETOOLONG. */
int obs_pin_path(char *buf, size_t len, const char *iface, const char *map);
/* Every reason's counter summed over CPUs into *out (malloc'd, *n entries). 0, -ENOENT when
 * nothing is attached (no pins), -EPROTO for a map that is not ours, or -errno. */
int obs_stats_read(const char *iface, uint64_t **out, uint32_t *n);
/* "redirected", ..., or "reason_N" beyond what this build knows. */
void obs_stat_name(uint32_t k, char *buf, size_t len);
/* "drop", "pass", "redirect" or "info" (events, capture bookkeeping). */
const char *obs_stat_action(uint32_t k);
/* The value of "key" in a flat JSON object line (string or number), into out. false if absent. */
bool obs_json_field(const char *line, const char *key, char *out, size_t len);
/* The daemon's workers into *out (malloc'd, *n entries; none in socket mode). 0, -ENOENT when
 * the daemon has no events socket (not xdpwgd, or not running), or -errno. */
int obs_workers_read(const char *iface, struct prom_worker **out, size_t *n);

/* CLOCK_MONOTONIC and CLOCK_REALTIME in ns. */
uint64_t obs_mono_ns(void);
uint64_t obs_wall_ns(void);

#endif
