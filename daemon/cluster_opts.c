// SPDX-License-Identifier: GPL-2.0
/*
 * xdpwgd's gateway-cluster options and their start. See cluster_opts.h and docs/cluster.md.
 *
 * This gateway's underlay address (the outer source of what it forwards, the outer destination
 * it unwraps): its own entry in the member list when there is one; else the source the kernel
 * would use towards the first member; else the first address of the first uplink. Logged,
 * since every other member must name the same address for it.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_opts.h"
#include "cluster_record.h"
#include "cluster_sock.h"
#include "sock_path.h"
#include "log.h"
#include "xdpwgd.h"

static int cluster_opts_member(struct cluster_fwd_opts *o, const char *what, const char *item,
			       size_t len)
{
	char buf[INET6_ADDRSTRLEN + 8], *eq, *end;
	struct cluster_member *m;
	unsigned long id;

	if (len >= sizeof(buf))
		goto bad;
	memcpy(buf, item, len);
	buf[len] = 0;
	eq = strchr(buf, '=');
	if (!eq || eq == buf || buf[0] < '0' || buf[0] > '9')
		goto bad;
	*eq = 0;
	errno = 0;
	id = strtoul(buf, &end, 10);
	if (errno || *end || id < 1 || id > XDPWG_GW_ID_MAX) {
		fprintf(stderr, "xdpwgd: %s '%.*s': %s is not a gateway id (1..%d)\n", what,
			(int)len, item, buf, XDPWG_GW_ID_MAX);
		return -1;
	}
	if (o->n_members >= XDPWG_GW_ID_MAX) {
		fprintf(stderr, "xdpwgd: %s: at most %d gateways\n", what, XDPWG_GW_ID_MAX);
		return -1;
	}
	m = &o->members[o->n_members];
	memset(m, 0, sizeof(*m));
	m->id = (unsigned int)id;
	if (inet_pton(AF_INET, eq + 1, &((struct sockaddr_in *)&m->underlay)->sin_addr) == 1) {
		m->underlay.ss_family = AF_INET;
	} else if (inet_pton(AF_INET6, eq + 1, &((struct sockaddr_in6 *)&m->underlay)->sin6_addr) ==
		   1) {
		m->underlay.ss_family = AF_INET6;
	} else {
		fprintf(stderr, "xdpwgd: %s '%.*s': '%s' is not an IPv4 or IPv6 address\n", what,
			(int)len, item, eq + 1);
		return -1;
	}
	if (!cluster_addr_usable(&m->underlay)) {
		fprintf(stderr,
			"xdpwgd: %s '%.*s': '%s' is no unicast address another host can send "
			"from\n",
			what, (int)len, item, eq + 1);
		return -1;
	}
	for (unsigned int i = 0; i < o->n_members; i++) {
		const struct cluster_member *p = &o->members[i];
		char a[INET6_ADDRSTRLEN];

		if (p->id == m->id) {
			fprintf(stderr, "xdpwgd: %s '%.*s': gateway %u is listed twice\n", what,
				(int)len, item, p->id);
			return -1;
		}
		if (p->underlay.ss_family != m->underlay.ss_family) {
			fprintf(stderr,
				"xdpwgd: %s '%.*s': one address family for the whole cluster "
				"(gateway %u is %s)\n",
				what, (int)len, item, p->id,
				p->underlay.ss_family == AF_INET ? "IPv4" : "IPv6");
			return -1;
		}
		if (!memcmp(&p->underlay, &m->underlay, sizeof(m->underlay))) {
			inet_ntop(m->underlay.ss_family,
				  m->underlay.ss_family == AF_INET
					  ? (const void *)&((struct sockaddr_in *)&m->underlay)
						    ->sin_addr
					  : (const void *)&((struct sockaddr_in6 *)&m->underlay)
						    ->sin6_addr,
				  a, sizeof(a));
			fprintf(stderr, "xdpwgd: %s '%.*s': %s is gateway %u's address too\n", what,
				(int)len, item, a, p->id);
			return -1;
		}
	}
	o->n_members++;
	return 0;
bad:
	fprintf(stderr, "xdpwgd: %s '%.*s': not ID=ADDR (e.g. 2=198.18.0.2)\n", what, (int)len,
		item);
	return -1;
}

int cluster_opts_parse_members(struct cluster_fwd_opts *o, const char *what, const char *arg)
{
	const char *p = arg;

	if (!*p) {
		fprintf(stderr, "xdpwgd: %s: empty (ID=ADDR, e.g. 2=198.18.0.2)\n", what);
		return -1;
	}
	while (*p) {
		size_t len = strcspn(p, ",");

		if (!len) {
			fprintf(stderr, "xdpwgd: %s '%s': an empty item\n", what, arg);
			return -1;
		}
		if (cluster_opts_member(o, what, p, len) < 0)
			return -1;
		p += len;
		if (*p == ',' && !*++p) {
			fprintf(stderr, "xdpwgd: %s '%s': a trailing comma\n", what, arg);
			return -1;
		}
	}
	return 0;
}

int cluster_opts_parse_id(struct cluster_fwd_opts *o, const char *what, const char *arg)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(arg, &end, 10);
	if (errno || end == arg || *end || arg[0] < '0' || arg[0] > '9' || v < 1 ||
	    v > XDPWG_GW_ID_MAX) {
		fprintf(stderr, "xdpwgd: %s '%s': not a gateway id (1..%d)\n", what, arg,
			XDPWG_GW_ID_MAX);
		return -1;
	}
	o->gateway_id = (unsigned int)v;
	return 0;
}

int cluster_opts_finish(struct cluster_fwd_opts *o)
{
	const char *env;

	/* the command line wins over the environment */
	env = getenv("XDPWG_GATEWAY_ID");
	if (env && *env && !o->gateway_id && cluster_opts_parse_id(o, "XDPWG_GATEWAY_ID", env) < 0)
		return -1;
	env = getenv("XDPWG_CLUSTER_GATEWAYS");
	if (env && *env && !o->n_members &&
	    cluster_opts_parse_members(o, "XDPWG_CLUSTER_GATEWAYS", env) < 0)
		return -1;
	if (o->n_members && !o->gateway_id) {
		fprintf(stderr, "xdpwgd: --cluster-gateway needs --gateway-id (this gateway's own "
				"id)\n");
		return -1;
	}
	return 0;
}

