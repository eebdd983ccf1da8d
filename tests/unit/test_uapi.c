// SPDX-License-Identifier: GPL-2.0
/*
 * The configuration protocol's text: round trips in both directions, every key, and malformed
 * input, each with the errno wireguard-go would answer and a message naming the key.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "tap.h"

static const char *K1 = "b020fd0166202e9a2db1646b2510dc28ff7488982362e56da9317fba2a0f5c4c";
static const char *K2 = "64baf9f577b6bc428564d28e8d9c4ae791077fc33418b0b97566008205f29e33";

static int parse_set(const char *body, struct conf_dev **c, char *err)
{
	return uapi_parse_set(body, strlen(body), c, err, 256);
}

static char *fmt(int (*f)(const struct conf_dev *, FILE *), const struct conf_dev *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	f(c, m);
	fclose(m);
	return buf;
}

/* A malformed set body: the errno, *out NULL, and the key named at the start of the message. */
static void bad(const char *body, int want, const char *key, const char *desc)
{
	struct conf_dev *c = (struct conf_dev *)1;
	char err[256] = "";
	int ret = parse_set(body, &c, err);

	if (!ok(ret == want && c == NULL && !strncmp(err, key, strlen(key)), "%s", desc))
		tap_diag("ret %d (want %d), out %p, err '%s'", ret, want, (void *)c, err);
}

static void test_set_every_key(void)
{
	char body[2048], err[256] = "";
	struct conf_dev *c = NULL;
	struct conf_peer *p;
	char ep[ENDPOINT_STRLEN], ip[64];

	snprintf(body, sizeof(body),
		 "private_key=%s\nlisten_port=51820\nfwmark=4294967295\nreplace_peers=true\n"
		 "public_key=%s\nupdate_only=true\npreshared_key=%s\nendpoint=[2001:db8::1]:4500\n"
		 "persistent_keepalive_interval=65535\nreplace_allowed_ips=true\n"
		 "allowed_ip=198.18.0.0/24\nallowed_ip=2001:db8::/32\nprotocol_version=1\n"
		 "roam_policy=within\nroam_cidr=203.0.113.0/24\n"
		 "public_key=%s\nremove=true\n",
		 K1, K2, K1, K1);
	is_int(parse_set(body, &c, err), 0, "set: every key parses");
	if (!c)
		return;
	ok(c->flags == (CONF_DEV_HAS_PRIVATE_KEY | CONF_DEV_HAS_LISTEN_PORT | CONF_DEV_HAS_FWMARK |
			CONF_DEV_REPLACE_PEERS),
	   "set: device flags");
	is_int(c->listen_port, 51820, "set: listen_port");
	ok(c->fwmark == 4294967295U, "set: fwmark at its maximum");
	is_int(c->n_peers, 2, "set: two peers");
	p = &c->peers[0];
	ok(p->flags & CONF_PEER_UPDATE_ONLY, "set: update_only");
	ok(p->flags & CONF_PEER_HAS_PRESHARED_KEY, "set: preshared_key");
	ok(!strcmp(endpoint_format(&p->endpoint, ep), "[2001:db8::1]:4500"), "set: endpoint");
	is_int(p->persistent_keepalive, 65535, "set: keepalive");
	ok(p->flags & CONF_PEER_REPLACE_ALLOWEDIPS, "set: replace_allowed_ips");
	is_int(p->n_allowedips, 2, "set: two allowed ips");
	conf_format_allowedip(&p->allowedips[1], ip, sizeof(ip));
	ok(!strcmp(ip, "2001:db8::/32"), "set: v6 allowed ip");
	ok(p->roam_policy == CONF_ROAM_WITHIN && p->n_roam_cidrs == 1, "set: roam extension");
	ok(c->peers[1].flags & CONF_PEER_REMOVE, "set: remove");
	conf_free(c);
}

