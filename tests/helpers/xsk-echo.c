// SPDX-License-Identifier: GPL-2.0
/*
 * xsk-echo: load the xdpwg XDP program through the loader, open an AF_XDP socket on every queue
 * of an interface and send every WireGuard-shaped datagram that arrives there straight back
 * (addresses, ports and MACs swapped, headers rebuilt with xsk_build_udp). A test fixture for the
 * data plane's receive and transmit halves without any crypto.
 *
 *   xsk-echo -i IFACE [-t TUN] [-p PORT] [-r PINROOT] [-m auto|native|generic] [-c]
 *            [-s INDEX:PEER]... [-P PEER:IPV4:PORT]... [-T SECONDS]
 *
 * -s adds a session (receiver index -> peer id), -P a peer with an IPv4 endpoint.
 * Prints "ready" once attached and bound; per-queue counters on SIGUSR1 and at exit (SIGINT,
 * SIGTERM, -T elapsed), then the program's per-reason stats.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loader.h"
#include "pins.h"
#include "log.h"
#include "xsk.h"

#define BATCH 64

struct queue {
	struct xsk_port *port;
	uint64_t rx, echoed, meta, meta_bad, unparsed, tx_full;
};

static volatile sig_atomic_t stop, dump;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		dump = 1;
	else
		stop = 1;
}

static unsigned int rx_queues(const char *ifname)
{
	struct ethtool_channels ch = { .cmd = ETHTOOL_GCHANNELS };
	struct ifreq ifr;
	unsigned int n = 1;
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0)
		return 1;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (char *)&ch;
	if (ioctl(fd, SIOCETHTOOL, &ifr) == 0) {
		n = ch.rx_count + ch.combined_count;
		if (!n)
			n = 1;
	}
	close(fd);
	return n > XDPWG_MAX_QUEUES ? XDPWG_MAX_QUEUES : n;
}

static void print_counters(struct xdpwg_loader *ld, const struct queue *q, unsigned int nq)
{
	uint64_t st[XDPWG_STAT_MAX];
	unsigned int i;

	for (i = 0; i < nq; i++)
		printf("queue %u: rx %llu echoed %llu meta %llu meta_bad %llu unparsed %llu "
		       "tx_full %llu\n",
		       i, (unsigned long long)q[i].rx, (unsigned long long)q[i].echoed,
		       (unsigned long long)q[i].meta, (unsigned long long)q[i].meta_bad,
		       (unsigned long long)q[i].unparsed, (unsigned long long)q[i].tx_full);
	if (loader_stats(ld, st) == 0)
		for (i = 0; i < XDPWG_STAT_MAX; i++)
			printf("stat %s %llu\n", pins_stat_name((enum xdpwg_stat)i),
			       (unsigned long long)st[i]);
	fflush(stdout);
}

/* Echo one batch from q; returns frames handled. */
static unsigned int echo_batch(struct queue *q)
{
	struct xsk_frame rx[BATCH], tx[BATCH];
	unsigned int n, ntx, i, used = 0;

	n = xsk_port_rx(q->port, rx, BATCH);
	if (!n)
		return 0;
	ntx = xsk_port_tx_alloc(q->port, tx, n);
	for (i = 0; i < n; i++) {
		struct xsk_udp_params in, out;
		size_t off, plen, hlen;
		int len;

		q->rx++;
		if (xsk_parse_udp(rx[i].data, rx[i].len, &in, &off, &plen) < 0) {
			q->unparsed++;
			continue;
		}
		if (rx[i].meta) {
			q->meta++;
			if (rx[i].meta->payload_off != off || rx[i].meta->payload_len != plen)
				q->meta_bad++;
		}
		if (used >= ntx) {
			q->tx_full++;
			continue;
		}
		out = in;
		memcpy(out.src_mac, in.dst_mac, 6);
		memcpy(out.dst_mac, in.src_mac, 6);
		out.src = in.dst;
		out.dst = in.src;
		out.sport = in.dport;
		out.dport = in.sport;
		out.ttl = 64;
		hlen = xsk_udp_hdr_len(out.family);
		if (hlen + plen > tx[used].cap) {
			q->tx_full++;
			continue;
		}
		memcpy(tx[used].data + hlen, rx[i].data + off, plen);
		len = xsk_build_udp(tx[used].data, tx[used].cap, &out, plen);
		if (len < 0) {
			q->unparsed++;
			continue;
		}
		tx[used].len = (uint32_t)len;
		used++;
	}
	xsk_port_rx_release(q->port, rx, n);
	if (used < ntx)
		xsk_port_tx_cancel(q->port, tx + used, ntx - used);
	xsk_port_tx_submit(q->port, tx, used);
	xsk_port_kick(q->port);
	q->echoed += used;
	return n;
}

/* "ID:a.b.c.d:PORT" */
static int add_peer(struct xdpwg_loader *ld, const char *arg)
{
	struct wg_endpoint ep;
	char addr[INET_ADDRSTRLEN];
	const char *a, *p;
	unsigned long id;
	char *end;

	id = strtoul(arg, &end, 0);
	if (*end != ':')
		return -1;
	a = end + 1;
	p = strchr(a, ':');
	if (!p || (size_t)(p - a) >= sizeof(addr))
		return -1;
	memcpy(addr, a, (size_t)(p - a));
	addr[p - a] = 0;
	memset(&ep, 0, sizeof(ep));
	ep.addr.in4.sin_family = AF_INET;
	ep.addr.in4.sin_port = htons((uint16_t)strtoul(p + 1, NULL, 10));
	if (inet_pton(AF_INET, addr, &ep.addr.in4.sin_addr) != 1)
		return -1;
	return loader_peer_update(ld, (uint32_t)id, &ep, NULL, NULL, 0);
}

