// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon's configuration handlers (daemon/uapi_handlers.c, daemon_uapi_handler.set/get)
 * with the source allowlist (daemon/allowlist.c), driven in-process: a minimal struct xdpwgd
 * (no XDP back-end, no route timer) around an engine whose I/O is wg_harness.h's fake, fed
 * requests parsed from configuration-protocol text as the socket server would (uapi_parse_set),
 * or built by hand where the parser would refuse them first.
 *
 * Why: these handlers are where the daemon's own setting (the allowlist) meets the engine's,
 * and they promise all or nothing across both: a refused request, for either part, must change
 * neither. The allowlist is a security control (who may even reach the engine from the kernel
 * socket path), so what it admits, what it refuses and what it counts is checked directly.
 *
 * What it proves:
 *   - set with a private key and a peer applies; get reads back the key, the peer and its
 *     endpoint, the engine's drop counters (one "drop_<reason>" per reason, with the drops the
 *     engine counted) and "source_not_allowed" (d->src_not_allowed); the get reply formats
 *     them as allow_source= and drop_*= lines;
 *   - allow_source CIDRs are kept (IPv4 and IPv6), appended by a request without
 *     replace_allow_source, replaced with it, cleared by replace_allow_source alone, and left
 *     alone by a request that does not name them;
 *   - more than XDPWG_ALLOW_SRC_MAX CIDRs in all is refused (-E2BIG, with an error naming
 *     allow_source) and changes nothing: not the list, not the rest of the request; exactly
 *     XDPWG_ALLOW_SRC_MAX is accepted;
 *   - a request the engine refuses (an allowed IP prefix longer than its family allows) leaves
 *     the previous allowlist, and what it admits, in place;
 *   - daemon_source_allowed: with no list every source; with a list, IPv4, IPv6 and
 *     v4-mapped IPv6 sources inside it yes, outside no, another family no; each refusal
 *     counted in d->src_not_allowed and nothing else counted;
 *   - the streamed get (get_begin/get_next/get_end, issue #21): 2,500 peers come in pieces of
 *     at most DAEMON_GET_PIECE, the first with the private key and the drop counters, the rest
 *     with peers only, together the same peers in the same order as the whole snapshot; a peer
 *     removed while a dump is under way is left out of the pieces still to come.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "tap.h"
#include "uapi.h"
#include "wg_harness.h"
#include "xdpwgd.h"

static struct xdpwgd *d;
static struct wgh_host *host;
static uint8_t priv[WG_KEY_LEN], peer1[WG_KEY_LEN], peer2[WG_KEY_LEN];

static void hex(char out[CRYPTO_KEY_HEX_LEN + 1], const uint8_t key[WG_KEY_LEN])
{
	crypto_key_to_hex(out, key);
}

/* Parse a set=1 body and hand it to the handler: its return value, the message in err. */
static int set_text(const char *body, char *err, size_t errlen)
{
	struct conf_dev *req = NULL;
	int ret = uapi_parse_set(body, strlen(body), &req, err, errlen);

	if (ret) {
		tap_diag("parse: %s", err);
		return ret;
	}
	err[0] = '\0';
	ret = daemon_uapi_handler.set(d, req, err, errlen);
	conf_free(req);
	return ret;
}

static int set_req(const struct conf_dev *req, char *err, size_t errlen)
{
	err[0] = '\0';
	return daemon_uapi_handler.set(d, req, err, errlen);
}

static uint64_t drop_named(const struct conf_dev *c, const char *name, bool *found)
{
	*found = false;
	for (size_t i = 0; i < c->n_drops; i++) {
		if (!strcmp(c->drops[i].name, name)) {
			*found = true;
			return c->drops[i].value;
		}
	}
	return 0;
}

/* The allowlist as "CIDR,CIDR,..." (what get says, and what d holds, must agree). */
static void list_str(const struct conf_allowedip *ips, size_t n, char *out, size_t len)
{
	size_t off = 0;

	out[0] = '\0';
	for (size_t i = 0; i < n && off < len; i++) {
		char one[64];

		conf_format_allowedip(&ips[i], one, sizeof(one));
		off += (size_t)snprintf(out + off, len - off, "%s%s", i ? "," : "", one);
	}
}

static bool allowlist_is(const char *want)
{
	struct conf_dev *c = daemon_uapi_handler.get(d);
	char have[1024], got[1024];
	bool same;

	list_str(d->allow_src, d->n_allow_src, have, sizeof(have));
	list_str(c ? c->allow_src : NULL, c ? c->n_allow_src : 0, got, sizeof(got));
	same = c && !strcmp(have, want) && !strcmp(got, want) &&
	       (d->n_allow_src == 0) == (d->allow_trie == NULL);
	if (!same)
		tap_diag("daemon has '%s', get says '%s', want '%s'", have, got, want);
	conf_free(c);
	return same;
}

static bool has_peer(const uint8_t pub[WG_KEY_LEN])
{
	struct conf_dev *c = daemon_uapi_handler.get(d);
	bool found = false;

	for (size_t i = 0; c && i < c->n_peers; i++)
		found = found || !memcmp(c->peers[i].public_key, pub, WG_KEY_LEN);
	conf_free(c);
	return found;
}

static bool allowed(const char *ep)
{
	struct wg_endpoint e;

	wgh_set_addr(&e, ep);
	return daemon_source_allowed(d, &e);
}

static void test_apply_and_get(void)
{
	char body[1024], err[256], k[CRYPTO_KEY_HEX_LEN + 1], p[CRYPTO_KEY_HEX_LEN + 1];
	char ep[ENDPOINT_STRLEN], *text = NULL;
	uint8_t pub[WG_KEY_LEN], junk[32];
	struct conf_dev *c;
	struct wg_endpoint src;
	size_t text_len = 0;
	bool found, all_reasons = true;
	FILE *f;

	hex(k, priv);
	hex(p, peer1);
	snprintf(body, sizeof(body),
		 "private_key=%s\nlisten_port=51820\npublic_key=%s\nendpoint=198.51.100.2:51821\n"
		 "allowed_ip=192.0.2.2/32\nallowed_ip=2001:db8::2/128\n",
		 k, p);
	is_int(set_text(body, err, sizeof(err)), 0, "set: a private key and a peer apply");

	/* the engine counts some drops: two too short, one of an unknown type */
	wgh_set_addr(&src, "203.0.113.9:4000");
	memset(junk, 0, sizeof(junk));
	wg_device_rx(wg_device_path(d->dev), junk, 2, &src);
	wg_device_rx(wg_device_path(d->dev), junk, 3, &src);
	junk[0] = 9;
	wg_device_rx(wg_device_path(d->dev), junk, sizeof(junk), &src);
	d->src_not_allowed = 7;

	c = daemon_uapi_handler.get(d);
	if (!ok(c != NULL, "get: a snapshot"))
		return;
	crypto_pubkey(pub, priv);
	ok(!memcmp(c->private_key, priv, WG_KEY_LEN) && !memcmp(c->public_key, pub, WG_KEY_LEN),
	   "get: the private key and its public key");
	is_int(c->listen_port, 51820, "get: the listen port");
	ok(c->n_peers == 1 && !memcmp(c->peers[0].public_key, peer1, WG_KEY_LEN) &&
		   !strcmp(endpoint_format(&c->peers[0].endpoint, ep), "198.51.100.2:51821") &&
		   c->peers[0].n_allowedips == 2,
	   "get: the peer, its endpoint and allowed IPs");
	for (int r = WG_DROP_NONE + 1; r < WG_DROP_REASON_MAX; r++) {
		drop_named(c, wg_drop_reason_name((enum wg_drop_reason)r), &found);
		all_reasons = all_reasons && found;
	}
	ok(all_reasons, "get: a counter for every engine drop reason");
	is_int(c->n_drops, WG_DROP_REASON_MAX, "get: those and one more");
	is_int(drop_named(c, "bad_size", &found), 2, "get: the engine's bad_size drops");
	is_int(drop_named(c, "bad_type", &found), 1, "get: the engine's bad_type drops");
	is_int(drop_named(c, "source_not_allowed", &found), 7,
	       "get: source_not_allowed is d->src_not_allowed");
	ok(found, "get: ... under that name");
	is_int(c->n_allow_src, 0, "get: no allowlist yet");

	f = open_memstream(&text, &text_len);
	uapi_format_get(c, f);
	fclose(f);
	ok(text && strstr(text, "\ndrop_bad_size=2\n") && strstr(text, "\ndrop_bad_type=1\n") &&
		   strstr(text, "\ndrop_source_not_allowed=7\n") && !strstr(text, "allow_source="),
	   "get reply: drop_<reason>=N lines, no allow_source line without a list");
	free(text);
	conf_free(c);
	d->src_not_allowed = 0;
}

static void test_allowlist(void)
{
	char err[256], *text = NULL;
	struct conf_dev *c;
	size_t text_len = 0;
	FILE *f;

	is_int(set_text("allow_source=198.51.100.0/24\nallow_source=2001:db8:a::/48\n", err,
			sizeof(err)),
	       0, "allow_source: two CIDRs");
	ok(allowlist_is("198.51.100.0/24,2001:db8:a::/48"), "allow_source: both kept, in order");
	c = daemon_uapi_handler.get(d);
	f = open_memstream(&text, &text_len);
	uapi_format_get(c, f);
	fclose(f);
	ok(text && strstr(text, "allow_source=198.51.100.0/24\nallow_source=2001:db8:a::/48\n"),
	   "get reply: one allow_source= line per CIDR");
	free(text);
	conf_free(c);

	is_int(set_text("allow_source=203.0.113.0/24\n", err, sizeof(err)), 0,
	       "allow_source without replace");
	ok(allowlist_is("198.51.100.0/24,2001:db8:a::/48,203.0.113.0/24"),
	   "... is appended to the list");

	is_int(set_text("listen_port=51821\n", err, sizeof(err)), 0,
	       "a request without allow_source");
	ok(allowlist_is("198.51.100.0/24,2001:db8:a::/48,203.0.113.0/24"),
	   "... leaves the list alone");

	is_int(set_text("replace_allow_source=true\nallow_source=192.0.2.0/24\n", err, sizeof(err)),
	       0, "replace_allow_source with one CIDR");
	ok(allowlist_is("192.0.2.0/24"), "... replaces the list");

	is_int(set_text("replace_allow_source=true\n", err, sizeof(err)), 0,
	       "replace_allow_source alone");
	ok(allowlist_is(""), "... clears the list (any source)");
}

/* A set body of n allow_source lines 10.a.b.0/24, starting at the start-th. */
static char *many_cidrs(size_t start, size_t n, bool replace)
{
	size_t cap = 64 + n * 40, off = 0;
	char *s = malloc(cap);

	if (!s)
		abort();
	if (replace)
		off += (size_t)snprintf(s, cap, "replace_allow_source=true\n");
	for (size_t i = start; i < start + n; i++)
		off += (size_t)snprintf(s + off, cap - off, "allow_source=10.%zu.%zu.0/24\n",
					i / 256, i % 256);
	return s;
}

static void test_too_many(void)
{
	char err[256], p2[CRYPTO_KEY_HEX_LEN + 1], *body, *more;
	struct conf_allowedip first, last;
	struct conf_dev *req;
	size_t total;
	int ret;

	body = many_cidrs(0, XDPWG_ALLOW_SRC_MAX - 96, true);
	is_int(set_text(body, err, sizeof(err)), 0, "XDPWG_ALLOW_SRC_MAX - 96 CIDRs");
	free(body);
	is_int(d->n_allow_src, XDPWG_ALLOW_SRC_MAX - 96, "... all kept");
	first = d->allow_src[0];
	last = d->allow_src[d->n_allow_src - 1];

	/* 97 more, with a new peer and a port in the same request */
	hex(p2, peer2);
	body = many_cidrs(XDPWG_ALLOW_SRC_MAX - 96, 97, false);
	more = malloc(strlen(body) + 256);
	if (!more)
		abort();
	snprintf(more, strlen(body) + 256, "listen_port=51999\n%spublic_key=%s\n", body, p2);
	ret = set_text(more, err, sizeof(err));
	free(body);
	free(more);
	is_int(ret, -E2BIG, "97 more without replace: one past XDPWG_ALLOW_SRC_MAX, refused");
	ok(!strncmp(err, "allow_source", 12), "... with an error naming allow_source");
	tap_diag("%s", err);
	is_int(d->n_allow_src, XDPWG_ALLOW_SRC_MAX - 96, "... the list is as it was");
	ok(!memcmp(&first, &d->allow_src[0], sizeof(first)) &&
		   !memcmp(&last, &d->allow_src[d->n_allow_src - 1], sizeof(last)),
	   "... the same CIDRs");
	ok(!has_peer(peer2), "... the peer in it was not added");
	req = daemon_uapi_handler.get(d);
	ok(req && req->listen_port == 51821, "... nor the port changed");
	conf_free(req);

	body = many_cidrs(XDPWG_ALLOW_SRC_MAX - 96, 96, false);
	is_int(set_text(body, err, sizeof(err)), 0,
	       "96 more: exactly XDPWG_ALLOW_SRC_MAX, accepted");
	free(body);
	is_int(d->n_allow_src, XDPWG_ALLOW_SRC_MAX, "... all kept");
	ok(allowed("10.15.255.1:1") && allowed("10.0.0.1:1") && !allowed("10.16.0.1:1"),
	   "... the first and the last admit their sources, others not");
	d->src_not_allowed = 0;

	/* a request that alone carries more than the maximum (built by hand: the parser stops
	 * at CONF_ALLOW_SRC_MAX) */
	req = conf_new();
	total = XDPWG_ALLOW_SRC_MAX + 1;
	req->allow_src = calloc(total, sizeof(*req->allow_src));
	if (!req->allow_src)
		abort();
	for (size_t i = 0; i < total; i++) {
		req->allow_src[i].family = AF_INET;
		req->allow_src[i].cidr = 32;
		req->allow_src[i].ip4.s_addr = htonl(0xc0000200u + (uint32_t)(i & 0xff));
	}
	req->n_allow_src = total;
	req->flags = CONF_DEV_HAS_ALLOW_SOURCE | CONF_DEV_REPLACE_ALLOW_SOURCE;
	is_int(set_req(req, err, sizeof(err)), -E2BIG,
	       "a replacing request with XDPWG_ALLOW_SRC_MAX + 1 CIDRs is refused");
	ok(!strncmp(err, "allow_source", 12), "... naming allow_source");
	is_int(d->n_allow_src, XDPWG_ALLOW_SRC_MAX, "... the list is as it was");
	conf_free(req);

	is_int(set_text("replace_allow_source=true\n", err, sizeof(err)), 0, "cleared again");
}

static void test_engine_refuses(void)
{
	char err[256];
	struct conf_dev *req = NULL;
	struct conf_peer *p;
	struct conf_allowedip bad = { .family = AF_INET, .cidr = 33 };
	const char *body = "replace_allow_source=true\nallow_source=192.0.2.0/24\n";

	is_int(set_text("allow_source=198.51.100.0/24\n", err, sizeof(err)), 0,
	       "a list of one: 198.51.100.0/24");
	ok(allowed("198.51.100.1:1") && !allowed("192.0.2.1:1"), "... admits only it");

	/* a new list and a peer with an IPv4 prefix of /33 (the parser would refuse it, the
	 * engine must too) */
	is_int(uapi_parse_set(body, strlen(body), &req, err, sizeof(err)), 0,
	       "a request replacing the list...");
	p = conf_add_peer(req);
	memcpy(p->public_key, peer2, WG_KEY_LEN);
	inet_pton(AF_INET, "192.0.2.0", &bad.ip4);
	conf_peer_add_allowedip(p, &bad);
	is_int(set_req(req, err, sizeof(err)), -EINVAL,
	       "... with a peer whose allowed IP is 192.0.2.0/33: the engine refuses it");
	tap_diag("%s", err);
	ok(strstr(err, "allowed_ip") != NULL, "... saying why");
	conf_free(req);
	ok(allowlist_is("198.51.100.0/24"), "all or nothing: the previous list is still there");
	ok(allowed("198.51.100.1:1") && !allowed("192.0.2.1:1"), "... and still what is admitted");
	ok(!has_peer(peer2), "... and the peer was not added");
	d->src_not_allowed = 0;
}

/* 2,500 peers more (one /128 each, keys random) in one set: 0 or -errno. */
static int add_many(int n)
{
	struct conf_dev *req = conf_new();
	char err[256];
	int ret = -ENOMEM;

	for (int i = 0; req && i < n; i++) {
		struct conf_peer *p = conf_add_peer(req);
		struct conf_allowedip ip = { .family = AF_INET6, .cidr = 128 };

		if (!p)
			goto out;
		crypto_random(p->public_key, WG_KEY_LEN);
		inet_pton(AF_INET6, "2001:db8:7::", &ip.ip6);
		ip.ip6.s6_addr[14] = (uint8_t)(i >> 8);
		ip.ip6.s6_addr[15] = (uint8_t)i;
		if (conf_peer_add_allowedip(p, &ip))
			goto out;
	}
	ret = req ? daemon_uapi_handler.set(d, req, err, sizeof(err)) : -ENOMEM;
out:
	conf_free(req);
	return ret;
}

static void test_streamed_get(void)
{
	struct conf_dev *whole, *piece;
	size_t seen = 0, pieces = 0, max_piece = 0;
	bool order = true, first_ok = false, rest_ok = true;
	uint8_t gone[WG_KEY_LEN];
	void *cur;
	int err = 0;

	ok(add_many(2500) == 0, "2,500 peers more applied");
	whole = daemon_uapi_handler.get(d);
	cur = daemon_uapi_handler.get_begin(d);
	ok(whole && cur, "a whole snapshot and a dump");
	if (!whole || !cur) {
		conf_free(whole);
		return;
	}
	while ((piece = daemon_uapi_handler.get_next(d, cur, &err))) {
		if (!pieces)
			first_ok = (piece->flags & CONF_DEV_HAS_PRIVATE_KEY) && piece->n_drops > 0;
		else
			rest_ok = rest_ok && !(piece->flags & CONF_DEV_HAS_PRIVATE_KEY) &&
				  piece->n_drops == 0;
		for (size_t i = 0; i < piece->n_peers; i++, seen++)
			order = order && seen < whole->n_peers &&
				!memcmp(piece->peers[i].public_key, whole->peers[seen].public_key,
					WG_KEY_LEN);
		if (piece->n_peers > max_piece)
			max_piece = piece->n_peers;
		pieces++;
		conf_free(piece);
	}
	daemon_uapi_handler.get_end(d, cur);
	ok(err == 0, "the dump ended without an error");
	ok(seen == whole->n_peers && order, "the pieces hold the snapshot's %zu peers in its order",
	   whole->n_peers);
	ok(max_piece <= DAEMON_GET_PIECE && pieces >= whole->n_peers / DAEMON_GET_PIECE,
	   "%zu pieces of at most %d peers", pieces, DAEMON_GET_PIECE);
	ok(first_ok, "the first piece has the private key and the drop counters");
	ok(rest_ok, "the other pieces have peers only");

	/* a peer removed while a dump is under way: left out of what is still to come */
	memcpy(gone, whole->peers[whole->n_peers - 1].public_key, WG_KEY_LEN);
	cur = daemon_uapi_handler.get_begin(d);
	piece = cur ? daemon_uapi_handler.get_next(d, cur, &err) : NULL;
	conf_free(piece);
	{
		char body[256], h[CRYPTO_KEY_HEX_LEN + 1], e[256];

		hex(h, gone);
		snprintf(body, sizeof(body), "public_key=%s\nremove=true\n", h);
		ok(set_text(body, e, sizeof(e)) == 0, "the last peer removed during a dump");
	}
	seen = piece ? DAEMON_GET_PIECE : 0;
	{
		bool found = false;

		while (cur && (piece = daemon_uapi_handler.get_next(d, cur, &err))) {
			for (size_t i = 0; i < piece->n_peers; i++)
				found = found ||
					!memcmp(piece->peers[i].public_key, gone, WG_KEY_LEN);
			seen += piece->n_peers;
			conf_free(piece);
		}
		if (cur)
			daemon_uapi_handler.get_end(d, cur);
		ok(!found && seen == whole->n_peers - 1, "it is left out (%zu of %zu peers)", seen,
		   whole->n_peers);
	}
	conf_free(whole);
}

static void test_source_allowed(void)
{
	char err[256];
	struct wg_endpoint none;
	struct conf_dev *c;
	bool found;

	is_int(set_text("replace_allow_source=true\n", err, sizeof(err)), 0, "no list");
	d->src_not_allowed = 0;
	ok(allowed("203.0.113.1:1") && allowed("[2001:db8:b::1]:1") &&
		   allowed("[::ffff:203.0.113.1]:1"),
	   "no list: any IPv4, IPv6, v4-mapped source");
	is_int(d->src_not_allowed, 0, "... nothing counted");

	is_int(set_text("replace_allow_source=true\nallow_source=198.51.100.0/24\n"
			"allow_source=2001:db8:a::/48\n",
			err, sizeof(err)),
	       0, "a list: 198.51.100.0/24, 2001:db8:a::/48");
	ok(allowed("198.51.100.7:51820"), "IPv4 inside: yes");
	ok(allowed("198.51.100.255:1"), "IPv4 at the end of the CIDR: yes");
	ok(!allowed("198.51.101.0:51820"), "IPv4 just outside: no");
	is_int(d->src_not_allowed, 1, "... counted");
	ok(allowed("[2001:db8:a:ffff::5]:51820"), "IPv6 inside: yes");
	ok(!allowed("[2001:db8:b::1]:51820"), "IPv6 outside: no");
	is_int(d->src_not_allowed, 2, "... counted");
	ok(allowed("[::ffff:198.51.100.9]:51820"), "v4-mapped IPv6 inside the IPv4 CIDR: yes");
	ok(!allowed("[::ffff:203.0.113.9]:51820"), "v4-mapped IPv6 outside: no");
	is_int(d->src_not_allowed, 3, "... counted");
	memset(&none, 0, sizeof(none));
	ok(!daemon_source_allowed(d, &none), "a source of no known family: no");
	is_int(d->src_not_allowed, 4, "... counted");

	c = daemon_uapi_handler.get(d);
	is_int(c ? drop_named(c, "source_not_allowed", &found) : 0, 4,
	       "get: source_not_allowed shows the refusals");
	conf_free(c);
}

int main(void)
{
	uint8_t k[WG_KEY_LEN];

	crypto_genkey(priv);
	crypto_genkey(k);
	crypto_pubkey(peer1, k);
	crypto_genkey(k);
	crypto_pubkey(peer2, k);

	d = calloc(1, sizeof(*d));
	if (!d)
		abort();
	snprintf(d->ifname, sizeof(d->ifname), "wgtest0");
	d->epfd = d->sigfd = d->timerfd = d->routefd = -1;
	d->xdp = NULL;
	host = wgh_host_new("wgtest0", "198.51.100.1:51820");
	d->dev = host->dev;

	test_apply_and_get();
	test_allowlist();
	test_too_many();
	test_engine_refuses();
	test_source_allowed();
	test_streamed_get();

	free(d->allow_src);
	allowedips_free(d->allow_trie);
	wgh_reset();
	free(d);
	return done_testing();
}
