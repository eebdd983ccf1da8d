// SPDX-License-Identifier: GPL-2.0
/*
 * Several tunnels on one uplink, the other half: what is attached to the uplink and how it gets
 * there. The entry program through libxdp (alone, or under libxdp's dispatcher where the kernel
 * can run it there), a stale program removed, a foreign one named, a tunnel's own program handed
 * to libxdp's dispatcher. uplink.c keeps the chain and its slots and calls these. See uplink.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <xdp/libxdp.h>

#include "loader.h"
#include "log.h"
#include "pins.h"
#include "uplink.h"
#include "uplink_attach.h"
#include "xdpwg_kern_user.h"
#include "xdpwg_mux.skel.h"

#define UPLINK_DISPATCHER_NAME "xdp_dispatcher" /* libxdp's */

/* What is attached to ifindex by itself, in native and in generic mode: id, mode, name. */
struct uplink_att {
	uint32_t id; /* 0: nothing in this mode */
	uint32_t mode;
	char name[BPF_OBJ_NAME_LEN];
};

static void uplink_attached(int ifindex, struct uplink_att att[2])
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	memset(att, 0, 2 * sizeof(*att));
	att[0].mode = XDP_FLAGS_DRV_MODE;
	att[1].mode = XDP_FLAGS_SKB_MODE;
	if (bpf_xdp_query(ifindex, 0, &q))
		return;
	att[0].id = q.drv_prog_id;
	att[1].id = q.skb_prog_id;
	for (int i = 0; i < 2; i++) {
		int fd;

		if (!att[i].id)
			continue;
		fd = pins_prog_name_by_id(att[i].id, att[i].name, sizeof(att[i].name));
		if (fd >= 0)
			close(fd);
		else
			snprintf(att[i].name, sizeof(att[i].name), "?");
	}
}

/* The one of att named name, or NULL. */
static const struct uplink_att *uplink_att_named(const struct uplink_att att[2], const char *name)
{
	for (int i = 0; i < 2; i++)
		if (att[i].id && strcmp(att[i].name, name) == 0)
			return &att[i];
	return NULL;
}

/* The program named name among libxdp's dispatcher's on mp, or NULL. */
static struct xdp_program *uplink_multiprog_find(const struct xdp_multiprog *mp, const char *name)
{
	struct xdp_program *p;

	for (p = xdp_multiprog__next_prog(NULL, mp); p; p = xdp_multiprog__next_prog(p, mp))
		if (strcmp(xdp_program__name(p), name) == 0)
			return p;
	return NULL;
}

/* The id of the entry program on ifindex: attached itself, or one of libxdp's dispatcher's
 * programs. 0: none. *legacy_mode: the XDP_FLAGS_* mode when attached itself, else 0. */
uint32_t uplink_mux_id(int ifindex, uint32_t *legacy_mode)
{
	const struct uplink_att *mux;
	struct uplink_att att[2];
	struct xdp_multiprog *mp;
	struct xdp_program *p;
	uint32_t found = 0;

	*legacy_mode = 0;
	uplink_attached(ifindex, att);
	mux = uplink_att_named(att, XDPWG_MUX_NAME);
	if (mux) {
		*legacy_mode = mux->mode;
		return mux->id;
	}
	if (!uplink_att_named(att, UPLINK_DISPATCHER_NAME))
		return 0;
	mp = xdp_multiprog__get_from_ifindex(ifindex);
	if (libxdp_get_error(mp))
		return 0;
	p = uplink_multiprog_find(mp, XDPWG_MUX_NAME);
	if (p)
		found = xdp_program__id(p);
	xdp_multiprog__close(mp);
	return found;
}

/* Detach what is attached to ifindex by itself and is ours: a stale xdpwg_rx from before
 * the chain, or (with except_mux false) the entry program. A foreign program stays, libxdp
 * decides whether it can share. */
void uplink_detach_legacy(int ifindex, bool except_mux)
{
	struct uplink_att att[2];

	uplink_attached(ifindex, att);
	for (int i = 0; i < 2; i++) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, a);

		if (!att[i].id || (strcmp(att[i].name, XDPWG_PROG_NAME) != 0 &&
				   (except_mux || strcmp(att[i].name, XDPWG_MUX_NAME) != 0)))
			continue;
		a.old_prog_fd = bpf_prog_get_fd_by_id(att[i].id);
		if (a.old_prog_fd < 0)
			continue;
		if (bpf_xdp_detach(ifindex, att[i].mode, &a) == 0)
			log_info("uplink: ifindex %d: removed %s (id %u)", ifindex, att[i].name,
				 att[i].id);
		close(a.old_prog_fd);
	}
}

