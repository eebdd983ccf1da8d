// SPDX-License-Identifier: GPL-2.0
/*
 * Peer lifecycle, endpoint and roaming. A peer is reference counted: the device's list holds one
 * reference, each keypair one, and a worker one for as long as it uses the peer; removing a peer
 * unlinks it at once and frees it when the last user lets go.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "allowedips.h"
#include "crypto.h"
#include "log.h"
#include "multipath.h"
#include "peer.h"
#include "send.h"
#include "ticklist.h"
#include "timers.h"

struct wg_peer *peer_create(struct wg_device *dev, const uint8_t public_key[WG_KEY_LEN],
			    const uint8_t preshared_key[WG_KEY_LEN])
{
	struct wg_peer *peer = crypto_secure_alloc(sizeof(*peer));
	char b64[CRYPTO_KEY_BASE64_LEN + 1];
	uint64_t now = wg_device_now(dev);

	if (!peer)
		return NULL;
	peer->dev = dev;
	peer->id = ++dev->next_peer_id;
	peer->internal_id = ++dev->next_internal_id;
	atomic_init(&peer->refcount, 1);
	atomic_init(&peer->is_dead, false);
	crypto_key_to_base64(b64, public_key);
	/* enough of the key to tell peers apart in a log, short enough to read */
	snprintf(peer->name, sizeof(peer->name), "%.8s…", b64);
	noise_handshake_init(&peer->handshake, dev->identity, public_key, preshared_key, peer);
	noise_keypairs_init(&peer->keypairs);
	cookie_init_peer(&peer->latest_cookie, public_key);
	pthread_spin_init(&peer->endpoint_lock, PTHREAD_PROCESS_PRIVATE);
	pthread_mutex_init(&peer->staged_lock, NULL);
	timers_init(peer, now);
	return peer;
}

struct wg_peer *peer_get(struct wg_peer *peer)
{
	atomic_fetch_add(&peer->refcount, 1);
	return peer;
}

void peer_put(struct wg_peer *peer)
{
	if (!peer || atomic_fetch_sub(&peer->refcount, 1) != 1)
		return;
	peer_purge_staged(peer);
	pthread_spin_destroy(&peer->endpoint_lock);
	pthread_mutex_destroy(&peer->staged_lock);
	pthread_spin_destroy(&peer->keypairs.lock);
	free(peer->roam_cidrs);
	free(peer->mp);
	crypto_secure_free(peer);
}

void peer_remove_locked(struct wg_peer *peer)
{
	struct wg_device *dev = peer->dev;

	if (atomic_exchange(&peer->is_dead, true))
		return;
	/* in the list unless it was made by a request that failed before its commit */
	if (peer->prev_peer || dev->peers == peer) {
		if (peer->prev_peer)
			peer->prev_peer->next_peer = peer->next_peer;
		else
			dev->peers = peer->next_peer;
		if (peer->next_peer)
			peer->next_peer->prev_peer = peer->prev_peer;
		if (dev->peers_last == peer)
			dev->peers_last = peer->prev_peer;
		dev->n_peers--;
	}
	peer->next_peer = NULL;
	peer->prev_peer = NULL;
	wg_device_unhash_peer(dev, peer);
	allowedips_remove_by_owner(dev->allowedips, peer);
	timers_stop(peer);
	/* no longer counted among the device's multipath peers */
	pthread_spin_lock(&peer->endpoint_lock);
	mpath_set_mode_locked(peer, CONF_ROAM_ANY);
	pthread_spin_unlock(&peer->endpoint_lock);
	/* No new packet can find it now; drop what it holds. Keypairs still in use by a worker
	 * are freed by that worker's put. */
	noise_handshake_clear(&peer->handshake, dev->index);
	noise_keypairs_clear(&peer->keypairs);
	peer_purge_staged(peer);
	if (dev->ops.peer_removed)
		dev->ops.peer_removed(dev->io_ctx, peer);
	peer_put(peer);
}

void peer_endpoint_copy(struct wg_peer *peer, struct wg_endpoint *out)
{
	pthread_spin_lock(&peer->endpoint_lock);
	*out = peer->endpoint;
	pthread_spin_unlock(&peer->endpoint_lock);
}

