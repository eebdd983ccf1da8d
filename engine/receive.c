// SPDX-License-Identifier: GPL-2.0
/*
 * The receive side. Transport data is handled entirely on the calling worker: index lookup,
 * decryption in place, replay check, then (and only then) roaming, timers, the inner packet's
 * sanity and the reverse allowed-IPs check. Handshake messages reach receive_handshake on the
 * control thread, through the device's queue.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <stddef.h>
#include <string.h>

#include "allowedips.h"
#include "crypto.h"
#include "log.h"
#include "multipath.h"
#include "peer.h"
#include "send.h"
#include "timers.h"
#include "ratelimiter.h"
#include "receive.h"

/* The initiator refreshes a session it is only receiving on before it can expire under it. */
static void receive_keep_key_fresh(struct wg_peer *peer)
{
	struct noise_keypair *kp;
	bool send;

	if (atomic_load(&peer->sent_lastminute_handshake))
		return;
	kp = noise_keypairs_current(&peer->keypairs);
	send = kp && atomic_load(&kp->sending.is_valid) && kp->i_am_the_initiator &&
	       noise_has_expired(kp->sending.birthdate,
				 REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT,
				 wg_device_now(peer->dev));
	noise_keypair_put(kp, false);
	if (send) {
		atomic_store(&peer->sent_lastminute_handshake, true);
		peer_request_handshake(peer);
	}
}

/* The IP header's own length, or 0 when it is no IP packet that fits in len. *family and
 * *src point into pkt. */
static size_t receive_inner_len(const uint8_t *pkt, size_t len, int *family, const uint8_t **src)
{
	size_t ip_len;

	if (len < 1)
		return 0;
	switch (pkt[0] >> 4) {
	case 4: {
		struct iphdr h;

		if (len < sizeof(h))
			return 0;
		memcpy(&h, pkt, sizeof(h));
		ip_len = ntohs(h.tot_len);
		if (ip_len < sizeof(h) || h.ihl < 5)
			return 0;
		*family = AF_INET;
		*src = pkt + offsetof(struct iphdr, saddr);
		break;
	}
	case 6: {
		struct ip6_hdr h;

		if (len < sizeof(h))
			return 0;
		memcpy(&h, pkt, sizeof(h));
		ip_len = ntohs(h.ip6_plen) + sizeof(h);
		*family = AF_INET6;
		*src = pkt + offsetof(struct ip6_hdr, ip6_src);
		break;
	}
	default:
		return 0;
	}
	/* The padding may add, never remove: a header claiming more than arrived is lying. */
	return ip_len <= len ? ip_len : 0;
}

static void receive_data_done(struct wg_path *path, struct wg_peer *peer, struct noise_keypair *kp,
			      uint8_t *pkt, size_t plain_len, size_t msg_len,
			      const struct wg_endpoint *src)
{
	struct wg_device *dev = path->dev;
	const uint8_t *inner_src = NULL;
	struct wg_peer_move move;
	struct wg_peer *routed;
	int family = AF_UNSPEC;
	size_t ip_len;
	bool moved;

	/* Authenticated and fresh: the only kind of packet allowed to move the endpoint. */
	moved = peer_roam_deferred(path, peer, src, plain_len ? MPATH_RX_DATA : MPATH_RX_KEEPALIVE,
				   &move);
	if (noise_received_with_keypair(&peer->keypairs, kp)) {
		/* The responder's key confirmation: the session is now usable for sending. */
		timers_handshake_complete(peer);
		send_staged_packets(path, peer);
	}
	/* under the keypair just confirmed, if it had to be */
	if (moved) {
		move.xdp_ns = path->rx_xdp_ns;
		move.picked_ns = path->rx_picked_ns;
		peer_roam_ack(path, peer, &move);
	}
	receive_keep_key_fresh(peer);
	timers_any_authenticated_packet_received(peer);
	timers_any_authenticated_packet_traversal(peer);

	if (!plain_len) {
		atomic_fetch_add(&peer->rx_bytes, msg_len);
		log_debug("%s: receiving keepalive packet from peer %s", dev->name, peer->name);
		/* a multipath peer's probe: answered on its path (a move has its own answer) */
		if (!moved)
			mpath_echo(path, peer, src);
		return;
	}
	timers_data_received(peer);

	ip_len = receive_inner_len(pkt, plain_len, &family, &inner_src);
	if (!ip_len) {
		wg_device_count_drop(dev, WG_DROP_BAD_INNER);
		log_debug("%s: packet from peer %s is not a valid IP packet", dev->name,
			  peer->name);
		return;
	}
	pthread_rwlock_rdlock(&dev->lock);
	routed = allowedips_lookup(dev->allowedips, family, inner_src);
	pthread_rwlock_unlock(&dev->lock);
	if (routed != peer) {
		wg_device_count_drop(dev, WG_DROP_ALLOWEDIPS);
		log_debug("%s: packet has unallowed src IP from peer %s", dev->name, peer->name);
		return;
	}
	if (!path->ops.deliver(path->ctx, pkt, ip_len))
		atomic_fetch_add(&peer->rx_bytes, msg_len);
}

