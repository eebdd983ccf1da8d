// SPDX-License-Identifier: GPL-2.0
/*
 * The etcd client (lib/etcd.c) against a fake member on 127.0.0.1 that answers as etcd 3.4's
 * JSON gateway does (shapes measured against the real server): URL validation, failover from
 * a member that refuses connections, a range in pages at one revision, put/create/delete and
 * delete-if-value, leases (an expired one), an error reply, and a watch that delivers events,
 * resumes after the last revision it delivered, and reports a compacted revision. The namespace test
 * tests/net/cluster_etcd.t runs it against a real 3-member cluster.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "etcd.h"
#include "tap.h"

enum {
	FAKE_MAX_REQ = 16,
	FAKE_BUF = 65536
};

static struct {
	int fd;
	int port;
	int watch_conns;
	bool txn_fails;
	char paths[FAKE_MAX_REQ][64];
	char bodies[FAKE_MAX_REQ][2048];
	int n;
} fake;

static char *b64(const char *s)
{
	static char out[8][256];
	static int i;
	char *o = out[i++ % 8];

	sodium_bin2base64(o, 256, (const unsigned char *)s, strlen(s),
			  sodium_base64_VARIANT_ORIGINAL);
	return o;
}

static void reply(int c, int status, const char *body)
{
	char hdr[256];

	snprintf(hdr, sizeof(hdr),
		 "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
		 "Connection: close\r\n\r\n",
		 status, strlen(body));
	if (write(c, hdr, strlen(hdr)) < 0 || write(c, body, strlen(body)) < 0)
		perror("fake: write");
}

/* A watch: a stream without a length, closed by the server. */
static void reply_stream(int c, const char *lines)
{
	const char *hdr = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			  "Connection: close\r\n\r\n";

	if (write(c, hdr, strlen(hdr)) < 0 || write(c, lines, strlen(lines)) < 0)
		perror("fake: write");
}

