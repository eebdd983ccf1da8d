// SPDX-License-Identifier: GPL-2.0
/*
 * The reference classifier (see xdp_ref.h). Each step below is one of the spec's numbered steps
 * ("Classification order, for every frame") or a row of docs/security.md's "Handshake floods" and
 * "Junk floods"; the byte layouts are the RFCs' (791, 8200, 768) and WireGuard's. Where the spec
 * left a choice, /work/spec/edge-xdp-decisions.md settles it (its items are cited by number). It reads the
 * frame with bounds checks of its own and knows nothing about how bpf/ walks it.
 */
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "xdp_ref.h"

enum {
	ETH_HLEN_ = 14,
	ET_IPV4 = 0x0800,
	ET_IPV6 = 0x86dd,
	ET_8021Q = 0x8100,
	ET_8021AD = 0x88a8,
	P_HOPOPTS = 0,
	P_UDP = 17,
	P_ROUTING = 43,
	P_FRAGMENT = 44,
	P_AH = 51,
	P_DSTOPTS = 60,
};

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

void ref_mac1(const uint8_t key[32], const uint8_t *msg, size_t len, uint8_t out[16])
{
	static EVP_MAC *mac;
	EVP_MAC_CTX *ctx;
	size_t size = 16, outl = 0;
	OSSL_PARAM params[2];

	if (!mac)
		mac = EVP_MAC_fetch(NULL, "BLAKE2SMAC", NULL);
	ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size);
	params[1] = OSSL_PARAM_construct_end();
	memset(out, 0, 16);
	if (!ctx || !EVP_MAC_init(ctx, key, 32, params) || !EVP_MAC_update(ctx, msg, len) ||
	    !EVP_MAC_final(ctx, out, &outl, 16) || outl != 16)
		__builtin_trap(); /* no reference, no verdict: never guess */
	EVP_MAC_CTX_free(ctx);
}

/* The LPM trie: any entry of the same family whose first cidr bits equal the source's. */
static int allowed(const struct ref_maps *m, uint32_t family, const uint8_t *addr)
{
	int i;

	for (i = 0; i < m->nallow; i++) {
		uint32_t bits = m->allow[i].cidr, full = bits / 8, rest = bits % 8;

		if (m->allow[i].family != family)
			continue;
		if (memcmp(m->allow[i].addr, addr, full))
			continue;
		if (rest && ((m->allow[i].addr[full] ^ addr[full]) & (uint8_t)(0xff00 >> rest)))
			continue;
		return 1;
	}
	return 0;
}

/* Step 4: with the flag clear every destination is ours. */
static int ours(const struct ref_maps *m, uint32_t family, const uint8_t *dst)
{
	int i;

	if (!(m->cfg.flags & REF_CFG_F_LOCAL_ADDRS))
		return 1;
	for (i = 0; i < m->nlocal; i++)
		if (m->local[i].family == family &&
		    !memcmp(m->local[i].addr, dst, family == XDPWG_FAMILY_INET ? 4 : 16))
			return 1;
	return 0;
}

static void verdict(struct ref_result *r, int action, uint32_t reason, enum ref_capture cap)
{
	r->action = action;
	r->reason = reason;
	r->capture = cap;
}

/* Step 7's handshake checks: mac1, then the source's bucket; under load a source over its
 * bucket goes first, before any BLAKE2s. Returns 0 when the message passes on. */
static int handshake_checks(const struct ref_maps *m, const uint8_t *msg, uint32_t type,
			    struct ref_result *r)
{
	int under_load = !!(m->cfg.flags & XDPWG_CFG_F_UNDER_LOAD);

	if (under_load && m->hs_bucket == REF_BUCKET_EMPTY) {
		verdict(r, REF_XDP_DROP, XDPWG_STAT_HS_RATELIMITED, REF_CAPTURE_YES);
		return -1;
	}
	if ((m->cfg.flags & XDPWG_CFG_F_MAC1) && type != WG_MSG_HANDSHAKE_COOKIE) {
		size_t covered = type == WG_MSG_HANDSHAKE_INITIATION ? 116 : 60;
		uint8_t mac[16];

		ref_mac1(m->cfg.mac1_key, msg, covered, mac);
		if (memcmp(mac, msg + covered, 16)) {
			verdict(r, REF_XDP_DROP, XDPWG_STAT_BAD_MAC1, REF_CAPTURE_YES);
			return -1;
		}
	}
	if (m->hs_bucket == REF_BUCKET_EMPTY) {
		verdict(r, REF_XDP_DROP, XDPWG_STAT_HS_RATELIMITED, REF_CAPTURE_YES);
		return -1;
	}
	if (under_load && type == WG_MSG_HANDSHAKE_INITIATION)
		r->extra |= 1ull << XDPWG_STAT_HS_UNDER_LOAD;
	return 0;
}

