// SPDX-License-Identifier: GPL-2.0
/*
 * Several tunnels on one uplink: the shared chain, its lock, and the entry program through
 * libxdp. See uplink.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <xdp/libxdp.h>

#include "log.h"
#include "pins.h"
#include "uplink.h"
#include "xdpwg_kern_user.h"
#include "xdpwg_mux.skel.h"

enum uplink_constants {
	UPLINK_LOCK_TRIES = 1000, /* 10 ms apart: 10 s for the other daemon's join or leave */
	UPLINK_LOCK_WAIT_NS = 10 * 1000 * 1000,
	UPLINK_MAX_PROG_MAPS = 32,
};

/* The shared maps by name, in this order in fds[]. */
static const char *const uplink_map_names[] = { "chain", "rows" };
enum {
	UPLINK_CHAIN,
	UPLINK_ROWS,
	UPLINK_NMAPS
};

struct uplink {
	int lock_fd; /* the abstract socket while we hold the lock; -1 */
	int fds[UPLINK_NMAPS];
	bool found; /* fds are the shared maps (else the caller's object will create them) */
	char pin_dir[PATH_MAX / 2]; /* "<root>/@uplinks"; "" without pins */
};

#define UPLINK_LOCK_NAME "xdpwg-uplinks"

static int uplink_lock(struct uplink *u)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len =
		(socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(UPLINK_LOCK_NAME));
	struct timespec ts = { 0, UPLINK_LOCK_WAIT_NS };
	int fd, i;

	if (u->lock_fd >= 0)
		return 0;
	/* abstract: per network namespace, and gone with its holder, however it dies */
	memcpy(sa.sun_path + 1, UPLINK_LOCK_NAME, strlen(UPLINK_LOCK_NAME));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	for (i = 0; i < UPLINK_LOCK_TRIES; i++) {
		if (bind(fd, (struct sockaddr *)&sa, len) == 0) {
			u->lock_fd = fd;
			return 0;
		}
		if (errno != EADDRINUSE)
			break;
		nanosleep(&ts, NULL);
	}
	i = errno == EADDRINUSE ? -ETIMEDOUT : -errno;
	log_err("uplink: another xdpwgd held the uplinks' lock for 10 s: %s", strerror(-i));
	close(fd);
	return i;
}

void uplink_unlock(struct uplink *u)
{
	if (u && u->lock_fd >= 0) {
		close(u->lock_fd);
		u->lock_fd = -1;
	}
}

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

/* The id of the entry program on ifindex: attached itself, or one of libxdp's dispatcher's
 * programs. 0: none. *legacy_mode: the XDP_FLAGS_* mode when attached itself, else 0. */
static uint32_t uplink_mux_id(int ifindex, uint32_t *legacy_mode)
{
	struct uplink_att att[2];
	struct xdp_multiprog *mp;
	struct xdp_program *p;
	bool dispatcher = false;
	uint32_t found = 0;

	*legacy_mode = 0;
	uplink_attached(ifindex, att);
	for (int i = 0; i < 2; i++) {
		if (att[i].id && strcmp(att[i].name, XDPWG_MUX_NAME) == 0) {
			*legacy_mode = att[i].mode;
			return att[i].id;
		}
		dispatcher |= att[i].id && strcmp(att[i].name, "xdp_dispatcher") == 0;
	}
	if (!dispatcher)
		return 0;
	mp = xdp_multiprog__get_from_ifindex(ifindex);
	if (libxdp_get_error(mp))
		return 0;
	for (p = xdp_multiprog__next_prog(NULL, mp); p; p = xdp_multiprog__next_prog(p, mp)) {
		if (strcmp(xdp_program__name(p), XDPWG_MUX_NAME) == 0) {
			found = xdp_program__id(p);
			break;
		}
	}
	xdp_multiprog__close(mp);
	return found;
}

