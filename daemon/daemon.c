// SPDX-License-Identifier: GPL-2.0
/*
 * The control loop. Every state change happens here, on one thread: configuration requests,
 * handshakes, timers, rebinding. Level-triggered epoll with a budget per source, so a flood on
 * one socket cannot starve the configuration socket or the timers. This file sets the daemon up,
 * tears it down and says which source wakes what; each concern it dispatches to has its own
 * file (xdpwgd.h).
 */
#include <bpf/libbpf.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "cluster_routes.h"
#include "cluster_opts.h"
#include "cluster.h"
#include "crypto.h"
#include "log.h"
#include "metrics_http.h"
#include "pins.h"
#include "sock_path.h"
#include "uapi.h"
#include "xdpwgd.h"

int daemon_watch(struct xdpwgd *d, int fd, enum daemon_source src)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = src };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

void daemon_arm_timer(struct xdpwgd *d, int ms)
{
	struct itimerspec its = { 0 };

	if (ms < 1)
		ms = 1;
	if (ms > DAEMON_TICK_MAX_MS)
		ms = DAEMON_TICK_MAX_MS;
	its.it_value.tv_sec = ms / 1000;
	its.it_value.tv_nsec = (long)(ms % 1000) * 1000000L;
	if (timerfd_settime(d->timerfd, 0, &its, NULL) < 0)
		log_err("timerfd_settime: %s", strerror(errno));
}

