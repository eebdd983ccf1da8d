// SPDX-License-Identifier: GPL-2.0
/*
 * flood-gen: the attacker for `make bench-flood`. Crafted Ethernet/IPv4/UDP frames out of one
 * interface through AF_PACKET with PACKET_QDISC_BYPASS and sendmmsg, as fast as one core makes
 * them, for a bounded time (at most 600 s), from one thread.
 *
 *   flood-gen -i IFACE -M DSTMAC -d DSTIP -p PORT -m junk|unknown|init|dstopt
 *             [-s SRCNET/CIDR] [-k GATEWAY_PUBKEY_BASE64] [-t SECONDS]
 *
 * junk: random bytes (4-200) whose first byte is never a message type; unknown: transport data
 * for random receiver indexes; init: handshake initiations with a valid mac1 (key =
 * HASH("mac1----" || the gateway's public key)) and garbage inside, which the gateway cannot
 * tell from real ones before its DH. Sources are random within SRCNET (default 203.0.113.0/24,
 * its .0-.15 left out: the bench's own hosts live there). dstopt (DSTIP IPv6): IPv6 with an
 * 8-byte Destination Options header (one PadN) in front of the UDP header, carrying junk and
 * unknown-index data in turn, with a valid UDP checksum so that a gateway without XDP drops
 * them no earlier than it would real ones; sources random in SRCNET (default
 * 2001:db8:fe::/64). This is the flood that went around XDP before issue #15. Prints "sent N in S s (R pps)" at
 * the end, also when stopped early by SIGINT or SIGTERM (the bench stops it after its last try).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/ip.h>
#include <netinet/ip6.h>
#include <netinet/udp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"

enum flood_limits {
	FLOOD_BATCH = 64,
	FLOOD_FRAME_MAX = 320, /* dstopt: 14 + 40 + 8 + 8 + at most 200 */
	FLOOD_MAX_SECONDS = 600,
	FLOOD_INIT_LEN = 148,
};

enum flood_mode {
	FLOOD_JUNK,
	FLOOD_UNKNOWN,
	FLOOD_INIT,
	FLOOD_DSTOPT
};

static uint64_t flood_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static volatile sig_atomic_t flood_stop;

static void flood_on_signal(int sig)
{
	(void)sig;
	flood_stop = 1;
}

/* xorshift64*: the payloads need to vary, not to be secret */
static uint64_t flood_rng = 0x9e3779b97f4a7c15ULL;
static uint64_t flood_rand(void)
{
	flood_rng ^= flood_rng >> 12;
	flood_rng ^= flood_rng << 25;
	flood_rng ^= flood_rng >> 27;
	return flood_rng * 2685821657736338717ULL;
}

static void flood_fill(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t r = flood_rand();

		memcpy(p + i, &r, n - i < 8 ? n - i : 8);
	}
}

/* The one's-complement sum of data added to sum (not folded, not inverted). */
static uint32_t flood_sum(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)(p[len - 1] << 8);
	return sum;
}

static uint16_t flood_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static uint16_t flood_csum(const void *data, size_t len)
{
	return flood_fold(flood_sum(0, data, len));
}

struct flood_cfg {
	enum flood_mode mode;
	uint8_t dst_mac[6], src_mac[6];
	struct in_addr dst;
	uint32_t src_net, src_mask; /* host order */
	struct in6_addr dst6, src6; /* dstopt: the destination, the sources' /64 */
	uint16_t port;
	uint8_t mac1_key[WG_HASH_LEN];
};

/* A WireGuard-looking payload of the junk or unknown kind into pl; its length. */
static size_t flood_payload(enum flood_mode mode, uint8_t *pl)
{
	size_t n;

	if (mode == FLOOD_JUNK) {
		n = 4 + flood_rand() % 197;
		flood_fill(pl, n);
		pl[0] = (uint8_t)(5 + pl[0] % 250); /* never types 1-4 */
		return n;
	}
	n = 32 + 16 * (flood_rand() % 8);
	flood_fill(pl, n);
	memset(pl, 0, 16);
	pl[0] = 4;
	flood_fill(pl + 4, 4); /* receiver index */
	return n;
}

/* IPv6, Destination Options (8 bytes: next header, length 0, PadN of 4), UDP, and junk or
 * unknown-index data in turn. */
