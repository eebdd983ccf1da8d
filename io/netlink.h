/* SPDX-License-Identifier: GPL-2.0 */
/*
 * rtnetlink through libmnl: the kernel's routing and neighbour tables answer "which device, which
 * source address and which next hop reach this endpoint" (AF_XDP transmit builds its own Ethernet
 * header, so it needs the next hop's MAC), and a monitor reports link, address and route changes so
 * that a roaming client can announce itself the moment its path changes.
 */
#ifndef XDPWG_NETLINK_H
#define XDPWG_NETLINK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

enum nl_change {
	NL_CHANGE_LINK = 1U << 0,
	NL_CHANGE_ADDR = 1U << 1,
	NL_CHANGE_ROUTE = 1U << 2,
	NL_CHANGE_NEIGH = 1U << 3,
};

union nl_addr {
	struct in_addr v4;
	struct in6_addr v6;
	uint8_t bytes[16];
};

struct nl_route {
	int family;	       /* AF_INET or AF_INET6 */
	int oif;	       /* output interface index */
	union nl_addr prefsrc; /* the source address the kernel would choose */
	bool has_prefsrc;
	union nl_addr gateway; /* next hop; when !has_gateway the destination is on-link */
	bool has_gateway;
};

/* Ask the kernel how it would route to dst (RTM_GETROUTE). 0 or -errno (-ENETUNREACH). */
int nl_route_get(const struct sockaddr *dst, uint32_t fwmark, struct nl_route *out);
/* The same for a datagram leaving from our address src (NULL: any), so that source routing
 * ("from B lookup 101" on a multi-homed host) takes part, as it does for the socket's sends. */
int nl_route_get_from(const struct sockaddr *dst, const union nl_addr *src, uint32_t fwmark,
		      struct nl_route *out);
/* The neighbour table's MAC for addr on ifindex, if it is reachable, stale or permanent.
 * 0, -ENOENT when there is no usable entry, or -errno. */
int nl_neigh_get(int ifindex, int family, const union nl_addr *addr, uint8_t mac[6]);
/* Keep addr's neighbour entry on ifindex resolved (on) or forget it (off): a managed entry
 * (NTF_EXT_MANAGED, Linux 5.16), which the kernel resolves at once and re-probes by itself, so
 * an XDP program's bpf_fib_lookup towards addr finds a MAC without any traffic having gone
 * there first. -EEXIST (and nothing changed) when a static entry (permanent, noarp) is there:
 * resolved for good, and the operator's. 0 or -errno. */
int nl_neigh_keep(int ifindex, int family, const union nl_addr *addr, bool on);
/* The MAC address of an interface. 0 or -errno. */
int nl_link_mac(int ifindex, uint8_t mac[6]);

/* One address: family AF_INET or AF_INET6, the interface it is on. A negative return stops
 * the rest of the dump from reaching the callback and becomes nl_dump_addrs's result. */
typedef int (*nl_addr_cb)(void *ctx, int family, int ifindex, const union nl_addr *addr);
/* Every IPv4 and IPv6 address on ifindex (0: on every interface), RTM_GETADDR dump. Our end of
 * a point-to-point link, not the peer's. 0 or -errno (or the callback's error). */
int nl_dump_addrs(int ifindex, nl_addr_cb cb, void *ctx);

/* One default route of the main table: its interface and metric. */
typedef void (*nl_default_cb)(void *ctx, int oif, uint32_t metric);
/* Every default route of family in the main table (RTM_GETROUTE dump). 0 or -errno. */
int nl_default_routes(int family, nl_default_cb cb, void *ctx);

struct nl_monitor;
/* Subscribe to link, IPv4/IPv6 address and route changes (and neighbours when want_neigh). */
struct nl_monitor *nl_monitor_open(bool want_neigh);
void nl_monitor_close(struct nl_monitor *m);
int nl_monitor_fd(const struct nl_monitor *m);
/* Drain pending notifications without blocking; returns the enum nl_change bits seen (0 if none),
 * or -errno. An overrun (ENOBUFS) reports every bit: something changed, state unknown. */
int nl_monitor_read(struct nl_monitor *m);

#endif
