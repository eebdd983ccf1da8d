// SPDX-License-Identifier: GPL-2.0
/*
 * Peer endpoints: parsing, printing and comparing the outer address of a peer.
 *
 * The configuration protocol only ever carries numeric endpoints ("192.0.2.1:51820",
 * "[2001:db8::1]:51820", "[fe80::1%eth0]:51820"), so endpoint_parse is strict and never
 * touches the resolver: the daemon must not block on DNS while holding its configuration lock.
 * Config files and the command line may name hosts; endpoint_resolve does that, as wg(8) does,
 * before anything is sent to the daemon.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "endpoint.h"

enum endpoint_limits {
	/* host part of "host:port" we are willing to look at (a DNS name is at most 253) */
	ENDPOINT_HOST_MAX = 256,
};

bool endpoint_eq(const struct wg_endpoint *a, const struct wg_endpoint *b)
{
	if (a->addr.sa.sa_family != b->addr.sa.sa_family)
		return false;
	if (a->addr.sa.sa_family == AF_INET)
		return a->addr.in4.sin_port == b->addr.in4.sin_port &&
		       a->addr.in4.sin_addr.s_addr == b->addr.in4.sin_addr.s_addr;
	if (a->addr.sa.sa_family == AF_INET6)
		return a->addr.in6.sin6_port == b->addr.in6.sin6_port &&
		       a->addr.in6.sin6_scope_id == b->addr.in6.sin6_scope_id &&
		       !memcmp(&a->addr.in6.sin6_addr, &b->addr.in6.sin6_addr,
			       sizeof(struct in6_addr));
	/* two unset endpoints are the same (no) endpoint */
	return true;
}

bool endpoint_same_src(const struct wg_endpoint *a, const struct wg_endpoint *b)
{
	return a->src_ifindex == b->src_ifindex && !memcmp(&a->src6, &b->src6, sizeof(a->src6));
}

socklen_t endpoint_socklen(const struct wg_endpoint *e)
{
	if (e->addr.sa.sa_family == AF_INET)
		return sizeof(struct sockaddr_in);
	if (e->addr.sa.sa_family == AF_INET6)
		return sizeof(struct sockaddr_in6);
	return 0;
}

const char *endpoint_format(const struct wg_endpoint *e, char buf[ENDPOINT_STRLEN])
{
	char host[INET6_ADDRSTRLEN + IF_NAMESIZE + 2], serv[8];

	if (!endpoint_is_set(e)) {
		snprintf(buf, ENDPOINT_STRLEN, "(none)");
		return buf;
	}
	/* getnameinfo, as wg(8) prints them, so that a scope id comes out as "%eth0" */
	if (getnameinfo(&e->addr.sa, endpoint_socklen(e), host, sizeof(host), serv, sizeof(serv),
			NI_DGRAM | NI_NUMERICHOST | NI_NUMERICSERV)) {
		snprintf(buf, ENDPOINT_STRLEN, "(invalid)");
		return buf;
	}
	if (e->addr.sa.sa_family == AF_INET6)
		snprintf(buf, ENDPOINT_STRLEN, "[%s]:%s", host, serv);
	else
		snprintf(buf, ENDPOINT_STRLEN, "%s:%s", host, serv);
	return buf;
}

/* Strict decimal 0-65535, no sign, no spaces. */
static int endpoint_parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	size_t i;

	if (!*s)
		return -EINVAL;
	for (i = 0; s[i]; ++i) {
		if (s[i] < '0' || s[i] > '9' || i >= 5)
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

/* Split "host:port" or "[host]:port" into a copy of host and a pointer to port. */
static int endpoint_split(const char *s, char host[ENDPOINT_HOST_MAX], const char **port,
			  bool *bracketed)
{
	const char *colon, *close;
	size_t hlen;

	*bracketed = s[0] == '[';
	if (*bracketed) {
		close = strchr(s, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		hlen = (size_t)(close - s - 1);
		*port = close + 2;
		++s;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -EINVAL;
		hlen = (size_t)(colon - s);
		*port = colon + 1;
	}
	if (!hlen || hlen >= ENDPOINT_HOST_MAX || !**port)
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	return 0;
}

int endpoint_parse(struct wg_endpoint *e, const char *s)
{
	char host[ENDPOINT_HOST_MAX], *pct;
	struct wg_endpoint ep = { 0 };
	const char *port_s;
	bool bracketed;
	uint16_t port;

	if (!s || endpoint_split(s, host, &port_s, &bracketed) ||
	    endpoint_parse_port(port_s, &port))
		return -EINVAL;
	if (!bracketed) {
		/* inet_pton, not inet_aton: "127.1" is not an address here */
		if (inet_pton(AF_INET, host, &ep.addr.in4.sin_addr) != 1)
			return -EINVAL;
		ep.addr.in4.sin_family = AF_INET;
		ep.addr.in4.sin_port = htons(port);
		*e = ep;
		return 0;
	}
	pct = strchr(host, '%');
	if (pct) {
		char *end;
		unsigned long id;

		*pct++ = '\0';
		id = if_nametoindex(pct);
		if (!id) {
			id = strtoul(pct, &end, 10);
			if (!*pct || *end || id == 0 || id > UINT32_MAX)
				return -EINVAL;
		}
		ep.addr.in6.sin6_scope_id = (uint32_t)id;
	}
	if (inet_pton(AF_INET6, host, &ep.addr.in6.sin6_addr) != 1)
		return -EINVAL;
	ep.addr.in6.sin6_family = AF_INET6;
	ep.addr.in6.sin6_port = htons(port);
	*e = ep;
	return 0;
}

int endpoint_resolve(struct wg_endpoint *e, const char *s, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC,
				  .ai_socktype = SOCK_DGRAM,
				  .ai_protocol = IPPROTO_UDP };
	struct addrinfo *res = NULL;
	char host[ENDPOINT_HOST_MAX];
	const char *port_s;
	bool bracketed;
	int ret;

	if (s && !endpoint_parse(e, s))
		return 0;
	if (!s || endpoint_split(s, host, &port_s, &bracketed)) {
		snprintf(err, errlen, "\"%s\" is not HOST:PORT or [IPv6]:PORT", s ? s : "");
		return -EINVAL;
	}
	ret = getaddrinfo(host, port_s, &hints, &res);
	if (ret) {
		snprintf(err, errlen, "cannot resolve \"%s\": %s", s,
			 ret == EAI_SYSTEM ? strerror(errno) : gai_strerror(ret));
		return ret == EAI_SERVICE ? -EINVAL : -EHOSTUNREACH;
	}
	/* the first answer, as wg(8) takes it */
	if ((res->ai_family == AF_INET && res->ai_addrlen == sizeof(struct sockaddr_in)) ||
	    (res->ai_family == AF_INET6 && res->ai_addrlen == sizeof(struct sockaddr_in6))) {
		memset(e, 0, sizeof(*e));
		memcpy(&e->addr, res->ai_addr, res->ai_addrlen);
		ret = 0;
	} else {
		snprintf(err, errlen, "\"%s\" has neither an IPv4 nor an IPv6 address", s);
		ret = -EHOSTUNREACH;
	}
	freeaddrinfo(res);
	return ret;
}
