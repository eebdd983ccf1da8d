// SPDX-License-Identifier: GPL-2.0
/*
 * The peers' transmit counters for a back-end that keeps its own copy (the XDP back-end's BPF
 * peers map, io/peer_sync.c): the two walks it needs, so that it never reads the engine's peer
 * list or index table itself.
 *
 * A full walk reads the peer list under the device's read lock, three words per peer (a
 * snapshot would allocate every peer's allowed IPs: far too much once a second for 100k peers).
 * The active walk looks only at the peers that own an entry in the receiver-index table (a
 * handshake in flight or a keypair): nothing is sent for a peer without one, so the others'
 * counters cannot have moved. Peer pointers stay valid after the locks are dropped: only the
 * control thread, which runs both walks, removes peers.
 */
#include <errno.h>
#include <stdlib.h>

#include "index.h"
#include "internal.h"
#include "peer.h"

static int peer_stats_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct wg_peer_tx *)a)->id;
	uint32_t y = ((const struct wg_peer_tx *)b)->id;

	return x < y ? -1 : x > y;
}

/* Room for n entries in *arr; some more, so that growth is not a realloc per walk. */
static int peer_stats_room(struct wg_peer_tx **arr, size_t *cap, size_t n)
{
	struct wg_peer_tx *e;
	size_t c;

	if (*cap >= n)
		return 0;
	c = n + n / 8 + 16;
	e = realloc(*arr, c * sizeof(*e));
	if (!e)
		return -ENOMEM;
	*arr = e;
	*cap = c;
	return 0;
}

static void peer_stats_read(struct wg_peer_tx *e, struct wg_peer *p)
{
	e->id = p->id;
	e->tx_bytes = atomic_load_explicit(&p->tx_bytes, memory_order_relaxed);
	e->tx_packets = atomic_load_explicit(&p->tx_packets, memory_order_relaxed);
	e->peer = p;
}

ssize_t wg_device_peers_tx(struct wg_device *dev, struct wg_peer_tx **arr, size_t *cap)
{
	struct wg_peer *p;
	size_t i = 0;
	bool sorted = true;

	pthread_rwlock_rdlock(&dev->lock);
	if (peer_stats_room(arr, cap, dev->n_peers) < 0) {
		pthread_rwlock_unlock(&dev->lock);
		return -ENOMEM;
	}
	for (p = dev->peers; p && i < dev->n_peers; p = p->next_peer, i++) {
		peer_stats_read(&(*arr)[i], p);
		if (i && (*arr)[i].id < (*arr)[i - 1].id)
			sorted = false;
	}
	pthread_rwlock_unlock(&dev->lock);
	/* ids grow as peers are added, and the list is in order of addition: sorted as a rule */
	if (!sorted)
		qsort(*arr, i, sizeof(**arr), peer_stats_cmp);
	return (ssize_t)i;
}

ssize_t wg_device_active_peers_tx(struct wg_device *dev, struct wg_peer_tx **arr, size_t *cap)
{
	struct wg_peer **act = NULL;
	size_t n, room = 0, out = 0;

	for (;;) {
		n = index_table_peers(dev->index, act, room);
		if (n <= room)
			break;
		/* more entries than room: give the references back, grow, look again */
		for (size_t i = 0; i < room; i++)
			peer_put(act[i]);
		free(act);
		room = n + n / 4 + 16;
		act = malloc(room * sizeof(*act));
		if (!act)
			return -ENOMEM;
	}
	if (peer_stats_room(arr, cap, n) < 0) {
		for (size_t i = 0; i < n; i++)
			peer_put(act[i]);
		free(act);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		if (!atomic_load(&act[i]->is_dead))
			peer_stats_read(&(*arr)[out++], act[i]);
	for (size_t i = 0; i < n; i++)
		peer_put(act[i]);
	free(act);
	if (out > 1)
		qsort(*arr, out, sizeof(**arr), peer_stats_cmp);
	/* a peer with a handshake and keypairs comes once per entry: once is enough */
	n = out;
	out = 0;
	for (size_t i = 0; i < n; i++)
		if (!out || (*arr)[out - 1].peer != (*arr)[i].peer)
			(*arr)[out++] = (*arr)[i];
	return (ssize_t)out;
}
