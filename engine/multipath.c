// SPDX-License-Identifier: GPL-2.0
/*
 * Several paths per peer: the roam policies multipath and redundant (multipath.h,
 * docs/roaming.md "Silent path failures").
 *
 * Why probes: a path that dies silently (WiFi associated with no upstream, an LTE modem that
 * keeps its carrier in a dead zone) changes no route, so nothing tells the client. Only the
 * absence of answers does, and a keepalive asks for none; so the gateway answers the keepalives
 * of a multipath peer, on the path they came by, and the client times them.
 *
 * Why an announce is two keepalives: the gateway must tell a probe on a standby path (stay)
 * from the client saying "this is my path now" (move), with nothing but keepalives on the wire.
 * Probes on one path are at least MPATH_PROBE_MIN_MS apart; an announce is two back to back.
 *
 * Timeline of a client's failover (the active path blackholed while data flows):
 *   t0        last packet heard on the active path
 *   t0 + T    silence: a probe (T = the probe timeout: srtt + max(4 * rttvar, 30 ms), at least 60 ms)
 *   t0 + 2T   unanswered: a second probe
 *   t0 + 3T   unanswered, nothing heard: dead; move to the best live path, announce there
 * While idle, the active path is probed every interval, so the bound is interval + 2T.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "multipath.h"
#include "peer.h"
#include "send.h"
#include "timers.h"

bool mpath_policy(int roam_policy)
{
	return roam_policy == CONF_ROAM_MULTIPATH || roam_policy == CONF_ROAM_REDUNDANT;
}

static uint64_t ms_ns(uint64_t ms)
{
	return ms * NSEC_PER_MSEC;
}

bool mpath_on_locked(const struct wg_peer *peer)
{
	return peer->mp && mpath_policy(peer->roam_policy);
}

bool mpath_client_locked(const struct wg_peer *peer)
{
	return mpath_on_locked(peer) && peer->mp->client;
}

/* The probe timeout of a path: its smoothed round trip and four times the round trip's
 * variation, or a margin when the path is steadier than that, bounded. A fixed multiple of
 * the round trip would call a jittery path (WiFi in power save, a loaded host) dead on its
 * first late answer while it still works; the variation learns the jitter. */
static uint64_t mpath_timeout_ns(const struct mpath *p)
{
	uint64_t var = (uint64_t)p->rttvar_us * 4 * 1000, t;

	if (!p->srtt_us)
		return ms_ns(MPATH_TIMEOUT_INIT_MS);
	if (var < ms_ns(MPATH_TIMEOUT_MARGIN_MS))
		var = ms_ns(MPATH_TIMEOUT_MARGIN_MS);
	t = (uint64_t)p->srtt_us * 1000 + var;

	if (t < ms_ns(MPATH_TIMEOUT_MIN_MS))
		t = ms_ns(MPATH_TIMEOUT_MIN_MS);
	if (t > ms_ns(MPATH_TIMEOUT_MAX_MS))
		t = ms_ns(MPATH_TIMEOUT_MAX_MS);
	return t;
}

static unsigned int mpath_loss8(const struct mpath *p)
{
	return (unsigned int)__builtin_popcount(p->loss_bits);
}

/* Point the peer's endpoint (what every send reads) at path i: its source and uplink. */
static void mpath_pin_locked(struct wg_peer *peer, int i)
{
	const struct mpath *p = &peer->mp->p[i];

	peer->mp->active = i;
	peer->endpoint.src6 = p->ep.src6;
	peer->endpoint.src_ifindex = p->ep.src_ifindex;
	peer->endpoint.out_ifindex = p->ep.out_ifindex;
}

/* Client: the path to move to, other than skip: live ones by round trip and loss (uplink order
 * breaks ties), else one that never answered yet (better than a dead one). -1: none. */
