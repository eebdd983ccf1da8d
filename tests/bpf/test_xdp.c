// SPDX-License-Identifier: GPL-2.0
/*
 * The XDP program under BPF_PROG_TEST_RUN with fixtures built here: verdicts, per-reason stats,
 * metadata, per-peer counters, the new-source event, live port change, redirect into a bound
 * AF_XDP socket, pinning and stale-attachment replacement. Root only (skips otherwise); runs in
 * private network and mount namespaces so nothing outside is touched.
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
#include <sys/stat.h>
#include <sys/wait.h>
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
#include "xsk.h"

#define PORT	 51820
#define INDEX	 0x11223344u
#define PEER_ID	 7u
#define PEER_SRC "198.51.100.2"
#define PEER_PRT 40000
#define INDEX6	 0x55667788u /* peer 8, endpoint [2001:db8::2]:40000 */
#define PEER6_ID 8u

struct fx {
	int vlans;	 /* 0, 1 (802.1Q) or 2 (802.1ad + 802.1Q) */
	int family;	 /* AF_INET, AF_INET6, or 0 for ARP */
	int ipopt;	 /* IPv4 option words */
	int frag;	 /* IPv4 MF */
	int v6_hbh;	 /* IPv6 hop-by-hop header */
	int proto;	 /* IPPROTO_UDP (default) or IPPROTO_TCP */
	const char *src; /* default PEER_SRC or 2001:db8::2 */
	uint16_t sport, dport;
	uint32_t type, index;
	size_t plen; /* WireGuard message length */
	size_t cut;  /* bytes removed from the end of the frame */
};

static size_t put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return 2;
}

static size_t build(uint8_t *buf, const struct fx *f)
{
	static const uint8_t dmac[6] = { 0x02, 0, 0, 0, 0, 1 }, smac[6] = { 0x02, 0, 0, 0, 0, 2 };
	size_t off = 12, l4, udp_len, i;
	int proto = f->proto ? f->proto : IPPROTO_UDP;

	memset(buf, 0, 2048);
	memcpy(buf, dmac, 6);
	memcpy(buf + 6, smac, 6);
	if (f->vlans == 2) {
		off += put16(buf + off, ETH_P_8021AD);
		off += put16(buf + off, 100);
	}
	if (f->vlans >= 1) {
		off += put16(buf + off, ETH_P_8021Q);
		off += put16(buf + off, 200);
	}
	if (!f->family) { /* ARP request */
		off += put16(buf + off, ETH_P_ARP);
		memset(buf + off, 0x11, 28);
		return off + 28;
	}
	udp_len = 8 + f->plen;
	if (f->family == AF_INET) {
		size_t hl = 20 + 4 * (size_t)f->ipopt;
		const char *src = f->src ? f->src : PEER_SRC;

		off += put16(buf + off, ETH_P_IP);
		buf[off] = (uint8_t)(0x40 | (hl / 4));
		put16(buf + off + 2, (uint16_t)(hl + udp_len));
		put16(buf + off + 6, f->frag ? 0x2000 : 0x4000);
		buf[off + 8] = 64;
		buf[off + 9] = (uint8_t)proto;
		inet_pton(AF_INET, src, buf + off + 12);
		inet_pton(AF_INET, "198.18.0.1", buf + off + 16);
		for (i = 20; i < hl; i++)
			buf[off + i] = 1; /* NOP options */
		off += hl;
	} else {
		const char *src = f->src ? f->src : "2001:db8::2";
		size_t ext = f->v6_hbh ? 8 : 0;

		off += put16(buf + off, ETH_P_IPV6);
		buf[off] = 0x60;
		put16(buf + off + 4, (uint16_t)(udp_len + ext));
		buf[off + 6] = f->v6_hbh ? 0 : (uint8_t)proto;
		buf[off + 7] = 64;
		inet_pton(AF_INET6, src, buf + off + 8);
		inet_pton(AF_INET6, "2001:db8::1", buf + off + 24);
		off += 40;
		if (ext) {
			buf[off] = (uint8_t)proto;
			buf[off + 1] = 0;
			buf[off + 2] = 1; /* PadN */
			buf[off + 3] = 4;
			off += 8;
		}
	}
	l4 = off;
	put16(buf + l4, f->sport ? f->sport : PEER_PRT);
	put16(buf + l4 + 2, f->dport ? f->dport : PORT);
	if (proto == IPPROTO_UDP) {
		put16(buf + l4 + 4, (uint16_t)udp_len);
		off += 8;
	} else {
		buf[l4 + 12] = 0x50;
		off += 20;
	}
	for (i = 0; i < f->plen; i++)
		buf[off + i] = (uint8_t)(0xa0 + i);
	if (f->plen >= 4) {
		buf[off] = (uint8_t)f->type;
		buf[off + 1] = (uint8_t)(f->type >> 8);
		buf[off + 2] = 0;
		buf[off + 3] = 0;
	}
	if (f->plen >= 8) {
		uint32_t idx = f->index ? f->index : INDEX;

		memcpy(buf + off + 4, &idx, 4); /* little-endian host */
	}
	off += f->plen;
	return off - f->cut;
}

