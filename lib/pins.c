// SPDX-License-Identifier: GPL-2.0
/*
 * The pinned side of the XDP program, for every binary: what the pins are called, what the
 * counters mean, and the few writes a tool may make without loading the program (xdpwgctl
 * detach and capture). See pins.h.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "log.h"
#include "pins.h"

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif

/* Pin names are the map names. */
const char *const pins_maps[] = { "config",	  "sessions",	 "peers",	"ifaces",
				  "stats",	  "events",	 "xsks",	"allow_src",
				  "hs_buckets",	  "capture",	 "local_addrs", "frag_buckets",
				  "capture_ctl",  "allow_src_b", "capture_tx",	"gateways",
				  "gateway_addrs" };
_Static_assert(sizeof(pins_maps) / sizeof(pins_maps[0]) == PINS_NMAPS, "pins_maps and PINS_NMAPS");

static const char *const stat_names[XDPWG_STAT_MAX] = {
	[XDPWG_STAT_PASS_OTHER] = "pass_other",
	[XDPWG_STAT_PASS_FRAGMENT] = "pass_fragment",
	[XDPWG_STAT_PASS_IPV6_EXT] = "pass_ipv6_ext",
	[XDPWG_STAT_PASS_DISABLED] = "pass_disabled",
	[XDPWG_STAT_REDIRECTED] = "redirected",
	[XDPWG_STAT_NO_XSK_PASSED] = "no_xsk_passed",
	[XDPWG_STAT_BAD_SIZE_INITIATION] = "bad_size_initiation",
	[XDPWG_STAT_BAD_SIZE_RESPONSE] = "bad_size_response",
	[XDPWG_STAT_BAD_SIZE_COOKIE] = "bad_size_cookie",
	[XDPWG_STAT_BAD_SIZE_DATA] = "bad_size_data",
	[XDPWG_STAT_BAD_TYPE] = "bad_type",
	[XDPWG_STAT_UNKNOWN_INDEX] = "unknown_index",
	[XDPWG_STAT_TRUNCATED] = "truncated",
	[XDPWG_STAT_NEW_SOURCE] = "new_source",
	[XDPWG_STAT_EVENT_SENT] = "event_sent",
	[XDPWG_STAT_EVENT_RATELIMITED] = "event_ratelimited",
	[XDPWG_STAT_EVENT_LOST] = "event_lost",
	[XDPWG_STAT_META_FAILED] = "meta_failed",
	[XDPWG_STAT_BAD_MAC1] = "bad_mac1",
	[XDPWG_STAT_HS_RATELIMITED] = "handshake_ratelimited",
	[XDPWG_STAT_SRC_NOT_ALLOWED] = "source_not_allowed",
	[XDPWG_STAT_HS_UNDER_LOAD] = "handshake_under_load",
	[XDPWG_STAT_CAPTURE_LOST] = "capture_lost",
	[XDPWG_STAT_UNKNOWN_INDEX_PASSED] = "unknown_index_passed",
	[XDPWG_STAT_PASS_TRANSIT] = "pass_transit",
	[XDPWG_STAT_FRAG_PASSED] = "fragment_passed",
	[XDPWG_STAT_FRAG_BUDGET] = "fragment_over_budget",
	[XDPWG_STAT_IPV6_EXT_DEEP] = "ipv6_ext_too_deep",
	[XDPWG_STAT_CLUSTER_FWD_DATA] = "cluster_forwarded_data",
	[XDPWG_STAT_CLUSTER_FWD_RESPONSE] = "cluster_forwarded_response",
	[XDPWG_STAT_CLUSTER_FWD_COOKIE] = "cluster_forwarded_cookie",
	[XDPWG_STAT_CLUSTER_UNKNOWN_GW] = "cluster_unknown_gateway",
	[XDPWG_STAT_CLUSTER_NO_NEIGH] = "cluster_no_neighbour",
	[XDPWG_STAT_CLUSTER_FWD_FAILED] = "cluster_forward_failed",
	[XDPWG_STAT_CLUSTER_FWD_IN] = "cluster_forwarded_in",
	[XDPWG_STAT_CLUSTER_NOT_MEMBER] = "cluster_not_member",
	[XDPWG_STAT_CLUSTER_BAD_ENCAP] = "cluster_bad_encap",
};

