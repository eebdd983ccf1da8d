// SPDX-License-Identifier: GPL-2.0
/*
 * The device: identity, peer set, the data path's entry points, the handshake queue between
 * workers and the control thread, the tick. Configuration (apply, snapshot) is device_conf.c.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "allowedips.h"
#include "crypto.h"
#include "device.h"
#include "log.h"
#include "multipath.h"
#include "peer.h"
#include "ratelimiter.h"
#include "receive.h"
#include "send.h"
#include "ticklist.h"
#include "timers.h"

enum device_constants {
	DEVICE_DEFAULT_MTU = 1420,
	DEVICE_TICK_MAX_MS = 1000,
};

uint64_t wg_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static uint64_t device_monotonic(void *ctx)
{
	(void)ctx;
	return wg_monotonic_ns();
}

uint64_t wg_device_now(const struct wg_device *dev)
{
	return dev->clock(dev->clock_ctx);
}

int64_t wg_device_wall_ns(const struct wg_device *dev)
{
	struct timespec ts;

	/* A test's fake clock moves the wall clock too (timestamps must grow with it); for real,
	 * the wall clock is the system's, as the kernel's timestamps and handshake times are. */
	if (dev->clock != device_monotonic)
		return (int64_t)wg_device_now(dev) + dev->wall_offset_ns;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * (int64_t)NSEC_PER_SEC + ts.tv_nsec;
}

void wg_device_count_drop(struct wg_device *dev, enum wg_drop_reason r)
{
	if (r > WG_DROP_NONE && r < WG_DROP_REASON_MAX)
		atomic_fetch_add_explicit(&dev->drops[r], 1, memory_order_relaxed);
}

void wg_device_signal(struct wg_device *dev)
{
	uint64_t one = 1;

	/* EAGAIN only when the counter is about to overflow: it is readable then anyway. */
	if (write(dev->event_fd, &one, sizeof(one)) < 0)
		return;
}

void wg_device_session_gone(struct wg_device *dev, uint32_t local_index)
{
	if (!dev->ops.session_del)
		return;
	pthread_mutex_lock(&dev->gone_lock);
	if (dev->n_gone == dev->cap_gone) {
		size_t cap = dev->cap_gone ? dev->cap_gone * 2 : 16;
		uint32_t *g = realloc(dev->gone, cap * sizeof(*g));

		if (!g) {
			pthread_mutex_unlock(&dev->gone_lock);
			return;
		}
		dev->gone = g;
		dev->cap_gone = cap;
	}
	dev->gone[dev->n_gone++] = local_index;
	pthread_mutex_unlock(&dev->gone_lock);
	wg_device_signal(dev);
}

void device_flush_gone(struct wg_device *dev)
{
	uint32_t *g;
	size_t n, i;

	pthread_mutex_lock(&dev->gone_lock);
	g = dev->gone;
	n = dev->n_gone;
	dev->gone = NULL;
	dev->n_gone = dev->cap_gone = 0;
	pthread_mutex_unlock(&dev->gone_lock);
	for (i = 0; i < n; i++)
		dev->ops.session_del(dev->io_ctx, g[i]);
	free(g);
}

static struct wg_peer **device_key_bucket(struct wg_device *dev, const uint8_t pub[WG_KEY_LEN])
{
	const size_t n = sizeof(dev->peers_by_key) / sizeof(dev->peers_by_key[0]);
	uint32_t h;

	/* Public keys are uniformly random points: their bytes are a hash already. The key is
	 * chosen by whoever configures the peer, never by a packet, so no secret seed is needed. */
	memcpy(&h, pub, sizeof(h));
	return &dev->peers_by_key[h % n];
}

struct wg_peer *wg_device_lookup_peer(struct wg_device *dev, const uint8_t pub[WG_KEY_LEN])
{
	struct wg_peer *p;

	for (p = *device_key_bucket(dev, pub); p; p = p->next_by_key)
		if (!memcmp(p->handshake.remote_static, pub, WG_KEY_LEN))
			return p;
	return NULL;
}

