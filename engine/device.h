/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The protocol engine's face to the rest of the daemon. A wg_device holds the static identity,
 * the peers, their handshakes, keypairs, timers and allowed IPs, and knows nothing of how
 * packets arrive or leave: an I/O back-end (UDP socket today, AF_XDP on the gateway) feeds it
 * datagrams and IP packets and receives what to send and to deliver through wg_io_ops.
 *
 * Threads: the data path (wg_device_rx, wg_device_tx, wg_device_tx_batch) may be called
 * concurrently from any number of worker threads, each through its own struct wg_path: the
 * worker's I/O (send, deliver) and its scratch space and cipher contexts, so a received datagram
 * goes worker -> engine -> the worker's deliver -> its TUN queue, and nothing on the way looks
 * for its context in a thread-local. Everything else is called from one control thread, which
 * owns every state change and sends through the device's own path (wg_device_path). Handshake and cookie messages received by a worker are
 * queued (bounded) for the control thread; the depth of that queue is the "under load" signal
 * that turns on cookie replies, as in the kernel driver.
 */
#ifndef XDPWG_DEVICE_H
#define XDPWG_DEVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "endpoint.h"
#include "messages.h"

struct conf_allowedip;
struct conf_dev;
struct wg_device;
struct wg_peer;

/* Why a received packet was dropped; counted per device, shown by xdpwgctl stats. */
enum wg_drop_reason {
	WG_DROP_NONE = 0,
	WG_DROP_BAD_SIZE,	   /* wrong size for its type */
	WG_DROP_BAD_TYPE,	   /* unknown message type */
	WG_DROP_UNKNOWN_INDEX,	   /* data or response for no local index */
	WG_DROP_BAD_MAC1,	   /* handshake with an invalid mac1 */
	WG_DROP_COOKIE_SENT,	   /* under load without a valid mac2: answered with a cookie */
	WG_DROP_RATELIMITED,	   /* per-source handshake rate limit */
	WG_DROP_HANDSHAKE_INVALID, /* did not decrypt, unknown peer, stale timestamp, ... */
	WG_DROP_HANDSHAKE_FLOOD,   /* more than 50 initiations a second from one peer */
	WG_DROP_QUEUE_FULL,	   /* handshake queue full */
	WG_DROP_DECRYPT,	   /* data failed authentication */
	WG_DROP_REPLAY,		   /* data counter already seen or too old */
	WG_DROP_KEY_EXPIRED,	   /* keypair past REJECT_AFTER_TIME/MESSAGES */
	WG_DROP_BAD_INNER,	   /* not an IP packet, or its length disagrees */
	WG_DROP_ALLOWEDIPS,	   /* inner source not an allowed IP of the sending peer */
	WG_DROP_NO_PEER,	   /* outgoing packet matched no peer (tx) */
	WG_DROP_NO_ENDPOINT,	   /* peer has no endpoint (tx) */
	WG_DROP_DUPLICATE,	   /* a redundant peer's copy already received on another path */
	WG_DROP_REASON_MAX,
};

/* One endpoint move, as the peer_moved hook reports it. */
struct wg_peer_move {
	struct wg_peer *peer; /* valid during the hook only */
	uint32_t peer_id;
	uint8_t public_key[WG_KEY_LEN];
	struct wg_endpoint old_ep, new_ep;
	uint64_t moved_ns;     /* the device clock (CLOCK_MONOTONIC for real) */
	int64_t moved_wall_ns; /* wall clock */
	uint64_t sent_to_old;  /* packets sent to old_ep since the last authenticated receive */
	uint64_t moves;	       /* the peer's move count, this one included */
	bool acked;	       /* a keepalive went to new_ep at once (transport data moves only) */
	/* the moving packet's path times (wg_path_set_rx_times; 0: not known): when it reached
	 * XDP and when the worker took it off its ring */
	uint64_t xdp_ns, picked_ns;
};