static int mpath_best_locked(const struct mpath_set *mp, int skip)
{
	int best = -1, unknown = -1;
	uint64_t best_score = 0;

	for (unsigned int i = 0; i < mp->n; i++) {
		const struct mpath *p = &mp->p[i];
		uint64_t score;

		if ((int)i == skip)
			continue;
		if (p->state == MPATH_UNKNOWN) {
			if (unknown < 0)
				unknown = (int)i;
			continue;
		}
		if (p->state != MPATH_LIVE)
			continue;
		/* a lost probe in eight weighs as much as 100 ms of round trip */
		score = p->srtt_us + (uint64_t)mpath_loss8(p) * 100000;
		if (best < 0 || score < best_score) {
			best = (int)i;
			best_score = score;
		}
	}
	return best >= 0 ? best : unknown;
}

struct mpath_set *mpath_set_new(void)
{
	struct mpath_set *mp = calloc(1, sizeof(*mp));

	if (mp)
		mp->active = -1;
	return mp;
}

int mpath_mode(int roam_policy)
{
	return roam_policy == CONF_ROAM_REDUNDANT   ? PEER_MP_REDUNDANT
	       : roam_policy == CONF_ROAM_MULTIPATH ? PEER_MP_MULTIPATH
						    : PEER_MP_OFF;
}

void mpath_leave_locked(struct wg_peer *peer)
{
	struct mpath_set *mp = peer->mp;

	if (!mp)
		return;
	if (mp->client) {
		memset(&peer->endpoint.src6, 0, sizeof(peer->endpoint.src6));
		peer->endpoint.src_ifindex = 0;
		peer->endpoint.out_ifindex = 0;
	}
	mp->n = 0;
	mp->client = false;
	mp->active = -1;
	mp->generation++;
}

int mpath_enable(struct wg_peer *peer)
{
	struct mpath_set *mp;

	if (peer->mp)
		return 0;
	mp = mpath_set_new();
	if (!mp)
		return -ENOMEM;
	pthread_spin_lock(&peer->endpoint_lock);
	peer->mp = mp;
	pthread_spin_unlock(&peer->endpoint_lock);
	return 0;
}

static int mpath_find_src(const struct mpath_set *mp, const struct wg_endpoint *src)
{
	for (unsigned int i = 0; i < mp->n; i++)
		if (endpoint_eq(&mp->p[i].ep, src))
			return (int)i;
	return -1;
}

/* Client: the uplink a packet arrived on (IP_PKTINFO's interface, else its local address). */
static int mpath_find_uplink(const struct mpath_set *mp, const struct wg_endpoint *src)
{
	for (unsigned int i = 0; i < mp->n; i++)
		if (src->src_ifindex && mp->p[i].uplink == src->src_ifindex)
			return (int)i;
	for (unsigned int i = 0; i < mp->n; i++)
		if (endpoint_same_src(&mp->p[i].ep, src) ||
		    (src->addr.sa.sa_family == AF_INET && src->src4.s_addr &&
		     src->src4.s_addr == mp->p[i].ep.src4.s_addr))
			return (int)i;
	return -1;
}

static void mpath_rx_client_locked(struct wg_peer *peer, const struct wg_endpoint *src,
				   enum mpath_rx_kind kind, uint64_t now)
{
	struct mpath_set *mp = peer->mp;
	int i = mpath_find_uplink(mp, src);
	struct mpath *p;
	uint64_t sample = 0;

	if (i < 0)
		return;
	p = &mp->p[i];
	p->last_rx_ns = now;
	p->rx_packets++;
	p->misses = 0;
	p->state = MPATH_LIVE;
	if (kind == MPATH_RX_KEEPALIVE) {
		/* The gateway's answer to a probe: time it. A late answer (after the timeout
		 * called the probe lost) still tells the round trip, and that it was not lost. */
		if (p->probe_ns) {
			sample = now - p->probe_ns;
			p->probe_ns = 0;
			p->loss_bits &= (uint8_t)~1u;
		} else if (p->last_probe_ns &&
			   now - p->last_probe_ns < ms_ns(MPATH_TIMEOUT_MAX_MS) &&
			   (p->loss_bits & 1)) {
			sample = now - p->last_probe_ns;
			p->loss_bits &= (uint8_t)~1u;
		}
		if (sample) {
			uint32_t us = (uint32_t)(sample / 1000);

			if (!us)
				us = 1; /* 0 means unknown */
			if (p->srtt_us) {
				uint32_t dev = p->srtt_us > us ? p->srtt_us - us : us - p->srtt_us;

				p->rttvar_us = (3 * p->rttvar_us + dev) / 4;
				p->srtt_us = (p->srtt_us + us) / 2;
			} else {
				p->srtt_us = us;
				p->rttvar_us = us / 2;
			}
		}
	} else if (kind == MPATH_RX_DATA && i == mp->active) {
		mp->last_data_ns = now;
	}
}