static void handle(int c)
{
	static char req[FAKE_BUF], body[FAKE_BUF];
	size_t len = 0;
	char *end = NULL, *cl;
	size_t blen = 0;
	char path[64] = "";

	while (len < sizeof(req) - 1) {
		ssize_t r = read(c, req + len, sizeof(req) - 1 - len);

		if (r <= 0)
			return;
		len += (size_t)r;
		req[len] = '\0';
		end = strstr(req, "\r\n\r\n");
		if (end) {
			cl = strcasestr(req, "Content-Length:");
			blen = cl ? strtoul(cl + 15, NULL, 10) : 0;
			if (len >= (size_t)(end + 4 - req) + blen)
				break;
		}
	}
	if (!end)
		return;
	sscanf(req, "POST %63s", path);
	snprintf(body, sizeof(body), "%.*s", (int)blen, end + 4);
	if (fake.n < FAKE_MAX_REQ) {
		snprintf(fake.paths[fake.n], sizeof(fake.paths[0]), "%s", path);
		snprintf(fake.bodies[fake.n], sizeof(fake.bodies[0]), "%.2000s", body);
		fake.n++;
	}
	if (!strcmp(path, "/v3/kv/range")) {
		char out[2048];

		if (strstr(body, "\"limit\"") && !strstr(body, "\"revision\"")) {
			/* the first page */
			snprintf(out, sizeof(out),
				 "{\"header\":{\"revision\":\"7\"},\"kvs\":[{\"key\":\"%s\","
				 "\"mod_revision\":\"2\",\"value\":\"%s\"},{\"key\":\"%s\","
				 "\"mod_revision\":\"3\",\"value\":\"%s\",\"lease\":\"99\"}],"
				 "\"more\":true,\"count\":\"3\"}",
				 b64("/p/a"), b64("va"), b64("/p/b"), b64("vb"));
		} else if (strstr(body, "\"limit\"")) {
			snprintf(out, sizeof(out),
				 "{\"header\":{\"revision\":\"7\"},\"kvs\":[{\"key\":\"%s\","
				 "\"mod_revision\":\"4\",\"value\":\"%s\"}],\"count\":\"1\"}",
				 b64("/p/c"), b64("vc"));
		} else {
			snprintf(out, sizeof(out), "{\"header\":{\"revision\":\"7\"}}");
		}
		reply(c, 200, out);
	} else if (!strcmp(path, "/v3/kv/put")) {
		if (strstr(body, b64("/bad")))
			reply(c, 400,
			      "{\"error\":\"etcdserver: too many operations\",\"code\":3,"
			      "\"message\":\"etcdserver: too many operations\"}");
		else
			reply(c, 200, "{\"header\":{\"revision\":\"8\"}}");
	} else if (!strcmp(path, "/v3/kv/txn")) {
		reply(c, 200,
		      fake.txn_fails ? "{\"header\":{}}" : "{\"header\":{},\"succeeded\":true}");
	} else if (!strcmp(path, "/v3/kv/deleterange")) {
		reply(c, 200, "{\"header\":{},\"deleted\":\"1\"}");
	} else if (!strcmp(path, "/v3/lease/grant")) {
		reply(c, 200, "{\"header\":{},\"ID\":\"7587899422719469575\",\"TTL\":\"3\"}");
	} else if (!strcmp(path, "/v3/lease/keepalive")) {
		/* the real gateway's answer for a lease that has expired: no TTL */
		reply(c, 200,
		      strstr(body, "\"1\"")
			      ? "{\"result\":{\"header\":{},\"ID\":\"1\",\"TTL\":\"3\"}}"
			      : "{\"result\":{\"header\":{},\"ID\":\"2\"}}");
	} else if (!strcmp(path, "/v3/watch")) {
		char out[4096];

		if (fake.watch_conns++ == 0)
			snprintf(out, sizeof(out),
				 "{\"result\":{\"header\":{\"revision\":\"7\"},\"created\":true}}\n"
				 "{\"result\":{\"header\":{\"revision\":\"9\"},\"events\":[{\"kv\":"
				 "{\"key\":\"%s\",\"create_revision\":\"8\",\"mod_revision\":\"8\","
				 "\"version\":\"1\",\"value\":\"%s\"}},{\"type\":\"DELETE\",\"kv\":"
				 "{\"key\":\"%s\",\"mod_revision\":\"9\"}}]}}\n",
				 b64("/p/d"), b64("vd"), b64("/p/a"));
		else
			snprintf(out, sizeof(out),
				 "{\"result\":{\"header\":{\"revision\":\"9\"},\"created\":true}}\n"
				 "{\"result\":{\"header\":{},\"canceled\":true,"
				 "\"compact_revision\":\"12\"}}\n");
		reply_stream(c, out);
	} else {
		reply(c, 404, "{\"error\":\"Not Found\",\"code\":5}");
	}
}

static void *fake_run(void *arg)
{
	(void)arg;
	for (;;) {
		int c = accept(fake.fd, NULL, NULL);

		if (c < 0)
			return NULL;
		handle(c);
		close(c);
	}
}

static int listen_port(int *fd_out)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0)
		return -1;
	getsockname(fd, (struct sockaddr *)&a, &len);
	*fd_out = fd;
	return ntohs(a.sin_port);
}

static int last_req(const char *path)
{
	for (int i = fake.n - 1; i >= 0; i--)
		if (!strcmp(fake.paths[i], path))
			return i;
	return -1;
}

struct seen {
	int n_calls;
	struct {
		char key[32], value[32];
		int type;
		long long rev;
	} ev[8];
	int n;
};

static int on_watch(void *ctx, const struct etcd_kv *evs, size_t n)
{
	struct seen *s = ctx;

	s->n_calls++;
	for (size_t i = 0; i < n && s->n < 8; i++, s->n++) {
		snprintf(s->ev[s->n].key, sizeof(s->ev[0].key), "%s", evs[i].key);
		snprintf(s->ev[s->n].value, sizeof(s->ev[0].value), "%s", evs[i].value);
		s->ev[s->n].type = evs[i].type;
		s->ev[s->n].rev = (long long)evs[i].mod_revision;
	}
	return 0;
}

