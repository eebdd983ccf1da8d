// SPDX-License-Identifier: GPL-2.0
/*
 * The edge of the XDP program (issue #15, /work/spec/edge-xdp.md) under BPF_PROG_TEST_RUN: UDP
 * behind IPv6 extension headers gets the same checks as plain UDP (type, size, unknown index,
 * metadata offset), a chain too deep or truncated to see through is dropped when it is for us,
 * first fragments to our port get a per-source budget and later ones pass, and with the
 * local-address match on, traffic for other hosts passes untouched. Before #15 every one of
 * these went to the kernel unchecked (pass_ipv6_ext, pass_fragment) or was judged as ours.
 * Root only (skips otherwise); private network and mount namespaces, nothing pinned.
 */
#include <arpa/inet.h>
#include <errno.h>
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
#include "xdp_run.h"
#include "loader.h"
#include "pins.h"
#include "log.h"
#include "xdpwg_wire.h"

#define PORT	 51820
#define INDEX	 0x0a0b0c0du
#define PEER_ID	 5u
#define OUR4	 "198.18.0.1"
#define OUR6	 "2001:db8::1"
#define OTHER4	 "198.18.0.99"
#define OTHER6	 "2001:db8::99"
#define MAX_EXT	 8
#define IP_MF	 0x2000
#define FRAG_1ST 1 /* offset 0, more fragments */
#define FRAG_2ND 2 /* offset 1480 (IPv4) / 1448 (IPv6) */
#define FRAG_ATO 3 /* IPv6 atomic fragment: offset 0, no more */

enum {
	EXT_FRAG = 44,
	EXT_AH = 51,
	EXT_ESP = 50,
	EXT_NONE = 59,
	EXT_HBH = 0,
	EXT_RT = 43,
	EXT_DST = 60,
	EXT_MH = 135,
};

/* One IPv6 extension header: type and total length in bytes (what its length field says; a
 * Fragment header is always 8 and frag says which kind). */
struct ext {
	uint8_t type;
	uint16_t len;
	int frag;
};

struct efx {
	int family; /* AF_INET or AF_INET6 */
	int vlans;
	const char *src, *dst;
	struct ext ext[MAX_EXT];
	int next;  /* IPPROTO_UDP (0 = default) or another upper layer after the chain */
	int frag4; /* IPv4: FRAG_1ST or FRAG_2ND */
	uint16_t dport;
	uint32_t type, index;
	size_t plen;
	size_t cut;	/* bytes removed from the end of the frame */
	size_t ext_cut; /* frame ends this many bytes into the chain (0: no) */
};

static size_t put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return 2;
}

static size_t nexts(const struct efx *f)
{
	size_t n = 0;

	while (n < MAX_EXT && f->ext[n].len)
		n++;
	return n;
}

