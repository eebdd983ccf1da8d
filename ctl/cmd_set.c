// SPDX-License-Identifier: GPL-2.0
/*
 * set: wg(8)'s argument grammar, turned into one change request and sent in one set=1, so a
 * bad argument anywhere changes nothing: every argument is checked before we connect.
 * xdpwg adds, per peer: roam-policy roam|pinned|within|multipath|redundant, roam-within CIDR[,CIDR...]; per
 * interface: allow-source CIDR[,CIDR...] (the source allowlist; "" or any clears it).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto.h"
#include "ctl.h"

static bool set_uint(const char *s, unsigned long long max, int base, unsigned long long *out)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)s[0]))
		return false;
	errno = 0;
	v = strtoull(s, &end, base);
	if (*end || errno || v > max)
		return false;
	*out = v;
	return true;
}

int ctl_read_key_arg(const char *arg, const char *file, uint8_t key[32])
{
	char err[CTL_ERR_LEN];

	if (conf_read_key_file(file, key, err, sizeof(err))) {
		ctl_err("%s: %s", arg, err);
		return -1;
	}
	return 0;
}

/* A comma-separated list (blanks ignored, as wg strips them); empty means none. */
static int set_cidrs(struct conf_peer *p, const char *arg, const char *value, bool roam)
{
	char one[INET6_ADDRSTRLEN + 8];
	size_t k = 0;
	const char *s;

	/* each pass consumes one character; the list ends at the NUL */
	for (s = value;; ++s) {
		struct conf_allowedip ip;

		if (*s && isspace((unsigned char)*s))
			continue;
		if (*s && *s != ',') {
			if (k + 1 >= sizeof(one)) {
				ctl_err("%s: entry too long in \"%s\"", arg, value);
				return -1;
			}
			one[k++] = *s;
			continue;
		}
		one[k] = '\0';
		if (!k && !*s && s == value)
			break;
		if (!k || conf_parse_allowedip(&ip, one)) {
			ctl_err("%s: \"%s\" is not an IP address or CIDR", arg, k ? one : "");
			return -1;
		}
		if (roam ? conf_peer_add_roam_cidr(p, &ip) : conf_peer_add_allowedip(p, &ip)) {
			ctl_err("out of memory");
			return -1;
		}
		k = 0;
		if (!*s)
			break;
	}
	return 0;
}

static int set_peer_done(struct conf_peer *p, bool policy_given)
{
	char k[CRYPTO_KEY_BASE64_LEN + 1];

	if (!p || !(p->flags & CONF_PEER_HAS_ROAM_POLICY))
		return 0;
	crypto_key_to_base64(k, p->public_key);
	if (p->n_roam_cidrs && policy_given && p->roam_policy != CONF_ROAM_WITHIN) {
		ctl_err("roam-within: peer %s: only valid with roam-policy within", k);
		return -1;
	}
	if (p->roam_policy == CONF_ROAM_WITHIN && !p->n_roam_cidrs) {
		ctl_err("roam-policy: peer %s: within needs roam-within CIDR[,CIDR...]", k);
		return -1;
	}
	return 0;
}

