/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A gateway cluster's forwarding on the socket path (no XDP on this member): what the XDP
 * program does in bpf/cluster.bpf.h, in userspace. A data message, handshake response or cookie
 * reply read from the kernel socket whose receiver index carries another member's id is sent to
 * that member IP-in-IP through a raw socket (protocol 4 or 41, from our underlay address), with
 * the client's IP and UDP headers rebuilt around it as they were on the wire (the socket took
 * them off): the owner's XDP program unwraps it exactly as it unwraps what an XDP member sends.
 * An index of an id with no member is dropped and counted; initiations and our own indexes go
 * to the engine as before.
 *
 * Unwrapping is XDP's only: a socket-mode member forwards, but what members forward to it is
 * dropped by its kernel (no IP-in-IP device). docs/cluster.md. Control thread only.
 */
#ifndef XDPWG_CLUSTER_SOCK_H
#define XDPWG_CLUSTER_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "endpoint.h"

struct cluster_fwd;
struct cluster_sock;

/* What the socket path forwarded or dropped, per reason (the XDP counters' names). */
struct cluster_sock_counts {
	uint64_t fwd_data, fwd_response, fwd_cookie;
	uint64_t unknown_gateway; /* no such member: dropped */
	uint64_t failed;	  /* the raw socket refused it: dropped */
};

/* Raw sockets bound to cf's underlay address. NULL with errno set (EPERM without
 * CAP_NET_RAW), logged. cf must outlive it. */
struct cluster_sock *cluster_sock_new(struct cluster_fwd *cf);
void cluster_sock_free(struct cluster_sock *cs);
/* The socket path's hook: msg (len bytes) came from src (src4/src6: the address it was sent
 * to) to our port. true when it was another member's (forwarded, or dropped and counted);
 * false when the engine is to have it. */
bool cluster_sock_forward(void *ctx, const uint8_t *msg, size_t len, const struct wg_endpoint *src,
			  uint16_t port);
void cluster_sock_counts(const struct cluster_sock *cs, struct cluster_sock_counts *out);

#endif
