// SPDX-License-Identifier: GPL-2.0
/*
 * The etcd v3 client (etcd.h) over etcd's JSON gateway. Measured against etcd 3.4.23
 * (Debian 12): int64 fields are JSON strings ("revision":"2"); an event's type is absent for
 * PUT and "DELETE" for a delete; a watch whose start revision was compacted answers
 * {"result":{"canceled":true,"compact_revision":"N"}}; a watch stream is one JSON object per
 * message, objects separated by newlines.
 * Here: the endpoints, one request with failover, and the KV and lease calls; the watch stream
 * is etcd_watch.c, and etcd_internal.h what the two share.
 */
#include <curl/curl.h>
#include <errno.h>
#include <json.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "etcd.h"
#include "etcd_internal.h"

static pthread_once_t etcd_once = PTHREAD_ONCE_INIT;
static CURLcode etcd_global_ret;

static void etcd_global_init(void)
{
	etcd_global_ret = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void etcd_seterr(struct etcd *e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->err, sizeof(e->err), fmt, ap);
	va_end(ap);
}

void etcd_set_abort(struct etcd *e, const atomic_bool *abort)
{
	e->abort = abort;
}

void etcd_set_timeout(struct etcd *e, long ms)
{
	e->timeout_cap_ms = ms;
}

const char *etcd_error(const struct etcd *e)
{
	return e->err;
}

const char *etcd_endpoint(const struct etcd *e)
{
	return e->urls[e->cur];
}

/* One URL of a list: scheme http or https, a host, no path (the API's paths are appended). */
static int etcd_check_url(const char *u, size_t len, char *err, size_t errlen)
{
	const char *host;
	size_t hlen;

	if (len >= ETCD_URL_MAX) {
		snprintf(err, errlen, "\"%.*s...\": longer than %d characters", 32, u,
			 ETCD_URL_MAX - 1);
		return -EINVAL;
	}
	if (len > 7 && !strncmp(u, "http://", 7))
		host = u + 7;
	else if (len > 8 && !strncmp(u, "https://", 8))
		host = u + 8;
	else {
		snprintf(err, errlen, "\"%.*s\": not an http:// or https:// URL", (int)len, u);
		return -EINVAL;
	}
	hlen = len - (size_t)(host - u);
	if (hlen && host[hlen - 1] == '/')
		hlen--;
	if (!hlen || memchr(host, '/', hlen) || memchr(host, ' ', hlen) ||
	    memchr(host, '?', hlen) || memchr(host, '@', hlen)) {
		snprintf(err, errlen, "\"%.*s\": needs a host[:port] and no path", (int)len, u);
		return -EINVAL;
	}
	return 0;
}

static int etcd_parse_urls(const char *urls, char out[][ETCD_URL_MAX], size_t *n, char *err,
			   size_t errlen)
{
	const char *p = urls;

	*n = 0;
	if (!urls || !*urls) {
		snprintf(err, errlen, "no endpoint (e.g. http://198.18.3.1:2379)");
		return -EINVAL;
	}
	while (*p) {
		size_t len = strcspn(p, ",");
		int ret;

		if (!len) {
			snprintf(err, errlen, "an empty endpoint in \"%s\"", urls);
			return -EINVAL;
		}
		ret = etcd_check_url(p, len, err, errlen);
		if (ret < 0)
			return ret;
		if (*n == ETCD_MAX_ENDPOINTS) {
			snprintf(err, errlen, "more than %d endpoints", ETCD_MAX_ENDPOINTS);
			return -EINVAL;
		}
		if (out) {
			memcpy(out[*n], p, len);
			out[*n][len] = '\0';
			if (out[*n][len - 1] == '/')
				out[*n][len - 1] = '\0';
		}
		(*n)++;
		p += len;
		if (*p == ',' && !*++p) {
			snprintf(err, errlen, "a trailing comma in \"%s\"", urls);
			return -EINVAL;
		}
	}
	return 0;
}

