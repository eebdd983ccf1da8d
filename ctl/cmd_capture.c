// SPDX-License-Identifier: GPL-2.0
/*
 * capture: what the XDP program does with WireGuard traffic, frame by frame. Frames XDP
 * redirects into AF_XDP sockets (or drops) never reach a packet socket, so tcpdump on the uplink
 * sees none of them. While this command runs it switches the pinned capture_ctl map on (a map of
 * its own, which only this command writes: the config map stays the daemon's alone) and the
 * program mirrors every datagram to the listen port, with its verdict, into the pinned capture
 * ring buffer; on exit (count reached, --timeout, SIGINT, SIGTERM) it switches it off again.
 *
 * Both directions: what the AF_XDP workers send is mirrored by them into the pinned capture_tx
 * queue while the switch is on (no XDP hook and no packet socket sees those frames), and what
 * leaves through the kernel's UDP socket (handshake answers from the control thread, sends to a
 * peer whose next hop is not known yet) is read from a packet socket on the way out, filtered to
 * UDP from the listen port. Each poll's frames are written in time order, so a pcap shows a
 * whole exchange.
 *
 * With -w FILE the frames go to a standard pcap file (microsecond timestamps, LINKTYPE_ETHERNET,
 * snap length XDPWG_CAPTURE_SNAPLEN) that tcpdump, tshark and wireshark read; pcap has no field
 * for the verdict, so only the text mode (the default, one line per frame) prints it.
 *
 * Two captures at once share the ring buffer (each frame goes to one of them) and the first to
 * exit clears the bit; the other sets it again within a second.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/if_arp.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "ctl.h"
#include "pins.h"
#include "observe.h"
#include "xdpwg_kern_user.h"
#include "xdpwg_wire.h"

enum capture_constants {
	CAPTURE_POLL_MS = 200,
	CAPTURE_LINKTYPE_ETHERNET = 1,
	CAPTURE_BATCH = 4096, /* frames sorted by time before they are written */
	/* the action of a frame read from the packet socket: sent by the kernel's UDP socket */
	CAPTURE_ACTION_SENT_KERNEL = XDPWG_CAPTURE_ACTION_TX + 1,
	CAPTURE_MAX_UPLINKS = 8,
};

struct capture_state {
	struct xdpwg_capture *batch; /* this poll's frames, both directions */
	size_t n_batch;
	FILE *pcap;	      /* -w, or NULL: text */
	uint64_t max;	      /* -c, 0: unlimited */
	uint64_t seen;	      /* frames written or printed */
	int64_t mono_to_wall; /* ns to add to bpf_ktime_get_ns for wall time */
	int write_err;
};

static volatile sig_atomic_t capture_stop;

static void capture_on_signal(int sig)
{
	(void)sig;
	capture_stop = 1;
}

static int capture_put32(FILE *f, uint32_t v)
{
	return fwrite(&v, sizeof(v), 1, f) == 1 ? 0 : -1;
}

/* The classic libpcap file header, host byte order (readers detect it by the magic). */
static int capture_pcap_header(FILE *f)
{
	uint16_t ver[2] = { 2, 4 };

	if (capture_put32(f, 0xa1b2c3d4u) || fwrite(ver, sizeof(ver), 1, f) != 1 ||
	    capture_put32(f, 0) || capture_put32(f, 0) || capture_put32(f, XDPWG_CAPTURE_SNAPLEN) ||
	    capture_put32(f, CAPTURE_LINKTYPE_ETHERNET))
		return -1;
	return fflush(f) ? -1 : 0;
}

static const char *capture_action(uint32_t a)
{
	switch (a) {
	case XDP_DROP:
		return "drop";
	case XDP_PASS:
		return "pass";
	case XDP_TX:
		return "tx";
	case XDP_REDIRECT:
		return "redirect";
	case XDPWG_CAPTURE_ACTION_TX:
		return "sent (AF_XDP)";
	case CAPTURE_ACTION_SENT_KERNEL:
		return "sent (kernel socket)";
	default:
		return "aborted";
	}
}

