// SPDX-License-Identifier: GPL-2.0
/*
 * The transmit side: handshake messages (control thread) and transport data (any thread).
 * Data is encrypted where the sending path says (send.h), so the fast path allocates nothing;
 * only packets that must wait for a handshake are copied to the heap (the staged queue).
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "log.h"
#include "multipath.h"
#include "peer.h"
#include "send.h"
#include "timers.h"

/* 64 threads, each one reservation past the limit, still do not wrap the counter round. */
_Static_assert(SEND_NONCES_MAX <= (UINT64_MAX - REJECT_AFTER_MESSAGES) / 64,
	       "nonce reservations could wrap the send counter");

int send_buffer_to_peer(struct wg_path *path, struct wg_peer *peer, const uint8_t *buf, size_t len)
{
	struct wg_endpoint ep;
	int ret;

	peer_endpoint_copy(peer, &ep);
	if (!endpoint_is_set(&ep))
		return -EDESTADDRREQ;
	ret = path->ops.send(path->ctx, &ep, buf, len);
	if (!ret) {
		atomic_fetch_add(&peer->tx_bytes, len);
		atomic_fetch_add_explicit(&peer->tx_packets, 1, memory_order_relaxed);
		/* reset by peer_roam on each authenticated receive: a move event reports it */
		atomic_fetch_add_explicit(&peer->tx_since_rx, 1, memory_order_relaxed);
	}
	return ret;
}

/* Build and send one initiation now; the caller decided that it may. */
static void send_initiation_now(struct wg_peer *peer, uint64_t now)
{
	struct wg_device *dev = peer->dev;
	struct wg_msg_initiation msg;
	struct wg_endpoint ep;
	int ret;

	atomic_store(&peer->last_sent_handshake, now);
	mpath_note_initiation(peer, now);
	log_debug("%s: sending handshake initiation to peer %s", dev->name, peer->name);
	if (!noise_handshake_create_initiation(&msg, &peer->handshake, dev->index,
					       (uint64_t)wg_device_wall_ns(dev)))
		goto out;
	cookie_add_mac_to_packet((uint8_t *)&msg, sizeof(msg), &peer->latest_cookie, now);
	timers_any_authenticated_packet_traversal(peer);
	timers_any_authenticated_packet_sent(peer);
	peer_endpoint_copy(peer, &ep);
	ret = send_buffer_to_peer(dev->path, peer, (const uint8_t *)&msg, sizeof(msg));
	timers_watch_sent(peer, &ep, ret);
	if (ret)
		log_debug("%s: sending handshake initiation to peer %s failed: %s", dev->name,
			  peer->name, strerror(-ret));
	timers_handshake_initiated(peer);
out:
	/* the ephemeral public key and index are not secret, but the encrypted static is ours */
	crypto_wipe(&msg, sizeof(msg));
}

void send_handshake_initiation(struct wg_peer *peer, bool is_retry)
{
	uint64_t now = wg_device_now(peer->dev);

	if (!is_retry)
		atomic_store(&peer->timer_handshake_attempts, 0);
	/* At most one initiation per REKEY_TIMEOUT, however many ask. */
	if (!noise_has_expired(atomic_load(&peer->last_sent_handshake), REKEY_TIMEOUT, now) ||
	    atomic_load(&peer->is_dead))
		return;
	/* a new initiation: it may be resent once on a cookie reply */
	peer->cookie_resent = false;
	send_initiation_now(peer, now);
}

/*
 * An xdpwg extension to the initiator, not to the protocol. A cookie reply tells us that the
 * responder is under load and dropped our initiation unanswered; the kernel and wireguard-go
 * store the cookie and wait for the retransmit timer, REKEY_TIMEOUT (5 s) later, to send the
 * next initiation with the mac2. We send that next initiation now instead: same message, same
 * retransmit semantics, only earlier, so a stock responder sees nothing it would not see from a
 * stock initiator five seconds on. Once per initiation: a second cookie reply (our address
 * changed again, or the responder's secret rotated) waits for the timer, so no exchange of
 * cookie replies and initiations can run in a loop, and a forged cookie reply buys an attacker
 * one extra initiation per REKEY_TIMEOUT at most.
 */
void send_handshake_initiation_cookie_retry(struct wg_peer *peer)
{
	if (peer->cookie_resent || atomic_load(&peer->is_dead))
		return;
	peer->cookie_resent = true;
	log_debug("%s: resending handshake initiation to peer %s with its cookie", peer->dev->name,
		  peer->name);
	send_initiation_now(peer, wg_device_now(peer->dev));
}

