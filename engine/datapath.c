// SPDX-License-Identifier: GPL-2.0
/*
 * The engine's data-path entry points, called by the back-ends' threads through their paths:
 * wg_device_rx (size and type, mac1 of handshake messages and then the bounded queue to the
 * control thread, transport data to receive.c) and wg_device_tx/_batch (the route lookup per run
 * of packets to one destination, then send.c, or the staged queue behind a handshake).
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "allowedips.h"
#include "crypto.h"
#include "device.h"
#include "log.h"
#include "peer.h"
#include "ratelimiter.h"
#include "receive.h"
#include "send.h"
#include "timers.h"

/* Into the priority lane when prio and it has room, else into the queue. */
static void device_queue_handshake(struct wg_device *dev, const uint8_t *buf, size_t len,
				   const struct wg_endpoint *src, bool prio)
{
	struct handshake_queue_entry *e;
	unsigned int n;

	pthread_mutex_lock(&dev->queue_lock);
	n = atomic_load(&dev->prio_len);
	if (prio && n < WG_MAX_QUEUED_PRIORITY_HANDSHAKES) {
		/* The source proved its address; the control thread still holds it to its rate
		 * (cookie_validate_packet), so the lane cannot buy more DH than the kernel's. */
		e = &dev->prio_queue[(dev->prio_head + n) % WG_MAX_QUEUED_PRIORITY_HANDSHAKES];
		atomic_store(&dev->prio_len, n + 1);
		goto fill;
	}
	pthread_mutex_unlock(&dev->queue_lock);
	/* Past half full, every source pays its rate before it may queue more. */
	if (atomic_load(&dev->queue_len) > WG_MAX_QUEUED_INCOMING_HANDSHAKES / 2 &&
	    !ratelimiter_allow(dev->ratelimiter, &src->addr.sa, wg_device_now(dev))) {
		wg_device_count_drop(dev, WG_DROP_RATELIMITED);
		return;
	}
	pthread_mutex_lock(&dev->queue_lock);
	n = atomic_load(&dev->queue_len);
	if (n >= WG_MAX_QUEUED_INCOMING_HANDSHAKES) {
		pthread_mutex_unlock(&dev->queue_lock);
		wg_device_count_drop(dev, WG_DROP_QUEUE_FULL);
		return;
	}
	e = &dev->queue[(dev->queue_head + n) % WG_MAX_QUEUED_INCOMING_HANDSHAKES];
	atomic_store(&dev->queue_len, n + 1);
fill:
	memcpy(e->buf, buf, len);
	e->len = (uint16_t)len;
	e->src = *src;
	pthread_mutex_unlock(&dev->queue_lock);
	wg_device_signal(dev);
}

bool wg_device_rx(struct wg_path *p, uint8_t *buf, size_t len, const struct wg_endpoint *src)
{
	struct wg_device *dev = p->dev;
	uint32_t type;
	bool mac_ok;

	if (len < sizeof(struct wg_msg_header)) {
		wg_device_count_drop(dev, WG_DROP_BAD_SIZE);
		return false;
	}
	/* One byte of type and three reserved zero bytes: read as one LE word, so that anything
	 * in the reserved bytes makes an unknown type. */
	memcpy(&type, buf, sizeof(type));
	type = le32toh(type);
	switch (type) {
	case WG_MSG_DATA:
		if (len < WG_MSG_DATA_MIN_LEN) {
			wg_device_count_drop(dev, WG_DROP_BAD_SIZE);
			return false;
		}
		return receive_data(p, buf, len, src);
	case WG_MSG_HANDSHAKE_INITIATION:
		if (len != WG_MSG_INITIATION_LEN)
			goto bad_size;
		break;
	case WG_MSG_HANDSHAKE_RESPONSE:
		if (len != WG_MSG_RESPONSE_LEN)
			goto bad_size;
		break;
	case WG_MSG_HANDSHAKE_COOKIE:
		if (len != WG_MSG_COOKIE_LEN)
			goto bad_size;
		device_queue_handshake(dev, buf, len, src, false);
		return false;
	default:
		wg_device_count_drop(dev, WG_DROP_BAD_TYPE);
		return false;
	}
	/* mac1 is one keyed hash: checking it here keeps junk out of the queue, so junk alone
	 * cannot put us under load. */
	pthread_rwlock_rdlock(&dev->lock);
	mac_ok =
		dev->identity->has_identity && cookie_check_mac1(dev->checker, p->crypto, buf, len);
	pthread_rwlock_unlock(&dev->lock);
	if (!mac_ok) {
		wg_device_count_drop(dev, WG_DROP_BAD_MAC1);
		return false;
	}
	/* A valid mac2 means the sender received our cookie at this address: a flood from
	 * spoofed sources cannot make one, so such a message never waits behind a flood. */
	device_queue_handshake(
		dev, buf, len, src,
		cookie_check_mac2(dev->checker, p->crypto, buf, len, src, wg_device_now(dev)));
	return false;
bad_size:
	wg_device_count_drop(dev, WG_DROP_BAD_SIZE);
	return false;
}