const char *pins_stat_name(enum xdpwg_stat s)
{
	if ((unsigned int)s >= XDPWG_STAT_MAX || !stat_names[s])
		return "unknown";
	return stat_names[s];
}

enum pins_stat_action pins_stat_action(enum xdpwg_stat s)
{
	switch (s) {
	case XDPWG_STAT_PASS_OTHER:
	case XDPWG_STAT_PASS_FRAGMENT:
	case XDPWG_STAT_PASS_IPV6_EXT:
	case XDPWG_STAT_PASS_DISABLED:
	case XDPWG_STAT_NO_XSK_PASSED:
	case XDPWG_STAT_META_FAILED:
	case XDPWG_STAT_HS_UNDER_LOAD:
	case XDPWG_STAT_PASS_TRANSIT:
	case XDPWG_STAT_FRAG_PASSED:
		return PINS_STAT_PASS;
	case XDPWG_STAT_REDIRECTED:
	/* sent on to the member that holds the keys: out of XDP like a redirect */
	case XDPWG_STAT_CLUSTER_FWD_DATA:
	case XDPWG_STAT_CLUSTER_FWD_RESPONSE:
	case XDPWG_STAT_CLUSTER_FWD_COOKIE:
		return PINS_STAT_REDIRECT;
	case XDPWG_STAT_BAD_SIZE_INITIATION:
	case XDPWG_STAT_BAD_SIZE_RESPONSE:
	case XDPWG_STAT_BAD_SIZE_COOKIE:
	case XDPWG_STAT_BAD_SIZE_DATA:
	case XDPWG_STAT_BAD_TYPE:
	case XDPWG_STAT_UNKNOWN_INDEX:
	case XDPWG_STAT_TRUNCATED:
	case XDPWG_STAT_BAD_MAC1:
	case XDPWG_STAT_HS_RATELIMITED:
	case XDPWG_STAT_SRC_NOT_ALLOWED:
	case XDPWG_STAT_FRAG_BUDGET:
	case XDPWG_STAT_IPV6_EXT_DEEP:
	case XDPWG_STAT_CLUSTER_UNKNOWN_GW:
	case XDPWG_STAT_CLUSTER_NO_NEIGH:
	case XDPWG_STAT_CLUSTER_FWD_FAILED:
	case XDPWG_STAT_CLUSTER_NOT_MEMBER:
	case XDPWG_STAT_CLUSTER_BAD_ENCAP:
		return PINS_STAT_DROP;
	default:
		return PINS_STAT_INFO;
	}
}

int pins_ensure_bpffs(void)
{
	struct statfs st;

	if (statfs(BPFFS_MOUNT, &st) == 0 && (unsigned long)st.f_type == BPF_FS_MAGIC)
		return 0;
	if (mkdir(BPFFS_MOUNT, 0700) < 0 && errno != EEXIST)
		return -errno;
	if (mount("bpf", BPFFS_MOUNT, "bpf", 0, "mode=0700") < 0) {
		int err = -errno;

		log_err("pins: mounting bpffs at %s: %s", BPFFS_MOUNT, strerror(errno));
		return err;
	}
	log_info("pins: mounted bpffs at %s", BPFFS_MOUNT);
	return 0;
}

