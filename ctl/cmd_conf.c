// SPDX-License-Identifier: GPL-2.0
/*
 * setconf, addconf, syncconf: a wg config file applied in one set=1, as wg(8) does.
 * syncconf diffs against the running configuration so that peers which stay keep their
 * sessions: peers missing from the file are removed, the rest are updated in place.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "ctl.h"

static const struct conf_peer *conf_find_peer(const struct conf_dev *c, size_t n,
					      const uint8_t key[WG_KEY_LEN])
{
	size_t i;

	for (i = 0; i < n; ++i)
		if (!memcmp(c->peers[i].public_key, key, WG_KEY_LEN))
			return &c->peers[i];
	return NULL;
}

int ctl_sync_conf(const char *iface, struct conf_dev *file)
{
	struct conf_dev *run;
	size_t n_file = file->n_peers, i;

	/* a file without peers: replace_peers alone removes them all */
	if (!n_file)
		return 0;
	if (ctl_ipc_get(iface, &run))
		return -1;
	if (!run->n_peers) {
		conf_free(run);
		return 0;
	}
	file->flags &= ~(unsigned int)CONF_DEV_REPLACE_PEERS;
	/* quadratic, but peer counts that would notice are far beyond what a file holds */
	for (i = 0; i < run->n_peers; ++i) {
		const struct conf_peer *r = &run->peers[i];
		struct conf_peer *f =
			(struct conf_peer *)conf_find_peer(file, n_file, r->public_key);

		if (!f) {
			struct conf_peer *rm = conf_add_peer(file);

			if (!rm) {
				ctl_err("out of memory");
				conf_free(run);
				return -1;
			}
			memcpy(rm->public_key, r->public_key, WG_KEY_LEN);
			rm->flags = CONF_PEER_REMOVE;
			continue;
		}
		/* what the file leaves out is reset, as if the peer were configured afresh */
		if (!crypto_is_zero(r->preshared_key, WG_KEY_LEN) &&
		    !(f->flags & CONF_PEER_HAS_PRESHARED_KEY)) {
			memset(f->preshared_key, 0, WG_KEY_LEN);
			f->flags |= CONF_PEER_HAS_PRESHARED_KEY;
		}
		if (r->persistent_keepalive && !(f->flags & CONF_PEER_HAS_PERSISTENT_KEEPALIVE)) {
			f->persistent_keepalive = 0;
			f->flags |= CONF_PEER_HAS_PERSISTENT_KEEPALIVE;
		}
		if ((r->flags & CONF_PEER_HAS_ROAM_POLICY) && r->roam_policy != CONF_ROAM_ANY &&
		    !(f->flags & CONF_PEER_HAS_ROAM_POLICY)) {
			f->roam_policy = CONF_ROAM_ANY;
			f->flags |= CONF_PEER_HAS_ROAM_POLICY;
		}
	}
	conf_free(run);
	return 0;
}

/*
 * setconf/syncconf replace the whole configuration: a file without AllowSource means any
 * source. The key goes out only to a daemon that reported an allowlist (xdpwgd): stock daemons
 * refuse unknown keys, and have no allowlist to clear.
 */
static int conf_allow_source_reset(const char *iface, struct conf_dev *file)
{
	struct conf_dev *run;

	if (file->flags & CONF_DEV_HAS_ALLOW_SOURCE)
		return 0;
	if (ctl_ipc_get(iface, &run))
		return -1;
	if (run->n_allow_src) {
		file->n_allow_src = 0;
		file->flags |= CONF_DEV_HAS_ALLOW_SOURCE | CONF_DEV_REPLACE_ALLOW_SOURCE;
	}
	conf_free(run);
	return 0;
}

static int conf_main(int argc, char **argv)
{
	char err[CTL_ERR_LEN];
	struct conf_dev *c = NULL;
	bool append = !strcmp(argv[0], "addconf");
	int ret = 1;

	if (argc != 3)
		return ctl_usage(argv[0]);
	if (conf_parse_file_mode(argv[2], append, &c, err, sizeof(err))) {
		ctl_err("%s: %s", argv[0], err);
		return 1;
	}
	if (!strcmp(argv[0], "syncconf") && ctl_sync_conf(argv[1], c))
		goto out;
	if (!append && conf_allow_source_reset(argv[1], c))
		goto out;
	if (!ctl_ipc_set(argv[1], c))
		ret = 0;
out:
	conf_free(c);
	return ret;
}

CTL_COMMAND(setconf, .name = "setconf", .run = conf_main,
	    .usage = "<interface> <configuration filename>",
	    .summary = "Applies a configuration file to a WireGuard interface");
CTL_COMMAND(addconf, .name = "addconf", .run = conf_main,
	    .usage = "<interface> <configuration filename>",
	    .summary = "Appends a configuration file to a WireGuard interface");
CTL_COMMAND(syncconf, .name = "syncconf", .run = conf_main,
	    .usage = "<interface> <configuration filename>",
	    .summary = "Synchronizes a configuration file to a WireGuard interface");
