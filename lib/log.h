/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One line per event, with a level. Foreground: stderr; daemonized: syslog.
 */
#ifndef XDPWG_LOG_H
#define XDPWG_LOG_H

#include <stdbool.h>
#include <syslog.h>

/* LOG_ERR .. LOG_DEBUG; messages above the level are discarded (default LOG_INFO). */
void log_set_level(int level);
int log_get_level(void);
void log_use_syslog(bool on, const char *ident);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)   log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
