// SPDX-License-Identifier: GPL-2.0
/*
 * The cluster's etcd records (cluster_record.h): strict JSON in, canonical JSON out, through
 * json-c. A record is data from the network: everything is checked, nothing is trusted, and a
 * refusal names the field and why.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_record.h"
#include "crypto.h"

int cluster_name_check(const char *name, char *err, size_t errlen)
{
	size_t len = strlen(name);

	if (!len || len > CLUSTER_NAME_MAX) {
		snprintf(err, errlen, "\"%s\": a cluster name has 1 to %d characters", name,
			 CLUSTER_NAME_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		char ch = name[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');

		if (!alnum && (i == 0 || (ch != '-' && ch != '_'))) {
			snprintf(err, errlen,
				 "\"%s\": a cluster name is a-z, 0-9, - and _, starting with a "
				 "letter or digit",
				 name);
			return -EINVAL;
		}
	}
	return 0;
}

void cluster_prefix(char *buf, size_t len, const char *cluster, const char *sub)
{
	snprintf(buf, len, "/xdpwg/%s/%s", cluster, sub);
}

void cluster_key_name(char out[CLUSTER_KEYNAME_LEN + 1], const uint8_t pub[WG_KEY_LEN])
{
	crypto_key_to_base64(out, pub);
	for (char *p = out; *p; p++) {
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
	}
}

bool cluster_key_from_name(uint8_t pub[WG_KEY_LEN], const char *name)
{
	char b64[CLUSTER_KEYNAME_LEN + 1];

	if (strlen(name) != CLUSTER_KEYNAME_LEN || strpbrk(name, "+/"))
		return false;
	memcpy(b64, name, sizeof(b64));
	for (char *p = b64; *p; p++) {
		if (*p == '-')
			*p = '+';
		else if (*p == '_')
			*p = '/';
	}
	return crypto_key_from_base64(pub, b64);
}

const char *cluster_addr_format(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	const void *a = ss->ss_family == AF_INET6
				? (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr
				: (const void *)&((const struct sockaddr_in *)ss)->sin_addr;

	if (!inet_ntop(ss->ss_family, a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

int cluster_addr_parse(struct sockaddr_storage *ss, const char *s)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, s, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		return 0;
	}
	memset(ss, 0, sizeof(*ss));
	return -EINVAL;
}

bool cluster_addr_usable(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		uint32_t a = ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr);

		return a != 0 && a != 0xffffffffu && (a >> 24) != 127 && (a >> 28) != 0xe &&
		       (a >> 16) != 0xa9fe; /* 0/8 ... loopback, multicast, link-local */
	}
	const struct in6_addr *a6 = &((const struct sockaddr_in6 *)ss)->sin6_addr;

	return !IN6_IS_ADDR_UNSPECIFIED(a6) && !IN6_IS_ADDR_LOOPBACK(a6) &&
	       !IN6_IS_ADDR_MULTICAST(a6) && !IN6_IS_ADDR_LINKLOCAL(a6) &&
	       !IN6_IS_ADDR_V4MAPPED(a6);
}

