// SPDX-License-Identifier: GPL-2.0
/*
 * The control loop. Every state change happens here, on one thread: configuration requests,
 * handshakes, timers, rebinding. Level-triggered epoll with a budget per source, so a flood on
 * one socket cannot starve the configuration socket or the timers.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "crypto.h"
#include "daemon.h"
#include "device.h"
#include "io_socket.h"
#include "io_xdp.h"
#include "loader.h"
#include "log.h"
#include "tun.h"
#include "uapi.h"

enum daemon_source {
	DAEMON_EV_SIGNAL = 1,
	DAEMON_EV_TIMER,
	DAEMON_EV_HANDSHAKE,
	DAEMON_EV_UAPI,
	DAEMON_EV_TUN,
	DAEMON_EV_UDP4,
	DAEMON_EV_UDP6,
};

struct xdpwgd {
	char ifname[IFNAMSIZ];
	struct tun_dev tun;
	struct io_socket sock;
	struct wg_device *dev;
	struct io_xdp *xdp; /* the AF_XDP back-end, when uplinks are attached */
	bool under_load;    /* as last mirrored into the XDP program */
	struct uapi_server *uapi;
	struct io_rx_batch *rx;
	uint8_t *pkt; /* one TUN read */
	int epfd, sigfd, timerfd;
	int mtu; /* last MTU told to the engine */
	bool stop;
	int exit_err;
};