/* Where pkt's destination address is (and its family), or NULL when it is no IP packet. */
static const uint8_t *device_tx_dst(const uint8_t *pkt, size_t len, int *family)
{
	if (len < 1 || len > WG_MAX_PACKET)
		return NULL;
	if (pkt[0] >> 4 == 4 && len >= 20) {
		*family = AF_INET;
		return pkt + 16;
	}
	if (pkt[0] >> 4 == 6 && len >= 40) {
		*family = AF_INET6;
		return pkt + 24;
	}
	return NULL;
}

/* The peer whose allowed IPs hold dst, with a reference; NULL (counted n times) when none. */
static struct wg_peer *device_tx_peer(struct wg_device *dev, int family, const uint8_t *dst,
				      size_t n)
{
	struct wg_peer *peer;

	pthread_rwlock_rdlock(&dev->lock);
	peer = allowedips_lookup(dev->allowedips, family, dst);
	if (peer)
		peer_get(peer);
	pthread_rwlock_unlock(&dev->lock);
	for (size_t i = 0; !peer && i < n; i++)
		wg_device_count_drop(dev, WG_DROP_NO_PEER);
	return peer;
}

/* n packets to the same destination (family, dst): one lookup, endpoint copy and nonce
 * reservation for all of them. */
static void device_tx_run(struct wg_path *path, const struct iovec *pkts, size_t n, int family,
			  const uint8_t *dst)
{
	struct wg_device *dev = path->dev;
	struct wg_peer *peer = device_tx_peer(dev, family, dst, n);
	struct wg_endpoint ep;
	size_t sent;

	if (!peer)
		return;
	peer_endpoint_copy(peer, &ep);
	if (!endpoint_is_set(&ep)) {
		for (size_t i = 0; i < n; i++)
			wg_device_count_drop(dev, WG_DROP_NO_ENDPOINT);
		goto out;
	}
	/* what could not be sent now (no session, the nonces ran out) waits for a handshake,
	 * in order, as wg_device_tx would have staged it packet by packet */
	sent = send_packets_fast(path, peer, &ep, pkts, n);
	if (sent < n) {
		for (size_t i = sent; i < n; i++)
			send_stage_packet(peer, pkts[i].iov_base, pkts[i].iov_len);
		send_staged_packets(path, peer);
	}
out:
	peer_put(peer);
}

void wg_device_tx_batch(struct wg_path *p, const struct iovec *pkts, size_t n)
{
	struct wg_device *dev = p->dev;
	size_t i = 0, run;

	while (i < n) {
		int family = 0, f;
		const uint8_t *dst = device_tx_dst(pkts[i].iov_base, pkts[i].iov_len, &family);
		size_t alen = family == AF_INET ? 4 : 16;

		if (!dst) {
			wg_device_count_drop(dev, WG_DROP_BAD_INNER);
			i++;
			continue;
		}
		/* the packets from i on with the same destination: all of a TSO super-packet */
		for (run = 1; i + run < n; run++) {
			const uint8_t *d =
				device_tx_dst(pkts[i + run].iov_base, pkts[i + run].iov_len, &f);

			if (!d || f != family || memcmp(d, dst, alen))
				break;
		}
		device_tx_run(p, pkts + i, run, family, dst);
		i += run;
	}
	wg_path_batch_end(p);
}

void wg_device_tx(struct wg_path *p, const uint8_t *pkt, size_t len)
{
	const struct iovec one = { .iov_base = (void *)pkt, .iov_len = len };

	wg_device_tx_batch(p, &one, 1);
}
