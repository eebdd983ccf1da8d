/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The transmit side. Handshake messages leave from the control thread through the device's own
 * path; transport data (and the keepalives and staged packets a data-path thread sends on the
 * way) through the path of the thread that sends it (struct wg_path, internal.h). A data
 * message is built where the path says: in the back-end's own transmit buffer when it lends one
 * (tx_room: encrypted in place where it will leave from), else in the path's scratch buffer.
 */
#ifndef XDPWG_SEND_H
#define XDPWG_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "messages.h"

struct wg_device;
struct wg_endpoint;
struct wg_path;
struct wg_peer;

enum send_constants {
	/* the largest data message: header, packet, padding, tag */
	SEND_SCRATCH_LEN = WG_MSG_DATA_HEADER_LEN + WG_MAX_PACKET + WG_MSG_PADDING + WG_AUTHTAG_LEN,
	/* nonces reserved at once by send_packets_fast: the most the counter can run past
	 * REJECT_AFTER_MESSAGES per sending thread (send_take_nonces) */
	SEND_NONCES_MAX = 64,
};

/* Control thread. */
void send_handshake_initiation(struct wg_peer *peer, bool is_retry);
/* A cookie reply answered the initiation in flight: resend it now with its mac2, at most once
 * per initiation (an xdpwg extension; see send.c). */
void send_handshake_initiation_cookie_retry(struct wg_peer *peer);
void send_handshake_response(struct wg_peer *peer);
void send_handshake_cookie(struct wg_device *dev, const uint8_t *msg, size_t len,
			   uint32_t sender_index, const struct wg_endpoint *src);

/* Any thread, through its path. */
void send_keepalive(struct wg_path *path, struct wg_peer *peer);
void send_staged_packets(struct wg_path *path, struct wg_peer *peer);
/* The current keypair is marked valid for sending (its age not looked at). */
bool send_session_valid(struct wg_peer *peer);
/* ... and not expired either: a packet sent now goes out under it instead of being staged
 * behind a new handshake (an expired keypair is retired on the way, as the send path would). */
bool send_session_usable(struct wg_peer *peer);
/* Encrypt and send one packet now if a keypair allows; false if it must be staged. */
bool send_packet_fast(struct wg_path *path, struct wg_peer *peer, const uint8_t *pkt, size_t len);
void send_stage_packet(struct wg_peer *peer, const uint8_t *pkt, size_t len);
int send_buffer_to_peer(struct wg_path *path, struct wg_peer *peer, const uint8_t *buf, size_t len);
/*
 * The packets of one batch to peer (the segments of a TUN super-packet, or one packet), in
 * order, sent to ep under the current keypair with one reservation of nonces, the timers, the
 * rekey check and the peer's counters done once. Returns how many of them (a prefix) were sent;
 * the caller stages the rest. send_packet_fast is its one-packet form.
 */
size_t send_packets_fast(struct wg_path *path, struct wg_peer *peer, const struct wg_endpoint *ep,
			 const struct iovec *pkts, size_t n);

#endif
