// SPDX-License-Identifier: GPL-2.0
/*
 * A worker's fallback send (io_socket_send from an AF_XDP worker when the next hop is unknown)
 * racing a listen-port change on the control thread (io_socket_bind, which closes the old
 * sockets): no send may ever reach a closed descriptor, or one whose number was reused
 * meanwhile for something else. Two sender threads send while this thread rebinds again and
 * again and immediately reuses the freed descriptor numbers for pipes: without the socket pair's
 * lock, some sends fail with EBADF or ENOTSOCK (a pipe). Bounded in count; no timing asserted.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "io_socket.h"
#include "tap.h"

enum {
	RB_SENDERS = 2,
	RB_REBINDS = 400,
};

static struct io_socket rb_sock;
static struct wg_endpoint rb_dst;
static atomic_bool rb_stop;
static atomic_uint rb_bad, rb_sent;

static void *rb_sender(void *arg)
{
	static const uint8_t msg[32];

	(void)arg;
	while (!atomic_load(&rb_stop)) {
		int ret = io_socket_send(&rb_sock, &rb_dst, msg, sizeof(msg));

		if (ret == -EBADF || ret == -ENOTSOCK)
			atomic_fetch_add(&rb_bad, 1);
		atomic_fetch_add(&rb_sent, 1);
	}
	return NULL;
}

int main(void)
{
	pthread_t t[RB_SENDERS];
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int sink, i, rebinds = 0;

	/* where the datagrams go: a socket of ours on loopback, never read */
	sink = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (sink < 0 || bind(sink, (struct sockaddr *)&a, sizeof(a)) < 0 ||
	    getsockname(sink, (struct sockaddr *)&a, &alen) < 0) {
		ok(0, "a loopback sink socket");
		return done_testing();
	}
	memset(&rb_dst, 0, sizeof(rb_dst));
	memcpy(&rb_dst.addr.in4, &a, sizeof(a));

	io_socket_init(&rb_sock);
	ok(io_socket_bind(&rb_sock, 0, 0) > 0, "bound to a random port");
	for (i = 0; i < RB_SENDERS; i++)
		pthread_create(&t[i], NULL, rb_sender, NULL);
	for (i = 0; i < RB_REBINDS; i++) {
		int p[2][2];

		if (io_socket_bind(&rb_sock, 0, 0) > 0)
			rebinds++;
		/* take the numbers the old sockets just gave back */
		if (pipe(p[0]) == 0 && pipe(p[1]) == 0) {
			usleep(50);
			close(p[0][0]);
			close(p[0][1]);
			close(p[1][0]);
			close(p[1][1]);
		}
	}
	atomic_store(&rb_stop, true);
	for (i = 0; i < RB_SENDERS; i++)
		pthread_join(t[i], NULL);
	ok(rebinds == RB_REBINDS, "%d rebinds to new ports", rebinds);
	ok(atomic_load(&rb_sent) > 0, "%u sends meanwhile", (unsigned int)atomic_load(&rb_sent));
	is_int((int)atomic_load(&rb_bad), 0,
	       "no send reached a closed or reused descriptor (EBADF, ENOTSOCK)");
	io_socket_close(&rb_sock);
	close(sink);
	return done_testing();
}