/* "src > dst: what" from the frame: Ethernet, VLAN tags, IPv4 or IPv6, UDP, WireGuard. */
static void capture_describe(const uint8_t *d, uint32_t len, char *out, size_t outlen)
{
	char src[INET6_ADDRSTRLEN] = "?", dst[INET6_ADDRSTRLEN] = "?", what[96];
	uint32_t off = 14, type, idx;
	uint16_t proto, sport = 0, dport = 0, ulen = 0;
	int v6 = 0, tags;

	if (len < 14) {
		snprintf(out, outlen, "short frame");
		return;
	}
	proto = (uint16_t)(d[12] << 8 | d[13]);
	for (tags = 0; tags < 2 && (proto == 0x8100 || proto == 0x88a8) && off + 4 <= len; tags++) {
		proto = (uint16_t)(d[off + 2] << 8 | d[off + 3]);
		off += 4;
	}
	if (proto == 0x0800 && off + 20 <= len) {
		inet_ntop(AF_INET, d + off + 12, src, sizeof(src));
		inet_ntop(AF_INET, d + off + 16, dst, sizeof(dst));
		off += (uint32_t)(d[off] & 0xf) * 4;
	} else if (proto == 0x86dd && off + 40 <= len) {
		inet_ntop(AF_INET6, d + off + 8, src, sizeof(src));
		inet_ntop(AF_INET6, d + off + 24, dst, sizeof(dst));
		off += 40;
		v6 = 1;
	} else {
		snprintf(out, outlen, "ethertype 0x%04x", proto);
		return;
	}
	if (off + 8 <= len) {
		sport = (uint16_t)(d[off] << 8 | d[off + 1]);
		dport = (uint16_t)(d[off + 2] << 8 | d[off + 3]);
		ulen = (uint16_t)(d[off + 4] << 8 | d[off + 5]);
		off += 8;
	}
	snprintf(what, sizeof(what), "?");
	if (off + 4 <= len) {
		type = (uint32_t)d[off] | (uint32_t)d[off + 1] << 8 | (uint32_t)d[off + 2] << 16 |
		       (uint32_t)d[off + 3] << 24;
		switch (type) {
		case WG_MSG_HANDSHAKE_INITIATION:
			snprintf(what, sizeof(what), "handshake initiation");
			break;
		case WG_MSG_HANDSHAKE_RESPONSE:
			snprintf(what, sizeof(what), "handshake response");
			break;
		case WG_MSG_HANDSHAKE_COOKIE:
			snprintf(what, sizeof(what), "cookie reply");
			break;
		case WG_MSG_DATA:
			if (off + 16 <= len) {
				uint64_t ctr = 0;
				int i;

				idx = (uint32_t)d[off + 4] | (uint32_t)d[off + 5] << 8 |
				      (uint32_t)d[off + 6] << 16 | (uint32_t)d[off + 7] << 24;
				for (i = 7; i >= 0; i--)
					ctr = ctr << 8 | d[off + 8 + (uint32_t)i];
				snprintf(what, sizeof(what),
					 "data receiver 0x%08x counter %" PRIu64, idx, ctr);
			} else {
				snprintf(what, sizeof(what), "data");
			}
			break;
		default:
			snprintf(what, sizeof(what), "type %u", type);
			break;
		}
	}
	snprintf(out, outlen, "%s%s%s:%u > %s%s%s:%u: WireGuard %s, length %u", v6 ? "[" : "", src,
		 v6 ? "]" : "", sport, v6 ? "[" : "", dst, v6 ? "]" : "", dport, what,
		 (unsigned int)(ulen >= 8 ? ulen - 8 : 0));
}

