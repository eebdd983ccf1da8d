// SPDX-License-Identifier: GPL-2.0
/*
 * xdpwgd: command line, daemonizing, signals. The daemon proper is daemon.c.
 *
 * Daemonizing follows wireguard-go, because wg-quick depends on it: the command returns only once
 * the interface and its configuration socket exist, with status 0, or non-zero when the daemon
 * could not start (wg-quick then stops instead of configuring a missing interface).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cluster_opts.h"
#include "cluster.h"
#include "daemon.h"
#include "io_xdp.h"
#include "loader.h"
#include "log.h"
#include "pins.h"
#include "tun.h"

#ifndef XDPWG_VERSION
#define XDPWG_VERSION "0.1.0"
#endif

enum main_constants {
	MAIN_MAX_ATTACH = IO_XDP_MAX_IFACES, /* what the XDP back-end takes */
	MAIN_OPT_ATTACH = 0x100,
	MAIN_OPT_XDP_MODE,
	MAIN_OPT_BUSY_POLL,
	MAIN_OPT_WORKER_CPUS,
	MAIN_OPT_QUEUES,
	MAIN_OPT_HANDSHAKE_CPUS,
	MAIN_OPT_VERSION,
	MAIN_OPT_MTU,
	MAIN_OPT_METRICS,
	MAIN_OPT_UPLINKS,
	MAIN_OPT_PATH_PROBE,
	MAIN_OPT_CLUSTER_TABLE,
	MAIN_OPT_GATEWAY_ID,
	MAIN_OPT_CLUSTER_GATEWAY,
	MAIN_OPT_CLUSTER,
	MAIN_OPT_ETCD,
	MAIN_MAX_UPLINKS = 4, /* the engine's paths per peer */
	/* The TUN's MTU: IPv6 inside needs 1280; the largest outer datagram (65535 bytes of IP)
	 * must still carry it with WireGuard's IPv6 overhead (80). */
	MAIN_MTU_MIN = 1280,
	MAIN_MTU_MAX = 65535 - 80,
	/* a longer list than io_xdp has workers (IO_XDP_MAX_WORKERS) names CPUs no worker uses */
	MAIN_MAX_WORKER_CPUS = 64,
	/* the kernel's own routing tables: default (253), main (254), local (255) */
	MAIN_TABLE_KERNEL_FIRST = 253,
	MAIN_TABLE_KERNEL_LAST = 255,
};

