// SPDX-License-Identifier: GPL-2.0
/*
 * wg(8) config files, key files, endpoints and CIDRs: what `wg setconf` accepts we accept (plus
 * wg-quick's keys, ignored), what `wg showconf` prints we print, and every refusal names the
 * file, line, key and reason.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"
#include "tap.h"

static void conf_free_null(void)
{
	conf_free(NULL);
}
static char priv_b64[CRYPTO_KEY_BASE64_LEN + 1], pub_b64[CRYPTO_KEY_BASE64_LEN + 1];
static char dir[] = "/tmp/test_config.XXXXXX";

static char *fmt_file(const struct conf_dev *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);

	conf_format_file(c, m);
	fclose(m);
	return buf;
}

static void bad(const char *text, int want, const char *msg, const char *desc)
{
	struct conf_dev *c = (struct conf_dev *)1;
	char err[512] = "";
	int ret = conf_parse_string(text, "t.conf", &c, err, sizeof(err));

	if (!ok(ret == want && !c && strstr(err, msg), "%s", desc))
		tap_diag("ret %d (want %d), err '%s', want '%s'", ret, want, err, msg);
}

static void test_file_parse(void)
{
	char text[2048], err[512] = "", ep[ENDPOINT_STRLEN], ip[64];
	struct conf_dev *c = NULL;
	struct conf_peer *p;

	snprintf(text, sizeof(text),
		 "# leading comment\n"
		 "[Interface]\n"
		 "  PrivateKey = %s # trailing comment\n"
		 "listenport=51820\n"
		 "FWMARK = 0x20\n"
		 "Address = 198.18.0.1/24, 2001:db8::1/64\n"
		 "DNS = 192.0.2.53\nMTU = 1420\nTable = off\nPreUp = echo a\nPostUp = echo b\n"
		 "PreDown = echo c\nPostDown = echo d\nSaveConfig = false\n"
		 "\n"
		 "[PEER]\n"
		 "PublicKey=%s\n"
		 "PresharedKey = %s\n"
		 "AllowedIPs = 198.18.0.2/32 , 2001:db8:1::/64\n"
		 "AllowedIPs = 203.0.113.9\n"
		 "Endpoint = [2001:db8::10]:4500\n"
		 "PersistentKeepalive = off\n"
		 "RoamPolicy = within\n"
		 "RoamWithin = 192.0.2.0/24, 198.51.100.0/24\n"
		 "[Peer]\nPublicKey = %s\nEndpoint = localhost:51820\nPersistentKeepalive = 25\n"
		 "RoamPolicy = pinned\n",
		 priv_b64, pub_b64, priv_b64, pub_b64);
	is_int(conf_parse_string(text, "t.conf", &c, err, sizeof(err)), 0,
	       "file: comments, case, blanks and wg-quick keys accepted");
	if (!c) {
		tap_diag("%s", err);
		return;
	}
	ok(c->flags == (CONF_DEV_REPLACE_PEERS | CONF_DEV_HAS_PRIVATE_KEY |
			CONF_DEV_HAS_LISTEN_PORT | CONF_DEV_HAS_FWMARK),
	   "file: setconf flags");
	is_int(c->listen_port, 51820, "file: ListenPort");
	is_int(c->fwmark, 0x20, "file: FwMark in hex");
	is_int(c->n_peers, 2, "file: two peers, section names case-insensitive");
	p = &c->peers[0];
	ok(p->flags & CONF_PEER_REPLACE_ALLOWEDIPS, "file: peers replace allowed ips");
	ok(p->flags & CONF_PEER_HAS_PRESHARED_KEY, "file: PresharedKey");
	is_int(p->n_allowedips, 3, "file: AllowedIPs comma-separated and repeated");
	conf_format_allowedip(&p->allowedips[2], ip, sizeof(ip));
	ok(!strcmp(ip, "203.0.113.9/32"), "file: bare address is /32");
	ok(!strcmp(endpoint_format(&p->endpoint, ep), "[2001:db8::10]:4500"), "file: v6 endpoint");
	ok((p->flags & CONF_PEER_HAS_PERSISTENT_KEEPALIVE) && !p->persistent_keepalive,
	   "file: keepalive off");
	ok(p->roam_policy == CONF_ROAM_WITHIN && p->n_roam_cidrs == 2, "file: RoamWithin");
	p = &c->peers[1];
	ok(endpoint_is_set(&p->endpoint) && (p->flags & CONF_PEER_HAS_ENDPOINT),
	   "file: host name endpoint resolved");
	ok(p->roam_policy == CONF_ROAM_PINNED, "file: RoamPolicy pinned");
	conf_free(c);

	is_int(conf_parse_string_mode(
		       "[Peer]\nPublicKey = AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
		       "a.conf", true, &c, err, sizeof(err)),
	       0, "addconf mode parses");
	ok(c && c->flags == 0, "addconf mode: no device flags, peers not replaced");
	conf_free(c);
}

static void test_file_round_trip(void)
{
	char text[1024], err[512] = "", *out, *again;
	struct conf_dev *c = NULL, *back = NULL;

	/* exactly what `wg showconf` prints for such a device */
	snprintf(text, sizeof(text),
		 "[Interface]\nListenPort = 51820\nFwMark = 0x20\nPrivateKey = %s\n\n"
		 "[Peer]\nPublicKey = %s\nPresharedKey = %s\n"
		 "AllowedIPs = 198.18.0.2/32, 2001:db8:1::/64\nEndpoint = 192.0.2.10:51820\n"
		 "PersistentKeepalive = 25\n\n"
		 "[Peer]\nPublicKey = %s\nAllowedIPs = 198.51.100.0/24\n"
		 "Endpoint = [2001:db8::10]:4500\nRoamPolicy = within\nRoamWithin = 192.0.2.0/24\n",
		 priv_b64, pub_b64, priv_b64, priv_b64);
	is_int(conf_parse_string(text, "rt.conf", &c, err, sizeof(err)), 0, "round trip: parse");
	if (!c)
		return;
	out = fmt_file(c);
	ok(!strcmp(out, text), "round trip: formatted text is identical (wg showconf layout)");
	if (strcmp(out, text))
		tap_diag("got:\n%s", out);
	is_int(conf_parse_string(out, "rt2.conf", &back, err, sizeof(err)), 0,
	       "round trip: reparse");
	if (back) {
		again = fmt_file(back);
		ok(!strcmp(again, out), "round trip: stable");
		free(again);
		conf_free(back);
	}
	crypto_wipe(out, strlen(out));
	free(out);
	conf_free(c);
}

