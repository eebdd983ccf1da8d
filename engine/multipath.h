/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Several paths per peer (roam policies multipath and redundant, an xdpwg extension; see
 * docs/roaming.md "Silent path failures"). Two roles, chosen by the device:
 *
 *   client   the device was given uplinks (wg_device_set_uplinks): each uplink is one path to
 *            the peer's one endpoint. The client probes every path with keepalives, declares
 *            the active one dead when it stops answering, and moves to the best live one.
 *   gateway  no uplinks: the paths are the peer's recent authenticated sources. The gateway
 *            sends on the one the client uses for data, answers probes on the path they came
 *            by, and never moves on a probe.
 *
 * Everything is ordinary WireGuard messages: probes, answers and announces are keepalives.
 * State lives in peer->mp under peer->endpoint_lock.
 */
#ifndef XDPWG_MULTIPATH_H
#define XDPWG_MULTIPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.h"
#include "endpoint.h"

struct wg_path;
struct wg_peer;
struct wg_device;

enum mpath_constants {
	MPATH_MAX = 4, /* paths per peer: uplinks of a client, sources at a gateway */
	/* client: the tick that sends probes and reads their timeouts */
	MPATH_TICK_MS = 10,
	/* client: a probe unanswered this long is lost: the smoothed round trip plus four times
	 * its variation (RFC 6298's retransmission timeout), at least a margin for a busy
	 * receiver, within these bounds; before the first answer, MPATH_TIMEOUT_INIT_MS */
	MPATH_TIMEOUT_MIN_MS = 60,
	MPATH_TIMEOUT_MAX_MS = 1500,
	MPATH_TIMEOUT_MARGIN_MS = 30,
	MPATH_TIMEOUT_INIT_MS = 500,
	/* client: this many unanswered probes in a row, nothing else heard: the path is dead */
	MPATH_DEAD_MISSES = 2,
	/* client: while data flows on the active path, it is probed this much more often, so
	 * that its round trip is known when it degrades (a probe per 250 ms at the default) */
	MPATH_BUSY_DIVISOR = 4,
	/* client: after a move, no move for quality (only for death) for this long */
	MPATH_HOLD_MS = 5000,
	/* client: a quality move needs the other path's round trip to be this much better:
	 * rtt_active > 2 * rtt_other + MPATH_BETTER_MS */
	MPATH_BETTER_MS = 50,
	/* gateway: two keepalives from one standby source this close together are the client's
	 * announce (a probe is one keepalive per probe interval, at least 50 ms apart) */
	MPATH_ANNOUNCE_PAIR_MS = 40,
	/* gateway: at most one answer per path this often (a flood of replayed keepalives cannot
	 * happen, they do not authenticate, but a buggy client must not make us a reflector) */
	MPATH_ECHO_MIN_MS = 20,
	/* gateway: a source is live (redundant copies go to it) while heard within three of the
	 * client's probe intervals as its keepalives show them, at least MPATH_LIVE_MIN_MS (a
	 * probe every second: 3 s) and at most MPATH_LIVE_MAX_MS (a stock client's 25 s
	 * keepalive, or none at all) */
	MPATH_LIVE_MIN_MS = 3000,
	/* redundant: a counter seen again this close to the newest is the other path's copy, not
	 * a replay (a path's lead, at 100,000 packets a second, of 2.5 ms) */
	MPATH_DUP_WINDOW = 256,
	MPATH_LIVE_MAX_MS = 10000,
	/* gateway: a source not heard for this long is forgotten (a client probes every path
	 * every second by default; a stock one keeps alive every 25 s at most) */
	MPATH_FORGET_MS = 90000,
	/* client without a session: this long before an unanswered initiation's retransmit
	 * (REKEY_TIMEOUT plus jitter), move to the next uplink */
	MPATH_HS_EARLY_MS = 100,
	/* default probe interval, and its bounds */
	MPATH_PROBE_DEFAULT_MS = WG_PATH_PROBE_DEFAULT_MS,
	MPATH_PROBE_MIN_MS = WG_PATH_PROBE_MIN_MS,
	MPATH_PROBE_MAX_MS = WG_PATH_PROBE_MAX_MS,
};

enum mpath_state {
	MPATH_LIVE = 0,
	MPATH_DEAD = 1,
	MPATH_UNKNOWN = 2, /* client: never answered yet */
};

/* What a received packet was, for the gateway's move decision. */
enum mpath_rx_kind {
	MPATH_RX_HANDSHAKE,
	MPATH_RX_DATA,
	MPATH_RX_KEEPALIVE,
};

