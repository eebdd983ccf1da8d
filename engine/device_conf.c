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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allowedips.h"
#include "config.h"
#include "crypto.h"
#include "internal.h"
#include "log.h"
#include "multipath.h"
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
			if (!conf_roam_policy_name(p->roam_policy))
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

/* Room for need more entries in dev->gone, so that the sessions a commit ends are all reported
 * (wg_device_session_gone drops one when it cannot grow the array). */
static int device_reserve_gone(struct wg_device *dev, size_t need)
{
	uint32_t *g;
	int ret = 0;

	if (!dev->ops.session_del || !need)
		return 0;
	pthread_mutex_lock(&dev->gone_lock);
	if (dev->cap_gone - dev->n_gone < need) {
		g = realloc(dev->gone, (dev->n_gone + need) * sizeof(*g));
		if (g) {
			dev->gone = g;
			dev->cap_gone = dev->n_gone + need;
		} else {
			ret = -ENOMEM;
		}
	}
	pthread_mutex_unlock(&dev->gone_lock);
	return ret;
}

/*
 * A request is applied in three phases, so that it is all or nothing (issue #15):
 *
 *   prepare  every allocation the request needs, with nothing visible changed: the clamped
 *            private key, a plan resolving each request peer to the peer it acts on (existing,
 *            or made now and linked only at commit), copies of roam CIDRs, room in the
 *            allowed-IPs table for every insert, room in dev->gone for the sessions the
 *            removals end;
 *   bind     the socket: the one step that fails for reasons outside the request;
 *   commit   the request in its order, as the configuration protocol reads it, drawing only on
 *            what was prepared: no failure point.
 *
 * A failure in the first two frees what was prepared and leaves the device as it was: keys,
 * port, peers, endpoints, allowed IPs, hooks not called. The daemon relies on it: it writes the
 * XDP program's mac1 key only after a successful apply. The cost is proportional to the request
 * (a lookup and a sort entry per request peer, about the allocations the old one-step apply
 * made), not to the device: adding one peer to 100,000 stays cheap.
 */

/* What one request peer does, resolved at prepare. */
struct apply_step {
	struct wg_peer *peer;  /* the peer it acts on; NULL: skipped (absent, or our own key) */
	struct wg_peer *after; /* the peer its key names after this step (NULL: none) */
	size_t prev;	       /* the previous step with the same key, or SIZE_MAX */
	bool create;	       /* peer was made at prepare: commit links it */
	struct conf_allowedip *roam_cidrs; /* the copy commit installs (HAS_ROAM_POLICY) */
	struct mpath_set *mp;		   /* a multipath policy's set, when the peer has none */
};

struct apply_plan {
	struct apply_step *steps;
	uint8_t *clamped; /* the request's private key, clamped (secure memory); NULL: none */
	bool key_changes;
	bool has_identity_after;
	uint8_t pub_after[WG_KEY_LEN];
	struct wg_peer *key_victim; /* the peer whose key is our new public key: removed */
	uint32_t next_peer_id;	    /* to roll the ids of made peers back */
	uint64_t next_internal_id;
	bool reserved; /* allowedips_reserve succeeded */
};

static void apply_plan_free(struct wg_device *dev, const struct conf_dev *req,
			    struct apply_plan *plan, bool committed)
{
	size_t i;

	if (plan->steps) {
		for (i = 0; i < req->n_peers; i++) {
			struct apply_step *s = &plan->steps[i];

			/* after a commit the peers belong to the device, the copies to them */
			if (!committed && s->create)
				peer_put(s->peer);
			free(s->roam_cidrs); /* NULL once installed */
			free(s->mp);
		}
		free(plan->steps);
	}
	if (!committed) {
		dev->next_peer_id = plan->next_peer_id;
		dev->next_internal_id = plan->next_internal_id;
	}
	if (plan->reserved) {
		pthread_rwlock_wrlock(&dev->lock);
		allowedips_unreserve(dev->allowedips);
		pthread_rwlock_unlock(&dev->lock);
	}
	crypto_wipe(plan->pub_after, sizeof(plan->pub_after));
	crypto_secure_free(plan->clamped);
}