static void test_file_malformed(void)
{
	char t[512];

	bad("ListenPort = 1\n", -EINVAL, "t.conf:1: ListenPort: key outside [Interface] or [Peer]",
	    "key before any section");
	bad("[Interface]\nListenPort = 70000\n", -EINVAL,
	    "t.conf:2: ListenPort: \"70000\" is not a port number (0-65535)", "port out of range");
	bad("[Interface]\nFwMark = 0xfffffffff\n", -EINVAL, "t.conf:2: FwMark", "fwmark too big");
	bad("[Interface]\nPrivateKey = abc\n", -EINVAL, "t.conf:2: PrivateKey: not a base64 key",
	    "bad private key");
	bad("[Interface]\nBogus = 1\n", -EINVAL, "t.conf:2: Bogus: unknown key in [Interface]",
	    "unknown interface key");
	bad("[Interface]\nPublicKey = x\n", -EINVAL, "PublicKey: unknown key in [Interface]",
	    "peer key in [Interface]");
	bad("[Interfaces]\n", -EINVAL, "t.conf:1: [Interfaces]: unknown section", "bad section");
	bad("[Interface]\nListenPort\n", -EINVAL, "t.conf:2: ListenPort: not a KEY = VALUE",
	    "line without '='");
	bad("[Peer]\nAllowedIPs = 198.18.0.0/24\n", -EINVAL, "[Peer]: section has no PublicKey",
	    "peer without a public key");
#define PEER(x) (snprintf(t, sizeof(t), "[Peer]\nPublicKey = %s\n" x, pub_b64), t)
	bad(PEER("AllowedIPs = 198.18.0.0/33\n"), -EINVAL,
	    "t.conf:3: AllowedIPs: \"198.18.0.0/33\" is not an IP address or CIDR", "bad cidr");
	bad(PEER("AllowedIPs = 198.18.0.0/24,\n"), -EINVAL, "AllowedIPs: trailing comma",
	    "trailing comma");
	bad(PEER("AllowedIPs = 198.18.0.0/24,,198.18.1.0/24\n"), -EINVAL, "AllowedIPs",
	    "empty list entry");
	bad(PEER("Endpoint = 192.0.2.1\n"), -EINVAL, "t.conf:3: Endpoint", "endpoint without port");
	bad(PEER("PersistentKeepalive = 70000\n"), -EINVAL, "PersistentKeepalive",
	    "keepalive out of range");
	bad(PEER("ListenPort = 1\n"), -EINVAL, "ListenPort: unknown key in [Peer]",
	    "interface key in [Peer]");
	bad(PEER("Address = 198.18.0.1/24\n"), -EINVAL, "Address: unknown key in [Peer]",
	    "wg-quick key in [Peer]");
	bad(PEER("RoamPolicy = sometimes\n"), -EINVAL, "RoamPolicy: \"sometimes\"", "bad policy");
	bad(PEER("RoamPolicy = within\n"), -EINVAL, "RoamPolicy: within needs at least one",
	    "within without RoamWithin");
	bad(PEER("RoamPolicy = pinned\nRoamWithin = 192.0.2.0/24\n"), -EINVAL,
	    "RoamWithin: only valid with RoamPolicy = within", "RoamWithin with pinned");
#undef PEER
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	fputs(text, f);
	fclose(f);
	chmod(path, mode);
}