bool receive_data(struct wg_path *path, uint8_t *buf, size_t len, const struct wg_endpoint *src)
{
	struct wg_device *dev = path->dev;
	struct wg_msg_data *hdr = (struct wg_msg_data *)buf;
	uint8_t *body = buf + WG_MSG_DATA_HEADER_LEN;
	size_t body_len = len - WG_MSG_DATA_HEADER_LEN;
	struct noise_keypair *kp;
	uint64_t counter;
	bool fresh, authenticated = false;

	kp = index_table_lookup_keypair(dev->index, le32toh(hdr->key_idx));
	if (!kp) {
		wg_device_count_drop(dev, WG_DROP_UNKNOWN_INDEX);
		return false;
	}
	counter = le64toh(hdr->counter);
	if (!atomic_load(&kp->receiving.is_valid) ||
	    noise_has_expired(kp->receiving.birthdate, REJECT_AFTER_TIME, wg_device_now(dev))) {
		atomic_store(&kp->receiving.is_valid, false);
		wg_device_count_drop(dev, WG_DROP_KEY_EXPIRED);
		goto out;
	}
	/* Not authenticated yet: refuse it, but let it change nothing (anyone can write a big
	 * counter); the replay window retires the keypair once a real one gets that far. */
	if (counter >= REJECT_AFTER_MESSAGES) {
		wg_device_count_drop(dev, WG_DROP_KEY_EXPIRED);
		goto out;
	}
	if (!crypto_ctx_open(path->crypto, body, body, body_len, NULL, 0, counter,
			     kp->receiving.key)) {
		wg_device_count_drop(dev, WG_DROP_DECRYPT);
		goto out;
	}
	/* Only after authentication: an attacker must not be able to advance the window. */
	pthread_spin_lock(&kp->replay_lock);
	fresh = replay_check(&kp->replay, counter);
	pthread_spin_unlock(&kp->replay_lock);
	if (!fresh) {
		/* a redundant peer's second copy of a packet is no attack: counted apart */
		if (mpath_count_dup(kp->entry.peer, counter, kp->replay.counter)) {
			wg_device_count_drop(dev, WG_DROP_DUPLICATE);
			goto out;
		}
		wg_device_count_drop(dev, WG_DROP_REPLAY);
		log_debug("%s: packet has invalid nonce %llu", dev->name,
			  (unsigned long long)counter);
		goto out;
	}
	authenticated = true;
	receive_data_done(path, kp->entry.peer, kp, body, body_len - WG_AUTHTAG_LEN, len, src);
out:
	noise_keypair_put(kp, false);
	return authenticated;
}

