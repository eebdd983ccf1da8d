// SPDX-License-Identifier: GPL-2.0
/*
 * xdpwgctl: dispatch to the commands registered with CTL_COMMAND (see ctl.h).
 * With no arguments it runs `show`, as wg(8) does.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "ctl.h"

const char *ctl_prog = "xdpwgctl";

/* Provided by the linker for the section CTL_COMMAND fills. */
extern const struct ctl_command *const __start_xdpwgctl_cmds[];
extern const struct ctl_command *const __stop_xdpwgctl_cmds[];

void ctl_err(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", ctl_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Counted through integers: the two symbols are distinct objects to the C language. */
static size_t ctl_ncmds(void)
{
	return ((uintptr_t)__stop_xdpwgctl_cmds - (uintptr_t)__start_xdpwgctl_cmds) /
	       sizeof(__start_xdpwgctl_cmds[0]);
}

static const struct ctl_command *ctl_find(const char *name)
{
	size_t i, n = ctl_ncmds();

	for (i = 0; i < n; ++i)
		if (!strcmp(__start_xdpwgctl_cmds[i]->name, name))
			return __start_xdpwgctl_cmds[i];
	return NULL;
}

int ctl_usage(const char *name)
{
	const struct ctl_command *c = ctl_find(name);

	if (c)
		fprintf(stderr, "Usage: %s %s %s\n", ctl_prog, c->name, c->usage);
	return 1;
}

static int ctl_cmp_cmds(const void *a, const void *b)
{
	return strcmp((*(const struct ctl_command *const *)a)->name,
		      (*(const struct ctl_command *const *)b)->name);
}

static int ctl_help(int argc, char **argv)
{
	const struct ctl_command *sorted[128] = { NULL };
	size_t n = ctl_ncmds(), i;

	(void)argc;
	(void)argv;
	if (n > 128)
		n = 128;
	for (i = 0; i < n; ++i)
		sorted[i] = __start_xdpwgctl_cmds[i];
	qsort(sorted, n, sizeof(sorted[0]), ctl_cmp_cmds);
	printf("Usage: %s <cmd> [<args>]\n\nAvailable subcommands:\n", ctl_prog);
	for (i = 0; i < n; ++i)
		printf("  %-10s %s\n", sorted[i]->name, sorted[i]->summary);
	printf("You may pass `--help' to any of these subcommands to view usage.\n");
	return 0;
}
CTL_COMMAND(help, .name = "help", .run = ctl_help, .usage = "", .summary = "Shows this help");

int main(int argc, char **argv)
{
	static char show[] = "show";
	char *show_argv[] = { show, NULL };
	const struct ctl_command *c;

	if (crypto_init()) {
		ctl_err("cannot initialise the crypto libraries");
		return 1;
	}
	if (argc < 2)
		return ctl_find("show")->run(1, show_argv);
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return ctl_help(argc - 1, argv + 1);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-v")) {
		printf("xdpwgctl (xdpwg) - wg(8) compatible\n");
		return 0;
	}
	c = ctl_find(argv[1]);
	if (!c) {
		ctl_err("invalid subcommand `%s'; run `%s help'", argv[1], ctl_prog);
		return 1;
	}
	if (argc == 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")) &&
	    strcmp(c->name, "help")) {
		printf("Usage: %s %s %s\n", ctl_prog, c->name, c->usage);
		return 0;
	}
	return c->run(argc - 1, argv + 1);
}
