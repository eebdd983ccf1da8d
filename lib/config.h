/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One neutral representation of a device's configuration, shared by everything that reads or
 * writes one: the configuration protocol (UAPI, both the daemon's server side and the ctl's
 * client side), wg-style config files, and xdpwgctl's `set` arguments. A wg_dev_conf is either a
 * change request (flags say which fields are present) or a snapshot (everything present, with
 * the get-only statistics filled in).
 *
 * All key material lives in memory from crypto_secure_alloc and is wiped by conf_free.
 */
#ifndef XDPWG_CONFIG_H
#define XDPWG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <netinet/in.h>

#include "endpoint.h"
#include "xdpwg_wire.h"

enum conf_dev_flags {
	CONF_DEV_HAS_PRIVATE_KEY = 1U << 0,
	CONF_DEV_HAS_LISTEN_PORT = 1U << 1,
	CONF_DEV_HAS_FWMARK = 1U << 2,
	CONF_DEV_REPLACE_PEERS = 1U << 3,
	/* xdpwg extension: allow_src is given; with REPLACE_ALLOW_SOURCE it replaces the list,
	 * without it the CIDRs are added to what the device has */
	CONF_DEV_HAS_ALLOW_SOURCE = 1U << 4,
	CONF_DEV_REPLACE_ALLOW_SOURCE = 1U << 5,
};

enum conf_peer_flags {
	CONF_PEER_REMOVE = 1U << 0,
	CONF_PEER_UPDATE_ONLY = 1U << 1,
	CONF_PEER_REPLACE_ALLOWEDIPS = 1U << 2,
	CONF_PEER_HAS_PRESHARED_KEY = 1U << 3,
	CONF_PEER_HAS_ENDPOINT = 1U << 4,
	CONF_PEER_HAS_PERSISTENT_KEEPALIVE = 1U << 5,
	CONF_PEER_HAS_ROAM_POLICY = 1U << 6, /* xdpwg extension */
};

/* xdpwg extension (not in the stock protocol): how a peer's endpoint may move. */
enum conf_roam_policy {
	CONF_ROAM_ANY = 0,    /* default: the kernel driver's behaviour */
	CONF_ROAM_PINNED = 1, /* the endpoint never moves */
	CONF_ROAM_WITHIN = 2, /* moves only to sources inside roam_cidrs */
	/* several paths at once (engine/multipath.h): the gateway keeps every recent source and
	 * answers probes, the client probes its uplinks and moves off a dead one */
	CONF_ROAM_MULTIPATH = 3,
	CONF_ROAM_REDUNDANT = 4, /* multipath, and every packet goes out on every live path */
};

/* A path of a multipath peer, as a get reply reports it (xdpwg extension, get-only). */
enum conf_path_flags {
	CONF_PATH_ACTIVE = 1U << 0,
	CONF_PATH_DEAD = 1U << 1,
	CONF_PATH_UNKNOWN = 1U << 2, /* never answered yet */
};

enum conf_path_limits {
	CONF_PATHS_MAX = 4, /* = MPATH_MAX */
};

struct conf_path {
	struct wg_endpoint endpoint; /* where it goes (a gateway: the source it came from) */
	char uplink[16];	     /* a client's uplink; "" at a gateway */
	unsigned int flags;	     /* enum conf_path_flags */
	uint64_t age_ms; /* since the last authenticated packet over it; UINT64_MAX: never */
	uint32_t rtt_us; /* smoothed probe round trip; 0: not known */
	uint8_t loss;	 /* of the last 8 probes, unanswered */
};

struct conf_allowedip {
	int family; /* AF_INET or AF_INET6 */
	uint8_t cidr;
	union {
		struct in_addr ip4;
		struct in6_addr ip6;
	};
};

struct conf_peer {
	uint8_t public_key[WG_KEY_LEN];
	uint8_t preshared_key[WG_KEY_LEN]; /* all zero: none */
	struct wg_endpoint endpoint;
	uint16_t persistent_keepalive; /* seconds, 0 = off */
	unsigned int flags;	       /* enum conf_peer_flags */
	struct conf_allowedip *allowedips;
	size_t n_allowedips;
	enum conf_roam_policy roam_policy;
	struct conf_allowedip *roam_cidrs;
	size_t n_roam_cidrs;
	/* get-only */
	uint64_t rx_bytes, tx_bytes;
	int64_t last_handshake_sec, last_handshake_nsec; /* wall clock; 0,0 = never */
	unsigned int protocol_version;			 /* 1 */
	uint64_t endpoint_moves;			 /* xdpwg extension, get-only */
	int64_t last_move_sec;				 /* wall clock; 0 = never */
	/* multipath (xdpwg extension, get-only) */
	struct conf_path paths[CONF_PATHS_MAX];
	size_t n_paths;
	uint64_t path_moves;  /* a client's moves between its uplinks */
	uint64_t copy_bytes;  /* redundant: bytes sent as extra copies */
	uint64_t dup_packets; /* redundant: duplicate copies received and dropped */
};