struct run {
	int ret;
	uint32_t retval;
	uint8_t out[4096];
	uint32_t out_len;
	struct xdp_md ctx_out;
};

static int prog_fd;

static void run_fx(const struct fx *f, struct run *r)
{
	uint8_t in[2048];
	size_t len = build(in, f);
	struct xdp_run x;

	memset(r, 0, sizeof(*r));
	r->ret = xdp_run(prog_fd, in, len, r->out, sizeof(r->out), &x);
	r->retval = x.retval;
	r->out_len = x.out_len;
	r->ctx_out = x.ctx;
	/* untouched? (metadata, when added, precedes the frame in data_out) */
	if (r->ret == 0 && r->retval == XDP_PASS && r->ctx_out.data == 0 &&
	    (r->out_len != len || memcmp(in, r->out, len) != 0))
		r->ret = -EILSEQ;
}

static uint64_t stats_before[XDPWG_STAT_MAX];
static struct xdpwg_loader *ld;

static void snap(void)
{
	loader_stats(ld, stats_before);
}

static uint64_t delta(enum xdpwg_stat s)
{
	uint64_t now[XDPWG_STAT_MAX];

	loader_stats(ld, now);
	return now[s] - stats_before[s];
}

/*
 * The worker takes where the message is from the metadata (xsk_frame_udp) instead of parsing the
 * frame again: on every fixture that leaves with metadata, that must agree with a full parse
 * (xsk_parse_udp) of the same frame, offset, length, addresses and ports alike.
 */
static unsigned int meta_checked;

static void check_meta(const char *name, const struct run *r)
{
	struct xsk_udp_params full, fast;
	size_t off_full = 0, len_full = 0, off_fast = 0, len_fast = 0;
	struct xsk_frame fr = { 0 };
	int rf, rm;

	if (r->ret != 0 || r->ctx_out.data != sizeof(struct xdpwg_meta))
		return;
	fr.meta = (const struct xdpwg_meta *)r->out;
	fr.data = (uint8_t *)r->out + sizeof(struct xdpwg_meta);
	fr.len = r->out_len - (uint32_t)sizeof(struct xdpwg_meta);
	rf = xsk_parse_udp(fr.data, fr.len, &full, &off_full, &len_full);
	rm = xsk_frame_udp(&fr, &fast, &off_fast, &len_fast);
	meta_checked++;
	if (!ok(rf == 0 && rm == 0 && off_full == off_fast && len_full == len_fast &&
			full.family == fast.family && full.sport == fast.sport &&
			full.dport == fast.dport &&
			!memcmp(&full.src, &fast.src, sizeof(full.src)) &&
			!memcmp(&full.dst, &fast.dst, sizeof(full.dst)) &&
			!memcmp(full.src_mac, fast.src_mac, 6) &&
			!memcmp(full.dst_mac, fast.dst_mac, 6),
		"%s: the metadata's payload offset and length agree with a full parse", name))
		printf("#   full %d off %zu len %zu, metadata %d off %zu len %zu\n", rf, off_full,
		       len_full, rm, off_fast, len_fast);
}

