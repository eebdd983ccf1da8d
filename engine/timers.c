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
 * reannounce            | a keepalive announce is sent (and  | 50, 100, 200, 400 ms    | resend it, at most
 *                       | after each re-send); disarmed: any | (TIMERS_REANNOUNCE_*),  | TIMERS_REANNOUNCE_MAX times,
 *                       | authenticated packet received      | then a last wait        | then log it unanswered
 *
 * path                  | a multipath client peer's uplinks  | MPATH_TICK_MS (10 ms)   | probe its paths, time the
 *                       | are set (multipath.c); re-armed by | while it has uplinks    | answers, leave a dead or
 *                       | each run                           |                         | much worse path
 *
 * The last two rows are xdpwg's, not the kernel's (docs/roaming.md, "Move acknowledgment and
 * re-announce").
 * "Armed" is a deadline != 0 in peer->timers[]; jitter is drawn when arming, so that peers set up
 * together do not retransmit in lockstep.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "crypto.h"
#include "log.h"
#include "multipath.h"
#include "peer.h"
#include "send.h"
#include "ticklist.h"
#include "timers.h"

enum timers_watch_constants {
	/* the first "did not complete" info line: after three tries (10-15 s), so that one lost
	 * datagram says nothing, yet an operator does not wait 90 s for the give-up */
	TIMERS_WATCH_FIRST_REPORT = 3,
	/* then once in so many tries (about two minutes) while it keeps failing */
	TIMERS_WATCH_REPORT_EVERY = 24,
	/* A route change's keepalive announce is the one packet that tells the gateway where we
	 * are, and a link that just came up (LTE attach, WiFi association, a NAT mapping being
	 * created) often loses the first packets. An xdpwgd gateway answers a move at once, so
	 * silence means it was lost: re-send after 50 ms (a LAN or LTE round trip and then
	 * some), doubling each time, so that four re-sends cover ~750 ms, the typical settling
	 * of a fresh link, for four 32-byte messages. Longer outages are what persistent
	 * keepalive and the 15 s handshake retry are for. */
	TIMERS_REANNOUNCE_FIRST_MS = 50,
	TIMERS_REANNOUNCE_MAX = 4,
	/* after the last re-send: how long to wait for its answer before calling it unanswered
	 * (the next step of the backoff) */
	TIMERS_REANNOUNCE_LAST_WAIT_MS = TIMERS_REANNOUNCE_FIRST_MS << TIMERS_REANNOUNCE_MAX,
};

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
	ticklist_add(peer);
}

/* Arm only if not armed (the kernel's "if (!timer_pending(...)) mod_timer(...)"). */
static inline bool timers_mod_if_idle(struct wg_peer *peer, enum timers_id t, uint64_t delay_ns)
{
	uint_fast64_t expected = 0;

	if (!atomic_compare_exchange_strong(&peer->timers[t], &expected,
					    timers_deadline(peer, delay_ns)))
		return false;
	ticklist_add(peer);
	return true;
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
	atomic_init(&peer->announce_state, 0);
	/* "long ago", so the first initiation is not held back by the REKEY_TIMEOUT limit */
	atomic_init(&peer->last_sent_handshake, now - (uint64_t)(REKEY_TIMEOUT + 1) * NSEC_PER_SEC);
}

void timers_stop(struct wg_peer *peer)
{
	int t;

	for (t = 0; t < TIMER_MAX; t++)
		timers_del(peer, t);
	atomic_store(&peer->announce_state, 0);
}