int etcd_check_urls(const char *urls, char *err, size_t errlen)
{
	size_t n;

	return etcd_parse_urls(urls, NULL, &n, err, errlen);
}

struct etcd *etcd_new(const char *urls, char *err, size_t errlen)
{
	struct etcd *e;

	pthread_once(&etcd_once, etcd_global_init);
	if (etcd_global_ret != CURLE_OK) {
		snprintf(err, errlen, "libcurl: %s", curl_easy_strerror(etcd_global_ret));
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (etcd_parse_urls(urls, e->urls, &e->n_urls, err, errlen) < 0)
		goto fail;
	e->curl = curl_easy_init();
	if (!e->curl) {
		snprintf(err, errlen, "libcurl: cannot create a handle");
		goto fail;
	}
	return e;
fail:
	free(e);
	return NULL;
}

void etcd_free(struct etcd *e)
{
	if (!e)
		return;
	if (e->curl)
		curl_easy_cleanup(e->curl);
	free(e);
}

/* --- encodings --- */

static char *etcd_b64(const void *data, size_t len)
{
	size_t olen = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *out = malloc(olen);

	if (out)
		sodium_bin2base64(out, olen, data, len, sodium_base64_VARIANT_ORIGINAL);
	return out;
}

/* base64 to bytes, NUL-terminated; NULL on bad input or ENOMEM. */
static char *etcd_unb64(const char *s, size_t *len)
{
	size_t slen = strlen(s), max = slen / 4 * 3 + 3;
	char *out = malloc(max + 1);

	if (!out)
		return NULL;
	if (sodium_base642bin((unsigned char *)out, max, s, slen, NULL, len, NULL,
			      sodium_base64_VARIANT_ORIGINAL) < 0) {
		free(out);
		return NULL;
	}
	out[*len] = '\0';
	return out;
}

/* An int64 as etcd's gateway writes it: a string, or a number; absent: 0. */
int64_t etcd_json_i64(struct json_object *o, const char *name)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, name, &v))
		return 0;
	if (json_object_is_type(v, json_type_string))
		return strtoll(json_object_get_string(v), NULL, 10);
	return json_object_get_int64(v);
}

bool etcd_json_bool(struct json_object *o, const char *name)
{
	struct json_object *v;

	return json_object_object_get_ex(o, name, &v) && json_object_get_boolean(v);
}

/* The range end that covers every key starting with prefix: its last byte + 1. */
char *etcd_prefix_end(const char *prefix)
{
	size_t len = strlen(prefix);
	char *end = strdup(prefix);

	if (!end)
		return NULL;
	while (len && (unsigned char)end[len - 1] == 0xff)
		end[--len] = '\0';
	if (len)
		end[len - 1]++;
	else
		end[0] = '\0'; /* "\0": every key */
	return end;
}

/* kv from a JSON object {"key":..,"value":..,"mod_revision":..,"lease":..}. */
int etcd_kv_from_json(struct json_object *o, struct etcd_kv *kv)
{
	struct json_object *k, *v;

	memset(kv, 0, sizeof(*kv));
	if (!json_object_object_get_ex(o, "key", &k) || !json_object_is_type(k, json_type_string))
		return -EPROTO;
	kv->key = etcd_unb64(json_object_get_string(k), &kv->key_len);
	if (json_object_object_get_ex(o, "value", &v) && json_object_is_type(v, json_type_string))
		kv->value = etcd_unb64(json_object_get_string(v), &kv->value_len);
	else
		kv->value = calloc(1, 1);
	if (!kv->key || !kv->value) {
		etcd_kv_clear(kv);
		return -EPROTO;
	}
	kv->mod_revision = etcd_json_i64(o, "mod_revision");
	kv->lease = etcd_json_i64(o, "lease");
	return 0;
}

void etcd_kv_clear(struct etcd_kv *kv)
{
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

void etcd_kvs_free(struct etcd_kv *kvs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		etcd_kv_clear(&kvs[i]);
	free(kvs);
}

/* --- one request --- */

size_t etcd_buf_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
	struct etcd_buf *b = ud;
	size_t n = size * nmemb;

	if (b->len + n + 1 > b->max)
		return 0; /* curl fails the transfer: CURLE_WRITE_ERROR */
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (cap < b->len + n + 1)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p)
			return 0;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
	return n;
}

