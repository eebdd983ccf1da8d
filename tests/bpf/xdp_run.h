/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One frame through the loaded XDP program with BPF_PROG_TEST_RUN, as every BPF test and the
 * XDP fuzzer run it: the frame in, the frame out (with the metadata, when the program added
 * some, in front of it: ctx_out.data is its length), the verdict.
 */
#ifndef XDPWG_TEST_XDP_RUN_H
#define XDPWG_TEST_XDP_RUN_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "xdpwg_kern_user.h"

struct xdp_run {
	uint32_t retval;   /* the XDP verdict */
	uint32_t out_len;  /* bytes in out: metadata, then the frame */
	struct xdp_md ctx; /* ctx.data: the metadata's length (0: none) */
};

/* The program under test writes its metadata inline (loader_meta_inline) and keeps it on
 * frames it passes (loader_opts.keep_inline_meta): the test sets this after loading. */
static bool xdp_run_meta_inline;

/* How many of out's first bytes are metadata: ctx_data, the metadata area's length, or with
 * the metadata inline, struct xdpwg_meta when the frame begins with one (its magic, its
 * reserved field zero and its payload inside what follows). */
static inline uint32_t xdp_run_meta_len(const void *out, uint32_t out_len, uint32_t ctx_data,
					uint32_t retval)
{
	struct xdpwg_meta m;

	if (!xdp_run_meta_inline || ctx_data || (retval != XDP_PASS && retval != XDP_REDIRECT) ||
	    out_len < sizeof(m))
		return ctx_data;
	memcpy(&m, out, sizeof(m));
	if (m.magic != XDPWG_META_MAGIC || m.reserved ||
	    (uint32_t)m.payload_off + m.payload_len > out_len - sizeof(m))
		return 0;
	return sizeof(m);
}

/* 0, or -errno when the kernel refused the run. */
static inline int xdp_run_on(int prog_fd, uint32_t ifindex, const void *in, size_t len, void *out,
			     size_t cap, struct xdp_run *r)
{
	struct xdp_md ctx_in = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o);

	memset(r, 0, sizeof(*r));
	ctx_in.data_end = (uint32_t)len;
	ctx_in.ingress_ifindex = ifindex;
	o.data_in = in;
	o.data_size_in = (uint32_t)len;
	o.data_out = out;
	o.data_size_out = (uint32_t)cap;
	o.ctx_in = &ctx_in;
	o.ctx_size_in = sizeof(ctx_in);
	o.ctx_out = &r->ctx;
	o.ctx_size_out = sizeof(r->ctx);
	o.repeat = 1;
	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -errno;
	r->retval = o.retval;
	r->out_len = o.data_size_out;
	r->ctx.data = xdp_run_meta_len(out, r->out_len, r->ctx.data, r->retval);
	return 0;
}

static inline int xdp_run(int prog_fd, const void *in, size_t len, void *out, size_t cap,
			  struct xdp_run *r)
{
	return xdp_run_on(prog_fd, 0, in, len, out, cap, r);
}

#endif