static void test_urls(void)
{
	char err[ETCD_ERR_LEN];

	ok(etcd_check_urls("http://198.18.3.1:2379", err, sizeof(err)) == 0, "one URL");
	ok(etcd_check_urls("http://a:1,https://b:2,http://[2001:db8::1]:2379/", err, sizeof(err)) ==
		   0,
	   "three, https and IPv6, a trailing slash");
	ok(etcd_check_urls("", err, sizeof(err)) == -EINVAL && strstr(err, "no endpoint"),
	   "empty: %s", err);
	ok(etcd_check_urls("198.18.3.1:2379", err, sizeof(err)) == -EINVAL &&
		   strstr(err, "not an http"),
	   "no scheme: %s", err);
	ok(etcd_check_urls("http://a:1/v3", err, sizeof(err)) == -EINVAL && strstr(err, "no path"),
	   "a path: %s", err);
	ok(etcd_check_urls("http://a:1,,http://b:1", err, sizeof(err)) == -EINVAL &&
		   strstr(err, "empty endpoint"),
	   "an empty one: %s", err);
	ok(etcd_check_urls("http://a:1,", err, sizeof(err)) == -EINVAL &&
		   strstr(err, "trailing comma"),
	   "a trailing comma: %s", err);
	ok(etcd_check_urls("http://a:1,http://a:2,http://a:3,http://a:4,http://a:5,http://a:6,"
			   "http://a:7,http://a:8,http://a:9",
			   err, sizeof(err)) == -EINVAL &&
		   strstr(err, "more than 8"),
	   "nine: %s", err);
	ok(etcd_check_urls("http://user@a:1", err, sizeof(err)) == -EINVAL, "credentials refused");
}

