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
 * The entries written are found by comparing with the last values written (kept sorted by peer
 * id, which only grows). Two kinds of walk:
 *  - a full walk (the first, then every PEER_SYNC_FULL_EVERY): every peer, merged with the last
 *    values in id order; the arrays are kept and reused;
 *  - in between, only the peers that own an entry in the receiver-index table: a handshake in
 *    flight or a keypair. Nothing is sent for a peer without one (an initiation or response
 *    registers its handshake first, data and keepalives need a keypair), so the others' counters
 *    cannot have moved; a binary search per such peer. What slips through (a worker finishing a
 *    send on a keypair removed from the table meanwhile) is caught by the next full walk.
 * With 100k configured peers and one active, a full walk once a second was the control thread's
 * whole idle cost (about 1% of a core: two cache misses per peer, a fresh 3 MB array and a binary
 * search each); the index walk is 8192 bucket heads (docs/performance.md, "One active peer
 * among 100,001").
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "index.h"
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
	struct peer_sync_entry *prev; /* the last values written, sorted by id */
	size_t n_prev, cap_prev;
	struct peer_sync_entry *cur; /* a full walk's array, kept between walks */
	size_t cap_cur;
	struct wg_peer **act; /* an index walk's peers */
	size_t cap_act;
	unsigned int since_full; /* walks since the last full one */
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
	free(ps->cur);
	free(ps->act);
	free(ps);
}

static int peer_sync_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct peer_sync_entry *)a)->id;
	uint32_t y = ((const struct peer_sync_entry *)b)->id;

	return x < y ? -1 : x > y;
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

/* Every peer's counters into ps->cur, sorted by id; *n entries. The array only grows (a shrink
 * would be freed and allocated again on the next growth: not worth it for a few MB). */
static int peer_sync_walk(struct peer_sync *ps, struct wg_device *dev, size_t *n)
{
	struct peer_sync_entry *e;
	struct wg_peer *p;
	size_t i = 0;
	bool sorted = true;

	*n = 0;
	pthread_rwlock_rdlock(&dev->lock);
	if (!dev->n_peers) {
		pthread_rwlock_unlock(&dev->lock);
		return 0;
	}
	if (ps->cap_cur < dev->n_peers) {
		/* some room for peers added later, so that growth is not a realloc per walk */
		size_t cap = dev->n_peers + dev->n_peers / 8 + 16;

		e = realloc(ps->cur, cap * sizeof(*e));
		if (!e) {
			pthread_rwlock_unlock(&dev->lock);
			return -ENOMEM;
		}
		ps->cur = e;
		ps->cap_cur = cap;
	}
	e = ps->cur;
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
	*n = i;
	return 0;
}

/* Must counters be written? Yes when they differ from the last values written (was), or,
 * with none written yet, when they are no longer zero (a fresh map entry is zero already). */
static bool peer_sync_changed(const struct peer_sync_entry *was, uint64_t packets, uint64_t bytes)
{
	return was ? was->tx_bytes != bytes || was->tx_packets != packets : bytes || packets;
}

/* Write one peer's counters; 1 when written, 0 when the map has no entry (yet). */
static int peer_sync_write(struct peer_sync *ps, struct xdpwg_loader *ld, struct wg_peer *peer,
			   uint32_t id, uint64_t packets, uint64_t bytes)
{
	struct xdpwg_endpoint map_ep;
	struct wg_endpoint ep;

	if (loader_peer_set_tx(ld, id, packets, bytes, &map_ep) < 0)
		return 0;
	/* A worker that moved the peer between our read and our write had its endpoint
	 * overwritten with the old one; it set the engine's endpoint before it wrote the map,
	 * so reading the engine now tells. */
	wg_peer_get_endpoint(peer, &ep);
	if (!peer_sync_same_endpoint(&ep, &map_ep) && ps->repair)
		ps->repair(ps->ctx, peer);
	return 1;
}

static int peer_sync_full(struct peer_sync *ps, struct wg_device *dev, struct xdpwg_loader *ld)
{
	struct peer_sync_entry *cur, *swap;
	size_t n, j = 0, cap;
	int written = 0, ret;

	ret = peer_sync_walk(ps, dev, &n);
	if (ret < 0)
		return ret;
	cur = ps->cur;
	for (size_t i = 0; i < n; i++) {
		const struct peer_sync_entry *was = NULL;

		/* both sorted by id: the last values are found by merging, in order */
		while (j < ps->n_prev && ps->prev[j].id < cur[i].id)
			j++;
		if (j < ps->n_prev && ps->prev[j].id == cur[i].id)
			was = &ps->prev[j];
		if (!peer_sync_changed(was, cur[i].tx_packets, cur[i].tx_bytes))
			continue;
		if (peer_sync_write(ps, ld, cur[i].peer, cur[i].id, cur[i].tx_packets,
				    cur[i].tx_bytes)) {
			written++;
			continue;
		}
		/* no entry (yet): the next walk tries again */
		cur[i].tx_bytes = was ? was->tx_bytes : 0;
		cur[i].tx_packets = was ? was->tx_packets : 0;
	}
	for (size_t i = 0; i < n; i++)
		cur[i].peer = NULL;
	/* this walk's values become the last ones; the old array is the next full walk's */
	swap = ps->prev;
	cap = ps->cap_prev;
	ps->prev = cur;
	ps->n_prev = n;
	ps->cap_prev = ps->cap_cur;
	ps->cur = swap;
	ps->cap_cur = cap;
	return written;
}

