// SPDX-License-Identifier: GPL-2.0
/*
 * UDP sockets for the socket back-end. Sockets are non-blocking and close-on-exec. Binding
 * follows the kernel driver: the IPv4 and IPv6 sockets share one port, and a random port is
 * retried until both families get it.
 */
#include <errno.h>
#include <pthread.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crypto.h"
#include "io_socket.h"
#include "log.h"

void io_socket_init(struct io_socket *s)
{
	s->fd4 = s->fd6 = -1;
	s->port = 0;
	s->fwmark = 0;
	pthread_rwlock_init(&s->lock, NULL);
}

static int io_set_mark(int fd, uint32_t fwmark)
{
	/* Setting 0 on a socket that never had a mark is a no-op, and needs no privilege. */
	if (setsockopt(fd, SOL_SOCKET, SO_MARK, &fwmark, sizeof(fwmark)) < 0)
		return -errno;
	return 0;
}

/* One socket of family on port; its fd or -errno. */
static int io_open(int family, uint16_t port, uint32_t fwmark)
{
	union {
		struct sockaddr sa;
		struct sockaddr_in in4;
		struct sockaddr_in6 in6;
	} addr = { 0 };
	socklen_t alen;
	int fd, on = 1, rcvbuf = IO_SOCKET_RCVBUF, ret;

	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
	if (fd < 0)
		return -errno;
	if (family == AF_INET) {
		addr.in4.sin_family = AF_INET;
		addr.in4.sin_port = htons(port);
		alen = sizeof(addr.in4);
		if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &on, sizeof(on)) < 0)
			goto err;
	} else {
		addr.in6.sin6_family = AF_INET6;
		addr.in6.sin6_port = htons(port);
		alen = sizeof(addr.in6);
		if (setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) < 0 ||
		    setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &on, sizeof(on)) < 0)
			goto err;
	}
	/* Best effort: without privilege the kernel caps it at rmem_max, which is fine. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof(rcvbuf)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (fwmark && io_set_mark(fd, fwmark) < 0)
		goto err;
	if (bind(fd, &addr.sa, alen) < 0)
		goto err;
	return fd;

err:
	ret = -errno;
	close(fd);
	return ret;
}

static int io_local_port(int fd)
{
	struct sockaddr_in6 a;
	socklen_t alen = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &alen) < 0)
		return -errno;
	/* sin_port and sin6_port sit at the same offset */
	return ntohs(a.sin6_port);
}

/* Open a v4+v6 pair on port (0: random). The port, or -errno; *fd4, *fd6 set on success (*fd6
 * -1 when the host has no IPv6). */
static int io_open_pair(uint16_t port, uint32_t fwmark, int *fd4, int *fd6)
{
	int attempts = port ? 1 : IO_SOCKET_BIND_ATTEMPTS, ret = -EADDRINUSE;

	for (int i = 0; i < attempts; ++i) {
		int f4, f6, p;

		f6 = io_open(AF_INET6, port, fwmark);
		if (f6 < 0 && f6 != -EAFNOSUPPORT)
			return f6;
		p = port;
		if (f6 >= 0) {
			p = io_local_port(f6);
			if (p < 0) {
				close(f6);
				return p;
			}
		}
		f4 = io_open(AF_INET, (uint16_t)p, fwmark);
		if (f4 < 0) {
			if (f6 >= 0)
				close(f6);
			ret = f4;
			/* the random port taken by someone on IPv4 only: try another */
			if (f4 == -EADDRINUSE && !port)
				continue;
			return ret;
		}
		if (f6 < 0) {
			p = io_local_port(f4);
			if (p < 0) {
				close(f4);
				return p;
			}
		}
		*fd4 = f4;
		*fd6 = f6;
		return p;
	}
	return ret;
}

static void io_socket_close_locked(struct io_socket *s)
{
	if (s->fd4 >= 0)
		close(s->fd4);
	if (s->fd6 >= 0)
		close(s->fd6);
	s->fd4 = s->fd6 = -1;
	s->port = 0;
}

