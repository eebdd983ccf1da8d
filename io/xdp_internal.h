/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The AF_XDP back-end's own view of itself, shared by its files: io_xdp.c (set-up, tear-down,
 * what the control thread asks), xdp_worker.c (the workers and their engine paths) and
 * xdp_maps.c (the BPF maps kept in step with the engine). Nothing outside io/ includes this.
 */
#ifndef XDPWG_XDP_INTERNAL_H
#define XDPWG_XDP_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "io_xdp.h"
#include "nexthop.h"
#include "xsk.h"

struct io_xdp_worker {
	struct io_xdp *x;
	/* the next hop the frame being processed came through: learnt only once the engine has
	 * authenticated that frame, so a forged frame cannot steer our replies elsewhere */
	struct nexthop rx_hop;
	/* the uplink's own MAC: the source MAC of our replies (not the received frame's
	 * destination MAC, which need not be ours: promiscuous or multicast delivery) */
	uint8_t mac[6];
	bool has_mac;
	/* the engine's view of this worker: its I/O (below), scratch space and cipher contexts */
	struct wg_path *path;
	pthread_t thread;
	bool started;
	struct xsk_port *port;
	int ifindex;
	uint32_t queue;
	unsigned int tunq;
	int cpu;
	struct xsk_frame pending[IO_XDP_BATCH];
	unsigned int n_pending;
	/* a transmit frame lent to the engine to encrypt into (tx_room); the message starts at
	 * IO_XDP_TX_PAYLOAD_OFF, room for the largest (IPv6) headers in front */
	struct xsk_frame lent;
	bool lent_valid;
	uint8_t tunbuf[TUN_GSO_BUF]; /* a TSO super-packet and one segment */
	bool gro;		     /* join decrypted TCP segments before writing them */
	struct tun_gro tungro;	     /* what is being joined, written at the end of a burst */
	/* counters, read racily by io_xdp_worker_info */
	_Atomic uint64_t rx_frames, rx_bad, tx_frames, tx_fallback, tun_packets;
};

struct io_xdp {
	struct wg_device *dev;
	struct tun_dev *tun;
	/* the kernel socket: what a worker cannot send through AF_XDP (an unknown next hop) */
	const struct io_socket *sock;
	struct xdpwg_loader *ld;
	int ifindex[IO_XDP_MAX_IFACES];
	unsigned int n_ifaces;
	struct io_xdp_worker *workers[IO_XDP_MAX_WORKERS];
	unsigned int n_workers;
	int stop_fd;
	atomic_bool stop;
	bool busy_poll; /* workers spin instead of sleeping in poll() (io_xdp_worker_busy) */
	int cpus[IO_XDP_MAX_WORKERS]; /* --worker-cpus, in order; n_cpus 0: round robin */
	unsigned int n_cpus;
	_Atomic uint16_t port; /* our UDP source port */
	/* xdpwgctl capture's switch (mapped): while on, workers mirror what they send */
	const volatile struct xdpwg_capture_ctl *capture;
	/* control thread: the tx counters' copy, and the under-load flag as last written */
	struct peer_sync *sync;
	bool under_load;
	struct nexthop_cache hops;
};

/* xdp_worker.c */
extern const struct wg_path_ops io_xdp_path_ops;
void *io_xdp_worker_main(void *arg);
/* The remote address of ep as the next-hop cache keys it. */
void io_xdp_endpoint_addr(const struct wg_endpoint *ep, int *family, union nl_addr *ip);

/* xdp_maps.c: the tx counters' copy (peer_sync.h), set up with the back-end */
int io_xdp_maps_init(struct io_xdp *x);
void io_xdp_maps_free(struct io_xdp *x);

#endif