void device_hash_peer(struct wg_device *dev, struct wg_peer *peer)
{
	struct wg_peer **b = device_key_bucket(dev, peer->handshake.remote_static);

	peer->next_by_key = *b;
	*b = peer;
}

void wg_device_unhash_peer(struct wg_device *dev, struct wg_peer *peer)
{
	struct wg_peer **pp;

	for (pp = device_key_bucket(dev, peer->handshake.remote_static); *pp;
	     pp = &(*pp)->next_by_key) {
		if (*pp == peer) {
			*pp = peer->next_by_key;
			break;
		}
	}
	peer->next_by_key = NULL;
}

/* Unlink peer (dev->lock held for writing); peer_remove_locked keeps the list's tail right. */
void device_remove_peer_locked(struct wg_device *dev, struct wg_peer *peer)
{
	(void)dev;
	peer_remove_locked(peer);
}

/* The device's own path delivers nothing when its back-end delivers through paths of its own. */
static int device_no_deliver(void *ctx, const uint8_t *pkt, size_t len)
{
	(void)ctx;
	(void)pkt;
	(void)len;
	return -EOPNOTSUPP;
}

struct wg_device *wg_device_new(const struct wg_device_opts *opts)
{
	struct wg_device *dev;
	struct timespec ts;

	if (crypto_init())
		return NULL;
	noise_init();
	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return NULL;
	dev->event_fd = -1;
	if (opts->ops)
		dev->ops = *opts->ops;
	dev->io_ctx = opts->io_ctx;
	dev->clock = opts->clock ? opts->clock : device_monotonic;
	dev->clock_ctx = opts->clock_ctx;
	snprintf(dev->name, sizeof(dev->name), "%s", opts->name ? opts->name : "wg");
	clock_gettime(CLOCK_REALTIME, &ts);
	dev->wall_offset_ns = (int64_t)ts.tv_sec * (int64_t)NSEC_PER_SEC + ts.tv_nsec -
			      (int64_t)wg_device_now(dev);
	atomic_init(&dev->mtu, DEVICE_DEFAULT_MTU);
	atomic_init(&dev->path_probe_ms, MPATH_PROBE_DEFAULT_MS);
	pthread_rwlock_init(&dev->lock, NULL);
	pthread_mutex_init(&dev->queue_lock, NULL);
	pthread_mutex_init(&dev->gone_lock, NULL);
	dev->identity = crypto_secure_alloc(sizeof(*dev->identity));
	dev->checker = crypto_secure_alloc(sizeof(*dev->checker));
	dev->queue = calloc(WG_MAX_QUEUED_INCOMING_HANDSHAKES, sizeof(*dev->queue));
	dev->prio_queue = calloc(WG_MAX_QUEUED_PRIORITY_HANDSHAKES, sizeof(*dev->prio_queue));
	dev->allowedips = allowedips_new();
	dev->index = index_table_new();
	dev->ratelimiter = ratelimiter_new();
	dev->event_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (dev->checker)
		cookie_checker_init(dev->checker);
	if (!dev->identity || !dev->checker || !dev->queue || !dev->prio_queue ||
	    !dev->allowedips || !dev->index || !dev->ratelimiter || dev->event_fd < 0 ||
	    !dev->ops.send) {
		wg_device_free(dev);
		return NULL;
	}
	{
		const struct wg_path_ops own = { .send = dev->ops.send,
						 .deliver = dev->ops.deliver ? dev->ops.deliver
									     : device_no_deliver };

		dev->path = wg_path_new(dev, &own, dev->io_ctx);
		if (!dev->path) {
			wg_device_free(dev);
			return NULL;
		}
	}
	cookie_checker_precompute_device_keys(dev->checker, NULL);
	return dev;
}