void send_handshake_response(struct wg_peer *peer)
{
	struct wg_device *dev = peer->dev;
	struct wg_msg_response msg;
	uint64_t now = wg_device_now(dev);

	atomic_store(&peer->last_sent_handshake, now);
	log_debug("%s: sending handshake response to peer %s", dev->name, peer->name);
	if (!noise_handshake_create_response(&msg, &peer->handshake, dev->index))
		goto out;
	cookie_add_mac_to_packet((uint8_t *)&msg, sizeof(msg), &peer->latest_cookie, now);
	if (!noise_handshake_begin_session(&peer->handshake, &peer->keypairs, dev->index, now))
		goto out;
	timers_session_derived(peer);
	timers_any_authenticated_packet_traversal(peer);
	timers_any_authenticated_packet_sent(peer);
	send_buffer_to_peer(peer->dev->path, peer, (const uint8_t *)&msg, sizeof(msg));
out:
	crypto_wipe(&msg, sizeof(msg));
}

void send_handshake_cookie(struct wg_device *dev, const uint8_t *msg, size_t len,
			   uint32_t sender_index, const struct wg_endpoint *src)
{
	struct wg_msg_cookie reply;

	cookie_message_create(&reply, msg, len, sender_index, dev->checker, src,
			      wg_device_now(dev));
	dev->path->ops.send(dev->path->ctx, src, (const uint8_t *)&reply, sizeof(reply));
}

/* Pad to a multiple of 16, but never past the MTU (the kernel's calculate_skb_padding). */
static size_t send_padding(size_t len, unsigned int mtu)
{
	size_t last_unit = len, padded;

	if (!mtu)
		return (WG_MSG_PADDING - len % WG_MSG_PADDING) % WG_MSG_PADDING;
	if (last_unit > mtu)
		last_unit %= mtu;
	padded = (last_unit + WG_MSG_PADDING - 1) & ~(size_t)(WG_MSG_PADDING - 1);
	if (padded > mtu)
		padded = mtu;
	return padded - last_unit;
}

/* Build the data message carrying pkt under kp and nonce, encrypted where it will leave from:
 * its start in *msg, its length returned. */
static size_t send_build(struct wg_path *path, struct wg_peer *peer, struct noise_keypair *kp,
			 uint64_t nonce, const uint8_t *pkt, size_t len, uint8_t **msg)
{
	size_t pad = send_padding(len, atomic_load(&peer->dev->mtu));
	size_t total = WG_MSG_DATA_HEADER_LEN + len + pad + WG_AUTHTAG_LEN;
	uint8_t *out = NULL, *body;
	struct wg_msg_data hdr;

	/* Straight into the frame that will carry it when the back-end lends one (an AF_XDP
	 * worker's UMEM): one copy of the packet fewer. The scratch buffer otherwise. */
	/* A redundant peer's message goes out more than once: not into a frame the first send
	 * consumes. */
	if (path->ops.tx_room &&
	    atomic_load_explicit(&peer->mp_mode, memory_order_relaxed) != PEER_MP_REDUNDANT)
		out = path->ops.tx_room(path->ctx, total);
	if (!out)
		out = path->scratch;
	body = out + WG_MSG_DATA_HEADER_LEN;
	hdr.header.type = htole32(WG_MSG_DATA);
	hdr.key_idx = kp->remote_index;
	hdr.counter = htole64(nonce);
	memcpy(out, &hdr, WG_MSG_DATA_HEADER_LEN);
	if (len)
		memcpy(body, pkt, len);
	memset(body + len, 0, pad);
	/* in place: the plaintext never outlives this call */
	crypto_ctx_seal(path->crypto, body, body, len + pad, NULL, 0, nonce, kp->sending.key);
	*msg = out;
	return total;
}

static int send_encrypt_one(struct wg_path *path, struct wg_peer *peer, struct noise_keypair *kp,
			    uint64_t nonce, const uint8_t *pkt, size_t len)
{
	struct wg_endpoint ep;
	uint8_t *out;
	size_t total = send_build(path, peer, kp, nonce, pkt, len, &out);
	int ret = -EDESTADDRREQ;

	/* send_buffer_to_peer's work, but as a data message: the back-end may batch it */
	peer_endpoint_copy(peer, &ep);
	if (endpoint_is_set(&ep))
		ret = path_send_data(path, &ep, out, total);
	if (!ret && len)
		mpath_send_copies(path, peer, out, total);
	if (!ret) {
		atomic_fetch_add(&peer->tx_bytes, total);
		atomic_fetch_add_explicit(&peer->tx_packets, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&peer->tx_since_rx, 1, memory_order_relaxed);
	}
	if (ret)
		log_debug("%s: sending to peer %s failed: %s", peer->dev->name, peer->name,
			  strerror(-ret));
	return ret;
}

/* The initiator rekeys on send after REKEY_AFTER_TIME; either side after REKEY_AFTER_MESSAGES.
 * kp is the keypair just used (the current one a moment ago: no need to look again). */
