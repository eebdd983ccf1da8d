// SPDX-License-Identifier: GPL-2.0
/*
 * The AF_XDP back-end's next-hop cache (user/nexthop.c): lookups, updates, and the eviction
 * bound: once a probe window is full the entry written longest ago makes room, so the newest
 * peer is always cached (before, a full window refused newcomers until the routes changed, and
 * their replies went through the kernel socket).
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "nexthop.h"
#include "tap.h"

static struct nexthop entry(uint32_t n, uint8_t mac_last)
{
	struct nexthop e;

	memset(&e, 0, sizeof(e));
	e.used = 1;
	e.family = AF_INET;
	e.ip.v4.s_addr = htonl(0xc6120000u + n); /* 198.18.0.0/15 */
	e.ifindex = 3;
	e.mac[0] = 0x02;
	e.mac[5] = mac_last;
	return e;
}

int main(void)
{
	static struct nexthop_cache c;
	struct nexthop e, got;
	unsigned int i, missing_newest = 0, found_old = 0;

	nexthop_cache_init(&c);
	e = entry(1, 1);
	ok(!nexthop_get(&c, AF_INET, &e.ip, &got), "empty cache: not found");
	nexthop_put(&c, &e);
	ok(nexthop_get(&c, AF_INET, &e.ip, &got) && got.mac[5] == 1 && got.ifindex == 3,
	   "put, then found");
	e.mac[5] = 9;
	nexthop_put(&c, &e);
	ok(nexthop_get(&c, AF_INET, &e.ip, &got) && got.mac[5] == 9, "updated in place");
	ok(!nexthop_get(&c, AF_INET6, &e.ip, &got), "same bytes, other family: not found");

	/* three times as many addresses as slots: the newest is always there */
	for (i = 0; i < 3 * NEXTHOP_SLOTS; i++) {
		e = entry(100 + i, (uint8_t)i);
		nexthop_put(&c, &e);
		if (!nexthop_get(&c, AF_INET, &e.ip, &got) || got.mac[5] != (uint8_t)i)
			missing_newest++;
	}
	ok(missing_newest == 0,
	   "every newly put entry is found (%u addresses, %u slots, %u missing)", 3 * NEXTHOP_SLOTS,
	   NEXTHOP_SLOTS, missing_newest);
	for (i = 0; i < 64; i++) {
		e = entry(100 + i, 0);
		found_old += nexthop_get(&c, AF_INET, &e.ip, &got);
	}
	ok(found_old < 64, "the oldest made room (%u of the first 64 left)", found_old);
	nexthop_cache_clear(&c);
	e = entry(100 + 3 * NEXTHOP_SLOTS - 1, 0);
	ok(!nexthop_get(&c, AF_INET, &e.ip, &got), "clear forgets everything");
	nexthop_cache_destroy(&c);
	return done_testing();
}