/* Gateway: whether a source still answers, by the client's own probe spacing: three intervals
 * without a word and it is gone (a blackholed path stops costing redundant copies). */
static bool mpath_live(const struct mpath *p, uint64_t now)
{
	uint64_t window = p->ka_gap_ns * 3;

	if (window < ms_ns(MPATH_LIVE_MIN_MS))
		window = ms_ns(MPATH_LIVE_MIN_MS);
	if (window > ms_ns(MPATH_LIVE_MAX_MS))
		window = ms_ns(MPATH_LIVE_MAX_MS);
	return now - p->last_rx_ns <= window;
}

/* Gateway: forget the sources not heard for MPATH_FORGET_MS, except the endpoint's. */
static void mpath_forget_locked(struct wg_peer *peer, uint64_t now)
{
	struct mpath_set *mp = peer->mp;
	unsigned int i = 0;

	while (i < mp->n) {
		if (now - mp->p[i].last_rx_ns > ms_ns(MPATH_FORGET_MS) &&
		    !endpoint_eq(&mp->p[i].ep, &peer->endpoint)) {
			mp->p[i] = mp->p[--mp->n];
			mp->generation++;
		} else {
			i++;
		}
	}
}

static bool mpath_rx_gateway_locked(struct wg_peer *peer, const struct wg_endpoint *src,
				    enum mpath_rx_kind kind, uint64_t now)
{
	struct mpath_set *mp = peer->mp;
	int i, active;
	struct mpath *p;
	bool pair;

	mpath_forget_locked(peer, now);
	i = mpath_find_src(mp, src);
	active = mpath_find_src(mp, &peer->endpoint);

	if (i < 0) {
		/* a new source: a free slot, else the one heard from longest ago (never the
		 * active one) */
		if (mp->n < MPATH_MAX) {
			i = (int)mp->n++;
		} else {
			for (unsigned int j = 0; j < mp->n; j++)
				if ((int)j != active &&
				    (i < 0 || mp->p[j].last_rx_ns < mp->p[i].last_rx_ns))
					i = (int)j;
		}
		memset(&mp->p[i], 0, sizeof(mp->p[i]));
		mp->generation++;
	}
	p = &mp->p[i];
	if (!endpoint_same_src(&p->ep, src))
		mp->generation++;
	p->ep = *src;
	p->last_rx_ns = now;
	p->rx_packets++;
	p->state = MPATH_LIVE;
	/* An announce: a second keepalive right after one. Or a client that probes nothing (a
	 * stock one, whose keepalives are persistent ones): its third keepalive from here while
	 * the active source stayed silent since the first, two of its intervals (one would not
	 * do: a client's probes on two paths arrive in either order, and one active probe may
	 * be lost). */
	pair = kind == MPATH_RX_KEEPALIVE && p->last_ka_ns &&
	       (now - p->last_ka_ns < ms_ns(MPATH_ANNOUNCE_PAIR_MS) ||
		(active >= 0 && p->prev_ka_ns && mp->p[active].last_rx_ns < p->prev_ka_ns));
	if (kind == MPATH_RX_KEEPALIVE) {
		/* the spacing of probes, not of an announce's pair */
		if (p->last_ka_ns && now - p->last_ka_ns >= ms_ns(MPATH_ANNOUNCE_PAIR_MS))
			p->ka_gap_ns = now - p->last_ka_ns;
		p->prev_ka_ns = p->last_ka_ns;
		p->last_ka_ns = now;
	}
	/* the active source itself (a new cached source at most), or a first one */
	if (i == active || !endpoint_is_set(&peer->endpoint))
		return true;
	switch (kind) {
	case MPATH_RX_HANDSHAKE:
		return true;
	case MPATH_RX_DATA:
		/* Data on another path is the client's choice, except in redundant mode where
		 * every path carries it: there only an announce moves, or the active path's
		 * silence. */
		if (peer->roam_policy != CONF_ROAM_REDUNDANT || active < 0)
			return true;
		return !mpath_live(&mp->p[active], now);
	case MPATH_RX_KEEPALIVE:
		return pair;
	}
	return false;
}

