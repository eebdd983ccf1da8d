// SPDX-License-Identifier: GPL-2.0
/*
 * wg_device_dump_*: the snapshot of wg_device_snapshot in pieces, so that a get=1 reply for a
 * million peers is written to the socket as the client reads it instead of being built whole
 * (a conf_dev of every peer plus ~300 MB of text, and seconds with the device read-locked).
 *
 * The dump holds a reference to each peer of the moment it began, in list order; each piece
 * read-locks the device only for its own peers, so the data path and the control thread's
 * other work go on between pieces. Like a netlink dump of the kernel's WireGuard, it is not one
 * atomic picture: a peer removed meanwhile (is_dead) is left out, one added is not in it.
 */
#include <errno.h>
#include <stdlib.h>

#include "config.h"
#include "internal.h"
#include "peer.h"

struct wg_dump {
	struct wg_device *dev;
	struct wg_peer **peers;
	size_t n, next;
	bool dev_done; /* the device's own fields went out with the first piece */
};

struct wg_dump *wg_device_dump_begin(struct wg_device *dev)
{
	struct wg_dump *d = calloc(1, sizeof(*d));
	struct wg_peer *p;
	size_t cap;

	if (!d)
		return NULL;
	d->dev = dev;
	pthread_rwlock_rdlock(&dev->lock);
	cap = dev->n_peers;
	d->peers = cap ? malloc(cap * sizeof(*d->peers)) : NULL;
	if (cap && !d->peers) {
		pthread_rwlock_unlock(&dev->lock);
		free(d);
		return NULL;
	}
	for (p = dev->peers; p && d->n < cap; p = p->next_peer)
		d->peers[d->n++] = peer_get(p);
	pthread_rwlock_unlock(&dev->lock);
	return d;
}

struct conf_dev *wg_device_dump_next(struct wg_dump *d, size_t max, int *err)
{
	struct conf_dev *c;
	size_t taken = 0;

	*err = 0;
	if (d->dev_done && d->next >= d->n)
		return NULL;
	c = conf_new();
	if (!c) {
		*err = -ENOMEM;
		return NULL;
	}
	if (!d->dev_done) {
		device_snapshot_dev(d->dev, c);
		d->dev_done = true;
	}
	pthread_rwlock_rdlock(&d->dev->lock);
	for (; d->next < d->n && taken < max; d->next++) {
		struct wg_peer *p = d->peers[d->next];

		if (atomic_load(&p->is_dead))
			continue;
		if (device_snapshot_peer(d->dev, p, c)) {
			pthread_rwlock_unlock(&d->dev->lock);
			conf_free(c);
			*err = -ENOMEM;
			return NULL;
		}
		taken++;
	}
	pthread_rwlock_unlock(&d->dev->lock);
	return c;
}

void wg_device_dump_end(struct wg_dump *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->n; i++)
		peer_put(d->peers[i]);
	free(d->peers);
	free(d);
}
