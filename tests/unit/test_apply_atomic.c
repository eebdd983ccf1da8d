// SPDX-License-Identifier: GPL-2.0
/*
 * wg_device_apply is all or nothing (issue #15) even when memory runs out. This binary is linked
 * with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=crypto_secure_alloc (Makefile), so
 * every allocation the engine and lib make goes through a counter that can refuse the Nth. Each
 * request is applied with N = 1, 2, ... refused until it succeeds: every refused apply must
 * return -ENOMEM with a message, leave the snapshot (keys, port, peers, endpoints, allowed IPs,
 * keepalive, roam policy, counters) exactly as before and call no hook (bind, peer_added,
 * peer_removed, session_add, session_del); the one that succeeds must leave what the same request
 * leaves on an identical device that had no refusal, peer ids included.
 */
#include "allowedips.h"
#include "tap.h"
#include "wg_harness.h"

/* --- allocation failure injection --- */

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__real_crypto_secure_alloc(size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
void *__wrap_crypto_secure_alloc(size_t n);

static bool inj_armed;
static long inj_fail_at; /* refuse the allocation with this number (1-based) */
static long inj_count;	 /* allocations seen while armed */
static bool inj_fired;

static bool inj_refuse_all; /* refuse every allocation while armed */

static bool inj_refuse(void)
{
	if (!inj_armed)
		return false;
	if (inj_refuse_all)
		return true;
	if (++inj_count != inj_fail_at)
		return false;
	inj_fired = true;
	return true;
}

void *__wrap_malloc(size_t n)
{
	return inj_refuse() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
	return inj_refuse() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
	return inj_refuse() ? NULL : __real_realloc(p, n);
}

void *__wrap_crypto_secure_alloc(size_t n)
{
	return inj_refuse() ? NULL : __real_crypto_secure_alloc(n);
}

/* --- hooks: every call counted per host --- */

struct hook_counts {
	int binds, peer_added, peer_removed, session_add, session_del;
};

static struct hook_counts hooks[WGH_MAX_HOSTS];

static struct hook_counts *hooks_of(void *ctx)
{
	return &hooks[(struct wgh_host *)ctx - wgh_hosts];
}

static int t_bind(void *ctx, uint16_t port, uint32_t fwmark)
{
	hooks_of(ctx)->binds++;
	return wgh_bind(ctx, port, fwmark);
}

static void t_peer_added(void *ctx, struct wg_peer *peer)
{
	(void)peer;
	hooks_of(ctx)->peer_added++;
}

static void t_peer_removed(void *ctx, struct wg_peer *peer)
{
	(void)peer;
	hooks_of(ctx)->peer_removed++;
}

static void t_session_add(void *ctx, uint32_t idx, struct wg_peer *peer)
{
	hooks_of(ctx)->session_add++;
	wgh_session_add(ctx, idx, peer);
}

static void t_session_del(void *ctx, uint32_t idx)
{
	hooks_of(ctx)->session_del++;
	wgh_session_del(ctx, idx);
}

static const struct wg_io_ops t_ops = {
	.send = wgh_send,
	.deliver = wgh_deliver,
	.bind = t_bind,
	.endpoint_moved = wgh_moved,
	.session_add = t_session_add,
	.session_del = t_session_del,
	.peer_added = t_peer_added,
	.peer_removed = t_peer_removed,
};

/* --- comparing devices --- */

static bool ips_equal(const struct conf_allowedip *a, size_t na, const struct conf_allowedip *b,
		      size_t nb)
{
	return na == nb && (!na || !memcmp(a, b, na * sizeof(*a)));
}

/* Equal snapshots, or false with the first difference as a diagnostic. */
static bool snap_equal(const struct conf_dev *a, const struct conf_dev *b)
{
	size_t i;

	if (!a || !b) {
		tap_diag("snapshot failed");
		return false;
	}
	if (a->flags != b->flags || memcmp(a->private_key, b->private_key, WG_KEY_LEN) ||
	    memcmp(a->public_key, b->public_key, WG_KEY_LEN)) {
		tap_diag("device key or flags differ");
		return false;
	}
	if (a->listen_port != b->listen_port || a->fwmark != b->fwmark) {
		tap_diag("port %u != %u or fwmark differs", a->listen_port, b->listen_port);
		return false;
	}
	if (a->n_peers != b->n_peers) {
		tap_diag("%zu peers != %zu", a->n_peers, b->n_peers);
		return false;
	}
	for (i = 0; i < a->n_peers; i++) {
		const struct conf_peer *p = &a->peers[i], *q = &b->peers[i];

		if (memcmp(p->public_key, q->public_key, WG_KEY_LEN) ||
		    memcmp(p->preshared_key, q->preshared_key, WG_KEY_LEN) ||
		    p->flags != q->flags) {
			tap_diag("peer %zu: key, psk or flags differ", i);
			return false;
		}
		if (!endpoint_eq(&p->endpoint, &q->endpoint)) {
			tap_diag("peer %zu: endpoint differs", i);
			return false;
		}
		if (p->persistent_keepalive != q->persistent_keepalive ||
		    p->roam_policy != q->roam_policy) {
			tap_diag("peer %zu: keepalive or roam policy differs", i);
			return false;
		}
		if (!ips_equal(p->allowedips, p->n_allowedips, q->allowedips, q->n_allowedips)) {
			tap_diag("peer %zu: allowed IPs differ (%zu, %zu)", i, p->n_allowedips,
				 q->n_allowedips);
			return false;
		}
		if (!ips_equal(p->roam_cidrs, p->n_roam_cidrs, q->roam_cidrs, q->n_roam_cidrs)) {
			tap_diag("peer %zu: roam CIDRs differ", i);
			return false;
		}
		if (p->rx_bytes != q->rx_bytes || p->tx_bytes != q->tx_bytes ||
		    p->last_handshake_sec != q->last_handshake_sec ||
		    p->last_handshake_nsec != q->last_handshake_nsec) {
			tap_diag("peer %zu: counters or handshake time differ", i);
			return false;
		}
	}
	return true;
}

/* The peers' ids, in list order, with their keys: what a refused apply must not use up. */
static bool ids_equal(struct wg_device *a, struct wg_device *b)
{
	struct wg_peer_tx *x = NULL, *y = NULL;
	size_t cx = 0, cy = 0;
	ssize_t nx = wg_device_peers_tx(a, &x, &cx), ny = wg_device_peers_tx(b, &y, &cy);
	bool same = nx >= 0 && nx == ny;

	for (ssize_t i = 0; same && i < nx; i++)
		same = x[i].id == y[i].id && !memcmp(wg_peer_public_key(x[i].peer),
						     wg_peer_public_key(y[i].peer), WG_KEY_LEN);
	free(x);
	free(y);
	return same;
}

/* --- the loop --- */

struct inj_result {
	long refused;	    /* applies refused, each checked */
	long bad;	    /* refused ones that changed something or said the wrong thing */
	long success_at;    /* the allocation refused in the apply that succeeded */
	bool success_fired; /* and whether it was reached: a best-effort send after the commit */
	int final_ret;	    /* what the last apply returned */
	bool final_same;    /* the device after it equals the reference */
};

/*
 * Apply req to dev with the 1st, 2nd, ... allocation refused until an apply succeeds; then
 * compare with ref, an identical device that took req without any refusal.
 */
static struct inj_result apply_refusing_each(struct wgh_host *h, struct wgh_host *ref,
					     const struct conf_dev *req)
{
	struct inj_result r = { 0 };
	struct hook_counts *hk = &hooks[h - wgh_hosts];
	char err[256];
	long n;

	for (n = 1; n < 100000; n++) {
		struct conf_dev *before = wg_device_snapshot(h->dev), *after;
		struct hook_counts hb = *hk;
		int sessions = (int)h->sessions;
		int ret;

		inj_count = 0;
		inj_fired = false;
		inj_fail_at = n;
		inj_armed = true;
		ret = wg_device_apply(h->dev, req, err, sizeof(err));
		inj_armed = false;
		if (ret == 0) {
			conf_free(before);
			r.final_ret = ret;
			r.success_at = n;
			r.success_fired = inj_fired;
			break;
		}
		r.refused++;
		after = wg_device_snapshot(h->dev);
		if (ret != -ENOMEM || !inj_fired || !err[0] || !strstr(err, strerror(ENOMEM))) {
			tap_diag("allocation %ld refused: %d \"%s\"", n, ret, err);
			r.bad++;
		} else if (!snap_equal(before, after)) {
			tap_diag("allocation %ld refused (%s): the device changed", n, err);
			r.bad++;
		} else if (memcmp(&hb, hk, sizeof(hb)) || sessions != (int)h->sessions) {
			tap_diag("allocation %ld refused (%s): hooks called (bind %d->%d, added "
				 "%d->%d, "
				 "removed %d->%d, session_del %d->%d)",
				 n, err, hb.binds, hk->binds, hb.peer_added, hk->peer_added,
				 hb.peer_removed, hk->peer_removed, hb.session_del,
				 hk->session_del);
			r.bad++;
		}
		conf_free(before);
		conf_free(after);
		if (r.bad > 3)
			break; /* enough said */
	}
	if (r.final_ret == 0 && !r.bad) {
		struct conf_dev *a = wg_device_snapshot(h->dev), *b;
		char rerr[256];

		if (wg_device_apply(ref->dev, req, rerr, sizeof(rerr)))
			tap_diag("the reference refused the request: %s", rerr);
		b = wg_device_snapshot(ref->dev);
		r.final_same = snap_equal(a, b) && ids_equal(h->dev, ref->dev);
		conf_free(a);
		conf_free(b);
	}
	return r;
}

static void report(const char *what, const struct inj_result *r)
{
	ok(r->refused > 0 && r->bad == 0,
	   "%s: %ld allocations refused in turn, each one: -ENOMEM, a message, nothing changed, "
	   "no hook",
	   what, r->refused);
	ok(r->final_ret == 0 && r->final_same,
	   "%s: then applied as on a device that had no failure (allocation %ld %s)", what,
	   r->success_at,
	   r->success_fired ? "refused, so it failed after the commit: only a best-effort send "
			      "(a keepalive staged) may"
			    : "never reached");
}

/* --- requests --- */

static uint8_t keys[16][WG_KEY_LEN]; /* peers' public keys */
static uint8_t privs[4][WG_KEY_LEN]; /* hosts' private keys */
static uint8_t psk[WG_KEY_LEN];

static void make_keys(void)
{
	uint8_t priv[WG_KEY_LEN];
	size_t i;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		crypto_genkey(priv);
		crypto_pubkey(keys[i], priv);
	}
	for (i = 0; i < sizeof(privs) / sizeof(privs[0]); i++)
		crypto_genkey(privs[i]);
	crypto_random(psk, sizeof(psk));
}

