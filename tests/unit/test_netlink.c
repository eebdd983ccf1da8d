// SPDX-License-Identifier: GPL-2.0
/*
 * rtnetlink queries and the change monitor, inside a private network namespace so the host's
 * tables are neither read nor touched.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "netlink.h"
#include "tap.h"

static int sh(const char *cmd)
{
	return system(cmd);
}

static int wait_change(struct nl_monitor *m, int want)
{
	int seen = 0;

	/* bounded: 20 x 100 ms */
	for (int i = 0; i < 20 && !(seen & want); i++) {
		struct pollfd pfd = { .fd = nl_monitor_fd(m), .events = POLLIN };

		if (poll(&pfd, 1, 100) > 0) {
			int bits = nl_monitor_read(m);

			if (bits > 0)
				seen |= bits;
		}
	}
	return seen;
}

struct addrs_seen {
	int n, v4, v6, on_idx;
	int idx;
};

static int on_addr(void *ctx, int family, int ifindex, const union nl_addr *addr)
{
	struct addrs_seen *a = ctx;
	struct in6_addr want6;

	inet_pton(AF_INET6, "2001:db8:1::1", &want6);
	a->n++;
	if (family == AF_INET && addr->v4.s_addr == inet_addr("198.51.100.1"))
		a->v4++;
	if (family == AF_INET6 && !memcmp(&addr->v6, &want6, 16))
		a->v6++;
	a->on_idx += ifindex == a->idx;
	return 0;
}

static int stop_at_first(void *ctx, int family, int ifindex, const union nl_addr *addr)
{
	(void)family;
	(void)ifindex;
	(void)addr;
	++*(int *)ctx;
	return -E2BIG;
}

/* nl_dump_addrs: what the XDP program's local_addrs is filled from */
static void test_dump_addrs(int idx)
{
	struct addrs_seen a = { .idx = idx };
	int calls = 0;

	ok(sh("ip -6 addr add 2001:db8:1::1/64 dev xwgt0 nodad") == 0, "IPv6 address added");
	is_int(nl_dump_addrs(idx, on_addr, &a), 0, "dump of the veth's addresses");
	ok(a.v4 == 1 && a.v6 == 1 && a.on_idx == a.n, "both families, only that interface (%d)",
	   a.n);
	memset(&a, 0, sizeof(a));
	a.idx = (int)if_nametoindex("lo");
	is_int(nl_dump_addrs(0, on_addr, &a), 0, "dump of every interface");
	ok(a.v4 == 1 && a.v6 == 1 && a.on_idx >= 1, "the veth's and lo's addresses (%d)", a.n);
	is_int(nl_dump_addrs(0, stop_at_first, &calls), -E2BIG, "a callback error is returned");
	is_int(calls, 1, "and stops the callbacks");
}

int main(void)
{
	struct sockaddr_in dst = { .sin_family = AF_INET };
	struct nl_route rt;
	struct nl_monitor *m;
	union nl_addr gw;
	uint8_t mac[6];
	int idx;

	if (geteuid() != 0 || unshare(CLONE_NEWNET) != 0) {
		printf("1..0 # SKIP needs root for a private network namespace\n");
		return 0;
	}
	ok(sh("ip link set lo up") == 0, "lo up in the private namespace");

	inet_pton(AF_INET, "127.0.0.1", &dst.sin_addr);
	ok(nl_route_get((struct sockaddr *)&dst, 0, &rt) == 0, "route to 127.0.0.1 found");
	is_int(rt.oif, if_nametoindex("lo"), "routed through lo");

	inet_pton(AF_INET, "198.51.100.7", &dst.sin_addr);
	ok(nl_route_get((struct sockaddr *)&dst, 0, &rt) < 0, "no route to 198.51.100.7 yet");

	m = nl_monitor_open(true);
	ok(m != NULL, "monitor opened");
	ok(sh("ip link add xwgt0 type veth peer name xwgt1 && ip link set xwgt1 up && ip link set "
	      "xwgt0 up && "
	      "ip addr add 198.51.100.1/24 dev xwgt0") == 0,
	   "veth link with 198.51.100.1/24");
	ok(wait_change(m, NL_CHANGE_LINK | NL_CHANGE_ADDR) & NL_CHANGE_ADDR,
	   "monitor saw the address change");

	idx = (int)if_nametoindex("xwgt0");
	ok(nl_route_get((struct sockaddr *)&dst, 0, &rt) == 0, "route to 198.51.100.7 now");
	is_int(rt.oif, idx, "through the veth link");
	ok(rt.has_prefsrc && rt.prefsrc.v4.s_addr == inet_addr("198.51.100.1"),
	   "preferred source is 198.51.100.1");
	ok(!rt.has_gateway, "on-link: no gateway");

	ok(sh("ip route add 203.0.113.0/24 via 198.51.100.254") == 0, "route via a gateway");
	ok(wait_change(m, NL_CHANGE_ROUTE) & NL_CHANGE_ROUTE, "monitor saw the route change");
	inet_pton(AF_INET, "203.0.113.9", &dst.sin_addr);
	ok(nl_route_get((struct sockaddr *)&dst, 0, &rt) == 0 && rt.has_gateway &&
		   rt.gateway.v4.s_addr == inet_addr("198.51.100.254"),
	   "gateway 198.51.100.254 reported");

	/* a second uplink and a source rule, as on a multi-homed gateway: what leaves from its
	 * address takes it, whatever the main table says (roam_multihome.t's set-up) */
	ok(sh("ip link add xwgt2 type veth peer name xwgt3 && ip link set xwgt3 up && ip link set "
	      "xwgt2 up && ip addr add 198.18.1.1/24 dev xwgt2 && "
	      "ip route add default via 198.18.1.2 dev xwgt2 table 101 && "
	      "ip rule add from 198.18.1.1 lookup 101 pref 100") == 0,
	   "second uplink with a source rule");
	{
		union nl_addr from, other;

		inet_pton(AF_INET, "198.18.1.1", &from.v4);
		inet_pton(AF_INET, "198.51.100.1", &other.v4);
		ok(nl_route_get_from((struct sockaddr *)&dst, &from, 0, &rt) == 0 &&
			   rt.oif == (int)if_nametoindex("xwgt2"),
		   "from 198.18.1.1: out of the second uplink (source rule)");
		ok(nl_route_get_from((struct sockaddr *)&dst, &other, 0, &rt) == 0 && rt.oif == idx,
		   "from 198.51.100.1: the main table's uplink");
		ok(nl_route_get_from((struct sockaddr *)&dst, NULL, 0, &rt) == 0 && rt.oif == idx,
		   "from any: the main table's uplink");
	}
	ok(sh("ip rule del from 198.18.1.1 lookup 101 pref 100 && ip link del xwgt2") == 0,
	   "second uplink removed");

	inet_pton(AF_INET, "198.51.100.254", &gw.v4);
	ok(nl_neigh_get(idx, AF_INET, &gw, mac) == -ENOENT, "no neighbour entry yet");
	ok(sh("ip neigh add 198.51.100.254 lladdr 02:00:00:00:00:fe dev xwgt0") == 0,
	   "static neighbour added");
	ok(nl_neigh_get(idx, AF_INET, &gw, mac) == 0 && mac[0] == 0x02 && mac[5] == 0xfe,
	   "neighbour MAC read back");
	ok(sh("ip link set xwgt0 address 02:00:00:00:00:01") == 0 && nl_link_mac(idx, mac) == 0 &&
		   mac[5] == 0x01,
	   "link MAC read back");

	test_dump_addrs(idx);

	nl_monitor_close(m);
	return done_testing();
}