/* The shared maps a loaded program uses, by name: 0 when it has all three. */
static int uplink_maps_of_prog(uint32_t prog_id, int fds[UPLINK_NMAPS])
{
	uint32_t map_ids[UPLINK_MAX_PROG_MAPS];
	struct bpf_prog_info info = { 0 };
	uint32_t len = sizeof(info);
	int pfd, n = 0;

	pfd = bpf_prog_get_fd_by_id(prog_id);
	if (pfd < 0)
		return -errno;
	info.nr_map_ids = UPLINK_MAX_PROG_MAPS;
	info.map_ids = (uint64_t)(uintptr_t)map_ids;
	if (bpf_obj_get_info_by_fd(pfd, &info, &len)) {
		close(pfd);
		return -errno;
	}
	close(pfd);
	for (uint32_t i = 0; i < info.nr_map_ids && i < UPLINK_MAX_PROG_MAPS; i++) {
		struct bpf_map_info mi = { 0 };
		uint32_t mlen = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(map_ids[i]);

		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &mi, &mlen) == 0) {
			for (int k = 0; k < UPLINK_NMAPS; k++) {
				if (fds[k] < 0 && strcmp(mi.name, uplink_map_names[k]) == 0) {
					fds[k] = fd;
					fd = -1;
					n++;
					break;
				}
			}
		}
		if (fd >= 0)
			close(fd);
	}
	return n == UPLINK_NMAPS ? 0 : -ENOENT;
}

static void uplink_close_fds(int fds[UPLINK_NMAPS])
{
	for (int k = 0; k < UPLINK_NMAPS; k++) {
		if (fds[k] >= 0)
			close(fds[k]);
		fds[k] = -1;
	}
}

static uint32_t uplink_map_id(int fd)
{
	struct bpf_map_info mi = { 0 };
	uint32_t len = sizeof(mi);

	return bpf_obj_get_info_by_fd(fd, &mi, &len) ? 0 : mi.id;
}

int uplink_open(const int *ifindexes, unsigned int n, const char *pin_root, struct uplink **out)
{
	struct uplink *u;
	int err;

	*out = NULL;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->lock_fd = -1;
	for (int k = 0; k < UPLINK_NMAPS; k++)
		u->fds[k] = -1;
	if (pin_root) {
		if (strlen(pin_root) + sizeof("/@uplinks") > sizeof(u->pin_dir)) {
			free(u);
			return -ENAMETOOLONG;
		}
		snprintf(u->pin_dir, sizeof(u->pin_dir), "%s/@uplinks", pin_root);
	}
	err = uplink_lock(u);
	if (err)
		goto err;

	/* through the entry programs attached: every uplink named must agree */
	for (unsigned int i = 0; i < n; i++) {
		int fds[UPLINK_NMAPS] = { -1, -1 };
		uint32_t mode, id = uplink_mux_id(ifindexes[i], &mode);

		if (!id || uplink_maps_of_prog(id, fds) < 0) {
			uplink_close_fds(fds);
			continue;
		}
		if (!u->found) {
			memcpy(u->fds, fds, sizeof(fds));
			u->found = true;
			continue;
		}
		err = uplink_map_id(fds[UPLINK_CHAIN]) == uplink_map_id(u->fds[UPLINK_CHAIN])
			      ? 0
			      : -EBUSY;
		uplink_close_fds(fds);
		if (err) {
			log_err("uplink: the uplinks given are served by different xdpwg chains "
				"(daemons of another bpffs?); attach them from separate daemons");
			goto err;
		}
	}
	/* else through their pins: the daemons of this bpffs have met before */
	if (!u->found && u->pin_dir[0]) {
		int fds[UPLINK_NMAPS] = { -1, -1 };
		char path[PATH_MAX];
		int k;

		for (k = 0; k < UPLINK_NMAPS; k++) {
			snprintf(path, sizeof(path), "%s/%s", u->pin_dir, uplink_map_names[k]);
			fds[k] = bpf_obj_get(path);
			if (fds[k] < 0)
				break;
		}
		if (k == UPLINK_NMAPS) {
			memcpy(u->fds, fds, sizeof(fds));
			u->found = true;
		} else {
			uplink_close_fds(fds);
		}
	}
	*out = u;
	return 0;
err:
	uplink_close(u);
	return err;
}

int uplink_reuse_maps(struct uplink *u, struct bpf_object *obj)
{
	if (!u->found)
		return 0;
	for (int k = 0; k < UPLINK_NMAPS; k++) {
		struct bpf_map *m = bpf_object__find_map_by_name(obj, uplink_map_names[k]);
		int err;

		if (!m)
			return -ENOENT;
		err = bpf_map__reuse_fd(m, u->fds[k]);
		if (err)
			return err;
	}
	return 0;
}

