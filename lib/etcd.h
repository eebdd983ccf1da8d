/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small etcd v3 client: the JSON gateway etcd serves over HTTP (POST /v3/kv/range, put,
 * deleterange, /v3/lease/grant, keepalive, revoke, /v3/watch), through libcurl and json-c.
 * Keys and values are base64 on the wire and plain bytes here; int64s come as strings.
 *
 * A client holds a list of endpoints (the cluster's members) and talks to one at a time; a
 * member that does not answer (connection refused, timeout, "unavailable") is left for the
 * next, so one dead member out of three changes nothing for the caller. Every request has a
 * bounded time; a watch reconnects and resumes from the revision after the last event it
 * delivered.
 *
 * One struct etcd per thread: it is not locked.
 */
#ifndef XDPWG_ETCD_H
#define XDPWG_ETCD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum etcd_limits {
	ETCD_MAX_ENDPOINTS = 8,
	ETCD_URL_MAX = 256,
	ETCD_CONNECT_MS = 1000, /* a member that does not accept within this is skipped */
	ETCD_REQUEST_MS = 5000, /* put, delete, lease calls */
	ETCD_RANGE_MS = 30000,	/* one page of a range */
	/* keys per page of a range. Large: etcd 3.4 counts the whole rest of the range for every
	 * page it returns, so a read in pages costs (keys / page) recounts of what is left; with
	 * 5,000 a million peers took 139 s to read, with 50,000 a tenth of the recounts (a page of
	 * peer records is ~15 MB of JSON, well within ETCD_MAX_RESPONSE) */
	ETCD_RANGE_PAGE = 50000,
	ETCD_WATCH_SESSION_MS = 30000, /* a watch stream is renewed (resumed) this often */
	/* an idle watch stream to a member cut off (not dead: no reset comes) is noticed by TCP
	 * keepalive: idle 2 s, then 3 probes 1 s apart */
	ETCD_KEEPIDLE_S = 2,
	ETCD_KEEPINTVL_S = 1,
	ETCD_KEEPCNT = 3,
	ETCD_MAX_RESPONSE = 256 << 20, /* bytes of one reply (a range page) */
	ETCD_MAX_LINE = 64 << 20,      /* bytes of one watch message */
	ETCD_ERR_LEN = 256,
};

enum etcd_event_type {
	ETCD_PUT = 0,
	ETCD_DELETE = 1,
};

struct etcd;

struct etcd_kv {
	char *key; /* NUL-terminated (keys and values may hold NULs: use the lengths) */
	size_t key_len;
	char *value;
	size_t value_len;
	int64_t mod_revision;
	int64_t lease;		   /* 0: none */
	enum etcd_event_type type; /* in a watch event */
};

/*
 * "http://198.18.3.1:2379[,http://...]": up to ETCD_MAX_ENDPOINTS http:// or https:// URLs
 * (no path). NULL with the reason in err.
 */
struct etcd *etcd_new(const char *urls, char *err, size_t errlen);
void etcd_free(struct etcd *e);
/* Validate a URL list as etcd_new would, without a client; 0 or -EINVAL with err. */
int etcd_check_urls(const char *urls, char *err, size_t errlen);
/* Requests end (-ECANCELED) within about a second once *abort is set (NULL: never). */
void etcd_set_abort(struct etcd *e, const atomic_bool *abort);
/* Every request's time capped at ms (0: the defaults above), e.g. for a last call on the
 * way out. */
void etcd_set_timeout(struct etcd *e, long ms);
/* The last error of a call that failed, one line. */
const char *etcd_error(const struct etcd *e);
/* The endpoint the next request goes to first. */
const char *etcd_endpoint(const struct etcd *e);

/* Every key under prefix, at one revision (*revision: the store's revision of the read),
 * sorted by key, in pages. Free with etcd_kvs_free. 0 or -errno. */
int etcd_range_prefix(struct etcd *e, const char *prefix, struct etcd_kv **out, size_t *n,
		      int64_t *revision);
/* One key; -ENOENT when absent. */
int etcd_get(struct etcd *e, const char *key, struct etcd_kv *out);
void etcd_kv_clear(struct etcd_kv *kv);
void etcd_kvs_free(struct etcd_kv *kvs, size_t n);
/* lease 0: none. 0 or -errno. */
int etcd_put(struct etcd *e, const char *key, const char *value, size_t value_len, int64_t lease);
/* The same, only when the key does not exist (a transaction comparing its create revision
 * with 0): -EEXIST when it does. */
int etcd_create(struct etcd *e, const char *key, const char *value, size_t value_len,
		int64_t lease);
/* Delete key only while its value is exactly value (a transaction comparing the value): 0
 * when it went, -ESRCH when it holds something else or nothing, or -errno. */
int etcd_delete_if(struct etcd *e, const char *key, const char *value, size_t value_len);
/* *deleted (may be NULL): how many keys went (0 or 1). 0 or -errno. */
int etcd_delete(struct etcd *e, const char *key, int64_t *deleted);

/* A lease of ttl_s seconds; 0 or -errno. */
int etcd_lease_grant(struct etcd *e, int ttl_s, int64_t *id);
/* 0, -ENOENT when the lease has expired (grant a new one), or -errno. */
int etcd_lease_keepalive(struct etcd *e, int64_t id);
int etcd_lease_revoke(struct etcd *e, int64_t id);

/*
 * Called with the events of one watch message (one revision or several), in order. A non-zero
 * return ends the watch with that value.
 */
typedef int (*etcd_watch_fn)(void *ctx, const struct etcd_kv *evs, size_t n);

/*
 * Watch every key under prefix from revision *next (the range's revision + 1), calling fn for
 * each message. Survives members dying: on a broken stream it reconnects, to the next
 * endpoint when one does not answer, and resumes from the revision after the last event
 * delivered (kept in *next). Returns 0 once *stop is set (checked at least every second),
 * -ESTALE when *next has been compacted away (range again for a full resync), fn's non-zero
 * return, or -EIO after every endpoint failed once in a row (the caller waits and calls
 * again).
 */
int etcd_watch(struct etcd *e, const char *prefix, int64_t *next, etcd_watch_fn fn, void *ctx,
	       const atomic_bool *stop);

#endif
