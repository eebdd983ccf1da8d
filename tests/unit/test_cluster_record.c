// SPDX-License-Identifier: GPL-2.0
/*
 * The cluster's etcd records (lib/cluster_record.c): good records parse into the peer a UAPI
 * set of every field would give, formatting and parsing round-trip, and every way a record
 * can be malformed is refused with the field named, leaving the request as it was.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_record.h"
#include "crypto.h"
#include "tap.h"

static uint8_t key[WG_KEY_LEN];
static char b64[CRYPTO_KEY_BASE64_LEN + 1], name[CLUSTER_KEYNAME_LEN + 1];

/* Parse rec filed under nm into a fresh request; the return value, the request in *out. */
static int parse(const char *nm, const char *rec, struct conf_dev **out, char *err)
{
	struct conf_dev *c = conf_new();
	int ret;

	err[0] = '\0';
	ret = cluster_record_parse(nm, rec, strlen(rec), c, err, CLUSTER_ERR_LEN);
	*out = c;
	return ret;
}

/* A record with the good key and the given members after it. */
static char *rec_with(const char *rest)
{
	static char buf[CLUSTER_RECORD_MAX * 2];

	snprintf(buf, sizeof(buf), "{\"public_key\":\"%s\"%s%s}", b64, *rest ? "," : "", rest);
	return buf;
}

static void test_names(void)
{
	uint8_t back[WG_KEY_LEN];
	char err[CLUSTER_ERR_LEN], prefix[CLUSTER_PREFIX_MAX];

	ok(strchr(b64, '+') && strchr(b64, '/'), "the test key's base64 has + and /");
	ok(!strchr(name, '+') && !strchr(name, '/') && strlen(name) == CLUSTER_KEYNAME_LEN,
	   "its name is base64url: %s", name);
	ok(cluster_key_from_name(back, name) && !memcmp(back, key, WG_KEY_LEN),
	   "the name gives the key back");
	ok(!cluster_key_from_name(back, b64), "standard base64 (with /) is not a name");
	ok(!cluster_key_from_name(back, "abc"), "a short name is not a key");
	ok(cluster_name_check("grid-1", err, sizeof(err)) == 0, "cluster name grid-1");
	ok(cluster_name_check("a_b", err, sizeof(err)) == 0, "cluster name a_b");
	ok(cluster_name_check("", err, sizeof(err)) == -EINVAL, "empty cluster name refused");
	ok(cluster_name_check("-x", err, sizeof(err)) == -EINVAL, "leading dash refused");
	ok(cluster_name_check("A", err, sizeof(err)) == -EINVAL, "upper case refused");
	ok(cluster_name_check("a/b", err, sizeof(err)) == -EINVAL && strstr(err, "a/b"),
	   "a slash refused, named: %s", err);
	ok(cluster_name_check("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
			      err, sizeof(err)) == -EINVAL,
	   "64 characters refused");
	cluster_prefix(prefix, sizeof(prefix), "grid", "peers/");
	ok(!strcmp(prefix, "/xdpwg/grid/peers/"), "prefix %s", prefix);
}

