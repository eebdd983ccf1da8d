// SPDX-License-Identifier: GPL-2.0
/*
 * The cluster's peer set and membership from etcd (cluster.h). Two threads talk to etcd and
 * never touch the device: the watcher (first sync, then the watch) and the registrar (the
 * membership lease). They queue items; the control thread applies them, so every change to
 * the device goes through one place, the UAPI set handler, and is atomic the same way.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "cluster.h"
#include "cluster_fwd.h"
#include "cluster_held.h"
#include "etcd.h"
#include "log.h"
#include "uapi.h"
#include "xdpwgd.h"

enum cluster_item_type {
	CLUSTER_ITEM_SYNC,     /* the whole prefix: peers to set, keys present, gateways */
	CLUSTER_ITEM_PEER,     /* one peer put */
	CLUSTER_ITEM_PEER_DEL, /* one peer deleted */
	CLUSTER_ITEM_GW,       /* one gateway put */
	CLUSTER_ITEM_GW_DEL,   /* one gateway deleted (or its lease expired) */
	CLUSTER_ITEM_HELD,     /* a held/ claim: gw.id holds pub (cluster_held.c) */
	CLUSTER_ITEM_HELD_DEL, /* a held/ claim went */
};

typedef uint8_t cluster_key[WG_KEY_LEN];

struct cluster_item {
	struct cluster_item *next;
	enum cluster_item_type type;
	struct conf_dev *conf; /* SYNC, PEER */
	cluster_key pub;       /* PEER_DEL */
	cluster_key *present;  /* SYNC: every peer key in the store, well-formed or not, sorted */
	size_t n_present;
	struct cluster_gateway gw;   /* GW, GW_DEL (id only) */
	struct cluster_gateway *gws; /* SYNC */
	size_t n_gws;
	int64_t revision;
	char key[CLUSTER_PREFIX_MAX + 64]; /* for the log */
};

/* A set of public keys: open addressing, linear probing, at most half full. A gateway of
 * 100,000 peers adds and removes them one watch event at a time: no per-event O(n). */
struct cluster_slot {
	cluster_key k;
	bool used;
};

struct cluster_keyset {
	struct cluster_slot *slots;
	size_t cap, n; /* cap: a power of two, or 0 */
};

struct cluster_known {
	bool alive;
	struct sockaddr_storage underlay;
};

struct cluster {
	struct xdpwgd *d;
	char name[CLUSTER_NAME_MAX + 1];
	char prefix[CLUSTER_PREFIX_MAX];
	char etcd[ETCD_MAX_ENDPOINTS * ETCD_URL_MAX];
	unsigned int self_id;
	struct sockaddr_storage underlay;
	atomic_bool stop;
	/* wakes the watcher out of its watch: a stop, or a resync asked for */
	atomic_bool wake, resync;
	bool applying; /* control thread: the request going through is the cluster's own */
	pthread_t watcher, registrar;
	bool watcher_started, registrar_started;
	/* the queue from the threads to the control thread */
	pthread_mutex_t lock;
	struct cluster_item *head, *tail;
	int efd;
	/* control thread only: the keys applied from etcd (sorted), the membership */
	struct cluster_keyset managed;
	struct cluster_known members[CLUSTER_GATEWAY_ID_MAX + 1];
	bool synced;
	/* who holds a session (cluster_held.c): with a gateway id and --cluster-table */
	struct cluster_held *held;
};

/* --- options --- */

int cluster_parse_opts(struct cluster_opts *o, const char *name, const char *etcd)
{
	char err[CLUSTER_ERR_LEN];
	const char *what_name = name ? "--cluster" : "XDPWG_CLUSTER";
	const char *what_etcd = etcd ? "--etcd" : "XDPWG_ETCD";
	const char *underlay = getenv("XDPWG_UNDERLAY");

	memset(o, 0, sizeof(*o));
	if (!name && getenv("XDPWG_CLUSTER") && *getenv("XDPWG_CLUSTER"))
		name = getenv("XDPWG_CLUSTER");
	if (!etcd && getenv("XDPWG_ETCD") && *getenv("XDPWG_ETCD"))
		etcd = getenv("XDPWG_ETCD");
	if (!name && !etcd)
		return 0;
	if (!name) {
		fprintf(stderr, "xdpwgd: %s needs --cluster NAME (or XDPWG_CLUSTER)\n", what_etcd);
		return -1;
	}
	if (!etcd) {
		fprintf(stderr, "xdpwgd: %s needs --etcd URL[,URL...] (or XDPWG_ETCD)\n",
			what_name);
		return -1;
	}
	if (cluster_name_check(name, err, sizeof(err)) < 0) {
		fprintf(stderr, "xdpwgd: %s %s\n", what_name, err);
		return -1;
	}
	if (etcd_check_urls(etcd, err, sizeof(err)) < 0) {
		fprintf(stderr, "xdpwgd: %s %s: %s\n", what_etcd, etcd, err);
		return -1;
	}
	o->name = name;
	o->etcd = etcd;
	/* the gateway id is --gateway-id's (daemon/cluster_opts.c, main copies it here); the
	 * underlay address XDPWG_UNDERLAY's, else the forwarding's own (cluster_start) */
	if (underlay && *underlay && cluster_addr_parse(&o->underlay, underlay) < 0) {
		fprintf(stderr,
			"xdpwgd: XDPWG_UNDERLAY %s: not a numeric IPv4 or IPv6 address (the "
			"gateway's own underlay address)\n",
			underlay);
		return -1;
	}
	return 0;
}