bool ifname_valid(const char *name)
{
	size_t i, len;

	if (!name)
		return false;
	len = strlen(name);

	if (len == 0 || len >= IFNAMSIZ)
		return false;
	/* "." and ".." are valid characters but not valid interface names */
	if (!strcmp(name, ".") || !strcmp(name, ".."))
		return false;
	for (i = 0; i < len; ++i) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '=' || c == '+' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

uint32_t pins_map_id(int fd)
{
	struct bpf_map_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	return info.id;
}

/* Remove <dir>/<map> for every map we pin, then dir itself (and root if now empty). With obj,
 * only pins of obj's own maps go: a newer daemon may have replaced them already. */
void pins_remove(const char *root, const char *dir, struct bpf_object *obj)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < PINS_NMAPS; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, pins_maps[i]);
		if (obj) {
			struct bpf_map *map = bpf_object__find_map_by_name(obj, pins_maps[i]);
			int fd = bpf_obj_get(path);
			bool mine =
				map && fd >= 0 && pins_map_id(fd) == pins_map_id(bpf_map__fd(map));

			if (fd >= 0)
				close(fd);
			if (!mine)
				continue;
		}
		if (unlink(path) < 0 && errno != ENOENT)
			log_warn("pins: removing %s: %s", path, strerror(errno));
	}
	if (rmdir(dir) < 0 && errno != ENOENT && errno != ENOTEMPTY)
		log_warn("pins: removing %s: %s", dir, strerror(errno));
	if (root)
		rmdir(root); /* only when empty: other TUNs may have pins there */
}

int pins_prog_name_by_id(uint32_t id, char *name, size_t len)
{
	struct bpf_prog_info info;
	uint32_t info_len = sizeof(info);
	int fd, err;

	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	memset(&info, 0, sizeof(info));
	err = bpf_obj_get_info_by_fd(fd, &info, &info_len);
	if (err) {
		err = -errno;
		close(fd);
		return err;
	}
	snprintf(name, len, "%s", info.name);
	return fd;
}

int pins_ifindex(const char *ifname)
{
	unsigned int ifindex;

	if (!ifname || !*ifname || strlen(ifname) >= IF_NAMESIZE)
		return -EINVAL;
	ifindex = if_nametoindex(ifname);
	if (!ifindex)
		return -ENODEV;
	return (int)ifindex;
}

int pins_prog_map(uint32_t prog_id, const char *name)
{
	uint32_t map_ids[PINS_PROG_MAX_MAPS];
	struct bpf_prog_info info = { 0 };
	uint32_t len = sizeof(info);
	int pfd = bpf_prog_get_fd_by_id(prog_id);

	if (pfd < 0)
		return -errno;
	info.nr_map_ids = PINS_PROG_MAX_MAPS;
	info.map_ids = (uint64_t)(uintptr_t)map_ids;
	if (bpf_obj_get_info_by_fd(pfd, &info, &len) < 0) {
		close(pfd);
		return -errno;
	}
	close(pfd);
	for (uint32_t i = 0; i < info.nr_map_ids && i < PINS_PROG_MAX_MAPS; i++) {
		struct bpf_map_info mi = { 0 };
		uint32_t mlen = sizeof(mi);
		int fd = bpf_map_get_fd_by_id(map_ids[i]);

		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &mi, &mlen) == 0 && strcmp(mi.name, name) == 0)
			return fd;
		close(fd);
	}
	return -ENOENT;
}

bool pins_owner_live(const struct xdpwg_chain_owner *o)
{
	return o->tun[0] && o->pid && (kill((pid_t)o->pid, 0) == 0 || errno != ESRCH);
}

/* The tunnel of a live daemon in the chain behind entry program mux_id on ifindex, if any: its
 * name into tun. */
static bool pins_mux_in_use(uint32_t mux_id, int ifindex, char *tun, size_t len)
{
	uint32_t key = (uint32_t)ifindex;
	struct xdpwg_uplink up;
	bool used = false;
	int fd = pins_prog_map(mux_id, "rows");

	if (fd < 0)
		return false;
	if (bpf_map_lookup_elem(fd, &key, &up) == 0) {
		for (int t = 0; t < XDPWG_CHAIN_SLOTS && !used; t++) {
			if (pins_owner_live(&up.slot[t])) {
				snprintf(tun, len, "%.15s", up.slot[t].tun);
				used = true;
			}
		}
	}
	close(fd);
	return used;
}

