// SPDX-License-Identifier: GPL-2.0
/*
 * The source allowlist, an xdpwg extension: with a list set, only datagrams from its CIDRs reach
 * the engine. The XDP program enforces it on the uplink (io_xdp_set_allow_source); this is the
 * same list as a trie for what reaches the kernel sockets (socket mode, and what XDP passes up).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xdpwgd.h"

/* The list a request asks for: its CIDRs, after the current ones unless it replaces them. */
int daemon_allow_src_merge(const struct xdpwgd *d, const struct conf_dev *req,
			   struct conf_allowedip **out, size_t *n, char *err, size_t errlen)
{
	size_t keep = req->flags & CONF_DEV_REPLACE_ALLOW_SOURCE ? 0 : d->n_allow_src;
	size_t total = keep + req->n_allow_src;
	struct conf_allowedip *list;

	*out = NULL;
	*n = 0;
	if (total > XDPWG_ALLOW_SRC_MAX) {
		snprintf(err, errlen, "allow_source: %zu CIDRs, more than %d", total,
			 XDPWG_ALLOW_SRC_MAX);
		return -E2BIG;
	}
	if (!total)
		return 0;
	list = calloc(total, sizeof(*list));
	if (!list) {
		snprintf(err, errlen, "allow_source: out of memory");
		return -ENOMEM;
	}
	if (keep)
		memcpy(list, d->allow_src, keep * sizeof(*list));
	if (req->n_allow_src)
		memcpy(list + keep, req->allow_src, req->n_allow_src * sizeof(*list));
	*out = list;
	*n = total;
	return 0;
}

/* A trie of the list for the kernel-socket path; *out NULL for an empty list (any source). */
int daemon_allow_src_trie(struct xdpwgd *d, const struct conf_allowedip *list, size_t n,
			  struct allowedips **out)
{
	struct allowedips *t;

	*out = NULL;
	if (!n)
		return 0;
	t = allowedips_new();
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const void *a =
			list[i].family == AF_INET ? (const void *)&list[i].ip4 : &list[i].ip6;
		int ret = allowedips_insert(t, list[i].family, a, list[i].cidr, d);

		if (ret < 0) {
			allowedips_free(t);
			return ret;
		}
	}
	*out = t;
	return 0;
}

/* In the list (or the list is empty: any source)? */
static bool daemon_source_in_list(struct xdpwgd *d, const struct wg_endpoint *src)
{
	const struct sockaddr *sa = &src->addr.sa;

	if (!d->allow_trie)
		return true;
	if (sa->sa_family == AF_INET)
		return allowedips_lookup(d->allow_trie, AF_INET, &src->addr.in4.sin_addr) != NULL;
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &src->addr.in6.sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a6))
			return allowedips_lookup(d->allow_trie, AF_INET, &a6->s6_addr[12]) != NULL;
		return allowedips_lookup(d->allow_trie, AF_INET6, a6) != NULL;
	}
	return false;
}

bool daemon_source_allowed(void *ctx, const struct wg_endpoint *src)
{
	struct xdpwgd *d = ctx;

	if (daemon_source_in_list(d, src))
		return true;
	d->src_not_allowed++;
	return false;
}
