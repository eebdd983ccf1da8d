// SPDX-License-Identifier: GPL-2.0
/*
 * doctor: the troubleshooting matrix an operator walks when a tunnel misbehaves, as one command.
 * Each check prints one line, "ok", "WARN" (a finding, followed by what to do) or "info" (the
 * machine does not show it, or it does not apply), and the exit status says whether there was a
 * finding:
 *
 *   handshakes  peers that should be connected (an endpoint and a persistent keepalive) with no
 *               handshake yet, and peers whose latest handshake is older than 3 minutes (a live
 *               session renews every 2); idle peers without keepalive are listed as info only
 *   xdp         the XDP mode actually attached to each uplink: native, generic (every frame is
 *               copied: slow) or none (the daemon's socket data path)
 *   rmem        net.core.rmem_max against what a burst at line rate needs, and the UDP receive
 *               buffer errors the kernel counted (datagrams lost because the socket was full)
 *   conntrack   the connection-tracking table's fill, when netfilter's conntrack is loaded
 *   mtu         the tunnel's MTU plus WireGuard's overhead against each uplink's MTU
 *   txqueuelen  each uplink's transmit queue length
 *   workers     frames XDP could not hand to a worker (no socket on their queue), frames the
 *               workers found bad
 *   cpufreq     CPU frequency governors other than "performance", thermal throttling events
 *
 * The uplinks are the interfaces the daemon's AF_XDP workers serve, else the IPv4 default
 * route's device. Everything is read from the daemon's sockets, /proc and /sys in the caller's
 * namespaces: run it where the daemon runs. Exit status: 0 no finding, 2 findings, 1 an error
 * (bad arguments, no daemon on the interface).
 */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "crypto.h"
#include "ctl.h"
#include "observe.h"
#include "xdpwg_kern_user.h"

enum doctor_limits {
	DOCTOR_HANDSHAKE_STALE_S = 180, /* REKEY_AFTER_TIME (120 s) plus a minute of slack */
	DOCTOR_RMEM_MIN = 4 << 20,	/* a few ms of a 10 Gbit/s burst */
	DOCTOR_CONNTRACK_PCT = 80,
	DOCTOR_TXQUEUELEN_MIN = 500,
	DOCTOR_OVERHEAD_V4 = 60, /* IPv4 20 + UDP 8 + WireGuard data header 16 + tag 16 */
	DOCTOR_OVERHEAD_V6 = 80, /* the same over IPv6 (40) */
	DOCTOR_MAX_UPLINKS = 8,
	DOCTOR_PEERS_LISTED = 5, /* peers named per finding; the rest are counted */
	DOCTOR_MAX_CPUS = 4096,
};

struct doctor {
	const char *iface;
	int findings;
	char uplinks[DOCTOR_MAX_UPLINKS][IF_NAMESIZE];
	int n_uplinks;
	bool xdp; /* the daemon runs AF_XDP workers */
};

