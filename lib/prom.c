// SPDX-License-Identifier: GPL-2.0
/*
 * The Prometheus text exposition of one interface (see prom.h).
 *
 *   per peer, labelled interface, public_key and endpoint:
 *     xdpwg_peer_receive_bytes_total, xdpwg_peer_transmit_bytes_total,
 *     xdpwg_peer_latest_handshake_seconds (Unix time, 0: never),
 *     xdpwg_peer_handshake_age_seconds (only for peers that have had a handshake),
 *     xdpwg_peer_endpoint_moves_total, xdpwg_peer_last_move_seconds (Unix time, 0: never)
 *   the same bytes and handshake under prometheus_wireguard_exporter's names, labelled
 *   interface, public_key and allowed_ips (comma-separated, as that exporter does):
 *     wireguard_received_bytes_total, wireguard_sent_bytes_total,
 *     wireguard_latest_handshake_seconds
 *   per XDP counter, labelled interface, reason and action (drop, pass, redirect, info):
 *     xdpwg_xdp_packets_total
 *   per AF_XDP worker, labelled interface, uplink, queue (the uplink's RX queue) and cpu:
 *     xdpwg_worker_rx_ring_depth, xdpwg_worker_fill_ring_depth, xdpwg_worker_tx_ring_depth,
 *     xdpwg_worker_tx_inflight (descriptors now), xdpwg_worker_busy_poll,
 *     xdpwg_worker_packets_total{direction=rx|rx_bad|tx|tx_fallback|tun}
 *   xdpwg_up (the daemon answered), xdpwg_xdp_attached, xdpwg_peers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include "crypto.h"
#include "endpoint.h"
#include "pins.h"
#include "prom.h"

/* A label value: backslash, double quote and newline escaped. */
static void prom_label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", f);
		else if (*s == '"')
			fputs("\\\"", f);
		else if (*s == '\n')
			fputs("\\n", f);
		else
			fputc(*s, f);
	}
}