static int apply_cmp_key(const void *a, const void *b, void *arg)
{
	const struct conf_peer *peers = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int c = memcmp(peers[x].public_key, peers[y].public_key, WG_KEY_LEN);

	if (c)
		return c;
	return x < y ? -1 : x > y;
}

/* Link each step to the previous one with the same key: one sort of the request, not a walk
 * per peer. */
static int apply_link_duplicates(const struct conf_dev *req, struct apply_step *steps)
{
	size_t *order, i;

	for (i = 0; i < req->n_peers; i++)
		steps[i].prev = SIZE_MAX;
	if (req->n_peers < 2)
		return 0;
	order = malloc(req->n_peers * sizeof(*order));
	if (!order)
		return -ENOMEM;
	for (i = 0; i < req->n_peers; i++)
		order[i] = i;
	qsort_r(order, req->n_peers, sizeof(*order), apply_cmp_key, req->peers);
	for (i = 1; i < req->n_peers; i++)
		if (!memcmp(req->peers[order[i]].public_key, req->peers[order[i - 1]].public_key,
			    WG_KEY_LEN))
			steps[order[i]].prev = order[i - 1];
	free(order);
	return 0;
}

/* The key change: what it does to the identity and to the peer that has our new public key. */
static int apply_prepare_key(struct wg_device *dev, const struct conf_dev *req,
			     struct apply_plan *plan)
{
	bool zero = crypto_is_zero(req->private_key, WG_KEY_LEN);

	plan->has_identity_after = dev->identity->has_identity;
	memcpy(plan->pub_after, dev->identity->static_public, WG_KEY_LEN);
	if (!(req->flags & CONF_DEV_HAS_PRIVATE_KEY))
		return 0;
	plan->clamped = crypto_secure_alloc(WG_KEY_LEN);
	if (!plan->clamped)
		return -ENOMEM;
	memcpy(plan->clamped, req->private_key, WG_KEY_LEN);
	if (!zero)
		crypto_clamp(plan->clamped);
	if (dev->identity->has_identity == !zero &&
	    crypto_equal(plan->clamped, dev->identity->static_private, WG_KEY_LEN))
		return 0;
	plan->key_changes = true;
	plan->has_identity_after = !zero;
	memset(plan->pub_after, 0, WG_KEY_LEN);
	if (!zero) {
		crypto_pubkey(plan->pub_after, plan->clamped);
		/* A peer with our own public key would be talking to itself: it goes. */
		plan->key_victim = wg_device_lookup_peer(dev, plan->pub_after);
	}
	return 0;
}

/* The peer a step's key names before the step: what an earlier step left, else the device's,
 * as the key change and replace_peers leave them. */
static struct wg_peer *apply_resolve(struct wg_device *dev, const struct conf_dev *req,
				     const struct apply_plan *plan, size_t i)
{
	struct wg_peer *p;

	if (plan->steps[i].prev != SIZE_MAX)
		return plan->steps[plan->steps[i].prev].after;
	if (req->flags & CONF_DEV_REPLACE_PEERS)
		return NULL;
	p = wg_device_lookup_peer(dev, req->peers[i].public_key);
	return p == plan->key_victim ? NULL : p;
}

