// SPDX-License-Identifier: GPL-2.0
/*
 * Data-path contexts (struct wg_path, see device.h): one per thread that hands the engine
 * packets, carrying that thread's I/O, its scratch buffer for building data messages and its
 * cipher contexts. The device owns one more for the control thread.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "internal.h"
#include "send.h"

struct wg_path *wg_path_new(struct wg_device *dev, const struct wg_path_ops *ops, void *io_ctx)
{
	struct wg_path *p;

	if (!dev || !ops || !ops->send)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->dev = dev;
	p->ops = *ops;
	p->ctx = io_ctx;
	p->crypto = crypto_ctx_new();
	/* cache-line aligned: the AEAD runs over it */
	p->scratch = aligned_alloc(64, (SEND_SCRATCH_LEN + 63) & ~(size_t)63);
	if (!p->crypto || !p->scratch) {
		wg_path_free(p);
		return NULL;
	}
	return p;
}

void wg_path_batch_end(struct wg_path *p)
{
	crypto_ctx_scrub(p->crypto);
}

void wg_path_free(struct wg_path *p)
{
	if (!p)
		return;
	crypto_ctx_free(p->crypto);
	if (p->scratch) {
		/* the last message built here was plaintext before it was encrypted in place */
		crypto_wipe(p->scratch, SEND_SCRATCH_LEN);
		free(p->scratch);
	}
	free(p);
}

struct wg_path *wg_device_path(struct wg_device *dev)
{
	return dev->path;
}

void wg_path_set_rx_times(struct wg_path *p, uint64_t xdp_ns, uint64_t picked_ns)
{
	p->rx_xdp_ns = xdp_ns;
	p->rx_picked_ns = picked_ns;
}

/* A data message: the back-end's batch when it gathers them, any datagram's send otherwise. */
int path_send_data(struct wg_path *p, const struct wg_endpoint *dst, const uint8_t *buf, size_t len)
{
	if (p->ops.send_data)
		return p->ops.send_data(p->ctx, dst, buf, len);
	return p->ops.send(p->ctx, dst, buf, len);
}
