// SPDX-License-Identifier: GPL-2.0
/*
 * Endpoint move events (daemon/events.h): the queue the engine's threads push moves into, the
 * record the control thread keeps, and the events socket that `xdpwgctl events` reads.
 *
 * Why: this is how operators see roaming (what moved, from where to where, how fast it was
 * noticed). A move that loses its fields on the way through the queue, a first_seen/queue_ns
 * computed against the rules, an unbounded queue, or a socket that answers in another format
 * than ctl/cmd_events.c parses all go unnoticed by every other test.
 *
 * What it proves:
 *   - events_format_json writes the documented line (keys in order, detect_ns, time);
 *   - a pushed move comes out of events_take with its peer id, key, endpoints, wall time,
 *     sent_to_old, moves and ack; first_seen is xdp_ns (source "xdp_meta") when XDP's time is
 *     known and not after the move, else the move time ("receive"); queue_ns is picked_ns -
 *     xdp_ns only when xdp_ns <= picked_ns <= moved_ns, else 0; seq is not yet set;
 *   - the pending fd is readable while moves wait, including after a partial take, and not
 *     after the queue is drained; takes come out in push order;
 *   - the queue holds EVENTS_PENDING_MAX moves: the ones pushed beyond are dropped (the oldest
 *     kept) and counted once in a warning on the next take;
 *   - events_record numbers the moves and keeps the last EVENTS_RING of them; on the socket
 *     (the path events_socket_path names, mode 0600) get=1 answers them oldest first, one
 *     documented line each, then closes; follow=1 answers them and then every new move as it is
 *     recorded, ignoring what the follower sends; anything else, and workers=1 without workers,
 *     closes with nothing; a follower that stops reading is dropped; connections beyond
 *     EVENTS_MAX_CONNS are closed at once; a stale socket file is replaced, anything else at
 *     the path is refused and left alone; events_free removes the socket.
 *
 * The socket lives in UAPI_SOCKET_DIR (/var/run/wireguard), fixed at compile time: tests
 * cannot point it elsewhere. So the test first moves into a mount namespace of its own
 * (unshare; as root, or through a user namespace otherwise) with a tmpfs on /run, and uses
 * an interface name with its pid in it. Without a private /run it only uses a
 * /var/run/wireguard that already exists and is writable (never creating it), and removes
 * what it made; without either, the socket tests are skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "crypto.h"
#include "events.h"
#include "log.h"
#include "tap.h"
#include "uapi.h"

static char ifname[IFNAMSIZ];

/* --- a private /run --- */

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, strlen(s));
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -EIO;
}