void ref_classify(const uint8_t *f, size_t len, const struct ref_maps *m, struct ref_result *r)
{
	size_t off, l3, l4, ext_bytes = 0;
	uint32_t family, ip_plen, type, plen, ulen;
	uint16_t ethertype, mflags = 0;
	const uint8_t *src, *dst;
	int first_frag = 0, later_frag = 0, i;

	memset(r, 0, sizeof(*r));
	/* 1 */
	if (!m->have_config || m->cfg.listen_port == 0)
		return verdict(r, REF_XDP_PASS, XDPWG_STAT_PASS_DISABLED, REF_CAPTURE_NO);
	/* 2: Ethernet and up to two tags */
	if (len < ETH_HLEN_)
		return verdict(r, REF_XDP_PASS, XDPWG_STAT_PASS_OTHER, REF_CAPTURE_NO);
	ethertype = be16(f + 12);
	off = ETH_HLEN_;
	for (i = 0; i < 2 && (ethertype == ET_8021Q || ethertype == ET_8021AD); i++) {
		if (off + 4 > len)
			return verdict(r, REF_XDP_PASS, XDPWG_STAT_PASS_OTHER, REF_CAPTURE_NO);
		ethertype = be16(f + off + 2);
		off += 4;
		mflags |= XDPWG_META_F_VLAN;
	}
	l3 = off;
	if (ethertype == ET_IPV4) {
		/* 3, IPv4 (RFC 791) */
		size_t ihl;
		uint16_t frag;

		if (l3 + 20 > len)
			return verdict(r, REF_XDP_PASS, XDPWG_STAT_PASS_OTHER, REF_CAPTURE_NO);
		/* what the frame looks like, for XDPWG_FUZZ_SKIP, whatever decides it below */
		if (be16(f + l3 + 6) & 0x3fff)
			r->paths |= REF_PATH_FRAG;
		if (f[l3] >> 4 != 4 || (f[l3] & 0xf) < 5)
			return verdict(r, REF_XDP_PASS, XDPWG_STAT_PASS_OTHER, REF_CAPTURE_NO);
		ihl = (size_t)(f[l3] & 0xf) * 4;
		if (l3 + ihl > len || be16(f + l3 + 2) < ihl)
			return verdict(r, REF_XDP_PASS, XDPWG_STAT_PASS_OTHER, REF_CAPTURE_NO);
		if (f[l3 + 9] != P_UDP)
			return verdict(r, REF_XDP_PASS, XDPWG_STAT_PASS_OTHER, REF_CAPTURE_NO);
		frag = be16(f + l3 + 6);
		if (frag & 0x1fff) {
			later_frag = 1;
		} else if (frag & 0x2000) {
			first_frag = 1;
		}
		/* offset 0 without MF: an atomic fragment, i.e. a whole datagram */
		family = XDPWG_FAMILY_INET;
		src = f + l3 + 12;
		dst = f + l3 + 16;
		ip_plen = be16(f + l3 + 2) - (uint32_t)ihl;
		l4 = l3 + ihl;
	} else if (ethertype == ET_IPV6) {
		/* 3, IPv6 (RFC 8200) and its extension-header chain */
		size_t pos;
		int n = 0, bad = 0;
		uint8_t nh;

		if (l3 + 40 > len || f[l3] >> 4 != 6)
			return verdict(r, REF_XDP_PASS, XDPWG_STAT_PASS_OTHER, REF_CAPTURE_NO);
		family = XDPWG_FAMILY_INET6;
		src = f + l3 + 8;
		dst = f + l3 + 24;
		mflags |= XDPWG_META_F_IPV6;
		nh = f[l3 + 6];
		pos = l3 + 40;
		if (nh == P_HOPOPTS || nh == P_ROUTING || nh == P_DSTOPTS || nh == P_AH ||
		    nh == P_FRAGMENT || nh == 135)
			r->paths |= REF_PATH_IPV6_EXT;
		while (!later_frag) {
			size_t hl;

			if (nh != P_HOPOPTS && nh != P_ROUTING && nh != P_DSTOPTS && nh != P_AH &&
			    nh != P_FRAGMENT)
				break;
			r->paths |= REF_PATH_IPV6_EXT;
			if (++n > REF_IPV6_EXT_MAX) {
				bad = 1;
				break;
			}
			if (nh == P_FRAGMENT) {
				uint16_t fo;

				hl = 8;
				if (pos + hl > len) {
					bad = 1;
					break;
				}
				fo = be16(f + pos + 2);
				if (fo & 0xfff8)
					later_frag = 1; /* ends the walk, whatever comes next */
				else if (fo & 1)
					first_frag = 1;
			} else {
				if (pos + 2 > len) {
					bad = 1;
					break;
				}
				hl = nh == P_AH ? ((size_t)f[pos + 1] + 2) * 4
						: ((size_t)f[pos + 1] + 1) * 8;
				/* the header must be within the frame, not just its first bytes */
				if (pos + hl > len) {
					bad = 1;
					break;
				}
			}
			nh = f[pos];
			pos += hl;
			ext_bytes += hl;
		}
		if (bad) {
			r->paths |= REF_PATH_EXT_DEEP;
			if (ours(m, family, dst))
				return verdict(r, REF_XDP_DROP, REF_STAT_IPV6_EXT_DEEP,
					       REF_CAPTURE_NO); /* decisions 8: port never read */
			/* the spec's step 3 says PASS_OTHER for a deep chain to another address */
			r->paths |= REF_PATH_TRANSIT;
			return verdict(r, REF_XDP_PASS, XDPWG_STAT_PASS_OTHER, REF_CAPTURE_NO);
		}
		if (!later_frag && nh != P_UDP)
			return verdict(r, REF_XDP_PASS, XDPWG_STAT_PASS_OTHER, REF_CAPTURE_NO);
		/* what the IPv6 payload leaves for UDP after the extension headers */
		ip_plen =
			be16(f + l3 + 4) >= ext_bytes ? be16(f + l3 + 4) - (uint32_t)ext_bytes : 0;
		l4 = pos;
	} else {
		return verdict(r, REF_XDP_PASS, XDPWG_STAT_PASS_OTHER, REF_CAPTURE_NO);
	}
	if (first_frag || later_frag)
		r->paths |= REF_PATH_FRAG;

	/* 4 */
	if (m->cfg.flags & REF_CFG_F_LOCAL_ADDRS) {
		r->paths |= REF_PATH_TRANSIT;
		if (!ours(m, family, dst))
			return verdict(r, REF_XDP_PASS, REF_STAT_PASS_TRANSIT, REF_CAPTURE_NO);
	}

	/* 5 */
	if (later_frag)
		return verdict(r, REF_XDP_PASS, XDPWG_STAT_PASS_FRAGMENT, REF_CAPTURE_NO);
	if (first_frag) {
		if (l4 + 8 > len)
			return verdict(r, REF_XDP_PASS, XDPWG_STAT_PASS_FRAGMENT, REF_CAPTURE_NO);
		if (be16(f + l4 + 2) != m->cfg.listen_port)
			return verdict(r, REF_XDP_PASS, XDPWG_STAT_PASS_OTHER, REF_CAPTURE_NO);
		/* edge-xdp-decisions.md 8: capture mirrors these three (the port was read) */
		if ((m->cfg.flags & XDPWG_CFG_F_ALLOW_SRC) && !allowed(m, family, src))
			return verdict(r, REF_XDP_DROP, XDPWG_STAT_SRC_NOT_ALLOWED,
				       REF_CAPTURE_YES);
		if (m->frag_bucket == REF_BUCKET_EMPTY)
			return verdict(r, REF_XDP_DROP, REF_STAT_FRAG_BUDGET, REF_CAPTURE_YES);
		return verdict(r, REF_XDP_PASS, REF_STAT_FRAG_PASSED, REF_CAPTURE_YES);
	}

	/* 6 */
	if (l4 + 8 > len || be16(f + l4 + 2) != m->cfg.listen_port)
		return verdict(r, REF_XDP_PASS, XDPWG_STAT_PASS_OTHER, REF_CAPTURE_NO);

	/* 7: a datagram to us on the listen port (docs/security.md, "Source allowlist", "Junk
	 * floods", "Handshake floods") */
	if ((m->cfg.flags & XDPWG_CFG_F_ALLOW_SRC) && !allowed(m, family, src))
		return verdict(r, REF_XDP_DROP, XDPWG_STAT_SRC_NOT_ALLOWED, REF_CAPTURE_YES);
	ulen = be16(f + l4 + 4);
	if (ulen < 8 + 4 || ulen > ip_plen || l4 + ulen > len)
		return verdict(r, REF_XDP_DROP, XDPWG_STAT_TRUNCATED, REF_CAPTURE_YES);
	plen = ulen - 8;
	type = le32(f + l4 + 8); /* one type byte, three reserved zero bytes */
	switch (type) {
	case WG_MSG_HANDSHAKE_INITIATION:
		if (plen != WG_MSG_INITIATION_LEN)
			return verdict(r, REF_XDP_DROP, XDPWG_STAT_BAD_SIZE_INITIATION,
				       REF_CAPTURE_YES);
		break;
	case WG_MSG_HANDSHAKE_RESPONSE:
		if (plen != WG_MSG_RESPONSE_LEN)
			return verdict(r, REF_XDP_DROP, XDPWG_STAT_BAD_SIZE_RESPONSE,
				       REF_CAPTURE_YES);
		break;
	case WG_MSG_HANDSHAKE_COOKIE:
		if (plen != WG_MSG_COOKIE_LEN)
			return verdict(r, REF_XDP_DROP, XDPWG_STAT_BAD_SIZE_COOKIE,
				       REF_CAPTURE_YES);
		break;
	case WG_MSG_DATA:
		if (plen < WG_MSG_DATA_MIN_LEN)
			return verdict(r, REF_XDP_DROP, XDPWG_STAT_BAD_SIZE_DATA, REF_CAPTURE_YES);
		break;
	default:
		return verdict(r, REF_XDP_DROP, XDPWG_STAT_BAD_TYPE, REF_CAPTURE_YES);
	}

	r->m.flags = mflags;
	if (type == WG_MSG_DATA) {
		uint32_t idx = le32(f + l4 + 8 + 4);
		int s, p;

		for (s = 0; s < m->nsessions && m->sessions[s].index != idx; s++)
			;
		if (s == m->nsessions) {
			if (m->cfg.flags & XDPWG_CFG_F_PASS_UNKNOWN)
				return verdict(r, REF_XDP_PASS, XDPWG_STAT_UNKNOWN_INDEX_PASSED,
					       REF_CAPTURE_YES);
			return verdict(r, REF_XDP_DROP, XDPWG_STAT_UNKNOWN_INDEX, REF_CAPTURE_YES);
		}
		r->m.peer_id = m->sessions[s].peer_id;
		r->m.flags |= XDPWG_META_F_PEER;
		for (p = 0; p < m->npeers && m->peers[p].id != r->m.peer_id; p++)
			;
		if (p < m->npeers) {
			const struct xdpwg_endpoint *ep = &m->peers[p].endpoint;
			size_t alen = family == XDPWG_FAMILY_INET ? 4 : 16;
			uint16_t sport_be;

			memcpy(&sport_be, f + l4, 2);
			r->peer_hit = 1;
			r->peer_id = r->m.peer_id;
			r->rx_bytes = plen;
			/* roaming: data from anywhere but the peer's endpoint (security.md:
			 * "counts new_source and emits new-source events ... at most one per peer
			 * per 100 ms"; pinned peers raise none) */
			if (ep->family != family || ep->port != sport_be ||
			    memcmp(ep->addr.v6, src, alen)) {
				r->m.flags |= XDPWG_META_F_NEW_SOURCE;
				r->extra |= 1ull << XDPWG_STAT_NEW_SOURCE;
				if (!(m->peers[p].flags & XDPWG_PEER_F_ROAM_PINNED)) {
					if (m->peers[p].event_recent) {
						r->extra |= 1ull << XDPWG_STAT_EVENT_RATELIMITED;
					} else {
						r->extra |= 1ull << XDPWG_STAT_EVENT_SENT;
						r->event = 1;
						r->ev_src.family = (uint16_t)family;
						r->ev_src.port = sport_be;
						memcpy(r->ev_src.addr.v6, src, alen);
					}
				}
			}
		}
	} else if (handshake_checks(m, f + l4 + 8, type, r)) {
		return;
	}
	/* into the AF_XDP socket of the receive queue, with the metadata in front */
	r->meta = 1;
	r->m.msg_type = (uint16_t)type;
	r->m.payload_off = (uint16_t)(l4 + 8);
	r->m.payload_len = (uint16_t)plen;
	r->m.magic = XDPWG_META_MAGIC;
	verdict(r, REF_XDP_REDIRECT, XDPWG_STAT_REDIRECTED, REF_CAPTURE_YES);
}

const char *ref_stat_name(uint32_t s)
{
	static const char *const names[] = {
		"pass_other",	   "pass_fragment", "pass_ipv6_ext", "pass_disabled",
		"redirected",	   "no_xsk_passed", "bad_size_init", "bad_size_response",
		"bad_size_cookie", "bad_size_data", "bad_type",	     "unknown_index",
		"truncated",	   "new_source",    "event_sent",    "event_ratelimited",
		"event_lost",	   "meta_failed",   "bad_mac1",	     "hs_ratelimited",
		"src_not_allowed", "hs_under_load", "capture_lost",  "unknown_index_passed",
		"pass_transit",	   "frag_passed",   "frag_budget",   "ipv6_ext_deep",
	};

	return s < sizeof(names) / sizeof(names[0]) ? names[s] : "?";
}