static size_t build(uint8_t *buf, const struct efx *f, size_t *payload_off)
{
	size_t off = 12, udp_len = 8 + f->plen, i, n = nexts(f), ext = 0, chain;
	int next = f->next ? f->next : IPPROTO_UDP;

	memset(buf, 0, 4096);
	buf[0] = 0x02;
	buf[5] = 1;
	buf[6] = 0x02;
	buf[11] = 2;
	for (i = 0; i < (size_t)f->vlans; i++) {
		off += put16(buf + off, i == 0 && f->vlans == 2 ? ETH_P_8021AD : ETH_P_8021Q);
		off += put16(buf + off, (uint16_t)(100 + i));
	}
	if (f->family == AF_INET) {
		off += put16(buf + off, ETH_P_IP);
		buf[off] = 0x45;
		put16(buf + off + 2, (uint16_t)(20 + udp_len));
		put16(buf + off + 6, f->frag4 == FRAG_1ST ? IP_MF : f->frag4 == FRAG_2ND ? 185 : 0);
		buf[off + 8] = 64;
		buf[off + 9] = (uint8_t)next;
		inet_pton(AF_INET, f->src ? f->src : "203.0.113.2", buf + off + 12);
		inet_pton(AF_INET, f->dst ? f->dst : OUR4, buf + off + 16);
		off += 20;
	} else {
		for (i = 0; i < n; i++)
			ext += f->ext[i].len;
		off += put16(buf + off, ETH_P_IPV6);
		buf[off] = 0x60;
		put16(buf + off + 4, (uint16_t)(ext + udp_len));
		buf[off + 6] = (uint8_t)(n ? f->ext[0].type : next);
		buf[off + 7] = 64;
		inet_pton(AF_INET6, f->src ? f->src : "2001:db8:5::2", buf + off + 8);
		inet_pton(AF_INET6, f->dst ? f->dst : OUR6, buf + off + 24);
		off += 40;
		chain = off;
		for (i = 0; i < n; i++) {
			const struct ext *e = &f->ext[i];

			buf[off] = (uint8_t)(i + 1 < n ? f->ext[i + 1].type : next);
			if (e->type == EXT_FRAG) {
				uint16_t fo = e->frag == FRAG_1ST   ? 1
					      : e->frag == FRAG_2ND ? 1448
								    : 0;

				put16(buf + off + 2, fo);
				buf[off + 7] = 0x42; /* identification */
			} else if (e->type == EXT_AH) {
				buf[off + 1] = (uint8_t)(e->len / 4 - 2);
			} else {
				buf[off + 1] = (uint8_t)(e->len / 8 - 1);
				buf[off + 2] = 1; /* PadN over the rest */
				buf[off + 3] = (uint8_t)(e->len - 4);
			}
			off += e->len;
		}
		if (f->ext_cut)
			return chain + f->ext_cut;
	}
	put16(buf + off, 40000);
	put16(buf + off + 2, f->dport ? f->dport : PORT);
	if (next == IPPROTO_UDP) {
		put16(buf + off + 4, (uint16_t)udp_len);
		off += 8;
	} else {
		buf[off + 12] = 0x50; /* TCP data offset */
		off += 20;
	}
	if (payload_off)
		*payload_off = off;
	for (i = 0; i < f->plen; i++)
		buf[off + i] = (uint8_t)(0xa0 + i);
	if (f->plen >= 4) {
		buf[off] = (uint8_t)f->type;
		buf[off + 1] = buf[off + 2] = buf[off + 3] = 0;
	}
	if (f->plen >= 8) {
		uint32_t idx = f->index ? f->index : INDEX;

		memcpy(buf + off + 4, &idx, 4);
	}
	return off + f->plen - f->cut;
}

struct run {
	uint32_t retval;
	bool untouched; /* data_out is the frame as it went in, no metadata */
	struct xdpwg_meta meta;
	bool has_meta;
	size_t payload_off; /* where build() put the WireGuard message */
};

static struct xdpwg_loader *ld;

static int run_fx(const struct efx *f, struct run *r)
{
	static uint8_t in[4096], out[8192];
	size_t len = build(in, f, &r->payload_off);
	struct xdp_run x;
	int ret = xdp_run(loader_prog_fd(ld), in, len, out, sizeof(out), &x);

	if (ret)
		return ret;
	r->retval = x.retval;
	r->has_meta = x.ctx.data == sizeof(struct xdpwg_meta);
	if (r->has_meta)
		memcpy(&r->meta, out, sizeof(r->meta));
	r->untouched = x.ctx.data == 0 && x.out_len == len && !memcmp(in, out, len);
	return 0;
}

static const char *vname(uint32_t v)
{
	return v == XDP_PASS	   ? "PASS"
	       : v == XDP_DROP	   ? "DROP"
	       : v == XDP_REDIRECT ? "REDIRECT"
				   : "?";
}

/* One fixture, one verdict, exactly one counter; a PASS without metadata must leave the
 * frame as it was. */
static void expect(const char *name, const struct efx *f, uint32_t verdict, enum xdpwg_stat s,
		   struct run *out)
{
	uint64_t before[XDPWG_STAT_MAX], now[XDPWG_STAT_MAX], total = 0;
	struct run r;
	int i, err;

