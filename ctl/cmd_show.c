// SPDX-License-Identifier: GPL-2.0
/*
 * show and showconf: wg(8)'s output, line for line, so scripts written against `wg show`
 * work unchanged. xdpwg adds lines only when a daemon reports xdpwg state (endpoint moves, a
 * roam policy other than the default), so against a stock daemon the output is identical.
 * No colours: wg only colours a terminal, and plain text is what gets compared and parsed.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "ctl.h"

static const char *show_key(const uint8_t key[WG_KEY_LEN], char buf[CRYPTO_KEY_BASE64_LEN + 1])
{
	crypto_key_to_base64(buf, key);
	return buf;
}

static const char *show_maybe_key(const uint8_t key[WG_KEY_LEN], bool have,
				  char buf[CRYPTO_KEY_BASE64_LEN + 1])
{
	return have ? show_key(key, buf) : "(none)";
}

static bool show_hide_keys(void)
{
	const char *v = getenv("WG_HIDE_KEYS");

	return !v || strcmp(v, "never");
}

static bool show_has_psk(const struct conf_peer *p)
{
	return !crypto_is_zero(p->preshared_key, WG_KEY_LEN);
}

/* "1 day, 2 hours, 5 seconds", as wg prints durations */
static void show_pretty_time(char *buf, size_t len, uint64_t left)
{
	static const struct {
		const char *name;
		uint64_t secs;
	} units[] = { { "year", 365ULL * 24 * 3600 },
		      { "day", 24 * 3600 },
		      { "hour", 3600 },
		      { "minute", 60 },
		      { "second", 1 } };
	size_t off = 0, i;

	buf[0] = '\0';
	for (i = 0; i < sizeof(units) / sizeof(units[0]) && off < len; ++i) {
		uint64_t n = left / units[i].secs;

		left %= units[i].secs;
		if (!n)
			continue;
		off += (size_t)snprintf(buf + off, len - off, "%s%" PRIu64 " %s%s", off ? ", " : "",
					n, units[i].name, n == 1 ? "" : "s");
	}
}

static void show_ago(char *buf, size_t len, int64_t t)
{
	int64_t now = (int64_t)time(NULL);

	if (now == t)
		snprintf(buf, len, "Now");
	else if (now < t)
		snprintf(buf, len, "(System clock wound backward; connection problems may ensue.)");
	else {
		show_pretty_time(buf, len, (uint64_t)(now - t));
		strncat(buf, " ago", len - strlen(buf) - 1);
	}
}

static void show_bytes(char *buf, size_t len, uint64_t b)
{
	if (b < 1024ULL)
		snprintf(buf, len, "%u B", (unsigned int)b);
	else if (b < 1024ULL * 1024)
		snprintf(buf, len, "%.2f KiB", (double)b / 1024);
	else if (b < 1024ULL * 1024 * 1024)
		snprintf(buf, len, "%.2f MiB", (double)b / (1024 * 1024));
	else if (b < 1024ULL * 1024 * 1024 * 1024)
		snprintf(buf, len, "%.2f GiB", (double)b / (1024 * 1024 * 1024));
	else
		snprintf(buf, len, "%.2f TiB", (double)b / (1024 * 1024 * 1024) / 1024);
}

static void show_cidrs(const struct conf_allowedip *ips, size_t n, const char *sep,
		       const char *last)
{
	char buf[INET6_ADDRSTRLEN + 8];
	size_t i;

	for (i = 0; i < n; ++i) {
		conf_format_allowedip(&ips[i], buf, sizeof(buf));
		printf("%s%s", buf, i + 1 < n ? sep : last);
	}
}

/* wg's order for the pretty view: most recent handshake first, never-handshaken last. */
static int show_peer_cmp(const void *a, const void *b)
{
	const struct conf_peer *x = *(const struct conf_peer *const *)a;
	const struct conf_peer *y = *(const struct conf_peer *const *)b;
	bool xz = !x->last_handshake_sec && !x->last_handshake_nsec;
	bool yz = !y->last_handshake_sec && !y->last_handshake_nsec;

	if (xz != yz)
		return xz ? 1 : -1;
	if (x->last_handshake_sec != y->last_handshake_sec)
		return x->last_handshake_sec < y->last_handshake_sec ? 1 : -1;
	if (x->last_handshake_nsec != y->last_handshake_nsec)
		return x->last_handshake_nsec < y->last_handshake_nsec ? 1 : -1;
	return 0;
}