/* One frame out, to the pcap or as a line. */
static void capture_emit(struct capture_state *st, const struct xdpwg_capture *rec)
{
	uint64_t wall;
	uint32_t caplen;

	if ((st->max && st->seen >= st->max) || st->write_err)
		return;
	caplen = rec->caplen <= XDPWG_CAPTURE_SNAPLEN ? rec->caplen : XDPWG_CAPTURE_SNAPLEN;
	wall = (uint64_t)((int64_t)rec->ts_ns + st->mono_to_wall);
	if (st->pcap) {
		if (capture_put32(st->pcap, (uint32_t)(wall / 1000000000ULL)) ||
		    capture_put32(st->pcap, (uint32_t)(wall % 1000000000ULL / 1000)) ||
		    capture_put32(st->pcap, caplen) || capture_put32(st->pcap, rec->len) ||
		    fwrite(rec->data, 1, caplen, st->pcap) != caplen)
			st->write_err = errno ? errno : EIO;
	} else {
		char ifname[IF_NAMESIZE] = "?", desc[256], reason[64], tbuf[32];
		time_t sec = (time_t)(wall / 1000000000ULL);
		struct tm tm;

		if (!if_indextoname(rec->ifindex, ifname))
			snprintf(ifname, sizeof(ifname), "if%u", rec->ifindex);
		localtime_r(&sec, &tm);
		strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
		capture_describe(rec->data, caplen, desc, sizeof(desc));
		if (rec->action >= XDPWG_CAPTURE_ACTION_TX) {
			printf("%s.%06u %s %s -> %s\n", tbuf,
			       (unsigned int)(wall % 1000000000ULL / 1000), ifname, desc,
			       capture_action(rec->action));
		} else {
			obs_stat_name(rec->reason, reason, sizeof(reason));
			printf("%s.%06u %s q%u %s -> %s (%s)\n", tbuf,
			       (unsigned int)(wall % 1000000000ULL / 1000), ifname, rec->rx_queue,
			       desc, capture_action(rec->action), reason);
		}
		if (fflush(stdout))
			st->write_err = errno ? errno : EIO;
	}
	st->seen++;
}

static int capture_cmp_ts(const void *a, const void *b)
{
	const struct xdpwg_capture *x = a, *y = b;

	return x->ts_ns < y->ts_ns ? -1 : x->ts_ns > y->ts_ns;
}

/* The batch in time order (the three sources are read one after the other). */
static void capture_flush(struct capture_state *st)
{
	qsort(st->batch, st->n_batch, sizeof(st->batch[0]), capture_cmp_ts);
	for (size_t i = 0; i < st->n_batch; i++)
		capture_emit(st, &st->batch[i]);
	st->n_batch = 0;
}

static void capture_add(struct capture_state *st, const struct xdpwg_capture *rec)
{
	if (st->n_batch == CAPTURE_BATCH)
		capture_flush(st);
	st->batch[st->n_batch++] = *rec;
}

/* The XDP ring buffer's callback: a received frame and its verdict. */
static int capture_record(void *ctx, void *data, size_t size)
{
	if (size >= sizeof(struct xdpwg_capture))
		capture_add(ctx, data);
	return 0;
}

/* What the workers sent since the last poll. */
static void capture_drain_tx(struct capture_state *st, int txfd)
{
	struct xdpwg_capture rec;

	for (int i = 0; txfd >= 0 && i < XDPWG_CAPTURE_TX_RECORDS; i++) {
		if (bpf_map_lookup_and_delete_elem(txfd, NULL, &rec))
			break;
		capture_add(st, &rec);
	}
}

/*
 * A packet socket for what leaves through the kernel: outgoing UDP from the listen port, IPv4
 * (any header length) or IPv6 (UDP right after the fixed header: the kernel's own datagrams
 * carry no extension header), as a classic BPF filter so the socket sees nothing else.
 */