static void host_keys(struct wgh_host *h, int which)
{
	memcpy(h->priv, privs[which], WG_KEY_LEN);
	crypto_pubkey(h->pub, h->priv);
}

/* A peer with everything a request can say: psk, endpoint, keepalive, roam within two CIDRs,
 * allowed IPs given as "a,b,c" (parsed one by one). */
static struct conf_peer *full_peer(struct conf_dev *c, const uint8_t *key, const char *endpoint,
				   const char *const *ips)
{
	struct conf_peer *p = conf_add_peer(c);
	struct conf_allowedip ip;

	memcpy(p->public_key, key, WG_KEY_LEN);
	memcpy(p->preshared_key, psk, WG_KEY_LEN);
	p->flags = CONF_PEER_HAS_PRESHARED_KEY | CONF_PEER_HAS_ENDPOINT |
		   CONF_PEER_HAS_PERSISTENT_KEEPALIVE | CONF_PEER_HAS_ROAM_POLICY |
		   CONF_PEER_REPLACE_ALLOWEDIPS;
	wgh_set_addr(&p->endpoint, endpoint);
	p->persistent_keepalive = 25;
	p->roam_policy = CONF_ROAM_WITHIN;
	wgh_prefix(&ip, "203.0.113.0/24");
	conf_peer_add_roam_cidr(p, &ip);
	wgh_prefix(&ip, "2001:db8:ffff::/48");
	conf_peer_add_roam_cidr(p, &ip);
	for (; ips && *ips; ips++) {
		wgh_prefix(&ip, *ips);
		conf_peer_add_allowedip(p, &ip);
	}
	return p;
}

