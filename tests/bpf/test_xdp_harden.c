// SPDX-License-Identifier: GPL-2.0
/*
 * Hardening at the edge, under BPF_PROG_TEST_RUN: mac1 checked in XDP against userspace's own
 * check (thousands of random initiations and responses, half with one flipped bit), the
 * per-source handshake token bucket (IPv4 /32, IPv6 /64, tunables, data never limited), the
 * source allowlist (LPM trie, replace-all, empty = any) and the under-load flag. Root only
 * (skips otherwise); private network and mount namespaces, nothing pinned.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>

#include "../unit/tap.h"
#include "xdp_run.h"
#include "config.h"
#include "cookie.h"
#include "crypto.h"
#include "loader.h"
#include "pins.h"
#include "log.h"
#include "xdpwg_wire.h"

#define PORT	 51820
#define INDEX	 0x0badc0deu
#define CROSS_N	 4000 /* random messages in the mac1 cross-check */
#define MAX_PLEN 256

static struct xdpwg_loader *ld;
static struct cookie_checker checker;

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Ethernet + IPv4 or IPv6 (by the source's form) + UDP to PORT + msg. */
static size_t build(uint8_t *buf, const char *src, uint16_t dport, const uint8_t *msg, size_t len)
{
	size_t off = 12;

	memset(buf, 0, 2048);
	buf[0] = 0x02;
	buf[5] = 1;
	buf[6] = 0x02;
	buf[11] = 2;
	if (!strchr(src, ':')) {
		put16(buf + off, ETH_P_IP);
		off += 2;
		buf[off] = 0x45;
		put16(buf + off + 2, (uint16_t)(20 + 8 + len));
		put16(buf + off + 6, 0x4000);
		buf[off + 8] = 64;
		buf[off + 9] = IPPROTO_UDP;
		inet_pton(AF_INET, src, buf + off + 12);
		inet_pton(AF_INET, "198.18.0.1", buf + off + 16);
		off += 20;
	} else {
		put16(buf + off, ETH_P_IPV6);
		off += 2;
		buf[off] = 0x60;
		put16(buf + off + 4, (uint16_t)(8 + len));
		buf[off + 6] = IPPROTO_UDP;
		buf[off + 7] = 64;
		inet_pton(AF_INET6, src, buf + off + 8);
		inet_pton(AF_INET6, "2001:db8::1", buf + off + 24);
		off += 40;
	}
	put16(buf + off, 40000);
	put16(buf + off + 2, dport);
	put16(buf + off + 4, (uint16_t)(8 + len));
	off += 8;
	memcpy(buf + off, msg, len);
	return off + len;
}

static uint32_t run(const char *src, uint16_t dport, const uint8_t *msg, size_t len)
{
	uint8_t in[2048], out[4096];
	size_t n = build(in, src, dport, msg, len);
	struct xdp_run x;

	if (xdp_run(loader_prog_fd(ld), in, n, out, sizeof(out), &x))
		return 0xffffffffu;
	return x.retval;
}

/* A handshake message of type t (1, 2 or 3) with random body; mac1 correct for types 1 and 2. */
static size_t make_hs(uint8_t *msg, uint32_t t)
{
	size_t len = t == 1   ? WG_MSG_INITIATION_LEN
		     : t == 2 ? WG_MSG_RESPONSE_LEN
			      : WG_MSG_COOKIE_LEN;

	crypto_random(msg, len);
	msg[0] = (uint8_t)t;
	msg[1] = msg[2] = msg[3] = 0;
	if (t != 3)
		crypto_mac(msg + len - 32, checker.message_mac1_key, COOKIE_KEY_LEN, msg, len - 32);
	return len;
}

static size_t make_data(uint8_t *msg)
{
	uint32_t idx = INDEX;

	memset(msg, 0, 32);
	msg[0] = WG_MSG_DATA;
	memcpy(msg + 4, &idx, 4);
	return 32;
}

static uint64_t st0[XDPWG_STAT_MAX];

static void snap(void)
{
	loader_stats(ld, st0);
}

static uint64_t delta(enum xdpwg_stat s)
{
	uint64_t now[XDPWG_STAT_MAX];

	loader_stats(ld, now);
	return now[s] - st0[s];
}

static const char *vname(uint32_t v)
{
	return v == XDP_PASS	   ? "PASS"
	       : v == XDP_DROP	   ? "DROP"
	       : v == XDP_REDIRECT ? "REDIRECT"
				   : "?";
}

/* One message, one verdict, one counter. */
static void expect(const char *name, const char *src, const uint8_t *msg, size_t len,
		   uint32_t verdict, enum xdpwg_stat s)
{
	uint32_t v;

	snap();
	v = run(src, PORT, msg, len);
	if (!ok(v == verdict && delta(s) == 1, "%s -> %s, %s", name, vname(verdict),
		pins_stat_name(s)))
		tap_diag("  got %s, %s delta %llu", vname(v), pins_stat_name(s),
			 (unsigned long long)delta(s));
}

static void test_mac1_cross(void)
{
	static uint8_t msg[MAX_PLEN];
	unsigned int i, mismatch = 0, nvalid = 0, ninvalid = 0;
	char src[64];
	uint64_t t0, t1;
	struct timespec ts;

	snap();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	for (i = 0; i < CROSS_N; i++) {
		uint32_t t = i % 2 ? WG_MSG_HANDSHAKE_INITIATION : WG_MSG_HANDSHAKE_RESPONSE;
		size_t len = make_hs(msg, t), covered = len - WG_MAC_LEN; /* up to mac1's end */
		bool want;
		uint32_t v;

		if (crypto_random_uniform(2)) {
			/* one bit anywhere after the type, through mac1 */
			uint32_t bit = crypto_random_uniform((uint32_t)(covered - 4) * 8);

			msg[4 + bit / 8] ^= (uint8_t)(1u << (bit % 8));
		}
		want = cookie_check_mac1(&checker, NULL, msg, len);
		/* fresh sources so the bucket stays out of it: random IPv6 /64s, and IPv4
		 * addresses of 198.18.0.0/24 at most a few times each */
		if (i % 4)
			snprintf(src, sizeof(src), "2001:db8:%x:%x::%x",
				 crypto_random_uniform(65536), crypto_random_uniform(65536), i);
		else
			snprintf(src, sizeof(src), "198.18.0.%u", 1 + (i / 4) % 250);
		v = run(src, PORT, msg, len);
		if (want)
			nvalid++;
		else
			ninvalid++;
		if (v != (want ? XDP_PASS : XDP_DROP)) {
			if (mismatch++ < 5)
				tap_diag("  #%u type %u from %s: userspace %s, XDP %s", i, t, src,
					 want ? "valid" : "invalid", vname(v));
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t1 = (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
	is_int(mismatch, 0, "mac1 cross-check: XDP agrees with cookie_check_mac1 on all messages");
	ok(nvalid > CROSS_N / 3 && ninvalid > CROSS_N / 3,
	   "both halves exercised (%u valid, %u bad)", nvalid, ninvalid);
	is_int(delta(XDPWG_STAT_BAD_MAC1), ninvalid, "bad_mac1 counts every corrupted one");
	is_int(delta(XDPWG_STAT_NO_XSK_PASSED), nvalid, "every valid one passed");
	is_int(delta(XDPWG_STAT_HS_RATELIMITED), 0, "no bucket drops in the cross-check");
	tap_diag("  %u messages in %.1f ms (%.1f us each, test-run overhead included)", CROSS_N,
		 (double)(t1 - t0) / 1e6, (double)(t1 - t0) / 1e3 / CROSS_N);
}

static void test_mac1_edges(void)
{
	static uint8_t msg[MAX_PLEN];
	size_t len;

	len = make_hs(msg, 1);
	msg[120] ^= 0x80; /* inside mac1 */
	expect("initiation, mac1 bit flipped", "203.0.113.40", msg, len, XDP_DROP,
	       XDPWG_STAT_BAD_MAC1);
	len = make_hs(msg, 1);
	msg[140] ^= 0xff; /* mac2 is not XDP's business */
	expect("initiation, mac2 garbage", "203.0.113.40", msg, len, XDP_PASS,
	       XDPWG_STAT_NO_XSK_PASSED);
	len = make_hs(msg, 2);
	memset(msg + 60, 0, 16);
	expect("response, zero mac1", "203.0.113.40", msg, len, XDP_DROP, XDPWG_STAT_BAD_MAC1);
	len = make_hs(msg, 3);
	expect("cookie reply (no mac1)", "203.0.113.40", msg, len, XDP_PASS,
	       XDPWG_STAT_NO_XSK_PASSED);
	is_int(loader_set_mac1_key(ld, NULL), 0, "mac1 key cleared");
	len = make_hs(msg, 1);
	msg[10] ^= 1;
	expect("no key: bad mac1 passes", "203.0.113.41", msg, len, XDP_PASS,
	       XDPWG_STAT_NO_XSK_PASSED);
	is_int(loader_set_mac1_key(ld, checker.message_mac1_key), 0, "mac1 key set again");
	expect("key again: bad mac1 dropped", "203.0.113.41", msg, len, XDP_DROP,
	       XDPWG_STAT_BAD_MAC1);
	{
		struct xdpwg_config c;

		is_int(loader_set_port(ld, PORT), 0, "set port again");
		loader_config_get(ld, &c);
		ok((c.flags & XDPWG_CFG_F_MAC1) &&
			   !memcmp(c.mac1_key, checker.message_mac1_key, 32),
		   "a port change keeps the mac1 key");
		expect("and XDP still checks it", "203.0.113.41", msg, len, XDP_DROP,
		       XDPWG_STAT_BAD_MAC1);
	}
}

static void test_bucket(void)
{
	static uint8_t msg[MAX_PLEN];
	unsigned int i, pass = 0, drop = 0;
	size_t len;

	snap();
	for (i = 0; i < 6; i++) {
		uint32_t v;

		len = make_hs(msg, 1);
		v = run("203.0.113.5", PORT, msg, len);
		pass += v == XDP_PASS;
		drop += v == XDP_DROP;
	}
	ok(pass == 5 && drop == 1,
	   "6 back-to-back initiations from one source: %u pass, %u dropped", pass, drop);
	is_int(delta(XDPWG_STAT_HS_RATELIMITED), 1, "handshake_ratelimited counted once");
	len = make_hs(msg, 1);
	expect("another source unaffected", "203.0.113.6", msg, len, XDP_PASS,
	       XDPWG_STAT_NO_XSK_PASSED);
	len = make_hs(msg, 2);
	expect("response from the exhausted source", "203.0.113.5", msg, len, XDP_DROP,
	       XDPWG_STAT_HS_RATELIMITED);
	len = make_hs(msg, 3);
	expect("cookie reply from the exhausted source", "203.0.113.5", msg, len, XDP_DROP,
	       XDPWG_STAT_HS_RATELIMITED);
	len = make_data(msg);
	expect("data from the exhausted source: never limited", "203.0.113.5", msg, len, XDP_PASS,
	       XDPWG_STAT_NO_XSK_PASSED);

	/* types 1, 2, 3 share one bucket */
	pass = 0;
	for (i = 0; i < 6; i++) {
		len = make_hs(msg, 1 + i % 3);
		pass += run("203.0.113.7", PORT, msg, len) == XDP_PASS;
	}
	is_int(pass, 5, "mixed handshake types share the bucket (5 of 6)");

	/* bad mac1 spends no tokens */
	for (i = 0; i < 10; i++) {
		len = make_hs(msg, 1);
		msg[9] ^= 4;
		run("203.0.113.8", PORT, msg, len);
	}
	pass = 0;
	for (i = 0; i < 5; i++) {
		len = make_hs(msg, 1);
		pass += run("203.0.113.8", PORT, msg, len) == XDP_PASS;
	}
	is_int(pass, 5, "10 bad-mac1 initiations leave the source's 5 tokens");

	/* IPv6: one bucket per /64 */
	pass = 0;
	for (i = 0; i < 5; i++) {
		len = make_hs(msg, 1);
		pass += run("2001:db8:1:2::1", PORT, msg, len) == XDP_PASS;
	}
	is_int(pass, 5, "IPv6 source: 5 pass");
	len = make_hs(msg, 1);
	expect("same /64, other address: limited", "2001:db8:1:2:ffff::99", msg, len, XDP_DROP,
	       XDPWG_STAT_HS_RATELIMITED);
	len = make_hs(msg, 1);
	expect("next /64: unaffected", "2001:db8:1:3::1", msg, len, XDP_PASS,
	       XDPWG_STAT_NO_XSK_PASSED);
}

static void test_bucket_tunables(void)
{
	static uint8_t msg[MAX_PLEN];
	struct loader_opts lo = { .tun_name = "xhtune", .no_pin = true, .keep_inline_meta = true };
	struct xdpwg_loader *main_ld = ld;
	unsigned int i, pass = 0;
	size_t len;

	lo.hs_rate = 100; /* 10 ms a token: slow VMs still send 3 within one */
	lo.hs_burst = 2;
	if (!ok(loader_create(&lo, &ld) == 0, "loader with hs_rate 100, hs_burst 2")) {
		ld = main_ld;
		return;
	}
	loader_set_port(ld, PORT);
	for (i = 0; i < 3; i++) {
		len = make_hs(msg, 1);
		pass += run("192.0.2.9", PORT, msg, len) == XDP_PASS;
	}
	is_int(pass, 2, "burst 2: 2 of 3 back-to-back pass");
	usleep(25000);
	len = make_hs(msg, 1);
	ok(run("192.0.2.9", PORT, msg, len) == XDP_PASS, "refilled after 25 ms at 100/s");
	loader_destroy(ld);

	lo.hs_rate = UINT32_MAX; /* off */
	lo.hs_burst = 0;
	if (!ok(loader_create(&lo, &ld) == 0, "loader with the bucket off")) {
		ld = main_ld;
		return;
	}
	loader_set_port(ld, PORT);
	pass = 0;
	for (i = 0; i < 20; i++) {
		len = make_hs(msg, 1);
		pass += run("192.0.2.9", PORT, msg, len) == XDP_PASS;
	}
	is_int(pass, 20, "bucket off: 20 of 20 pass");
	loader_destroy(ld);
	ld = main_ld;
}

static struct conf_allowedip cidr(const char *s)
{
	struct conf_allowedip a;
	char buf[64], *slash;

	memset(&a, 0, sizeof(a));
	snprintf(buf, sizeof(buf), "%s", s);
	slash = strchr(buf, '/');
	*slash = 0;
	a.cidr = (uint8_t)atoi(slash + 1);
	a.family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	inet_pton(a.family, buf, a.family == AF_INET ? (void *)&a.ip4 : (void *)&a.ip6);
	return a;
}

static unsigned int trie_entries(void)
{
	struct xdpwg_src_key k, next;
	int fd = loader_allow_src_fd(ld);
	unsigned int n = 0;

	if (bpf_map_get_next_key(fd, NULL, &next))
		return 0;
	do {
		k = next;
		n++;
	} while (n < 10000 && !bpf_map_get_next_key(fd, &k, &next));
	return n;
}

static void test_allowlist(void)
{
	static uint8_t msg[MAX_PLEN];
	struct conf_allowedip list[3];
	struct xdpwg_config c;
	size_t len;

	list[0] = cidr("198.51.100.0/24");
	list[1] = cidr("2001:db8:aa::/48");
	list[2] = cidr("192.0.2.77/32");
	is_int(loader_allow_source_set(ld, list, 3), 0, "allowlist of 3 CIDRs set");
	loader_config_get(ld, &c);
	ok(c.flags & XDPWG_CFG_F_ALLOW_SRC, "config flag set");
	is_int(trie_entries(), 3, "3 trie entries");
	len = make_data(msg);
	expect("data from an allowed /24", "198.51.100.7", msg, len, XDP_PASS,
	       XDPWG_STAT_NO_XSK_PASSED);
	expect("data from outside", "203.0.113.1", msg, len, XDP_DROP, XDPWG_STAT_SRC_NOT_ALLOWED);
	len = make_hs(msg, 1);
	expect("initiation from outside", "203.0.113.1", msg, len, XDP_DROP,
	       XDPWG_STAT_SRC_NOT_ALLOWED);
	expect("initiation from an allowed /32", "192.0.2.77", msg, len, XDP_PASS,
	       XDPWG_STAT_NO_XSK_PASSED);
	expect("initiation from the /32's neighbour", "192.0.2.78", msg, len, XDP_DROP,
	       XDPWG_STAT_SRC_NOT_ALLOWED);
	expect("IPv6 inside the /48", "2001:db8:aa:1::5", msg, len, XDP_PASS,
	       XDPWG_STAT_NO_XSK_PASSED);
	expect("IPv6 outside the /48", "2001:db8:ab::5", msg, len, XDP_DROP,
	       XDPWG_STAT_SRC_NOT_ALLOWED);
	expect("junk from outside: allowlist first", "203.0.113.1", (const uint8_t *)"xyzw", 4,
	       XDP_DROP, XDPWG_STAT_SRC_NOT_ALLOWED);
	snap();
	ok(run("203.0.113.1", 53, msg, len) == XDP_PASS && delta(XDPWG_STAT_PASS_OTHER) == 1,
	   "other ports from outside: untouched");

	list[2] = cidr("198.51.100.0/24");
	list[2].cidr = 33;
	is_int(loader_allow_source_set(ld, list, 3), -EINVAL, "CIDR /33 refused");
	is_int(trie_entries(), 3, "nothing changed");

	list[0] = cidr("192.0.2.0/24");
	list[0].ip4.s_addr |= htonl(0x42); /* host bits are cleared */
	is_int(loader_allow_source_set(ld, list, 1), 0, "replaced by 192.0.2.66/24");
	is_int(trie_entries(), 1, "1 trie entry left");
	len = make_data(msg);
	expect("198.51.100.7 no longer allowed", "198.51.100.7", msg, len, XDP_DROP,
	       XDPWG_STAT_SRC_NOT_ALLOWED);
	expect("192.0.2.1 allowed", "192.0.2.1", msg, len, XDP_PASS, XDPWG_STAT_NO_XSK_PASSED);
	is_int(loader_allow_source_set(ld, NULL, 0), 0, "empty list: any source");
	loader_config_get(ld, &c);
	ok(!(c.flags & XDPWG_CFG_F_ALLOW_SRC), "flag off");
	expect("any source again", "203.0.113.1", msg, len, XDP_PASS, XDPWG_STAT_NO_XSK_PASSED);
	loader_allow_source_tidy(ld);
	is_int(trie_entries(), 0, "a tick later the retired list is gone");
}

/* n /32s inside 198.18.0.0/15 (the benchmarking range), from host number first */
static void fill_hosts(struct conf_allowedip *list, size_t n, uint32_t first)
{
	for (size_t i = 0; i < n; i++) {
		memset(&list[i], 0, sizeof(list[i]));
		list[i].family = AF_INET;
		list[i].cidr = 32;
		list[i].ip4.s_addr = htonl(0xc6120000u + first + (uint32_t)i);
	}
}

/*
 * A replace at capacity is all or nothing (issue #15): with a full list in force, a full
 * disjoint one replaces it whole (the old code inserted the new entries beside the old ones and
 * failed half-way, leaving XDP with the old list plus part of the new one while `get` showed
 * the old), and a refused one leaves the old in force, every entry of it.
 */
static void test_allowlist_replace_full(void)
{
	static struct conf_allowedip list[XDPWG_ALLOW_SRC_MAX + 1];
	static uint8_t msg[MAX_PLEN];
	const size_t n = XDPWG_ALLOW_SRC_MAX;
	struct xdpwg_config c;
	size_t len = make_data(msg);

	fill_hosts(list, n, 1);
	is_int(loader_allow_source_set(ld, list, n), 0, "a full allowlist (4096 /32s) set");
	is_int(trie_entries(), n, "4096 entries in force");
	expect("first of the full list", "198.18.0.1", msg, len, XDP_PASS,
	       XDPWG_STAT_NO_XSK_PASSED);

	fill_hosts(list, n, 0x8001);
	is_int(loader_allow_source_set(ld, list, n), 0, "replaced by 4096 other /32s at once");
	is_int(trie_entries(), n, "4096 entries in force, not a mix");
	expect("the old list's first: gone", "198.18.0.1", msg, len, XDP_DROP,
	       XDPWG_STAT_SRC_NOT_ALLOWED);
	expect("the old list's last: gone", "198.18.16.0", msg, len, XDP_DROP,
	       XDPWG_STAT_SRC_NOT_ALLOWED);
	expect("the new list's first", "198.18.128.1", msg, len, XDP_PASS,
	       XDPWG_STAT_NO_XSK_PASSED);
	expect("the new list's last", "198.18.144.0", msg, len, XDP_PASS, XDPWG_STAT_NO_XSK_PASSED);

	/* refused: one past capacity, and a bad entry at the very end */
	fill_hosts(list, n + 1, 1);
	is_int(loader_allow_source_set(ld, list, n + 1), -E2BIG, "4097 entries refused");
	fill_hosts(list, n, 1);
	list[n - 1].cidr = 33;
	is_int(loader_allow_source_set(ld, list, n), -EINVAL, "a bad last entry refuses the whole");
	loader_config_get(ld, &c);
	ok((c.flags & XDPWG_CFG_F_ALLOW_SRC) && trie_entries() == n,
	   "after both refusals the list in force is whole");
	expect("the list in force still admits its own", "198.18.128.1", msg, len, XDP_PASS,
	       XDPWG_STAT_NO_XSK_PASSED);
	expect("and nothing of the refused ones", "198.18.0.1", msg, len, XDP_DROP,
	       XDPWG_STAT_SRC_NOT_ALLOWED);
	loader_allow_source_tidy(ld);
	is_int(trie_entries(), n, "tidying keeps the list in force");
	is_int(loader_allow_source_set(ld, NULL, 0), 0, "cleared");
	loader_allow_source_tidy(ld);
	is_int(trie_entries(), 0, "and emptied a tick later");
}

static void test_under_load(void)
{
	static uint8_t msg[MAX_PLEN];
	unsigned int i, pass = 0;
	size_t len;

	is_int(loader_set_under_load(ld, true), 0, "under load set");
	len = make_hs(msg, 1);
	snap();
	ok(run("203.0.113.20", PORT, msg, len) == XDP_PASS && delta(XDPWG_STAT_HS_UNDER_LOAD) == 1,
	   "under load: valid initiation still goes to userspace (cookie reply), counted");
	msg[20] ^= 1;
	expect("under load: bad mac1 dropped", "203.0.113.20", msg, len, XDP_DROP,
	       XDPWG_STAT_BAD_MAC1);
	for (i = 0; i < 4; i++) {
		len = make_hs(msg, 1);
		pass += run("203.0.113.20", PORT, msg, len) == XDP_PASS;
	}
	is_int(pass, 4, "under load: the rest of the burst passes");
	len = make_hs(msg, 1);
	expect("under load: over the bucket, dropped", "203.0.113.20", msg, len, XDP_DROP,
	       XDPWG_STAT_HS_RATELIMITED);
	msg[20] ^= 1;
	expect("under load: over the bucket, bad mac1: dropped before BLAKE2s", "203.0.113.20", msg,
	       len, XDP_DROP, XDPWG_STAT_HS_RATELIMITED);
	len = make_data(msg);
	expect("under load: data unaffected", "203.0.113.20", msg, len, XDP_PASS,
	       XDPWG_STAT_NO_XSK_PASSED);
	is_int(loader_set_under_load(ld, false), 0, "under load cleared");
	len = make_hs(msg, 1);
	snap();
	run("203.0.113.21", PORT, msg, len);
	is_int(delta(XDPWG_STAT_HS_UNDER_LOAD), 0, "not under load: not counted as such");
}

static void report_verifier(void)
{
	struct bpf_prog_info info;
	uint32_t len = sizeof(info);

	memset(&info, 0, sizeof(info));
	if (bpf_obj_get_info_by_fd(loader_prog_fd(ld), &info, &len) == 0) {
		tap_diag("  program: %u xlated instructions, %u verified", info.xlated_prog_len / 8,
			 info.verified_insns);
		ok(info.verified_insns < 200000, "verifier work bounded (%u < 200000)",
		   info.verified_insns);
	}
}

int main(void)
{
	struct loader_opts lo = { 0 };
	uint8_t pub[WG_KEY_LEN];
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
	if (crypto_init()) {
		printf("Bail out! crypto_init\n");
		return 1;
	}
	log_set_level(LOG_WARNING);
	snprintf(tun, sizeof(tun), "xh%d", (int)getpid() % 100000);
	lo.tun_name = tun;
	lo.no_pin = true;
	lo.keep_inline_meta = true;
	if (!ok(loader_create(&lo, &ld) == 0, "loader_create"))
		return done_testing();
	report_verifier();
	xdp_run_meta_inline = loader_meta_inline(ld);
	is_int(loader_set_port(ld, PORT), 0, "listen port");
	is_int(loader_session_add(ld, INDEX, 3), 0, "a session");
	crypto_random(pub, sizeof(pub));
	cookie_checker_precompute_device_keys(&checker, pub);
	is_int(loader_set_mac1_key(ld, checker.message_mac1_key), 0, "mac1 key set");

	test_mac1_cross();
	test_mac1_edges();
	test_bucket();
	test_bucket_tunables();
	test_allowlist();
	test_allowlist_replace_full();
	test_under_load();

	loader_destroy(ld);
	return done_testing();
}
