/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the etcd client's two files share (etcd.h is its interface): the client itself, a
 * reply buffer, and the helpers the watch stream (etcd_watch.c) borrows from the requests
 * (etcd.c): errors, the JSON encodings, and the curl set-up of a request.
 */
#ifndef XDPWG_ETCD_INTERNAL_H
#define XDPWG_ETCD_INTERNAL_H

#include <curl/curl.h>
#include <json.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "etcd.h"

struct etcd {
	char urls[ETCD_MAX_ENDPOINTS][ETCD_URL_MAX];
	size_t n_urls;
	size_t cur; /* the endpoint tried first */
	CURL *curl;
	const atomic_bool *abort;
	long timeout_cap_ms;
	char err[ETCD_ERR_LEN];
};

/* A reply as it arrives. */
struct etcd_buf {
	char *data;
	size_t len, cap, max;
};

void etcd_seterr(struct etcd *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int64_t etcd_json_i64(struct json_object *o, const char *name);
bool etcd_json_bool(struct json_object *o, const char *name);
char *etcd_prefix_end(const char *prefix);
int etcd_kv_from_json(struct json_object *o, struct etcd_kv *kv);
size_t etcd_buf_write(char *ptr, size_t size, size_t nmemb, void *ud);
void etcd_curl_setup(struct etcd *e, const char *url, const char *body, struct curl_slist *hdrs,
		     long timeout_ms);
char *etcd_body(struct json_object *o);
int etcd_add_b64(struct json_object *o, const char *name, const void *data, size_t len);
void etcd_add_i64(struct json_object *o, const char *name, int64_t v);

#endif