bool mpath_rx_locked(struct wg_peer *peer, const struct wg_endpoint *src, enum mpath_rx_kind kind,
		     uint64_t now, bool *set_changed)
{
	unsigned int gen;
	bool move;

	*set_changed = false;
	if (!peer->mp)
		return true;
	if (peer->mp->client) {
		mpath_rx_client_locked(peer, src, kind, now);
		return false; /* the client's endpoint follows its own choice of path */
	}
	gen = peer->mp->generation;
	move = mpath_rx_gateway_locked(peer, src, kind, now);
	*set_changed = gen != peer->mp->generation;
	return move;
}

int wg_peer_get_paths(struct wg_peer *peer, struct wg_endpoint *out, size_t max)
{
	size_t n = 0;

	pthread_spin_lock(&peer->endpoint_lock);
	/* never multipath: nothing to clear either */
	if (!peer->mp) {
		pthread_spin_unlock(&peer->endpoint_lock);
		return -1;
	}
	/* no longer multipath: none, so that the back-end clears what it had */
	if (!mpath_on_locked(peer)) {
		pthread_spin_unlock(&peer->endpoint_lock);
		return 0;
	}
	if (!peer->mp->client)
		for (unsigned int i = 0; i < peer->mp->n && n < max; i++)
			if (!endpoint_eq(&peer->mp->p[i].ep, &peer->endpoint))
				out[n++] = peer->mp->p[i].ep;
	pthread_spin_unlock(&peer->endpoint_lock);
	return (int)n;
}

void mpath_echo(struct wg_path *path, struct wg_peer *peer, const struct wg_endpoint *src)
{
	const struct iovec none = { 0 };
	struct wg_endpoint ep;
	uint64_t now;
	int i;

	if (!atomic_load_explicit(&peer->mp_mode, memory_order_relaxed))
		return;
	now = wg_device_now(peer->dev);
	pthread_spin_lock(&peer->endpoint_lock);
	/* Only the side that was not told where the peer is answers (a gateway): the side that
	 * was told probes, and two answering sides would answer each other's answers forever. */
	if (!mpath_on_locked(peer) || peer->mp->client || peer->endpoint_configured ||
	    (i = mpath_find_src(peer->mp, src)) < 0 ||
	    (peer->mp->p[i].last_echo_ns &&
	     now - peer->mp->p[i].last_echo_ns < ms_ns(MPATH_ECHO_MIN_MS))) {
		pthread_spin_unlock(&peer->endpoint_lock);
		return;
	}
	peer->mp->p[i].last_echo_ns = now;
	peer->mp->p[i].tx_packets++;
	ep = peer->mp->p[i].ep;
	pthread_spin_unlock(&peer->endpoint_lock);
	if (send_session_usable(peer))
		send_packets_fast(path, peer, &ep, &none, 1);
}

void mpath_note_initiation(struct wg_peer *peer, uint64_t now)
{
	if (!atomic_load_explicit(&peer->mp_mode, memory_order_relaxed))
		return;
	pthread_spin_lock(&peer->endpoint_lock);
	if (mpath_client_locked(peer))
		peer->mp->hs_sent_ns = now;
	pthread_spin_unlock(&peer->endpoint_lock);
}

void mpath_note_data(struct wg_peer *peer)
{
	if (atomic_load_explicit(&peer->mp_mode, memory_order_relaxed))
		atomic_store_explicit(&peer->mp_last_data_ns, wg_device_now(peer->dev),
				      memory_order_relaxed);
}