/* --- the daemon's side --- */

struct cluster_first_addr {
	int family;
	struct sockaddr_storage *out;
	bool found;
};

static int cluster_first_addr(void *ctx, int family, int ifindex, const union nl_addr *addr)
{
	struct cluster_first_addr *f = ctx;

	(void)ifindex;
	if (f->found || family != f->family)
		return 0;
	/* a link-local IPv6 address names no interface to another host */
	if (family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&addr->v6))
		return 0;
	memset(f->out, 0, sizeof(*f->out));
	f->out->ss_family = (sa_family_t)family;
	if (family == AF_INET)
		((struct sockaddr_in *)f->out)->sin_addr = addr->v4;
	else
		((struct sockaddr_in6 *)f->out)->sin6_addr = addr->v6;
	f->found = true;
	return 0;
}

static int cluster_self_underlay(struct xdpwgd *d, const struct cluster_fwd_opts *o,
				 struct sockaddr_storage *out, const char **how)
{
	int family = o->n_members ? o->members[0].underlay.ss_family : AF_INET;
	struct cluster_first_addr f = { .family = family, .out = out };
	const char *env = getenv("XDPWG_UNDERLAY");
	struct nl_route rt;

	for (unsigned int i = 0; i < o->n_members; i++) {
		if (o->members[i].id == o->gateway_id) {
			*out = o->members[i].underlay;
			*how = "listed";
			return 0;
		}
	}
	/* the address the cluster's membership registers (daemon/cluster.c), when given */
	if (env && *env) {
		memset(out, 0, sizeof(*out));
		if (inet_pton(AF_INET, env, &((struct sockaddr_in *)out)->sin_addr) == 1) {
			out->ss_family = AF_INET;
		} else if (inet_pton(AF_INET6, env, &((struct sockaddr_in6 *)out)->sin6_addr) ==
			   1) {
			out->ss_family = AF_INET6;
		}
		if (out->ss_family) {
			*how = "XDPWG_UNDERLAY";
			return 0;
		}
	}
	for (unsigned int i = 0; i < o->n_members; i++) {
		if (nl_route_get((const struct sockaddr *)&o->members[i].underlay, 0, &rt) == 0 &&
		    rt.has_prefsrc) {
			memset(out, 0, sizeof(*out));
			out->ss_family = (sa_family_t)family;
			if (family == AF_INET)
				((struct sockaddr_in *)out)->sin_addr = rt.prefsrc.v4;
			else
				((struct sockaddr_in6 *)out)->sin6_addr = rt.prefsrc.v6;
			*how = "the source towards the first member";
			return 0;
		}
	}
	if (d->xdp && io_xdp_iface(d->xdp, 0) &&
	    nl_dump_addrs(io_xdp_iface(d->xdp, 0), cluster_first_addr, &f) == 0 && f.found) {
		*how = "the first uplink's address";
		return 0;
	}
	return -EADDRNOTAVAIL;
}