static void uplink_pin(struct uplink *u)
{
	char path[PATH_MAX];

	if (!u->pin_dir[0])
		return;
	/* the pins are for bpftool and for daemons without an entry program to find them by */
	if (mkdir(u->pin_dir, 0700) < 0 && errno != EEXIST)
		return;
	for (int k = 0; k < UPLINK_NMAPS; k++) {
		snprintf(path, sizeof(path), "%s/%s", u->pin_dir, uplink_map_names[k]);
		if (access(path, F_OK) == 0)
			continue;
		if (bpf_obj_pin(u->fds[k], path))
			log_warn("uplink: pinning %s: %s", path, strerror(errno));
	}
}

int uplink_adopt_maps(struct uplink *u, struct bpf_object *obj)
{
	if (!u->found) {
		for (int k = 0; k < UPLINK_NMAPS; k++) {
			struct bpf_map *m = bpf_object__find_map_by_name(obj, uplink_map_names[k]);
			int fd = m ? fcntl(bpf_map__fd(m), F_DUPFD_CLOEXEC, 0) : -ENOENT;

			if (fd < 0) {
				uplink_close_fds(u->fds);
				return fd;
			}
			u->fds[k] = fd;
		}
		u->found = true;
	}
	uplink_pin(u);
	return 0;
}

static bool uplink_owner_live(const struct xdpwg_chain_owner *o)
{
	return o->tun[0] && o->pid && (kill((pid_t)o->pid, 0) == 0 || errno != ESRCH);
}

/* An uplink's entry: its row and slots. create: a new row when it has none. */
static int uplink_row_get(struct uplink *u, int ifindex, struct xdpwg_uplink *up, bool create)
{
	bool used[XDPWG_CHAIN_ROWS] = { false };
	uint32_t key = (uint32_t)ifindex, k, next, r;
	struct xdpwg_uplink other;
	uint32_t *prev = NULL;

	if (bpf_map_lookup_elem(u->fds[UPLINK_ROWS], &key, up) == 0 && up->row < XDPWG_CHAIN_ROWS)
		return 0;
	if (!create)
		return -ENOENT;
	while (bpf_map_get_next_key(u->fds[UPLINK_ROWS], prev, &next) == 0) {
		if (bpf_map_lookup_elem(u->fds[UPLINK_ROWS], &next, &other) == 0 &&
		    other.row < XDPWG_CHAIN_ROWS)
			used[other.row] = true;
		k = next;
		prev = &k;
	}
	for (r = 0; r < XDPWG_CHAIN_ROWS && used[r]; r++)
		;
	if (r == XDPWG_CHAIN_ROWS) {
		log_err("uplink: %d uplinks in this namespace have xdpwg tunnels already",
			XDPWG_CHAIN_ROWS);
		return -ENOSPC;
	}
	memset(up, 0, sizeof(*up));
	up->row = r;
	/* whatever a forgotten row left in the chain (xdpwgctl detach) goes */
	for (uint32_t t = 0; t < XDPWG_CHAIN_SLOTS; t++) {
		uint32_t at = r * XDPWG_CHAIN_SLOTS + t;

		bpf_map_delete_elem(u->fds[UPLINK_CHAIN], &at);
	}
	return 0;
}

static int uplink_row_put(struct uplink *u, int ifindex, const struct xdpwg_uplink *up)
{
	uint32_t key = (uint32_t)ifindex;

	return bpf_map_update_elem(u->fds[UPLINK_ROWS], &key, up, BPF_ANY) ? -errno : 0;
}

static void uplink_slot_clear(struct uplink *u, struct xdpwg_uplink *up, uint32_t t)
{
	uint32_t at = up->row * XDPWG_CHAIN_SLOTS + t;

	bpf_map_delete_elem(u->fds[UPLINK_CHAIN], &at);
	memset(&up->slot[t], 0, sizeof(up->slot[t]));
}

