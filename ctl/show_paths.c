// SPDX-License-Identifier: GPL-2.0
/*
 * xdpwgctl show: the paths of a multipath or redundant peer (docs/roaming.md, "Silent path
 * failures"), as text and as JSON. Only what a stock daemon never reports, so `show` against
 * wireguard-go prints nothing more.
 */
#include <inttypes.h>
#include <stdio.h>

#include "ctl.h"

static void show_path_age(char *buf, size_t len, uint64_t ms)
{
	if (ms == UINT64_MAX)
		snprintf(buf, len, "never heard");
	else if (ms < 10000)
		snprintf(buf, len, "heard %.1f s ago", (double)ms / 1000);
	else
		snprintf(buf, len, "heard %" PRIu64 " s ago", ms / 1000);
}

void show_paths_text(const struct conf_peer *p)
{
	char ep[ENDPOINT_STRLEN], age[48];

	for (size_t i = 0; i < p->n_paths; i++) {
		const struct conf_path *c = &p->paths[i];

		show_path_age(age, sizeof(age), c->age_ms);
		printf("  %s %s%s%s: %s", i ? "      " : "paths:",
		       c->uplink[0] ? c->uplink : endpoint_format(&c->endpoint, ep),
		       c->flags & CONF_PATH_ACTIVE ? " (active)" : "",
		       c->flags & CONF_PATH_DEAD      ? " (dead)"
		       : c->flags & CONF_PATH_UNKNOWN ? " (not answered yet)"
						      : "",
		       age);
		if (c->uplink[0])
			printf(", rtt %.1f ms, %u of the last 8 probes lost",
			       (double)c->rtt_us / 1000, c->loss);
		printf("\n");
	}
	if (p->path_moves)
		printf("  path moves: %" PRIu64 "\n", p->path_moves);
	if (p->copy_bytes && p->tx_bytes)
		printf("  redundancy: %.2f bytes on the wire per byte sent (%" PRIu64
		       " duplicate copies received)\n",
		       (double)(p->tx_bytes + p->copy_bytes) / (double)p->tx_bytes, p->dup_packets);
}

void show_paths_json(const struct conf_peer *p)
{
	char ep[ENDPOINT_STRLEN];

	printf(",\"paths\":[");
	for (size_t i = 0; i < p->n_paths; i++) {
		const struct conf_path *c = &p->paths[i];

		printf("%s{\"endpoint\":\"%s\",", i ? "," : "", endpoint_format(&c->endpoint, ep));
		if (c->uplink[0])
			show_json_str("uplink", c->uplink, false);
		else
			printf("\"uplink\":null");
		printf(",\"active\":%s,\"state\":\"%s\",\"age_ms\":",
		       c->flags & CONF_PATH_ACTIVE ? "true" : "false",
		       c->flags & CONF_PATH_DEAD      ? "dead"
		       : c->flags & CONF_PATH_UNKNOWN ? "new"
						      : "live");
		if (c->age_ms == UINT64_MAX)
			printf("null");
		else
			printf("%" PRIu64, c->age_ms);
		printf(",\"rtt_us\":%u,\"loss8\":%u}", c->rtt_us, c->loss);
	}
	printf("],\"path_moves\":%" PRIu64 ",\"copy_bytes\":%" PRIu64 ",\"dup_packets\":%" PRIu64
	       ",\"wire_ratio\":%.3f",
	       p->path_moves, p->copy_bytes, p->dup_packets,
	       p->tx_bytes ? (double)(p->tx_bytes + p->copy_bytes) / (double)p->tx_bytes : 1.0);
}
