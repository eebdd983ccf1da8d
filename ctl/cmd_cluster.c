// SPDX-License-Identifier: GPL-2.0
/*
 * cluster: the cluster's peer set in etcd (docs/cluster.md, "The peer set in etcd"):
 *
 *   xdpwgctl cluster add-peer PUBKEY [allowed-ips CIDR[,CIDR...]] [persistent-keepalive N|off]
 *                             [roam-policy P] [roam-within CIDR[,...]] [endpoint ADDR:PORT]
 *   xdpwgctl cluster remove-peer PUBKEY
 *   xdpwgctl cluster list [--json]
 *   xdpwgctl cluster gateways [--json]
 *
 * each with --etcd URL[,URL...] and --cluster NAME (or XDPWG_ETCD, XDPWG_CLUSTER). add-peer
 * writes the whole record (what it does not name is off or empty): the record is the peer's
 * complete settings, the same on every gateway. The record written is parsed back with the
 * daemon's own parser before it goes out, so what the ctl writes every gateway accepts.
 */
#include <errno.h>
#include <json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster_record.h"
#include "crypto.h"
#include "ctl.h"
#include "etcd.h"

struct cluster_args {
	const char *etcd, *cluster;
	bool json;
	const char *sub;
	char **pos; /* the arguments after the subcommand, options taken out */
	int n_pos;
	char prefix[CLUSTER_PREFIX_MAX];
};

static int cluster_args(int argc, char **argv, struct cluster_args *a)
{
	a->pos = calloc((size_t)argc, sizeof(*a->pos));
	if (!a->pos) {
		ctl_err("out of memory");
		return -1;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--etcd") || !strcmp(argv[i], "--cluster")) {
			if (i + 1 == argc) {
				ctl_err("cluster: %s needs a value", argv[i]);
				return -1;
			}
			if (argv[i][2] == 'e')
				a->etcd = argv[++i];
			else
				a->cluster = argv[++i];
		} else if (!strcmp(argv[i], "--json")) {
			a->json = true;
		} else if (!a->sub) {
			a->sub = argv[i];
		} else {
			a->pos[a->n_pos++] = argv[i];
		}
	}
	if (!a->etcd)
		a->etcd = getenv("XDPWG_ETCD");
	if (!a->cluster)
		a->cluster = getenv("XDPWG_CLUSTER");
	return 0;
}

static struct etcd *cluster_connect(struct cluster_args *a)
{
	char err[ETCD_ERR_LEN];
	struct etcd *e;

	if (!a->etcd || !*a->etcd) {
		ctl_err("cluster: no etcd: --etcd URL[,URL...] or XDPWG_ETCD");
		return NULL;
	}
	if (!a->cluster || !*a->cluster) {
		ctl_err("cluster: no cluster name: --cluster NAME or XDPWG_CLUSTER");
		return NULL;
	}
	if (cluster_name_check(a->cluster, err, sizeof(err)) < 0) {
		ctl_err("cluster: --cluster %s", err);
		return NULL;
	}
	e = etcd_new(a->etcd, err, sizeof(err));
	if (!e) {
		ctl_err("cluster: --etcd %s: %s", a->etcd, err);
		return NULL;
	}
	cluster_prefix(a->prefix, sizeof(a->prefix), a->cluster, "");
	return e;
}

static int cluster_cidr_list(struct conf_peer *p, const char *what, const char *list, bool roam)
{
	char *copy = strdup(list), *save = NULL, *tok;
	int ret = 0;

	if (!copy) {
		ctl_err("out of memory");
		return -1;
	}
	for (tok = strtok_r(copy, ",", &save); tok && !ret; tok = strtok_r(NULL, ",", &save)) {
		struct conf_allowedip ip;

		while (*tok == ' ')
			tok++;
		if (!*tok)
			continue;
		if (conf_parse_allowedip(&ip, tok) < 0) {
			ctl_err("cluster: %s: \"%s\" is not a CIDR", what, tok);
			ret = -1;
		} else if ((roam ? conf_peer_add_roam_cidr(p, &ip)
				 : conf_peer_add_allowedip(p, &ip)) < 0) {
			ctl_err("out of memory");
			ret = -1;
		}
	}
	free(copy);
	return ret;
}