/* a and b (a knows b's endpoint) with a session up, b's keys fixed so that two pairs match */
static void pair_with_session(struct wgh_host *a, struct wgh_host *b)
{
	uint8_t pkt[200];
	size_t len;

	host_keys(a, 0);
	host_keys(b, 1);
	wgh_pair(a, b, NULL, NULL, true, false);
	len = wgh_ip4(pkt, "192.0.2.1", "192.0.2.2", 20, 1);
	wg_device_tx(wg_device_path(a->dev), pkt, len);
	wgh_pump();
}

static void test_key_port_replace(void)
{
	static const char *const ips1[] = { "10.1.0.0/16", "10.2.0.1/32", "2001:db8:1::/64", NULL };
	static const char *const ips2[] = { "10.1.1.0/24", "10.3.0.0/16", "2001:db8:2::/64", NULL };
	static const char *const ips3[] = { "10.4.0.0/15", "10.1.2.0/24", "fd00::/8", NULL };
	struct wgh_host *a, *b, *ra, *rb;
	struct conf_allowedip ip;
	struct conf_dev *c;
	struct conf_peer *p;
	struct inj_result r;

	wgh_reset();
	memset(hooks, 0, sizeof(hooks));
	a = wgh_host_new_ops("a", "198.51.100.1:51820", &t_ops);
	b = wgh_host_new_ops("b", "198.51.100.2:51821", &t_ops);
	ra = wgh_host_new_ops("ra", "198.18.0.1:51820", &t_ops);
	rb = wgh_host_new_ops("rb", "198.18.0.2:51821", &t_ops);
	pair_with_session(a, b);
	pair_with_session(ra, rb);
	ok(a->sessions > 0 && ra->sessions > 0,
	   "a has a session with b (and so does the reference)");

	/* new key, new port, peers replaced by three new ones (one of them twice, with more
	 * allowed IPs the second time), our own new key among them */
	c = conf_new();
	memcpy(c->private_key, privs[2], WG_KEY_LEN);
	c->flags = CONF_DEV_HAS_PRIVATE_KEY | CONF_DEV_HAS_LISTEN_PORT | CONF_DEV_REPLACE_PEERS;
	c->listen_port = 51999;
	full_peer(c, keys[0], "203.0.113.1:1000", ips1);
	full_peer(c, keys[1], "[2001:db8:ffff::1]:2000", ips2);
	p = conf_add_peer(c);
	crypto_pubkey(p->public_key, privs[2]);
	full_peer(c, keys[2], "203.0.113.3:3000", ips3);
	p = conf_add_peer(c);
	memcpy(p->public_key, keys[0], WG_KEY_LEN);
	wgh_prefix(&ip, "10.9.9.9/32");
	conf_peer_add_allowedip(p, &ip);

	r = apply_refusing_each(a, ra, c);
	report("new key + port + replace peers", &r);
	conf_free(c);
	c = wg_device_snapshot(a->dev);
	ok(c && c->n_peers == 3 && c->listen_port == 51999 && a->sessions == 0 &&
		   hooks[0].session_del > 0 && hooks[0].peer_removed == 1,
	   "and it did replace everything: 3 peers, port 51999, b's sessions ended");
	conf_free(c);
}