/* One data-path thread's I/O: what the engine does with the packets it handles there. */
struct wg_path_ops {
	/* Send one datagram to dst->addr, from dst's cached source when set. 0 or -errno. */
	int (*send)(void *ctx, const struct wg_endpoint *dst, const uint8_t *buf, size_t len);
	/* Send one transport data message; the back-end may gather it into a batch. Optional:
	 * NULL sends it as any other datagram. */
	int (*send_data)(void *ctx, const struct wg_endpoint *dst, const uint8_t *buf, size_t len);
	/* Write one decrypted IP packet to the TUN. 0 or -errno. */
	int (*deliver)(void *ctx, const uint8_t *pkt, size_t len);
	/* Optional: room for need bytes where the datagram will leave from (an AF_XDP UMEM frame,
	 * a UDP GSO batch), or NULL. The engine then encrypts in place and the back-end's send,
	 * recognising its own buffer, skips the copy. The same room until a send consumes it, so
	 * a message that is not sent costs nothing. */
	uint8_t *(*tx_room)(void *ctx, size_t need);
	/* Optional: the packet being handled on this path authenticated and moved its peer to
	 * new_ep; called before the device's endpoint_moved hook, so a back-end can trust what it
	 * saw of that packet (the next hop it came through) before the hook asks for it. */
	void (*endpoint_moved)(void *ctx, const struct wg_endpoint *new_ep);
};

/* The device's own I/O: the control thread's sends (handshakes, timers, staged packets after a
 * handshake) go through send; the hooks keep a back-end's state (BPF maps) in step. */
struct wg_io_ops {
	/* Send one UDP datagram to dst->addr, from dst's cached source when set. 0 or -errno. */
	int (*send)(void *ctx, const struct wg_endpoint *dst, const uint8_t *buf, size_t len);
	/* Optional: write one decrypted IP packet to the TUN, for data handled on the device's
	 * own path (tests; a back-end delivers through its own paths). */
	int (*deliver)(void *ctx, const uint8_t *pkt, size_t len);
	/* (Re)bind the outer socket(s); port 0 picks one. The bound port, or -errno. Called by
	 * wg_device_apply before anything else changes, so a failure changes nothing. */
	int (*bind)(void *ctx, uint16_t port, uint32_t fwmark);
	/* Optional hooks (may be NULL), called on the control thread, except endpoint_moved: */
	/* a local index starts or stops being able to receive data (XDP sessions map) */
	void (*session_add)(void *ctx, uint32_t local_index, struct wg_peer *peer);
	void (*session_del)(void *ctx, uint32_t local_index);
	/* a peer's endpoint (or its cached local source) moved after an authenticated packet (old
	 * may be unset). Runs on the thread that authenticated the packet: a data-path worker
	 * for transport data, the control thread for handshakes. Keep it short and thread-safe. */
	void (*endpoint_moved)(void *ctx, struct wg_peer *peer, const struct wg_endpoint *old,
			       const struct wg_endpoint *new_ep);
	void (*peer_added)(void *ctx, struct wg_peer *peer);
	void (*peer_removed)(void *ctx, struct wg_peer *peer);
	/* A real move (a set endpoint changed address or port; not a first learned endpoint, not
	 * a cached-source change), after endpoint_moved has run, on the same thread. Optional. */
	void (*peer_moved)(void *ctx, const struct wg_peer_move *m);
};

struct wg_device_opts {
	const struct wg_io_ops *ops;
	void *io_ctx;
	/* monotonic nanoseconds; NULL = CLOCK_MONOTONIC (tests pass a fake clock) */
	uint64_t (*clock)(void *clock_ctx);
	void *clock_ctx;
	/* name for logs */
	const char *name;
};

/* A multipath peer's sources other than its endpoint, as a gateway keeps them (at most max;
 * none for a client, whose paths are its own uplinks, nor for a peer that left the policy).
 * -1 for a peer that never kept several paths. */
int wg_peer_get_paths(struct wg_peer *peer, struct wg_endpoint *out, size_t max);

/* A multipath peer's probe interval (wg_device_set_path_probe). */
enum wg_path_probe_limits {
	WG_PATH_PROBE_MIN_MS = 50,
	WG_PATH_PROBE_MAX_MS = 3600000,
	WG_PATH_PROBE_DEFAULT_MS = 1000,
};

/* One uplink of a client device (wg_device_set_uplinks): a path for its multipath peers. */
struct wg_uplink {
	int ifindex;
	char name[16];
	bool has4, has6;
	struct in_addr addr4; /* the source address to use on it */
	struct in6_addr addr6;
};

struct wg_device *wg_device_new(const struct wg_device_opts *opts);
/* Removes every peer (wiping keys) and frees the device. */
void wg_device_free(struct wg_device *dev);