int io_socket_bind(struct io_socket *s, uint16_t port, uint32_t fwmark)
{
	int fd4, fd6, ret;

	if (s->fd4 >= 0 && port && port == s->port) {
		if (fwmark == s->fwmark)
			return port;
		ret = io_set_mark(s->fd4, fwmark);
		if (!ret && s->fd6 >= 0)
			ret = io_set_mark(s->fd6, fwmark);
		if (ret < 0) {
			/* leave the sockets as they were */
			(void)io_set_mark(s->fd4, s->fwmark);
			if (s->fd6 >= 0)
				(void)io_set_mark(s->fd6, s->fwmark);
			return ret;
		}
		s->fwmark = fwmark;
		return port;
	}
	ret = io_open_pair(port, fwmark, &fd4, &fd6);
	if (ret < 0) {
		log_err("cannot bind UDP port %u: %s", port, strerror(-ret));
		return ret;
	}
	/* no sender between the old descriptors' close and the new ones' use */
	pthread_rwlock_wrlock(&s->lock);
	io_socket_close_locked(s);
	s->fd4 = fd4;
	s->fd6 = fd6;
	s->port = (uint16_t)ret;
	s->fwmark = fwmark;
	pthread_rwlock_unlock(&s->lock);
	log_debug("UDP sockets bound to port %u%s", s->port, fd6 < 0 ? " (IPv4 only)" : "");
	return ret;
}

void io_socket_close(struct io_socket *s)
{
	pthread_rwlock_wrlock(&s->lock);
	io_socket_close_locked(s);
	pthread_rwlock_unlock(&s->lock);
}

/* One sendmsg of len bytes to dst, from dst's cached source when with_src; gso: the segment size
 * of a UDP GSO send (a UDP_SEGMENT cmsg), 0 for one datagram. */
