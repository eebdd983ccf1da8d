/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A peer's outer address: where to send, and the local source we last received on (the kernel
 * driver's cached source), so replies leave from the address the peer wrote to.
 */
#ifndef XDPWG_ENDPOINT_H
#define XDPWG_ENDPOINT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

enum endpoint_constants {
	/* "[" + INET6_ADDRSTRLEN + "%" + IF_NAMESIZE + "]:" + "65535" + NUL, rounded up */
	ENDPOINT_STRLEN = 96,
};

struct wg_endpoint {
	union {
		struct sockaddr sa; /* sa_family AF_UNSPEC: no endpoint */
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} addr;
	union {
		struct in_addr src4;
		struct in6_addr src6;
	}; /* cached local source; all zero: let the kernel choose */
	int src_ifindex;
	/* send through this interface (IP_PKTINFO's ifindex), whatever the routes prefer: a
	 * multipath client's uplink; 0: let the route choose */
	int out_ifindex;
};

static inline bool endpoint_is_set(const struct wg_endpoint *e)
{
	return e->addr.sa.sa_family == AF_INET || e->addr.sa.sa_family == AF_INET6;
}

/* Same remote address and port (the cached source is not compared). */
bool endpoint_eq(const struct wg_endpoint *a, const struct wg_endpoint *b);
/* Same cached source: local address and interface. */
bool endpoint_same_src(const struct wg_endpoint *a, const struct wg_endpoint *b);
/* "198.51.100.2:51820" or "[2001:db8::2]:51820"; "(none)" when unset. */
const char *endpoint_format(const struct wg_endpoint *e, char buf[ENDPOINT_STRLEN]);
/* Numeric "a.b.c.d:port" or "[v6]:port" (the configuration protocol's form). 0 or -EINVAL. */
int endpoint_parse(struct wg_endpoint *e, const char *s);
/* Like endpoint_parse, but also resolves host names (getaddrinfo), as `wg` does for config
 * files and the command line. 0, or -EINVAL / -EHOSTUNREACH with a message in err. */
int endpoint_resolve(struct wg_endpoint *e, const char *s, char *err, size_t errlen);
socklen_t endpoint_socklen(const struct wg_endpoint *e);

#endif
