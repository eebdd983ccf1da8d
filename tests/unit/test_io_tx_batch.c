// SPDX-License-Identifier: GPL-2.0
/*
 * io_tx_batch: datagrams gathered for UDP GSO arrive as the same datagrams, in order, over
 * loopback (IPv4 and IPv6), whether encrypted in place (lent) or copied, across destination
 * and length changes and the segment limit.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "io_socket.h"
#include "tap.h"

static int open_rx(int family, struct wg_endpoint *ep)
{
	socklen_t alen = family == AF_INET ? sizeof(ep->addr.in4) : sizeof(ep->addr.in6);
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK, 0), big = 4 << 20;

	memset(ep, 0, sizeof(*ep));
	if (fd < 0)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big));
	if (family == AF_INET) {
		ep->addr.in4.sin_family = AF_INET;
		ep->addr.in4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	} else {
		ep->addr.in6.sin6_family = AF_INET6;
		ep->addr.in6.sin6_addr = in6addr_loopback;
	}
	if (bind(fd, &ep->addr.sa, alen) < 0 || getsockname(fd, &ep->addr.sa, &alen) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* a diagnostic line, then -1 for the caller to return */
#define diag_fail(...) (tap_diag(__VA_ARGS__), -1)

static void fill(uint8_t *p, size_t len, unsigned int tag)
{
	for (size_t i = 0; i < len; ++i)
		p[i] = (uint8_t)(tag * 31 + i);
}

/* Receive n datagrams of lens[i] tagged i from fd, in order. */
static int expect(int fd, size_t n, const size_t *lens)
{
	static uint8_t got[65536], want[65536];

	for (size_t i = 0; i < n; ++i) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&pfd, 1, 1000) != 1)
			return diag_fail("datagram %zu: none", i);
		r = recv(fd, got, sizeof(got), 0);
		fill(want, lens[i], (unsigned int)i);
		if (r != (ssize_t)lens[i] || memcmp(got, want, lens[i]))
			return diag_fail("datagram %zu: %zd bytes, want %zu", i, r, lens[i]);
	}
	if (recv(fd, got, sizeof(got), 0) >= 0)
		return diag_fail("one datagram too many");
	return 0;
}

static int run(int family, bool no_gso)
{
	struct io_socket s;
	struct io_tx_batch *b = io_tx_batch_new();
	struct wg_endpoint a, c;
	int fa = open_rx(family, &a), fc = open_rx(family, &c), ret = -1;
	static size_t lens_a[256], lens_c[8];
	static uint8_t tmp[65536];
	size_t na = 0, nc = 0;
	unsigned int i;

	io_socket_init(&s);
	if (!b || fa < 0 || fc < 0 || io_socket_bind(&s, 0, 0) < 0)
		goto out;
	/* as after the kernel refused UDP_SEGMENT once: the same datagrams, one send each */
	s.no_gso = no_gso;
	/* 40 of 1000 bytes, lent and copied alternately, then a shorter one: closes the batch */
	for (i = 0; i < 41; ++i) {
		size_t len = i < 40 ? 1000 : 300;
		uint8_t *p = (i & 1) ? io_tx_batch_room(b, len) : NULL;

		if (!p)
			p = tmp;
		fill(p, len, (unsigned int)na);
		lens_a[na++] = len;
		if (io_tx_batch_add(&s, b, &a, p, len))
			goto out;
	}
	ok(b->n == 0, "a shorter datagram sends the batch");
	/* a longer one after two: flush first; then another destination; then past 64 */
	for (i = 0; i < 2; ++i) {
		uint8_t *p = io_tx_batch_room(b, 500);

		fill(p, 500, (unsigned int)na);
		lens_a[na++] = 500;
		io_tx_batch_add(&s, b, &a, p, 500);
	}
	{
		uint8_t *p = io_tx_batch_room(b, 800);

		fill(p, 800, (unsigned int)na);
		lens_a[na++] = 800;
		io_tx_batch_add(&s, b, &a, p, 800);
		ok(b->n == 1 && b->seg == 800, "a longer datagram starts a new batch");
		p = io_tx_batch_room(b, 800);
		fill(p, 800, (unsigned int)nc);
		lens_c[nc++] = 800;
		io_tx_batch_add(&s, b, &c, p, 800);
		ok(b->n == 1 && endpoint_eq(&b->dst, &c), "another destination starts a new batch");
	}
	io_tx_batch_flush(&s, b);
	for (i = 0; i < 150; ++i) {
		uint8_t *p = io_tx_batch_room(b, 100);

		fill(p, 100, (unsigned int)na);
		lens_a[na++] = 100;
		io_tx_batch_add(&s, b, &a, p, 100);
		if (b->n > IO_TX_BATCH_SEGS)
			goto out;
	}
	ok(b->n == 150 % IO_TX_BATCH_SEGS, "at most %d datagrams per send", IO_TX_BATCH_SEGS);
	/* near the byte limit: 44 of 1480 bytes fill 65120, a 45th does not fit */
	io_tx_batch_flush(&s, b);
	for (i = 0; i < 45; ++i) {
		uint8_t *p = io_tx_batch_room(b, 1480);

		if (i == 44)
			ok(p == NULL || b->n == 0, "no room past %d bytes", IO_TX_BATCH_BYTES);
		if (!p)
			p = tmp;
		fill(p, 1480, (unsigned int)na);
		lens_a[na++] = 1480;
		io_tx_batch_add(&s, b, &a, p, 1480);
	}
	io_tx_batch_flush(&s, b);
	ok(s.no_gso == no_gso, "%s", no_gso ? "no UDP GSO stays off" : "loopback takes UDP GSO");
	ret = 0;
	ok(expect(fa, na, lens_a) == 0, "%zu datagrams to the first destination, in order", na);
	ok(expect(fc, nc, lens_c) == 0, "%zu to the second", nc);
out:
	if (ret)
		ok(0, "setup");
	io_socket_close(&s);
	io_tx_batch_free(b);
	if (fa >= 0)
		close(fa);
	if (fc >= 0)
		close(fc);
	return ret;
}

int main(void)
{
	tap_diag("IPv4");
	run(AF_INET, false);
	tap_diag("IPv6");
	run(AF_INET6, false);
	tap_diag("IPv4, one sendmsg per datagram");
	run(AF_INET, true);
	return done_testing();
}
