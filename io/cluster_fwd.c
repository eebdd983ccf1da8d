// SPDX-License-Identifier: GPL-2.0
/*
 * A gateway cluster's forwarding, userspace side. See cluster_fwd.h.
 *
 * Map writes are ordered so that XDP never sees a half-made member: a new member's address
 * goes into gateway_addrs (who may hand us IP-in-IP) before its gateways entry (where we
 * forward to), and a removed member leaves gateways first. Entry 0 (ourselves) is written
 * last at start and cleared first at the end.
 */
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cluster_fwd.h"
#include "loader.h"
#include "log.h"
#include "netlink.h"

/* A member's next hop whose neighbour we keep resolved. */
struct cluster_hop {
	int ifindex; /* 0: none kept */
	int family;
	union nl_addr addr;
};

struct cluster_fwd {
	struct xdpwg_loader *ld; /* NULL: no XDP program */
	unsigned int self_id;
	struct sockaddr_storage self;
	struct sockaddr_storage members[XDPWG_GATEWAYS_MAX]; /* ss_family 0: none */
	struct cluster_hop hops[XDPWG_GATEWAYS_MAX];
	bool managed_refused; /* logged once */
};

static const char *cluster_addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const void *a = ss->ss_family == AF_INET
				? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
				: (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;

	if (!inet_ntop(ss->ss_family, a, buf, (socklen_t)len))
		snprintf(buf, len, "(family %d)", ss->ss_family);
	return buf;
}

static void cluster_nl_addr(const struct sockaddr_storage *ss, union nl_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (ss->ss_family == AF_INET)
		out->v4 = ((const struct sockaddr_in *)ss)->sin_addr;
	else
		out->v6 = ((const struct sockaddr_in6 *)ss)->sin6_addr;
}

static bool cluster_addr_eq(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	union nl_addr x, y;

	if (a->ss_family != b->ss_family)
		return false;
	cluster_nl_addr(a, &x);
	cluster_nl_addr(b, &y);
	return !memcmp(&x, &y, sizeof(x));
}

static void cluster_gw_value(const struct sockaddr_storage *ss, unsigned int id,
			     struct xdpwg_gateway *g)
{
	union nl_addr a;

	memset(g, 0, sizeof(*g));
	cluster_nl_addr(ss, &a);
	memcpy(g->addr.v6, a.bytes, 16);
	g->family = ss->ss_family == AF_INET ? XDPWG_FAMILY_INET : XDPWG_FAMILY_INET6;
	g->id = (__u8)id;
}

static void cluster_addr_key(const struct sockaddr_storage *ss, struct xdpwg_addr_key *k)
{
	union nl_addr a;

	memset(k, 0, sizeof(*k));
	cluster_nl_addr(ss, &a);
	k->family = ss->ss_family == AF_INET ? XDPWG_FAMILY_INET : XDPWG_FAMILY_INET6;
	memcpy(k->addr, a.bytes, ss->ss_family == AF_INET ? 4 : 16);
}

static bool cluster_hop_used_by_other(const struct cluster_fwd *cf, unsigned int id)
{
	const struct cluster_hop *h = &cf->hops[id];

	for (unsigned int i = 1; i < XDPWG_GATEWAYS_MAX; i++)
		if (i != id && cf->hops[i].ifindex == h->ifindex &&
		    cf->hops[i].family == h->family && !memcmp(&cf->hops[i].addr, &h->addr, 16))
			return true;
	return false;
}

static void cluster_hop_drop(struct cluster_fwd *cf, unsigned int id)
{
	struct cluster_hop *h = &cf->hops[id];
	int err;

	if (!h->ifindex)
		return;
	if (!cluster_hop_used_by_other(cf, id)) {
		err = nl_neigh_keep(h->ifindex, h->family, &h->addr, false);
		if (err && err != -ENOENT)
			log_debug("cluster: forgetting gateway %u's next hop: %s", id,
				  strerror(-err));
	}
	memset(h, 0, sizeof(*h));
}

/* Keep member id's next hop resolved (see cluster_fwd.h). Failures are logged, not fatal: the
 * program counts what it cannot send. */
static void cluster_hop_keep(struct cluster_fwd *cf, unsigned int id)
{
	struct cluster_hop want = { 0 };
	struct nl_route rt;
	char buf[INET6_ADDRSTRLEN];
	int err;

	if (!cf->ld)
		return;
	err = nl_route_get((const struct sockaddr *)&cf->members[id], 0, &rt);
	if (err < 0) {
		log_warn("cluster: no route to gateway %u (%s): %s", id,
			 cluster_addr_str(&cf->members[id], buf, sizeof(buf)), strerror(-err));
		cluster_hop_drop(cf, id);
		return;
	}
	want.ifindex = rt.oif;
	want.family = cf->members[id].ss_family;
	if (rt.has_gateway)
		want.addr = rt.gateway;
	else
		cluster_nl_addr(&cf->members[id], &want.addr);
	if (!memcmp(&want, &cf->hops[id], sizeof(want)))
		return;
	cluster_hop_drop(cf, id);
	err = nl_neigh_keep(want.ifindex, want.family, &want.addr, true);
	if (err == -EEXIST)
		return; /* a static entry: resolved, and not ours to remove later */
	if (err < 0) {
		if (!cf->managed_refused)
			log_warn("cluster: the kernel keeps no managed neighbour for gateway %u "
				 "(%s): forwarding waits for normal resolution",
				 id, strerror(-err));
		cf->managed_refused = true;
		return;
	}
	cf->hops[id] = want;
}

