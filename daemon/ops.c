// SPDX-License-Identifier: GPL-2.0
/*
 * The engine's hooks (struct wg_io_ops): the control thread's sends, rebinding the sockets,
 * and the BPF maps following the engine (sessions while a keypair may receive, peers with their
 * endpoints) through the XDP back-end. No key material crosses over.
 */
#include <errno.h>
#include <string.h>

#include "cluster_routes.h"
#include "log.h"
#include "xdpwgd.h"

/*
 * The control thread's sends (handshakes, timers, what a handshake unstaged) go through the
 * kernel socket, which routes and resolves as usual; the data path's go through the back-ends'
 * own paths (the AF_XDP workers', io/sock_path.c's) and never come here.
 */
static int daemon_send(void *ctx, const struct wg_endpoint *dst, const uint8_t *buf, size_t len)
{
	struct xdpwgd *d = ctx;

	return io_socket_send(&d->sock, dst, buf, len);
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
	cluster_routes_session_add(d->croutes, index, peer);
}

static void daemon_session_del(void *ctx, uint32_t index)
{
	struct xdpwgd *d = ctx;

	if (d->xdp)
		io_xdp_session_del(d->xdp, index);
	cluster_routes_session_del(d->croutes, index);
}

static void daemon_endpoint_moved(void *ctx, struct wg_peer *peer, const struct wg_endpoint *old,
				  const struct wg_endpoint *new_ep)
{
	struct xdpwgd *d = ctx;

	(void)old;
	(void)new_ep;
	/* Synchronous, on the thread that authenticated the packet and before it sends anything
	 * more to this peer: the BPF peers map moves with the engine's endpoint. */
	if (d->xdp)
		io_xdp_peer_update(d->xdp, peer);
	atomic_store_explicit(&d->routes_stale, true, memory_order_relaxed);
}

/* Any thread: queue the move; the control thread dates, logs, keeps and streams it. */
static void daemon_peer_moved(void *ctx, const struct wg_peer_move *m)
{
	struct xdpwgd *d = ctx;

	if (d->events)
		events_push(d->events, m);
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
	cluster_routes_peer_removed(d->croutes, peer);
}

const struct wg_io_ops daemon_io_ops = {
	.send = daemon_send,
	.bind = daemon_bind,
	.session_add = daemon_session_add,
	.session_del = daemon_session_del,
	.endpoint_moved = daemon_endpoint_moved,
	.peer_added = daemon_peer_added,
	.peer_removed = daemon_peer_removed,
	.peer_moved = daemon_peer_moved,
};
