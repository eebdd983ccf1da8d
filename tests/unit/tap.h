/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal TAP producer for the unit tests: prove reads what these print.
 */
#ifndef XDPWG_TAP_H
#define XDPWG_TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static int tap_n, tap_failed;

static inline __attribute__((format(printf, 2, 3))) int tap_ok(int cond, const char *fmt, ...)
{
	va_list ap;

	++tap_n;
	if (!cond)
		++tap_failed;
	printf("%sok %d - ", cond ? "" : "not ", tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	return cond;
}

#define ok(cond, ...) tap_ok(!!(cond), __VA_ARGS__)
#define is_int(a, b, name)                                                                         \
	do {                                                                                       \
		long long _a = (long long)(a), _b = (long long)(b);                                \
		if (!ok(_a == _b, "%s", name))                                                     \
			printf("#   got %lld, expected %lld\n", _a, _b);                           \
	} while (0)
#define is_mem(a, b, len, name) ok(memcmp((a), (b), (len)) == 0, "%s", name)

static inline void tap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* n tests that cannot run here, as TAP skips (prove counts them as skipped, not passed). */
static inline void tap_skip(int n, const char *why)
{
	while (n-- > 0)
		printf("ok %d # SKIP %s\n", ++tap_n, why);
	fflush(stdout);
}

/* Run fn in a child process: true when it returned and the child exited 0 (no crash, no
 * abort), so that "X does nothing harmful" is something a test can fail on. */
static inline int tap_survives_in_child(void (*fn)(void))
{
	int status = 0;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 0;
	if (pid == 0) {
		fn();
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return 0;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Print the plan at the end and exit non-zero if anything failed. */
static inline int done_testing(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
