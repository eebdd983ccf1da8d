// SPDX-License-Identifier: GPL-2.0
/*
 * The held sessions' routes (daemon/cluster_routes.c) on a fake clock, with the kernel table
 * replaced by an array (the io/nl_table.h functions are defined here, so the linker takes these
 * and not the real ones): a handshake makes the gateway hold the client, with a route per
 * allowed IP; a rekey keeps it; the session unused for REJECT_AFTER_TIME lets it go; so do a
 * release by the cluster, a removed peer and the engine zeroing the last keypair; changed
 * allowed IPs are followed; a device that is down is retried on the tick. tests/net/
 * cluster_routes.t covers the real table and BIRD.
 */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tap.h"
#include "wg_harness.h"

#include "cluster_routes.h"
#include "config.h"
#include "nl_table.h"

enum {
	FAKE_MAX_ROUTES = 16,
	FAKE_OIF = 7,
};

/* --- the kernel table, faked --- */

struct fake_route {
	int family;
	uint8_t cidr;
	uint8_t addr[16];
	int oif;
};

static struct fake_route routes[FAKE_MAX_ROUTES];
static size_t n_routes;
static int replace_err; /* what nl_table_replace returns, when not 0 */
static int n_flushed;

struct nl_table {
	int dummy;
};

struct nl_table *nl_table_open(uint32_t table, uint8_t proto)
{
	static struct nl_table t;

	if (table != 200 || proto != CLUSTER_RTPROT)
		abort();
	return &t;
}

void nl_table_close(struct nl_table *t)
{
	(void)t;
}

static long fake_find(int family, const void *addr, uint8_t cidr)
{
	for (size_t i = 0; i < n_routes; i++)
		if (routes[i].family == family && routes[i].cidr == cidr &&
		    !memcmp(routes[i].addr, addr, family == AF_INET ? 4 : 16))
			return (long)i;
	return -1;
}

int nl_table_replace(struct nl_table *t, int family, const void *addr, uint8_t cidr, int oif)
{
	long i;

	(void)t;
	if (replace_err)
		return replace_err;
	i = fake_find(family, addr, cidr);
	if (i < 0) {
		if (n_routes == FAKE_MAX_ROUTES)
			return -ENOSPC;
		i = (long)n_routes++;
	}
	memset(&routes[i], 0, sizeof(routes[i]));
	routes[i].family = family;
	routes[i].cidr = cidr;
	memcpy(routes[i].addr, addr, family == AF_INET ? 4 : 16);
	routes[i].oif = oif;
	return 0;
}

int nl_table_delete(struct nl_table *t, int family, const void *addr, uint8_t cidr)
{
	long i = fake_find(family, addr, cidr);

	(void)t;
	if (i >= 0)
		routes[i] = routes[--n_routes];
	return 0;
}

int nl_table_flush(struct nl_table *t)
{
	(void)t;
	n_flushed++;
	return 0;
}

static bool has_route(const char *cidr)
{
	struct conf_allowedip ip;

	wgh_prefix(&ip, cidr);
	return fake_find(ip.family, &ip.ip6, ip.cidr) >= 0;
}

/* --- the gateway's hooks --- */

static struct cluster_routes *cr;

static void gw_session_add(void *ctx, uint32_t idx, struct wg_peer *peer)
{
	wgh_session_add(ctx, idx, peer);
	cluster_routes_session_add(cr, idx, peer);
}

static void gw_session_del(void *ctx, uint32_t idx)
{
	wgh_session_del(ctx, idx);
	cluster_routes_session_del(cr, idx);
}

static void gw_peer_removed(void *ctx, struct wg_peer *peer)
{
	(void)ctx;
	cluster_routes_peer_removed(cr, peer);
}

static const struct wg_io_ops gw_ops = {
	.send = wgh_send,
	.deliver = wgh_deliver,
	.bind = wgh_bind,
	.session_add = gw_session_add,
	.session_del = gw_session_del,
	.peer_removed = gw_peer_removed,
};

static struct wgh_host *CL, *GW;
static unsigned int told_held, told_gone;

static void held_hook(void *ctx, const uint8_t pub[WG_KEY_LEN], bool held)
{
	(void)ctx;
	if (memcmp(pub, CL->pub, WG_KEY_LEN))
		abort();
	if (held)
		told_held++;
	else
		told_gone++;
}

/* The client sends to the gateway (a handshake when it needs one), everything delivered, then
 * what the daemon does after handshakes: the flush. */
static void client_sends(void)
{
	uint8_t pkt[256];
	size_t len = wgh_ip4(pkt, "192.0.2.1", "192.0.2.2", 20, 1);

	wg_device_tx(wg_device_path(CL->dev), pkt, len);
	wgh_pump();
	cluster_routes_flush(cr);
}

/* The gateway's peer (the client) with these allowed IPs instead of its own; applied as the
 * UAPI handler does, then told to the routes. */
static void gw_set_client_ips(const char *const *ips, bool remove)
{
	struct conf_dev *c = conf_new();
	struct conf_peer *p = wgh_add_peer(c, CL, false, ips);

	p->flags |= remove ? CONF_PEER_REMOVE : CONF_PEER_REPLACE_ALLOWEDIPS;
	if (wgh_apply(GW, c))
		abort();
	cluster_routes_applied(cr, c);
	conf_free(c);
}

static bool lo_up(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	bool up;

	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	up = fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP);
	if (fd >= 0)
		close(fd);
	return up;
}