static void usage(void)
{
	fprintf(stderr, "usage: xsk-echo -i IFACE [-t TUN] [-p PORT] [-r PINROOT] "
			"[-m auto|native|generic] [-c] [-s INDEX:PEER]... [-P PEER:IPV4:PORT]... "
			"[-T SECONDS]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct loader_opts lo = { .tun_name = "wg0" };
	enum loader_mode mode = LOADER_MODE_AUTO;
	enum xsk_port_mode xmode = XSK_PORT_MODE_AUTO;
	const char *ifname = NULL;
	struct xdpwg_loader *ld = NULL;
	struct queue q[XDPWG_MAX_QUEUES];
	struct pollfd pfd[XDPWG_MAX_QUEUES];
	unsigned int nq = 0, i;
	long port = 51820, seconds = 0;
	struct timespec t0, t;
	int opt, ifindex, err, rc = 1;

	memset(q, 0, sizeof(q));
	while ((opt = getopt(argc, argv, "i:t:p:r:m:cs:P:T:v")) != -1) {
		switch (opt) {
		case 'i':
			ifname = optarg;
			break;
		case 't':
			lo.tun_name = optarg;
			break;
		case 'p':
			port = strtol(optarg, NULL, 10);
			break;
		case 'r':
			lo.pin_root = optarg;
			break;
		case 'm':
			mode = !strcmp(optarg, "native")    ? LOADER_MODE_NATIVE
			       : !strcmp(optarg, "generic") ? LOADER_MODE_GENERIC
							    : LOADER_MODE_AUTO;
			break;
		case 'c':
			xmode = XSK_PORT_MODE_COPY;
			break;
		case 's':
		case 'P':
			break; /* after the loader exists */
		case 'T':
			seconds = strtol(optarg, NULL, 10);
			break;
		case 'v':
			log_set_level(LOG_DEBUG);
			break;
		default:
			usage();
		}
	}
	if (!ifname || port < 0 || port > 65535)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGUSR1, on_signal);

	err = loader_create(&lo, &ld);
	if (err) {
		fprintf(stderr, "xsk-echo: loader: %s\n", strerror(-err));
		return 1;
	}
	loader_set_port(ld, (uint16_t)port);
	optind = 1;
	while ((opt = getopt(argc, argv, "i:t:p:r:m:cs:P:T:v")) != -1) {
		unsigned long idx, peer;
		char *end;

		if (opt == 'P') {
			if (add_peer(ld, optarg) < 0)
				usage();
			continue;
		}
		if (opt != 's')
			continue;
		idx = strtoul(optarg, &end, 0);
		if (*end != ':')
			usage();
		peer = strtoul(end + 1, NULL, 0);
		loader_session_add(ld, (uint32_t)idx, (uint32_t)peer);
	}
	ifindex = loader_attach(ld, ifname, mode);
	if (ifindex < 0) {
		fprintf(stderr, "xsk-echo: attach %s: %s\n", ifname, strerror(-ifindex));
		goto cleanup;
	}
	nq = rx_queues(ifname);
	for (i = 0; i < nq; i++) {
		struct xsk_port_opts xo = { .ifname = ifname, .queue = i, .mode = xmode };

		xo.xsks_map_fd = loader_xsks_fd(ld);
		xo.map_key = (uint32_t)loader_xsk_key(ld, ifindex, i);
		xo.meta_inline = loader_meta_inline(ld);
		err = xsk_port_open(&xo, &q[i].port);
		if (err) {
			fprintf(stderr, "xsk-echo: queue %u: %s\n", i, strerror(-err));
			goto cleanup;
		}
		pfd[i].fd = xsk_port_fd(q[i].port);
		pfd[i].events = POLLIN;
		printf("queue %u: socket bound (%s)\n", i,
		       xsk_port_zerocopy(q[i].port) ? "zero-copy" : "copy");
	}
	printf("ready: %s ifindex %d, %u queues, %s mode, pins %s\n", ifname, ifindex, nq,
	       loader_attach_mode(ld, ifindex) == LOADER_MODE_NATIVE ? "native" : "generic",
	       loader_pin_dir(ld));

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!stop) {
		int n = poll(pfd, nq, 100);

		if (n < 0 && errno != EINTR)
			break;
		for (i = 0; i < nq; i++) {
			int rounds;

			/* bounded: at most 16 batches per queue before polling again */
			for (rounds = 0; rounds < 16 && echo_batch(&q[i]); rounds++)
				;
			if (xsk_port_tx_inflight(q[i].port)) {
				xsk_port_kick(q[i].port);
				xsk_port_tx_reap(q[i].port);
			}
		}
		if (dump) {
			dump = 0;
			print_counters(ld, q, nq);
		}
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (seconds && t.tv_sec - t0.tv_sec >= seconds)
			break;
	}
	print_counters(ld, q, nq);
	rc = 0;

cleanup:
	for (i = 0; i < nq; i++)
		xsk_port_close(q[i].port);
	loader_destroy(ld);
	return rc;
}