/* One fixture: expected verdict and the one counter it must bump (and nothing else). */
static void expect(const char *name, const struct fx *f, uint32_t verdict, enum xdpwg_stat s)
{
	uint64_t now[XDPWG_STAT_MAX], total = 0;
	struct run r;
	int i;

	snap();
	run_fx(f, &r);
	loader_stats(ld, now);
	for (i = 0; i < XDPWG_STAT_MAX; i++)
		total += now[i] - stats_before[i];
	if (!ok(r.ret == 0 && r.retval == verdict && now[s] - stats_before[s] == 1 && total == 1,
		"%s -> %s, %s", name,
		verdict == XDP_PASS   ? "PASS"
		: verdict == XDP_DROP ? "DROP"
				      : "REDIRECT",
		pins_stat_name(s)))
		printf("#   ret %d retval %u, %s delta %llu, total delta %llu\n", r.ret, r.retval,
		       pins_stat_name(s), (unsigned long long)(now[s] - stats_before[s]),
		       (unsigned long long)total);
	check_meta(name, &r);
}

static struct xdpwg_event last_ev;
static int nev;

static int on_event(void *ctx, void *data, size_t len)
{
	(void)ctx;
	if (len >= sizeof(last_ev))
		memcpy(&last_ev, data, sizeof(last_ev));
	nev++;
	return 0;
}

static int sh(const char *cmd)
{
	int rc = system(cmd);

	return rc == 0 ? 0 : -1;
}

