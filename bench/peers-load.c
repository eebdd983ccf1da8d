// SPDX-License-Identifier: GPL-2.0
/*
 * peers-load: configure many peers on a running daemon with one setconf through its UAPI socket.
 *   peers-load SOCKET N [PREFIX]
 * Generates N peers (keys from the library: crypto_genkey + crypto_pubkey), each with one
 * allowed IP, PREFIX (default 2001:db8:1::) plus its number as a /128 host route, then sends
 * them all in one "set=1" request (peers are added, none replaced) and waits for the answer.
 * Prints the key generation time, the apply time (request sent to errno received) and the
 * daemon's errno. Exit 0 when errno=0.
 */
#include <arpa/inet.h>
#include <errno.h>
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
	/* "public_key=" 64 hex, "allowed_ip=" an IPv6 /128, "replace_allowed_ips=true" */
	LOAD_PEER_TEXT = 200,
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

int main(int argc, char **argv)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct in6_addr base, a;
	char hex[CRYPTO_KEY_HEX_LEN + 1], ip[INET6_ADDRSTRLEN], resp[256];
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
	size_t cap, len = 0, got = 0;
	double t0, t1, t2;
	long n;
	char *buf;
	int fd, err = -1;

	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: %s SOCKET N [PREFIX]\n", argv[0]);
		return 2;
	}
	n = strtol(argv[2], NULL, 10);
	if (n < 1 || n > LOAD_MAX_PEERS ||
	    inet_pton(AF_INET6, argc == 4 ? argv[3] : "2001:db8:1::", &base) != 1) {
		fprintf(stderr, "peers-load: N must be 1..%d, PREFIX an IPv6 address\n",
			LOAD_MAX_PEERS);
		return 2;
	}
	if (crypto_init())
		return 1;
	cap = (size_t)n * LOAD_PEER_TEXT + 64;
	buf = malloc(cap);
	if (!buf)
		return 1;
	t0 = now();
	len += (size_t)snprintf(buf + len, cap - len, "set=1\n");
	for (long i = 0; i < n; i++) {
		uint32_t v = (uint32_t)(i + 1);

		crypto_genkey(priv);
		crypto_pubkey(pub, priv);
		crypto_key_to_hex(hex, pub);
		a = base;
		a.s6_addr[12] = (uint8_t)(v >> 24);
		a.s6_addr[13] = (uint8_t)(v >> 16);
		a.s6_addr[14] = (uint8_t)(v >> 8);
		a.s6_addr[15] = (uint8_t)v;
		inet_ntop(AF_INET6, &a, ip, sizeof(ip));
		len += (size_t)snprintf(
			buf + len, cap - len,
			"public_key=%s\nreplace_allowed_ips=true\nallowed_ip=%s/128\n", hex, ip);
	}
	len += (size_t)snprintf(buf + len, cap - len, "\n");
	crypto_wipe(priv, sizeof(priv));
	t1 = now();

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", argv[1]);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("peers-load: connect");
		return 1;
	}
	if (write_all(fd, buf, len) < 0) {
		perror("peers-load: write");
		return 1;
	}
	/* the answer is "errno=N\n\n": read until the blank line (bounded by the buffer) */
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
	t2 = now();
	resp[got] = '\0';
	if (sscanf(resp, "errno=%d", &err) != 1)
		err = -1;
	printf("peers %ld keygen_s %.3f apply_s %.3f request_bytes %zu errno %d\n", n, t1 - t0,
	       t2 - t1, len, err);
	close(fd);
	free(buf);
	return err == 0 ? 0 : 1;
}