struct main_args {
	bool foreground;
	int verbose;
	const char *attach[MAIN_MAX_ATTACH];
	unsigned int n_attach;
	const char *xdp_mode;
	unsigned int mtu;	    /* 0: the default (TUN_DEFAULT_MTU) */
	struct wg_endpoint metrics; /* --metrics; AF_UNSPEC: none */
	bool busy_poll;
	int worker_cpus[MAIN_MAX_WORKER_CPUS];
	int queues[XDPWG_MAX_QUEUES];
	unsigned int n_queues;
	int hs_cpus[MAIN_MAX_WORKER_CPUS];
	unsigned int n_hs_cpus;
	unsigned int n_worker_cpus;
	const char *ifname;
	char *attach_env;		     /* a copy of XDPWG_ATTACH that attach[] points into */
	const char *uplinks;		     /* --uplinks; NULL: automatic */
	unsigned int path_probe_ms;	     /* --path-probe; 0: the default */
	uint32_t cluster_table;		     /* --cluster-table; 0: none */
	struct cluster_fwd_opts cluster_fwd; /* --gateway-id, --cluster-gateway */
	const char *cluster, *etcd;	     /* --cluster, --etcd as given */
	struct cluster_opts cluster_opts;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: xdpwgd [OPTIONS] INTERFACE\n"
		"\n"
		"A WireGuard-compatible VPN daemon. Creates the TUN interface INTERFACE and its\n"
		"configuration socket /var/run/wireguard/INTERFACE.sock; configure it with wg(8),\n"
		"or let wg-quick(8) start it: WG_QUICK_USERSPACE_IMPLEMENTATION=xdpwgd.\n"
		"\n"
		"  -f, --foreground       stay in the foreground, log to stderr\n"
		"  -v, --verbose          debug logging\n"
		"      --attach IFACE     run the data path in XDP on IFACE (repeatable; also\n"
		"                         XDPWG_ATTACH=IFACE[,IFACE] in the environment)\n"
		"      --xdp-mode MODE    force native or generic XDP (default: native, falling\n"
		"                         back to generic with a warning)\n"
		"      --busy-poll        the AF_XDP workers spin instead of sleeping: lower\n"
		"                         latency, one CPU kept 100%% busy per worker (needs\n"
		"                         --attach)\n"
		"      --mtu N            the TUN's MTU (default 1420: 1500 minus WireGuard over\n"
		"                         IPv6; 1280 for cellular and satellite paths); also\n"
		"                         XDPWG_MTU=N. wg-quick's MTU = N sets it after start\n"
		"      --metrics ADDR:PORT serve Prometheus metrics at http://ADDR:PORT/metrics\n"
		"                         (e.g. 127.0.0.1:9586 or [2001:db8::1]:9586); also\n"
		"                         XDPWG_METRICS=ADDR:PORT\n"
		"      --worker-cpus LIST pin the AF_XDP workers to these CPUs, in order (e.g.\n"
		"                         1 or 2-3,6; default: worker i on CPU i); with\n"
		"                         --busy-poll, name cores kept free of other work;\n"
		"                         also XDPWG_WORKER_CPUS=LIST\n"
		"      --handshake-cpus LIST run the control thread (handshakes, timers, the\n"
		"                         configuration socket) on these CPUs; also\n"
		"                         XDPWG_HANDSHAKE_CPUS=LIST\n"
		"      --queues LIST      open AF_XDP sockets on these RX queues only (e.g. 0 or\n"
		"                         2-3; default: every queue no other tunnel holds); also\n"
		"                         XDPWG_QUEUES=LIST. Tunnels sharing an uplink each take\n"
		"                         their own queues; steer their ports to them\n"
		"      --uplinks LIST     a multipath client's uplinks, preferred first (e.g.\n"
		"                         wifi,lte; default: every interface with a default\n"
		"                         route, by metric; none: never act as a multipath\n"
		"                         client); also XDPWG_UPLINKS\n"
		"      --path-probe MS    probe each path of a multipath peer every MS ms\n"
		"                         (default 1000, 50..3600000); also XDPWG_PATH_PROBE_MS\n"
		"      --cluster-table N  a cluster gateway: keep a route to every allowed IP of\n"
		"                         the peers whose session is held here in kernel table N\n"
		"                         (1..4294967295 but 253-255), for BIRD to announce;\n"
		"                         also XDPWG_CLUSTER_TABLE\n"
		"      --gateway-id N     this gateway's id in a cluster (1..63): carried in the\n"
		"                         top bits of every receiver index it hands out; also\n"
		"                         XDPWG_GATEWAY_ID=N\n"
		"      --cluster-gateway ID=ADDR a member of the cluster and its underlay address\n"
		"                         (repeatable; this gateway's own id gives its own\n"
		"                         address); packets for a member's indexes are forwarded\n"
		"                         there in XDP (needs --gateway-id); also\n"
		"                         XDPWG_CLUSTER_GATEWAYS=ID=ADDR[,ID=ADDR]\n"
		"      --cluster NAME     a gateway of cluster NAME: its peers come from etcd,\n"
		"                         under /xdpwg/NAME/ (needs --etcd); also XDPWG_CLUSTER.\n"
		"                         With --gateway-id the gateway registers in the\n"
		"                         membership, at XDPWG_UNDERLAY=ADDR or else the address\n"
		"                         it forwards from\n"
		"      --etcd URL[,URL]   the etcd members (e.g. http://198.18.3.1:2379,...);\n"
		"                         also XDPWG_ETCD\n"
		"  -h, --help             this text\n"
		"      --version          the version\n");
}