static void test_classify(void)
{
	struct fx f;

#define FX(...) (f = (struct fx){ __VA_ARGS__ }, &f)
	expect("data, port 0 in config", FX(.family = AF_INET, .type = 4, .plen = 32), XDP_PASS,
	       XDPWG_STAT_PASS_DISABLED);
	is_int(loader_set_port(ld, PORT), 0, "set listen port");
	expect("valid data, known index, no socket", FX(.family = AF_INET, .type = 4, .plen = 48),
	       XDP_PASS, XDPWG_STAT_NO_XSK_PASSED);
	expect("keepalive (32 bytes)", FX(.family = AF_INET, .type = 4, .plen = 32), XDP_PASS,
	       XDPWG_STAT_NO_XSK_PASSED);
	expect("unknown index", FX(.family = AF_INET, .type = 4, .plen = 32, .index = 0xdead),
	       XDP_DROP, XDPWG_STAT_UNKNOWN_INDEX);
	expect("truncated data", FX(.family = AF_INET, .type = 4, .plen = 64, .cut = 10), XDP_DROP,
	       XDPWG_STAT_TRUNCATED);
	expect("UDP length 8 (empty)", FX(.family = AF_INET, .type = 4, .plen = 0), XDP_DROP,
	       XDPWG_STAT_TRUNCATED);
	expect("initiation 148", FX(.family = AF_INET, .type = 1, .plen = 148), XDP_PASS,
	       XDPWG_STAT_NO_XSK_PASSED);
	expect("initiation 147", FX(.family = AF_INET, .type = 1, .plen = 147), XDP_DROP,
	       XDPWG_STAT_BAD_SIZE_INITIATION);
	expect("initiation 149", FX(.family = AF_INET, .type = 1, .plen = 149), XDP_DROP,
	       XDPWG_STAT_BAD_SIZE_INITIATION);
	expect("response 92", FX(.family = AF_INET, .type = 2, .plen = 92), XDP_PASS,
	       XDPWG_STAT_NO_XSK_PASSED);
	expect("response 93", FX(.family = AF_INET, .type = 2, .plen = 93), XDP_DROP,
	       XDPWG_STAT_BAD_SIZE_RESPONSE);
	expect("cookie 64", FX(.family = AF_INET, .type = 3, .plen = 64), XDP_PASS,
	       XDPWG_STAT_NO_XSK_PASSED);
	expect("cookie 63", FX(.family = AF_INET, .type = 3, .plen = 63), XDP_DROP,
	       XDPWG_STAT_BAD_SIZE_COOKIE);
	/* a full-MTU packet padded up to a 1420 MTU is not 16-aligned: the size is fine, the
	 * (unknown) index is what drops it */
	expect("data 1452 (MTU-capped padding) passes the size check",
	       FX(.family = AF_INET, .type = 4, .plen = 1452, .index = 0xdead), XDP_DROP,
	       XDPWG_STAT_UNKNOWN_INDEX);
	expect("data 31 (< 32)", FX(.family = AF_INET, .type = 4, .plen = 31), XDP_DROP,
	       XDPWG_STAT_BAD_SIZE_DATA);
	expect("data 16 (< 32)", FX(.family = AF_INET, .type = 4, .plen = 16), XDP_DROP,
	       XDPWG_STAT_BAD_SIZE_DATA);
	expect("type 5", FX(.family = AF_INET, .type = 5, .plen = 32), XDP_DROP,
	       XDPWG_STAT_BAD_TYPE);
	expect("type 4 with reserved bytes set", FX(.family = AF_INET, .type = 0x104, .plen = 32),
	       XDP_DROP, XDPWG_STAT_BAD_TYPE);
	expect("type 0", FX(.family = AF_INET, .type = 0, .plen = 32), XDP_DROP,
	       XDPWG_STAT_BAD_TYPE);
	expect("IPv6 data", FX(.family = AF_INET6, .type = 4, .plen = 64, .index = INDEX6),
	       XDP_PASS, XDPWG_STAT_NO_XSK_PASSED);
	expect("IPv6 data, bad size", FX(.family = AF_INET6, .type = 4, .plen = 31), XDP_DROP,
	       XDPWG_STAT_BAD_SIZE_DATA);
	/* issue #15: extension headers are walked, the UDP behind them checked as any */
	expect("IPv6 hop-by-hop, data",
	       FX(.family = AF_INET6, .v6_hbh = 1, .type = 4, .plen = 64, .index = INDEX6),
	       XDP_PASS, XDPWG_STAT_NO_XSK_PASSED);
	expect("IPv6 hop-by-hop, bad size",
	       FX(.family = AF_INET6, .v6_hbh = 1, .type = 4, .plen = 31, .index = INDEX6),
	       XDP_DROP, XDPWG_STAT_BAD_SIZE_DATA);
	expect("802.1Q data", FX(.vlans = 1, .family = AF_INET, .type = 4, .plen = 32), XDP_PASS,
	       XDPWG_STAT_NO_XSK_PASSED);
	expect("802.1Q bad size", FX(.vlans = 1, .family = AF_INET, .type = 4, .plen = 31),
	       XDP_DROP, XDPWG_STAT_BAD_SIZE_DATA);
	expect("QinQ data",
	       FX(.vlans = 2, .family = AF_INET6, .type = 4, .plen = 32, .index = INDEX6), XDP_PASS,
	       XDPWG_STAT_NO_XSK_PASSED);
	expect("QinQ unknown index",
	       FX(.vlans = 2, .family = AF_INET, .type = 4, .plen = 32, .index = 9), XDP_DROP,
	       XDPWG_STAT_UNKNOWN_INDEX);
	expect("IPv4 options, data", FX(.family = AF_INET, .ipopt = 3, .type = 4, .plen = 32),
	       XDP_PASS, XDPWG_STAT_NO_XSK_PASSED);
	expect("IPv4 options, bad size", FX(.family = AF_INET, .ipopt = 10, .type = 1, .plen = 32),
	       XDP_DROP, XDPWG_STAT_BAD_SIZE_INITIATION);
	/* a first fragment (MF, offset 0) to our port: within its source's budget */
	expect("IPv4 first fragment", FX(.family = AF_INET, .frag = 1, .type = 4, .plen = 33),
	       XDP_PASS, XDPWG_STAT_FRAG_PASSED);
	expect("UDP to another port", FX(.family = AF_INET, .dport = 53, .type = 4, .plen = 33),
	       XDP_PASS, XDPWG_STAT_PASS_OTHER);
	expect("TCP to the port", FX(.family = AF_INET, .proto = IPPROTO_TCP, .plen = 33), XDP_PASS,
	       XDPWG_STAT_PASS_OTHER);
	expect("ARP", FX(.family = 0), XDP_PASS, XDPWG_STAT_PASS_OTHER);
	expect("frame of 10 bytes", FX(.family = 0, .cut = 30), XDP_PASS, XDPWG_STAT_PASS_OTHER);

	is_int(loader_set_port(ld, 4242), 0, "live port change");
	expect("data to the old port", FX(.family = AF_INET, .type = 4, .plen = 32), XDP_PASS,
	       XDPWG_STAT_PASS_OTHER);
	expect("junk to the new port", FX(.family = AF_INET, .dport = 4242, .type = 9, .plen = 32),
	       XDP_DROP, XDPWG_STAT_BAD_TYPE);
	loader_set_port(ld, PORT);
#undef FX
}

