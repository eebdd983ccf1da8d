// SPDX-License-Identifier: GPL-2.0
/*
 * The metrics endpoint (see metrics_http.h). One request per connection, answered at once on the
 * control thread, as the configuration socket's get is: the peers from the engine's snapshot,
 * the XDP counters from the loader, the workers from the back-end. The body is written as it is
 * made (no Content-Length; the connection's close ends it, as HTTP/1.1 allows), so its size
 * costs no memory here. A client gets METRICS_IO_TIMEOUT_MS per read and write: a stalled
 * scraper cannot hold the control thread longer than that per call.
 *
 * Answers: 200 for GET (and HEAD) of /metrics, 404 for another path, 405 for another method,
 * 400 for what is not an HTTP request line. Nothing else (no TLS, no authentication): bind it to
 * a management address.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "metrics_http.h"
#include "prom.h"
#include "uapi.h"
#include "xdpwgd.h"

enum metrics_http_limits {
	METRICS_BACKLOG = 16,
	METRICS_PER_POLL = 4,	      /* connections answered per wakeup */
	METRICS_IO_TIMEOUT_MS = 2000, /* per read or write of one connection */
	METRICS_REQUEST_MAX = 4096,   /* the request head we read at most */
	METRICS_WORKERS_MAX = 256,
};

struct metrics_http {
	int fd;
};

struct metrics_http *metrics_http_new(const struct wg_endpoint *addr, int *err)
{
	struct metrics_http *m = calloc(1, sizeof(*m));
	char buf[ENDPOINT_STRLEN];
	int one = 1;

	if (!m) {
		*err = -ENOMEM;
		return NULL;
	}
	m->fd = socket(addr->addr.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->fd < 0 || setsockopt(m->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(m->fd, &addr->addr.sa, endpoint_socklen(addr)) < 0 ||
	    listen(m->fd, METRICS_BACKLOG) < 0) {
		*err = -errno;
		log_err("metrics: cannot listen on %s: %s", endpoint_format(addr, buf),
			strerror(errno));
		metrics_http_free(m);
		return NULL;
	}
	log_info("metrics: serving http://%s/metrics", endpoint_format(addr, buf));
	return m;
}

int metrics_http_fd(const struct metrics_http *m)
{
	return m->fd;
}

void metrics_http_free(struct metrics_http *m)
{
	if (!m)
		return;
	if (m->fd >= 0)
		close(m->fd);
	free(m);
}

/* The request head up to its blank line (or the buffer's end); its length, or -1. */
static ssize_t metrics_read_head(int fd, char *buf, size_t len)
{
	size_t have = 0;

	while (have + 1 < len) {
		ssize_t n = recv(fd, buf + have, len - 1 - have, 0);

		if (n <= 0)
			return have ? (ssize_t)have : -1;
		have += (size_t)n;
		buf[have] = 0;
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			break;
	}
	buf[have] = 0;
	return (ssize_t)have;
}

static void metrics_status(FILE *f, const char *status, const char *body)
{
	fprintf(f,
		"HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
		"Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
		status, strlen(body), body);
}

/* The exposition, gathered from the daemon's own state. */
static int metrics_body(FILE *f, struct xdpwgd *d)
{
	uint64_t xdp[XDPWG_STAT_MAX];
	struct prom_worker *w = NULL;
	struct prom_input in = { .iface = d->ifname };
	struct conf_dev *dev = daemon_uapi_handler.get(d);
	struct timespec now;
	size_t n = 0;
	int ret;

	if (d->xdp && io_xdp_stats(d->xdp, xdp) == 0) {
		in.xdp = xdp;
		in.n_xdp = XDPWG_STAT_MAX;
	}
	if (d->xdp)
		w = calloc(METRICS_WORKERS_MAX, sizeof(*w));
	for (unsigned int i = 0; w && i < METRICS_WORKERS_MAX; i++) {
		struct io_xdp_worker_info wi;

		if (io_xdp_worker_info(d->xdp, i, &wi) < 0)
			break;
		if (!if_indextoname((unsigned int)wi.ifindex, w[n].uplink))
			snprintf(w[n].uplink, sizeof(w[n].uplink), "if%d", wi.ifindex);
		w[n].worker = i;
		w[n].queue = wi.queue;
		w[n].tun_queue = wi.tun_queue;
		w[n].cpu = wi.cpu;
		w[n].zerocopy = wi.zerocopy;
		w[n].rx_frames = wi.rx_frames;
		w[n].rx_bad = wi.rx_bad;
		w[n].tx_frames = wi.tx_frames;
		w[n].tx_fallback = wi.tx_fallback;
		w[n].tun_packets = wi.tun_packets;
		w[n].rx_ring = wi.rx_ring;
		w[n].fill_ring = wi.fill_ring;
		w[n].tx_ring = wi.tx_ring;
		w[n].tx_inflight = wi.tx_inflight;
		w[n].busy_poll = wi.busy_poll;
		n++;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	in.dev = dev;
	in.workers = w;
	in.n_workers = n;
	in.now = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	ret = prom_write(f, &in);
	free(w);
	conf_free(dev);
	return ret;
}

static void metrics_answer(int fd, struct xdpwgd *d)
{
	const struct timeval tmo = { .tv_sec = METRICS_IO_TIMEOUT_MS / 1000,
				     .tv_usec = METRICS_IO_TIMEOUT_MS % 1000 * 1000 };
	char req[METRICS_REQUEST_MAX], method[16], path[256];
	FILE *f;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tmo, sizeof(tmo));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tmo, sizeof(tmo));
	f = fdopen(fd, "w");
	if (!f) {
		close(fd);
		return;
	}
	if (metrics_read_head(fd, req, sizeof(req)) < 0 ||
	    sscanf(req, "%15s %255s HTTP/1.%*c", method, path) != 2) {
		metrics_status(f, "400 Bad Request", "not an HTTP request\n");
	} else if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		metrics_status(f, "405 Method Not Allowed", "GET /metrics\n");
	} else if (strcmp(path, "/metrics") && strncmp(path, "/metrics?", 9)) {
		metrics_status(f, "404 Not Found", "GET /metrics\n");
	} else {
		fputs("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; "
		      "charset=utf-8\r\n"
		      "Connection: close\r\n\r\n",
		      f);
		if (strcmp(method, "HEAD") && metrics_body(f, d) < 0)
			log_debug("metrics: the scraper went away mid-answer");
	}
	fclose(f);
}

void metrics_http_poll(struct metrics_http *m, struct xdpwgd *d)
{
	for (int i = 0; i < METRICS_PER_POLL; i++) {
		int fd = accept4(m->fd, NULL, NULL, SOCK_CLOEXEC);

		if (fd < 0)
			return;
		metrics_answer(fd, d);
	}
}