static void show_pretty(const char *iface, const struct ctl_snap *snap)
{
	const struct conf_dev *c = snap->dev;
	char k[CRYPTO_KEY_BASE64_LEN + 1], ep[ENDPOINT_STRLEN], t[256], rx[64], tx[64];
	const struct conf_peer **sorted = NULL;
	bool has_priv = c->flags & CONF_DEV_HAS_PRIVATE_KEY;
	size_t i;

	printf("interface: %s\n", iface);
	if (has_priv) {
		printf("  public key: %s\n", show_key(c->public_key, k));
		printf("  private key: %s\n",
		       show_hide_keys() ? "(hidden)" : show_key(c->private_key, k));
	}
	if (c->listen_port)
		printf("  listening port: %u\n", c->listen_port);
	if (c->fwmark)
		printf("  fwmark: 0x%x\n", c->fwmark);
	if (!snap->n_peers)
		goto out;
	printf("\n");
	sorted = calloc(snap->n_peers, sizeof(*sorted));
	for (i = 0; sorted && i < snap->n_peers; ++i)
		sorted[i] = snap->peers[i];
	if (sorted)
		qsort(sorted, snap->n_peers, sizeof(*sorted), show_peer_cmp);
	for (i = 0; i < snap->n_peers; ++i) {
		const struct conf_peer *p = sorted ? sorted[i] : snap->peers[i];

		printf("peer: %s\n", show_key(p->public_key, k));
		if (show_has_psk(p))
			printf("  preshared key: %s\n",
			       show_hide_keys() ? "(hidden)" : show_key(p->preshared_key, k));
		if (endpoint_is_set(&p->endpoint))
			printf("  endpoint: %s\n", endpoint_format(&p->endpoint, ep));
		printf("  allowed ips: ");
		if (p->n_allowedips)
			show_cidrs(p->allowedips, p->n_allowedips, ", ", "\n");
		else
			printf("(none)\n");
		if (p->last_handshake_sec) {
			show_ago(t, sizeof(t), p->last_handshake_sec);
			printf("  latest handshake: %s\n", t);
		}
		if (p->rx_bytes || p->tx_bytes) {
			show_bytes(rx, sizeof(rx), p->rx_bytes);
			show_bytes(tx, sizeof(tx), p->tx_bytes);
			printf("  transfer: %s received, %s sent\n", rx, tx);
		}
		if (p->persistent_keepalive) {
			show_pretty_time(t, sizeof(t), p->persistent_keepalive);
			printf("  persistent keepalive: every %s\n", t);
		}
		/* xdpwg: only what a stock daemon never reports */
		if ((p->flags & CONF_PEER_HAS_ROAM_POLICY) && p->roam_policy != CONF_ROAM_ANY) {
			printf("  roam policy: %s", conf_roam_policy_name(p->roam_policy));
			if (p->n_roam_cidrs) {
				printf(" ");
				show_cidrs(p->roam_cidrs, p->n_roam_cidrs, ", ", "");
			}
			printf("\n");
		}
		if (p->endpoint_moves) {
			printf("  endpoint moves: %" PRIu64, p->endpoint_moves);
			if (p->last_move_sec) {
				show_ago(t, sizeof(t), p->last_move_sec);
				printf(" (last %s)", t);
			}
			printf("\n");
		}
		show_paths_text(p);
		if (i + 1 < snap->n_peers)
			printf("\n");
	}
out:
	crypto_wipe(k, sizeof(k));
	free(sorted);
}

static void show_prefix(const char *iface, bool with_iface)
{
	if (with_iface)
		printf("%s\t", iface);
}

