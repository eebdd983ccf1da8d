/* SPDX-License-Identifier: GPL-2.0 */
/*
 * AF_XDP sockets for the crypto workers, on libxdp's xsk API: one xsk_port per (interface, rx
 * queue), each with its own UMEM split in two halves, one feeding the fill ring (receive), one a
 * free list of transmit frames. Zero-copy is tried first and copy mode used when the driver
 * refuses it (veth does); XDP_USE_NEED_WAKEUP is on by default. We own the XDP program, so libxdp
 * never loads one (XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD): the socket registers itself in the xsks
 * map under the key the loader hands out (loader_xsk_key).
 *
 * A port is single-threaded: one worker owns it. Received frames belong to the caller until
 * xsk_port_rx_release; transmit frames from xsk_port_tx_alloc until submitted or cancelled.
 */
#ifndef XDPWG_XSK_H
#define XDPWG_XSK_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xdpwg_kern_user.h"

struct xsk_port;

enum xsk_port_mode {
	XSK_PORT_MODE_AUTO = 0, /* zero-copy, else copy */
	XSK_PORT_MODE_COPY,
	XSK_PORT_MODE_ZEROCOPY,
};

struct xsk_port_opts {
	const char *ifname;
	uint32_t queue;
	int xsks_map_fd;      /* > 0: register the socket there under map_key */
	uint32_t map_key;     /* loader_xsk_key(ld, ifindex, queue) */
	uint32_t frame_count; /* 0: 4096 (half receive, half transmit); a power of two */
	uint32_t frame_size;  /* 0: 2048; 2048 or 4096 */
	uint32_t ring_size;   /* 0: frame_count / 2; a power of two */
	enum xsk_port_mode mode;
	bool no_need_wakeup;
	/* the XDP program puts struct xdpwg_meta inside the frame, in front of the Ethernet
	 * header (loader_meta_inline): received frames begin with it */
	bool meta_inline;
};

/* One received or transmit frame. */
struct xsk_frame {
	uint8_t *data;		       /* the Ethernet header */
	uint32_t len;		       /* received length; for transmit, set before submitting */
	uint32_t cap;		       /* transmit: room at data */
	uint64_t addr;		       /* UMEM address (opaque) */
	const struct xdpwg_meta *meta; /* receive: what XDP wrote in front, or NULL */
};

int xsk_port_open(const struct xsk_port_opts *opts, struct xsk_port **out);
/* Unregisters from the xsks map, closes the socket, frees the UMEM. NULL is fine. */
void xsk_port_close(struct xsk_port *p);
int xsk_port_fd(const struct xsk_port *p);
bool xsk_port_zerocopy(const struct xsk_port *p);
uint32_t xsk_port_queue(const struct xsk_port *p);

/* Receive up to max frames (never blocks). They stay the caller's until released. */
unsigned int xsk_port_rx(struct xsk_port *p, struct xsk_frame *out, unsigned int max);
/* Give received frames back to the fill ring. */
void xsk_port_rx_release(struct xsk_port *p, const struct xsk_frame *f, unsigned int n);
/* With need_wakeup: the kernel wants a poll()/recvfrom to refill (the worker poll()s anyway). */
bool xsk_port_rx_needs_wakeup(const struct xsk_port *p);
/* For a worker that never sleeps in poll(): what poll() would have done for the socket, without
 * a syscall when nothing needs one. A recvfrom when the fill ring asks for a wakeup, and a kick
 * while the TX ring still holds frames a previous kick left there (in copy mode poll() would
 * have sent them). Never blocks. */
void xsk_port_busy_kick(struct xsk_port *p);

/* Up to n free transmit frames (fewer when transmits are still in flight); completions are
 * reaped first. Fill data, set len, then submit or cancel them. */
unsigned int xsk_port_tx_alloc(struct xsk_port *p, struct xsk_frame *out, unsigned int n);
/* Put n frames on the TX ring (always fits: the ring holds every transmit frame). */
void xsk_port_tx_submit(struct xsk_port *p, const struct xsk_frame *f, unsigned int n);
void xsk_port_tx_cancel(struct xsk_port *p, const struct xsk_frame *f, unsigned int n);
/* Tell the kernel to transmit (sendto) when it needs telling. 0 or -errno. */
int xsk_port_kick(struct xsk_port *p);
/* Reap completions; returns how many frames came back. */
unsigned int xsk_port_tx_reap(struct xsk_port *p);
/* Transmits submitted and not yet completed. */
unsigned int xsk_port_tx_inflight(const struct xsk_port *p);

/* Ring occupancy, readable from another thread (a gauge for metrics, not a synchronisation
 * point): frames received and not yet taken, receive frames the kernel holds for filling,
 * frames queued for transmit and not yet sent, transmit frames not yet completed. */
struct xsk_port_depths {
	uint32_t rx, fill, tx, tx_inflight;
};
void xsk_port_depths(const struct xsk_port *p, struct xsk_port_depths *d);

/* The outer headers of a UDP datagram: Ethernet + IPv4/IPv6 + UDP. Ports in host order. */
struct xsk_udp_params {
	uint8_t src_mac[6];
	uint8_t dst_mac[6];
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} src, dst;
	uint16_t sport;
	uint16_t dport;
	uint8_t ttl;   /* 0: 64 */
	uint8_t vlans; /* parse only: VLAN tags the frame carried (xsk_build_udp writes none) */
	/* parse only: the frame came unwrapped from another cluster member and XDP found no next
	 * hop back to its source (XDPWG_META_F_NO_HOP): its MACs are no next hop to learn */
	uint8_t no_hop;
};

/* Bytes of headers xsk_build_udp writes for family (42 or 62), 0 for an unknown family. */
size_t xsk_udp_hdr_len(int family);
/* Write Ethernet, IP and UDP headers into frame[0 .. xsk_udp_hdr_len) in front of the payload
 * that is already at frame + xsk_udp_hdr_len(family), with correct IPv4 header and UDP
 * checksums (IPv4 too). Returns the frame length, or -EINVAL / -EMSGSIZE. */
int xsk_build_udp(uint8_t *frame, size_t cap, const struct xsk_udp_params *p, size_t payload_len);
/* Parse a received frame (up to two VLAN tags, IPv4 with options, IPv6 with up to
 * XDPWG_IPV6_EXT_MAX extension headers): fills p and where the UDP payload is. 0 or -EINVAL. */
int xsk_parse_udp(const uint8_t *frame, size_t len, struct xsk_udp_params *p, size_t *payload_off,
		  size_t *payload_len);
/* The same for a received frame, taking where the message is from the metadata XDP wrote in
 * front of it (payload_off, payload_len: past VLAN tags, IP options and extension headers,
 * which XDP has already walked) and only the addresses, MACs and ports from the headers; a frame
 * without valid metadata is parsed in full. 0 or -EINVAL. */
int xsk_frame_udp(const struct xsk_frame *f, struct xsk_udp_params *p, size_t *payload_off,
		  size_t *payload_len);

#endif
