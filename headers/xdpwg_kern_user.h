/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Everything the XDP program (bpf/xdpwg.bpf.c) and userspace (io/loader.c, io/xsk.c) share:
 * map keys and values, the metadata in front of every redirected frame, ring-buffer event
 * records and the per-reason counters. Only <linux/types.h> types, so both sides include it.
 * Every struct carries _Static_asserts on its size and every field's offset: a change here is an
 * ABI change between a pinned map and the daemon reading it.
 *
 * No key material ever enters a map: sessions map a receiver index to a peer id, nothing more.
 */
#ifndef XDPWG_KERN_USER_H
#define XDPWG_KERN_USER_H

#include <linux/types.h>

#define XDPWG_PROG_NAME	   "xdpwg_rx"  /* the program's name: how a stale attachment is found */
#define XDPWG_MUX_NAME	   "xdpwg_mux" /* the uplink's entry program (bpf/xdpwg_mux.bpf.c) */
#define XDPWG_PIN_ROOT	   "/sys/fs/bpf/xdpwg"
#define XDPWG_META_MAGIC   0x7767u /* "wg": marks metadata written by this program */
#define XDPWG_FAMILY_INET  2	   /* AF_INET, without pulling in <sys/socket.h> */
#define XDPWG_FAMILY_INET6 10	   /* AF_INET6 */

enum xdpwg_limits {
	XDPWG_MAX_QUEUES = 64, /* XSK slots per interface */
	XDPWG_MAX_IFACES = 16, /* interfaces sharing one program and its maps */
	XDPWG_XSKS_MAX = XDPWG_MAX_QUEUES * XDPWG_MAX_IFACES,
	XDPWG_DEFAULT_MAX_PEERS = 65536,
	XDPWG_DEFAULT_MAX_SESSIONS = 3 * 65536, /* current, previous, next keypair per peer */
	XDPWG_EVENTS_BYTES = 256 * 1024,	/* ring buffer size */
	XDPWG_HS_BUCKETS = 32768,		/* per-source handshake token buckets (LRU) */
	XDPWG_ALLOW_SRC_MAX = 4096,		/* source allowlist CIDRs */
	XDPWG_HS_RATE_DEFAULT = 20,		/* handshake messages per second and source */
	XDPWG_HS_BURST_DEFAULT = 5,		/* bucket depth */
	XDPWG_LOCAL_ADDRS_MAX = 256,		/* our own addresses (local_addrs) */
	XDPWG_IPV6_EXT_MAX = 6,			/* IPv6 extension headers walked before UDP */
	XDPWG_FRAG_BUCKETS = 32768,		/* per-source fragment budgets (LRU) */
	XDPWG_FRAG_RATE_DEFAULT = 100,		/* first fragments per second and source */
	XDPWG_FRAG_BURST_DEFAULT = 20,		/* fragment bucket depth */
	/* Several tunnels on one uplink (io/uplink.c): the uplink's entry program tail-calls each
	 * tunnel's xdpwg_rx in turn, from a row of XDPWG_CHAIN_SLOTS slots per uplink. */
	XDPWG_CHAIN_SLOTS = 8,					/* tunnels per uplink */
	XDPWG_CHAIN_ROWS = 16,					/* uplinks per network namespace */
	XDPWG_CHAIN_MAX = XDPWG_CHAIN_SLOTS * XDPWG_CHAIN_ROWS, /* chain map size */
};
/* ifaces.chain_at for an interface whose program is not in a chain (tests, BPF_PROG_TEST_RUN) */
#define XDPWG_CHAIN_NONE 0xffffffffu