static void send_keep_key_fresh(struct wg_peer *peer, struct noise_keypair *kp)
{
	bool send;

	send = atomic_load(&kp->sending.is_valid) &&
	       (atomic_load(&kp->sending_counter) > REKEY_AFTER_MESSAGES ||
		(kp->i_am_the_initiator &&
		 noise_has_expired(kp->sending.birthdate, REKEY_AFTER_TIME,
				   wg_device_now(peer->dev))));
	if (send)
		peer_request_handshake(peer);
}

/* A keypair we may send under, or NULL (and then it has been marked invalid if it expired). */
static struct noise_keypair *send_usable_keypair(struct wg_peer *peer)
{
	struct noise_keypair *kp = noise_keypairs_current(&peer->keypairs);

	if (!kp)
		return NULL;
	if (!atomic_load(&kp->sending.is_valid))
		goto invalid;
	if (noise_has_expired(kp->sending.birthdate, REJECT_AFTER_TIME, wg_device_now(peer->dev))) {
		atomic_store(&kp->sending.is_valid, false);
		goto invalid;
	}
	return kp;
invalid:
	noise_keypair_put(kp, false);
	return NULL;
}

bool send_session_valid(struct wg_peer *peer)
{
	struct noise_keypair *kp = noise_keypairs_current(&peer->keypairs);
	bool valid = kp && atomic_load(&kp->sending.is_valid);

	noise_keypair_put(kp, false);
	return valid;
}

bool send_session_usable(struct wg_peer *peer)
{
	struct noise_keypair *kp = send_usable_keypair(peer);

	noise_keypair_put(kp, false);
	return kp != NULL;
}

/*
 * Reserve up to want nonces at once: the first in *nonce, how many may be used returned, 0 once
 * REJECT_AFTER_MESSAGES is reached. No nonce >= the limit is ever used: a reservation reaching
 * past it uses what lies below and retires the keypair, as the packet that took the limit would
 * one at a time; one ending on it exactly leaves that to the next. Retired, the keypair is not
 * used again, so the counter runs past the limit by at most one reservation per thread that
 * was sending at that moment: far from wrapping round to nonces already used.
 */
static size_t send_take_nonces(struct noise_keypair *kp, size_t want, uint64_t *nonce)
{
	uint64_t first = atomic_fetch_add(&kp->sending_counter, want);

	*nonce = first;
	if (first < REJECT_AFTER_MESSAGES && want <= REJECT_AFTER_MESSAGES - first)
		return want;
	atomic_store(&kp->sending.is_valid, false);
	return first < REJECT_AFTER_MESSAGES ? (size_t)(REJECT_AFTER_MESSAGES - first) : 0;
}

/* Take the next nonce; false (and the keypair retired) once REJECT_AFTER_MESSAGES is reached. */
static bool send_take_nonce(struct noise_keypair *kp, uint64_t *nonce)
{
	return send_take_nonces(kp, 1, nonce) == 1;
}

bool send_packet_fast(struct wg_path *path, struct wg_peer *peer, const uint8_t *pkt, size_t len)
{
	const struct iovec one = { .iov_base = (void *)pkt, .iov_len = len };
	struct wg_endpoint ep;

	peer_endpoint_copy(peer, &ep);
	return send_packets_fast(path, peer, &ep, &one, 1) == 1;
}

size_t send_packets_fast(struct wg_path *path, struct wg_peer *peer, const struct wg_endpoint *ep,
			 const struct iovec *pkts, size_t n)
{
	struct wg_device *dev = peer->dev;
	struct noise_keypair *kp;
	size_t sent = 0, ok = 0, bytes = 0;
	bool data_sent = false;

	/* Staged packets go first, so these must queue behind them. */
	if (atomic_load(&peer->staged_count))
		return 0;
	kp = send_usable_keypair(peer);
	if (!kp)
		return 0;
	while (sent < n) {
		size_t want = n - sent < SEND_NONCES_MAX ? n - sent : SEND_NONCES_MAX, got;
		uint64_t nonce;

		got = send_take_nonces(kp, want, &nonce);
		if (!got)
			break;
		if (!sent) {
			timers_any_authenticated_packet_traversal(peer);
			timers_any_authenticated_packet_sent(peer);
		}
		for (size_t i = 0; i < got; i++, sent++) {
			size_t len = pkts[sent].iov_len, total;
			uint8_t *out;
			int ret;

			total = send_build(path, peer, kp, nonce + i, pkts[sent].iov_base, len,
					   &out);
			/* as send_buffer_to_peer: nowhere to send is a failed send */
			ret = endpoint_is_set(ep) ? path_send_data(path, ep, out, total)
						  : -EDESTADDRREQ;
			if (ret) {
				log_debug("%s: sending to peer %s failed: %s", dev->name,
					  peer->name, strerror(-ret));
				continue;
			}
			if (len)
				mpath_send_copies(path, peer, out, total);
			ok++;
			bytes += total;
			data_sent |= len != 0;
		}
		if (got < want)
			break; /* the keypair is retired: the rest waits for a new one */
	}
	/* send_buffer_to_peer's counters, once for the batch */
	if (ok) {
		atomic_fetch_add(&peer->tx_bytes, bytes);
		atomic_fetch_add_explicit(&peer->tx_packets, ok, memory_order_relaxed);
		atomic_fetch_add_explicit(&peer->tx_since_rx, ok, memory_order_relaxed);
	}
	if (data_sent) {
		timers_data_sent(peer);
		mpath_note_data(peer);
	}
	if (sent)
		send_keep_key_fresh(peer, kp);
	noise_keypair_put(kp, false);
	return sent;
}