static void test_good(void)
{
	char err[CLUSTER_ERR_LEN];
	struct conf_dev *c;
	struct conf_peer *p;
	char *out;

	ok(parse(name,
		 rec_with("\"allowed_ips\":[\"192.0.2.2/32\",\"2001:db8::2/128\"],"
			  "\"persistent_keepalive\":25,\"roam_policy\":\"pinned\","
			  "\"endpoint\":\"198.51.100.2:51820\""),
		 &c, err) == 0,
	   "a full record parses (%s)", err);
	p = &c->peers[0];
	ok(c->n_peers == 1 && !memcmp(p->public_key, key, WG_KEY_LEN), "one peer, the key");
	ok(p->n_allowedips == 2 && p->allowedips[0].family == AF_INET &&
		   p->allowedips[0].cidr == 32 && p->allowedips[1].family == AF_INET6,
	   "its allowed IPs");
	ok(p->persistent_keepalive == 25 && p->roam_policy == CONF_ROAM_PINNED,
	   "keepalive, policy");
	ok((p->flags & CONF_PEER_HAS_ENDPOINT) && (p->flags & CONF_PEER_REPLACE_ALLOWEDIPS) &&
		   (p->flags & CONF_PEER_HAS_PERSISTENT_KEEPALIVE) &&
		   (p->flags & CONF_PEER_HAS_ROAM_POLICY) && !(p->flags & CONF_PEER_REMOVE) &&
		   !(p->flags & CONF_PEER_HAS_PRESHARED_KEY),
	   "flags: a complete replacement, never a preshared key");
	out = cluster_record_format(p);
	conf_free(c);
	ok(out && parse(name, out, &c, err) == 0 && c->peers[0].n_allowedips == 2 &&
		   c->peers[0].persistent_keepalive == 25 &&
		   c->peers[0].roam_policy == CONF_ROAM_PINNED,
	   "format and parse round-trip: %s", out ? out : "(null)");
	ok(out && !strstr(out, "\\/"), "no escaped slashes in what is written");
	free(out);
	conf_free(c);

	ok(parse(name, rec_with("\"allowed_ips\":[]"), &c, err) == 0 &&
		   c->peers[0].n_allowedips == 0 && c->peers[0].persistent_keepalive == 0 &&
		   c->peers[0].roam_policy == CONF_ROAM_ANY &&
		   (c->peers[0].flags & CONF_PEER_HAS_PERSISTENT_KEEPALIVE) &&
		   !(c->peers[0].flags & CONF_PEER_HAS_ENDPOINT),
	   "a minimal record: what it leaves out is reset (keepalive off, policy roam)");
	conf_free(c);
	ok(parse(name,
		 rec_with("\"allowed_ips\":[\"10.0.0.0/8\"],\"roam_policy\":\"within\","
			  "\"roam_within\":[\"198.51.100.0/24\"]"),
		 &c, err) == 0 &&
		   c->peers[0].n_roam_cidrs == 1,
	   "roam within with its CIDRs");
	conf_free(c);
	ok(parse(name,
		 " \n{\"allowed_ips\":[],\"public_key\":\""
		 "\0",
		 &c, err) < 0,
	   "cut short refused");
	conf_free(c);
	{
		char buf[256];

		snprintf(buf, sizeof(buf), "  {\"allowed_ips\":[],\"public_key\":\"%s\"}\n", b64);
		ok(parse(name, buf, &c, err) == 0, "whitespace around the object is fine");
		conf_free(c);
	}
}

struct bad_case {
	const char *rec; /* members after public_key; NULL: use whole */
	const char *whole;
	const char *why; /* in the error */
};

