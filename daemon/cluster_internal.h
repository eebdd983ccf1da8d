/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the cluster's files share (cluster.h is the daemon's view): the items its two etcd
 * threads queue for the control thread, the queue, the key set of the peers etcd manages, and
 * struct cluster itself. cluster.c: options, the queue, applying items, start and stop;
 * cluster_watch.c: the watcher thread (first sync, then the watch); cluster_lease.c: the
 * registrar thread (this gateway's membership); cluster_keyset.c: the key set.
 */
#ifndef XDPWG_CLUSTER_INTERNAL_H
#define XDPWG_CLUSTER_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "cluster.h"
#include "etcd.h"
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

/* --- the queue (cluster.c): threads push, the control thread pops --- */
struct cluster_item *cluster_item_new(enum cluster_item_type type, const char *key);
void cluster_item_free(struct cluster_item *it);
void cluster_push(struct cluster *c, struct cluster_item *it);
/* sleeps in 50 ms steps, returns early on a stop */
void cluster_sleep_ms(struct cluster *c, long ms);
/* qsort comparator of cluster_key */
int cluster_key_cmp(const void *a, const void *b);

/* --- the threads (pthread start routines; arg: struct cluster) --- */
void *cluster_watcher(void *arg);   /* cluster_watch.c */
void *cluster_registrar(void *arg); /* cluster_lease.c */

/* --- the key set (cluster_keyset.c; control thread) --- */
struct cluster_slot *cluster_keyset_find(const struct cluster_keyset *s, const uint8_t *k);
int cluster_keyset_add(struct cluster_keyset *s, const uint8_t *k);
void cluster_keyset_del(struct cluster_keyset *s, const uint8_t *k);
void cluster_keyset_free(struct cluster_keyset *s);

#endif
