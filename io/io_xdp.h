/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The AF_XDP back-end: the gateway's data path. It loads the XDP program on each attached
 * uplink, opens an AF_XDP socket on every RX queue, and runs one worker thread per socket, pinned
 * to a CPU, that owns that socket and one TUN queue:
 *
 *   uplink RX -> XDP -> AF_XDP RX ring -> worker: wg_device_rx -> deliver -> TUN queue
 *   TUN queue -> worker: wg_device_tx -> send -> AF_XDP TX ring -> uplink
 *
 * Each worker hands the engine its frames through its own struct wg_path (send, deliver, the
 * transmit frame to encrypt into): no thread-local tells the engine which worker it is on. The
 * worker builds the outer Ethernet/IP/UDP headers itself, so it needs the next hop's MAC: it
 * learns it from received frames and, for configured endpoints, from the kernel's route and
 * neighbour tables. When it does not know one, it sends through the kernel socket instead; the
 * control thread (handshakes) always does.
 *
 * The control thread keeps the BPF maps in step with the engine through the io_xdp_* hooks.
 */
#ifndef XDPWG_IO_XDP_H
#define XDPWG_IO_XDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "device.h"
#include "io_socket.h"
#include "loader.h"
#include "tun.h"
#include "xdpwg_kern_user.h"

enum io_xdp_constants {
	IO_XDP_MAX_IFACES = 4,
	IO_XDP_MAX_WORKERS = TUN_MAX_QUEUES,
	IO_XDP_BATCH = 64,    /* frames per ring operation */
	IO_XDP_POLL_MS = 200, /* worker wakeup when idle, to notice a stop */
	/* busy-poll: loops between two looks at an idle TUN queue. A look is a read() that
	 * fails with EAGAIN, ~1.2 us on the test VM (poll(..., 0) costs the same), while an idle
	 * loop without it (ring indexes, stop flag, pause) is ~20 ns: 64 loops keep the syscall
	 * to about half of the idle time, so a frame on the RX ring waits at most ~1.2 us and a
	 * packet on the TUN at most ~2.5 us. */
	IO_XDP_BUSY_TUN_EVERY = 64,
	/* where a lent transmit frame's message starts: room for Ethernet + IPv6 + UDP (62)
	 * in front, and a cache-line-aligned message */
	IO_XDP_TX_PAYLOAD_OFF = 64,
};

struct io_xdp;

enum io_xdp_limits {
	IO_XDP_MAX_PEERS = 1 << 20, /* BPF peers map; sessions get three per peer */
};

struct io_xdp_opts {
	const char *tun_name; /* pins under /sys/fs/bpf/xdpwg/TUN/ */
	const char *const *ifaces;
	unsigned int n_ifaces;
	enum loader_mode mode;
	struct wg_device *dev;
	struct tun_dev *tun; /* queue 0 open; io_xdp adds one queue per worker beyond the first */
	/* the kernel socket the workers fall back to (owned by the caller, outlives io_xdp) */
	const struct io_socket *sock;
	uint16_t listen_port;
	/* keep the TUN without IFF_VNET_HDR/TSO (one packet per read) */
	bool no_tun_offload;
	/* workers spin on their rings instead of sleeping in poll(): each keeps its CPU at 100%
	 * to save the wakeup (xdpwgd --busy-poll) */
	bool busy_poll;
	/* --worker-cpus: worker i is pinned to cpus[i % n_cpus]; n_cpus 0: to CPU i % online */
	const int *cpus;
	unsigned int n_cpus;
	/* --queues: AF_XDP sockets on these RX queues only; n 0: every queue not held already */
	const int *queues;
	unsigned int n_queues;
};

/* Load, attach, open the sockets and start the workers. From then on the workers read every
 * TUN queue, including queue 0: the caller must stop reading the TUN itself. 0 or -errno. */
int io_xdp_start(const struct io_xdp_opts *o, struct io_xdp **out);
/* Stop and join the workers, close the sockets, detach and unpin. NULL is fine. */
void io_xdp_stop(struct io_xdp *x);

/* wg_io_ops glue, on the control thread: the BPF maps follow the engine. */
int io_xdp_set_port(struct io_xdp *x, uint16_t port);
void io_xdp_session_add(struct io_xdp *x, uint32_t index, struct wg_peer *peer);
void io_xdp_session_del(struct io_xdp *x, uint32_t index);
/* A peer was added or its endpoint changed: refresh its peers-map entry (and resolve the next
 * hop through rtnetlink when no frame has taught it yet). */
void io_xdp_peer_update(struct io_xdp *x, struct wg_peer *peer);
void io_xdp_peer_removed(struct io_xdp *x, struct wg_peer *peer);

/* The program's mac1 key, from our private key (all zero: no key, no check). */
void io_xdp_set_private_key(struct io_xdp *x, const uint8_t private_key[WG_KEY_LEN]);
/* Replace the program's source allowlist (n 0: any source). 0 or -errno. */
int io_xdp_set_allow_source(struct io_xdp *x, const struct conf_allowedip *list, size_t n);
/* Mirror the engine's "under load" into the program (written only when it changes). */
void io_xdp_set_under_load(struct io_xdp *x, bool under_load);
/* The ring buffer of the program's new-source sightings (ring_buffer__new on it). */
int io_xdp_events_fd(const struct io_xdp *x);
/* The program's loader, for a module that keeps maps of its own (io/cluster_fwd.c). */
struct xdpwg_loader *io_xdp_loader(struct io_xdp *x);
/* The ifindex of attached uplink i (0 past the last). */
int io_xdp_iface(const struct io_xdp *x, unsigned int i);
/* The program's per-reason counters, summed over CPUs. 0 or -errno. */
int io_xdp_stats(const struct io_xdp *x, uint64_t out[XDPWG_STAT_MAX]);
/* Our own addresses into the program (local_addrs: a datagram to any other is transit traffic,
 * passed untouched): at start, and on every rtnetlink address change. */
void io_xdp_local_addrs_refresh(struct io_xdp *x);
/* The daemon's tick: the engine's tx counters into the peers map (at most once a second). */
void io_xdp_tick(struct io_xdp *x, uint64_t now_ns);

unsigned int io_xdp_workers(const struct io_xdp *x);

/* One worker, for metrics: where it runs, what it moved, how full its rings are now. */
struct io_xdp_worker_info {
	int ifindex;
	uint32_t queue; /* the uplink's RX queue */
	int cpu;
	unsigned int tun_queue;
	bool zerocopy;
	bool busy_poll;	      /* spinning, not sleeping in poll() */
	uint64_t rx_frames;   /* AF_XDP frames handed to the engine */
	uint64_t rx_bad;      /* frames that did not parse as UDP */
	uint64_t tx_frames;   /* sent through AF_XDP */
	uint64_t tx_fallback; /* sends left to the kernel socket */
	uint64_t tun_packets; /* packets read from the worker's TUN queue */
	uint32_t rx_ring, fill_ring, tx_ring, tx_inflight; /* current depths */
};
/* 0, or -ENOENT when i >= io_xdp_workers(x). Any thread. */
int io_xdp_worker_info(const struct io_xdp *x, unsigned int i, struct io_xdp_worker_info *out);

/* The kernel's routes changed: forget every next hop resolved or learnt so far. Until an
 * authenticated frame teaches it again (or the peer is updated), a peer's packets leave through
 * the kernel socket, which follows the new route; a stale next-hop MAC would black-hole them. */
void io_xdp_routes_changed(struct io_xdp *x);

#endif