static int private_run(void)
{
	char run[PATH_MAX], map[64];
	uid_t uid = getuid();
	gid_t gid = getgid();

	if (unshare(CLONE_NEWNS) < 0) {
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
			return -errno;
		snprintf(map, sizeof(map), "0 %u 1", (unsigned int)uid);
		if (write_file("/proc/self/setgroups", "deny") < 0 ||
		    write_file("/proc/self/uid_map", map) < 0)
			return -EPERM;
		snprintf(map, sizeof(map), "0 %u 1", (unsigned int)gid);
		if (write_file("/proc/self/gid_map", map) < 0)
			return -EPERM;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -errno;
	/* /var/run is usually a link to /run */
	if (!realpath("/var/run", run))
		return -errno;
	if (mount("xdpwg-test", run, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755") < 0)
		return -errno;
	if (mkdir(UAPI_SOCKET_DIR, 0755) < 0)
		return -errno;
	return 0;
}

/* --- stderr captured while the code under test logs --- */

static int cap_fd = -1, cap_saved = -1;

static void capture_start(void)
{
	char path[] = "/tmp/xdpwg-test-events-XXXXXX";

	fflush(stderr);
	cap_fd = mkstemp(path);
	cap_saved = dup(STDERR_FILENO);
	if (cap_fd < 0 || cap_saved < 0)
		abort();
	unlink(path);
	dup2(cap_fd, STDERR_FILENO);
}

static void capture_end(char *out, size_t len)
{
	ssize_t n;

	fflush(stderr);
	dup2(cap_saved, STDERR_FILENO);
	close(cap_saved);
	n = pread(cap_fd, out, len - 1, 0);
	out[n > 0 ? n : 0] = '\0';
	close(cap_fd);
}

/* --- moves --- */

static void set_ep(struct wg_endpoint *e, const char *s)
{
	memset(e, 0, sizeof(*e));
	if (endpoint_parse(e, s))
		abort();
}

static void mk_move(struct wg_peer_move *m, uint32_t id, uint64_t moved_ns, uint64_t xdp_ns,
		    uint64_t picked_ns)
{
	memset(m, 0, sizeof(*m));
	m->peer_id = id;
	for (int i = 0; i < WG_KEY_LEN; i++)
		m->public_key[i] = (uint8_t)(id * 7 + (uint32_t)i);
	set_ep(&m->old_ep, "198.51.100.2:51821");
	set_ep(&m->new_ep, id % 2 ? "[2001:db8::2]:51821" : "203.0.113.2:51821");
	m->moved_ns = moved_ns;
	m->moved_wall_ns = 1700000000123456789LL + (int64_t)id;
	m->sent_to_old = 10 + id;
	m->moves = 100 + id;
	m->acked = id % 3 == 0;
	m->xdp_ns = xdp_ns;
	m->picked_ns = picked_ns;
}

/* Every field a take must carry over unchanged from the push. */
static bool carried(const struct events_move *e, const struct wg_peer_move *m)
{
	return e->peer_id == m->peer_id && !memcmp(e->public_key, m->public_key, WG_KEY_LEN) &&
	       endpoint_eq(&e->old_ep, &m->old_ep) && endpoint_eq(&e->new_ep, &m->new_ep) &&
	       e->moved_ns == m->moved_ns && e->moved_wall_ns == m->moved_wall_ns &&
	       e->sent_to_old == m->sent_to_old && e->moves == m->moves &&
	       e->ack_sent == m->acked && e->seq == 0;
}

static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void test_format(void)
{
	struct events_move e;
	char line[EVENTS_LINE_MAX], want[EVENTS_LINE_MAX], key[CRYPTO_KEY_BASE64_LEN + 1];
	int len;

	memset(&e, 0, sizeof(e));
	e.seq = 41;
	for (int i = 0; i < WG_KEY_LEN; i++)
		e.public_key[i] = (uint8_t)i;
	crypto_key_to_base64(key, e.public_key);
	set_ep(&e.old_ep, "198.51.100.2:51821");
	set_ep(&e.new_ep, "[2001:db8::2]:4500");
	e.first_seen_ns = 5000000;
	e.first_seen_from = EVENTS_SEEN_XDP_EVENT;
	e.moved_ns = 5250000;
	e.moved_wall_ns = 1700000000012345678LL;
	e.sent_to_old = 3;
	e.moves = 2;
	e.ack_sent = true;
	e.queue_ns = 1234;
	len = events_format_json(&e, "wg7", line, sizeof(line));
	snprintf(want, sizeof(want),
		 "{\"seq\":41,\"interface\":\"wg7\",\"peer\":\"%s\",\"old_endpoint\":"
		 "\"198.51.100.2:51821\",\"new_endpoint\":\"[2001:db8::2]:4500\","
		 "\"first_seen_ns\":5000000,\"first_seen_source\":\"xdp_event\",\"moved_ns\":"
		 "5250000,"
		 "\"detect_ns\":250000,\"time\":\"1700000000.012345678\",\"sent_to_old\":3,"
		 "\"moves\":2,\"ack_sent\":1,\"queue_ns\":1234}\n",
		 key);
	if (!ok(len == (int)strlen(want) && !strcmp(line, want),
		"format: the documented line, keys in order, detect_ns = moved - first seen"))
		tap_diag("got  %swant %s", line, want);
	ok(!strchr(line, ' ') && strchr(line, '\n') == line + len - 1,
	   "format: no spaces, one line ending in a newline");

	e.first_seen_from = EVENTS_SEEN_RECEIVE;
	e.first_seen_ns = e.moved_ns + 10; /* clocks disagree: never a negative detect_ns */
	e.ack_sent = false;
	len = events_format_json(&e, "wg7", line, sizeof(line));
	ok(len > 0 && strstr(line, "\"first_seen_source\":\"receive\"") &&
		   strstr(line, "\"detect_ns\":0,") && strstr(line, "\"ack_sent\":0,"),
	   "format: receive, detect_ns 0 when first seen is after the move, ack 0");
	e.first_seen_from = EVENTS_SEEN_XDP_META;
	len = events_format_json(&e, "wg7", line, sizeof(line));
	ok(len > 0 && strstr(line, "\"first_seen_source\":\"xdp_meta\""),
	   "format: xdp_meta for XDP's timestamp of the moving packet");
	is_int(events_format_json(&e, "wg7", line, 64), -ENOSPC, "format: -ENOSPC when short");
}

static void test_push_take(struct events *ev)
{
	struct wg_peer_move m[8];
	struct events_move out[8];
	const uint64_t T = 9000000000ULL;
	size_t n;

	ok(!readable(events_pending_fd(ev)), "queue: the pending fd is quiet at first");
	is_int(events_take(ev, out, 8), 0, "queue: nothing to take at first");

	mk_move(&m[0], 1, T, 0, 0);
	events_push(ev, &m[0]);
	ok(readable(events_pending_fd(ev)), "queue: a push makes the pending fd readable");
	n = events_take(ev, out, 8);
	is_int(n, 1, "queue: one move taken");
	ok(n == 1 && carried(&out[0], &m[0]),
	   "take: peer id, key, endpoints, times, sent_to_old, moves, ack as pushed; no seq yet");
	ok(out[0].first_seen_ns == T && out[0].first_seen_from == EVENTS_SEEN_RECEIVE &&
		   out[0].queue_ns == 0,
	   "take: without XDP's time, first seen is the move (receive), queue_ns 0");
	ok(!readable(events_pending_fd(ev)), "queue: drained, the pending fd is quiet again");

	/* xdp_ns known: XDP's time; picked in [xdp, moved]: queue_ns */
	mk_move(&m[1], 2, T, T - 5000, T - 3000);
	/* xdp_ns after the move (another clock?): ignored */
	mk_move(&m[2], 3, T, T + 1, T + 2);
	/* picked before XDP saw it: no queue_ns */
	mk_move(&m[3], 4, T, T - 5000, T - 6000);
	/* picked after the move: no queue_ns */
	mk_move(&m[4], 5, T, T - 5000, T + 1);
	/* all at the move's time: XDP's, queue 0 */
	mk_move(&m[5], 6, T, T, T);
	/* picked unknown */
	mk_move(&m[6], 7, T, T - 5000, 0);
	for (int i = 1; i <= 6; i++)
		events_push(ev, &m[i]);
	n = events_take(ev, out, 2);
	is_int(n, 2, "queue: a take of 2 out of 6 gives 2");
	ok(readable(events_pending_fd(ev)), "queue: the rest keeps the pending fd readable");
	ok(n == 2 && carried(&out[0], &m[1]) && carried(&out[1], &m[2]),
	   "queue: the first two, in push order");
	ok(out[0].first_seen_ns == T - 5000 && out[0].first_seen_from == EVENTS_SEEN_XDP_META &&
		   out[0].queue_ns == 2000,
	   "take: XDP's time known: first seen is it (xdp_meta), queue_ns = picked - xdp");
	ok(out[1].first_seen_ns == T && out[1].first_seen_from == EVENTS_SEEN_RECEIVE &&
		   out[1].queue_ns == 0,
	   "take: XDP's time after the move: ignored (receive, queue_ns 0)");
	n = events_take(ev, out, 8);
	is_int(n, 4, "queue: the other four");
	ok(n == 4 && carried(&out[0], &m[3]) && carried(&out[1], &m[4]) &&
		   carried(&out[2], &m[5]) && carried(&out[3], &m[6]),
	   "queue: ... in push order");
	ok(out[0].first_seen_from == EVENTS_SEEN_XDP_META && out[0].first_seen_ns == T - 5000 &&
		   out[0].queue_ns == 0,
	   "take: picked before XDP's time: xdp_meta, queue_ns 0");
	ok(out[1].first_seen_from == EVENTS_SEEN_XDP_META && out[1].queue_ns == 0,
	   "take: picked after the move: queue_ns 0");
	ok(out[2].first_seen_from == EVENTS_SEEN_XDP_META && out[2].first_seen_ns == T &&
		   out[2].queue_ns == 0,
	   "take: XDP's time = picked = the move: xdp_meta, queue_ns 0");
	ok(out[3].first_seen_from == EVENTS_SEEN_XDP_META && out[3].first_seen_ns == T - 5000 &&
		   out[3].queue_ns == 0,
	   "take: picked unknown: queue_ns 0");
	ok(!readable(events_pending_fd(ev)), "queue: drained again, quiet");
}

static void test_queue_bound(struct events *ev)
{
	enum {
		EXTRA = 10
	};
	struct events_move *out = calloc(EVENTS_PENDING_MAX + EXTRA, sizeof(*out));
	struct wg_peer_move m;
	char log[4096], want[128];
	size_t n, in_order = 0;

	if (!out)
		abort();
	for (uint32_t i = 0; i < EVENTS_PENDING_MAX + EXTRA; i++) {
		mk_move(&m, i, 1000 + i, 0, 0);
		events_push(ev, &m);
	}
	capture_start();
	n = events_take(ev, out, EVENTS_PENDING_MAX + EXTRA);
	capture_end(log, sizeof(log));
	is_int(n, EVENTS_PENDING_MAX, "bound: EVENTS_PENDING_MAX moves kept");
	for (size_t i = 0; i < n; i++)
		in_order += out[i].peer_id == i && out[i].moved_ns == 1000 + i;
	is_int(in_order, EVENTS_PENDING_MAX, "bound: the oldest kept, in order; the rest dropped");
	snprintf(want, sizeof(want), "%s: %d move events lost (queue full)", ifname, EXTRA);
	if (!ok(strstr(log, want) != NULL, "bound: the drops counted in one warning"))
		tap_diag("log: %s", log);
	ok(!readable(events_pending_fd(ev)), "bound: drained, quiet");

	mk_move(&m, 77, 5, 0, 0);
	events_push(ev, &m);
	capture_start();
	n = events_take(ev, out, 4);
	capture_end(log, sizeof(log));
	ok(n == 1 && out[0].peer_id == 77, "bound: the queue takes moves again");
	ok(!strstr(log, "lost"), "bound: the count was reset by the warning");
	free(out);
}

/* --- the socket --- */

struct client {
	int fd;
	char *buf;
	size_t len, cap;
	bool eof;
};

static bool client_open(struct client *c, const char *req)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	memset(c, 0, sizeof(*c));
	c->cap = 4 << 20;
	c->buf = malloc(c->cap + 1);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (!c->buf || c->fd < 0 || events_socket_path(sun.sun_path, sizeof(sun.sun_path), ifname))
		abort();
	if (connect(c->fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
		return false;
	return !req || write(c->fd, req, strlen(req)) == (ssize_t)strlen(req);
}

static void client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->buf);
	c->fd = -1;
	c->buf = NULL;
}

static size_t lines(const struct client *c)
{
	size_t n = 0;

	for (size_t i = 0; i < c->len; i++)
		n += c->buf[i] == '\n';
	return n;
}

/*
 * Serve (events_poll) and read until the client has want lines (0: until the server closes),
 * or nothing happened for a while. A bounded number of rounds; the 100 ms in poll only keeps
 * the loop from spinning while the server has nothing to do, nothing is asserted about time.
 */
static void pump(struct events *ev, struct client *c, size_t want)
{
	int idle = 0;

	for (int round = 0; round < 20000 && idle < 20; round++) {
		struct pollfd p[2] = { { .fd = events_server_fd(ev), .events = POLLIN },
				       { .fd = c->fd, .events = POLLIN } };
		ssize_t n;

		if (events_poll(ev) < 0)
			break;
		n = recv(c->fd, c->buf + c->len, c->cap - c->len, MSG_DONTWAIT);
		if (n == 0) {
			c->eof = true;
			break;
		}
		if (n > 0) {
			c->len += (size_t)n;
			c->buf[c->len] = '\0';
			idle = 0;
			if (want && lines(c) >= want)
				break;
			continue;
		}
		if (errno != EAGAIN && errno != EINTR) {
			c->eof = true;
			break;
		}
		if (poll(p, 2, 100) == 0)
			idle++;
	}
}

/* Line i (0-based) of what c received, without its newline, in out. */
static bool line_at(const struct client *c, size_t i, char *out, size_t len)
{
	const char *s = c->buf, *e;

	for (; i; i--) {
		s = memchr(s, '\n', (size_t)(c->buf + c->len - s));
		if (!s)
			return false;
		s++;
	}
	e = memchr(s, '\n', (size_t)(c->buf + c->len - s));
	if (!e || (size_t)(e - s) >= len)
		return false;
	memcpy(out, s, (size_t)(e - s));
	out[e - s] = '\0';
	return true;
}

static struct events_move recorded[EVENTS_RING + 64];
static size_t n_recorded;

static void record(struct events *ev, uint32_t id)
{
	struct events_move e;
	struct wg_peer_move m;

	mk_move(&m, id, 7000000 + id, id % 2 ? 6000000 + id : 0, id % 2 ? 6500000 + id : 0);
	events_push(ev, &m);
	if (events_take(ev, &e, 1) != 1)
		abort();
	events_record(ev, &e);
	if (n_recorded < sizeof(recorded) / sizeof(recorded[0]))
		recorded[n_recorded] = e;
	n_recorded++;
}

/* The client's lines [from, from + n) are events_format_json of recorded[first..]. */
static size_t lines_match(const struct client *c, size_t from, size_t n, size_t first)
{
	char got[EVENTS_LINE_MAX], want[EVENTS_LINE_MAX];
	size_t good = 0;

	for (size_t i = 0; i < n; i++) {
		int len = events_format_json(&recorded[first + i], ifname, want, sizeof(want));

		if (len > 0 && line_at(c, from + i, got, sizeof(got)) &&
		    !strncmp(got, want, (size_t)len - 1) && got[len - 1] == '\0')
			good++;
		else if (good == i)
			tap_diag("line %zu: got %s want %s", from + i, got, want);
	}
	return good;
}

static void test_socket(struct events *ev)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)], want[EVENTS_LINE_MAX];
	char line[EVENTS_LINE_MAX];
	struct client c, f, x;
	struct stat st;
	bool seq_ok = true;

	events_socket_path(path, sizeof(path), ifname);
	/* bound under umask 077: srwx------ (events.h says 0600; for a socket only w matters) */
	if (!ok(lstat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0077) == 0 &&
			(st.st_mode & 0200),
		"socket: %s, a socket only its owner may connect to", path))
		tap_diag("mode %o", (unsigned int)st.st_mode);

	/* nothing recorded yet: get=1 answers nothing and closes */
	ok(client_open(&c, "get=1\n\n"), "socket: a client connects");
	pump(ev, &c, 0);
	ok(c.eof && c.len == 0, "get=1 before any move: no line, then closed");
	client_close(&c);

	for (uint32_t i = 0; i < 3; i++)
		record(ev, i);
	ok(recorded[0].seq == 0 && recorded[1].seq == 1 && recorded[2].seq == 2,
	   "record: the moves are numbered from 0");
	ok(client_open(&c, "get=1\n\n"), "get=1 after three moves");
	pump(ev, &c, 0);
	ok(c.eof && lines(&c) == 3, "get=1: three lines, then closed");
	is_int(lines_match(&c, 0, 3, 0), 3, "get=1: the documented line of each, oldest first");
	ok(line_at(&c, 0, line, sizeof(line)) && !strncmp(line, "{\"seq\":0,\"interface\":\"", 22),
	   "get=1: lines start with seq and interface");
	events_format_json(&recorded[1], ifname, want, sizeof(want));
	ok(strstr(want, "\"first_seen_source\":\"xdp_meta\"") &&
		   strstr(want, "\"detect_ns\":1000000,") && strstr(want, "\"queue_ns\":500000}"),
	   "record: a move with XDP's times keeps them (first seen, detect_ns, queue_ns)");
	client_close(&c);

	/* the ring keeps the last EVENTS_RING */
	for (uint32_t i = 3; i < EVENTS_RING + 10; i++)
		record(ev, i);
	for (size_t i = 0; i < n_recorded; i++)
		seq_ok = seq_ok && recorded[i].seq == i;
	ok(seq_ok, "record: %zu moves numbered in order", n_recorded);
	ok(client_open(&c, "get=1\n\n"), "get=1 after EVENTS_RING + 10 moves");
	pump(ev, &c, 0);
	ok(c.eof && lines(&c) == EVENTS_RING, "get=1: EVENTS_RING (%d) lines, then closed",
	   EVENTS_RING);
	is_int(lines_match(&c, 0, EVENTS_RING, 10), EVENTS_RING,
	       "get=1: the last EVENTS_RING moves, oldest (seq 10) first");
	client_close(&c);

	/* follow=1: the ring, then the live stream */
	ok(client_open(&f, "follow=1\n\n"), "follow=1 connects");
	pump(ev, &f, EVENTS_RING);
	ok(!f.eof && lines(&f) == EVENTS_RING, "follow=1: the ring first, and stays connected");
	record(ev, EVENTS_RING + 10);
	pump(ev, &f, EVENTS_RING + 1);
	ok(lines(&f) == EVENTS_RING + 1 && lines_match(&f, EVENTS_RING, 1, EVENTS_RING + 10) == 1,
	   "follow=1: a new move arrives as its line when recorded");
	ok(write(f.fd, "get=1\n\nanything", 15) == 15, "the follower writes more");
	record(ev, EVENTS_RING + 11);
	pump(ev, &f, EVENTS_RING + 2);
	ok(!f.eof && lines(&f) == EVENTS_RING + 2 &&
		   lines_match(&f, EVENTS_RING + 1, 1, EVENTS_RING + 11) == 1,
	   "follow=1: what a follower sends is ignored, the stream goes on");

	/* other requests: closed with nothing */
	ok(client_open(&c, "show=1\n\n"), "an unknown request");
	pump(ev, &c, 0);
	ok(c.eof && c.len == 0, "an unknown request is closed without an answer");
	client_close(&c);
	ok(client_open(&c, "workers=1\n\n"), "workers=1 without an AF_XDP back-end");
	pump(ev, &c, 0);
	ok(c.eof && c.len == 0, "workers=1: no line in socket mode, then closed");
	client_close(&c);
	ok(client_open(&c, NULL), "a client that never ends its request");
	memset(want, 'a', 100);
	ok(write(c.fd, want, 100) == 100, "... sends 100 bytes without a blank line");
	pump(ev, &c, 0);
	ok(c.eof && c.len == 0, "... and is closed without an answer");
	client_close(&c);

	/* the follower still gets moves after all that */
	record(ev, EVENTS_RING + 12);
	pump(ev, &f, EVENTS_RING + 3);
	ok(lines(&f) == EVENTS_RING + 3, "the follower is still served");

	/* EVENTS_MAX_CONNS: one follower is connected; fill up, one more is closed at once */
	{
		struct client many[EVENTS_MAX_CONNS];
		size_t served = 0;

		for (int i = 0; i < EVENTS_MAX_CONNS - 1; i++) {
			if (!client_open(&many[i], "follow=1\n\n"))
				abort();
			pump(ev, &many[i], EVENTS_RING);
		}
		ok(client_open(&x, "follow=1\n\n"), "connection EVENTS_MAX_CONNS + 1 connects");
		pump(ev, &x, 0);
		ok(x.eof && x.len == 0, "... and is closed at once, unanswered");
		client_close(&x);
		record(ev, EVENTS_RING + 13);
		for (int i = 0; i < EVENTS_MAX_CONNS - 1; i++) {
			pump(ev, &many[i], EVENTS_RING + 1);
			served += lines(&many[i]) == EVENTS_RING + 1;
			client_close(&many[i]);
		}
		is_int(served, EVENTS_MAX_CONNS - 1,
		       "the EVENTS_MAX_CONNS followers all get the move");
	}
	client_close(&f);
}