static int main_add_attach(struct main_args *a, const char *name)
{
	if (!*name)
		return 0;
	if (a->n_attach >= MAIN_MAX_ATTACH) {
		fprintf(stderr, "xdpwgd: at most %d --attach interfaces\n", MAIN_MAX_ATTACH);
		return -1;
	}
	if (strlen(name) >= IFNAMSIZ || !if_nametoindex(name)) {
		fprintf(stderr, "xdpwgd: --attach %s: no such interface\n", name);
		return -1;
	}
	a->attach[a->n_attach++] = name;
	return 0;
}

/* --uplinks LIST / XDPWG_UPLINKS: "none", or up to MAIN_MAX_UPLINKS interface names separated
 * by commas. The interfaces need not exist yet (an LTE modem comes and goes). */
static int main_parse_uplinks(const char *what, const char *s, struct main_args *a)
{
	const char *p = s;
	unsigned int n = 0;

	if (!strcmp(s, "none")) {
		a->uplinks = s;
		return 0;
	}
	while (*p) {
		size_t len = strcspn(p, ",");

		if (!len || len >= IFNAMSIZ || strchr(" /", p[0]) || memchr(p, ' ', len) ||
		    memchr(p, '/', len)) {
			fprintf(stderr, "xdpwgd: %s %s: \"%.*s\" is not an interface name\n", what,
				s, (int)len, p);
			return -1;
		}
		if (++n > MAIN_MAX_UPLINKS) {
			fprintf(stderr, "xdpwgd: %s %s: at most %d uplinks\n", what, s,
				MAIN_MAX_UPLINKS);
			return -1;
		}
		p += len;
		if (*p == ',' && !*++p) {
			fprintf(stderr, "xdpwgd: %s %s: a trailing comma\n", what, s);
			return -1;
		}
	}
	if (!n) {
		fprintf(stderr, "xdpwgd: %s: empty (use none for no uplinks)\n", what);
		return -1;
	}
	a->uplinks = s;
	return 0;
}

/* --path-probe MS / XDPWG_PATH_PROBE_MS: milliseconds in the engine's bounds. */
static int main_parse_path_probe(const char *what, const char *s, struct main_args *a)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < WG_PATH_PROBE_MIN_MS ||
	    v > WG_PATH_PROBE_MAX_MS) {
		fprintf(stderr, "xdpwgd: %s %s: not a number of milliseconds in %d..%d\n", what, s,
			WG_PATH_PROBE_MIN_MS, WG_PATH_PROBE_MAX_MS);
		return -1;
	}
	a->path_probe_ms = (unsigned int)v;
	return 0;
}

/* --cluster-table N / XDPWG_CLUSTER_TABLE: a kernel routing table of our own; not 0 (none) nor
 * the kernel's default (253), main (254) or local (255) table, whose routes are not ours to
 * flush. */
static int main_parse_cluster_table(const char *what, const char *s, struct main_args *a)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v == 0 || v > UINT32_MAX) {
		fprintf(stderr, "xdpwgd: %s %s: not a routing table number in 1..%u\n", what, s,
			UINT32_MAX);
		return -1;
	}
	if (v >= MAIN_TABLE_KERNEL_FIRST && v <= MAIN_TABLE_KERNEL_LAST) {
		fprintf(stderr,
			"xdpwgd: %s %s: a table of the kernel's own (default, main, local); "
			"give the cluster's routes one of their own, e.g. 200\n",
			what, s);
		return -1;
	}
	a->cluster_table = (uint32_t)v;
	return 0;
}

/* --mtu N / XDPWG_MTU=N: a decimal number in MAIN_MTU_MIN..MAIN_MTU_MAX. */
static int main_parse_mtu(const char *what, const char *s, struct main_args *a)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (!isdigit((unsigned char)*s) || *end || errno || v < MAIN_MTU_MIN || v > MAIN_MTU_MAX) {
		fprintf(stderr, "xdpwgd: %s '%s': not an MTU (%d-%d: IPv6 needs 1280)\n", what, s,
			MAIN_MTU_MIN, MAIN_MTU_MAX);
		return -1;
	}
	a->mtu = (unsigned int)v;
	return 0;
}