/* The peer's settings from "KEY [name value]..." into p. 0 or -1 after a message. */
static int cluster_peer_args(const struct cluster_args *a, struct conf_peer *p)
{
	if (a->n_pos < 1 || !crypto_key_from_base64(p->public_key, a->pos[0])) {
		ctl_err("cluster add-peer: %s: not a public key (base64, 32 bytes)",
			a->n_pos ? a->pos[0] : "(none)");
		return -1;
	}
	for (int i = 1; i < a->n_pos; i += 2) {
		const char *k = a->pos[i], *v = i + 1 < a->n_pos ? a->pos[i + 1] : NULL;

		if (!v) {
			ctl_err("cluster add-peer: %s needs a value", k);
			return -1;
		}
		if (!strcmp(k, "allowed-ips")) {
			if (cluster_cidr_list(p, k, v, false) < 0)
				return -1;
		} else if (!strcmp(k, "roam-within")) {
			if (cluster_cidr_list(p, k, v, true) < 0)
				return -1;
			if (p->roam_policy == CONF_ROAM_ANY)
				p->roam_policy = CONF_ROAM_WITHIN;
		} else if (!strcmp(k, "persistent-keepalive")) {
			char *end;
			unsigned long s = strtoul(v, &end, 10);

			if (!strcmp(v, "off"))
				s = 0;
			else if (!*v || *end || v[0] < '0' || v[0] > '9' || s > 65535) {
				ctl_err("cluster add-peer: persistent-keepalive: \"%s\" is neither "
					"off nor 0-65535",
					v);
				return -1;
			}
			p->persistent_keepalive = (uint16_t)s;
		} else if (!strcmp(k, "roam-policy")) {
			if (conf_parse_roam_policy(v, &p->roam_policy) < 0) {
				ctl_err("cluster add-peer: roam-policy: \"%s\" is not roam, "
					"pinned, "
					"within, multipath or redundant",
					v);
				return -1;
			}
		} else if (!strcmp(k, "endpoint")) {
			if (endpoint_parse(&p->endpoint, v) < 0) {
				ctl_err("cluster add-peer: endpoint: \"%s\" is not a numeric "
					"ADDR:PORT",
					v);
				return -1;
			}
			p->flags |= CONF_PEER_HAS_ENDPOINT;
		} else if (!strcmp(k, "preshared-key") || !strcmp(k, "private-key")) {
			ctl_err("cluster add-peer: %s: secrets never go into etcd (set them on "
				"each gateway)",
				k);
			return -1;
		} else {
			ctl_err("cluster add-peer: unknown setting \"%s\"", k);
			return -1;
		}
	}
	return 0;
}

static int cluster_add_peer(struct etcd *e, const struct cluster_args *a)
{
	struct conf_dev *c = conf_new(), *check = conf_new();
	char name[CLUSTER_KEYNAME_LEN + 1], key[CLUSTER_PREFIX_MAX + 64], err[CLUSTER_ERR_LEN];
	struct conf_peer *p;
	char *rec = NULL;
	int ret = 1;

	if (!c || !check || !(p = conf_add_peer(c))) {
		ctl_err("out of memory");
		goto cleanup;
	}
	if (cluster_peer_args(a, p) < 0)
		goto cleanup;
	rec = cluster_record_format(p);
	if (!rec) {
		ctl_err("out of memory");
		goto cleanup;
	}
	cluster_key_name(name, p->public_key);
	/* what every gateway will parse: refused here rather than there */
	if (cluster_record_parse(name, rec, strlen(rec), check, err, sizeof(err)) < 0) {
		ctl_err("cluster add-peer: %s", err);
		goto cleanup;
	}
	snprintf(key, sizeof(key), "%speers/%s", a->prefix, name);
	if (etcd_put(e, key, rec, strlen(rec), 0) < 0) {
		ctl_err("cluster add-peer: %s", etcd_error(e));
		goto cleanup;
	}
	ret = 0;
cleanup:
	free(rec);
	conf_free(c);
	conf_free(check);
	return ret;
}