/* Per-reason counters: the stats map is a PERCPU_ARRAY indexed by this. */
enum xdpwg_stat {
	XDPWG_STAT_PASS_OTHER = 0, /* not UDP to the listen port: passed untouched */
	/* non-first IPv4/IPv6 fragment (no UDP header to look at): passed, the kernel
	 * reassembles and its socket path checks the datagram */
	XDPWG_STAT_PASS_FRAGMENT,
	/* no longer counted: IPv6 extension headers are walked now (kept for the ABI) */
	XDPWG_STAT_PASS_IPV6_EXT,
	XDPWG_STAT_PASS_DISABLED,	/* listen port 0 in config: everything passed */
	XDPWG_STAT_REDIRECTED,		/* into an AF_XDP socket */
	XDPWG_STAT_NO_XSK_PASSED,	/* ours, but no socket on that queue: passed */
	XDPWG_STAT_BAD_SIZE_INITIATION, /* type 1 and not 148 bytes: dropped */
	XDPWG_STAT_BAD_SIZE_RESPONSE,	/* type 2 and not 92 bytes: dropped */
	XDPWG_STAT_BAD_SIZE_COOKIE,	/* type 3 and not 64 bytes: dropped */
	XDPWG_STAT_BAD_SIZE_DATA,	/* type 4 and < 32 bytes: dropped */
	XDPWG_STAT_BAD_TYPE,		/* unknown type or non-zero reserved bytes: dropped */
	XDPWG_STAT_UNKNOWN_INDEX,	/* data for no session in the sessions map: dropped */
	XDPWG_STAT_TRUNCATED,		/* UDP length beyond the frame or IP payload: dropped */
	XDPWG_STAT_NEW_SOURCE,		/* data from a source other than the peer's endpoint */
	XDPWG_STAT_EVENT_SENT,		/* ring-buffer events emitted */
	XDPWG_STAT_EVENT_RATELIMITED,	/* new-source events suppressed by the per-peer limit */
	XDPWG_STAT_EVENT_LOST,		/* ring buffer full */
	XDPWG_STAT_META_FAILED,		/* bpf_xdp_adjust_meta refused: passed */
	XDPWG_STAT_BAD_MAC1,		/* initiation/response with a wrong mac1: dropped */
	XDPWG_STAT_HS_RATELIMITED,	/* handshake message over its source's bucket: dropped */
	XDPWG_STAT_SRC_NOT_ALLOWED,	/* source outside the allowlist: dropped */
	XDPWG_STAT_HS_UNDER_LOAD, /* valid initiation passed while under load (cookie reply) */
	XDPWG_STAT_CAPTURE_LOST,  /* capture on and its ring buffer full: frame not mirrored */
	XDPWG_STAT_UNKNOWN_INDEX_PASSED, /* unknown index passed: the sessions map is incomplete */
	/* UDP (or a fragment) to an address not ours, with XDPWG_CFG_F_LOCAL_ADDRS: transit
	 * traffic a router in front of us forwards, passed untouched (checked before the port) */
	XDPWG_STAT_PASS_TRANSIT,
	/* first fragment of UDP to our address and port within its source's fragment budget:
	 * passed to the kernel, which reassembles; the socket path checks it */
	XDPWG_STAT_FRAG_PASSED,
	XDPWG_STAT_FRAG_BUDGET, /* the same over its source's fragment budget: dropped */
	/* IPv6 to one of our addresses whose extension-header chain is longer than
	 * XDPWG_IPV6_EXT_MAX headers or runs past the frame: dropped */
	XDPWG_STAT_IPV6_EXT_DEEP,
	/* A gateway cluster (bpf/cluster.bpf.h, docs/cluster.md): a datagram whose receiver index
	 * carries another member's gateway id, IP-in-IP encapsulated and sent to that member, per
	 * message type */
	XDPWG_STAT_CLUSTER_FWD_DATA,
	XDPWG_STAT_CLUSTER_FWD_RESPONSE,
	XDPWG_STAT_CLUSTER_FWD_COOKIE,
	XDPWG_STAT_CLUSTER_UNKNOWN_GW, /* index of a gateway id with no member: dropped */
	/* the member's underlay has no resolved neighbour yet (the daemon keeps them resolved):
	 * dropped */
	XDPWG_STAT_CLUSTER_NO_NEIGH,
	/* no route to the member, the encapsulated packet over the route's MTU, or no headroom
	 * for the outer header: dropped */
	XDPWG_STAT_CLUSTER_FWD_FAILED,
	XDPWG_STAT_CLUSTER_FWD_IN, /* IP-in-IP from a member, unwrapped and classified */
	/* IP-in-IP to our underlay address from an address that is no member: dropped */
	XDPWG_STAT_CLUSTER_NOT_MEMBER,
	/* IP-in-IP from a member that is malformed (outer options or fragments, inner header
	 * of the wrong version or truncated), or whose inner packet is not a WireGuard message
	 * for us (forged: members forward nothing else): dropped */
	XDPWG_STAT_CLUSTER_BAD_ENCAP,
	XDPWG_STAT_MAX,
};

