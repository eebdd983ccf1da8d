// SPDX-License-Identifier: GPL-2.0
/*
 * Who holds a session, in etcd (cluster_held.h). One entry per peer ever held here: what the
 * control thread wants in etcd (our claim, or its deletion) and whether our claim has been
 * seen in the watch yet. The writer thread takes the entries marked dirty and writes them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster_held.h"
#include "cluster_record.h"
#include "cluster_routes.h"
#include "etcd.h"
#include "log.h"

struct ch_entry {
	struct ch_entry *next;	     /* in its bucket */
	struct ch_entry *next_dirty; /* in the writer's list, while dirty */
	uint8_t pub[WG_KEY_LEN];
	bool want;  /* held here: our claim should be in etcd */
	bool seen;  /* our claim came back through the watch (so it is the newest so far) */
	bool del;   /* not held any more: delete the claim if it is still ours */
	bool dirty; /* in the writer's list */
};

struct cluster_held {
	char ifname[32];
	char urls[ETCD_MAX_ENDPOINTS * ETCD_URL_MAX];
	char prefix[CLUSTER_PREFIX_MAX];
	unsigned int self_id;
	char *value; /* our claim: {"gateway":ID} */
	struct cluster_routes *cr;
	pthread_t writer;
	bool writer_started;
	atomic_bool stop;
	/* everything below under lock */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int64_t lease;
	struct ch_entry *dirty;
	struct ch_entry *buckets[CLUSTER_HELD_BUCKETS];
};

static struct ch_entry **ch_bucket(struct cluster_held *h, const uint8_t pub[WG_KEY_LEN])
{
	uint32_t v;

	/* public keys are uniformly random */
	memcpy(&v, pub, sizeof(v));
	return &h->buckets[v % CLUSTER_HELD_BUCKETS];
}

static struct ch_entry *ch_find(struct cluster_held *h, const uint8_t pub[WG_KEY_LEN], bool add)
{
	struct ch_entry **b = ch_bucket(h, pub), *e;

	for (e = *b; e; e = e->next) {
		if (!memcmp(e->pub, pub, WG_KEY_LEN))
			return e;
	}
	if (!add)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	memcpy(e->pub, pub, WG_KEY_LEN);
	e->next = *b;
	*b = e;
	return e;
}

/* Lock held. */
static void ch_mark(struct cluster_held *h, struct ch_entry *e)
{
	if (e->dirty)
		return;
	e->dirty = true;
	e->next_dirty = h->dirty;
	h->dirty = e;
	pthread_cond_signal(&h->cond);
}

/* cluster_routes' held function: control thread, perhaps with the engine's lock held, so it
 * only marks; the writer thread talks to etcd. */
static void ch_held_changed(void *ctx, const uint8_t pub[WG_KEY_LEN], bool held)
{
	struct cluster_held *h = ctx;
	struct ch_entry *e;

	pthread_mutex_lock(&h->lock);
	e = ch_find(h, pub, held);
	if (!e) {
		if (held)
			log_err("%s: cluster: out of memory: a held session not claimed in etcd",
				h->ifname);
		goto cleanup;
	}
	e->want = held;
	e->seen = false;
	e->del = !held;
	ch_mark(h, e);
cleanup:
	pthread_mutex_unlock(&h->lock);
}

void cluster_held_on_record(struct cluster_held *h, const uint8_t pub[WG_KEY_LEN],
			    unsigned int gateway, bool deleted)
{
	char name[CLUSTER_KEYNAME_LEN + 1];
	struct ch_entry *e;
	bool release = false;

	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	e = ch_find(h, pub, false);
	if (!e || !e->want)
		goto cleanup;
	if (deleted) {
		/* our claim went while we hold the peer (its lease ended while etcd was out of
		 * reach, or someone deleted it): claim again */
		if (e->seen) {
			e->seen = false;
			ch_mark(h, e);
		}
	} else if (gateway == h->self_id) {
		e->seen = true;
	} else if (e->seen) {
		/* a claim newer than ours: that gateway completed a handshake after us */
		e->want = false;
		e->seen = false;
		release = true;
	}
	/* else: ours is still on its way, so this claim is older than ours; it loses */
cleanup:
	pthread_mutex_unlock(&h->lock);
	if (!release)
		return;
	/* never called with our lock: cluster_routes does not call back for a release */
	if (cluster_routes_release(h->cr, pub)) {
		cluster_key_name(name, pub);
		log_info("%s: cluster: %s is held by gateway %u now; its routes withdrawn",
			 h->ifname, name, gateway);
	}
}