/* --- the queue --- */

static void cluster_item_free(struct cluster_item *it)
{
	if (!it)
		return;
	conf_free(it->conf);
	free(it->present);
	free(it->gws);
	free(it);
}

static void cluster_push(struct cluster *c, struct cluster_item *it)
{
	uint64_t one = 1;

	pthread_mutex_lock(&c->lock);
	if (c->tail)
		c->tail->next = it;
	else
		c->head = it;
	c->tail = it;
	pthread_mutex_unlock(&c->lock);
	if (write(c->efd, &one, sizeof(one)) < 0)
		log_debug("cluster: eventfd write: %s", strerror(errno));
}

static struct cluster_item *cluster_pop(struct cluster *c)
{
	struct cluster_item *it;

	pthread_mutex_lock(&c->lock);
	it = c->head;
	if (it) {
		c->head = it->next;
		if (!c->head)
			c->tail = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	return it;
}

static void cluster_sleep_ms(struct cluster *c, long ms)
{
	for (long t = 0; t < ms && !atomic_load(&c->stop); t += 50)
		nanosleep(&(struct timespec){ .tv_nsec = 50 * 1000000L }, NULL);
}

static int cluster_key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, WG_KEY_LEN);
}

/* --- the watcher thread: etcd records into items --- */

/* A key under the prefix: "peers/NAME" or "gateways/ID"; NULL for anything else. */
static const char *cluster_sub(const struct cluster *c, const char *key, const char *sub)
{
	size_t plen = strlen(c->prefix), slen = strlen(sub);

	if (strncmp(key, c->prefix, plen) || strncmp(key + plen, sub, slen))
		return NULL;
	return key + plen + slen;
}

static struct cluster_item *cluster_item_new(enum cluster_item_type type, const char *key)
{
	struct cluster_item *it = calloc(1, sizeof(*it));

	if (it) {
		it->type = type;
		snprintf(it->key, sizeof(it->key), "%s", key);
	}
	return it;
}

/* A held/ record (or its deletion) into an item; NULL when malformed (logged) or when this
 * gateway does not claim sessions. */
static struct cluster_item *cluster_held_event(struct cluster *c, const struct etcd_kv *kv,
					       const char *name)
{
	char err[CLUSTER_ERR_LEN];
	struct cluster_item *it;
	uint8_t pub[WG_KEY_LEN];
	unsigned int gw = 0;

	if (!c->held)
		return NULL;
	if (kv->type == ETCD_DELETE) {
		if (!cluster_key_from_name(pub, name))
			return NULL;
	} else if (cluster_held_parse(name, kv->value, kv->value_len, pub, &gw, err, sizeof(err)) <
		   0) {
		log_warn("%s: cluster: %s refused: %s; nothing changed", c->d->ifname, kv->key,
			 err);
		return NULL;
	}
	it = cluster_item_new(kv->type == ETCD_DELETE ? CLUSTER_ITEM_HELD_DEL : CLUSTER_ITEM_HELD,
			      kv->key);
	if (it) {
		memcpy(it->pub, pub, WG_KEY_LEN);
		it->gw.id = gw;
	}
	return it;
}

/* One event of the watch into an item; NULL when it changes nothing here (refused, logged). */
static struct cluster_item *cluster_event(struct cluster *c, const struct etcd_kv *kv)
{
	char err[CLUSTER_ERR_LEN];
	struct cluster_item *it = NULL;
	const char *name;