static void test_key_files(void)
{
	char path[256], text[128], err[512] = "", want[600];
	uint8_t key[WG_KEY_LEN], expect[WG_KEY_LEN];

	crypto_key_from_base64(expect, priv_b64);
	snprintf(path, sizeof(path), "%s/k", dir);
	snprintf(text, sizeof(text), "%s\n", priv_b64);
	write_file(path, text, 0600);
	is_int(conf_read_key_file(path, key, err, sizeof(err)), 0, "key file: 0600 accepted");
	is_mem(key, expect, WG_KEY_LEN, "key file: the key");

	write_file(path, text, 0644);
	memset(key, 0xaa, sizeof(key));
	is_int(conf_read_key_file(path, key, err, sizeof(err)), -EACCES,
	       "key file: 0644 refused with EACCES");
	snprintf(want, sizeof(want), "chmod 600 %s", path);
	ok(strstr(err, want) != NULL, "key file: the message gives the chmod to run");
	write_file(path, text, 0640);
	ok(conf_read_key_file(path, key, err, sizeof(err)) == -EACCES, "key file: 0640 refused");

	write_file(path, "", 0600);
	memset(key, 0xaa, sizeof(key));
	is_int(conf_read_key_file(path, key, err, sizeof(err)), 0, "key file: empty file accepted");
	ok(crypto_is_zero(key, WG_KEY_LEN), "key file: empty means the zero key (remove)");
	is_int(conf_read_key_file("/dev/null", key, err, sizeof(err)), 0,
	       "key file: /dev/null accepted (mode not checked for devices)");

	snprintf(text, sizeof(text), "%s x\n", priv_b64);
	write_file(path, text, 0600);
	ok(conf_read_key_file(path, key, err, sizeof(err)) == -EINVAL && strstr(err, "trailing"),
	   "key file: trailing garbage refused");
	write_file(path, "abc\n", 0600);
	ok(conf_read_key_file(path, key, err, sizeof(err)) == -EINVAL && strstr(err, path),
	   "key file: short key refused, naming the file");
	ok(conf_read_key_file("/nonexistent/k", key, err, sizeof(err)) == -ENOENT,
	   "key file: missing file is ENOENT");
	unlink(path);
}

