// SPDX-License-Identifier: GPL-2.0
/*
 * The configuration protocol's text form (https://www.wireguard.com/xplatform/): "key=value"
 * lines, keys in hex. Four directions: the daemon parses set bodies and formats get replies;
 * xdpwgctl formats set bodies and parses get replies.
 *
 * Errors follow wireguard-go, which stock `wg` is tested against: a line without '=' is
 * -EPROTO, everything else malformed is -EINVAL; the daemon writes the value as "errno=-22".
 *
 * xdpwg's extension keys (per peer): roam_policy=roam|pinned|within|multipath|redundant, roam_cidr=CIDR
 * (repeatable; set and get) and the get-only endpoint_moves=N, last_move_time_sec=N. In a set,
 * roam_policy resets the peer's roam_cidr list to the roam_cidr lines that follow it. See
 * config.h for why get replies carry them without an opt-in.
 *
 * And per device (before the first public_key): replace_allow_source=true and allow_source=CIDR
 * (repeatable; set and get: the source allowlist, empty = any source), and the get-only
 * drop_<reason>=N (the engine's drop counters).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto.h"

enum uapi_limits {
	/* longest line we look at: a key, '=', and the longest value (an endpoint) */
	UAPI_LINE_MAX = 256,
};

enum uapi_mode {
	UAPI_SET, /* daemon side: a change request, strict */
	UAPI_GET, /* client side: a snapshot, tolerant of keys it does not know */
};

struct uapi_ctx {
	enum uapi_mode mode;
	struct conf_dev *c;
	bool in_peer;
	bool roam_policy_seen; /* for the current peer */
	char *err;
	size_t errlen;
};

static int __attribute__((format(printf, 4, 5)))
uapi_error(struct uapi_ctx *ctx, int ret, const char *key, const char *fmt, ...)
{
	size_t off;
	va_list ap;

	snprintf(ctx->err, ctx->errlen, "%s: ", key);
	off = strlen(ctx->err);
	va_start(ap, fmt);
	vsnprintf(ctx->err + off, ctx->errlen - off, fmt, ap);
	va_end(ap);
	return ret;
}

/* Strict unsigned decimal: digits only, at most max. */
static bool uapi_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (!s[0])
		return false;
	for (i = 0; s[i]; ++i) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		if (v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return false;
	*out = v;
	return true;
}

static struct conf_peer *uapi_peer(struct uapi_ctx *ctx)
{
	return &ctx->c->peers[ctx->c->n_peers - 1];
}

static int uapi_key(struct uapi_ctx *ctx, const char *key, const char *value,
		    uint8_t out[WG_KEY_LEN])
{
	/* the value is never echoed: it may be a private key */
	if (!crypto_key_from_hex(out, value))
		return uapi_error(ctx, -EINVAL, key, "not a key of 64 hex characters");
	return 0;
}

static int uapi_true(struct uapi_ctx *ctx, const char *key, const char *value)
{
	if (strcmp(value, "true"))
		return uapi_error(ctx, -EINVAL, key, "\"%s\" is not true (the only value allowed)",
				  value);
	return 0;
}

static int uapi_uint_key(struct uapi_ctx *ctx, const char *key, const char *value, uint64_t max,
			 const char *what, uint64_t *out)
{
	if (!uapi_uint(value, max, out))
		return uapi_error(ctx, -EINVAL, key, "\"%s\" is not %s", value, what);
	return 0;
}

/* The end of one peer's lines: is what it says consistent? */
static int uapi_peer_done(struct uapi_ctx *ctx)
{
	struct conf_peer *p;

	if (!ctx->in_peer || ctx->mode != UAPI_SET)
		return 0;
	p = uapi_peer(ctx);
	if (p->flags & CONF_PEER_REMOVE) {
		/* the peer goes whatever its other lines said: keep only the removal, so that the
		 * request reads back (and is applied) as exactly what it does */
		p->flags = CONF_PEER_REMOVE;
		return 0;
	}
	if ((p->flags & CONF_PEER_HAS_ROAM_POLICY) && p->roam_policy == CONF_ROAM_WITHIN &&
	    !p->n_roam_cidrs)
		return uapi_error(ctx, -EINVAL, "roam_policy",
				  "within needs at least one roam_cidr line after it");
	return 0;
}