static int cluster_remove_peer(struct etcd *e, const struct cluster_args *a)
{
	char name[CLUSTER_KEYNAME_LEN + 1], key[CLUSTER_PREFIX_MAX + 64];
	uint8_t pub[WG_KEY_LEN];
	int64_t deleted = 0;

	if (a->n_pos != 1 || !crypto_key_from_base64(pub, a->pos[0])) {
		ctl_err("cluster remove-peer: %s: not a public key (base64, 32 bytes)",
			a->n_pos ? a->pos[0] : "(none)");
		return 1;
	}
	cluster_key_name(name, pub);
	snprintf(key, sizeof(key), "%speers/%s", a->prefix, name);
	if (etcd_delete(e, key, &deleted) < 0) {
		ctl_err("cluster remove-peer: %s", etcd_error(e));
		return 1;
	}
	if (!deleted) {
		ctl_err("cluster remove-peer: %s: no such peer in cluster %s", a->pos[0],
			a->cluster);
		return 1;
	}
	return 0;
}

static void cluster_print_cidrs(const char *label, const struct conf_allowedip *ips, size_t n)
{
	printf("  %s: ", label);
	if (!n)
		printf("(none)");
	for (size_t i = 0; i < n; i++) {
		char buf[INET6_ADDRSTRLEN + 8];

		conf_format_allowedip(&ips[i], buf, sizeof(buf));
		printf("%s%s", i ? ", " : "", buf);
	}
	printf("\n");
}

static void cluster_print_peer(const struct conf_peer *p)
{
	char k[CRYPTO_KEY_BASE64_LEN + 1], ep[ENDPOINT_STRLEN];

	crypto_key_to_base64(k, p->public_key);
	printf("peer: %s\n", k);
	if (p->flags & CONF_PEER_HAS_ENDPOINT)
		printf("  endpoint: %s\n", endpoint_format(&p->endpoint, ep));
	cluster_print_cidrs("allowed ips", p->allowedips, p->n_allowedips);
	if (p->persistent_keepalive)
		printf("  persistent keepalive: every %u seconds\n", p->persistent_keepalive);
	if (p->roam_policy != CONF_ROAM_ANY)
		printf("  roam policy: %s\n", conf_roam_policy_name(p->roam_policy));
	if (p->n_roam_cidrs)
		cluster_print_cidrs("roam within", p->roam_cidrs, p->n_roam_cidrs);
}

/* list and gateways: one range of the cluster's prefix, printed as text or JSON. Records that
 * do not parse are listed as refused (the gateways refuse them too) and make the status 1. */
