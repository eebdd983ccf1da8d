/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The TUN interface: created multi-queue so that each data-path worker can own a queue, packets
 * without the packet-information header (IFF_NO_PI), as wireguard-go does. The interface is left
 * down: whoever configures addresses (wg-quick) brings it up.
 */
#ifndef XDPWG_TUN_H
#define XDPWG_TUN_H

#include <linux/virtio_net.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

enum tun_constants {
	TUN_DEFAULT_MTU = 1420, /* wireguard-go's: 1500 minus the largest (IPv6) overhead */
	TUN_MAX_QUEUES = 16,
};

struct tun_dev {
	char name[IFNAMSIZ];
	int ifindex;
	int fds[TUN_MAX_QUEUES]; /* non-blocking, close-on-exec */
	unsigned int n_queues;
	/* tun_enable_offload: every queue carries a virtio_net_hdr in front of each packet */
	bool vnet_hdr;
	/* XDPWG_NO_TX_BATCH=1 at tun_enable_offload: tun_read_gso_batch hands over one segment
	 * at a time, for measuring what batching buys */
	bool no_batch;
};

/* Create TUN name (or attach to an existing persistent TUN of that name) with one queue, and
 * set its MTU when mtu is not 0. 0 or -errno. */
int tun_open(struct tun_dev *t, const char *name, unsigned int mtu);
/* Attach one more queue; its fd, or -errno. */
int tun_add_queue(struct tun_dev *t);
/* Read one packet from queue q: its length, 0 if none is waiting, or -errno (-EBADFD or -EIO
 * once the interface has been deleted). */
ssize_t tun_read(const struct tun_dev *t, unsigned int q, void *buf, size_t len);
/* Write one packet to queue q. 0 or -errno. */
int tun_write(const struct tun_dev *t, unsigned int q, const void *pkt, size_t len);
int tun_set_mtu(const char *name, unsigned int mtu);

/*
 * Offloads (the AF_XDP back-end): reopen every queue with IFF_VNET_HDR and TUNSETOFFLOAD
 * CSUM|TSO4|TSO6, so that one read returns up to 64 KB of one TCP flow (a super-packet with a
 * virtio_net_hdr saying how to cut it) and checksums may be left for us to finish. After this,
 * tun_write adds a header marking the packet's checksum as verified (the AEAD authenticated
 * it, as the kernel's WireGuard marks CHECKSUM_UNNECESSARY), and readers use
 * tun_read_gso_batch (the data path) or tun_read_gso (one packet per call: the tests' reference
 * cut).
 * 0 or -errno (then nothing changed).
 */
int tun_enable_offload(struct tun_dev *t);

/* Called per wire-sized packet by tun_read_gso; pkt may be modified. */
typedef void (*tun_packet_fn)(void *ctx, uint8_t *pkt, size_t len);

enum tun_gso_constants {
	/* the largest segment tun_read_gso cuts, headers included: 1500 and more with room */
	TUN_SEG_MAX = 2048,
	/* segments per call of a tun_batch_fn: a 64 KB super-packet of 1448-byte segments is 46 */
	TUN_BATCH_MAX = 64,
	/* a super-packet, then the room its segments are cut into: all of them when they are
	 * at most TUN_BATCH_MAX (each carries a copy of the headers, at most 120 bytes) */
	TUN_GSO_BUF = 65535 + 65535 + TUN_BATCH_MAX * 128,
};

/* Read one packet or super-packet from queue q into buf (len >= TUN_GSO_BUF) and hand it to fn
 * as wire-sized IP packets with complete checksums, cut as TSO would. Returns the bytes read
 * (> 0), 0 if none was waiting, or -errno. Without offloads it reads one packet and calls fn
 * once. */
ssize_t tun_read_gso(const struct tun_dev *t, unsigned int q, uint8_t *buf, size_t len,
		     tun_packet_fn fn, void *ctx);

/* Called by tun_read_gso_batch with the segments of one super-packet, in order (n <=
 * TUN_BATCH_MAX; a super-packet of more segments comes in several calls). They share their
 * addresses and ports: one route lookup and one nonce reservation can serve them all. The
 * packets may be modified; they are valid during the call only. */
typedef void (*tun_batch_fn)(void *ctx, const struct iovec *segs, unsigned int n);

/* tun_read_gso, handing fn all the segments of a super-packet at once (a packet that was not
 * cut is a batch of one). */
ssize_t tun_read_gso_batch(const struct tun_dev *t, unsigned int q, uint8_t *buf, size_t len,
			   tun_batch_fn fn, void *ctx);

/*
 * Coalescing on the way in (GRO), the mirror of tun_read_gso: consecutive TCP segments of one
 * flow that the stack could have received as one (same addresses, ports, IP fields, TCP
 * options, ACK and window; contiguous sequence numbers; equal sizes but for a shorter last one;
 * ACK or ACK|PSH only, PSH ending it; IPv4 without options and with incrementing IDs; IPv6
 * without extension headers) are joined into one super-packet of at most TUN_GRO_MAX bytes
 * and written with a virtio header (GSO TCPv4/TCPv6, a partial checksum for the stack to
 * trust): one write and one pass through the stack for up to ~45 packets. Anything else is
 * written as it comes, after what is pending, so the order of packets never changes.
 * Needs tun_enable_offload; without it tun_gro_write is tun_write.
 */
enum tun_gro_constants {
	TUN_GRO_MAX = 65535, /* IPv4 total length; IPv6 payloads stay below it too */
};

struct tun_gro {
	size_t len;	   /* bytes in buf, 0 when empty */
	size_t l3;	   /* IP header length */
	size_t hl;	   /* IP + TCP header length */
	size_t mss;	   /* payload of the first segment: every one but the last has it */
	unsigned int segs; /* segments joined */
	uint32_t next_seq; /* sequence number the next segment must carry */
	uint16_t next_id;  /* IPv4: the ID the next segment must carry */
	bool closed;	   /* a short or PSH segment ended it */
	uint8_t buf[TUN_GRO_MAX];
};

/* Append pkt to g when it continues g's flow, or start g with it when g is empty. false when
 * it cannot be joined (then flush g and try once more, or write pkt alone if that fails too). */
bool tun_gro_add(struct tun_gro *g, const uint8_t *pkt, size_t len);
/* Finish g's headers for a write: *h gets the virtio header (GSO when more than one segment),
 * the IP length fields and the TCP checksum (the pseudo-header's partial sum) are set. The
 * packet is g->buf, g->len bytes. */
void tun_gro_finish(struct tun_gro *g, struct virtio_net_hdr *h);
/* Write what g holds (if anything) to queue q and empty it. 0 or -errno. */
int tun_gro_flush(const struct tun_dev *t, unsigned int q, struct tun_gro *g);
/* Deliver pkt through g: joined when it can be, else after flushing g. 0 or -errno. */
int tun_gro_write(const struct tun_dev *t, unsigned int q, struct tun_gro *g, const uint8_t *pkt,
		  size_t len);
/* The cutting half of tun_read_gso, for tests: segments of a TSO super-packet to fn. */
bool tun_tso_split(const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len, uint8_t *out,
		   size_t outlen, tun_packet_fn fn, void *ctx);

/* The interface's MTU now (wg-quick and operators change it with ip link), or -errno. */
int tun_get_mtu(const char *name);
/* Close every queue: a TUN this process created disappears with its last queue. */
void tun_close(struct tun_dev *t);

#endif