static int io_sendmsg(int fd, const struct wg_endpoint *dst, const uint8_t *buf, size_t len,
		      bool with_src, uint16_t gso)
{
	union {
		char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} control = { 0 };
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr msg = {
		.msg_name = (void *)&dst->addr,
		.msg_namelen = endpoint_socklen(dst),
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};
	struct cmsghdr *cm = (struct cmsghdr *)control.buf;

	if (with_src || gso)
		msg.msg_control = control.buf;
	if (with_src) {
		if (dst->addr.sa.sa_family == AF_INET) {
			struct in_pktinfo pi = { .ipi_spec_dst = dst->src4,
						 .ipi_ifindex = dst->out_ifindex };

			/* Only the source: forcing the interface too would pin the route
			 * (ipi_ifindex), which the kernel driver does not do either; except
			 * for a multipath client's uplink, which is chosen on purpose. */
			msg.msg_controllen = CMSG_SPACE(sizeof(pi));
			cm->cmsg_level = IPPROTO_IP;
			cm->cmsg_type = IP_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		} else {
			struct in6_pktinfo pi = { .ipi6_addr = dst->src6 };

			/* a link-local source is only meaningful with its interface */
			if (IN6_IS_ADDR_LINKLOCAL(&dst->src6))
				pi.ipi6_ifindex = (unsigned int)dst->src_ifindex;
			if (dst->out_ifindex)
				pi.ipi6_ifindex = (unsigned int)dst->out_ifindex;
			msg.msg_controllen = CMSG_SPACE(sizeof(pi));
			cm->cmsg_level = IPPROTO_IPV6;
			cm->cmsg_type = IPV6_PKTINFO;
			cm->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
		}
		cm = (struct cmsghdr *)(control.buf + msg.msg_controllen);
	}
	if (gso) {
		cm->cmsg_level = SOL_UDP;
		cm->cmsg_type = UDP_SEGMENT;
		cm->cmsg_len = CMSG_LEN(sizeof(gso));
		memcpy(CMSG_DATA(cm), &gso, sizeof(gso));
		msg.msg_controllen += CMSG_SPACE(sizeof(gso));
	}
	for (int i = 0; i < 3; ++i) {
		if (sendmsg(fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno != EINTR)
			break;
	}
	return -errno;
}

static int io_send_locked(const struct io_socket *s, const struct wg_endpoint *dst,
			  const uint8_t *buf, size_t len, uint16_t gso)
{
	bool has_src;
	int fd, ret;

	if (dst->addr.sa.sa_family == AF_INET) {
		fd = s->fd4;
		has_src = dst->src4.s_addr != 0;
	} else if (dst->addr.sa.sa_family == AF_INET6) {
		fd = s->fd6;
		has_src = !IN6_IS_ADDR_UNSPECIFIED(&dst->src6);
	} else {
		return -EDESTADDRREQ;
	}
	if (fd < 0)
		return -EAFNOSUPPORT;
	ret = io_sendmsg(fd, dst, buf, len, has_src, gso);
	/* The cached source no longer belongs to this host (address removed, moved network):
	 * let the kernel pick one, as the kernel driver does. IPv6 says so with EINVAL; IPv4's
	 * route lookup with a foreign source fails with ENETUNREACH first. The engine's cache is
	 * refreshed by the peer's next datagram, which comes to the address the kernel chose.
	 * Not for a multipath client's uplink (out_ifindex): that datagram is meant for that
	 * uplink, and its failure is what the path's probes are for. */
	if (has_src && !dst->out_ifindex &&
	    (ret == -EINVAL || ret == -ENETUNREACH || ret == -EADDRNOTAVAIL))
		ret = io_sendmsg(fd, dst, buf, len, false, gso);
	return ret;
}

/*
 * Under the read lock: a worker's fallback send may race a rebind on the control thread, which
 * closes the old sockets; without the lock it could send on a closed descriptor, or on whatever
 * the number was reused for meanwhile. Rebinds are rare and the fallback is the exception, so
 * the lock is taken uncontended but for those moments.
 */
static int io_send(const struct io_socket *s, const struct wg_endpoint *dst, const uint8_t *buf,
		   size_t len, uint16_t gso)
{
	/* the lock is the one mutable part of a socket pair its senders hold const */
	pthread_rwlock_t *lock = (pthread_rwlock_t *)&s->lock;
	int ret;

	pthread_rwlock_rdlock(lock);
	ret = io_send_locked(s, dst, buf, len, gso);
	pthread_rwlock_unlock(lock);
	return ret;
}

int io_socket_send(const struct io_socket *s, const struct wg_endpoint *dst, const uint8_t *buf,
		   size_t len)
{
	return io_send(s, dst, buf, len, 0);
}

struct io_tx_batch *io_tx_batch_new(void)
{
	struct io_tx_batch *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->buf = malloc(IO_TX_BATCH_BYTES);
	if (!b->buf) {
		free(b);
		return NULL;
	}
	return b;
}

void io_tx_batch_free(struct io_tx_batch *b)
{
	if (!b)
		return;
	/* ciphertext only: the engine encrypts in place before the buffer is lent out again */
	free(b->buf);
	free(b);
}

uint8_t *io_tx_batch_room(struct io_tx_batch *b, size_t need)
{
	if (b->closed || b->n >= IO_TX_BATCH_SEGS || need > IO_TX_BATCH_BYTES - b->len)
		return NULL;
	/* a length the batch cannot take would be moved to the front after a flush: fine too */
	return b->buf + b->len;
}

int io_tx_batch_flush(struct io_socket *s, struct io_tx_batch *b)
{
	int ret = 0, r;

	if (!b->n)
		return 0;
	if (b->n > 1 && !s->no_gso) {
		ret = io_send(s, &b->dst, b->buf, b->len, (uint16_t)b->seg);
		/* No UDP GSO on this route: EIO without checksum offload, EINVAL for a segment
		 * larger than the route's MTU, ENOPROTOOPT on an old kernel. */
		if (ret == -EIO || ret == -EINVAL || ret == -ENOPROTOOPT) {
			log_debug("UDP GSO refused (%s): one sendmsg per datagram from now on",
				  strerror(-ret));
			s->no_gso = true;
		}
	}
	if (b->n == 1 || s->no_gso) {
		ret = 0;
		for (size_t off = 0; off < b->len; off += b->seg) {
			size_t l = b->len - off < b->seg ? b->len - off : b->seg;

			r = io_send(s, &b->dst, b->buf + off, l, 0);
			if (r && !ret)
				ret = r;
		}
	}
	b->n = 0;
	b->len = 0;
	b->seg = 0;
	b->closed = false;
	return ret;
}

int io_tx_batch_add(struct io_socket *s, struct io_tx_batch *b, const struct wg_endpoint *dst,
		    const uint8_t *buf, size_t len)
{
	bool lent = buf == b->buf + b->len;
	int ret = 0;

	if (!len || len > IO_TX_BATCH_BYTES)
		return io_socket_send(s, dst, buf, len);
	if (b->n && (b->closed || len > b->seg || b->n >= IO_TX_BATCH_SEGS ||
		     len > IO_TX_BATCH_BYTES - b->len || !endpoint_eq(&b->dst, dst) ||
		     !endpoint_same_src(&b->dst, dst))) {
		ret = io_tx_batch_flush(s, b);
		/* encrypted at the tail: what was before it is sent, move it up front */
		if (lent)
			memmove(b->buf, buf, len);
	}
	if (!b->n) {
		b->dst = *dst;
		b->seg = len;
	} else if (len < b->seg) {
		b->closed = true;
	}
	if (!lent)
		memcpy(b->buf + b->len, buf, len);
	b->len += len;
	b->n++;
	if (b->closed || b->n >= IO_TX_BATCH_SEGS || b->seg > IO_TX_BATCH_BYTES - b->len) {
		int r = io_tx_batch_flush(s, b);

		if (!ret)
			ret = r;
	}
	return ret;
}

struct io_rx_batch *io_rx_batch_new(void)
{
	struct io_rx_batch *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	for (int i = 0; i < IO_SOCKET_BATCH; ++i) {
		b->data[i] = malloc(IO_SOCKET_BUF);
		if (!b->data[i]) {
			io_rx_batch_free(b);
			return NULL;
		}
	}
	return b;
}

void io_rx_batch_free(struct io_rx_batch *b)
{
	if (!b)
		return;
	/* the engine decrypts in place: the buffers hold plaintext */
	for (int i = 0; i < IO_SOCKET_BATCH; ++i) {
		if (b->data[i])
			crypto_wipe(b->data[i], IO_SOCKET_BUF);
		free(b->data[i]);
	}
	free(b);
}

static void io_parse_src(struct msghdr *mh, struct wg_endpoint *ep)
{
	struct cmsghdr *cm;

	memset(ep, 0, sizeof(*ep));
	if (mh->msg_namelen > sizeof(ep->addr))
		return;
	memcpy(&ep->addr, mh->msg_name, mh->msg_namelen);
	for (cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(struct in_pktinfo))) {
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			/* the packet's destination: our address the peer wrote to */
			ep->src4 = pi.ipi_addr;
			ep->src_ifindex = pi.ipi_ifindex;
		} else if (cm->cmsg_level == IPPROTO_IPV6 && cm->cmsg_type == IPV6_PKTINFO &&
			   cm->cmsg_len >= CMSG_LEN(sizeof(struct in6_pktinfo))) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
			ep->src6 = pi.ipi6_addr;
			ep->src_ifindex = (int)pi.ipi6_ifindex;
		}
	}
}

int io_socket_recv(int fd, struct io_rx_batch *b)
{
	int n, i;

	for (i = 0; i < IO_SOCKET_BATCH; ++i) {
		b->iov[i].iov_base = b->data[i];
		b->iov[i].iov_len = IO_SOCKET_BUF;
		b->msgs[i].msg_hdr = (struct msghdr){
			.msg_name = &b->names[i],
			.msg_namelen = sizeof(b->names[i]),
			.msg_iov = &b->iov[i],
			.msg_iovlen = 1,
			.msg_control = b->control[i].buf,
			.msg_controllen = sizeof(b->control[i].buf),
		};
		b->msgs[i].msg_len = 0;
	}
	n = recvmmsg(fd, b->msgs, IO_SOCKET_BATCH, MSG_DONTWAIT, NULL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		return -errno;
	}
	for (i = 0; i < n; ++i) {
		b->len[i] = b->msgs[i].msg_len;
		io_parse_src(&b->msgs[i].msg_hdr, &b->src[i]);
	}
	return n;
}