int uplink_reserve(struct uplink *u, int ifindex, const char *tun, uint16_t port,
		   uint32_t *chain_at)
{
	struct xdpwg_uplink up;
	uint32_t t, free_t = XDPWG_CHAIN_SLOTS;
	int err;

	if (!u->found)
		return -ENOENT;
	err = uplink_lock(u);
	if (err)
		return err;
	err = uplink_row_get(u, ifindex, &up, true);
	if (err)
		return err;
	for (t = 0; t < XDPWG_CHAIN_SLOTS; t++) {
		struct xdpwg_chain_owner *o = &up.slot[t];

		o->tun[sizeof(o->tun) - 1] = 0;
		if (o->tun[0] && (strcmp(o->tun, tun) == 0 || !uplink_owner_live(o))) {
			/* a daemon killed, or this TUN's own earlier life: its slot is free */
			log_info("uplink: ifindex %d: slot %u of %s (pid %u, port %u) is stale: "
				 "reclaimed",
				 ifindex, t, o->tun, o->pid, o->port);
			uplink_slot_clear(u, &up, t);
		}
		if (!o->tun[0]) {
			if (free_t == XDPWG_CHAIN_SLOTS)
				free_t = t;
			continue;
		}
		if (o->port == port) {
			log_err("uplink: ifindex %d: port %u is %s's already (pid %u)", ifindex,
				port, o->tun, o->pid);
			return -EADDRINUSE;
		}
	}
	if (free_t == XDPWG_CHAIN_SLOTS) {
		log_err("uplink: ifindex %d has %d xdpwg tunnels already", ifindex,
			XDPWG_CHAIN_SLOTS);
		return -ENOSPC;
	}
	snprintf(up.slot[free_t].tun, sizeof(up.slot[free_t].tun), "%s", tun);
	up.slot[free_t].pid = (uint32_t)getpid();
	up.slot[free_t].port = port;
	err = uplink_row_put(u, ifindex, &up);
	if (err)
		return err;
	*chain_at = up.row * XDPWG_CHAIN_SLOTS + free_t;
	return 0;
}

/* Does anyone but slot t hold a live slot in the row? */
static bool uplink_row_shared(const struct xdpwg_uplink *up, uint32_t t)
{
	for (uint32_t k = 0; k < XDPWG_CHAIN_SLOTS; k++)
		if (k != t && uplink_owner_live(&up->slot[k]))
			return true;
	return false;
}

static void uplink_say_foreign(int ifindex);

static int uplink_libxdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	char line[512];

	if (level == LIBXDP_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	line[strcspn(line, "\n")] = 0;
	/* libxdp explains its fallbacks at warning level; uplink_join says what came of them */
	log_debug("libxdp: %s", line);
	return 0;
}

/* Detach what is attached to ifindex by itself and is ours: a stale xdpwg_rx from before
 * the chain, or (with except_mux false) the entry program. A foreign program stays, libxdp
 * decides whether it can share. */
static void uplink_detach_legacy(int ifindex, bool except_mux)
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

static int uplink_quiet_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[4096];

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	/* a verifier log comes as one message of many lines: keep it on one */
	for (char *c = line; *c; c++)
		if (*c == '\n' && c[1])
			*c = '|';
	line[strcspn(line, "\n")] = 0;
	log_debug("%s", line);
	return 0;
}

/* Attach through libxdp: its dispatcher where the kernel has one, else alone. */
static int uplink_libxdp_attach(struct xdp_program *xp, int ifindex, enum uplink_mode mode,
				bool retry_generic)
{
	libbpf_print_fn_t old_print;
	int err;

	libxdp_set_print(uplink_libxdp_print);
	/* libxdp tries its dispatcher first; where the kernel refuses it, libbpf's complaints
	 * about it go to the debug log (the caller says in one line what came of it) */
	old_print = libbpf_set_print(uplink_quiet_libbpf);
	err = xdp_program__attach(xp, ifindex,
				  mode == UPLINK_MODE_GENERIC ? XDP_MODE_SKB : XDP_MODE_NATIVE, 0);
	if (err && mode == UPLINK_MODE_AUTO && retry_generic) {
		log_warn("uplink: ifindex %d: native XDP failed (%s); trying generic mode", ifindex,
			 strerror(-err));
		err = xdp_program__attach(xp, ifindex, XDP_MODE_SKB, 0);
	}
	libbpf_set_print(old_print);
	return err;
}

static int uplink_attach_mux(struct uplink *u, int ifindex, enum uplink_mode mode)
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
		(mode == UPLINK_MODE_GENERIC ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE) |
			XDP_FLAGS_UPDATE_IF_NOEXIST,
		&a);
	if (err && mode == UPLINK_MODE_AUTO)
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
static void uplink_say_foreign(int ifindex)
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

