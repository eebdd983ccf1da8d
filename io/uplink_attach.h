/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Between the two halves of the uplink module (uplink.c: the chain; uplink_attach.c: what is
 * attached to the uplink). io only; the module's public face is uplink.h.
 */
#ifndef XDPWG_UPLINK_ATTACH_H
#define XDPWG_UPLINK_ATTACH_H

#include <stdbool.h>
#include <stdint.h>

#include "loader.h"

struct uplink;

/* The id of the entry program on ifindex: attached itself, or one of libxdp's dispatcher's
 * programs. 0: none. *legacy_mode: the XDP_FLAGS_* mode when attached itself, else 0. */
uint32_t uplink_mux_id(int ifindex, uint32_t *legacy_mode);
/* Attach the entry program, with u's shared maps, through libxdp (alone where it cannot). */
int uplink_attach_mux(struct uplink *u, int ifindex, enum loader_mode mode);
/* Detach the entry program, however it is attached. */
void uplink_detach_mux(int ifindex);
/* Detach a stale xdpwg_rx attached by itself and, with except_mux false, the entry program. */
void uplink_detach_legacy(int ifindex, bool except_mux);
/* Name, in an error line, the program that kept us off the uplink. */
void uplink_say_foreign(int ifindex);
/* The mode libxdp's attachment on ifindex runs in; with say, a line when prog runs under its
 * dispatcher. */
bool uplink_libxdp_native(int ifindex, const char *prog, bool say);

#endif