static bool receive_under_load(struct wg_device *dev, uint64_t now)
{
	unsigned int depth = atomic_load(&dev->queue_len);
	bool under_load =
		atomic_load(&dev->forced_under_load) || depth >= WG_UNDER_LOAD_QUEUE_DEPTH;
	uint64_t last;

	if (under_load) {
		atomic_store(&dev->last_under_load, now ? now : 1);
		/* One line per episode, not per message: wg_device_tick reports its end. */
		if (!dev->load_reported) {
			dev->load_reported = true;
			dev->load_max_depth = depth;
			dev->load_cookies_at_start = atomic_load(&dev->drops[WG_DROP_COOKIE_SENT]);
			log_info("%s: under load (%u handshake messages queued): initiations "
				 "without "
				 "a valid mac2 get a cookie reply",
				 dev->name, depth);
		}
		if (depth > dev->load_max_depth)
			dev->load_max_depth = depth;
		return true;
	}
	/* Stay cautious for a second after the queue drains, or an attacker could toggle us. */
	last = atomic_load(&dev->last_under_load);
	return last && !noise_has_expired(last, 1, now);
}

void receive_load_tick(struct wg_device *dev)
{
	if (!dev->load_reported || wg_device_under_load(dev))
		return;
	dev->load_reported = false;
	log_info("%s: no longer under load (deepest queue %u, %llu cookie replies sent)", dev->name,
		 dev->load_max_depth,
		 (unsigned long long)(atomic_load(&dev->drops[WG_DROP_COOKIE_SENT]) -
				      dev->load_cookies_at_start));
}

static void receive_cookie(struct wg_device *dev, const struct wg_msg_cookie *msg,
			   const struct wg_endpoint *src, uint64_t now)
{
	struct index_entry *entry = NULL;
	struct wg_peer *peer;
	bool asked, in_flight;

	peer = index_table_lookup_peer(dev->index, le32toh(msg->receiver_index),
				       INDEX_TYPE_HANDSHAKE | INDEX_TYPE_KEYPAIR, &entry);
	if (!peer) {
		wg_device_count_drop(dev, WG_DROP_UNKNOWN_INDEX);
		return;
	}
	/* An answer to the initiation we are waiting on (not to a response of ours). */
	in_flight = entry == &peer->handshake.entry &&
		    peer->handshake.state == HANDSHAKE_CREATED_INITIATION;
	asked = peer->latest_cookie.have_sent_mac1;
	/* Never roams: a cookie reply proves nothing about who sent it. */
	if (!cookie_message_consume(msg, &peer->latest_cookie, now)) {
		wg_device_count_drop(dev, WG_DROP_HANDSHAKE_INVALID);
		log_debug("%s: could not decrypt invalid cookie response", dev->name);
		if (in_flight && asked)
			timers_watch_bad_reply(peer, src);
	} else {
		log_debug("%s: receiving cookie response for peer %s", dev->name, peer->name);
		if (in_flight) {
			timers_watch_cookie(peer, src);
			send_handshake_initiation_cookie_retry(peer);
		}
	}
	peer_put(peer);
}

/* An initiation that decrypted to a static key we have no peer for: one log line per
 * RECEIVE_UNKNOWN_KEY_LOG_INTERVAL, with how many such arrived since the last one. Forged
 * initiations never get here (their static key does not decrypt). */
enum receive_diag_constants {
	RECEIVE_UNKNOWN_KEY_LOG_INTERVAL = 10,
};

static void receive_log_unknown_key(struct wg_device *dev, const uint8_t pub[WG_KEY_LEN],
				    const struct wg_endpoint *src, uint64_t now)
{
	char ep[ENDPOINT_STRLEN], b64[CRYPTO_KEY_BASE64_LEN + 1];

	dev->unknown_key_seen++;
	if (dev->unknown_key_logged &&
	    !noise_has_expired(dev->unknown_key_logged, RECEIVE_UNKNOWN_KEY_LOG_INTERVAL, now))
		return;
	crypto_key_to_base64(b64, pub);
	/* the count includes this one: seen since the last line, from any source */
	log_info("%s: initiation from %s for an unknown public key %s: add it as a peer, "
		 "or fix the key on the client (%llu such since the last line)",
		 dev->name, endpoint_format(src, ep), b64,
		 (unsigned long long)dev->unknown_key_seen);
	dev->unknown_key_logged = now ? now : 1;
	dev->unknown_key_seen = 0;
}

