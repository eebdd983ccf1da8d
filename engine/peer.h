/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The engine's internals: struct wg_peer and struct wg_device as noise, cookie, timers, send,
 * receive and device share them. Nothing outside the protocol engine includes this; the rest of
 * the daemon sees only device.h.
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
#include "noise.h"

struct allowedips;
struct ratelimiter;

/* See the table at the top of timers.c. */
enum timers_id {
	TIMER_RETRANSMIT_HANDSHAKE,
	TIMER_SEND_KEEPALIVE,
	TIMER_NEW_HANDSHAKE,
	TIMER_ZERO_KEY_MATERIAL,
	TIMER_PERSISTENT_KEEPALIVE,
	TIMER_REANNOUNCE,
	TIMER_MAX,
};

/* What the initiator saw of its handshake attempts since the last completed handshake (or since
 * it gave up): the "did not complete" log line names a likely cause from it. Control thread. */
struct peer_hs_watch {
	int64_t since_handshake;	/* walltime_last_handshake when the window opened */
	unsigned int tries;		/* initiations handed to the back-end */
	unsigned int send_errors;	/* of those, refused by the back-end */
	int last_errno;			/* the last refusal's errno */
	unsigned int cookies;		/* cookie replies that decrypted: the peer is under load */
	unsigned int bad_replies;	/* replies to our initiation that did not authenticate */
	unsigned int foreign_replies;	/* replies to it from an address we did not send to */
	unsigned int foreign_bad;	/* of those, the ones that did not authenticate */
	unsigned int next_report;	/* tries before the next info line */
	struct wg_endpoint sent_to;	/* where the last initiation went */
	struct wg_endpoint foreign_src; /* the last reply from elsewhere */
};

/* The likely cause of a handshake that does not complete, most telling first. */
enum peer_hs_cause {
	PEER_HS_CAUSE_NONE,	     /* nothing sent yet */
	PEER_HS_CAUSE_FOREIGN_REPLY, /* unauthenticated replies from another address */
	PEER_HS_CAUSE_BAD_REPLY,     /* replies did not authenticate: PSK or key mismatch */
	PEER_HS_CAUSE_COOKIE_ONLY,   /* only cookie replies: the peer is under load */
	PEER_HS_CAUSE_SEND_ERROR,    /* every initiation was refused locally (errno) */
	PEER_HS_CAUSE_NO_REPLY,	     /* nothing at all came back */
};

struct peer_staged_packet {
	size_t len;
	uint8_t data[];
};

/* Allocated whole in crypto_secure_alloc memory: the handshake and cookie state are secrets. */
struct wg_peer {
	struct wg_device *dev;
	struct wg_peer *next_peer;   /* dev->peers list; written under dev->lock */
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
	/* control thread: the initiation in flight was resent on a cookie reply already */
	bool cookie_resent;
	struct peer_hs_watch hs_watch;
	/* A keepalive announce waiting for any authenticated packet back: 0 when none, else 1 +
	 * the re-sends so far. The control thread starts and advances it, a receive (any thread)
	 * ends it. */
	atomic_uint announce_state;

	pthread_mutex_t staged_lock;
	struct peer_staged_packet *staged[WG_MAX_STAGED_PACKETS];
	unsigned int staged_head, staged_len;
	atomic_uint staged_count;
};

struct handshake_queue_entry {
	uint16_t len;
	struct wg_endpoint src;
	uint8_t buf[WG_MSG_INITIATION_LEN];
};

struct wg_device {
	struct wg_io_ops ops;
	void *io_ctx;
	uint64_t (*clock)(void *clock_ctx);
	void *clock_ctx;
	char name[32];
	/* with a fake clock: wall clock = clock + this, so timestamps move with it */
	int64_t wall_offset_ns;