enum xdpwg_config_flags {
	XDPWG_CFG_F_MAC1 = 1u << 0, /* mac1_key is valid: check mac1 of initiations/responses */
	XDPWG_CFG_F_UNDER_LOAD = 1u << 1, /* userspace's handshake queue is deep */
	XDPWG_CFG_F_ALLOW_SRC = 1u << 2,  /* the allow_src trie is authoritative (else: any) */
	/* Unused since capture got its own switch (capture_ctl below): the config map has one
	 * writer, the daemon, and a capture can no longer lose one of its writes. Kept reserved. */
	XDPWG_CFG_F_CAPTURE = 1u << 3,
	/* userspace could not put every receiving session into the sessions map (it is full):
	 * an unknown index may be one of ours, so pass it to the kernel socket, where the engine
	 * decides, rather than drop a live peer's data. Costs the drop-in-XDP protection for
	 * unknown indexes until the daemon restarts. */
	XDPWG_CFG_F_PASS_UNKNOWN = 1u << 4,
	/* local_addrs is authoritative: a datagram whose outer destination is not in it is
	 * transit traffic (passed untouched). Clear: every destination counts as ours. */
	XDPWG_CFG_F_LOCAL_ADDRS = 1u << 5,
	/* The allowlist in force is allow_src_b (clear: allow_src). A replace fills the idle trie
	 * and flips this bit in the same config write that sets XDPWG_CFG_F_ALLOW_SRC, so XDP
	 * enforces the old list or the new one, never a mix of the two. */
	XDPWG_CFG_F_ALLOW_SRC_B = 1u << 6,
};

/* A gateway cluster (docs/cluster.md): every receiver index a member hands out carries its
 * gateway id in its top XDPWG_GW_ID_BITS bits; id 0 is "not in a cluster" (indexes fully
 * random). The XDP program of a member that receives a data message, handshake response or
 * cookie reply for another member's index sends it there IP-in-IP (bpf/cluster.bpf.h). */
enum xdpwg_cluster_limits {
	XDPWG_GW_ID_SHIFT = 26,
	XDPWG_GW_ID_BITS = 6,
	XDPWG_GW_ID_MAX = (1 << XDPWG_GW_ID_BITS) - 1, /* 63 */
	XDPWG_GATEWAYS_MAX = XDPWG_GW_ID_MAX + 1,      /* gateways map: one entry per id */
};
#define XDPWG_GW_INDEX_MASK ((1u << XDPWG_GW_ID_SHIFT) - 1u) /* the random low bits */
_Static_assert(XDPWG_GW_ID_SHIFT + XDPWG_GW_ID_BITS == 32, "the gateway id is the top bits");

/* gateways map: an ARRAY of XDPWG_GATEWAYS_MAX, key = gateway id. Entry 0 is this gateway
 * itself: id = our gateway id (0: not in a cluster, the program forwards and unwraps nothing)
 * and addr its underlay address, the outer source of what it forwards and the outer
 * destination it unwraps. Entry N (1..63, N != our id) is member N: family 0 for none. One
 * writer, the daemon (io/cluster_fwd.c); gateway_addrs is the same set keyed by address. */