/* Should be called after an authenticated data packet is sent. */
void timers_data_sent(struct wg_peer *peer)
{
	/* Armed already, as it is under traffic: no jitter to draw (a getrandom syscall per
	 * packet) for a compare-and-swap that would fail. */
	if (atomic_load_explicit(&peer->timers[TIMER_NEW_HANDSHAKE], memory_order_relaxed))
		return;
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

/* Something from the peer authenticated: the path works, an announce is answered. Any thread;
 * the common case (no announce waiting) is one relaxed load. */
static void timers_announce_answered(struct wg_peer *peer)
{
	unsigned int state;

	if (!atomic_load_explicit(&peer->announce_state, memory_order_relaxed))
		return;
	state = atomic_exchange(&peer->announce_state, 0);
	if (!state)
		return;
	timers_del(peer, TIMER_REANNOUNCE);
	if (state > 1)
		log_info("%s: announce to peer %s acknowledged after %u re-send%s", peer->dev->name,
			 peer->name, state - 1, state == 2 ? "" : "s");
}

/* Should be called after any type of authenticated packet is received. */
void timers_any_authenticated_packet_received(struct wg_peer *peer)
{
	timers_del(peer, TIMER_NEW_HANDSHAKE);
	timers_announce_answered(peer);
}

void timers_announce_sent(struct wg_peer *peer)
{
	/* A new announce supersedes one in progress, and its count starts again. */
	atomic_store(&peer->announce_state, 1);
	if (timers_active(peer))
		timers_mod(peer, TIMER_REANNOUNCE,
			   (uint64_t)TIMERS_REANNOUNCE_FIRST_MS * NSEC_PER_MSEC);
}

void timers_announce_cancel(struct wg_peer *peer)
{
	atomic_store(&peer->announce_state, 0);
	timers_del(peer, TIMER_REANNOUNCE);
}

/* Should be called after a handshake initiation message is sent. */
void timers_handshake_initiated(struct wg_peer *peer)
{
	if (timers_active(peer))
		timers_mod(peer, TIMER_RETRANSMIT_HANDSHAKE,
			   (uint64_t)REKEY_TIMEOUT * NSEC_PER_SEC + timers_jitter());
	/* a multipath client tries its next uplink when this goes unanswered */
	if (atomic_load_explicit(&peer->mp_mode, memory_order_relaxed))
		timers_path_arm(peer, (uint64_t)MPATH_TICK_MS * NSEC_PER_MSEC);
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
	/* a multipath client's probes need a session: (re)start its tick */
	if (atomic_load_explicit(&peer->mp_mode, memory_order_relaxed))
		timers_path_arm(peer, (uint64_t)MPATH_TICK_MS * NSEC_PER_MSEC);
}

/* Should be called before a packet with authentication, whether keepalive, data, or handshake,
 * is sent, or after one is received. */
void timers_any_authenticated_packet_traversal(struct wg_peer *peer)
{
	uint16_t interval = atomic_load(&peer->persistent_keepalive_interval);

	if (interval && timers_active(peer))
		timers_mod(peer, TIMER_PERSISTENT_KEEPALIVE, (uint64_t)interval * NSEC_PER_SEC);
}

/* The watch window: from the first initiation after a completed handshake (any thread may
 * complete one: it stores walltime_last_handshake, which opens a new window here) until the
 * next completed handshake, or until we give up. Traffic that asks for a handshake again and
 * again does not reset it, unlike the retransmit counter. */
static struct peer_hs_watch *timers_watch(struct wg_peer *peer)
{
	struct peer_hs_watch *w = &peer->hs_watch;
	int64_t hs = atomic_load(&peer->walltime_last_handshake);

	if (w->since_handshake != hs) {
		memset(w, 0, sizeof(*w));
		w->since_handshake = hs;
	}
	if (!w->next_report)
		w->next_report = TIMERS_WATCH_FIRST_REPORT;
	return w;
}

static void timers_watch_reset(struct wg_peer *peer)
{
	memset(&peer->hs_watch, 0, sizeof(peer->hs_watch));
	peer->hs_watch.since_handshake = atomic_load(&peer->walltime_last_handshake);
}

void timers_watch_sent(struct wg_peer *peer, const struct wg_endpoint *to, int ret)
{
	struct peer_hs_watch *w = timers_watch(peer);

	w->tries++;
	w->sent_to = *to;
	if (ret) {
		w->send_errors++;
		w->last_errno = -ret;
	}
}

static void timers_watch_foreign(struct peer_hs_watch *w, const struct wg_endpoint *src)
{
	if (!endpoint_is_set(&w->sent_to) || endpoint_eq(&w->sent_to, src))
		return;
	w->foreign_replies++;
	w->foreign_src = *src;
}

/* A cookie reply that decrypted: unauthenticated (the peer's public key and our mac1 make one). */
void timers_watch_cookie(struct wg_peer *peer, const struct wg_endpoint *src)
{
	struct peer_hs_watch *w = timers_watch(peer);

	w->cookies++;
	timers_watch_foreign(w, src);
}

/* A reply to the initiation in flight that did not authenticate. */
void timers_watch_bad_reply(struct wg_peer *peer, const struct wg_endpoint *src)
{
	struct peer_hs_watch *w = timers_watch(peer);

	w->bad_replies++;
	timers_watch_foreign(w, src);
}

enum peer_hs_cause timers_watch_cause(struct wg_peer *peer)
{
	const struct peer_hs_watch *w = timers_watch(peer);

	/* Our own sends only: what arrived unauthenticated (cookies, bad or foreign replies) is
	 * anyone's to send and must not steer the diagnosis. */
	if (!w->tries)
		return PEER_HS_CAUSE_NONE;
	if (w->send_errors == w->tries)
		return PEER_HS_CAUSE_SEND_ERROR;
	return PEER_HS_CAUSE_NO_REPLY;
}

/* What arrived unauthenticated, as facts after the cause: "; unauthenticated ...". */
static int timers_watch_unauthenticated(const struct peer_hs_watch *w, char *buf, size_t len)
{
	char a[ENDPOINT_STRLEN];
	int n;

	if (!w->cookies && !w->bad_replies)
		return 0;
	n = snprintf(buf, len,
		     "; unauthenticated, so deciding nothing (anyone who saw an initiation can "
		     "send them): %u cookie replies, %u replies that did not authenticate",
		     w->cookies, w->bad_replies);
	if (w->foreign_replies && n > 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, ", %u from elsewhere (last %s)",
			      w->foreign_replies, endpoint_format(&w->foreign_src, a));
	return n;
}

const char *timers_watch_describe(struct wg_peer *peer, char *buf, size_t len)
{
	enum peer_hs_cause cause = timers_watch_cause(peer);
	const struct peer_hs_watch *w = &peer->hs_watch;
	const char *hint = "";
	int n = 0;

	if (!len)
		return buf;
	buf[0] = '\0';
	switch (cause) {
	case PEER_HS_CAUSE_NONE:
		n = snprintf(buf, len, "no initiation sent yet");
		break;
	case PEER_HS_CAUSE_SEND_ERROR:
		if (w->last_errno == ENETUNREACH || w->last_errno == EHOSTUNREACH)
			hint = ": no route to the endpoint";
		else if (w->last_errno == EDESTADDRREQ)
			hint = ": the peer has no endpoint";
		n = snprintf(buf, len, "could not send (%s, errno %d)%s", strerror(w->last_errno),
			     w->last_errno, hint);
		break;
	case PEER_HS_CAUSE_NO_REPLY:
		n = snprintf(buf, len,
			     "no authenticated reply: the peer is unreachable or under load, the "
			     "endpoint is wrong, a firewall drops it, our public key is not "
			     "configured on the peer, or the preshared key differs");
		if (w->send_errors && n > 0 && (size_t)n < len)
			n += snprintf(buf + n, len - (size_t)n, "; %u of %u sends failed (%s)",
				      w->send_errors, w->tries, strerror(w->last_errno));
		break;
	}
	if (cause != PEER_HS_CAUSE_NONE && n > 0 && (size_t)n < len)
		n += timers_watch_unauthenticated(w, buf + n, len - (size_t)n);
	(void)n;
	return buf;
}

/* The info line an operator looks for: how many tries, and why they probably failed. */
static void timers_watch_report(struct wg_peer *peer, const struct wg_endpoint *e, bool giving_up)
{
	struct peer_hs_watch *w = timers_watch(peer);
	char ep[ENDPOINT_STRLEN], why[512];

	if (!giving_up && w->tries < w->next_report)
		return;
	w->next_report = w->tries + TIMERS_WATCH_REPORT_EVERY;
	log_info("%s: handshake for peer %s (%s) did not complete after %u tries%s: %s",
		 peer->dev->name, peer->name, endpoint_format(e, ep), w->tries,
		 giving_up ? ", giving up" : "", timers_watch_describe(peer, why, sizeof(why)));
}

static void timers_expired_retransmit_handshake(struct wg_peer *peer)
{
	unsigned int attempts = atomic_load(&peer->timer_handshake_attempts);
	char ep[ENDPOINT_STRLEN];
	struct wg_endpoint e;

	peer_endpoint_copy(peer, &e);
	if (attempts > MAX_TIMER_HANDSHAKES) {
		timers_watch_report(peer, &e, true);
		/* the next attempt, whenever traffic asks for it, starts a new story */
		timers_watch_reset(peer);
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
	timers_watch_report(peer, &e, false);
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
	send_keepalive(peer->dev->path, peer);
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
		send_keepalive(peer->dev->path, peer);
}

static void timers_expired_reannounce(struct wg_peer *peer)
{
	unsigned int state = atomic_load(&peer->announce_state), resends;

	/* answered meanwhile (the receive cleared the state after we were armed) */
	if (!state)
		return;
	resends = state - 1;
	if (resends >= TIMERS_REANNOUNCE_MAX) {
		if (atomic_compare_exchange_strong(&peer->announce_state, &state, 0))
			log_info("%s: announce to peer %s not acknowledged after %u re-sends",
				 peer->dev->name, peer->name, resends);
		return;
	}
	/* Only a keepalive is re-sent: without a valid session the handshake's own
	 * retransmits (REKEY_TIMEOUT) apply, and a keepalive would only stage itself. */
	if (!send_session_valid(peer)) {
		timers_announce_cancel(peer);
		return;
	}
	/* Count it before sending: an answer to this very re-send then reports it. Arm only if
	 * no answer ended the announce in between. */
	if (!atomic_compare_exchange_strong(&peer->announce_state, &state, state + 1))
		return;
	log_debug("%s: re-sending announce to peer %s (%u of %d)", peer->dev->name, peer->name,
		  resends + 1, TIMERS_REANNOUNCE_MAX);
	timers_mod(peer, TIMER_REANNOUNCE,
		   resends + 1 < TIMERS_REANNOUNCE_MAX
			   ? ((uint64_t)TIMERS_REANNOUNCE_FIRST_MS << (resends + 1)) * NSEC_PER_MSEC
			   : (uint64_t)TIMERS_REANNOUNCE_LAST_WAIT_MS * NSEC_PER_MSEC);
	send_keepalive(peer->dev->path, peer);
}

static void timers_expired_path(struct wg_peer *peer)
{
	uint64_t now = timers_now(peer), next = mpath_tick(peer, now);

	if (next)
		timers_mod(peer, TIMER_PATH, next > now ? next - now : 1);
}

void timers_path_arm(struct wg_peer *peer, uint64_t delay_ns)
{
	timers_mod_if_idle(peer, TIMER_PATH, delay_ns);
}

static void (*const timers_handlers[TIMER_MAX])(struct wg_peer *) = {
	[TIMER_RETRANSMIT_HANDSHAKE] = timers_expired_retransmit_handshake,
	[TIMER_SEND_KEEPALIVE] = timers_expired_send_keepalive,
	[TIMER_NEW_HANDSHAKE] = timers_expired_new_handshake,
	[TIMER_ZERO_KEY_MATERIAL] = timers_expired_zero_key_material,
	[TIMER_PERSISTENT_KEEPALIVE] = timers_expired_persistent_keepalive,
	[TIMER_REANNOUNCE] = timers_expired_reannounce,
	[TIMER_PATH] = timers_expired_path,
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