	memset(&r, 0, sizeof(r));
	loader_stats(ld, before);
	err = run_fx(f, &r);
	loader_stats(ld, now);
	for (i = 0; i < XDPWG_STAT_MAX; i++)
		total += now[i] - before[i];
	if (!ok(!err && r.retval == verdict && now[s] - before[s] == 1 && total == 1 &&
			(verdict != XDP_PASS || r.has_meta || r.untouched),
		"%s -> %s, %s", name, vname(verdict), pins_stat_name(s)))
		tap_diag("  err %d got %s, %s delta %llu, total %llu, untouched %d", err,
			 vname(r.retval), pins_stat_name(s),
			 (unsigned long long)(now[s] - before[s]), (unsigned long long)total,
			 r.untouched);
	if (out)
		*out = r;
}

#define DST8                                                                                       \
	{                                                                                          \
		.type = EXT_DST, .len = 8                                                          \
	}

static void test_ipv6_chain(void)
{
	struct efx f;
	struct run r;

	f = (struct efx){ .family = AF_INET6, .ext = { DST8 }, .type = 9, .plen = 32 };
	expect("IPv6 + 8-byte destination options, junk type", &f, XDP_DROP, XDPWG_STAT_BAD_TYPE,
	       NULL);
	f = (struct efx){ .family = AF_INET6, .ext = { DST8 }, .type = 1, .plen = 100 };
	expect("IPv6 + destination options, initiation of 100 bytes", &f, XDP_DROP,
	       XDPWG_STAT_BAD_SIZE_INITIATION, NULL);
	f = (struct efx){ .family = AF_INET6, .ext = { DST8 }, .type = 4, .plen = 20 };
	expect("IPv6 + destination options, data of 20 bytes", &f, XDP_DROP,
	       XDPWG_STAT_BAD_SIZE_DATA, NULL);
	f = (struct efx){
		.family = AF_INET6, .ext = { DST8 }, .type = 4, .plen = 48, .index = 0x999
	};
	expect("IPv6 + destination options, unknown receiver index", &f, XDP_DROP,
	       XDPWG_STAT_UNKNOWN_INDEX, NULL);
	f = (struct efx){ .family = AF_INET6, .ext = { DST8 }, .type = 4, .plen = 48 };
	expect("IPv6 + destination options, valid session", &f, XDP_PASS, XDPWG_STAT_NO_XSK_PASSED,
	       &r);
	ok(r.has_meta && r.meta.payload_off == 14 + 40 + 8 + 8 && r.payload_off == 14 + 40 + 8 + 8,
	   "  payload_off counts the extension header (%u)", r.meta.payload_off);
	ok(r.meta.payload_len == 48 && r.meta.peer_id == PEER_ID &&
		   r.meta.flags == (XDPWG_META_F_PEER | XDPWG_META_F_IPV6),
	   "  payload_len, peer and flags as for plain UDP");

	/* every walkable kind, behind two VLAN tags */
	f = (struct efx){ .family = AF_INET6,
			  .vlans = 2,
			  .ext = { { .type = EXT_HBH, .len = 16 },
				   { .type = EXT_RT, .len = 24 },
				   { .type = EXT_AH, .len = 24 },
				   { .type = EXT_FRAG, .len = 8, .frag = FRAG_ATO },
				   { .type = EXT_DST, .len = 2048 } },
			  .type = 4,
			  .plen = 64 };
	expect("QinQ + hop-by-hop, routing, AH, atomic fragment, 2048-byte dst options", &f,
	       XDP_PASS, XDPWG_STAT_NO_XSK_PASSED, &r);
	ok(r.has_meta && r.meta.payload_off == r.payload_off &&
		   r.payload_off == 14 + 8 + 40 + 16 + 24 + 24 + 8 + 2048 + 8,
	   "  payload_off %u = %zu", r.meta.payload_off, r.payload_off);
	ok(r.meta.flags == (XDPWG_META_F_PEER | XDPWG_META_F_IPV6 | XDPWG_META_F_VLAN),
	   "  flags: peer, IPv6, VLAN");

	f = (struct efx){ .family = AF_INET6,
			  .ext = { DST8, DST8, DST8, DST8, DST8, DST8 },
			  .type = 4,
			  .plen = 32 };
	expect("six extension headers (the limit), data", &f, XDP_PASS, XDPWG_STAT_NO_XSK_PASSED,
	       NULL);
	f.type = 7;
	expect("six extension headers, junk", &f, XDP_DROP, XDPWG_STAT_BAD_TYPE, NULL);
	f = (struct efx){ .family = AF_INET6,
			  .ext = { DST8, DST8, DST8, DST8, DST8, DST8, DST8 },
			  .type = 4,
			  .plen = 32 };
	expect("seven extension headers to us", &f, XDP_DROP, XDPWG_STAT_IPV6_EXT_DEEP, NULL);
	f.next = IPPROTO_TCP;
	expect("seven extension headers then TCP, to us", &f, XDP_DROP, XDPWG_STAT_IPV6_EXT_DEEP,
	       NULL);
	f = (struct efx){ .family = AF_INET6,
			  .ext = { DST8, DST8, DST8, DST8, DST8, DST8 },
			  .next = IPPROTO_TCP,
			  .plen = 32 };
	expect("six extension headers then TCP", &f, XDP_PASS, XDPWG_STAT_PASS_OTHER, NULL);
	f = (struct efx){ .family = AF_INET6,
			  .ext = { DST8, { .type = EXT_DST, .len = 512 } },
			  .plen = 32 };
	f.ext_cut = 8 + 100; /* the frame ends inside the second header */
	expect("extension header running past the frame", &f, XDP_DROP, XDPWG_STAT_IPV6_EXT_DEEP,
	       NULL);
	f.ext_cut = 8 + 1; /* not even its length byte */
	expect("frame ends after one byte of a header", &f, XDP_DROP, XDPWG_STAT_IPV6_EXT_DEEP,
	       NULL);

	f = (struct efx){ .family = AF_INET6, .ext = { DST8 }, .dport = 53, .type = 9, .plen = 32 };
	expect("destination options, UDP to another port", &f, XDP_PASS, XDPWG_STAT_PASS_OTHER,
	       NULL);
	f = (struct efx){ .family = AF_INET6, .ext = { DST8 }, .next = IPPROTO_TCP, .plen = 32 };
	expect("destination options, TCP", &f, XDP_PASS, XDPWG_STAT_PASS_OTHER, NULL);
	f = (struct efx){ .family = AF_INET6, .next = EXT_ESP, .plen = 32 };
	expect("ESP", &f, XDP_PASS, XDPWG_STAT_PASS_OTHER, NULL);
	f = (struct efx){ .family = AF_INET6, .ext = { DST8 }, .next = EXT_NONE, .plen = 32 };
	expect("destination options, no next header", &f, XDP_PASS, XDPWG_STAT_PASS_OTHER, NULL);
	f = (struct efx){ .family = AF_INET6, .ext = { DST8 }, .next = EXT_MH, .plen = 32 };
	expect("destination options, mobility", &f, XDP_PASS, XDPWG_STAT_PASS_OTHER, NULL);
}