struct xdpwg_gateway {
	union {
		__be32 v4;
		__u8 v6[16];
		__be32 v6w[4];
	} addr;	      /* underlay address, network order; IPv4 in the first four bytes */
	__u16 family; /* XDPWG_FAMILY_INET(6); 0: no such member */
	__u8 id;      /* entry 0: our own gateway id; else the entry's own key */
	__u8 reserved;
	__u32 reserved2;
};
_Static_assert(sizeof(struct xdpwg_gateway) == 24, "xdpwg_gateway size");
_Static_assert(__builtin_offsetof(struct xdpwg_gateway, addr) == 0, "gateway.addr");
_Static_assert(__builtin_offsetof(struct xdpwg_gateway, family) == 16, "gateway.family");
_Static_assert(__builtin_offsetof(struct xdpwg_gateway, id) == 18, "gateway.id");
_Static_assert(__builtin_offsetof(struct xdpwg_gateway, reserved) == 19, "gateway.reserved");
_Static_assert(__builtin_offsetof(struct xdpwg_gateway, reserved2) == 20, "gateway.reserved2");

/* config map: an ARRAY with one entry, key 0. Written by the loader only (whole value).
 * mac1_key = HASH("mac1----" || our public key): derived from the public key only, no secret. */
struct xdpwg_config {
	__u16 listen_port; /* host order; 0: pass everything */
	__u16 flags;	   /* enum xdpwg_config_flags */
	__u32 reserved;
	__u8 mac1_key[32]; /* with XDPWG_CFG_F_MAC1 */
};
_Static_assert(sizeof(struct xdpwg_config) == 40, "xdpwg_config size");
_Static_assert(__builtin_offsetof(struct xdpwg_config, listen_port) == 0, "config.listen_port");
_Static_assert(__builtin_offsetof(struct xdpwg_config, flags) == 2, "config.flags");
_Static_assert(__builtin_offsetof(struct xdpwg_config, reserved) == 4, "config.reserved");
_Static_assert(__builtin_offsetof(struct xdpwg_config, mac1_key) == 8, "config.mac1_key");

/* allow_src map: LPM_TRIE of source prefixes. The family takes the first 32 bits of the prefix,
 * so one trie holds both: prefixlen = 32 + CIDR; IPv4 in the first four bytes of addr. */
struct xdpwg_src_key {
	__u32 prefixlen;
	__u32 family; /* XDPWG_FAMILY_INET(6), host order */
	__u8 addr[16];
};
_Static_assert(sizeof(struct xdpwg_src_key) == 24, "xdpwg_src_key size");
_Static_assert(__builtin_offsetof(struct xdpwg_src_key, prefixlen) == 0, "src_key.prefixlen");
_Static_assert(__builtin_offsetof(struct xdpwg_src_key, family) == 4, "src_key.family");
_Static_assert(__builtin_offsetof(struct xdpwg_src_key, addr) == 8, "src_key.addr");

/* local_addrs map: HASH of our own addresses (the uplinks' addresses from rtnetlink, or the
 * configured listen address), value __u32 0. IPv4 in the first four bytes of addr, the rest
 * zero; family XDPWG_FAMILY_INET(6), host order. Written by the daemon only; consulted with
 * XDPWG_CFG_F_LOCAL_ADDRS. */
struct xdpwg_addr_key {
	__u32 family;
	__u8 addr[16];
};
_Static_assert(sizeof(struct xdpwg_addr_key) == 20, "xdpwg_addr_key size");
_Static_assert(__builtin_offsetof(struct xdpwg_addr_key, family) == 0, "addr_key.family");
_Static_assert(__builtin_offsetof(struct xdpwg_addr_key, addr) == 4, "addr_key.addr");

/* hs_buckets and frag_buckets maps: LRU_HASH, key = source (IPv4 /32 or IPv6 /64, the rest
 * zero). A token bucket in nanoseconds, as the kernel's ratelimiter keeps it: one message
 * costs 1e9 / rate. */
struct xdpwg_bucket_key {
	__u32 family;
	__u8 addr[16];
};
_Static_assert(sizeof(struct xdpwg_bucket_key) == 20, "xdpwg_bucket_key size");
_Static_assert(__builtin_offsetof(struct xdpwg_bucket_key, addr) == 4, "bucket_key.addr");