static void daemon_on_timer(struct xdpwgd *d)
{
	uint64_t expirations;

	if (read(d->timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_debug("timerfd read: %s", strerror(errno));
	if (!daemon_observe_tick(d)) {
		d->stop = true;
		return;
	}
	daemon_arm_timer(d, wg_device_tick(d->dev));
}

static void daemon_on_signal(struct xdpwgd *d)
{
	struct signalfd_siginfo si;

	while (read(d->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP)
			continue; /* no configuration file to reload */
		log_info("%s: %s, shutting down", d->ifname, strsignal((int)si.ssi_signo));
		d->stop = true;
	}
}

static void daemon_on_tun(struct xdpwgd *d)
{
	int ret = io_sockpath_on_tun(d->sockpath);

	if (ret < 0) {
		/* EBADFD: the interface was deleted (wg-quick down): like wireguard-go, the daemon
		 * goes with it. */
		log_info("%s: interface gone (%s), shutting down", d->ifname, strerror(-ret));
		d->stop = true;
	}
}

static void daemon_on_handshake(struct xdpwgd *d)
{
	for (int i = 0; i < DAEMON_HANDSHAKE_ROUNDS; ++i) {
		if (wg_device_process_handshakes(d->dev, DAEMON_HANDSHAKE_BUDGET) <
		    DAEMON_HANDSHAKE_BUDGET)
			break;
	}
	/* the sessions these handshakes made held here: their routes */
	cluster_routes_flush(d->croutes);
}

int daemon_run(struct xdpwgd *d)
{
	struct epoll_event evs[DAEMON_MAX_EVENTS];

	daemon_arm_timer(d, wg_device_tick(d->dev));
	while (!d->stop) {
		int n = epoll_wait(d->epfd, evs, DAEMON_MAX_EVENTS, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("epoll_wait: %s", strerror(errno));
			return -errno;
		}
		for (int i = 0; i < n && !d->stop; ++i) {
			switch ((enum daemon_source)evs[i].data.u64) {
			case DAEMON_EV_SIGNAL:
				daemon_on_signal(d);
				break;
			case DAEMON_EV_TIMER:
				daemon_on_timer(d);
				break;
			case DAEMON_EV_HANDSHAKE:
				daemon_on_handshake(d);
				break;
			case DAEMON_EV_UAPI:
				if (uapi_server_poll(d->uapi) == -ENOENT) {
					log_info("%s: configuration socket removed, shutting down",
						 d->ifname);
					d->stop = true;
				}
				break;
			case DAEMON_EV_TUN:
				daemon_on_tun(d);
				break;
			case DAEMON_EV_UDP4:
				io_sockpath_on_udp(d->sockpath, d->sock.fd4);
				break;
			case DAEMON_EV_UDP6:
				io_sockpath_on_udp(d->sockpath, d->sock.fd6);
				break;
			case DAEMON_EV_EVENTS:
				events_poll(d->events);
				break;
			case DAEMON_EV_MOVES:
				daemon_on_moves(d);
				break;
			case DAEMON_EV_NETLINK:
				daemon_on_netlink(d);
				break;
			case DAEMON_EV_ROUTE_TIMER:
				daemon_on_route_timer(d);
				break;
			case DAEMON_EV_RINGBUF:
				ring_buffer__consume(d->rb);
				break;
			case DAEMON_EV_METRICS:
				metrics_http_poll(d->metrics, d);
				break;
			case DAEMON_EV_CLUSTER:
				cluster_on_event(d);
				break;
			}
		}
		/* what this round encrypted or checked here (keepalives, staged packets, the
		 * socket back-end) leaves no key in the control thread's cipher contexts */
		wg_path_batch_end(wg_device_path(d->dev));
	}
	return d->exit_err;
}

/* Bind the engine to a random port now, through the engine so that it knows the port (`wg show`
 * prints it, as wireguard-go does) until the configuration sets one. */
static int daemon_initial_bind(struct xdpwgd *d)
{
	char err[256] = "";
	struct conf_dev *req = conf_new();
	int ret;

	if (!req)
		return -ENOMEM;
	req->flags = CONF_DEV_HAS_LISTEN_PORT;
	req->listen_port = 0;
	ret = wg_device_apply(d->dev, req, err, sizeof(err));
	conf_free(req);
	if (ret < 0)
		log_err("%s: cannot bind: %s", d->ifname, err[0] ? err : strerror(-ret));
	return ret;
}

int daemon_new(const struct daemon_opts *o, struct xdpwgd **out)
{
	struct wg_device_opts dopts = { 0 };
	struct xdpwgd *d;
	sigset_t mask;
	int ret;

	*out = NULL;
	if (!ifname_valid(o->ifname)) {
		log_err("invalid interface name '%s'", o->ifname);
		return -EINVAL;
	}
	if (crypto_init() < 0) {
		log_err("cannot initialise the crypto libraries");
		return -ENOTSUP;
	}
	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	strncpy(d->ifname, o->ifname, IFNAMSIZ - 1);
	d->epfd = d->sigfd = d->timerfd = d->routefd = -1;
	io_socket_init(&d->sock);
	for (unsigned int i = 0; i < TUN_MAX_QUEUES; ++i)
		d->tun.fds[i] = -1;

	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (d->epfd < 0)
		goto err_errno;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	d->sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	d->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->sigfd < 0 || d->timerfd < 0)
		goto err_errno;

	/* The socket first: if another daemon answers on it, it may own the TUN as well, and
	 * attaching a queue to its multi-queue TUN would steal its packets. */
	d->uapi = uapi_server_new(d->ifname, &daemon_uapi_handler, d, &ret);
	if (!d->uapi)
		goto err;
	ret = tun_open(&d->tun, d->ifname, o->mtu ? o->mtu : TUN_DEFAULT_MTU);
	if (ret < 0)
		goto err;

	dopts.ops = &daemon_io_ops;
	dopts.io_ctx = d;
	dopts.name = d->ifname;
	d->dev = wg_device_new(&dopts);
	if (!d->dev) {
		log_err("%s: cannot create the device", d->ifname);
		ret = -ENOMEM;
		goto err;
	}
	daemon_sync_mtu(d);
	if (o->cluster_table) {
		d->croutes =
			cluster_routes_new(d->dev, d->ifname, o->cluster_table, d->tun.ifindex);
		if (!d->croutes) {
			ret = -EINVAL;
			goto err;
		}
	}
	ret = daemon_initial_bind(d);
	if (ret < 0)
		goto err;
	{
		const struct io_sockpath_opts so = { .dev = d->dev,
						     .sock = &d->sock,
						     .tun = &d->tun,
						     .allowed = daemon_source_allowed,
						     .allowed_ctx = d };

		d->sockpath = io_sockpath_new(&so);
		if (!d->sockpath) {
			ret = -ENOMEM;
			goto err;
		}
	}
	if (o->n_attach) {
		struct io_xdp_opts xo = {
			.tun_name = d->ifname,
			.ifaces = o->attach,
			.n_ifaces = o->n_attach,
			.mode = (enum loader_mode)o->xdp_mode,
			.dev = d->dev,
			.tun = &d->tun,
			.sock = &d->sock,
			.listen_port = d->sock.port,
			.busy_poll = o->busy_poll,
			.cpus = o->worker_cpus,
			.n_cpus = o->n_worker_cpus,
			.queues = o->queues,
			.n_queues = o->n_queues,
		};

		ret = io_xdp_start(&xo, &d->xdp);
		if (ret < 0)
			goto err;
	}
	/* a cluster's index owner and forwarding: before any peer is configured */
	ret = daemon_cluster_start(d, o->cluster_fwd);
	if (ret < 0)
		goto err;

	/* TSO from the TUN and GRO into it in socket mode too (io_xdp does its own) */
	if (!d->xdp && !getenv("XDPWG_NO_TUN_OFFLOAD") && (ret = tun_enable_offload(&d->tun)) < 0)
		log_warn("%s: TUN offloads unavailable (%s)", d->ifname, strerror(-ret));
	if ((ret = daemon_watch(d, d->sigfd, DAEMON_EV_SIGNAL)) < 0 ||
	    (ret = daemon_watch(d, d->timerfd, DAEMON_EV_TIMER)) < 0 ||
	    (ret = daemon_watch(d, wg_device_handshake_fd(d->dev), DAEMON_EV_HANDSHAKE)) < 0 ||
	    (ret = daemon_watch(d, uapi_server_fd(d->uapi), DAEMON_EV_UAPI)) < 0)
		goto err;
	/* with XDP the workers read every TUN queue, queue 0 included */
	if (!d->xdp && (ret = daemon_watch(d, d->tun.fds[0], DAEMON_EV_TUN)) < 0)
		goto err;
	daemon_roam_init(d);
	/* the same: after the monitor is open */
	if ((ret = daemon_paths_init(d, o->uplinks, o->path_probe_ms)) < 0)
		goto err;
	/* after the monitor is open, so that no address change falls in between */
	if (d->xdp)
		io_xdp_local_addrs_refresh(d->xdp);
	daemon_observe_init(d);
	if (o->metrics) {
		d->metrics = metrics_http_new(o->metrics, &ret);
		if (!d->metrics ||
		    (ret = daemon_watch(d, metrics_http_fd(d->metrics), DAEMON_EV_METRICS)) < 0)
			goto err;
	}
	/* last: the peers it applies find the device complete */
	if (o->cluster && (ret = cluster_start(d, o->cluster)) < 0)
		goto err;
	log_info("%s: up (TUN ifindex %d, MTU %u, UDP port %u)", d->ifname, d->tun.ifindex,
		 o->mtu ? o->mtu : TUN_DEFAULT_MTU, d->sock.port);
	*out = d;
	return 0;

err_errno:
	ret = -errno;
err:
	daemon_free(d);
	return ret;
}

void daemon_free(struct xdpwgd *d)
{
	if (!d)
		return;
	/* The socket and the cluster go first, so nobody configures a device that is being torn
	 * down. */
	cluster_free(d->cluster);
	d->cluster = NULL;
	uapi_server_free(d->uapi);
	metrics_http_free(d->metrics);
	/* before the engine's teardown: no more move events, no more announcements */
	daemon_roam_free(d);
	daemon_observe_free(d);
	/* the maps say "no cluster" and the kept neighbours go while the program is there */
	daemon_cluster_stop(d);
	/* workers use the engine: they stop first; then the program leaves the uplinks */
	io_xdp_stop(d->xdp);
	d->xdp = NULL; /* the engine's teardown still calls the hooks */
	/* no worker is left to report a move */
	events_free(d->events);
	d->events = NULL;
	io_sockpath_free(d->sockpath);
	wg_device_free(d->dev);
	/* after the engine: its teardown reports every session and peer gone */
	cluster_routes_free(d->croutes);
	io_socket_close(&d->sock);
	tun_close(&d->tun);
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->sigfd >= 0)
		close(d->sigfd);
	if (d->timerfd >= 0)
		close(d->timerfd);
	allowedips_free(d->allow_trie);
	free(d->allow_src);
	free(d);
}
