// SPDX-License-Identifier: GPL-2.0
/*
 * The etcd client's watch (etcd.h, etcd_watch): one long HTTP request per session whose reply
 * is a stream of JSON messages, one per line; resumed from the next revision on another
 * member when a session ends, kept honest by TCP keepalives and a session bound.
 */
#include <curl/curl.h>
#include <errno.h>
#include <json.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etcd_internal.h"

struct etcd_watch_ctx {
	struct etcd *e;
	struct etcd_buf line; /* what arrived after the last complete message */
	int64_t *next;
	etcd_watch_fn fn;
	void *ctx;
	const atomic_bool *stop;
	bool created; /* the server accepted the watch: this endpoint works */
	int ret;      /* why the stream was ended from here (0: it was not) */
};

/* One message of the stream. 0, or a reason to end the watch. */
static int etcd_watch_msg(struct etcd_watch_ctx *w, const char *s)
{
	struct json_object *j = json_tokener_parse(s), *res, *evs;
	struct etcd_kv *kvs = NULL;
	size_t n = 0;
	int ret = 0;

	if (!j || !json_object_object_get_ex(j, "result", &res)) {
		struct json_object *err;

		if (j && json_object_object_get_ex(j, "error", &err))
			etcd_seterr(w->e, "%s: watch: %s", w->e->urls[w->e->cur],
				    json_object_get_string(err));
		else
			etcd_seterr(w->e, "%s: watch: a message that is not JSON",
				    w->e->urls[w->e->cur]);
		ret = -EPROTO;
		goto cleanup;
	}
	if (etcd_json_bool(res, "created"))
		w->created = true;
	if (etcd_json_bool(res, "canceled")) {
		int64_t compact = etcd_json_i64(res, "compact_revision");

		if (compact) {
			etcd_seterr(w->e, "watch: revision %lld compacted (now from %lld)",
				    (long long)*w->next, (long long)compact);
			ret = -ESTALE;
		} else {
			etcd_seterr(w->e, "%s: watch canceled by the server",
				    w->e->urls[w->e->cur]);
			ret = -EPROTO;
		}
		goto cleanup;
	}
	if (!json_object_object_get_ex(res, "events", &evs) ||
	    !json_object_is_type(evs, json_type_array) || !json_object_array_length(evs))
		goto cleanup;
	n = json_object_array_length(evs);
	kvs = calloc(n, sizeof(*kvs));
	if (!kvs) {
		ret = -ENOMEM;
		goto cleanup;
	}
	for (size_t i = 0; i < n; i++) {
		struct json_object *ev = json_object_array_get_idx(evs, i), *kv, *type;

		if (!json_object_object_get_ex(ev, "kv", &kv) ||
		    etcd_kv_from_json(kv, &kvs[i]) < 0) {
			etcd_seterr(w->e, "%s: watch: a malformed event", w->e->urls[w->e->cur]);
			n = i;
			ret = -EPROTO;
			goto cleanup;
		}
		kvs[i].type = json_object_object_get_ex(ev, "type", &type) &&
					      !strcmp(json_object_get_string(type), "DELETE")
				      ? ETCD_DELETE
				      : ETCD_PUT;
	}
	ret = w->fn(w->ctx, kvs, n);
	/* delivered: a resumed watch starts after them */
	if (kvs[n - 1].mod_revision >= *w->next)
		*w->next = kvs[n - 1].mod_revision + 1;
cleanup:
	etcd_kvs_free(kvs, n);
	json_object_put(j);
	return ret;
}

static size_t etcd_watch_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct etcd_watch_ctx *w = ud;
	size_t n = size * nmemb;
	char *nl;

	if (etcd_buf_write(ptr, size, nmemb, &w->line) != n) {
		etcd_seterr(w->e, "watch: a message longer than %d bytes", ETCD_MAX_LINE);
		w->ret = -EPROTO;
		return 0;
	}
	/* every complete message; json-c would also take several concatenated, but one by one
	 * is how the gateway sends them */
	while ((nl = memchr(w->line.data, '\n', w->line.len))) {
		size_t used = (size_t)(nl - w->line.data) + 1;
		int ret;

		*nl = '\0';
		ret = w->line.data[0] ? etcd_watch_msg(w, w->line.data) : 0;
		memmove(w->line.data, w->line.data + used, w->line.len - used + 1);
		w->line.len -= used;
		if (ret) {
			w->ret = ret;
			return 0;
		}
	}
	return n;
}

static int etcd_watch_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	const struct etcd_watch_ctx *w = ud;

	(void)dt, (void)dn, (void)ut, (void)un;
	return atomic_load(w->stop) ? 1 : 0;
}

