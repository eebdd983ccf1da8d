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

	inet_pton(AF_INET, "198.51.100.254", &gw.v4);
	ok(nl_neigh_get(idx, AF_INET, &gw, mac) == -ENOENT, "no neighbour entry yet");
	ok(sh("ip neigh add 198.51.100.254 lladdr 02:00:00:00:00:fe dev xwgt0") == 0,
	   "static neighbour added");
	ok(nl_neigh_get(idx, AF_INET, &gw, mac) == 0 && mac[0] == 0x02 && mac[5] == 0xfe,
	   "neighbour MAC read back");
	ok(sh("ip link set xwgt0 address 02:00:00:00:00:01") == 0 && nl_link_mac(idx, mac) == 0 &&
		   mac[5] == 0x01,
	   "link MAC read back");

	nl_monitor_close(m);
	return done_testing();
}