static void prom_head(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/*
 * The peer lines, nine per peer: at a million peers fprintf and a fputc per label character
 * were most of `xdpwgctl metrics` (callgrind, issue #21). Each line is gathered in a small
 * buffer by memcpy and written with one fwrite.
 */
struct prom_line {
	FILE *f;
	size_t n;
	char b[512];
};

static void prom_put(struct prom_line *l, const char *s, size_t len)
{
	if (l->n + len > sizeof(l->b)) {
		fwrite(l->b, 1, l->n, l->f);
		l->n = 0;
		if (len > sizeof(l->b)) {
			fwrite(s, 1, len, l->f);
			return;
		}
	}
	memcpy(l->b + l->n, s, len);
	l->n += len;
}

#define PROM_PUT_LIT(l, lit) prom_put(l, lit, sizeof(lit) - 1)

static void prom_put_label(struct prom_line *l, const char *s)
{
	size_t len = strcspn(s, "\\\"\n");

	prom_put(l, s, len);
	for (s += len; *s; s++) {
		if (*s == '\\')
			PROM_PUT_LIT(l, "\\\\");
		else if (*s == '"')
			PROM_PUT_LIT(l, "\\\"");
		else if (*s == '\n')
			PROM_PUT_LIT(l, "\\n");
		else
			prom_put(l, s, 1);
	}
}

static void prom_put_u64(struct prom_line *l, uint64_t v)
{
	char d[20];
	size_t at = sizeof(d);

	do {
		d[--at] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	prom_put(l, d + at, sizeof(d) - at);
}

static void prom_put_i64(struct prom_line *l, int64_t v)
{
	if (v < 0) {
		PROM_PUT_LIT(l, "-");
		prom_put_u64(l, 0 - (uint64_t)v);
	} else {
		prom_put_u64(l, (uint64_t)v);
	}
}

/* seconds with three decimals, as "%.3f" */
static void prom_put_sec3(struct prom_line *l, double v)
{
	char buf[64];

	if (v == 0) {
		PROM_PUT_LIT(l, "0.000");
		return;
	}
	prom_put(l, buf, (size_t)snprintf(buf, sizeof(buf), "%.3f", v));
}

static void prom_line_end(struct prom_line *l)
{
	PROM_PUT_LIT(l, "\n");
	fwrite(l->b, 1, l->n, l->f);
	l->n = 0;
}

/* name{interface="...",public_key="...",endpoint="..."} */
static void prom_peer_labels(struct prom_line *l, const char *name, const char *iface,
			     const struct conf_peer *p, const char *key)
{
	char ep[ENDPOINT_STRLEN];

	prom_put(l, name, strlen(name));
	PROM_PUT_LIT(l, "{interface=\"");
	prom_put_label(l, iface);
	PROM_PUT_LIT(l, "\",public_key=\"");
	prom_put(l, key, CRYPTO_KEY_BASE64_LEN); /* base64: nothing to escape */
	PROM_PUT_LIT(l, "\",endpoint=\"");
	if (endpoint_is_set(&p->endpoint))
		prom_put_label(l, endpoint_format(&p->endpoint, ep));
	PROM_PUT_LIT(l, "\"} ");
}

/* name{interface="...",public_key="...",allowed_ips="a/n,b/m"}: the exporter's labels */
static void prom_wg_labels(struct prom_line *l, const char *name, const char *iface,
			   const struct conf_peer *p, const char *key)
{
	char ip[INET6_ADDRSTRLEN + 8];

	prom_put(l, name, strlen(name));
	PROM_PUT_LIT(l, "{interface=\"");
	prom_put_label(l, iface);
	PROM_PUT_LIT(l, "\",public_key=\"");
	prom_put(l, key, CRYPTO_KEY_BASE64_LEN);
	PROM_PUT_LIT(l, "\",allowed_ips=\"");
	for (size_t i = 0; i < p->n_allowedips; i++) {
		if (i)
			PROM_PUT_LIT(l, ",");
		conf_format_allowedip(&p->allowedips[i], ip, sizeof(ip));
		prom_put(l, ip, strlen(ip));
	}
	PROM_PUT_LIT(l, "\"} ");
}

enum prom_field {
	PROM_F_RX,
	PROM_F_TX,
	PROM_F_HANDSHAKE,
	PROM_F_AGE,
	PROM_F_MOVES,
	PROM_F_LAST_MOVE,
	PROM_F_WG_RX,
	PROM_F_WG_TX,
	PROM_F_WG_HANDSHAKE,
	PROM_F_MAX,
};

_Static_assert((int)PROM_F_MAX == (int)PROM_PEER_FAMILIES, "prom.h counts the peer families");

static const struct {
	const char *name, *type, *help;
} prom_fields[PROM_F_MAX] = {
	[PROM_F_RX] = { "xdpwg_peer_receive_bytes_total", "counter",
			"Bytes received from the peer (WireGuard messages)." },
	[PROM_F_TX] = { "xdpwg_peer_transmit_bytes_total", "counter",
			"Bytes sent to the peer (WireGuard messages)." },
	[PROM_F_HANDSHAKE] = { "xdpwg_peer_latest_handshake_seconds", "gauge",
			       "Unix time of the latest completed handshake; 0 if none." },
	[PROM_F_AGE] = { "xdpwg_peer_handshake_age_seconds", "gauge",
			 "Seconds since the latest completed handshake (peers that had one)." },
	[PROM_F_MOVES] = { "xdpwg_peer_endpoint_moves_total", "counter",
			   "Times the peer's endpoint moved to a new source address (roaming)." },
	[PROM_F_LAST_MOVE] = { "xdpwg_peer_last_move_seconds", "gauge",
			       "Unix time of the peer's latest endpoint move; 0 if none." },
	[PROM_F_WG_RX] = { "wireguard_received_bytes_total", "counter",
			   "Bytes received from the peer (prometheus_wireguard_exporter's name)." },
	[PROM_F_WG_TX] = { "wireguard_sent_bytes_total", "counter",
			   "Bytes sent to the peer (prometheus_wireguard_exporter's name)." },
	[PROM_F_WG_HANDSHAKE] = { "wireguard_latest_handshake_seconds", "gauge",
				  "Unix time of the latest handshake; 0 if none "
				  "(prometheus_wireguard_exporter's name)." },
};

void prom_write_peer_family(FILE *f, const char *iface, unsigned int family,
			    const struct conf_dev *piece, const struct prom_key64 *keys, double now,
			    bool head)
{
	struct prom_line l = { .f = f };
	struct prom_key64 own;
	const int pf = (int)family;

	if (family >= PROM_F_MAX)
		return;
	if (head)
		prom_head(f, prom_fields[pf].name, prom_fields[pf].type, prom_fields[pf].help);
	for (size_t i = 0; i < piece->n_peers; i++) {
		const struct conf_peer *p = &piece->peers[i];
		double hs = (double)p->last_handshake_sec + (double)p->last_handshake_nsec / 1e9;

		const char *key = keys ? keys[i].b64 : own.b64;

		if (pf == PROM_F_AGE && hs <= 0)
			continue;
		if (!keys)
			crypto_key_to_base64(own.b64, p->public_key);
		if (pf >= PROM_F_WG_RX)
			prom_wg_labels(&l, prom_fields[pf].name, iface, p, key);
		else
			prom_peer_labels(&l, prom_fields[pf].name, iface, p, key);
		switch (pf) {
		case PROM_F_RX:
		case PROM_F_WG_RX:
			prom_put_u64(&l, p->rx_bytes);
			break;
		case PROM_F_TX:
		case PROM_F_WG_TX:
			prom_put_u64(&l, p->tx_bytes);
			break;
		case PROM_F_HANDSHAKE:
			prom_put_sec3(&l, hs);
			break;
		case PROM_F_WG_HANDSHAKE:
			/* the exporter's is whole seconds */
			prom_put_i64(&l, p->last_handshake_sec);
			break;
		case PROM_F_AGE:
			prom_put_sec3(&l, now > hs ? now - hs : 0.0);
			break;
		case PROM_F_MOVES:
			prom_put_u64(&l, p->endpoint_moves);
			break;
		default:
			prom_put_i64(&l, p->last_move_sec);
			break;
		}
		prom_line_end(&l);
	}
}

static void prom_xdp(FILE *f, const char *iface, const uint64_t *sum, uint32_t n)
{
	static const char *const actions[] = {
		[PINS_STAT_INFO] = "info",
		[PINS_STAT_DROP] = "drop",
		[PINS_STAT_PASS] = "pass",
		[PINS_STAT_REDIRECT] = "redirect",
	};

	prom_head(f, "xdpwg_xdp_packets_total", "counter",
		  "Frames the XDP program decided about, by reason and action.");
	for (uint32_t k = 0; k < n; k++) {
		fputs("xdpwg_xdp_packets_total{interface=\"", f);
		prom_label(f, iface);
		/* a pinned map from another version may have reasons this build does not know */
		if (k < XDPWG_STAT_MAX)
			fprintf(f, "\",reason=\"%s", pins_stat_name((enum xdpwg_stat)k));
		else
			fprintf(f, "\",reason=\"reason_%u", k);
		fprintf(f, "\",action=\"%s\"} %" PRIu64 "\n",
			actions[pins_stat_action((enum xdpwg_stat)k)], sum[k]);
	}
}

/* name{interface="...",uplink="...",queue="N",cpu="N"[,direction="..."]} */
static void prom_worker_labels(FILE *f, const char *name, const char *iface,
			       const struct prom_worker *w, const char *direction)
{
	fprintf(f, "%s{interface=\"", name);
	prom_label(f, iface);
	fputs("\",uplink=\"", f);
	prom_label(f, w->uplink);
	fprintf(f, "\",queue=\"%u\",cpu=\"%d\"", w->queue, w->cpu);
	if (direction)
		fprintf(f, ",direction=\"%s\"", direction);
	fputs("} ", f);
}

static void prom_workers(FILE *f, const char *iface, const struct prom_worker *w, size_t n)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} depth[] = {
		{ "xdpwg_worker_rx_ring_depth", "Frames waiting in the worker's AF_XDP RX ring.",
		  offsetof(struct prom_worker, rx_ring) },
		{ "xdpwg_worker_fill_ring_depth",
		  "Buffers in the worker's AF_XDP fill ring (empty: received frames are dropped).",
		  offsetof(struct prom_worker, fill_ring) },
		{ "xdpwg_worker_tx_ring_depth", "Frames waiting in the worker's AF_XDP TX ring.",
		  offsetof(struct prom_worker, tx_ring) },
		{ "xdpwg_worker_tx_inflight",
		  "Frames handed to the kernel for sending and not completed yet.",
		  offsetof(struct prom_worker, tx_inflight) },
		{ "xdpwg_worker_busy_poll",
		  "1 when the worker spins on its rings instead of sleeping (xdpwgd --busy-poll).",
		  offsetof(struct prom_worker, busy_poll) },
	};
	static const struct {
		const char *direction;
		size_t off;
	} pkts[] = {
		{ "rx", offsetof(struct prom_worker, rx_frames) },
		{ "rx_bad", offsetof(struct prom_worker, rx_bad) },
		{ "tx", offsetof(struct prom_worker, tx_frames) },
		{ "tx_fallback", offsetof(struct prom_worker, tx_fallback) },
		{ "tun", offsetof(struct prom_worker, tun_packets) },
	};

	if (!n)
		return;
	for (size_t d = 0; d < sizeof(depth) / sizeof(depth[0]); d++) {
		prom_head(f, depth[d].name, "gauge", depth[d].help);
		for (size_t i = 0; i < n; i++) {
			prom_worker_labels(f, depth[d].name, iface, &w[i], NULL);
			fprintf(f, "%" PRIu64 "\n",
				*(const uint64_t *)((const char *)&w[i] + depth[d].off));
		}
	}
	prom_head(f, "xdpwg_worker_packets_total", "counter",
		  "Packets a worker moved: rx (AF_XDP frames to the engine), rx_bad (not UDP), tx "
		  "(sent through AF_XDP), tx_fallback (left to the kernel socket), tun (read from "
		  "its TUN queue).");
	for (size_t d = 0; d < sizeof(pkts) / sizeof(pkts[0]); d++) {
		for (size_t i = 0; i < n; i++) {
			prom_worker_labels(f, "xdpwg_worker_packets_total", iface, &w[i],
					   pkts[d].direction);
			fprintf(f, "%" PRIu64 "\n",
				*(const uint64_t *)((const char *)&w[i] + pkts[d].off));
		}
	}
}

