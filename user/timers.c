// SPDX-License-Identifier: GPL-2.0
/*
 * Timers as deadlines, not timer objects. The data path only arms and disarms (atomic stores and
 * compare-and-swaps on per-peer deadlines); wg_device_tick, on the control thread, fires whatever
 * is due. The semantics are the kernel driver's timers.c:
 *
 * Timer                 | armed when                         | fires after             | action
 * ----------------------+------------------------------------+-------------------------+------------------------------
 * retransmit_handshake  | an initiation is sent              | REKEY_TIMEOUT + jitter  | resend it, or after
 *                       | (disarmed: handshake complete)     |                         | MAX_TIMER_HANDSHAKES give up:
 *                       |                                    |                         | drop staged, arm zero_key
 * send_keepalive        | data received and not armed        | KEEPALIVE_TIMEOUT       | send a keepalive (again if
 *                       | (disarmed: anything sent)          |                         | more data came meanwhile)
 * new_handshake         | data sent and not armed            | KEEPALIVE_TIMEOUT +     | initiate: the peer stopped
 *                       | (disarmed: anything received)      | REKEY_TIMEOUT + jitter  | answering
 * zero_key_material     | a session is derived; after giving | REJECT_AFTER_TIME * 3   | wipe handshake and keypairs
 *                       | up if not armed                    |                         |
 * persistent_keepalive  | any authenticated packet in or out | persistent interval     | send a keepalive
 *
 * "Armed" is a deadline != 0 in peer->timers[]; jitter is drawn when arming, so that peers set up
 * together do not retransmit in lockstep.
 */
#include "crypto.h"
#include "log.h"
#include "peer.h"

static inline uint64_t timers_now(const struct wg_peer *peer)
{
	return wg_device_now(peer->dev);
}

static inline uint64_t timers_jitter(void)
{
	return (uint64_t)crypto_random_uniform(REKEY_TIMEOUT_JITTER_MAX_MS) * NSEC_PER_MSEC;
}

/* A deadline is never 0: the clock may start at 0 in tests. */
static inline uint64_t timers_deadline(const struct wg_peer *peer, uint64_t delay_ns)
{
	uint64_t d = timers_now(peer) + delay_ns;

	return d ? d : 1;
}

static inline void timers_mod(struct wg_peer *peer, enum timers_id t, uint64_t delay_ns)
{
	atomic_store(&peer->timers[t], timers_deadline(peer, delay_ns));
}

/* Arm only if not armed (the kernel's "if (!timer_pending(...)) mod_timer(...)"). */
static inline bool timers_mod_if_idle(struct wg_peer *peer, enum timers_id t, uint64_t delay_ns)
{
	uint_fast64_t expected = 0;

	return atomic_compare_exchange_strong(&peer->timers[t], &expected,
					      timers_deadline(peer, delay_ns));
}

static inline void timers_del(struct wg_peer *peer, enum timers_id t)
{
	atomic_store(&peer->timers[t], 0);
}

static inline bool timers_active(const struct wg_peer *peer)
{
	return !atomic_load(&peer->is_dead) && peer->dev->identity->has_identity;
}

void timers_init(struct wg_peer *peer, uint64_t now)
{
	int t;

	for (t = 0; t < TIMER_MAX; t++)
		atomic_init(&peer->timers[t], 0);
	/* "long ago", so the first initiation is not held back by the REKEY_TIMEOUT limit */
	atomic_init(&peer->last_sent_handshake, now - (uint64_t)(REKEY_TIMEOUT + 1) * NSEC_PER_SEC);
}

void timers_stop(struct wg_peer *peer)
{
	int t;

	for (t = 0; t < TIMER_MAX; t++)
		timers_del(peer, t);
}

/* Should be called after an authenticated data packet is sent. */
void timers_data_sent(struct wg_peer *peer)
{
	if (timers_active(peer))
		timers_mod_if_idle(peer, TIMER_NEW_HANDSHAKE,
				   (uint64_t)(KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) * NSEC_PER_SEC +
					   timers_jitter());
}