/* Detach a program named XDPWG_PROG_NAME or XDPWG_MUX_NAME (other than keep_id) from ifindex in
 * any mode; an entry program with a live tunnel behind it stays (-EBUSY).
 * Returns how many were detached, -EBUSY if a foreign program is attached, or -errno. */
int pins_detach_ours(int ifindex, uint32_t keep_id, uint32_t keep_mode_flags)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct {
		uint32_t id;
		uint32_t flags;
	} modes[2];
	int i, n = 0, err;

	err = bpf_xdp_query(ifindex, 0, &q);
	if (err)
		return err;
	modes[0].id = q.drv_prog_id;
	modes[0].flags = XDP_FLAGS_DRV_MODE;
	modes[1].id = q.skb_prog_id;
	modes[1].flags = XDP_FLAGS_SKB_MODE;
	for (i = 0; i < 2; i++) {
		LIBBPF_OPTS(bpf_xdp_attach_opts, a);
		char name[BPF_OBJ_NAME_LEN];
		int fd;

		if (!modes[i].id || modes[i].id == keep_id)
			continue;
		if (keep_mode_flags == modes[i].flags)
			continue; /* replaced in place by the caller */
		fd = pins_prog_name_by_id(modes[i].id, name, sizeof(name));
		if (fd < 0)
			return fd;
		if (strcmp(name, XDPWG_PROG_NAME) != 0 && strcmp(name, XDPWG_MUX_NAME) != 0) {
			log_err("pins: ifindex %d has a foreign XDP program '%s' (id %u)", ifindex,
				name, modes[i].id);
			close(fd);
			return -EBUSY;
		}
		if (strcmp(name, XDPWG_MUX_NAME) == 0) {
			char tun[16];

			if (pins_mux_in_use(modes[i].id, ifindex, tun, sizeof(tun))) {
				log_err("pins: ifindex %d: %s (id %u) still serves %s, whose "
					"daemon runs: not detached",
					ifindex, name, modes[i].id, tun);
				close(fd);
				return -EBUSY;
			}
		}
		a.old_prog_fd = fd;
		err = bpf_xdp_detach(ifindex, modes[i].flags, &a);
		close(fd);
		if (err)
			return err;
		log_info("pins: removed a stale %s (id %u) from ifindex %d", name, modes[i].id,
			 ifindex);
		n++;
	}
	return n;
}

int pins_detach_stale(const char *ifname, const char *tun_name)
{
	int ifindex, err = 0;

	if (ifname) {
		ifindex = pins_ifindex(ifname);
		if (ifindex < 0)
			return ifindex;
		err = pins_detach_ours(ifindex, 0, 0);
		if (err < 0)
			return err;
		err = 0;
	}
	if (tun_name) {
		char dir[PATH_MAX];

		if (!ifname_valid(tun_name))
			return -EINVAL;
		err = pins_ensure_bpffs();
		if (err)
			return err;
		snprintf(dir, sizeof(dir), "%s/%s", XDPWG_PIN_ROOT, tun_name);
		pins_remove(XDPWG_PIN_ROOT, dir, NULL);
	}
	return err;
}

int pins_capture_set(const char *pin_dir, bool on)
{
	struct xdpwg_capture_ctl c = { .on = on ? 1 : 0 };
	char path[PATH_MAX];
	uint32_t key = 0;
	int fd, err = 0;

	if (snprintf(path, sizeof(path), "%s/capture_ctl", pin_dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	/* the switch's only writer: a plain write, no read-modify-write of anybody's value */
	if (bpf_map_update_elem(fd, &key, &c, BPF_ANY))
		err = -errno;
	close(fd);
	return err;
}