static void show_dump(const char *iface, const struct ctl_snap *snap, bool with_iface)
{
	const struct conf_dev *c = snap->dev;
	char k[CRYPTO_KEY_BASE64_LEN + 1], ep[ENDPOINT_STRLEN];
	bool has_priv = c->flags & CONF_DEV_HAS_PRIVATE_KEY;
	size_t i;

	show_prefix(iface, with_iface);
	printf("%s\t", show_maybe_key(c->private_key, has_priv, k));
	printf("%s\t", show_maybe_key(c->public_key, has_priv, k));
	printf("%u\t", c->listen_port);
	if (c->fwmark)
		printf("0x%x\n", c->fwmark);
	else
		printf("off\n");
	for (i = 0; i < snap->n_peers; ++i) {
		const struct conf_peer *p = snap->peers[i];

		show_prefix(iface, with_iface);
		printf("%s\t", show_key(p->public_key, k));
		printf("%s\t", show_maybe_key(p->preshared_key, show_has_psk(p), k));
		printf("%s\t", endpoint_format(&p->endpoint, ep));
		if (p->n_allowedips)
			show_cidrs(p->allowedips, p->n_allowedips, ",", "\t");
		else
			printf("(none)\t");
		printf("%" PRIu64 "\t", (uint64_t)p->last_handshake_sec);
		printf("%" PRIu64 "\t%" PRIu64 "\t", p->rx_bytes, p->tx_bytes);
		if (p->persistent_keepalive)
			printf("%u\n", p->persistent_keepalive);
		else
			printf("off\n");
	}
	crypto_wipe(k, sizeof(k));
}

static const char *const show_fields[] = { "public-key",
					   "private-key",
					   "listen-port",
					   "fwmark",
					   "peers",
					   "preshared-keys",
					   "endpoints",
					   "allowed-ips",
					   "latest-handshakes",
					   "transfer",
					   "persistent-keepalive",
					   "dump" };

static bool show_is_field(const char *s)
{
	size_t i;

	for (i = 0; i < sizeof(show_fields) / sizeof(show_fields[0]); ++i)
		if (!strcmp(s, show_fields[i]))
			return true;
	return false;
}

/* One field, wg's "ugly" machine-readable form. */
static void show_field(const char *iface, const struct ctl_snap *snap, const char *f, bool wi)
{
	const struct conf_dev *c = snap->dev;
	char k[CRYPTO_KEY_BASE64_LEN + 1], ep[ENDPOINT_STRLEN];
	bool has_priv = c->flags & CONF_DEV_HAS_PRIVATE_KEY;
	size_t i;

	if (!strcmp(f, "dump")) {
		show_dump(iface, snap, wi);
		return;
	}
	if (!strcmp(f, "public-key") || !strcmp(f, "private-key") || !strcmp(f, "listen-port") ||
	    !strcmp(f, "fwmark")) {
		show_prefix(iface, wi);
		if (f[1] == 'u')
			printf("%s\n", show_maybe_key(c->public_key, has_priv, k));
		else if (f[1] == 'r')
			printf("%s\n", show_maybe_key(c->private_key, has_priv, k));
		else if (f[0] == 'l')
			printf("%u\n", c->listen_port);
		else if (c->fwmark)
			printf("0x%x\n", c->fwmark);
		else
			printf("off\n");
		crypto_wipe(k, sizeof(k));
		return;
	}
	for (i = 0; i < snap->n_peers; ++i) {
		const struct conf_peer *p = snap->peers[i];

		show_prefix(iface, wi);
		printf("%s", show_key(p->public_key, k));
		if (!strcmp(f, "peers")) {
			printf("\n");
		} else if (!strcmp(f, "preshared-keys")) {
			printf("\t%s\n", show_maybe_key(p->preshared_key, show_has_psk(p), k));
		} else if (!strcmp(f, "endpoints")) {
			printf("\t%s\n", endpoint_format(&p->endpoint, ep));
		} else if (!strcmp(f, "allowed-ips")) {
			printf("\t");
			if (p->n_allowedips)
				show_cidrs(p->allowedips, p->n_allowedips, " ", "\n");
			else
				printf("(none)\n");
		} else if (!strcmp(f, "latest-handshakes")) {
			printf("\t%" PRIu64 "\n", (uint64_t)p->last_handshake_sec);
		} else if (!strcmp(f, "transfer")) {
			printf("\t%" PRIu64 "\t%" PRIu64 "\n", p->rx_bytes, p->tx_bytes);
		} else if (p->persistent_keepalive) {
			printf("\t%u\n", p->persistent_keepalive);
		} else {
			printf("\toff\n");
		}
	}
	crypto_wipe(k, sizeof(k));
}

