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
 * This file: the set and the policy's modes, the gateway's role (sources, answers, the move
 * rule), redundant copies and duplicates, the snapshot. The client's role (uplinks, probes,
 * moves) is multipath_client.c.
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

bool mpath_on_locked(const struct wg_peer *peer)
{
	return peer->mp && mpath_policy(peer->roam_policy);
}

bool mpath_client_locked(const struct wg_peer *peer)
{
	return mpath_on_locked(peer) && peer->mp->client;
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

/* Gateway: whether a source still answers, by the client's own probe spacing: three intervals
 * without a word and it is gone (a blackholed path stops costing redundant copies). */
static bool mpath_live(const struct mpath *p, uint64_t now)
{
	uint64_t window = p->ka_gap_ns * 3;

	if (window < mpath_ms_ns(MPATH_LIVE_MIN_MS))
		window = mpath_ms_ns(MPATH_LIVE_MIN_MS);
	if (window > mpath_ms_ns(MPATH_LIVE_MAX_MS))
		window = mpath_ms_ns(MPATH_LIVE_MAX_MS);
	return now - p->last_rx_ns <= window;
}

/* Gateway: forget the sources not heard for MPATH_FORGET_MS, except the endpoint's. */
static void mpath_forget_locked(struct wg_peer *peer, uint64_t now)
{
	struct mpath_set *mp = peer->mp;
	unsigned int i = 0;

	while (i < mp->n) {
		if (now - mp->p[i].last_rx_ns > mpath_ms_ns(MPATH_FORGET_MS) &&
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
	       (now - p->last_ka_ns < mpath_ms_ns(MPATH_ANNOUNCE_PAIR_MS) ||
		(active >= 0 && p->prev_ka_ns && mp->p[active].last_rx_ns < p->prev_ka_ns));
	if (kind == MPATH_RX_KEEPALIVE) {
		/* the spacing of probes, not of an announce's pair */
		if (p->last_ka_ns && now - p->last_ka_ns >= mpath_ms_ns(MPATH_ANNOUNCE_PAIR_MS))
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
		mpath_client_rx_locked(peer, src, kind, now);
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
	     now - peer->mp->p[i].last_echo_ns < mpath_ms_ns(MPATH_ECHO_MIN_MS))) {
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

			if (mp->client
				    ? (int)i == mp->active || p->state == MPATH_DEAD
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
