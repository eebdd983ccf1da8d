// SPDX-License-Identifier: GPL-2.0
/*
 * Engine tx counters -> BPF peers map (see peer_sync.h).
 *
 * The walk reads the engine's peer list directly (peer.h) under the device's read lock, as
 * wg_device_snapshot does, but copies three words per peer instead of a whole configuration:
 * a snapshot allocates every peer's allowed IPs, far too much once a second for 100k peers.
 * Peer pointers stay valid after the lock is dropped: only the control thread, which runs this,
 * removes peers.
 *
 * The entries written are found by comparing with the previous walk (kept sorted by peer id,
 * which only grows), so a peer that sent nothing costs a binary search and no syscall.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "log.h"
#include "peer.h"
#include "peer_sync.h"

struct peer_sync_entry {
	uint32_t id;
	uint64_t tx_packets, tx_bytes;
	struct wg_peer *peer; /* this walk only */
};

struct peer_sync {
	void (*repair)(void *ctx, struct wg_peer *peer);
	void *ctx;
	struct peer_sync_entry *prev; /* the last walk, sorted by id */
	size_t n_prev;
	uint64_t last_ns;
	bool ran;
};

struct peer_sync *peer_sync_new(void (*repair)(void *ctx, struct wg_peer *peer), void *ctx)
{
	struct peer_sync *ps = calloc(1, sizeof(*ps));

	if (!ps)
		return NULL;
	ps->repair = repair;
	ps->ctx = ctx;
	return ps;
}

void peer_sync_free(struct peer_sync *ps)
{
	if (!ps)
		return;
	free(ps->prev);
	free(ps);
}

static int peer_sync_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct peer_sync_entry *)a)->id;
	uint32_t y = ((const struct peer_sync_entry *)b)->id;

	return x < y ? -1 : x > y;
}

static const struct peer_sync_entry *peer_sync_find(const struct peer_sync *ps, uint32_t id)
{
	size_t lo = 0, hi = ps->n_prev;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ps->prev[mid].id == id)
			return &ps->prev[mid];
		if (ps->prev[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The engine's endpoint as the map holds it: family, address, port (not the cached source). */
static bool peer_sync_same_endpoint(const struct wg_endpoint *ep, const struct xdpwg_endpoint *m)
{
	if (ep->addr.sa.sa_family == AF_INET)
		return m->family == XDPWG_FAMILY_INET &&
		       m->addr.v4 == ep->addr.in4.sin_addr.s_addr &&
		       m->port == ep->addr.in4.sin_port;
	if (ep->addr.sa.sa_family == AF_INET6)
		return m->family == XDPWG_FAMILY_INET6 &&
		       !memcmp(m->addr.v6, &ep->addr.in6.sin6_addr, 16) &&
		       m->port == ep->addr.in6.sin6_port;
	return m->family == 0;
}

/* Every peer's counters, sorted by id; *n entries (malloc'd, NULL for none). */
static int peer_sync_walk(struct wg_device *dev, struct peer_sync_entry **out, size_t *n)
{
	struct peer_sync_entry *e;
	struct wg_peer *p;
	size_t i = 0;
	bool sorted = true;

	*out = NULL;
	*n = 0;
	pthread_rwlock_rdlock(&dev->lock);
	if (!dev->n_peers) {
		pthread_rwlock_unlock(&dev->lock);
		return 0;
	}
	e = malloc(dev->n_peers * sizeof(*e));
	if (!e) {
		pthread_rwlock_unlock(&dev->lock);
		return -ENOMEM;
	}
	for (p = dev->peers; p && i < dev->n_peers; p = p->next_peer, i++) {
		e[i].id = p->id;
		e[i].tx_bytes = atomic_load_explicit(&p->tx_bytes, memory_order_relaxed);
		e[i].tx_packets = atomic_load_explicit(&p->tx_packets, memory_order_relaxed);
		e[i].peer = p;
		if (i && e[i].id < e[i - 1].id)
			sorted = false;
	}
	pthread_rwlock_unlock(&dev->lock);
	if (!sorted)
		qsort(e, i, sizeof(*e), peer_sync_cmp);
	*out = e;
	*n = i;
	return 0;
}

int peer_sync_tick(struct peer_sync *ps, struct wg_device *dev, struct xdpwg_loader *ld,
		   uint64_t now_ns)
{
	struct peer_sync_entry *cur;
	size_t n;
	int written = 0, ret;

	if (!ps || !ld || (ps->ran && now_ns - ps->last_ns < PEER_SYNC_INTERVAL_NS))
		return 0;
	ps->ran = true;
	ps->last_ns = now_ns;
	ret = peer_sync_walk(dev, &cur, &n);
	if (ret < 0)
		return ret;
	for (size_t i = 0; i < n; i++) {
		const struct peer_sync_entry *was = peer_sync_find(ps, cur[i].id);
		struct xdpwg_endpoint map_ep;
		struct wg_endpoint ep;

		/* unchanged, or new and still at zero (a fresh entry is zero already) */
		if (was ? was->tx_bytes == cur[i].tx_bytes && was->tx_packets == cur[i].tx_packets
			: !cur[i].tx_bytes && !cur[i].tx_packets)
			continue;
		ret = loader_peer_set_tx(ld, cur[i].id, cur[i].tx_packets, cur[i].tx_bytes,
					 &map_ep);
		if (ret < 0) {
			/* no entry (yet): the next walk tries again */
			cur[i].tx_bytes = was ? was->tx_bytes : 0;
			cur[i].tx_packets = was ? was->tx_packets : 0;
			continue;
		}
		written++;
		/* A worker that moved the peer between our read and our write had its endpoint
		 * overwritten with the old one; it set the engine's endpoint before it wrote the
		 * map, so reading the engine now tells. */
		wg_peer_get_endpoint(cur[i].peer, &ep);
		if (!peer_sync_same_endpoint(&ep, &map_ep) && ps->repair)
			ps->repair(ps->ctx, cur[i].peer);
	}
	for (size_t i = 0; i < n; i++)
		cur[i].peer = NULL;
	free(ps->prev);
	ps->prev = cur;
	ps->n_prev = n;
	return written;
}