static void test_file_from_disk(void)
{
	char path[256], err[512] = "";
	struct conf_dev *c = NULL;

	snprintf(path, sizeof(path), "%s/wg0.conf", dir);
	write_file(path, "[Interface]\nListenPort = 1\n[Peer]\nPublicKey = x\n", 0600);
	ok(conf_parse_file(path, &c, err, sizeof(err)) == -EINVAL && !c &&
		   !strncmp(err, path, strlen(path)) && strstr(err, ":4: PublicKey"),
	   "file on disk: error names path and line");
	ok(conf_parse_file("/nonexistent.conf", &c, err, sizeof(err)) == -ENOENT,
	   "file on disk: missing file");
	unlink(path);
}

static void test_endpoints(void)
{
	struct wg_endpoint a, b;
	char buf[ENDPOINT_STRLEN], err[256];
	static const char *const good[] = { "192.0.2.1:51820", "[2001:db8::1]:1", "0.0.0.0:0",
					    "[::1]:65535" };
	static const char *const badv[] = { "192.0.2.1",
					    "192.0.2.1:",
					    "192.0.2.1:65536",
					    "192.0.2.1:-1",
					    "2001:db8::1:1",
					    "[2001:db8::1]",
					    "[2001:db8::1]1",
					    "127.1:1",
					    "host:1",
					    ":1",
					    "[]:1",
					    "192.0.2.1:1x" };
	size_t i;

	for (i = 0; i < sizeof(good) / sizeof(good[0]); ++i)
		ok(!endpoint_parse(&a, good[i]) && !strcmp(endpoint_format(&a, buf), good[i]),
		   "endpoint: %s round trips", good[i]);
	for (i = 0; i < sizeof(badv) / sizeof(badv[0]); ++i)
		is_int(endpoint_parse(&a, badv[i]), -EINVAL, badv[i]);
	memset(&a, 0, sizeof(a));
	ok(!strcmp(endpoint_format(&a, buf), "(none)") && !endpoint_socklen(&a),
	   "endpoint: unset is (none)");
	endpoint_parse(&a, "192.0.2.1:1");
	endpoint_parse(&b, "192.0.2.1:1");
	ok(endpoint_eq(&a, &b), "endpoint_eq: same");
	endpoint_parse(&b, "192.0.2.1:2");
	ok(!endpoint_eq(&a, &b), "endpoint_eq: port differs");
	endpoint_parse(&b, "[::ffff:192.0.2.1]:1");
	ok(!endpoint_eq(&a, &b), "endpoint_eq: family differs");
	ok(!endpoint_resolve(&a, "localhost:7", err, sizeof(err)) && endpoint_is_set(&a),
	   "endpoint_resolve: localhost");
	ok(endpoint_resolve(&a, "nohost.invalid:7", err, sizeof(err)) == -EHOSTUNREACH &&
		   strstr(err, "nohost.invalid"),
	   "endpoint_resolve: unknown host named");
	ok(endpoint_resolve(&a, "noport", err, sizeof(err)) == -EINVAL,
	   "endpoint_resolve: no port");
}

