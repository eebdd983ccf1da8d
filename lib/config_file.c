// SPDX-License-Identifier: GPL-2.0
/*
 * The configuration model's file forms: wg(8)'s config files (setconf, addconf, syncconf,
 * showconf; xdpwg's own keys RoamPolicy, RoamWithin, AllowSource), and key files, which must be
 * 0600 or are refused. The model itself is config.c; the UAPI text form is uapi_text.c.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "crypto.h"

enum conf_limits {
	CONF_MIN_CAPACITY = 4,
	/* a config file bigger than this is not a config file */
	CONF_FILE_MAX = 16 << 20,
	/* base64 key, a newline and some slack; anything longer is refused */
	CONF_KEYFILE_MAX = 256,
};

/* Arrays grow to powers of two, so the capacity follows from the count alone. */
/* ---- wg(8) config files ---- */

struct conf_file_ctx {
	const char *name;
	unsigned int line;
	struct conf_dev *c;
	bool in_interface, in_peer;
	bool roam_policy_given; /* for the current peer */
	bool public_key_given;	/* for the current peer */
	char *err;
	size_t errlen;
};

static int __attribute__((format(printf, 3, 4)))
conf_file_error(struct conf_file_ctx *ctx, const char *key, const char *fmt, ...)
{
	size_t off;
	va_list ap;

	snprintf(ctx->err, ctx->errlen, "%s:%u: %s: ", ctx->name, ctx->line, key);
	off = strlen(ctx->err);
	va_start(ap, fmt);
	vsnprintf(ctx->err + off, ctx->errlen - off, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static bool conf_strict_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return false;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end || errno || v > max)
		return false;
	*out = v;
	return true;
}

static struct conf_peer *conf_file_peer(struct conf_file_ctx *ctx)
{
	return &ctx->c->peers[ctx->c->n_peers - 1];
}

/* A comma-separated CIDR list; an empty value is an empty list. */
static int conf_file_cidrs(struct conf_file_ctx *ctx, const char *key, const char *value, bool roam)
{
	struct conf_peer *p = conf_file_peer(ctx);
	const char *s = value;

	while (*s) {
		const char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s) : strlen(s);
		struct conf_allowedip ip;
		char one[INET6_ADDRSTRLEN + 8];

		if (n && n < sizeof(one)) {
			memcpy(one, s, n);
			one[n] = '\0';
		}
		if (!n || n >= sizeof(one) || conf_parse_allowedip(&ip, one))
			return conf_file_error(ctx, key, "\"%.*s\" is not an IP address or CIDR",
					       (int)(n > 64 ? 64 : n), s);
		if ((roam ? conf_peer_add_roam_cidr(p, &ip) : conf_peer_add_allowedip(p, &ip)))
			return conf_file_error(ctx, key, "out of memory");
		if (!comma)
			break;
		s = comma + 1;
		if (!*s)
			return conf_file_error(ctx, key, "trailing comma");
	}
	return 0;
}

static int conf_file_key(struct conf_file_ctx *ctx, const char *value, uint8_t key[WG_KEY_LEN],
			 const char *name)
{
	/* never echo the value: it may be a private key */
	if (!crypto_key_from_base64(key, value))
		return conf_file_error(ctx, name, "not a base64 key of 32 bytes (44 characters)");
	return 0;
}

