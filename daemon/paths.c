// SPDX-License-Identifier: GPL-2.0
/*
 * A multipath client's uplinks (docs/roaming.md, "Silent path failures"): which interfaces the
 * engine may use as paths to its multipath peers, in order of preference, each with the source
 * address to send from. From --uplinks (XDPWG_UPLINKS) when given, else every interface with an
 * IPv4 or IPv6 default route in the main table, by metric. Only peers whose endpoint was
 * configured use them (a gateway learns where its clients are). Refreshed with the route check
 * after link, address, route and configuration changes (coalesced), before it may announce, so
 * that an uplink going away is left at once and one coming back is probed again; and only
 * while some peer is multipath, since the dumps cost a gateway with big routing tables.
 */
#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "netlink.h"
#include "xdpwgd.h"

enum {
	PATHS_MAX = 4
};

struct paths_cand {
	int ifindex;
	uint32_t metric;
};

struct paths_defaults {
	struct paths_cand c[16];
	size_t n;
};

static void paths_on_default(void *ctx, int oif, uint32_t metric)
{
	struct paths_defaults *d = ctx;

	for (size_t i = 0; i < d->n; i++) {
		if (d->c[i].ifindex == oif) {
			if (metric < d->c[i].metric)
				d->c[i].metric = metric;
			return;
		}
	}
	if (d->n < sizeof(d->c) / sizeof(d->c[0]))
		d->c[d->n++] = (struct paths_cand){ .ifindex = oif, .metric = metric };
}

static int paths_by_metric(const void *a, const void *b)
{
	const struct paths_cand *x = a, *y = b;

	return x->metric < y->metric ? -1 : x->metric > y->metric;
}

/* Up and carrying: a link that is down is no path. */
static bool paths_link_up(const char *name)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool up = false;

	if (fd < 0)
		return false;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (!ioctl(fd, SIOCGIFFLAGS, &ifr))
		up = (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING);
	close(fd);
	return up;
}

static int paths_on_addr(void *ctx, int family, int ifindex, const union nl_addr *addr)
{
	struct wg_uplink *u = ctx;

	(void)ifindex;
	if (family == AF_INET && !u->has4) {
		u->addr4 = addr->v4;
		u->has4 = true;
	} else if (family == AF_INET6 && !u->has6 && !IN6_IS_ADDR_LINKLOCAL(&addr->v6)) {
		u->addr6 = addr->v6;
		u->has6 = true;
	}
	return 0;
}

/* The uplink ifindex/name with its source addresses; false when it cannot carry anything. */
static bool paths_uplink(int ifindex, const char *name, struct wg_uplink *u)
{
	memset(u, 0, sizeof(*u));
	u->ifindex = ifindex;
	snprintf(u->name, sizeof(u->name), "%s", name);
	if (!paths_link_up(name) || nl_dump_addrs(ifindex, paths_on_addr, u) < 0)
		return false;
	return u->has4 || u->has6;
}

void daemon_paths_refresh(struct xdpwgd *d)
{
	struct wg_uplink up[PATHS_MAX];
	size_t n = 0;

	/* the dumps cost a gateway with big routing tables: only for multipath peers */
	if (d->uplinks_off || !wg_device_multipath_peers(d->dev))
		return;
	if (d->n_uplink_names) {
		for (size_t i = 0; i < d->n_uplink_names && n < PATHS_MAX; i++) {
			int ifindex = (int)if_nametoindex(d->uplink_names[i]);

			if (ifindex && paths_uplink(ifindex, d->uplink_names[i], &up[n]))
				n++;
		}
	} else {
		struct paths_defaults defs = { .n = 0 };
		char name[IF_NAMESIZE];

		nl_default_routes(AF_INET, paths_on_default, &defs);
		nl_default_routes(AF_INET6, paths_on_default, &defs);
		qsort(defs.c, defs.n, sizeof(defs.c[0]), paths_by_metric);
		for (size_t i = 0; i < defs.n && n < PATHS_MAX; i++)
			if (if_indextoname((unsigned int)defs.c[i].ifindex, name) &&
			    paths_uplink(defs.c[i].ifindex, name, &up[n]))
				n++;
	}
	wg_device_set_uplinks(d->dev, up, n);
}

int daemon_paths_init(struct xdpwgd *d, const char *uplinks, unsigned int probe_ms)
{
	char *copy, *tok, *save = NULL;

	if (probe_ms && wg_device_set_path_probe(d->dev, probe_ms)) {
		log_err("%s: --path-probe %u: not within %d..%d ms", d->ifname, probe_ms,
			WG_PATH_PROBE_MIN_MS, WG_PATH_PROBE_MAX_MS);
		return -EINVAL;
	}
	if (uplinks && !strcmp(uplinks, "none")) {
		d->uplinks_off = true;
		return 0;
	}
	if (uplinks && *uplinks) {
		copy = strdup(uplinks);
		if (!copy)
			return -ENOMEM;
		for (tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (d->n_uplink_names >= PATHS_MAX || strlen(tok) >= IF_NAMESIZE || !*tok) {
				log_err("%s: --uplinks: \"%s\": at most %d interface names",
					d->ifname, uplinks, PATHS_MAX);
				free(copy);
				return -EINVAL;
			}
			snprintf(d->uplink_names[d->n_uplink_names++], IF_NAMESIZE, "%s", tok);
		}
		free(copy);
	}
	daemon_paths_refresh(d);
	return 0;
}
