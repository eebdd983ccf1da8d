// SPDX-License-Identifier: GPL-2.0
/*
 * metrics: one interface in the Prometheus text exposition format (version 0.0.4), for a
 * node_exporter textfile collector or any scraper wrapper:
 *
 *   per peer, labelled interface, public_key and endpoint (from the configuration socket):
 *     xdpwg_peer_receive_bytes_total, xdpwg_peer_transmit_bytes_total,
 *     xdpwg_peer_latest_handshake_seconds (Unix time, 0: never),
 *     xdpwg_peer_handshake_age_seconds (only for peers that have had a handshake),
 *     xdpwg_peer_endpoint_moves_total, xdpwg_peer_last_move_seconds (Unix time, 0: never)
 *   per XDP counter, labelled interface, reason and action (drop, pass, redirect, info), from
 *   the pinned stats map when the XDP data path is attached:
 *     xdpwg_xdp_packets_total
 *   per AF_XDP worker, labelled interface, uplink, queue (the uplink's RX queue) and cpu, from the
 *   daemon's events socket (workers=1; none in socket mode or from a stock daemon):
 *     xdpwg_worker_rx_ring_depth, xdpwg_worker_fill_ring_depth, xdpwg_worker_tx_ring_depth,
 *     xdpwg_worker_tx_inflight (descriptors now), xdpwg_worker_packets_total{direction=rx|rx_bad|
 *     tx|tx_fallback|tun}
 *   xdpwg_up (the daemon answered), xdpwg_xdp_attached, xdpwg_peers.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "ctl.h"
#include "observe.h"

/* A label value: backslash, double quote and newline escaped. */
static void metrics_label(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", stdout);
		else if (*s == '"')
			fputs("\\\"", stdout);
		else if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
}

static void metrics_head(const char *name, const char *type, const char *help)
{
	printf("# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{interface="...",public_key="...",endpoint="..."} */
static void metrics_peer_labels(const char *name, const char *iface, const struct conf_peer *p)
{
	char key[CRYPTO_KEY_BASE64_LEN + 1], ep[ENDPOINT_STRLEN];

	crypto_key_to_base64(key, p->public_key);
	printf("%s{interface=\"", name);
	metrics_label(iface);
	printf("\",public_key=\"");
	metrics_label(key);
	printf("\",endpoint=\"");
	metrics_label(endpoint_is_set(&p->endpoint) ? endpoint_format(&p->endpoint, ep) : "");
	printf("\"} ");
}

enum metrics_field {
	MF_RX,
	MF_TX,
	MF_HANDSHAKE,
	MF_AGE,
	MF_MOVES,
	MF_LAST_MOVE,
	MF_MAX,
};

static const struct {
	const char *name, *type, *help;
} metrics_fields[MF_MAX] = {
	[MF_RX] = { "xdpwg_peer_receive_bytes_total", "counter",
		    "Bytes received from the peer (WireGuard messages)." },
	[MF_TX] = { "xdpwg_peer_transmit_bytes_total", "counter",
		    "Bytes sent to the peer (WireGuard messages)." },
	[MF_HANDSHAKE] = { "xdpwg_peer_latest_handshake_seconds", "gauge",
			   "Unix time of the latest completed handshake; 0 if none." },
	[MF_AGE] = { "xdpwg_peer_handshake_age_seconds", "gauge",
		     "Seconds since the latest completed handshake (peers that had one)." },
	[MF_MOVES] = { "xdpwg_peer_endpoint_moves_total", "counter",
		       "Times the peer's endpoint moved to a new source address (roaming)." },
	[MF_LAST_MOVE] = { "xdpwg_peer_last_move_seconds", "gauge",
			   "Unix time of the peer's latest endpoint move; 0 if none." },
};

static void metrics_peers(const char *iface, const struct conf_dev *dev, double now)
{
	size_t i;
	int f;

	for (f = 0; f < MF_MAX; f++) {
		metrics_head(metrics_fields[f].name, metrics_fields[f].type,
			     metrics_fields[f].help);
		for (i = 0; i < dev->n_peers; i++) {
			const struct conf_peer *p = &dev->peers[i];
			double hs = (double)p->last_handshake_sec +
				    (double)p->last_handshake_nsec / 1e9;

			if (f == MF_AGE && hs <= 0)
				continue;
			metrics_peer_labels(metrics_fields[f].name, iface, p);
			switch (f) {
			case MF_RX:
				printf("%" PRIu64 "\n", p->rx_bytes);
				break;
			case MF_TX:
				printf("%" PRIu64 "\n", p->tx_bytes);
				break;
			case MF_HANDSHAKE:
				printf("%.3f\n", hs);
				break;
			case MF_AGE:
				printf("%.3f\n", now > hs ? now - hs : 0.0);
				break;
			case MF_MOVES:
				printf("%" PRIu64 "\n", p->endpoint_moves);
				break;
			default:
				printf("%" PRId64 "\n", p->last_move_sec);
				break;
			}
		}
	}
}

static void metrics_xdp(const char *iface, const uint64_t *sum, uint32_t n)
{
	char name[64];
	uint32_t k;

	metrics_head("xdpwg_xdp_packets_total", "counter",
		     "Frames the XDP program decided about, by reason and action.");
	for (k = 0; k < n; k++) {
		obs_stat_name(k, name, sizeof(name));
		printf("xdpwg_xdp_packets_total{interface=\"");
		metrics_label(iface);
		printf("\",reason=\"");
		metrics_label(name);
		printf("\",action=\"%s\"} %" PRIu64 "\n", obs_stat_action(k), sum[k]);
	}
}

/* name{interface="...",uplink="...",queue="N",cpu="N"[,direction="..."]} */
static void metrics_worker_labels(const char *name, const char *iface, const struct obs_worker *w,
				  const char *direction)
{
	printf("%s{interface=\"", name);
	metrics_label(iface);
	printf("\",uplink=\"");
	metrics_label(w->uplink);
	printf("\",queue=\"%u\",cpu=\"%d\"", w->queue, w->cpu);
	if (direction)
		printf(",direction=\"%s\"", direction);
	printf("} ");
}

static void metrics_workers(const char *iface, const struct obs_worker *w, size_t n)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} depth[] = {
		{ "xdpwg_worker_rx_ring_depth", "Frames waiting in the worker's AF_XDP RX ring.",
		  offsetof(struct obs_worker, rx_ring) },
		{ "xdpwg_worker_fill_ring_depth",
		  "Buffers in the worker's AF_XDP fill ring (empty: received frames are dropped).",
		  offsetof(struct obs_worker, fill_ring) },
		{ "xdpwg_worker_tx_ring_depth", "Frames waiting in the worker's AF_XDP TX ring.",
		  offsetof(struct obs_worker, tx_ring) },
		{ "xdpwg_worker_tx_inflight",
		  "Frames handed to the kernel for sending and not completed yet.",
		  offsetof(struct obs_worker, tx_inflight) },
		{ "xdpwg_worker_busy_poll",
		  "1 when the worker spins on its rings instead of sleeping (xdpwgd --busy-poll).",
		  offsetof(struct obs_worker, busy_poll) },
	};
	static const struct {
		const char *direction;
		size_t off;
	} pkts[] = {
		{ "rx", offsetof(struct obs_worker, rx_frames) },
		{ "rx_bad", offsetof(struct obs_worker, rx_bad) },
		{ "tx", offsetof(struct obs_worker, tx_frames) },
		{ "tx_fallback", offsetof(struct obs_worker, tx_fallback) },
		{ "tun", offsetof(struct obs_worker, tun_packets) },
	};
	size_t f, i;

	if (!n)
		return;
	for (f = 0; f < sizeof(depth) / sizeof(depth[0]); f++) {
		metrics_head(depth[f].name, "gauge", depth[f].help);
		for (i = 0; i < n; i++) {
			metrics_worker_labels(depth[f].name, iface, &w[i], NULL);
			printf("%" PRIu64 "\n",
			       *(const uint64_t *)((const char *)&w[i] + depth[f].off));
		}
	}
	metrics_head(
		"xdpwg_worker_packets_total", "counter",
		"Packets a worker moved: rx (AF_XDP frames to the engine), rx_bad (not UDP), tx "
		"(sent through AF_XDP), tx_fallback (left to the kernel socket), tun (read from "
		"its TUN queue).");
	for (f = 0; f < sizeof(pkts) / sizeof(pkts[0]); f++) {
		for (i = 0; i < n; i++) {
			metrics_worker_labels("xdpwg_worker_packets_total", iface, &w[i],
					      pkts[f].direction);
			printf("%" PRIu64 "\n",
			       *(const uint64_t *)((const char *)&w[i] + pkts[f].off));
		}
	}
}