void send_stage_packet(struct wg_peer *peer, const uint8_t *pkt, size_t len)
{
	struct peer_staged_packet *p = malloc(sizeof(*p) + len);
	unsigned int slot;

	if (!p)
		return;
	p->len = len;
	if (len)
		memcpy(p->data, pkt, len);
	pthread_mutex_lock(&peer->staged_lock);
	if (!peer->staged) {
		peer->staged = calloc(WG_MAX_STAGED_PACKETS, sizeof(*peer->staged));
		if (!peer->staged) {
			pthread_mutex_unlock(&peer->staged_lock);
			crypto_wipe(p->data, p->len);
			free(p);
			return;
		}
		peer->staged_head = 0;
	}
	if (peer->staged_len == WG_MAX_STAGED_PACKETS) {
		/* Full: the oldest goes, as in the kernel. */
		slot = peer->staged_head;
		crypto_wipe(peer->staged[slot]->data, peer->staged[slot]->len);
		free(peer->staged[slot]);
		peer->staged_head = (peer->staged_head + 1) % WG_MAX_STAGED_PACKETS;
		peer->staged_len--;
	}
	slot = (peer->staged_head + peer->staged_len) % WG_MAX_STAGED_PACKETS;
	peer->staged[slot] = p;
	peer->staged_len++;
	atomic_store(&peer->staged_count, peer->staged_len);
	pthread_mutex_unlock(&peer->staged_lock);
}

void send_staged_packets(struct wg_path *path, struct wg_peer *peer)
{
	struct noise_keypair *kp = NULL;
	bool data_sent = false, sent_any = false;
	uint64_t nonce;

	pthread_mutex_lock(&peer->staged_lock);
	if (!peer->staged_len) {
		pthread_mutex_unlock(&peer->staged_lock);
		return;
	}
	kp = send_usable_keypair(peer);
	if (!kp)
		goto nokey;
	while (peer->staged_len) {
		unsigned int slot = peer->staged_head;
		struct peer_staged_packet *p = peer->staged[slot];

		if (!send_take_nonce(kp, &nonce))
			goto nokey;
		if (!sent_any) {
			timers_any_authenticated_packet_traversal(peer);
			timers_any_authenticated_packet_sent(peer);
			sent_any = true;
		}
		if (!send_encrypt_one(path, peer, kp, nonce, p->data, p->len) && p->len)
			data_sent = true;
		crypto_wipe(p->data, p->len);
		free(p);
		peer->staged[slot] = NULL;
		peer->staged_head = (slot + 1) % WG_MAX_STAGED_PACKETS;
		peer->staged_len--;
	}
	free(peer->staged);
	peer->staged = NULL;
	peer->staged_head = 0;
	atomic_store(&peer->staged_count, 0);
	pthread_mutex_unlock(&peer->staged_lock);
	if (data_sent)
		timers_data_sent(peer);
	send_keep_key_fresh(peer, kp);
	noise_keypair_put(kp, false);
	return;

nokey:
	/* What is left stays staged until a handshake gives us a keypair. */
	atomic_store(&peer->staged_count, peer->staged_len);
	pthread_mutex_unlock(&peer->staged_lock);
	noise_keypair_put(kp, false);
	if (data_sent)
		timers_data_sent(peer);
	peer_request_handshake(peer);
}

void send_keepalive(struct wg_path *path, struct wg_peer *peer)
{
	/* Staged data, when there is any, is keepalive enough. */
	if (!atomic_load(&peer->staged_count)) {
		if (send_packet_fast(path, peer, NULL, 0)) {
			log_debug("%s: sending keepalive packet to peer %s", peer->dev->name,
				  peer->name);
			return;
		}
		send_stage_packet(peer, NULL, 0);
	}
	send_staged_packets(path, peer);
}