static void test_meta_and_roam(void)
{
	struct fx f = { .family = AF_INET, .type = 4, .plen = 48 };
	const struct xdpwg_meta *m;
	struct ring_buffer *rb;
	struct xdpwg_peer p0, p1;
	struct run r;
	int n;

	rb = ring_buffer__new(loader_events_fd(ld), on_event, NULL, NULL);
	ok(rb != NULL, "ring buffer opened");
	if (!rb)
		return;
	ring_buffer__poll(rb, 0);
	nev = 0;

	loader_peer_get(ld, PEER_ID, &p0);
	run_fx(&f, &r);
	ok(r.retval == XDP_PASS && r.ctx_out.data == sizeof(struct xdpwg_meta),
	   "metadata in front of the frame (%u bytes)", r.ctx_out.data);
	m = (const struct xdpwg_meta *)r.out;
	is_int(m->magic, XDPWG_META_MAGIC, "meta magic");
	is_int(m->peer_id, PEER_ID, "meta peer id");
	is_int(m->flags, XDPWG_META_F_PEER, "meta flags: peer, same source");
	is_int(m->msg_type, WG_MSG_DATA, "meta type");
	is_int(m->payload_off, 14 + 20 + 8, "meta payload offset");
	is_int(m->payload_len, 48, "meta payload length");
	ok(m->rx_ns > 0, "meta arrival time");
	loader_peer_get(ld, PEER_ID, &p1);
	is_int(p1.rx_packets - p0.rx_packets, 1, "peer rx packets +1");
	is_int(p1.rx_bytes - p0.rx_bytes, 48, "peer rx bytes +48");
	ok(p1.last_seen_ns == m->rx_ns, "peer last seen = arrival time");
	n = ring_buffer__poll(rb, 50);
	is_int(nev, 0, "no event from the known endpoint");
	(void)n;

	/* the same peer from another address */
	f.src = "203.0.113.9";
	f.sport = 5555;
	snap();
	run_fx(&f, &r);
	m = (const struct xdpwg_meta *)r.out;
	ok(r.ctx_out.data == sizeof(*m) && (m->flags & XDPWG_META_F_NEW_SOURCE),
	   "meta flags new source");
	ring_buffer__poll(rb, 100);
	is_int(nev, 1, "one new-source event");
	is_int(last_ev.type, XDPWG_EVENT_NEW_SOURCE, "event type");
	is_int(last_ev.peer_id, PEER_ID, "event peer id");
	is_int(last_ev.src.family, XDPWG_FAMILY_INET, "event source family");
	ok(last_ev.src.addr.v4 == inet_addr("203.0.113.9") && last_ev.src.port == htons(5555),
	   "event source 203.0.113.9:5555");
	ok(last_ev.ts_ns == m->rx_ns, "event timestamp = metadata arrival time");
	loader_peer_get(ld, PEER_ID, &p0);
	ok(p0.last_seen_ns == m->rx_ns, "last seen updated");
	is_int(delta(XDPWG_STAT_EVENT_SENT), 1, "stat event_sent");

	/* a second packet right after: flagged, but rate-limited */
	nev = 0;
	snap();
	run_fx(&f, &r);
	m = (const struct xdpwg_meta *)r.out;
	ok(m->flags & XDPWG_META_F_NEW_SOURCE, "second packet still flagged");
	ring_buffer__poll(rb, 50);
	is_int(nev, 0, "second event rate-limited");
	is_int(delta(XDPWG_STAT_EVENT_RATELIMITED), 1, "stat event_ratelimited");

	/* IPv6 from the peer: family differs from the endpoint's */
	f = (struct fx){ .family = AF_INET6, .vlans = 1, .type = 4, .plen = 32 };
	run_fx(&f, &r);
	m = (const struct xdpwg_meta *)r.out;
	ok(m->flags == (XDPWG_META_F_PEER | XDPWG_META_F_NEW_SOURCE | XDPWG_META_F_IPV6 |
			XDPWG_META_F_VLAN) &&
		   m->payload_off == 14 + 4 + 40 + 8,
	   "IPv6 + VLAN metadata flags and offset");

	/* roam-pinned peer: flagged, no event */
	loader_peer_get(ld, PEER_ID, &p0);
	{
		struct wg_endpoint ep = { 0 };

		ep.addr.in4.sin_family = AF_INET;
		ep.addr.in4.sin_port = htons(PEER_PRT);
		inet_pton(AF_INET, PEER_SRC, &ep.addr.in4.sin_addr);
		is_int(loader_peer_update(ld, PEER_ID, &ep, NULL, NULL, XDPWG_PEER_F_ROAM_PINNED),
		       0, "peer update keeps counters");
	}
	loader_peer_get(ld, PEER_ID, &p1);
	ok(p1.rx_packets == p0.rx_packets && p1.last_seen_ns == p0.last_seen_ns,
	   "counters survive a peer update");
	f = (struct fx){ .family = AF_INET, .type = 4, .plen = 32, .src = "192.0.2.77" };
	nev = 0;
	snap();
	run_fx(&f, &r);
	ring_buffer__poll(rb, 50);
	ok(nev == 0 && delta(XDPWG_STAT_NEW_SOURCE) == 1, "pinned peer: new source, no event");
	ring_buffer__free(rb);
}

