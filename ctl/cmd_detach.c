// SPDX-License-Identifier: GPL-2.0
/*
 * detach: clean up by hand after a daemon that could not (kill -9, a crash, a power cut in the
 * middle of shutdown). Takes xdpwg's XDP program off an uplink — only ours, found by program
 * name, never someone else's — and, given the TUN name, removes its pinned maps. A running
 * daemon replaces all this itself at start, so this is for leaving an uplink clean.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "pins.h"

/* Whether a daemon answers on TUN's configuration socket. */
static int detach_daemon_alive(const char *tun)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd, alive;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s.sock", ctl_socket_dir(), tun);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	alive = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
	close(fd);
	return alive;
}

static int cmd_detach(int argc, char **argv)
{
	const char *iface, *tun = NULL;
	bool force = false;
	int i, n = 0, ret;

	iface = NULL;
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--force")) {
			force = true;
		} else if (argv[i][0] == '-') {
			ctl_err("detach: unknown option '%s'", argv[i]);
			return ctl_usage("detach");
		} else if (n == 0) {
			iface = argv[i];
			n++;
		} else if (n == 1) {
			tun = argv[i];
			n++;
		} else {
			return ctl_usage("detach");
		}
	}
	if (!iface)
		return ctl_usage("detach");
	if (tun && !ifname_valid(tun)) {
		ctl_err("detach: '%s' is not a valid interface name", tun);
		return 1;
	}
	if (tun && !force && detach_daemon_alive(tun)) {
		ctl_err("detach: a daemon is running for %s; stop it instead (it detaches on "
			"exit), "
			"or use --force",
			tun);
		return 1;
	}
	ret = pins_detach_stale(iface, tun);
	if (ret < 0) {
		ctl_err("detach: %s: %s", iface,
			ret == -ENODEV ? "no such interface" : strerror(-ret));
		return 1;
	}
	printf("detached xdpwg from %s%s%s\n", iface, tun ? ", removed the pins of " : "",
	       tun ? tun : "");
	return 0;
}

CTL_COMMAND(detach, .name = "detach", .run = cmd_detach, .usage = "IFACE [TUNNAME] [--force]",
	    .summary = "remove xdpwg's XDP program from IFACE (and TUNNAME's pins) by hand");