static int conf_file_interface_line(struct conf_file_ctx *ctx, const char *key, const char *value)
{
	static const char *const wg_quick_keys[] = { "Address", "DNS",	    "MTU",
						     "Table",	"PreUp",    "PostUp",
						     "PreDown", "PostDown", "SaveConfig" };
	struct conf_dev *c = ctx->c;
	unsigned long long v;
	size_t i;

	if (!strcasecmp(key, "PrivateKey")) {
		if (conf_file_key(ctx, value, c->private_key, "PrivateKey"))
			return -EINVAL;
		c->flags |= CONF_DEV_HAS_PRIVATE_KEY;
	} else if (!strcasecmp(key, "ListenPort")) {
		if (!conf_strict_uint(value, 65535, &v))
			return conf_file_error(ctx, "ListenPort",
					       "\"%s\" is not a port number (0-65535)", value);
		c->listen_port = (uint16_t)v;
		c->flags |= CONF_DEV_HAS_LISTEN_PORT;
	} else if (!strcasecmp(key, "FwMark")) {
		char *end;

		if (!strcasecmp(value, "off")) {
			v = 0;
		} else if (!isdigit((unsigned char)value[0])) {
			goto bad_fwmark;
		} else {
			/* as wg: "0x" prefix means hex, anything else decimal */
			int base =
				strlen(value) > 2 && value[0] == '0' && value[1] == 'x' ? 16 : 10;

			errno = 0;
			v = strtoull(value, &end, base);
			if (*end || errno || v > UINT32_MAX)
				goto bad_fwmark;
		}
		c->fwmark = (uint32_t)v;
		c->flags |= CONF_DEV_HAS_FWMARK;
	} else if (!strcasecmp(key, "AllowSource")) {
		char why[256];

		/* xdpwg extension; blanks are gone already. Repeated lines add up, as AllowedIPs. */
		if (c->flags & CONF_DEV_HAS_ALLOW_SOURCE) {
			struct conf_dev *more = conf_new();
			size_t k;
			int ret;

			if (!more)
				return conf_file_error(ctx, "AllowSource", "out of memory");
			ret = conf_parse_allow_source(more, value, why, sizeof(why));
			for (k = 0; !ret && k < more->n_allow_src; ++k)
				ret = conf_dev_add_allow_src(c, &more->allow_src[k]);
			conf_free(more);
			if (ret)
				return conf_file_error(ctx, "AllowSource", "%s",
						       ret == -EINVAL ? why : strerror(-ret));
		} else if (conf_parse_allow_source(c, value, why, sizeof(why))) {
			return conf_file_error(ctx, "AllowSource", "%s", why);
		}
	} else {
		for (i = 0; i < sizeof(wg_quick_keys) / sizeof(wg_quick_keys[0]); ++i)
			if (!strcasecmp(key, wg_quick_keys[i]))
				return 0; /* wg-quick's business, not the device's */
		return conf_file_error(ctx, key, "unknown key in [Interface]");
	}
	return 0;
bad_fwmark:
	return conf_file_error(ctx, "FwMark", "\"%s\" is neither off nor 0-0xffffffff", value);
}

static int conf_file_peer_line(struct conf_file_ctx *ctx, const char *key, const char *value)
{
	struct conf_peer *p = conf_file_peer(ctx);
	unsigned long long v;

	if (!strcasecmp(key, "PublicKey")) {
		if (conf_file_key(ctx, value, p->public_key, "PublicKey"))
			return -EINVAL;
		ctx->public_key_given = true;
	} else if (!strcasecmp(key, "PresharedKey")) {
		if (conf_file_key(ctx, value, p->preshared_key, "PresharedKey"))
			return -EINVAL;
		p->flags |= CONF_PEER_HAS_PRESHARED_KEY;
	} else if (!strcasecmp(key, "AllowedIPs")) {
		return conf_file_cidrs(ctx, "AllowedIPs", value, false);
	} else if (!strcasecmp(key, "Endpoint")) {
		char why[256];

		if (endpoint_resolve(&p->endpoint, value, why, sizeof(why)))
			return conf_file_error(ctx, "Endpoint", "%s", why);
		p->flags |= CONF_PEER_HAS_ENDPOINT;
	} else if (!strcasecmp(key, "PersistentKeepalive")) {
		if (!strcasecmp(value, "off"))
			v = 0;
		else if (!conf_strict_uint(value, 65535, &v))
			return conf_file_error(ctx, "PersistentKeepalive",
					       "\"%s\" is neither off nor 0-65535", value);
		p->persistent_keepalive = (uint16_t)v;
		p->flags |= CONF_PEER_HAS_PERSISTENT_KEEPALIVE;
	} else if (!strcasecmp(key, "RoamPolicy")) {
		if (conf_parse_roam_policy(value, &p->roam_policy))
			return conf_file_error(
				ctx, "RoamPolicy",
				"\"%s\" is not roam, pinned, within, multipath or redundant",
				value);
		p->flags |= CONF_PEER_HAS_ROAM_POLICY;
		ctx->roam_policy_given = true;
	} else if (!strcasecmp(key, "RoamWithin")) {
		/* RoamWithin alone implies RoamPolicy = within */
		if (!ctx->roam_policy_given)
			p->roam_policy = CONF_ROAM_WITHIN;
		p->flags |= CONF_PEER_HAS_ROAM_POLICY;
		return conf_file_cidrs(ctx, "RoamWithin", value, true);
	} else {
		return conf_file_error(ctx, key, "unknown key in [Peer]");
	}
	return 0;
}