int daemon_cluster_start(struct xdpwgd *d, const struct cluster_fwd_opts *o)
{
	struct sockaddr_storage self;
	char a[INET6_ADDRSTRLEN], ifname[IF_NAMESIZE];
	const char *how = "";
	int ret;

	if (!o || !o->gateway_id)
		return 0;
	/* before any peer: no receiver index may be out with another owner */
	ret = wg_device_set_gateway_id(d->dev, o->gateway_id);
	if (ret < 0) {
		log_err("%s: gateway id %u: %s", d->ifname, o->gateway_id, strerror(-ret));
		return ret;
	}
	ret = cluster_self_underlay(d, o, &self, &how);
	if (ret < 0) {
		log_err("%s: gateway %u: cannot tell our underlay address: list it "
			"(--cluster-gateway %u=ADDR)",
			d->ifname, o->gateway_id, o->gateway_id);
		return ret;
	}
	ret = cluster_fwd_new(d->xdp ? io_xdp_loader(d->xdp) : NULL, o->gateway_id, &self,
			      &d->cfwd);
	if (ret < 0)
		return ret;
	inet_ntop(self.ss_family,
		  self.ss_family == AF_INET
			  ? (const void *)&((struct sockaddr_in *)&self)->sin_addr
			  : (const void *)&((struct sockaddr_in6 *)&self)->sin6_addr,
		  a, sizeof(a));
	log_info("%s: gateway %u of a cluster, underlay %s (%s)", d->ifname, o->gateway_id, a, how);
	/* The socket path forwards in userspace: all of it without XDP, and with XDP what still
	 * reaches the socket (a fragmented datagram the kernel reassembled, an uplink without
	 * the program). Unwrapping is XDP's. */
	d->cluster_sock = cluster_sock_new(d->cfwd);
	if (!d->cluster_sock)
		return -errno;
	io_sockpath_set_forward(d->sockpath, cluster_sock_forward, d->cluster_sock);
	if (!d->xdp) {
		log_warn("%s: without --attach this gateway forwards other members' packets from "
			 "its socket, but cannot unwrap what they forward to it",
			 d->ifname);
	}
	/* bpf_fib_lookup answers only on interfaces that forward */
	for (unsigned int i = 0; d->xdp && io_xdp_iface(d->xdp, i); i++) {
		if (!if_indextoname((unsigned int)io_xdp_iface(d->xdp, i), ifname))
			continue;
		ret = cluster_fwd_enable_forwarding(ifname, self.ss_family);
		if (ret == 0 && self.ss_family == AF_INET6)
			ret = cluster_fwd_enable_forwarding(ifname, AF_INET);
		if (ret < 0)
			return ret;
	}
	for (unsigned int i = 0; i < o->n_members; i++) {
		if (o->members[i].id == o->gateway_id)
			continue;
		ret = cluster_fwd_gateway_set(d->cfwd, o->members[i].id, &o->members[i].underlay);
		if (ret < 0)
			return ret;
	}
	return 0;
}

void daemon_cluster_routes_changed(struct xdpwgd *d)
{
	cluster_fwd_routes_changed(d->cfwd);
}

void daemon_cluster_stop(struct xdpwgd *d)
{
	if (d->cluster_sock) {
		io_sockpath_set_forward(d->sockpath, NULL, NULL);
		cluster_sock_free(d->cluster_sock);
		d->cluster_sock = NULL;
	}
	cluster_fwd_free(d->cfwd);
	d->cfwd = NULL;
}