struct xdpwg_bucket {
	__u64 tokens;  /* ns of credit, at most burst * cost */
	__u64 last_ns; /* bpf_ktime_get_ns of the last refill */
};
_Static_assert(sizeof(struct xdpwg_bucket) == 16, "xdpwg_bucket size");
_Static_assert(__builtin_offsetof(struct xdpwg_bucket, tokens) == 0, "bucket.tokens");
_Static_assert(__builtin_offsetof(struct xdpwg_bucket, last_ns) == 8, "bucket.last_ns");

/* sessions map: HASH, key = receiver index (__u32, host order; the wire's little-endian value),
 * value below. Kept by the loader: a key exists while a keypair can receive. */
struct xdpwg_session {
	__u32 peer_id;
	__u32 flags; /* reserved, 0 */
};
_Static_assert(sizeof(struct xdpwg_session) == 8, "xdpwg_session size");
_Static_assert(__builtin_offsetof(struct xdpwg_session, peer_id) == 0, "session.peer_id");
_Static_assert(__builtin_offsetof(struct xdpwg_session, flags) == 4, "session.flags");

/* An address: IPv4 in the first four bytes of addr, or IPv6. Network order throughout. */
union xdpwg_addr {
	__be32 v4;
	__u8 v6[16];
	__be32 v6w[4];
};
_Static_assert(sizeof(union xdpwg_addr) == 16, "xdpwg_addr size");

/* Where a peer is (or where a packet came from). family 0: none. */
struct xdpwg_endpoint {
	union xdpwg_addr addr;
	__u16 family; /* XDPWG_FAMILY_INET(6) */
	__be16 port;
	__u32 reserved;
};
_Static_assert(sizeof(struct xdpwg_endpoint) == 24, "xdpwg_endpoint size");
_Static_assert(__builtin_offsetof(struct xdpwg_endpoint, addr) == 0, "endpoint.addr");
_Static_assert(__builtin_offsetof(struct xdpwg_endpoint, family) == 16, "endpoint.family");
_Static_assert(__builtin_offsetof(struct xdpwg_endpoint, port) == 18, "endpoint.port");
_Static_assert(__builtin_offsetof(struct xdpwg_endpoint, reserved) == 20, "endpoint.reserved");

enum xdpwg_peer_constants {
	XDPWG_PEER_PATHS = 3, /* a multipath peer's sources besides its endpoint (MPATH_MAX - 1) */
};

enum xdpwg_peer_flags {
	/* roaming pinned: packets from another source are still redirected (and flagged in the
	 * metadata) but raise no new-source events; userspace keeps the endpoint */
	XDPWG_PEER_F_ROAM_PINNED = 1u << 0,
};

/* peers map: HASH, key = peer id (__u32). The loader writes endpoint, next hop, local source and
 * flags; XDP writes last_seen_ns, rx_* (atomic adds) and last_event_ns; the daemon copies the
 * engine's tx_* into it once a second (peer_sync.c). */
