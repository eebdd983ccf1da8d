// SPDX-License-Identifier: GPL-2.0
/*
 * The cluster's watcher thread (cluster_internal.h): the first sync of the prefix, then the
 * watch, each record turned into an item for the control thread. It never touches the device.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster_held.h"
#include "cluster_internal.h"
#include "log.h"

/* --- the watcher thread: etcd records into items --- */

/* A key under the prefix: "peers/NAME" or "gateways/ID"; NULL for anything else. */
static const char *cluster_sub(const struct cluster *c, const char *key, const char *sub)
{
	size_t plen = strlen(c->prefix), slen = strlen(sub);

	if (strncmp(key, c->prefix, plen) || strncmp(key + plen, sub, slen))
		return NULL;
	return key + plen + slen;
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

void *cluster_watcher(void *arg)
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