/* one peer at a time onto a device that has some, each request with its order semantics */
static void test_incremental(void)
{
	static const char *const base_ips[][3] = {
		{ "10.0.1.0/24", "2001:db8:a::/64", NULL },
		{ "10.0.2.0/24", "10.0.3.0/24", NULL },
		{ "10.0.4.0/24", NULL, NULL },
	};
	static const char *const ips_new[][4] = {
		{ "10.5.0.1/32", "2001:db8:5::/64", NULL },
		/* takes 10.0.2.0/24 from keys[11]: an exact prefix changing owner */
		{ "10.6.0.0/16", "10.0.2.0/24", "2001:db8:6::1/128", NULL },
		{ "10.7.0.0/24", NULL },
	};
	struct wgh_host *a, *ra;
	struct conf_dev *c;
	struct conf_peer *p;
	struct inj_result r;
	char what[64];
	size_t i;

	wgh_reset();
	memset(hooks, 0, sizeof(hooks));
	a = wgh_host_new_ops("a", "198.51.100.1:51820", &t_ops);
	ra = wgh_host_new_ops("ra", "198.18.0.1:51820", &t_ops);
	host_keys(a, 0);
	host_keys(ra, 0);
	for (i = 0; i < 2; i++) {
		struct wgh_host *h = i ? ra : a;

		c = conf_new();
		memcpy(c->private_key, h->priv, WG_KEY_LEN);
		c->flags = CONF_DEV_HAS_PRIVATE_KEY | CONF_DEV_HAS_LISTEN_PORT;
		c->listen_port = 51820;
		full_peer(c, keys[10], "203.0.113.10:10", base_ips[0]);
		full_peer(c, keys[11], "203.0.113.11:11", base_ips[1]);
		full_peer(c, keys[12], "203.0.113.12:12", base_ips[2]);
		if (wgh_apply(h, c))
			abort();
		conf_free(c);
	}

	/* one new peer per request */
	for (i = 0; i < 3; i++) {
		c = conf_new();
		full_peer(c, keys[3 + i], "203.0.113.20:20", ips_new[i]);
		snprintf(what, sizeof(what), "add peer %zu", i + 1);
		r = apply_refusing_each(a, ra, c);
		report(what, &r);
		conf_free(c);
	}

	/* order semantics: remove then add back the same key (a new peer), update_only for an
	 * absent key (skipped), a new key twice, a remove of an absent key, our own key */
	c = conf_new();
	p = conf_add_peer(c);
	memcpy(p->public_key, keys[10], WG_KEY_LEN);
	p->flags = CONF_PEER_REMOVE;
	full_peer(c, keys[10], "203.0.113.30:30", ips_new[2]);
	p = conf_add_peer(c);
	memcpy(p->public_key, keys[7], WG_KEY_LEN);
	p->flags = CONF_PEER_UPDATE_ONLY | CONF_PEER_HAS_PERSISTENT_KEEPALIVE;
	p->persistent_keepalive = 5;
	full_peer(c, keys[8], "203.0.113.31:31", base_ips[2]);
	full_peer(c, keys[8], "203.0.113.32:32", ips_new[0]);
	p = conf_add_peer(c);
	memcpy(p->public_key, keys[9], WG_KEY_LEN);
	p->flags = CONF_PEER_REMOVE;
	p = conf_add_peer(c);
	memcpy(p->public_key, a->pub, WG_KEY_LEN);
	r = apply_refusing_each(a, ra, c);
	report("remove + add back, update_only, duplicate, own key", &r);
	conf_free(c);

	/* a new peer added then removed in one request, and an existing one removed */
	c = conf_new();
	full_peer(c, keys[13], "203.0.113.40:40", ips_new[1]);
	p = conf_add_peer(c);
	memcpy(p->public_key, keys[13], WG_KEY_LEN);
	p->flags = CONF_PEER_REMOVE;
	p = conf_add_peer(c);
	memcpy(p->public_key, keys[11], WG_KEY_LEN);
	p->flags = CONF_PEER_REMOVE;
	full_peer(c, keys[14], "203.0.113.41:41", ips_new[1]);
	r = apply_refusing_each(a, ra, c);
	report("add + remove in one request, remove an existing peer", &r);
	conf_free(c);
}

