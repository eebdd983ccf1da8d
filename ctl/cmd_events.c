// SPDX-License-Identifier: GPL-2.0
/*
 * events: endpoint moves, from the daemon's events socket /var/run/wireguard/IFACE.events (see
 * daemon/events.h for the protocol and the line format). Without --follow: the recent moves (the
 * daemon keeps 256), then exit. With --follow: the recent ones, then each new move as it happens,
 * until interrupted or the daemon goes away. --json prints the daemon's JSON lines unchanged,
 * one object per line; otherwise one readable line per move. Stock daemons have no events
 * socket: that is an error here and changes nothing else.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "observe.h"

enum events_ctl_constants {
	EVENTS_CTL_LINE_MAX = 4096,
};

static void events_print_human(const char *line)
{
	char peer[64] = "?", o[128] = "?", n[128] = "?", t[40] = "0", detect[32] = "0";
	char src[24] = "?", sent[24] = "0", moves[24] = "0", ack[8] = "0", when[64];
	time_t sec;
	struct tm tm;

	obs_json_field(line, "peer", peer, sizeof(peer));
	obs_json_field(line, "old_endpoint", o, sizeof(o));
	obs_json_field(line, "new_endpoint", n, sizeof(n));
	obs_json_field(line, "time", t, sizeof(t));
	obs_json_field(line, "detect_ns", detect, sizeof(detect));
	obs_json_field(line, "first_seen_source", src, sizeof(src));
	obs_json_field(line, "sent_to_old", sent, sizeof(sent));
	obs_json_field(line, "moves", moves, sizeof(moves));
	obs_json_field(line, "ack_sent", ack, sizeof(ack));
	sec = (time_t)strtoll(t, NULL, 10);
	if (localtime_r(&sec, &tm))
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	else
		snprintf(when, sizeof(when), "%s", t);
	printf("%s.%.3s peer %s moved %s -> %s (%.3f ms after first seen [%s], %s sent to the old "
	       "endpoint, move %s%s)\n",
	       when, strchr(t, '.') ? strchr(t, '.') + 1 : "000", peer, o, n,
	       strtod(detect, NULL) / 1e6, src, sent, moves,
	       strcmp(ack, "1") ? "" : ", acknowledged");
}

static int events_connect(const char *iface)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, n;

	n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.events", ctl_socket_dir(), iface);
	if (n < 0 || (size_t)n >= sizeof(sun.sun_path)) {
		ctl_err("%s: interface name too long", iface);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ctl_err("socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		ctl_err("Unable to access the events of interface %s: %s%s", iface, strerror(errno),
			errno == ENOENT ? " (not an xdpwgd interface?)" : "");
		close(fd);
		return -1;
	}
	return fd;
}

static int events_run(int argc, char **argv)
{
	bool follow = false, json = false;
	const char *iface = NULL, *req;
	char buf[EVENTS_CTL_LINE_MAX];
	size_t have = 0;
	FILE *in;
	int fd;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--follow") || !strcmp(argv[i], "-f"))
			follow = true;
		else if (!strcmp(argv[i], "--json"))
			json = true;
		else if (argv[i][0] != '-' && !iface)
			iface = argv[i];
		else
			return ctl_usage(argv[0]);
	}
	if (!iface)
		return ctl_usage(argv[0]);
	fd = events_connect(iface);
	if (fd < 0)
		return 1;
	req = follow ? "follow=1\n\n" : "get=1\n\n";
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
		ctl_err("%s: sending the request: %s", iface, strerror(errno));
		close(fd);
		return 1;
	}
	in = fdopen(fd, "r");
	if (!in) {
		close(fd);
		return 1;
	}
	while (fgets(buf, sizeof(buf), in)) {
		have++;
		if (json)
			fputs(buf, stdout);
		else
			events_print_human(buf);
		if (follow)
			fflush(stdout);
	}
	fclose(in);
	(void)have;
	return 0;
}

CTL_COMMAND(events, .name = "events", .run = events_run, .usage = "<interface> [--follow] [--json]",
	    .summary = "Show the endpoint moves of an xdpwgd interface; --follow streams new ones");
