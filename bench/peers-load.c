// SPDX-License-Identifier: GPL-2.0
/*
 * peers-load: configure many peers on a running daemon through its UAPI socket.
 *   peers-load [-4 K] [-b B] [-g] [-o K] SOCKET N [PREFIX]
 * Generates N peers (keys from the library: crypto_genkey + crypto_pubkey), each with one
 * allowed IP: PREFIX (default 2001:db8:1::) plus its number as a /128 host route, or, with
 * -4 K, every Kth peer an IPv4 /32 from 198.18.1.0 on (198.18.0.0/15 past the /24 the benchmark
 * links use; at most XDPWG_LOAD_V4_MAX of them), so the set mixes both families.
 *
 * Without -b all peers go in one "set=1" request (peers are added, none replaced), as one
 * setconf does; with -b B they go in sets of B peers each, one after the other on one
 * connection, each waiting for its answer, as incremental `wg set` calls do.
 *
 * -o K: then, on a loaded set, time K adds of one new peer and K removals (remove=true) of
 * those, one request each (what `wg set wg0 peer ... allowed-ips ...` and `... remove` cost),
 * and print the median and the worst in ms.
 *
 * -g: then time one get=1 (request sent to its errno line read): what the daemon's streamed
 * reply costs without a client's parsing and printing.
 *
 * Prints the key generation time, the apply time (first request sent to the last errno
 * received), the request bytes and the daemon's errno. Exit 0 when every errno=0.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"

enum {
	LOAD_MAX_PEERS = 1 << 20,
	/* "public_key=" 64 hex, "replace_allowed_ips=true", "allowed_ip=" an IPv6 /128 */
	LOAD_PEER_TEXT = 200,
	/* 198.18.1.0 .. 198.19.255.255 */
	LOAD_V4_MAX = (1 << 17) - 256,
	LOAD_OPS_MAX = 10000,
};

