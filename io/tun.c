// SPDX-License-Identifier: GPL-2.0
/*
 * TUN queues. A TUN created with TUNSETIFF and never made persistent lives exactly as long as its
 * queue file descriptors, so closing them is how the daemon deletes its interface on exit, and
 * reads failing with EBADFD is how it learns that someone deleted it (wg-quick down does
 * `ip link delete`).
 */
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "csum.h"
#include "log.h"
#include "pins.h"
#include "tun.h"

static int tun_open_queue(const char *name, bool vnet)
{
	struct ifreq ifr = { 0 };
	int fd, ret;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE | (vnet ? IFF_VNET_HDR : 0);
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	if (vnet && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int tun_set_mtu(const char *name, unsigned int mtu)
{
	struct ifreq ifr = { 0 };
	int fd, ret = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	ifr.ifr_mtu = (int)mtu;
	if (ioctl(fd, SIOCSIFMTU, &ifr) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int tun_get_mtu(const char *name)
{
	struct ifreq ifr = { 0 };
	int fd, ret;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	ret = ioctl(fd, SIOCGIFMTU, &ifr) < 0 ? -errno : ifr.ifr_mtu;
	close(fd);
	return ret;
}

int tun_open(struct tun_dev *t, const char *name, unsigned int mtu)
{
	int fd, ret;

	memset(t, 0, sizeof(*t));
	for (unsigned int i = 0; i < TUN_MAX_QUEUES; ++i)
		t->fds[i] = -1;
	if (!ifname_valid(name))
		return -EINVAL;
	strncpy(t->name, name, IFNAMSIZ - 1);
	fd = tun_open_queue(name, false);
	if (fd < 0) {
		log_err("%s: cannot create TUN: %s", name, strerror(-fd));
		return fd;
	}
	t->fds[0] = fd;
	t->n_queues = 1;
	t->ifindex = (int)if_nametoindex(name);
	if (mtu) {
		ret = tun_set_mtu(name, mtu);
		if (ret < 0) {
			log_err("%s: cannot set MTU %u: %s", name, mtu, strerror(-ret));
			tun_close(t);
			return ret;
		}
	}
	return 0;
}

int tun_add_queue(struct tun_dev *t)
{
	int fd;

	if (t->n_queues >= TUN_MAX_QUEUES)
		return -ENOSPC;
	fd = tun_open_queue(t->name, t->vnet_hdr);
	if (fd < 0)
		return fd;
	t->fds[t->n_queues++] = fd;
	return fd;
}

ssize_t tun_read(const struct tun_dev *t, unsigned int q, void *buf, size_t len)
{
	ssize_t n = read(t->fds[q], buf, len);

	if (n >= 0)
		return n;
	if (errno == EAGAIN || errno == EINTR)
		return 0;
	return -errno;
}

int tun_write(const struct tun_dev *t, unsigned int q, const void *pkt, size_t len)
{
	ssize_t n;

	if (t->vnet_hdr) {
		/* authenticated by the AEAD: the stack need not verify its checksum again */
		struct virtio_net_hdr h = { .flags = VIRTIO_NET_HDR_F_DATA_VALID };
		struct iovec iov[2] = {
			{ .iov_base = &h, .iov_len = sizeof(h) },
			{ .iov_base = (void *)pkt, .iov_len = len },
		};

		n = writev(t->fds[q], iov, 2);
		if (n < 0)
			return -errno;
		return (size_t)n == len + sizeof(h) ? 0 : -EIO;
	}
	n = write(t->fds[q], pkt, len);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

int tun_enable_offload(struct tun_dev *t)
{
	struct ifreq ifr = { 0 };
	bool was_persistent;
	unsigned int i, n = t->n_queues;
	int ret = 0;

	if (t->vnet_hdr || !n)
		return 0;
	/* The kernel takes a multi-queue TUN's flags from the first queue attached only: every
	 * queue must go and come back with IFF_VNET_HDR. Persistent meanwhile, so that the
	 * interface (and its addresses and routes) outlives the moment without queues. */
	if (ioctl(t->fds[0], TUNGETIFF, &ifr) < 0)
		return -errno;
	was_persistent = ifr.ifr_flags & IFF_PERSIST;
	if (!was_persistent && ioctl(t->fds[0], TUNSETPERSIST, 1) < 0)
		return -errno;
	for (i = 0; i < n; i++) {
		close(t->fds[i]);
		t->fds[i] = -1;
	}
	t->n_queues = 0;
	t->vnet_hdr = true;
	/* one segment at a time through the engine, for measuring what batching buys */
	t->no_batch = getenv("XDPWG_NO_TX_BATCH") != NULL;
	for (i = 0; i < n; i++) {
		ret = tun_add_queue(t);
		if (ret < 0)
			break;
	}
	if (ret < 0) {
		/* back to plain queues, as many as we had */
		tun_close(t);
		t->vnet_hdr = false;
		for (i = 0; i < n; i++)
			if (tun_add_queue(t) < 0)
				break;
	}
	if (!was_persistent && t->n_queues && ioctl(t->fds[0], TUNSETPERSIST, 0) < 0)
		log_warn("%s: cannot make the TUN non-persistent again: %s", t->name,
			 strerror(errno));
	return ret < 0 ? ret : 0;
}

/* --- checksums and segmentation for tun_read_gso --- */

/* The kernel left a partial checksum (the pseudo-header's sum) at csum_start + csum_offset:
 * finish it over csum_start .. len. false when the offsets make no sense. */
static bool tun_csum_finish(uint8_t *pkt, size_t len, size_t start, size_t off)
{
	uint16_t c;

	if (start >= len || start + off + 2 > len)
		return false;
	c = (uint16_t)~csum_fold(csum_add(0, pkt + start, len - start));
	memcpy(pkt + start + off, &c, 2);
	return true;
}

/* One TSO segment's TCP checksum from scratch (pseudo-header included). */
static void tun_tcp_csum(uint8_t *seg, size_t l3, size_t l4_len, bool v6)
{
	uint64_t sum = 0;
	uint16_t c = 0;

	memcpy(seg + l3 + 16, &c, 2);
	if (v6)
		sum = csum_add(sum, seg + 8, 32);
	else
		sum = csum_add(sum, seg + 12, 8);
	sum += htons(IPPROTO_TCP);
	sum += htons((uint16_t)l4_len);
	sum = csum_add(sum, seg + l3, l4_len);
	c = (uint16_t)~csum_fold(sum);
	memcpy(seg + l3 + 16, &c, 2);
}

/*
 * Where the segments of a super-packet are cut: consecutively in an area, handed over as a
 * batch when the area or the batch is full and at the end of the super-packet. Cutting for a
 * per-packet callback is a batch of at most one in an area of one segment.
 */
struct tun_batch {
	uint8_t *area;
	size_t cap, used;
	unsigned int n, max;
	tun_batch_fn fn;
	void *ctx;
	tun_packet_fn pfn; /* for tun_batch_each */
	void *pctx;
	struct iovec segs[TUN_BATCH_MAX];
};

static void tun_batch_flush(struct tun_batch *b)
{
	if (b->n)
		b->fn(b->ctx, b->segs, b->n);
	b->n = 0;
	b->used = 0;
}

/* Room for a segment of need (<= b->cap) bytes, after handing over what is gathered if must. */
static uint8_t *tun_batch_room(struct tun_batch *b, size_t need)
{
	if (b->n == b->max || b->used + need > b->cap)
		tun_batch_flush(b);
	return b->area + b->used;
}

static void tun_batch_push(struct tun_batch *b, uint8_t *seg, size_t len)
{
	b->segs[b->n++] = (struct iovec){ .iov_base = seg, .iov_len = len };
	b->used += len;
}

/* The tun_batch_fn of a per-packet caller. */
static void tun_batch_each(void *ctx, const struct iovec *segs, unsigned int n)
{
	struct tun_batch *b = ctx;

	for (unsigned int i = 0; i < n; i++)
		b->pfn(b->pctx, segs[i].iov_base, segs[i].iov_len);
}

static void tun_batch_init_each(struct tun_batch *b, uint8_t *out, size_t outlen, tun_packet_fn fn,
				void *ctx)
{
	*b = (struct tun_batch){
		.area = out, .cap = outlen, .max = 1, .fn = tun_batch_each, .pfn = fn, .pctx = ctx
	};
	b->ctx = b;
}

/* Cut a TSO super-packet (pkt, len) into gso_size segments of at most seg_max bytes into b.
 * false (and nothing handed over) when it is not a TCP packet we can cut. */
static bool tun_tso_cut(const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len,
			size_t seg_max, struct tun_batch *b)
{
	bool v6 = (pkt[0] >> 4) == 6;
	size_t l3 = h->csum_start, thl, hl, mss = h->gso_size, off, n;
	uint32_t seq0, seq;
	uint16_t id0 = 0, v;

	if (!mss || l3 < (v6 ? 40u : 20u) || l3 + 20 > len)
		return false;
	if (v6 ? pkt[6] != IPPROTO_TCP : pkt[9] != IPPROTO_TCP)
		return false;
	thl = (size_t)(pkt[l3 + 12] >> 4) * 4;
	hl = l3 + thl;
	if (thl < 20 || hl >= len || hl + mss > seg_max || hl + mss > b->cap)
		return false;
	memcpy(&seq0, pkt + l3 + 4, 4);
	seq0 = ntohl(seq0);
	if (!v6) {
		memcpy(&id0, pkt + 4, 2);
		id0 = ntohs(id0);
	}
	/* at most 65535 / 1 segments: bounded by the packet */
	for (off = hl, seq = seq0; off < len; off += n, seq += (uint32_t)n) {
		bool first = off == hl, last;
		uint8_t *out;

		n = len - off < mss ? len - off : mss;
		last = off + n == len;
		out = tun_batch_room(b, hl + n);
		memcpy(out, pkt, hl);
		memcpy(out + hl, pkt + off, n);
		if (v6) {
			v = htons((uint16_t)(hl - 40 + n));
			memcpy(out + 4, &v, 2);
		} else {
			uint16_t c = 0;

			v = htons((uint16_t)(hl + n));
			memcpy(out + 2, &v, 2);
			v = htons((uint16_t)(id0 + (off - hl) / mss));
			memcpy(out + 4, &v, 2);
			memcpy(out + 10, &c, 2);
			c = (uint16_t)~csum_fold(csum_add(0, out, l3));
			memcpy(out + 10, &c, 2);
		}
		seq = htonl(seq);
		memcpy(out + l3 + 4, &seq, 4);
		seq = ntohl(seq);
		/* FIN and PSH only on the last segment, CWR only on the first */
		if (!last)
			out[l3 + 13] &= (uint8_t)~0x09;
		if (!first)
			out[l3 + 13] &= (uint8_t)~0x80;
		tun_tcp_csum(out, l3, thl + n, v6);
		tun_batch_push(b, out, hl + n);
	}
	tun_batch_flush(b);
	return true;
}

/* Cut a TSO super-packet (pkt, len) into gso_size segments in out (room for one segment),
 * each handed to fn. false when it is not a TCP packet we can cut. */
bool tun_tso_split(const struct virtio_net_hdr *h, const uint8_t *pkt, size_t len, uint8_t *out,
		   size_t outlen, tun_packet_fn fn, void *ctx)
{
	struct tun_batch b;

	tun_batch_init_each(&b, out, outlen, fn, ctx);
	return tun_tso_cut(h, pkt, len, outlen, &b);
}

/* The body of tun_read_gso and tun_read_gso_batch: b's area is set by this. */
static ssize_t tun_read_into(const struct tun_dev *t, unsigned int q, uint8_t *buf, size_t len,
			     struct tun_batch *b)
{
	struct virtio_net_hdr h;
	struct iovec iov[2];
	size_t plen, room;
	ssize_t n;

	if (!t->vnet_hdr) {
		n = tun_read(t, q, buf, len);
		if (n > 0) {
			tun_batch_push(b, buf, (size_t)n);
			tun_batch_flush(b);
		}
		return n;
	}
	if (len < TUN_GSO_BUF)
		return -EINVAL;
	room = 65535;
	/* a per-packet caller cuts each segment where the last one was */
	b->area = buf + room;
	b->cap = b->max == 1 ? TUN_SEG_MAX : len - room;
	iov[0] = (struct iovec){ .iov_base = &h, .iov_len = sizeof(h) };
	iov[1] = (struct iovec){ .iov_base = buf, .iov_len = room };
	n = readv(t->fds[q], iov, 2);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR ? 0 : -errno;
	if ((size_t)n <= sizeof(h))
		return n; /* a header alone: nothing to send */
	plen = (size_t)n - sizeof(h);
	switch (h.gso_type & ~VIRTIO_NET_HDR_GSO_ECN) {
	case VIRTIO_NET_HDR_GSO_NONE:
		if (h.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM &&
		    !tun_csum_finish(buf, plen, h.csum_start, h.csum_offset))
			break; /* nonsense offsets: drop it */
		tun_batch_push(b, buf, plen);
		tun_batch_flush(b);
		break;
	case VIRTIO_NET_HDR_GSO_TCPV4:
	case VIRTIO_NET_HDR_GSO_TCPV6:
		/* a super-packet that cannot be cut is dropped, as a NIC would */
		if (!tun_tso_cut(&h, buf, plen, TUN_SEG_MAX, b))
			log_debug("%s: dropped an unexpected TSO packet", t->name);
		break;
	default:
		break; /* UDP/USO is not enabled: nothing else should come */
	}
	return n;
}

ssize_t tun_read_gso(const struct tun_dev *t, unsigned int q, uint8_t *buf, size_t len,
		     tun_packet_fn fn, void *ctx)
{
	struct tun_batch b;

	tun_batch_init_each(&b, NULL, 0, fn, ctx);
	return tun_read_into(t, q, buf, len, &b);
}

ssize_t tun_read_gso_batch(const struct tun_dev *t, unsigned int q, uint8_t *buf, size_t len,
			   tun_batch_fn fn, void *ctx)
{
	struct tun_batch b = { .max = t->no_batch ? 1 : TUN_BATCH_MAX, .fn = fn, .ctx = ctx };

	return tun_read_into(t, q, buf, len, &b);
}

/* --- coalescing on the way in --- */

enum tun_tcp_flags {
	TUN_TCP_FIN = 0x01,
	TUN_TCP_SYN = 0x02,
	TUN_TCP_RST = 0x04,
	TUN_TCP_PSH = 0x08,
	TUN_TCP_ACK = 0x10,
};

/* Where the TCP header starts when pkt is a TCP segment we may join, else 0. */
static size_t tun_gro_l3(const uint8_t *pkt, size_t len)
{
	size_t l3;

	if (len < 40)
		return 0;
	if (pkt[0] == 0x45) {
		uint16_t frag, tot;

		memcpy(&frag, pkt + 6, 2);
		memcpy(&tot, pkt + 2, 2);
		/* no fragments, no options, no padding after the packet */
		if (pkt[9] != IPPROTO_TCP || (ntohs(frag) & 0xbfff) || ntohs(tot) != len)
			return 0;
		l3 = 20;
	} else if (pkt[0] >> 4 == 6) {
		uint16_t plen;

		memcpy(&plen, pkt + 4, 2);
		if (pkt[6] != IPPROTO_TCP || (size_t)ntohs(plen) + 40 != len || len < 60)
			return 0;
		l3 = 40;
	} else {
		return 0;
	}
	/* ACK or ACK|PSH: SYN, FIN, RST, URG, ECE and CWR go alone */
	if ((pkt[l3 + 13] & ~TUN_TCP_PSH) != TUN_TCP_ACK)
		return 0;
	if ((size_t)(pkt[l3 + 12] >> 4) * 4 < 20 || l3 + (size_t)(pkt[l3 + 12] >> 4) * 4 >= len)
		return 0; /* a pure ACK carries nothing to join */
	return l3;
}

static uint32_t tun_be32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return ntohl(v);
}

static uint16_t tun_be16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return ntohs(v);
}

bool tun_gro_add(struct tun_gro *g, const uint8_t *pkt, size_t len)
{
	size_t l3 = tun_gro_l3(pkt, len), hl, n;
	const uint8_t *head = g->buf;

	if (!l3)
		return false;
	hl = l3 + (size_t)(pkt[l3 + 12] >> 4) * 4;
	n = len - hl;
	if (!g->len) {
		if (len > sizeof(g->buf))
			return false;
		memcpy(g->buf, pkt, len);
		g->len = len;
		g->l3 = l3;
		g->hl = hl;
		g->mss = n;
		g->segs = 1;
		g->next_seq = tun_be32(pkt + l3 + 4) + (uint32_t)n;
		g->next_id = l3 == 20 ? (uint16_t)(tun_be16(pkt + 4) + 1) : 0;
		g->closed = pkt[l3 + 13] & TUN_TCP_PSH;
		return true;
	}
	if (g->closed || l3 != g->l3 || hl != g->hl || n > g->mss || g->len + n > sizeof(g->buf))
		return false;
	if (l3 == 20) {
		/* version..TOS, flags, TTL, protocol, addresses; the ID must count up */
		if (memcmp(pkt, head, 2) || memcmp(pkt + 6, head + 6, 4) ||
		    memcmp(pkt + 12, head + 12, 8) || tun_be16(pkt + 4) != g->next_id)
			return false;
	} else {
		/* version, class, flow label; next header, hop limit, addresses */
		if (memcmp(pkt, head, 4) || memcmp(pkt + 6, head + 6, 34))
			return false;
	}
	/* ports; ACK number; data offset; window; options (timestamps included) */
	if (memcmp(pkt + l3, head + l3, 4) || memcmp(pkt + l3 + 8, head + l3 + 8, 5) ||
	    memcmp(pkt + l3 + 14, head + l3 + 14, 2) ||
	    memcmp(pkt + l3 + 20, head + l3 + 20, hl - l3 - 20) ||
	    tun_be32(pkt + l3 + 4) != g->next_seq)
		return false;
	memcpy(g->buf + g->len, pkt + hl, n);
	g->len += n;
	g->segs++;
	g->next_seq += (uint32_t)n;
	g->next_id++;
	if (pkt[l3 + 13] & TUN_TCP_PSH) {
		g->buf[l3 + 13] |= TUN_TCP_PSH;
		g->closed = true;
	}
	if (n < g->mss)
		g->closed = true;
	return true;
}

void tun_gro_finish(struct tun_gro *g, struct virtio_net_hdr *h)
{
	bool v6 = g->l3 == 40;
	uint16_t v;
	uint64_t sum = 0;

	memset(h, 0, sizeof(*h));
	if (g->segs < 2) {
		/* as it came: its own checksum, verified by the AEAD's authentication */
		h->flags = VIRTIO_NET_HDR_F_DATA_VALID;
		return;
	}
	if (v6) {
		v = htons((uint16_t)(g->len - 40));
		memcpy(g->buf + 4, &v, 2);
		sum = csum_add(sum, g->buf + 8, 32);
	} else {
		uint16_t c = 0;

		v = htons((uint16_t)g->len);
		memcpy(g->buf + 2, &v, 2);
		memcpy(g->buf + 10, &c, 2);
		c = (uint16_t)~csum_fold(csum_add(0, g->buf, 20));
		memcpy(g->buf + 10, &c, 2);
		sum = csum_add(sum, g->buf + 12, 8);
	}
	/* CHECKSUM_PARTIAL: the pseudo-header's sum, not inverted; the stack trusts it */
	sum += htons(IPPROTO_TCP);
	sum += htons((uint16_t)(g->len - g->l3));
	v = csum_fold(sum);
	memcpy(g->buf + g->l3 + 16, &v, 2);
	h->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h->gso_type = v6 ? VIRTIO_NET_HDR_GSO_TCPV6 : VIRTIO_NET_HDR_GSO_TCPV4;
	h->hdr_len = (uint16_t)g->hl;
	h->gso_size = (uint16_t)g->mss;
	h->csum_start = (uint16_t)g->l3;
	h->csum_offset = 16;
}

int tun_gro_flush(const struct tun_dev *t, unsigned int q, struct tun_gro *g)
{
	struct virtio_net_hdr h;
	struct iovec iov[2];
	ssize_t n;

	if (!g->len)
		return 0;
	tun_gro_finish(g, &h);
	iov[0] = (struct iovec){ .iov_base = &h, .iov_len = sizeof(h) };
	iov[1] = (struct iovec){ .iov_base = g->buf, .iov_len = g->len };
	n = writev(t->fds[q], iov, 2);
	n = n < 0 ? -errno : (size_t)n == g->len + sizeof(h) ? 0 : -EIO;
	g->len = 0;
	return (int)n;
}

int tun_gro_write(const struct tun_dev *t, unsigned int q, struct tun_gro *g, const uint8_t *pkt,
		  size_t len)
{
	int ret;

	if (!t->vnet_hdr)
		return tun_write(t, q, pkt, len);
	if (tun_gro_add(g, pkt, len))
		return 0;
	ret = tun_gro_flush(t, q, g);
	if (tun_gro_add(g, pkt, len))
		return ret;
	return tun_write(t, q, pkt, len) ?: ret;
}

void tun_close(struct tun_dev *t)
{
	for (unsigned int i = 0; i < t->n_queues; ++i) {
		if (t->fds[i] >= 0)
			close(t->fds[i]);
		t->fds[i] = -1;
	}
	t->n_queues = 0;
}
