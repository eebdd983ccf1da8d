// SPDX-License-Identifier: GPL-2.0
/*
 * The BPF maps kept in step with the engine, on the control thread: sessions while a keypair may
 * receive, peers with their endpoints and next hops, the program's configuration (port, mac1
 * key, under-load flag, source allowlist), and the engine's tx counters copied into the peers
 * map once a second. The loader (loader.h) is written from here only. No key material crosses
 * over.
 */
#include <errno.h>
#include <string.h>

#include "crypto.h"
#include "local_addrs.h"
#include "log.h"
#include "peer_sync.h"
#include "xdp_internal.h"

int io_xdp_set_port(struct io_xdp *x, uint16_t port)
{
	atomic_store(&x->port, port);
	return loader_set_port(x->ld, port);
}

void io_xdp_session_add(struct io_xdp *x, uint32_t index, struct wg_peer *peer)
{
	int ret = loader_session_add(x->ld, index, wg_peer_id(peer));

	if (ret < 0) {
		/* Without its index in the map XDP would drop this peer's data as unknown: let
		 * unknown indexes through to the kernel socket instead, where the engine decides. */
		log_warn("xdp: sessions map: adding index %u failed (%s); unknown indexes now go "
			 "to the kernel socket",
			 index, strerror(-ret));
		if (loader_set_pass_unknown(x->ld) < 0)
			log_err("xdp: cannot switch the program to passing unknown indexes");
	}
}

void io_xdp_session_del(struct io_xdp *x, uint32_t index)
{
	loader_session_del(x->ld, index);
}

/*
 * loader_peer_update writes with BPF_ANY: it (re)creates the entry. A worker's write that raced
 * the peer's removal (checked alive, then the control thread marked it dead and deleted the
 * entry, then the worker wrote) would bring back an entry for a peer that is gone. The engine
 * marks a peer dead before its peer_removed hook deletes the entry, so a writer that looks again
 * after its write either sees it dead and deletes the entry itself, or wrote before the mark and
 * so before the hook's delete. Ids are never reused, so the delete can hit nothing else.
 */
static void io_xdp_peer_recheck(struct io_xdp *x, struct wg_peer *peer)
{
	if (wg_peer_is_dead(peer))
		loader_peer_delete(x->ld, wg_peer_id(peer));
}

void io_xdp_peer_update(struct io_xdp *x, struct wg_peer *peer)
{
	struct wg_endpoint ep;
	struct nexthop ne;
	struct wg_endpoint paths[XDPWG_PEER_PATHS];
	union nl_addr ip;
	int family, ret, n;
	uint32_t flags = wg_peer_roam_pinned(peer) ? XDPWG_PEER_F_ROAM_PINNED : 0;

	/* A worker may still hold a peer the control thread removed: its entry is gone (the
	 * peer_removed hook) and must stay gone. */
	if (wg_peer_is_dead(peer))
		return;
	wg_peer_get_endpoint(peer, &ep);
	if (!endpoint_is_set(&ep)) {
		loader_peer_update(x->ld, wg_peer_id(peer), NULL, NULL, NULL, flags);
		io_xdp_peer_recheck(x, peer);
		return;
	}
	io_xdp_endpoint_addr(&ep, &family, &ip);
	/* on a worker that just authenticated a packet from there, its path hook
	 * (io_xdp_path_moved) has put that packet's next hop in the cache already */
	if (!nexthop_get(&x->hops, family, &ip, &ne)) {
		/* never heard from it: ask the kernel how it would get there */
		struct nl_route rt;

		memset(&ne, 0, sizeof(ne));
		if (nl_route_get(&ep.addr.sa, 0, &rt) == 0) {
			const union nl_addr *hop = rt.has_gateway ? &rt.gateway : &ip;

			for (unsigned int i = 0; i < x->n_ifaces; i++) {
				if (x->ifindex[i] != rt.oif)
					continue;
				if (nl_neigh_get(rt.oif, family, hop, ne.mac) == 0 &&
				    nl_link_mac(rt.oif, ne.local_mac) == 0) {
					ne.used = 1;
					ne.family = (uint8_t)family;
					ne.ifindex = rt.oif;
					ne.ip = ip;
					if (rt.has_prefsrc)
						ne.local_ip = rt.prefsrc;
					nexthop_put(&x->hops, &ne);
				}
			}
		}
	}
	ret = loader_peer_update(x->ld, wg_peer_id(peer), &ep, ne.used ? ne.mac : NULL,
				 ne.used ? ne.local_mac : NULL, flags);
	if (ret < 0)
		log_warn("xdp: peers map: update failed: %s", strerror(-ret));
	/* a multipath peer's standby sources, so that their probes are no new source */
	n = wg_peer_get_paths(peer, paths, XDPWG_PEER_PATHS);
	if (!ret && n >= 0 && (ret = loader_peer_set_paths(x->ld, wg_peer_id(peer), paths, n)) < 0)
		log_warn("xdp: peers map: paths update failed: %s", strerror(-ret));
	io_xdp_peer_recheck(x, peer);
}

