// SPDX-License-Identifier: GPL-2.0
/*
 * The cluster's peer set and membership from etcd (cluster.h). Two threads talk to etcd and
 * never touch the device: the watcher (first sync, then the watch) and the registrar (the
 * membership lease). They queue items; the control thread applies them, so every change to
 * the device goes through one place, the UAPI set handler, and is atomic the same way.
 * Here: the options, the queue, applying items, start and stop; the threads are
 * cluster_watch.c and cluster_lease.c, the key set of etcd's peers cluster_keyset.c.
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
#include "cluster_internal.h"
#include "etcd.h"
#include "log.h"
#include "uapi.h"
#include "xdpwgd.h"

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

void cluster_item_free(struct cluster_item *it)
{
	if (!it)
		return;
	conf_free(it->conf);
	free(it->present);
	free(it->gws);
	free(it);
}

void cluster_push(struct cluster *c, struct cluster_item *it)
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

void cluster_sleep_ms(struct cluster *c, long ms)
{
	for (long t = 0; t < ms && !atomic_load(&c->stop); t += 50)
		nanosleep(&(struct timespec){ .tv_nsec = 50 * 1000000L }, NULL);
}

int cluster_key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, WG_KEY_LEN);
}

struct cluster_item *cluster_item_new(enum cluster_item_type type, const char *key)
{
	struct cluster_item *it = calloc(1, sizeof(*it));

	if (it) {
		it->type = type;
		snprintf(it->key, sizeof(it->key), "%s", key);
	}
	return it;
}

/* --- the control thread: items applied --- */

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
