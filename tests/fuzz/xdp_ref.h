/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A reference classifier for the XDP program, written from docs/security.md and the agreed edge
 * semantics (/work/spec/edge-xdp.md, "Classification order"), not from bpf/: given a frame and
 * what the maps hold, it says what XDP must do with it (pass / drop with a reason / redirect),
 * which counters move, and what metadata, peer updates, events and capture records it writes.
 * tests/fuzz/fuzz_xdp.c runs the real program on the same frame and compares.
 */
#ifndef XDP_REF_H
#define XDP_REF_H

#include <stddef.h>
#include <stdint.h>

#include "xdpwg_kern_user.h"
#include "xdpwg_wire.h"

/* The edge fixes' names (spec: appended after XDPWG_STAT_UNKNOWN_INDEX_PASSED in this order).
 * Enum constants cannot be tested with #ifndef, so scripts/fuzz.sh defines XDPWG_HDR_HAS_EDGE when
 * headers/xdpwg_kern_user.h has them; until then they are defined here with the values they
 * will have, and afterwards the header's values are checked against these. */
#ifdef XDPWG_HDR_HAS_EDGE
#define REF_STAT_PASS_TRANSIT  XDPWG_STAT_PASS_TRANSIT
#define REF_STAT_FRAG_PASSED   XDPWG_STAT_FRAG_PASSED
#define REF_STAT_FRAG_BUDGET   XDPWG_STAT_FRAG_BUDGET
#define REF_STAT_IPV6_EXT_DEEP XDPWG_STAT_IPV6_EXT_DEEP
/* the reference's counters end with the edge's four: a cluster's (#17) come after them, and the
 * reference runs the program without a cluster (gateways map empty), where none of them moves */
#define REF_STAT_MAX	       (XDPWG_STAT_IPV6_EXT_DEEP + 1)
#define REF_CFG_F_LOCAL_ADDRS  XDPWG_CFG_F_LOCAL_ADDRS
#define REF_LOCAL_ADDRS_MAX    XDPWG_LOCAL_ADDRS_MAX
#define ref_addr_key	       xdpwg_addr_key
#else
enum {
	REF_STAT_PASS_TRANSIT = XDPWG_STAT_UNKNOWN_INDEX_PASSED + 1,
	REF_STAT_FRAG_PASSED,
	REF_STAT_FRAG_BUDGET,
	REF_STAT_IPV6_EXT_DEEP,
	REF_STAT_MAX,
};
#define REF_CFG_F_LOCAL_ADDRS (1u << 5)
#define REF_LOCAL_ADDRS_MAX   256
struct ref_addr_key {
	__u32 family;
	__u8 addr[16];
};
#endif
_Static_assert(REF_STAT_PASS_TRANSIT == XDPWG_STAT_UNKNOWN_INDEX_PASSED + 1, "spec order");
_Static_assert(REF_STAT_IPV6_EXT_DEEP == XDPWG_STAT_UNKNOWN_INDEX_PASSED + 4, "spec order");
_Static_assert(REF_STAT_MAX == REF_STAT_IPV6_EXT_DEEP + 1, "spec: nothing after the new four");
_Static_assert(sizeof(struct ref_addr_key) == 20, "spec: local_addrs key is 20 bytes");

#define REF_IPV6_EXT_MAX 6 /* spec: XDPWG_IPV6_EXT_MAX */

/* XDP verdicts (linux/bpf.h's values, without including it here) */
enum {
	REF_XDP_DROP = 1,
	REF_XDP_PASS = 2,
	REF_XDP_REDIRECT = 4
};

/* A token bucket as far as one frame can tell: the harness sets the frame's source's bucket to
 * one of these before each run, so that no verdict depends on the clock. */
enum ref_bucket {
	REF_BUCKET_ABSENT = 0, /* no entry: a source's first message always passes */
	REF_BUCKET_FULL,       /* a full burst of credit */
	REF_BUCKET_EMPTY,      /* no credit, none coming within the run */
};

enum {
	REF_MAX_ENTRIES = 4
};

struct ref_maps {
	int have_config;
	struct xdpwg_config cfg;
	int nsessions;
	struct {
		uint32_t index; /* host order */
		uint32_t peer_id;
	} sessions[REF_MAX_ENTRIES];
	int npeers;
	struct {
		uint32_t id;
		struct xdpwg_endpoint endpoint;
		uint32_t flags;
		int event_recent; /* last_event_ns within event_interval_ns of now */
	} peers[REF_MAX_ENTRIES];
	int nallow;
	struct {
		uint32_t family;
		uint8_t addr[16];
		uint32_t cidr; /* 0..32 or 0..128 */
	} allow[REF_MAX_ENTRIES];
	int nlocal;
	struct ref_addr_key local[REF_MAX_ENTRIES];
	enum ref_bucket hs_bucket;   /* the frame's source's handshake bucket */
	enum ref_bucket frag_bucket; /* the frame's source's fragment budget */
};

/* What the verdict depended on: lets a campaign against a program with known, open differences
 * go on hunting the others (fuzz_xdp.c's XDPWG_FUZZ_SKIP). */
enum ref_path {
	REF_PATH_IPV6_EXT = 1u << 0, /* an IPv6 extension header was walked */
	REF_PATH_FRAG = 1u << 1,     /* an IPv4 or IPv6 fragment */
	REF_PATH_TRANSIT = 1u << 2,  /* local_addrs decided */
	REF_PATH_EXT_DEEP = 1u << 3, /* the chain was too long or ran past the frame */
};

enum ref_capture {
	REF_CAPTURE_NO = 0,
	REF_CAPTURE_YES,   /* a datagram to the listen port decided in step 7: always mirrored */
	REF_CAPTURE_MAYBE, /* the spec does not say (the new step 4/5 verdicts) */
};

struct ref_result {
	int action;	     /* REF_XDP_*: the spec's verdict */
	uint32_t reason;     /* the counter the verdict goes to */
	uint64_t extra;	     /* bit s: counter s moves too (new_source, event_sent, ...) */
	int meta;	     /* metadata written in front of the frame */
	struct xdpwg_meta m; /* rx_ns not predicted */
	int peer_hit; /* peer peer_id's rx_packets +1, rx_bytes + rx_bytes, last_seen = now */
	uint32_t peer_id, rx_bytes;
	int event; /* a new-source event with ev_src */
	struct xdpwg_endpoint ev_src;
	enum ref_capture capture;
	unsigned paths; /* enum ref_path */
};

/* mac1 = keyed BLAKE2s-128 over msg[0..len) (OpenSSL's BLAKE2SMAC: independent of both the BPF
 * code and lib/crypto.c). */
void ref_mac1(const uint8_t key[32], const uint8_t *msg, size_t len, uint8_t out[16]);

void ref_classify(const uint8_t *frame, size_t len, const struct ref_maps *maps,
		  struct ref_result *r);

const char *ref_stat_name(uint32_t s);

#endif