static void metrics_gauge(const char *name, const char *help, const char *iface, double v)
{
	metrics_head(name, "gauge", help);
	printf("%s{interface=\"", name);
	metrics_label(iface);
	printf("\"} %g\n", v);
}

static int metrics_main(int argc, char **argv)
{
	struct conf_dev *dev = NULL;
	struct obs_worker *workers = NULL;
	size_t n_workers = 0;
	uint64_t *sum = NULL;
	uint32_t n = 0;
	const char *iface;
	int err_ipc, err_xdp;

	if (argc != 2)
		return ctl_usage(argv[0]);
	iface = argv[1];
	if (!obs_name_ok(iface)) {
		ctl_err("%s: not an interface name", iface);
		return 1;
	}
	err_ipc = ctl_ipc_get(iface, &dev);
	err_xdp = obs_stats_read(iface, &sum, &n);
	if (err_ipc && err_xdp) {
		if (err_xdp != -ENOENT)
			ctl_err("%s: XDP stats: %s", iface, strerror(-err_xdp));
		return 1;
	}
	metrics_gauge("xdpwg_up", "1 if the daemon answered on its configuration socket.", iface,
		      err_ipc ? 0 : 1);
	metrics_gauge("xdpwg_xdp_attached", "1 if the XDP data path's maps are pinned.", iface,
		      err_xdp ? 0 : 1);
	if (!err_ipc) {
		metrics_gauge("xdpwg_peers", "Configured peers.", iface, (double)dev->n_peers);
		metrics_peers(iface, dev, (double)obs_wall_ns() / 1e9);
	}
	if (!err_xdp)
		metrics_xdp(iface, sum, n);
	/* the workers exist only with the XDP data path; a daemon without an events socket
	 * (wireguard-go) simply has none to show */
	if (!err_ipc && !err_xdp && obs_workers_read(iface, &workers, &n_workers) == 0)
		metrics_workers(iface, workers, n_workers);
	free(workers);
	free(sum);
	conf_free(dev);
	if (fflush(stdout)) {
		ctl_err("writing: %m");
		return 1;
	}
	return 0;
}

CTL_COMMAND(metrics, .name = "metrics", .run = metrics_main, .usage = "<interface>",
	    .summary = "Prints peer, XDP and worker counters in the Prometheus text format");
