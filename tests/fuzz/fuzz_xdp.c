// SPDX-License-Identifier: GPL-2.0
/*
 * Differential fuzzing of the XDP program (bpf/) against the reference classifier (xdp_ref.c,
 * written from docs/security.md and the edge spec). Each input sets what the maps hold and builds
 * one frame; the loaded program runs it under BPF_PROG_TEST_RUN and the harness aborts on any
 * difference from the reference in the verdict, in the counters that moved, in the metadata, in
 * the peer counters, events and capture records, and on a passed frame that was modified.
 *
 * Needs root (loading BPF); without it LLVMFuzzerInitialize exits 77 (scripts/fuzz.sh: skipped).
 * Nothing is attached or pinned: the program and its maps live as long as the process.
 *
 * No verdict may depend on the clock: hs_rate and frag_rate are 1/s with a burst of 1, so a
 * bucket written empty just before the run stays empty through it, and the frame's source's
 * buckets are written (absent, full or empty) before every run; event_interval_ns is 1000 s, so
 * a peer's last event is either "just now" or never.
 *
 * XDPWG_FUZZ_SKIP=ipv6-ext,ipv6-ext-deep,frag,transit (any of them) counts mismatches whose frame
 * took those paths instead of aborting (same-verdict: every mismatch in which the verdict and the
 * presence of metadata agree, e.g. only a counter differs): a campaign against a program with a known, open difference can go
 * on looking for the others. The count is printed at exit. XDPWG_FUZZ_VERBOSE prints every
 * input's verdicts (for replaying a corpus by hand).
 *
 * Input (missing bytes read as 0):
 *  S0  flags: 0 mac1 key, 1 under load, 2 allowlist on, 3 capture, 4 pass unknown indexes,
 *      5 local_addrs authoritative, 6 listen port 0, 7 listen port from the next u16 (BE)
 *  S1  bits 0-3 sessions IDX[0..3] live, bits 4-7 peers 1..4 present (session k -> peer k+1)
 *  S2  bits 0-1 peers' endpoint vs the frame's source: same / other address / other port /
 *      other family; 2 pinned; 3 last event just now; 4-5 handshake bucket of the source
 *      (absent, full, empty, absent); 6-7 its fragment bucket (same)
 *  S3  bits 0-1 allowlist CIDRs, 2-3 local addresses (0-3 each), then per CIDR: A0 (bit 0 from
 *      the frame's source, else bit 1 IPv6 and 16 address bytes), A1 prefix length; per local
 *      address: L0 (bit 0 the frame's destination, else bit 1 IPv6 and 16 bytes)
 *  F0  bits 0-1 VLAN tags (0, 1, 2, 2), 2 outer tag 802.1ad; bits 3-4: IPv4, IPv6, other
 *      EtherType (u16, then the rest raw), raw frame (the rest is the frame); bits 5-7 tail:
 *      5 cut u8 bytes, 6 append u8 bytes, 7 cut one byte
 *  IPv4 I0: 0-3 option words (11-15: raw ihl u8), 4-5 fragment: none / first (MF) / later
 *      (u16 offset) / raw u16 frag_off; 6 protocol u8; 7 tot_len u16
 *      I1: 0-1 source (198.51.100.2, 203.0.113.9, 192.0.2.1, 4 bytes), 2-3 destination
 *      (198.18.0.1, 198.18.0.2, 192.0.2.200, 4 bytes), 4 version u8
 *  IPv6 I0: 0-3 extension headers, 4 payload_len u16, 5 final next header u8, 6 version u8
 *      I1: 0-1 source (2001:db8::2, 2001:db8:1::9, 2001:db8::3, 16 bytes), 2-3 destination
 *      (2001:db8::1, 2001:db8::100, 2001:db8:ffff::1, 16 bytes)
 *      per header E0: 0-2 hop-by-hop, routing, destination options, AH, fragment, mobility, no
 *      next header, raw u8; 3-4 fragment: first / atomic / later (u16) / raw u16, others'
 *      length field: 0 / 1 / u8 / 2
 *  UDP U0: 0 dport u16 (else the listen port), 1 length u16, 2-3 sport 40000 / 5555 / u16 / 40001
 *  WG  W0: 0-2 initiation, response, cookie, data, type 0, type u8, raw u32, data with a
 *      reserved byte u8; 3-4 size: exact (data 32 + 16 * u8), exact + s8, u16, u8 & 15;
 *      5-6 receiver index IDX[0], IDX[u8 & 3], u32, 0; 7 corrupt mac1 (u8 position)
 *      then the message body bytes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "xdp_meta.h"
#include "xdp_ref.h"
#include "../bpf/xdp_run.h"
#include "xdpwg.skel.h"

#define PORT	  51820
#define FRAME_MAX 2048
#define NIDX	  4

static const uint32_t IDX[NIDX] = { 0x11223344u, 0x55667788u, 0x00000001u, 0xfffffffeu };
static const uint8_t MAC1_KEY[32] = { 0x6d, 0x61, 0x63, 0x31, 0x2d, 0x2d, 0x2d, 0x2d, 1,  2,
				      3,    4,	  5,	6,    7,    8,	  9,	10,   11, 12,
				      13,   14,	  15,	16,   17,   18,	  19,	20,   21, 22 };

/* ---- the loaded program ---- */

static struct {
	struct xdpwg *skel;
	int prog, config, sessions, peers, stats, allow, hs, frag, local, capture_ctl;
	uint32_t nstats, frag_val_size;
	int ncpus;
	struct ring_buffer *events, *capture;
	uint64_t *pcpu;	  /* stats scratch: nstats * ncpus */
	bool meta_inline; /* the metadata goes inside the frame (io/xdp_meta.h) */
} P = { .frag = -1, .local = -1, .capture_ctl = -1 };

/* what the ring buffers delivered during one run */
static struct {
	int nev, ncap;
	struct xdpwg_event ev;
	struct xdpwg_capture cap;
} R;

