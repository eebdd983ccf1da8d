/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The XDP program's owner: loads bpf/xdpwg.bpf.c (skeleton), sets its tunables, pins its maps
 * under /sys/fs/bpf/xdpwg/TUNNAME/ (mounting bpffs there when needed), attaches it to one or more
 * uplinks (native, falling back to generic with a warning, or a forced mode), and is the only
 * writer of the configuration, session and peer maps. At start it replaces what a killed daemon
 * left behind: an attachment of a program named XDPWG_PROG_NAME and the pins of the same TUN.
 *
 * Every function returns 0 (or a non-negative value) on success and -errno on failure. Not
 * thread-safe: call from the control thread (loader_peer_update is also called from workers, on
 * a move; the map operations themselves are atomic per element).
 */
#ifndef XDPWG_LOADER_H
#define XDPWG_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"
#include "xdpwg_kern_user.h"

struct xdpwg_loader;
struct conf_allowedip;

enum loader_mode {
	LOADER_MODE_AUTO = 0, /* native, else generic with a warning */
	LOADER_MODE_NATIVE,
	LOADER_MODE_GENERIC,
};

struct loader_opts {
	const char *tun_name; /* pins go to <pin_root>/<tun_name>/; required */
	/* the uplinks loader_attach will be given, when known: the chain they share with other
	 * tunnels is found before the program is loaded (uplink.h) */
	const char *const *ifaces;
	unsigned int n_ifaces;
	enum loader_mode mode;	    /* for an attach as the program loads (libxdp's dispatcher) */
	const char *pin_root;	    /* NULL: XDPWG_PIN_ROOT */
	bool no_pin;		    /* tests: load without pinning anything */
	uint32_t max_peers;	    /* 0: XDPWG_DEFAULT_MAX_PEERS */
	uint32_t max_sessions;	    /* 0: XDPWG_DEFAULT_MAX_SESSIONS */
	uint64_t event_interval_ns; /* 0: program default (100 ms) */
	bool handshakes_to_stack;   /* pass valid handshake messages to the kernel socket */
	/* per-source handshake token bucket (types 1-3): messages per second and burst;
	 * 0: the kernel's 20/s and 5. hs_rate UINT32_MAX: no bucket at all. */
	uint32_t hs_rate;
	uint32_t hs_burst;
	/* per-source budget for first fragments to the listen port, the same way: 0 for the
	 * defaults (XDPWG_FRAG_RATE_DEFAULT/s, XDPWG_FRAG_BURST_DEFAULT), UINT32_MAX: no limit */
	uint32_t frag_rate;
	uint32_t frag_burst;
	/* BPF_PROG_TEST_RUN fixtures only: with the metadata inline (xdp_meta.h), a frame passed
	 * up keeps it in front, where the tests read it as they read the metadata area. Never
	 * for an attached program: the kernel would take our 24 bytes for the Ethernet header */
	bool keep_inline_meta;
};

/* Open, configure, load and pin. Stale pins of the same TUN are removed first. */
int loader_create(const struct loader_opts *opts, struct xdpwg_loader **out);
/* Detach from every attached interface, unpin, remove the pin directory, free. NULL is fine. */
void loader_destroy(struct xdpwg_loader *ld);

/* Attach to an interface (by name): our program takes a slot in the uplink's chain, behind the
 * entry program that libxdp attaches (uplink.h); a slot a killed daemon of the same TUN left is
 * reclaimed, a foreign program libxdp cannot share with is refused. Returns the ifindex. */
int loader_attach(struct xdpwg_loader *ld, const char *ifname, enum loader_mode mode);
int loader_detach(struct xdpwg_loader *ld, int ifindex);
/* The mode an interface ended up in (LOADER_MODE_NATIVE or _GENERIC), or -ENOENT. */
int loader_attach_mode(const struct xdpwg_loader *ld, int ifindex);
/* xsks map key for (ifindex, rx queue): what an AF_XDP socket on that queue registers under. */
int loader_xsk_key(const struct xdpwg_loader *ld, int ifindex, uint32_t queue);

int loader_set_port(struct xdpwg_loader *ld, uint16_t port); /* 0: pass everything */

/* XDP checks mac1 of initiations and responses with key = HASH("mac1----" || our public key)
 * (derived from the public key only; never pass a secret). NULL: no check (no identity). */
int loader_set_mac1_key(struct xdpwg_loader *ld, const uint8_t key[32]);
/* Userspace's handshake queue is deep: XDP drops handshakes from sources over their bucket
 * before any BLAKE2s work; valid initiations still pass (userspace answers with cookies). */
int loader_set_under_load(struct xdpwg_loader *ld, bool under_load);
/* The sessions map could not take a session: from now on XDP passes unknown receiver indexes
 * to the kernel socket instead of dropping them. One way, until the daemon restarts. */
int loader_set_pass_unknown(struct xdpwg_loader *ld);
/* Replace the source allowlist (every datagram to the listen port from elsewhere is dropped
 * and counted). n 0: any source. All or nothing: built in the idle one of two tries and switched
 * to in one config write, so XDP enforces the old list or the new one, never a mix; on any error
 * the old list stays in force. -EINVAL for a bad family or CIDR, -E2BIG beyond
 * XDPWG_ALLOW_SRC_MAX entries. */
