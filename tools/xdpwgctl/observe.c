// SPDX-License-Identifier: GPL-2.0
/*
 * Shared by metrics, top and capture: see observe.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "observe.h"
#include "xdpwg_kern_user.h"

const char *obs_pin_root(void)
{
	const char *r = getenv("XDPWG_PIN_ROOT");

	return r && *r ? r : XDPWG_PIN_ROOT;
}

int obs_name_ok(const char *name)
{
	size_t len = strlen(name);

	return len > 0 && len < 16 && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

int obs_pin_path(char *buf, size_t len, const char *iface, const char *map)
{
	int n = snprintf(buf, len, "%s/%s/%s", obs_pin_root(), iface, map);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int obs_stats_read(const char *iface, uint64_t **out, uint32_t *n)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info), k;
	int ncpu = libbpf_num_possible_cpus(), c, fd, err = 0;
	uint64_t *vals = NULL, *sum = NULL;
	char path[4096];

	*out = NULL;
	*n = 0;
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	err = obs_pin_path(path, sizeof(path), iface, "stats");
	if (err)
		return err;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = -errno;
		goto out;
	}
	if (info.type != BPF_MAP_TYPE_PERCPU_ARRAY || info.value_size != sizeof(uint64_t) ||
	    info.key_size != sizeof(uint32_t)) {
		err = -EPROTO;
		goto out;
	}
	*n = info.max_entries < OBS_MAX_REASONS ? info.max_entries : OBS_MAX_REASONS;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	sum = calloc(*n ? *n : 1, sizeof(*sum));
	if (!vals || !sum) {
		err = -ENOMEM;
		goto out;
	}
	for (k = 0; k < *n; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals)) {
			err = -errno;
			goto out;
		}
		for (c = 0; c < ncpu; c++)
			sum[k] += vals[c];
	}
out:
	close(fd);
	free(vals);
	if (err) {
		free(sum);
		*n = 0;
		return err;
	}
	*out = sum;
	return 0;
}

void obs_stat_name(uint32_t k, char *buf, size_t len)
{
	if (k < XDPWG_STAT_MAX)
		snprintf(buf, len, "%s", loader_stat_name((enum xdpwg_stat)k));
	else
		snprintf(buf, len, "reason_%u", k);
}

const char *obs_stat_action(uint32_t k)
{
	switch (k) {
	case XDPWG_STAT_PASS_OTHER:
	case XDPWG_STAT_PASS_FRAGMENT:
	case XDPWG_STAT_PASS_IPV6_EXT:
	case XDPWG_STAT_PASS_DISABLED:
	case XDPWG_STAT_NO_XSK_PASSED:
	case XDPWG_STAT_META_FAILED:
	case XDPWG_STAT_HS_UNDER_LOAD:
		return "pass";
	case XDPWG_STAT_REDIRECTED:
		return "redirect";
	case XDPWG_STAT_BAD_SIZE_INITIATION:
	case XDPWG_STAT_BAD_SIZE_RESPONSE:
	case XDPWG_STAT_BAD_SIZE_COOKIE:
	case XDPWG_STAT_BAD_SIZE_DATA:
	case XDPWG_STAT_BAD_TYPE:
	case XDPWG_STAT_UNKNOWN_INDEX:
	case XDPWG_STAT_TRUNCATED:
	case XDPWG_STAT_BAD_MAC1:
	case XDPWG_STAT_HS_RATELIMITED:
	case XDPWG_STAT_SRC_NOT_ALLOWED:
		return "drop";
	default:
		return "info";
	}
}

static uint64_t obs_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

uint64_t obs_mono_ns(void)
{
	return obs_clock_ns(CLOCK_MONOTONIC);
}

uint64_t obs_wall_ns(void)
{
	return obs_clock_ns(CLOCK_REALTIME);
}
