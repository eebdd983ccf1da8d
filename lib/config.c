// SPDX-License-Identifier: GPL-2.0
/*
 * The neutral configuration representation (the model every form parses into and prints
 * from). Its file forms (wg(8) config files, key files) are config_file.c, the configuration
 * protocol's text form uapi_text.c.
 *
 * A conf_dev and its peers array hold keys, so both come from crypto_secure_alloc and are
 * wiped when freed or grown. Allowed IPs are not secret and live in ordinary memory.
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
static bool conf_needs_growth(size_t n)
{
	return n == 0 || (n >= CONF_MIN_CAPACITY && !(n & (n - 1)));
}

static size_t conf_grown_capacity(size_t n)
{
	return n < CONF_MIN_CAPACITY ? CONF_MIN_CAPACITY : n * 2;
}

struct conf_dev *conf_new(void)
{
	return crypto_secure_alloc(sizeof(struct conf_dev));
}

static void conf_peer_release(struct conf_peer *p)
{
	free(p->allowedips);
	free(p->roam_cidrs);
	p->allowedips = p->roam_cidrs = NULL;
	p->n_allowedips = p->n_roam_cidrs = 0;
}

void conf_free(struct conf_dev *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->n_peers; ++i)
		conf_peer_release(&c->peers[i]);
	free(c->allow_src);
	free(c->drops);
	/* both wipe before unmapping */
	crypto_secure_free(c->peers);
	crypto_secure_free(c);
}

struct conf_peer *conf_add_peer(struct conf_dev *c)
{
	struct conf_peer *grown;

	if (conf_needs_growth(c->n_peers)) {
		size_t cap = conf_grown_capacity(c->n_peers);

		if (cap > SIZE_MAX / sizeof(*grown))
			return NULL;
		grown = crypto_secure_alloc(cap * sizeof(*grown));
		if (!grown)
			return NULL;
		if (c->n_peers)
			memcpy(grown, c->peers, c->n_peers * sizeof(*grown));
		/* the old array held preshared keys: crypto_secure_free wipes it */
		crypto_secure_free(c->peers);
		c->peers = grown;
	}
	memset(&c->peers[c->n_peers], 0, sizeof(c->peers[0]));
	c->peers[c->n_peers].protocol_version = 1;
	return &c->peers[c->n_peers++];
}

static int conf_ip_append(struct conf_allowedip **arr, size_t *n, const struct conf_allowedip *ip)
{
	if (conf_needs_growth(*n)) {
		size_t cap = conf_grown_capacity(*n);
		struct conf_allowedip *grown;

		if (cap > SIZE_MAX / sizeof(*grown))
			return -ENOMEM;
		grown = realloc(*arr, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		*arr = grown;
	}
	(*arr)[(*n)++] = *ip;
	return 0;
}

int conf_peer_add_allowedip(struct conf_peer *p, const struct conf_allowedip *ip)
{
	return conf_ip_append(&p->allowedips, &p->n_allowedips, ip);
}

int conf_peer_add_roam_cidr(struct conf_peer *p, const struct conf_allowedip *ip)
{
	return conf_ip_append(&p->roam_cidrs, &p->n_roam_cidrs, ip);
}

int conf_parse_allowedip(struct conf_allowedip *ip, const char *s)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	struct conf_allowedip out = { 0 };
	unsigned long cidr;
	char *end;

	if (!alen || alen >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	if (strchr(addr, ':')) {
		if (inet_pton(AF_INET6, addr, &out.ip6) != 1)
			return -EINVAL;
		out.family = AF_INET6;
	} else {
		if (inet_pton(AF_INET, addr, &out.ip4) != 1)
			return -EINVAL;
		out.family = AF_INET;
	}
	cidr = out.family == AF_INET ? 32 : 128;
	if (slash) {
		if (!isdigit((unsigned char)slash[1]))
			return -EINVAL;
		errno = 0;
		cidr = strtoul(slash + 1, &end, 10);
		if (*end || errno || cidr > (out.family == AF_INET ? 32UL : 128UL))
			return -EINVAL;
	}
	out.cidr = (uint8_t)cidr;
	*ip = out;
	return 0;
}

/* n (< 1000) in decimal at p; the end. */
static char *conf_put_small(char *p, unsigned int n)
{
	if (n >= 100)
		*p++ = (char)('0' + n / 100);
	if (n >= 10)
		*p++ = (char)('0' + n / 10 % 10);
	*p++ = (char)('0' + n % 10);
	return p;
}

/*
 * An IPv6 address as glibc's inet_ntop spells it (RFC 5952: lower-case hex without leading
 * zeros, the first longest run of two or more zero groups as "::"), without its sprintf per
 * group. Addresses whose first five groups are zero may carry a dotted IPv4 tail in inet_ntop's
 * spelling (::ffff:a.b.c.d, ::a.b.c.d): those are left to inet_ntop itself. false only when
 * inet_ntop fails.
 */
static bool conf_put_ip6(char out[INET6_ADDRSTRLEN], const struct in6_addr *a)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *b = a->s6_addr;
	unsigned int w[8];
	int best = -1, best_len = 0, run = -1, run_len = 0;
	char *p = out;

	for (int i = 0; i < 8; i++)
		w[i] = (unsigned int)b[2 * i] << 8 | b[2 * i + 1];
	if (!(w[0] | w[1] | w[2] | w[3] | w[4]))
		return inet_ntop(AF_INET6, a, out, INET6_ADDRSTRLEN) != NULL;
	for (int i = 0; i < 8; i++) {
		if (w[i]) {
			run = -1;
			continue;
		}
		if (run < 0) {
			run = i;
			run_len = 0;
		}
		if (++run_len > best_len) {
			best = run;
			best_len = run_len;
		}
	}
	if (best_len < 2)
		best = -1;
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			*p++ = ':';
			if (i + best_len == 8)
				*p++ = ':';
			i += best_len - 1;
			continue;
		}
		if (i)
			*p++ = ':';
		for (int sh = 12, started = 0; sh >= 0; sh -= 4) {
			unsigned int d = (w[i] >> sh) & 15U;

			if (d || started || !sh) {
				*p++ = hex[d];
				started = 1;
			}
		}
	}
	*p = '\0';
	return true;
}

