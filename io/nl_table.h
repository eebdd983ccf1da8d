/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Routes of our own in a kernel routing table of our own, through rtnetlink (libmnl): a gateway
 * of a cluster keeps there the tunnel addresses of the peers whose session it holds, and the
 * routing daemon beside it (BIRD's `protocol kernel` with `learn`) announces them. Every route
 * carries one protocol number, so a flush takes away what an earlier run left and nothing else.
 */
#ifndef XDPWG_NL_TABLE_H
#define XDPWG_NL_TABLE_H

#include <stdint.h>

struct nl_table;

/* A handle on kernel table `table` (1..2^32-1 but for 253..255, the kernel's own) for routes
 * of protocol `proto`; one netlink socket, kept. NULL with errno. */
struct nl_table *nl_table_open(uint32_t table, uint8_t proto);
void nl_table_close(struct nl_table *t);
/* A route to addr/cidr (family AF_INET, 4 bytes, or AF_INET6, 16) on interface oif, created or
 * replaced. 0 or -errno (-ENETDOWN while oif is down). */
int nl_table_replace(struct nl_table *t, int family, const void *addr, uint8_t cidr, int oif);
/* Delete it; 0 as well when it is not there. 0 or -errno. */
int nl_table_delete(struct nl_table *t, int family, const void *addr, uint8_t cidr);
/* Delete every route of our protocol in the table (what an earlier run left): how many, or
 * -errno. */
int nl_table_flush(struct nl_table *t);

#endif