static void test_bad(void)
{
	static const struct bad_case cases[] = {
		{ "\"allowed_ips\":[\"192.0.2.300/32\"]", NULL, "allowed_ips[0]" },
		{ "\"allowed_ips\":[\"192.0.2.0/33\"]", NULL, "not a CIDR" },
		{ "\"allowed_ips\":[\"2001:db8::/129\"]", NULL, "allowed_ips" },
		{ "\"allowed_ips\":[\"nonsense\"]", NULL, "nonsense" },
		{ "\"allowed_ips\":\"192.0.2.2/32\"", NULL, "not an array" },
		{ "\"allowed_ips\":[32]", NULL, "not a string" },
		{ "\"allowed_ips\":[],\"persistent_keepalive\":\"25\"", NULL,
		  "persistent_keepalive" },
		{ "\"allowed_ips\":[],\"persistent_keepalive\":65536", NULL,
		  "persistent_keepalive" },
		{ "\"allowed_ips\":[],\"persistent_keepalive\":-1", NULL, "persistent_keepalive" },
		{ "\"allowed_ips\":[],\"persistent_keepalive\":2.5", NULL, "persistent_keepalive" },
		{ "\"allowed_ips\":[],\"roam_policy\":\"sometimes\"", NULL, "roam_policy" },
		{ "\"allowed_ips\":[],\"roam_policy\":1", NULL, "roam_policy" },
		{ "\"allowed_ips\":[],\"roam_policy\":\"within\"", NULL, "roam_within" },
		{ "\"allowed_ips\":[],\"roam_within\":[\"198.51.100.0/24\"],"
		  "\"roam_policy\":\"pinned\"",
		  NULL, "roam_within" },
		{ "\"allowed_ips\":[],\"endpoint\":\"example.com:51820\"", NULL, "endpoint" },
		{ "\"allowed_ips\":[],\"endpoint\":\"198.51.100.2\"", NULL, "endpoint" },
		{ "\"allowed_ips\":[],\"preshared_key\":\"AAAA\"", NULL, "secrets" },
		{ "\"allowed_ips\":[],\"private_key\":\"AAAA\"", NULL, "private_key" },
		{ "\"allowed_ips\":[],\"colour\":\"blue\"", NULL, "colour: unknown field" },
		{ "", NULL, "allowed_ips: missing" },
		{ NULL, "{\"allowed_ips\":[]}", "public_key: missing" },
		{ NULL, "{\"public_key\":\"short\",\"allowed_ips\":[]}", "public_key" },
		{ NULL, "{\"public_key\":7,\"allowed_ips\":[]}", "public_key" },
		{ NULL, "[1,2]", "not a JSON object" },
		{ NULL, "\"text\"", "not a JSON object" },
		{ NULL, "", "not JSON" },
		{ NULL, "{", "not JSON" },
		{ NULL, "{\"public_key\":'x'}", "not JSON" },
		{ NULL, "{} {}", "not JSON" },
		{ NULL, "{\"a\":1,}", "not JSON" },
	};
	char err[CLUSTER_ERR_LEN];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *rec = cases[i].rec ? rec_with(cases[i].rec) : cases[i].whole;
		struct conf_dev *c;
		int ret = parse(name, rec, &c, err);

		ok(ret == -EINVAL && c->n_peers == 0 && strstr(err, cases[i].why),
		   "refused, naming \"%s\": %s -> %s", cases[i].why, rec, err);
		conf_free(c);
	}
}

static void test_mismatch_and_size(void)
{
	char err[CLUSTER_ERR_LEN], other[CLUSTER_KEYNAME_LEN + 1];
	uint8_t k2[WG_KEY_LEN];
	struct conf_dev *c;
	char *big;
	size_t len;

	memset(k2, 0x11, sizeof(k2));
	cluster_key_name(other, k2);
	ok(parse(other, rec_with("\"allowed_ips\":[]"), &c, err) == -EINVAL && c->n_peers == 0 &&
		   strstr(err, "not the key the record is filed under"),
	   "a record under another key's name refused: %s", err);
	conf_free(c);
	ok(parse("not-a-key", rec_with("\"allowed_ips\":[]"), &c, err) == -EINVAL &&
		   strstr(err, "base64url"),
	   "a key name that is no key refused: %s", err);
	conf_free(c);
	ok(parse(b64, rec_with("\"allowed_ips\":[]"), &c, err) == -EINVAL,
	   "a name in standard base64 refused");
	conf_free(c);

	/* oversize: a valid record padded past the limit with allowed IPs */
	big = malloc(CLUSTER_RECORD_MAX * 2);
	len = (size_t)snprintf(big, CLUSTER_RECORD_MAX * 2,
			       "{\"public_key\":\"%s\",\"allowed_ips\":[", b64);
	while (len < CLUSTER_RECORD_MAX + 10)
		len += (size_t)snprintf(big + len, CLUSTER_RECORD_MAX * 2 - len,
					"\"192.0.2.1/32\",");
	snprintf(big + len - 1, CLUSTER_RECORD_MAX * 2 - len + 1, "]}");
	c = conf_new();
	ok(cluster_record_parse(name, big, strlen(big), c, err, sizeof(err)) == -E2BIG &&
		   c->n_peers == 0 && strstr(err, "more than"),
	   "a record of %zu bytes refused: %s", strlen(big), err);
	conf_free(c);
	free(big);

	/* too many allowed IPs within the byte limit */
	big = malloc(CLUSTER_RECORD_MAX);
	len = (size_t)snprintf(big, CLUSTER_RECORD_MAX, "{\"public_key\":\"%s\",\"allowed_ips\":[",
			       b64);
	for (int i = 0; i <= CLUSTER_RECORD_MAX_IPS; i++)
		len += (size_t)snprintf(big + len, CLUSTER_RECORD_MAX - len, "\"10.%d.%d.0/24\",",
					i / 256, i % 256);
	snprintf(big + len - 1, CLUSTER_RECORD_MAX - len + 1, "]}");
	c = conf_new();
	ok(cluster_record_parse(name, big, strlen(big), c, err, sizeof(err)) == -EINVAL &&
		   strstr(err, "more than"),
	   "%d allowed IPs refused: %s", CLUSTER_RECORD_MAX_IPS + 1, err);
	conf_free(c);
	free(big);

	/* a refused record leaves the peers already in the request alone */
	c = conf_new();
	ok(cluster_record_parse(name, rec_with("\"allowed_ips\":[\"192.0.2.2/32\"]"),
				strlen(rec_with("\"allowed_ips\":[\"192.0.2.2/32\"]")), c, err,
				sizeof(err)) == 0,
	   "one good record");
	ok(cluster_record_parse(name, rec_with("\"allowed_ips\":[\"192.0.2.2/32\",\"x\"]"),
				strlen(rec_with("\"allowed_ips\":[\"192.0.2.2/32\",\"x\"]")), c,
				err, sizeof(err)) == -EINVAL &&
		   c->n_peers == 1 && c->peers[0].n_allowedips == 1,
	   "then a bad one: the request still holds the first, unchanged");
	conf_free(c);
}

