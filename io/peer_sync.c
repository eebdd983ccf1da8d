// SPDX-License-Identifier: GPL-2.0
/*
 * Engine tx counters -> BPF peers map (see peer_sync.h).
 *
 * The engine walks its peers for us (wg_device_peers_tx, wg_device_active_peers_tx) and hands
 * back three words per peer; the entries written are found by comparing with the last values
 * written (kept sorted by peer id, which only grows). Two kinds of walk:
 *  - a full walk (the first, then every PEER_SYNC_FULL_EVERY): every peer, merged with the last
 *    values in id order; the arrays are kept and reused;
 *  - in between, only the peers that own an entry in the receiver-index table: a handshake in
 *    flight or a keypair; a binary search per such peer. What slips through (a worker finishing
 *    a send on a keypair removed from the table meanwhile) is caught by the next full walk.
 * With 100k configured peers and one active, a full walk once a second was the control thread's
 * whole idle cost (about 1% of a core: two cache misses per peer, a fresh 3 MB array and a binary
 * search each); the index walk is 8192 bucket heads (docs/performance.md, "One active peer
 * among 100,001").
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "loader.h"
#include "log.h"
#include "peer_sync.h"

struct peer_sync {
	void (*repair)(void *ctx, struct wg_peer *peer);
	void *ctx;
	struct wg_peer_tx *prev; /* the last values written, sorted by id */
	size_t n_prev, cap_prev;
	struct wg_peer_tx *cur; /* a full walk's array, kept between walks */
	size_t cap_cur;
	struct wg_peer_tx *act; /* an index walk's peers */
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

/* Must counters be written? Yes when they differ from the last values written (was), or,
 * with none written yet, when they are no longer zero (a fresh map entry is zero already). */
static bool peer_sync_changed(const struct wg_peer_tx *was, uint64_t packets, uint64_t bytes)
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
	struct wg_peer_tx *cur, *swap;
	size_t n, j = 0, cap;
	int written = 0, ret;

	ret = (int)wg_device_peers_tx(dev, &ps->cur, &ps->cap_cur);
	if (ret < 0)
		return ret;
	n = (size_t)ret;
	cur = ps->cur;
	for (size_t i = 0; i < n; i++) {
		const struct wg_peer_tx *was = NULL;

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

/* The last values written for id, or where they would go (*at) when there are none. */
static struct wg_peer_tx *peer_sync_find(struct peer_sync *ps, uint32_t id, size_t *at)
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
		struct wg_peer_tx *e = realloc(ps->prev, cap * sizeof(*e));

		if (!e)
			return false;
		ps->prev = e;
		ps->cap_prev = cap;
	}
	memmove(&ps->prev[at + 1], &ps->prev[at], (ps->n_prev - at) * sizeof(*ps->prev));
	ps->prev[at] = (struct wg_peer_tx){ .id = id, .tx_packets = packets, .tx_bytes = bytes };
	ps->n_prev++;
	return true;
}

static int peer_sync_active(struct peer_sync *ps, struct wg_device *dev, struct xdpwg_loader *ld)
{
	ssize_t n = wg_device_active_peers_tx(dev, &ps->act, &ps->cap_act);
	int written = 0;

	if (n < 0)
		return (int)n;
	for (ssize_t i = 0; i < n; i++) {
		const struct wg_peer_tx *e = &ps->act[i];
		struct wg_peer_tx *was;
		size_t at = 0;

		was = peer_sync_find(ps, e->id, &at);
		if (!peer_sync_changed(was, e->tx_packets, e->tx_bytes))
			continue;
		if (!peer_sync_write(ps, ld, e->peer, e->id, e->tx_packets, e->tx_bytes))
			continue; /* no entry (yet): the next walk tries again */
		written++;
		if (was) {
			was->tx_packets = e->tx_packets;
			was->tx_bytes = e->tx_bytes;
		} else if (!peer_sync_insert(ps, at, e->id, e->tx_packets, e->tx_bytes)) {
			break;
		}
	}
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
