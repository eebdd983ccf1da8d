// SPDX-License-Identifier: GPL-2.0
/*
 * The configuration socket's handlers (uapi.h): set applies a request all or nothing across the
 * daemon's own settings (the source allowlist), the XDP program and the engine; get is the
 * engine's snapshot plus the daemon's extensions.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_routes.h"
#include "cluster.h"
#include "log.h"
#include "uapi.h"
#include "xdpwgd.h"

/* Whether a set request gives some peer an endpoint. */
static bool daemon_req_sets_endpoint(const struct conf_dev *req)
{
	for (size_t i = 0; i < req->n_peers; i++)
		if (req->peers[i].flags & CONF_PEER_HAS_ENDPOINT)
			return true;
	return false;
}

/*
 * All or nothing: the allowlist is checked and built first, written into the XDP program (which
 * validates it too), then the engine applies the rest; if the engine refuses, the program gets
 * the old list back and nothing has changed.
 */
static int daemon_uapi_set(void *ctx, const struct conf_dev *req, char *err, size_t errlen)
{
	struct xdpwgd *d = ctx;
	bool allow = req->flags & CONF_DEV_HAS_ALLOW_SOURCE;
	struct conf_allowedip *list = NULL;
	struct allowedips *trie = NULL;
	size_t n = 0;
	int ret;

	if (allow) {
		ret = daemon_allow_src_merge(d, req, &list, &n, err, errlen);
		if (ret == 0 && (ret = daemon_allow_src_trie(d, list, n, &trie)) < 0)
			snprintf(err, errlen, "allow_source: %s", strerror(-ret));
		if (ret == 0 && d->xdp && (ret = io_xdp_set_allow_source(d->xdp, list, n)) < 0)
			snprintf(err, errlen, "allow_source: the XDP program refused it: %s",
				 strerror(-ret));
		if (ret < 0) {
			free(list);
			allowedips_free(trie);
			return ret;
		}
	}
	ret = wg_device_apply(d->dev, req, err, errlen);
	if (allow) {
		if (ret < 0) {
			if (d->xdp &&
			    io_xdp_set_allow_source(d->xdp, d->allow_src, d->n_allow_src) < 0)
				log_err("%s: cannot restore the XDP source allowlist", d->ifname);
			free(list);
			allowedips_free(trie);
		} else {
			free(d->allow_src);
			allowedips_free(d->allow_trie);
			d->allow_src = list;
			d->n_allow_src = n;
			d->allow_trie = trie;
			if (n)
				log_info("%s: source allowlist: %zu CIDR%s", d->ifname, n,
					 n == 1 ? "" : "s");
			else
				log_info("%s: source allowlist cleared: any source", d->ifname);
		}
	}
	if (ret == 0 && d->xdp && (req->flags & CONF_DEV_HAS_PRIVATE_KEY))
		io_xdp_set_private_key(d->xdp, req->private_key);
	/* new or changed endpoints: record their routes now, so the next change is seen; at
	 * once when the request set one: armed on the timer, a change inside its hold-off (an
	 * uplink taken down right after `wg set ... endpoint`) would be compared with the peer's
	 * old endpoint, taken for the new one's first route, and announce nothing */
	if (ret == 0 && daemon_req_sets_endpoint(req))
		daemon_check_routes(d);
	else if (ret == 0)
		daemon_arm_route_timer(d);
	/* changed allowed IPs of the sessions held here: their routes follow */
	if (ret == 0)
		cluster_routes_applied(d->croutes, req);
	/* peers from etcd removed by a local request come back (cluster.h) */
	if (ret == 0)
		cluster_on_local_set(d, req);
	return ret;
}

/* The daemon's extensions to a snapshot: the allowlist and the drop counters. */
static int daemon_uapi_extend(struct xdpwgd *d, struct conf_dev *c)
{
	uint64_t drops[WG_DROP_REASON_MAX];

	for (size_t i = 0; i < d->n_allow_src; i++) {
		if (conf_dev_add_allow_src(c, &d->allow_src[i]) < 0)
			return -ENOMEM;
	}
	wg_device_drop_counts(d->dev, drops);
	for (int r = WG_DROP_NONE + 1; r < WG_DROP_REASON_MAX; r++) {
		if (conf_dev_add_drop(c, wg_drop_reason_name((enum wg_drop_reason)r), drops[r]) ==
		    -ENOMEM)
			return -ENOMEM;
	}
	if (conf_dev_add_drop(c, "source_not_allowed", d->src_not_allowed) == -ENOMEM)
		return -ENOMEM;
	return 0;
}

/* The engine's snapshot plus the daemon's extensions. */
static struct conf_dev *daemon_uapi_get(void *ctx)
{
	struct xdpwgd *d = ctx;
	struct conf_dev *c = wg_device_snapshot(d->dev);

	if (!c)
		return NULL;
	if (daemon_uapi_extend(d, c) < 0) {
		conf_free(c);
		return NULL;
	}
	return c;
}

/* The same, streamed (daemon/uapi.c): the engine's dump in pieces of DAEMON_GET_PIECE peers,
 * the extensions with the first. */
struct daemon_get {
	struct wg_dump *dump;
	bool extended;
};

static void *daemon_uapi_get_begin(void *ctx)
{
	struct xdpwgd *d = ctx;
	struct daemon_get *g = calloc(1, sizeof(*g));

	if (!g)
		return NULL;
	g->dump = wg_device_dump_begin(d->dev);
	if (!g->dump) {
		free(g);
		return NULL;
	}
	return g;
}

static struct conf_dev *daemon_uapi_get_next(void *ctx, void *cur, int *err)
{
	struct daemon_get *g = cur;
	struct conf_dev *c = wg_device_dump_next(g->dump, DAEMON_GET_PIECE, err);

	if (c && !g->extended) {
		g->extended = true;
		*err = daemon_uapi_extend(ctx, c);
		if (*err) {
			conf_free(c);
			return NULL;
		}
	}
	return c;
}

static void daemon_uapi_get_end(void *ctx, void *cur)
{
	struct daemon_get *g = cur;

	(void)ctx;
	wg_device_dump_end(g->dump);
	free(g);
}

const struct uapi_handler daemon_uapi_handler = {
	.set = daemon_uapi_set,
	.get = daemon_uapi_get,
	.get_begin = daemon_uapi_get_begin,
	.get_next = daemon_uapi_get_next,
	.get_end = daemon_uapi_get_end,
};