/* the semantics the plan reproduces, checked without any refusal (true of the old apply too) */
static void test_order_semantics(void)
{
	static const char *const ips_x[] = { "10.8.0.0/24", NULL };
	static const char *const ips_y[] = { "10.8.0.0/24", "10.9.0.0/24", NULL };
	struct wgh_host *a;
	struct conf_dev *c, *s;
	struct conf_peer *p;

	wgh_reset();
	memset(hooks, 0, sizeof(hooks));
	a = wgh_host_new_ops("a", "198.51.100.1:51820", &t_ops);
	c = conf_new();
	memcpy(c->private_key, a->priv, WG_KEY_LEN);
	c->flags = CONF_DEV_HAS_PRIVATE_KEY;
	full_peer(c, keys[0], "203.0.113.1:1", ips_x);
	full_peer(c, keys[1], "203.0.113.2:2", ips_y); /* takes 10.8.0.0/24 from keys[0] */
	p = conf_add_peer(c);
	memcpy(p->public_key, keys[0], WG_KEY_LEN);
	p->flags = CONF_PEER_REMOVE;
	p = conf_add_peer(c);
	memcpy(p->public_key, keys[0], WG_KEY_LEN); /* added back: a new peer, no IPs */
	is_int(wgh_apply(a, c), 0, "add, steal, remove, add back");
	conf_free(c);
	s = wg_device_snapshot(a->dev);
	ok(s && s->n_peers == 2 && !memcmp(s->peers[0].public_key, keys[1], WG_KEY_LEN) &&
		   s->peers[0].n_allowedips == 2 && s->peers[1].n_allowedips == 0 &&
		   !endpoint_is_set(&s->peers[1].endpoint),
	   "the peer added back is new: listed last, no IPs, no endpoint");
	is_int(hooks[0].peer_added, 3, "peer_added for each peer made");
	is_int(hooks[0].peer_removed, 1, "peer_removed for the one removed");
	conf_free(s);

	/* the new private key's public key is a peer: that peer goes, and is not added back */
	c = conf_new();
	memcpy(c->private_key, privs[3], WG_KEY_LEN);
	c->flags = CONF_DEV_HAS_PRIVATE_KEY;
	p = conf_add_peer(c);
	crypto_pubkey(p->public_key, privs[3]);
	{
		struct conf_dev *c2 = conf_new();

		p = conf_add_peer(c2);
		crypto_pubkey(p->public_key, privs[3]);
		is_int(wgh_apply(a, c2), 0, "a peer with the key we are about to take");
		conf_free(c2);
	}
	is_int(wgh_apply(a, c), 0, "take that key, listing the peer again");
	conf_free(c);
	s = wg_device_snapshot(a->dev);
	ok(s && s->n_peers == 2, "our own key is no peer, before or after");
	conf_free(s);
}