static int uapi_cidr(struct uapi_ctx *ctx, const char *key, const char *value,
		     struct conf_allowedip *ip);

static int uapi_device_line(struct uapi_ctx *ctx, const char *key, const char *value)
{
	struct conf_dev *c = ctx->c;
	uint64_t v;
	int ret;

	if (!strcmp(key, "private_key")) {
		ret = uapi_key(ctx, key, value, c->private_key);
		if (ret)
			return ret;
		c->flags |= CONF_DEV_HAS_PRIVATE_KEY;
	} else if (!strcmp(key, "listen_port")) {
		ret = uapi_uint_key(ctx, key, value, 65535, "a port number (0-65535)", &v);
		if (ret)
			return ret;
		c->listen_port = (uint16_t)v;
		c->flags |= CONF_DEV_HAS_LISTEN_PORT;
	} else if (!strcmp(key, "fwmark")) {
		ret = uapi_uint_key(ctx, key, value, UINT32_MAX, "a fwmark (0-4294967295)", &v);
		if (ret)
			return ret;
		c->fwmark = (uint32_t)v;
		c->flags |= CONF_DEV_HAS_FWMARK;
	} else if (!strcmp(key, "replace_peers") && ctx->mode == UAPI_SET) {
		ret = uapi_true(ctx, key, value);
		if (ret)
			return ret;
		c->flags |= CONF_DEV_REPLACE_PEERS;
	} else if (!strcmp(key, "replace_allow_source") && ctx->mode == UAPI_SET) {
		ret = uapi_true(ctx, key, value);
		if (ret)
			return ret;
		/* as replace_allowed_ips: drops what earlier lines added */
		c->flags |= CONF_DEV_HAS_ALLOW_SOURCE | CONF_DEV_REPLACE_ALLOW_SOURCE;
		c->n_allow_src = 0;
	} else if (!strcmp(key, "allow_source")) {
		struct conf_allowedip ip;

		ret = uapi_cidr(ctx, key, value, &ip);
		if (ret)
			return ret;
		ret = conf_dev_add_allow_src(c, &ip);
		if (ret)
			return uapi_error(ctx, ret, key, "%s",
					  ret == -E2BIG ? "more than 4096 CIDRs" : "out of memory");
		c->flags |= CONF_DEV_HAS_ALLOW_SOURCE;
	} else if (!strncmp(key, "drop_", 5)) {
		if (ctx->mode == UAPI_SET)
			return uapi_error(ctx, -EINVAL, key,
					  "read-only; only a get reply carries it");
		ret = uapi_uint_key(ctx, key, value, UINT64_MAX, "a number", &v);
		if (ret)
			return ret;
		/* a name we cannot keep, or too many: ignored, as any unknown key */
		if (conf_dev_add_drop(c, key + 5, v) == -ENOMEM)
			return uapi_error(ctx, -ENOMEM, key, "out of memory");
	} else if (ctx->mode == UAPI_GET) {
		return 0; /* a newer daemon's key: ignore, as wg does */
	} else {
		static const char *const peer_keys[] = {
			"update_only",	   "remove",	 "preshared_key",
			"endpoint",	   "allowed_ip", "persistent_keepalive_interval",
			"roam_policy",	   "roam_cidr",	 "replace_allowed_ips",
			"protocol_version"
		};
		size_t i;

		for (i = 0; i < sizeof(peer_keys) / sizeof(peer_keys[0]); ++i)
			if (!strcmp(key, peer_keys[i]))
				return uapi_error(ctx, -EINVAL, key,
						  "peer key before any public_key line");
		return uapi_error(ctx, -EINVAL, key, "unknown device key");
	}
	return 0;
}