int uplink_join(struct uplink *u, int ifindex, uint32_t chain_at, int prog_fd,
		enum uplink_mode mode, bool *native)
{
	uint32_t t = chain_at % XDPWG_CHAIN_SLOTS, len = sizeof(struct bpf_prog_info), id,
		 legacy_mode;
	struct bpf_prog_info info = { 0 };
	struct xdp_multiprog *mp;
	struct xdpwg_uplink up;
	int err;

	err = uplink_row_get(u, ifindex, &up, false);
	if (err)
		return err;
	if (bpf_map_update_elem(u->fds[UPLINK_CHAIN], &chain_at, &prog_fd, BPF_ANY))
		return -errno;
	if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) == 0) {
		up.slot[t].prog_id = info.id;
		uplink_row_put(u, ifindex, &up);
	}

	id = uplink_mux_id(ifindex, &legacy_mode);
	if (id && legacy_mode && mode != UPLINK_MODE_AUTO && !uplink_row_shared(&up, t) &&
	    legacy_mode != (mode == UPLINK_MODE_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE)) {
		/* alone on the uplink: the entry program follows this tunnel's mode */
		uplink_detach_legacy(ifindex, false);
		id = 0;
	}
	if (!id) {
		uplink_detach_legacy(ifindex, true);
		err = uplink_attach_mux(u, ifindex, mode);
		if (err) {
			uplink_say_foreign(ifindex);
			log_err("uplink: ifindex %d: attaching %s: %s", ifindex, XDPWG_MUX_NAME,
				strerror(-err));
			uplink_slot_clear(u, &up, t);
			uplink_row_put(u, ifindex, &up);
			return err;
		}
		id = uplink_mux_id(ifindex, &legacy_mode);
		mp = xdp_multiprog__get_from_ifindex(ifindex);
		if (!libxdp_get_error(mp) && !xdp_multiprog__is_legacy(mp))
			log_info("uplink: ifindex %d: %s runs under libxdp's dispatcher beside %d "
				 "other program%s",
				 ifindex, XDPWG_MUX_NAME, xdp_multiprog__program_count(mp) - 1,
				 xdp_multiprog__program_count(mp) == 2 ? "" : "s");
		else
			log_info(
				"uplink: ifindex %d: %s runs alone on the uplink, without libxdp's "
				"dispatcher (this kernel has none, or it cannot run ours): xdpwg "
				"tunnels share the uplink through it, other XDP programs cannot",
				ifindex, XDPWG_MUX_NAME);
		if (!libxdp_get_error(mp))
			xdp_multiprog__close(mp);
	}
	if (id) {
		/* a mux another daemon attached meanwhile would not run our chain */
		int fds[UPLINK_NMAPS] = { -1, -1 };
		bool same = uplink_maps_of_prog(id, fds) == 0 &&
			    uplink_map_id(fds[UPLINK_CHAIN]) == uplink_map_id(u->fds[UPLINK_CHAIN]);

		if (!same) {
			log_err("uplink: ifindex %d: its %s (id %u) runs another chain than ours",
				ifindex, XDPWG_MUX_NAME, id);
			uplink_close_fds(fds);
			uplink_slot_clear(u, &up, t);
			uplink_row_put(u, ifindex, &up);
			return -EBUSY;
		}
		uplink_close_fds(fds);
	}
	if (legacy_mode) {
		*native = legacy_mode == XDP_FLAGS_DRV_MODE;
	} else {
		mp = xdp_multiprog__get_from_ifindex(ifindex);
		*native =
			!libxdp_get_error(mp) && xdp_multiprog__attach_mode(mp) == XDP_MODE_NATIVE;
		if (!libxdp_get_error(mp))
			xdp_multiprog__close(mp);
	}
	return id ? 0 : -ENOENT;
}