static void test_redirect(void)
{
	struct xsk_port_opts xo = { .ifname = "lo", .queue = 0, .mode = XSK_PORT_MODE_COPY };
	struct fx f = { .family = AF_INET, .type = 4, .plen = 32 };
	struct xsk_port *xp = NULL;
	int err;

	xo.xsks_map_fd = loader_xsks_fd(ld);
	xo.map_key = 0;
	xo.frame_count = 256;
	err = xsk_port_open(&xo, &xp);
	if (!ok(err == 0, "AF_XDP socket bound on lo queue 0 (copy mode)")) {
		printf("#   %s\n", strerror(-err));
		return;
	}
	expect("valid data, socket bound", &f, XDP_REDIRECT, XDPWG_STAT_REDIRECTED);
	f.type = 1;
	f.plen = 148;
	expect("initiation, socket bound", &f, XDP_REDIRECT, XDPWG_STAT_REDIRECTED);
	f.plen = 140;
	expect("bad initiation, socket bound", &f, XDP_DROP, XDPWG_STAT_BAD_SIZE_INITIATION);
	xsk_port_close(xp);
	f.plen = 148;
	expect("socket closed: pass again", &f, XDP_PASS, XDPWG_STAT_NO_XSK_PASSED);
}

/* xdpwgctl capture's switch is a map of its own (capture_ctl): switching it writes nothing into
 * the config map, whose only writer is the daemon (a read-modify-write there could lose the
 * daemon's under-load flag, a new mac1 key or the port); and the program mirrors datagrams to
 * the capture ring exactly while it is on, whatever the daemon writes meanwhile. */
static int cap_records;

static int on_capture(void *ctx, void *data, size_t len)
{
	(void)ctx;
	(void)data;
	if (len >= sizeof(struct xdpwg_capture))
		cap_records++;
	return 0;
}

static void test_capture_switch(void)
{
	struct fx f = { .family = AF_INET, .type = 4, .plen = 48 };
	struct xdpwg_config c0, c1;
	struct ring_buffer *rb;
	struct run r;

	rb = ring_buffer__new(loader_capture_fd(ld), on_capture, NULL, NULL);
	if (!ok(rb != NULL, "capture ring buffer opened"))
		return;
	is_int(loader_set_under_load(ld, true), 0, "the daemon sets under-load");
	loader_config_get(ld, &c0);
	is_int(pins_capture_set(loader_pin_dir(ld), true), 0, "capture switched on (pinned map)");
	loader_config_get(ld, &c1);
	ok(!memcmp(&c0, &c1, sizeof(c0)), "switching capture on wrote nothing into the config map");
	cap_records = 0;
	run_fx(&f, &r);
	ring_buffer__consume(rb);
	is_int(cap_records, 1, "capture on: the datagram is mirrored");
	is_int(loader_set_under_load(ld, false), 0, "the daemon rewrites its config meanwhile");
	cap_records = 0;
	run_fx(&f, &r);
	ring_buffer__consume(rb);
	is_int(cap_records, 1, "... and capture stays on");
	is_int(pins_capture_set(loader_pin_dir(ld), false), 0, "capture switched off");
	loader_config_get(ld, &c0);
	ok(!(c0.flags & XDPWG_CFG_F_UNDER_LOAD), "the daemon's last write stands");
	cap_records = 0;
	run_fx(&f, &r);
	ring_buffer__consume(rb);
	is_int(cap_records, 0, "capture off: nothing mirrored");
	ring_buffer__free(rb);
}