void wg_device_free(struct wg_device *dev)
{
	if (!dev)
		return;
	pthread_rwlock_wrlock(&dev->lock);
	while (dev->peers)
		device_remove_peer_locked(dev, dev->peers);
	pthread_rwlock_unlock(&dev->lock);
	ticklist_free(dev);
	if (dev->ops.session_del)
		device_flush_gone(dev);
	free(dev->gone);
	if (dev->queue) {
		crypto_wipe(dev->queue, WG_MAX_QUEUED_INCOMING_HANDSHAKES * sizeof(*dev->queue));
		free(dev->queue);
	}
	if (dev->prio_queue) {
		crypto_wipe(dev->prio_queue,
			    WG_MAX_QUEUED_PRIORITY_HANDSHAKES * sizeof(*dev->prio_queue));
		free(dev->prio_queue);
	}
	allowedips_free(dev->allowedips);
	index_table_free(dev->index);
	ratelimiter_free(dev->ratelimiter);
	crypto_secure_free(dev->identity);
	if (dev->checker)
		cookie_checker_destroy(dev->checker);
	crypto_secure_free(dev->checker);
	if (dev->event_fd >= 0)
		close(dev->event_fd);
	pthread_rwlock_destroy(&dev->lock);
	pthread_mutex_destroy(&dev->queue_lock);
	pthread_mutex_destroy(&dev->gone_lock);
	wg_path_free(dev->path);
	free(dev);
}

/* --- control thread --- */

int wg_device_handshake_fd(const struct wg_device *dev)
{
	return dev->event_fd;
}

static void device_handshakes_wanted(struct wg_device *dev)
{
	if (!atomic_exchange(&dev->handshake_wanted, false))
		return;
	ticklist_handshakes(dev);
}

/* The next queued message into e, the priority lane first. False when both are empty. */
static bool device_dequeue_handshake(struct wg_device *dev, struct handshake_queue_entry *e)
{
	bool ret = true;

	pthread_mutex_lock(&dev->queue_lock);
	if (atomic_load(&dev->prio_len)) {
		*e = dev->prio_queue[dev->prio_head];
		dev->prio_head = (dev->prio_head + 1) % WG_MAX_QUEUED_PRIORITY_HANDSHAKES;
		atomic_fetch_sub(&dev->prio_len, 1);
	} else if (atomic_load(&dev->queue_len)) {
		*e = dev->queue[dev->queue_head];
		dev->queue_head = (dev->queue_head + 1) % WG_MAX_QUEUED_INCOMING_HANDSHAKES;
		atomic_fetch_sub(&dev->queue_len, 1);
	} else {
		ret = false;
	}
	pthread_mutex_unlock(&dev->queue_lock);
	return ret;
}

unsigned int wg_device_process_handshakes(struct wg_device *dev, unsigned int budget)
{
	struct handshake_queue_entry e;
	unsigned int n = 0;
	uint64_t v;

	if (read(dev->event_fd, &v, sizeof(v)) < 0) {
		/* EAGAIN: nothing signalled; look anyway, it costs nothing */
	}
	while (n < budget && device_dequeue_handshake(dev, &e)) {
		receive_handshake(dev, &e);
		n++;
	}
	crypto_wipe(&e, sizeof(e));
	device_handshakes_wanted(dev);
	if (dev->ops.session_del)
		device_flush_gone(dev);
	/* Budget spent with work left: stay readable so the loop comes back. */
	if (atomic_load(&dev->queue_len) || atomic_load(&dev->prio_len))
		wg_device_signal(dev);
	return n;
}

int wg_device_tick(struct wg_device *dev)
{
	uint64_t now = wg_device_now(dev);
	uint64_t next = now + (uint64_t)DEVICE_TICK_MAX_MS * NSEC_PER_MSEC;
	uint64_t d;

	/* only the peers with a timer armed: a million idle ones cost nothing here */
	d = ticklist_run(dev, now);
	if (d && (int64_t)(d - next) < 0)
		next = d;
	device_handshakes_wanted(dev);
	ratelimiter_gc(dev->ratelimiter, now);
	receive_load_tick(dev);
	if (dev->ops.session_del)
		device_flush_gone(dev);
	if ((int64_t)(next - now) <= 0)
		return 0;
	return (int)((next - now + NSEC_PER_MSEC - 1) / NSEC_PER_MSEC);
}