static unsigned long long n_exec, n_skipped;
static uint16_t built_sport = 40000; /* the frame's UDP source port, as build_udp wrote it */
static unsigned skip_mask;
#define SKIP_SAME_VERDICT (1u << 31) /* not a path: the verdict and the metadata agree */
static int verbose; /* XDPWG_FUZZ_VERBOSE: one line per input (replaying a corpus) */
static struct timespec t0;

static int on_event(void *ctx, void *data, size_t len)
{
	(void)ctx;
	if (len >= sizeof(R.ev))
		memcpy(&R.ev, data, sizeof(R.ev));
	R.nev++;
	return 0;
}

static int on_capture(void *ctx, void *data, size_t len)
{
	(void)ctx;
	if (len >= sizeof(R.cap))
		memcpy(&R.cap, data, sizeof(R.cap));
	R.ncap++;
	return 0;
}

/* Set a const volatile tunable by name through the object's BTF; -ENOENT when this version of
 * the program has no such variable (frag_rate before the edge fixes). */
static int set_rodata(struct bpf_object *obj, const char *name, const void *val, size_t len)
{
	const struct btf *btf = bpf_object__btf(obj);
	const struct btf_var_secinfo *vs;
	const struct btf_type *sec;
	struct bpf_map *map, *ro = NULL;
	const void *init = NULL;
	uint8_t data[4096];
	size_t size = 0;
	int id, i;

	bpf_object__for_each_map(map, obj)
	{
		const char *mn = bpf_map__name(map);
		size_t l = strlen(mn);

		if (l >= 7 && !strcmp(mn + l - 7, ".rodata")) {
			ro = map;
			init = bpf_map__initial_value(map, &size);
		}
	}
	id = btf ? btf__find_by_name_kind(btf, ".rodata", BTF_KIND_DATASEC) : -1;
	if (!init || id < 0 || size > sizeof(data))
		return -ENOENT;
	memcpy(data, init, size);
	sec = btf__type_by_id(btf, id);
	vs = btf_var_secinfos(sec);
	for (i = 0; i < btf_vlen(sec); i++, vs++) {
		const struct btf_type *v = btf__type_by_id(btf, vs->type);

		if (strcmp(btf__name_by_offset(btf, v->name_off), name))
			continue;
		if (vs->size != len || vs->offset + len > size)
			return -EINVAL;
		memcpy(data + vs->offset, val, len);
		return bpf_map__set_initial_value(ro, data, size);
	}
	return -ENOENT;
}

static int map_fd(const char *name, int required)
{
	struct bpf_map *m = bpf_object__find_map_by_name(P.skel->obj, name);

	if (!m && required) {
		fprintf(stderr, "fuzz_xdp: the program has no map %s\n", name);
		exit(1);
	}
	return m ? bpf_map__fd(m) : -1;
}

static void load_program(void)
{
	uint64_t interval = 1000ULL * 1000 * 1000 * 1000;
	uint32_t one = 1;
	uint8_t yes = 1;
	struct bpf_map_info info;
	uint32_t ilen = sizeof(info);
	int err;

	P.skel = xdpwg__open();
	if (!P.skel) {
		fprintf(stderr, "fuzz_xdp: cannot open the BPF object\n");
		exit(1);
	}
	if (set_rodata(P.skel->obj, "hs_rate", &one, 4) ||
	    set_rodata(P.skel->obj, "hs_burst", &one, 4) ||
	    set_rodata(P.skel->obj, "event_interval_ns", &interval, 8) ||
	    set_rodata(P.skel->obj, "handshakes_to_xsk", &yes, 1)) {
		fprintf(stderr, "fuzz_xdp: the program lacks a tunable this harness sets\n");
		exit(1);
	}
	/* where this kernel lets the metadata go (io/xdp_meta.h); inline, the harness sees the
	 * attached program's behaviour: a frame passed up without it, exactly as it came */
	P.meta_inline = xdp_meta_inline();
	if (P.meta_inline && set_rodata(P.skel->obj, "meta_inline", &yes, 1)) {
		fprintf(stderr,
			"fuzz_xdp: this kernel needs the inline metadata, which the program "
			"lacks\n");
		exit(1);
	}
	/* the edge fixes' fragment budget, when this version has it */
	set_rodata(P.skel->obj, "frag_rate", &one, 4);
	set_rodata(P.skel->obj, "frag_burst", &one, 4);
	err = xdpwg__load(P.skel);
	if (err && geteuid() != 0) {
		/* 77 is also libFuzzer's crash status: the scripts look for this line too */
		fprintf(stderr, "fuzz_xdp: SKIP: loading BPF needs root (%s)\n", strerror(-err));
		exit(77);
	}
	if (err) {
		fprintf(stderr, "fuzz_xdp: load failed: %s\n", strerror(-err));
		exit(1);
	}
	P.prog = bpf_program__fd(P.skel->progs.xdpwg_rx);
	P.config = map_fd("config", 1);
	/* capture's own switch, where the program has one (the config bit before it) */
	P.capture_ctl = map_fd("capture_ctl", 0);
	P.sessions = map_fd("sessions", 1);
	P.peers = map_fd("peers", 1);
	P.stats = map_fd("stats", 1);
	P.allow = map_fd("allow_src", 1);
	P.hs = map_fd("hs_buckets", 1);
	P.frag = map_fd("frag_buckets", 0);
	P.local = map_fd("local_addrs", 0);
	memset(&info, 0, sizeof(info));
	bpf_obj_get_info_by_fd(P.stats, &info, &ilen);
	P.nstats = info.max_entries;
	if (P.frag >= 0) {
		memset(&info, 0, sizeof(info));
		ilen = sizeof(info);
		bpf_obj_get_info_by_fd(P.frag, &info, &ilen);
		P.frag_val_size = info.value_size;
	}
	P.ncpus = libbpf_num_possible_cpus();
	P.pcpu = calloc((size_t)P.nstats * (size_t)P.ncpus, 8);
	P.events = ring_buffer__new(map_fd("events", 1), on_event, NULL, NULL);
	P.capture = ring_buffer__new(map_fd("capture", 1), on_capture, NULL, NULL);
	if (!P.pcpu || !P.events || !P.capture) {
		fprintf(stderr, "fuzz_xdp: setup failed\n");
		exit(1);
	}
	fprintf(stderr,
		"fuzz_xdp: program loaded: %u counters, local_addrs %s, frag_buckets %s; "
		"reference knows %d counters\n",
		P.nstats, P.local >= 0 ? "yes" : "no", P.frag >= 0 ? "yes" : "no", REF_STAT_MAX);
}

