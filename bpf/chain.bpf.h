/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Several tunnels on one uplink. A kernel has one XDP program per interface unless libxdp's
 * dispatcher (freplace) works, and this host's kernel refuses it; so the uplink runs a small
 * entry program (bpf/xdpwg_mux.bpf.c) that tail-calls the tunnels' xdpwg_rx programs in slot
 * order, and each of them hands a frame that is not its own to the slots after its own. The
 * same two maps are in both objects and shared by every daemon of the network namespace: io/uplink.c
 * finds them through the attached entry program, creates them when there is none, and is
 * their only writer. With libxdp's dispatcher the entry program is one of the dispatcher's
 * programs, and a frame no tunnel claims passes on to the next program (xdp-filter, ...).
 */
#ifndef XDPWG_CHAIN_BPF_H
#define XDPWG_CHAIN_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "xdpwg_kern_user.h"

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, XDPWG_CHAIN_MAX);
	__type(key, __u32);
	__type(value, __u32);
} chain SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDPWG_CHAIN_ROWS);
	__type(key, __u32); /* ifindex */
	__type(value, struct xdpwg_uplink);
} rows SEC(".maps");

/* Run the tunnels in slots first.. of the row starting at base. A tail call that finds its slot
 * empty falls through to the next; one that finds a program does not return. */
static __always_inline void chain_from(struct xdp_md *ctx, __u32 base, __u32 first)
{
	__u32 i;

	for (i = 0; i < XDPWG_CHAIN_SLOTS; i++) {
		if (i < first)
			continue;
		bpf_tail_call(ctx, &chain, base + i);
	}
}

#endif