static int uapi_cidr(struct uapi_ctx *ctx, const char *key, const char *value,
		     struct conf_allowedip *ip)
{
	/* the protocol always carries the prefix length */
	if (!strchr(value, '/') || conf_parse_allowedip(ip, value))
		return uapi_error(ctx, -EINVAL, key, "\"%s\" is not an IP address/CIDR", value);
	return 0;
}

static int uapi_peer_line(struct uapi_ctx *ctx, const char *key, const char *value)
{
	struct conf_peer *p = uapi_peer(ctx);
	bool set = ctx->mode == UAPI_SET;
	struct conf_allowedip ip;
	uint64_t v;
	int ret;

	if (!strcmp(key, "preshared_key")) {
		ret = uapi_key(ctx, key, value, p->preshared_key);
		if (ret)
			return ret;
		p->flags |= CONF_PEER_HAS_PRESHARED_KEY;
		if (!set && crypto_is_zero(p->preshared_key, WG_KEY_LEN))
			p->flags &= ~(unsigned int)CONF_PEER_HAS_PRESHARED_KEY;
	} else if (!strcmp(key, "endpoint")) {
		if (endpoint_parse(&p->endpoint, value))
			return uapi_error(ctx, -EINVAL, key,
					  "\"%s\" is not IPv4:PORT or [IPv6]:PORT", value);
		p->flags |= CONF_PEER_HAS_ENDPOINT;
	} else if (!strcmp(key, "persistent_keepalive_interval")) {
		ret = uapi_uint_key(ctx, key, value, 65535, "a number of seconds (0-65535)", &v);
		if (ret)
			return ret;
		p->persistent_keepalive = (uint16_t)v;
		p->flags |= CONF_PEER_HAS_PERSISTENT_KEEPALIVE;
	} else if (!strcmp(key, "allowed_ip")) {
		ret = uapi_cidr(ctx, key, value, &ip);
		if (ret)
			return ret;
		if (conf_peer_add_allowedip(p, &ip))
			return uapi_error(ctx, -ENOMEM, key, "out of memory");
	} else if (!strcmp(key, "protocol_version")) {
		if (strcmp(value, "1"))
			return uapi_error(ctx, -EINVAL, key, "\"%s\" is not supported (only 1)",
					  value);
		p->protocol_version = 1;
	} else if (!strcmp(key, "roam_policy")) {
		enum conf_roam_policy pol;

		if (conf_parse_roam_policy(value, &pol))
			return uapi_error(
				ctx, -EINVAL, key,
				"\"%s\" is not roam, pinned, within, multipath or redundant",
				value);
		p->roam_policy = pol;
		p->flags |= CONF_PEER_HAS_ROAM_POLICY;
		ctx->roam_policy_seen = true;
		/* a second roam_policy for the same peer starts its list afresh */
		p->n_roam_cidrs = 0;
	} else if (!strcmp(key, "roam_cidr")) {
		ret = uapi_cidr(ctx, key, value, &ip);
		if (ret)
			return ret;
		if (set && (!ctx->roam_policy_seen || p->roam_policy != CONF_ROAM_WITHIN))
			return uapi_error(ctx, -EINVAL, key,
					  "only valid after roam_policy=within for this peer");
		if (conf_peer_add_roam_cidr(p, &ip))
			return uapi_error(ctx, -ENOMEM, key, "out of memory");
	} else if (set) {
		if (!strcmp(key, "update_only")) {
			ret = uapi_true(ctx, key, value);
			if (ret)
				return ret;
			p->flags |= CONF_PEER_UPDATE_ONLY;
		} else if (!strcmp(key, "remove")) {
			ret = uapi_true(ctx, key, value);
			if (ret)
				return ret;
			p->flags |= CONF_PEER_REMOVE;
		} else if (!strcmp(key, "replace_allowed_ips")) {
			ret = uapi_true(ctx, key, value);
			if (ret)
				return ret;
			p->flags |= CONF_PEER_REPLACE_ALLOWEDIPS;
			/* as wireguard-go: replacing drops what earlier lines added */
			p->n_allowedips = 0;
		} else if (!strcmp(key, "rx_bytes") || !strcmp(key, "tx_bytes") ||
			   !strcmp(key, "last_handshake_time_sec") ||
			   !strcmp(key, "last_handshake_time_nsec") ||
			   !strcmp(key, "endpoint_moves") || !strcmp(key, "last_move_time_sec") ||
			   !strcmp(key, "path") || !strcmp(key, "path_moves") ||
			   !strcmp(key, "copy_bytes") || !strcmp(key, "dup_packets")) {
			return uapi_error(ctx, -EINVAL, key,
					  "read-only; only a get reply carries it");
		} else if (!strcmp(key, "private_key") || !strcmp(key, "listen_port") ||
			   !strcmp(key, "fwmark") || !strcmp(key, "replace_peers") ||
			   !strcmp(key, "allow_source") || !strcmp(key, "replace_allow_source")) {
			return uapi_error(
				ctx, -EINVAL, key,
				"device key after a public_key line (device keys come first)");
		} else {
			return uapi_error(ctx, -EINVAL, key, "unknown peer key");
		}
	} else {
		/* get: the statistics, and anything newer is ignored */
		if (!strcmp(key, "rx_bytes") || !strcmp(key, "tx_bytes") ||
		    !strcmp(key, "endpoint_moves") || !strcmp(key, "path_moves") ||
		    !strcmp(key, "copy_bytes") || !strcmp(key, "dup_packets")) {
			ret = uapi_uint_key(ctx, key, value, UINT64_MAX, "a number", &v);
			if (ret)
				return ret;
			if (!strcmp(key, "rx_bytes"))
				p->rx_bytes = v;
			else if (!strcmp(key, "tx_bytes"))
				p->tx_bytes = v;
			else if (!strcmp(key, "endpoint_moves"))
				p->endpoint_moves = v;
			else if (!strcmp(key, "path_moves"))
				p->path_moves = v;
			else if (!strcmp(key, "copy_bytes"))
				p->copy_bytes = v;
			else
				p->dup_packets = v;
		} else if (!strcmp(key, "path")) {
			if (p->n_paths < CONF_PATHS_MAX &&
			    conf_path_parse(&p->paths[p->n_paths], value))
				return uapi_error(ctx, -EINVAL, key, "\"%s\" is not a path", value);
			if (p->n_paths < CONF_PATHS_MAX)
				p->n_paths++;
		} else if (!strcmp(key, "last_handshake_time_sec") ||
			   !strcmp(key, "last_handshake_time_nsec") ||
			   !strcmp(key, "last_move_time_sec")) {
			ret = uapi_uint_key(ctx, key, value, INT64_MAX, "a number", &v);
			if (ret)
				return ret;
			if (!strcmp(key, "last_handshake_time_sec"))
				p->last_handshake_sec = (int64_t)v;
			else if (!strcmp(key, "last_handshake_time_nsec"))
				p->last_handshake_nsec = (int64_t)v;
			else
				p->last_move_sec = (int64_t)v;
		}
	}
	return 0;
}