static void test_fragments(void)
{
	struct efx f;
	unsigned int i, pass = 0, drop = 0;
	uint64_t before[XDPWG_STAT_MAX], now[XDPWG_STAT_MAX];
	struct run r;

	/* a source's budget: 20 deep (the default), at 1/s here so that a slow VM cannot refill
	 * it between two runs; 25 back to back run out of it */
	f = (struct efx){ .family = AF_INET, .frag4 = FRAG_1ST, .type = 4, .plen = 1400 };
	f.src = "203.0.113.50";
	loader_stats(ld, before);
	for (i = 0; i < 25; i++) {
		if (run_fx(&f, &r))
			break;
		pass += r.retval == XDP_PASS && r.untouched;
		drop += r.retval == XDP_DROP;
	}
	loader_stats(ld, now);
	ok(pass == 20 && drop == 5,
	   "IPv4 first fragments: %u passed untouched, %u over budget dropped", pass, drop);
	ok(now[XDPWG_STAT_FRAG_PASSED] - before[XDPWG_STAT_FRAG_PASSED] == pass &&
		   now[XDPWG_STAT_FRAG_BUDGET] - before[XDPWG_STAT_FRAG_BUDGET] == drop,
	   "  counted as fragment_passed / fragment_over_budget");
	expect("IPv4 first fragment over budget", &f, XDP_DROP, XDPWG_STAT_FRAG_BUDGET, NULL);
	f.frag4 = FRAG_2ND;
	expect("IPv4 non-first fragment from the same source", &f, XDP_PASS,
	       XDPWG_STAT_PASS_FRAGMENT, NULL);
	f.frag4 = 0;
	f.plen = 32;
	expect("unfragmented data from the same source: unaffected", &f, XDP_PASS,
	       XDPWG_STAT_NO_XSK_PASSED, NULL);
	f.frag4 = FRAG_1ST;
	f.src = "203.0.113.51";
	expect("IPv4 first fragment from another source", &f, XDP_PASS, XDPWG_STAT_FRAG_PASSED,
	       NULL);
	f.dport = 53;
	expect("IPv4 first fragment to another port", &f, XDP_PASS, XDPWG_STAT_PASS_OTHER, NULL);
	f.dport = 0;
	f.plen = 0;
	f.cut = 4; /* half a UDP header */
	expect("IPv4 first fragment without a whole UDP header", &f, XDP_PASS,
	       XDPWG_STAT_PASS_FRAGMENT, NULL);

	f = (struct efx){ .family = AF_INET6,
			  .src = "2001:db8:7:7::1",
			  .ext = { { .type = EXT_FRAG, .len = 8, .frag = FRAG_1ST } },
			  .type = 4,
			  .plen = 1200 };
	expect("IPv6 first fragment", &f, XDP_PASS, XDPWG_STAT_FRAG_PASSED, NULL);
	f.ext[0].frag = FRAG_2ND;
	expect("IPv6 non-first fragment", &f, XDP_PASS, XDPWG_STAT_PASS_FRAGMENT, NULL);
	f.next = IPPROTO_TCP; /* whatever the next header says */
	expect("IPv6 non-first fragment saying TCP", &f, XDP_PASS, XDPWG_STAT_PASS_FRAGMENT, NULL);
	f = (struct efx){ .family = AF_INET6,
			  .ext = { DST8, { .type = EXT_FRAG, .len = 8, .frag = FRAG_1ST } },
			  .type = 9,
			  .plen = 32 };
	f.src = "2001:db8:7:8::1";
	expect("IPv6 dst options then first fragment", &f, XDP_PASS, XDPWG_STAT_FRAG_PASSED, NULL);
	f.ext[1].frag = FRAG_ATO;
	expect("IPv6 atomic fragment: checked as unfragmented", &f, XDP_DROP, XDPWG_STAT_BAD_TYPE,
	       NULL);
	/* IPv6 budget per /64 */
	f = (struct efx){ .family = AF_INET6,
			  .src = "2001:db8:7:9::1",
			  .ext = { { .type = EXT_FRAG, .len = 8, .frag = FRAG_1ST } },
			  .type = 4,
			  .plen = 1200 };
	pass = 0;
	for (i = 0; i < 25; i++)
		pass += run_fx(&f, &r) == 0 && r.retval == XDP_PASS;
	f.src = "2001:db8:7:9::2";
	expect("IPv6 first fragment, same /64, budget spent", &f, XDP_DROP, XDPWG_STAT_FRAG_BUDGET,
	       NULL);
	f.src = "2001:db8:7:a::1";
	expect("IPv6 first fragment, next /64", &f, XDP_PASS, XDPWG_STAT_FRAG_PASSED, NULL);
}