struct xdpwg_peer {
	struct xdpwg_endpoint endpoint;
	union xdpwg_addr local_src; /* our source address towards the peer (family = endpoint's) */
	__u32 local_ifindex;	    /* uplink the peer is reached through */
	__u8 nexthop_mac[6];	    /* destination MAC of frames to the peer */
	__u8 local_mac[6];	    /* source MAC of frames to the peer */
	__u64 last_seen_ns;	    /* bpf_ktime_get_ns of the last data packet */
	__u64 rx_packets;
	__u64 rx_bytes; /* WireGuard message bytes (UDP payload) */
	__u64 tx_packets;
	__u64 tx_bytes;
	__u64 last_event_ns; /* rate limit of new-source events */
	__u32 flags;	     /* enum xdpwg_peer_flags */
	__u32 reserved;
	/* a multipath peer's other recent sources (roam policy multipath/redundant, gateway side):
	 * packets from them are no new source. family 0: unused. Written by the loader. */
	struct xdpwg_endpoint paths[XDPWG_PEER_PATHS];
};
_Static_assert(sizeof(struct xdpwg_peer) == 184, "xdpwg_peer size");
_Static_assert(__builtin_offsetof(struct xdpwg_peer, endpoint) == 0, "peer.endpoint");
_Static_assert(__builtin_offsetof(struct xdpwg_peer, local_src) == 24, "peer.local_src");
_Static_assert(__builtin_offsetof(struct xdpwg_peer, local_ifindex) == 40, "peer.local_ifindex");
_Static_assert(__builtin_offsetof(struct xdpwg_peer, nexthop_mac) == 44, "peer.nexthop_mac");
_Static_assert(__builtin_offsetof(struct xdpwg_peer, local_mac) == 50, "peer.local_mac");
_Static_assert(__builtin_offsetof(struct xdpwg_peer, last_seen_ns) == 56, "peer.last_seen_ns");
_Static_assert(__builtin_offsetof(struct xdpwg_peer, rx_packets) == 64, "peer.rx_packets");
_Static_assert(__builtin_offsetof(struct xdpwg_peer, rx_bytes) == 72, "peer.rx_bytes");
_Static_assert(__builtin_offsetof(struct xdpwg_peer, tx_packets) == 80, "peer.tx_packets");
_Static_assert(__builtin_offsetof(struct xdpwg_peer, tx_bytes) == 88, "peer.tx_bytes");
_Static_assert(__builtin_offsetof(struct xdpwg_peer, last_event_ns) == 96, "peer.last_event_ns");
_Static_assert(__builtin_offsetof(struct xdpwg_peer, flags) == 104, "peer.flags");
_Static_assert(__builtin_offsetof(struct xdpwg_peer, reserved) == 108, "peer.reserved");
_Static_assert(__builtin_offsetof(struct xdpwg_peer, paths) == 112, "peer.paths");

/* ifaces map: HASH, key = ifindex. Interfaces sharing the program get disjoint XSK slots:
 * xsks key = slot_base + rx queue index. An interface without an entry uses slot_base 0.
 * chain_at is this tunnel's place in the uplink's chain (row * XDPWG_CHAIN_SLOTS + slot):
 * a frame that is not ours goes on to the slots after it. */
struct xdpwg_iface {
	__u32 slot_base;
	__u32 nqueues;	/* slots reserved (<= XDPWG_MAX_QUEUES) */
	__u32 chain_at; /* XDPWG_CHAIN_NONE: not in a chain */
	__u32 reserved;
};
_Static_assert(sizeof(struct xdpwg_iface) == 16, "xdpwg_iface size");
_Static_assert(__builtin_offsetof(struct xdpwg_iface, slot_base) == 0, "iface.slot_base");
_Static_assert(__builtin_offsetof(struct xdpwg_iface, nqueues) == 4, "iface.nqueues");
_Static_assert(__builtin_offsetof(struct xdpwg_iface, chain_at) == 8, "iface.chain_at");
_Static_assert(__builtin_offsetof(struct xdpwg_iface, reserved) == 12, "iface.reserved");

/* rows map (HASH, key = ifindex): an uplink's row in the chain and who holds each of its slots,
 * so that `bpftool map dump` says which tunnel serves which port on which uplink, and a slot
 * whose daemon died (kill -9) is found and reclaimed. The entry program reads row only. */
struct xdpwg_chain_owner {
	char tun[16];  /* the TUN's name; "" for a free slot */
	__u32 pid;     /* the daemon's */
	__u32 prog_id; /* its xdpwg_rx in the chain */
	__u16 port;    /* its listen port */
	__u16 reserved;
	__u32 reserved2;
};
_Static_assert(sizeof(struct xdpwg_chain_owner) == 32, "xdpwg_chain_owner size");
_Static_assert(__builtin_offsetof(struct xdpwg_chain_owner, pid) == 16, "owner.pid");
_Static_assert(__builtin_offsetof(struct xdpwg_chain_owner, prog_id) == 20, "owner.prog_id");
_Static_assert(__builtin_offsetof(struct xdpwg_chain_owner, port) == 24, "owner.port");