void conf_format_allowedip(const struct conf_allowedip *ip, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN + 8], *p = addr;

	/* By hand, not snprintf and inet_ntop's sprintf: every get=1 and show formats each
	 * peer's allowed IPs, a million of them at a million peers (issue #21). IPv6 keeps
	 * inet_ntop for its zero compression (RFC 5952). */
	if (ip->family == AF_INET) {
		const uint8_t *a = (const uint8_t *)&ip->ip4;

		for (int i = 0; i < 4; i++) {
			p = conf_put_small(p, a[i]);
			*p++ = i < 3 ? '.' : '/';
		}
	} else if (ip->family == AF_INET6 && conf_put_ip6(addr, &ip->ip6)) {
		p = addr + strlen(addr);
		*p++ = '/';
	} else {
		snprintf(buf, len, "(invalid)/%u", ip->cidr);
		return;
	}
	p = conf_put_small(p, ip->cidr);
	*p = '\0';
	snprintf(buf, len, "%s", addr);
}

const char *conf_roam_policy_name(enum conf_roam_policy p)
{
	switch (p) {
	case CONF_ROAM_ANY:
		return "roam";
	case CONF_ROAM_PINNED:
		return "pinned";
	case CONF_ROAM_WITHIN:
		return "within";
	case CONF_ROAM_MULTIPATH:
		return "multipath";
	case CONF_ROAM_REDUNDANT:
		return "redundant";
	}
	return NULL;
}

int conf_parse_roam_policy(const char *s, enum conf_roam_policy *p)
{
	if (!strcmp(s, "roam"))
		*p = CONF_ROAM_ANY;
	else if (!strcmp(s, "pinned"))
		*p = CONF_ROAM_PINNED;
	else if (!strcmp(s, "within"))
		*p = CONF_ROAM_WITHIN;
	else if (!strcmp(s, "multipath"))
		*p = CONF_ROAM_MULTIPATH;
	else if (!strcmp(s, "redundant"))
		*p = CONF_ROAM_REDUNDANT;
	else
		return -EINVAL;
	return 0;
}

/* ---- the hardening extensions: source allowlist, drop counters ---- */

int conf_dev_add_allow_src(struct conf_dev *c, const struct conf_allowedip *ip)
{
	if (c->n_allow_src >= CONF_ALLOW_SRC_MAX)
		return -E2BIG;
	return conf_ip_append(&c->allow_src, &c->n_allow_src, ip);
}

int conf_dev_add_drop(struct conf_dev *c, const char *name, uint64_t value)
{
	size_t len = strlen(name), i;

	if (!len || len >= sizeof(c->drops[0].name))
		return -EINVAL;
	for (i = 0; i < len; ++i)
		if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) &&
		    name[i] != '_')
			return -EINVAL;
	if (c->n_drops >= CONF_DROPS_MAX)
		return -E2BIG;
	if (!c->drops) {
		c->drops = calloc(CONF_DROPS_MAX, sizeof(*c->drops));
		if (!c->drops)
			return -ENOMEM;
	}
	memcpy(c->drops[c->n_drops].name, name, len + 1);
	c->drops[c->n_drops++].value = value;
	return 0;
}

