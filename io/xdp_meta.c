// SPDX-License-Identifier: GPL-2.0
/*
 * The metadata's place (xdp_meta.h): asked of the kernel once, by loading the smallest program
 * that needs the helper. A feature list (libbpf_probe_bpf_helper, bpftool feature probe) is not
 * enough: it has been seen to report bpf_xdp_adjust_meta for XDP on a kernel whose verifier
 * then refused it to every XDP program.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

#include "log.h"
#include "xdp_meta.h"

static pthread_once_t xdp_meta_once = PTHREAD_ONCE_INIT;
static bool xdp_meta_is_inline;

/* r2 = -8; call bpf_xdp_adjust_meta (r1 is the context on entry); r0 = XDP_PASS; exit */
static int xdp_meta_probe(void)
{
	const struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_2, .imm = -8 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_xdp_adjust_meta },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int fd;

	fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "xdpwg_meta_probe", "GPL", insns,
			   sizeof(insns) / sizeof(insns[0]), NULL);
	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

static void xdp_meta_decide(void)
{
	const char *env = getenv("XDPWG_XDP_META");
	int err;

	if (env && !strcmp(env, "inline")) {
		xdp_meta_is_inline = true;
		log_info("xdp: metadata inline, in front of the frame (XDPWG_XDP_META=inline)");
		return;
	}
	if (env && !strcmp(env, "area"))
		return;
	err = xdp_meta_probe();
	if (err == -EINVAL || err == -EACCES) {
		xdp_meta_is_inline = true;
		log_info("xdp: this kernel refuses bpf_xdp_adjust_meta to XDP programs: the "
			 "metadata goes inline, in front of the frame");
	}
	/* any other failure (no BPF at all, no permission) is the real load's to report */
}

bool xdp_meta_inline(void)
{
	pthread_once(&xdp_meta_once, xdp_meta_decide);
	return xdp_meta_is_inline;
}