static void prom_gauge(FILE *f, const char *name, const char *help, const char *iface, double v)
{
	prom_head(f, name, "gauge", help);
	fprintf(f, "%s{interface=\"", name);
	prom_label(f, iface);
	fprintf(f, "\"} %g\n", v);
}

void prom_write_head(FILE *f, const struct prom_input *in, bool up, size_t n_peers)
{
	prom_gauge(f, "xdpwg_up", "1 if the daemon answered on its configuration socket.",
		   in->iface, up ? 1 : 0);
	prom_gauge(f, "xdpwg_xdp_attached", "1 if the XDP data path's maps are pinned.", in->iface,
		   in->xdp ? 1 : 0);
	if (up)
		prom_gauge(f, "xdpwg_peers", "Configured peers.", in->iface, (double)n_peers);
}

int prom_write_tail(FILE *f, const struct prom_input *in)
{
	if (in->xdp)
		prom_xdp(f, in->iface, in->xdp, in->n_xdp);
	prom_workers(f, in->iface, in->workers, in->n_workers);
	return fflush(f) || ferror(f) ? -EIO : 0;
}

int prom_write(FILE *f, const struct prom_input *in)
{
	prom_write_head(f, in, in->dev != NULL, in->dev ? in->dev->n_peers : 0);
	for (unsigned int pf = 0; in->dev && pf < PROM_PEER_FAMILIES; pf++)
		prom_write_peer_family(f, in->iface, pf, in->dev, NULL, in->now, true);
	return prom_write_tail(f, in);
}