/* A finished [Peer]: complete and consistent? */
static int conf_file_peer_done(struct conf_file_ctx *ctx)
{
	struct conf_peer *p;

	if (!ctx->in_peer)
		return 0;
	p = conf_file_peer(ctx);
	if (!ctx->public_key_given)
		return conf_file_error(ctx, "[Peer]", "section has no PublicKey");
	if (p->roam_policy == CONF_ROAM_WITHIN && !p->n_roam_cidrs)
		return conf_file_error(ctx, "RoamPolicy", "within needs at least one RoamWithin");
	if (p->roam_policy != CONF_ROAM_WITHIN && p->n_roam_cidrs)
		return conf_file_error(ctx, "RoamWithin", "only valid with RoamPolicy = within");
	return 0;
}

static int conf_file_line(struct conf_file_ctx *ctx, char *line)
{
	char *eq;
	int ret;

	if (!strcasecmp(line, "[Interface]") || !strcasecmp(line, "[Peer]")) {
		ret = conf_file_peer_done(ctx);
		if (ret)
			return ret;
		ctx->in_interface = line[1] == 'I' || line[1] == 'i';
		ctx->in_peer = !ctx->in_interface;
		ctx->roam_policy_given = ctx->public_key_given = false;
		if (ctx->in_peer) {
			struct conf_peer *p = conf_add_peer(ctx->c);

			if (!p)
				return conf_file_error(ctx, "[Peer]", "out of memory");
			p->flags |= CONF_PEER_REPLACE_ALLOWEDIPS;
		}
		return 0;
	}
	if (line[0] == '[')
		return conf_file_error(ctx, line, "unknown section");
	eq = strchr(line, '=');
	if (!eq || eq == line)
		return conf_file_error(ctx, line, "not a KEY = VALUE line");
	*eq = '\0';
	if (ctx->in_interface)
		return conf_file_interface_line(ctx, line, eq + 1);
	if (ctx->in_peer)
		return conf_file_peer_line(ctx, line, eq + 1);
	return conf_file_error(ctx, line, "key outside [Interface] or [Peer]");
}

int conf_parse_string_mode(const char *text, const char *name, bool append, struct conf_dev **out,
			   char *err, size_t errlen)
{
	struct conf_file_ctx ctx = { .name = name ? name : "(config)",
				     .err = err,
				     .errlen = errlen };
	const char *s = text;
	char *line = NULL;
	size_t cap = 0;
	int ret = 0;

	*out = NULL;
	if (err && errlen)
		err[0] = '\0';
	ctx.c = conf_new();
	if (!ctx.c) {
		snprintf(err, errlen, "%s: out of memory", ctx.name);
		return -ENOMEM;
	}
	if (!append)
		ctx.c->flags = CONF_DEV_REPLACE_PEERS | CONF_DEV_HAS_PRIVATE_KEY |
			       CONF_DEV_HAS_LISTEN_PORT | CONF_DEV_HAS_FWMARK;
	/* each pass consumes one line, so this ends at the end of text */
	while (*s) {
		const char *nl = strchr(s, '\n');
		size_t n = nl ? (size_t)(nl - s) : strlen(s), i, k = 0;

		++ctx.line;
		if (n + 1 > cap) {
			/* lines may hold private keys: keep them in secure memory */
			crypto_secure_free(line);
			cap = n + 1;
			line = crypto_secure_alloc(cap);
			if (!line) {
				conf_file_error(&ctx, "line", "out of memory");
				ret = -ENOMEM;
				goto out;
			}
		}
		/* as wg: drop the comment, then every blank character, wherever it is */
		for (i = 0; i < n && s[i] != '#'; ++i)
			if (!isspace((unsigned char)s[i]))
				line[k++] = s[i];
		line[k] = '\0';
		s += n + (nl ? 1 : 0);
		if (!k)
			continue;
		ret = conf_file_line(&ctx, line);
		if (ret)
			goto out;
	}
	ret = conf_file_peer_done(&ctx);
out:
	crypto_secure_free(line);
	if (ret) {
		conf_free(ctx.c);
		return ret;
	}
	*out = ctx.c;
	return 0;
}