static size_t flood_frame6(const struct flood_cfg *c, uint8_t *buf)
{
	struct ether_header *eth = (struct ether_header *)buf;
	struct ip6_hdr *ip6 = (struct ip6_hdr *)(eth + 1);
	uint8_t *dopt = (uint8_t *)(ip6 + 1);
	struct udphdr *udp = (struct udphdr *)(dopt + 8);
	uint8_t *pl = (uint8_t *)(udp + 1);
	uint32_t sum, ulen;
	size_t n = flood_payload(flood_rand() & 1 ? FLOOD_JUNK : FLOOD_UNKNOWN, pl);

	memcpy(eth->ether_dhost, c->dst_mac, 6);
	memcpy(eth->ether_shost, c->src_mac, 6);
	eth->ether_type = htons(ETHERTYPE_IPV6);
	memset(ip6, 0, sizeof(*ip6));
	ip6->ip6_flow = htonl(6u << 28);
	ulen = (uint32_t)(sizeof(*udp) + n);
	ip6->ip6_plen = htons((uint16_t)(8 + ulen));
	ip6->ip6_nxt = IPPROTO_DSTOPTS;
	ip6->ip6_hlim = 64;
	ip6->ip6_src = c->src6;
	for (int i = 8; i < 16; i += 8) {
		uint64_t r = flood_rand();

		memcpy(&ip6->ip6_src.s6_addr[i], &r, 8);
	}
	ip6->ip6_dst = c->dst6;
	dopt[0] = IPPROTO_UDP;
	dopt[1] = 0; /* 8 bytes in all */
	dopt[2] = 1; /* PadN */
	dopt[3] = 4;
	memset(dopt + 4, 0, 4);
	udp->source = htons((uint16_t)(1024 + flood_rand() % 60000));
	udp->dest = htons(c->port);
	udp->len = htons((uint16_t)ulen);
	udp->check = 0;
	/* pseudo-header: source, destination, upper-layer length, next header (UDP) */
	sum = flood_sum(0, &ip6->ip6_src, 32);
	sum += ulen >> 16;
	sum += ulen & 0xffff;
	sum += IPPROTO_UDP;
	sum = flood_sum(sum, udp, ulen);
	udp->check = flood_fold(sum);
	if (!udp->check)
		udp->check = 0xffff;
	return sizeof(*eth) + sizeof(*ip6) + 8 + ulen;
}

/* One frame into buf; its length. */
static size_t flood_frame(const struct flood_cfg *c, uint8_t *buf)
{
	struct ether_header *eth = (struct ether_header *)buf;
	struct iphdr *ip = (struct iphdr *)(eth + 1);
	struct udphdr *udp = (struct udphdr *)(ip + 1);
	uint8_t *pl = (uint8_t *)(udp + 1);
	uint32_t host;
	size_t n;

	if (c->mode == FLOOD_DSTOPT)
		return flood_frame6(c, buf);
	memcpy(eth->ether_dhost, c->dst_mac, 6);
	memcpy(eth->ether_shost, c->src_mac, 6);
	eth->ether_type = htons(ETHERTYPE_IP);
	switch (c->mode) {
	case FLOOD_JUNK:
	case FLOOD_UNKNOWN:
		n = flood_payload(c->mode, pl);
		break;
	default:
		n = FLOOD_INIT_LEN;
		flood_fill(pl, n);
		memset(pl, 0, 4);
		pl[0] = 1;
		crypto_mac(pl + 116, c->mac1_key, WG_HASH_LEN, pl, 116);
		memset(pl + 132, 0, 16);
		break;
	}
	do {
		host = c->src_net | ((uint32_t)flood_rand() & ~c->src_mask);
	} while (c->src_mask == 0xffffff00u && (host & 0xff) < 16);
	memset(ip, 0, sizeof(*ip));
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->tot_len = htons((uint16_t)(sizeof(*ip) + sizeof(*udp) + n));
	ip->saddr = htonl(host);
	ip->daddr = c->dst.s_addr;
	ip->check = flood_csum(ip, sizeof(*ip));
	udp->source = htons((uint16_t)(1024 + flood_rand() % 60000));
	udp->dest = htons(c->port);
	udp->len = htons((uint16_t)(sizeof(*udp) + n));
	udp->check = 0; /* optional over IPv4 */
	return sizeof(*eth) + sizeof(*ip) + sizeof(*udp) + n;
}

