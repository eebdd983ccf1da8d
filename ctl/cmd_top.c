// SPDX-License-Identifier: GPL-2.0
/*
 * top: a live view of one interface, redrawn every second with plain ANSI (clear, then the
 * frame): each peer's endpoint, handshake age, endpoint moves and receive/transmit rates (from
 * the configuration socket), and the XDP program's counters with their rates (from the pinned
 * stats map, when the XDP data path is attached), and each AF_XDP worker's packet rates and ring
 * depths (from the daemon's events socket). q or Ctrl-C quits. --once prints one frame and
 * --count N prints N, a second apart, without the clear codes when standard output is not a
 * terminal (for scripts and tests); rates need two samples, so the first frame shows "-".
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "ctl.h"
#include "observe.h"
#include "xdpwg_kern_user.h"

enum top_constants {
	TOP_INTERVAL_MS = 1000,
	TOP_MAX_COUNT = 1000000,
};

struct top_sample {
	struct conf_dev *dev; /* NULL: the daemon did not answer */
	uint64_t *stats;      /* NULL: no XDP data path */
	uint32_t nstats;
	struct prom_worker *workers; /* NULL: none (socket mode, stock daemon) */
	size_t nworkers;
	uint64_t mono_ns;
};

static volatile sig_atomic_t top_stop;

static void top_on_signal(int sig)
{
	(void)sig;
	top_stop = 1;
}

static void top_sample_free(struct top_sample *s)
{
	conf_free(s->dev);
	free(s->stats);
	free(s->workers);
	memset(s, 0, sizeof(*s));
}

static void top_sample_take(const char *iface, struct top_sample *s)
{
	memset(s, 0, sizeof(*s));
	s->mono_ns = obs_mono_ns();
	if (ctl_ipc_get(iface, &s->dev))
		s->dev = NULL;
	if (obs_stats_read(iface, &s->stats, &s->nstats))
		s->stats = NULL;
	if (s->dev && s->stats && obs_workers_read(iface, &s->workers, &s->nworkers))
		s->workers = NULL;
}

/* Packets per second of one worker counter; "-" without a previous sample of that worker. */
static const char *top_worker_rate(char *buf, size_t len, const struct prom_worker *w,
				   const struct top_sample *prev, double dt, size_t off)
{
	uint64_t now = *(const uint64_t *)((const char *)w + off), was;
	size_t i;

	for (i = 0; prev && i < prev->nworkers; i++) {
		const struct prom_worker *p = &prev->workers[i];

		if (strcmp(p->uplink, w->uplink) || p->queue != w->queue)
			continue;
		was = *(const uint64_t *)((const char *)p + off);
		if (dt > 0 && now >= was) {
			snprintf(buf, len, "%.0f", (double)(now - was) / dt);
			return buf;
		}
	}
	snprintf(buf, len, "-");
	return buf;
}

static void top_workers(const struct top_sample *cur, const struct top_sample *prev, double dt)
{
	size_t i;

	if (!cur->nworkers)
		return;
	printf("\n%-10s %5s %4s %5s %10s %10s %10s %8s %8s %8s %8s\n", "UPLINK", "QUEUE", "CPU",
	       "POLL", "RX/s", "TX/s", "TUN/s", "RX RING", "FILL", "TX RING", "INFLIGHT");
	for (i = 0; i < cur->nworkers; i++) {
		const struct prom_worker *w = &cur->workers[i];
		char rx[24], tx[24], tun[24];

		printf("%-10s %5u %4d %5s %10s %10s %10s %8" PRIu64 " %8" PRIu64 " %8" PRIu64
		       " %8" PRIu64 "\n",
		       w->uplink, w->queue, w->cpu, w->busy_poll ? "busy" : "sleep",
		       top_worker_rate(rx, sizeof(rx), w, prev, dt,
				       offsetof(struct prom_worker, rx_frames)),
		       top_worker_rate(tx, sizeof(tx), w, prev, dt,
				       offsetof(struct prom_worker, tx_frames)),
		       top_worker_rate(tun, sizeof(tun), w, prev, dt,
				       offsetof(struct prom_worker, tun_packets)),
		       w->rx_ring, w->fill_ring, w->tx_ring, w->tx_inflight);
	}
}