static void read_stats(uint64_t *sum)
{
	uint32_t i, c, out = 0, count = P.nstats;
	static uint32_t keys[REF_STAT_MAX + 64];
	LIBBPF_OPTS(bpf_map_batch_opts, bo);

	/* one syscall for every counter on every CPU */
	if (bpf_map_lookup_batch(P.stats, NULL, &out, keys, P.pcpu, &count, &bo) &&
	    errno != ENOENT) {
		for (i = 0; i < P.nstats; i++)
			bpf_map_lookup_elem(P.stats, &i, P.pcpu + (size_t)i * P.ncpus);
		count = P.nstats;
		for (i = 0; i < P.nstats; i++)
			keys[i] = i;
	}
	memset(sum, 0, sizeof(uint64_t) * P.nstats);
	for (i = 0; i < count; i++)
		for (c = 0; c < (uint32_t)P.ncpus; c++)
			if (keys[i] < P.nstats)
				sum[keys[i]] += P.pcpu[(size_t)i * P.ncpus + c];
}

/* ---- input ---- */

struct rd {
	const uint8_t *p;
	size_t n;
};

static uint8_t u8(struct rd *r)
{
	if (!r->n)
		return 0;
	r->n--;
	return *r->p++;
}

static uint16_t u16(struct rd *r)
{
	uint16_t hi = u8(r);

	return (uint16_t)(hi << 8 | u8(r));
}

static uint32_t u32(struct rd *r)
{
	uint32_t hi = u16(r);

	return hi << 16 | u16(r);
}