int conf_parse_allow_source(struct conf_dev *c, const char *list, char *err, size_t errlen)
{
	char one[INET6_ADDRSTRLEN + 8];
	size_t k = 0;
	const char *s;
	int ret;

	c->n_allow_src = 0;
	c->flags |= CONF_DEV_HAS_ALLOW_SOURCE | CONF_DEV_REPLACE_ALLOW_SOURCE;
	if (!strcasecmp(list, "any"))
		return 0;
	/* each pass consumes one character; the list ends at the NUL */
	for (s = list;; ++s) {
		struct conf_allowedip ip;

		if (*s && isspace((unsigned char)*s))
			continue;
		if (*s && *s != ',') {
			if (k + 1 >= sizeof(one)) {
				snprintf(err, errlen, "entry too long in \"%.64s\"", list);
				return -EINVAL;
			}
			one[k++] = *s;
			continue;
		}
		one[k] = '\0';
		if (!k && !*s && s == list)
			break; /* "": any source */
		if (!k || conf_parse_allowedip(&ip, one)) {
			snprintf(err, errlen, "\"%s\" is not an IP address or CIDR",
				 k ? one : "(empty entry)");
			return -EINVAL;
		}
		ret = conf_dev_add_allow_src(c, &ip);
		if (ret) {
			snprintf(err, errlen, "%s",
				 ret == -E2BIG ? "more than 4096 CIDRs" : "out of memory");
			return ret;
		}
		k = 0;
		if (!*s)
			break;
	}
	return 0;
}

bool conf_cidrs_contain(const struct conf_allowedip *ips, size_t n, int family, const void *addr)
{
	size_t i;

	for (i = 0; i < n; ++i) {
		const uint8_t *net = family == AF_INET ? (const uint8_t *)&ips[i].ip4
						       : (const uint8_t *)&ips[i].ip6;
		const uint8_t *a = addr;
		unsigned int bits = ips[i].cidr, full = bits / 8, rest = bits % 8;

		if (ips[i].family != family)
			continue;
		if (memcmp(net, a, full))
			continue;
		if (rest && ((net[full] ^ a[full]) & (uint8_t)(0xff00 >> rest)))
			continue;
		return true;
	}
	return false;
}

/* ---- multipath: a path in a get reply ---- */

const char *conf_path_format(const struct conf_path *p, char buf[CONF_PATH_STRLEN])
{
	char ep[ENDPOINT_STRLEN], age[24];

	if (p->age_ms == UINT64_MAX)
		snprintf(age, sizeof(age), "-");
	else
		snprintf(age, sizeof(age), "%llu", (unsigned long long)p->age_ms);
	snprintf(buf, CONF_PATH_STRLEN, "%s %s %s%s %s %u %u", endpoint_format(&p->endpoint, ep),
		 p->uplink[0] ? p->uplink : "-",
		 (p->flags & CONF_PATH_ACTIVE) ? "active" : "standby",
		 (p->flags & CONF_PATH_DEAD)	  ? ",dead"
		 : (p->flags & CONF_PATH_UNKNOWN) ? ",new"
						  : "",
		 age, p->rtt_us, p->loss);
	return buf;
}

int conf_path_parse(struct conf_path *p, const char *s)
{
	char ep[ENDPOINT_STRLEN], up[16], state[32], age[24], *end;
	unsigned int rtt, loss;

	memset(p, 0, sizeof(*p));
	if (sscanf(s, "%95s %15s %31s %23s %u %u", ep, up, state, age, &rtt, &loss) != 6 ||
	    endpoint_parse(&p->endpoint, ep) || loss > 8)
		return -EINVAL;
	if (strcmp(up, "-"))
		snprintf(p->uplink, sizeof(p->uplink), "%s", up);
	if (!strncmp(state, "active", 6))
		p->flags |= CONF_PATH_ACTIVE;
	else if (strncmp(state, "standby", 7))
		return -EINVAL;
	if (strstr(state, ",dead"))
		p->flags |= CONF_PATH_DEAD;
	if (strstr(state, ",new"))
		p->flags |= CONF_PATH_UNKNOWN;
	if (!strcmp(age, "-")) {
		p->age_ms = UINT64_MAX;
	} else {
		errno = 0;
		p->age_ms = strtoull(age, &end, 10);
		if (errno || *end)
			return -EINVAL;
	}
	p->rtt_us = rtt;
	p->loss = (uint8_t)loss;
	return 0;
}
