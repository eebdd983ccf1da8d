// SPDX-License-Identifier: GPL-2.0
/*
 * A gateway cluster's forwarding in XDP (bpf/cluster.bpf.h, issue #17) under BPF_PROG_TEST_RUN,
 * with the maps written by io/cluster_fwd.c as the daemon writes them. We are gateway 1 at
 * 198.18.0.1 on cl0; gateway 2 is on the same link (a neighbour), 3 behind a router whose MAC
 * is not known, 4 on another interface (cl2), 5 unroutable.
 *   - a data message, handshake response or cookie reply for gateway 2's index leaves with
 *     XDP_TX, IP-in-IP: Ethernet to 2's MAC, an outer IPv4 header exactly right (checksum,
 *     DF, TTL, protocol 4 or 41), the inner packet byte for byte as it came (VLAN tags gone);
 *     one counter per type;
 *   - gateway 4's goes out cl2 (XDP_REDIRECT); 3's is dropped for want of a neighbour, 5's for
 *     want of a route, one too big for the route's MTU too; an index of a gateway id with no
 *     member (or id 0) is dropped;
 *   - our own index, and an initiation whatever its bytes say: exactly today's path;
 *   - IP-in-IP from a member is unwrapped and classified as if direct (metadata flags
 *     forwarded, payload offset of the inner frame), its MACs those of our next hop back to
 *     the client (or flagged no-hop when there is none); a forwarded index of another gateway
 *     is not forwarded again;
 *   - IP-in-IP from a non-member is dropped; to another address it passes as any non-UDP;
 *     malformed encapsulation (options, fragment, wrong inner version, truncated) is dropped;
 *   - an IPv6 underlay: outer IPv6 (next header 4), and unwrapped the same way;
 *   - no cluster (after cluster_fwd_free): an index of gateway 2 is an unknown index as today.
 * Root only (skips otherwise); private network and mount namespaces, nothing pinned.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>

#include "../unit/tap.h"
#include "cluster_fwd.h"
#include "loader.h"
#include "log.h"
#include "netlink.h"
#include "pins.h"
#include "xdpwg_wire.h"
#include "xdp_run.h"

#define PORT	  51820
#define SELF_ID	  1u
#define PEER_ID	  5u
#define OUR_IDX	  ((SELF_ID << XDPWG_GW_ID_SHIFT) | 0x123456u)
#define IDX_OF(g) (((uint32_t)(g) << XDPWG_GW_ID_SHIFT) | 0x0abcdefu)
#define MAC_GW2	  "\x02\x00\x00\x00\x00\x02"
#define MAC_GW4	  "\x02\x00\x00\x00\x00\x04"
#define MAC_RTR	  "\x02\x00\x00\x00\x00\xfd"
#define MAC_IN	  "\x02\x00\x00\x00\x00\x99" /* the frame's own MACs as they came */

enum {
	T_INIT = 1,
	T_RESP = 2,
	T_COOKIE = 3,
	T_DATA = 4,
};

static struct xdpwg_loader *ld;
static int if_cl0, if_cl2;
static uint8_t mac_cl0[6], mac_cl2[6];

/* --- frames --- */

struct fx {
	int family; /* inner family: AF_INET or AF_INET6 */
	int vlans;
	const char *src, *dst;
	uint32_t type, index;
	size_t plen;
	size_t cut;
};

static size_t put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return 2;
}