static void take(struct rd *r, uint8_t *out, size_t n)
{
	size_t k = n < r->n ? n : r->n;

	memcpy(out, r->p, k);
	memset(out + k, 0, n - k);
	r->p += k;
	r->n -= k;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* The WireGuard message: type, size, receiver index, body and mac1. */
static size_t build_wg(struct rd *r, uint8_t *p, size_t room)
{
	uint8_t w0 = u8(r);
	uint32_t type, idx;
	size_t len, exact;
	int kind = w0 & 7;

	switch (kind) {
	case 0:
	case 1:
	case 2:
	case 3:
		type = (uint32_t)kind + 1;
		break;
	case 4:
		type = 0;
		break;
	case 5:
		type = u8(r);
		break;
	case 6:
		type = u32(r);
		break;
	default:
		type = WG_MSG_DATA | (uint32_t)(u8(r) | 1) << 8;
		break;
	}
	exact = (type & 0xff) == 1   ? WG_MSG_INITIATION_LEN
		: (type & 0xff) == 2 ? WG_MSG_RESPONSE_LEN
		: (type & 0xff) == 3 ? WG_MSG_COOKIE_LEN
				     : WG_MSG_DATA_MIN_LEN;
	switch (w0 >> 3 & 3) {
	case 0:
		len = (type & 0xff) == WG_MSG_DATA || (type & 0xff) > 4 || !(type & 0xff)
			      ? exact + 16 * (size_t)(u8(r) & 63)
			      : exact;
		break;
	case 1:
		len = (size_t)((long)exact + (int8_t)u8(r));
		break;
	case 2:
		len = u16(r) % 1800;
		break;
	default:
		len = u8(r) & 15;
		break;
	}
	if (len > room)
		len = room;
	switch (w0 >> 5 & 3) {
	case 0:
		idx = IDX[0];
		break;
	case 1:
		idx = IDX[u8(r) & 3];
		break;
	case 2:
		idx = u32(r);
		break;
	default:
		idx = 0;
		break;
	}
	memset(p, 0, len);
	if (len > 8)
		take(r, p + 8, len - 8);
	if (len >= 4)
		put_le32(p, type);
	else
		memcpy(p, &type, len); /* little-endian host: the type's first bytes */
	if (len >= 8)
		put_le32(p + 4, (type & 0xff) == 2 ? 0x01020304u : idx);
	if ((type & 0xff) == 2 && len >= 12)
		put_le32(p + 8, idx); /* a response's receiver index */
	/* a valid mac1 for the message's own length, where one fits */
	if (len >= 32 && ((type & 0xff) == 1 || (type & 0xff) == 2))
		ref_mac1(MAC1_KEY, p, len - 32, p + len - 32);
	if ((w0 & 0x80) && len >= 32) {
		uint8_t pos = u8(r);

		/* one bit in what mac1 covers (after the type) or in mac1 itself */
		p[4 + pos % (len - 16 - 4)] ^= (uint8_t)(1u << (pos & 7));
	}
	return len;
}

static size_t put_addr4(struct rd *r, uint8_t *p, int sel, const uint8_t tab[3][4])
{
	if (sel < 3)
		memcpy(p, tab[sel], 4);
	else
		take(r, p, 4);
	return 4;
}

static size_t put_addr6(struct rd *r, uint8_t *p, int sel, const uint8_t tab[3][16])
{
	if (sel < 3)
		memcpy(p, tab[sel], 16);
	else
		take(r, p, 16);
	return 16;
}

static const uint8_t SRC4[3][4] = { { 198, 51, 100, 2 }, { 203, 0, 113, 9 }, { 192, 0, 2, 1 } };
static const uint8_t DST4[3][4] = { { 198, 18, 0, 1 }, { 198, 18, 0, 2 }, { 192, 0, 2, 200 } };
static const uint8_t SRC6[3][16] = { { 0x20, 0x01, 0x0d, 0xb8, [15] = 2 },
				     { 0x20, 0x01, 0x0d, 0xb8, 0, 1, [15] = 9 },
				     { 0x20, 0x01, 0x0d, 0xb8, [15] = 3 } };
static const uint8_t DST6[3][16] = { { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 },
				     { 0x20, 0x01, 0x0d, 0xb8, [14] = 1 },
				     { 0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, [15] = 1 } };

/* UDP header and WireGuard message at p; returns the datagram's length. */
static size_t build_udp(struct rd *r, uint8_t *p, size_t room, uint16_t port)
{
	uint8_t u0 = u8(r);
	uint16_t dport = u0 & 1 ? u16(r) : port, ulen_raw = u0 & 2 ? u16(r) : 0, sport;
	size_t n;

	switch (u0 >> 2 & 3) {
	case 0:
		sport = 40000;
		break;
	case 1:
		sport = 5555;
		break;
	case 2:
		sport = u16(r);
		break;
	default:
		sport = 40001;
		break;
	}
	if (room < 8)
		return 0;
	n = 8 + build_wg(r, p + 8, room - 8);
	built_sport = sport;
	put16(p, sport);
	put16(p + 2, dport);
	put16(p + 4, u0 & 2 ? ulen_raw : (uint16_t)n);
	put16(p + 6, 0);
	return n;
}

static size_t build_ipv4(struct rd *r, uint8_t *p, size_t room, uint16_t port)
{
	uint8_t i0 = u8(r), i1 = u8(r);
	int words = i0 & 15;
	uint8_t ihl = words <= 10 ? (uint8_t)(5 + words) : (uint8_t)(u8(r) & 15);
	size_t hl = words <= 10 ? (size_t)ihl * 4 : 20, n, i;
	uint16_t frag, tot_raw;
	uint8_t proto, ver;

	switch (i0 >> 4 & 3) {
	case 0:
		frag = 0x4000; /* DF */
		break;
	case 1:
		frag = 0x2000; /* MF, offset 0: a first fragment */
		break;
	case 2:
		frag = (uint16_t)((u16(r) & 0x1fff) | 1);
		break;
	default:
		frag = u16(r);
		break;
	}
	proto = i0 & 0x40 ? u8(r) : 17;
	tot_raw = i0 & 0x80 ? u16(r) : 0;
	ver = i1 & 0x10 ? (u8(r) & 15) : 4;
	if (room < hl)
		return 0;
	memset(p, 0, hl);
	p[0] = (uint8_t)(ver << 4 | ihl);
	put16(p + 6, frag);
	p[8] = 64;
	p[9] = proto;
	put_addr4(r, p + 12, i1 & 3, SRC4);
	put_addr4(r, p + 16, i1 >> 2 & 3, DST4);
	for (i = 20; i < hl; i++)
		p[i] = 1; /* NOP options */
	n = hl + build_udp(r, p + hl, room - hl, port);
	put16(p + 2, i0 & 0x80 ? tot_raw : (uint16_t)n);
	return n;
}

static size_t build_ipv6(struct rd *r, uint8_t *p, size_t room, uint16_t port)
{
	static const uint8_t kinds[7] = { 0, 43, 60, 51, 44, 135, 59 };
	uint8_t i0 = u8(r), i1 = u8(r), *nh;
	int i, n = i0 & 15;
	uint16_t plen_raw = i0 & 0x10 ? u16(r) : 0;
	uint8_t final = i0 & 0x20 ? u8(r) : 17, ver = i0 & 0x40 ? (u8(r) & 15) : 6;
	size_t off = 40;

	if (room < 40)
		return 0;
	memset(p, 0, 40);
	p[0] = (uint8_t)(ver << 4);
	p[7] = 64;
	put_addr6(r, p + 8, i1 & 3, SRC6);
	put_addr6(r, p + 24, i1 >> 2 & 3, DST6);
	nh = p + 6;
	for (i = 0; i < n; i++) {
		uint8_t e0 = u8(r), kind = (e0 & 7) < 7 ? kinds[e0 & 7] : u8(r);
		size_t hl;

		if (kind == 44) {
			uint16_t fo;

			switch (e0 >> 3 & 3) {
			case 0:
				fo = 1; /* offset 0, M */
				break;
			case 1:
				fo = 0; /* atomic */
				break;
			case 2:
				fo = (uint16_t)(u16(r) | 8);
				break;
			default:
				fo = u16(r);
				break;
			}
			hl = 8;
			if (off + hl > room)
				break;
			memset(p + off, 0, hl);
			put16(p + off + 2, fo);
			p[off + 4] = 0xab; /* identification */
		} else {
			uint8_t l;

			switch (e0 >> 3 & 3) {
			case 0:
				l = 0;
				break;
			case 1:
				l = 1;
				break;
			case 2:
				l = u8(r);
				break;
			default:
				l = 2;
				break;
			}
			hl = kind == 51 ? ((size_t)l + 2) * 4 : ((size_t)l + 1) * 8;
			if (off + hl > room)
				break;
			memset(p + off, 0, hl);
			p[off + 1] = l;
			if (kind != 51 && hl >= 8) {
				p[off + 2] = 1; /* PadN over the rest */
				p[off + 3] = (uint8_t)(hl - 4);
			}
		}
		*nh = kind;
		nh = p + off;
		off += hl;
	}
	*nh = final;
	off += build_udp(r, p + off, room - off, port);
	put16(p + 4, i0 & 0x10 ? plen_raw : (uint16_t)(off - 40));
	return off;
}

static size_t build_frame(struct rd *r, uint8_t *f, uint16_t port)
{
	uint8_t f0 = u8(r);
	size_t off = 12, n;
	int tags = (f0 & 3) == 3 ? 2 : f0 & 3, kind = f0 >> 3 & 3, tail = f0 >> 5;

	memset(f, 0, FRAME_MAX);
	built_sport = 40000;
	if (kind == 3) { /* the rest of the input is the frame */
		n = r->n < FRAME_MAX ? r->n : FRAME_MAX;
		take(r, f, n);
		return n < 14 ? 14 : n;
	}
	f[0] = 0x02;
	f[5] = 1;
	f[6] = 0x02;
	f[11] = 2;
	if (tags == 2) {
		put16(f + off, f0 & 4 ? 0x88a8 : 0x8100);
		put16(f + off + 2, 100);
		off += 4;
	}
	if (tags >= 1) {
		put16(f + off, 0x8100);
		put16(f + off + 2, 200);
		off += 4;
	}
	if (kind == 0) {
		put16(f + off, 0x0800);
		off += 2;
		off += build_ipv4(r, f + off, FRAME_MAX - off, port);
	} else if (kind == 1) {
		put16(f + off, 0x86dd);
		off += 2;
		off += build_ipv6(r, f + off, FRAME_MAX - off, port);
	} else {
		put16(f + off, u16(r));
		off += 2;
		n = r->n < FRAME_MAX - off ? r->n : FRAME_MAX - off;
		take(r, f + off, n);
		off += n;
	}
	if (tail == 5 || tail == 7) {
		size_t cut = tail == 7 ? 1 : u8(r);

		off = cut < off ? off - cut : 0;
	} else if (tail == 6) {
		size_t add = u8(r);

		off = off + add < FRAME_MAX ? off + add : FRAME_MAX;
	}
	return off < 14 ? 14 : off; /* BPF_PROG_TEST_RUN takes nothing shorter than Ethernet */
}

/* Source and destination of an IPv4/IPv6 frame, found the simple way (for the harness's own
 * map entries, not for any verdict). */
static int frame_addrs(const uint8_t *f, size_t len, uint32_t *fam, uint8_t *src, uint8_t *dst)
{
	size_t off = 12;
	uint16_t et = (uint16_t)(f[12] << 8 | f[13]);
	int i;

	for (i = 0; i < 2 && (et == 0x8100 || et == 0x88a8) && off + 6 <= len; i++) {
		off += 4;
		et = (uint16_t)(f[off] << 8 | f[off + 1]);
	}
	off += 2;
	memset(src, 0, 16);
	memset(dst, 0, 16);
	if (et == 0x0800 && off + 20 <= len) {
		*fam = XDPWG_FAMILY_INET;
		memcpy(src, f + off + 12, 4);
		memcpy(dst, f + off + 16, 4);
		return 0;
	}
	if (et == 0x86dd && off + 40 <= len) {
		*fam = XDPWG_FAMILY_INET6;
		memcpy(src, f + off + 8, 16);
		memcpy(dst, f + off + 24, 16);
		return 0;
	}
	*fam = 0;
	return -1;
}

/* ---- the maps ---- */

static struct {
	int sess_live[NIDX];
	int peer_present[NIDX];
	int nallow, nlocal;
	struct xdpwg_src_key allow[REF_MAX_ENTRIES];
	struct ref_addr_key local[REF_MAX_ENTRIES];
} shadow;

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void must(int err, const char *what)
{
	if (err) {
		fprintf(stderr, "fuzz_xdp: %s: %s\n", what, strerror(errno));
		abort();
	}
}

static void set_bucket(int fd, uint32_t fam, const uint8_t *src, enum ref_bucket b)
{
	struct xdpwg_bucket_key k;
	struct xdpwg_bucket v;

	memset(&k, 0, sizeof(k));
	k.family = fam;
	memcpy(k.addr, src, fam == XDPWG_FAMILY_INET ? 4 : 8); /* /32 or /64 */
	if (b == REF_BUCKET_ABSENT) {
		bpf_map_delete_elem(fd, &k);
		return;
	}
	/* full: more than a burst (the program caps it); empty: none, and at 1/s none accrues
	 * within the run */
	v.tokens = b == REF_BUCKET_FULL ? 10ULL * 1000 * 1000 * 1000 : 0;
	v.last_ns = mono_ns();
	must(bpf_map_update_elem(fd, &k, &v, BPF_ANY), "bucket update");
}

static void apply_maps(struct ref_maps *m, uint32_t fam, const uint8_t *src)
{
	uint32_t key = 0;
	int i;

	must(bpf_map_update_elem(P.config, &key, &m->cfg, BPF_ANY), "config update");
	if (P.capture_ctl >= 0) {
		struct xdpwg_capture_ctl cc = { .on = !!(m->cfg.flags & XDPWG_CFG_F_CAPTURE) };

		must(bpf_map_update_elem(P.capture_ctl, &key, &cc, BPF_ANY), "capture switch");
	}
	for (i = 0; i < NIDX; i++) {
		int live = 0, j;

		for (j = 0; j < m->nsessions; j++)
			live |= m->sessions[j].index == IDX[i];
		if (live) {
			struct xdpwg_session s = { .peer_id = (uint32_t)i + 1 };

			if (!shadow.sess_live[i])
				must(bpf_map_update_elem(P.sessions, &IDX[i], &s, BPF_ANY),
				     "session add");
		} else if (shadow.sess_live[i]) {
			must(bpf_map_delete_elem(P.sessions, &IDX[i]), "session delete");
		}
		shadow.sess_live[i] = live;
	}
	for (i = 0; i < NIDX; i++) {
		uint32_t id = (uint32_t)i + 1;
		int j;

		for (j = 0; j < m->npeers && m->peers[j].id != id; j++)
			;
		if (j < m->npeers) {
			struct xdpwg_peer p;

			/* rewritten every time: counters from zero, last event as planned */
			memset(&p, 0, sizeof(p));
			p.endpoint = m->peers[j].endpoint;
			p.flags = m->peers[j].flags;
			p.last_event_ns = m->peers[j].event_recent ? mono_ns() : 0;
			must(bpf_map_update_elem(P.peers, &id, &p, BPF_ANY), "peer update");
			shadow.peer_present[i] = 1;
		} else if (shadow.peer_present[i]) {
			must(bpf_map_delete_elem(P.peers, &id), "peer delete");
			shadow.peer_present[i] = 0;
		}
	}
	/* allowlist and local addresses: replaced when they differ from what the maps hold */
	{
		struct xdpwg_src_key k[REF_MAX_ENTRIES];
		uint32_t zero = 0;

		memset(k, 0, sizeof(k));
		for (i = 0; i < m->nallow; i++) {
			k[i].prefixlen = 32 + m->allow[i].cidr;
			k[i].family = m->allow[i].family;
			memcpy(k[i].addr, m->allow[i].addr, 16);
		}
		if (m->nallow != shadow.nallow || memcmp(k, shadow.allow, sizeof(k))) {
			for (i = 0; i < shadow.nallow; i++)
				bpf_map_delete_elem(P.allow, &shadow.allow[i]);
			for (i = 0; i < m->nallow; i++)
				must(bpf_map_update_elem(P.allow, &k[i], &zero, BPF_ANY),
				     "allowlist update");
			memcpy(shadow.allow, k, sizeof(k));
			shadow.nallow = m->nallow;
		}
	}
	if (P.local >= 0 &&
	    (m->nlocal != shadow.nlocal || memcmp(m->local, shadow.local, sizeof(m->local)))) {
		uint32_t zero = 0;

		for (i = 0; i < shadow.nlocal; i++)
			bpf_map_delete_elem(P.local, &shadow.local[i]);
		for (i = 0; i < m->nlocal; i++)
			must(bpf_map_update_elem(P.local, &m->local[i], &zero, BPF_ANY),
			     "local_addrs update");
		memcpy(shadow.local, m->local, sizeof(m->local));
		shadow.nlocal = m->nlocal;
	}
	if (fam) {
		set_bucket(P.hs, fam, src, m->hs_bucket);
		if (P.frag >= 0)
			set_bucket(P.frag, fam, src, m->frag_bucket);
	}
}

/* S0..S3 and the allowlist and local address descriptors, read before the frame; the entries
 * taken from the frame's addresses are filled in once it is built. */
struct plan {
	uint8_t s[6];
	uint8_t a0[3], a1[3], aaddr[3][16];
	uint8_t l0[3], laddr[3][16];
};

static void read_plan(struct rd *r, struct plan *pl)
{
	int k;

	memset(pl, 0, sizeof(*pl));
	pl->s[0] = u8(r);
	if (pl->s[0] & 0x80) {
		pl->s[4] = u8(r);
		pl->s[5] = u8(r);
	}
	pl->s[1] = u8(r);
	pl->s[2] = u8(r);
	pl->s[3] = u8(r);
	for (k = 0; k < (pl->s[3] & 3); k++) {
		pl->a0[k] = u8(r);
		pl->a1[k] = u8(r);
		if (!(pl->a0[k] & 1))
			take(r, pl->aaddr[k], 16);
	}
	for (k = 0; k < (pl->s[3] >> 2 & 3); k++) {
		pl->l0[k] = u8(r);
		if (!(pl->l0[k] & 1))
			take(r, pl->laddr[k], 16);
	}
}

static void plan_maps(const struct plan *pl, struct ref_maps *m, const uint8_t *frame, size_t len)
{
	const uint8_t *s = pl->s;
	uint32_t fam;
	uint8_t src[16], dst[16];
	uint16_t sport = built_sport;
	int i, k;

	memset(m, 0, sizeof(*m));
	m->have_config = 1;
	m->cfg.flags = (uint16_t)(s[0] & 0x3f);
	if (P.local < 0) /* a program without local_addrs: no daemon would set the flag */
		m->cfg.flags &= (uint16_t)~REF_CFG_F_LOCAL_ADDRS;
	memcpy(m->cfg.mac1_key, MAC1_KEY, 32);
	m->cfg.listen_port = s[0] & 0x40 ? 0 : s[0] & 0x80 ? (uint16_t)(s[4] << 8 | s[5]) : PORT;
	frame_addrs(frame, len, &fam, src, dst);
	for (i = 0; i < NIDX; i++)
		if (s[1] >> i & 1) {
			m->sessions[m->nsessions].index = IDX[i];
			m->sessions[m->nsessions++].peer_id = (uint32_t)i + 1;
		}
	for (i = 0; i < NIDX; i++)
		if (s[1] >> (4 + i) & 1) {
			struct xdpwg_endpoint *ep = &m->peers[m->npeers].endpoint;
			int rel = s[2] & 3;

			m->peers[m->npeers].id = (uint32_t)i + 1;
			m->peers[m->npeers].flags = s[2] & 4 ? XDPWG_PEER_F_ROAM_PINNED : 0;
			m->peers[m->npeers].event_recent = !!(s[2] & 8);
			ep->family = (uint16_t)(fam ? fam : XDPWG_FAMILY_INET);
			memcpy(ep->addr.v6, src, 16);
			ep->port = (uint16_t)(sport >> 8 | (sport & 0xff) << 8);
			if (rel == 1)
				ep->addr.v6[3] ^= 0x5a;
			else if (rel == 2)
				ep->port ^= 0x0100;
			else if (rel == 3)
				ep->family = ep->family == XDPWG_FAMILY_INET ? XDPWG_FAMILY_INET6
									     : XDPWG_FAMILY_INET;
			m->npeers++;
		}
	m->hs_bucket = (enum ref_bucket)((s[2] >> 4 & 3) == 3 ? 0 : s[2] >> 4 & 3);
	m->frag_bucket = (enum ref_bucket)((s[2] >> 6 & 3) == 3 ? 0 : s[2] >> 6 & 3);
	if (P.frag < 0 || P.frag_val_size != sizeof(struct xdpwg_bucket))
		m->frag_bucket = REF_BUCKET_ABSENT; /* cannot be preset: only absent is known */
	if (!fam)
		m->hs_bucket = m->frag_bucket = REF_BUCKET_ABSENT;
	for (k = 0; k < (s[3] & 3); k++) {
		if (pl->a0[k] & 1 && fam) {
			m->allow[k].family = fam;
			memcpy(m->allow[k].addr, src, 16);
		} else {
			m->allow[k].family = pl->a0[k] & 2 ? XDPWG_FAMILY_INET6 : XDPWG_FAMILY_INET;
			memcpy(m->allow[k].addr, pl->aaddr[k], 16);
		}
		m->allow[k].cidr =
			pl->a1[k] % (m->allow[k].family == XDPWG_FAMILY_INET ? 33u : 129u);
		if (m->allow[k].family == XDPWG_FAMILY_INET)
			memset(m->allow[k].addr + 4, 0, 12);
		/* the trie keeps only the prefix's bits */
		for (i = 0; i < 16; i++) {
			uint32_t bit = (uint32_t)i * 8;

			if (bit >= m->allow[k].cidr)
				m->allow[k].addr[i] = 0;
			else if (bit + 8 > m->allow[k].cidr)
				m->allow[k].addr[i] &=
					(uint8_t)(0xff00 >> (m->allow[k].cidr - bit));
		}
		m->nallow++;
	}
	/* two entries with the same prefix are one trie entry */
	for (k = 1; k < m->nallow; k++)
		for (i = 0; i < k; i++)
			if (m->allow[i].family == m->allow[k].family &&
			    m->allow[i].cidr == m->allow[k].cidr &&
			    !memcmp(m->allow[i].addr, m->allow[k].addr, 16)) {
				m->allow[k] = m->allow[--m->nallow];
				k--;
				break;
			}
	for (k = 0; k < (s[3] >> 2 & 3); k++) {
		memset(&m->local[m->nlocal], 0, sizeof(m->local[0]));
		if (pl->l0[k] & 1 && fam) {
			m->local[m->nlocal].family = fam;
			memcpy(m->local[m->nlocal].addr, dst, 16);
		} else {
			m->local[m->nlocal].family =
				pl->l0[k] & 2 ? XDPWG_FAMILY_INET6 : XDPWG_FAMILY_INET;
			memcpy(m->local[m->nlocal].addr, pl->laddr[k], 16);
		}
		if (m->local[m->nlocal].family == XDPWG_FAMILY_INET)
			memset(m->local[m->nlocal].addr + 4, 0, 12);
		for (i = 0; i < m->nlocal; i++)
			if (!memcmp(&m->local[i], &m->local[m->nlocal], sizeof(m->local[0])))
				break;
		if (i == m->nlocal)
			m->nlocal++;
	}
	if (P.local < 0)
		m->nlocal = 0;
}

/* ---- one run ---- */

static void hex(const char *what, const uint8_t *p, size_t n)
{
	size_t i;

	fprintf(stderr, "%s (%zu bytes):", what, n);
	for (i = 0; i < n; i++)
		fprintf(stderr, "%s%02x", i % 32 ? "" : "\n  ", p[i]);
	fprintf(stderr, "\n");
}

static const char *act(int a)
{
	return a == REF_XDP_DROP       ? "DROP"
	       : a == REF_XDP_PASS     ? "PASS"
	       : a == REF_XDP_REDIRECT ? "REDIRECT"
				       : "?";
}

static double elapsed(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
}

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			if (!nbad)                                                                 \
				fprintf(stderr,                                                    \
					"\nfuzz_xdp: MISMATCH after %llu executions, %.1f s\n",    \
					n_exec, elapsed());                                        \
			fprintf(stderr, "  " __VA_ARGS__);                                         \
			fprintf(stderr, "\n");                                                     \
			nbad++;                                                                    \
		}                                                                                  \
	} while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *skip = getenv("XDPWG_FUZZ_SKIP");

	(void)argc;
	(void)argv;
	while (skip && *skip) {
		static const struct {
			const char *name;
			unsigned bit;
		} tok[] = { { "ipv6-ext", REF_PATH_IPV6_EXT },
			    { "ipv6-ext-deep", REF_PATH_EXT_DEEP },
			    { "frag", REF_PATH_FRAG },
			    { "transit", REF_PATH_TRANSIT },
			    { "same-verdict", SKIP_SAME_VERDICT } };
		size_t n = strcspn(skip, ","), t;

		for (t = 0; t < sizeof(tok) / sizeof(tok[0]); t++)
			if (strlen(tok[t].name) == n && !strncmp(skip, tok[t].name, n))
				skip_mask |= tok[t].bit;
		skip += n + (skip[n] == ',');
	}
	verbose = getenv("XDPWG_FUZZ_VERBOSE") != NULL;
	libbpf_set_print(NULL);
	load_program();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	return 0;
}