static void test_gateways(void)
{
	struct cluster_gateway g;
	char err[CLUSTER_ERR_LEN], addr[64];
	char *out;

	const char *g2 = "{\"id\":2,\"underlay\":\"198.18.4.5\"}";

	ok(cluster_gateway_parse("2", g2, strlen(g2), &g, err, sizeof(err)) == 0 && g.id == 2 &&
		   g.underlay.ss_family == AF_INET,
	   "gateway 2 (%s)", err);
	ok(!strcmp(cluster_addr_format(&g.underlay, addr, sizeof(addr)), "198.18.4.5"),
	   "its underlay %s", addr);
	out = cluster_gateway_format(&g);
	ok(out && !strcmp(out, "{\"id\":2,\"underlay\":\"198.18.4.5\"}"), "formatted %s", out);
	free(out);
	ok(cluster_gateway_parse("7", "{\"id\":7,\"underlay\":\"2001:db8::7\"}", 33, &g, err,
				 sizeof(err)) == 0 &&
		   g.underlay.ss_family == AF_INET6,
	   "an IPv6 underlay");
#define GW_BAD(nm, json, why)                                                                      \
	ok(cluster_gateway_parse(nm, json, strlen(json), &g, err, sizeof(err)) == -EINVAL &&       \
		   strstr(err, why),                                                               \
	   "gateway %s %s refused: %s", nm, json, err)
	GW_BAD("3", "{\"id\":2,\"underlay\":\"198.18.4.5\"}", "id");
	GW_BAD("0", "{\"id\":0,\"underlay\":\"198.18.4.5\"}", "gateway id");
	GW_BAD("64", "{\"id\":64,\"underlay\":\"198.18.4.5\"}", "gateway id");
	GW_BAD("02", "{\"id\":2,\"underlay\":\"198.18.4.5\"}", "gateway id");
	GW_BAD("2", "{\"id\":2,\"underlay\":\"gw2.example\"}", "underlay");
	GW_BAD("2", "{\"id\":2}", "underlay: missing");
	GW_BAD("2", "{\"id\":2,\"underlay\":\"198.18.4.5\",\"x\":1}", "unknown field");
	GW_BAD("2", "{\"id\":\"2\",\"underlay\":\"198.18.4.5\"}", "id");
	/* a trusted source of IP-in-IP and a forwarding target: unicast that a host sends from */
	GW_BAD("2", "{\"id\":2,\"underlay\":\"0.0.0.0\"}", "no unicast address");
	GW_BAD("2", "{\"id\":2,\"underlay\":\"255.255.255.255\"}", "no unicast address");
	GW_BAD("2", "{\"id\":2,\"underlay\":\"127.0.0.1\"}", "no unicast address");
	GW_BAD("2", "{\"id\":2,\"underlay\":\"224.0.0.5\"}", "no unicast address");
	GW_BAD("2", "{\"id\":2,\"underlay\":\"169.254.1.1\"}", "no unicast address");
	GW_BAD("2", "{\"id\":2,\"underlay\":\"::\"}", "no unicast address");
	GW_BAD("2", "{\"id\":2,\"underlay\":\"::1\"}", "no unicast address");
	GW_BAD("2", "{\"id\":2,\"underlay\":\"ff02::1\"}", "no unicast address");
	GW_BAD("2", "{\"id\":2,\"underlay\":\"fe80::1\"}", "no unicast address");
}