struct load {
	int fd;
	struct in6_addr base;
	long v4_every; /* 0: IPv6 only */
	char *buf;
	size_t cap;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_all(int fd, const char *p, size_t len)
{
	/* bounded: every round writes at least one byte or fails */
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The answer is "errno=N\n\n": read until the blank line (bounded by the buffer). The daemon's
 * errno, or -1 when the connection ended first. */
static int read_errno(int fd)
{
	char resp[256];
	size_t got = 0;
	int err;

	while (got < sizeof(resp) - 1) {
		ssize_t r = read(fd, resp + got, sizeof(resp) - 1 - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
		resp[got] = '\0';
		if (strstr(resp, "\n\n"))
			break;
	}
	resp[got] = '\0';
	if (sscanf(resp, "errno=%d", &err) != 1)
		err = -1;
	return err;
}

/* Peer i's text (1-based number v), appended at len. */
static size_t peer_text(const struct load *l, size_t len, long i, const char *hex)
{
	uint32_t v = (uint32_t)(i + 1);
	char ip[INET6_ADDRSTRLEN];
	struct in6_addr a = l->base;

	if (l->v4_every && i % l->v4_every == 0 && i / l->v4_every < LOAD_V4_MAX) {
		/* 198.18.1.0 + i / K */
		uint32_t h = 0xc6120100u + (uint32_t)(i / l->v4_every);
		struct in_addr a4 = { .s_addr = htonl(h) };

		inet_ntop(AF_INET, &a4, ip, sizeof(ip));
		return (size_t)snprintf(
			l->buf + len, l->cap - len,
			"public_key=%s\nreplace_allowed_ips=true\nallowed_ip=%s/32\n", hex, ip);
	}
	a.s6_addr[12] = (uint8_t)(v >> 24);
	a.s6_addr[13] = (uint8_t)(v >> 16);
	a.s6_addr[14] = (uint8_t)(v >> 8);
	a.s6_addr[15] = (uint8_t)v;
	inet_ntop(AF_INET6, &a, ip, sizeof(ip));
	return (size_t)snprintf(l->buf + len, l->cap - len,
				"public_key=%s\nreplace_allowed_ips=true\nallowed_ip=%s/128\n", hex,
				ip);
}

/* One request of buf[0..len) with its errno. */
static int load_send(struct load *l, size_t len)
{
	if (write_all(l->fd, l->buf, len) < 0) {
		perror("peers-load: write");
		return -1;
	}
	return read_errno(l->fd);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* -g: one get=1, read to its end ("\nerrno=N\n\n"), timed. */
static int load_get(struct load *l)
{
	static const char tail[] = "errno=0\n\n";
	char buf[1 << 16], last[sizeof(tail)] = "";
	size_t total = 0;
	double t = now();

	if (write_all(l->fd, "get=1\n\n", 7) < 0)
		return -1;
	for (;;) {
		ssize_t r = read(l->fd, buf, sizeof(buf));
		size_t keep = sizeof(tail) - 1;

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		total += (size_t)r;
		/* the reply's last bytes, across reads */
		if ((size_t)r >= keep) {
			memcpy(last, buf + r - keep, keep);
		} else {
			memmove(last, last + r, keep - (size_t)r);
			memcpy(last + keep - r, buf, (size_t)r);
		}
		last[keep] = '\0';
		if (!strcmp(last, tail))
			break;
	}
	printf(" get_s %.3f get_bytes %zu", now() - t, total);
	return 0;
}

/* -o K: K single adds (new peers past N), then their K single removals. */
static int load_ops(struct load *l, long n, long k)
{
	char hex[CRYPTO_KEY_HEX_LEN + 1];
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
	char(*keys)[CRYPTO_KEY_HEX_LEN + 1];
	double *add_ms, *del_ms;
	int err = 0;

	keys = calloc((size_t)k, sizeof(*keys));
	add_ms = calloc((size_t)k, sizeof(double));
	del_ms = calloc((size_t)k, sizeof(double));
	if (!keys || !add_ms || !del_ms) {
		err = -1;
		goto out;
	}
	for (long i = 0; i < k && !err; i++) {
		size_t len = (size_t)snprintf(l->buf, l->cap, "set=1\n");
		double t;

		crypto_genkey(priv);
		crypto_pubkey(pub, priv);
		crypto_key_to_hex(hex, pub);
		memcpy(keys[i], hex, sizeof(hex));
		len += peer_text(l, len, n + i, hex);
		len += (size_t)snprintf(l->buf + len, l->cap - len, "\n");
		t = now();
		err = load_send(l, len);
		add_ms[i] = (now() - t) * 1e3;
	}
	for (long i = 0; i < k && !err; i++) {
		size_t len = (size_t)snprintf(l->buf, l->cap,
					      "set=1\npublic_key=%s\nremove=true\n\n", keys[i]);
		double t = now();

		err = load_send(l, len);
		del_ms[i] = (now() - t) * 1e3;
	}
	if (!err) {
		qsort(add_ms, (size_t)k, sizeof(double), cmp_double);
		qsort(del_ms, (size_t)k, sizeof(double), cmp_double);
		printf(" ops %ld add_ms_median %.3f add_ms_max %.3f remove_ms_median %.3f "
		       "remove_ms_max %.3f",
		       k, add_ms[k / 2], add_ms[k - 1], del_ms[k / 2], del_ms[k - 1]);
	}
out:
	crypto_wipe(priv, sizeof(priv));
	free(keys);
	free(add_ms);
	free(del_ms);
	return err;
}

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct load l = { .fd = -1 };
	char hex[CRYPTO_KEY_HEX_LEN + 1];
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
	size_t total = 0;
	long n, batch = 0, ops = 0;
	bool get = false;
	double keygen = 0, apply = 0, t;
	int opt, err = 0;

	while ((opt = getopt(argc, argv, "4:b:go:")) != -1) {
		long *dst = opt == '4' ? &l.v4_every : opt == 'b' ? &batch : &ops;

		if (opt == '?')
			return 2;
		if (opt == 'g') {
			get = true;
			continue;
		}
		*dst = strtol(optarg, NULL, 10);
		if (*dst < 1 || (opt == 'o' && *dst > LOAD_OPS_MAX)) {
			fprintf(stderr, "peers-load: -%c needs a count (-o at most %d)\n", opt,
				LOAD_OPS_MAX);
			return 2;
		}
	}
	if (argc - optind < 2 || argc - optind > 3) {
		fprintf(stderr, "usage: %s [-4 K] [-b B] [-g] [-o K] SOCKET N [PREFIX]\n", argv[0]);
		return 2;
	}
	n = strtol(argv[optind + 1], NULL, 10);
	if (n < 1 || n > LOAD_MAX_PEERS ||
	    inet_pton(AF_INET6, argc - optind == 3 ? argv[optind + 2] : "2001:db8:1::", &l.base) !=
		    1) {
		fprintf(stderr, "peers-load: N must be 1..%d, PREFIX an IPv6 address\n",
			LOAD_MAX_PEERS);
		return 2;
	}
	if (!batch || batch > n)
		batch = n;
	if (crypto_init())
		return 1;
	l.cap = (size_t)batch * LOAD_PEER_TEXT + 64;
	l.buf = malloc(l.cap);
	if (!l.buf)
		return 1;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[optind]);
	l.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l.fd < 0 || connect(l.fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("peers-load: connect");
		return 1;
	}
	for (long i = 0; i < n && !err; i += batch) {
		size_t len = (size_t)snprintf(l.buf, l.cap, "set=1\n");
		long end = i + batch < n ? i + batch : n;

		t = now();
		for (long j = i; j < end; j++) {
			crypto_genkey(priv);
			crypto_pubkey(pub, priv);
			crypto_key_to_hex(hex, pub);
			len += peer_text(&l, len, j, hex);
		}
		len += (size_t)snprintf(l.buf + len, l.cap - len, "\n");
		keygen += now() - t;
		t = now();
		err = load_send(&l, len);
		apply += now() - t;
		total += len;
	}
	crypto_wipe(priv, sizeof(priv));
	printf("peers %ld keygen_s %.3f apply_s %.3f request_bytes %zu batch %ld v4_every %ld "
	       "errno %d",
	       n, keygen, apply, total, batch, l.v4_every, err);
	if (!err && ops)
		err = load_ops(&l, n, ops);
	if (!err && get)
		err = load_get(&l);
	printf("\n");
	close(l.fd);
	free(l.buf);
	return err == 0 ? 0 : 1;
}
