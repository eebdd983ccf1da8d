// SPDX-License-Identifier: GPL-2.0
/*
 * The tick's peers (ticklist.h).
 *
 * Enlisting never misses a peer: the arming thread stores the deadline and then exchanges
 * peer->ticking (both sequentially consistent); the control thread, dropping a peer, clears
 * ticking and then reads the deadlines again. Either it sees the new deadline and keeps the
 * peer, or the arming thread sees ticking cleared and pushes it again. The stack is only ever
 * pushed onto and emptied whole (one consumer), so it has no ABA problem.
 */
#include <stdlib.h>

#include "internal.h"
#include "peer.h"
#include "send.h"
#include "ticklist.h"
#include "timers.h"

void ticklist_add(struct wg_peer *peer)
{
	struct wg_device *dev = peer->dev;
	struct wg_peer *head;

	if (atomic_exchange(&peer->ticking, true))
		return;
	peer_get(peer);
	head = atomic_load(&dev->tick_push);
	do
		peer->next_tick = head;
	while (!atomic_compare_exchange_weak(&dev->tick_push, &head, peer));
}

/* What was pushed since the last call, into the array. On ENOMEM a peer stays pushed for the
 * next call (the stack is never lost). */
static void ticklist_collect(struct wg_device *dev)
{
	struct wg_peer *p = atomic_exchange(&dev->tick_push, NULL), *next;

	for (; p; p = next) {
		next = p->next_tick;
		if (dev->n_tick == dev->cap_tick) {
			size_t cap = dev->cap_tick ? dev->cap_tick * 2 : 64;
			struct wg_peer **a = realloc(dev->tick, cap * sizeof(*a));

			if (!a) {
				/* back on the stack, with the rest */
				for (; p; p = next) {
					struct wg_peer *head = atomic_load(&dev->tick_push);

					next = p->next_tick;
					do
						p->next_tick = head;
					while (!atomic_compare_exchange_weak(&dev->tick_push, &head,
									     p));
				}
				return;
			}
			dev->tick = a;
			dev->cap_tick = cap;
		}
		p->next_tick = NULL;
		dev->tick[dev->n_tick++] = p;
	}
}

static bool ticklist_busy(struct wg_peer *p)
{
	if (atomic_load(&p->is_dead))
		return false;
	if (atomic_load(&p->handshake_wanted))
		return true;
	for (int t = 0; t < TIMER_MAX; t++)
		if (atomic_load(&p->timers[t]))
			return true;
	return false;
}

/* Drop tick[i] unless it is busy again: true when it was dropped (tick[i] is another now). */
static bool ticklist_drop(struct wg_device *dev, size_t i)
{
	struct wg_peer *p = dev->tick[i];

	atomic_store(&p->ticking, false);
	if (ticklist_busy(p) && !atomic_exchange(&p->ticking, true))
		return false;
	/* not busy, or busy and pushed again by its arming thread meanwhile */
	dev->tick[i] = dev->tick[--dev->n_tick];
	peer_put(p);
	return true;
}

uint64_t ticklist_run(struct wg_device *dev, uint64_t now)
{
	uint64_t next = 0;
	size_t i = 0;

	ticklist_collect(dev);
	while (i < dev->n_tick) {
		struct wg_peer *p = dev->tick[i];
		uint64_t d = timers_run(p, now);

		if (d) {
			if (!next || (int64_t)(d - next) < 0)
				next = d;
			i++;
			continue;
		}
		if (ticklist_busy(p) || !ticklist_drop(dev, i))
			i++;
	}
	/* a handler may have enlisted a peer (a keepalive arming another timer): next time */
	return next;
}

void ticklist_handshakes(struct wg_device *dev)
{
	ticklist_collect(dev);
	for (size_t i = 0; i < dev->n_tick; i++) {
		struct wg_peer *p = dev->tick[i];

		if (atomic_exchange(&p->handshake_wanted, false) && !atomic_load(&p->is_dead))
			send_handshake_initiation(p, false);
	}
}

void ticklist_free(struct wg_device *dev)
{
	ticklist_collect(dev);
	for (size_t i = 0; i < dev->n_tick; i++) {
		atomic_store(&dev->tick[i]->ticking, false);
		peer_put(dev->tick[i]);
	}
	free(dev->tick);
	dev->tick = NULL;
	dev->n_tick = dev->cap_tick = 0;
}
