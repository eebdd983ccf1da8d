// SPDX-License-Identifier: GPL-2.0
/*
 * The control thread's housekeeping on each tick: the TUN's MTU (wg-quick changes it after
 * start), a TUN deleted under the workers, the under-load flag into the XDP program, drop bursts
 * into the log, the engine's tx counters into the peers map; and the per-worker figures the
 * events socket serves (xdpwgctl metrics, top).
 */
#include <errno.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>

#include "cluster_routes.h"
#include "droplog.h"
#include "log.h"
#include "xdpwgd.h"

/* The engine pads packets up to the TUN's MTU, which wg-quick changes after start. Polled with
 * the timers (one ioctl a second) rather than followed through rtnetlink: a late update costs
 * at most some padding for a second. */
void daemon_sync_mtu(struct xdpwgd *d)
{
	int mtu = tun_get_mtu(d->ifname);

	if (mtu <= 0 || mtu == d->mtu)
		return;
	if (d->mtu)
		log_info("%s: MTU %d", d->ifname, mtu);
	d->mtu = mtu;
	wg_device_set_mtu(d->dev, (unsigned int)mtu);
}

/* With XDP the workers read every TUN queue, so no failing read tells the control loop that
 * the TUN was deleted: ask its queue 0 on each tick (TUNGETIFF fails with EBADFD then). */
static bool daemon_tun_gone(const struct xdpwgd *d)
{
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	return ioctl(d->tun.fds[0], TUNGETIFF, &ifr) < 0 && errno == EBADFD;
}

/* workers=1 on the events socket (xdpwgctl metrics, top) */
static int daemon_worker_info(void *ctx, unsigned int i, struct io_xdp_worker_info *out)
{
	struct xdpwgd *d = ctx;

	return d->xdp ? io_xdp_worker_info(d->xdp, i, out) : -ENOENT;
}

/* One sample of the drop counters for the burst log (paced by droplog itself). */
static void daemon_observe_drops(struct xdpwgd *d, uint64_t now)
{
	uint64_t xdp_stats[XDPWG_STAT_MAX];
	bool have_stats = d->xdp && io_xdp_stats(d->xdp, xdp_stats) == 0;

	droplog_tick(d->droplog, d->dev, have_stats ? xdp_stats : NULL, d->src_not_allowed, now);
}

/* What this costs is one failure message: the data path does not depend on it. */
void daemon_observe_init(struct xdpwgd *d)
{
	if (d->events && d->xdp)
		events_set_workers(d->events, daemon_worker_info, d);
	d->droplog = droplog_new(d->ifname, NULL, NULL);
	if (!d->droplog) {
		log_warn("%s: out of memory: no drop-burst log", d->ifname);
		return;
	}
	/* the first sample now, not at the first tick a second later: droplog takes a reason's
	 * first total for where it starts, so a burst in between would go unlogged */
	daemon_observe_drops(d, wg_monotonic_ns());
}

void daemon_observe_free(struct xdpwgd *d)
{
	droplog_free(d->droplog);
	d->droplog = NULL;
}

/* Every tick; what is paced (drop bursts, the peers map's tx counters) keeps its own pace of
 * once a second at most: a tick can come much sooner. */
bool daemon_observe_tick(struct xdpwgd *d)
{
	uint64_t now = wg_monotonic_ns();

	if (d->xdp && daemon_tun_gone(d)) {
		log_info("%s: interface gone, shutting down", d->ifname);
		return false;
	}
	daemon_sync_mtu(d);
	/* endpoints moved since the last tick: record their routes (at most once a second) */
	if (atomic_load_explicit(&d->routes_stale, memory_order_relaxed))
		daemon_arm_route_timer(d);
	if (d->xdp)
		io_xdp_set_under_load(d->xdp, wg_device_under_load(d->dev));
	daemon_observe_drops(d, now);
	if (d->xdp)
		io_xdp_tick(d->xdp, now);
	cluster_routes_tick(d->croutes, now);
	return true;
}