static int apply_prepare(struct wg_device *dev, const struct conf_dev *req, struct apply_plan *plan,
			 char *err, size_t errlen)
{
	char key[CRYPTO_KEY_BASE64_LEN + 1];
	size_t i, inserts = 0, owners = 0, removed = 0;
	int ret;

	plan->next_peer_id = dev->next_peer_id;
	plan->next_internal_id = dev->next_internal_id;
	if (apply_prepare_key(dev, req, plan))
		return device_error(err, errlen, -ENOMEM, "private_key: %s", strerror(ENOMEM));
	if (req->flags & CONF_DEV_REPLACE_PEERS)
		removed = dev->n_peers;
	else if (plan->key_victim)
		removed = 1;
	if (req->n_peers) {
		plan->steps = calloc(req->n_peers, sizeof(*plan->steps));
		if (!plan->steps || apply_link_duplicates(req, plan->steps))
			return device_error(err, errlen, -ENOMEM, "peers: %s", strerror(ENOMEM));
	}
	for (i = 0; i < req->n_peers; i++) {
		const struct conf_peer *cp = &req->peers[i];
		struct apply_step *s = &plan->steps[i];
		struct wg_peer *p = apply_resolve(dev, req, plan, i);

		s->after = p;
		if (!p) {
			if (cp->flags & (CONF_PEER_REMOVE | CONF_PEER_UPDATE_ONLY))
				continue;
			/* The same request may be sent to every member of a mesh: our own key
			 * among the peers is skipped silently, as the kernel does. */
			if (plan->has_identity_after &&
			    !memcmp(cp->public_key, plan->pub_after, WG_KEY_LEN))
				continue;
			p = peer_create(dev, cp->public_key,
					cp->flags & CONF_PEER_HAS_PRESHARED_KEY ? cp->preshared_key
										: NULL);
			if (!p) {
				ret = -ENOMEM;
				goto fail;
			}
			s->create = true;
		}
		s->peer = p;
		if (cp->flags & CONF_PEER_REMOVE) {
			/* one made by this request has none: counted anyway, it is only room */
			removed++;
			s->after = NULL;
			continue;
		}
		s->after = p;
		inserts += cp->n_allowedips;
		owners += cp->n_allowedips ? 1 : 0;
		if (cp->flags & CONF_PEER_HAS_ROAM_POLICY && cp->n_roam_cidrs) {
			s->roam_cidrs = calloc(cp->n_roam_cidrs, sizeof(*s->roam_cidrs));
			if (!s->roam_cidrs) {
				ret = -ENOMEM;
				goto fail;
			}
			memcpy(s->roam_cidrs, cp->roam_cidrs,
			       cp->n_roam_cidrs * sizeof(*s->roam_cidrs));
		}
		/* the path set now, so that the commit cannot fail */
		if ((cp->flags & CONF_PEER_HAS_ROAM_POLICY) && mpath_policy(cp->roam_policy) &&
		    (!s->peer || !s->peer->mp) && !(s->mp = mpath_set_new())) {
			ret = -ENOMEM;
			goto fail;
		}
	}
	pthread_rwlock_wrlock(&dev->lock);
	ret = allowedips_reserve(dev->allowedips, inserts, owners);
	pthread_rwlock_unlock(&dev->lock);
	if (ret)
		return device_error(err, errlen, ret, "allowed_ips: %s", strerror(-ret));
	plan->reserved = true;
	/* a removed peer ends at most its three keypairs' sessions */
	ret = device_reserve_gone(dev, removed * 3);
	if (ret)
		return device_error(err, errlen, ret, "peers: %s", strerror(-ret));
	return 0;
fail:
	crypto_key_to_base64(key, req->peers[i].public_key);
	return device_error(err, errlen, ret, "peer %s: %s", key, strerror(-ret));
}

/* The key change, as prepared. */
static void apply_commit_key(struct wg_device *dev, const struct conf_dev *req,
			     const struct apply_plan *plan)
{
	struct wg_peer *p;
	bool had, send_staged;

	if (!plan->key_changes)
		return;
	pthread_rwlock_wrlock(&dev->lock);
	if (plan->key_victim)
		device_remove_peer_locked(dev, plan->key_victim);
	had = dev->identity->has_identity;
	noise_set_static_identity_private_key(dev->identity, req->private_key);
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
}

/* One request peer, as planned: nothing here can fail. */
static void apply_commit_peer(struct wg_device *dev, const struct conf_peer *cp,
			      struct apply_step *s)
{
	struct wg_peer *peer = s->peer;
	unsigned int flags = cp->flags;
	struct conf_allowedip *old_cidrs;
	struct wg_endpoint ep;
	uint16_t old_ka;
	size_t i;