/* A follower that stops reading is dropped (with a warning); new clients are served after. */
static void test_slow_follower(struct events *ev)
{
	struct client slow, c;
	char log[8192];
	int small = 4096, sndbuf = 0, probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	socklen_t sl = sizeof(sndbuf);
	uint32_t moves;

	/* enough lines (some 400 bytes each) to fill the server's socket buffer (the system's
	 * default, as a fresh socket has it) and EVENTS_OUT_MAX twice over */
	if (probe < 0 || getsockopt(probe, SOL_SOCKET, SO_SNDBUF, &sndbuf, &sl) < 0)
		abort();
	close(probe);
	moves = (uint32_t)((2 * (size_t)sndbuf + 2 * EVENTS_OUT_MAX) / 400);

	ok(client_open(&slow, "follow=1\n\n"), "slow: a follower connects");
	setsockopt(slow.fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	pump(ev, &slow, EVENTS_RING);
	ok(lines(&slow) == EVENTS_RING, "slow: it got the ring");
	capture_start();
	for (uint32_t i = 0; i < moves; i++)
		record(ev, 1000 + i);
	capture_end(log, sizeof(log));
	ok(strstr(log, "dropping an events follower that stopped reading") != NULL,
	   "slow: dropped once EVENTS_OUT_MAX bytes waited, with a warning");
	slow.len = 0;
	pump(ev, &slow, 0);
	ok(slow.eof && lines(&slow) < moves, "slow: what it reads then ends short of the stream");
	tap_diag("the dropped follower read %zu of %u lines before the end", lines(&slow), moves);
	client_close(&slow);
	ok(client_open(&c, "get=1\n\n"), "slow: a new client afterwards");
	pump(ev, &c, 0);
	ok(c.eof && lines(&c) == EVENTS_RING, "... is answered in full");
	client_close(&c);
}

static void test_path(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct events *ev;
	struct stat st;
	int fd, err = 0;

	events_socket_path(sun.sun_path, sizeof(sun.sun_path), ifname);
	/* a dead daemon's socket file: replaced */
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ok(fd >= 0 && bind(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0,
	   "path: a stale socket file");
	close(fd);
	ev = events_new(ifname, &err);
	ok(ev != NULL, "path: events_new replaces a stale socket");
	events_free(ev);
	ok(lstat(sun.sun_path, &st) < 0 && errno == ENOENT, "path: events_free removes the socket");

	/* anything else: refused, and left alone */
	fd = open(sun.sun_path, O_CREAT | O_WRONLY | O_EXCL | O_CLOEXEC, 0600);
	ok(fd >= 0 && write(fd, "x", 1) == 1, "path: a regular file where the socket goes");
	close(fd);
	capture_start();
	ev = events_new(ifname, &err);
	capture_end((char[256]){ 0 }, 256);
	ok(!ev && err == -EEXIST, "path: events_new refuses it (-EEXIST)");
	events_free(ev);
	ok(lstat(sun.sun_path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 1,
	   "path: the file is left as it was");
	unlink(sun.sun_path);
}

int main(void)
{
	struct events *ev;
	int err = 0, pr;

	if (!getenv("XDPWG_TEST_VERBOSE"))
		log_set_level(LOG_WARNING);
	snprintf(ifname, sizeof(ifname), "xevt%u", (unsigned int)getpid());
	test_format();

	pr = private_run();
	if (pr < 0) {
		struct stat st;

		tap_diag("no private /run (%s)", strerror(-pr));
		if (stat(UAPI_SOCKET_DIR, &st) < 0 || access(UAPI_SOCKET_DIR, W_OK) < 0) {
			tap_skip(1, "no private /run and no writable " UAPI_SOCKET_DIR);
			return done_testing();
		}
	} else {
		tap_diag("a private /run (tmpfs in a mount namespace of our own)");
	}

	ev = events_new(ifname, &err);
	if (!ok(ev != NULL, "events_new(%s)", ifname)) {
		tap_diag("events_new: %s", strerror(-err));
		return done_testing();
	}
	test_push_take(ev);
	test_queue_bound(ev);
	test_socket(ev);
	test_slow_follower(ev);
	events_free(ev);
	test_path();
	return done_testing();
}
