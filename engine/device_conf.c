// SPDX-License-Identifier: GPL-2.0
/*
 * Configuration of a device: wg_device_apply with the configuration protocol's semantics (as the
 * kernel's netlink.c applies them: all of a request or nothing) and wg_device_snapshot. The only
 * engine file that knows the configuration model (lib/config.h); the rest of the engine sees
 * peers, keys and allowed IPs only.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allowedips.h"
#include "config.h"
#include "crypto.h"
#include "internal.h"
#include "log.h"
#include "peer.h"
#include "send.h"
#include "timers.h"

/* --- configuration --- */

static int __attribute__((format(printf, 4, 5)))
device_error(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

static bool device_valid_prefix(const struct conf_allowedip *ip)
{
	return (ip->family == AF_INET && ip->cidr <= 32) ||
	       (ip->family == AF_INET6 && ip->cidr <= 128);
}

/* Everything that can be refused is refused here, before anything changes. */
static int device_validate(struct wg_device *dev, const struct conf_dev *req, char *err,
			   size_t errlen)
{
	char key[CRYPTO_KEY_BASE64_LEN + 1];
	size_t i, j, new_peers = 0;

	if (!req->n_peers)
		return 0;
	if (!req->peers)
		return device_error(err, errlen, -EINVAL, "peers: missing");
	for (i = 0; i < req->n_peers; i++) {
		const struct conf_peer *p = &req->peers[i];

		crypto_key_to_base64(key, p->public_key);
		if (p->flags & CONF_PEER_HAS_ENDPOINT && !endpoint_is_set(&p->endpoint) &&
		    p->endpoint.addr.sa.sa_family != AF_UNSPEC)
			return device_error(err, errlen, -EINVAL,
					    "peer %s: endpoint: unsupported address family", key);
		for (j = 0; j < p->n_allowedips; j++)
			if (!device_valid_prefix(&p->allowedips[j]))
				return device_error(err, errlen, -EINVAL,
						    "peer %s: allowed_ip %zu: bad family or cidr",
						    key, j);
		if (p->flags & CONF_PEER_HAS_ROAM_POLICY) {
			if (p->roam_policy != CONF_ROAM_ANY && p->roam_policy != CONF_ROAM_PINNED &&
			    p->roam_policy != CONF_ROAM_WITHIN)
				return device_error(err, errlen, -EINVAL,
						    "peer %s: roam_policy: unknown policy %d", key,
						    (int)p->roam_policy);
			if (p->roam_policy == CONF_ROAM_WITHIN && !p->n_roam_cidrs)
				return device_error(err, errlen, -EINVAL,
						    "peer %s: roam_policy within needs roam_cidr",
						    key);
			for (j = 0; j < p->n_roam_cidrs; j++)
				if (!device_valid_prefix(&p->roam_cidrs[j]))
					return device_error(err, errlen, -EINVAL,
							    "peer %s: roam_cidr %zu: bad family "
							    "or cidr",
							    key, j);
		}
		if (!(p->flags & (CONF_PEER_REMOVE | CONF_PEER_UPDATE_ONLY)) &&
		    ((req->flags & CONF_DEV_REPLACE_PEERS) ||
		     !wg_device_lookup_peer(dev, p->public_key)))
			new_peers++;
	}
	if ((req->flags & CONF_DEV_REPLACE_PEERS ? 0 : dev->n_peers) + new_peers >
	    MAX_PEERS_PER_DEVICE)
		return device_error(err, errlen, -E2BIG, "peers: more than %u",
				    MAX_PEERS_PER_DEVICE);
	return 0;
}

static void device_set_private_key(struct wg_device *dev, const uint8_t key[WG_KEY_LEN])
{
	uint8_t *clamped = crypto_secure_alloc(WG_KEY_LEN);
	uint8_t pub[WG_KEY_LEN];
	struct wg_peer *p;
	bool had, send_staged;

	if (!clamped)
		return;
	memcpy(clamped, key, WG_KEY_LEN);
	if (!crypto_is_zero(key, WG_KEY_LEN))
		crypto_clamp(clamped);
	if (dev->identity->has_identity == !crypto_is_zero(key, WG_KEY_LEN) &&
	    crypto_equal(clamped, dev->identity->static_private, WG_KEY_LEN))
		goto out;
	pthread_rwlock_wrlock(&dev->lock);
	/* A peer with our own public key would be talking to itself: it goes. */
	if (!crypto_is_zero(key, WG_KEY_LEN)) {
		crypto_pubkey(pub, clamped);
		p = wg_device_lookup_peer(dev, pub);
		if (p)
			device_remove_peer_locked(dev, p);
	}
	had = dev->identity->has_identity;
	noise_set_static_identity_private_key(dev->identity, key);
	send_staged = !had && dev->identity->has_identity;
	cookie_checker_precompute_device_keys(
		dev->checker, dev->identity->has_identity ? dev->identity->static_public : NULL);
	for (p = dev->peers; p; p = p->next_peer) {
		noise_precompute_static_static(&p->handshake);
		/* Sessions made under the old key must not be extended: expire them, so the
		 * next packet starts a handshake under the new one. */
		noise_handshake_clear(&p->handshake, dev->index);
		atomic_store(&p->last_sent_handshake,
			     wg_device_now(dev) - (uint64_t)(REKEY_TIMEOUT + 1) * NSEC_PER_SEC);
		noise_expire_current_peer_keypairs(&p->keypairs);
	}
	pthread_rwlock_unlock(&dev->lock);
	if (send_staged)
		for (p = dev->peers; p; p = p->next_peer)
			send_staged_packets(dev->path, p);
out:
	crypto_wipe(pub, sizeof(pub));
	crypto_secure_free(clamped);
}

static int device_bind(struct wg_device *dev, const struct conf_dev *req, char *err, size_t errlen)
{
	uint16_t port = req->flags & CONF_DEV_HAS_LISTEN_PORT ? req->listen_port : dev->listen_port;
	uint32_t fwmark = req->flags & CONF_DEV_HAS_FWMARK ? req->fwmark : dev->fwmark;
	struct wg_peer *p;
	int ret;

	if (!(req->flags & (CONF_DEV_HAS_LISTEN_PORT | CONF_DEV_HAS_FWMARK)))
		return 0;
	if (dev->bound && port == dev->listen_port && fwmark == dev->fwmark)
		return 0;
	if (!dev->ops.bind)
		return device_error(err, errlen, -EOPNOTSUPP, "listen_port: cannot bind here");
	ret = dev->ops.bind(dev->io_ctx, port, fwmark);
	if (ret < 0)
		return device_error(err, errlen, ret, "listen_port: cannot bind port %u: %s", port,
				    strerror(-ret));
	dev->listen_port = (uint16_t)ret;
	dev->fwmark = fwmark;
	dev->bound = true;
	/* New socket, new routes: the cached sources may be wrong now. */
	for (p = dev->peers; p; p = p->next_peer)
		peer_clear_endpoint_src(p);
	return 0;
}

static int device_apply_peer(struct wg_device *dev, const struct conf_peer *cp)
{
	struct wg_peer *peer = wg_device_lookup_peer(dev, cp->public_key);
	unsigned int flags = cp->flags;
	struct wg_endpoint ep;
	bool created = false;
	uint16_t old_ka;
	size_t i;
	int ret;

	if (!peer) {
		if (flags & (CONF_PEER_REMOVE | CONF_PEER_UPDATE_ONLY))
			return 0;
		/* The same request may be sent to every member of a mesh: our own key among
		 * the peers is skipped silently, as the kernel does. */
		if (dev->identity->has_identity &&
		    !memcmp(cp->public_key, dev->identity->static_public, WG_KEY_LEN))
			return 0;
		peer = peer_create(dev, cp->public_key,
				   flags & CONF_PEER_HAS_PRESHARED_KEY ? cp->preshared_key : NULL);
		if (!peer)
			return -ENOMEM;
		flags &= ~(unsigned int)CONF_PEER_REPLACE_ALLOWEDIPS;
		pthread_rwlock_wrlock(&dev->lock);
		/* appended in O(1): configuration order is the listing order */
		if (dev->peers_last)
			dev->peers_last->next_peer = peer;
		else
			dev->peers = peer;
		dev->peers_last = peer;
		dev->n_peers++;
		device_hash_peer(dev, peer);
		pthread_rwlock_unlock(&dev->lock);
		created = true;
	}
	if (flags & CONF_PEER_REMOVE) {
		pthread_rwlock_wrlock(&dev->lock);
		device_remove_peer_locked(dev, peer);
		pthread_rwlock_unlock(&dev->lock);
		return 0;
	}
	if (flags & CONF_PEER_HAS_PRESHARED_KEY)
		memcpy(peer->handshake.preshared_key, cp->preshared_key, WG_KEY_LEN);
	if (flags & CONF_PEER_HAS_ENDPOINT) {
		ep = cp->endpoint;
		memset(&ep.src6, 0, sizeof(ep.src6));
		ep.src_ifindex = 0;
		peer_set_endpoint(peer, &ep);
	}
	if (flags & CONF_PEER_REPLACE_ALLOWEDIPS) {
		pthread_rwlock_wrlock(&dev->lock);
		allowedips_remove_by_owner(dev->allowedips, peer);
		pthread_rwlock_unlock(&dev->lock);
	}
	for (i = 0; i < cp->n_allowedips; i++) {
		const struct conf_allowedip *ip = &cp->allowedips[i];

		pthread_rwlock_wrlock(&dev->lock);
		ret = allowedips_insert(dev->allowedips, ip->family, &ip->ip6, ip->cidr, peer);
		pthread_rwlock_unlock(&dev->lock);
		if (ret)
			return ret;
	}
	if (flags & CONF_PEER_HAS_ROAM_POLICY) {
		ret = peer_set_roam_policy(peer, cp->roam_policy, cp->roam_cidrs, cp->n_roam_cidrs);
		if (ret)
			return ret;
	}
	if (flags & CONF_PEER_HAS_PERSISTENT_KEEPALIVE) {
		old_ka = atomic_exchange(&peer->persistent_keepalive_interval,
					 cp->persistent_keepalive);
		peer_endpoint_copy(peer, &ep);
		/* Newly on: tell the peer (and any NAT between) now, not in `interval` seconds. */
		if (!old_ka && cp->persistent_keepalive && endpoint_is_set(&ep) &&
		    dev->identity->has_identity)
			send_keepalive(dev->path, peer);
	}
	/* after the endpoint and policy are in place, so the back-end's copy is complete */
	if (dev->ops.peer_added &&
	    (created || (flags & (CONF_PEER_HAS_ENDPOINT | CONF_PEER_HAS_ROAM_POLICY))))
		dev->ops.peer_added(dev->io_ctx, peer);
	if (dev->identity->has_identity)
		send_staged_packets(dev->path, peer);
	return 0;
}

int wg_device_apply(struct wg_device *dev, const struct conf_dev *req, char *err, size_t errlen)
{
	char key[CRYPTO_KEY_BASE64_LEN + 1];
	size_t i;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	ret = device_validate(dev, req, err, errlen);
	if (ret)
		return ret;
	/* The socket first: the one step that fails for reasons outside the request. */
	ret = device_bind(dev, req, err, errlen);
	if (ret)
		return ret;
	if (req->flags & CONF_DEV_HAS_PRIVATE_KEY)
		device_set_private_key(dev, req->private_key);
	if (req->flags & CONF_DEV_REPLACE_PEERS) {
		pthread_rwlock_wrlock(&dev->lock);
		while (dev->peers)
			device_remove_peer_locked(dev, dev->peers);
		pthread_rwlock_unlock(&dev->lock);
	}
	for (i = 0; i < req->n_peers; i++) {
		ret = device_apply_peer(dev, &req->peers[i]);
		if (ret) {
			crypto_key_to_base64(key, req->peers[i].public_key);
			return device_error(err, errlen, ret, "peer %s: %s", key, strerror(-ret));
		}
	}
	if (dev->ops.session_del)
		device_flush_gone(dev);
	return 0;
}

struct snapshot_walk {
	struct conf_peer *p;
	int ret;
};

static int device_snapshot_ip(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct snapshot_walk *w = ctx;
	struct conf_allowedip ip;

	memset(&ip, 0, sizeof(ip));
	ip.family = family;
	ip.cidr = cidr;
	memcpy(&ip.ip6, addr, family == AF_INET ? 4 : 16);
	w->ret = conf_peer_add_allowedip(w->p, &ip);
	return w->ret;
}

struct conf_dev *wg_device_snapshot(struct wg_device *dev)
{
	struct conf_dev *c = conf_new();
	struct snapshot_walk w;
	struct wg_peer *p;
	size_t i;

	if (!c)
		return NULL;
	if (dev->identity->has_identity) {
		memcpy(c->private_key, dev->identity->static_private, WG_KEY_LEN);
		memcpy(c->public_key, dev->identity->static_public, WG_KEY_LEN);
		c->flags |= CONF_DEV_HAS_PRIVATE_KEY;
	}
	c->listen_port = dev->listen_port;
	c->fwmark = dev->fwmark;
	c->flags |= CONF_DEV_HAS_LISTEN_PORT | CONF_DEV_HAS_FWMARK;
	pthread_rwlock_rdlock(&dev->lock);
	for (p = dev->peers; p; p = p->next_peer) {
		struct conf_peer *cp = conf_add_peer(c);
		int64_t wall;

		if (!cp)
			goto fail;
		memcpy(cp->public_key, p->handshake.remote_static, WG_KEY_LEN);
		memcpy(cp->preshared_key, p->handshake.preshared_key, WG_KEY_LEN);
		if (!crypto_is_zero(cp->preshared_key, WG_KEY_LEN))
			cp->flags |= CONF_PEER_HAS_PRESHARED_KEY;
		peer_endpoint_copy(p, &cp->endpoint);
		if (endpoint_is_set(&cp->endpoint))
			cp->flags |= CONF_PEER_HAS_ENDPOINT;
		cp->persistent_keepalive = atomic_load(&p->persistent_keepalive_interval);
		cp->flags |= CONF_PEER_HAS_PERSISTENT_KEEPALIVE | CONF_PEER_HAS_ROAM_POLICY;
		cp->rx_bytes = atomic_load(&p->rx_bytes);
		cp->tx_bytes = atomic_load(&p->tx_bytes);
		wall = atomic_load(&p->walltime_last_handshake);
		if (wall) {
			cp->last_handshake_sec = wall / (int64_t)NSEC_PER_SEC;
			cp->last_handshake_nsec = wall % (int64_t)NSEC_PER_SEC;
		}
		cp->protocol_version = 1;
		cp->endpoint_moves = atomic_load(&p->endpoint_moves);
		wall = atomic_load(&p->last_move_wall_ns);
		cp->last_move_sec = wall ? wall / (int64_t)NSEC_PER_SEC : 0;
		w.p = cp;
		w.ret = 0;
		if (allowedips_walk_by_owner(dev->allowedips, p, device_snapshot_ip, &w))
			goto fail;
		pthread_spin_lock(&p->endpoint_lock);
		cp->roam_policy = p->roam_policy;
		for (i = 0; i < p->n_roam_cidrs; i++) {
			if (conf_peer_add_roam_cidr(cp, &p->roam_cidrs[i])) {
				pthread_spin_unlock(&p->endpoint_lock);
				goto fail;
			}
		}
		pthread_spin_unlock(&p->endpoint_lock);
	}
	pthread_rwlock_unlock(&dev->lock);
	return c;
fail:
	pthread_rwlock_unlock(&dev->lock);
	conf_free(c);
	return NULL;
}
