/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The socket files the daemon listens on (the configuration socket NAME.sock, the events socket
 * NAME.events): created under umask 077, so that only root connects; a stale socket left by a
 * dead daemon is replaced, never any other kind of file; and the file's identity (device, inode)
 * is kept, so that the daemon can tell later whether the file is still the one it created (a
 * removed or replaced socket means: shut down, or do not unlink it on exit).
 */
#ifndef XDPWG_UNIXSOCK_H
#define XDPWG_UNIXSOCK_H

#include <stdbool.h>
#include <sys/types.h>

struct unixsock_id {
	dev_t dev;
	ino_t ino;
};

/* mkdir -p with mode 0755 for each missing component, as wireguard-go's MkdirAll. */
int unixsock_mkdirs(const char *dir);
/* Whether some process accepts connections on path. */
bool unixsock_in_use(const char *path);
/* A listening, non-blocking socket at path, or -errno. A socket already there is replaced when
 * it is stale: with check_live, one nobody accepts on (-EADDRINUSE when somebody does);
 * without, any (the caller holds a lock that proves it is a dead daemon's). Anything that is no
 * socket stays, and the call fails with -EEXIST. */
int unixsock_listen(const char *path, int backlog, bool check_live, struct unixsock_id *id);
/* path is still the socket file unixsock_listen created. */
bool unixsock_still_ours(const char *path, const struct unixsock_id *id);

#endif