void show_json_str(const char *key, const char *v, bool comma)
{
	/* every string here is a key, an address or an interface name: nothing to escape but
	 * quotes and backslashes, which interface names could in theory hold */
	printf("\"%s\":\"", key);
	for (; *v; ++v) {
		if (*v == '"' || *v == '\\')
			putchar('\\');
		if ((unsigned char)*v >= 0x20)
			putchar(*v);
	}
	printf("\"%s", comma ? "," : "");
}

static void show_json_cidrs(const char *key, const struct conf_allowedip *ips, size_t n)
{
	char buf[INET6_ADDRSTRLEN + 8];
	size_t i;

	printf("\"%s\":[", key);
	for (i = 0; i < n; ++i) {
		conf_format_allowedip(&ips[i], buf, sizeof(buf));
		printf("\"%s\"%s", buf, i + 1 < n ? "," : "");
	}
	printf("]");
}

static void show_json(const char *iface, const struct ctl_snap *snap)
{
	const struct conf_dev *c = snap->dev;
	char k[CRYPTO_KEY_BASE64_LEN + 1], ep[ENDPOINT_STRLEN];
	bool has_priv = c->flags & CONF_DEV_HAS_PRIVATE_KEY;
	size_t i;

	printf("{");
	show_json_str("interface", iface, true);
	if (has_priv) {
		show_json_str("public_key", show_key(c->public_key, k), true);
		show_json_str("private_key",
			      show_hide_keys() ? "(hidden)" : show_key(c->private_key, k), true);
	} else {
		printf("\"public_key\":null,\"private_key\":null,");
	}
	printf("\"listen_port\":%u,\"fwmark\":%u,\"peers\":[", c->listen_port, c->fwmark);
	for (i = 0; i < snap->n_peers; ++i) {
		const struct conf_peer *p = snap->peers[i];

		printf("{");
		show_json_str("public_key", show_key(p->public_key, k), true);
		if (show_has_psk(p))
			show_json_str("preshared_key",
				      show_hide_keys() ? "(hidden)" : show_key(p->preshared_key, k),
				      true);
		else
			printf("\"preshared_key\":null,");
		if (endpoint_is_set(&p->endpoint))
			show_json_str("endpoint", endpoint_format(&p->endpoint, ep), true);
		else
			printf("\"endpoint\":null,");
		show_json_cidrs("allowed_ips", p->allowedips, p->n_allowedips);
		printf(",\"latest_handshake\":%" PRId64 ",\"latest_handshake_nsec\":%" PRId64
		       ",\"rx_bytes\":%" PRIu64 ",\"tx_bytes\":%" PRIu64
		       ",\"persistent_keepalive\":%u,",
		       p->last_handshake_sec, p->last_handshake_nsec, p->rx_bytes, p->tx_bytes,
		       p->persistent_keepalive);
		show_json_str("roam_policy", conf_roam_policy_name(p->roam_policy), true);
		show_json_cidrs("roam_within", p->roam_cidrs, p->n_roam_cidrs);
		printf(",\"endpoint_moves\":%" PRIu64 ",\"last_move\":%" PRId64, p->endpoint_moves,
		       p->last_move_sec);
		show_paths_json(p);
		printf("}%s", i + 1 < snap->n_peers ? "," : "");
	}
	printf("]}");
	crypto_wipe(k, sizeof(k));
}