/* held/KEY = {"gateway":N}: which gateway holds the peer's session (daemon/cluster_held.c) */
static void test_held(void)
{
	static const struct {
		const char *json, *why;
	} bad[] = {
		{ "", "not JSON" },
		{ "not json", "not JSON" },
		{ "[1]", "not a JSON object" },
		{ "{}", "gateway: missing" },
		{ "{\"gateway\":0}", "gateway: not a gateway id 1-63" },
		{ "{\"gateway\":64}", "gateway: not a gateway id 1-63" },
		{ "{\"gateway\":-1}", "gateway: not a gateway id 1-63" },
		{ "{\"gateway\":\"2\"}", "gateway: not a gateway id 1-63" },
		{ "{\"gateway\":2.5}", "gateway: not a gateway id 1-63" },
		{ "{\"gateway\":2,\"lease\":1}", "lease: unknown field" },
		{ "{\"gateway\":2} x", "" },
	};
	char err[CLUSTER_ERR_LEN], *s;
	uint8_t pub[WG_KEY_LEN];
	unsigned int gw = 0;

	s = cluster_held_format(7);
	ok(s && !strcmp(s, "{\"gateway\":7}"), "held record: %s", s ? s : "(null)");
	ok(cluster_held_parse(name, s, strlen(s), pub, &gw, err, sizeof(err)) == 0 && gw == 7 &&
		   !memcmp(pub, key, WG_KEY_LEN),
	   "  ... parses back: gateway 7, the key of its name");
	free(s);
	ok(cluster_held_parse(name, "{\"gateway\":63}", 14, pub, &gw, err, sizeof(err)) == 0 &&
		   gw == 63,
	   "gateway 63, the highest id");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		gw = 42;
		err[0] = '\0';
		ok(cluster_held_parse(name, bad[i].json, strlen(bad[i].json), pub, &gw, err,
				      sizeof(err)) == -EINVAL &&
			   gw == 42 && strstr(err, bad[i].why),
		   "held record '%s' refused: %s", bad[i].json, err);
	}
	err[0] = '\0';
	ok(cluster_held_parse(b64, "{\"gateway\":1}", 13, pub, &gw, err, sizeof(err)) == -EINVAL &&
		   strstr(err, "not a public key"),
	   "a held record under a name that is not a key refused: %s", err);
	s = calloc(1, CLUSTER_HELD_MAX + 2);
	if (s) {
		memset(s, ' ', CLUSTER_HELD_MAX + 1);
		memcpy(s, "{\"gateway\":1}", 13);
		ok(cluster_held_parse(name, s, strlen(s), pub, &gw, err, sizeof(err)) == -EINVAL &&
			   strstr(err, "larger than"),
		   "a held record over %d bytes refused: %s", CLUSTER_HELD_MAX, err);
		free(s);
	}
}

int main(void)
{
	crypto_init();
	memset(key, 0xfb, sizeof(key)); /* base64 "+/v7...": both characters base64url changes */
	crypto_key_to_base64(b64, key);
	cluster_key_name(name, key);
	test_names();
	test_good();
	test_bad();
	test_mismatch_and_size();
	test_gateways();
	test_held();
	return done_testing();
}