static int daemon_watch(struct xdpwgd *d, int fd, enum daemon_source src)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = src };

	return epoll_ctl(d->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* --- wg_io_ops --- */

/*
 * With uplinks attached, a worker sends through its AF_XDP socket; what the back-end cannot send
 * (the control thread's handshake messages, an unknown next hop) goes through the kernel socket,
 * which the kernel routes and resolves as usual. Likewise a worker delivers into its own TUN
 * queue, and everything else into queue 0.
 */
static int daemon_send(void *ctx, const struct wg_endpoint *dst, const uint8_t *buf, size_t len)
{
	struct xdpwgd *d = ctx;

	if (d->xdp && io_xdp_send(d->xdp, dst, buf, len) == 0)
		return 0;
	return io_socket_send(&d->sock, dst, buf, len);
}

static int daemon_deliver(void *ctx, const uint8_t *pkt, size_t len)
{
	struct xdpwgd *d = ctx;
	int ret;

	if (d->xdp) {
		ret = io_xdp_deliver(d->xdp, pkt, len);
		if (ret != -EAGAIN)
			return ret;
	}
	return tun_write(&d->tun, 0, pkt, len);
}

static int daemon_bind(void *ctx, uint16_t port, uint32_t fwmark)
{
	struct xdpwgd *d = ctx;
	int old4 = d->sock.fd4, old6 = d->sock.fd6, ret;

	ret = io_socket_bind(&d->sock, port, fwmark);
	if (ret < 0)
		return ret;
	/* Closing the old sockets took them out of the epoll set; watch the new ones. Events
	 * already fetched for the old ones find the new fds, which just read nothing. */
	if (d->sock.fd4 != old4 && d->sock.fd4 >= 0 && daemon_watch(d, d->sock.fd4, DAEMON_EV_UDP4))
		log_err("cannot watch the IPv4 socket: %s", strerror(errno));
	if (d->sock.fd6 != old6 && d->sock.fd6 >= 0 && daemon_watch(d, d->sock.fd6, DAEMON_EV_UDP6))
		log_err("cannot watch the IPv6 socket: %s", strerror(errno));
	if (port == 0 || d->sock.fd4 != old4)
		log_info("%s: listening on UDP port %u", d->ifname, ret);
	/* XDP follows the port live: the program reads it from its config map */
	if (d->xdp && io_xdp_set_port(d->xdp, (uint16_t)ret) < 0)
		log_err("%s: cannot set the XDP program's port", d->ifname);
	return ret;
}

/* The BPF maps follow the engine: sessions while a keypair may receive, peers with their
 * endpoints. No key material crosses over. */
static void daemon_session_add(void *ctx, uint32_t index, struct wg_peer *peer)
{
	struct xdpwgd *d = ctx;

	if (d->xdp)
		io_xdp_session_add(d->xdp, index, peer);
}

static void daemon_session_del(void *ctx, uint32_t index)
{
	struct xdpwgd *d = ctx;

	if (d->xdp)
		io_xdp_session_del(d->xdp, index);
}

static void daemon_endpoint_moved(void *ctx, struct wg_peer *peer, const struct wg_endpoint *old,
				  const struct wg_endpoint *new_ep)
{
	struct xdpwgd *d = ctx;

	(void)old;
	(void)new_ep;
	if (d->xdp)
		io_xdp_peer_update(d->xdp, peer);
}

static void daemon_peer_added(void *ctx, struct wg_peer *peer)
{
	struct xdpwgd *d = ctx;

	if (d->xdp)
		io_xdp_peer_update(d->xdp, peer);
}

static void daemon_peer_removed(void *ctx, struct wg_peer *peer)
{
	struct xdpwgd *d = ctx;

	if (d->xdp)
		io_xdp_peer_removed(d->xdp, peer);
}

static const struct wg_io_ops daemon_io_ops = {
	.send = daemon_send,
	.deliver = daemon_deliver,
	.bind = daemon_bind,
	.session_add = daemon_session_add,
	.session_del = daemon_session_del,
	.endpoint_moved = daemon_endpoint_moved,
	.peer_added = daemon_peer_added,
	.peer_removed = daemon_peer_removed,
};

/* --- configuration socket handlers --- */

/* XDP checks mac1 itself: its key is HASH("mac1----" || our public key), public material. */
static void daemon_sync_mac1(struct xdpwgd *d, const uint8_t private_key[WG_KEY_LEN])
{
	static const char label[] = "mac1----";
	uint8_t pub[WG_KEY_LEN], key[WG_HASH_LEN];

	if (crypto_is_zero(private_key, WG_KEY_LEN)) {
		loader_set_mac1_key(io_xdp_loader(d->xdp), NULL);
		return;
	}
	crypto_pubkey(pub, private_key);
	crypto_hash(key, label, sizeof(label) - 1, pub, sizeof(pub));
	if (loader_set_mac1_key(io_xdp_loader(d->xdp), key) < 0)
		log_err("%s: cannot set the XDP program's mac1 key", d->ifname);
}

static int daemon_uapi_set(void *ctx, const struct conf_dev *req, char *err, size_t errlen)
{
	struct xdpwgd *d = ctx;
	int ret = wg_device_apply(d->dev, req, err, errlen);

	if (ret == 0 && d->xdp && (req->flags & CONF_DEV_HAS_PRIVATE_KEY))
		daemon_sync_mac1(d, req->private_key);
	return ret;
}

static struct conf_dev *daemon_uapi_get(void *ctx)
{
	struct xdpwgd *d = ctx;

	return wg_device_snapshot(d->dev);
}

static const struct uapi_handler daemon_uapi_handler = {
	.set = daemon_uapi_set,
	.get = daemon_uapi_get,
};

/* --- event sources --- */

static void daemon_arm_timer(struct xdpwgd *d, int ms)
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

/* The engine pads packets up to the TUN's MTU, which wg-quick changes after start. Polled with
 * the timers (one ioctl a second) rather than followed through rtnetlink: a late update costs
 * at most some padding for a second. */
static void daemon_sync_mtu(struct xdpwgd *d)
{
	int mtu = tun_get_mtu(d->ifname);

	if (mtu <= 0 || mtu == d->mtu)
		return;
	if (d->mtu)
		log_info("%s: MTU %d", d->ifname, mtu);
	d->mtu = mtu;
	wg_device_set_mtu(d->dev, (unsigned int)mtu);
}

static void daemon_on_timer(struct xdpwgd *d)
{
	uint64_t expirations;

	if (read(d->timerfd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
		log_debug("timerfd read: %s", strerror(errno));
	daemon_sync_mtu(d);
	if (d->xdp) {
		bool under_load = wg_device_under_load(d->dev);

		if (under_load != d->under_load &&
		    loader_set_under_load(io_xdp_loader(d->xdp), under_load) == 0)
			d->under_load = under_load;
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
	for (int i = 0; i < DAEMON_TUN_BUDGET; ++i) {
		ssize_t n = tun_read(&d->tun, 0, d->pkt, WG_MAX_PACKET);

		if (n == 0)
			return;
		if (n < 0) {
			/* EBADFD: the interface was deleted (wg-quick down): like wireguard-go,
			 * the daemon goes with it. */
			log_info("%s: interface gone (%s), shutting down", d->ifname,
				 strerror((int)-n));
			d->stop = true;
			return;
		}
		wg_device_tx(d->dev, d->pkt, (size_t)n);
	}
}

static void daemon_on_udp(struct xdpwgd *d, int fd)
{
	for (int round = 0; fd >= 0 && round < DAEMON_UDP_BUDGET; ++round) {
		int n = io_socket_recv(fd, d->rx);

		if (n < 0) {
			log_debug("recvmmsg: %s", strerror(-n));
			return;
		}
		for (int i = 0; i < n; ++i)
			wg_device_rx(d->dev, d->rx->data[i], d->rx->len[i], &d->rx->src[i]);
		if (n < IO_SOCKET_BATCH)
			return;
	}
}

static void daemon_on_handshake(struct xdpwgd *d)
{
	for (int i = 0; i < DAEMON_HANDSHAKE_ROUNDS; ++i) {
		if (wg_device_process_handshakes(d->dev, DAEMON_HANDSHAKE_BUDGET) <
		    DAEMON_HANDSHAKE_BUDGET)
			break;
	}
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
				daemon_on_udp(d, d->sock.fd4);
				break;
			case DAEMON_EV_UDP6:
				daemon_on_udp(d, d->sock.fd6);
				break;
			}
		}
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
	if (!tun_name_valid(o->ifname)) {
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
	d->epfd = d->sigfd = d->timerfd = -1;
	io_socket_init(&d->sock);
	for (unsigned int i = 0; i < TUN_MAX_QUEUES; ++i)
		d->tun.fds[i] = -1;

	ret = -ENOMEM;
	d->rx = io_rx_batch_new();
	d->pkt = malloc(WG_MAX_PACKET);
	if (!d->rx || !d->pkt)
		goto err;
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
	ret = daemon_initial_bind(d);
	if (ret < 0)
		goto err;
	if (o->n_attach) {
		struct io_xdp_opts xo = {
			.tun_name = d->ifname,
			.ifaces = o->attach,
			.n_ifaces = o->n_attach,
			.mode = (enum loader_mode)o->xdp_mode,
			.dev = d->dev,
			.tun = &d->tun,
			.listen_port = d->sock.port,
		};

		ret = io_xdp_start(&xo, &d->xdp);
		if (ret < 0)
			goto err;
	}

	if ((ret = daemon_watch(d, d->sigfd, DAEMON_EV_SIGNAL)) < 0 ||
	    (ret = daemon_watch(d, d->timerfd, DAEMON_EV_TIMER)) < 0 ||
	    (ret = daemon_watch(d, wg_device_handshake_fd(d->dev), DAEMON_EV_HANDSHAKE)) < 0 ||
	    (ret = daemon_watch(d, uapi_server_fd(d->uapi), DAEMON_EV_UAPI)) < 0)
		goto err;
	/* with XDP the workers read every TUN queue, queue 0 included */
	if (!d->xdp && (ret = daemon_watch(d, d->tun.fds[0], DAEMON_EV_TUN)) < 0)
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
	/* The socket goes first, so nobody configures a device that is being torn down. */
	uapi_server_free(d->uapi);
	/* workers use the engine: they stop first; then the program leaves the uplinks */
	io_xdp_stop(d->xdp);
	d->xdp = NULL; /* the engine's teardown still calls the hooks */
	wg_device_free(d->dev);
	io_socket_close(&d->sock);
	tun_close(&d->tun);
	if (d->epfd >= 0)
		close(d->epfd);
	if (d->sigfd >= 0)
		close(d->sigfd);
	if (d->timerfd >= 0)
		close(d->timerfd);
	io_rx_batch_free(d->rx);
	if (d->pkt) {
		/* the last plaintext packet read from the TUN */
		crypto_wipe(d->pkt, WG_MAX_PACKET);
		free(d->pkt);
	}
	free(d);
}
