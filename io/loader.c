// SPDX-License-Identifier: GPL-2.0
/*
 * Loading, pinning and attaching the XDP program; the map writers. See loader.h.
 */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "config.h"
#include "loader.h"
#include "log.h"
#include "pins.h"
#include "uplink.h"
#include "xdp_meta.h"
#include "xdpwg.skel.h"

struct loader_iface {
	int ifindex; /* 0: slot free */
	uint32_t xdp_flags;
	uint32_t chain_at; /* our slot in the uplink's chain (uplink.h) */
};

struct xdpwg_loader {
	struct xdpwg *skel;
	struct uplink *up; /* the chain shared with other tunnels on our uplinks */
	/* under libxdp's dispatcher instead (uplink_dispatcher_attach): where, and the handle */
	int disp_ifindex;
	bool disp_native;
	struct xdp_program *disp;
	char pin_root[PATH_MAX / 2];
	char pin_dir[PATH_MAX / 2];
	bool pinned;
	uint32_t prog_id;
	struct loader_iface ifaces[XDPWG_MAX_IFACES];
	struct xdpwg_config cfg; /* what the config map holds: written whole */
	bool allow_stale;	 /* the idle allow-source trie holds a retired list */
	/* capture_ctl's value, mapped read-only (the workers' side of capture); NULL: not */
	void *capture_ctl_mem;
	size_t capture_ctl_len;
};

