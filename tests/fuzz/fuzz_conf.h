/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Comparing two wg_dev_conf structures for the round-trip checks of fuzz_uapi and fuzz_config:
 * what one direction formats, the other must parse back to the same thing. abort()s with a line
 * naming the first difference, so libFuzzer keeps the input.
 */
#ifndef XDPWG_FUZZ_CONF_H
#define XDPWG_FUZZ_CONF_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "endpoint.h"

enum fuzz_conf_cmp {
	FUZZ_CMP_SET,  /* a change request: flags and what they say is present */
	FUZZ_CMP_GET,  /* a snapshot: values, flags aside */
	FUZZ_CMP_FILE, /* showconf: values as GET, without statistics, roam policy only when set */
};

static inline void fuzz_conf_fail(const char *what, const char *field, size_t peer)
{
	fprintf(stderr, "%s: round trip changed %s (peer %zu)\n", what, field, peer);
	abort();
}

static inline void fuzz_cidrs_eq(const char *what, const char *field, size_t peer,
				 const struct conf_allowedip *a, size_t na,
				 const struct conf_allowedip *b, size_t nb)
{
	size_t i;

	if (na != nb)
		fuzz_conf_fail(what, field, peer);
	for (i = 0; i < na; i++) {
		size_t len = a[i].family == AF_INET ? sizeof(a[i].ip4) : sizeof(a[i].ip6);

		if (a[i].family != b[i].family || a[i].cidr != b[i].cidr ||
		    memcmp(&a[i].ip6, &b[i].ip6, len))
			fuzz_conf_fail(what, field, peer);
	}
}

static inline void fuzz_conf_eq(const char *what, const struct conf_dev *a,
				const struct conf_dev *b, enum fuzz_conf_cmp mode)
{
	bool vals = mode != FUZZ_CMP_SET;
	size_t i;

	if (!vals && a->flags != b->flags)
		fuzz_conf_fail(what, "device flags", 0);
	if ((vals || (a->flags & CONF_DEV_HAS_PRIVATE_KEY)) &&
	    memcmp(a->private_key, b->private_key, WG_KEY_LEN))
		fuzz_conf_fail(what, "private_key", 0);
	if ((vals || (a->flags & CONF_DEV_HAS_LISTEN_PORT)) && a->listen_port != b->listen_port)
		fuzz_conf_fail(what, "listen_port", 0);
	if ((vals || (a->flags & CONF_DEV_HAS_FWMARK)) && a->fwmark != b->fwmark)
		fuzz_conf_fail(what, "fwmark", 0);
	if (mode == FUZZ_CMP_GET && memcmp(a->public_key, b->public_key, WG_KEY_LEN))
		fuzz_conf_fail(what, "public_key (device)", 0);
	if (a->n_peers != b->n_peers)
		fuzz_conf_fail(what, "number of peers", 0);
	for (i = 0; i < a->n_peers; i++) {
		const struct conf_peer *p = &a->peers[i], *q = &b->peers[i];
		bool get = vals;
		bool roam = mode == FUZZ_CMP_GET ||
			    (mode == FUZZ_CMP_SET && (p->flags & CONF_PEER_HAS_ROAM_POLICY)) ||
			    (mode == FUZZ_CMP_FILE && (p->flags & CONF_PEER_HAS_ROAM_POLICY) &&
			     p->roam_policy != CONF_ROAM_ANY);

		if (memcmp(p->public_key, q->public_key, WG_KEY_LEN))
			fuzz_conf_fail(what, "public_key", i);
		if (!get && p->flags != q->flags)
			fuzz_conf_fail(what, "peer flags", i);
		if (!get && (p->flags & CONF_PEER_REMOVE))
			continue;
		if ((get || (p->flags & CONF_PEER_HAS_PRESHARED_KEY)) &&
		    memcmp(p->preshared_key, q->preshared_key, WG_KEY_LEN))
			fuzz_conf_fail(what, "preshared_key", i);
		if ((get || (p->flags & CONF_PEER_HAS_ENDPOINT)) &&
		    (endpoint_is_set(&p->endpoint) != endpoint_is_set(&q->endpoint) ||
		     (endpoint_is_set(&p->endpoint) && !endpoint_eq(&p->endpoint, &q->endpoint))))
			fuzz_conf_fail(what, "endpoint", i);
		if ((get || (p->flags & CONF_PEER_HAS_PERSISTENT_KEEPALIVE)) &&
		    p->persistent_keepalive != q->persistent_keepalive)
			fuzz_conf_fail(what, "persistent_keepalive", i);
		fuzz_cidrs_eq(what, "allowed IPs", i, p->allowedips, p->n_allowedips, q->allowedips,
			      q->n_allowedips);
		if (roam) {
			if (p->roam_policy != q->roam_policy)
				fuzz_conf_fail(what, "roam_policy", i);
			fuzz_cidrs_eq(what, "roam cidrs", i, p->roam_cidrs, p->n_roam_cidrs,
				      q->roam_cidrs, q->n_roam_cidrs);
		}
		if (mode == FUZZ_CMP_GET &&
		    (p->rx_bytes != q->rx_bytes || p->tx_bytes != q->tx_bytes ||
		     p->last_handshake_sec != q->last_handshake_sec ||
		     p->last_handshake_nsec != q->last_handshake_nsec ||
		     p->endpoint_moves != q->endpoint_moves ||
		     p->last_move_sec != q->last_move_sec))
			fuzz_conf_fail(what, "statistics", i);
	}
}

/* Run fmt over c into a malloc'd buffer; NULL on failure. */
static inline char *fuzz_format(int (*fmt)(const struct conf_dev *, FILE *),
				const struct conf_dev *c, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	int ret;

	if (!f)
		return NULL;
	ret = fmt(c, f);
	if (fclose(f) || ret) {
		free(buf);
		return NULL;
	}
	return buf;
}

#endif
