/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Endpoint move events: the daemon's record of every move (the last EVENTS_RING of them) and the
 * channel that streams them, a second unix socket next to the configuration socket:
 *
 *   /var/run/wireguard/IFACE.events     (no access for group and others: umask 077, like IFACE.sock)
 *
 * Stock `wg` never sees it: it lists and talks to *.sock only, and the configuration protocol is
 * left exactly as it is. A client sends one request, a line and a blank line:
 *
 *   get=1\n\n      the recent events, oldest first, one JSON object per line; then the server
 *                  closes the connection
 *   follow=1\n\n   the same, then every new event as a line as it happens, until the client
 *                  closes (a client that stops reading is dropped once EVENTS_OUT_MAX bytes wait)
 *   workers=1\n\n  one JSON line per AF_XDP worker (xdpwgctl metrics and top), then the server
 *                  closes; no line in socket mode. Counters since start, ring depths now:
 *
 *   {"interface":"wg0","worker":0,"uplink":"eth0","ifindex":2,"queue":0,"cpu":0,"tun_queue":0,
 *    "zerocopy":0,"rx_frames":N,"rx_bad":N,"tx_frames":N,"tx_fallback":N,"tun_packets":N,
 *    "rx_ring":N,"fill_ring":N,"tx_ring":N,"tx_inflight":N}
 *
 * Anything else closes the connection. One event line (no spaces, one line, keys in this order):
 *
 *   {"seq":N,"interface":"wg0","peer":"<base64 public key>","old_endpoint":"198.51.100.2:51821",
 *    "new_endpoint":"203.0.113.2:51821","first_seen_ns":N,"first_seen_source":"xdp_event",
 *    "moved_ns":N,"detect_ns":N,"time":"1700000000.123456789","sent_to_old":N,"moves":N,
 *    "ack_sent":0|1,"queue_ns":N}
 *
 * first_seen_ns and moved_ns are CLOCK_MONOTONIC (bpf_ktime_get_ns's clock): when the first
 * packet from the new source was seen (the XDP program's new-source ring-buffer event for that
 * peer and source, "xdp_event"; else the XDP timestamp in the moving frame's metadata,
 * "xdp_meta"; else the engine's receive time, "receive") and when the engine
 * moved the endpoint; detect_ns is their difference. time is the move's wall clock. sent_to_old
 * counts datagrams sent to the peer since its last authenticated packet from the old endpoint.
 * ack_sent: a keepalive went to the new endpoint at once (the move acknowledgment, see
 * peer_roam_ack; data moves under a valid sending key only, never handshake moves). queue_ns:
 * for a frame with XDP metadata, how long after its XDP timestamp an AF_XDP worker took it off
 * the RX ring (the kernel's share of the delay; the rest up to moved_ns is decryption and the
 * engine); 0 when not known (socket mode, handshakes).
 *
 * Moves are reported by the engine on the thread that authenticated the packet (events_push,
 * any thread, bounded queue + eventfd) and recorded on the control thread (events_take, then
 * events_record), which also serves the socket (events_poll).
 */
#ifndef XDPWG_EVENTS_H
#define XDPWG_EVENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.h"
#include "endpoint.h"

enum events_constants {
	EVENTS_RING = 256,	    /* recent events kept */
	EVENTS_PENDING_MAX = 1024,  /* moves queued by workers for the control thread */
	EVENTS_MAX_CONNS = 16,	    /* more are accepted and closed at once */
	EVENTS_OUT_MAX = 256 << 10, /* bytes waiting for a follower before it is dropped */
	EVENTS_LINE_MAX = 640,	    /* one JSON line */
};

enum events_seen {
	EVENTS_SEEN_RECEIVE = 0, /* the engine's receive time (socket mode, handshakes) */
	EVENTS_SEEN_XDP_EVENT,	 /* the XDP program's new-source ring-buffer event */
	EVENTS_SEEN_XDP_META,	 /* the XDP timestamp of the very packet that moved the peer */
};

struct events_move {
	uint64_t seq;
	uint32_t peer_id;
	uint8_t public_key[WG_KEY_LEN];
	struct wg_endpoint old_ep, new_ep;
	uint64_t first_seen_ns;
	enum events_seen first_seen_from;
	uint64_t moved_ns;
	int64_t moved_wall_ns;
	uint64_t sent_to_old;
	uint64_t moves;
	bool ack_sent;
	uint64_t
		queue_ns; /* XDP timestamp -> the worker taking the frame off its ring; 0: unknown */
};

struct events;

/* The ring, the queue and the socket UAPI_SOCKET_DIR/IFNAME.events (a stale one replaced: the
 * caller already owns IFNAME.sock). NULL with *err = -errno. */
struct events *events_new(const char *ifname, int *err);
/* Close the connections, remove the socket file. NULL is fine. */
void events_free(struct events *ev);
/* The server's epoll set (listener and connections): readable -> events_poll. */
int events_server_fd(const struct events *ev);
/* Readable when moves are queued -> events_take. */
int events_pending_fd(const struct events *ev);

/* Any thread: queue a move for the control thread (dropped and counted when the queue is full). */
/* m->xdp_ns: when XDP saw the packet that moved the peer (its metadata timestamp), 0 if unknown;
 * an earlier new-source event from XDP still wins when the control thread dates the move.
 * m->picked_ns: when the worker took it off its ring (queue_ns). */
void events_push(struct events *ev, const struct wg_peer_move *m);
/* Control thread: up to max queued moves, first_seen as events_push set it (the frame's XDP
 * timestamp, else the move time); the caller may still date them by an XDP sighting. */
size_t events_take(struct events *ev, struct events_move *out, size_t max);
/* Control thread: number it, log it in one line, keep it, send it to followers. */
void events_record(struct events *ev, struct events_move *e);
/* Control thread: accept, read requests, write. 0 or -errno. */
int events_poll(struct events *ev);

struct io_xdp_worker_info;
/* Worker i's figures for the workers=1 request: 0, or -ENOENT past the last one. */
typedef int (*events_worker_fn)(void *ctx, unsigned int i, struct io_xdp_worker_info *out);
/* Control thread: answer workers=1 through fn (set once the AF_XDP back-end runs; without it
 * the answer is empty). */
void events_set_workers(struct events *ev, events_worker_fn fn, void *ctx);
/* One worker as its JSON line (with the newline); uplink: the interface's name. The length, or
 * -ENOSPC. */
int events_format_worker(const struct io_xdp_worker_info *w, unsigned int i, const char *ifname,
			 const char *uplink, char *buf, size_t len);

/* One event as its JSON line (with the newline). The length, or -ENOSPC. */
int events_format_json(const struct events_move *e, const char *ifname, char *buf, size_t len);
int events_socket_path(char *buf, size_t len, const char *ifname);

#endif
