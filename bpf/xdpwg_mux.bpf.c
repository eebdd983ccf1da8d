// SPDX-License-Identifier: GPL-2.0
/*
 * The uplink's entry program when several tunnels share it (see chain.bpf.h): it looks up the
 * uplink's row and runs the tunnels' programs in slot order. Nothing else: whatever no tunnel
 * claims passes, so the uplink's other traffic is untouched, and under libxdp's dispatcher
 * XDP_PASS lets the next program see the frame.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "xdpwg_kern_user.h"

#include "chain.bpf.h"

SEC("xdp")
int xdpwg_mux(struct xdp_md *ctx)
{
	__u32 ifindex = ctx->ingress_ifindex;
	struct xdpwg_uplink *up = bpf_map_lookup_elem(&rows, &ifindex);

	if (up && up->row < XDPWG_CHAIN_ROWS)
		chain_from(ctx, up->row * XDPWG_CHAIN_SLOTS, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
