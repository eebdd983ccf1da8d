// SPDX-License-Identifier: GPL-2.0
/*
 * A gateway cluster's forwarding on the socket path. See cluster_sock.h.
 *
 * One raw socket per inner family (protocol 4 for IPv4 inside, 41 for IPv6), of the underlay's
 * family and bound to our underlay address: the kernel writes the outer header. They only send:
 * a filter that accepts nothing keeps the kernel from queueing every IP-in-IP packet to them.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <linux/filter.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cluster_fwd.h"
#include "cluster_sock.h"
#include "log.h"
#include "xdpwg_wire.h"
#include "xsk.h"

enum {
	CLUSTER_SOCK_ETH = 14, /* xsk_build_udp writes an Ethernet header we do not send */
	CLUSTER_SOCK_MAX = 65535,
};

struct cluster_sock {
	struct cluster_fwd *cf;
	int fd4in, fd6in; /* raw sockets carrying IPv4 (protocol 4) and IPv6 (41) inside */
	struct cluster_sock_counts counts;
	uint8_t frame[CLUSTER_SOCK_MAX + 128];
};

static int cluster_sock_open(const struct sockaddr_storage *self, int proto)
{
	static struct sock_filter none[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
	struct sock_fprog prog = { .len = 1, .filter = none };
	socklen_t alen = self->ss_family == AF_INET ? sizeof(struct sockaddr_in)
						    : sizeof(struct sockaddr_in6);
	int fd = socket(self->ss_family, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, proto);

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0 ||
	    bind(fd, (const struct sockaddr *)self, alen) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

struct cluster_sock *cluster_sock_new(struct cluster_fwd *cf)
{
	const struct sockaddr_storage *self = cluster_fwd_self_underlay(cf);
	struct cluster_sock *cs = calloc(1, sizeof(*cs));
	int err;

	if (!cs)
		return NULL;
	cs->cf = cf;
	cs->fd4in = cluster_sock_open(self, IPPROTO_IPIP);
	cs->fd6in = cluster_sock_open(self, IPPROTO_IPV6);
	if (cs->fd4in < 0 || cs->fd6in < 0) {
		err = cs->fd4in < 0 ? cs->fd4in : cs->fd6in;
		log_err("cluster: raw IP-in-IP socket on our underlay address: %s", strerror(-err));
		cluster_sock_free(cs);
		errno = -err;
		return NULL;
	}
	return cs;
}

void cluster_sock_free(struct cluster_sock *cs)
{
	if (!cs)
		return;
	if (cs->fd4in >= 0)
		close(cs->fd4in);
	if (cs->fd6in >= 0)
		close(cs->fd6in);
	free(cs);
}

/* The receiver index of a message that names one of a gateway's indexes, or false. */
static bool cluster_sock_receiver(const uint8_t *msg, size_t len, uint32_t *idx)
{
	size_t off;
	uint32_t v;

	if (len < sizeof(struct wg_msg_header) || msg[1] || msg[2] || msg[3])
		return false;
	switch (msg[0]) {
	case WG_MSG_DATA:
		if (len < WG_MSG_DATA_MIN_LEN)
			return false;
		off = 4;
		break;
	case WG_MSG_HANDSHAKE_RESPONSE:
		if (len != WG_MSG_RESPONSE_LEN)
			return false;
		off = 8;
		break;
	case WG_MSG_HANDSHAKE_COOKIE:
		if (len != WG_MSG_COOKIE_LEN)
			return false;
		off = 4;
		break;
	default:
		return false; /* initiations name no index of ours; junk is the engine's to count */
	}
	memcpy(&v, msg + off, 4);
	*idx = le32toh(v);
	return true;
}

bool cluster_sock_forward(void *ctx, const uint8_t *msg, size_t len, const struct wg_endpoint *src,
			  uint16_t port)
{
	struct cluster_sock *cs = ctx;
	struct xsk_udp_params p = { 0 };
	struct sockaddr_storage to;
	size_t hl, tolen;
	uint32_t idx, gid;
	int flen, fd;

	if (!cluster_sock_receiver(msg, len, &idx))
		return false;
	gid = idx >> XDPWG_GW_ID_SHIFT;
	if (gid == cluster_fwd_self_id(cs->cf))
		return false;
	if (!cluster_fwd_gateway_get(cs->cf, gid, &to)) {
		cs->counts.unknown_gateway++;
		return true;
	}
	/* the client's datagram as it was on the wire: its source, the address it wrote to */
	p.family = src->addr.sa.sa_family;
	if (p.family == AF_INET) {
		p.src.v4 = src->addr.in4.sin_addr;
		p.dst.v4 = src->src4;
		p.sport = ntohs(src->addr.in4.sin_port);
		fd = cs->fd4in;
	} else {
		p.src.v6 = src->addr.in6.sin6_addr;
		p.dst.v6 = src->src6;
		p.sport = ntohs(src->addr.in6.sin6_port);
		fd = cs->fd6in;
	}
	p.dport = port;
	hl = xsk_udp_hdr_len(p.family);
	if (!hl || hl + len > sizeof(cs->frame))
		goto failed;
	memcpy(cs->frame + hl, msg, len);
	flen = xsk_build_udp(cs->frame, sizeof(cs->frame), &p, len);
	if (flen < CLUSTER_SOCK_ETH)
		goto failed;
	tolen = to.ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	if (sendto(fd, cs->frame + CLUSTER_SOCK_ETH, (size_t)flen - CLUSTER_SOCK_ETH, 0,
		   (const struct sockaddr *)&to, (socklen_t)tolen) < 0) {
		log_debug("cluster: forwarding to gateway %u: %s", gid, strerror(errno));
		goto failed;
	}
	switch (msg[0]) {
	case WG_MSG_DATA:
		cs->counts.fwd_data++;
		break;
	case WG_MSG_HANDSHAKE_RESPONSE:
		cs->counts.fwd_response++;
		break;
	default:
		cs->counts.fwd_cookie++;
		break;
	}
	return true;
failed:
	cs->counts.failed++;
	return true;
}

void cluster_sock_counts(const struct cluster_sock *cs, struct cluster_sock_counts *out)
{
	*out = cs->counts;
}
