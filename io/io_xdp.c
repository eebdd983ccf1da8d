// SPDX-License-Identifier: GPL-2.0
/*
 * The AF_XDP back-end (see io_xdp.h for the picture): set-up and tear-down, and what the control
 * thread asks of the workers. The workers themselves are xdp_worker.c, the maps xdp_maps.c.
 */
#include <errno.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crypto.h"
#include "log.h"
#include "netlink.h"
#include "peer_sync.h"
#include "xdp_internal.h"

unsigned int io_xdp_workers(const struct io_xdp *x)
{
	return x->n_workers;
}

int io_xdp_worker_info(const struct io_xdp *x, unsigned int i, struct io_xdp_worker_info *out)
{
	const struct io_xdp_worker *w;
	struct xsk_port_depths d;

	if (i >= x->n_workers)
		return -ENOENT;
	w = x->workers[i];
	memset(out, 0, sizeof(*out));
	out->ifindex = w->ifindex;
	out->queue = w->queue;
	out->cpu = w->cpu;
	out->tun_queue = w->tunq;
	out->zerocopy = xsk_port_zerocopy(w->port);
	out->busy_poll = x->busy_poll;
	out->rx_frames = atomic_load(&w->rx_frames);
	out->rx_bad = atomic_load(&w->rx_bad);
	out->tx_frames = atomic_load(&w->tx_frames);
	out->tx_fallback = atomic_load(&w->tx_fallback);
	out->tun_packets = atomic_load(&w->tun_packets);
	xsk_port_depths(w->port, &d);
	out->rx_ring = d.rx;
	out->fill_ring = d.fill;
	out->tx_ring = d.tx;
	out->tx_inflight = d.tx_inflight;
	return 0;
}

void io_xdp_routes_changed(struct io_xdp *x)
{
	nexthop_cache_clear(&x->hops);
}

/* --- set-up and tear-down --- */

/* RX queues of an interface: the driver's channel count (ethtool), else what sysfs lists. */
static unsigned int io_xdp_rx_queues(const char *ifname)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr = { 0 };
	unsigned int n = 0;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd >= 0) {
		snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
		ifr.ifr_data = (void *)&ch;
		if (ioctl(fd, SIOCETHTOOL, &ifr) == 0)
			n = ch.combined_count > ch.rx_count ? ch.combined_count : ch.rx_count;
		close(fd);
	}
	if (!n) {
		char path[64 + IF_NAMESIZE];

		for (n = 0; n < XDPWG_MAX_QUEUES; n++) {
			snprintf(path, sizeof(path), "/sys/class/net/%s/queues/rx-%u", ifname, n);
			if (access(path, F_OK))
				break;
		}
	}
	return n ? n : 1;
}

void io_xdp_stop(struct io_xdp *x)
{
	uint64_t one = 1;

	if (!x)
		return;
	atomic_store(&x->stop, true);
	if (x->stop_fd >= 0 && write(x->stop_fd, &one, sizeof(one)) < 0)
		log_debug("xdp: waking workers: %s", strerror(errno));
	for (unsigned int i = 0; i < x->n_workers; i++) {
		struct io_xdp_worker *w = x->workers[i];

		if (w->started)
			pthread_join(w->thread, NULL);
		xsk_port_close(w->port);
		/* the last plaintext packet read from the TUN, as the daemon does with its own */
		crypto_wipe(w->tunbuf, sizeof(w->tunbuf));
		crypto_wipe(w->tungro.buf, sizeof(w->tungro.buf));
		wg_path_free(w->path);
		free(w);
	}
	io_xdp_maps_free(x);
	loader_destroy(x->ld);
	if (x->stop_fd >= 0)
		close(x->stop_fd);
	nexthop_cache_destroy(&x->hops);
	free(x);
}

static bool io_xdp_queue_wanted(const struct io_xdp_opts *o, unsigned int q)
{
	if (!o->n_queues)
		return true;
	for (unsigned int i = 0; i < o->n_queues; i++)
		if ((unsigned int)o->queues[i] == q)
			return true;
	return false;
}