	if ((name = cluster_sub(c, kv->key, "peers/"))) {
		if (kv->type == ETCD_DELETE) {
			uint8_t pub[WG_KEY_LEN];

			if (!cluster_key_from_name(pub, name))
				return NULL; /* a malformed record's deletion: never applied */
			it = cluster_item_new(CLUSTER_ITEM_PEER_DEL, kv->key);
			if (it)
				memcpy(it->pub, pub, WG_KEY_LEN);
			return it;
		}
		it = cluster_item_new(CLUSTER_ITEM_PEER, kv->key);
		if (!it || !(it->conf = conf_new()))
			goto enomem;
		if (cluster_record_parse(name, kv->value, kv->value_len, it->conf, err,
					 sizeof(err)) < 0) {
			log_warn("%s: cluster: %s refused: %s; nothing changed", c->d->ifname,
				 kv->key, err);
			cluster_item_free(it);
			return NULL;
		}
		return it;
	}
	if ((name = cluster_sub(c, kv->key, "gateways/"))) {
		struct cluster_gateway gw;

		if (kv->type == ETCD_DELETE) {
			char *end;
			unsigned long id = strtoul(name, &end, 10);

			/* only a name a gateway record could have had */
			if (*end || name[0] < '1' || name[0] > '9' || id > CLUSTER_GATEWAY_ID_MAX)
				return NULL;
			it = cluster_item_new(CLUSTER_ITEM_GW_DEL, kv->key);
			if (it)
				it->gw.id = (unsigned int)id;
			return it;
		}
		if (cluster_gateway_parse(name, kv->value, kv->value_len, &gw, err, sizeof(err)) <
		    0) {
			log_warn("%s: cluster: %s refused: %s; nothing changed", c->d->ifname,
				 kv->key, err);
			return NULL;
		}
		it = cluster_item_new(CLUSTER_ITEM_GW, kv->key);
		if (it)
			it->gw = gw;
		return it;
	}
	if ((name = cluster_sub(c, kv->key, "held/")))
		return cluster_held_event(c, kv, name);
	return NULL;
enomem:
	log_err("%s: cluster: %s: out of memory", c->d->ifname, kv->key);
	cluster_item_free(it);
	return NULL;
}

static int cluster_on_watch(void *ctx, const struct etcd_kv *evs, size_t n)
{
	struct cluster *c = ctx;

	for (size_t i = 0; i < n; i++) {
		struct cluster_item *it = cluster_event(c, &evs[i]);

		if (it) {
			it->revision = evs[i].mod_revision;
			cluster_push(c, it);
		}
	}
	return 0;
}

/* The whole prefix at one revision into one SYNC item. */
static int cluster_sync(struct cluster *c, struct etcd *e, int64_t *revision)
{
	struct cluster_item *it = cluster_item_new(CLUSTER_ITEM_SYNC, c->prefix), *held = NULL,
			    **held_tail = &held;
	struct etcd_kv *kvs = NULL;
	size_t n = 0, refused = 0;
	int ret = -ENOMEM;

	if (!it || !(it->conf = conf_new()))
		goto cleanup;
	ret = etcd_range_prefix(e, c->prefix, &kvs, &n, revision);
	if (ret < 0)
		goto cleanup;
	ret = -ENOMEM;
	it->present = calloc(n ? n : 1, sizeof(*it->present));
	it->gws = calloc(n ? n : 1, sizeof(*it->gws));
	if (!it->present || !it->gws)
		goto cleanup;
	for (size_t i = 0; i < n; i++) {
		char err[CLUSTER_ERR_LEN];
		const char *name;

		if ((name = cluster_sub(c, kvs[i].key, "peers/"))) {
			if (!cluster_key_from_name(it->present[it->n_present], name)) {
				log_warn("%s: cluster: %s refused: the key's name is not a public "
					 "key in base64url; nothing changed",
					 c->d->ifname, kvs[i].key);
				refused++;
				continue;
			}
			it->n_present++;
			ret = cluster_record_parse(name, kvs[i].value, kvs[i].value_len, it->conf,
						   err, sizeof(err));
			if (ret == -ENOMEM)
				goto cleanup;
			if (ret < 0) {
				log_warn("%s: cluster: %s refused: %s; nothing changed",
					 c->d->ifname, kvs[i].key, err);
				refused++;
			}
		} else if ((name = cluster_sub(c, kvs[i].key, "gateways/"))) {
			if (cluster_gateway_parse(name, kvs[i].value, kvs[i].value_len,
						  &it->gws[it->n_gws], err, sizeof(err)) < 0) {
				log_warn("%s: cluster: %s refused: %s; nothing changed",
					 c->d->ifname, kvs[i].key, err);
				continue;
			}
			it->n_gws++;
		} else if ((name = cluster_sub(c, kvs[i].key, "held/"))) {
			/* the claims as they are now, applied after the peers (queued below) */
			struct cluster_item *h = cluster_held_event(c, &kvs[i], name);

			if (h) {
				*held_tail = h;
				held_tail = &h->next;
			}
		}
	}
	qsort(it->present, it->n_present, sizeof(*it->present), cluster_key_cmp);
	it->revision = *revision;
	log_info("%s: cluster %s: read %zu peer%s (%zu refused) and %zu gateway%s at revision "
		 "%lld from %s",
		 c->d->ifname, c->name, it->conf->n_peers, it->conf->n_peers == 1 ? "" : "s",
		 refused, it->n_gws, it->n_gws == 1 ? "" : "s", (long long)*revision,
		 etcd_endpoint(e));
	cluster_push(c, it);
	it = NULL;
	while (held) {
		struct cluster_item *h = held;

		held = h->next;
		h->next = NULL;
		cluster_push(c, h);
	}
	ret = 0;
cleanup:
	if (ret == -ENOMEM)
		log_err("%s: cluster: first sync: out of memory", c->d->ifname);
	etcd_kvs_free(kvs, n);
	cluster_item_free(it);
	while (held) {
		struct cluster_item *h = held;

		held = h->next;
		cluster_item_free(h);
	}
	return ret;
}

