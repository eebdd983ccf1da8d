/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The XDP program's maps and load-time tunables, in one place: they are the ABI with userspace
 * (user/loader.c pins them by these names, the skeleton exposes the tunables by these names),
 * so they are kept apart from the code that uses them. Keys and values are declared in
 * headers/xdpwg_kern_user.h. (harden.bpf.h keeps its BLAKE2s scratch map to itself: it is
 * working memory, not shared with userspace.)
 *
 * Include from exactly one BPF translation unit (bpf/xdpwg.bpf.c): it defines the maps.
 */
#ifndef XDPWG_MAPS_BPF_H
#define XDPWG_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "xdpwg_kern_user.h"

/* Tunables, set by the loader before load. */
const volatile __u64 event_interval_ns = 100000000ULL; /* per-peer new-source event spacing */
const volatile __u8 handshakes_to_xsk = 1; /* 0: valid handshake messages go to the stack */
const volatile __u32 hs_rate = XDPWG_HS_RATE_DEFAULT; /* handshake messages/s per source; 0: off */
const volatile __u32 hs_burst = XDPWG_HS_BURST_DEFAULT; /* bucket depth in messages */
/* first fragments to our port per second and source (0: off), and their bucket depth */
const volatile __u32 frag_rate = XDPWG_FRAG_RATE_DEFAULT;
const volatile __u32 frag_burst = XDPWG_FRAG_BURST_DEFAULT;
/* 1: struct xdpwg_meta goes inside the frame, in front of the Ethernet header
 * (bpf_xdp_adjust_head), for kernels whose verifier refuses bpf_xdp_adjust_meta to XDP
 * programs; the loader probes for it (io/xdp_meta.c). 0: in the metadata area. */
const volatile __u8 meta_inline = 0;
/* BPF_PROG_TEST_RUN fixtures only (loader_opts.keep_inline_meta): with meta_inline, a frame
 * passed up keeps the metadata in front so that the tests can read it */
const volatile __u8 meta_inline_keep = 0;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpwg_config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XDPWG_DEFAULT_MAX_SESSIONS);
	__type(key, __u32);
	__type(value, struct xdpwg_session);
} sessions SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XDPWG_DEFAULT_MAX_PEERS);
	__type(key, __u32);
	__type(value, struct xdpwg_peer);
} peers SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDPWG_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct xdpwg_iface);
} ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, XDPWG_STAT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XDPWG_EVENTS_BYTES);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, XDPWG_XSKS_MAX);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

/* Source allowlist: see struct xdpwg_src_key. Used only with XDPWG_CFG_F_ALLOW_SRC. Two tries,
 * one in force and one idle (XDPWG_CFG_F_ALLOW_SRC_B says which): a replace is built aside. */
struct xdpwg_allow_trie {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, XDPWG_ALLOW_SRC_MAX);
	__type(key, struct xdpwg_src_key);
	__type(value, __u32);
};
struct xdpwg_allow_trie allow_src SEC(".maps");
struct xdpwg_allow_trie allow_src_b SEC(".maps");

/* Per-source handshake token buckets; LRU: a flood of sources evicts the oldest buckets, which
 * then start full again (the same trade the kernel's table makes when it is full). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XDPWG_HS_BUCKETS);
	__type(key, struct xdpwg_bucket_key);
	__type(value, struct xdpwg_bucket);
} hs_buckets SEC(".maps");

/* Our own addresses: see struct xdpwg_addr_key. Used only with XDPWG_CFG_F_LOCAL_ADDRS. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDPWG_LOCAL_ADDRS_MAX);
	__type(key, struct xdpwg_addr_key);
	__type(value, __u32);
} local_addrs SEC(".maps");

/* Per-source budget for first fragments to our port: a bucket per source like hs_buckets, in
 * its own map so a fragment flood cannot spend a source's handshake tokens (or the reverse). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, XDPWG_FRAG_BUCKETS);
	__type(key, struct xdpwg_bucket_key);
	__type(value, struct xdpwg_bucket);
} frag_buckets SEC(".maps");

/* xdpwgctl capture: see struct xdpwg_capture. Written only while capture_ctl is on. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, XDPWG_CAPTURE_BYTES);
} capture SEC(".maps");

/* xdpwgctl capture, the other direction: frames the AF_XDP workers sent (XDPWG_CAPTURE_TX_RECORDS
 * records, action XDPWG_CAPTURE_ACTION_TX). Userspace only: the workers push, the ctl pops. */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, XDPWG_CAPTURE_TX_RECORDS);
	__type(value, struct xdpwg_capture);
} capture_tx SEC(".maps");

/* xdpwgctl capture's switch: see struct xdpwg_capture_ctl. The ctl is its only writer.
 * Mmapable: the AF_XDP workers read it from memory on every send (capture_tx). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct xdpwg_capture_ctl);
} capture_ctl SEC(".maps");

/* A gateway cluster: see struct xdpwg_gateway. Entry 0 is this gateway, entry N member N. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, XDPWG_GATEWAYS_MAX);
	__type(key, __u32);
	__type(value, struct xdpwg_gateway);
} gateways SEC(".maps");

/* The same members keyed by underlay address (struct xdpwg_addr_key, value: the gateway id):
 * who may hand us IP-in-IP. Our own address is not in it. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, XDPWG_GATEWAYS_MAX);
	__type(key, struct xdpwg_addr_key);
	__type(value, __u32);
} gateway_addrs SEC(".maps");

#endif