/* --- data path: any thread, through its own path --- */

struct wg_path;
/* A path for one data-path thread (io_ctx is given back to each op), or NULL on ENOMEM. The
 * device must outlive it. Free it on the thread that used it, or after that thread stopped. */
struct wg_path *wg_path_new(struct wg_device *dev, const struct wg_path_ops *ops, void *io_ctx);
void wg_path_free(struct wg_path *p);
/* The device's own path: its wg_io_ops' send and deliver. For the control thread and tests. */
struct wg_path *wg_device_path(struct wg_device *dev);
/* Before wg_device_rx: when the datagram reached XDP and when the worker took it off its ring
 * (CLOCK_MONOTONIC ns, 0: unknown); a move it causes reports them (struct wg_peer_move). */
void wg_path_set_rx_times(struct wg_path *p, uint64_t xdp_ns, uint64_t picked_ns);
/* After a batch of wg_device_rx calls (wg_device_tx_batch does it itself), before the thread
 * waits for more: the path's cipher and MAC contexts forget the keys they last held, so no
 * transport key or cookie secret outlives its use in memory the crypto library owns. */
void wg_path_batch_end(struct wg_path *p);

/* One UDP datagram from src. buf may be modified (decrypted in place). True when it was a data
 * message that authenticated (decrypted and passed the replay check): only then may a back-end
 * learn anything from it, such as the next hop's MAC. Handshake messages are queued: false. */
bool wg_device_rx(struct wg_path *p, uint8_t *buf, size_t len, const struct wg_endpoint *src);
/* CLOCK_MONOTONIC in nanoseconds: the device's clock unless a test gave it another, and the
 * clock of bpf_ktime_get_ns. */
uint64_t wg_monotonic_ns(void);

/* One IP packet read from the TUN: encrypt and send to its peer, or stage it and start a
 * handshake. */
void wg_device_tx(struct wg_path *p, const uint8_t *pkt, size_t len);
/* IP packets read together, in order (the segments of one TUN super-packet): as wg_device_tx
 * on each, but each run of packets to one destination costs one route lookup, one peer and
 * keypair reference, one endpoint copy and one reservation of its nonces. */
void wg_device_tx_batch(struct wg_path *p, const struct iovec *pkts, size_t n);

/* --- control thread --- */

/* eventfd that becomes readable when handshake messages are queued. */
int wg_device_handshake_fd(const struct wg_device *dev);
/* Process up to budget queued handshake/cookie messages; returns how many. */
unsigned int wg_device_process_handshakes(struct wg_device *dev, unsigned int budget);
/* Run due timers. Returns milliseconds until it should be called again (at most 1000). */
int wg_device_tick(struct wg_device *dev);

/* Apply a change request atomically: either all of it or nothing. 0, or -errno with one
 * message in err naming what and why. */
int wg_device_apply(struct wg_device *dev, const struct conf_dev *req, char *err, size_t errlen);
/* A full snapshot including statistics; conf_free it. NULL on ENOMEM. */
struct conf_dev *wg_device_snapshot(struct wg_device *dev);
/* The same snapshot in pieces, for a reply that is streamed rather than built whole (a million
 * peers make ~300 MB of text): begin holds a reference to every peer of the moment (8 bytes
 * each); each next gives the device's fields and up to max peers the first time, then up to
 * max peers, NULL at the end (*err 0) or on ENOMEM (*err -ENOMEM); end drops the references.
 * A peer removed meanwhile is left out; one added meanwhile is not in this dump. Control
 * thread. */
struct wg_dump;
struct wg_dump *wg_device_dump_begin(struct wg_device *dev);
struct conf_dev *wg_device_dump_next(struct wg_dump *d, size_t max, int *err);
void wg_device_dump_end(struct wg_dump *d);

/* The route to peer's endpoint changed (or to every peer's, peer NULL): drop the cached source
 * and announce ourselves now: a keepalive if a session is valid, else a handshake initiation.
 * A keepalive is re-sent after 50, 100, 200 and 400 ms until any authenticated packet comes
 * back from the peer (timers.c): call wg_device_tick afterwards and re-arm the tick with its
 * answer, the next tick may be due in 50 ms. */