int main(void)
{
	static const char *const client_ips[] = { "192.0.2.1/32", "2001:db8::1/128", NULL };
	static const char *const two_v4[] = { "192.0.2.1/32", "192.0.2.77/32", NULL };
	const uint64_t reject_ns = (uint64_t)REJECT_AFTER_TIME * NSEC_PER_SEC;

	CL = wgh_host_new("cl", "198.51.100.2:51821");
	GW = wgh_host_new_ops("gw", "198.18.0.11:51820", &gw_ops);
	/* "lo" as the tunnel device: up, for the tick's retries */
	cr = cluster_routes_new(GW->dev, "lo", 200, FAKE_OIF);
	ok(cr != NULL, "cluster_routes_new");
	is_int(n_flushed, 1, "what an earlier run left is flushed at start");
	cluster_routes_set_held_fn(cr, held_hook, NULL);
	wgh_pair(CL, GW, NULL, NULL, true, false);
	is_int(cluster_routes_held(cr), 0, "nothing held before a handshake");
	is_int(n_routes, 0, "no route before a handshake");

	/* a handshake: held, a route per allowed IP on the tunnel device */
	client_sends();
	is_int(GW->sessions, 1, "a session on the gateway");
	is_int(cluster_routes_held(cr), 1, "the client is held");
	is_int(n_routes, 2, "two routes");
	ok(has_route("192.0.2.1/32") && has_route("2001:db8::1/128"), "its allowed IPs");
	ok(routes[0].oif == FAKE_OIF && routes[1].oif == FAKE_OIF, "on the tunnel device");
	ok(told_held == 1 && told_gone == 0, "the held hook told: held");

	/* rekeys: the older keypairs go (session_del), the peer stays held, its routes too */
	for (int i = 0; i < 3; i++) {
		wgh_run_ms((uint64_t)(REKEY_AFTER_TIME + 1) * 1000, 1000);
		client_sends();
	}
	ok(GW->sessions >= 1, "rekeyed sessions (%u keypairs)", GW->sessions);
	is_int(cluster_routes_held(cr), 1, "still held after three rekeys");
	is_int(n_routes, 2, "the same two routes");
	ok(told_held == 1 && told_gone == 0, "the held hook not told again");

	/* the engine zeroes every keypair (3 x REJECT_AFTER_TIME without a handshake): the last
	 * index gone, the peer is let go */
	wgh_run_ms((uint64_t)REJECT_AFTER_TIME * 3 * 1000 + 10000, 5000);
	is_int(GW->sessions, 0, "the gateway's keypairs zeroed");
	is_int(cluster_routes_held(cr), 0, "the last session gone: no longer held");
	is_int(n_routes, 0, "  ... its routes withdrawn");
	ok(told_held == 1 && told_gone == 1, "the held hook told: gone");

	/* held again; its session unused for REJECT_AFTER_TIME (the daemon's clock): let go */
	client_sends();
	is_int(cluster_routes_held(cr), 1, "a new handshake: held again");
	cluster_routes_tick(cr, wg_monotonic_ns() + reject_ns / 2);
	is_int(cluster_routes_held(cr), 1, "still held half-way through its session");
	cluster_routes_tick(cr, wg_monotonic_ns() + reject_ns + NSEC_PER_SEC);
	is_int(cluster_routes_held(cr), 0, "the session expired: let go");
	is_int(n_routes, 0, "  ... its routes withdrawn");
	/* the keypair's later session_del finds nothing to do */
	wgh_run_ms((uint64_t)REJECT_AFTER_TIME * 3 * 1000 + 10000, 5000);
	is_int(GW->sessions, 0, "its keypairs zeroed later");
	is_int(n_routes, 0, "  ... nothing changes");

	/* released by the cluster (another gateway holds it now) */
	client_sends();
	is_int(n_routes, 2, "held again: two routes");
	ok(cluster_routes_release(cr, CL->pub), "cluster_routes_release: it was held");
	is_int(n_routes, 0, "  ... its routes withdrawn");
	ok(!cluster_routes_release(cr, CL->pub), "released twice: not held any more");
	ok(!cluster_routes_release(cr, GW->pub), "an unknown key: not held");
	ok(told_held == 3 && told_gone == 2, "a release is not told to the held hook (%u, %u)",
	   told_held, told_gone);

	/* allowed IPs changed while held */
	wgh_run_ms((uint64_t)(REKEY_AFTER_TIME + 1) * 1000, 1000);
	client_sends();
	is_int(cluster_routes_held(cr), 1, "a rekey: held again");
	gw_set_client_ips(two_v4, false);
	is_int(n_routes, 2, "allowed IPs replaced: two routes");
	ok(has_route("192.0.2.1/32") && has_route("192.0.2.77/32") && !has_route("2001:db8::1/128"),
	   "  ... the new one added, the dropped one withdrawn");

	/* the peer removed */
	gw_set_client_ips(two_v4, true);
	is_int(cluster_routes_held(cr), 0, "peer removed: not held");
	ok(told_held == 4 && told_gone == 3, "the held hook told of the removal");
	is_int(n_routes, 0, "  ... its routes withdrawn");

	/* a device that is down: the routes wait for the tick */
	gw_set_client_ips(client_ips, false);
	replace_err = -ENETDOWN;
	wgh_run_ms((uint64_t)(REKEY_AFTER_TIME + 1) * 1000, 1000);
	client_sends();
	is_int(cluster_routes_held(cr), 1, "held while the device is down");
	is_int(n_routes, 0, "  ... no route yet");
	replace_err = 0;
	if (lo_up()) {
		cluster_routes_tick(cr, wg_monotonic_ns());
		is_int(n_routes, 2, "  ... the tick installs them once it is up");
	} else {
		ok(1, "# skip lo is down here");
	}

	cluster_routes_free(cr);
	cr = NULL; /* the device's teardown below still calls the hooks */
	is_int(n_routes, 0, "cluster_routes_free withdraws everything");
	ok(told_held == 5 && told_gone == 4, "  ... and tells the held hook");
	wgh_reset();
	return done_testing();
}