static void test_set_round_trip(void)
{
	struct conf_dev *c = conf_new(), *back = NULL;
	struct conf_allowedip ip;
	struct conf_peer *p;
	char err[256] = "", *text, *again;

	crypto_genkey(c->private_key);
	c->listen_port = 1;
	c->flags = CONF_DEV_HAS_PRIVATE_KEY | CONF_DEV_HAS_LISTEN_PORT | CONF_DEV_REPLACE_PEERS;
	p = conf_add_peer(c);
	crypto_random(p->public_key, WG_KEY_LEN);
	endpoint_parse(&p->endpoint, "192.0.2.1:51820");
	conf_parse_allowedip(&ip, "192.0.2.0/24");
	conf_peer_add_allowedip(p, &ip);
	p->roam_policy = CONF_ROAM_PINNED;
	p->flags =
		CONF_PEER_HAS_ENDPOINT | CONF_PEER_REPLACE_ALLOWEDIPS | CONF_PEER_HAS_ROAM_POLICY;
	text = fmt(uapi_format_set, c);
	is_int(uapi_parse_set(text, strlen(text), &back, err, sizeof(err)), 0,
	       "set round trip: parses");
	if (back) {
		again = fmt(uapi_format_set, back);
		ok(!strcmp(text, again), "set round trip: identical text");
		free(again);
		conf_free(back);
	}
	crypto_wipe(text, strlen(text));
	free(text);
	conf_free(c);
}

static void test_get_round_trip(void)
{
	struct conf_dev *c = conf_new(), *back = NULL;
	struct conf_allowedip ip;
	struct conf_peer *p;
	char err[256] = "", *text, *again, *withe;
	size_t i;

	crypto_genkey(c->private_key);
	crypto_pubkey(c->public_key, c->private_key);
	c->listen_port = 51820;
	c->fwmark = 7;
	c->flags = CONF_DEV_HAS_PRIVATE_KEY | CONF_DEV_HAS_LISTEN_PORT | CONF_DEV_HAS_FWMARK;
	for (i = 0; i < 9; ++i) { /* past two growths of the peers array */
		p = conf_add_peer(c);
		crypto_random(p->public_key, WG_KEY_LEN);
		p->rx_bytes = 1000 + i;
		p->tx_bytes = UINT64_MAX;
		p->last_handshake_sec = 1700000000;
		p->last_handshake_nsec = 999999999;
		p->endpoint_moves = i;
		p->last_move_sec = 1700000001;
		endpoint_parse(&p->endpoint, i & 1 ? "[2001:db8::2]:1" : "198.51.100.2:65535");
		conf_parse_allowedip(&ip, "2001:db8::/48");
		conf_peer_add_allowedip(p, &ip);
		conf_parse_allowedip(&ip, "203.0.113.7");
		conf_peer_add_allowedip(p, &ip);
		if (i == 3) {
			p->roam_policy = CONF_ROAM_WITHIN;
			conf_peer_add_roam_cidr(p, &ip);
		}
	}
	text = fmt(uapi_format_get, c);
	ok(!strncmp(text, "private_key=", 12), "get: private_key first");
	ok(strstr(text, "public_key=") &&
		   strstr(text, "preshared_key=0000000000000000000000000000000000000000000000000000"
				"000000000000\nprotocol_version=1\nendpoint=198.51.100.2:65535\n"
				"last_handshake_time_sec=1700000000\nlast_handshake_time_nsec="
				"999999999\ntx_bytes=18446744073709551615\nrx_bytes=1000\n"
				"persistent_keepalive_interval=0\nallowed_ip=2001:db8::/48\n"
				"allowed_ip=203.0.113.7/32\nroam_policy=roam\nendpoint_moves=0\n"
				"last_move_time_sec=1700000001\n"),
	   "get: wireguard-go's key order, extensions last");
	/* as the client reads it: body, then the status line */
	withe = malloc(strlen(text) + 16);
	sprintf(withe, "%serrno=0\n", text);
	is_int(uapi_parse_get(withe, strlen(withe), &back, err, sizeof(err)), 0, "get: parses");
	if (back) {
		ok(!memcmp(back->public_key, c->public_key, WG_KEY_LEN),
		   "get: public key derived from the private key");
		is_int(back->n_peers, 9, "get: all peers");
		is_int(back->peers[3].endpoint_moves, 3, "get: endpoint_moves");
		ok(back->peers[3].roam_policy == CONF_ROAM_WITHIN &&
			   back->peers[3].n_roam_cidrs == 1,
		   "get: roam extension");
		again = fmt(uapi_format_get, back);
		ok(!strcmp(text, again), "get round trip: identical text");
		crypto_wipe(again, strlen(again));
		free(again);
		conf_free(back);
	}
	crypto_wipe(withe, strlen(withe));
	free(withe);
	crypto_wipe(text, strlen(text));
	free(text);
	conf_free(c);
}

