/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The UDP socket back-end: one IPv4 and one IPv6-only socket on the listen port. Received
 * datagrams carry the local address they arrived on (IP_PKTINFO / IPV6_RECVPKTINFO), which the
 * engine caches in the peer's endpoint; replies are sent from that address, so a multi-homed
 * host answers from the address the peer wrote to, as the kernel driver does.
 */
#ifndef XDPWG_IO_SOCKET_H
#define XDPWG_IO_SOCKET_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "endpoint.h"

enum io_socket_constants {
	IO_SOCKET_BATCH = 32,	       /* datagrams per recvmmsg */
	IO_SOCKET_BUF = 65536,	       /* the largest UDP payload, plus slack */
	IO_SOCKET_BIND_ATTEMPTS = 100, /* random ports tried for a free v4+v6 pair */
	IO_SOCKET_RCVBUF = 4 << 20,    /* absorbs bursts between two epoll rounds */
	IO_TX_BATCH_SEGS = 64,	       /* datagrams per UDP GSO send */
	IO_TX_BATCH_BYTES = 65507,     /* the largest UDP payload (IPv4) */
};

struct io_socket {
	int fd4, fd6; /* -1 when not open; fd6 stays -1 on hosts without IPv6 */
	/* senders (any thread) read-lock the descriptors, a rebind or close write-locks them */
	pthread_rwlock_t lock;
	uint16_t port;
	uint32_t fwmark;
	bool no_gso; /* the kernel refused UDP_SEGMENT once: one sendmsg per datagram */
};

/*
 * A transmit batch for UDP GSO: consecutive datagrams to one endpoint (address, port and cached
 * source), all of one length but the last, which may be shorter, gathered in one buffer and
 * sent with one sendmsg carrying a UDP_SEGMENT cmsg. For the one thread that owns it; flushed
 * by that thread before it sends anything else on the socket, so the wire order is the order
 * of the sends.
 */
struct io_tx_batch {
	uint8_t *buf; /* IO_TX_BATCH_BYTES */
	size_t len;   /* bytes gathered */
	size_t seg;   /* the common datagram length */
	unsigned int n;
	bool closed; /* the last datagram was shorter: nothing more joins */
	struct wg_endpoint dst;
};

/* A receive batch: the buffers, and for each datagram its source endpoint (with the local
 * address it arrived on as the cached source). */
struct io_rx_batch {
	struct mmsghdr msgs[IO_SOCKET_BATCH];
	struct iovec iov[IO_SOCKET_BATCH];
	struct sockaddr_in6 names[IO_SOCKET_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} control[IO_SOCKET_BATCH];
	struct wg_endpoint src[IO_SOCKET_BATCH];
	uint8_t *data[IO_SOCKET_BATCH];
	size_t len[IO_SOCKET_BATCH];
};

void io_socket_init(struct io_socket *s);
/* Open new sockets on port (0: a random port free for both families) with fwmark, and only then
 * close the old ones, so a failure leaves the old sockets working. Same port as now: only the
 * mark changes. The bound port, or -errno. */
int io_socket_bind(struct io_socket *s, uint16_t port, uint32_t fwmark);
/* Send one datagram to dst->addr from dst's cached source if it has one. When the kernel
 * refuses that source (the address is gone), send once more letting it choose.
 * 0 or -errno. */
int io_socket_send(const struct io_socket *s, const struct wg_endpoint *dst, const uint8_t *buf,
		   size_t len);
void io_socket_close(struct io_socket *s);

struct io_tx_batch *io_tx_batch_new(void);
void io_tx_batch_free(struct io_tx_batch *b);
/* Where the next datagram of up to need bytes would go in b, for encrypting it in place; NULL
 * when b has no room for it (it is then copied, after a flush). */
uint8_t *io_tx_batch_room(struct io_tx_batch *b, size_t need);
/* Add one datagram for dst to b, flushing what is there first when dst or the length does not
 * fit in, and after when b is full. buf may be what io_tx_batch_room returned (no copy). 0 or
 * the -errno of a flush. */
int io_tx_batch_add(struct io_socket *s, struct io_tx_batch *b, const struct wg_endpoint *dst,
		    const uint8_t *buf, size_t len);
/* Send what b holds: one sendmsg with UDP_SEGMENT, or one per datagram when the kernel does
 * not take it. 0 or -errno (b is empty either way). */
int io_tx_batch_flush(struct io_socket *s, struct io_tx_batch *b);

struct io_rx_batch *io_rx_batch_new(void);
void io_rx_batch_free(struct io_rx_batch *b);
/* Receive up to IO_SOCKET_BATCH datagrams from fd without blocking: how many (b->data[i],
 * b->len[i], b->src[i]), 0 when none is waiting, or -errno. */
int io_socket_recv(int fd, struct io_rx_batch *b);

#endif