static int loader_pin_all(struct xdpwg_loader *ld)
{
	struct bpf_map *map;
	char path[PATH_MAX];
	int err;

	if (strncmp(ld->pin_root, BPFFS_MOUNT "/", strlen(BPFFS_MOUNT) + 1) == 0) {
		err = pins_ensure_bpffs();
		if (err)
			return err;
	}
	if (mkdir(ld->pin_root, 0700) < 0 && errno != EEXIST)
		return -errno;
	/* whatever a killed daemon left for this TUN goes */
	pins_remove(NULL, ld->pin_dir, NULL);
	if (mkdir(ld->pin_dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	bpf_object__for_each_map(map, ld->skel->obj)
	{
		const char *name = bpf_map__name(map);
		size_t i;
		bool wanted = false;

		for (i = 0; i < PINS_NMAPS; i++)
			wanted |= strcmp(name, pins_maps[i]) == 0;
		if (!wanted)
			continue;
		snprintf(path, sizeof(path), "%s/%s", ld->pin_dir, name);
		err = bpf_map__pin(map, path);
		if (err) {
			log_err("loader: pinning %s: %s", path, strerror(-err));
			return err;
		}
	}
	ld->pinned = true;
	return 0;
}

int loader_create(const struct loader_opts *opts, struct xdpwg_loader **out)
{
	struct xdpwg_loader *ld;
	struct bpf_prog_info info;
	uint32_t info_len = sizeof(info);
	int ifindexes[XDPWG_MAX_IFACES];
	unsigned int n_ifindexes = 0;
	const char *root;
	int err;

	*out = NULL;
	if (!opts || !ifname_valid(opts->tun_name))
		return -EINVAL;
	ld = calloc(1, sizeof(*ld));
	if (!ld)
		return -ENOMEM;
	root = opts->pin_root ? opts->pin_root : XDPWG_PIN_ROOT;
	if (strlen(root) + IF_NAMESIZE + 2 > sizeof(ld->pin_root)) {
		err = -ENAMETOOLONG;
		goto cleanup;
	}
	snprintf(ld->pin_root, sizeof(ld->pin_root), "%s", root);
	snprintf(ld->pin_dir, sizeof(ld->pin_dir), "%s/%s", root, opts->tun_name);

	ld->skel = xdpwg__open();
	if (!ld->skel) {
		err = -errno ? -errno : -EINVAL;
		log_err("loader: opening the BPF skeleton failed");
		goto cleanup;
	}
	if (opts->event_interval_ns)
		ld->skel->rodata->event_interval_ns = opts->event_interval_ns;
	ld->skel->rodata->handshakes_to_xsk = !opts->handshakes_to_stack;
	ld->skel->rodata->meta_inline = xdp_meta_inline();
	ld->skel->rodata->meta_inline_keep = opts->keep_inline_meta;
	if (opts->hs_rate)
		ld->skel->rodata->hs_rate = opts->hs_rate == UINT32_MAX ? 0 : opts->hs_rate;
	if (opts->hs_burst)
		ld->skel->rodata->hs_burst = opts->hs_burst;
	if (opts->frag_rate)
		ld->skel->rodata->frag_rate = opts->frag_rate == UINT32_MAX ? 0 : opts->frag_rate;
	if (opts->frag_burst)
		ld->skel->rodata->frag_burst = opts->frag_burst;
	if (opts->max_peers)
		bpf_map__set_max_entries(ld->skel->maps.peers, opts->max_peers);
	if (opts->max_sessions)
		bpf_map__set_max_entries(ld->skel->maps.sessions, opts->max_sessions);
	/* the chain is shared with the other tunnels of our uplinks: find it before loading,
	 * and keep the namespace's lock until the first attach is done */
	for (unsigned int i = 0; i < opts->n_ifaces && i < XDPWG_MAX_IFACES; i++) {
		int ifindex = pins_ifindex(opts->ifaces[i]);

		if (ifindex > 0)
			ifindexes[n_ifindexes++] = ifindex;
	}
	if (n_ifindexes == 1 && uplink_dispatcher_on(ifindexes[0])) {
		/* libxdp's dispatcher is there already: our program becomes one of its programs,
		 * loaded by libxdp (as an extension) as it attaches; a frame that is not ours
		 * goes on to the dispatcher's next program */
		err = uplink_dispatcher_attach(ld->skel->obj, ifindexes[0], opts->mode, &ld->disp,
					       &ld->disp_native);
		if (err) {
			log_err("loader: joining libxdp's dispatcher on %s: %s", opts->ifaces[0],
				strerror(-err));
			goto cleanup;
		}
		ld->disp_ifindex = ifindexes[0];
		n_ifindexes = 0;
	} else {
		err = uplink_open(ifindexes, n_ifindexes, opts->no_pin ? NULL : root, &ld->up);
		if (err)
			goto cleanup;
		err = uplink_reuse_maps(ld->up, ld->skel->obj);
		if (err) {
			log_err("loader: sharing the uplinks' chain: %s", strerror(-err));
			goto cleanup;
		}
		err = xdpwg__load(ld->skel);
		if (err) {
			log_err("loader: loading the XDP program: %s", strerror(-err));
			goto cleanup;
		}
	}
	if (!opts->no_pin) {
		err = pins_ensure_bpffs();
		if (err)
			goto cleanup;
		if (mkdir(root, 0700) < 0 && errno != EEXIST) {
			err = -errno;
			goto cleanup;
		}
	}
	if (ld->up) {
		err = uplink_adopt_maps(ld->up, ld->skel->obj);
		if (err)
			goto cleanup;
		if (!n_ifindexes)
			uplink_unlock(ld->up);
	}
	memset(&info, 0, sizeof(info));
	err = bpf_obj_get_info_by_fd(bpf_program__fd(ld->skel->progs.xdpwg_rx), &info, &info_len);
	if (err) {
		err = -errno;
		goto cleanup;
	}
	ld->prog_id = info.id;
	/* a failure costs capture its sent frames, nothing else */
	ld->capture_ctl_len = (size_t)sysconf(_SC_PAGESIZE);
	ld->capture_ctl_mem = mmap(NULL, ld->capture_ctl_len, PROT_READ, MAP_SHARED,
				   bpf_map__fd(ld->skel->maps.capture_ctl), 0);
	if (ld->capture_ctl_mem == MAP_FAILED) {
		log_warn("loader: mapping capture_ctl: %s (capture sees received frames only)",
			 strerror(errno));
		ld->capture_ctl_mem = NULL;
	}
	err = loader_set_port(ld, 0);
	if (err)
		goto cleanup;
	if (!opts->no_pin) {
		err = loader_pin_all(ld);
		if (err)
			goto cleanup;
	}
	*out = ld;
	return 0;

cleanup:
	loader_destroy(ld);
	return err;
}

void loader_destroy(struct xdpwg_loader *ld)
{
	int i;

	if (!ld)
		return;
	for (i = 0; i < XDPWG_MAX_IFACES; i++)
		if (ld->ifaces[i].ifindex)
			loader_detach(ld, ld->ifaces[i].ifindex);
	if (ld->pinned)
		pins_remove(ld->pin_root, ld->pin_dir, ld->skel->obj);
	if (ld->capture_ctl_mem)
		munmap(ld->capture_ctl_mem, ld->capture_ctl_len);
	if (ld->disp)
		uplink_dispatcher_detach(ld->disp, ld->disp_ifindex);
	uplink_close(ld->up);
	xdpwg__destroy(ld->skel);
	free(ld);
}

static struct loader_iface *loader_find_iface(const struct xdpwg_loader *ld, int ifindex, int *slot)
{
	int i;

	for (i = 0; i < XDPWG_MAX_IFACES; i++) {
		if (ld->ifaces[i].ifindex == ifindex) {
			if (slot)
				*slot = i;
			return (struct loader_iface *)&ld->ifaces[i];
		}
	}
	return NULL;
}

int loader_attach(struct xdpwg_loader *ld, const char *ifname, enum loader_mode mode)
{
	struct xdpwg_iface val = { 0 };
	struct loader_iface *slot_if;
	uint32_t key, chain_at;
	int ifindex, slot, err;
	bool native = false;

	ifindex = pins_ifindex(ifname);
	if (ifindex < 0)
		return ifindex;
	if (loader_find_iface(ld, ifindex, NULL))
		return ifindex;
	slot_if = loader_find_iface(ld, 0, &slot);
	if (!slot_if)
		return -ENOSPC;
	if (ifindex == ld->disp_ifindex || !ld->up) {
		/* attached under libxdp's dispatcher as it was loaded; nowhere else */
		if (ifindex != ld->disp_ifindex) {
			log_err("loader: %s: under libxdp's dispatcher a tunnel has one uplink",
				ifname);
			return -EOPNOTSUPP;
		}
		key = (uint32_t)ifindex;
		val.slot_base = (uint32_t)slot * XDPWG_MAX_QUEUES;
		val.nqueues = XDPWG_MAX_QUEUES;
		val.chain_at = XDPWG_CHAIN_NONE;
		if (bpf_map_update_elem(bpf_map__fd(ld->skel->maps.ifaces), &key, &val, BPF_ANY))
			return -errno;
		slot_if->ifindex = ifindex;
		slot_if->chain_at = XDPWG_CHAIN_NONE;
		slot_if->xdp_flags = ld->disp_native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
		return ifindex;
	}
	err = uplink_reserve(ld->up, ifindex, ld->pin_dir + strlen(ld->pin_root) + 1,
			     ld->cfg.listen_port, &chain_at);
	if (err)
		goto out;

	/* where this tunnel sits in the chain is in its ifaces entry before its program can be
	 * reached: a frame that is not ours always finds the way on */
	key = (uint32_t)ifindex;
	val.slot_base = (uint32_t)slot * XDPWG_MAX_QUEUES;
	val.nqueues = XDPWG_MAX_QUEUES;
	val.chain_at = chain_at;
	if (bpf_map_update_elem(bpf_map__fd(ld->skel->maps.ifaces), &key, &val, BPF_ANY)) {
		err = -errno;
		goto out;
	}
	err = uplink_join(ld->up, ifindex, chain_at, bpf_program__fd(ld->skel->progs.xdpwg_rx),
			  mode, &native);
	if (err) {
		bpf_map_delete_elem(bpf_map__fd(ld->skel->maps.ifaces), &key);
		goto out;
	}
	slot_if->ifindex = ifindex;
	slot_if->chain_at = chain_at;
	slot_if->xdp_flags = native ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE;
	log_info("loader: %s on %s in slot %u of the uplink's chain (%s mode)", XDPWG_PROG_NAME,
		 ifname, chain_at % XDPWG_CHAIN_SLOTS, native ? "native" : "generic");
out:
	/* the first attach fixed which chain is ours: other daemons may join and leave */
	uplink_unlock(ld->up);
	if (err) {
		log_err("loader: attaching to %s: %s", ifname, strerror(-err));
		return err;
	}
	return ifindex;
}

int loader_detach(struct xdpwg_loader *ld, int ifindex)
{
	struct loader_iface *li;
	uint32_t key = (uint32_t)ifindex;
	int err;

	if (ifindex <= 0)
		return -EINVAL;
	li = loader_find_iface(ld, ifindex, NULL);
	if (!li)
		return -ENOENT;
	if (ifindex == ld->disp_ifindex) {
		uplink_dispatcher_detach(ld->disp, ifindex);
		ld->disp = NULL;
		ld->disp_ifindex = 0;
		err = 0;
	} else {
		err = uplink_leave(ld->up, ifindex, li->chain_at);
	}
	if (err)
		log_warn("loader: leaving the chain of ifindex %d: %s", ifindex, strerror(-err));
	bpf_map_delete_elem(bpf_map__fd(ld->skel->maps.ifaces), &key);
	li->ifindex = 0;
	li->xdp_flags = 0;
	return err;
}

int loader_attach_mode(const struct xdpwg_loader *ld, int ifindex)
{
	const struct loader_iface *li = loader_find_iface(ld, ifindex, NULL);

	if (!li || ifindex <= 0)
		return -ENOENT;
	return li->xdp_flags == XDP_FLAGS_DRV_MODE ? LOADER_MODE_NATIVE : LOADER_MODE_GENERIC;
}

int loader_xsk_key(const struct xdpwg_loader *ld, int ifindex, uint32_t queue)
{
	int slot;

	if (queue >= XDPWG_MAX_QUEUES)
		return -ERANGE;
	if (ifindex <= 0 || !loader_find_iface(ld, ifindex, &slot))
		return -ENOENT;
	return slot * XDPWG_MAX_QUEUES + (int)queue;
}

/* The whole value at once: a reader may see a mix of old and new bytes for the moment of the
 * copy (a mac1 key change can drop a handshake or two; the peer retries). */
static int loader_config_write(struct xdpwg_loader *ld, const struct xdpwg_config *cfg)
{
	uint32_t key = 0;
	int fd = bpf_map__fd(ld->skel->maps.config);

	/* the only writer of this map: capture has a switch of its own (capture_ctl) */
	if (bpf_map_update_elem(fd, &key, cfg, BPF_ANY))
		return -errno;
	ld->cfg = *cfg;
	return 0;
}

int loader_set_port(struct xdpwg_loader *ld, uint16_t port)
{
	struct xdpwg_config cfg = ld->cfg;

	cfg.listen_port = port;
	/* the uplinks' chain says who serves which port (bpftool map dump, stale slots) */
	for (int i = 0; i < XDPWG_MAX_IFACES; i++)
		if (ld->ifaces[i].ifindex && ld->ifaces[i].chain_at != XDPWG_CHAIN_NONE)
			uplink_set_port(ld->up, ld->ifaces[i].ifindex, ld->ifaces[i].chain_at,
					port);
	return loader_config_write(ld, &cfg);
}

int loader_set_mac1_key(struct xdpwg_loader *ld, const uint8_t key[32])
{
	struct xdpwg_config cfg = ld->cfg;

	if (key) {
		memcpy(cfg.mac1_key, key, sizeof(cfg.mac1_key));
		cfg.flags |= XDPWG_CFG_F_MAC1;
	} else {
		memset(cfg.mac1_key, 0, sizeof(cfg.mac1_key));
		cfg.flags &= (uint16_t)~XDPWG_CFG_F_MAC1;
	}
	return loader_config_write(ld, &cfg);
}

int loader_set_under_load(struct xdpwg_loader *ld, bool under_load)
{
	struct xdpwg_config cfg = ld->cfg;

	if (under_load == !!(cfg.flags & XDPWG_CFG_F_UNDER_LOAD))
		return 0;
	if (under_load)
		cfg.flags |= XDPWG_CFG_F_UNDER_LOAD;
	else
		cfg.flags &= (uint16_t)~XDPWG_CFG_F_UNDER_LOAD;
	return loader_config_write(ld, &cfg);
}

int loader_set_pass_unknown(struct xdpwg_loader *ld)
{
	struct xdpwg_config cfg = ld->cfg;

	if (cfg.flags & XDPWG_CFG_F_PASS_UNKNOWN)
		return 0;
	cfg.flags |= XDPWG_CFG_F_PASS_UNKNOWN;
	return loader_config_write(ld, &cfg);
}

int loader_config_get(const struct xdpwg_loader *ld, struct xdpwg_config *out)
{
	*out = ld->cfg;
	return 0;
}

/* A CIDR as a trie key, host bits cleared. */
static int loader_src_key_of(const struct conf_allowedip *a, struct xdpwg_src_key *k)
{
	unsigned int bits, i;

	memset(k, 0, sizeof(*k));
	if (a->family == AF_INET && a->cidr <= 32) {
		k->family = XDPWG_FAMILY_INET;
		memcpy(k->addr, &a->ip4, 4);
		bits = 32;
	} else if (a->family == AF_INET6 && a->cidr <= 128) {
		k->family = XDPWG_FAMILY_INET6;
		memcpy(k->addr, &a->ip6, 16);
		bits = 128;
	} else {
		return -EINVAL;
	}
	for (i = 0; i < bits; i++)
		if (i >= a->cidr)
			k->addr[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
	k->prefixlen = 32 + a->cidr;
	return 0;
}

/* The allowlist's two tries: the one XDP reads now, and the idle one a replace fills. */
static int loader_allow_fd(const struct xdpwg_loader *ld, bool in_force)
{
	bool b = !!(ld->cfg.flags & XDPWG_CFG_F_ALLOW_SRC_B) == in_force;

	return bpf_map__fd(b ? ld->skel->maps.allow_src_b : ld->skel->maps.allow_src);
}

/* Empty one trie. Only ever the idle one: XDP does not read it. */
static int loader_trie_clear(int fd)
{
	struct xdpwg_src_key k, next;
	unsigned int guard = 0;

	/* restart from the first key after each delete: deleting the key a walk stands on
	 * would restart it anyway; bounded by the trie's capacity */
	while (bpf_map_get_next_key(fd, NULL, &next) == 0) {
		k = next;
		if (bpf_map_delete_elem(fd, &k) && errno != ENOENT)
			return -errno;
		if (++guard > 2 * XDPWG_ALLOW_SRC_MAX)
			return -EIO;
	}
	return 0;
}

/*
 * Replace the allowlist, all or nothing: the new list is built in the idle trie, then one write
 * of the config map switches XDP to it (XDPWG_CFG_F_ALLOW_SRC_B) and sets or clears the
 * allowlist flag. Until that write XDP enforces the old list, whole; a list that cannot be built
 * leaves it so. The list replaced stays in the now idle trie, where a program that read the
 * config just before the switch may still be looking, until loader_allow_source_tidy empties it
 * a tick later (or the next replace does).
 */
int loader_allow_source_set(struct xdpwg_loader *ld, const struct conf_allowedip *cidrs, size_t n)
{
	int idle = loader_allow_fd(ld, false);
	struct xdpwg_src_key *want = NULL;
	struct xdpwg_config cfg = ld->cfg;
	uint32_t one = 1;
	size_t i;
	int err = 0;

	if (n > XDPWG_ALLOW_SRC_MAX)
		return -E2BIG;
	if (n) {
		want = calloc(n, sizeof(*want));
		if (!want)
			return -ENOMEM;
		for (i = 0; i < n; i++) {
			err = loader_src_key_of(&cidrs[i], &want[i]);
			if (err)
				goto out;
		}
	}
	if (!n) {
		/* nothing to build: XDP stops reading either trie */
		cfg.flags &= (uint16_t)~XDPWG_CFG_F_ALLOW_SRC;
		err = loader_config_write(ld, &cfg);
		if (!err)
			ld->allow_stale = true;
		goto out;
	}
	err = loader_trie_clear(idle);
	if (err) {
		log_err("loader: emptying the idle allow-source trie: %s", strerror(-err));
		goto out;
	}
	for (i = 0; i < n; i++) {
		if (bpf_map_update_elem(idle, &want[i], &one, BPF_ANY)) {
			err = -errno;
			log_err("loader: allow-source entry %zu: %s", i, strerror(errno));
			/* the list in force was never touched; leave the idle trie empty */
			loader_trie_clear(idle);
			goto out;
		}
	}
	cfg.flags |= XDPWG_CFG_F_ALLOW_SRC;
	cfg.flags ^= XDPWG_CFG_F_ALLOW_SRC_B;
	err = loader_config_write(ld, &cfg);
	if (err)
		loader_trie_clear(idle);
	else
		ld->allow_stale = true;
out:
	free(want);
	return err;
}

/* Called once a tick: the list a replace retired leaves the idle trie (so `bpftool map dump`
 * shows one list), long after any program that could have been reading it has returned. */
void loader_allow_source_tidy(struct xdpwg_loader *ld)
{
	int err;

	if (!ld->allow_stale)
		return;
	ld->allow_stale = false;
	/* with the allowlist off neither trie is read: both go */
	if (!(ld->cfg.flags & XDPWG_CFG_F_ALLOW_SRC))
		err = loader_trie_clear(loader_allow_fd(ld, true));
	else
		err = 0;
	if (!err)
		err = loader_trie_clear(loader_allow_fd(ld, false));
	if (err)
		log_warn("loader: emptying the retired allow-source trie: %s", strerror(-err));
}

/* One of our addresses as the map stores it: the family checked, IPv4's unused bytes zero. */
static int loader_addr_key_norm(const struct xdpwg_addr_key *in, struct xdpwg_addr_key *k)
{
	memset(k, 0, sizeof(*k));
	k->family = in->family;
	if (in->family == XDPWG_FAMILY_INET)
		memcpy(k->addr, in->addr, 4);
	else if (in->family == XDPWG_FAMILY_INET6)
		memcpy(k->addr, in->addr, 16);
	else
		return -EINVAL;
	return 0;
}

int loader_set_local_addrs(struct xdpwg_loader *ld, const struct xdpwg_addr_key *keys, size_t n)
{
	int fd = bpf_map__fd(ld->skel->maps.local_addrs);
	struct xdpwg_addr_key want[XDPWG_LOCAL_ADDRS_MAX], old[XDPWG_LOCAL_ADDRS_MAX], k, next;
	struct xdpwg_config cfg = ld->cfg;
	size_t i, j, nold = 0;
	uint32_t zero = 0;
	int err;

	if (n > XDPWG_LOCAL_ADDRS_MAX)
		return -E2BIG;
	for (i = 0; i < n; i++) {
		err = loader_addr_key_norm(&keys[i], &want[i]);
		if (err)
			return err;
	}
	/* no addresses: every destination counts as ours again, before the set empties */
	if (!n) {
		cfg.flags &= (uint16_t)~XDPWG_CFG_F_LOCAL_ADDRS;
		err = loader_config_write(ld, &cfg);
		if (err)
			return err;
	}
	/* the new set goes in beside the old one, so XDP never sees it empty or partial */
	for (i = 0; i < n; i++) {
		if (bpf_map_update_elem(fd, &want[i], &zero, BPF_ANY)) {
			err = -errno;
			log_err("loader: local address %zu: %s", i, strerror(errno));
			return err;
		}
	}
	if (n) {
		cfg.flags |= XDPWG_CFG_F_LOCAL_ADDRS;
		err = loader_config_write(ld, &cfg);
		if (err)
			return err;
	}
	/* then the stale ones go */
	if (bpf_map_get_next_key(fd, NULL, &next) == 0) {
		do {
			k = next;
			if (nold < XDPWG_LOCAL_ADDRS_MAX)
				old[nold++] = k;
		} while (bpf_map_get_next_key(fd, &k, &next) == 0);
	}
	for (i = 0; i < nold; i++) {
		bool keep = false;

		for (j = 0; j < n && !keep; j++)
			keep = memcmp(&old[i], &want[j], sizeof(k)) == 0;
		if (!keep && bpf_map_delete_elem(fd, &old[i]) && errno != ENOENT)
			log_warn("loader: removing a local address: %s", strerror(errno));
	}
	return 0;
}

int loader_local_addrs_fd(const struct xdpwg_loader *ld)
{
	return bpf_map__fd(ld->skel->maps.local_addrs);
}

int loader_gateways_fd(const struct xdpwg_loader *ld)
{
	return bpf_map__fd(ld->skel->maps.gateways);
}

int loader_gateway_addrs_fd(const struct xdpwg_loader *ld)
{
	return bpf_map__fd(ld->skel->maps.gateway_addrs);
}

int loader_session_add(struct xdpwg_loader *ld, uint32_t index, uint32_t peer_id)
{
	struct xdpwg_session s = { .peer_id = peer_id };

	if (bpf_map_update_elem(bpf_map__fd(ld->skel->maps.sessions), &index, &s, BPF_ANY))
		return -errno;
	return 0;
}

int loader_session_del(struct xdpwg_loader *ld, uint32_t index)
{
	if (bpf_map_delete_elem(bpf_map__fd(ld->skel->maps.sessions), &index))
		return -errno;
	return 0;
}

int loader_peer_update(struct xdpwg_loader *ld, uint32_t peer_id, const struct wg_endpoint *ep,
		       const uint8_t nexthop_mac[6], const uint8_t local_mac[6], uint32_t flags)
{
	int fd = bpf_map__fd(ld->skel->maps.peers);
	struct xdpwg_peer p;

	if (bpf_map_lookup_elem(fd, &peer_id, &p))
		memset(&p, 0, sizeof(p));
	memset(&p.endpoint, 0, sizeof(p.endpoint));
	memset(&p.local_src, 0, sizeof(p.local_src));
	p.local_ifindex = 0;
	if (ep && ep->addr.sa.sa_family == AF_INET) {
		p.endpoint.family = XDPWG_FAMILY_INET;
		p.endpoint.addr.v4 = ep->addr.in4.sin_addr.s_addr;
		p.endpoint.port = ep->addr.in4.sin_port;
		p.local_src.v4 = ep->src4.s_addr;
		p.local_ifindex = (uint32_t)ep->src_ifindex;
	} else if (ep && ep->addr.sa.sa_family == AF_INET6) {
		p.endpoint.family = XDPWG_FAMILY_INET6;
		memcpy(p.endpoint.addr.v6, &ep->addr.in6.sin6_addr, 16);
		p.endpoint.port = ep->addr.in6.sin6_port;
		memcpy(p.local_src.v6, &ep->src6, 16);
		p.local_ifindex = (uint32_t)ep->src_ifindex;
	}
	if (nexthop_mac)
		memcpy(p.nexthop_mac, nexthop_mac, 6);
	if (local_mac)
		memcpy(p.local_mac, local_mac, 6);
	p.flags = flags;
	if (bpf_map_update_elem(fd, &peer_id, &p, BPF_ANY))
		return -errno;
	return 0;
}

int loader_peer_set_paths(struct xdpwg_loader *ld, uint32_t peer_id, const struct wg_endpoint *eps,
			  size_t n)
{
	int fd = bpf_map__fd(ld->skel->maps.peers);
	struct xdpwg_peer p;

	if (bpf_map_lookup_elem(fd, &peer_id, &p))
		return -errno;
	memset(p.paths, 0, sizeof(p.paths));
	for (size_t i = 0; i < n && i < XDPWG_PEER_PATHS; i++) {
		const struct wg_endpoint *ep = &eps[i];

		if (ep->addr.sa.sa_family == AF_INET) {
			p.paths[i].family = XDPWG_FAMILY_INET;
			p.paths[i].addr.v4 = ep->addr.in4.sin_addr.s_addr;
			p.paths[i].port = ep->addr.in4.sin_port;
		} else if (ep->addr.sa.sa_family == AF_INET6) {
			p.paths[i].family = XDPWG_FAMILY_INET6;
			memcpy(p.paths[i].addr.v6, &ep->addr.in6.sin6_addr, 16);
			p.paths[i].port = ep->addr.in6.sin6_port;
		}
	}
	if (bpf_map_update_elem(fd, &peer_id, &p, BPF_EXIST))
		return -errno;
	return 0;
}

int loader_peer_delete(struct xdpwg_loader *ld, uint32_t peer_id)
{
	if (bpf_map_delete_elem(bpf_map__fd(ld->skel->maps.peers), &peer_id))
		return -errno;
	return 0;
}

int loader_peer_get(const struct xdpwg_loader *ld, uint32_t peer_id, struct xdpwg_peer *out)
{
	if (bpf_map_lookup_elem(bpf_map__fd(ld->skel->maps.peers), &peer_id, out))
		return -errno;
	return 0;
}

int loader_peer_set_tx(struct xdpwg_loader *ld, uint32_t peer_id, uint64_t packets, uint64_t bytes,
		       struct xdpwg_endpoint *written)
{
	int fd = bpf_map__fd(ld->skel->maps.peers);
	struct xdpwg_peer p;

	if (bpf_map_lookup_elem(fd, &peer_id, &p))
		return -errno;
	p.tx_packets = packets;
	p.tx_bytes = bytes;
	/* BPF_EXIST: a peer removed meanwhile stays removed */
	if (bpf_map_update_elem(fd, &peer_id, &p, BPF_EXIST))
		return -errno;
	if (written)
		*written = p.endpoint;
	return 0;
}

int loader_stats(const struct xdpwg_loader *ld, uint64_t out[XDPWG_STAT_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	int fd = bpf_map__fd(ld->skel->maps.stats);
	uint64_t *vals;
	uint32_t k;
	int c, err = 0;

	if (ncpu <= 0)
		return ncpu ? ncpu : -EINVAL;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (k = 0; k < XDPWG_STAT_MAX; k++) {
		out[k] = 0;
		if (bpf_map_lookup_elem(fd, &k, vals)) {
			err = -errno;
			break;
		}
		for (c = 0; c < ncpu; c++)
			out[k] += vals[c];
	}
	free(vals);
	return err;
}

int loader_prog_fd(const struct xdpwg_loader *ld)
{
	return bpf_program__fd(ld->skel->progs.xdpwg_rx);
}

bool loader_meta_inline(const struct xdpwg_loader *ld)
{
	return ld->skel->rodata->meta_inline;
}

int loader_xsks_fd(const struct xdpwg_loader *ld)
{
	return bpf_map__fd(ld->skel->maps.xsks);
}

int loader_events_fd(const struct xdpwg_loader *ld)
{
	return bpf_map__fd(ld->skel->maps.events);
}

int loader_peers_fd(const struct xdpwg_loader *ld)
{
	return bpf_map__fd(ld->skel->maps.peers);
}

int loader_sessions_fd(const struct xdpwg_loader *ld)
{
	return bpf_map__fd(ld->skel->maps.sessions);
}

int loader_allow_src_fd(const struct xdpwg_loader *ld)
{
	return loader_allow_fd(ld, true);
}

int loader_hs_buckets_fd(const struct xdpwg_loader *ld)
{
	return bpf_map__fd(ld->skel->maps.hs_buckets);
}

const char *loader_pin_dir(const struct xdpwg_loader *ld)
{
	return ld->pinned ? ld->pin_dir : "";
}

/* --- Appended by the observability module (xdpwgctl capture) --- */

int loader_capture_fd(const struct xdpwg_loader *ld)
{
	return bpf_map__fd(ld->skel->maps.capture);
}

int loader_capture_tx_fd(const struct xdpwg_loader *ld)
{
	return bpf_map__fd(ld->skel->maps.capture_tx);
}

const volatile struct xdpwg_capture_ctl *loader_capture_ctl(const struct xdpwg_loader *ld)
{
	return ld->capture_ctl_mem;
}