struct mpath {
	struct wg_endpoint ep; /* where to send: the peer, from this uplink / this source */
	int uplink;	       /* client: the uplink's ifindex; 0 at a gateway */
	char ifname[16];       /* client: the uplink's name */
	enum mpath_state state;
	uint64_t last_rx_ns;	/* last authenticated packet over it */
	uint64_t last_ka_ns;	/* gateway: last keepalive over it (announce pairs) */
	uint64_t prev_ka_ns;	/* gateway: the keepalive before that */
	uint64_t ka_gap_ns;	/* gateway: between its last two keepalives (the probe interval) */
	uint64_t last_echo_ns;	/* gateway: last answer to a probe */
	uint64_t probe_ns;	/* client: the outstanding probe's send time, 0: none */
	uint64_t last_probe_ns; /* client: the last probe's send time */
	uint32_t srtt_us;	/* client: smoothed round trip of probe answers, 0: unknown */
	uint32_t rttvar_us;	/* client: its mean deviation (how jittery the path is) */
	uint8_t misses;		/* client: unanswered probes in a row with nothing heard */
	uint8_t loss_bits;	/* client: the last 8 probes, a bit set for each unanswered */
	uint64_t rx_packets, tx_packets;
};

struct mpath_set {
	struct mpath p[MPATH_MAX];
	unsigned int n;
	bool client;		 /* the device has uplinks: the paths are ours, not the peer's */
	int active;		 /* client: index into p, -1: none (a gateway's is its endpoint) */
	unsigned int generation; /* gateway: bumped when the set of sources changes */
	uint64_t moved_ns;	 /* client: the last move */
	uint64_t moves;		 /* client: path moves (xdpwgctl show "path moves") */
	uint64_t last_data_ns;	 /* client: data sent or received on the active path */
	uint64_t hs_rotated;	 /* client: the initiation (its send time) whose silence moved us */
	/* client: when our last initiation went, until a session is usable (0: none in flight).
	 * Not the peer's last_sent_handshake: that one starts REKEY_TIMEOUT in the past so that
	 * the first initiation may go at once, and also counts responses. */
	uint64_t hs_sent_ns;
};

/* Whether the policy keeps several paths. */
bool mpath_policy(int roam_policy);
/* The policy no longer keeps several paths: forget them, and a client's uplink is the kernel's
 * to choose again. Caller holds endpoint_lock. */
void mpath_leave_locked(struct wg_peer *peer);
/* The peer's policy is now roam_policy: its mode, the device's count of multipath peers, and
 * leaving the paths when it keeps one. Caller holds endpoint_lock. A removed peer: OFF. */
void mpath_set_mode_locked(struct wg_peer *peer, int roam_policy);
/* An empty set (NULL on ENOMEM), and the peer_mp_mode of a roam policy. */
struct mpath_set *mpath_set_new(void);
int mpath_mode(int roam_policy);
/* The peer's policy is (now) multipath or redundant: make its set (control thread; takes
 * endpoint_lock). -ENOMEM. */
int mpath_enable(struct wg_peer *peer);
/* Caller holds endpoint_lock. An authenticated packet of kind from src: note it; true when the
 * peer's endpoint may move to src (gateway role only; the caller then moves it). *set_changed:
 * a source joined the set (the back-end's copy needs it). */
bool mpath_rx_locked(struct wg_peer *peer, const struct wg_endpoint *src, enum mpath_rx_kind kind,
		     uint64_t now, bool *set_changed);
/* After an authenticated keepalive from src: answer it on its path (gateway role). Any thread. */
void mpath_echo(struct wg_path *path, struct wg_peer *peer, const struct wg_endpoint *src);
/* Data was sent to the peer (client role: the active path is busy). Any thread. */
void mpath_note_data(struct wg_peer *peer);
/* We sent an initiation to the peer (client role: unanswered, it moves us to another uplink).
 * Any thread. */
void mpath_note_initiation(struct wg_peer *peer, uint64_t now);
/* A data message just went to the active endpoint: redundant peers send copies on every other
 * path (a client: every other uplink, dead or not; a gateway: every live source). Any
 * thread. */
void mpath_send_copies(struct wg_path *path, struct wg_peer *peer, const uint8_t *buf, size_t len);
/* A replayed counter from a redundant peer, within MPATH_DUP_WINDOW of the greatest seen (top:
 * one more than it): a duplicate copy, counted (true) rather than a replay. Any thread. */
bool mpath_count_dup(struct wg_peer *peer, uint64_t counter, uint64_t top);
/* Client role: probes, timeouts, moves. Control thread; the next deadline (ns) or 0. */
uint64_t mpath_tick(struct wg_peer *peer, uint64_t now);
/* Client role: the device's uplinks changed (control thread). */
void mpath_uplinks_changed(struct wg_peer *peer);
/* Whether the peer's policy keeps several paths and its set exists. Caller holds
 * endpoint_lock. */
bool mpath_on_locked(const struct wg_peer *peer);
/* Client role: whether the peer's endpoint belongs to the path set (its cached source is
 * pinned to the active uplink, not the kernel's choice). Caller holds endpoint_lock. */
bool mpath_client_locked(const struct wg_peer *peer);
/* Client role: a route change asked to announce: re-pick if the active uplink is gone, and
 * announce on the active path. Control thread. */
void mpath_announce(struct wg_peer *peer);

/* Fill cp's paths and counters (get replies). Caller holds endpoint_lock. */
struct conf_peer;
void mpath_snapshot_locked(const struct wg_peer *peer, struct conf_peer *cp, uint64_t now);

#endif