	if (!peer)
		return;
	if (s->create) {
		/* made at prepare, before a key change: harmless, the static-static secret is
		 * computed from the identity at the first handshake (noise.c) */
		flags &= ~(unsigned int)CONF_PEER_REPLACE_ALLOWEDIPS;
		pthread_rwlock_wrlock(&dev->lock);
		/* appended in O(1): configuration order is the listing order */
		peer->prev_peer = dev->peers_last;
		if (dev->peers_last)
			dev->peers_last->next_peer = peer;
		else
			dev->peers = peer;
		dev->peers_last = peer;
		dev->n_peers++;
		device_hash_peer(dev, peer);
		pthread_rwlock_unlock(&dev->lock);
	}
	if (flags & CONF_PEER_REMOVE) {
		pthread_rwlock_wrlock(&dev->lock);
		device_remove_peer_locked(dev, peer);
		pthread_rwlock_unlock(&dev->lock);
		return;
	}
	if (flags & CONF_PEER_HAS_PRESHARED_KEY)
		memcpy(peer->handshake.preshared_key, cp->preshared_key, WG_KEY_LEN);
	if (flags & CONF_PEER_HAS_ENDPOINT) {
		ep = cp->endpoint;
		memset(&ep.src6, 0, sizeof(ep.src6));
		ep.src_ifindex = 0;
		peer_set_endpoint(peer, &ep);
	}
	pthread_rwlock_wrlock(&dev->lock);
	if (flags & CONF_PEER_REPLACE_ALLOWEDIPS)
		allowedips_remove_by_owner(dev->allowedips, peer);
	for (i = 0; i < cp->n_allowedips; i++) {
		const struct conf_allowedip *ip = &cp->allowedips[i];

		/* validated, and the room reserved at prepare: cannot fail */
		if (allowedips_insert(dev->allowedips, ip->family, &ip->ip6, ip->cidr, peer))
			log_err("%s: peer %s: allowed IP lost", dev->name, peer->name);
	}
	pthread_rwlock_unlock(&dev->lock);
	if (flags & CONF_PEER_HAS_ROAM_POLICY) {
		pthread_spin_lock(&peer->endpoint_lock);
		old_cidrs = peer->roam_cidrs;
		peer->roam_policy = cp->roam_policy;
		peer->roam_cidrs = s->roam_cidrs;
		peer->n_roam_cidrs = s->roam_cidrs ? cp->n_roam_cidrs : 0;
		if (!peer->mp && s->mp) {
			peer->mp = s->mp;
			s->mp = NULL;
		}
		mpath_set_mode_locked(peer, cp->roam_policy);
		pthread_spin_unlock(&peer->endpoint_lock);
		s->roam_cidrs = NULL;
		free(old_cidrs);
		if (mpath_policy(cp->roam_policy))
			mpath_uplinks_changed(peer);
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
	    (s->create || (flags & (CONF_PEER_HAS_ENDPOINT | CONF_PEER_HAS_ROAM_POLICY))))
		dev->ops.peer_added(dev->io_ctx, peer);
	if (dev->identity->has_identity)
		send_staged_packets(dev->path, peer);
}

