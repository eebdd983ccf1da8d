/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The engine's private view of a device: struct wg_device and the functions the engine's files
 * share around it. Nothing outside engine/ includes this (scripts/layers.sh checks it); the
 * back-ends and the daemon see only device.h.
 *
 * Locking, from outermost:
 *   dev->lock (rwlock)          the peer list, the allowed-IPs table, the static identity and the
 *                               checker's mac1 key. Workers read; the control thread writes.
 *   index table's rwlock        local indexes (see index.h).
 *   peer->keypairs.lock (spin)  current/previous/next slots.
 *   peer->endpoint_lock (spin)  endpoint, cached source, roam policy.
 *   keypair->replay_lock (spin) one replay window.
 *   peer->staged_lock (mutex)   the staged packet queue.
 * Handshake and cookie state belong to the control thread and take no lock.
 */
#ifndef XDPWG_INTERNAL_H
#define XDPWG_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "device.h"
#include "endpoint.h"
#include "messages.h"

struct allowedips;
struct cookie_checker;
struct index_table;
struct noise_static_identity;
struct ratelimiter;
struct crypto_ctx;

/* A data-path thread's context (device.h). */
struct wg_path {
	struct wg_device *dev;
	struct wg_path_ops ops;
	void *ctx;
	/* the datagram being received: when it reached XDP, when the worker picked it up */
	uint64_t rx_xdp_ns, rx_picked_ns;
	struct crypto_ctx *crypto; /* its own cipher and MAC contexts */
	uint8_t *scratch;	   /* SEND_SCRATCH_LEN bytes, when the back-end lends no room */
};

struct handshake_queue_entry {
	uint16_t len;
	struct wg_endpoint src;
	uint8_t buf[WG_MSG_INITIATION_LEN];
};

struct wg_device {
	struct wg_io_ops ops;
	void *io_ctx;
	/* the device's own path (ops.send/deliver): the control thread's */
	struct wg_path *path;
	uint64_t (*clock)(void *clock_ctx);
	void *clock_ctx;
	char name[32];
	/* with a fake clock: wall clock = clock + this, so timestamps move with it */
	int64_t wall_offset_ns;

	pthread_rwlock_t lock;
	struct wg_peer *peers;
	size_t n_peers;
	/* public key -> peer, for initiations and configuration (control thread only). One
	 * bucket per peer the device may hold: with 2^16, a million peers made chains of 15, and
	 * walking them (a cache miss per peer) was a quarter of a million-peer load in sets of 100
	 * (issue #21). 8 MB of address space; calloc maps it untouched, so a bucket page is only
	 * resident once a key hashes into it. */
	struct wg_peer *peers_by_key[MAX_PEERS_PER_DEVICE];
	/* the last of dev->peers (device.c appends in O(1); NULL when empty) */
	struct wg_peer *peers_last;
	/* the peers with a timer armed or a handshake wanted (ticklist.c): pushed by any thread,
	 * moved into the array by the control thread */
	_Atomic(struct wg_peer *) tick_push;
	struct wg_peer **tick;
	size_t n_tick, cap_tick;
	uint32_t next_peer_id;
	uint64_t next_internal_id;
	struct allowedips *allowedips;
	struct index_table *index;
	struct ratelimiter *ratelimiter;
	/* secure memory: the private key, the cookie secret */
	struct noise_static_identity *identity;
	struct cookie_checker *checker;

	uint16_t listen_port;
	uint32_t fwmark;
	bool bound;
	atomic_uint mtu;
	/* a multipath client's uplinks (control thread) and the probe interval (ms) */
	struct wg_uplink uplinks[4];
	unsigned int n_uplinks;
	atomic_uint path_probe_ms;
	atomic_uint mp_peers; /* peers with a multipath policy */

	/* handshake messages from workers to the control thread, under queue_lock: the queue, and
	 * the priority lane drained before it (messages with a valid mac2) */
	pthread_mutex_t queue_lock;
	struct handshake_queue_entry *queue;
	unsigned int queue_head;
	atomic_uint queue_len;
	struct handshake_queue_entry *prio_queue;
	unsigned int prio_head;
	atomic_uint prio_len;
	int event_fd;
	atomic_uint_fast64_t last_under_load;
	atomic_bool forced_under_load;
	/* control thread: an "under load" episode being reported (its deepest queue and the
	 * cookie replies sent count when it ends), and the rate limit of the log line for
	 * initiations from an unknown static key (receive.c) */
	bool load_reported;
	unsigned int load_max_depth;
	uint64_t load_cookies_at_start;
	uint64_t unknown_key_logged, unknown_key_seen;
	atomic_bool handshake_wanted;

	/* local indexes whose keypair left the table on a worker: session_del on the control
	 * thread, which alone calls the hooks */
	pthread_mutex_t gone_lock;
	uint32_t *gone;
	size_t n_gone, cap_gone;

	atomic_uint_fast64_t drops[WG_DROP_REASON_MAX];
};

/* device.c: the device as the engine's own files see it */
uint64_t wg_device_now(const struct wg_device *dev);
int64_t wg_device_wall_ns(const struct wg_device *dev);
void wg_device_count_drop(struct wg_device *dev, enum wg_drop_reason r);
void wg_device_signal(struct wg_device *dev);
void wg_device_session_gone(struct wg_device *dev, uint32_t local_index);
struct wg_peer *wg_device_lookup_peer(struct wg_device *dev, const uint8_t pub[WG_KEY_LEN]);
void wg_device_unhash_peer(struct wg_device *dev, struct wg_peer *peer);
/* path.c */
int path_send_data(struct wg_path *p, const struct wg_endpoint *dst, const uint8_t *buf,
		   size_t len);

/* device.c, for device_conf.c */
void device_flush_gone(struct wg_device *dev);
void device_hash_peer(struct wg_device *dev, struct wg_peer *peer);
void device_remove_peer_locked(struct wg_device *dev, struct wg_peer *peer);
/* device_conf.c, for device_dump.c */
void device_snapshot_dev(struct wg_device *dev, struct conf_dev *c);
int device_snapshot_peer(struct wg_device *dev, struct wg_peer *p, struct conf_dev *c);

#endif
