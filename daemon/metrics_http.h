/* SPDX-License-Identifier: GPL-2.0 */
/*
 * xdpwgd --metrics ADDR:PORT: GET /metrics over HTTP for Prometheus, the same exposition as
 * `xdpwgctl metrics` (lib/prom.h), served by the control thread from its own state.
 */
#ifndef XDPWG_METRICS_HTTP_H
#define XDPWG_METRICS_HTTP_H

#include "endpoint.h"

struct metrics_http;
struct xdpwgd;

/* Listen on addr (TCP). NULL with *err = -errno (logged) when it cannot. */
struct metrics_http *metrics_http_new(const struct wg_endpoint *addr, int *err);
int metrics_http_fd(const struct metrics_http *m);
/* Answer the connections that are waiting (a bounded number per call). */
void metrics_http_poll(struct metrics_http *m, struct xdpwgd *d);
void metrics_http_free(struct metrics_http *m);

#endif