	pthread_rwlock_t lock;
	struct wg_peer *peers;
	size_t n_peers;
	/* public key -> peer, for initiations and configuration (control thread only) */
	struct wg_peer *peers_by_key[1U << 16];
	/* the last of dev->peers (device.c appends in O(1); NULL when empty) */
	struct wg_peer *peers_last;
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

/* device.c */
uint64_t wg_device_now(const struct wg_device *dev);
int64_t wg_device_wall_ns(const struct wg_device *dev);
void wg_device_count_drop(struct wg_device *dev, enum wg_drop_reason r);
void wg_device_signal(struct wg_device *dev);
void wg_device_session_gone(struct wg_device *dev, uint32_t local_index);
struct wg_peer *wg_device_lookup_peer(struct wg_device *dev, const uint8_t pub[WG_KEY_LEN]);
void wg_device_unhash_peer(struct wg_device *dev, struct wg_peer *peer);

/* peer.c */
struct wg_peer *peer_create(struct wg_device *dev, const uint8_t public_key[WG_KEY_LEN],
			    const uint8_t preshared_key[WG_KEY_LEN]);
struct wg_peer *peer_get(struct wg_peer *peer);
void peer_put(struct wg_peer *peer);
/* Unlink (caller holds dev->lock for writing), wipe keys, drop staged packets. */
void peer_remove_locked(struct wg_peer *peer);
void peer_endpoint_copy(struct wg_peer *peer, struct wg_endpoint *out);
void peer_set_endpoint(struct wg_peer *peer, const struct wg_endpoint *ep);
/* An authenticated packet came from src: move there if the roam policy allows. True when the
 * peer really moved (not a first learned endpoint, not a new cached source only, not refused). */
bool peer_roam(struct wg_peer *peer, const struct wg_endpoint *src);
/* peer_roam for transport data: a real move is left in *m, not yet reported, for
 * peer_roam_ack once the packet's keypair is confirmed. */
bool peer_roam_deferred(struct wg_peer *peer, const struct wg_endpoint *src,
			struct wg_peer_move *m);
/* Acknowledge the move in m with a keepalive to the new endpoint (only under a valid sending
 * keypair), then report it (the peer_moved hook). The thread that authenticated the packet. */
void peer_roam_ack(struct wg_peer *peer, struct wg_peer_move *m);
void peer_clear_endpoint_src(struct wg_peer *peer);
int peer_set_roam_policy(struct wg_peer *peer, enum conf_roam_policy policy,
			 const struct conf_allowedip *cidrs, size_t n);
/* Ask the control thread for an initiation (any thread). */
void peer_request_handshake(struct wg_peer *peer);
void peer_purge_staged(struct wg_peer *peer);

/* timers.c */
void timers_init(struct wg_peer *peer, uint64_t now);
void timers_data_sent(struct wg_peer *peer);
void timers_data_received(struct wg_peer *peer);
void timers_any_authenticated_packet_sent(struct wg_peer *peer);
void timers_any_authenticated_packet_received(struct wg_peer *peer);
void timers_any_authenticated_packet_traversal(struct wg_peer *peer);
void timers_handshake_initiated(struct wg_peer *peer);
void timers_handshake_complete(struct wg_peer *peer);
void timers_session_derived(struct wg_peer *peer);
void timers_stop(struct wg_peer *peer);
/* A keepalive announce went out (control thread): re-send it on a short backoff until any
 * authenticated packet comes back. */
void timers_announce_sent(struct wg_peer *peer);
/* Forget an announce in progress (a handshake initiation replaced it). */
void timers_announce_cancel(struct wg_peer *peer);
/* Fire what is due for peer; returns the next deadline (0: none). Control thread. */
uint64_t timers_run(struct wg_peer *peer, uint64_t now);
/* The handshake watch (control thread): an initiation was handed to the back-end for `to`
 * (ret: its 0 or -errno); a reply to our initiation arrived from src, authenticated (a cookie
 * that decrypted) or not. */
void timers_watch_sent(struct wg_peer *peer, const struct wg_endpoint *to, int ret);
void timers_watch_cookie(struct wg_peer *peer, const struct wg_endpoint *src);
void timers_watch_bad_reply(struct wg_peer *peer, const struct wg_endpoint *src);
enum peer_hs_cause timers_watch_cause(struct wg_peer *peer);
/* The cause in words, for the log: buf, always NUL-terminated. */
const char *timers_watch_describe(struct wg_peer *peer, char *buf, size_t len);

/* send.c */
void send_handshake_initiation(struct wg_peer *peer, bool is_retry);
/* A cookie reply answered the initiation in flight: resend it now with its mac2, at most once
 * per initiation (an xdpwg extension; see send.c). */
void send_handshake_initiation_cookie_retry(struct wg_peer *peer);
void send_handshake_response(struct wg_peer *peer);
void send_handshake_cookie(struct wg_device *dev, const uint8_t *msg, size_t len,
			   uint32_t sender_index, const struct wg_endpoint *src);
void send_keepalive(struct wg_peer *peer);
void send_staged_packets(struct wg_peer *peer);
/* The current keypair is marked valid for sending (its age not looked at). */
bool send_session_valid(struct wg_peer *peer);
/* ... and not expired either: a packet sent now goes out under it instead of being staged
 * behind a new handshake (an expired keypair is retired on the way, as the send path would). */
bool send_session_usable(struct wg_peer *peer);
/* Encrypt and send one packet now if a keypair allows; false if it must be staged. */
bool send_packet_fast(struct wg_peer *peer, const uint8_t *pkt, size_t len);
void send_stage_packet(struct wg_peer *peer, const uint8_t *pkt, size_t len);
int send_buffer_to_peer(struct wg_peer *peer, const uint8_t *buf, size_t len);

/* receive.c */
bool receive_data(struct wg_device *dev, uint8_t *buf, size_t len, const struct wg_endpoint *src);
void receive_handshake(struct wg_device *dev, struct handshake_queue_entry *e);
/* Report the end of an "under load" episode (control thread, each tick). */
void receive_load_tick(struct wg_device *dev);

#endif