void peer_set_endpoint(struct wg_peer *peer, const struct wg_endpoint *ep)
{
	bool mp;

	pthread_spin_lock(&peer->endpoint_lock);
	peer->endpoint = *ep;
	peer->endpoint_configured = endpoint_is_set(ep);
	mp = mpath_on_locked(peer);
	pthread_spin_unlock(&peer->endpoint_lock);
	/* a multipath client's paths all lead to the endpoint */
	if (mp)
		mpath_uplinks_changed(peer);
}

void peer_clear_endpoint_src(struct wg_peer *peer)
{
	pthread_spin_lock(&peer->endpoint_lock);
	/* a multipath client's source is its chosen uplink's, not the kernel's to pick */
	if (!mpath_client_locked(peer)) {
		memset(&peer->endpoint.src6, 0, sizeof(peer->endpoint.src6));
		peer->endpoint.src_ifindex = 0;
		peer->endpoint.out_ifindex = 0;
	}
	pthread_spin_unlock(&peer->endpoint_lock);
}

static bool peer_prefix_contains(const struct conf_allowedip *p, const struct wg_endpoint *ep)
{
	const uint8_t *addr, *net;
	unsigned int bits, i;

	if (p->family != ep->addr.sa.sa_family)
		return false;
	if (p->family == AF_INET) {
		addr = (const uint8_t *)&ep->addr.in4.sin_addr;
		net = (const uint8_t *)&p->ip4;
		bits = p->cidr > 32 ? 32 : p->cidr;
	} else {
		addr = (const uint8_t *)&ep->addr.in6.sin6_addr;
		net = (const uint8_t *)&p->ip6;
		bits = p->cidr > 128 ? 128 : p->cidr;
	}
	for (i = 0; i < bits / 8; i++)
		if (addr[i] != net[i])
			return false;
	if (bits % 8) {
		uint8_t mask = (uint8_t)(0xff00 >> (bits % 8));

		if ((addr[i] & mask) != (net[i] & mask))
			return false;
	}
	return true;
}

/* Caller holds endpoint_lock. */
static bool peer_roam_allowed_locked(const struct wg_peer *peer, const struct wg_endpoint *src)
{
	size_t i;

	switch (peer->roam_policy) {
	case CONF_ROAM_ANY:
		return true;
	case CONF_ROAM_PINNED:
		/* Pinned to what was configured; a peer configured without an endpoint learns its
		 * first authenticated source and is pinned there from then on. */
		return !endpoint_is_set(&peer->endpoint);
	case CONF_ROAM_WITHIN:
		for (i = 0; i < peer->n_roam_cidrs; i++)
			if (peer_prefix_contains(&peer->roam_cidrs[i], src))
				return true;
		return false;
	case CONF_ROAM_MULTIPATH:
	case CONF_ROAM_REDUNDANT:
		return true; /* decided by mpath_rx_locked */
	}
	return false;
}

/* The move itself: endpoint, counters, the back-end's copy. True on a real move, left in *m for
 * peer_roam_report. */
bool peer_roam_deferred(struct wg_path *path, struct wg_peer *peer, const struct wg_endpoint *src,
			enum mpath_rx_kind kind, struct wg_peer_move *m)
{
	struct wg_device *dev = peer->dev;
	char old_s[ENDPOINT_STRLEN], new_s[ENDPOINT_STRLEN];
	struct wg_endpoint old;
	bool moved, src_changed, allowed, set_changed = false;
	uint64_t sent = 0;