static void test_cidrs(void)
{
	static const char *const goodv[][2] = {
		{ "192.0.2.0/24", "192.0.2.0/24" },
		{ "192.0.2.1", "192.0.2.1/32" },
		{ "0.0.0.0/0", "0.0.0.0/0" },
		{ "2001:db8::/32", "2001:db8::/32" },
		{ "::/0", "::/0" },
		{ "2001:db8::1", "2001:db8::1/128" },
		/* the formatter's own RFC 5952 spelling
						 * (inet_ntop's, without its sprintf) */
		{ "2001:0db8:0:0:1:0:0:1/128", "2001:db8::1:0:0:1/128" },
		{ "2001:db8:0:1:1:1:1:1/64", "2001:db8:0:1:1:1:1:1/64" },
		{ "fe80::/10", "fe80::/10" },
		{ "1:0:0:2:0:0:0:3/128", "1:0:0:2::3/128" },
		{ "ABCD:EF01::/32", "abcd:ef01::/32" },
		{ "::ffff:192.0.2.1/128", "::ffff:192.0.2.1/128" },
		{ "0.0.0.0/0", "0.0.0.0/0" },
		{ "255.255.255.255/32", "255.255.255.255/32" }
	};
	static const char *const badv[] = { "192.0.2.0/33",
					    "2001:db8::/129",
					    "192.0.2.0/",
					    "192.0.2.0/-1",
					    "192.0.2/24",
					    "/24",
					    "",
					    "192.0.2.0/24x",
					    "x::/0" };
	struct conf_allowedip ip;
	char buf[64];
	size_t i;

	for (i = 0; i < sizeof(goodv) / sizeof(goodv[0]); ++i) {
		int r = conf_parse_allowedip(&ip, goodv[i][0]);

		conf_format_allowedip(&ip, buf, sizeof(buf));
		ok(!r && !strcmp(buf, goodv[i][1]), "cidr: %s", goodv[i][0]);
	}
	for (i = 0; i < sizeof(badv) / sizeof(badv[0]); ++i)
		ok(conf_parse_allowedip(&ip, badv[i]) == -EINVAL, "cidr refused: \"%s\"", badv[i]);
}

static void test_growth(void)
{
	struct conf_dev *c = conf_new();
	struct conf_allowedip ip;
	size_t i, j;
	bool good = true;

	conf_parse_allowedip(&ip, "192.0.2.0/24");
	for (i = 0; i < 300 && good; ++i) {
		struct conf_peer *p = conf_add_peer(c);

		good = p != NULL;
		if (good) {
			memset(p->public_key, (int)i, WG_KEY_LEN);
			for (j = 0; j < 5; ++j)
				good = good && !conf_peer_add_allowedip(p, &ip);
		}
	}
	for (i = 0; i < 300 && good; ++i)
		good = c->peers[i].public_key[0] == (uint8_t)i && c->peers[i].n_allowedips == 5;
	ok(good, "300 peers with allowed ips survive the arrays growing");
	conf_free(c);
	ok(tap_survives_in_child(conf_free_null), "conf_free(NULL) returns (in a child: no crash)");
}

