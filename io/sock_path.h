/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The socket back-end's data path: without XDP (a client, a host without an uplink to attach
 * to) the control thread itself reads the UDP sockets and TUN queue 0 and hands what it reads to
 * the engine, through two paths of its own:
 *
 *   UDP socket -> io_sockpath_on_udp: allowlist, wg_device_rx -> deliver -> TUN queue 0 (GRO)
 *   TUN queue 0 -> io_sockpath_on_tun: wg_device_tx_batch -> send_data -> UDP GSO batch -> socket
 *
 * The data messages of one TUN read are encrypted straight into a UDP GSO batch (tx_room) and
 * leave in one sendmsg; anything else sent meanwhile (a handshake the read started) leaves after
 * them. Control thread only.
 */
#ifndef XDPWG_SOCK_PATH_H
#define XDPWG_SOCK_PATH_H

#include <stdbool.h>
#include <stdint.h>

#include "device.h"
#include "io_socket.h"
#include "tun.h"

enum io_sockpath_constants {
	IO_SOCKPATH_TUN_BUDGET = 256, /* TUN reads per wakeup */
	IO_SOCKPATH_UDP_BUDGET = 8,   /* recvmmsg batches per socket per wakeup */
};

struct io_sockpath_opts {
	struct wg_device *dev;
	struct io_socket *sock;
	struct tun_dev *tun;
	/* may a datagram from src reach the engine? (the source allowlist); NULL: any */
	bool (*allowed)(void *ctx, const struct wg_endpoint *src);
	void *allowed_ctx;
};

struct io_sockpath;

/* Takes a datagram from src to our port away from the engine (true), or leaves it (false). */
typedef bool (*io_sockpath_forward_fn)(void *ctx, const uint8_t *msg, size_t len,
				       const struct wg_endpoint *src, uint16_t port);

struct io_sockpath *io_sockpath_new(const struct io_sockpath_opts *o);
void io_sockpath_free(struct io_sockpath *s);
/* After the allowlist, before the engine: fn sees every datagram (a gateway cluster's
 * forwarding, io/cluster_sock.h). NULL: none. */
void io_sockpath_set_forward(struct io_sockpath *s, io_sockpath_forward_fn fn, void *ctx);
/* Read up to a budget of datagram batches from fd and hand them to the engine. */
void io_sockpath_on_udp(struct io_sockpath *s, int fd);
/* Read up to a budget of TUN packets and send them. 0, or -errno once the TUN is gone
 * (EBADFD: the interface was deleted). */
int io_sockpath_on_tun(struct io_sockpath *s);

#endif
