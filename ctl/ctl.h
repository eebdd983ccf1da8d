/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xdpwgctl: wg(8)'s commands and output, against any daemon that speaks the configuration
 * protocol (xdpwgd, wireguard-go), plus xdpwg's extensions.
 *
 * Each command family lives in its own file and registers its commands with CTL_COMMAND, which
 * puts a descriptor in the "xdpwgctl_cmds" section; main.c walks the section, so a new command
 * (events, stats, metrics, ...) is one new file and no edit anywhere else.
 */
#ifndef XDPWGCTL_CTL_H
#define XDPWGCTL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

enum ctl_constants {
	CTL_ERR_LEN = 512,
	CTL_MAX_IFACES = 1024,
	/* stdout's buffer for the commands that print every peer, when it is not a terminal */
	CTL_STDOUT_BUF = 1 << 20,
};

struct ctl_command {
	const char *name;
	/* argv[0] is the command name; returns the exit status */
	int (*run)(int argc, char **argv);
	const char *usage;   /* arguments, for "Usage: xdpwgctl NAME USAGE" */
	const char *summary; /* one line for help */
};

#define CTL_COMMAND(ident, ...)                                                                    \
	static const struct ctl_command ctl_cmd_##ident = { __VA_ARGS__ };                         \
	static const struct ctl_command *const ctl_cmd_ptr_##ident                                 \
		__attribute__((used, section("xdpwgctl_cmds"))) = &ctl_cmd_##ident

extern const char *ctl_prog;

/* "xdpwgctl: " + message on stderr. */
void ctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "Usage: xdpwgctl NAME USAGE" for the named command; returns 1. */
int ctl_usage(const char *name);

/* The configuration protocol client (ipc.c). 0 or -errno, with a message printed. */
int ctl_ipc_get(const char *iface, struct conf_dev **out);
/* The same reply in pieces as it arrives, so that a million peers are never all in memory: fn
 * gets each piece parsed, the first (first = true) with the device's fields and maybe peers,
 * the others with peers only; a non-zero return from fn stops and is returned. 0, or -errno
 * after an error message (some pieces may have been handed on before it). */
typedef int (*ctl_piece_fn)(void *ctx, const struct conf_dev *piece, bool first);
int ctl_ipc_get_each(const char *iface, ctl_piece_fn fn, void *ctx);
/* The whole reply as it came, in its pieces, with an index of every peer: what ctl_ipc_get
 * gives without gathering the peers into one array (at a million peers, 216 MB of secure
 * memory copied and wiped at every doubling). dev is the first piece (the device's fields).
 * 0, or -errno after a message (nothing to free then). */
struct ctl_snap {
	struct conf_dev *dev;
	const struct conf_peer **peers; /* into the pieces, in the reply's order */
	size_t n_peers, cap_peers;
	struct conf_dev **pieces;
	size_t n_pieces, cap_pieces;
};
int ctl_ipc_get_snap(const char *iface, struct ctl_snap *s);
void ctl_snap_free(struct ctl_snap *s);
int ctl_ipc_set(const char *iface, const struct conf_dev *req);
/* Interfaces with a live socket, sorted; free with ctl_free_list. 0 or -errno. */
int ctl_ipc_list(char ***names, size_t *n);
void ctl_free_list(char **names, size_t n);
/* "/var/run/wireguard" */
const char *ctl_socket_dir(void);

/* Key from a file, for `set ... private-key FILE` (error printed, naming arg). 0 or -1. */
int ctl_read_key_arg(const char *arg, const char *file, uint8_t key[32]);

/* Sync a parsed file against the running config, as `wg syncconf` does (cmd_conf.c). */
int ctl_sync_conf(const char *iface, struct conf_dev *file);

/* show_paths.c: a multipath peer's paths in `show` (text lines, or JSON members after the
 * peer's others, each with its leading comma) */
void show_paths_text(const struct conf_peer *p);
/* cmd_show.c: "key":"value" with the value escaped, and a comma after it when asked */
void show_json_str(const char *key, const char *v, bool comma);
void show_paths_json(const struct conf_peer *p);

#endif