/* The whole input as one JSON object, strictly (no trailing bytes, no comments). */
static struct json_object *cluster_json_object(const char *json, size_t len, char *err,
					       size_t errlen)
{
	struct json_tokener *tok;
	struct json_object *o;

	if (len > CLUSTER_RECORD_MAX) {
		snprintf(err, errlen, "%zu bytes, more than %d", len, CLUSTER_RECORD_MAX);
		return NULL;
	}
	if (memchr(json, '\0', len)) {
		snprintf(err, errlen, "not JSON (a NUL byte)");
		return NULL;
	}
	tok = json_tokener_new();
	if (!tok) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, json, (int)len);
	if (!o || json_tokener_get_error(tok) != json_tokener_success) {
		enum json_tokener_error je = json_tokener_get_error(tok);

		snprintf(err, errlen, "not JSON (%s)",
			 je == json_tokener_continue ? "cut short" : json_tokener_error_desc(je));
		json_object_put(o);
		o = NULL;
	} else if (json_tokener_get_parse_end(tok) != len) {
		/* json-c stops at the end of the first value: what follows is refused */
		size_t i = json_tokener_get_parse_end(tok);

		while (i < len && strchr(" \t\r\n", json[i]))
			i++;
		if (i != len) {
			snprintf(err, errlen, "not JSON (bytes after the object)");
			json_object_put(o);
			o = NULL;
		}
	}
	if (o && !json_object_is_type(o, json_type_object)) {
		snprintf(err, errlen, "not a JSON object");
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

static int cluster_cidrs(struct json_object *v, const char *field, struct conf_peer *p, bool roam,
			 char *err, size_t errlen)
{
	size_t n;

	if (!json_object_is_type(v, json_type_array)) {
		snprintf(err, errlen, "%s: not an array of CIDRs", field);
		return -EINVAL;
	}
	n = json_object_array_length(v);
	if (n > CLUSTER_RECORD_MAX_IPS) {
		snprintf(err, errlen, "%s: %zu entries, more than %d", field, n,
			 CLUSTER_RECORD_MAX_IPS);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);
		struct conf_allowedip ip;
		int ret;

		if (!json_object_is_type(e, json_type_string)) {
			snprintf(err, errlen, "%s[%zu]: not a string", field, i);
			return -EINVAL;
		}
		if (conf_parse_allowedip(&ip, json_object_get_string(e)) < 0) {
			snprintf(err, errlen, "%s[%zu]: \"%s\" is not a CIDR", field, i,
				 json_object_get_string(e));
			return -EINVAL;
		}
		ret = roam ? conf_peer_add_roam_cidr(p, &ip) : conf_peer_add_allowedip(p, &ip);
		if (ret < 0) {
			snprintf(err, errlen, "%s: out of memory", field);
			return ret;
		}
	}
	return 0;
}

/* One field of a peer record; *seen_key: public_key was given. */
static int cluster_peer_field(const char *k, struct json_object *v, struct conf_peer *p,
			      bool *seen_key, bool *seen_ips, char *err, size_t errlen)
{
	if (!strcmp(k, "public_key")) {
		if (!json_object_is_type(v, json_type_string) ||
		    !crypto_key_from_base64(p->public_key, json_object_get_string(v))) {
			snprintf(err, errlen, "public_key: not a base64 key of 32 bytes");
			return -EINVAL;
		}
		*seen_key = true;
	} else if (!strcmp(k, "allowed_ips")) {
		*seen_ips = true;
		return cluster_cidrs(v, k, p, false, err, errlen);
	} else if (!strcmp(k, "roam_within")) {
		return cluster_cidrs(v, k, p, true, err, errlen);
	} else if (!strcmp(k, "persistent_keepalive")) {
		int64_t s;

		if (!json_object_is_type(v, json_type_int) || (s = json_object_get_int64(v)) < 0 ||
		    s > 65535) {
			snprintf(err, errlen,
				 "persistent_keepalive: not a number of seconds "
				 "0-65535");
			return -EINVAL;
		}
		p->persistent_keepalive = (uint16_t)s;
	} else if (!strcmp(k, "roam_policy")) {
		if (!json_object_is_type(v, json_type_string) ||
		    conf_parse_roam_policy(json_object_get_string(v), &p->roam_policy) < 0) {
			snprintf(err, errlen,
				 "roam_policy: not one of roam, pinned, within, "
				 "multipath, redundant");
			return -EINVAL;
		}
	} else if (!strcmp(k, "endpoint")) {
		if (!json_object_is_type(v, json_type_string) ||
		    endpoint_parse(&p->endpoint, json_object_get_string(v)) < 0) {
			snprintf(err, errlen, "endpoint: not a numeric ADDR:PORT");
			return -EINVAL;
		}
		p->flags |= CONF_PEER_HAS_ENDPOINT;
	} else if (!strcmp(k, "preshared_key") || !strcmp(k, "private_key")) {
		snprintf(err, errlen,
			 "%s: secrets never go into etcd (keep keys in each "
			 "gateway's own files)",
			 k);
		return -EINVAL;
	} else {
		snprintf(err, errlen, "%s: unknown field", k);
		return -EINVAL;
	}
	return 0;
}