static int cluster_write_self(struct cluster_fwd *cf, unsigned int id)
{
	struct xdpwg_gateway g;
	uint32_t key = 0;

	if (!cf->ld)
		return 0;
	cluster_gw_value(&cf->self, id, &g);
	if (!id)
		memset(&g, 0, sizeof(g));
	if (bpf_map_update_elem(loader_gateways_fd(cf->ld), &key, &g, BPF_ANY))
		return -errno;
	return 0;
}

int cluster_fwd_new(struct xdpwg_loader *ld, unsigned int self_id,
		    const struct sockaddr_storage *self_underlay, struct cluster_fwd **out)
{
	struct cluster_fwd *cf;
	int ret;

	*out = NULL;
	if (self_id < 1 || self_id > XDPWG_GW_ID_MAX) {
		log_err("cluster: gateway id %u out of range (1..%d)", self_id, XDPWG_GW_ID_MAX);
		return -EINVAL;
	}
	if (self_underlay->ss_family != AF_INET && self_underlay->ss_family != AF_INET6) {
		log_err("cluster: our underlay address is neither IPv4 nor IPv6");
		return -EINVAL;
	}
	cf = calloc(1, sizeof(*cf));
	if (!cf)
		return -ENOMEM;
	cf->ld = ld;
	cf->self_id = self_id;
	cf->self = *self_underlay;
	ret = cluster_write_self(cf, self_id);
	if (ret < 0) {
		log_err("cluster: writing the gateways map: %s", strerror(-ret));
		free(cf);
		return ret;
	}
	*out = cf;
	return 0;
}

void cluster_fwd_free(struct cluster_fwd *cf)
{
	if (!cf)
		return;
	/* no cluster first: nothing is forwarded to members that are going */
	cluster_write_self(cf, 0);
	for (unsigned int id = 1; id < XDPWG_GATEWAYS_MAX; id++)
		if (cf->members[id].ss_family)
			cluster_fwd_gateway_del(cf, id);
	free(cf);
}

int cluster_fwd_gateway_set(struct cluster_fwd *cf, unsigned int id,
			    const struct sockaddr_storage *underlay)
{
	char buf[INET6_ADDRSTRLEN];
	struct xdpwg_addr_key k;
	struct xdpwg_gateway g;
	uint32_t key = id, val = id;
	int err;

	if (id < 1 || id > XDPWG_GW_ID_MAX || id == cf->self_id) {
		log_err("cluster: gateway %u: %s", id,
			id == cf->self_id ? "that is our own id" : "id out of range (1..63)");
		return -EINVAL;
	}
	if (underlay->ss_family != cf->self.ss_family) {
		log_err("cluster: gateway %u: its underlay address is %s, ours is %s: one family "
			"for the whole cluster",
			id, underlay->ss_family == AF_INET ? "IPv4" : "not IPv4",
			cf->self.ss_family == AF_INET ? "IPv4" : "IPv6");
		return -EINVAL;
	}
	if (cluster_addr_eq(underlay, &cf->self)) {
		log_err("cluster: gateway %u: %s is our own underlay address", id,
			cluster_addr_str(underlay, buf, sizeof(buf)));
		return -EEXIST;
	}
	for (unsigned int i = 1; i < XDPWG_GATEWAYS_MAX; i++) {
		if (i != id && cf->members[i].ss_family &&
		    cluster_addr_eq(underlay, &cf->members[i])) {
			log_err("cluster: gateway %u: %s is gateway %u's underlay address", id,
				cluster_addr_str(underlay, buf, sizeof(buf)), i);
			return -EEXIST;
		}
	}
	if (cf->members[id].ss_family && cluster_addr_eq(underlay, &cf->members[id]))
		return 0;
	if (cf->ld) {
		/* who may send us IP-in-IP first, then where we forward to */
		cluster_addr_key(underlay, &k);
		if (bpf_map_update_elem(loader_gateway_addrs_fd(cf->ld), &k, &val, BPF_ANY))
			goto map_err;
		cluster_gw_value(underlay, id, &g);
		if (bpf_map_update_elem(loader_gateways_fd(cf->ld), &key, &g, BPF_ANY)) {
			err = -errno;
			bpf_map_delete_elem(loader_gateway_addrs_fd(cf->ld), &k);
			errno = -err;
			goto map_err;
		}
		/* a move: the old address may hand us nothing more */
		if (cf->members[id].ss_family) {
			cluster_addr_key(&cf->members[id], &k);
			bpf_map_delete_elem(loader_gateway_addrs_fd(cf->ld), &k);
		}
	}
	cf->members[id] = *underlay;
	cluster_hop_keep(cf, id);
	log_info("cluster: gateway %u at %s", id, cluster_addr_str(underlay, buf, sizeof(buf)));
	return 0;
map_err:
	err = -errno;
	log_err("cluster: gateway %u: writing the maps: %s", id, strerror(-err));
	return err;
}