static int uapi_line(struct uapi_ctx *ctx, char *line)
{
	char *value = strchr(line, '=');
	struct conf_peer *p;
	int ret;

	if (!value || value == line)
		return uapi_error(ctx, -EPROTO, line[0] ? line : "(empty line)",
				  "not a key=value line");
	*value++ = '\0';
	if (!strcmp(line, "public_key")) {
		ret = uapi_peer_done(ctx);
		if (ret)
			return ret;
		p = conf_add_peer(ctx->c);
		if (!p)
			return uapi_error(ctx, -ENOMEM, line, "out of memory");
		ctx->in_peer = true;
		ctx->roam_policy_seen = false;
		return uapi_key(ctx, line, value, p->public_key);
	}
	if (!ctx->in_peer)
		return uapi_device_line(ctx, line, value);
	return uapi_peer_line(ctx, line, value);
}

static int uapi_parse(enum uapi_mode mode, const char *body, size_t len, struct conf_dev **out,
		      char *err, size_t errlen)
{
	struct uapi_ctx ctx = { .mode = mode, .err = err, .errlen = errlen };
	char *line;
	size_t pos = 0;
	int ret = 0;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	ctx.c = conf_new();
	/* lines carry keys: the scratch line lives in secure memory too */
	line = crypto_secure_alloc(UAPI_LINE_MAX + 1);
	if (!ctx.c || !line) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto out;
	}
	/* each pass consumes at least one byte of body */
	while (pos < len) {
		const char *start = body + pos, *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;

		pos += n + (nl ? 1 : 0);
		if (n > UAPI_LINE_MAX) {
			ret = uapi_error(&ctx, -EPROTO, "line", "longer than %d bytes",
					 UAPI_LINE_MAX);
			goto out;
		}
		memcpy(line, start, n);
		line[n] = '\0';
		if (memchr(line, '\0', n)) {
			ret = uapi_error(&ctx, -EPROTO, "line", "contains a NUL byte");
			goto out;
		}
		if (mode == UAPI_GET && !strncmp(line, "errno=", 6)) {
			uint64_t e;

			/* the reply's status line: the daemon's own error, as a negative errno */
			if (!strcmp(line + 6, "0"))
				break;
			ret = -EPROTO;
			if (line[6] == '-' && uapi_uint(line + 7, 4095, &e) && e)
				ret = -(int)e;
			uapi_error(&ctx, ret, "errno", "the daemon answered %s", line + 6);
			goto out;
		}
		ret = uapi_line(&ctx, line);
		if (ret)
			goto out;
	}
	ret = uapi_peer_done(&ctx);
	if (!ret && mode == UAPI_GET && (ctx.c->flags & CONF_DEV_HAS_PRIVATE_KEY)) {
		if (crypto_is_zero(ctx.c->private_key, WG_KEY_LEN))
			ctx.c->flags &= ~(unsigned int)CONF_DEV_HAS_PRIVATE_KEY;
		else
			crypto_pubkey(ctx.c->public_key, ctx.c->private_key);
	}
