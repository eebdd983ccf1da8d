/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A longest-prefix-match table over IPv4 and IPv6 prefixes, each owned by an opaque pointer:
 * the engine's cryptokey routing (owners are peers) and the daemon's source allowlist. Inserting
 * a prefix that exists moves it to the new owner. Not locked: the user serialises writers
 * against readers.
 */
#ifndef XDPWG_ALLOWEDIPS_H
#define XDPWG_ALLOWEDIPS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct allowedips;

struct allowedips *allowedips_new(void);
void allowedips_free(struct allowedips *t);

/* family AF_INET (addr 4 bytes, cidr 0..32) or AF_INET6 (16 bytes, 0..128). Host bits in
 * addr beyond cidr are ignored (masked off). 0, or -EINVAL / -ENOMEM. */
int allowedips_insert(struct allowedips *t, int family, const void *addr, uint8_t cidr,
		      void *owner);
/* Remove the exact prefix if it is owned by `owner`. 0, or -ENOENT. */
int allowedips_remove(struct allowedips *t, int family, const void *addr, uint8_t cidr,
		      void *owner);
void allowedips_remove_by_owner(struct allowedips *t, void *owner);
/* The owner of the longest prefix containing addr, or NULL. */
void *allowedips_lookup(const struct allowedips *t, int family, const void *addr);

/* Call fn for each prefix of owner, in a stable order (v4 then v6, ascending). Stops early
 * and returns fn's value when fn returns non-zero. addr is 4 or 16 bytes, host bits zero. */
typedef int (*allowedips_walk_fn)(void *ctx, int family, const uint8_t *addr, uint8_t cidr);
int allowedips_walk_by_owner(const struct allowedips *t, void *owner, allowedips_walk_fn fn,
			     void *ctx);
size_t allowedips_count(const struct allowedips *t);

/* Room for what is about to be inserted, so that a caller can prepare first and then insert
 * without a failure point (the engine's all-or-nothing apply). After a 0, the next n_inserts
 * inserts, of which at most n_owners find their owner without a prefix in the table at that
 * moment, cannot fail with -ENOMEM; removals in between use none of the room. Reservations
 * add up. 0, or -ENOMEM with nothing reserved by this call and the table unchanged.
 * O(n_inserts), plus a rehash of the owner index when it must grow (amortised, as an
 * insert's). */
int allowedips_reserve(struct allowedips *t, size_t n_inserts, size_t n_owners);
/* Free what is reserved and was not used. */
void allowedips_unreserve(struct allowedips *t);

#endif
