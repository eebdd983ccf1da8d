// SPDX-License-Identifier: GPL-2.0
/*
 * Filling local_addrs from rtnetlink. See local_addrs.h.
 *
 * Every interface's addresses, not only the uplinks': the kernel delivers a datagram for any of
 * its addresses whichever interface it came in on (a service address on lo or a dummy, reached
 * through the uplink, is ours too).
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "local_addrs.h"
#include "log.h"
#include "netlink.h"

struct local_addrs_set {
	struct xdpwg_addr_key keys[XDPWG_LOCAL_ADDRS_MAX];
	size_t n;
};

static int local_addrs_add(void *ctx, int family, int ifindex, const union nl_addr *addr)
{
	struct local_addrs_set *set = ctx;
	struct xdpwg_addr_key *k;

	(void)ifindex;
	if (set->n >= XDPWG_LOCAL_ADDRS_MAX)
		return -E2BIG;
	k = &set->keys[set->n++];
	memset(k, 0, sizeof(*k));
	k->family = family == AF_INET ? XDPWG_FAMILY_INET : XDPWG_FAMILY_INET6;
	memcpy(k->addr, addr->bytes, family == AF_INET ? 4 : 16);
	return 0;
}

int local_addrs_refresh(struct xdpwg_loader *ld)
{
	static struct local_addrs_set set; /* control thread only */
	int ret;

	set.n = 0;
	ret = nl_dump_addrs(0, local_addrs_add, &set);
	if (ret < 0) {
		log_warn("local addresses: %s: every destination counts as ours",
			 ret == -E2BIG ? "more than the map holds" : strerror(-ret));
		set.n = 0;
	}
	ret = loader_set_local_addrs(ld, set.keys, set.n);
	if (ret < 0)
		log_err("local addresses: cannot set the XDP program's: %s", strerror(-ret));
	else
		log_debug("local addresses: %zu", set.n);
	return ret;
}
