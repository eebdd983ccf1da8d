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
#include <stdint.h>
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
	/* tun_enable_offload: every queue carries a virtio_net_hdr in front of each packet */
	bool vnet_hdr;
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

/*
 * Offloads (the AF_XDP back-end): reopen every queue with IFF_VNET_HDR and TUNSETOFFLOAD
 * CSUM|TSO4|TSO6, so that one read returns up to 64 KB of one TCP flow (a super-packet with a
 * virtio_net_hdr saying how to cut it) and checksums may be left for us to finish. After this,
 * tun_write adds a header marking the packet's checksum as verified (the AEAD authenticated
 * it, as the kernel's WireGuard marks CHECKSUM_UNNECESSARY), and readers use tun_read_gso.
 * 0 or -errno (then nothing changed).
 */
int tun_enable_offload(struct tun_dev *t);

/* Called per wire-sized packet by tun_read_gso; pkt may be modified. */
typedef void (*tun_packet_fn)(void *ctx, uint8_t *pkt, size_t len);

/* Read one packet or super-packet from queue q into buf (len >= 65535 + room for the largest
 * segment, see TUN_GSO_BUF) and hand it to fn as wire-sized IP packets with complete
 * checksums, cut as TSO would. Returns the bytes read (> 0), 0 if none was waiting, or -errno.
 * Without offloads it reads one packet and calls fn once. */
ssize_t tun_read_gso(const struct tun_dev *t, unsigned int q, uint8_t *buf, size_t len,
		     tun_packet_fn fn, void *ctx);

enum tun_gso_constants {
	/* a super-packet plus one segment's scratch */
	TUN_GSO_BUF = 65535 + 2048,
};
/* The interface's MTU now (wg-quick and operators change it with ip link), or -errno. */
int tun_get_mtu(const char *name);
/* Close every queue: a TUN this process created disappears with its last queue. */
void tun_close(struct tun_dev *t);

#endif