static int io_xdp_add_workers(struct io_xdp *x, const struct io_xdp_opts *o, const char *ifname,
			      int ifindex, unsigned int ncpu)
{
	unsigned int nq = io_xdp_rx_queues(ifname), opened = 0;

	for (unsigned int q = 0; q < nq; q++) {
		struct xsk_port_opts po = { 0 };
		struct io_xdp_worker *w;
		int key, ret;

		if (!io_xdp_queue_wanted(o, q))
			continue;
		if (x->n_workers == IO_XDP_MAX_WORKERS) {
			log_warn("xdp: %s: queues beyond %u stay on the kernel socket", ifname,
				 IO_XDP_MAX_WORKERS);
			return 0;
		}
		key = loader_xsk_key(x->ld, ifindex, q);
		if (key < 0)
			return key;
		w = calloc(1, sizeof(*w));
		if (!w)
			return -ENOMEM;
		w->path = wg_path_new(x->dev, &io_xdp_path_ops, w);
		if (!w->path) {
			free(w);
			return -ENOMEM;
		}
		w->x = x;
		w->ifindex = ifindex;
		w->has_mac = nl_link_mac(ifindex, w->mac) == 0;
		if (!w->has_mac)
			log_warn("xdp: %s: no MAC address: replies copy the received frames'",
				 ifname);
		w->queue = q;
		w->cpu = x->n_cpus ? x->cpus[x->n_workers % x->n_cpus] : (int)(x->n_workers % ncpu);
		po.ifname = ifname;
		po.queue = q;
		po.xsks_map_fd = loader_xsks_fd(x->ld);
		po.map_key = (uint32_t)key;
		po.meta_inline = loader_meta_inline(x->ld);
		ret = xsk_port_open(&po, &w->port);
		if (ret == -EBUSY && !o->n_queues) {
			/* one AF_XDP socket per queue: another tunnel on this uplink has it */
			log_info("xdp: %s queue %u is another AF_XDP socket's (another tunnel's?): "
				 "our datagrams arriving there take the kernel socket",
				 ifname, q);
			wg_path_free(w->path);
			free(w);
			continue;
		}
		if (ret < 0) {
			log_err("xdp: %s queue %u: AF_XDP socket: %s", ifname, q, strerror(-ret));
			wg_path_free(w->path);
			free(w);
			return ret;
		}
		opened++;
		log_info("xdp: %s queue %u: AF_XDP socket in %s mode", ifname, q,
			 xsk_port_zerocopy(w->port) ? "zero-copy" : "copy");
		x->workers[x->n_workers++] = w;
	}
	for (unsigned int i = 0; i < o->n_queues; i++)
		if ((unsigned int)o->queues[i] >= nq)
			log_warn("xdp: %s has no RX queue %d (it has %u)", ifname, o->queues[i],
				 nq);
	if (!opened) {
		log_err("xdp: %s: no RX queue left for an AF_XDP socket of ours (other tunnels "
			"hold "
			"them all): give each tunnel its own queues (--queues) and steer its port "
			"there, or run this one without --attach",
			ifname);
		return -EBUSY;
	}
	return 0;
}