static unsigned int map_entries(int fd)
{
	struct xdpwg_addr_key k, next;
	unsigned int n = 0;

	if (bpf_map_get_next_key(fd, NULL, &next))
		return 0;
	do {
		k = next;
		n++;
	} while (n < 10000 && !bpf_map_get_next_key(fd, &k, &next));
	return n;
}

static struct xdpwg_addr_key addr(const char *s)
{
	struct xdpwg_addr_key k;

	memset(&k, 0, sizeof(k));
	if (strchr(s, ':')) {
		k.family = XDPWG_FAMILY_INET6;
		inet_pton(AF_INET6, s, k.addr);
	} else {
		k.family = XDPWG_FAMILY_INET;
		inet_pton(AF_INET, s, k.addr);
	}
	return k;
}

static void test_local_addrs(void)
{
	struct xdpwg_addr_key keys[3];
	struct xdpwg_config c;
	struct efx f;
	int fd = loader_local_addrs_fd(ld);

	keys[0] = addr(OUR4);
	keys[1] = addr(OUR6);
	is_int(loader_set_local_addrs(ld, keys, 2), 0, "local addresses set (2)");
	loader_config_get(ld, &c);
	ok(c.flags & XDPWG_CFG_F_LOCAL_ADDRS, "config flag set");
	is_int(map_entries(fd), 2, "2 map entries");

	f = (struct efx){ .family = AF_INET, .dst = OTHER4, .type = 9, .plen = 32 };
	expect("IPv4 junk to our port, another host: transit, untouched", &f, XDP_PASS,
	       XDPWG_STAT_PASS_TRANSIT, NULL);
	f.type = 4;
	f.index = 0x999;
	expect("IPv4 unknown index, another host: transit", &f, XDP_PASS, XDPWG_STAT_PASS_TRANSIT,
	       NULL);
	f.dport = 53;
	expect("IPv4 UDP to another port, another host: transit", &f, XDP_PASS,
	       XDPWG_STAT_PASS_TRANSIT, NULL);
	f = (struct efx){ .family = AF_INET, .dst = OTHER4, .next = IPPROTO_TCP, .plen = 32 };
	expect("IPv4 TCP, another host", &f, XDP_PASS, XDPWG_STAT_PASS_OTHER, NULL);
	f = (struct efx){ .family = AF_INET, .dst = OTHER4, .frag4 = FRAG_1ST, .plen = 32 };
	expect("IPv4 first fragment, another host", &f, XDP_PASS, XDPWG_STAT_PASS_TRANSIT, NULL);
	f = (struct efx){ .family = AF_INET, .type = 9, .plen = 32 };
	expect("IPv4 junk to us: still dropped", &f, XDP_DROP, XDPWG_STAT_BAD_TYPE, NULL);
	f = (struct efx){ .family = AF_INET6, .dst = OTHER6, .type = 1, .plen = 148 };
	expect("IPv6 initiation, another host: transit", &f, XDP_PASS, XDPWG_STAT_PASS_TRANSIT,
	       NULL);
	f = (struct efx){
		.family = AF_INET6, .dst = OTHER6, .ext = { DST8 }, .type = 9, .plen = 32
	};
	expect("IPv6 + destination options, junk, another host", &f, XDP_PASS,
	       XDPWG_STAT_PASS_TRANSIT, NULL);
	f = (struct efx){ .family = AF_INET6,
			  .dst = OTHER6,
			  .ext = { DST8, DST8, DST8, DST8, DST8, DST8, DST8 },
			  .plen = 32 };
	expect("IPv6 chain too deep, another host: not ours to drop", &f, XDP_PASS,
	       XDPWG_STAT_PASS_OTHER, NULL);
	f.dst = OUR6;
	expect("IPv6 chain too deep, to us", &f, XDP_DROP, XDPWG_STAT_IPV6_EXT_DEEP, NULL);
	f = (struct efx){ .family = AF_INET6, .ext = { DST8 }, .type = 4, .plen = 48 };
	expect("IPv6 + destination options, valid session, to us", &f, XDP_PASS,
	       XDPWG_STAT_NO_XSK_PASSED, NULL);

	/* replace: OTHER4 becomes ours, OUR4 and OUR6 do not */
	keys[0] = addr(OTHER4);
	is_int(loader_set_local_addrs(ld, keys, 1), 0, "replaced by one address");
	is_int(map_entries(fd), 1, "1 map entry left");
	f = (struct efx){ .family = AF_INET, .dst = OTHER4, .type = 9, .plen = 32 };
	expect("junk to the new address: dropped", &f, XDP_DROP, XDPWG_STAT_BAD_TYPE, NULL);
	f.dst = OUR4;
	expect("junk to the old address: transit", &f, XDP_PASS, XDPWG_STAT_PASS_TRANSIT, NULL);

	keys[1] = addr(OUR4);
	keys[1].family = 7;
	is_int(loader_set_local_addrs(ld, keys, 2), -EINVAL, "bad family refused");
	is_int(map_entries(fd), 1, "nothing changed");
	keys[1] = addr(OUR4);
	keys[1].addr[9] = 0xff; /* IPv4's unused bytes are cleared */
	is_int(loader_set_local_addrs(ld, keys, 2), 0, "IPv4 with junk in the unused bytes");
	expect("... matches the IPv4 address", &f, XDP_DROP, XDPWG_STAT_BAD_TYPE, NULL);

	is_int(loader_set_local_addrs(ld, NULL, 0), 0, "no local addresses");
	loader_config_get(ld, &c);
	ok(!(c.flags & XDPWG_CFG_F_LOCAL_ADDRS) && map_entries(fd) == 0, "flag off, map empty");
	f.dst = "192.0.2.200";
	expect("every destination is ours again", &f, XDP_DROP, XDPWG_STAT_BAD_TYPE, NULL);
}

