/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xdpwgd: the control thread's loop (one epoll set over the configuration socket, the engine's
 * handshake queue, a timerfd for the engine's timers, a signalfd, rtnetlink and the events
 * socket) and the data path it starts: AF_XDP workers on the attached uplinks (io/io_xdp.h),
 * and the kernel UDP sockets and TUN queue 0 read on this thread (io/sock_path.h). The files
 * behind it are listed in xdpwgd.h.
 */
#ifndef XDPWG_DAEMON_H
#define XDPWG_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "endpoint.h"

enum daemon_constants {
	DAEMON_MAX_EVENTS = 32,
	DAEMON_HANDSHAKE_BUDGET = 64, /* handshake messages per wg_device_process_handshakes */
	DAEMON_HANDSHAKE_ROUNDS = 4,  /* ... calls per wakeup, so data is not starved */
	DAEMON_TICK_MAX_MS = 1000,
};

struct daemon_opts {
	const char *ifname;
	unsigned int mtu; /* 0: TUN_DEFAULT_MTU */
	/* The XDP back-end's uplinks (--attach / XDPWG_ATTACH), validated by main; none: the
	 * socket data path only. xdp_mode is an enum loader_mode (0: native, else generic with a
	 * warning). */
	const char *const *attach;
	unsigned int n_attach;
	int xdp_mode;
	/* --busy-poll: the AF_XDP workers spin instead of sleeping (main refuses it without
	 * attach) */
	bool busy_poll;
	/* --worker-cpus: the CPUs the AF_XDP workers are pinned to, in order (validated by main);
	 * none: worker i on CPU i % online */
	const int *worker_cpus;
	unsigned int n_worker_cpus;
	const int *queues; /* --queues: the RX queues to open AF_XDP sockets on; n 0: all */
	unsigned int n_queues;
	/* --metrics ADDR:PORT: serve GET /metrics there (daemon/metrics_http.c); NULL: not */
	const struct wg_endpoint *metrics;
	/* --uplinks LIST (validated by main) / "none"; NULL: every interface with a default route.
	 * --path-probe MS; 0: the default (daemon/paths.c) */
	const char *uplinks;
	unsigned int path_probe_ms;
	/* --cluster-table N (validated by main): the kernel table for the routes of the sessions
	 * held here (daemon/cluster_routes.c); 0: none */
	uint32_t cluster_table;
	/* --gateway-id, --cluster-gateway (daemon/cluster_opts.h); NULL or id 0: no cluster */
	const struct cluster_fwd_opts *cluster_fwd;
	/* --cluster NAME --etcd URLS (daemon/cluster.h); NULL or no name: not in a cluster */
	const struct cluster_opts *cluster;
};

struct cluster_fwd_opts;
struct cluster_opts;
struct xdpwgd;

/*
 * Everything up to readiness: the configuration socket (refusing to start when another daemon
 * answers on it), the TUN, the engine and its UDP sockets on a random port. SIGTERM, SIGINT and
 * SIGHUP must already be blocked (they are read through a signalfd). 0 or -errno, logged.
 */
int daemon_new(const struct daemon_opts *o, struct xdpwgd **out);
/* Run until SIGTERM/SIGINT, the TUN's deletion or the socket file's removal. 0 or -errno. */
int daemon_run(struct xdpwgd *d);
/* Remove the socket, wipe the keys, delete the TUN, free everything. */
void daemon_free(struct xdpwgd *d);

#endif
