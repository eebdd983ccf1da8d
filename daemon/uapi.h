/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The configuration socket server: /var/run/wireguard/NAME.sock, speaking wireguard's
 * cross-platform userspace API, so that stock `wg` and wg-quick configure xdpwgd unchanged.
 *
 * Like wireguard-go: the directory is created mode 0755, the socket is created under umask 077
 * (only root may connect), a stale socket nobody answers on is replaced, and a socket some
 * other daemon answers on makes startup fail. A connection may carry any number of requests;
 * each reply ends with "errno=N\n\n" (N = 0 on success, else a negated errno such as -22,
 * exactly as wireguard-go answers and wg(8) expects).
 *
 * The server runs its own epoll set (listener, connections, an inotify watch on the socket
 * file) behind one fd, so the daemon adds a single fd to its loop and calls uapi_server_poll.
 */
#ifndef XDPWG_UAPI_H
#define XDPWG_UAPI_H

#include <stddef.h>

#include "config.h"

enum uapi_constants {
	UAPI_MAX_CONNS = 64, /* more are accepted and closed at once */
	/* A set=1 for 2^20 peers (MAX_PEERS_PER_DEVICE) with a key, a preshared key, an
	 * endpoint and two allowed IPs each (~300 bytes); larger closes the connection. Only root
	 * may connect, and the buffer is mmap'd by malloc: what is not sent is not resident. */
	UAPI_MAX_REQUEST = 320 << 20,
	UAPI_READ_CHUNK = 64 << 10,
	UAPI_POLL_BUDGET = 64, /* events handled per uapi_server_poll */
	/* A streamed get=1 reply: more pieces are formatted while less than this is unsent, and
	 * one wakeup writes at most UAPI_FLUSH_BUDGET before the loop's other sources get their
	 * turn (a million peers are ~300 MB of text). */
	UAPI_STREAM_HIGH = 256 << 10,
	UAPI_FLUSH_BUDGET = 4 << 20,
};

#define UAPI_SOCKET_DIR "/var/run/wireguard"

struct uapi_handler {
	/* Apply a parsed set=1 request: 0, or -errno with a message in err. */
	int (*set)(void *ctx, const struct conf_dev *req, char *err, size_t errlen);
	/* A snapshot for get=1 (conf_free'd by the server); NULL on ENOMEM. */
	struct conf_dev *(*get)(void *ctx);
	/* Optional: get=1 streamed in pieces rather than built whole. get_begin holds the state
	 * of one reply (NULL on ENOMEM); get_next gives its next piece to format, conf_free'd by
	 * the server (the first with the device's fields), NULL with *err = 0 at the end or
	 * -errno on failure (the connection is closed then: a reply cut short cannot be taken
	 * back); get_end releases it, at the end or when the connection goes away. */
	void *(*get_begin)(void *ctx);
	struct conf_dev *(*get_next)(void *ctx, void *cur, int *err);
	void (*get_end)(void *ctx, void *cur);
};

struct uapi_server;

/* Listen on UAPI_SOCKET_DIR/NAME.sock. NULL with *err = -errno on failure: -EADDRINUSE when
 * another process answers on that socket. */
struct uapi_server *uapi_server_new(const char *ifname, const struct uapi_handler *h, void *ctx,
				    int *err);
/* The fd to watch for readability (the server's epoll set). */
int uapi_server_fd(const struct uapi_server *s);
/* Accept, read, answer, without blocking. 0, or -ENOENT once the socket file has been removed
 * or replaced (wireguard-go exits then; so does xdpwgd). */
int uapi_server_poll(struct uapi_server *s);
/* Close every connection (wiping buffered secrets) and remove the socket file if it is still
 * the one this server created. */
void uapi_server_free(struct uapi_server *s);

/* UAPI_SOCKET_DIR/NAME.sock into buf; -ENAMETOOLONG if it does not fit. */
int uapi_socket_path(char *buf, size_t len, const char *ifname);

#endif