/* Should be called after an authenticated data packet is received. */
void timers_data_received(struct wg_peer *peer)
{
	if (!timers_active(peer))
		return;
	if (!timers_mod_if_idle(peer, TIMER_SEND_KEEPALIVE,
				(uint64_t)KEEPALIVE_TIMEOUT * NSEC_PER_SEC))
		atomic_store(&peer->timer_need_another_keepalive, true);
}

/* Should be called after any type of authenticated packet is sent: keepalive, data, or
 * handshake. */
void timers_any_authenticated_packet_sent(struct wg_peer *peer)
{
	timers_del(peer, TIMER_SEND_KEEPALIVE);
}

/* Should be called after any type of authenticated packet is received. */
void timers_any_authenticated_packet_received(struct wg_peer *peer)
{
	timers_del(peer, TIMER_NEW_HANDSHAKE);
}

/* Should be called after a handshake initiation message is sent. */
void timers_handshake_initiated(struct wg_peer *peer)
{
	if (timers_active(peer))
		timers_mod(peer, TIMER_RETRANSMIT_HANDSHAKE,
			   (uint64_t)REKEY_TIMEOUT * NSEC_PER_SEC + timers_jitter());
}

/* Should be called after a handshake response is received and processed (initiator), or after
 * the first data packet under the new keys arrives (responder). Any thread. */
void timers_handshake_complete(struct wg_peer *peer)
{
	char ep[ENDPOINT_STRLEN];
	struct wg_endpoint e;

	timers_del(peer, TIMER_RETRANSMIT_HANDSHAKE);
	atomic_store(&peer->timer_handshake_attempts, 0);
	atomic_store(&peer->sent_lastminute_handshake, false);
	atomic_store(&peer->walltime_last_handshake, wg_device_wall_ns(peer->dev));
	peer_endpoint_copy(peer, &e);
	log_info("%s: handshake completed with peer %s (%s)", peer->dev->name, peer->name,
		 endpoint_format(&e, ep));
}

/* Should be called after ephemeral keys are created with the new handshake. */
void timers_session_derived(struct wg_peer *peer)
{
	if (timers_active(peer))
		timers_mod(peer, TIMER_ZERO_KEY_MATERIAL,
			   (uint64_t)REJECT_AFTER_TIME * 3 * NSEC_PER_SEC);
}

/* Should be called before a packet with authentication, whether keepalive, data, or handshake,
 * is sent, or after one is received. */
void timers_any_authenticated_packet_traversal(struct wg_peer *peer)
{
	uint16_t interval = atomic_load(&peer->persistent_keepalive_interval);

	if (interval && timers_active(peer))
		timers_mod(peer, TIMER_PERSISTENT_KEEPALIVE, (uint64_t)interval * NSEC_PER_SEC);
}

static void timers_expired_retransmit_handshake(struct wg_peer *peer)
{
	unsigned int attempts = atomic_load(&peer->timer_handshake_attempts);
	char ep[ENDPOINT_STRLEN];
	struct wg_endpoint e;

	peer_endpoint_copy(peer, &e);
	if (attempts > MAX_TIMER_HANDSHAKES) {
		log_info("%s: handshake for peer %s (%s) did not complete after %d attempts, "
			 "giving up",
			 peer->dev->name, peer->name, endpoint_format(&e, ep),
			 MAX_TIMER_HANDSHAKES + 2);
		timers_del(peer, TIMER_SEND_KEEPALIVE);
		/* Nothing will carry them: a user waiting on a dead peer should see the loss
		 * now, not hold memory forever. */
		peer_purge_staged(peer);
		/* We set a timer for destroying any residue that might be left of a partial
		 * exchange. */
		timers_mod_if_idle(peer, TIMER_ZERO_KEY_MATERIAL,
				   (uint64_t)REJECT_AFTER_TIME * 3 * NSEC_PER_SEC);
		return;
	}
	atomic_store(&peer->timer_handshake_attempts, attempts + 1);
	log_debug("%s: handshake for peer %s (%s) did not complete after %d seconds, retrying "
		  "(try %u)",
		  peer->dev->name, peer->name, endpoint_format(&e, ep), REKEY_TIMEOUT,
		  attempts + 2);
	/* The route may have changed under us: let the kernel pick the source again. */
	peer_clear_endpoint_src(peer);
	send_handshake_initiation(peer, true);
}