static void test_get_tolerance(void)
{
	char body[1024], err[256] = "";
	struct conf_dev *c = NULL;

	snprintf(body, sizeof(body),
		 "listen_port=1\nsome_future_key=3\npublic_key=%s\nfuture_peer_key=x\n"
		 "rx_bytes=5\nerrno=0\n",
		 K2);
	is_int(uapi_parse_get(body, strlen(body), &c, err, sizeof(err)), 0,
	       "get: unknown keys ignored, as wg does");
	ok(c && c->n_peers == 1 && c->peers[0].rx_bytes == 5, "get: known keys still read");
	conf_free(c);
	c = NULL;
	is_int(uapi_parse_get("errno=-19\n", 10, &c, err, sizeof(err)), -19,
	       "get: a daemon's errno is returned");
	ok(!c && strstr(err, "errno"), "get: and named");
}

static void test_set_malformed(void)
{
	char b[512];

	bad("listen_port=70000\n", -EINVAL, "listen_port: \"70000\" is not a port number",
	    "port out of range: EINVAL, message names the key and the range");
	bad("listen_port=-1\n", -EINVAL, "listen_port", "negative port");
	bad("listen_port=\n", -EINVAL, "listen_port", "empty port");
	bad("fwmark=4294967296\n", -EINVAL, "fwmark", "fwmark out of range");
	bad("fwmark=0x10\n", -EINVAL, "fwmark", "fwmark in hex (the protocol is decimal)");
	bad("private_key=zz\n", -EINVAL, "private_key: not a key of 64 hex", "bad hex");
	snprintf(b, sizeof(b), "private_key=%.62s\n", K1);
	bad(b, -EINVAL, "private_key", "key too short");
	snprintf(b, sizeof(b), "private_key=%s00\n", K1);
	bad(b, -EINVAL, "private_key", "key too long");
	snprintf(b, sizeof(b), "private_key=%.63sg\n", K1);
	bad(b, -EINVAL, "private_key", "non-hex character");
	bad("replace_peers=yes\n", -EINVAL, "replace_peers", "replace_peers not true");
	bad("frobnicate=1\n", -EINVAL, "frobnicate: unknown device key", "unknown device key");
	bad("listen_port\n", -EPROTO, "listen_port", "line without '=': EPROTO");
	bad("=1\n", -EPROTO, "=1", "empty key: EPROTO");
	bad("listen_port=1\n\nfwmark=1\n", -EPROTO, "(empty line)", "blank line inside the body");
	bad("endpoint=192.0.2.1:1\n", -EINVAL, "endpoint: peer key before any public_key",
	    "peer key before public_key");
	bad("allowed_ip=192.0.2.0/24\n", -EINVAL, "allowed_ip: peer key before",
	    "allowed_ip before public_key");
	bad("public_key=abc\n", -EINVAL, "public_key", "bad public key");
#define PEER(x) (snprintf(b, sizeof(b), "public_key=%s\n" x, K2), b)
	bad(PEER("listen_port=1\n"), -EINVAL, "listen_port: device key after",
	    "device key after a peer");
	bad(PEER("endpoint=192.0.2.1\n"), -EINVAL, "endpoint", "endpoint without port");
	bad(PEER("endpoint=192.0.2.1:65536\n"), -EINVAL, "endpoint", "endpoint port too big");
	bad(PEER("endpoint=2001:db8::1:1\n"), -EINVAL, "endpoint", "v6 endpoint without brackets");
	bad(PEER("endpoint=example.com:1\n"), -EINVAL, "endpoint", "host name (numeric only)");
	bad(PEER("allowed_ip=192.0.2.0/33\n"), -EINVAL, "allowed_ip: \"192.0.2.0/33\"",
	    "v4 cidr too long");
	bad(PEER("allowed_ip=2001:db8::/129\n"), -EINVAL, "allowed_ip", "v6 cidr too long");
	bad(PEER("allowed_ip=192.0.2.0\n"), -EINVAL, "allowed_ip", "allowed_ip without prefix");
	bad(PEER("allowed_ip=192.0.2.300/32\n"), -EINVAL, "allowed_ip", "bad address");
	bad(PEER("persistent_keepalive_interval=65536\n"), -EINVAL, "persistent_keepalive_interval",
	    "keepalive out of range");
	bad(PEER("protocol_version=2\n"), -EINVAL, "protocol_version", "protocol version 2");
	bad(PEER("remove=false\n"), -EINVAL, "remove", "remove=false");
	bad(PEER("update_only=1\n"), -EINVAL, "update_only", "update_only=1");
	bad(PEER("replace_allowed_ips=maybe\n"), -EINVAL, "replace_allowed_ips",
	    "replace_allowed_ips not true");
	bad(PEER("rx_bytes=1\n"), -EINVAL, "rx_bytes: read-only", "get-only key in a set");
	bad(PEER("last_handshake_time_sec=1\n"), -EINVAL, "last_handshake_time_sec",
	    "get-only handshake time in a set");
	bad(PEER("endpoint_moves=1\n"), -EINVAL, "endpoint_moves", "get-only extension in a set");
	bad(PEER("bogus=1\n"), -EINVAL, "bogus: unknown peer key", "unknown peer key");
	bad(PEER("roam_policy=sometimes\n"), -EINVAL, "roam_policy", "bad roam policy");
	bad(PEER("roam_policy=within\n"), -EINVAL, "roam_policy: within needs",
	    "within without a cidr");
	bad(PEER("roam_cidr=192.0.2.0/24\n"), -EINVAL, "roam_cidr: only valid after",
	    "roam_cidr without roam_policy");
	bad(PEER("roam_policy=pinned\nroam_cidr=192.0.2.0/24\n"), -EINVAL, "roam_cidr",
	    "roam_cidr with pinned");
	bad(PEER("roam_policy=within\nroam_cidr=192.0.2.0/40\n"), -EINVAL, "roam_cidr",
	    "bad roam_cidr");
#undef PEER
}