	/* Removed while this packet was being authenticated (a worker holds its own reference):
	 * a dead peer has no endpoint to move, and its hooks must not bring it back (the BPF
	 * peers map entry its removal deleted, a move event for a peer that is gone). */
	if (atomic_load(&peer->is_dead))
		return false;
	/* Every authenticated packet restarts the count of what we sent without hearing back; read
	 * first so that the common case (nothing sent since) writes no shared cache line. */
	if (atomic_load_explicit(&peer->tx_since_rx, memory_order_relaxed))
		sent = atomic_exchange_explicit(&peer->tx_since_rx, 0, memory_order_relaxed);
	pthread_spin_lock(&peer->endpoint_lock);
	moved = !endpoint_eq(&peer->endpoint, src);
	src_changed = !endpoint_same_src(&peer->endpoint, src);
	/* a multipath peer's set notes every packet, also from the current source */
	if (mpath_on_locked(peer))
		allowed = mpath_rx_locked(peer, src, kind, wg_device_now(dev), &set_changed);
	else
		allowed = (moved || src_changed) && peer_roam_allowed_locked(peer, src);
	if ((!moved && !src_changed) || !allowed) {
		old = peer->endpoint;
		pthread_spin_unlock(&peer->endpoint_lock);
		/* a multipath peer's new standby source: the back-end's copy learns it */
		if (set_changed && dev->ops.endpoint_moved && !atomic_load(&peer->is_dead))
			dev->ops.endpoint_moved(dev->io_ctx, peer, &old, &old);
		return false;
	}
	old = peer->endpoint;
	peer->endpoint = *src;
	pthread_spin_unlock(&peer->endpoint_lock);
	/* removed meanwhile: the endpoint of a dead peer is nobody's business any more */
	if (atomic_load(&peer->is_dead))
		return false;

	if (moved && !endpoint_is_set(&old)) {
		log_info("%s: peer %s endpoint learned: %s", dev->name, peer->name,
			 endpoint_format(src, new_s));
		moved = false; /* a first learned endpoint is no move */
	} else if (moved) {
		memset(m, 0, sizeof(*m));
		m->moves = atomic_fetch_add(&peer->endpoint_moves, 1) + 1;
		m->moved_ns = wg_device_now(dev);
		m->moved_wall_ns = wg_device_wall_ns(dev);
		atomic_store(&peer->last_move_wall_ns, m->moved_wall_ns);
		/* with a peer_moved hook the back-end logs the move, with more to say about it */
		if (!dev->ops.peer_moved)
			log_info("%s: peer %s endpoint moved %s -> %s", dev->name, peer->name,
				 endpoint_format(&old, old_s), endpoint_format(src, new_s));
	}
	/* On the thread that authenticated the packet, which may be a worker (see device.h), and
	 * before that thread sends anything more: the back-end's copy (the BPF peers map) moves
	 * together with ours. */
	if (path->ops.endpoint_moved)
		path->ops.endpoint_moved(path->ctx, src);
	if (dev->ops.endpoint_moved)
		dev->ops.endpoint_moved(dev->io_ctx, peer, &old, src);
	if (!moved)
		return false;
	m->peer = peer;
	m->peer_id = peer->id;
	memcpy(m->public_key, peer->handshake.remote_static, WG_KEY_LEN);
	m->old_ep = old;
	m->new_ep = *src;
	m->sent_to_old = sent;
	return true;
}

static void peer_roam_report(struct wg_peer *peer, const struct wg_peer_move *m)
{
	if (peer->dev->ops.peer_moved && !atomic_load(&peer->is_dead))
		peer->dev->ops.peer_moved(peer->dev->io_ctx, m);
}

bool peer_roam(struct wg_peer *peer, const struct wg_endpoint *src)
{
	struct wg_peer_move m;

	if (!peer_roam_deferred(peer->dev->path, peer, src, MPATH_RX_HANDSHAKE, &m))
		return false;
	peer_roam_report(peer, &m);
	return true;
}

/*
 * The move acknowledgment, an xdpwg extension (docs/roaming.md). A client that announces its
 * new path with a keepalive learns nothing from it: a keepalive asks for no answer, so when the
 * new link lost it the client cannot tell, and until the gateway next has data the new path is
 * unconfirmed. One keepalive back at once tells an xdpwgd client that it arrived (it stops
 * re-announcing) and opens the new path's NAT and firewall state in both directions. A stock
 * peer takes it as any keepalive. One 32-byte message per move, and only an authenticated
 * packet moves a peer, so it amplifies nothing. Handshake moves need none: an initiation gets a
 * response, a response is followed by a keepalive anyway.
 */