int io_xdp_start(const struct io_xdp_opts *o, struct io_xdp **out)
{
	/* The peers and sessions maps are not preallocated: size them for the engine's own limit
	 * (DEVICE_MAX_PEERS, 2^20) rather than the BPF defaults (65536 peers), so 100,000 peers
	 * fit; an entry costs memory only once it exists. */
	struct loader_opts lo = { .tun_name = o->tun_name,
				  .ifaces = o->ifaces,
				  .n_ifaces = o->n_ifaces,
				  .mode = o->mode,
				  .max_peers = IO_XDP_MAX_PEERS,
				  .max_sessions = 3 * IO_XDP_MAX_PEERS };
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct io_xdp *x;
	int ret;

	*out = NULL;
	if (!o->n_ifaces || o->n_ifaces > IO_XDP_MAX_IFACES)
		return -EINVAL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->dev = o->dev;
	x->tun = o->tun;
	x->sock = o->sock;
	x->busy_poll = o->busy_poll;
	x->n_cpus = o->n_cpus < IO_XDP_MAX_WORKERS ? o->n_cpus : IO_XDP_MAX_WORKERS;
	if (x->n_cpus)
		memcpy(x->cpus, o->cpus, x->n_cpus * sizeof(x->cpus[0]));
	x->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	nexthop_cache_init(&x->hops);
	if (x->stop_fd < 0) {
		ret = -errno;
		goto err;
	}
	ret = loader_create(&lo, &x->ld);
	if (ret < 0) {
		log_err("xdp: loading the XDP program: %s", strerror(-ret));
		x->ld = NULL;
		goto err;
	}
	x->capture = loader_capture_ctl(x->ld);
	ret = io_xdp_set_port(x, o->listen_port);
	if (ret < 0)
		goto err;
	ret = io_xdp_maps_init(x);
	if (ret < 0)
		goto err;
	for (unsigned int i = 0; i < o->n_ifaces; i++) {
		ret = loader_attach(x->ld, o->ifaces[i], o->mode);
		if (ret < 0) {
			log_err("xdp: attaching to %s: %s", o->ifaces[i], strerror(-ret));
			goto err;
		}
		x->ifindex[x->n_ifaces++] = ret;
		log_info("xdp: attached to %s in %s mode", o->ifaces[i],
			 loader_attach_mode(x->ld, ret) == LOADER_MODE_NATIVE ? "native"
									      : "generic");
		ret = io_xdp_add_workers(x, o, o->ifaces[i], x->ifindex[i], ncpu > 0 ? ncpu : 1);
		if (ret < 0)
			goto err;
	}
	/* one TUN queue per worker: the kernel spreads outgoing flows over the queues */
	while (x->tun->n_queues < x->n_workers) {
		ret = tun_add_queue(x->tun);
		if (ret < 0) {
			log_err("xdp: adding a TUN queue: %s", strerror(-ret));
			goto err;
		}
	}
	/* TSO from the TUN: the kernel's TCP hands us 64 KB at a time; we cut and encrypt */
	/* XDPWG_NO_TUN_OFFLOAD=1: off, for measuring what the lever buys */
	if (!o->no_tun_offload && !getenv("XDPWG_NO_TUN_OFFLOAD")) {
		ret = tun_enable_offload(x->tun);
		if (ret < 0)
			log_warn("xdp: TUN offloads unavailable (%s): one packet per read",
				 strerror(-ret));
	}
	for (unsigned int i = 0; i < x->n_workers; i++) {
		struct io_xdp_worker *w = x->workers[i];
		char name[16];

		w->tunq = i % x->tun->n_queues;
		/* XDPWG_NO_TUN_GRO=1: one write per packet, for measuring what joining buys */
		w->gro = x->tun->vnet_hdr && !getenv("XDPWG_NO_TUN_GRO");
		ret = -pthread_create(&w->thread, NULL, io_xdp_worker_main, w);
		if (ret < 0)
			goto err;
		w->started = true;
		/* named, so that top -H and the benchmark can tell the crypto workers' CPU apart */
		snprintf(name, sizeof(name), "xdpwg-wk%u", (unsigned int)(uint8_t)i); /* i < 16 */
		pthread_setname_np(w->thread, name);
	}
	if (x->busy_poll) {
		cpu_set_t busy;
		unsigned int cores;

		CPU_ZERO(&busy);
		for (unsigned int i = 0; i < x->n_workers; i++)
			CPU_SET(x->workers[i]->cpu, &busy);
		cores = (unsigned int)CPU_COUNT(&busy);
		log_info("xdp: workers busy-poll: %u core%s kept busy (%u workers)", cores,
			 cores == 1 ? "" : "s", x->n_workers);
		/* nothing is left for the control thread, handshakes and the kernel's softirqs
		 * but what the scheduler takes from the spinning workers */
		if (ncpu > 0 && cores >= (unsigned int)ncpu)
			log_warn("xdp: busy-poll workers spin on every online CPU (%ld)", ncpu);
	}
	*out = x;
	return 0;
err:
	io_xdp_stop(x);
	return ret;
}