/* allowedips_reserve: the reserved inserts succeed with every allocation refused */
static void test_reserve(void)
{
	enum {
		N = 100 /* owners: past the index's first 64 buckets */
	};
	static char owners[N + 1];
	struct allowedips *t = allowedips_new();
	uint8_t a4[4] = { 10, 0, 0, 0 };
	int i, fails = 0, ret;

	for (i = 0; i < 10; i++) {
		a4[1] = (uint8_t)i;
		allowedips_insert(t, AF_INET, a4, 16, &owners[N]);
	}
	is_int(allowedips_reserve(t, N + 1, N), 0, "room reserved for 101 inserts, 100 new owners");
	inj_refuse_all = inj_armed = true;
	for (i = 0; i < N; i++) {
		a4[1] = (uint8_t)(i % 10);
		a4[2] = (uint8_t)i;
		a4[3] = (uint8_t)(i * 7);
		fails += allowedips_insert(t, AF_INET, a4, i % 2 ? 24 : 32, &owners[i]) != 0;
	}
	/* an existing prefix changing owner */
	a4[1] = 3;
	a4[2] = a4[3] = 0;
	fails += allowedips_insert(t, AF_INET, a4, 16, &owners[0]) != 0;
	inj_refuse_all = inj_armed = false;
	is_int(fails, 0, "every reserved insert succeeded with malloc refusing everything");
	is_int(allowedips_count(t), 10 + N, "the table holds them all");
	ok(allowedips_lookup(t, AF_INET, a4) == &owners[0], "the moved prefix has its new owner");
	allowedips_unreserve(t);
	inj_refuse_all = inj_armed = true;
	ret = allowedips_insert(t, AF_INET, a4, 8, &owners[1]);
	inj_refuse_all = inj_armed = false;
	is_int(ret, -ENOMEM, "after unreserve, an insert needs memory again");
	allowedips_remove_by_owner(t, &owners[N]);
	is_int(allowedips_count(t), N + 1, "and the table works as before");
	allowedips_free(t);
}

int main(void)
{
	uint8_t h[WG_HASH_LEN];

	/* per-thread crypto contexts exist before anything is refused (their allocation
	 * failing is fatal by design) */
	crypto_hash(h, "x", 1, NULL, 0);
	make_keys();
	test_reserve();
	test_order_semantics();
	test_key_port_replace();
	test_incremental();
	wgh_reset();
	return done_testing();
}