/* xdpwg's [Interface] AllowSource, and the list parser xdpwgctl set uses. */
static void test_allow_source_file(void)
{
	struct conf_dev *c = NULL;
	char err[512] = "", text[512], ip[64], *out;
	struct conf_allowedip n4;
	uint8_t a[16] = { 0 };

	snprintf(text, sizeof(text),
		 "[Interface]\nPrivateKey = %s\nAllowSource = 198.51.100.0/24, 2001:db8::/32\n"
		 "AllowSource = 192.0.2.7\n",
		 priv_b64);
	ok(conf_parse_string(text, "t.conf", &c, err, sizeof(err)) == 0 && c->n_allow_src == 3 &&
		   (c->flags & CONF_DEV_HAS_ALLOW_SOURCE) &&
		   (c->flags & CONF_DEV_REPLACE_ALLOW_SOURCE),
	   "AllowSource: two lines add up, and replace the daemon's list");
	if (c) {
		conf_format_allowedip(&c->allow_src[2], ip, sizeof(ip));
		ok(!strcmp(ip, "192.0.2.7/32"), "AllowSource: a bare address is a /32");
		out = fmt_file(c);
		ok(strstr(out, "AllowSource = 198.51.100.0/24, 2001:db8::/32, 192.0.2.7/32\n") !=
			   NULL,
		   "showconf prints AllowSource");
		free(out);
	}
	conf_free(c);
	snprintf(text, sizeof(text), "[Interface]\nPrivateKey = %s\n", priv_b64);
	ok(conf_parse_string(text, "t.conf", &c, err, sizeof(err)) == 0 &&
		   !(c->flags & CONF_DEV_HAS_ALLOW_SOURCE),
	   "no AllowSource: the request does not carry one");
	out = fmt_file(c);
	ok(!strstr(out, "AllowSource"), "showconf without an allowlist prints none");
	free(out);
	conf_free(c);
	bad("[Interface]\nAllowSource = 198.51.100.0/24, 10.0.0.300\n", -EINVAL,
	    "t.conf:2: AllowSource: \"10.0.0.300\" is not an IP address or CIDR",
	    "AllowSource: a bad entry named with file and line");
	bad("[Interface]\nAllowSource = 198.51.100.0/24,\n", -EINVAL, "AllowSource",
	    "AllowSource: trailing comma");
	snprintf(text, sizeof(text), "[Peer]\nPublicKey = %s\nAllowSource = 192.0.2.0/24\n",
		 pub_b64);
	bad(text, -EINVAL, "t.conf:3: AllowSource: unknown key in [Peer]",
	    "AllowSource is not a [Peer] key");

	c = conf_new();
	ok(conf_parse_allow_source(c, "any", err, sizeof(err)) == 0 && c->n_allow_src == 0 &&
		   (c->flags & CONF_DEV_REPLACE_ALLOW_SOURCE),
	   "allow-source any: clears");
	ok(conf_parse_allow_source(c, "", err, sizeof(err)) == 0 && c->n_allow_src == 0,
	   "allow-source \"\": clears");
	ok(conf_parse_allow_source(c, " 198.51.100.0/24 ,203.0.113.0/25", err, sizeof(err)) == 0 &&
		   c->n_allow_src == 2,
	   "allow-source list with blanks");
	ok(conf_parse_allow_source(c, "198.51.100.0/24,,", err, sizeof(err)) == -EINVAL &&
		   strstr(err, "(empty entry)"),
	   "allow-source: empty entry refused");
	ok(conf_parse_allow_source(c, "2001:db8::/129", err, sizeof(err)) == -EINVAL &&
		   strstr(err, "2001:db8::/129"),
	   "allow-source: bad IPv6 prefix named");
	conf_parse_allow_source(c, "198.51.100.0/25,2001:db8::/32", err, sizeof(err));
	a[0] = 198, a[1] = 51, a[2] = 100, a[3] = 127;
	ok(conf_cidrs_contain(c->allow_src, c->n_allow_src, AF_INET, a), "contains: inside /25");
	a[3] = 128;
	ok(!conf_cidrs_contain(c->allow_src, c->n_allow_src, AF_INET, a), "contains: outside /25");
	memset(a, 0, sizeof(a));
	a[0] = 0x20, a[1] = 0x01, a[2] = 0x0d, a[3] = 0xb8, a[15] = 1;
	ok(conf_cidrs_contain(c->allow_src, c->n_allow_src, AF_INET6, a), "contains: IPv6");
	ok(!conf_cidrs_contain(NULL, 0, AF_INET6, a), "contains: empty list");
	conf_free(c);
	c = conf_new();
	conf_parse_allowedip(&n4, "192.0.2.1");
	for (int i = 0; i < CONF_ALLOW_SRC_MAX; i++)
		conf_dev_add_allow_src(c, &n4);
	ok(conf_dev_add_allow_src(c, &n4) == -E2BIG, "allowlist bounded at 4096");
	conf_free(c);
}

int main(void)
{
	uint8_t k[WG_KEY_LEN], pub[WG_KEY_LEN];

	crypto_init();
	crypto_genkey(k);
	crypto_pubkey(pub, k);
	crypto_key_to_base64(priv_b64, k);
	crypto_key_to_base64(pub_b64, pub);
	if (!mkdtemp(dir))
		return 1;
	test_file_parse();
	test_file_round_trip();
	test_file_malformed();
	test_key_files();
	test_file_from_disk();
	test_endpoints();
	test_cidrs();
	test_growth();
	test_allow_source_file();
	rmdir(dir);
	return done_testing();
}