int main(void)
{
	char urls[128], err[ETCD_ERR_LEN];
	struct etcd_kv *kvs = NULL;
	struct seen seen = { 0 };
	atomic_bool stop = false;
	pthread_t th;
	int64_t rev = 0, id = 0, next, deleted = 0;
	size_t n = 0;
	struct etcd *e;
	int dead_fd, dead, ret;

	if (sodium_init() < 0)
		return 1;
	test_urls();

	fake.port = listen_port(&fake.fd);
	dead = listen_port(&dead_fd);
	close(dead_fd); /* nothing listens there any more: connections are refused */
	if (fake.port < 0 || dead < 0 || pthread_create(&th, NULL, fake_run, NULL))
		return 1;
	snprintf(urls, sizeof(urls), "http://127.0.0.1:%d,http://127.0.0.1:%d", dead, fake.port);
	e = etcd_new(urls, err, sizeof(err));
	ok(e != NULL, "a client of two members, the first dead");

	ret = etcd_range_prefix(e, "/p/", &kvs, &n, &rev);
	ok(ret == 0 && n == 3 && rev == 7, "range: 3 keys in two pages at revision 7 (ret %d)",
	   ret);
	ok(strstr(etcd_endpoint(e), "") && atoi(strrchr(etcd_endpoint(e), ':') + 1) == fake.port,
	   "... from the live member: %s", etcd_endpoint(e));
	ok(n == 3 && !strcmp(kvs[0].key, "/p/a") && !strcmp(kvs[1].value, "vb") &&
		   kvs[1].lease == 99 && kvs[2].mod_revision == 4,
	   "... keys, values, leases and revisions decoded");
	ret = last_req("/v3/kv/range");
	ok(ret >= 0 && strstr(fake.bodies[ret], "\"revision\":\"7\""),
	   "... the second page asked at the first page's revision");
	ok(ret >= 0 && strstr(fake.bodies[ret], "\"range_end\":\"L3Aw\""),
	   "... the prefix's range end is /p0 (%s)", ret >= 0 ? fake.bodies[ret] : "");
	etcd_kvs_free(kvs, n);

	ok(etcd_put(e, "/p/x", "v", 1, 5) == 0, "put with a lease");
	ret = last_req("/v3/kv/put");
	ok(ret >= 0 && strstr(fake.bodies[ret], "\"lease\":\"5\""), "... the lease sent");
	ok(etcd_put(e, "/bad", "v", 1, 0) == -EIO && strstr(etcd_error(e), "too many operations"),
	   "an error reply: -EIO with the server's message: %s", etcd_error(e));
	ok(atoi(strrchr(etcd_endpoint(e), ':') + 1) == fake.port,
	   "... a refusal is not a reason to change member");
	ok(etcd_create(e, "/p/y", "v", 1, 0) == 0, "create: the key was free");
	ret = last_req("/v3/kv/txn");
	ok(ret >= 0 && strstr(fake.bodies[ret], "\"target\":\"CREATE\"") &&
		   strstr(fake.bodies[ret], "\"create_revision\":\"0\""),
	   "... a transaction comparing the create revision with 0");
	ok(etcd_delete_if(e, "/p/h", "v", 1) == 0, "delete if the value is ours: done");
	ret = last_req("/v3/kv/txn");
	ok(ret >= 0 && strstr(fake.bodies[ret], "\"target\":\"VALUE\"") &&
		   strstr(fake.bodies[ret], "\"value\":\"dg==\"") &&
		   strstr(fake.bodies[ret], "\"request_delete_range\":{\"key\":\"L3AvaA==\"}"),
	   "... a transaction comparing the value, deleting the key: %s",
	   ret >= 0 ? fake.bodies[ret] : "");
	fake.txn_fails = true;
	ok(etcd_create(e, "/p/y", "v", 1, 0) == -EEXIST, "create of a taken key: -EEXIST");
	ok(etcd_delete_if(e, "/p/h", "v", 1) == -ESRCH && strstr(etcd_error(e), "another value"),
	   "delete if the value is ours, when it is not: -ESRCH: %s", etcd_error(e));
	ok(etcd_delete(e, "/p/y", &deleted) == 0 && deleted == 1, "delete: 1 key");
	ok(etcd_lease_grant(e, 3, &id) == 0 && id == 7587899422719469575LL, "lease grant");
	ok(etcd_lease_keepalive(e, 1) == 0, "keepalive of a live lease");
	ok(etcd_lease_keepalive(e, 2) == -ENOENT, "keepalive of an expired lease: -ENOENT");

	next = 8;
	ret = etcd_watch(e, "/p/", &next, on_watch, &seen, &stop);
	ok(ret == -ESTALE && strstr(etcd_error(e), "compacted"),
	   "watch: the compacted revision reported: %d %s", ret, etcd_error(e));
	ok(seen.n_calls == 1 && seen.n == 2, "... one message of two events delivered first");
	ok(seen.n == 2 && !strcmp(seen.ev[0].key, "/p/d") && !strcmp(seen.ev[0].value, "vd") &&
		   seen.ev[0].type == ETCD_PUT && seen.ev[0].rev == 8,
	   "... a put (no type on the wire)");
	ok(seen.n == 2 && !strcmp(seen.ev[1].key, "/p/a") && seen.ev[1].type == ETCD_DELETE &&
		   seen.ev[1].rev == 9,
	   "... a delete");
	ok(next == 10, "... resumed after the last revision delivered (next %lld)",
	   (long long)next);
	ret = last_req("/v3/watch");
	ok(fake.watch_conns == 2 && ret >= 0 &&
		   strstr(fake.bodies[ret], "\"start_revision\":\"10\""),
	   "... the second stream asked from revision 10");
	etcd_free(e);

	snprintf(urls, sizeof(urls), "http://127.0.0.1:%d", dead);
	e = etcd_new(urls, err, sizeof(err));
	ok(e && etcd_put(e, "/p/x", "v", 1, 0) == -EIO && strstr(etcd_error(e), "onnect"),
	   "a single dead member: -EIO, bounded: %s", e ? etcd_error(e) : err);
	next = 1;
	ok(e && etcd_watch(e, "/p/", &next, on_watch, &seen, &stop) == -EIO,
	   "... a watch returns -EIO after every member failed once");
	etcd_free(e);
	shutdown(fake.fd, SHUT_RDWR);
	close(fake.fd);
	pthread_join(th, NULL);
	return done_testing();
}
