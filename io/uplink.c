// SPDX-License-Identifier: GPL-2.0
/*
 * Several tunnels on one uplink: the chain the daemons of a namespace share, its lock, its
 * slots and their owners. What is attached to the uplink, and through libxdp, is
 * uplink_attach.c's. See uplink.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

#include "loader.h"
#include "log.h"
#include "pins.h"
#include "uplink.h"
#include "uplink_attach.h"
#include "xdpwg_kern_user.h"

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

/* The shared maps a loaded program uses, by name: 0 when it has both. */
static int uplink_maps_of_prog(uint32_t prog_id, int fds[UPLINK_NMAPS])
{
	for (int k = 0; k < UPLINK_NMAPS; k++) {
		fds[k] = pins_prog_map(prog_id, uplink_map_names[k]);
		if (fds[k] < 0)
			return fds[k];
	}
	return 0;
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
		if (o->tun[0] && (strcmp(o->tun, tun) == 0 || !pins_owner_live(o))) {
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
		if (k != t && pins_owner_live(&up->slot[k]))
			return true;
	return false;
}

int uplink_join(struct uplink *u, int ifindex, uint32_t chain_at, int prog_fd,
		enum loader_mode mode, bool *native)
{
	uint32_t t = chain_at % XDPWG_CHAIN_SLOTS, len = sizeof(struct bpf_prog_info), id,
		 legacy_mode;
	struct bpf_prog_info info = { 0 };
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
	if (id && legacy_mode && mode != LOADER_MODE_AUTO && !uplink_row_shared(&up, t) &&
	    legacy_mode != (mode == LOADER_MODE_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE)) {
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
		if (legacy_mode)
			log_info(
				"uplink: ifindex %d: %s runs alone on the uplink, without libxdp's "
				"dispatcher (this kernel has none, or it cannot run ours): xdpwg "
				"tunnels share the uplink through it, other XDP programs cannot",
				ifindex, XDPWG_MUX_NAME);
		else
			uplink_libxdp_native(ifindex, XDPWG_MUX_NAME, true);
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
	*native = legacy_mode ? legacy_mode == XDP_FLAGS_DRV_MODE
			      : uplink_libxdp_native(ifindex, XDPWG_MUX_NAME, false);
	return id ? 0 : -ENOENT;
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