static int etcd_abort_progress(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	const struct etcd *e = ud;

	(void)dt, (void)dn, (void)ut, (void)un;
	return e->abort && atomic_load(e->abort) ? 1 : 0;
}

void etcd_curl_setup(struct etcd *e, const char *url, const char *body, struct curl_slist *hdrs,
		     long timeout_ms)
{
	if (e->timeout_cap_ms && timeout_ms > e->timeout_cap_ms)
		timeout_ms = e->timeout_cap_ms;
	curl_easy_reset(e->curl);
	if (e->abort) {
		curl_easy_setopt(e->curl, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(e->curl, CURLOPT_XFERINFOFUNCTION, etcd_abort_progress);
		curl_easy_setopt(e->curl, CURLOPT_XFERINFODATA, e);
	}
	curl_easy_setopt(e->curl, CURLOPT_URL, url);
	curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(e->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)ETCD_CONNECT_MS);
	curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(e->curl, CURLOPT_NOSIGNAL, 1L);
	/* the daemon's environment must not send its etcd traffic through a proxy */
	curl_easy_setopt(e->curl, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e->curl, CURLOPT_PROTOCOLS_STR, "http,https");
}

/* The gateway's error object: {"error":"...","code":N,"message":"..."}; grpc code 5 is
 * NotFound, 14 Unavailable (that member cannot serve: try another). */
enum etcd_grpc_code {
	ETCD_GRPC_NOT_FOUND = 5,
	ETCD_GRPC_UNAVAILABLE = 14,
};

/*
 * POST body to path on one endpoint after another, from the current one, until one answers.
 * *out: the reply's JSON. 0; -ENOENT (grpc NotFound); -EIO with e->err.
 */
static int etcd_post(struct etcd *e, const char *path, const char *body, long timeout_ms,
		     struct json_object **out)
{
	struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	struct etcd_buf b = { .max = ETCD_MAX_RESPONSE };
	char url[ETCD_URL_MAX + 64];
	int ret = -EIO;

	*out = NULL;
	if (!hdrs) {
		etcd_seterr(e, "out of memory");
		return -ENOMEM;
	}
	for (size_t tries = 0; tries < e->n_urls; tries++) {
		struct json_object *j, *msg;
		CURLcode cc;
		long status = 0;

		b.len = 0;
		snprintf(url, sizeof(url), "%s%s", e->urls[e->cur], path);
		etcd_curl_setup(e, url, body, hdrs, timeout_ms);
		curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, etcd_buf_write);
		curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, &b);
		cc = curl_easy_perform(e->curl);
		if (cc == CURLE_ABORTED_BY_CALLBACK) {
			etcd_seterr(e, "stopped");
			ret = -ECANCELED;
			break;
		}
		if (cc != CURLE_OK) {
			etcd_seterr(e, "%s: %s", e->urls[e->cur], curl_easy_strerror(cc));
			e->cur = (e->cur + 1) % e->n_urls;
			continue;
		}
		curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &status);
		j = b.len ? json_tokener_parse(b.data) : NULL;
		if (!j || !json_object_is_type(j, json_type_object)) {
			etcd_seterr(e, "%s: HTTP %ld, not a JSON object", e->urls[e->cur], status);
			json_object_put(j);
			e->cur = (e->cur + 1) % e->n_urls;
			continue;
		}
		if (status == 200) {
			*out = j;
			ret = 0;
			break;
		}
		if (!json_object_object_get_ex(j, "message", &msg) &&
		    !json_object_object_get_ex(j, "error", &msg))
			msg = NULL;
		etcd_seterr(e, "%s: HTTP %ld: %s", e->urls[e->cur], status,
			    msg ? json_object_get_string(msg) : "no message");
		if (etcd_json_i64(j, "code") == ETCD_GRPC_NOT_FOUND) {
			json_object_put(j);
			ret = -ENOENT;
			break;
		}
		json_object_put(j);
		if (status != 503 && status != 504 && status < 500)
			break; /* a refusal, not a member that cannot serve: the same everywhere */
		e->cur = (e->cur + 1) % e->n_urls;
	}
	curl_slist_free_all(hdrs);
	free(b.data);
	return ret;
}