static void test_allow_source(void)
{
	struct conf_dev *c = NULL, *back = NULL;
	struct conf_allowedip cidr;
	char err[256] = "", ip[64], *txt;
	int ret;

	ret = parse_set("allow_source=198.51.100.0/24\nallow_source=2001:db8::/32\n", &c, err);
	ok(ret == 0 && c && c->n_allow_src == 2 && (c->flags & CONF_DEV_HAS_ALLOW_SOURCE) &&
		   !(c->flags & CONF_DEV_REPLACE_ALLOW_SOURCE),
	   "set: allow_source lines add");
	if (c) {
		conf_format_allowedip(&c->allow_src[1], ip, sizeof(ip));
		ok(!strcmp(ip, "2001:db8::/32"), "set: IPv6 allow_source");
		txt = fmt(uapi_format_set, c);
		ok(!strcmp(txt, "allow_source=198.51.100.0/24\nallow_source=2001:db8::/32\n"),
		   "format_set: allow_source without replace");
		free(txt);
	}
	conf_free(c);
	ret = parse_set("allow_source=192.0.2.0/24\nreplace_allow_source=true\n"
			"allow_source=203.0.113.0/24\n",
			&c, err);
	ok(ret == 0 && c->n_allow_src == 1 && (c->flags & CONF_DEV_REPLACE_ALLOW_SOURCE),
	   "set: replace_allow_source drops earlier lines");
	conf_free(c);
	ret = parse_set("replace_allow_source=true\n", &c, err);
	ok(ret == 0 && c->n_allow_src == 0 && (c->flags & CONF_DEV_HAS_ALLOW_SOURCE), "set: clear");
	txt = fmt(uapi_format_set, c);
	ok(!strcmp(txt, "replace_allow_source=true\n"), "format_set: clear is replace alone");
	free(txt);
	conf_free(c);
	ret = parse_set("listen_port=1\n", &c, err);
	txt = fmt(uapi_format_set, c);
	ok(ret == 0 && !strstr(txt, "allow_source"), "format_set: never sent unasked");
	free(txt);
	conf_free(c);

	bad("allow_source=198.51.100.0/33\n", -EINVAL, "allow_source", "bad allow_source CIDR");
	bad("allow_source=198.51.100.7\n", -EINVAL, "allow_source", "allow_source without prefix");
	bad("allow_source=192.0.2.0/24\nallow_source=nope/8\n", -EINVAL, "allow_source",
	    "one bad allow_source rejects the whole set");
	bad("replace_allow_source=false\n", -EINVAL, "replace_allow_source",
	    "replace_allow_source=false");
	bad("public_key=b020fd0166202e9a2db1646b2510dc28ff7488982362e56da9317fba2a0f5c4c\n"
	    "allow_source=192.0.2.0/24\n",
	    -EINVAL, "allow_source: device key after", "allow_source after a peer");
	bad("drop_decrypt=5\n", -EINVAL, "drop_decrypt: read-only", "drop counters are get-only");

	/* get: a snapshot with both, formatted by the daemon and read back by a client */
	c = conf_new();
	conf_parse_allowedip(&cidr, "198.51.100.0/24");
	conf_dev_add_allow_src(c, &cidr);
	ok(conf_dev_add_drop(c, "decrypt", 7) == 0 && conf_dev_add_drop(c, "bad_mac1", 0) == 0,
	   "drop counters added");
	ok(conf_dev_add_drop(c, "Bad-Name", 1) == -EINVAL, "a drop name outside [a-z0-9_] refused");
	c->listen_port = 51820;
	conf_add_peer(c);
	memset(c->peers[0].public_key, 0x11, WG_KEY_LEN);
	txt = fmt(uapi_format_get, c);
	ok(strstr(txt, "listen_port=51820\nallow_source=198.51.100.0/24\ndrop_decrypt=7\n"
		       "drop_bad_mac1=0\npublic_key=") != NULL,
	   "format_get: device extensions before the first peer");
	ret = uapi_parse_get(txt, strlen(txt), &back, err, sizeof(err));
	ok(ret == 0 && back->n_allow_src == 1 && back->n_drops == 2 &&
		   !strcmp(back->drops[0].name, "decrypt") && back->drops[0].value == 7 &&
		   back->n_peers == 1,
	   "parse_get: allowlist and drop counters read back");
	free(txt);
	conf_free(back);
	conf_free(c);
	ret = uapi_parse_get("drop_x=notanumber\n", 18, &back, err, sizeof(err));
	ok(ret == -EINVAL && !back, "parse_get: a drop counter that is not a number");
	ret = uapi_parse_get("drop_Weird-Name=3\nlisten_port=9\n", 32, &back, err, sizeof(err));
	ok(ret == 0 && back->n_drops == 0 && back->listen_port == 9,
	   "parse_get: a drop name it cannot keep is ignored");
	conf_free(back);
}

int main(void)
{
	crypto_init();
	test_allow_source();
	test_set_every_key();
	test_set_round_trip();
	test_get_round_trip();
	test_get_tolerance();
	test_set_malformed();
	return done_testing();
}