static int cluster_list(struct etcd *e, const struct cluster_args *a, bool gateways)
{
	struct json_object *out = json_object_new_object(), *arr = json_object_new_array(),
			   *bad = json_object_new_array();
	struct etcd_kv *kvs = NULL;
	size_t n = 0, plen = strlen(a->prefix);
	int64_t rev = 0;
	const char *sub = gateways ? "gateways/" : "peers/";
	int ret = 1, n_bad = 0, n_shown = 0;

	if (!out || !arr || !bad) {
		ctl_err("out of memory");
		goto cleanup;
	}
	if (etcd_range_prefix(e, a->prefix, &kvs, &n, &rev) < 0) {
		ctl_err("cluster %s: %s", a->sub, etcd_error(e));
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		const char *name = kvs[i].key + plen;
		char err[CLUSTER_ERR_LEN];

		if (strncmp(name, sub, strlen(sub)))
			continue;
		name += strlen(sub);
		if (gateways) {
			struct cluster_gateway g;
			char addr[INET6_ADDRSTRLEN];

			if (cluster_gateway_parse(name, kvs[i].value, kvs[i].value_len, &g, err,
						  sizeof(err)) < 0)
				goto refused;
			cluster_addr_format(&g.underlay, addr, sizeof(addr));
			if (a->json) {
				struct json_object *o = json_object_new_object();

				json_object_object_add(o, "id", json_object_new_int((int)g.id));
				json_object_object_add(o, "underlay", json_object_new_string(addr));
				json_object_array_add(arr, o);
			} else {
				printf("gateway %u: %s\n", g.id, addr);
			}
		} else {
			struct conf_dev *c = conf_new();

			if (!c) {
				ctl_err("out of memory");
				goto cleanup;
			}
			if (cluster_record_parse(name, kvs[i].value, kvs[i].value_len, c, err,
						 sizeof(err)) < 0) {
				conf_free(c);
				goto refused;
			}
			if (a->json) {
				char *rec = cluster_record_format(&c->peers[0]);

				json_object_array_add(arr, rec ? json_tokener_parse(rec) : NULL);
				free(rec);
			} else {
				if (n_shown++)
					printf("\n");
				cluster_print_peer(&c->peers[0]);
			}
			conf_free(c);
		}
		continue;
	refused:
		n_bad++;
		if (a->json) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "key", json_object_new_string(kvs[i].key));
			json_object_object_add(o, "error", json_object_new_string(err));
			json_object_array_add(bad, o);
		} else {
			fprintf(stderr, "%s: %s: refused: %s\n", ctl_prog, kvs[i].key, err);
		}
	}
	if (a->json) {
		json_object_object_add(out, "cluster", json_object_new_string(a->cluster));
		json_object_object_add(out, "revision", json_object_new_int64(rev));
		json_object_object_add(out, gateways ? "gateways" : "peers", arr);
		json_object_object_add(out, "refused", bad);
		arr = bad = NULL;
		printf("%s\n",
		       json_object_to_json_string_ext(out, JSON_C_TO_STRING_PRETTY |
								   JSON_C_TO_STRING_NOSLASHESCAPE |
								   JSON_C_TO_STRING_SPACED));
	}
	ret = n_bad ? 1 : 0;
cleanup:
	etcd_kvs_free(kvs, n);
	json_object_put(arr);
	json_object_put(bad);
	json_object_put(out);
	return ret;
}

static int cmd_cluster(int argc, char **argv)
{
	struct cluster_args a = { 0 };
	struct etcd *e = NULL;
	int ret = 1;

	if (cluster_args(argc, argv, &a) < 0)
		goto cleanup;
	if (!a.sub || (strcmp(a.sub, "add-peer") && strcmp(a.sub, "remove-peer") &&
		       strcmp(a.sub, "list") && strcmp(a.sub, "gateways"))) {
		if (a.sub)
			ctl_err("cluster: unknown subcommand \"%s\"", a.sub);
		ret = ctl_usage(argv[0]);
		goto cleanup;
	}
	if ((!strcmp(a.sub, "list") || !strcmp(a.sub, "gateways")) && a.n_pos) {
		ctl_err("cluster %s: unexpected \"%s\"", a.sub, a.pos[0]);
		goto cleanup;
	}
	if (a.json && strcmp(a.sub, "list") && strcmp(a.sub, "gateways")) {
		ctl_err("cluster %s: --json is for list and gateways", a.sub);
		goto cleanup;
	}
	e = cluster_connect(&a);
	if (!e)
		goto cleanup;
	if (!strcmp(a.sub, "add-peer"))
		ret = cluster_add_peer(e, &a);
	else if (!strcmp(a.sub, "remove-peer"))
		ret = cluster_remove_peer(e, &a);
	else
		ret = cluster_list(e, &a, !strcmp(a.sub, "gateways"));
cleanup:
	etcd_free(e);
	free(a.pos);
	return ret;
}

CTL_COMMAND(cluster, .name = "cluster", .run = cmd_cluster,
	    .usage = "[--etcd URL[,URL...]] [--cluster NAME] add-peer <public key> "
		     "[allowed-ips <ip1>/<cidr1>[,<ip2>/<cidr2>]...] "
		     "[persistent-keepalive <interval seconds>] [roam-policy <policy>] "
		     "[roam-within <cidr>[,...]] [endpoint <ip>:<port>] | remove-peer <public key> "
		     "| list [--json] | gateways [--json]",
	    .summary = "Edits and shows the cluster's peer set in etcd");