static void doctor_line(const char *tag, const char *check, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void doctor_line(const char *tag, const char *check, const char *fmt, ...)
{
	va_list ap;

	printf("%-5s %-11s ", tag, check);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* A finding: what is wrong, then what to do ("      -> ..."). */
static void doctor_warn(struct doctor *d, const char *check, const char *fix, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void doctor_warn(struct doctor *d, const char *check, const char *fix, const char *fmt, ...)
{
	va_list ap;

	printf("%-5s %-11s ", "WARN", check);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n%-17s -> %s\n", "", fix);
	d->findings++;
}

/* One unsigned number from a file (/proc/sys, /sys); false when absent or not a number. */
static bool doctor_read_u64(const char *path, unsigned long long *v)
{
	FILE *f = fopen(path, "r");
	bool ok;

	if (!f)
		return false;
	ok = fscanf(f, "%llu", v) == 1;
	fclose(f);
	return ok;
}

static bool doctor_read_str(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	bool ok;

	if (!f)
		return false;
	ok = fgets(buf, (int)len, f) != NULL;
	fclose(f);
	if (ok)
		buf[strcspn(buf, "\n")] = 0;
	return ok;
}

static bool doctor_if_u64(const char *ifname, const char *attr, unsigned long long *v)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/class/net/%s/%s", ifname, attr);
	return doctor_read_u64(path, v);
}

static void doctor_add_uplink(struct doctor *d, const char *name)
{
	for (int i = 0; i < d->n_uplinks; i++)
		if (!strcmp(d->uplinks[i], name))
			return;
	if (d->n_uplinks < DOCTOR_MAX_UPLINKS && strlen(name) < IF_NAMESIZE)
		snprintf(d->uplinks[d->n_uplinks++], IF_NAMESIZE, "%s", name);
}

/* The IPv4 default route's device, from /proc/net/route. */
static void doctor_default_uplink(struct doctor *d)
{
	char line[256], dev[IF_NAMESIZE + 1];
	unsigned long dst, gw, mask;
	unsigned int flags;
	FILE *f = fopen("/proc/net/route", "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%16s %lx %lx %x %*d %*d %*d %lx", dev, &dst, &gw, &flags,
			   &mask) == 5 &&
		    !dst && !mask && strlen(dev) < IF_NAMESIZE) {
			doctor_add_uplink(d, dev);
			break;
		}
	fclose(f);
}

static void doctor_handshakes(struct doctor *d, const struct conf_dev *c)
{
	time_t now = time(NULL);
	size_t never = 0, stale = 0, idle = 0, listed = 0;
	char key[64];

	for (size_t i = 0; i < c->n_peers; i++) {
		const struct conf_peer *p = &c->peers[i];
		bool has_ep = p->endpoint.addr.sa.sa_family != AF_UNSPEC;
		long long age =
			p->last_handshake_sec ? (long long)(now - p->last_handshake_sec) : -1;
		bool wants = has_ep && p->persistent_keepalive;

		if (age < 0 && !wants) {
			idle++;
			continue;
		}
		if (age >= 0 && age <= DOCTOR_HANDSHAKE_STALE_S)
			continue;
		if (age < 0)
			never++;
		else if (wants)
			stale++;
		else {
			idle++;
			continue;
		}
		if (listed++ < DOCTOR_PEERS_LISTED) {
			crypto_key_to_base64(key, p->public_key);
			if (age < 0)
				doctor_warn(
					d, "handshakes",
					"check that the peer is up and reachable at its endpoint "
					"and "
					"that both sides have each other's public key (`xdpwgctl "
					"events` shows why handshakes fail)",
					"peer %s: no handshake yet, though it has an endpoint and "
					"a "
					"persistent keepalive of %u s",
					key, p->persistent_keepalive);
			else
				doctor_warn(
					d, "handshakes",
					"a live session renews every 2 minutes: the peer stopped "
					"answering (its path, its daemon, or a key change)",
					"peer %s: latest handshake %lld s ago (> %d s)", key, age,
					DOCTOR_HANDSHAKE_STALE_S);
		}
	}
	if (listed > DOCTOR_PEERS_LISTED)
		doctor_line("", "", "... and %zu more peers like these",
			    listed - DOCTOR_PEERS_LISTED);
	if (!never && !stale)
		doctor_line("ok", "handshakes", "%zu peers, none that should be connected is not",
			    c->n_peers);
	if (idle)
		doctor_line("info", "handshakes",
			    "%zu peers without a recent handshake and without a persistent "
			    "keepalive (idle, or waiting for the peer to connect)",
			    idle);
}

static void doctor_xdp(struct doctor *d)
{
	if (!d->xdp) {
		doctor_warn(
			d, "xdp",
			"start xdpwgd with --attach UPLINK (or XDPWG_ATTACH=UPLINK with wg-quick) "
			"on a gateway",
			"none: the data path is the kernel UDP socket (no AF_XDP workers)");
		return;
	}
	for (int i = 0; i < d->n_uplinks; i++) {
		LIBBPF_OPTS(bpf_xdp_query_opts, q);
		unsigned int ifindex = if_nametoindex(d->uplinks[i]);
		int err = ifindex ? bpf_xdp_query((int)ifindex, 0, &q) : -ENODEV;

		if (err) {
			doctor_line("info", "xdp", "%s: cannot query XDP (%s)", d->uplinks[i],
				    strerror(-err));
			continue;
		}
		switch (q.attach_mode) {
		case XDP_ATTACHED_DRV:
		case XDP_ATTACHED_HW:
			doctor_line("ok", "xdp", "%s: native XDP (program id %u)", d->uplinks[i],
				    q.prog_id ? q.prog_id : q.drv_prog_id);
			break;
		case XDP_ATTACHED_SKB:
			doctor_warn(d, "xdp",
				    "the driver lacks native XDP (or xdpwgd ran with --xdp-mode "
				    "generic): every frame is copied; use a NIC whose driver has "
				    "native XDP, or check the log for why native failed",
				    "%s: generic XDP (program id %u)", d->uplinks[i],
				    q.skb_prog_id);
			break;
		case XDP_ATTACHED_MULTI:
			doctor_line("ok", "xdp", "%s: several XDP programs (native and generic)",
				    d->uplinks[i]);
			break;
		default:
			doctor_warn(
				d, "xdp",
				"the daemon has workers but the program is gone: restart xdpwgd, "
				"and look for another tool that detached it",
				"%s: no XDP program attached", d->uplinks[i]);
		}
	}
}

static void doctor_rmem(struct doctor *d)
{
	unsigned long long rmem = 0, errs = 0;
	char line[1024], names[1024] = "";
	bool have_errs = false;
	FILE *f;

	if (doctor_read_u64("/proc/sys/net/core/rmem_max", &rmem)) {
		if (rmem < DOCTOR_RMEM_MIN)
			doctor_warn(d, "rmem",
				    "sysctl -w net.core.rmem_max=7340032 (and in /etc/sysctl.d/): "
				    "bursts overflow a socket buffer capped this low",
				    "net.core.rmem_max is %llu bytes (< %d)", rmem,
				    DOCTOR_RMEM_MIN);
		else
			doctor_line("ok", "rmem", "net.core.rmem_max %llu bytes", rmem);
	} else {
		doctor_line("info", "rmem", "net.core.rmem_max not readable here");
	}
	f = fopen("/proc/net/snmp", "r");
	while (f && fgets(line, sizeof(line), f)) {
		char *save = NULL, *name, *val;

		if (strncmp(line, "Udp: ", 5))
			continue;
		if (!*names) {
			snprintf(names, sizeof(names), "%s", line);
			continue;
		}
		/* the second Udp: line holds the values, in the first one's order */
		name = strtok_r(names + 5, " \n", &save);
		for (val = strtok(line + 5, " \n"); name && val; val = strtok(NULL, " \n")) {
			if (!strcmp(name, "RcvbufErrors")) {
				errs = strtoull(val, NULL, 10);
				have_errs = true;
			}
			name = strtok_r(NULL, " \n", &save);
		}
		break;
	}
	if (f)
		fclose(f);
	if (have_errs && errs)
		doctor_warn(
			d, "rmem",
			"datagrams were lost because a UDP socket's buffer was full: raise "
			"net.core.rmem_max, and on a gateway run the data path in XDP (--attach)",
			"%llu UDP receive buffer errors (Udp RcvbufErrors)", errs);
	else if (have_errs)
		doctor_line("ok", "rmem", "no UDP receive buffer errors");
}

static void doctor_conntrack(struct doctor *d)
{
	unsigned long long count, max;

	if (!doctor_read_u64("/proc/sys/net/netfilter/nf_conntrack_count", &count) ||
	    !doctor_read_u64("/proc/sys/net/netfilter/nf_conntrack_max", &max) || !max) {
		doctor_line("info", "conntrack", "no connection tracking here");
		return;
	}
	if (count * 100 >= max * DOCTOR_CONNTRACK_PCT)
		doctor_warn(d, "conntrack",
			    "new flows are dropped when it is full: raise "
			    "net.netfilter.nf_conntrack_max, or exempt the tunnel's UDP port "
			    "(nft: notrack) when nothing needs its state",
			    "the conntrack table is %llu%% full (%llu of %llu)", count * 100 / max,
			    count, max);
	else
		doctor_line("ok", "conntrack", "%llu of %llu entries", count, max);
}

static void doctor_mtu(struct doctor *d)
{
	unsigned long long tun, up;

	if (!doctor_if_u64(d->iface, "mtu", &tun)) {
		doctor_line("info", "mtu", "%s: no such interface here", d->iface);
		return;
	}
	if (!d->n_uplinks)
		doctor_line("info", "mtu", "no uplink found (no workers, no default route)");
	for (int i = 0; i < d->n_uplinks; i++) {
		if (!doctor_if_u64(d->uplinks[i], "mtu", &up))
			continue;
		if (tun + DOCTOR_OVERHEAD_V6 > up)
			doctor_warn(d, "mtu",
				    "full-size packets through the tunnel become outer packets the "
				    "uplink must fragment or drop: set MTU = uplink MTU - 80 (1420 "
				    "on 1500; 1280 for cellular paths), in wg-quick's file or with "
				    "xdpwgd --mtu",
				    "%s MTU %llu + %d (WireGuard over IPv6) > %s MTU %llu",
				    d->iface, tun, DOCTOR_OVERHEAD_V6, d->uplinks[i], up);
		else
			doctor_line("ok", "mtu", "%s %llu fits %s %llu (overhead %d over IPv6)",
				    d->iface, tun, d->uplinks[i], up, DOCTOR_OVERHEAD_V6);
	}
}

static void doctor_txqueuelen(struct doctor *d)
{
	unsigned long long q;

	for (int i = 0; i < d->n_uplinks; i++) {
		if (!doctor_if_u64(d->uplinks[i], "tx_queue_len", &q))
			continue;
		if (q < DOCTOR_TXQUEUELEN_MIN)
			doctor_warn(d, "txqueuelen",
				    "bursts are dropped at the qdisc: ip link set dev UPLINK "
				    "txqueuelen 1000",
				    "%s txqueuelen %llu (< %d)", d->uplinks[i], q,
				    DOCTOR_TXQUEUELEN_MIN);
		else
			doctor_line("ok", "txqueuelen", "%s %llu", d->uplinks[i], q);
	}
}

static void doctor_workers(struct doctor *d, const struct prom_worker *w, size_t nw)
{
	uint64_t *st = NULL, bad = 0, noxsk = 0;
	uint32_t n = 0;

	if (!d->xdp)
		return;
	for (size_t i = 0; i < nw; i++)
		bad += w[i].rx_bad;
	if (!obs_stats_read(d->iface, &st, &n) && n > XDPWG_STAT_NO_XSK_PASSED)
		noxsk = st[XDPWG_STAT_NO_XSK_PASSED];
	free(st);
	if (noxsk)
		doctor_warn(d, "workers",
			    "the uplink has RX queues no worker serves: give it as many queues as "
			    "workers (ethtool -L UPLINK combined N) or run a worker per queue",
			    "%llu frames reached a queue without an AF_XDP worker (passed to the "
			    "kernel socket instead)",
			    (unsigned long long)noxsk);
	if (bad)
		doctor_warn(d, "workers",
			    "see `xdpwgctl stats` for the reasons; a steady rise means a peer "
			    "sends what this gateway cannot use",
			    "the workers dropped %llu frames as bad", (unsigned long long)bad);
	if (!noxsk && !bad)
		doctor_line("ok", "workers", "%zu worker%s, no frames lost between XDP and them",
			    nw, nw == 1 ? "" : "s");
}

static void doctor_cpufreq(struct doctor *d)
{
	char path[128], gov[64];
	unsigned long long thr, throttled = 0;
	int cpus = 0, slow = 0;
	bool seen_thr = false;

	for (int i = 0; i < DOCTOR_MAX_CPUS; i++) {
		snprintf(path, sizeof(path),
			 "/sys/devices/system/cpu/cpu%d/cpufreq/scaling_governor", i);
		if (doctor_read_str(path, gov, sizeof(gov))) {
			cpus++;
			slow += strcmp(gov, "performance") != 0;
		}
		snprintf(path, sizeof(path),
			 "/sys/devices/system/cpu/cpu%d/thermal_throttle/core_throttle_count", i);
		if (doctor_read_u64(path, &thr)) {
			seen_thr = true;
			throttled += thr;
		}
	}
	if (!cpus && !seen_thr) {
		doctor_line("info", "cpufreq", "this machine shows no frequency governor (a VM?)");
		return;
	}
	if (slow)
		doctor_warn(
			d, "cpufreq",
			"cpupower frequency-set -g performance: a governor that lowers the clock "
			"adds latency at each burst",
			"%d of %d CPUs run a governor other than performance", slow, cpus);
	if (throttled)
		doctor_warn(d, "cpufreq", "check the machine's cooling and power limits",
			    "%llu thermal throttling events", throttled);
	if (!slow && !throttled)
		doctor_line("ok", "cpufreq", "%d CPUs on the performance governor", cpus);
}

static int doctor_main(int argc, char **argv)
{
	struct doctor d = { 0 };
	struct conf_dev *c = NULL;
	struct prom_worker *w = NULL;
	size_t nw = 0;
	int err;

	if (argc != 2)
		return ctl_usage(argv[0]);
	d.iface = argv[1];
	if (!obs_name_ok(d.iface)) {
		ctl_err("%s: not an interface name", d.iface);
		return 1;
	}
	if (ctl_ipc_get(d.iface, &c))
		return 1; /* the reason is printed */
	err = obs_workers_read(d.iface, &w, &nw);
	if (err && err != -ENOENT)
		doctor_line("info", "workers", "cannot read the daemon's workers: %s",
			    strerror(-err));
	for (size_t i = 0; i < nw; i++)
		doctor_add_uplink(&d, w[i].uplink);
	d.xdp = nw > 0;
	if (!d.n_uplinks)
		doctor_default_uplink(&d);
	doctor_line("ok", "daemon", "%s answers: %zu peers, listening on port %u%s", d.iface,
		    c->n_peers, c->listen_port, d.n_uplinks ? "" : "; no uplink found");
	doctor_handshakes(&d, c);
	doctor_xdp(&d);
	doctor_rmem(&d);
	doctor_conntrack(&d);
	doctor_mtu(&d);
	doctor_txqueuelen(&d);
	doctor_workers(&d, w, nw);
	doctor_cpufreq(&d);
	printf("%d finding%s\n", d.findings, d.findings == 1 ? "" : "s");
	free(w);
	conf_free(c);
	return d.findings ? 2 : 0;
}

CTL_COMMAND(doctor, .name = "doctor", .run = doctor_main, .usage = "<interface>",
	    .summary = "Checks an interface for the usual problems, each with what to do");
