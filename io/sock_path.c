// SPDX-License-Identifier: GPL-2.0
/*
 * The socket back-end's data path (see sock_path.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"
#include "sock_path.h"

struct io_sockpath {
	struct wg_device *dev;
	struct io_socket *sock;
	struct tun_dev *tun;
	bool (*allowed)(void *ctx, const struct wg_endpoint *src);
	void *allowed_ctx;
	/* a gateway cluster: another member's datagrams go there (io/cluster_sock.h) */
	io_sockpath_forward_fn forward;
	void *forward_ctx;
	struct wg_path *rx_path, *tx_path;
	struct io_rx_batch *rx;
	uint8_t *pkt;		 /* one TUN read: a packet or a TSO super-packet */
	struct tun_gro *gro;	 /* decrypted TCP segments joined before they are written */
	struct io_tx_batch *txb; /* the data messages of one TUN read, sent with UDP GSO */
};

/* Send the data messages gathered in the batch; a failure is only logged (they are datagrams). */
static void io_sockpath_flush(struct io_sockpath *s)
{
	int ret = io_tx_batch_flush(s->sock, s->txb);

	if (ret)
		log_debug("batched send failed: %s", strerror(-ret));
}

/* Both paths: a datagram that is not data goes straight out (after any batch) */
static int io_sockpath_send(void *ctx, const struct wg_endpoint *dst, const uint8_t *buf,
			    size_t len)
{
	struct io_sockpath *s = ctx;

	io_sockpath_flush(s);
	return io_socket_send(s->sock, dst, buf, len);
}

/* The transmit path's data messages gather in the batch */
static int io_sockpath_send_data(void *ctx, const struct wg_endpoint *dst, const uint8_t *buf,
				 size_t len)
{
	struct io_sockpath *s = ctx;

	return io_tx_batch_add(s->sock, s->txb, dst, buf, len);
}

/* ... encrypted straight into it */
static uint8_t *io_sockpath_room(void *ctx, size_t need)
{
	struct io_sockpath *s = ctx;

	return io_tx_batch_room(s->txb, need);
}

static int io_sockpath_deliver(void *ctx, const uint8_t *pkt, size_t len)
{
	struct io_sockpath *s = ctx;

	return tun_gro_write(s->tun, 0, s->gro, pkt, len);
}

static const struct wg_path_ops io_sockpath_rx_ops = {
	.send = io_sockpath_send,
	.deliver = io_sockpath_deliver,
};

static const struct wg_path_ops io_sockpath_tx_ops = {
	.send = io_sockpath_send,
	.send_data = io_sockpath_send_data,
	.deliver = io_sockpath_deliver,
	.tx_room = io_sockpath_room,
};

struct io_sockpath *io_sockpath_new(const struct io_sockpath_opts *o)
{
	struct io_sockpath *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->dev = o->dev;
	s->sock = o->sock;
	s->tun = o->tun;
	s->allowed = o->allowed;
	s->allowed_ctx = o->allowed_ctx;
	s->rx = io_rx_batch_new();
	s->pkt = malloc(TUN_GSO_BUF);
	s->gro = calloc(1, sizeof(*s->gro));
	s->txb = io_tx_batch_new();
	s->rx_path = wg_path_new(o->dev, &io_sockpath_rx_ops, s);
	s->tx_path = wg_path_new(o->dev, &io_sockpath_tx_ops, s);
	if (!s->rx || !s->pkt || !s->gro || !s->txb || !s->rx_path || !s->tx_path) {
		io_sockpath_free(s);
		return NULL;
	}
	return s;
}

void io_sockpath_free(struct io_sockpath *s)
{
	if (!s)
		return;
	wg_path_free(s->rx_path);
	wg_path_free(s->tx_path);
	io_rx_batch_free(s->rx);
	io_tx_batch_free(s->txb);
	if (s->pkt) {
		/* the last plaintext packet read from the TUN */
		crypto_wipe(s->pkt, TUN_GSO_BUF);
		free(s->pkt);
	}
	if (s->gro) {
		crypto_wipe(s->gro, sizeof(*s->gro));
		free(s->gro);
	}
	free(s);
}

void io_sockpath_set_forward(struct io_sockpath *s, io_sockpath_forward_fn fn, void *ctx)
{
	s->forward = fn;
	s->forward_ctx = ctx;
}

void io_sockpath_on_udp(struct io_sockpath *s, int fd)
{
	for (int round = 0; fd >= 0 && round < IO_SOCKPATH_UDP_BUDGET; ++round) {
		int n = io_socket_recv(fd, s->rx);

		if (n < 0) {
			log_debug("recvmmsg: %s", strerror(-n));
			return;
		}
		for (int i = 0; i < n; ++i) {
			if (s->allowed && !s->allowed(s->allowed_ctx, &s->rx->src[i]))
				continue;
			if (s->forward && s->forward(s->forward_ctx, s->rx->data[i], s->rx->len[i],
						     &s->rx->src[i], s->sock->port))
				continue;
			wg_device_rx(s->rx_path, s->rx->data[i], s->rx->len[i], &s->rx->src[i]);
		}
		wg_path_batch_end(s->rx_path);
		tun_gro_flush(s->tun, 0, s->gro);
		if (n < IO_SOCKET_BATCH)
			return;
	}
}

/* The segments of one super-packet to one peer leave in one UDP GSO send. */
static void io_sockpath_tun_packets(void *ctx, const struct iovec *segs, unsigned int n)
{
	struct io_sockpath *s = ctx;

	wg_device_tx_batch(s->tx_path, segs, n);
}

int io_sockpath_on_tun(struct io_sockpath *s)
{
	for (int i = 0; i < IO_SOCKPATH_TUN_BUDGET; ++i) {
		ssize_t n = tun_read_gso_batch(s->tun, 0, s->pkt, TUN_GSO_BUF,
					       io_sockpath_tun_packets, s);

		io_sockpath_flush(s);
		if (n == 0)
			break;
		if (n < 0)
			return (int)n;
	}
	return 0;
}