/* --metrics ADDR:PORT / XDPWG_METRICS: numeric, as an endpoint ("[v6]:port" for IPv6); a port
 * is needed (0 would be a random one nobody could scrape). */
static int main_parse_metrics(const char *what, const char *s, struct main_args *a)
{
	if (endpoint_parse(&a->metrics, s) < 0 ||
	    !(a->metrics.addr.sa.sa_family == AF_INET ? a->metrics.addr.in4.sin_port
						      : a->metrics.addr.in6.sin6_port)) {
		fprintf(stderr,
			"xdpwgd: %s '%s': not ADDR:PORT (e.g. 127.0.0.1:9586 or "
			"[2001:db8::1]:9586; a numeric address and a port other than 0)\n",
			what, s);
		memset(&a->metrics, 0, sizeof(a->metrics));
		return -1;
	}
	return 0;
}

/* A list of small numbers: "N" or "N-M", comma separated, each below limit (what names them in
 * the error: "CPU", "queue"); the order is kept. One error line and -1 otherwise. */
static int main_parse_list(const char *opt, const char *list, long limit, const char *what,
			   int *out, unsigned int *n, unsigned int max)
{
	const char *p = list;

	*n = 0;
	while (*p) {
		char *end;
		long lo, hi;

		if (*p < '0' || *p > '9')
			goto bad;
		lo = strtol(p, &end, 10);
		hi = lo;
		if (*end == '-') {
			if (end[1] < '0' || end[1] > '9')
				goto bad;
			hi = strtol(end + 1, &end, 10);
		}
		if (*end && *end != ',')
			goto bad;
		if (hi < lo) {
			fprintf(stderr, "xdpwgd: %s '%s': range %ld-%ld runs backwards\n", opt,
				list, lo, hi);
			return -1;
		}
		if (limit > 0 && hi >= limit) {
			fprintf(stderr, "xdpwgd: %s '%s': no %s %ld (there are %ld)\n", opt, list,
				what, hi, limit);
			return -1;
		}
		for (long c = lo; c <= hi; c++) {
			if (*n == max) {
				fprintf(stderr, "xdpwgd: %s '%s': more than %u %ss\n", opt, list,
					max, what);
				return -1;
			}
			out[(*n)++] = (int)c;
		}
		p = *end ? end + 1 : end;
		if (*end == ',' && !*p)
			goto bad;
	}
	if (*n)
		return 0;
bad:
	fprintf(stderr, "xdpwgd: %s '%s': not a %s list (e.g. 1 or 2-3,6)\n", opt, list, what);
	return -1;
}

