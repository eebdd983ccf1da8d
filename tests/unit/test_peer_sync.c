// SPDX-License-Identifier: GPL-2.0
/*
 * peer_sync (the engine's tx counters into the BPF peers map): only the peers whose counters
 * changed since the last write are written, across peers added and removed between walks, and a
 * failed write is tried again on the next walk. Between full walks only the peers in the
 * receiver-index table are looked at (a handshake entry stands in for a session here); the
 * others' changes wait for the next full walk. The map is faked here: loader_peer_set_tx is
 * defined below, so the library's loader (and libbpf) is not linked in.
 */
#include <stdatomic.h>

#include "index.h"
#include "loader.h"
#include "peer.h"
#include "send.h"
#include "timers.h"
#include "peer_sync.h"
#include "tap.h"
#include "wg_harness.h"

enum {
	PS_PEERS = 6,
	PS_MAX_CALLS = 64
};

static struct {
	uint32_t id;
	uint64_t packets, bytes;
} calls[PS_MAX_CALLS];
static size_t n_calls;
static uint32_t fail_id; /* loader_peer_set_tx fails for this id (0: none) */
static unsigned int repairs;

int loader_peer_set_tx(struct xdpwg_loader *ld, uint32_t peer_id, uint64_t packets, uint64_t bytes,
		       struct xdpwg_endpoint *written)
{
	(void)ld;
	if (peer_id == fail_id)
		return -ENOENT;
	if (n_calls < PS_MAX_CALLS) {
		calls[n_calls].id = peer_id;
		calls[n_calls].packets = packets;
		calls[n_calls].bytes = bytes;
		n_calls++;
	}
	if (written)
		memset(written, 0, sizeof(*written)); /* no endpoint, as the engine's */
	return 0;
}

static void repair(void *ctx, struct wg_peer *peer)
{
	(void)ctx;
	(void)peer;
	repairs++;
}

static bool called(uint32_t id, uint64_t packets, uint64_t bytes)
{
	for (size_t i = 0; i < n_calls; i++)
		if (calls[i].id == id && calls[i].packets == packets && calls[i].bytes == bytes)
			return true;
	return false;
}

static struct wg_peer *nth_peer(struct wg_device *dev, int n)
{
	struct wg_peer *p = dev->peers;

	while (p && n--)
		p = p->next_peer;
	return p;
}

static void add_peer(struct conf_dev *c, const uint8_t *pub, unsigned int flags)
{
	struct conf_peer *cp = conf_add_peer(c);

	if (!cp)
		abort();
	memcpy(cp->public_key, pub, WG_KEY_LEN);
	cp->flags |= flags;
}

/* as a handshake in flight does: the peer owns an entry in the index table */
static void activate(struct wg_device *dev, struct wg_peer *p)
{
	index_table_insert(dev->index, &p->handshake.entry);
}

static void set_tx(struct wg_peer *p, uint64_t packets, uint64_t bytes)
{
	atomic_store(&p->tx_packets, packets);
	atomic_store(&p->tx_bytes, bytes);
}