int cluster_record_parse(const char *name, const char *json, size_t len, struct conf_dev *c,
			 char *err, size_t errlen)
{
	uint8_t named[WG_KEY_LEN];
	struct json_object *o;
	struct conf_peer *p;
	bool seen_key = false, seen_ips = false;
	int ret = -EINVAL;

	if (!cluster_key_from_name(named, name)) {
		snprintf(err, errlen, "the key's name is not a public key in base64url");
		return -EINVAL;
	}
	o = cluster_json_object(json, len, err, errlen);
	if (!o)
		return len > CLUSTER_RECORD_MAX ? -E2BIG : -EINVAL;
	p = conf_add_peer(c);
	if (!p) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto cleanup;
	}
	json_object_object_foreach(o, k, v)
	{
		ret = cluster_peer_field(k, v, p, &seen_key, &seen_ips, err, errlen);
		if (ret < 0)
			goto cleanup;
	}
	ret = -EINVAL;
	if (!seen_key) {
		snprintf(err, errlen, "public_key: missing");
		goto cleanup;
	}
	if (!seen_ips) {
		snprintf(err, errlen, "allowed_ips: missing (an empty list is [])");
		goto cleanup;
	}
	if (memcmp(named, p->public_key, WG_KEY_LEN)) {
		snprintf(err, errlen, "public_key: not the key the record is filed under");
		goto cleanup;
	}
	if (p->roam_policy == CONF_ROAM_WITHIN && !p->n_roam_cidrs) {
		snprintf(err, errlen, "roam_policy: within needs roam_within");
		goto cleanup;
	}
	if (p->roam_policy != CONF_ROAM_WITHIN && p->n_roam_cidrs) {
		snprintf(err, errlen, "roam_within: only with roam_policy within");
		goto cleanup;
	}
	/* every setting the record can hold is set, so a field left out resets it */
	p->flags |= CONF_PEER_REPLACE_ALLOWEDIPS | CONF_PEER_HAS_PERSISTENT_KEEPALIVE |
		    CONF_PEER_HAS_ROAM_POLICY;
	ret = 0;
cleanup:
	if (ret < 0 && p) {
		free(p->allowedips);
		free(p->roam_cidrs);
		memset(p, 0, sizeof(*p));
		c->n_peers--;
	}
	json_object_put(o);
	return ret;
}

static struct json_object *cluster_cidr_array(const struct conf_allowedip *ips, size_t n)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; a && i < n; i++) {
		char buf[INET6_ADDRSTRLEN + 8];

		conf_format_allowedip(&ips[i], buf, sizeof(buf));
		json_object_array_add(a, json_object_new_string(buf));
	}
	return a;
}

static char *cluster_json_string(struct json_object *o)
{
	char *s = o ? strdup(json_object_to_json_string_ext(
			      o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE))
		    : NULL;

	json_object_put(o);
	return s;
}

char *cluster_record_format(const struct conf_peer *p)
{
	struct json_object *o = json_object_new_object();
	char key[CRYPTO_KEY_BASE64_LEN + 1];

	if (!o)
		return NULL;
	crypto_key_to_base64(key, p->public_key);
	json_object_object_add(o, "public_key", json_object_new_string(key));
	json_object_object_add(o, "allowed_ips",
			       cluster_cidr_array(p->allowedips, p->n_allowedips));
	if (p->persistent_keepalive)
		json_object_object_add(o, "persistent_keepalive",
				       json_object_new_int(p->persistent_keepalive));
	if (p->roam_policy != CONF_ROAM_ANY && conf_roam_policy_name(p->roam_policy))
		json_object_object_add(
			o, "roam_policy",
			json_object_new_string(conf_roam_policy_name(p->roam_policy)));
	if (p->n_roam_cidrs)
		json_object_object_add(o, "roam_within",
				       cluster_cidr_array(p->roam_cidrs, p->n_roam_cidrs));
	if (p->flags & CONF_PEER_HAS_ENDPOINT) {
		char ep[ENDPOINT_STRLEN];

		json_object_object_add(o, "endpoint",
				       json_object_new_string(endpoint_format(&p->endpoint, ep)));
	}
	return cluster_json_string(o);
}

