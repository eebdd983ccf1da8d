/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The XDP program's idea of "ours" (local_addrs, XDPWG_CFG_F_LOCAL_ADDRS): every IPv4 and IPv6
 * address of this network namespace, from rtnetlink, refreshed when the daemon's monitor sees
 * an address change. With it, UDP to the listen port for a host behind the gateway is transit
 * and passes untouched, instead of being judged (and dropped) as WireGuard for us.
 */
#ifndef XDPWG_LOCAL_ADDRS_H
#define XDPWG_LOCAL_ADDRS_H

#include "loader.h"

/* Dump the addresses and replace the set (loader_set_local_addrs). More than
 * XDPWG_LOCAL_ADDRS_MAX addresses, or none, or a failed dump: the match is turned off (every
 * destination counts as ours, the behaviour before #15) rather than call our own traffic
 * transit. 0 or -errno. */
int local_addrs_refresh(struct xdpwg_loader *ld);

#endif