void mpath_send_copies(struct wg_path *path, struct wg_peer *peer, const uint8_t *buf, size_t len)
{
	struct wg_endpoint eps[MPATH_MAX];
	unsigned int n = 0;
	uint64_t now;

	if (atomic_load_explicit(&peer->mp_mode, memory_order_relaxed) != PEER_MP_REDUNDANT)
		return;
	now = wg_device_now(peer->dev);
	pthread_spin_lock(&peer->endpoint_lock);
	if (mpath_on_locked(peer)) {
		struct mpath_set *mp = peer->mp;

		for (unsigned int i = 0; i < mp->n; i++) {
			struct mpath *p = &mp->p[i];

			/* a client copies onto every uplink, one judged dead too: that judgement
			 * is a guess from late probes, and when it is wrong just as the active
			 * path fails, a copy withheld is a packet lost; a copy into a dead path
			 * costs its bytes only. A gateway has no uplinks of its own to try:
			 * it copies to the sources that still speak. */
			if (mp->client
				    ? (int)i == mp->active
				    : endpoint_eq(&p->ep, &peer->endpoint) || !mpath_live(p, now))
				continue;
			p->tx_packets++;
			eps[n++] = p->ep;
		}
	}
	pthread_spin_unlock(&peer->endpoint_lock);
	for (unsigned int i = 0; i < n; i++)
		if (!path->ops.send(path->ctx, &eps[i], buf, len))
			atomic_fetch_add_explicit(&peer->mp_copy_bytes, len, memory_order_relaxed);
}

bool mpath_count_dup(struct wg_peer *peer, uint64_t counter, uint64_t top)
{
	/* a copy from the other path arrives a round-trip difference later: within the last
	 * MPATH_DUP_WINDOW counters; an older one is a replay like any other */
	if (atomic_load_explicit(&peer->mp_mode, memory_order_relaxed) != PEER_MP_REDUNDANT ||
	    counter + MPATH_DUP_WINDOW < top)
		return false;
	atomic_fetch_add_explicit(&peer->mp_dups, 1, memory_order_relaxed);
	return true;
}

/* Client: (re)build the paths from the device's uplinks and the peer's endpoint, keeping what
 * is known of uplinks that stay. Caller holds endpoint_lock. True when the active uplink went
 * away and another was chosen (a move to announce). */