int cluster_gateway_parse(const char *name, const char *json, size_t len, struct cluster_gateway *g,
			  char *err, size_t errlen)
{
	struct json_object *o;
	bool seen_id = false, seen_underlay = false;
	unsigned long named;
	char *end;
	int ret = -EINVAL;

	memset(g, 0, sizeof(*g));
	errno = 0;
	named = strtoul(name, &end, 10);
	if (!*name || *end || errno || name[0] < '1' || name[0] > '9' ||
	    named > CLUSTER_GATEWAY_ID_MAX) {
		snprintf(err, errlen, "the key's name is not a gateway id %d-%d",
			 CLUSTER_GATEWAY_ID_MIN, CLUSTER_GATEWAY_ID_MAX);
		return -EINVAL;
	}
	o = cluster_json_object(json, len, err, errlen);
	if (!o)
		return -EINVAL;
	json_object_object_foreach(o, k, v)
	{
		if (!strcmp(k, "id")) {
			if (!json_object_is_type(v, json_type_int) ||
			    json_object_get_int64(v) != (int64_t)named) {
				snprintf(err, errlen, "id: not the id the record is filed under");
				goto cleanup;
			}
			seen_id = true;
		} else if (!strcmp(k, "underlay")) {
			if (!json_object_is_type(v, json_type_string) ||
			    cluster_addr_parse(&g->underlay, json_object_get_string(v)) < 0) {
				snprintf(err, errlen, "underlay: not a numeric IP address");
				goto cleanup;
			}
			if (!cluster_addr_usable(&g->underlay)) {
				snprintf(err, errlen,
					 "underlay: %s is no unicast address another host can send "
					 "from",
					 json_object_get_string(v));
				goto cleanup;
			}
			seen_underlay = true;
		} else {
			snprintf(err, errlen, "%s: unknown field", k);
			goto cleanup;
		}
	}
	if (!seen_id || !seen_underlay) {
		snprintf(err, errlen, "%s: missing", seen_id ? "underlay" : "id");
		goto cleanup;
	}
	g->id = (unsigned int)named;
	ret = 0;
cleanup:
	json_object_put(o);
	return ret;
}

char *cluster_gateway_format(const struct cluster_gateway *g)
{
	struct json_object *o = json_object_new_object();
	char addr[INET6_ADDRSTRLEN];

	if (!o)
		return NULL;
	json_object_object_add(o, "id", json_object_new_int((int)g->id));
	json_object_object_add(
		o, "underlay",
		json_object_new_string(cluster_addr_format(&g->underlay, addr, sizeof(addr))));
	return cluster_json_string(o);
}

int cluster_held_parse(const char *name, const char *json, size_t len, uint8_t pub[WG_KEY_LEN],
		       unsigned int *gateway, char *err, size_t errlen)
{
	struct json_object *o;
	int64_t id = 0;
	bool seen = false;
	int ret = -EINVAL;

	if (!cluster_key_from_name(pub, name)) {
		snprintf(err, errlen, "the key's name is not a public key in base64url");
		return -EINVAL;
	}
	/* a claim is a few bytes: anything large is not one */
	if (len > CLUSTER_HELD_MAX) {
		snprintf(err, errlen, "larger than %d bytes", CLUSTER_HELD_MAX);
		return -EINVAL;
	}
	o = cluster_json_object(json, len, err, errlen);
	if (!o)
		return -EINVAL;
	json_object_object_foreach(o, k, v)
	{
		if (strcmp(k, "gateway")) {
			snprintf(err, errlen, "%s: unknown field", k);
			goto cleanup;
		}
		id = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || id < CLUSTER_GATEWAY_ID_MIN ||
		    id > CLUSTER_GATEWAY_ID_MAX) {
			snprintf(err, errlen, "gateway: not a gateway id %d-%d",
				 CLUSTER_GATEWAY_ID_MIN, CLUSTER_GATEWAY_ID_MAX);
			goto cleanup;
		}
		seen = true;
	}
	if (!seen) {
		snprintf(err, errlen, "gateway: missing");
		goto cleanup;
	}
	*gateway = (unsigned int)id;
	ret = 0;
cleanup:
	json_object_put(o);
	return ret;
}

char *cluster_held_format(unsigned int gateway)
{
	struct json_object *o = json_object_new_object();

	if (!o)
		return NULL;
	json_object_object_add(o, "gateway", json_object_new_int((int)gateway));
	return cluster_json_string(o);
}