int wg_device_apply(struct wg_device *dev, const struct conf_dev *req, char *err, size_t errlen)
{
	struct apply_plan plan;
	size_t i;
	int ret;

	if (err && errlen)
		err[0] = '\0';
	ret = device_validate(dev, req, err, errlen);
	if (ret)
		return ret;
	memset(&plan, 0, sizeof(plan));
	ret = apply_prepare(dev, req, &plan, err, errlen);
	if (!ret)
		ret = device_bind(dev, req, err, errlen);
	if (ret) {
		apply_plan_free(dev, req, &plan, false);
		return ret;
	}
	apply_commit_key(dev, req, &plan);
	if (req->flags & CONF_DEV_REPLACE_PEERS) {
		pthread_rwlock_wrlock(&dev->lock);
		while (dev->peers)
			device_remove_peer_locked(dev, dev->peers);
		pthread_rwlock_unlock(&dev->lock);
	}
	for (i = 0; i < req->n_peers; i++)
		apply_commit_peer(dev, &req->peers[i], &plan.steps[i]);
	if (dev->ops.session_del)
		device_flush_gone(dev);
	apply_plan_free(dev, req, &plan, true);
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

struct allowedips_walk {
	struct conf_allowedip *ips;
	size_t n, cap;
};

static int device_peer_ip(void *ctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct allowedips_walk *w = ctx;
	struct conf_allowedip *ip;

	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 4;
		struct conf_allowedip *a = realloc(w->ips, cap * sizeof(*a));

		if (!a)
			return -ENOMEM;
		w->ips = a;
		w->cap = cap;
	}
	ip = &w->ips[w->n++];
	memset(ip, 0, sizeof(*ip));
	ip->family = family;
	ip->cidr = cidr;
	memcpy(&ip->ip6, addr, family == AF_INET ? 4 : 16);
	return 0;
}

int wg_device_peer_allowedips(struct wg_device *dev, const uint8_t pub[WG_KEY_LEN],
			      struct conf_allowedip **out, size_t *n)
{
	struct allowedips_walk w = { 0 };
	struct wg_peer *p;
	int ret = -ENOENT;

	*out = NULL;
	*n = 0;
	pthread_rwlock_rdlock(&dev->lock);
	p = wg_device_lookup_peer(dev, pub);
	if (p)
		ret = allowedips_walk_by_owner(dev->allowedips, p, device_peer_ip, &w) ? -ENOMEM
										       : 0;
	pthread_rwlock_unlock(&dev->lock);
	if (ret < 0) {
		free(w.ips);
		return ret;
	}
	*out = w.ips;
	*n = w.n;
	return 0;
}

/* The device's own fields (identity, port, fwmark) into c. */
void device_snapshot_dev(struct wg_device *dev, struct conf_dev *c)
{
	if (dev->identity->has_identity) {
		memcpy(c->private_key, dev->identity->static_private, WG_KEY_LEN);
		memcpy(c->public_key, dev->identity->static_public, WG_KEY_LEN);
		c->flags |= CONF_DEV_HAS_PRIVATE_KEY;
	}
	c->listen_port = dev->listen_port;
	c->fwmark = dev->fwmark;
	c->flags |= CONF_DEV_HAS_LISTEN_PORT | CONF_DEV_HAS_FWMARK;
}

/* One peer appended to c (caller holds dev->lock for reading): 0 or -ENOMEM. */
int device_snapshot_peer(struct wg_device *dev, struct wg_peer *p, struct conf_dev *c)
{
	struct conf_peer *cp = conf_add_peer(c);
	struct snapshot_walk w;
	int64_t wall;
	size_t i;

	if (!cp)
		return -ENOMEM;
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
		return -ENOMEM;
	pthread_spin_lock(&p->endpoint_lock);
	cp->roam_policy = p->roam_policy;
	mpath_snapshot_locked(p, cp, wg_device_now(dev));
	for (i = 0; i < p->n_roam_cidrs; i++) {
		if (conf_peer_add_roam_cidr(cp, &p->roam_cidrs[i])) {
			pthread_spin_unlock(&p->endpoint_lock);
			return -ENOMEM;
		}
	}
	pthread_spin_unlock(&p->endpoint_lock);
	return 0;
}

struct conf_dev *wg_device_snapshot(struct wg_device *dev)
{
	struct conf_dev *c = conf_new();
	struct wg_peer *p;

	if (!c)
		return NULL;
	device_snapshot_dev(dev, c);
	pthread_rwlock_rdlock(&dev->lock);
	for (p = dev->peers; p; p = p->next_peer) {
		if (device_snapshot_peer(dev, p, c))
			goto fail;
	}
	pthread_rwlock_unlock(&dev->lock);
	return c;
fail:
	pthread_rwlock_unlock(&dev->lock);
	conf_free(c);
	return NULL;
}