void cluster_held_set_lease(struct cluster_held *h, int64_t lease)
{
	if (!h)
		return;
	pthread_mutex_lock(&h->lock);
	if (lease && lease != h->lease) {
		/* the claims under the old lease are gone (or go with it): write them again */
		for (size_t i = 0; i < CLUSTER_HELD_BUCKETS; i++) {
			for (struct ch_entry *e = h->buckets[i]; e; e = e->next) {
				if (e->want)
					ch_mark(h, e);
			}
		}
	}
	h->lease = lease;
	pthread_cond_signal(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

static void ch_wait_ms(struct cluster_held *h, long ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&h->cond, &h->lock, &ts);
}

/* One entry's state written; lock not held. 0 or -errno. */
static int ch_write(struct cluster_held *h, struct etcd *e, const uint8_t pub[WG_KEY_LEN],
		    bool want, bool del, int64_t lease)
{
	char key[CLUSTER_PREFIX_MAX + 64], name[CLUSTER_KEYNAME_LEN + 1];
	int ret = 0;

	cluster_key_name(name, pub);
	snprintf(key, sizeof(key), "%sheld/%s", h->prefix, name);
	if (want) {
		/* unconditionally: the gateway that completed the latest handshake is the holder */
		ret = etcd_put(e, key, h->value, strlen(h->value), lease);
		if (ret == 0)
			log_debug("%s: cluster: %s claimed (lease %llx)", h->ifname, key,
				  (unsigned long long)lease);
	} else if (del) {
		ret = etcd_delete_if(e, key, h->value, strlen(h->value));
		if (ret == -ESRCH) /* another gateway's now, or gone: not ours to delete */
			ret = 0;
		else if (ret == 0)
			log_debug("%s: cluster: %s released", h->ifname, key);
	}
	return ret;
}

static void *ch_writer(void *arg)
{
	struct cluster_held *h = arg;
	char err[ETCD_ERR_LEN];
	struct etcd *e = etcd_new(h->urls, err, sizeof(err));
	bool failing = false;

	if (!e) {
		log_err("%s: cluster: etcd: %s: held sessions not written", h->ifname, err);
		return NULL;
	}
	etcd_set_abort(e, &h->stop);
	pthread_mutex_lock(&h->lock);
	while (!atomic_load(&h->stop)) {
		struct ch_entry *ent = h->dirty;
		uint8_t pub[WG_KEY_LEN];
		bool want, del;
		int64_t lease = h->lease;
		int ret;

		/* no lease (not registered yet, or expired): a claim would outlive us */
		if (!ent || !lease) {
			ch_wait_ms(h, CLUSTER_HELD_WAIT_MS);
			continue;
		}
		h->dirty = ent->next_dirty;
		ent->dirty = false;
		memcpy(pub, ent->pub, WG_KEY_LEN);
		want = ent->want;
		del = ent->del;
		ent->del = false;
		pthread_mutex_unlock(&h->lock);
		ret = ch_write(h, e, pub, want, del, lease);
		pthread_mutex_lock(&h->lock);
		if (ret == 0) {
			failing = false;
			continue;
		}
		if (atomic_load(&h->stop))
			break;
		if (!failing)
			log_warn("%s: cluster: cannot write a held session to etcd: %s; retrying",
				 h->ifname, etcd_error(e));
		failing = true;
		/* again, unless the control thread changed it meanwhile (then it is marked) */
		if (!ent->dirty) {
			ent->del |= del;
			ch_mark(h, ent);
		}
		ch_wait_ms(h, CLUSTER_HELD_RETRY_MS);
	}
	pthread_mutex_unlock(&h->lock);
	etcd_free(e);
	return NULL;
}

struct cluster_held *cluster_held_new(const char *ifname, const char *urls, const char *prefix,
				      unsigned int self_id, struct cluster_routes *cr)
{
	struct cluster_held *h = calloc(1, sizeof(*h));
	pthread_condattr_t ca;
	int ret = -ENOMEM;

	if (!h)
		goto fail;
	pthread_mutex_init(&h->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cond, &ca);
	pthread_condattr_destroy(&ca);
	snprintf(h->ifname, sizeof(h->ifname), "%s", ifname);
	snprintf(h->urls, sizeof(h->urls), "%s", urls);
	snprintf(h->prefix, sizeof(h->prefix), "%s", prefix);
	h->self_id = self_id;
	h->cr = cr;
	h->value = cluster_held_format(self_id);
	if (!h->value)
		goto fail;
	ret = -pthread_create(&h->writer, NULL, ch_writer, h);
	if (ret < 0)
		goto fail;
	h->writer_started = true;
	cluster_routes_set_held_fn(cr, ch_held_changed, h);
	return h;
fail:
	log_err("%s: cluster: held sessions: cannot start: %s", ifname, strerror(-ret));
	cluster_held_free(h);
	return NULL;
}

void cluster_held_stop(struct cluster_held *h)
{
	if (!h)
		return;
	cluster_routes_set_held_fn(h->cr, NULL, NULL);
	if (h->writer_started) {
		atomic_store(&h->stop, true);
		pthread_mutex_lock(&h->lock);
		pthread_cond_signal(&h->cond);
		pthread_mutex_unlock(&h->lock);
		pthread_join(h->writer, NULL);
		h->writer_started = false;
	}
}

void cluster_held_free(struct cluster_held *h)
{
	if (!h)
		return;
	cluster_held_stop(h);
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cond);
	for (size_t i = 0; i < CLUSTER_HELD_BUCKETS; i++) {
		struct ch_entry *e = h->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(h->value);
	free(h);
}