static void *cluster_watcher(void *arg)
{
	struct cluster *c = arg;
	char err[ETCD_ERR_LEN];
	struct etcd *e = etcd_new(c->etcd, err, sizeof(err));
	bool need_sync = true, failing = false;
	int64_t next = 0;
	time_t last_warn = 0;

	if (!e) {
		log_err("%s: cluster: etcd: %s", c->d->ifname, err);
		return NULL;
	}
	/* a stop ends a range in flight too, not only the watch */
	etcd_set_abort(e, &c->stop);
	while (!atomic_load(&c->stop)) {
		int ret;

		/* cleared before looking, so that a resync asked for from here on ends the
		 * watch below at once */
		atomic_store(&c->wake, false);
		if (atomic_exchange(&c->resync, false))
			need_sync = true;
		if (need_sync) {
			int64_t rev = 0;

			ret = cluster_sync(c, e, &rev);
			if (ret < 0) {
				if (atomic_load(&c->stop))
					break;
				if (!failing)
					log_warn("%s: cluster: cannot read the peer set: %s; "
						 "retrying every %d ms",
						 c->d->ifname, etcd_error(e), CLUSTER_RETRY_MS);
				failing = true;
				cluster_sleep_ms(c, CLUSTER_RETRY_MS);
				continue;
			}
			need_sync = false;
			failing = false;
			next = rev + 1;
		}
		ret = etcd_watch(e, c->prefix, &next, cluster_on_watch, c, &c->wake);
		if (ret == -ESTALE) {
			log_warn("%s: cluster: %s; reading the whole peer set again", c->d->ifname,
				 etcd_error(e));
			need_sync = true;
		} else if (ret < 0) {
			/* the watch gives no word when it works again: a line now and then */
			struct timespec now;

			clock_gettime(CLOCK_MONOTONIC, &now);
			if (!last_warn || now.tv_sec - last_warn >= CLUSTER_WARN_EVERY_S) {
				log_warn("%s: cluster: no etcd member answers (%s); retrying",
					 c->d->ifname, etcd_error(e));
				last_warn = now.tv_sec ? now.tv_sec : 1;
			}
			cluster_sleep_ms(c, CLUSTER_RETRY_MS);
		}
	}
	etcd_free(e);
	return NULL;
}

/* --- the registrar thread: this gateway's membership under a lease --- */

static int cluster_register(struct cluster *c, struct etcd *e, int64_t *lease)
{
	struct cluster_gateway gw = { .id = c->self_id, .underlay = c->underlay };
	char key[CLUSTER_PREFIX_MAX + 64], *val = cluster_gateway_format(&gw);
	int ret;

	if (!val)
		return -ENOMEM;
	snprintf(key, sizeof(key), "%sgateways/%u", c->prefix, c->self_id);
	ret = etcd_lease_grant(e, CLUSTER_LEASE_TTL_S, lease);
	/* never over another gateway's registration: two gateways with one id would take each
	 * other's forwarded packets. A gateway restarted after a crash waits for its old lease
	 * (CLUSTER_LEASE_TTL_S at most). */
	if (ret == 0)
		ret = etcd_create(e, key, val, strlen(val), *lease);
	if (ret < 0 && *lease) {
		if (etcd_lease_revoke(e, *lease) < 0)
			log_debug("%s: cluster: lease revoke: %s", c->d->ifname, etcd_error(e));
		*lease = 0;
	}
	free(val);
	if (ret == 0)
		cluster_held_set_lease(c->held, *lease);
	if (ret == 0)
		log_info("%s: cluster %s: registered as gateway %u (%s, lease %llx, TTL %d s)",
			 c->d->ifname, c->name, c->self_id, key, (unsigned long long)*lease,
			 CLUSTER_LEASE_TTL_S);
	return ret;
}