/* A JSON body from key/value pairs of strings (NULL value: skipped). */
char *etcd_body(struct json_object *o)
{
	char *s = strdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));

	json_object_put(o);
	return s;
}

int etcd_add_b64(struct json_object *o, const char *name, const void *data, size_t len)
{
	char *s = etcd_b64(data, len);

	if (!s)
		return -ENOMEM;
	json_object_object_add(o, name, json_object_new_string(s));
	free(s);
	return 0;
}

void etcd_add_i64(struct json_object *o, const char *name, int64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "%lld", (long long)v);
	json_object_object_add(o, name, json_object_new_string(s));
}

/* --- the calls --- */

static int etcd_range_page(struct etcd *e, const char *from, size_t from_len, const char *end,
			   int64_t rev, struct json_object **out)
{
	struct json_object *req = json_object_new_object();
	char *body;
	int ret;

	if (!req || etcd_add_b64(req, "key", from, from_len) < 0 ||
	    etcd_add_b64(req, "range_end", end, strlen(end)) < 0) {
		json_object_put(req);
		return -ENOMEM;
	}
	etcd_add_i64(req, "limit", ETCD_RANGE_PAGE);
	if (rev)
		etcd_add_i64(req, "revision", rev);
	body = etcd_body(req);
	if (!body)
		return -ENOMEM;
	ret = etcd_post(e, "/v3/kv/range", body, ETCD_RANGE_MS, out);
	free(body);
	return ret;
}

int etcd_range_prefix(struct etcd *e, const char *prefix, struct etcd_kv **out, size_t *n,
		      int64_t *revision)
{
	char *end = etcd_prefix_end(prefix);
	char *from = strdup(prefix);
	size_t from_len = strlen(prefix), cap = 0;
	struct etcd_kv *kvs = NULL;
	int64_t rev = 0;
	bool more = true;
	int ret = -ENOMEM;

	*out = NULL;
	*n = 0;
	if (!end || !from)
		goto cleanup;
	while (more) {
		struct json_object *j = NULL, *arr, *hdr;
		size_t len;

		ret = etcd_range_page(e, from, from_len, end, rev, &j);
		if (ret < 0)
			goto cleanup;
		/* every page at the first page's revision: one consistent snapshot */
		if (!rev && json_object_object_get_ex(j, "header", &hdr))
			rev = etcd_json_i64(hdr, "revision");
		more = etcd_json_bool(j, "more");
		len = json_object_object_get_ex(j, "kvs", &arr) &&
				      json_object_is_type(arr, json_type_array)
			      ? json_object_array_length(arr)
			      : 0;
		if (*n + len > cap) {
			struct etcd_kv *p;

			cap = (*n + len) * 2;
			p = realloc(kvs, cap * sizeof(*kvs));
			if (!p) {
				json_object_put(j);
				ret = -ENOMEM;
				goto cleanup;
			}
			kvs = p;
		}
		for (size_t i = 0; i < len; i++) {
			if (etcd_kv_from_json(json_object_array_get_idx(arr, i), &kvs[*n]) < 0) {
				etcd_seterr(e, "%s: a range reply with a malformed key-value",
					    e->urls[e->cur]);
				json_object_put(j);
				ret = -EPROTO;
				goto cleanup;
			}
			(*n)++;
		}
		json_object_put(j);
		if (more && !len) {
			etcd_seterr(e, "%s: a range reply with \"more\" and no keys",
				    e->urls[e->cur]);
			ret = -EPROTO;
			goto cleanup;
		}
		if (more) {
			/* the next page starts after the last key: last key + "\0" */
			const struct etcd_kv *last = &kvs[*n - 1];
			char *p = realloc(from, last->key_len + 1);

			if (!p) {
				ret = -ENOMEM;
				goto cleanup;
			}
			from = p;
			memcpy(from, last->key, last->key_len);
			from[last->key_len] = '\0';
			from_len = last->key_len + 1;
		}
	}
	*out = kvs;
	kvs = NULL;
	*revision = rev;
	ret = 0;
cleanup:
	if (kvs) {
		etcd_kvs_free(kvs, *n);
		*n = 0;
	}
	if (ret == -ENOMEM)
		etcd_seterr(e, "out of memory");
	free(end);
	free(from);
	return ret;
}