static int flood_usage(void)
{
	fprintf(stderr, "usage: flood-gen -i IFACE -M DSTMAC -d DSTIP -p PORT "
			"-m junk|unknown|init|dstopt [-s SRCNET/CIDR] [-k PUBKEY] [-t SECONDS]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static uint8_t frames[FLOOD_BATCH][FLOOD_FRAME_MAX];
	struct flood_cfg c = { .port = 51820 };
	const char *ifname = NULL, *src = NULL, *mode = NULL, *pub = NULL, *dst = NULL;
	struct mmsghdr msgs[FLOOD_BATCH];
	struct iovec iov[FLOOD_BATCH];
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	unsigned long secs = 10;
	uint64_t sent = 0, t0, end;
	struct ifreq ifr;
	int opt, fd, one = 1;

	while ((opt = getopt(argc, argv, "i:M:d:p:m:s:k:t:")) != -1) {
		switch (opt) {
		case 'i':
			ifname = optarg;
			break;
		case 'M':
			if (sscanf(optarg, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &c.dst_mac[0],
				   &c.dst_mac[1], &c.dst_mac[2], &c.dst_mac[3], &c.dst_mac[4],
				   &c.dst_mac[5]) != 6)
				return flood_usage();
			break;
		case 'd':
			dst = optarg;
			break;
		case 'p':
			c.port = (uint16_t)strtoul(optarg, NULL, 10);
			break;
		case 'm':
			mode = optarg;
			break;
		case 's':
			src = optarg;
			break;
		case 'k':
			pub = optarg;
			break;
		case 't':
			secs = strtoul(optarg, NULL, 10);
			break;
		default:
			return flood_usage();
		}
	}
	if (!ifname || !mode || !dst || !secs || secs > FLOOD_MAX_SECONDS)
		return flood_usage();
	if (!strcmp(mode, "dstopt")) {
		char net[64];
		const char *slash;

		c.mode = FLOOD_DSTOPT;
		src = src ? src : "2001:db8:fe::/64";
		slash = strchr(src, '/');
		snprintf(net, sizeof(net), "%.*s", slash ? (int)(slash - src) : (int)strlen(src),
			 src);
		/* the low 64 bits are random per frame: only a /64 is taken */
		if (inet_pton(AF_INET6, dst, &c.dst6) != 1 ||
		    inet_pton(AF_INET6, net, &c.src6) != 1 || (slash && strcmp(slash, "/64"))) {
			fprintf(stderr, "flood-gen: dstopt needs -d IPv6 and -s IPv6/64\n");
			return 2;
		}
		goto open;
	}
	if (inet_pton(AF_INET, dst, &c.dst) != 1)
		return flood_usage();
	src = src ? src : "203.0.113.0/24";
	if (!strcmp(mode, "junk")) {
		c.mode = FLOOD_JUNK;
	} else if (!strcmp(mode, "unknown")) {
		c.mode = FLOOD_UNKNOWN;
	} else if (!strcmp(mode, "init")) {
		static const char label[] = "mac1----";
		uint8_t key[WG_KEY_LEN];

		if (!pub || !crypto_key_from_base64(key, pub)) {
			fprintf(stderr, "flood-gen: init needs -k with the gateway's public key\n");
			return 2;
		}
		c.mode = FLOOD_INIT;
		crypto_init();
		crypto_hash(c.mac1_key, label, sizeof(label) - 1, key, sizeof(key));
	} else {
		return flood_usage();
	}
	{
		char net[32];
		const char *slash = strchr(src, '/');
		unsigned long bits = slash ? strtoul(slash + 1, NULL, 10) : 32;
		struct in_addr a;

		snprintf(net, sizeof(net), "%.*s", slash ? (int)(slash - src) : (int)strlen(src),
			 src);
		if (inet_pton(AF_INET, net, &a) != 1 || bits < 8 || bits > 32)
			return flood_usage();
		c.src_mask = bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits);
		c.src_net = ntohl(a.s_addr) & c.src_mask;
	}
open:
	flood_rng ^= flood_now_ns() | 1;

	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		perror("flood-gen: socket(AF_PACKET)");
		return 1;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		perror("flood-gen: SIOCGIFHWADDR");
		return 1;
	}
	memcpy(c.src_mac, ifr.ifr_hwaddr.sa_data, 6);
	sll.sll_ifindex = (int)if_nametoindex(ifname);
	sll.sll_protocol = htons(ETH_P_IP);
	sll.sll_halen = 6;
	memcpy(sll.sll_addr, c.dst_mac, 6);
	if (setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) < 0)
		perror("flood-gen: PACKET_QDISC_BYPASS (going through the qdisc)");
	if (bind(fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		perror("flood-gen: bind");
		return 1;
	}
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < FLOOD_BATCH; i++) {
		iov[i].iov_base = frames[i];
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &sll;
		msgs[i].msg_hdr.msg_namelen = sizeof(sll);
	}
	signal(SIGINT, flood_on_signal);
	signal(SIGTERM, flood_on_signal);
	t0 = flood_now_ns();
	end = t0 + secs * 1000000000ULL;
	/* bounded by time: every pass reads the clock */
	while (!flood_stop && flood_now_ns() < end) {
		int n;

		for (int i = 0; i < FLOOD_BATCH; i++)
			iov[i].iov_len = flood_frame(&c, frames[i]);
		n = sendmmsg(fd, msgs, FLOOD_BATCH, 0);
		if (n > 0)
			sent += (uint64_t)n;
		else if (n < 0 && errno != ENOBUFS && errno != EAGAIN && errno != EINTR) {
			perror("flood-gen: sendmmsg");
			break;
		}
	}
	{
		double s = (double)(flood_now_ns() - t0) / 1e9;

		printf("sent %llu in %.2f s (%.0f pps)\n", (unsigned long long)sent, s,
		       s > 0 ? (double)sent / s : 0.0);
	}
	close(fd);
	return 0;
}