/* A named counter (xdpwg extension, get-only): the engine's drops per reason. */
struct conf_counter {
	char name[32]; /* [a-z0-9_] */
	uint64_t value;
};

struct conf_dev {
	uint8_t private_key[WG_KEY_LEN]; /* all zero in a request: remove the key */
	uint16_t listen_port;
	uint32_t fwmark;
	unsigned int flags; /* enum conf_dev_flags */
	struct conf_peer *peers;
	size_t n_peers;
	/* get-only */
	uint8_t public_key[WG_KEY_LEN];
	/* xdpwg extensions, appended: the source allowlist (empty: any source; set and get) and
	 * the engine's per-reason drop counters (get-only, "drop_<name>=N") */
	struct conf_allowedip *allow_src;
	size_t n_allow_src;
	struct conf_counter *drops;
	size_t n_drops;
};

struct conf_dev *conf_new(void);
void conf_free(struct conf_dev *c);
/* Append a zeroed peer (pointer valid until the next conf_add_peer); NULL on ENOMEM. */
struct conf_peer *conf_add_peer(struct conf_dev *c);
int conf_peer_add_allowedip(struct conf_peer *p, const struct conf_allowedip *ip);
int conf_peer_add_roam_cidr(struct conf_peer *p, const struct conf_allowedip *ip);
/* "192.0.2.0/24", "2001:db8::/32", a bare address means /32 or /128. 0 or -EINVAL. */
int conf_parse_allowedip(struct conf_allowedip *ip, const char *s);
void conf_format_allowedip(const struct conf_allowedip *ip, char *buf, size_t len);

/*
 * The configuration protocol (wireguard's cross-platform userspace API).
 * uapi_parse_set: the body of a set=1 request (the lines after "set=1", up to but not
 * including the blank line). Validates everything; on error returns -errno (the value to put in
 * "errno=") with one message naming the key and the reason in err, and *out stays NULL.
 * uapi_format_get: a snapshot as the body of a get=1 reply, without the trailing errno line.
 */
int uapi_parse_set(const char *body, size_t len, struct conf_dev **out, char *err, size_t errlen);
int uapi_format_get(const struct conf_dev *c, FILE *out);
/* And the inverse pair, for clients (xdpwgctl). */
int uapi_format_set(const struct conf_dev *c, FILE *out);
int uapi_parse_get(const char *body, size_t len, struct conf_dev **out, char *err, size_t errlen);

/*
 * wg(8) config files: [Interface] PrivateKey, ListenPort, FwMark; [Peer] PublicKey,
 * PresharedKey, AllowedIPs, Endpoint, PersistentKeepalive; plus the xdpwg extension keys
 * (RoamPolicy = roam|pinned|within, RoamWithin = CIDR, ...) which stock wg ignores by never
 * seeing them. wg-quick keys (Address, DNS, MTU, Table, Pre/PostUp/Down, SaveConfig) are
 * accepted and ignored, as `wg setconf` does with wg-quick's stripped output. The result is a
 * request with CONF_DEV_REPLACE_PEERS set (setconf semantics); addconf clears it.
 * Errors name the file, line, key and reason.
 */
int conf_parse_file(const char *path, struct conf_dev **out, char *err, size_t errlen);
int conf_parse_string(const char *text, const char *name, struct conf_dev **out, char *err,
		      size_t errlen);
/* showconf */
int conf_format_file(const struct conf_dev *c, FILE *out);
/* The same in two parts, for a snapshot that comes in pieces: the [Interface] section, then
 * [Peer] sections (after_peer: peers were printed before, so a blank line comes first). */
int conf_format_file_head(const struct conf_dev *c, FILE *out);
int conf_format_file_peers(const struct conf_dev *c, FILE *out, bool after_peer);

/*
 * A key file as `wg` reads them (one base64 key, trailing whitespace allowed). Refused when
 * readable by group or others, with the chmod to run in err. 0 or -errno.
 */