struct xdpwg_uplink {
	__u32 row; /* chain keys row * XDPWG_CHAIN_SLOTS + slot */
	__u32 reserved;
	struct xdpwg_chain_owner slot[XDPWG_CHAIN_SLOTS];
};
_Static_assert(sizeof(struct xdpwg_uplink) == 8 + 32 * XDPWG_CHAIN_SLOTS, "xdpwg_uplink size");
_Static_assert(__builtin_offsetof(struct xdpwg_uplink, slot) == 8, "uplink.slot");

enum xdpwg_meta_flags {
	XDPWG_META_F_PEER = 1u << 0,	   /* peer_id is valid (data with a known index) */
	XDPWG_META_F_NEW_SOURCE = 1u << 1, /* outer source differs from the peer's endpoint */
	XDPWG_META_F_IPV6 = 1u << 2,	   /* outer header is IPv6 */
	XDPWG_META_F_VLAN = 1u << 3,	   /* frame carries one or two VLAN tags */
	/* came IP-in-IP from another cluster member and was unwrapped (bpf/cluster.bpf.h) */
	XDPWG_META_F_FORWARDED = 1u << 4,
	/* ... and XDP found no next hop back to its source on this uplink: the frame's MACs are
	 * not a next hop to learn, replies take the kernel's routing */
	XDPWG_META_F_NO_HOP = 1u << 5,
};

/* In front of every redirected frame (bpf_xdp_adjust_meta): it ends where the frame starts. */
struct xdpwg_meta {
	__u64 rx_ns;	   /* bpf_ktime_get_ns at XDP (CLOCK_MONOTONIC) */
	__u32 peer_id;	   /* with XDPWG_META_F_PEER */
	__u16 flags;	   /* enum xdpwg_meta_flags */
	__u16 msg_type;	   /* enum wg_message_type */
	__u16 payload_off; /* WireGuard message offset from the frame start */
	__u16 payload_len; /* WireGuard message length (UDP length - 8) */
	__u16 magic;	   /* XDPWG_META_MAGIC */
	__u16 reserved;
};
_Static_assert(sizeof(struct xdpwg_meta) == 24, "xdpwg_meta size");
_Static_assert(sizeof(struct xdpwg_meta) % 4 == 0, "metadata must be 4-byte aligned");
_Static_assert(__builtin_offsetof(struct xdpwg_meta, rx_ns) == 0, "meta.rx_ns");
_Static_assert(__builtin_offsetof(struct xdpwg_meta, peer_id) == 8, "meta.peer_id");
_Static_assert(__builtin_offsetof(struct xdpwg_meta, flags) == 12, "meta.flags");
_Static_assert(__builtin_offsetof(struct xdpwg_meta, msg_type) == 14, "meta.msg_type");
_Static_assert(__builtin_offsetof(struct xdpwg_meta, payload_off) == 16, "meta.payload_off");
_Static_assert(__builtin_offsetof(struct xdpwg_meta, payload_len) == 18, "meta.payload_len");
_Static_assert(__builtin_offsetof(struct xdpwg_meta, magic) == 20, "meta.magic");
_Static_assert(__builtin_offsetof(struct xdpwg_meta, reserved) == 22, "meta.reserved");

enum xdpwg_event_type {
	XDPWG_EVENT_NEW_SOURCE = 1, /* a data packet from a source other than the endpoint */
};

/* events ring buffer record. */
struct xdpwg_event {
	__u64 ts_ns; /* bpf_ktime_get_ns of the packet */
	__u32 type;  /* enum xdpwg_event_type */
	__u32 peer_id;
	struct xdpwg_endpoint src; /* the packet's outer source */
	__u32 ifindex;		   /* where it arrived */
	__u32 rx_queue;
};
_Static_assert(sizeof(struct xdpwg_event) == 48, "xdpwg_event size");
_Static_assert(__builtin_offsetof(struct xdpwg_event, ts_ns) == 0, "event.ts_ns");
_Static_assert(__builtin_offsetof(struct xdpwg_event, type) == 8, "event.type");
_Static_assert(__builtin_offsetof(struct xdpwg_event, peer_id) == 12, "event.peer_id");
_Static_assert(__builtin_offsetof(struct xdpwg_event, src) == 16, "event.src");
_Static_assert(__builtin_offsetof(struct xdpwg_event, ifindex) == 40, "event.ifindex");
_Static_assert(__builtin_offsetof(struct xdpwg_event, rx_queue) == 44, "event.rx_queue");

