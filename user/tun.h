/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The TUN interface: created multi-queue so that each data-path worker can own a queue, packets
 * without the packet-information header (IFF_NO_PI), as wireguard-go does. The interface is left
 * down: whoever configures addresses (wg-quick) brings it up.
 */
#ifndef XDPWG_TUN_H
#define XDPWG_TUN_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

enum tun_constants {
	TUN_DEFAULT_MTU = 1420, /* wireguard-go's: 1500 minus the largest (IPv6) overhead */
	TUN_MAX_QUEUES = 16,
};

struct tun_dev {
	char name[IFNAMSIZ];
	int ifindex;
	int fds[TUN_MAX_QUEUES]; /* non-blocking, close-on-exec */
	unsigned int n_queues;
};

/* Whether name is usable as an interface and socket name: [a-zA-Z0-9_=+.-]{1,15}, like
 * wg-quick, so that /var/run/wireguard/NAME.sock cannot point elsewhere. */
bool tun_name_valid(const char *name);
/* Create TUN name (or attach to an existing persistent TUN of that name) with one queue, and
 * set its MTU when mtu is not 0. 0 or -errno. */
int tun_open(struct tun_dev *t, const char *name, unsigned int mtu);
/* Attach one more queue; its fd, or -errno. */
int tun_add_queue(struct tun_dev *t);
/* Read one packet from queue q: its length, 0 if none is waiting, or -errno (-EBADFD or -EIO
 * once the interface has been deleted). */
ssize_t tun_read(const struct tun_dev *t, unsigned int q, void *buf, size_t len);
/* Write one packet to queue q. 0 or -errno. */
int tun_write(const struct tun_dev *t, unsigned int q, const void *pkt, size_t len);
int tun_set_mtu(const char *name, unsigned int mtu);
/* The interface's MTU now (wg-quick and operators change it with ip link), or -errno. */
int tun_get_mtu(const char *name);
/* Close every queue: a TUN this process created disappears with its last queue. */
void tun_close(struct tun_dev *t);

#endif