static void timers_expired_send_keepalive(struct wg_peer *peer)
{
	send_keepalive(peer);
	if (atomic_exchange(&peer->timer_need_another_keepalive, false))
		timers_mod(peer, TIMER_SEND_KEEPALIVE, (uint64_t)KEEPALIVE_TIMEOUT * NSEC_PER_SEC);
}

static void timers_expired_new_handshake(struct wg_peer *peer)
{
	char ep[ENDPOINT_STRLEN];
	struct wg_endpoint e;

	peer_endpoint_copy(peer, &e);
	log_debug("%s: retrying handshake with peer %s (%s) because we stopped hearing back "
		  "after %d seconds",
		  peer->dev->name, peer->name, endpoint_format(&e, ep),
		  KEEPALIVE_TIMEOUT + REKEY_TIMEOUT);
	peer_clear_endpoint_src(peer);
	send_handshake_initiation(peer, false);
}

static void timers_expired_zero_key_material(struct wg_peer *peer)
{
	char ep[ENDPOINT_STRLEN];
	struct wg_endpoint e;

	peer_endpoint_copy(peer, &e);
	log_info("%s: zeroing out all keys for peer %s (%s), since we haven't received a new one "
		 "in %d seconds",
		 peer->dev->name, peer->name, endpoint_format(&e, ep), REJECT_AFTER_TIME * 3);
	noise_handshake_clear(&peer->handshake, peer->dev->index);
	noise_keypairs_clear(&peer->keypairs);
}

static void timers_expired_persistent_keepalive(struct wg_peer *peer)
{
	if (atomic_load(&peer->persistent_keepalive_interval))
		send_keepalive(peer);
}

static void (*const timers_handlers[TIMER_MAX])(struct wg_peer *) = {
	[TIMER_RETRANSMIT_HANDSHAKE] = timers_expired_retransmit_handshake,
	[TIMER_SEND_KEEPALIVE] = timers_expired_send_keepalive,
	[TIMER_NEW_HANDSHAKE] = timers_expired_new_handshake,
	[TIMER_ZERO_KEY_MATERIAL] = timers_expired_zero_key_material,
	[TIMER_PERSISTENT_KEEPALIVE] = timers_expired_persistent_keepalive,
};

uint64_t timers_run(struct wg_peer *peer, uint64_t now)
{
	uint64_t next = 0;
	int t;

	for (t = 0; t < TIMER_MAX; t++) {
		uint_fast64_t d = atomic_load(&peer->timers[t]);

		if (!d)
			continue;
		if ((int64_t)(d - now) <= 0) {
			/* Claim the expiry: a worker may re-arm or disarm concurrently, and then
			 * the newer deadline wins. */
			if (!atomic_compare_exchange_strong(&peer->timers[t], &d, 0))
				continue;
			if (timers_active(peer))
				timers_handlers[t](peer);
			continue;
		}
		if (!next || (int64_t)(d - next) < 0)
			next = d;
	}
	/* A handler may have armed another timer (a retransmit arms itself again). */
	for (t = 0; t < TIMER_MAX; t++) {
		uint_fast64_t d = atomic_load(&peer->timers[t]);

		if (d && (!next || (int64_t)(d - next) < 0))
			next = d;
	}
	return next;
}