/* The probe count curl has no option for, and a bound on unacknowledged data. */
static int etcd_watch_sockopt(void *ud, curl_socket_t fd, curlsocktype purpose)
{
	int cnt = ETCD_KEEPCNT;
	unsigned int user_timeout = (ETCD_KEEPIDLE_S + ETCD_KEEPINTVL_S * ETCD_KEEPCNT) * 1000;

	(void)ud;
	if (purpose == CURLSOCKTYPE_IPCXN) {
		/* best effort: without them the session time still bounds a dead stream */
		(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
		(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout,
				 sizeof(user_timeout));
	}
	return CURL_SOCKOPT_OK;
}

static void etcd_sleep_ms(long ms, const atomic_bool *stop)
{
	for (long t = 0; t < ms && !atomic_load(stop); t += 100)
		nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000000L }, NULL);
}

int etcd_watch(struct etcd *e, const char *prefix, int64_t *next, etcd_watch_fn fn, void *ctx,
	       const atomic_bool *stop)
{
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	struct etcd_watch_ctx w = {
		.e = e,
		.line = { .max = ETCD_MAX_LINE },
		.next = next,
		.fn = fn,
		.ctx = ctx,
		.stop = stop,
	};
	char *end = etcd_prefix_end(prefix);
	char url[ETCD_URL_MAX + 16];
	size_t failed = 0;
	int ret = -ENOMEM;

	if (!hdrs || !end)
		goto cleanup;
	while (!atomic_load(stop)) {
		struct json_object *req = json_object_new_object(), *cr = json_object_new_object();
		char *body;
		CURLcode cc;

		if (!req || !cr || etcd_add_b64(cr, "key", prefix, strlen(prefix)) < 0 ||
		    etcd_add_b64(cr, "range_end", end, strlen(end)) < 0) {
			json_object_put(req);
			json_object_put(cr);
			ret = -ENOMEM;
			goto cleanup;
		}
		etcd_add_i64(cr, "start_revision", *next);
		json_object_object_add(req, "create_request", cr);
		body = etcd_body(req);
		if (!body) {
			ret = -ENOMEM;
			goto cleanup;
		}
		w.created = false;
		w.ret = 0;
		w.line.len = 0;
		snprintf(url, sizeof(url), "%s/v3/watch", e->urls[e->cur]);
		etcd_curl_setup(e, url, body, hdrs, ETCD_WATCH_SESSION_MS);
		curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, etcd_watch_write);
		curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, &w);
		curl_easy_setopt(e->curl, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(e->curl, CURLOPT_XFERINFOFUNCTION, etcd_watch_progress);
		curl_easy_setopt(e->curl, CURLOPT_XFERINFODATA, &w);
		curl_easy_setopt(e->curl, CURLOPT_TCP_KEEPALIVE, 1L);
		curl_easy_setopt(e->curl, CURLOPT_TCP_KEEPIDLE, (long)ETCD_KEEPIDLE_S);
		curl_easy_setopt(e->curl, CURLOPT_TCP_KEEPINTVL, (long)ETCD_KEEPINTVL_S);
		curl_easy_setopt(e->curl, CURLOPT_SOCKOPTFUNCTION, etcd_watch_sockopt);
		cc = curl_easy_perform(e->curl);
		free(body);
		if (atomic_load(stop))
			break;
		if (w.ret == -ESTALE || w.ret == -ENOMEM || (w.ret && w.ret != -EPROTO)) {
			ret = w.ret; /* compacted, or the caller's own reason */
			goto cleanup;
		}
		if (w.created && !w.ret) {
			/* a stream that worked and ended (session time, the member went away):
			 * resume at once, on the same member first */
			failed = 0;
			if (cc != CURLE_OK && cc != CURLE_OPERATION_TIMEDOUT) {
				etcd_seterr(e, "%s: watch: %s", e->urls[e->cur],
					    curl_easy_strerror(cc));
				e->cur = (e->cur + 1) % e->n_urls;
			}
			/* a member that ends every stream at once is not spun on */
			if (cc != CURLE_OPERATION_TIMEDOUT)
				etcd_sleep_ms(50, stop);
			continue;
		}
		if (!w.ret)
			etcd_seterr(e, "%s: watch: %s", e->urls[e->cur],
				    cc == CURLE_OK ? "the stream ended before it started"
						   : curl_easy_strerror(cc));
		e->cur = (e->cur + 1) % e->n_urls;
		if (++failed >= e->n_urls) {
			ret = -EIO;
			goto cleanup;
		}
		etcd_sleep_ms(100, stop);
	}
	ret = 0;
cleanup:
	if (ret == -ENOMEM)
		etcd_seterr(e, "out of memory");
	curl_slist_free_all(hdrs);
	free(w.line.data);
	free(end);
	return ret;
}