/* "12.3 Mbit/s" */
static const char *top_rate(char *buf, size_t len, double bytes_per_s)
{
	static const char *const unit[] = { "bit/s", "kbit/s", "Mbit/s", "Gbit/s" };
	double v = bytes_per_s * 8;
	int u = 0;

	while (v >= 1000 && u < 3) {
		v /= 1000;
		u++;
	}
	snprintf(buf, len, "%.1f %s", v, unit[u]);
	return buf;
}

static const char *top_age(char *buf, size_t len, int64_t sec, double now)
{
	double a;

	if (sec <= 0) {
		snprintf(buf, len, "never");
		return buf;
	}
	a = now - (double)sec;
	if (a < 0)
		a = 0;
	if (a < 120)
		snprintf(buf, len, "%.0fs ago", a);
	else if (a < 7200)
		snprintf(buf, len, "%.0fm ago", a / 60);
	else
		snprintf(buf, len, "%.0fh ago", a / 3600);
	return buf;
}

static const struct conf_peer *top_find_peer(const struct conf_dev *dev, const uint8_t *key)
{
	size_t i;

	for (i = 0; dev && i < dev->n_peers; i++)
		if (!memcmp(dev->peers[i].public_key, key, WG_KEY_LEN))
			return &dev->peers[i];
	return NULL;
}

static void top_frame(const char *iface, const struct top_sample *cur,
		      const struct top_sample *prev, bool clear)
{
	double dt = prev ? (double)(cur->mono_ns - prev->mono_ns) / 1e9 : 0;
	double now = (double)obs_wall_ns() / 1e9;
	time_t t = (time_t)now;
	char tbuf[32], a[32], b[32], c[32], ep[ENDPOINT_STRLEN];
	struct tm tm;
	size_t i;
	uint32_t k;

	localtime_r(&t, &tm);
	strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
	if (clear)
		fputs("\033[H\033[2J", stdout);
	printf("xdpwgctl top  %s  %s%s\n\n", iface, tbuf, clear ? "  (q quits)" : "");
	if (!cur->dev) {
		printf("daemon: no answer on its configuration socket\n");
	} else {
		printf("%-14s %-28s %-10s %6s %14s %14s %10s %10s\n", "PEER", "ENDPOINT",
		       "HANDSHAKE", "MOVES", "RX", "TX", "RX TOTAL", "TX TOTAL");
		for (i = 0; i < cur->dev->n_peers; i++) {
			const struct conf_peer *p = &cur->dev->peers[i];
			const struct conf_peer *q =
				prev ? top_find_peer(prev->dev, p->public_key) : NULL;
			char key[CRYPTO_KEY_BASE64_LEN + 1], rx[24], tx[24];

			crypto_key_to_base64(key, p->public_key);
			key[10] = '\0';
			if (q && dt > 0 && p->rx_bytes >= q->rx_bytes &&
			    p->tx_bytes >= q->tx_bytes) {
				top_rate(rx, sizeof(rx), (double)(p->rx_bytes - q->rx_bytes) / dt);
				top_rate(tx, sizeof(tx), (double)(p->tx_bytes - q->tx_bytes) / dt);
			} else {
				snprintf(rx, sizeof(rx), "-");
				snprintf(tx, sizeof(tx), "-");
			}
			snprintf(a, sizeof(a), "%" PRIu64 "k", p->rx_bytes / 1024);
			snprintf(b, sizeof(b), "%" PRIu64 "k", p->tx_bytes / 1024);
			printf("%-14s %-28s %-10s %6" PRIu64 " %14s %14s %10s %10s\n",
			       strcat(key, "..."),
			       endpoint_is_set(&p->endpoint) ? endpoint_format(&p->endpoint, ep)
							     : "(none)",
			       top_age(c, sizeof(c), p->last_handshake_sec, now), p->endpoint_moves,
			       rx, tx, a, b);
		}
		if (!cur->dev->n_peers)
			printf("(no peers)\n");
	}
	printf("\n");
	if (!cur->stats) {
		printf("XDP: not attached (no pinned stats map)\n");
	} else {
		printf("%-24s %-8s %14s %12s\n", "XDP COUNTER", "ACTION", "TOTAL", "PER SECOND");
		for (k = 0; k < cur->nstats; k++) {
			const char *act = obs_stat_action(k);
			char name[64], rate[24];

			/* redirects and every drop always; the rest when they happen */
			if (!cur->stats[k] && strcmp(act, "drop") && k != XDPWG_STAT_REDIRECTED)
				continue;
			obs_stat_name(k, name, sizeof(name));
			if (prev && prev->stats && k < prev->nstats && dt > 0 &&
			    cur->stats[k] >= prev->stats[k])
				snprintf(rate, sizeof(rate), "%.0f",
					 (double)(cur->stats[k] - prev->stats[k]) / dt);
			else
				snprintf(rate, sizeof(rate), "-");
			printf("%-24s %-8s %14" PRIu64 " %12s\n", name, act, cur->stats[k], rate);
		}
	}
	top_workers(cur, prev, dt);
	fflush(stdout);
}