static void uplink_detach_mux(int ifindex)
{
	struct xdp_multiprog *mp;
	struct xdp_program *p;
	uint32_t legacy_mode;

	if (!uplink_mux_id(ifindex, &legacy_mode))
		return;
	if (legacy_mode) {
		uplink_detach_legacy(ifindex, false);
		return;
	}
	mp = xdp_multiprog__get_from_ifindex(ifindex);
	if (libxdp_get_error(mp))
		return;
	for (p = xdp_multiprog__next_prog(NULL, mp); p; p = xdp_multiprog__next_prog(p, mp)) {
		if (strcmp(xdp_program__name(p), XDPWG_MUX_NAME) == 0) {
			int err =
				xdp_program__detach(p, ifindex, xdp_multiprog__attach_mode(mp), 0);

			if (err)
				log_warn("uplink: ifindex %d: detaching %s from libxdp's "
					 "dispatcher: %s",
					 ifindex, XDPWG_MUX_NAME, strerror(-err));
			break;
		}
	}
	xdp_multiprog__close(mp);
}

int uplink_leave(struct uplink *u, int ifindex, uint32_t chain_at)
{
	uint32_t key = (uint32_t)ifindex, t = chain_at % XDPWG_CHAIN_SLOTS, next;
	struct xdpwg_uplink up;
	int err;

	if (!u || !u->found || chain_at >= XDPWG_CHAIN_MAX)
		return -EINVAL;
	err = uplink_lock(u);
	if (err)
		return err;
	if (uplink_row_get(u, ifindex, &up, false) == 0 && up.row == chain_at / XDPWG_CHAIN_SLOTS) {
		uplink_slot_clear(u, &up, t);
		if (uplink_row_shared(&up, t)) {
			uplink_row_put(u, ifindex, &up);
		} else {
			/* the last one out: the uplink goes back to what it was */
			uplink_detach_mux(ifindex);
			for (uint32_t k = 0; k < XDPWG_CHAIN_SLOTS; k++)
				uplink_slot_clear(u, &up, k);
			bpf_map_delete_elem(u->fds[UPLINK_ROWS], &key);
		}
	}
	if (u->pin_dir[0] && bpf_map_get_next_key(u->fds[UPLINK_ROWS], NULL, &next) < 0) {
		char path[PATH_MAX];

		for (int k = 0; k < UPLINK_NMAPS; k++) {
			snprintf(path, sizeof(path), "%s/%s", u->pin_dir, uplink_map_names[k]);
			unlink(path);
		}
		rmdir(u->pin_dir);
		snprintf(path, sizeof(path), "%s", u->pin_dir);
		*strrchr(path, '/') = 0;
		rmdir(path); /* the root, when no tunnel's pins are left in it */
	}
	uplink_unlock(u);
	return 0;
}

void uplink_set_port(struct uplink *u, int ifindex, uint32_t chain_at, uint16_t port)
{
	struct xdpwg_uplink up;

	if (!u || !u->found || chain_at >= XDPWG_CHAIN_MAX || uplink_lock(u))
		return;
	if (uplink_row_get(u, ifindex, &up, false) == 0 && up.row == chain_at / XDPWG_CHAIN_SLOTS &&
	    up.slot[chain_at % XDPWG_CHAIN_SLOTS].pid == (uint32_t)getpid()) {
		up.slot[chain_at % XDPWG_CHAIN_SLOTS].port = port;
		uplink_row_put(u, ifindex, &up);
	}
	uplink_unlock(u);
}

void uplink_close(struct uplink *u)
{
	if (!u)
		return;
	uplink_unlock(u);
	uplink_close_fds(u->fds);
	free(u);
}

bool uplink_dispatcher_on(int ifindex)
{
	struct uplink_att att[2];

	uplink_attached(ifindex, att);
	for (int i = 0; i < 2; i++)
		if (att[i].id && strcmp(att[i].name, "xdp_dispatcher") == 0)
			return true;
	return false;
}

int uplink_dispatcher_attach(struct bpf_object *obj, int ifindex, enum uplink_mode mode,
			     struct xdp_program **out, bool *native)
{
	struct xdp_multiprog *mp;
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
	mp = xdp_multiprog__get_from_ifindex(ifindex);
	*native = !libxdp_get_error(mp) && xdp_multiprog__attach_mode(mp) == XDP_MODE_NATIVE;
	if (!libxdp_get_error(mp)) {
		log_info("uplink: ifindex %d: %s runs under libxdp's dispatcher beside %d other "
			 "program%s",
			 ifindex, XDPWG_PROG_NAME, xdp_multiprog__program_count(mp) - 1,
			 xdp_multiprog__program_count(mp) == 2 ? "" : "s");
		xdp_multiprog__close(mp);
	}
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
