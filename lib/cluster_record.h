/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a gateway cluster keeps in etcd (docs/cluster.md, "The peer set in etcd"), as keys and
 * JSON values, both directions, for the daemon (which applies them) and the ctl (which writes
 * them):
 *
 *   /xdpwg/CLUSTER/peers/KEY      a peer: KEY is its public key in base64url (RFC 4648 §5,
 *                                 with the padding: the standard base64 with + and / as - and
 *                                 _, since / separates a key's levels)
 *   /xdpwg/CLUSTER/gateways/ID    a gateway of the cluster, under a lease: {"id":N,
 *                                 "underlay":"ADDR"}, gone when the gateway stops renewing it
 *   /xdpwg/CLUSTER/held/KEY       which gateway holds the peer KEY's current session:
 *                                 {"gateway":N}, under that gateway's membership lease
 *
 * A peer's value: {"public_key":"BASE64","allowed_ips":["CIDR",...],
 * "persistent_keepalive":N,"roam_policy":"roam|pinned|within|multipath|redundant",
 * "roam_within":["CIDR",...],"endpoint":"ADDR:PORT"}; public_key and allowed_ips required,
 * the others optional (absent: off, roam, none, none). No secret ever: a preshared or private
 * key in a record is refused by name. Parsing is strict: an unknown field, a wrong type, a bad
 * key or CIDR, a key that is not the one the record is filed under, or a record larger than
 * CLUSTER_RECORD_MAX is refused with one message naming the field and the reason.
 */
#ifndef XDPWG_CLUSTER_RECORD_H
#define XDPWG_CLUSTER_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config.h"

enum cluster_record_limits {
	CLUSTER_NAME_MAX = 63,	      /* [a-z0-9_-], starting with a letter or digit */
	CLUSTER_RECORD_MAX = 16384,   /* bytes of one value */
	CLUSTER_RECORD_MAX_IPS = 256, /* allowed_ips (and roam_within) of one peer */
	CLUSTER_KEYNAME_LEN = 44,     /* base64url of a public key, without the NUL */
	CLUSTER_GATEWAY_ID_MIN = 1,
	CLUSTER_GATEWAY_ID_MAX = 63, /* the receiver index's top 6 bits (docs/cluster.md) */
	CLUSTER_PREFIX_MAX = 7 + CLUSTER_NAME_MAX + 10 + CLUSTER_KEYNAME_LEN + 1,
	CLUSTER_HELD_MAX = 256, /* bytes of a held record */
	CLUSTER_ERR_LEN = 256,
};

/* A member gateway as its record says. */
struct cluster_gateway {
	unsigned int id;
	struct sockaddr_storage underlay; /* port 0 */
};

/* 0, or -EINVAL with the reason in err. */
int cluster_name_check(const char *name, char *err, size_t errlen);

/* "/xdpwg/NAME/" + sub ("peers/", "gateways/" or ""). */
void cluster_prefix(char *buf, size_t len, const char *cluster, const char *sub);

/* The base64url name of a public key, and back (false: not one). */
void cluster_key_name(char out[CLUSTER_KEYNAME_LEN + 1], const uint8_t pub[WG_KEY_LEN]);
bool cluster_key_from_name(uint8_t pub[WG_KEY_LEN], const char *name);

/*
 * A peer record filed under name (the key's last level) into a new peer of c, with the flags
 * of a complete replacement of its settings (REPLACE_ALLOWEDIPS, HAS_PERSISTENT_KEEPALIVE,
 * HAS_ROAM_POLICY; HAS_ENDPOINT when it has one), as a UAPI set of every field would. On error
 * -EINVAL (-E2BIG for the size) with the reason in err, and c is as it was.
 */
int cluster_record_parse(const char *name, const char *json, size_t len, struct conf_dev *c,
			 char *err, size_t errlen);
/* The record of a peer (public key, allowed IPs, keepalive, roam policy and CIDRs, endpoint
 * when set). Free with free(); NULL on ENOMEM. */
char *cluster_record_format(const struct conf_peer *p);

/* A gateway record filed under name (the id in decimal). 0 or -EINVAL with err. */
int cluster_gateway_parse(const char *name, const char *json, size_t len, struct cluster_gateway *g,
			  char *err, size_t errlen);
char *cluster_gateway_format(const struct cluster_gateway *g);
/* A held record filed under name (a peer's key name): the peer's key in pub, the holder's id
 * (1-63) in *gateway. Strict as the others: 0 or -EINVAL with the reason in err. */
int cluster_held_parse(const char *name, const char *json, size_t len, uint8_t pub[WG_KEY_LEN],
		       unsigned int *gateway, char *err, size_t errlen);
/* {"gateway":N}. Free with free(); NULL on ENOMEM. */
char *cluster_held_format(unsigned int gateway);
/* "ADDR" of an underlay address (no port). */
const char *cluster_addr_format(const struct sockaddr_storage *ss, char *buf, size_t len);
/* A numeric IPv4 or IPv6 address; 0 or -EINVAL. */
int cluster_addr_parse(struct sockaddr_storage *ss, const char *s);
/* Whether ss can be a gateway's underlay address: a unicast address another host can send from
 * (not unspecified, broadcast, loopback, multicast, link-local, v4-mapped); it becomes a
 * trusted source of IP-in-IP and a forwarding target. */
bool cluster_addr_usable(const struct sockaddr_storage *ss);

#endif