static int peer_sync_peer_cmp(const void *a, const void *b)
{
	uint32_t x = (*(struct wg_peer *const *)a)->id;
	uint32_t y = (*(struct wg_peer *const *)b)->id;

	return x < y ? -1 : x > y;
}

/* The last values written for id, or where they would go (*at) when there are none. */
static struct peer_sync_entry *peer_sync_find(struct peer_sync *ps, uint32_t id, size_t *at)
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
	*at = lo;
	return NULL;
}

/* A peer added since the last full walk was written: remember its values (at the end, as a
 * rule: ids only grow). False when out of memory: the peer is then written again next time. */
static bool peer_sync_insert(struct peer_sync *ps, size_t at, uint32_t id, uint64_t packets,
			     uint64_t bytes)
{
	if (ps->n_prev == ps->cap_prev) {
		size_t cap = ps->cap_prev + ps->cap_prev / 8 + 16;
		struct peer_sync_entry *e = realloc(ps->prev, cap * sizeof(*e));

		if (!e)
			return false;
		ps->prev = e;
		ps->cap_prev = cap;
	}
	memmove(&ps->prev[at + 1], &ps->prev[at], (ps->n_prev - at) * sizeof(*ps->prev));
	ps->prev[at] =
		(struct peer_sync_entry){ .id = id, .tx_packets = packets, .tx_bytes = bytes };
	ps->n_prev++;
	return true;
}

static int peer_sync_active(struct peer_sync *ps, struct wg_device *dev, struct xdpwg_loader *ld)
{
	size_t n;
	int written = 0;

	for (;;) {
		n = index_table_peers(dev->index, ps->act, ps->cap_act);
		if (n <= ps->cap_act)
			break;
		/* more sessions than room: give the references back, grow, look again */
		for (size_t i = 0; i < ps->cap_act; i++)
			peer_put(ps->act[i]);
		{
			size_t cap = n + n / 4 + 16;
			struct wg_peer **a = realloc(ps->act, cap * sizeof(*a));

			if (!a)
				return -ENOMEM;
			ps->act = a;
			ps->cap_act = cap;
		}
	}
	if (n > 1)
		qsort(ps->act, n, sizeof(*ps->act), peer_sync_peer_cmp);
	for (size_t i = 0; i < n; i++) {
		struct wg_peer *p = ps->act[i];
		struct peer_sync_entry *was;
		uint64_t packets, bytes;
		size_t at = 0;

		/* a peer with a handshake and keypairs comes once per entry: once is enough */
		if (i && ps->act[i - 1] == p)
			continue;
		if (atomic_load(&p->is_dead))
			continue;
		bytes = atomic_load_explicit(&p->tx_bytes, memory_order_relaxed);
		packets = atomic_load_explicit(&p->tx_packets, memory_order_relaxed);
		was = peer_sync_find(ps, p->id, &at);
		if (!peer_sync_changed(was, packets, bytes))
			continue;
		if (!peer_sync_write(ps, ld, p, p->id, packets, bytes))
			continue; /* no entry (yet): the next walk tries again */
		written++;
		if (was) {
			was->tx_packets = packets;
			was->tx_bytes = bytes;
		} else if (!peer_sync_insert(ps, at, p->id, packets, bytes)) {
			break;
		}
	}
	for (size_t i = 0; i < n; i++)
		peer_put(ps->act[i]);
	return written;
}

int peer_sync_tick(struct peer_sync *ps, struct wg_device *dev, struct xdpwg_loader *ld,
		   uint64_t now_ns)
{
	bool full;

	if (!ps || !ld || (ps->ran && now_ns - ps->last_ns < PEER_SYNC_INTERVAL_NS))
		return 0;
	full = !ps->ran || ++ps->since_full >= PEER_SYNC_FULL_EVERY;
	ps->ran = true;
	ps->last_ns = now_ns;
	if (!full)
		return peer_sync_active(ps, dev, ld);
	ps->since_full = 0;
	return peer_sync_full(ps, dev, ld);
}