void io_xdp_peer_removed(struct io_xdp *x, struct wg_peer *peer)
{
	loader_peer_delete(x->ld, wg_peer_id(peer));
}

/* XDP checks mac1 itself: its key is HASH("mac1----" || our public key), public material. */
void io_xdp_set_private_key(struct io_xdp *x, const uint8_t private_key[WG_KEY_LEN])
{
	static const char label[] = "mac1----";
	uint8_t pub[WG_KEY_LEN], key[WG_HASH_LEN];

	if (crypto_is_zero(private_key, WG_KEY_LEN)) {
		loader_set_mac1_key(x->ld, NULL);
		return;
	}
	crypto_pubkey(pub, private_key);
	crypto_hash(key, label, sizeof(label) - 1, pub, sizeof(pub));
	if (loader_set_mac1_key(x->ld, key) < 0)
		log_err("xdp: cannot set the program's mac1 key");
}

int io_xdp_set_allow_source(struct io_xdp *x, const struct conf_allowedip *list, size_t n)
{
	return loader_allow_source_set(x->ld, list, n);
}

void io_xdp_set_under_load(struct io_xdp *x, bool under_load)
{
	if (under_load != x->under_load && loader_set_under_load(x->ld, under_load) == 0)
		x->under_load = under_load;
}

struct xdpwg_loader *io_xdp_loader(struct io_xdp *x)
{
	return x->ld;
}

int io_xdp_iface(const struct io_xdp *x, unsigned int i)
{
	return i < x->n_ifaces ? x->ifindex[i] : 0;
}

int io_xdp_events_fd(const struct io_xdp *x)
{
	return loader_events_fd(x->ld);
}

int io_xdp_stats(const struct io_xdp *x, uint64_t out[XDPWG_STAT_MAX])
{
	return loader_stats(x->ld, out);
}

/* peer_sync's repair: a worker moved the peer while its entry was being rewritten */
static void io_xdp_peer_repair(void *ctx, struct wg_peer *peer)
{
	io_xdp_peer_update(ctx, peer);
}

int io_xdp_maps_init(struct io_xdp *x)
{
	x->sync = peer_sync_new(io_xdp_peer_repair, x);
	return x->sync ? 0 : -ENOMEM;
}

void io_xdp_maps_free(struct io_xdp *x)
{
	peer_sync_free(x->sync);
	x->sync = NULL;
}

void io_xdp_tick(struct io_xdp *x, uint64_t now_ns)
{
	if (peer_sync_tick(x->sync, x->dev, x->ld, now_ns) < 0)
		log_debug("xdp: peers map tx counters: out of memory");
	loader_allow_source_tidy(x->ld);
}

void io_xdp_local_addrs_refresh(struct io_xdp *x)
{
	local_addrs_refresh(x->ld);
}