static int show_one(const char *iface, const char *field, bool json, bool with_iface)
{
	struct ctl_snap snap;

	/* in pieces, never gathered: see ctl_ipc_get_snap */
	if (ctl_ipc_get_snap(iface, &snap))
		return 1;
	if (json)
		show_json(iface, &snap);
	else if (field)
		show_field(iface, &snap, field, with_iface);
	else
		show_pretty(iface, &snap);
	ctl_snap_free(&snap);
	return 0;
}

static int show_main(int argc, char **argv)
{
	const char *args[3] = { NULL };
	bool json = false;
	size_t nargs = 0, n = 0, i;
	char **names = NULL;
	int ret = 0, r;

	for (i = 1; i < (size_t)argc; ++i) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (nargs < 2) {
			args[nargs++] = argv[i];
		} else {
			ctl_err("show: unexpected argument `%s'", argv[i]);
			return ctl_usage("show");
		}
	}
	if (nargs == 2 && !show_is_field(args[1])) {
		ctl_err("show: `%s' is not a field (one of public-key, private-key, listen-port, "
			"fwmark, peers, preshared-keys, endpoints, allowed-ips, latest-handshakes, "
			"transfer, persistent-keepalive, dump)",
			args[1]);
		return ctl_usage("show");
	}
	/* a million peers print ~200 MB: stdio's 4 KB would be 50,000 writes */
	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, NULL, _IOFBF, CTL_STDOUT_BUF);
	if (json && nargs == 2) {
		ctl_err("show: --json prints every field; it does not combine with `%s'", args[1]);
		return 1;
	}
	if (nargs && !strcmp(args[0], "interfaces")) {
		if (nargs > 1 || json) {
			ctl_err("show interfaces: takes no further arguments");
			return 1;
		}
		r = ctl_ipc_list(&names, &n);
		if (r) {
			ctl_err("Unable to list interfaces: %s", strerror(-r));
			return 1;
		}
		for (i = 0; i < n; ++i)
			printf("%s%c", names[i], i + 1 < n ? ' ' : '\n');
		ctl_free_list(names, n);
		return 0;
	}
	if (nargs && strcmp(args[0], "all")) {
		if (show_one(args[0], args[1], json, false))
			return 1;
		if (json)
			printf("\n");
		return 0;
	}

	r = ctl_ipc_list(&names, &n);
	if (r) {
		ctl_err("Unable to list interfaces: %s", strerror(-r));
		return 1;
	}
	if (json)
		printf("[");
	for (i = 0; i < n; ++i) {
		if (json && i)
			printf(",");
		if (show_one(names[i], args[1], json, true))
			ret = 1;
		else if (!json && !args[1] && i + 1 < n)
			printf("\n");
	}
	if (json)
		printf("]\n");
	ctl_free_list(names, n);
	return ret;
}

/* showconf prints each piece of the reply as it comes (ctl_ipc_get_each): a million peers are
 * never all in memory, and the first lines are out before the daemon has sent the rest. */
static int showconf_piece(void *ctx, const struct conf_dev *piece, bool first)
{
	bool *printed = ctx;
	int ret = 0;

	if (first)
		ret = conf_format_file_head(piece, stdout);
	if (!ret)
		ret = conf_format_file_peers(piece, stdout, *printed);
	if (piece->n_peers)
		*printed = true;
	return ret;
}

static int showconf_main(int argc, char **argv)
{
	bool printed = false;

	if (argc != 2)
		return ctl_usage(argv[0]);
	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, NULL, _IOFBF, CTL_STDOUT_BUF);
	return ctl_ipc_get_each(argv[1], showconf_piece, &printed) ? 1 : 0;
}

CTL_COMMAND(show, .name = "show", .run = show_main,
	    .usage = "{ <interface> | all | interfaces } [public-key | private-key | listen-port | "
		     "fwmark | peers | preshared-keys | endpoints | allowed-ips | "
		     "latest-handshakes | transfer | persistent-keepalive | dump] [--json]",
	    .summary = "Shows the current configuration and device information");
CTL_COMMAND(showconf, .name = "showconf", .run = showconf_main, .usage = "<interface>",
	    .summary = "Shows the current configuration of a given WireGuard interface, for use "
		       "with `setconf'");