/* A request whose body names one key, {"key": KEY}, to path; the reply in *j (put it). */
static int etcd_post_key(struct etcd *e, const char *path, const char *key, struct json_object **j)
{
	struct json_object *req = json_object_new_object();
	char *body;
	int ret;

	if (!req || etcd_add_b64(req, "key", key, strlen(key)) < 0) {
		json_object_put(req);
		return -ENOMEM;
	}
	body = etcd_body(req);
	if (!body)
		return -ENOMEM;
	ret = etcd_post(e, path, body, ETCD_REQUEST_MS, j);
	free(body);
	return ret;
}

int etcd_get(struct etcd *e, const char *key, struct etcd_kv *out)
{
	struct json_object *j = NULL, *arr;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = etcd_post_key(e, "/v3/kv/range", key, &j);
	if (ret < 0)
		return ret;
	if (!json_object_object_get_ex(j, "kvs", &arr) || !json_object_array_length(arr))
		ret = -ENOENT;
	else if (etcd_kv_from_json(json_object_array_get_idx(arr, 0), out) < 0)
		ret = -EPROTO;
	json_object_put(j);
	return ret;
}

int etcd_put(struct etcd *e, const char *key, const char *value, size_t value_len, int64_t lease)
{
	struct json_object *req = json_object_new_object(), *j = NULL;
	char *body;
	int ret;

	if (!req || etcd_add_b64(req, "key", key, strlen(key)) < 0 ||
	    etcd_add_b64(req, "value", value, value_len) < 0) {
		json_object_put(req);
		return -ENOMEM;
	}
	if (lease)
		etcd_add_i64(req, "lease", lease);
	body = etcd_body(req);
	if (!body)
		return -ENOMEM;
	ret = etcd_post(e, "/v3/kv/put", body, ETCD_REQUEST_MS, &j);
	free(body);
	json_object_put(j);
	return ret;
}

/*
 * One transaction: if cmp (on key; its "key" added here) holds, do the one operation op_name
 * with body (which takes its own "key"). Takes cmp and body whatever happens. 0 when it held and
 * was done; fail_ret with "KEY fail_what" as the error when it did not hold.
 */
static int etcd_txn_one(struct etcd *e, const char *key, struct json_object *cmp,
			const char *op_name, struct json_object *body, int fail_ret,
			const char *fail_what)
{
	struct json_object *req = json_object_new_object(), *op = json_object_new_object(),
			   *cmps = json_object_new_array(), *ops = json_object_new_array(),
			   *j = NULL;
	char *text;
	int ret;

	if (!req || !cmp || !body || !op || !cmps || !ops ||
	    etcd_add_b64(cmp, "key", key, strlen(key)) < 0 ||
	    etcd_add_b64(body, "key", key, strlen(key)) < 0) {
		json_object_put(req);
		json_object_put(cmp);
		json_object_put(body);
		json_object_put(op);
		json_object_put(cmps);
		json_object_put(ops);
		return -ENOMEM;
	}
	json_object_object_add(op, op_name, body);
	json_object_array_add(cmps, cmp);
	json_object_array_add(ops, op);
	json_object_object_add(req, "compare", cmps);
	json_object_object_add(req, "success", ops);
	text = etcd_body(req);
	if (!text)
		return -ENOMEM;
	ret = etcd_post(e, "/v3/kv/txn", text, ETCD_REQUEST_MS, &j);
	free(text);
	if (ret == 0 && !etcd_json_bool(j, "succeeded")) {
		etcd_seterr(e, "%s %s", key, fail_what);
		ret = fail_ret;
	}
	json_object_put(j);
	return ret;
}