static int capture_kernel_socket(uint16_t port)
{
	struct sock_filter code[] = {
		/* 0 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 12),
		/* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IP, 0, 5),
		/* 2 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 23),
		/* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 9),
		/* 4 */ BPF_STMT(BPF_LDX | BPF_B | BPF_MSH, 14),
		/* 5 */ BPF_STMT(BPF_LD | BPF_H | BPF_IND, 14),
		/* 6 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 5, 6),
		/* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ETH_P_IPV6, 0, 5), /* A: EtherType */
		/* 8 */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, 20),
		/* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_UDP, 0, 3),
		/* 10 */ BPF_STMT(BPF_LD | BPF_H | BPF_ABS, 54),
		/* 11 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, port, 0, 1),
		/* 12 */ BPF_STMT(BPF_RET | BPF_K, XDPWG_CAPTURE_SNAPLEN),
		/* 13 */ BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = sizeof(code) / sizeof(code[0]), .filter = code };
	int fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, htons(ETH_P_ALL));

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog, sizeof(prog)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Outgoing frames from the packet socket (incoming ones are XDP's to report). */
static void capture_drain_kernel(struct capture_state *st, int pfd)
{
	for (int i = 0; pfd >= 0 && i < CAPTURE_BATCH; i++) {
		struct xdpwg_capture rec = { 0 };
		struct sockaddr_ll sll;
		socklen_t sl = sizeof(sll);
		ssize_t n = recvfrom(pfd, rec.data, sizeof(rec.data), MSG_TRUNC,
				     (struct sockaddr *)&sll, &sl);

		if (n < 0)
			break;
		/* outgoing, on an Ethernet link (not the TUN: no link header there) */
		if (sll.sll_pkttype != PACKET_OUTGOING || sll.sll_hatype != ARPHRD_ETHER)
			continue;
		rec.ts_ns = obs_mono_ns();
		rec.ifindex = (uint32_t)sll.sll_ifindex;
		rec.len = (uint32_t)n;
		rec.caplen =
			(uint32_t)n < XDPWG_CAPTURE_SNAPLEN ? (uint32_t)n : XDPWG_CAPTURE_SNAPLEN;
		rec.action = CAPTURE_ACTION_SENT_KERNEL;
		capture_add(st, &rec);
	}
}

/* The listen port XDP matches, from the pinned config map; 0 when unreadable. */
static uint16_t capture_port(const char *iface)
{
	struct xdpwg_config c = { 0 };
	char path[4096];
	__u32 key = 0;
	int fd;

	if (obs_pin_path(path, sizeof(path), iface, "config"))
		return 0;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_map_lookup_elem(fd, &key, &c))
		c.listen_port = 0;
	close(fd);
	return c.listen_port;
}

static int capture_parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno || end == s || *end || *s == '-' ? -1 : 0;
}

