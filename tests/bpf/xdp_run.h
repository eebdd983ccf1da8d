/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One frame through the loaded XDP program with BPF_PROG_TEST_RUN, as every BPF test and the
 * XDP fuzzer run it: the frame in, the frame out (with the metadata, when the program added
 * some, in front of it: ctx_out.data is its length), the verdict.
 */
#ifndef XDPWG_TEST_XDP_RUN_H
#define XDPWG_TEST_XDP_RUN_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

struct xdp_run {
	uint32_t retval;   /* the XDP verdict */
	uint32_t out_len;  /* bytes in out: metadata, then the frame */
	struct xdp_md ctx; /* ctx.data: the metadata's length (0: none) */
};

/* 0, or -errno when the kernel refused the run. */
static inline int xdp_run(int prog_fd, const void *in, size_t len, void *out, size_t cap,
			  struct xdp_run *r)
{
	struct xdp_md ctx_in = { 0 };
	LIBBPF_OPTS(bpf_test_run_opts, o);

	memset(r, 0, sizeof(*r));
	ctx_in.data_end = (uint32_t)len;
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
	return 0;
}

#endif