void peer_roam_ack(struct wg_path *path, struct wg_peer *peer, struct wg_peer_move *m)
{
	struct wg_device *dev = peer->dev;
	char ep[ENDPOINT_STRLEN];

	/* After noise_received_with_keypair: a responder's first packet under new keys has
	 * confirmed them by now. A keepalive must not start a handshake of its own (which
	 * send_keepalive would, staging itself, without a usable keypair). */
	if (send_session_usable(peer)) {
		/* with data staged, that goes instead: as good an acknowledgment */
		send_keepalive(path, peer);
		m->acked = true;
		log_debug("%s: peer %s: move to %s acknowledged with a keepalive", dev->name,
			  peer->name, endpoint_format(&m->new_ep, ep));
	} else {
		log_debug("%s: peer %s: move to %s not acknowledged: no valid sending key",
			  dev->name, peer->name, endpoint_format(&m->new_ep, ep));
	}
	peer_roam_report(peer, m);
}

bool wg_device_announce_key(struct wg_device *dev, const uint8_t pub[WG_KEY_LEN])
{
	struct wg_peer *peer = wg_device_lookup_peer(dev, pub);

	if (!peer)
		return false;
	wg_device_announce(dev, peer);
	return true;
}

int peer_set_roam_policy(struct wg_peer *peer, enum conf_roam_policy policy,
			 const struct conf_allowedip *cidrs, size_t n)
{
	struct conf_allowedip *copy = NULL, *old;

	if (mpath_policy(policy) && mpath_enable(peer))
		return -ENOMEM;
	if (n) {
		copy = calloc(n, sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, cidrs, n * sizeof(*copy));
	}
	pthread_spin_lock(&peer->endpoint_lock);
	old = peer->roam_cidrs;
	peer->roam_policy = policy;
	peer->roam_cidrs = copy;
	peer->n_roam_cidrs = n;
	mpath_set_mode_locked(peer, policy);
	pthread_spin_unlock(&peer->endpoint_lock);
	free(old);
	if (mpath_policy(policy))
		mpath_uplinks_changed(peer);
	return 0;
}

void peer_request_handshake(struct wg_peer *peer)
{
	/* As the kernel does: wanting a handshake (not retrying one) restarts the attempt count,
	 * so a peer with traffic to send keeps trying. */
	atomic_store(&peer->timer_handshake_attempts, 0);
	if (atomic_load(&peer->is_dead) ||
	    !noise_has_expired(atomic_load(&peer->last_sent_handshake), REKEY_TIMEOUT,
			       wg_device_now(peer->dev)))
		return;
	/* Peer flag before device flag before the signal: the control thread clears the device's
	 * flag first, then walks its tick list, so a request is never lost; one signal per request. */
	if (atomic_exchange(&peer->handshake_wanted, true))
		return;
	/* enlisted before the device flag: the control thread collects the list after it */
	ticklist_add(peer);
	atomic_store(&peer->dev->handshake_wanted, true);
	wg_device_signal(peer->dev);
}

void peer_purge_staged(struct wg_peer *peer)
{
	unsigned int i;

	pthread_mutex_lock(&peer->staged_lock);
	for (i = 0; i < peer->staged_len; i++) {
		unsigned int slot = (peer->staged_head + i) % WG_MAX_STAGED_PACKETS;

		crypto_wipe(peer->staged[slot]->data, peer->staged[slot]->len);
		free(peer->staged[slot]);
		peer->staged[slot] = NULL;
	}
	free(peer->staged);
	peer->staged = NULL;
	peer->staged_head = 0;
	peer->staged_len = 0;
	atomic_store(&peer->staged_count, 0);
	pthread_mutex_unlock(&peer->staged_lock);
}

const uint8_t *wg_peer_public_key(const struct wg_peer *peer)
{
	return peer->handshake.remote_static;
}

uint32_t wg_peer_id(const struct wg_peer *peer)
{
	return peer->id;
}

void wg_peer_get_endpoint(struct wg_peer *peer, struct wg_endpoint *out)
{
	peer_endpoint_copy(peer, out);
}

bool wg_peer_roam_pinned(struct wg_peer *peer)
{
	bool pinned;

	pthread_spin_lock(&peer->endpoint_lock);
	pinned = peer->roam_policy == CONF_ROAM_PINNED;
	pthread_spin_unlock(&peer->endpoint_lock);
	return pinned;
}

bool wg_peer_is_dead(const struct wg_peer *peer)
{
	return atomic_load(&((struct wg_peer *)peer)->is_dead);
}
