/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A peer: struct wg_peer as noise, cookie, timers, send, receive and device share it, and the
 * peer's lifecycle, endpoint and roaming (peer.c). The device's side is internal.h. Nothing
 * outside the protocol engine includes this; the rest of the daemon sees only device.h.
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
#ifndef XDPWG_PEER_H
#define XDPWG_PEER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "cookie.h"
#include "device.h"
#include "endpoint.h"
#include "internal.h"
#include "multipath.h"
#include "noise.h"

struct allowedips;
struct mpath_set;
struct ratelimiter;

/* See the table at the top of timers.c. */
enum timers_id {
	TIMER_RETRANSMIT_HANDSHAKE,
	TIMER_SEND_KEEPALIVE,
	TIMER_NEW_HANDSHAKE,
	TIMER_ZERO_KEY_MATERIAL,
	TIMER_PERSISTENT_KEEPALIVE,
	TIMER_REANNOUNCE,
	TIMER_PATH,
	TIMER_MAX,
};

/* What the initiator saw of its handshake attempts since the last completed handshake (or since
 * it gave up): the "did not complete" log line names a likely cause from it. Control thread.
 *
 * Only what nobody else can fake decides the cause: our own sends and their errors, and the
 * absence of an authenticated reply (an authenticated one completes the handshake and closes
 * the window). Everything that arrived without authenticating the peer is counted apart, as
 * unauthenticated: a response needs only a valid mac1 (keyed by our public key) and the
 * initiation's sender index, both on the wire, and a cookie reply only the peer's public key
 * and our mac1, so anyone who saw an initiation can send them. They are reported as seen and
 * never choose the cause (issue #15). */
struct peer_hs_watch {
	int64_t since_handshake;  /* walltime_last_handshake when the window opened */
	unsigned int tries;	  /* initiations handed to the back-end */
	unsigned int send_errors; /* of those, refused by the back-end */
	int last_errno;		  /* the last refusal's errno */
	/* unauthenticated, reported but never deciding the cause: */
	unsigned int cookies;		/* cookie replies to it that decrypted */
	unsigned int bad_replies;	/* replies to our initiation that did not authenticate */
	unsigned int foreign_replies;	/* of both, those from an address we did not send to */
	unsigned int next_report;	/* tries before the next info line */
	struct wg_endpoint sent_to;	/* where the last initiation went */
	struct wg_endpoint foreign_src; /* the last unauthenticated reply from elsewhere */
};

/* The likely cause of a handshake that does not complete: only causes nobody off the path can
 * fake (see struct peer_hs_watch). */
enum peer_hs_cause {
	PEER_HS_CAUSE_NONE,	  /* nothing sent yet */
	PEER_HS_CAUSE_SEND_ERROR, /* every initiation was refused locally (errno) */
	PEER_HS_CAUSE_NO_REPLY,	  /* no authenticated reply */
};

enum peer_mp_mode {
	PEER_MP_OFF = 0,
	PEER_MP_MULTIPATH = 1,
	PEER_MP_REDUNDANT = 2,
};

struct peer_staged_packet {
	size_t len;
	uint8_t data[];
};

/* Allocated whole in crypto_secure_alloc memory: the handshake and cookie state are secrets. */
struct wg_peer {
	struct wg_device *dev;
	struct wg_peer *next_peer;   /* dev->peers list; written under dev->lock */
	struct wg_peer *prev_peer;   /* the same list backwards: a removal is O(1), not a walk */
	struct wg_peer *next_by_key; /* dev->peers_by_key chain; control thread */
	uint32_t id;
	uint64_t internal_id;
	atomic_int refcount;
	atomic_bool is_dead;
	char name[16]; /* a base64 prefix of the public key, for logs */

	struct noise_handshake handshake;
	struct noise_keypairs keypairs;
	struct cookie latest_cookie;

	pthread_spinlock_t endpoint_lock;
	struct wg_endpoint endpoint;
	/* the endpoint was configured (set, a config file), not learned: we reach out to this peer
	 * (a multipath client's role needs it) */
	bool endpoint_configured;
	enum conf_roam_policy roam_policy;
	struct conf_allowedip *roam_cidrs;
	size_t n_roam_cidrs;