static bool mpath_rebuild_locked(struct wg_peer *peer, char *from, char *to)
{
	const struct wg_device *dev = peer->dev;
	struct mpath_set *mp = peer->mp;
	struct mpath old[MPATH_MAX];
	unsigned int n_old = mp->n;
	int old_active = mp->active, old_uplink = 0, family = peer->endpoint.addr.sa.sa_family, b;

	/* A gateway's set is its peer's sources: learned, not built. We are the client of a peer
	 * only when we have uplinks and were told where the peer is (a gateway learns where its
	 * clients are, even one with two default routes). */
	if ((!dev->n_uplinks || !peer->endpoint_configured) && !mp->client)
		return false;
	if (old_active >= 0 && old_active < (int)n_old)
		old_uplink = mp->p[old_active].uplink;
	memcpy(old, mp->p, sizeof(old));
	mp->n = 0;
	mp->active = -1;
	mp->client = dev->n_uplinks > 0 && peer->endpoint_configured;
	if (!mp->client) {
		/* no uplinks any more: the kernel chooses the source and the way again */
		memset(&peer->endpoint.src6, 0, sizeof(peer->endpoint.src6));
		peer->endpoint.src_ifindex = 0;
		peer->endpoint.out_ifindex = 0;
		return false;
	}
	if (!endpoint_is_set(&peer->endpoint))
		return false;
	for (unsigned int u = 0; u < dev->n_uplinks && mp->n < MPATH_MAX; u++) {
		const struct wg_uplink *up = &dev->uplinks[u];
		struct mpath *p = &mp->p[mp->n];

		if (family == AF_INET ? !up->has4 : !up->has6)
			continue;
		memset(p, 0, sizeof(*p));
		for (unsigned int j = 0; j < n_old; j++)
			if (old[j].uplink == up->ifindex)
				*p = old[j];
		if (!p->uplink)
			p->state = MPATH_UNKNOWN;
		p->uplink = up->ifindex;
		memcpy(p->ifname, up->name, sizeof(p->ifname));
		p->ep = peer->endpoint;
		memset(&p->ep.src6, 0, sizeof(p->ep.src6));
		if (family == AF_INET)
			p->ep.src4 = up->addr4;
		else
			p->ep.src6 = up->addr6;
		p->ep.src_ifindex = up->ifindex;
		p->ep.out_ifindex = up->ifindex;
		if (up->ifindex == old_uplink)
			mp->active = (int)mp->n;
		mp->n++;
	}
	if (!mp->n)
		return false;
	if (mp->active >= 0) {
		mpath_pin_locked(peer, mp->active);
		return false;
	}
	/* first pick: the preferred uplink; after losing the active one: the best other, or the
	 * first when every one left is dead (it is probed again and may come back) */
	b = old_uplink ? mpath_best_locked(mp, -1) : 0;
	mpath_pin_locked(peer, b < 0 ? 0 : b);
	if (!old_uplink)
		return false;
	for (unsigned int j = 0; j < n_old; j++)
		if (old[j].uplink == old_uplink)
			memcpy(from, old[j].ifname, sizeof(old[j].ifname));
	memcpy(to, mp->p[mp->active].ifname, sizeof(mp->p[mp->active].ifname));
	return true;
}

/* The announce on a new path: two keepalives back to back (see the top of this file), then the
 * re-announce schedule until the gateway answers. */
static void mpath_send_announce(struct wg_peer *peer)
{
	if (!send_session_valid(peer)) {
		send_handshake_initiation(peer, false);
		return;
	}
	timers_announce_sent(peer);
	send_keepalive(peer->dev->path, peer);
	send_keepalive(peer->dev->path, peer);
}

static void mpath_moved(struct wg_peer *peer, const char *from, const char *to, const char *why,
			bool announce)
{
	log_info("%s: peer %s path %s -> %s (%s)", peer->dev->name, peer->name, from, to, why);
	if (announce)
		mpath_send_announce(peer);
}

void mpath_uplinks_changed(struct wg_peer *peer)
{
	char from[16] = "", to[16] = "";
	bool moved = false, client;

	pthread_spin_lock(&peer->endpoint_lock);
	if (mpath_on_locked(peer)) {
		moved = mpath_rebuild_locked(peer, from, to);
		if (moved) {
			peer->mp->moves++;
			peer->mp->moved_ns = wg_device_now(peer->dev);
		}
	}
	client = mpath_client_locked(peer);
	pthread_spin_unlock(&peer->endpoint_lock);
	if (moved)
		mpath_moved(peer, from, to, "uplink gone", true);
	if (client)
		timers_path_arm(peer, ms_ns(MPATH_TICK_MS));
}

void mpath_announce(struct wg_peer *peer)
{
	mpath_send_announce(peer);
}

/* Client: whether to leave the active path a, and for which. */
static int mpath_pick_locked(struct mpath_set *mp, uint64_t now, const char **why)
{
	const struct mpath *a;
	int b;

	if (mp->active < 0)
		return -1;
	a = &mp->p[mp->active];
	b = mpath_best_locked(mp, mp->active);
	if (b < 0)
		return -1;
	if (a->state == MPATH_DEAD) {
		*why = "no answer";
		return b;
	}
	if (mp->p[b].state != MPATH_LIVE ||
	    (mp->moved_ns && now - mp->moved_ns < ms_ns(MPATH_HOLD_MS)))
		return -1;
	if (a->srtt_us && mp->p[b].srtt_us &&
	    a->srtt_us > 2 * mp->p[b].srtt_us + MPATH_BETTER_MS * 1000) {
		*why = "round trip";
		return b;
	}
	if (mpath_loss8(a) >= 4 && mpath_loss8(&mp->p[b]) <= 1) {
		*why = "loss";
		return b;
	}
	return -1;
}