static void __attribute__((destructor)) report(void)
{
	if (skip_mask)
		fprintf(stderr, "fuzz_xdp: %llu mismatches on skipped paths in %llu executions\n",
			n_skipped, n_exec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t frame[FRAME_MAX], out[FRAME_MAX + 256];
	static uint64_t before[REF_STAT_MAX + 64], after[REF_STAT_MAX + 64];
	struct rd r = { data, size };
	struct ref_maps m;
	struct ref_result want;
	struct xdp_run o;
	struct plan pl;
	uint8_t src[16], dst[16];
	uint32_t fam, i, got_reason = ~0u, want_action, want_reason;
	size_t len, metalen = 0;
	int ret, nbad = 0, nmoved = 0;

	if (P.nstats > REF_STAT_MAX + 64)
		abort();
	n_exec++;
	read_plan(&r, &pl);
	len = build_frame(&r, frame,
			  pl.s[0] & 0x80 ? (uint16_t)(pl.s[4] << 8 | pl.s[5]) : (uint16_t)PORT);
	plan_maps(&pl, &m, frame, len);
	frame_addrs(frame, len, &fam, src, dst);
	apply_maps(&m, fam, src);
	ref_classify(frame, len, &m, &want);

	read_stats(before);
	ret = xdp_run(P.prog, frame, len, out, sizeof(out), &o);
	if (ret) {
		fprintf(stderr, "fuzz_xdp: BPF_PROG_TEST_RUN failed: %s (frame %zu bytes)\n",
			strerror(-ret), len);
		abort();
	}
	read_stats(after);
	R.nev = R.ncap = 0;
	ring_buffer__consume(P.events);
	ring_buffer__consume(P.capture);

	/* no socket in xsks: a redirect falls back to the stack, as without AF_XDP */
	want_action = want.action == REF_XDP_REDIRECT ? REF_XDP_PASS : (uint32_t)want.action;
	want_reason = want.action == REF_XDP_REDIRECT ? XDPWG_STAT_NO_XSK_PASSED : want.reason;

	CHECK(o.retval == want_action, "verdict: program %s, reference %s", act((int)o.retval),
	      act((int)want_action));
	for (i = 0; i < P.nstats; i++) {
		uint64_t d = after[i] - before[i], w = i == want_reason || (want.extra >> i & 1);

		if (d && i != XDPWG_STAT_NEW_SOURCE && i != XDPWG_STAT_EVENT_SENT &&
		    i != XDPWG_STAT_EVENT_RATELIMITED && i != XDPWG_STAT_HS_UNDER_LOAD) {
			got_reason = i;
			nmoved++;
		}
		CHECK(d == w, "counter %s: program +%llu, reference +%llu", ref_stat_name(i),
		      (unsigned long long)d, (unsigned long long)w);
	}
	CHECK(want_reason < P.nstats, "reason %s: the program has no such counter (%u counters)",
	      ref_stat_name(want_reason), P.nstats);
	(void)nmoved;
	(void)got_reason;
	if (o.retval == REF_XDP_PASS || o.retval == REF_XDP_REDIRECT) {
		metalen = o.ctx.data;
		/* inline metadata is taken away again before a frame goes up the stack */
		if (P.meta_inline && o.retval == REF_XDP_PASS)
			want.meta = 0;
		CHECK(metalen == (want.meta ? sizeof(struct xdpwg_meta) : 0),
		      "metadata: program %zu bytes, reference %zu", metalen,
		      want.meta ? sizeof(struct xdpwg_meta) : (size_t)0);
		CHECK(o.out_len == len + metalen && !memcmp(out + metalen, frame, len),
		      "passed frame modified (%u bytes out, %zu in)", o.out_len, len);
	}
	if (want.meta && metalen == sizeof(struct xdpwg_meta)) {
		struct xdpwg_meta g;

		memcpy(&g, out, sizeof(g));
		CHECK(g.magic == XDPWG_META_MAGIC && g.reserved == 0, "meta magic %#x reserved %u",
		      g.magic, g.reserved);
		CHECK(g.flags == want.m.flags, "meta flags: program %#x, reference %#x", g.flags,
		      want.m.flags);
		CHECK(g.msg_type == want.m.msg_type, "meta type: program %u, reference %u",
		      g.msg_type, want.m.msg_type);
		CHECK(g.peer_id == want.m.peer_id, "meta peer: program %u, reference %u", g.peer_id,
		      want.m.peer_id);
		CHECK(g.payload_off == want.m.payload_off,
		      "meta payload_off: program %u, reference %u", g.payload_off,
		      want.m.payload_off);
		CHECK(g.payload_len == want.m.payload_len,
		      "meta payload_len: program %u, reference %u", g.payload_len,
		      want.m.payload_len);
		CHECK(g.rx_ns != 0, "meta rx_ns 0");
		if (want.peer_hit) {
			struct xdpwg_peer p;

			memset(&p, 0, sizeof(p));
			bpf_map_lookup_elem(P.peers, &want.peer_id, &p);
			CHECK(p.rx_packets == 1 && p.rx_bytes == want.rx_bytes &&
				      p.last_seen_ns == g.rx_ns,
			      "peer %u: rx_packets %llu rx_bytes %llu (reference 1, %u), last_seen "
			      "%s",
			      want.peer_id, (unsigned long long)p.rx_packets,
			      (unsigned long long)p.rx_bytes, want.rx_bytes,
			      p.last_seen_ns == g.rx_ns ? "= rx_ns" : "!= rx_ns");
		}
	}
	CHECK(R.nev == want.event, "new-source events: program %d, reference %d", R.nev,
	      want.event);
	if (want.event && R.nev == 1)
		CHECK(R.ev.type == XDPWG_EVENT_NEW_SOURCE && R.ev.peer_id == want.peer_id &&
			      !memcmp(&R.ev.src, &want.ev_src, sizeof(R.ev.src)),
		      "new-source event: type %u peer %u", R.ev.type, R.ev.peer_id);
	if (m.cfg.flags & XDPWG_CFG_F_CAPTURE) {
		int wcap = want.capture == REF_CAPTURE_YES;

		if (want.capture == REF_CAPTURE_MAYBE)
			wcap = R.ncap ? 1 : 0;
		CHECK(R.ncap == wcap, "capture records: program %d, reference %d", R.ncap, wcap);
		if (R.ncap == 1 && wcap)
			CHECK(R.cap.action == o.retval && R.cap.reason == want_reason &&
				      R.cap.len == len &&
				      R.cap.caplen == (len < XDPWG_CAPTURE_SNAPLEN
							       ? len
							       : XDPWG_CAPTURE_SNAPLEN) &&
				      !memcmp(R.cap.data, frame, R.cap.caplen),
			      "capture record: action %u reason %s len %u caplen %u", R.cap.action,
			      ref_stat_name(R.cap.reason), R.cap.len, R.cap.caplen);
	} else {
		CHECK(R.ncap == 0, "capture records with capture off: %d", R.ncap);
	}
	if (verbose)
		fprintf(stderr, "fuzz_xdp: %zu-byte frame: reference %s %s, program %s%s\n", len,
			act(want.action), ref_stat_name(want.reason), act((int)o.retval),
			nbad ? " (MISMATCH)" : "");
	if (nbad) {
		fprintf(stderr,
			"  reference: %s, %s%s; paths%s%s%s%s\n  config: port %u flags %#x; "
			"sessions "
			"%d, peers %d, allowlist %d, local %d, buckets hs %d frag %d\n",
			act(want.action), ref_stat_name(want.reason), want.meta ? ", metadata" : "",
			want.paths & REF_PATH_IPV6_EXT ? " ipv6-ext" : "",
			want.paths & REF_PATH_EXT_DEEP ? " ipv6-ext-deep" : "",
			want.paths & REF_PATH_FRAG ? " frag" : "",
			want.paths & REF_PATH_TRANSIT ? " transit" : "", m.cfg.listen_port,
			m.cfg.flags, m.nsessions, m.npeers, m.nallow, m.nlocal, m.hs_bucket,
			m.frag_bucket);
		hex("  frame", frame, len);
		if ((want.paths & skip_mask) ||
		    ((skip_mask & SKIP_SAME_VERDICT) && o.retval == want_action &&
		     (o.retval == REF_XDP_DROP ||
		      metalen == (want.meta ? sizeof(struct xdpwg_meta) : 0)))) {
			n_skipped++;
			return 0;
		}
		abort();
	}
	return 0;
}