static void test_attach(const char *tun)
{
	struct loader_opts lo = { .tun_name = tun };
	struct xdpwg_loader *ld2 = NULL;
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	int ifindex, ifindex2;
	char path[256];
	struct stat st;

	if (sh("ip link add xwt0 type veth peer name xwt1 && ip link set xwt0 up && "
	       "ip link set xwt1 up")) {
		ok(0, "veth created");
		return;
	}
	ifindex = loader_attach(ld, "xwt0", LOADER_MODE_AUTO);
	ok(ifindex > 0, "attached to a veth");
	is_int(loader_attach_mode(ld, ifindex), LOADER_MODE_NATIVE, "native mode on veth");
	is_int(loader_xsk_key(ld, ifindex, 3), 3, "first interface: xsks key = queue");
	ifindex2 = loader_attach(ld, "xwt1", LOADER_MODE_GENERIC);
	ok(ifindex2 > 0 && loader_attach_mode(ld, ifindex2) == LOADER_MODE_GENERIC,
	   "second interface, forced generic");
	is_int(loader_xsk_key(ld, ifindex2, 3), XDPWG_MAX_QUEUES + 3,
	       "second interface: its own xsks slots");

	/* a second daemon for the same TUN (the first "killed"): replaces pins and attachment */
	if (!ok(loader_create(&lo, &ld2) == 0, "second loader for the same TUN"))
		return;
	ok(loader_attach(ld2, "xwt0", LOADER_MODE_AUTO) == ifindex, "stale attachment replaced");
	bpf_xdp_query(ifindex, 0, &q);
	{
		struct bpf_prog_info info = { 0 };
		uint32_t len = sizeof(info);

		struct xdpwg_uplink up = { 0 };
		uint32_t key = (uint32_t)ifindex;
		char name[BPF_OBJ_NAME_LEN] = "";
		int rows = bpf_obj_get(XDPWG_PIN_ROOT "/@uplinks/rows"), fd;

		bpf_obj_get_info_by_fd(loader_prog_fd(ld2), &info, &len);
		fd = pins_prog_name_by_id(q.drv_prog_id, name, sizeof(name));
		if (fd >= 0)
			close(fd);
		ok(strcmp(name, XDPWG_MUX_NAME) == 0, "the uplink's entry program is attached: %s",
		   name);
		ok(rows >= 0 && bpf_map_lookup_elem(rows, &key, &up) == 0,
		   "rows pinned, uplink in it");
		ok(strcmp(up.slot[0].tun, tun) == 0 && up.slot[0].prog_id == info.id,
		   "the new program holds slot 0 (the killed one's, reclaimed)");
		ok(up.slot[1].tun[0] == 0, "and the old one's slot is not kept beside it");
		if (rows >= 0)
			close(rows);
	}
	snprintf(path, sizeof(path), "%s/peers", loader_pin_dir(ld2));
	ok(stat(path, &st) == 0, "pins present: %s", path);
	ok(loader_attach(ld2, "xwt1", LOADER_MODE_NATIVE) == ifindex2,
	   "stale generic attachment replaced by native");
	bpf_xdp_query(ifindex2, 0, &q);
	ok(q.skb_prog_id == 0 && q.drv_prog_id != 0, "no generic program left");

	/* xdpwgctl detach: not while a live daemon's tunnel is behind the entry program; once its
	 * daemon is gone (a child's pid, reaped, stands for it), it goes */
	is_int(pins_detach_stale("xwt0", tun), -EBUSY,
	       "detach refused while the tunnel's daemon lives");
	{
		int rows = bpf_obj_get(XDPWG_PIN_ROOT "/@uplinks/rows");
		uint32_t key = (uint32_t)ifindex;
		struct xdpwg_uplink up;
		pid_t dead = fork();

		if (dead == 0)
			_exit(0);
		waitpid(dead, NULL, 0);
		ok(rows >= 0 && bpf_map_lookup_elem(rows, &key, &up) == 0, "the uplink's row");
		up.slot[0].pid = (uint32_t)dead;
		bpf_map_update_elem(rows, &key, &up, BPF_ANY);
		if (rows >= 0)
			close(rows);
	}
	is_int(pins_detach_stale("xwt0", tun), 0, "detach by name once its daemon is gone");
	bpf_xdp_query(ifindex, 0, &q);
	is_int(q.prog_id, 0, "nothing attached after detach");
	ok(stat(path, &st) < 0 && errno == ENOENT, "pins removed by detach");
	loader_destroy(ld2);
	bpf_xdp_query(ifindex2, 0, &q);
	is_int(q.prog_id, 0, "destroy detaches");
	sh("ip link del xwt0");
}