uint64_t mpath_tick(struct wg_peer *peer, uint64_t now)
{
	struct wg_device *dev = peer->dev;
	const struct iovec none = { 0 };
	struct wg_endpoint probes[MPATH_MAX];
	char from[16] = "", to[16] = "", died[MPATH_MAX][16];
	unsigned int n_probes = 0, n_died = 0;
	uint64_t interval = ms_ns(atomic_load(&dev->path_probe_ms)), busy_every;
	bool usable = send_session_usable(peer), busy;
	const char *why = NULL;
	struct mpath_set *mp;
	int b = -1;

	busy_every = interval / MPATH_BUSY_DIVISOR;
	if (busy_every < ms_ns(MPATH_PROBE_MIN_MS))
		busy_every = ms_ns(MPATH_PROBE_MIN_MS);
	pthread_spin_lock(&peer->endpoint_lock);
	if (!mpath_client_locked(peer) || !peer->mp->n) {
		pthread_spin_unlock(&peer->endpoint_lock);
		return 0;
	}
	mp = peer->mp;
	if (atomic_load_explicit(&peer->mp_last_data_ns, memory_order_relaxed) > mp->last_data_ns)
		mp->last_data_ns =
			atomic_load_explicit(&peer->mp_last_data_ns, memory_order_relaxed);
	busy = mp->last_data_ns && now - mp->last_data_ns < interval;
	for (unsigned int i = 0; i < mp->n; i++) {
		struct mpath *p = &mp->p[i];
		uint64_t timeout = mpath_timeout_ns(p), since = now - p->last_probe_ns;
		bool active = (int)i == mp->active, want;

		if (p->probe_ns && now - p->probe_ns >= timeout) {
			p->probe_ns = 0;
			/* nothing at all heard since it went: a miss */
			if (p->last_rx_ns < p->last_probe_ns && ++p->misses >= MPATH_DEAD_MISSES &&
			    p->state != MPATH_DEAD) {
				p->state = MPATH_DEAD;
				memcpy(died[n_died++], p->ifname, sizeof(p->ifname));
			}
		}
		if (!usable || p->probe_ns)
			continue;
		want = !p->last_probe_ns || since >= (active && busy ? busy_every : interval);
		/* the active path fell silent while data flows: ask at once */
		want |= active && busy && now - p->last_rx_ns >= timeout && since >= timeout;
		/* one probe went unanswered: the second one right away */
		want |= p->misses && p->state != MPATH_DEAD && since >= timeout;
		if (!want)
			continue;
		p->probe_ns = p->last_probe_ns = now;
		p->loss_bits = (uint8_t)(p->loss_bits << 1 | 1);
		p->tx_packets++;
		probes[n_probes++] = p->ep;
	}
	b = mpath_pick_locked(mp, now, &why);
	/* Without a session there is nothing to probe with, and the handshake itself is the probe:
	 * an initiation unanswered for almost REKEY_TIMEOUT moves us to the next uplink, so that
	 * its retransmit goes there. Or a client whose session expired while idle would knock
	 * on a dead path forever. */
	if (usable) {
		mp->hs_sent_ns = 0;
	} else {
		uint64_t sent = mp->hs_sent_ns;

		if (b < 0 && sent && sent != mp->hs_rotated && mp->n > 1 && mp->active >= 0 &&
		    now - sent >=
			    (uint64_t)REKEY_TIMEOUT * NSEC_PER_SEC - ms_ns(MPATH_HS_EARLY_MS)) {
			b = (mp->active + 1) % (int)mp->n;
			why = "handshake unanswered";
			mp->hs_rotated = sent;
		}
	}
	if (b >= 0) {
		memcpy(from, mp->p[mp->active].ifname, sizeof(from));
		memcpy(to, mp->p[b].ifname, sizeof(to));
		mpath_pin_locked(peer, b);
		mp->moves++;
		mp->moved_ns = now;
	}
	pthread_spin_unlock(&peer->endpoint_lock);

	for (unsigned int i = 0; i < n_died; i++)
		log_info("%s: peer %s path %s stopped answering (%d probes)", dev->name, peer->name,
			 died[i], MPATH_DEAD_MISSES);
	for (unsigned int i = 0; i < n_probes; i++)
		send_packets_fast(dev->path, peer, &probes[i], &none, 1);
	/* after an unanswered initiation, its own retransmit (due within a few hundred ms) is the
	 * announce: another one now would restart the attempt count, and the give-up never came */
	if (b >= 0)
		mpath_moved(peer, from, to, why, usable);
	return now + ms_ns(MPATH_TICK_MS);
}