/* libbpf's and libxdp's messages while libxdp attaches: where the kernel refuses its dispatcher
 * they explain the fallback at warning level, which is not ours to print (the caller says in
 * one line what came of it); debug log, a verifier log's lines folded onto one. */
static void uplink_log_libs(const char *fmt, va_list ap)
{
	char line[4096];

	vsnprintf(line, sizeof(line), fmt, ap);
	for (char *c = line; *c; c++)
		if (*c == '\n' && c[1])
			*c = '|';
	line[strcspn(line, "\n")] = 0;
	log_debug("%s", line);
}

static int uplink_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBBPF_DEBUG)
		uplink_log_libs(fmt, ap);
	return 0;
}

static int uplink_libxdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	if (level != LIBXDP_DEBUG)
		uplink_log_libs(fmt, ap);
	return 0;
}

/* The mode libxdp's attachment on ifindex runs in; with say, a line when prog runs under its
 * dispatcher, with how many others. */
bool uplink_libxdp_native(int ifindex, const char *prog, bool say)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	bool native;

	if (libxdp_get_error(mp))
		return false;
	native = xdp_multiprog__attach_mode(mp) == XDP_MODE_NATIVE;
	if (say && !xdp_multiprog__is_legacy(mp))
		log_info("uplink: ifindex %d: %s runs under libxdp's dispatcher beside %d other "
			 "program%s",
			 ifindex, prog, xdp_multiprog__program_count(mp) - 1,
			 xdp_multiprog__program_count(mp) == 2 ? "" : "s");
	xdp_multiprog__close(mp);
	return native;
}

/* Attach through libxdp: its dispatcher where the kernel has one, else alone. */
static int uplink_libxdp_attach(struct xdp_program *xp, int ifindex, enum loader_mode mode,
				bool retry_generic)
{
	libbpf_print_fn_t old_print;
	int err;

	libxdp_set_print(uplink_libxdp_print);
	old_print = libbpf_set_print(uplink_libbpf_print);
	err = xdp_program__attach(xp, ifindex,
				  mode == LOADER_MODE_GENERIC ? XDP_MODE_SKB : XDP_MODE_NATIVE, 0);
	if (err && mode == LOADER_MODE_AUTO && retry_generic) {
		log_warn("uplink: ifindex %d: native XDP failed (%s); trying generic mode", ifindex,
			 strerror(-err));
		err = xdp_program__attach(xp, ifindex, XDP_MODE_SKB, 0);
	}
	libbpf_set_print(old_print);
	return err;
}

int uplink_attach_mux(struct uplink *u, int ifindex, enum loader_mode mode)
{
	/* libxdp's options macro (designated initialisers): not one cppcheck knows */
	/* cppcheck-suppress unknownMacro */
	DECLARE_LIBXDP_OPTS(xdp_program_opts, xo, .prog_name = XDPWG_MUX_NAME);
	LIBBPF_OPTS(bpf_xdp_attach_opts, a);
	struct xdpwg_mux *skel;
	struct xdp_program *xp;
	int err, lerr;

	skel = xdpwg_mux__open();
	if (!skel)
		return -errno ? -errno : -EINVAL;
	err = uplink_reuse_maps(u, skel->obj);
	if (err)
		goto out;
	xo.obj = skel->obj;
	xp = xdp_program__create(&xo);
	err = libxdp_get_error(xp);
	if (err) {
		log_err("uplink: libxdp refused %s: %s", XDPWG_MUX_NAME, strerror(-err));
		goto out;
	}
	/* no generic retry here: the attach alone below retries in generic mode itself */
	err = uplink_libxdp_attach(xp, ifindex, mode, false);
	xdp_program__close(xp);
	if (!err || uplink_dispatcher_on(ifindex))
		goto out;
	lerr = err;
	/* A kernel with the dispatcher runs the entry program as an extension (freplace), and
	 * 6.1's will not let an extension tail-call the tunnels' XDP programs: the uplink is
	 * then the entry program's alone, attached the way libxdp would without a dispatcher. */
	xdpwg_mux__destroy(skel);
	skel = xdpwg_mux__open();
	if (!skel)
		return -errno ? -errno : -EINVAL;
	err = uplink_reuse_maps(u, skel->obj);
	if (!err)
		err = xdpwg_mux__load(skel);
	if (err)
		goto out;
	err = bpf_xdp_attach(
		ifindex, bpf_program__fd(skel->progs.xdpwg_mux),
		(mode == LOADER_MODE_GENERIC ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE) |
			XDP_FLAGS_UPDATE_IF_NOEXIST,
		&a);
	if (err && mode == LOADER_MODE_AUTO)
		err = bpf_xdp_attach(ifindex, bpf_program__fd(skel->progs.xdpwg_mux),
				     XDP_FLAGS_SKB_MODE | XDP_FLAGS_UPDATE_IF_NOEXIST, &a);
	if (!err)
		log_info("uplink: ifindex %d: libxdp could not attach %s (%s; under its "
			 "dispatcher, 6.1 lets no dispatcher program tail-call ours): attached it "
			 "alone; start programs that use the dispatcher (xdp-filter, ...) before "
			 "xdpwgd to share the uplink with them",
			 ifindex, XDPWG_MUX_NAME, strerror(-lerr));
out:
	xdpwg_mux__destroy(skel);
	return err;
}