int etcd_create(struct etcd *e, const char *key, const char *value, size_t value_len, int64_t lease)
{
	struct json_object *cmp = json_object_new_object(), *put = json_object_new_object();

	if (!cmp || !put || etcd_add_b64(put, "value", value, value_len) < 0) {
		json_object_put(cmp);
		json_object_put(put);
		return -ENOMEM;
	}
	if (lease)
		etcd_add_i64(put, "lease", lease);
	/* result EQUAL is the enum's zero: create_revision == 0, the key does not exist */
	json_object_object_add(cmp, "target", json_object_new_string("CREATE"));
	etcd_add_i64(cmp, "create_revision", 0);
	return etcd_txn_one(e, key, cmp, "request_put", put, -EEXIST, "exists");
}

int etcd_delete_if(struct etcd *e, const char *key, const char *value, size_t value_len)
{
	struct json_object *cmp = json_object_new_object(), *del = json_object_new_object();

	if (!cmp || !del || etcd_add_b64(cmp, "value", value, value_len) < 0) {
		json_object_put(cmp);
		json_object_put(del);
		return -ENOMEM;
	}
	/* result EQUAL is the enum's zero; an absent key has no value and compares unequal */
	json_object_object_add(cmp, "target", json_object_new_string("VALUE"));
	return etcd_txn_one(e, key, cmp, "request_delete_range", del, -ESRCH,
			    "holds another value");
}

int etcd_delete(struct etcd *e, const char *key, int64_t *deleted)
{
	struct json_object *j = NULL;
	int ret;

	ret = etcd_post_key(e, "/v3/kv/deleterange", key, &j);
	if (ret == 0 && deleted)
		*deleted = etcd_json_i64(j, "deleted");
	json_object_put(j);
	return ret;
}

static int etcd_lease_call(struct etcd *e, const char *path, const char *field, int64_t v,
			   struct json_object **out)
{
	struct json_object *req = json_object_new_object();
	char *body;
	int ret;

	if (!req)
		return -ENOMEM;
	if (!strcmp(field, "TTL"))
		json_object_object_add(req, field, json_object_new_int64(v));
	else
		etcd_add_i64(req, field, v);
	body = etcd_body(req);
	if (!body)
		return -ENOMEM;
	ret = etcd_post(e, path, body, ETCD_REQUEST_MS, out);
	free(body);
	return ret;
}

int etcd_lease_grant(struct etcd *e, int ttl_s, int64_t *id)
{
	struct json_object *j = NULL;
	int ret = etcd_lease_call(e, "/v3/lease/grant", "TTL", ttl_s, &j);

	if (ret == 0) {
		*id = etcd_json_i64(j, "ID");
		if (!*id) {
			etcd_seterr(e, "%s: a lease grant without an ID", e->urls[e->cur]);
			ret = -EPROTO;
		}
	}
	json_object_put(j);
	return ret;
}

int etcd_lease_keepalive(struct etcd *e, int64_t id)
{
	struct json_object *j = NULL, *res;
	int ret = etcd_lease_call(e, "/v3/lease/keepalive", "ID", id, &j);

	/* the gateway streams {"result":{...,"TTL":"N"}}; an expired lease has no TTL */
	if (ret == 0 &&
	    (!json_object_object_get_ex(j, "result", &res) || etcd_json_i64(res, "TTL") <= 0)) {
		etcd_seterr(e, "lease %llx has expired", (unsigned long long)id);
		ret = -ENOENT;
	}
	json_object_put(j);
	return ret;
}

int etcd_lease_revoke(struct etcd *e, int64_t id)
{
	struct json_object *j = NULL;
	int ret = etcd_lease_call(e, "/v3/lease/revoke", "ID", id, &j);

	json_object_put(j);
	return ret;
}