static void *cluster_registrar(void *arg)
{
	struct cluster *c = arg;
	char err[ETCD_ERR_LEN];
	struct etcd *e = etcd_new(c->etcd, err, sizeof(err));
	int64_t lease = 0;
	bool failing = false;

	if (!e) {
		log_err("%s: cluster: etcd: %s", c->d->ifname, err);
		return NULL;
	}
	etcd_set_abort(e, &c->stop);
	while (!atomic_load(&c->stop)) {
		int ret = lease ? etcd_lease_keepalive(e, lease) : cluster_register(c, e, &lease);

		if (atomic_load(&c->stop))
			break;
		if (ret == -EEXIST) {
			if (!failing)
				log_warn("%s: cluster: gateway id %u is taken (another gateway, or "
					 "this one before a crash): waiting for it to go",
					 c->d->ifname, c->self_id);
			failing = true;
			cluster_sleep_ms(c, CLUSTER_KEEPALIVE_MS);
			continue;
		}
		if (ret == -ENOENT) {
			/* expired (etcd unreachable longer than the TTL): register again */
			log_warn("%s: cluster: membership lease expired; registering again",
				 c->d->ifname);
			lease = 0;
			cluster_held_set_lease(c->held, 0);
			continue;
		}
		if (ret < 0 && !failing)
			log_warn("%s: cluster: cannot %s the membership: %s", c->d->ifname,
				 lease ? "renew" : "register", etcd_error(e));
		failing = ret < 0;
		cluster_sleep_ms(c, CLUSTER_KEEPALIVE_MS);
	}
	/* a clean stop leaves the membership at once rather than after the TTL; bounded, so
	 * that an unreachable etcd does not hold the daemon's exit */
	etcd_set_abort(e, NULL);
	etcd_set_timeout(e, CLUSTER_REVOKE_MS);
	if (lease && etcd_lease_revoke(e, lease) < 0)
		log_debug("%s: cluster: lease revoke: %s", c->d->ifname, etcd_error(e));
	etcd_free(e);
	return NULL;
}

/* --- the control thread: items applied --- */

static size_t cluster_hash(const uint8_t *k, size_t cap)
{
	uint64_t h;

	/* public keys are uniformly distributed: their first bytes are hash enough */
	memcpy(&h, k, sizeof(h));
	return (size_t)((h * 0x9e3779b97f4a7c15ULL) >> 17) & (cap - 1);
}

static struct cluster_slot *cluster_keyset_find(const struct cluster_keyset *s, const uint8_t *k)
{
	if (!s->cap)
		return NULL;
	for (size_t i = cluster_hash(k, s->cap);; i = (i + 1) & (s->cap - 1)) {
		if (!s->slots[i].used)
			return NULL;
		if (!memcmp(s->slots[i].k, k, WG_KEY_LEN))
			return &s->slots[i];
	}
}

static int cluster_keyset_add(struct cluster_keyset *s, const uint8_t *k)
{
	size_t i;

	if (cluster_keyset_find(s, k))
		return 0;
	if ((s->n + 1) * 2 > s->cap) {
		struct cluster_keyset g = { .cap = s->cap ? s->cap * 2 : 64 };

		g.slots = calloc(g.cap, sizeof(*g.slots));
		if (!g.slots)
			return -ENOMEM;
		for (i = 0; i < s->cap; i++) {
			if (s->slots[i].used)
				cluster_keyset_add(&g, s->slots[i].k); /* fits: no growth */
		}
		free(s->slots);
		*s = g;
	}
	for (i = cluster_hash(k, s->cap); s->slots[i].used; i = (i + 1) & (s->cap - 1))
		;
	memcpy(s->slots[i].k, k, WG_KEY_LEN);
	s->slots[i].used = true;
	s->n++;
	return 0;
}

/* Backward-shift deletion: the entries after the hole that probed past it move into it. */
static void cluster_keyset_del(struct cluster_keyset *s, const uint8_t *k)
{
	struct cluster_slot *slot = cluster_keyset_find(s, k);
	size_t i, j, mask = s->cap - 1;

	if (!slot)
		return;
	i = (size_t)(slot - s->slots);
	s->slots[i].used = false;
	s->n--;
	for (j = (i + 1) & mask; s->slots[j].used; j = (j + 1) & mask) {
		size_t h = cluster_hash(s->slots[j].k, s->cap);

		/* j stays when its home h lies cyclically in (i, j] */
		if (i <= j ? (i < h && h <= j) : (i < h || h <= j))
			continue;
		s->slots[i] = s->slots[j];
		s->slots[j].used = false;
		i = j;
	}
}