out:
	crypto_secure_free(line);
	if (ret) {
		conf_free(ctx.c);
		return ret;
	}
	*out = ctx.c;
	return 0;
}

int uapi_parse_set(const char *body, size_t len, struct conf_dev **out, char *err, size_t errlen)
{
	return uapi_parse(UAPI_SET, body, len, out, err, errlen);
}

int uapi_parse_get(const char *body, size_t len, struct conf_dev **out, char *err, size_t errlen)
{
	return uapi_parse(UAPI_GET, body, len, out, err, errlen);
}

/*
 * The get reply's lines are written without printf: at a million peers a get=1 is 14 million
 * lines, and fprintf's format parsing was most of the daemon's side of `wg show` (issue #21).
 * Each line is built in a small buffer and written with one fwrite; the caller's FILE is
 * fully buffered (and the key lines are wiped from the line buffer after use).
 */
enum {
	UAPI_OUT_LINE = 128
};

/* v in decimal at the end of buf[0..UAPI_U64_LEN): the first digit's offset. */
enum {
	UAPI_U64_LEN = 20
};
static size_t uapi_u64_digits(char buf[UAPI_U64_LEN], uint64_t v)
{
	size_t at = UAPI_U64_LEN;

	do {
		buf[--at] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return at;
}

/* "name=value\n" (name and value shorter than a line together: the callers' are) */
static void uapi_put(FILE *out, const char *name, size_t nlen, const char *value, size_t vlen)
{
	char line[UAPI_OUT_LINE];

	if (nlen + vlen + 2 > sizeof(line)) {
		fprintf(out, "%.*s=%.*s\n", (int)nlen, name, (int)vlen, value);
		return;
	}
	memcpy(line, name, nlen);
	line[nlen] = '=';
	memcpy(line + nlen + 1, value, vlen);
	line[nlen + 1 + vlen] = '\n';
	fwrite(line, 1, nlen + vlen + 2, out);
}

#define UAPI_PUT_STR(out, name, value) uapi_put(out, name, sizeof(name) - 1, value, strlen(value))

static void uapi_put_u64(FILE *out, const char *name, size_t nlen, uint64_t v)
{
	char digits[UAPI_U64_LEN];
	size_t at = uapi_u64_digits(digits, v);

	uapi_put(out, name, nlen, digits + at, UAPI_U64_LEN - at);
}

static void uapi_put_i64(FILE *out, const char *name, size_t nlen, int64_t v)
{
	char digits[UAPI_U64_LEN + 1];
	/* the magnitude as unsigned: -INT64_MIN does not fit an int64_t */
	size_t at = uapi_u64_digits(digits + 1, v < 0 ? 0 - (uint64_t)v : (uint64_t)v) + 1;

	if (v < 0)
		digits[--at] = '-';
	uapi_put(out, name, nlen, digits + at, UAPI_U64_LEN + 1 - at);
}

#define UAPI_PUT_U64(out, name, v) uapi_put_u64(out, name, sizeof(name) - 1, (uint64_t)(v))
#define UAPI_PUT_I64(out, name, v) uapi_put_i64(out, name, sizeof(name) - 1, (int64_t)(v))

static void uapi_put_key(FILE *out, const char *name, const uint8_t key[WG_KEY_LEN])
{
	char line[UAPI_OUT_LINE];
	size_t n = strlen(name);

	/* the hex straight into the line: the key never sits in a second buffer */
	memcpy(line, name, n);
	line[n] = '=';
	crypto_key_to_hex(line + n + 1, key);
	line[n + 1 + CRYPTO_KEY_HEX_LEN] = '\n';
	fwrite(line, 1, n + CRYPTO_KEY_HEX_LEN + 2, out);
	crypto_wipe(line, sizeof(line));
}

static void uapi_put_cidrs(FILE *out, const char *name, const struct conf_allowedip *ips, size_t n)
{
	char buf[INET6_ADDRSTRLEN + 8];
	size_t i;

	for (i = 0; i < n; ++i) {
		conf_format_allowedip(&ips[i], buf, sizeof(buf));
		uapi_put(out, name, strlen(name), buf, strlen(buf));
	}
}

int uapi_format_get(const struct conf_dev *c, FILE *out)
{
	char ep[ENDPOINT_STRLEN];
	size_t i;

	/* wireguard-go's order, which is what clients have seen the most of */
	if (!crypto_is_zero(c->private_key, WG_KEY_LEN))
		uapi_put_key(out, "private_key", c->private_key);
	if (c->listen_port)
		UAPI_PUT_U64(out, "listen_port", c->listen_port);
	if (c->fwmark)
		UAPI_PUT_U64(out, "fwmark", c->fwmark);
	/* device-level extensions: wg(8) ignores unknown device keys */
	uapi_put_cidrs(out, "allow_source", c->allow_src, c->n_allow_src);
	for (i = 0; i < c->n_drops; ++i)
		fprintf(out, "drop_%s=%" PRIu64 "\n", c->drops[i].name, c->drops[i].value);
	for (i = 0; i < c->n_peers; ++i) {
		const struct conf_peer *p = &c->peers[i];

		uapi_put_key(out, "public_key", p->public_key);
		uapi_put_key(out, "preshared_key", p->preshared_key);
		fputs("protocol_version=1\n", out);
		if (endpoint_is_set(&p->endpoint))
			UAPI_PUT_STR(out, "endpoint", endpoint_format(&p->endpoint, ep));
		UAPI_PUT_I64(out, "last_handshake_time_sec", p->last_handshake_sec);
		UAPI_PUT_I64(out, "last_handshake_time_nsec", p->last_handshake_nsec);
		UAPI_PUT_U64(out, "tx_bytes", p->tx_bytes);
		UAPI_PUT_U64(out, "rx_bytes", p->rx_bytes);
		UAPI_PUT_U64(out, "persistent_keepalive_interval", p->persistent_keepalive);
		uapi_put_cidrs(out, "allowed_ip", p->allowedips, p->n_allowedips);
		/* extensions last, so a stock parser has seen everything it knows first */
		UAPI_PUT_STR(out, "roam_policy", conf_roam_policy_name(p->roam_policy));
		uapi_put_cidrs(out, "roam_cidr", p->roam_cidrs, p->n_roam_cidrs);
		UAPI_PUT_U64(out, "endpoint_moves", p->endpoint_moves);
		UAPI_PUT_I64(out, "last_move_time_sec", p->last_move_sec);
		for (size_t j = 0; j < p->n_paths; j++) {
			char line[CONF_PATH_STRLEN];

			UAPI_PUT_STR(out, "path", conf_path_format(&p->paths[j], line));
		}
		if (p->n_paths || p->path_moves)
			UAPI_PUT_U64(out, "path_moves", p->path_moves);
		if (p->copy_bytes || p->dup_packets) {
			UAPI_PUT_U64(out, "copy_bytes", p->copy_bytes);
			UAPI_PUT_U64(out, "dup_packets", p->dup_packets);
		}
	}
	return ferror(out) ? -EIO : 0;
}

int uapi_format_set(const struct conf_dev *c, FILE *out)
{
	char ep[ENDPOINT_STRLEN];
	size_t i;

	/* wg(8)'s order; extension keys only when asked for, since stock daemons refuse them */
	if (c->flags & CONF_DEV_HAS_PRIVATE_KEY)
		uapi_put_key(out, "private_key", c->private_key);
	if (c->flags & CONF_DEV_HAS_LISTEN_PORT)
		fprintf(out, "listen_port=%u\n", c->listen_port);
	if (c->flags & CONF_DEV_HAS_FWMARK)
		fprintf(out, "fwmark=%u\n", c->fwmark);
	if (c->flags & CONF_DEV_REPLACE_PEERS)
		fprintf(out, "replace_peers=true\n");
	/* the extension only when asked for (stock daemons refuse unknown keys) */
	if (c->flags & CONF_DEV_HAS_ALLOW_SOURCE) {
		if (c->flags & CONF_DEV_REPLACE_ALLOW_SOURCE)
			fprintf(out, "replace_allow_source=true\n");
		uapi_put_cidrs(out, "allow_source", c->allow_src, c->n_allow_src);
	}
	for (i = 0; i < c->n_peers; ++i) {
		const struct conf_peer *p = &c->peers[i];

		uapi_put_key(out, "public_key", p->public_key);
		if (p->flags & CONF_PEER_REMOVE) {
			fprintf(out, "remove=true\n");
			continue;
		}
		if (p->flags & CONF_PEER_UPDATE_ONLY)
			fprintf(out, "update_only=true\n");
		if (p->flags & CONF_PEER_HAS_PRESHARED_KEY)
			uapi_put_key(out, "preshared_key", p->preshared_key);
		if ((p->flags & CONF_PEER_HAS_ENDPOINT) && endpoint_is_set(&p->endpoint))
			fprintf(out, "endpoint=%s\n", endpoint_format(&p->endpoint, ep));
		if (p->flags & CONF_PEER_HAS_PERSISTENT_KEEPALIVE)
			fprintf(out, "persistent_keepalive_interval=%u\n", p->persistent_keepalive);
		if (p->flags & CONF_PEER_REPLACE_ALLOWEDIPS)
			fprintf(out, "replace_allowed_ips=true\n");
		uapi_put_cidrs(out, "allowed_ip", p->allowedips, p->n_allowedips);
		if (p->flags & CONF_PEER_HAS_ROAM_POLICY) {
			fprintf(out, "roam_policy=%s\n", conf_roam_policy_name(p->roam_policy));
			uapi_put_cidrs(out, "roam_cidr", p->roam_cidrs, p->n_roam_cidrs);
		}
	}
	return ferror(out) ? -EIO : 0;
}