/* Name the program that kept us off the uplink, if there is one. */
void uplink_say_foreign(int ifindex)
{
	struct uplink_att att[2];
	const struct uplink_att *a;

	uplink_attached(ifindex, att);
	a = att[0].id ? &att[0] : &att[1];
	if (!a->id)
		return;
	log_err("uplink: ifindex %d has another XDP program, '%s' (id %u), and libxdp cannot add "
		"ours beside it: this kernel has no XDP dispatcher, or that program was not loaded "
		"through libxdp. Unload it (xdp-loader unload, ip link set dev IFACE xdp off), or "
		"load both through libxdp on a kernel with the dispatcher",
		ifindex, a->name, a->id);
}

void uplink_detach_mux(int ifindex)
{
	struct xdp_multiprog *mp;
	struct xdp_program *p;
	uint32_t legacy_mode;
	int err;

	if (!uplink_mux_id(ifindex, &legacy_mode))
		return;
	if (legacy_mode) {
		uplink_detach_legacy(ifindex, false);
		return;
	}
	mp = xdp_multiprog__get_from_ifindex(ifindex);
	if (libxdp_get_error(mp))
		return;
	p = uplink_multiprog_find(mp, XDPWG_MUX_NAME);
	err = p ? xdp_program__detach(p, ifindex, xdp_multiprog__attach_mode(mp), 0) : 0;
	if (err)
		log_warn("uplink: ifindex %d: detaching %s from libxdp's dispatcher: %s", ifindex,
			 XDPWG_MUX_NAME, strerror(-err));
	xdp_multiprog__close(mp);
}

bool uplink_dispatcher_on(int ifindex)
{
	struct uplink_att att[2];

	uplink_attached(ifindex, att);
	return uplink_att_named(att, UPLINK_DISPATCHER_NAME) != NULL;
}

int uplink_dispatcher_attach(struct bpf_object *obj, int ifindex, enum loader_mode mode,
			     struct xdp_program **out, bool *native)
{
	struct xdp_program *xp;
	int err;

	*out = NULL;
	xp = xdp_program__from_bpf_obj(obj, "xdp");
	err = libxdp_get_error(xp);
	if (err)
		return err;
	err = uplink_libxdp_attach(xp, ifindex, mode, true);
	if (err) {
		uplink_say_foreign(ifindex);
		xdp_program__close(xp);
		return err;
	}
	*native = uplink_libxdp_native(ifindex, XDPWG_PROG_NAME, true);
	*out = xp;
	return 0;
}

void uplink_dispatcher_detach(struct xdp_program *xp, int ifindex)
{
	struct xdp_multiprog *mp;
	int err;

	if (!xp)
		return;
	mp = xdp_multiprog__get_from_ifindex(ifindex);
	err = xdp_program__detach(
		xp, ifindex,
		libxdp_get_error(mp) ? XDP_MODE_UNSPEC : xdp_multiprog__attach_mode(mp), 0);
	if (!libxdp_get_error(mp))
		xdp_multiprog__close(mp);
	if (err)
		log_warn("uplink: ifindex %d: detaching %s from libxdp's dispatcher: %s", ifindex,
			 XDPWG_PROG_NAME, strerror(-err));
	xdp_program__close(xp);
}
