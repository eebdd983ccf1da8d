// SPDX-License-Identifier: GPL-2.0
/*
 * Shared by metrics, top and capture: see observe.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ctl.h"
#include "pins.h"
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
		snprintf(buf, len, "%s", pins_stat_name((enum xdpwg_stat)k));
	else
		snprintf(buf, len, "reason_%u", k);
}

const char *obs_stat_action(uint32_t k)
{
	static const char *const names[] = {
		[PINS_STAT_INFO] = "info",
		[PINS_STAT_DROP] = "drop",
		[PINS_STAT_PASS] = "pass",
		[PINS_STAT_REDIRECT] = "redirect",
	};

	return names[pins_stat_action((enum xdpwg_stat)k)];
}

enum obs_worker_limits {
	OBS_WORKERS_MAX = 1024,
	OBS_WORKER_LINE_MAX = 1024,
	OBS_WORKERS_TIMEOUT_S = 2,
};

/* The number after "key": in a flat JSON line; false if absent. */
static bool obs_json_u64(const char *line, const char *key, uint64_t *out)
{
	char pat[48];
	const char *p;
	char *end;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(line, pat);
	if (!p)
		return false;
	*out = strtoull(p + strlen(pat), &end, 10);
	return end != p + strlen(pat);
}

bool obs_json_field(const char *line, const char *key, char *out, size_t len)
{
	char pat[64];
	const char *p, *end;
	size_t n;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(line, pat);
	if (!p)
		return false;
	p += strlen(pat);
	if (*p == '"') {
		p++;
		end = strchr(p, '"');
	} else {
		end = p + strcspn(p, ",}");
	}
	if (!end)
		return false;
	n = (size_t)(end - p) < len - 1 ? (size_t)(end - p) : len - 1;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

static bool obs_worker_parse(const char *line, struct prom_worker *w)
{
	uint64_t v[17];
	static const char *const keys[] = { "worker",	   "queue",	  "tun_queue", "cpu",
					    "zerocopy",	   "rx_frames",	  "rx_bad",    "tx_frames",
					    "tx_fallback", "tun_packets", "rx_ring",   "fill_ring",
					    "tx_ring",	   "tx_inflight" };
	size_t k;

	memset(w, 0, sizeof(*w));
	for (k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
		if (!obs_json_u64(line, keys[k], &v[k]))
			return false;
	if (!obs_json_field(line, "uplink", w->uplink, sizeof(w->uplink)))
		return false;
	w->worker = (unsigned int)v[0];
	w->queue = (unsigned int)v[1];
	w->tun_queue = (unsigned int)v[2];
	w->cpu = (int)v[3];
	w->zerocopy = (int)v[4];
	w->rx_frames = v[5];
	w->rx_bad = v[6];
	w->tx_frames = v[7];
	w->tx_fallback = v[8];
	w->tun_packets = v[9];
	w->rx_ring = v[10];
	w->fill_ring = v[11];
	w->tx_ring = v[12];
	w->tx_inflight = v[13];
	if (!obs_json_u64(line, "busy_poll", &w->busy_poll))
		w->busy_poll = 0;
	return true;
}

int obs_workers_read(const char *iface, struct prom_worker **out, size_t *n)
{
	static const char req[] = "workers=1\n\n";
	const struct timeval tmo = { .tv_sec = OBS_WORKERS_TIMEOUT_S };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	char line[OBS_WORKER_LINE_MAX];
	struct prom_worker *w = NULL;
	size_t have = 0;
	FILE *in;
	int fd, len, err = 0;

	*out = NULL;
	*n = 0;
	len = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.events", ctl_socket_dir(), iface);
	if (len < 0 || (size_t)len >= sizeof(sun.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* a daemon that does not answer must not hang a scrape */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		err = errno == ECONNREFUSED ? -ENOENT : -errno;
		close(fd);
		return err;
	}
	if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof(req) - 1)) {
		err = -errno;
		close(fd);
		return err;
	}
	in = fdopen(fd, "r");
	if (!in) {
		err = -errno;
		close(fd);
		return err;
	}
	/* an older daemon closes on a request it does not know: no lines, no workers */
	while (have < OBS_WORKERS_MAX && fgets(line, sizeof(line), in)) {
		struct prom_worker *p;

		if (!(p = realloc(w, (have + 1) * sizeof(*w)))) {
			err = -ENOMEM;
			break;
		}
		w = p;
		if (obs_worker_parse(line, &w[have]))
			have++;
	}
	fclose(in);
	if (err) {
		free(w);
		return err;
	}
	*out = w;
	*n = have;
	return 0;
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