int loader_allow_source_set(struct xdpwg_loader *ld, const struct conf_allowedip *cidrs, size_t n);
/* Once a tick: empty the trie a replace retired (see loader_allow_source_set). */
void loader_allow_source_tidy(struct xdpwg_loader *ld);
/* Replace the set of our own addresses (local_addrs) and turn the destination match on
 * (XDPWG_CFG_F_LOCAL_ADDRS): UDP to any other address is then transit and passes untouched.
 * The new set is added beside the old one before stale entries go, so XDP never sees an empty
 * or partial set. n 0: the match is turned off first (every destination is ours again), then
 * the set emptied. -EINVAL for a bad family (nothing changed), -E2BIG beyond
 * XDPWG_LOCAL_ADDRS_MAX. */
int loader_set_local_addrs(struct xdpwg_loader *ld, const struct xdpwg_addr_key *keys, size_t n);
int loader_local_addrs_fd(const struct xdpwg_loader *ld);
/* A gateway cluster's maps (struct xdpwg_gateway); io/cluster_fwd.c is their only writer. */
int loader_gateways_fd(const struct xdpwg_loader *ld);
int loader_gateway_addrs_fd(const struct xdpwg_loader *ld);
/* The configuration map's value as the loader last wrote it. */
int loader_config_get(const struct xdpwg_loader *ld, struct xdpwg_config *out);
/* The allowlist trie XDP reads now. */
int loader_allow_src_fd(const struct xdpwg_loader *ld);
int loader_hs_buckets_fd(const struct xdpwg_loader *ld);

int loader_session_add(struct xdpwg_loader *ld, uint32_t index, uint32_t peer_id);
int loader_session_del(struct xdpwg_loader *ld, uint32_t index);

/* Create or update a peer; counters and last-seen are kept (read-modify-write: an rx count XDP
 * adds during the update can be lost; fine for statistics). ep NULL or unset: no endpoint.
 * ep's cached source (src4/src6, src_ifindex) becomes local_src/local_ifindex. nexthop_mac and
 * local_mac may be NULL (keep). flags: enum xdpwg_peer_flags. */
int loader_peer_update(struct xdpwg_loader *ld, uint32_t peer_id, const struct wg_endpoint *ep,
		       const uint8_t nexthop_mac[6], const uint8_t local_mac[6], uint32_t flags);
/* A multipath peer's other recent sources (n <= XDPWG_PEER_PATHS; the rest cleared) into its
 * existing entry, so that XDP takes their packets for no new source. 0 or -errno. */
int loader_peer_set_paths(struct xdpwg_loader *ld, uint32_t peer_id, const struct wg_endpoint *eps,
			  size_t n);
int loader_peer_delete(struct xdpwg_loader *ld, uint32_t peer_id);
/* The peer's map entry as it is now (counters, last seen, endpoint). */
int loader_peer_get(const struct xdpwg_loader *ld, uint32_t peer_id, struct xdpwg_peer *out);
/* Set the transmit counters to the engine's totals (control thread, peer_sync.c). A
 * read-modify-write like loader_peer_update: the endpoint it read is written back and returned
 * in *written (may be NULL), so the caller can repair a move that a worker wrote meanwhile. */
int loader_peer_set_tx(struct xdpwg_loader *ld, uint32_t peer_id, uint64_t packets, uint64_t bytes,
		       struct xdpwg_endpoint *written);

/* Per-reason counters summed over CPUs. */
int loader_stats(const struct xdpwg_loader *ld, uint64_t out[XDPWG_STAT_MAX]);

int loader_prog_fd(const struct xdpwg_loader *ld);
int loader_xsks_fd(const struct xdpwg_loader *ld);
/* The program writes struct xdpwg_meta inside the frame, in front of it (xdp_meta.h): the
 * AF_XDP sockets must step over it (xsk_port_opts.meta_inline). */
bool loader_meta_inline(const struct xdpwg_loader *ld);
int loader_events_fd(const struct xdpwg_loader *ld); /* ring buffer: ring_buffer__new on it */
int loader_peers_fd(const struct xdpwg_loader *ld);
int loader_sessions_fd(const struct xdpwg_loader *ld);
/* "<pin_root>/<tun>" or "" with no_pin. */
const char *loader_pin_dir(const struct xdpwg_loader *ld);

/* --- Appended by the observability module (xdpwgctl capture) --- */

/* The capture ring buffer (struct xdpwg_capture records while XDPWG_CFG_F_CAPTURE is set). */
int loader_capture_fd(const struct xdpwg_loader *ld);
/* The capture_tx queue (struct xdpwg_capture records of sent frames), and xdpwgctl capture's
 * switch as mapped memory (read, never written, here; NULL if it could not be mapped). */
int loader_capture_tx_fd(const struct xdpwg_loader *ld);
const volatile struct xdpwg_capture_ctl *loader_capture_ctl(const struct xdpwg_loader *ld);

#endif