static void cluster_keyset_free(struct cluster_keyset *s)
{
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

static int cluster_set(struct cluster *c, const struct conf_dev *req, char *err, size_t errlen)
{
	int ret;

	err[0] = '\0';
	c->applying = true;
	ret = daemon_uapi_handler.set(c->d, req, err, errlen);
	c->applying = false;
	return ret;
}

void cluster_on_local_set(struct xdpwgd *d, const struct conf_dev *req)
{
	struct cluster *c = d->cluster;
	bool lost = false;

	if (!c || c->applying || !c->managed.n)
		return;
	lost = req->flags & CONF_DEV_REPLACE_PEERS;
	for (size_t i = 0; i < req->n_peers && !lost; i++)
		lost = (req->peers[i].flags & CONF_PEER_REMOVE) &&
		       cluster_keyset_find(&c->managed, req->peers[i].public_key);
	if (!lost)
		return;
	/* etcd is where these peers are kept: read it again and put them back */
	log_info("%s: cluster: a local set removed peers from etcd; reading the peer set again",
		 d->ifname);
	atomic_store(&c->resync, true);
	atomic_store(&c->wake, true);
}

static void cluster_log_refused(struct cluster *c, const char *key, int ret, const char *err)
{
	log_warn("%s: cluster: %s refused by the device: %s; nothing changed", c->d->ifname, key,
		 err[0] ? err : strerror(-ret));
}

/* One peer of a SYNC on its own, after the whole set was refused. */
static void cluster_apply_one(struct cluster *c, const struct conf_peer *p)
{
	char err[CLUSTER_ERR_LEN], name[CLUSTER_KEYNAME_LEN + 1];
	struct conf_dev one = { .peers = (struct conf_peer *)p, .n_peers = 1 };
	int ret = cluster_set(c, &one, err, sizeof(err));

	cluster_key_name(name, p->public_key);
	if (ret < 0) {
		char key[CLUSTER_PREFIX_MAX + 64];

		snprintf(key, sizeof(key), "%speers/%s", c->prefix, name);
		cluster_log_refused(c, key, ret, err);
	} else if (!(p->flags & CONF_PEER_REMOVE)) {
		cluster_keyset_add(&c->managed, p->public_key);
	} else {
		cluster_keyset_del(&c->managed, p->public_key);
	}
}

static void cluster_members_sync(struct cluster *c, const struct cluster_gateway *gws, size_t n)
{
	bool alive[CLUSTER_GATEWAY_ID_MAX + 1] = { false };

	for (size_t i = 0; i < n; i++) {
		struct cluster_known *m = &c->members[gws[i].id];

		alive[gws[i].id] = true;
		if (gws[i].id == c->self_id)
			continue;
		if (!m->alive || memcmp(&m->underlay, &gws[i].underlay, sizeof(m->underlay))) {
			m->alive = true;
			m->underlay = gws[i].underlay;
			cluster_member_changed(c->d, gws[i].id, &m->underlay, true);
		}
	}
	for (unsigned int id = CLUSTER_GATEWAY_ID_MIN; id <= CLUSTER_GATEWAY_ID_MAX; id++) {
		if (c->members[id].alive && !alive[id]) {
			c->members[id].alive = false;
			cluster_member_changed(c->d, id, &c->members[id].underlay, false);
		}
	}
}

/*
 * The whole store: its peers, and the removal of those an earlier sync or watch applied that
 * are no longer in it, as one request. Well-formed keys whose record was refused stay as they
 * are (the gateway keeps their last good settings).
 */
static void cluster_apply_sync(struct cluster *c, struct cluster_item *it)
{
	struct conf_dev *req = it->conf;
	size_t n_set = req->n_peers, removed = 0;
	char err[CLUSTER_ERR_LEN];
	int ret;

	for (size_t i = 0; i < c->managed.cap; i++) {
		const struct cluster_slot *sl = &c->managed.slots[i];
		struct conf_peer *p;

		if (!sl->used || bsearch(sl->k, it->present, it->n_present, sizeof(*it->present),
					 cluster_key_cmp))
			continue;
		p = conf_add_peer(req);
		if (!p) {
			log_err("%s: cluster: sync: out of memory", c->d->ifname);
			return;
		}
		memcpy(p->public_key, sl->k, WG_KEY_LEN);
		p->flags = CONF_PEER_REMOVE;
		removed++;
	}
	ret = cluster_set(c, req, err, sizeof(err));
	if (ret == 0) {
		/* managed = what this request set, plus managed keys kept because their new
		 * record was refused */
		struct cluster_keyset next = { 0 };
		bool oom = false;

		for (size_t i = 0; i < c->managed.cap; i++) {
			const struct cluster_slot *sl = &c->managed.slots[i];

			if (sl->used && bsearch(sl->k, it->present, it->n_present,
						sizeof(*it->present), cluster_key_cmp))
				oom |= cluster_keyset_add(&next, sl->k) < 0;
		}
		for (size_t i = 0; i < n_set; i++)
			oom |= cluster_keyset_add(&next, req->peers[i].public_key) < 0;
		if (oom)
			log_err("%s: cluster: sync: out of memory: some peers from etcd will not "
				"be removed when deleted",
				c->d->ifname);
		cluster_keyset_free(&c->managed);
		c->managed = next;
		log_info("%s: cluster %s: synced at revision %lld: %zu peer%s set, %zu removed",
			 c->d->ifname, c->name, (long long)it->revision, n_set,
			 n_set == 1 ? "" : "s", removed);
	} else {
		/* one peer the device refuses must not keep the others out: each on its own */
		log_warn("%s: cluster: the peer set as one request refused (%s); applying it "
			 "peer by peer",
			 c->d->ifname, err[0] ? err : strerror(-ret));
		for (size_t i = 0; i < req->n_peers; i++)
			cluster_apply_one(c, &req->peers[i]);
	}
	cluster_members_sync(c, it->gws, it->n_gws);
	c->synced = true;
}

static void cluster_apply(struct cluster *c, struct cluster_item *it)
{
	char err[CLUSTER_ERR_LEN];
	int ret;

	switch (it->type) {
	case CLUSTER_ITEM_SYNC:
		cluster_apply_sync(c, it);
		break;
	case CLUSTER_ITEM_PEER:
		ret = cluster_set(c, it->conf, err, sizeof(err));
		if (ret < 0) {
			cluster_log_refused(c, it->key, ret, err);
			break;
		}
		if (cluster_keyset_add(&c->managed, it->conf->peers[0].public_key) < 0)
			log_err("%s: cluster: %s: out of memory: it will not be removed when "
				"deleted",
				c->d->ifname, it->key);
		log_info("%s: cluster: %s applied (revision %lld)", c->d->ifname, it->key,
			 (long long)it->revision);
		break;
	case CLUSTER_ITEM_PEER_DEL: {
		struct conf_peer p = { .flags = CONF_PEER_REMOVE };
		struct conf_dev one = { .peers = &p, .n_peers = 1 };

		if (!cluster_keyset_find(&c->managed, it->pub)) {
			log_debug("%s: cluster: %s deleted, not a peer from etcd here",
				  c->d->ifname, it->key);
			break;
		}
		memcpy(p.public_key, it->pub, WG_KEY_LEN);
		ret = cluster_set(c, &one, err, sizeof(err));
		if (ret < 0) {
			cluster_log_refused(c, it->key, ret, err);
			break;
		}
		cluster_keyset_del(&c->managed, it->pub);
		log_info("%s: cluster: %s removed (revision %lld)", c->d->ifname, it->key,
			 (long long)it->revision);
		break;
	}
	case CLUSTER_ITEM_GW: {
		struct cluster_known *m = &c->members[it->gw.id];

		if (it->gw.id == c->self_id)
			break;
		if (!m->alive || memcmp(&m->underlay, &it->gw.underlay, sizeof(m->underlay))) {
			m->alive = true;
			m->underlay = it->gw.underlay;
			cluster_member_changed(c->d, it->gw.id, &m->underlay, true);
		}
		break;
	}
	case CLUSTER_ITEM_HELD:
	case CLUSTER_ITEM_HELD_DEL:
		cluster_held_on_record(c->held, it->pub, it->gw.id,
				       it->type == CLUSTER_ITEM_HELD_DEL);
		break;
	case CLUSTER_ITEM_GW_DEL:
		if (it->gw.id != c->self_id && c->members[it->gw.id].alive) {
			c->members[it->gw.id].alive = false;
			cluster_member_changed(c->d, it->gw.id, &c->members[it->gw.id].underlay,
					       false);
		}
		break;
	}
}

void cluster_on_event(struct xdpwgd *d)
{
	struct cluster *c = d->cluster;
	uint64_t v;

	if (read(c->efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("cluster: eventfd read: %s", strerror(errno));
	/* a bounded number per round, so a burst of changes does not starve the data path;
	 * the eventfd is written again to come back for the rest */
	for (int i = 0; i < CLUSTER_ITEMS_PER_WAKE; i++) {
		struct cluster_item *it = cluster_pop(c);

		if (!it)
			return;
		cluster_apply(c, it);
		cluster_item_free(it);
	}
	pthread_mutex_lock(&c->lock);
	if (c->head) {
		v = 1;
		if (write(c->efd, &v, sizeof(v)) < 0)
			log_debug("cluster: eventfd write: %s", strerror(errno));
	}
	pthread_mutex_unlock(&c->lock);
}

void cluster_member_changed(struct xdpwgd *d, unsigned int id,
			    const struct sockaddr_storage *underlay, bool alive)
{
	char addr[INET6_ADDRSTRLEN];
	int ret = 0;

	log_info("%s: cluster: gateway %u (%s) %s", d->ifname, id,
		 cluster_addr_format(underlay, addr, sizeof(addr)), alive ? "joined" : "left");
	/* forwarding to it (io/cluster_fwd.c): its indexes go there, or are dropped once gone */
	if (!d->cfwd)
		return;
	if (alive)
		ret = cluster_fwd_gateway_set(d->cfwd, id, underlay);
	else
		ret = cluster_fwd_gateway_del(d->cfwd, id);
	if (ret < 0 && ret != -ENOENT)
		log_err("%s: cluster: gateway %u: forwarding not updated: %s", d->ifname, id,
			strerror(-ret));
}

/* --- set-up and tear-down --- */

int cluster_start(struct xdpwgd *d, const struct cluster_opts *o)
{
	struct cluster *c;
	int ret;

	if (!o->name)
		return 0;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->d = d;
	c->efd = -1;
	snprintf(c->name, sizeof(c->name), "%s", o->name);
	snprintf(c->etcd, sizeof(c->etcd), "%s", o->etcd);
	cluster_prefix(c->prefix, sizeof(c->prefix), o->name, "");
	c->self_id = o->gateway_id;
	c->underlay = o->underlay;
	/* no XDPWG_UNDERLAY: the address the forwarding uses as its own (cluster_opts.c) */
	if (c->self_id && !c->underlay.ss_family && d->cfwd && cluster_fwd_self_underlay(d->cfwd))
		c->underlay = *cluster_fwd_self_underlay(d->cfwd);
	if (c->self_id && !c->underlay.ss_family) {
		log_err("%s: cluster: gateway %u: no underlay address to register (set "
			"XDPWG_UNDERLAY): not registered",
			d->ifname, c->self_id);
		c->self_id = 0;
	}
	pthread_mutex_init(&c->lock, NULL);
	d->cluster = c;
	c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->efd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = daemon_watch(d, c->efd, DAEMON_EV_CLUSTER);
	if (ret < 0)
		goto fail;
	/* before the threads: the watcher hands held/ records to it, the registrar its lease */
	if (c->self_id && d->croutes) {
		c->held = cluster_held_new(d->ifname, c->etcd, c->prefix, c->self_id, d->croutes);
		if (!c->held) {
			ret = -ENOMEM;
			goto fail;
		}
	}
	ret = -pthread_create(&c->watcher, NULL, cluster_watcher, c);
	if (ret < 0)
		goto fail;
	c->watcher_started = true;
	if (c->self_id) {
		ret = -pthread_create(&c->registrar, NULL, cluster_registrar, c);
		if (ret < 0)
			goto fail;
		c->registrar_started = true;
	}
	log_info("%s: cluster %s: etcd %s, gateway id %u", d->ifname, c->name, c->etcd, c->self_id);
	return 0;
fail:
	log_err("%s: cluster: cannot start: %s", d->ifname, strerror(-ret));
	cluster_free(c);
	d->cluster = NULL;
	return ret;
}

void cluster_free(struct cluster *c)
{
	struct cluster_item *it;

	if (!c)
		return;
	atomic_store(&c->stop, true);
	atomic_store(&c->wake, true);
	if (c->watcher_started)
		pthread_join(c->watcher, NULL);
	/* before the registrar revokes the lease (which takes our claims with it), so that no
	 * claim is written after; freed only once the registrar, which may still hand over a
	 * lease, is joined */
	cluster_held_stop(c->held);
	if (c->registrar_started)
		pthread_join(c->registrar, NULL);
	cluster_held_free(c->held);
	c->held = NULL;
	while ((it = cluster_pop(c)))
		cluster_item_free(it);
	if (c->efd >= 0)
		close(c->efd);
	pthread_mutex_destroy(&c->lock);
	cluster_keyset_free(&c->managed);
	free(c);
}