int conf_read_key_file(const char *path, uint8_t key[WG_KEY_LEN], char *err, size_t errlen);

/* --- Appended by the config/xdpwgctl module --- */

/*
 * conf_parse_file/conf_parse_string give wg setconf's semantics exactly: REPLACE_PEERS, and
 * HAS_PRIVATE_KEY, HAS_LISTEN_PORT, HAS_FWMARK even when the file omits them (an absent key
 * resets the field to zero, removing the private key). With append (wg addconf) only what the
 * file names is flagged and peers are not replaced. Every [Peer] gets REPLACE_ALLOWEDIPS.
 */
int conf_parse_file_mode(const char *path, bool append, struct conf_dev **out, char *err,
			 size_t errlen);
int conf_parse_string_mode(const char *text, const char *name, bool append, struct conf_dev **out,
			   char *err, size_t errlen);

enum {
	CONF_PATH_STRLEN = ENDPOINT_STRLEN + 96
};
/* A path as the get reply's value: "ENDPOINT UPLINK STATE AGE_MS RTT_US LOSS", UPLINK "-" at a
 * gateway, STATE "active" or "standby" and then ",dead" or ",new" when so, AGE_MS "-" for
 * never; e.g. "198.51.100.2:51821 wifi active 12 350 0". */
const char *conf_path_format(const struct conf_path *p, char buf[CONF_PATH_STRLEN]);
/* The reverse; 0 or -EINVAL. */
int conf_path_parse(struct conf_path *p, const char *s);

/* "roam", "pinned", "within", "multipath", "redundant"; NULL for a value out of range. */
const char *conf_roam_policy_name(enum conf_roam_policy p);
/* 0 or -EINVAL. */
int conf_parse_roam_policy(const char *s, enum conf_roam_policy *p);

/*
 * Extension keys in get replies: the daemon always emits roam_policy, roam_cidr,
 * endpoint_moves and last_move_time_sec, without an opt-in. Measured against the stock
 * client (wireguard-tools 1.0.20210914, ipc-uapi.h): its get parser ignores keys it does not
 * know, at device and peer level, so `wg show`/`wg showconf` keep working; and wireguard-go
 * answers "get=1" followed by anything but the blank line with errno=-22, so an opt-in line
 * would have made xdpwgctl fail against stock daemons. No uapi_format_get_ext is needed.
 */

/* --- Appended by the hardening module (source allowlist, drop counters) --- */

enum conf_hardening_limits {
	CONF_ALLOW_SRC_MAX = 4096, /* = XDPWG_ALLOW_SRC_MAX */
	CONF_DROPS_MAX = 64,
};

int conf_dev_add_allow_src(struct conf_dev *c, const struct conf_allowedip *ip);
/* name must be 1-31 characters of [a-z0-9_]. 0, -EINVAL, -E2BIG (CONF_DROPS_MAX), -ENOMEM. */
int conf_dev_add_drop(struct conf_dev *c, const char *name, uint64_t value);
/* The CIDR list "CIDR[,CIDR...]" (blanks ignored) into c->allow_src with HAS_ALLOW_SOURCE and
 * REPLACE_ALLOW_SOURCE set; "", "any" (either case) clear it. 0 or -EINVAL/-E2BIG/-ENOMEM
 * with the reason (naming the bad entry) in err. */
int conf_parse_allow_source(struct conf_dev *c, const char *list, char *err, size_t errlen);
/* Whether addr (4 or 16 bytes of family) is inside one of the CIDRs (n 0: false). */
bool conf_cidrs_contain(const struct conf_allowedip *ips, size_t n, int family, const void *addr);

/*
 * The extension keys on the wire (device level, before the first public_key):
 *   set: replace_allow_source=true, allow_source=CIDR (repeatable), only when the request has
 *        CONF_DEV_HAS_ALLOW_SOURCE (stock daemons refuse unknown keys: never sent unasked);
 *   get: allow_source=CIDR per entry, drop_<reason>=N per engine drop reason.
 * wg(8)'s get parser ignores unknown device keys, so `wg show` works with them present.
 * In config files: [Interface] AllowSource = CIDR, CIDR (replaces the list; empty or "any"
 * clears it). For an absent AllowSource, xdpwgctl setconf/syncconf clear the list only on a
 * daemon whose get reply shows one (xdpwgd): stock daemons never see the key.
 */

#endif