/* 0 to go on, 1 to exit 0 (help, version), -1 to exit 1. */
static int main_parse(int argc, char **argv, struct main_args *a)
{
	static const struct option opts[] = {
		{ "foreground", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "attach", required_argument, NULL, MAIN_OPT_ATTACH },
		{ "xdp-mode", required_argument, NULL, MAIN_OPT_XDP_MODE },
		{ "busy-poll", no_argument, NULL, MAIN_OPT_BUSY_POLL },
		{ "worker-cpus", required_argument, NULL, MAIN_OPT_WORKER_CPUS },
		{ "queues", required_argument, NULL, MAIN_OPT_QUEUES },
		{ "handshake-cpus", required_argument, NULL, MAIN_OPT_HANDSHAKE_CPUS },
		{ "uplinks", required_argument, NULL, MAIN_OPT_UPLINKS },
		{ "path-probe", required_argument, NULL, MAIN_OPT_PATH_PROBE },
		{ "cluster-table", required_argument, NULL, MAIN_OPT_CLUSTER_TABLE },
		{ "version", no_argument, NULL, MAIN_OPT_VERSION },
		{ "mtu", required_argument, NULL, MAIN_OPT_MTU },
		{ "metrics", required_argument, NULL, MAIN_OPT_METRICS },
		{ "gateway-id", required_argument, NULL, MAIN_OPT_GATEWAY_ID },
		{ "cluster-gateway", required_argument, NULL, MAIN_OPT_CLUSTER_GATEWAY },
		{ "cluster", required_argument, NULL, MAIN_OPT_CLUSTER },
		{ "etcd", required_argument, NULL, MAIN_OPT_ETCD },
		{ NULL, 0, NULL, 0 },
	};
	const char *env;
	int c;

	while ((c = getopt_long(argc, argv, "fvh", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			a->foreground = true;
			break;
		case 'v':
			a->verbose++;
			break;
		case 'h':
			usage(stdout);
			return 1;
		case MAIN_OPT_VERSION:
			printf("xdpwgd %s\n", XDPWG_VERSION);
			return 1;
		case MAIN_OPT_ATTACH:
			if (main_add_attach(a, optarg) < 0)
				return -1;
			break;
		case MAIN_OPT_XDP_MODE:
			if (strcmp(optarg, "native") && strcmp(optarg, "generic")) {
				fprintf(stderr, "xdpwgd: --xdp-mode must be native or generic\n");
				return -1;
			}
			a->xdp_mode = optarg;
			break;
		case MAIN_OPT_BUSY_POLL:
			a->busy_poll = true;
			break;
		case MAIN_OPT_MTU:
			if (main_parse_mtu("--mtu", optarg, a) < 0)
				return -1;
			break;
		case MAIN_OPT_METRICS:
			if (main_parse_metrics("--metrics", optarg, a) < 0)
				return -1;
			break;
		case MAIN_OPT_WORKER_CPUS:
			if (main_parse_list("--worker-cpus", optarg, sysconf(_SC_NPROCESSORS_CONF),
					    "CPU", a->worker_cpus, &a->n_worker_cpus,
					    MAIN_MAX_WORKER_CPUS) < 0)
				return -1;
			break;
		case MAIN_OPT_HANDSHAKE_CPUS:
			if (main_parse_list("--handshake-cpus", optarg,
					    sysconf(_SC_NPROCESSORS_CONF), "CPU", a->hs_cpus,
					    &a->n_hs_cpus, MAIN_MAX_WORKER_CPUS) < 0)
				return -1;
			break;
		case MAIN_OPT_UPLINKS:
			if (main_parse_uplinks("--uplinks", optarg, a) < 0)
				return -1;
			break;
		case MAIN_OPT_PATH_PROBE:
			if (main_parse_path_probe("--path-probe", optarg, a) < 0)
				return -1;
			break;
		case MAIN_OPT_CLUSTER_TABLE:
			if (main_parse_cluster_table("--cluster-table", optarg, a) < 0)
				return -1;
			break;
		case MAIN_OPT_GATEWAY_ID:
			if (cluster_opts_parse_id(&a->cluster_fwd, "--gateway-id", optarg) < 0)
				return -1;
			break;
		case MAIN_OPT_CLUSTER_GATEWAY:
			if (cluster_opts_parse_members(&a->cluster_fwd, "--cluster-gateway",
						       optarg) < 0)
				return -1;
			break;
		case MAIN_OPT_CLUSTER:
			a->cluster = optarg;
			break;
		case MAIN_OPT_ETCD:
			a->etcd = optarg;
			break;
		case MAIN_OPT_QUEUES:
			if (main_parse_list("--queues", optarg, XDPWG_MAX_QUEUES, "queue",
					    a->queues, &a->n_queues, XDPWG_MAX_QUEUES) < 0)
				return -1;
			break;
		default:
			usage(stderr);
			return -1;
		}
	}
	/* the command line wins over the environment */
	env = getenv("XDPWG_MTU");
	if (env && *env && !a->mtu && main_parse_mtu("XDPWG_MTU", env, a) < 0)
		return -1;
	env = getenv("XDPWG_METRICS");
	if (env && *env && !endpoint_is_set(&a->metrics) &&
	    main_parse_metrics("XDPWG_METRICS", env, a) < 0)
		return -1;
	env = getenv("XDPWG_UPLINKS");
	if (env && *env && !a->uplinks && main_parse_uplinks("XDPWG_UPLINKS", env, a) < 0)
		return -1;
	env = getenv("XDPWG_PATH_PROBE_MS");
	if (env && *env && !a->path_probe_ms &&
	    main_parse_path_probe("XDPWG_PATH_PROBE_MS", env, a) < 0)
		return -1;
	env = getenv("XDPWG_CLUSTER_TABLE");
	if (env && *env && !a->cluster_table &&
	    main_parse_cluster_table("XDPWG_CLUSTER_TABLE", env, a) < 0)
		return -1;
	env = getenv("XDPWG_WORKER_CPUS");
	if (env && *env && !a->n_worker_cpus &&
	    main_parse_list("XDPWG_WORKER_CPUS", env, sysconf(_SC_NPROCESSORS_CONF), "CPU",
			    a->worker_cpus, &a->n_worker_cpus, MAIN_MAX_WORKER_CPUS) < 0)
		return -1;
	env = getenv("XDPWG_HANDSHAKE_CPUS");
	if (env && *env && !a->n_hs_cpus &&
	    main_parse_list("XDPWG_HANDSHAKE_CPUS", env, sysconf(_SC_NPROCESSORS_CONF), "CPU",
			    a->hs_cpus, &a->n_hs_cpus, MAIN_MAX_WORKER_CPUS) < 0)
		return -1;
	env = getenv("XDPWG_QUEUES");
	if (env && *env && !a->n_queues &&
	    main_parse_list("XDPWG_QUEUES", env, XDPWG_MAX_QUEUES, "queue", a->queues, &a->n_queues,
			    XDPWG_MAX_QUEUES) < 0)
		return -1;
	if (cluster_opts_finish(&a->cluster_fwd) < 0)
		return -1;
	if (cluster_parse_opts(&a->cluster_opts, a->cluster, a->etcd) < 0)
		return -1;
	a->cluster_opts.gateway_id = a->cluster_fwd.gateway_id;
	env = getenv("XDPWG_ATTACH");
	if (env && *env) {
		char *save = NULL, *tok;

		a->attach_env = strdup(env);
		if (!a->attach_env)
			return -1;
		for (tok = strtok_r(a->attach_env, ",", &save); tok;
		     tok = strtok_r(NULL, ",", &save)) {
			if (main_add_attach(a, tok) < 0)
				return -1;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return -1;
	}
	a->ifname = argv[optind];
	if (!ifname_valid(a->ifname)) {
		fprintf(stderr, "xdpwgd: invalid interface name '%s'\n", a->ifname);
		return -1;
	}
	if (a->xdp_mode && !a->n_attach) {
		fprintf(stderr, "xdpwgd: --xdp-mode needs --attach\n");
		return -1;
	}
	/* Refused rather than ignored: an operator who asks for it expects the latency it buys,
	 * and the socket data path has no rings to spin on. */
	if (a->busy_poll && !a->n_attach) {
		fprintf(stderr,
			"xdpwgd: --busy-poll needs --attach (it spins the AF_XDP workers)\n");
		return -1;
	}
	if (a->n_queues && !a->n_attach) {
		fprintf(stderr, "xdpwgd: --queues needs --attach (it picks AF_XDP queues)\n");
		return -1;
	}
	if (a->n_worker_cpus && !a->n_attach) {
		fprintf(stderr, "xdpwgd: --worker-cpus needs --attach (it places the AF_XDP "
				"workers)\n");
		return -1;
	}
	return 0;
}

/*
 * Fork; the parent waits for the child's readiness report and exits with it. Returns in the
 * child only, with the pipe's write end in *ready_fd.
 */
static void main_daemonize(int *ready_fd)
{
	int p[2], status = 1;
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		perror("xdpwgd: pipe");
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		perror("xdpwgd: fork");
		exit(1);
	}
	if (pid > 0) {
		int code;

		close(p[1]);
		/* EOF without a report: the child died before it was ready */
		if (read(p[0], &code, sizeof(code)) == (ssize_t)sizeof(code)) {
			status = code;
		} else if (waitpid(pid, &code, 0) == pid && WIFEXITED(code) &&
			   WEXITSTATUS(code) != 0) {
			status = WEXITSTATUS(code);
		}
		exit(status);
	}
	close(p[0]);
	setsid();
	*ready_fd = p[1];
}

/* Tell the parent (if any) how startup went; once ready, leave the terminal. */
static void main_report(int ready_fd, int code)
{
	int fd;

	if (ready_fd < 0)
		return;
	if (code == 0) {
		log_use_syslog(true, "xdpwgd");
		if (chdir("/") < 0)
			log_debug("chdir /: %s", strerror(errno));
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (fd >= 0) {
			dup2(fd, STDIN_FILENO);
			dup2(fd, STDOUT_FILENO);
			dup2(fd, STDERR_FILENO);
			if (fd > STDERR_FILENO)
				close(fd);
		}
	}
	if (write(ready_fd, &code, sizeof(code)) < 0)
		log_err("cannot report readiness: %s", strerror(errno));
	close(ready_fd);
}

int main(int argc, char **argv)
{
	struct main_args args = { 0 };
	struct daemon_opts dopts = { 0 };
	struct xdpwgd *d = NULL;
	int ready_fd = -1, ret, code = 1;
	sigset_t mask;

	/* Before any key is read: no core dump, no ptrace or /proc/PID/mem, environ or maps for
	 * anyone without CAP_SYS_PTRACE. The private key, the peers' preshared keys and session
	 * keys live in this process's memory (locked, but a core file is written regardless). */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) {
		fprintf(stderr, "xdpwgd: prctl(PR_SET_DUMPABLE, 0): %s\n", strerror(errno));
		return 1;
	}
	ret = main_parse(argc, argv, &args);
	if (ret != 0) {
		free(args.attach_env);
		return ret > 0 ? 0 : 1;
	}
	log_set_level(args.verbose ? LOG_DEBUG : LOG_INFO);
	/* read through the daemon's signalfd; blocked before any thread or child exists */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (!args.foreground)
		main_daemonize(&ready_fd);
	if (args.n_hs_cpus) {
		/* before any thread exists: the workers pin themselves, everything else inherits */
		cpu_set_t set;

		CPU_ZERO(&set);
		for (unsigned int i = 0; i < args.n_hs_cpus; i++)
			CPU_SET(args.hs_cpus[i], &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0)
			log_warn("--handshake-cpus: %s", strerror(errno));
	}

	dopts.ifname = args.ifname;
	dopts.attach = args.attach;
	dopts.n_attach = args.n_attach;
	dopts.busy_poll = args.busy_poll;
	dopts.mtu = args.mtu;
	dopts.metrics = endpoint_is_set(&args.metrics) ? &args.metrics : NULL;
	dopts.worker_cpus = args.worker_cpus;
	dopts.n_worker_cpus = args.n_worker_cpus;
	dopts.uplinks = args.uplinks;
	dopts.path_probe_ms = args.path_probe_ms;
	dopts.cluster_table = args.cluster_table;
	dopts.cluster = &args.cluster_opts;
	dopts.queues = args.queues;
	dopts.n_queues = args.n_queues;
	dopts.cluster_fwd = &args.cluster_fwd;
	dopts.xdp_mode = !args.xdp_mode			    ? LOADER_MODE_AUTO
			 : !strcmp(args.xdp_mode, "native") ? LOADER_MODE_NATIVE
							    : LOADER_MODE_GENERIC;
	ret = daemon_new(&dopts, &d);
	if (ret < 0) {
		log_err("%s: cannot start: %s", args.ifname, strerror(-ret));
		main_report(ready_fd, 1);
		goto out;
	}
	main_report(ready_fd, 0);
	ret = daemon_run(d);
	code = ret < 0 ? 1 : 0;
	log_info("%s: stopped", args.ifname);

out:
	daemon_free(d);
	free(args.attach_env);
	return code;
}
