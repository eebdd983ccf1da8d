// SPDX-License-Identifier: GPL-2.0
/*
 * metrics: one interface in the Prometheus text exposition format (lib/prom.c has the names), for
 * a node_exporter textfile collector or any scraper wrapper; `xdpwgd --metrics ADDR:PORT` serves
 * the same over HTTP. The inputs, gathered here without the daemon's help where possible: the
 * peers from the configuration socket, the XDP counters from the pinned stats map, the workers
 * from the daemon's events socket (workers=1; none in socket mode or from a stock daemon).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "ctl.h"
#include "observe.h"
#include "prom.h"

static int metrics_main(int argc, char **argv)
{
	struct ctl_snap snap = { 0 };
	struct prom_key64 *keys = NULL;
	struct prom_worker *workers = NULL;
	size_t n_workers = 0;
	uint64_t *sum = NULL;
	uint32_t n = 0;
	const char *iface;
	struct prom_input in;
	int err_ipc, err_xdp, err;

	if (argc != 2)
		return ctl_usage(argv[0]);
	iface = argv[1];
	if (!obs_name_ok(iface)) {
		ctl_err("%s: not an interface name", iface);
		return 1;
	}
	/* the reply kept in its pieces (ctl_ipc_get_snap), each family written piece by piece */
	err_ipc = ctl_ipc_get_snap(iface, &snap);
	err_xdp = obs_stats_read(iface, &sum, &n);
	if (err_ipc && err_xdp) {
		if (err_xdp != -ENOENT)
			ctl_err("%s: XDP stats: %s", iface, strerror(-err_xdp));
		return 1;
	}
	/* the workers exist only with the XDP data path; a daemon without an events socket
	 * (wireguard-go) simply has none to show */
	if (!err_ipc && !err_xdp && obs_workers_read(iface, &workers, &n_workers))
		n_workers = 0;
	in.iface = iface;
	in.dev = err_ipc ? NULL : snap.dev;
	in.xdp = err_xdp ? NULL : sum;
	in.n_xdp = err_xdp ? 0 : n;
	in.workers = workers;
	in.n_workers = n_workers;
	in.now = (double)obs_wall_ns() / 1e9;
	/* each key is encoded once, not once per family (45 MB at a million peers); without
	 * the memory, each line encodes its own */
	keys = snap.n_peers ? malloc(snap.n_peers * sizeof(*keys)) : NULL;
	for (size_t i = 0; keys && i < snap.n_peers; i++)
		crypto_key_to_base64(keys[i].b64, snap.peers[i]->public_key);
	/* ~1.5 GB of text at a million peers: stdio's 4 KB would be 370,000 writes */
	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, NULL, _IOFBF, CTL_STDOUT_BUF);
	prom_write_head(stdout, &in, !err_ipc, snap.n_peers);
	for (unsigned int pf = 0; !err_ipc && pf < PROM_PEER_FAMILIES; pf++) {
		size_t first = 0;

		for (size_t i = 0; i < snap.n_pieces; i++) {
			prom_write_peer_family(stdout, iface, pf, snap.pieces[i],
					       keys ? keys + first : NULL, in.now, i == 0);
			first += snap.pieces[i]->n_peers;
		}
	}
	err = prom_write_tail(stdout, &in);
	free(keys);
	free(workers);
	free(sum);
	if (!err_ipc)
		ctl_snap_free(&snap);
	if (err) {
		ctl_err("writing: %m");
		return 1;
	}
	return 0;
}

CTL_COMMAND(metrics, .name = "metrics", .run = metrics_main, .usage = "<interface>",
	    .summary = "Prints peer, XDP and worker counters in the Prometheus text format");