/* Wait up to ms for q on the terminal (or a signal). 1: quit. */
static int top_wait(bool tty, int ms)
{
	struct pollfd pfd = { .fd = STDIN_FILENO, .events = POLLIN };
	uint64_t end = obs_mono_ns() + (uint64_t)ms * 1000000ULL;
	int guard;

	for (guard = 0; guard < 1000 && !top_stop; guard++) {
		uint64_t now = obs_mono_ns();
		char ch;

		if (now >= end)
			return 0;
		if (!tty) {
			struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)(end - now) };

			if (end - now >= 1000000000ULL) {
				ts.tv_sec = (time_t)((end - now) / 1000000000ULL);
				ts.tv_nsec = (long)((end - now) % 1000000000ULL);
			}
			nanosleep(&ts, NULL);
			continue;
		}
		if (poll(&pfd, 1, (int)((end - now) / 1000000ULL) + 1) > 0) {
			if (read(STDIN_FILENO, &ch, 1) == 1 && (ch == 'q' || ch == 'Q' || ch == 3))
				return 1;
			if (pfd.revents & (POLLHUP | POLLERR))
				tty = false;
		}
	}
	return top_stop;
}

static int top_main(int argc, char **argv)
{
	struct top_sample cur = { 0 }, prev = { 0 };
	struct termios saved, raw;
	struct sigaction sa;
	const char *iface = NULL;
	long count = 0, n;
	bool tty_in, clear, have_prev = false, raw_set = false;
	int i;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--once")) {
			count = 1;
		} else if (!strcmp(argv[i], "--count") && i + 1 < argc) {
			char *end;

			count = strtol(argv[++i], &end, 10);
			if (*end || count < 1 || count > TOP_MAX_COUNT)
				return ctl_usage(argv[0]);
		} else if (argv[i][0] != '-' && !iface) {
			iface = argv[i];
		} else {
			return ctl_usage(argv[0]);
		}
	}
	if (!iface)
		return ctl_usage(argv[0]);
	if (!obs_name_ok(iface)) {
		ctl_err("%s: not an interface name", iface);
		return 1;
	}
	clear = isatty(STDOUT_FILENO) && count != 1;
	tty_in = isatty(STDIN_FILENO) && !count;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = top_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if (tty_in && tcgetattr(STDIN_FILENO, &saved) == 0) {
		raw = saved;
		raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		raw_set = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
	}
	for (n = 0; !top_stop && (!count || n < count); n++) {
		top_sample_take(iface, &cur);
		if (!cur.dev && !cur.stats && n == 0) {
			ctl_err("%s: neither a daemon socket nor an XDP data path", iface);
			top_sample_free(&cur);
			break;
		}
		if (n && !clear)
			printf("\n");
		top_frame(iface, &cur, have_prev ? &prev : NULL, clear);
		top_sample_free(&prev);
		prev = cur;
		memset(&cur, 0, sizeof(cur));
		have_prev = true;
		if ((count && n + 1 >= count) || top_wait(tty_in, TOP_INTERVAL_MS))
			break;
	}
	if (raw_set)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	top_sample_free(&prev);
	return have_prev ? 0 : 1;
}

CTL_COMMAND(top, .name = "top", .run = top_main, .usage = "<interface> [--once | --count <n>]",
	    .summary = "Live view of peers, rates, XDP counters and workers, redrawn every second");
