/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One interface in the Prometheus text exposition format (version 0.0.4): what `xdpwgctl
 * metrics` prints and `xdpwgd --metrics` serves over HTTP, from the same inputs, so both show the
 * same names. The names follow Prometheus' conventions (base units, _total for counters), and
 * where the widely used WireGuard exporter (prometheus_wireguard_exporter) has a metric of the
 * same meaning it is served under that exporter's name and labels too, so existing dashboards
 * work: wireguard_sent_bytes_total, wireguard_received_bytes_total and
 * wireguard_latest_handshake_seconds, labelled interface, public_key and allowed_ips.
 */
#ifndef XDPWG_PROM_H
#define XDPWG_PROM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "crypto.h"

/* One AF_XDP worker of the daemon (the events socket's workers=1 line, or the daemon itself). */
struct prom_worker {
	char uplink[32];
	unsigned int worker, queue, tun_queue;
	int cpu;
	int zerocopy;
	uint64_t rx_frames, rx_bad, tx_frames, tx_fallback, tun_packets;
	uint64_t rx_ring, fill_ring, tx_ring, tx_inflight;
	/* 1: the worker spins (xdpwgd --busy-poll); 0 also when an older daemon omits it */
	uint64_t busy_poll;
};

struct prom_input {
	const char *iface;
	const struct conf_dev *dev; /* NULL: no daemon answered (xdpwg_up 0, no peer metrics) */
	const uint64_t *xdp;	    /* the XDP counters by reason; NULL: not attached */
	uint32_t n_xdp;
	const struct prom_worker *workers;
	size_t n_workers;
	double now; /* Unix time, for the handshake ages */
};

/* The whole exposition into f; 0, or -EIO when writing failed. */
int prom_write(FILE *f, const struct prom_input *in);

/*
 * The same in parts, for a writer that gets the peers in pieces (xdpwgd --metrics streams a
 * million peers): the head (xdpwg_up = up, xdpwg_xdp_attached, and xdpwg_peers = n_peers when
 * up; in->dev is not read), then each of the PROM_PEER_FAMILIES peer families over
 * every piece in turn (head = true with a family's first piece: its HELP and TYPE lines; the
 * exposition format wants a family's lines together), then the tail (XDP counters, workers).
 */
enum {
	PROM_PEER_FAMILIES = 9
};
void prom_write_head(FILE *f, const struct prom_input *in, bool up, size_t n_peers);
/* A peer's public key as its label shows it. A writer that goes over the same piece once per
 * family may encode the piece's keys once and pass them (keys[i] for piece->peers[i]); with
 * keys NULL each line encodes its own (nine times a peer). */
struct prom_key64 {
	char b64[CRYPTO_KEY_BASE64_LEN + 1];
};
void prom_write_peer_family(FILE *f, const char *iface, unsigned int family,
			    const struct conf_dev *piece, const struct prom_key64 *keys, double now,
			    bool head);
int prom_write_tail(FILE *f, const struct prom_input *in);

#endif