void wg_device_set_uplinks(struct wg_device *dev, const struct wg_uplink *up, size_t n)
{
	struct wg_peer *p;

	if (n > sizeof(dev->uplinks) / sizeof(dev->uplinks[0]))
		n = sizeof(dev->uplinks) / sizeof(dev->uplinks[0]);
	if (n == dev->n_uplinks && !memcmp(dev->uplinks, up, n * sizeof(*up)))
		return;
	memcpy(dev->uplinks, up, n * sizeof(*up));
	for (size_t i = 0; i < n; i++)
		dev->uplinks[i].name[sizeof(dev->uplinks[i].name) - 1] = '\0';
	dev->n_uplinks = (unsigned int)n;
	pthread_rwlock_rdlock(&dev->lock);
	for (p = dev->peers; p; p = p->next_peer)
		if (atomic_load(&p->mp_mode))
			mpath_uplinks_changed(p);
	pthread_rwlock_unlock(&dev->lock);
}

unsigned int wg_device_multipath_peers(struct wg_device *dev)
{
	return atomic_load(&dev->mp_peers);
}

void mpath_set_mode_locked(struct wg_peer *peer, int roam_policy)
{
	int mode = mpath_mode(roam_policy), old = atomic_exchange(&peer->mp_mode, mode);

	if (!old && mode)
		atomic_fetch_add(&peer->dev->mp_peers, 1);
	else if (old && !mode)
		atomic_fetch_sub(&peer->dev->mp_peers, 1);
	if (!mode)
		mpath_leave_locked(peer);
}

int wg_device_set_path_probe(struct wg_device *dev, unsigned int ms)
{
	if (ms < MPATH_PROBE_MIN_MS || ms > MPATH_PROBE_MAX_MS)
		return -EINVAL;
	atomic_store(&dev->path_probe_ms, ms);
	return 0;
}

void mpath_snapshot_locked(const struct wg_peer *peer, struct conf_peer *cp, uint64_t now)
{
	const struct mpath_set *mp = peer->mp;

	cp->copy_bytes = atomic_load_explicit(&peer->mp_copy_bytes, memory_order_relaxed);
	cp->dup_packets = atomic_load_explicit(&peer->mp_dups, memory_order_relaxed);
	if (!mpath_on_locked(peer))
		return;
	cp->path_moves = mp->moves;
	for (unsigned int i = 0; i < mp->n && cp->n_paths < CONF_PATHS_MAX; i++) {
		const struct mpath *p = &mp->p[i];
		struct conf_path *c = &cp->paths[cp->n_paths++];

		memset(c, 0, sizeof(*c));
		c->endpoint = p->ep;
		memcpy(c->uplink, p->ifname, sizeof(c->uplink));
		if (mp->client ? (int)i == mp->active : endpoint_eq(&p->ep, &peer->endpoint))
			c->flags |= CONF_PATH_ACTIVE;
		if (p->state == MPATH_DEAD)
			c->flags |= CONF_PATH_DEAD;
		if (p->state == MPATH_UNKNOWN)
			c->flags |= CONF_PATH_UNKNOWN;
		c->age_ms = p->last_rx_ns ? (now - p->last_rx_ns) / NSEC_PER_MSEC : UINT64_MAX;
		c->rtt_us = p->srtt_us;
		c->loss = (uint8_t)mpath_loss8(p);
	}
}
