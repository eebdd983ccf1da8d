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

#include <sys/stat.h>

#include "ctl.h"
#include "observe.h"

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
	int i, err;
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
	if (!obs_name_ok(iface)) {
		ctl_err("%s: not an interface name", iface);
		return 1;
	}
	eng = stats_engine(iface, &eng_failed);
	if (obs_pin_path(path, sizeof(path), iface, "stats")) {
		ctl_err("%s: pin path too long", iface);
		conf_free(eng);
		return 1;
	}
	err = obs_stats_read(iface, &sum, &n);
	if (err == -ENOENT) {
		xdp = false;
		if (!eng) {
			ctl_err("%s: no XDP data path attached (no pins under %s/%s)%s", iface,
				obs_pin_root(), iface,
				eng_failed ? "" : ", and no daemon on its configuration socket");
			return 1;
		}
	} else if (err) {
		ctl_err("%s: reading %s: %s", iface, path,
			err == -EPROTO ? "not an xdpwg stats map" : strerror(-err));
		conf_free(eng);
		return 1;
	}
	if (json) {
		printf("{\n\t\"interface\": ");
		stats_json_str(iface);
		printf(",\n\t\"xdp_attached\": %s,\n\t\"stats\": {", xdp ? "true" : "false");
		for (k = 0; k < n; k++) {
			obs_stat_name(k, name, sizeof(name));
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
			obs_stat_name(k, name, sizeof(name));
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