void wg_device_announce(struct wg_device *dev, struct wg_peer *peer);
/* How many peers are configured (a racy read: for decisions that a stale count cannot hurt). */
size_t wg_device_peer_count(const struct wg_device *dev);

/* wg_device_announce for the peer with this public key (control thread). false: no such peer. */
bool wg_device_announce_key(struct wg_device *dev, const uint8_t pub[WG_KEY_LEN]);

/* The allowed IPs of the peer with this public key, into *out (an array to free(), *n entries;
 * NULL and 0 for none). 0, -ENOENT when there is no such peer, or -ENOMEM. Control thread. */
int wg_device_peer_allowedips(struct wg_device *dev, const uint8_t pub[WG_KEY_LEN],
			      struct conf_allowedip **out, size_t *n);

/* Per-reason drop counters (racy reads are fine). */
void wg_device_drop_counts(const struct wg_device *dev, uint64_t out[WG_DROP_REASON_MAX]);
const char *wg_drop_reason_name(enum wg_drop_reason r);

/* A peer's transmit counters (what `wg show` prints), for a back-end that keeps a copy. peer is
 * valid until the control thread next removes peers. */
struct wg_peer_tx {
	uint32_t id;
	uint64_t tx_packets, tx_bytes;
	struct wg_peer *peer;
};
/* Every peer's counters into *arr (grown as needed; *cap its room), in id order. The number of
 * entries or -ENOMEM. Control thread. */
ssize_t wg_device_peers_tx(struct wg_device *dev, struct wg_peer_tx **arr, size_t *cap);
/* The same for the peers that own a receiver index (a handshake in flight or a keypair): the
 * only ones whose counters can have moved since a full walk. Control thread. */
ssize_t wg_device_active_peers_tx(struct wg_device *dev, struct wg_peer_tx **arr, size_t *cap);

/* Peer accessors for back-ends and hooks. */
const uint8_t *wg_peer_public_key(const struct wg_peer *peer);
/* A small stable number for this peer while it exists (BPF peers map key). */
uint32_t wg_peer_id(const struct wg_peer *peer);
void wg_peer_get_endpoint(struct wg_peer *peer, struct wg_endpoint *out);

/* --- appended by the protocol engine --- */

/* In a gateway cluster (docs/cluster.md): put this gateway's id (1..63; 0: no cluster, the
 * default) in the top bits of every receiver index handed out from now on
 * (XDPWG_GW_ID_SHIFT), so that any member can tell whose keys a packet needs. -EINVAL for an
 * id out of range; -EBUSY when the id would change while receiver indexes are out (a handshake
 * in flight or a session): set it before any peer talks. Control thread. */
int wg_device_set_gateway_id(struct wg_device *dev, unsigned int id);
unsigned int wg_device_gateway_id(struct wg_device *dev);
/* The TUN's MTU: padding never grows a packet past it (default 1420). Any thread. */
void wg_device_set_mtu(struct wg_device *dev, unsigned int mtu);
/* The uplinks of a multipath client, in order of preference (at most 4 are used; n 0: a
 * gateway, whose paths are its peers' sources). Control thread. */
void wg_device_set_uplinks(struct wg_device *dev, const struct wg_uplink *up, size_t n);
/* How many peers have the multipath or redundant policy (any thread). */
unsigned int wg_device_multipath_peers(struct wg_device *dev);
/* How often each path of a multipath peer is probed (ms, 50..3600000). -EINVAL. */
int wg_device_set_path_probe(struct wg_device *dev, unsigned int ms);
/* Tests only: behave as under load (cookie replies for messages without a valid mac2) until
 * switched off. */
void wg_device_set_under_load_for_test(struct wg_device *dev, bool on);
/* Whether the device is under load now (deep handshake queue, or was within the last second):
 * the XDP back-end mirrors it into the program's config. Any thread. */
bool wg_device_under_load(struct wg_device *dev);
/* The peer's roam policy is "pinned": its endpoint never follows packets (BPF peers map flag). */
bool wg_peer_roam_pinned(struct wg_peer *peer);
/* The peer was removed from its device (any thread; a hook or a worker may still hold it). A
 * back-end that writes state for a peer checks this after the write and undoes it when true, so
 * a write racing the removal cannot outlive the peer_removed hook. */
bool wg_peer_is_dead(const struct wg_peer *peer);

#endif
