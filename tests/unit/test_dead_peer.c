// SPDX-License-Identifier: GPL-2.0
/*
 * A peer removed while a data-path thread still holds it (issue #15, item 3): a worker that
 * authenticated a packet before the removal and roams the peer after it must not call the
 * endpoint_moved hooks (the XDP back-end would write the peer back into the BPF peers map) nor
 * peer_moved (a move event for a peer that is gone). In-process, on a fake clock: b receives a's
 * data on a path of its own, the control thread removes a between two receives, and the worker's
 * roam of the packet it already authenticated runs afterwards.
 */
#include <stdio.h>
#include <unistd.h>

#include "tap.h"
#include "wg_harness.h"

#include "peer.h"

static struct wgh_host *A, *B;
static unsigned int dev_moved, dev_peer_moved, path_moved, removed;

static void count_moved(void *ctx, struct wg_peer *peer, const struct wg_endpoint *old,
			const struct wg_endpoint *new_ep)
{
	(void)ctx;
	(void)peer;
	(void)old;
	(void)new_ep;
	dev_moved++;
}

static void count_peer_moved(void *ctx, const struct wg_peer_move *m)
{
	(void)ctx;
	(void)m;
	dev_peer_moved++;
}

static void count_removed(void *ctx, struct wg_peer *peer)
{
	(void)ctx;
	(void)peer;
	removed++;
}

static void count_path_moved(void *ctx, const struct wg_endpoint *new_ep)
{
	(void)ctx;
	(void)new_ep;
	path_moved++;
}

static const struct wg_io_ops counting_ops = {
	.send = wgh_send,
	.deliver = wgh_deliver,
	.bind = wgh_bind,
	.endpoint_moved = count_moved,
	.peer_moved = count_peer_moved,
	.peer_removed = count_removed,
	.session_add = wgh_session_add,
	.session_del = wgh_session_del,
};

static void tx4(struct wgh_host *from, const char *src, const char *dst, uint8_t fill)
{
	uint8_t pkt[256];
	size_t len = wgh_ip4(pkt, src, dst, 20, fill);

	wg_device_tx(wg_device_path(from->dev), pkt, len);
}

/* The last data message a queued (taken out of its queue); false if none. */
static bool take_data(struct wgh_pkt *p)
{
	size_t i;

	for (i = A->n_out; i-- > 0;) {
		if (wgh_msg_type(&A->out[i]) != WG_MSG_DATA)
			continue;
		*p = A->out[i];
		A->n_out--;
		memmove(&A->out[i], &A->out[i + 1], (A->n_out - i) * sizeof(A->out[0]));
		return true;
	}
	return false;
}

static void remove_a_on_b(void)
{
	struct conf_dev *c = conf_new();
	struct conf_peer *p = conf_add_peer(c);

	memcpy(p->public_key, A->pub, WG_KEY_LEN);
	p->flags = CONF_PEER_REMOVE;
	if (wgh_apply(B, c))
		abort();
	conf_free(c);
}

int main(void)
{
	const struct wg_path_ops pops = { .send = wgh_send,
					  .deliver = wgh_deliver,
					  .endpoint_moved = count_path_moved };
	struct wg_endpoint elsewhere;
	struct wg_peer_move m;
	struct wg_path *worker;
	struct wg_peer *held;
	struct wgh_pkt d1, d2;
	uint8_t buf[WGH_PKT_MAX];

	A = wgh_host_new("a", "198.51.100.1:51820");
	B = wgh_host_new_ops("b", "198.18.0.1:51821", &counting_ops);
	B->addr.src4 = B->addr.addr.in4.sin_addr;
	wgh_pair(A, B, NULL, NULL, true, false);
	tx4(A, "192.0.2.1", "192.0.2.2", 1);
	wgh_pump();
	tx4(B, "192.0.2.2", "192.0.2.1", 2);
	wgh_pump();
	ok(wgh_peer_snap(B).last_handshake_sec > 0, "a session both ways");
	worker = wg_path_new(B->dev, &pops, B);
	ok(worker != NULL, "a worker's path on b");

	/* two data messages from a, held back */
	tx4(A, "192.0.2.1", "192.0.2.2", 3);
	tx4(A, "192.0.2.1", "192.0.2.2", 4);
	ok(take_data(&d2) && take_data(&d1), "two data messages from a");

	/* receive 1 from a new source: a real move, hooks called (the control case) */
	wgh_set_addr(&elsewhere, "198.51.100.7:4000");
	dev_moved = dev_peer_moved = path_moved = 0;
	memcpy(buf, d1.data, d1.len);
	ok(wg_device_rx(worker, buf, d1.len, &elsewhere), "receive 1 authenticates");
	ok(dev_moved == 1 && path_moved == 1 && dev_peer_moved == 1,
	   "a live peer's move calls the hooks (endpoint_moved %u, path %u, peer_moved %u)",
	   dev_moved, path_moved, dev_peer_moved);

	/* the worker holds a (as while authenticating a packet); the control thread removes it */
	held = peer_get(wg_device_lookup_peer(B->dev, A->pub));
	remove_a_on_b();
	is_int(removed, 1, "peer_removed ran");
	ok(wg_peer_is_dead(held), "wg_peer_is_dead says so");

	/* receive 2, authenticated before the removal: its roam runs after it */
	wgh_set_addr(&elsewhere, "198.51.100.8:4001");
	dev_moved = dev_peer_moved = path_moved = 0;
	memset(&m, 0, sizeof(m));
	ok(!peer_roam_deferred(worker, held, &elsewhere, MPATH_RX_DATA, &m),
	   "no move for a dead peer");
	peer_roam_ack(worker, held, &m);
	is_int(dev_moved, 0, "no endpoint_moved hook for a dead peer (no BPF peers map write)");
	is_int(path_moved, 0, "no path endpoint_moved for a dead peer");
	is_int(dev_peer_moved, 0, "no peer_moved hook (no move event) for a dead peer");

	/* the control thread's roam (a handshake) likewise */
	wgh_set_addr(&elsewhere, "198.51.100.9:4002");
	ok(!peer_roam(held, &elsewhere), "peer_roam: no move for a dead peer");
	ok(dev_moved == 0 && dev_peer_moved == 0, "and no hook");

	/* and the packet itself, received after the removal, is no one's */
	memcpy(buf, d2.data, d2.len);
	ok(!wg_device_rx(worker, buf, d2.len, &elsewhere), "receive 2 after removal: dropped");
	ok(dev_moved == 0 && dev_peer_moved == 0 && path_moved == 0, "no hook either");

	peer_put(held);
	wg_path_free(worker);
	wgh_reset();
	return done_testing();
}