/* xdpwgctl stats, metrics and the drop log name counters through the loader */
static void test_stat_names(void)
{
	unsigned int i, unnamed = 0;

	for (i = 0; i < XDPWG_STAT_MAX; i++)
		unnamed += !strcmp(pins_stat_name((enum xdpwg_stat)i), "unknown");
	is_int(unnamed, 0, "every counter has a name");
	ok(!strcmp(pins_stat_name(XDPWG_STAT_PASS_TRANSIT), "pass_transit") &&
		   pins_stat_action(XDPWG_STAT_PASS_TRANSIT) == PINS_STAT_PASS &&
		   pins_stat_action(XDPWG_STAT_FRAG_PASSED) == PINS_STAT_PASS &&
		   pins_stat_action(XDPWG_STAT_FRAG_BUDGET) == PINS_STAT_DROP &&
		   pins_stat_action(XDPWG_STAT_IPV6_EXT_DEEP) == PINS_STAT_DROP,
	   "new counters: pass_transit, fragment_passed pass; fragment_over_budget, "
	   "ipv6_ext_too_deep drop");
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

int main(void)
{
	struct loader_opts lo = { 0 };
	char tun[16];

	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root (BPF_PROG_TEST_RUN)\n");
		return 0;
	}
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		printf("1..0 # SKIP cannot unshare net/mount namespaces: %s\n", strerror(errno));
		return 0;
	}
	log_set_level(LOG_WARNING);
	snprintf(tun, sizeof(tun), "xe%d", (int)getpid() % 100000);
	lo.tun_name = tun;
	lo.no_pin = true;
	lo.frag_rate = 1;
	lo.keep_inline_meta = true;
	if (!ok(loader_create(&lo, &ld) == 0, "loader_create (fragment budget 1/s, burst 20)"))
		return done_testing();
	report_verifier();
	xdp_run_meta_inline = loader_meta_inline(ld);
	is_int(loader_set_port(ld, PORT), 0, "listen port");
	is_int(loader_session_add(ld, INDEX, PEER_ID), 0, "a session");

	test_stat_names();
	test_ipv6_chain();
	test_fragments();
	test_local_addrs();

	loader_destroy(ld);
	return done_testing();
}
