// SPDX-License-Identifier: GPL-2.0
/*
 * The configuration protocol's text parsers on arbitrary bytes: uapi_parse_set (the daemon's
 * side, reachable by anyone allowed on the socket) and uapi_parse_get (xdpwgctl's side,
 * reading a daemon's reply). The body is copied to a buffer of exactly its size, without a NUL,
 * so ASan sees any read past the length. A successful parse must survive a round trip:
 * uapi_format_set/get, then the same parser, must give an equal structure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "fuzz_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const char *what, const char *body, size_t size,
		       int (*parse)(const char *, size_t, struct conf_dev **, char *, size_t),
		       int (*format)(const struct conf_dev *, FILE *), enum fuzz_conf_cmp mode)
{
	struct conf_dev *c = NULL, *again = NULL;
	char err[256], *text;
	size_t len = 0;
	int ret;

	ret = parse(body, size, &c, err, sizeof(err));
	if (ret) {
		if (c || ret > 0 || !memchr(err, '\0', sizeof(err))) {
			fprintf(stderr, "%s: failed (%d) but left a result or no message\n", what,
				ret);
			abort();
		}
		return;
	}
	if (!c) {
		fprintf(stderr, "%s: succeeded without a result\n", what);
		abort();
	}
	text = fuzz_format(format, c, &len);
	if (!text) {
		fprintf(stderr, "%s: formatting a parsed request failed\n", what);
		abort();
	}
	ret = parse(text, len, &again, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "%s: re-parse failed (%d: %s) on:\n%s\n", what, ret, err, text);
		abort();
	}
	fuzz_conf_eq(what, c, again, mode);
	free(text);
	conf_free(again);
	conf_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	char *body;

	if (!init) {
		if (crypto_init())
			abort();
		init = true;
	}
	body = malloc(size ? size : 1);
	if (!body)
		return 0;
	memcpy(body, data, size);
	round_trip("uapi_parse_set", body, size, uapi_parse_set, uapi_format_set, FUZZ_CMP_SET);
	round_trip("uapi_parse_get", body, size, uapi_parse_get, uapi_format_get, FUZZ_CMP_GET);
	free(body);
	return 0;
}