void wg_device_announce(struct wg_device *dev, struct wg_peer *peer)
{
	struct wg_peer *p;

	for (p = peer ? peer : dev->peers; p; p = peer ? NULL : p->next_peer) {
		bool mp_client;

		pthread_spin_lock(&p->endpoint_lock);
		mp_client = mpath_client_locked(p);
		pthread_spin_unlock(&p->endpoint_lock);
		/* a multipath client announces on the path it chose, after the uplinks moved */
		if (mp_client) {
			mpath_announce(p);
			continue;
		}
		peer_clear_endpoint_src(p);
		if (send_session_valid(p)) {
			/* armed first: the answer may come back on a worker before send returns */
			timers_announce_sent(p);
			send_keepalive(dev->path, p);
		} else {
			/* an initiation has its own retransmits */
			timers_announce_cancel(p);
			/* The last initiation (if within REKEY_TIMEOUT) left by the old path: the
			 * new one must not wait out the rate limit. */
			atomic_store(&p->last_sent_handshake,
				     wg_device_now(dev) -
					     (uint64_t)(REKEY_TIMEOUT + 1) * NSEC_PER_SEC);
			send_handshake_initiation(p, false);
		}
	}
}

size_t wg_device_peer_count(const struct wg_device *dev)
{
	return __atomic_load_n(&dev->n_peers, __ATOMIC_RELAXED);
}

void wg_device_drop_counts(const struct wg_device *dev, uint64_t out[WG_DROP_REASON_MAX])
{
	int i;

	for (i = 0; i < WG_DROP_REASON_MAX; i++)
		out[i] = atomic_load_explicit(&((struct wg_device *)dev)->drops[i],
					      memory_order_relaxed);
}

const char *wg_drop_reason_name(enum wg_drop_reason r)
{
	static const char *const names[WG_DROP_REASON_MAX] = {
		[WG_DROP_NONE] = "none",
		[WG_DROP_BAD_SIZE] = "bad_size",
		[WG_DROP_BAD_TYPE] = "bad_type",
		[WG_DROP_UNKNOWN_INDEX] = "unknown_index",
		[WG_DROP_BAD_MAC1] = "bad_mac1",
		[WG_DROP_COOKIE_SENT] = "cookie_sent",
		[WG_DROP_RATELIMITED] = "ratelimited",
		[WG_DROP_HANDSHAKE_INVALID] = "handshake_invalid",
		[WG_DROP_HANDSHAKE_FLOOD] = "handshake_flood",
		[WG_DROP_QUEUE_FULL] = "queue_full",
		[WG_DROP_DECRYPT] = "decrypt",
		[WG_DROP_REPLAY] = "replay",
		[WG_DROP_DUPLICATE] = "duplicate",
		[WG_DROP_KEY_EXPIRED] = "key_expired",
		[WG_DROP_BAD_INNER] = "bad_inner",
		[WG_DROP_ALLOWEDIPS] = "allowedips",
		[WG_DROP_NO_PEER] = "no_peer",
		[WG_DROP_NO_ENDPOINT] = "no_endpoint",
	};

	if ((unsigned int)r >= WG_DROP_REASON_MAX || !names[r])
		return "unknown";
	return names[r];
}

int wg_device_set_gateway_id(struct wg_device *dev, unsigned int id)
{
	return index_table_set_owner(dev->index, id);
}

unsigned int wg_device_gateway_id(struct wg_device *dev)
{
	return index_table_owner(dev->index);
}

void wg_device_set_mtu(struct wg_device *dev, unsigned int mtu)
{
	atomic_store(&dev->mtu, mtu);
}

bool wg_device_under_load(struct wg_device *dev)
{
	uint64_t last = atomic_load(&dev->last_under_load);

	return atomic_load(&dev->forced_under_load) ||
	       atomic_load(&dev->queue_len) >= WG_UNDER_LOAD_QUEUE_DEPTH ||
	       (last && !noise_has_expired(last, 1, wg_device_now(dev)));
}

void wg_device_set_under_load_for_test(struct wg_device *dev, bool on)
{
	atomic_store(&dev->forced_under_load, on);
	if (!on)
		atomic_store(&dev->last_under_load, 0);
}