int main(void)
{
	struct loader_opts lo = { 0 };
	struct wg_endpoint ep = { 0 };
	static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 9 };
	char tun[IF_NAMESIZE], path[256];
	struct stat st;
	size_t i;

	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root (BPF_PROG_TEST_RUN, AF_XDP, bpffs)\n");
		return 0;
	}
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		printf("1..0 # SKIP cannot unshare net/mount namespaces: %s\n", strerror(errno));
		return 0;
	}
	log_set_level(LOG_WARNING);
	sh("ip link set lo up");
	snprintf(tun, sizeof(tun), "xt%d", (int)getpid() % 100000);
	lo.tun_name = tun;
	lo.event_interval_ns = 10ULL * 1000 * 1000 * 1000; /* no flakes on slow machines */
	lo.keep_inline_meta = true;
	if (!ok(loader_create(&lo, &ld) == 0, "loader_create"))
		return done_testing();
	prog_fd = loader_prog_fd(ld);
	xdp_run_meta_inline = loader_meta_inline(ld);
	if (xdp_run_meta_inline)
		printf("# the metadata is inline (this kernel refuses bpf_xdp_adjust_meta, or "
		       "XDPWG_XDP_META=inline)\n");
	for (i = 0; i < 7; i++) {
		static const char *const names[] = { "config", "sessions", "peers", "ifaces",
						     "stats",  "events",   "xsks" };

		snprintf(path, sizeof(path), "%s/%s/%s", XDPWG_PIN_ROOT, tun, names[i]);
		ok(stat(path, &st) == 0, "pinned %s", path);
	}
	is_int(loader_session_add(ld, INDEX, PEER_ID), 0, "session add");
	ep.addr.in4.sin_family = AF_INET;
	ep.addr.in4.sin_port = htons(PEER_PRT);
	inet_pton(AF_INET, PEER_SRC, &ep.addr.in4.sin_addr);
	is_int(loader_peer_update(ld, PEER_ID, &ep, mac, NULL, 0), 0, "peer update");
	memset(&ep, 0, sizeof(ep));
	ep.addr.in6.sin6_family = AF_INET6;
	ep.addr.in6.sin6_port = htons(PEER_PRT);
	inet_pton(AF_INET6, "2001:db8::2", &ep.addr.in6.sin6_addr);
	is_int(loader_session_add(ld, INDEX6, PEER6_ID), 0, "session add (IPv6 peer)");
	is_int(loader_peer_update(ld, PEER6_ID, &ep, mac, NULL, 0), 0, "peer update (IPv6)");

	test_classify();
	test_meta_and_roam();
	ok(meta_checked >= 8, "the metadata was checked against a full parse on %u fixtures",
	   meta_checked);
	test_redirect();
	test_capture_switch();

	is_int(loader_session_del(ld, INDEX), 0, "session del");
	{
		struct fx f = { .family = AF_INET, .type = 4, .plen = 32 };

		expect("deleted session", &f, XDP_DROP, XDPWG_STAT_UNKNOWN_INDEX);
		/* the sessions map could not take a session: unknown indexes go to the stack */
		is_int(loader_set_pass_unknown(ld), 0, "pass unknown indexes");
		expect("unknown index with the sessions map incomplete", &f, XDP_PASS,
		       XDPWG_STAT_UNKNOWN_INDEX_PASSED);
	}
	is_int(loader_peer_delete(ld, PEER_ID), 0, "peer delete");

	test_attach(tun);

	loader_destroy(ld);
	snprintf(path, sizeof(path), "%s/%s", XDPWG_PIN_ROOT, tun);
	ok(stat(path, &st) < 0 && errno == ENOENT, "pin directory removed on destroy");
	return done_testing();
}
