// SPDX-License-Identifier: GPL-2.0
/*
 * stats: the XDP program's per-reason counters for one interface, read straight from its pinned
 * stats map (<pin root>/<iface>/stats, a PERCPU_ARRAY) and summed over CPUs. It needs no daemon
 * socket: the counters are what the data path did, including everything it dropped before
 * userspace ever saw it. XDPWG_PIN_ROOT overrides the pin root (tests with a private bpffs).
 *
 * Then the engine's own per-reason drops (what reached userspace and was dropped there, and what
 * the daemon's source allowlist dropped on the kernel-socket path), from the daemon's get reply
 * (drop_<reason>=N), when a daemon answers on the interface's configuration socket. Text form:
 * the XDP rows as "<reason> N", then the engine rows as "engine.<reason> N"; either section may
 * be absent (no XDP attached, no daemon), not both.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <sys/stat.h>

#include "ctl.h"
#include "loader.h"
#include "xdpwg_kern_user.h"

enum stats_limits {
	STATS_MAX_REASONS = 256, /* a pinned map from another version may have more or fewer */
};

static const char *stats_pin_root(void)
{
	const char *r = getenv("XDPWG_PIN_ROOT");

	return r && *r ? r : XDPWG_PIN_ROOT;
}

static int stats_name_ok(const char *name)
{
	size_t len = strlen(name);

	return len > 0 && len < 16 && !strchr(name, '/') && strcmp(name, ".") && strcmp(name, "..");
}

/* Sum every reason over CPUs into out (calloc'd, *n entries). 0 or -errno. */
static int stats_read(int fd, uint64_t **out, uint32_t *n)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info), k;
	int ncpu = libbpf_num_possible_cpus(), c;
	uint64_t *vals, *sum;

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	if (info.type != BPF_MAP_TYPE_PERCPU_ARRAY || info.value_size != sizeof(uint64_t) ||
	    info.key_size != sizeof(uint32_t))
		return -EPROTO;
	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	*n = info.max_entries < STATS_MAX_REASONS ? info.max_entries : STATS_MAX_REASONS;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	sum = calloc(*n ? *n : 1, sizeof(*sum));
	if (!vals || !sum) {
		free(vals);
		free(sum);
		return -ENOMEM;
	}
	for (k = 0; k < *n; k++) {
		if (bpf_map_lookup_elem(fd, &k, vals)) {
			int err = -errno;

			free(vals);
			free(sum);
			return err;
		}
		for (c = 0; c < ncpu; c++)
			sum[k] += vals[c];
	}
	free(vals);
	*out = sum;
	return 0;
}

static void stats_name(uint32_t k, char *buf, size_t len)
{
	if (k < XDPWG_STAT_MAX)
		snprintf(buf, len, "%s", loader_stat_name((enum xdpwg_stat)k));
	else
		snprintf(buf, len, "reason_%u", k);
}

/* The daemon's engine counters, when one answers on the socket; NULL (quietly) when no socket. */
static struct conf_dev *stats_engine(const char *iface, bool *failed)
{
	char path[4096];
	struct conf_dev *c = NULL;
	struct stat st;

	*failed = false;
	snprintf(path, sizeof(path), "%s/%s.sock", ctl_socket_dir(), iface);
	if (stat(path, &st) || !S_ISSOCK(st.st_mode))
		return NULL;
	if (ctl_ipc_get(iface, &c)) {
		*failed = true;
		return NULL;
	}
	return c;
}

static void stats_json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static int stats_main(int argc, char **argv)
{
	const char *iface = NULL;
	char path[4096], name[64];
	struct conf_dev *eng = NULL;
	bool json = false, eng_failed = false, xdp = true;
	uint64_t *sum = NULL;
	uint32_t n = 0, k;
	int i, fd, err;
	size_t e;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (!iface)
			iface = argv[i];
		else
			return ctl_usage(argv[0]);
	}
	if (!iface)
		return ctl_usage(argv[0]);
	if (!stats_name_ok(iface)) {
		ctl_err("%s: not an interface name", iface);
		return 1;
	}
	eng = stats_engine(iface, &eng_failed);
	snprintf(path, sizeof(path), "%s/%s/stats", stats_pin_root(), iface);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		err = errno;
		if (err != ENOENT) {
			ctl_err("%s: opening %s: %s", iface, path, strerror(err));
			conf_free(eng);
			return 1;
		}
		xdp = false;
		if (!eng) {
			ctl_err("%s: no XDP data path attached (no pins under %s/%s)%s", iface,
				stats_pin_root(), iface,
				eng_failed ? "" : ", and no daemon on its configuration socket");
			return 1;
		}
	} else {
		err = stats_read(fd, &sum, &n);
		close(fd);
		if (err) {
			ctl_err("%s: reading %s: %s", iface, path,
				err == -EPROTO ? "not an xdpwg stats map" : strerror(-err));
			conf_free(eng);
			return 1;
		}
	}
	if (json) {
		printf("{\n\t\"interface\": ");
		stats_json_str(iface);
		printf(",\n\t\"xdp_attached\": %s,\n\t\"stats\": {", xdp ? "true" : "false");
		for (k = 0; k < n; k++) {
			stats_name(k, name, sizeof(name));
			printf("%s\n\t\t\"%s\": %llu", k ? "," : "", name,
			       (unsigned long long)sum[k]);
		}
		printf("\n\t},\n\t\"engine\": ");
		if (eng) {
			printf("{");
			for (e = 0; e < eng->n_drops; e++) {
				printf("%s\n\t\t", e ? "," : "");
				stats_json_str(eng->drops[e].name);
				printf(": %llu", (unsigned long long)eng->drops[e].value);
			}
			printf("\n\t}\n}\n");
		} else {
			printf("null\n}\n");
		}
	} else {
		for (k = 0; k < n; k++) {
			stats_name(k, name, sizeof(name));
			printf("%-24s %llu\n", name, (unsigned long long)sum[k]);
		}
		for (e = 0; eng && e < eng->n_drops; e++)
			printf("engine.%-17s %llu\n", eng->drops[e].name,
			       (unsigned long long)eng->drops[e].value);
	}
	free(sum);
	conf_free(eng);
	if (!xdp && !json)
		fprintf(stderr, "%s: %s: no XDP data path attached: engine counters only\n",
			ctl_prog, iface);
	if (fflush(stdout)) {
		ctl_err("writing: %m");
		return 1;
	}
	return eng_failed ? 1 : 0;
}

CTL_COMMAND(stats, .name = "stats", .run = stats_main, .usage = "<interface> [--json]",
	    .summary = "Shows the per-reason packet counters of the XDP data path and the engine's "
		       "drops");
