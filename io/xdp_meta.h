/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where the XDP program puts struct xdpwg_meta for the AF_XDP worker. Normally in the
 * metadata area in front of the frame (bpf_xdp_adjust_meta). Some kernels' verifiers refuse
 * that helper to XDP programs ("program of this type cannot use helper
 * bpf_xdp_adjust_meta"); there the program writes the same 24 bytes inside the frame, in
 * front of the Ethernet header (bpf_xdp_adjust_head), takes them away again before a frame
 * goes up the stack, and the worker steps over them (xsk_port_opts.meta_inline).
 */
#ifndef XDPWG_XDP_META_H
#define XDPWG_XDP_META_H

#include <stdbool.h>

/* true: the metadata goes inline. Decided once per process: XDPWG_XDP_META=inline or =area in
 * the environment decides (tests run the inline layout on kernels that allow both); otherwise
 * a three-instruction XDP program that calls bpf_xdp_adjust_meta is offered to the verifier,
 * and inline is the answer when it is refused. */
bool xdp_meta_inline(void);

#endif