/* argv: the words after the interface name. */
static int set_parse(int argc, char **argv, struct conf_dev *c)
{
	unsigned long long v;
	bool policy_given = false;
	struct conf_peer *p = NULL;
	int i = 0;

	/* each pass consumes one or two words */
	while (i < argc) {
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes_value = strcmp(a, "remove") != 0;

		if (takes_value && !val) {
			ctl_err("%s: needs a value", a);
			return -1;
		}
		if (!p && !strcmp(a, "listen-port")) {
			if (!set_uint(val, 65535, 10, &v)) {
				ctl_err("listen-port: \"%s\" is not a port number (0-65535)", val);
				return -1;
			}
			c->listen_port = (uint16_t)v;
			c->flags |= CONF_DEV_HAS_LISTEN_PORT;
		} else if (!p && !strcmp(a, "fwmark")) {
			if (!strcasecmp(val, "off"))
				v = 0;
			else if (!set_uint(val, UINT32_MAX,
					   strlen(val) > 2 && val[0] == '0' && val[1] == 'x' ? 16
											     : 10,
					   &v)) {
				ctl_err("fwmark: \"%s\" is neither off nor 0-0xffffffff", val);
				return -1;
			}
			c->fwmark = (uint32_t)v;
			c->flags |= CONF_DEV_HAS_FWMARK;
		} else if (!p && !strcmp(a, "allow-source")) {
			char err[CTL_ERR_LEN];

			if (conf_parse_allow_source(c, val, err, sizeof(err))) {
				ctl_err("allow-source: %s", err);
				return -1;
			}
		} else if (!p && !strcmp(a, "private-key")) {
			if (ctl_read_key_arg("private-key", val, c->private_key))
				return -1;
			c->flags |= CONF_DEV_HAS_PRIVATE_KEY;
		} else if (!strcmp(a, "peer")) {
			if (set_peer_done(p, policy_given))
				return -1;
			p = conf_add_peer(c);
			if (!p) {
				ctl_err("out of memory");
				return -1;
			}
			policy_given = false;
			if (!crypto_key_from_base64(p->public_key, val)) {
				ctl_err("peer: \"%s\" is not a base64 public key (44 characters)",
					val);
				return -1;
			}
		} else if (p && !strcmp(a, "remove")) {
			p->flags |= CONF_PEER_REMOVE;
			i += 1;
			continue;
		} else if (p && !strcmp(a, "endpoint")) {
			char err[CTL_ERR_LEN];

			if (endpoint_resolve(&p->endpoint, val, err, sizeof(err))) {
				ctl_err("endpoint: %s", err);
				return -1;
			}
			p->flags |= CONF_PEER_HAS_ENDPOINT;
		} else if (p && !strcmp(a, "allowed-ips")) {
			/* as wg: the list replaces the peer's allowed IPs */
			p->n_allowedips = 0;
			if (set_cidrs(p, "allowed-ips", val, false))
				return -1;
			p->flags |= CONF_PEER_REPLACE_ALLOWEDIPS;
		} else if (p && !strcmp(a, "persistent-keepalive")) {
			if (!strcasecmp(val, "off"))
				v = 0;
			else if (!set_uint(val, 65535, 10, &v)) {
				ctl_err("persistent-keepalive: \"%s\" is neither off nor 0-65535",
					val);
				return -1;
			}
			p->persistent_keepalive = (uint16_t)v;
			p->flags |= CONF_PEER_HAS_PERSISTENT_KEEPALIVE;
		} else if (p && !strcmp(a, "preshared-key")) {
			if (ctl_read_key_arg("preshared-key", val, p->preshared_key))
				return -1;
			p->flags |= CONF_PEER_HAS_PRESHARED_KEY;
		} else if (p && !strcmp(a, "roam-policy")) {
			if (conf_parse_roam_policy(val, &p->roam_policy)) {
				ctl_err("roam-policy: \"%s\" is not roam, pinned, within, "
					"multipath or redundant",
					val);
				return -1;
			}
			p->flags |= CONF_PEER_HAS_ROAM_POLICY;
			policy_given = true;
		} else if (p && !strcmp(a, "roam-within")) {
			if (!policy_given)
				p->roam_policy = CONF_ROAM_WITHIN;
			p->flags |= CONF_PEER_HAS_ROAM_POLICY;
			p->n_roam_cidrs = 0;
			if (set_cidrs(p, "roam-within", val, true))
				return -1;
		} else if (!p && (!strcmp(a, "remove") || !strcmp(a, "endpoint") ||
				  !strcmp(a, "allowed-ips") || !strcmp(a, "persistent-keepalive") ||
				  !strcmp(a, "preshared-key") || !strcmp(a, "roam-policy") ||
				  !strcmp(a, "roam-within"))) {
			ctl_err("%s: a peer option; it must follow `peer <key>'", a);
			return -1;
		} else if (p && (!strcmp(a, "listen-port") || !strcmp(a, "fwmark") ||
				 !strcmp(a, "private-key") || !strcmp(a, "allow-source"))) {
			ctl_err("%s: an interface option; it must come before the first `peer'", a);
			return -1;
		} else {
			ctl_err("%s: invalid argument", a);
			return -1;
		}
		i += 2;
	}
	return set_peer_done(p, policy_given);
}

static int set_main(int argc, char **argv)
{
	struct conf_dev *c;
	int ret = 1;

	if (argc < 3)
		return ctl_usage(argv[0]);
	c = conf_new();
	if (!c) {
		ctl_err("out of memory");
		return 1;
	}
	if (!set_parse(argc - 2, argv + 2, c) && !ctl_ipc_set(argv[1], c))
		ret = 0;
	conf_free(c);
	return ret;
}

CTL_COMMAND(set, .name = "set", .run = set_main,
	    .usage = "<interface> [listen-port <port>] [fwmark <mark>] [private-key <file path>] "
		     "[allow-source <ip>/<cidr>[,...]|any] "
		     "[peer <base64 public key> [remove] [preshared-key <file path>] "
		     "[endpoint <ip>:<port>] [persistent-keepalive <interval seconds>] "
		     "[allowed-ips <ip1>/<cidr1>[,<ip2>/<cidr2>]...] "
		     "[roam-policy roam|pinned|within|multipath|redundant] [roam-within "
		     "<ip>/<cidr>[,...]] ]...",
	    .summary = "Change the current configuration, add peers, remove peers, or change "
		       "peers");