int cluster_fwd_gateway_del(struct cluster_fwd *cf, unsigned int id)
{
	struct xdpwg_gateway none = { 0 };
	struct xdpwg_addr_key k;
	uint32_t key = id;

	if (id < 1 || id > XDPWG_GW_ID_MAX || !cf->members[id].ss_family)
		return -ENOENT;
	if (cf->ld) {
		/* forwarding to it stops first, then it may hand us nothing more */
		if (bpf_map_update_elem(loader_gateways_fd(cf->ld), &key, &none, BPF_ANY))
			log_warn("cluster: gateway %u: clearing its entry: %s", id,
				 strerror(errno));
		cluster_addr_key(&cf->members[id], &k);
		if (bpf_map_delete_elem(loader_gateway_addrs_fd(cf->ld), &k) && errno != ENOENT)
			log_warn("cluster: gateway %u: removing its address: %s", id,
				 strerror(errno));
	}
	cluster_hop_drop(cf, id);
	memset(&cf->members[id], 0, sizeof(cf->members[id]));
	log_info("cluster: gateway %u left", id);
	return 0;
}

bool cluster_fwd_gateway_get(const struct cluster_fwd *cf, unsigned int id,
			     struct sockaddr_storage *out)
{
	if (id < 1 || id > XDPWG_GW_ID_MAX || !cf->members[id].ss_family)
		return false;
	*out = cf->members[id];
	return true;
}

unsigned int cluster_fwd_self_id(const struct cluster_fwd *cf)
{
	return cf->self_id;
}

const struct sockaddr_storage *cluster_fwd_self_underlay(const struct cluster_fwd *cf)
{
	return &cf->self;
}

/* accept_ra 1 (accept unless forwarding) becomes 2 (accept even so); 0 and 2 stay. */
static int cluster_fwd_keep_ra(const char *ifname)
{
	char path[128], cur[8] = "";
	int fd, ret = 0;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/accept_ra", ifname);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return 0; /* no IPv6 on it: nothing to keep */
	if (read(fd, cur, sizeof(cur) - 1) > 0 && cur[0] == '1') {
		if (pwrite(fd, "2\n", 2, 0) != 2) {
			log_err("cluster: accept_ra 2 on %s (to keep its Router Advertisements "
				"while it forwards): %s",
				ifname, strerror(errno));
			ret = -1;
		} else {
			log_info("cluster: accept_ra on %s 1 -> 2, so that it keeps its Router "
				 "Advertisements while it forwards",
				 ifname);
		}
	}
	close(fd);
	return ret;
}

int cluster_fwd_enable_forwarding(const char *ifname, int family)
{
	char path[128], cur[8] = "";
	ssize_t n;
	int fd, ret = 0;

	if (!ifname[0] || strchr(ifname, '/') || strlen(ifname) >= 16)
		return -EINVAL;
	snprintf(path, sizeof(path), "/proc/sys/net/%s/conf/%s/forwarding",
		 family == AF_INET6 ? "ipv6" : "ipv4", ifname);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, cur, sizeof(cur) - 1);
	if (n > 0 && cur[0] == '1')
		goto out;
	/* an IPv6 interface that forwards ignores Router Advertisements unless accept_ra is 2:
	 * a gateway configured by SLAAC would lose its default route when the RA's lifetime ran
	 * out */
	if (family == AF_INET6 && cluster_fwd_keep_ra(ifname) < 0) {
		ret = -EIO;
		goto out;
	}
	if (pwrite(fd, "1\n", 2, 0) != 2) {
		ret = -errno;
		log_err("cluster: turning on %s forwarding on %s: %s",
			family == AF_INET6 ? "IPv6" : "IPv4", ifname, strerror(errno));
		goto out;
	}
	log_info("cluster: %s forwarding on %s turned on (XDP's route lookups need it)",
		 family == AF_INET6 ? "IPv6" : "IPv4", ifname);
out:
	close(fd);
	return ret;
}

void cluster_fwd_routes_changed(struct cluster_fwd *cf)
{
	if (!cf)
		return;
	for (unsigned int id = 1; id < XDPWG_GATEWAYS_MAX; id++)
		if (cf->members[id].ss_family)
			cluster_hop_keep(cf, id);
}