int conf_parse_string(const char *text, const char *name, struct conf_dev **out, char *err,
		      size_t errlen)
{
	return conf_parse_string_mode(text, name, false, out, err, errlen);
}

/* Read fd into buf until EOF or max bytes (a pipe reports no size, so read to the limit).
 * 0 with *len set, or -errno. */
static int conf_read_fd(int fd, char *buf, size_t max, size_t *len)
{
	ssize_t r;

	*len = 0;
	while (*len < max) {
		r = read(fd, buf + *len, max - *len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (!r)
			break;
		*len += (size_t)r;
	}
	return 0;
}

int conf_parse_file_mode(const char *path, bool append, struct conf_dev **out, char *err,
			 size_t errlen)
{
	struct stat st;
	char *text = NULL;
	size_t len = 0;
	int fd, ret;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	/* a pipe (`<(...)`) reports size 0: read up to the limit in any case */
	text = crypto_secure_alloc(CONF_FILE_MAX + 1);
	if (!text) {
		ret = -ENOMEM;
		snprintf(err, errlen, "%s: out of memory", path);
		goto out;
	}
	ret = conf_read_fd(fd, text, CONF_FILE_MAX, &len);
	if (ret) {
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		goto out;
	}
	if (len == CONF_FILE_MAX) {
		ret = -EFBIG;
		snprintf(err, errlen, "%s: larger than %d bytes", path, CONF_FILE_MAX);
		goto out;
	}
	if (memchr(text, '\0', len)) {
		ret = -EINVAL;
		snprintf(err, errlen, "%s: contains a NUL byte; not a config file", path);
		goto out;
	}
	text[len] = '\0';
	ret = conf_parse_string_mode(text, path, append, out, err, errlen);
out:
	crypto_secure_free(text);
	close(fd);
	return ret;
}

int conf_parse_file(const char *path, struct conf_dev **out, char *err, size_t errlen)
{
	return conf_parse_file_mode(path, false, out, err, errlen);
}

static void conf_format_cidrs(FILE *out, const struct conf_allowedip *ips, size_t n)
{
	char buf[INET6_ADDRSTRLEN + 8];
	size_t i;

	for (i = 0; i < n; ++i) {
		conf_format_allowedip(&ips[i], buf, sizeof(buf));
		fprintf(out, "%s%s", buf, i + 1 < n ? ", " : "\n");
	}
}

int conf_format_file(const struct conf_dev *c, FILE *out)
{
	int ret = conf_format_file_head(c, out);

	return ret ? ret : conf_format_file_peers(c, out, false);
}

int conf_format_file_head(const struct conf_dev *c, FILE *out)
{
	char b64[CRYPTO_KEY_BASE64_LEN + 1];

	/* wg showconf's layout, key for key, so that the two can be diffed */
	fprintf(out, "[Interface]\n");
	if (c->listen_port)
		fprintf(out, "ListenPort = %u\n", c->listen_port);
	if (c->fwmark)
		fprintf(out, "FwMark = 0x%x\n", c->fwmark);
	if (!crypto_is_zero(c->private_key, WG_KEY_LEN)) {
		crypto_key_to_base64(b64, c->private_key);
		fprintf(out, "PrivateKey = %s\n", b64);
	}
	/* xdpwg extension, only when it says something: a stock daemon never has it */
	if (c->n_allow_src) {
		fprintf(out, "AllowSource = ");
		conf_format_cidrs(out, c->allow_src, c->n_allow_src);
	}
	fprintf(out, "\n");
	crypto_wipe(b64, sizeof(b64));
	return ferror(out) ? -EIO : 0;
}

int conf_format_file_peers(const struct conf_dev *c, FILE *out, bool after_peer)
{
	char b64[CRYPTO_KEY_BASE64_LEN + 1], ep[ENDPOINT_STRLEN];
	size_t i;

	for (i = 0; i < c->n_peers; ++i) {
		const struct conf_peer *p = &c->peers[i];

		/* a blank line between peers, none after the last */
		if (i || after_peer)
			fprintf(out, "\n");
		crypto_key_to_base64(b64, p->public_key);
		fprintf(out, "[Peer]\nPublicKey = %s\n", b64);
		if (!crypto_is_zero(p->preshared_key, WG_KEY_LEN)) {
			crypto_key_to_base64(b64, p->preshared_key);
			fprintf(out, "PresharedKey = %s\n", b64);
		}
		if (p->n_allowedips) {
			fprintf(out, "AllowedIPs = ");
			conf_format_cidrs(out, p->allowedips, p->n_allowedips);
		}
		if (endpoint_is_set(&p->endpoint))
			fprintf(out, "Endpoint = %s\n", endpoint_format(&p->endpoint, ep));
		if (p->persistent_keepalive)
			fprintf(out, "PersistentKeepalive = %u\n", p->persistent_keepalive);
		/* xdpwg keys only when they say something: a stock daemon never has them */
		if ((p->flags & CONF_PEER_HAS_ROAM_POLICY) && p->roam_policy != CONF_ROAM_ANY) {
			fprintf(out, "RoamPolicy = %s\n", conf_roam_policy_name(p->roam_policy));
			if (p->n_roam_cidrs) {
				fprintf(out, "RoamWithin = ");
				conf_format_cidrs(out, p->roam_cidrs, p->n_roam_cidrs);
			}
		}
	}
	crypto_wipe(b64, sizeof(b64));
	return ferror(out) ? -EIO : 0;
}

/* ---- key files ---- */

int conf_read_key_file(const char *path, uint8_t key[WG_KEY_LEN], char *err, size_t errlen)
{
	struct stat st;
	char *buf;
	size_t len = 0, i;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fd, &st)) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		return ret;
	}
	/*
	 * Only regular files are checked: /dev/null (remove the key) and pipes from `<(...)`
	 * carry their own, meaningless, modes.
	 */
	if (S_ISREG(st.st_mode) && (st.st_mode & (S_IRWXG | S_IRWXO))) {
		snprintf(err, errlen,
			 "%s: key file is accessible by group or others (mode %04o); run: chmod "
			 "600 %s",
			 path, (unsigned int)(st.st_mode & 07777), path);
		close(fd);
		return -EACCES;
	}
	buf = crypto_secure_alloc(CONF_KEYFILE_MAX + 1);
	if (!buf) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		return -ENOMEM;
	}
	ret = conf_read_fd(fd, buf, CONF_KEYFILE_MAX, &len);
	if (ret) {
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
		goto out;
	}
	/* as wg: an empty file (or /dev/null) is the all-zero key, which removes a key */
	if (!len) {
		memset(key, 0, WG_KEY_LEN);
		ret = 0;
		goto out;
	}
	ret = -EINVAL;
	if (len == CONF_KEYFILE_MAX) {
		snprintf(err, errlen, "%s: too long for a key file", path);
		goto out;
	}
	for (i = CRYPTO_KEY_BASE64_LEN; i < len; ++i) {
		if (!isspace((unsigned char)buf[i])) {
			snprintf(err, errlen, "%s: trailing characters after the key", path);
			goto out;
		}
	}
	if (len < CRYPTO_KEY_BASE64_LEN) {
		snprintf(err, errlen, "%s: not a base64 key of 32 bytes (44 characters)", path);
		goto out;
	}
	buf[CRYPTO_KEY_BASE64_LEN] = '\0';
	if (!crypto_key_from_base64(key, buf)) {
		snprintf(err, errlen, "%s: not a base64 key of 32 bytes (44 characters)", path);
		goto out;
	}
	ret = 0;
out:
	crypto_secure_free(buf);
	close(fd);
	return ret;
}
