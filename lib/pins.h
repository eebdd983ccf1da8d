/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The XDP program's pinned maps as every binary sees them, without loading the program: the pin
 * names and where they live, what each counter of the stats map means, and the only writes a
 * tool makes (xdpwgctl detach removes a stale attachment and its pins; xdpwgctl capture flips one
 * flag). The loader (io/loader.c) is the program's owner and builds on these; xdpwgctl links
 * this and never the loader, the engine or the daemon.
 */
#ifndef XDPWG_PINS_H
#define XDPWG_PINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xdpwg_kern_user.h"

struct bpf_object;

#define BPFFS_MOUNT "/sys/fs/bpf"

/* The maps pinned under <XDPWG_PIN_ROOT>/<tun>/, by their map names. */
extern const char *const pins_maps[];
enum pins_constants {
	PINS_NMAPS = 17,
	PINS_PROG_MAX_MAPS = 32, /* maps of one program pins_prog_map looks at */
};

/* A counter's name in stats, metrics and the drop log ("unknown" past the end). */
const char *pins_stat_name(enum xdpwg_stat s);

/* What the XDP program did with a packet counted under a reason. */
enum pins_stat_action {
	PINS_STAT_INFO,	    /* a count that is neither a verdict nor a drop (events, ...) */
	PINS_STAT_DROP,	    /* XDP_DROP */
	PINS_STAT_PASS,	    /* XDP_PASS to the kernel */
	PINS_STAT_REDIRECT, /* into an AF_XDP socket */
};
enum pins_stat_action pins_stat_action(enum xdpwg_stat s);

/* The map named name among those program prog_id uses: an fd, -ENOENT when it has none of that
 * name (PINS_PROG_MAX_MAPS are looked at), or -errno. */
int pins_prog_map(uint32_t prog_id, const char *name);
/* Whether a slot of an uplink's chain (rows map) is held by a daemon that still runs. */
bool pins_owner_live(const struct xdpwg_chain_owner *o);

/* Mount bpffs at /sys/fs/bpf unless one is there already (ip netns exec remounts /sys). */
int pins_ensure_bpffs(void);
/* Whether name is usable as an interface, socket and pin directory name: [a-zA-Z0-9_=+.-]{1,15},
 * not "." or "..", like wg-quick, so that /var/run/wireguard/NAME.sock cannot point elsewhere. */
bool ifname_valid(const char *name);
/* The id of the map behind fd, 0 on failure. */
uint32_t pins_map_id(int fd);
/* Remove <dir>/<map> for every pinned map, then dir itself (and root if now empty). With obj,
 * only pins of obj's own maps go: a newer daemon may have replaced them already. */
void pins_remove(const char *root, const char *dir, struct bpf_object *obj);
/* An fd on program id with its name copied to name, or -errno. */
int pins_prog_name_by_id(uint32_t id, char *name, size_t len);
/* ifname's index, -EINVAL for a bad name, -ENODEV when there is no such interface. */
int pins_ifindex(const char *ifname);
/* Detach a program named XDPWG_PROG_NAME or XDPWG_MUX_NAME (other than keep_id) from ifindex in
 * any mode but keep_mode_flags. How many were detached, -EBUSY if a foreign program is attached, or -errno. */
int pins_detach_ours(int ifindex, uint32_t keep_id, uint32_t keep_mode_flags);

/* xdpwgctl detach IFACE: detach a program named XDPWG_PROG_NAME or XDPWG_MUX_NAME (the entry
 * program tunnels sharing the uplink run behind) from ifname (any mode; nothing else is touched), and when tun_name is given remove <XDPWG_PIN_ROOT>/<tun_name>/ and its pins.
 * 0 when something was removed or nothing was there; -errno on failure. */
int pins_detach_stale(const char *ifname, const char *tun_name);

/* Switch capture on or off: the capture_ctl map pinned in pin_dir ("<root>/<tun>"), whose only
 * writer this is (the daemon writes the config map, never this one). 0 or -errno. */
int pins_capture_set(const char *pin_dir, bool on);

#endif