int main(void)
{
	/* never dereferenced: the fake loader_peer_set_tx ignores it */
	struct xdpwg_loader *ld = (struct xdpwg_loader *)(uintptr_t)1;
	struct wgh_host *gw = wgh_host_new("gw", "198.18.0.1:51820");
	uint8_t pubs[PS_PEERS + 1][WG_KEY_LEN];
	struct peer_sync *ps = peer_sync_new(repair, NULL);
	struct conf_dev *c = conf_new();
	struct wg_peer *p1, *p3, *p4;
	uint32_t id1, id3, id4, id6;
	uint64_t now = 1000000000ULL;

	ok(ps && c, "peer_sync_new, conf_new");
	for (int i = 0; i <= PS_PEERS; i++) {
		uint8_t priv[WG_KEY_LEN];

		crypto_genkey(priv);
		crypto_pubkey(pubs[i], priv);
	}
	for (int i = 0; i < PS_PEERS; i++)
		add_peer(c, pubs[i], 0);
	is_int(wgh_apply(gw, c), 0, "six peers configured");
	conf_free(c);

	/* the first walk: nothing sent yet, nothing written */
	is_int(peer_sync_tick(ps, gw->dev, ld, now), 0, "first walk, all at zero: no writes");
	is_int(n_calls, 0, "no map writes");
	p1 = nth_peer(gw->dev, 1);
	p3 = nth_peer(gw->dev, 3);
	p4 = nth_peer(gw->dev, 4);
	id1 = p1->id;
	id3 = p3->id;
	id4 = p4->id;

	activate(gw->dev, p1);
	activate(gw->dev, p4);
	set_tx(p1, 3, 300);
	set_tx(p4, 1, 148);
	is_int(peer_sync_tick(ps, gw->dev, ld, now + 100000000ULL), 0,
	       "within the interval: nothing done");
	now += PEER_SYNC_INTERVAL_NS;
	is_int(peer_sync_tick(ps, gw->dev, ld, now), 2, "two peers sent: two writes");
	ok(called(id1, 3, 300) && called(id4, 1, 148), "their counters written");

	n_calls = 0;
	now += PEER_SYNC_INTERVAL_NS;
	is_int(peer_sync_tick(ps, gw->dev, ld, now), 0, "nothing sent since: no writes");

	/* remove peer 3, add a seventh that sent already, peer 4 sends more, peer 1's write fails */
	c = conf_new();
	add_peer(c, pubs[3], CONF_PEER_REMOVE);
	add_peer(c, pubs[PS_PEERS], 0);
	is_int(wgh_apply(gw, c), 0, "peer 3 removed, one peer added");
	conf_free(c);
	ok(nth_peer(gw->dev, 3) != p3 && nth_peer(gw->dev, 3) == p4, "peer 3 is gone");
	id6 = nth_peer(gw->dev, PS_PEERS - 1)->id;
	ok(id6 > id4 && id3 < id4, "ids grow in list order");
	activate(gw->dev, nth_peer(gw->dev, PS_PEERS - 1));
	set_tx(nth_peer(gw->dev, PS_PEERS - 1), 2, 200);
	set_tx(p4, 5, 700);
	set_tx(p1, 4, 400);
	fail_id = id1;
	now += PEER_SYNC_INTERVAL_NS;
	is_int(peer_sync_tick(ps, gw->dev, ld, now), 2, "the new peer and peer 4 written");
	ok(called(id6, 2, 200) && called(id4, 5, 700), "with their counters");
	ok(!called(id3, 0, 0), "nothing for the removed peer");

	/* the failed write is tried again, and only it */
	n_calls = 0;
	fail_id = 0;
	now += PEER_SYNC_INTERVAL_NS;
	is_int(peer_sync_tick(ps, gw->dev, ld, now), 1, "the failed write again");
	ok(called(id1, 4, 400), "peer 1's counters");
	is_int(repairs, 0, "endpoints agree: no repair");

	n_calls = 0;
	now += PEER_SYNC_INTERVAL_NS;
	is_int(peer_sync_tick(ps, gw->dev, ld, now), 0, "then quiet again");

	/* a peer without an entry: its counters move (a send racing its keypair's removal), the
	 * index walks do not see it, the next full walk does */
	set_tx(nth_peer(gw->dev, 0), 1, 32);
	{
		int walks = 0, w = 0;

		while (!w && walks < 2 * PEER_SYNC_FULL_EVERY) {
			now += PEER_SYNC_INTERVAL_NS;
			w = peer_sync_tick(ps, gw->dev, ld, now);
			walks++;
		}
		is_int(w, 1, "the peer without an entry is written by a full walk");
		ok(walks > 1 && walks <= PEER_SYNC_FULL_EVERY,
		   "within PEER_SYNC_FULL_EVERY walks (%d)", walks);
		ok(called(nth_peer(gw->dev, 0)->id, 1, 32), "with its counters");
	}
	n_calls = 0;
	now += PEER_SYNC_INTERVAL_NS;
	is_int(peer_sync_tick(ps, gw->dev, ld, now), 0, "quiet after the full walk");

	/* a peer removed while it owns an entry (dead, not yet unhashed) is not written */
	{
		struct wg_peer *p = nth_peer(gw->dev, 1);

		set_tx(p, 9, 900);
		atomic_store(&p->is_dead, true);
		now += PEER_SYNC_INTERVAL_NS;
		is_int(peer_sync_tick(ps, gw->dev, ld, now), 0, "a dead peer is skipped");
		atomic_store(&p->is_dead, false);
	}

	for (struct wg_peer *p = gw->dev->peers; p; p = p->next_peer)
		index_table_remove(gw->dev->index, &p->handshake.entry);
	peer_sync_free(ps);
	wgh_reset();
	return done_testing();
}