static uint16_t csum16(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Ethernet (+ VLANs), IP, UDP to PORT, a WireGuard message of plen bytes. *l3 gets the IP
 * header's offset. */
static size_t build(uint8_t *buf, const struct fx *f, size_t *l3)
{
	size_t off = 12, udp_len = 8 + f->plen, i;

	memset(buf, 0, 4096);
	memcpy(buf, mac_cl0, 6);
	memcpy(buf + 6, MAC_IN, 6);
	for (i = 0; i < (size_t)f->vlans; i++) {
		off += put16(buf + off, ETH_P_8021Q);
		off += put16(buf + off, (uint16_t)(100 + i));
	}
	*l3 = off + 2;
	if (f->family == AF_INET) {
		off += put16(buf + off, ETH_P_IP);
		buf[off] = 0x45;
		put16(buf + off + 2, (uint16_t)(20 + udp_len));
		buf[off + 8] = 64;
		buf[off + 9] = IPPROTO_UDP;
		inet_pton(AF_INET, f->src ? f->src : "203.0.113.2", buf + off + 12);
		inet_pton(AF_INET, f->dst ? f->dst : "198.18.1.1", buf + off + 16);
		put16(buf + off + 10, csum16(buf + off, 20));
		off += 20;
	} else {
		off += put16(buf + off, ETH_P_IPV6);
		buf[off] = 0x60;
		put16(buf + off + 4, (uint16_t)udp_len);
		buf[off + 6] = IPPROTO_UDP;
		buf[off + 7] = 64;
		inet_pton(AF_INET6, f->src ? f->src : "2001:db8:5::2", buf + off + 8);
		inet_pton(AF_INET6, f->dst ? f->dst : "2001:db8:1::1", buf + off + 24);
		off += 40;
	}
	put16(buf + off, 40000);
	put16(buf + off + 2, PORT);
	put16(buf + off + 4, (uint16_t)udp_len);
	off += 8;
	for (i = 0; i < f->plen; i++)
		buf[off + i] = (uint8_t)(0xa0 + i);
	buf[off] = (uint8_t)f->type;
	buf[off + 1] = buf[off + 2] = buf[off + 3] = 0;
	if (f->type == T_RESP) {
		uint32_t sender = IDX_OF(2);

		memcpy(buf + off + 4, &sender, 4); /* the sender's index: never looked at */
		memcpy(buf + off + 8, &f->index, 4);
	} else {
		memcpy(buf + off + 4, &f->index, 4);
	}
	return off + f->plen - f->cut;
}

/* Wrap frame (its IP packet from l3 on) in an outer header of family ofam from osrc to odst,
 * with protocol proto; ihl 5 unless options. */
struct encap {
	int ofam;
	const char *osrc, *odst;
	int proto; /* 0: by the inner family */
	int options, frag;
};

static size_t wrap(uint8_t *out, const uint8_t *in, size_t len, size_t l3, int inner_family,
		   const struct encap *e)
{
	size_t inner = len - l3, off = 12, ohl;
	int proto = e->proto ? e->proto : inner_family == AF_INET ? 4 : 41;

	memset(out, 0, 4096);
	memcpy(out, mac_cl0, 6);
	memcpy(out + 6, MAC_GW2, 6);
	if (e->ofam == AF_INET) {
		ohl = e->options ? 24 : 20;
		off += put16(out + off, ETH_P_IP);
		out[off] = (uint8_t)(0x40 | ohl / 4);
		put16(out + off + 2, (uint16_t)(ohl + inner));
		put16(out + off + 6, e->frag ? 0x2000 : 0x4000);
		out[off + 8] = 64;
		out[off + 9] = (uint8_t)proto;
		inet_pton(AF_INET, e->osrc, out + off + 12);
		inet_pton(AF_INET, e->odst, out + off + 16);
		put16(out + off + 10, csum16(out + off, ohl));
	} else {
		ohl = 40;
		off += put16(out + off, ETH_P_IPV6);
		out[off] = 0x60;
		put16(out + off + 4, (uint16_t)inner);
		out[off + 6] = (uint8_t)proto;
		out[off + 7] = 64;
		inet_pton(AF_INET6, e->osrc, out + off + 8);
		inet_pton(AF_INET6, e->odst, out + off + 24);
	}
	off += ohl;
	memcpy(out + off, in + l3, inner);
	return off + inner;
}

/* --- runs --- */

struct run {
	int err;
	uint32_t retval;
	uint8_t out[8192];
	size_t out_len; /* the frame, after any metadata */
	struct xdpwg_meta meta;
	bool has_meta;
	uint64_t delta[XDPWG_STAT_MAX];
	uint64_t total;
};

static void run_frame(const uint8_t *in, size_t len, int ifindex, struct run *r)
{
	static uint8_t raw[8192];
	uint64_t before[XDPWG_STAT_MAX], now[XDPWG_STAT_MAX];
	struct xdp_run x;
	size_t ml;

	memset(r, 0, sizeof(*r));
	loader_stats(ld, before);
	r->err = xdp_run_on(loader_prog_fd(ld), (uint32_t)ifindex, in, len, raw, sizeof(raw), &x);
	loader_stats(ld, now);
	for (int i = 0; i < XDPWG_STAT_MAX; i++) {
		r->delta[i] = now[i] - before[i];
		r->total += r->delta[i];
	}
	r->retval = x.retval;
	ml = x.ctx.data;
	r->has_meta = ml == sizeof(struct xdpwg_meta);
	if (r->has_meta)
		memcpy(&r->meta, raw, sizeof(r->meta));
	if (x.out_len >= ml) {
		r->out_len = x.out_len - ml;
		memcpy(r->out, raw + ml, r->out_len);
	}
}

static const char *vname(uint32_t v)
{
	return v == XDP_PASS	   ? "PASS"
	       : v == XDP_DROP	   ? "DROP"
	       : v == XDP_TX	   ? "TX"
	       : v == XDP_REDIRECT ? "REDIRECT"
				   : "?";
}

/* The verdict and exactly these counters (s2 XDPWG_STAT_MAX: one counter only). */
static bool expect2(const char *name, const struct run *r, uint32_t verdict, enum xdpwg_stat s1,
		    enum xdpwg_stat s2)
{
	uint64_t want_total = s2 == XDPWG_STAT_MAX ? 1 : 2;
	bool good = !r->err && r->retval == verdict && r->delta[s1] == 1 &&
		    (s2 == XDPWG_STAT_MAX || r->delta[s2] == 1) && r->total == want_total;

	if (!ok(good, "%s -> %s, %s%s%s", name, vname(verdict), pins_stat_name(s1),
		s2 == XDPWG_STAT_MAX ? "" : " + ",
		s2 == XDPWG_STAT_MAX ? "" : pins_stat_name(s2))) {
		tap_diag("  err %d, got %s, %llu counters:", r->err, vname(r->retval),
			 (unsigned long long)r->total);
		for (int i = 0; i < XDPWG_STAT_MAX; i++)
			if (r->delta[i])
				tap_diag("    %s +%llu", pins_stat_name(i),
					 (unsigned long long)r->delta[i]);
	}
	return good;
}

static void fx_run(const struct fx *f, struct run *r, uint8_t *in, size_t *len, size_t *l3)
{
	*len = build(in, f, l3);
	run_frame(in, *len, if_cl0, r);
}

/* The frame went out IP-in-IP to dst_mac/dst (IPv4 underlay), the inner packet unchanged. */
static void check_encap4(const char *name, const struct run *r, const uint8_t *in, size_t len,
			 size_t l3, const char *dst_mac, const uint8_t *src_mac, const char *dst,
			 int proto)
{
	size_t inner = len - l3;
	const uint8_t *ip = r->out + 14;
	uint8_t a[4];

	ok(r->out_len == 14 + 20 + inner, "  %s: length %zu = Ethernet + 20 + the inner %zu", name,
	   r->out_len, inner);
	ok(!memcmp(r->out, dst_mac, 6) && !memcmp(r->out + 6, src_mac, 6) && r->out[12] == 0x08 &&
		   r->out[13] == 0x00,
	   "  %s: Ethernet to the member's next hop, from our MAC, IPv4", name);
	ok(ip[0] == 0x45 && ip[1] == 0 && (ip[2] << 8 | ip[3]) == (int)(20 + inner) && ip[4] == 0 &&
		   ip[5] == 0 && ip[6] == 0x40 && ip[7] == 0 && ip[8] == 64 && ip[9] == proto,
	   "  %s: outer IPv4: version 4, ihl 5, total length, DF, TTL 64, protocol %d", name,
	   proto);
	ok(csum16(ip, 20) == 0, "  %s: outer header checksum valid", name);
	inet_pton(AF_INET, "198.18.0.1", a);
	ok(!memcmp(ip + 12, a, 4), "  %s: outer source: our underlay 198.18.0.1", name);
	inet_pton(AF_INET, dst, a);
	ok(!memcmp(ip + 16, a, 4), "  %s: outer destination: the member's %s", name, dst);
	ok(r->out_len >= 34 + inner && !memcmp(r->out + 34, in + l3, inner),
	   "  %s: inner packet byte for byte as it came", name);
}

/* --- the cases --- */

static struct cluster_fwd *cf;

static void sh(const char *cmd)
{
	if (system(cmd) != 0)
		tap_diag("command failed: %s", cmd);
}

static void test_forward(void)
{
	static uint8_t in[4096];
	struct run r;
	size_t len, l3;
	struct fx f;

	f = (struct fx){ .family = AF_INET, .type = T_DATA, .index = IDX_OF(2), .plen = 64 };
	fx_run(&f, &r, in, &len, &l3);
	if (expect2("data for gateway 2", &r, XDP_TX, XDPWG_STAT_CLUSTER_FWD_DATA, XDPWG_STAT_MAX))
		check_encap4("data", &r, in, len, l3, MAC_GW2, mac_cl0, "198.18.0.2", 4);

	f = (struct fx){ .family = AF_INET, .type = T_RESP, .index = IDX_OF(2), .plen = 92 };
	fx_run(&f, &r, in, &len, &l3);
	if (expect2("handshake response for gateway 2", &r, XDP_TX, XDPWG_STAT_CLUSTER_FWD_RESPONSE,
		    XDPWG_STAT_MAX))
		check_encap4("response", &r, in, len, l3, MAC_GW2, mac_cl0, "198.18.0.2", 4);

	f = (struct fx){ .family = AF_INET, .type = T_COOKIE, .index = IDX_OF(2), .plen = 64 };
	fx_run(&f, &r, in, &len, &l3);
	if (expect2("cookie reply for gateway 2", &r, XDP_TX, XDPWG_STAT_CLUSTER_FWD_COOKIE,
		    XDPWG_STAT_MAX))
		check_encap4("cookie", &r, in, len, l3, MAC_GW2, mac_cl0, "198.18.0.2", 4);

	f = (struct fx){ .family = AF_INET6, .type = T_DATA, .index = IDX_OF(2), .plen = 80 };
	fx_run(&f, &r, in, &len, &l3);
	if (expect2("IPv6 data for gateway 2", &r, XDP_TX, XDPWG_STAT_CLUSTER_FWD_DATA,
		    XDPWG_STAT_MAX))
		check_encap4("IPv6 inner", &r, in, len, l3, MAC_GW2, mac_cl0, "198.18.0.2", 41);

	f = (struct fx){
		.family = AF_INET, .vlans = 2, .type = T_DATA, .index = IDX_OF(2), .plen = 48
	};
	fx_run(&f, &r, in, &len, &l3);
	if (expect2("QinQ-tagged data for gateway 2", &r, XDP_TX, XDPWG_STAT_CLUSTER_FWD_DATA,
		    XDPWG_STAT_MAX))
		check_encap4("tags gone", &r, in, len, l3, MAC_GW2, mac_cl0, "198.18.0.2", 4);

	f = (struct fx){ .family = AF_INET, .type = T_DATA, .index = IDX_OF(4), .plen = 64 };
	fx_run(&f, &r, in, &len, &l3);
	if (expect2("data for gateway 4, on cl2", &r, XDP_REDIRECT, XDPWG_STAT_CLUSTER_FWD_DATA,
		    XDPWG_STAT_MAX))
		check_encap4("redirect", &r, in, len, l3, MAC_GW4, mac_cl2, "198.18.2.4", 4);

	f = (struct fx){ .family = AF_INET, .type = T_DATA, .index = IDX_OF(3), .plen = 64 };
	fx_run(&f, &r, in, &len, &l3);
	expect2("data for gateway 3, next hop unresolved", &r, XDP_DROP,
		XDPWG_STAT_CLUSTER_NO_NEIGH, XDPWG_STAT_MAX);
	f.index = IDX_OF(5);
	fx_run(&f, &r, in, &len, &l3);
	expect2("data for gateway 5, no route", &r, XDP_DROP, XDPWG_STAT_CLUSTER_FWD_FAILED,
		XDPWG_STAT_MAX);
	f.index = IDX_OF(9);
	fx_run(&f, &r, in, &len, &l3);
	expect2("data for gateway 9, no such member", &r, XDP_DROP, XDPWG_STAT_CLUSTER_UNKNOWN_GW,
		XDPWG_STAT_MAX);
	f.index = IDX_OF(0);
	fx_run(&f, &r, in, &len, &l3);
	expect2("data for gateway id 0", &r, XDP_DROP, XDPWG_STAT_CLUSTER_UNKNOWN_GW,
		XDPWG_STAT_MAX);
	f = (struct fx){ .family = AF_INET, .type = T_RESP, .index = IDX_OF(63), .plen = 92 };
	fx_run(&f, &r, in, &len, &l3);
	expect2("response for gateway 63, no such member", &r, XDP_DROP,
		XDPWG_STAT_CLUSTER_UNKNOWN_GW, XDPWG_STAT_MAX);

	/* 1480 bytes of IPv4 fit a 1500-byte MTU with the outer 20; 1490 do not */
	f = (struct fx){ .family = AF_INET, .type = T_DATA, .index = IDX_OF(2), .plen = 1452 };
	fx_run(&f, &r, in, &len, &l3);
	expect2("1480-byte packet for gateway 2 (1500 with the outer header)", &r, XDP_TX,
		XDPWG_STAT_CLUSTER_FWD_DATA, XDPWG_STAT_MAX);
	f.plen = 1462;
	fx_run(&f, &r, in, &len, &l3);
	expect2("1490-byte packet for gateway 2: over the route's MTU", &r, XDP_DROP,
		XDPWG_STAT_CLUSTER_FWD_FAILED, XDPWG_STAT_MAX);

	/* sizes and truncation are judged before the index, as for any datagram */
	f = (struct fx){ .family = AF_INET, .type = T_DATA, .index = IDX_OF(2), .plen = 20 };
	fx_run(&f, &r, in, &len, &l3);
	expect2("20-byte data for gateway 2", &r, XDP_DROP, XDPWG_STAT_BAD_SIZE_DATA,
		XDPWG_STAT_MAX);
	f = (struct fx){ .family = AF_INET, .type = T_RESP, .index = IDX_OF(2), .plen = 91 };
	fx_run(&f, &r, in, &len, &l3);
	expect2("91-byte response for gateway 2", &r, XDP_DROP, XDPWG_STAT_BAD_SIZE_RESPONSE,
		XDPWG_STAT_MAX);
	f = (struct fx){
		.family = AF_INET, .type = T_DATA, .index = IDX_OF(2), .plen = 64, .cut = 10
	};
	fx_run(&f, &r, in, &len, &l3);
	expect2("data for gateway 2 cut short of its UDP length", &r, XDP_DROP,
		XDPWG_STAT_TRUNCATED, XDPWG_STAT_MAX);
}

static void test_local(void)
{
	static uint8_t in[4096];
	struct run r;
	size_t len, l3;
	struct fx f;

	f = (struct fx){ .family = AF_INET, .type = T_DATA, .index = OUR_IDX, .plen = 64 };
	fx_run(&f, &r, in, &len, &l3);
	expect2("data for our own index", &r, XDP_PASS, XDPWG_STAT_NO_XSK_PASSED, XDPWG_STAT_MAX);
	ok(r.has_meta && r.meta.peer_id == PEER_ID && r.meta.flags == XDPWG_META_F_PEER &&
		   r.out_len == len && !memcmp(r.out, in, len),
	   "  the frame untouched, metadata as without a cluster");
	f.index = (SELF_ID << XDPWG_GW_ID_SHIFT) | 0x777;
	fx_run(&f, &r, in, &len, &l3);
	expect2("data for an unknown index of ours", &r, XDP_DROP, XDPWG_STAT_UNKNOWN_INDEX,
		XDPWG_STAT_MAX);
	/* an initiation carries only its sender's index: answered here, never forwarded */
	f = (struct fx){ .family = AF_INET, .type = T_INIT, .index = IDX_OF(2), .plen = 148 };
	fx_run(&f, &r, in, &len, &l3);
	expect2("initiation with gateway 2's id in its bytes", &r, XDP_PASS,
		XDPWG_STAT_NO_XSK_PASSED, XDPWG_STAT_MAX);
	ok(r.out_len == len && !memcmp(r.out, in, len), "  the initiation untouched");
}

static void test_unwrap(void)
{
	static uint8_t in[4096], enc[4096];
	const struct encap e4 = { .ofam = AF_INET, .osrc = "198.18.0.2", .odst = "198.18.0.1" };
	struct encap e;
	struct run r;
	size_t len, l3, elen;
	struct fx f;

	f = (struct fx){ .family = AF_INET, .type = T_DATA, .index = OUR_IDX, .plen = 64 };
	len = build(in, &f, &l3);
	elen = wrap(enc, in, len, l3, AF_INET, &e4);
	run_frame(enc, elen, if_cl0, &r);
	expect2("IP-in-IP from gateway 2, our session", &r, XDP_PASS, XDPWG_STAT_CLUSTER_FWD_IN,
		XDPWG_STAT_NO_XSK_PASSED);
	ok(r.has_meta && r.meta.peer_id == PEER_ID &&
		   r.meta.flags == (XDPWG_META_F_PEER | XDPWG_META_F_FORWARDED) &&
		   r.meta.payload_off == 14 + 20 + 8 && r.meta.payload_len == 64,
	   "  metadata: peer, forwarded; the inner frame's payload offset (%u)",
	   r.meta.payload_off);
	ok(r.out_len == len && !memcmp(r.out + 12, in + 12, len - 12),
	   "  the frame is the inner packet behind an Ethernet header");
	ok(!memcmp(r.out, mac_cl0, 6) && !memcmp(r.out + 6, MAC_RTR, 6),
	   "  from our next hop back to the client (the router's MAC), to ours");

	f.src = "198.51.100.7"; /* no route back: replies take the kernel's */
	len = build(in, &f, &l3);
	elen = wrap(enc, in, len, l3, AF_INET, &e4);
	run_frame(enc, elen, if_cl0, &r);
	expect2("IP-in-IP from gateway 2, client with no route back", &r, XDP_PASS,
		XDPWG_STAT_CLUSTER_FWD_IN, XDPWG_STAT_NO_XSK_PASSED);
	ok(r.has_meta && r.meta.flags ==
				 (XDPWG_META_F_PEER | XDPWG_META_F_FORWARDED | XDPWG_META_F_NO_HOP),
	   "  metadata flags no-hop");
	ok(!memcmp(r.out, mac_cl0, 6) && !memcmp(r.out + 6, MAC_GW2, 6), "  the MACs as they came");

	f = (struct fx){ .family = AF_INET6, .type = T_RESP, .index = OUR_IDX, .plen = 92 };
	len = build(in, &f, &l3);
	elen = wrap(enc, in, len, l3, AF_INET6, &e4);
	run_frame(enc, elen, if_cl0, &r);
	expect2("IPv6-in-IPv4 response from gateway 2", &r, XDP_PASS, XDPWG_STAT_CLUSTER_FWD_IN,
		XDPWG_STAT_NO_XSK_PASSED);
	ok(r.has_meta && (r.meta.flags & XDPWG_META_F_IPV6) && r.meta.msg_type == T_RESP &&
		   r.out[12] == 0x86 && r.out[13] == 0xdd,
	   "  classified as IPv6 to our port");

	f = (struct fx){ .family = AF_INET, .type = T_DATA, .index = IDX_OF(4), .plen = 64 };
	len = build(in, &f, &l3);
	elen = wrap(enc, in, len, l3, AF_INET, &e4);
	run_frame(enc, elen, if_cl0, &r);
	expect2("forwarded data for gateway 4: not forwarded again", &r, XDP_DROP,
		XDPWG_STAT_CLUSTER_FWD_IN, XDPWG_STAT_UNKNOWN_INDEX);

	/* a member's address spoofed around something that is no WireGuard message for us: never
	 * handed to the kernel (it would deliver or route it as if it had come in directly) */
	f = (struct fx){ .family = AF_INET, .type = T_DATA, .index = OUR_IDX, .plen = 64 };
	len = build(in, &f, &l3);
	in[l3 + 22] = 0x0e; /* UDP destination port 3784 (BFD) instead of ours */
	in[l3 + 23] = 0xc8;
	elen = wrap(enc, in, len, l3, AF_INET, &e4);
	run_frame(enc, elen, if_cl0, &r);
	expect2("a member's IP-in-IP around UDP to another port of ours", &r, XDP_DROP,
		XDPWG_STAT_CLUSTER_FWD_IN, XDPWG_STAT_CLUSTER_BAD_ENCAP);
	in[l3 + 9] = 6; /* TCP */
	elen = wrap(enc, in, len, l3, AF_INET, &e4);
	run_frame(enc, elen, if_cl0, &r);
	expect2("a member's IP-in-IP around TCP", &r, XDP_DROP, XDPWG_STAT_CLUSTER_FWD_IN,
		XDPWG_STAT_CLUSTER_BAD_ENCAP);

	f = (struct fx){ .family = AF_INET, .type = T_DATA, .index = OUR_IDX, .plen = 64 };
	len = build(in, &f, &l3);
	e = e4;
	e.osrc = "198.18.0.77";
	elen = wrap(enc, in, len, l3, AF_INET, &e);
	run_frame(enc, elen, if_cl0, &r);
	expect2("IP-in-IP from a non-member", &r, XDP_DROP, XDPWG_STAT_CLUSTER_NOT_MEMBER,
		XDPWG_STAT_MAX);
	e = e4;
	e.odst = "198.18.0.50";
	elen = wrap(enc, in, len, l3, AF_INET, &e);
	run_frame(enc, elen, if_cl0, &r);
	expect2("IP-in-IP to another address", &r, XDP_PASS, XDPWG_STAT_PASS_OTHER, XDPWG_STAT_MAX);
	ok(r.out_len == elen && !memcmp(r.out, enc, elen), "  untouched");
	e = e4;
	e.options = 1;
	elen = wrap(enc, in, len, l3, AF_INET, &e);
	run_frame(enc, elen, if_cl0, &r);
	expect2("IP-in-IP with options", &r, XDP_DROP, XDPWG_STAT_CLUSTER_BAD_ENCAP,
		XDPWG_STAT_MAX);
	e = e4;
	e.frag = 1;
	elen = wrap(enc, in, len, l3, AF_INET, &e);
	run_frame(enc, elen, if_cl0, &r);
	expect2("IP-in-IP fragment", &r, XDP_DROP, XDPWG_STAT_CLUSTER_BAD_ENCAP, XDPWG_STAT_MAX);
	e = e4;
	e.proto = 41;
	elen = wrap(enc, in, len, l3, AF_INET, &e);
	run_frame(enc, elen, if_cl0, &r);
	expect2("protocol 41 around IPv4", &r, XDP_DROP, XDPWG_STAT_CLUSTER_BAD_ENCAP,
		XDPWG_STAT_MAX);
	elen = wrap(enc, in, len, l3, AF_INET, &e4);
	for (size_t cut = 1; cut <= 20; cut++) {
		run_frame(enc, 14 + 20 + 20 - cut, if_cl0, &r);
		if (!(r.retval == XDP_DROP && r.delta[XDPWG_STAT_CLUSTER_BAD_ENCAP] == 1 &&
		      r.total == 1)) {
			ok(0, "IP-in-IP from a member cut %zu bytes into the inner header", cut);
			break;
		}
		if (cut == 20)
			ok(1, "IP-in-IP from a member cut anywhere in the inner header -> DROP, "
			      "cluster_bad_encap");
	}
	/* every length of the forwarded frame, for a crash or a verdict out of line */
	{
		bool fine = true;

		for (size_t n = 0; n <= elen && fine; n++) {
			run_frame(enc, n, if_cl0, &r);
			fine = !r.err || n < 14;
			if (!fine)
				tap_diag("  %zu bytes: err %d", n, r.err);
		}
		ok(fine, "IP-in-IP from a member at every length 14..%zu: no error", elen);
	}
}

static void test_ipv6_underlay(void)
{
	static uint8_t in[4096], enc[4096];
	const struct encap e6 = { .ofam = AF_INET6,
				  .osrc = "2001:db8:9::2",
				  .odst = "2001:db8:9::1" };
	struct sockaddr_storage self = { 0 }, gw2 = { 0 };
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&self, *g6 = (struct sockaddr_in6 *)&gw2;
	struct run r;
	size_t len, l3, elen;
	struct fx f;
	uint8_t a[16];

	cluster_fwd_free(cf);
	s6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8:9::1", &s6->sin6_addr);
	g6->sin6_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8:9::2", &g6->sin6_addr);
	is_int(cluster_fwd_new(ld, SELF_ID, &self, &cf), 0, "IPv6 underlay 2001:db8:9::1");
	is_int(cluster_fwd_gateway_set(cf, 2, &gw2), 0, "gateway 2 at 2001:db8:9::2");
	sh("ip neigh replace 2001:db8:9::2 lladdr 02:00:00:00:00:02 dev cl0 nud permanent");

	f = (struct fx){ .family = AF_INET, .type = T_DATA, .index = IDX_OF(2), .plen = 64 };
	fx_run(&f, &r, in, &len, &l3);
	if (expect2("IPv6 underlay: data for gateway 2", &r, XDP_TX, XDPWG_STAT_CLUSTER_FWD_DATA,
		    XDPWG_STAT_MAX)) {
		const uint8_t *ip6 = r.out + 14;

		ok(r.out_len == 14 + 40 + (len - l3) && r.out[12] == 0x86 && r.out[13] == 0xdd &&
			   !memcmp(r.out, MAC_GW2, 6),
		   "  Ethernet to gateway 2, IPv6, length");
		inet_pton(AF_INET6, "2001:db8:9::2", a);
		ok(ip6[0] == 0x60 && (ip6[4] << 8 | ip6[5]) == (int)(len - l3) && ip6[6] == 4 &&
			   ip6[7] == 64 && !memcmp(ip6 + 24, a, 16),
		   "  outer IPv6: payload length, next header 4, hop limit 64, to gateway 2");
		ok(!memcmp(r.out + 54, in + l3, len - l3), "  inner packet byte for byte");
	}
	f = (struct fx){ .family = AF_INET, .type = T_DATA, .index = OUR_IDX, .plen = 64 };
	len = build(in, &f, &l3);
	elen = wrap(enc, in, len, l3, AF_INET, &e6);
	run_frame(enc, elen, if_cl0, &r);
	expect2("IPv6 underlay: IPv4-in-IPv6 from gateway 2", &r, XDP_PASS,
		XDPWG_STAT_CLUSTER_FWD_IN, XDPWG_STAT_NO_XSK_PASSED);
	ok(r.has_meta && r.meta.payload_off == 14 + 20 + 8 &&
		   (r.meta.flags & XDPWG_META_F_FORWARDED),
	   "  unwrapped and classified");
}

static void test_no_cluster(void)
{
	static uint8_t in[4096];
	struct run r;
	size_t len, l3;
	struct fx f;

	cluster_fwd_free(cf);
	cf = NULL;
	f = (struct fx){ .family = AF_INET, .type = T_DATA, .index = IDX_OF(2), .plen = 64 };
	fx_run(&f, &r, in, &len, &l3);
	expect2("no cluster: gateway 2's index is an unknown index", &r, XDP_DROP,
		XDPWG_STAT_UNKNOWN_INDEX, XDPWG_STAT_MAX);
}

static void report_verifier(void)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(loader_prog_fd(ld), &info, &len) == 0)
		tap_diag("  program: %u xlated instructions, %u verified", info.xlated_prog_len / 8,
			 info.verified_insns);
}