	atomic_uint_fast64_t rx_bytes, tx_bytes;
	atomic_uint_fast64_t tx_packets; /* for the BPF peers map (peer_sync.c) */
	atomic_uint_fast64_t endpoint_moves;
	/* datagrams sent since the last authenticated receive: what went to an old endpoint */
	atomic_uint_fast64_t tx_since_rx;
	atomic_int_fast64_t last_move_wall_ns;
	atomic_int_fast64_t walltime_last_handshake;
	_Atomic uint16_t persistent_keepalive_interval;

	/* Timers as deadlines (monotonic ns, 0 = not armed): the data path arms and disarms them
	 * with atomics, wg_device_tick fires them on the control thread. */
	atomic_uint_fast64_t timers[TIMER_MAX];
	atomic_bool timer_need_another_keepalive;
	atomic_bool sent_lastminute_handshake;
	atomic_uint timer_handshake_attempts;
	atomic_uint_fast64_t last_sent_handshake;
	/* a worker wants an initiation sent (no usable keypair, or time to rekey) */
	atomic_bool handshake_wanted;
	/* on the tick's list (ticklist.c), and the link of its push stack */
	atomic_bool ticking;
	struct wg_peer *next_tick;
	/* control thread: the initiation in flight was resent on a cookie reply already */
	bool cookie_resent;
	struct peer_hs_watch hs_watch;
	/* A keepalive announce waiting for any authenticated packet back: 0 when none, else 1 +
	 * the re-sends so far. The control thread starts and advances it, a receive (any thread)
	 * ends it. */
	atomic_uint announce_state;

	/* several paths (multipath.h): the set under endpoint_lock, made when the policy first
	 * asks for it; the mode and counters for the data path without the lock */
	struct mpath_set *mp;
	atomic_uchar mp_mode; /* enum peer_mp_mode */
	atomic_uint_fast64_t mp_last_data_ns;
	atomic_uint_fast64_t mp_copy_bytes, mp_dups;

	pthread_mutex_t staged_lock;
	/* A ring of WG_MAX_STAGED_PACKETS, allocated by the first packet staged and freed when it
	 * drains: inline it was 1 KiB of a 2 KiB peer, a gigabyte over a million idle peers. */
	struct peer_staged_packet **staged;
	unsigned int staged_head, staged_len;
	atomic_uint staged_count;
};

/* peer.c */
struct wg_peer *peer_create(struct wg_device *dev, const uint8_t public_key[WG_KEY_LEN],
			    const uint8_t preshared_key[WG_KEY_LEN]);
struct wg_peer *peer_get(struct wg_peer *peer);
void peer_put(struct wg_peer *peer);
/* Unlink (caller holds dev->lock for writing), wipe keys, drop staged packets. */
void peer_remove_locked(struct wg_peer *peer);
void peer_endpoint_copy(struct wg_peer *peer, struct wg_endpoint *out);
void peer_set_endpoint(struct wg_peer *peer, const struct wg_endpoint *ep);
/* An authenticated packet came from src (control thread: handshakes): move there if the roam
 * policy allows. True when the
 * peer really moved (not a first learned endpoint, not a new cached source only, not refused). */
bool peer_roam(struct wg_peer *peer, const struct wg_endpoint *src);
/* peer_roam for transport data: a real move is left in *m, not yet reported, for
 * peer_roam_ack once the packet's keypair is confirmed. */
bool peer_roam_deferred(struct wg_path *path, struct wg_peer *peer, const struct wg_endpoint *src,
			enum mpath_rx_kind kind, struct wg_peer_move *m);
/* Acknowledge the move in m with a keepalive to the new endpoint (only under a valid sending
 * keypair), then report it (the peer_moved hook). The thread that authenticated the packet. */
void peer_roam_ack(struct wg_path *path, struct wg_peer *peer, struct wg_peer_move *m);
void peer_clear_endpoint_src(struct wg_peer *peer);
int peer_set_roam_policy(struct wg_peer *peer, enum conf_roam_policy policy,
			 const struct conf_allowedip *cidrs, size_t n);
/* Ask the control thread for an initiation (any thread). */
void peer_request_handshake(struct wg_peer *peer);
void peer_purge_staged(struct wg_peer *peer);

#endif