/* capture_ctl map: an ARRAY with one entry, key 0, written only by `xdpwgctl capture` (on while
 * it runs), never by the daemon: the switch is a map of its own so that no read-modify-write of
 * the config value can lose the daemon's writes (the under-load flag, the mac1 key, the port). */
struct xdpwg_capture_ctl {
	__u32 on; /* 1: mirror every datagram to the listen port into the capture ring */
	__u32 reserved;
};
_Static_assert(sizeof(struct xdpwg_capture_ctl) == 8, "xdpwg_capture_ctl size");
_Static_assert(__builtin_offsetof(struct xdpwg_capture_ctl, on) == 0, "capture_ctl.on");
_Static_assert(__builtin_offsetof(struct xdpwg_capture_ctl, reserved) == 4, "capture_ctl.reserved");

/* capture map: a RINGBUF of these records, filled only while capture_ctl is on. One
 * per datagram to the listen port that XDP decided about (redirected, dropped, or passed because
 * no socket took it), with the first XDPWG_CAPTURE_SNAPLEN bytes of the frame (from the
 * Ethernet header, as on the wire). */
enum xdpwg_capture_limits {
	XDPWG_CAPTURE_SNAPLEN = 256,
	XDPWG_CAPTURE_BYTES = 512 * 1024, /* ring buffer size */
	/* capture_tx: a QUEUE of the same records for what the AF_XDP workers send, which no XDP
	 * hook and no packet socket sees; the workers push (userspace: the program never touches
	 * it), the ctl pops. Full: the frame is not mirrored. */
	XDPWG_CAPTURE_TX_RECORDS = 4096,
	/* the action of a capture_tx record (not an XDP verdict): sent through AF_XDP */
	XDPWG_CAPTURE_ACTION_TX = 0x100,
};

struct xdpwg_capture {
	__u64 ts_ns;   /* bpf_ktime_get_ns (CLOCK_MONOTONIC) */
	__u32 ifindex; /* where it arrived */
	__u32 rx_queue;
	__u32 len;    /* the frame's length */
	__u32 caplen; /* bytes in data: min(len, XDPWG_CAPTURE_SNAPLEN) */
	__u32 action; /* the XDP verdict: XDP_DROP (1), XDP_PASS (2), XDP_REDIRECT (4) */
	__u32 reason; /* enum xdpwg_stat: the counter it went to */
	__u8 data[XDPWG_CAPTURE_SNAPLEN];
};
_Static_assert(sizeof(struct xdpwg_capture) == 32 + XDPWG_CAPTURE_SNAPLEN, "xdpwg_capture size");
_Static_assert(__builtin_offsetof(struct xdpwg_capture, ts_ns) == 0, "capture.ts_ns");
_Static_assert(__builtin_offsetof(struct xdpwg_capture, ifindex) == 8, "capture.ifindex");
_Static_assert(__builtin_offsetof(struct xdpwg_capture, rx_queue) == 12, "capture.rx_queue");
_Static_assert(__builtin_offsetof(struct xdpwg_capture, len) == 16, "capture.len");
_Static_assert(__builtin_offsetof(struct xdpwg_capture, caplen) == 20, "capture.caplen");
_Static_assert(__builtin_offsetof(struct xdpwg_capture, action) == 24, "capture.action");
_Static_assert(__builtin_offsetof(struct xdpwg_capture, reason) == 28, "capture.reason");
_Static_assert(__builtin_offsetof(struct xdpwg_capture, data) == 32, "capture.data");

#endif