void receive_handshake(struct wg_device *dev, struct handshake_queue_entry *e)
{
	uint32_t type = le32toh(((const struct wg_msg_header *)e->buf)->type);
	uint64_t now = wg_device_now(dev);
	enum cookie_mac_state mac_state;
	struct wg_peer *peer = NULL;
	bool under_load;
	int why;

	if (type == WG_MSG_HANDSHAKE_COOKIE) {
		receive_cookie(dev, (const struct wg_msg_cookie *)e->buf, &e->src, now);
		return;
	}

	under_load = receive_under_load(dev, now);
	mac_state = cookie_validate_packet(dev->checker, e->buf, e->len, &e->src, under_load,
					   dev->ratelimiter, now);
	if ((under_load && mac_state == COOKIE_VALID_MAC_WITH_COOKIE) ||
	    (!under_load && mac_state == COOKIE_VALID_MAC_BUT_NO_COOKIE)) {
		/* go on */
	} else if (under_load && mac_state == COOKIE_VALID_MAC_BUT_NO_COOKIE) {
		/* Prove your address first: a cookie costs us no DH. Both message types carry
		 * the sender index at the same offset. */
		uint32_t sender_index;

		memcpy(&sender_index, e->buf + sizeof(struct wg_msg_header), sizeof(sender_index));
		send_handshake_cookie(dev, e->buf, e->len, sender_index, &e->src);
		wg_device_count_drop(dev, WG_DROP_COOKIE_SENT);
		return;
	} else if (mac_state == COOKIE_VALID_MAC_WITH_COOKIE_BUT_RATELIMITED) {
		wg_device_count_drop(dev, WG_DROP_RATELIMITED);
		return;
	} else {
		wg_device_count_drop(dev, WG_DROP_BAD_MAC1);
		return;
	}

	if (type == WG_MSG_HANDSHAKE_INITIATION) {
		uint8_t unknown_static[WG_KEY_LEN];
		bool unknown;

		peer = noise_handshake_consume_initiation((const struct wg_msg_initiation *)e->buf,
							  dev, now, &why, unknown_static, &unknown);
		if (!peer) {
			char ep[ENDPOINT_STRLEN];

			wg_device_count_drop(dev, (enum wg_drop_reason)why);
			log_debug("%s: invalid handshake initiation from %s", dev->name,
				  endpoint_format(&e->src, ep));
			if (unknown) {
				receive_log_unknown_key(dev, unknown_static, &e->src, now);
				crypto_wipe(unknown_static, sizeof(unknown_static));
			}
			return;
		}
		peer_get(peer);
		peer_roam(peer, &e->src);
		log_debug("%s: receiving handshake initiation from peer %s", dev->name, peer->name);
		atomic_fetch_add(&peer->rx_bytes, e->len);
		send_handshake_response(peer);
	} else {
		const struct wg_msg_response *r = (const struct wg_msg_response *)e->buf;
		struct index_entry *entry = NULL;
		struct wg_peer *waiting;
		bool in_flight = false;

		/* Whose initiation this claims to answer, for the handshake watch. */
		waiting = index_table_lookup_peer(dev->index, le32toh(r->receiver_index),
						  INDEX_TYPE_HANDSHAKE, &entry);
		if (waiting)
			in_flight = entry == &waiting->handshake.entry &&
				    waiting->handshake.state == HANDSHAKE_CREATED_INITIATION;
		peer = noise_handshake_consume_response(r, dev);
		if (!peer) {
			wg_device_count_drop(dev, WG_DROP_HANDSHAKE_INVALID);
			log_debug("%s: invalid handshake response", dev->name);
			if (in_flight)
				timers_watch_bad_reply(waiting, &e->src);
			peer_put(waiting);
			return;
		}
		peer_put(waiting);
		peer_roam(peer, &e->src);
		log_debug("%s: receiving handshake response from peer %s", dev->name, peer->name);
		atomic_fetch_add(&peer->rx_bytes, e->len);
		if (noise_handshake_begin_session(&peer->handshake, &peer->keypairs, dev->index,
						  now)) {
			timers_session_derived(peer);
			timers_handshake_complete(peer);
			/* Sends what is staged, or a keepalive: either confirms the session to the
			 * responder at once. */
			send_keepalive(dev->path, peer);
		}
	}
	timers_any_authenticated_packet_received(peer);
	timers_any_authenticated_packet_traversal(peer);
	peer_put(peer);
}