/* `ip neigh show ADDR dev DEV` contains what */
static bool neigh_has(const char *addr, const char *dev, const char *what)
{
	char cmd[128], line[512] = "";
	FILE *p;

	snprintf(cmd, sizeof(cmd), "ip neigh show %s dev %s", addr, dev);
	p = popen(cmd, "r");
	if (!p)
		return false;
	if (!fgets(line, sizeof(line), p))
		line[0] = 0;
	pclose(p);
	return strstr(line, what) != NULL;
}

static void set4(struct sockaddr_storage *ss, const char *a)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	in4->sin_family = AF_INET;
	inet_pton(AF_INET, a, &in4->sin_addr);
}

int main(void)
{
	struct loader_opts lo = { 0 };
	struct sockaddr_storage ss;
	char tun[16];
	FILE *p;
	char line[512] = "";

	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root (BPF_PROG_TEST_RUN)\n");
		return 0;
	}
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		printf("1..0 # SKIP cannot unshare net/mount namespaces: %s\n", strerror(errno));
		return 0;
	}
	log_set_level(LOG_CRIT); /* the refusals below log errors on purpose */
	/* cl0: our uplink (gateway 2 and the router on it); cl2: gateway 4's link */
	sh("ip link set lo up && ip link add cl0 type veth peer name cl1 && "
	   "ip link add cl2 type veth peer name cl3 && "
	   "ip link set cl0 up && ip link set cl1 up && ip link set cl2 up && ip link set cl3 up "
	   "&& "
	   "ip addr add 198.18.0.1/24 dev cl0 && ip addr add 198.18.2.1/24 dev cl2 && "
	   "ip addr add 198.18.1.1/32 dev lo && ip -6 addr add 2001:db8:9::1/64 dev cl0 nodad && "
	   "ip -6 addr add 2001:db8:1::1/128 dev lo && "
	   "ip route add 203.0.113.0/24 via 198.18.0.253 && "
	   "ip route add 198.18.5.0/24 via 198.18.0.254 && "
	   "ip -6 route add 2001:db8:5::/48 via 2001:db8:9::fd && "
	   /* an operator's static entry for gateway 4: kept as it is */
	   "ip neigh add 198.18.2.4 lladdr 02:00:00:00:00:04 dev cl2 nud permanent");
	/* bpf_fib_lookup answers only on an interface that forwards (the daemon turns it on) */
	is_int(cluster_fwd_enable_forwarding("cl0", AF_INET), 0, "IPv4 forwarding on cl0");
	is_int(cluster_fwd_enable_forwarding("cl0", AF_INET6), 0, "IPv6 forwarding on cl0");
	is_int(cluster_fwd_enable_forwarding("nonexistent0", AF_INET), -ENOENT,
	       "no such interface: -ENOENT");
	if_cl0 = (int)if_nametoindex("cl0");
	if_cl2 = (int)if_nametoindex("cl2");
	nl_link_mac(if_cl0, mac_cl0);
	nl_link_mac(if_cl2, mac_cl2);

	snprintf(tun, sizeof(tun), "xc%d", (int)getpid() % 100000);
	lo.tun_name = tun;
	lo.no_pin = true;
	lo.hs_rate = UINT32_MAX;
	lo.keep_inline_meta = true;
	if (!ok(loader_create(&lo, &ld) == 0, "loader_create"))
		return done_testing();
	report_verifier();
	xdp_run_meta_inline = loader_meta_inline(ld);
	is_int(loader_set_port(ld, PORT), 0, "listen port");
	is_int(loader_session_add(ld, OUR_IDX, PEER_ID), 0,
	       "a session of ours (gateway 1's index)");

	set4(&ss, "198.18.0.1");
	is_int(cluster_fwd_new(ld, SELF_ID, &ss, &cf), 0, "gateway 1 at 198.18.0.1");
	set4(&ss, "198.18.0.2");
	is_int(cluster_fwd_gateway_set(cf, 2, &ss), 0, "gateway 2 at 198.18.0.2 (on the link)");
	set4(&ss, "198.18.5.3");
	is_int(cluster_fwd_gateway_set(cf, 3, &ss), 0, "gateway 3 at 198.18.5.3 (via a router)");
	set4(&ss, "198.18.2.4");
	is_int(cluster_fwd_gateway_set(cf, 4, &ss), 0, "gateway 4 at 198.18.2.4 (on cl2)");
	set4(&ss, "198.18.9.5");
	is_int(cluster_fwd_gateway_set(cf, 5, &ss), 0, "gateway 5 at 198.18.9.5 (no route yet)");
	/* refused, changing nothing */
	set4(&ss, "198.18.0.2");
	is_int(cluster_fwd_gateway_set(cf, 6, &ss), -EEXIST, "gateway 6 at 2's address refused");
	set4(&ss, "198.18.0.1");
	is_int(cluster_fwd_gateway_set(cf, 6, &ss), -EEXIST, "gateway 6 at our address refused");
	is_int(cluster_fwd_gateway_set(cf, SELF_ID, &ss), -EINVAL, "our own id refused");
	is_int(cluster_fwd_gateway_set(cf, 64, &ss), -EINVAL, "id 64 refused");
	{
		struct sockaddr_storage v6 = { 0 };

		v6.ss_family = AF_INET6;
		is_int(cluster_fwd_gateway_set(cf, 6, &v6), -EINVAL,
		       "an IPv6 member in an IPv4 cluster refused");
	}
	is_int(cluster_fwd_gateway_del(cf, 6), -ENOENT, "removing a non-member: -ENOENT");

	/* the managed neighbour of gateway 3's router is there, unresolved (nobody answers) */
	p = popen("ip -d neigh show 198.18.0.254 dev cl0", "r");
	if (p) {
		if (!fgets(line, sizeof(line), p))
			line[0] = 0;
		pclose(p);
	}
	line[strcspn(line, "\n")] = 0;
	ok(strstr(line, "managed") != NULL, "gateway 3's next hop kept as a managed neighbour");
	tap_diag("  %s", line);
	/* what a resolved network would have: gateway 2, gateway 4 and the router to clients */
	sh("ip neigh replace 198.18.0.2 lladdr 02:00:00:00:00:02 dev cl0 nud permanent && "
	   "ip neigh replace 198.18.0.253 lladdr 02:00:00:00:00:fd dev cl0 nud permanent");

	ok(neigh_has("198.18.2.4", "cl2", "PERMANENT") &&
		   !neigh_has("198.18.2.4", "cl2", "managed"),
	   "gateway 4's static neighbour entry left as it was");

	test_forward();
	test_local();
	test_unwrap();
	test_ipv6_underlay();
	test_no_cluster();
	ok(neigh_has("198.18.2.4", "cl2", "02:00:00:00:00:04 PERMANENT"),
	   "the static entry outlives the cluster");
	ok(!neigh_has("198.18.0.254", "cl0", "managed"), "the managed entries are gone with it");

	loader_destroy(ld);
	return done_testing();
}