static int capture_main(int argc, char **argv)
{
	struct capture_state st = { 0 };
	const char *iface = NULL, *file = NULL;
	char path[4096], dir[4096];
	struct ring_buffer *rb = NULL;
	struct sigaction sa;
	uint64_t timeout = 0, start, last_assert = 0;
	int i, fd = -1, txfd = -1, pfd = -1, err, ret = 1;
	uint16_t port;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-w") && i + 1 < argc) {
			file = argv[++i];
		} else if (!strcmp(argv[i], "-c") && i + 1 < argc) {
			if (capture_parse_u64(argv[++i], &st.max))
				return ctl_usage(argv[0]);
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			if (capture_parse_u64(argv[++i], &timeout))
				return ctl_usage(argv[0]);
		} else if (argv[i][0] != '-' && !iface) {
			iface = argv[i];
		} else {
			return ctl_usage(argv[0]);
		}
	}
	if (!iface)
		return ctl_usage(argv[0]);
	if (!obs_name_ok(iface)) {
		ctl_err("%s: not an interface name", iface);
		return 1;
	}
	if (obs_pin_path(path, sizeof(path), iface, "capture") ||
	    obs_pin_path(dir, sizeof(dir), iface, "")) {
		ctl_err("%s: pin path too long", iface);
		return 1;
	}
	dir[strlen(dir) - 1] = '\0'; /* the trailing '/' */
	fd = bpf_obj_get(path);
	if (fd < 0) {
		err = errno;
		if (err == ENOENT)
			ctl_err("%s: no XDP data path with capture support attached (no %s)", iface,
				path);
		else
			ctl_err("%s: opening %s: %s", iface, path, strerror(err));
		return 1;
	}
	st.batch = calloc(CAPTURE_BATCH, sizeof(*st.batch));
	if (!st.batch) {
		ctl_err("out of memory");
		goto out;
	}
	/* the other direction; a daemon from before it had no queue */
	if (!obs_pin_path(path, sizeof(path), iface, "capture_tx"))
		txfd = bpf_obj_get(path);
	port = capture_port(iface);
	pfd = port ? capture_kernel_socket(port) : -1;
	if (txfd < 0 || pfd < 0)
		fprintf(stderr, "%s: %s: received frames only (%s)\n", ctl_prog, iface,
			txfd < 0 ? "no capture_tx queue: an older daemon"
				 : "no packet socket for the kernel's sends");
	if (file) {
		st.pcap = fopen(file, "wb");
		if (!st.pcap) {
			ctl_err("%s: %m", file);
			goto out;
		}
		if (capture_pcap_header(st.pcap)) {
			ctl_err("%s: writing: %m", file);
			goto out;
		}
	}
	st.mono_to_wall = (int64_t)obs_wall_ns() - (int64_t)obs_mono_ns();
	rb = ring_buffer__new(fd, capture_record, &st, NULL);
	if (!rb) {
		ctl_err("%s: ring buffer: %m", path);
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = capture_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	/* whatever an earlier capture left in the ring and the queue is not ours */
	ring_buffer__consume(rb);
	capture_drain_tx(&st, txfd);
	st.n_batch = 0;
	st.seen = 0;
	err = pins_capture_set(dir, true);
	if (err) {
		ctl_err("%s: turning capture on: %s", iface, strerror(-err));
		goto out;
	}
	if (file)
		fprintf(stderr, "%s: capturing WireGuard frames on %s into %s\n", ctl_prog, iface,
			file);
	start = obs_mono_ns();
	last_assert = start;
	while (!capture_stop && !st.write_err && (!st.max || st.seen < st.max)) {
		uint64_t now;

		err = ring_buffer__poll(rb, CAPTURE_POLL_MS);
		if (err < 0 && err != -EINTR) {
			ctl_err("%s: polling the ring buffer: %s", iface, strerror(-err));
			break;
		}
		capture_drain_tx(&st, txfd);
		capture_drain_kernel(&st, pfd);
		capture_flush(&st);
		now = obs_mono_ns();
		if (timeout && now - start >= timeout * 1000000000ULL)
			break;
		if (now - last_assert >= 1000000000ULL) {
			/* another capture may have ended and cleared the bit */
			pins_capture_set(dir, true);
			last_assert = now;
		}
	}
	err = pins_capture_set(dir, false);
	if (err)
		ctl_err("%s: turning capture off: %s", iface, strerror(-err));
	if (st.write_err)
		ctl_err("%s: writing: %s", file ? file : "stdout", strerror(st.write_err));
	else if (!err)
		ret = 0;
	if (file)
		fprintf(stderr, "%s: %" PRIu64 " frames captured\n", ctl_prog, st.seen);
out:
	ring_buffer__free(rb);
	free(st.batch);
	if (txfd >= 0)
		close(txfd);
	if (pfd >= 0)
		close(pfd);
	if (st.pcap && fclose(st.pcap) && !st.write_err) {
		ctl_err("%s: %m", file);
		ret = 1;
	}
	close(fd);
	return ret;
}

CTL_COMMAND(capture, .name = "capture", .run = capture_main,
	    .usage = "<interface> [-w <file.pcap>] [-c <count>] [--timeout <seconds>]",
	    .summary = "Captures the WireGuard frames the XDP program handles, with its verdicts");
