/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where the transmit path builds a data message. By default in a per-thread scratch buffer,
 * which the back-end's send then copies into whatever carries the datagram. A back-end whose
 * thread owns its transmit buffers (an AF_XDP worker and its UMEM) can lend one instead: the
 * message is then encrypted in place where it will leave from, and the back-end's send,
 * recognising its own buffer, skips the copy. The lender keeps lending the same buffer until
 * a send consumes it, so a message that is not sent (no endpoint, an error) costs nothing.
 */
#ifndef XDPWG_SEND_H
#define XDPWG_SEND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct wg_endpoint;
struct wg_peer;

struct send_tx_lender {
	/* room for need bytes, or NULL (then the scratch buffer is used) */
	uint8_t *(*get)(void *ctx, size_t need);
	void *ctx;
};

/* For the calling thread only; NULL stops lending. l must outlive its use. */
void send_set_tx_lender(const struct send_tx_lender *l);

/*
 * The packets of one batch to peer (the segments of a TUN super-packet, or one packet), in
 * order, sent to ep under the current keypair with one reservation of nonces, the timers, the
 * rekey check and the peer's counters done once. Returns how many of them (a prefix) were sent;
 * the caller stages the rest. send_packet_fast is its one-packet form.
 */
size_t send_packets_fast(struct wg_peer *peer, const struct wg_endpoint *ep,
			 const struct iovec *pkts, size_t n);

#endif
