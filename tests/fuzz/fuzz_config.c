// SPDX-License-Identifier: GPL-2.0
/*
 * wg(8) config files on arbitrary text: conf_parse_string_mode in setconf and addconf modes.
 * Endpoint host names never reach the network (see fake_resolver.c). A successful parse must
 * survive conf_format_file (showconf) and a second parse to an equal structure.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "fuzz_conf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void one(const char *text, bool append)
{
	struct conf_dev *c = NULL, *again = NULL;
	char err[512], *out;
	size_t len = 0;
	int ret;

	ret = conf_parse_string_mode(text, "fuzz.conf", append, &c, err, sizeof(err));
	/* showconf prints values, not flags: the round trip is setconf's */
	if (ret) {
		if (c || ret > 0 || !memchr(err, '\0', sizeof(err))) {
			fprintf(stderr, "conf_parse_string: failed (%d) but left a result\n", ret);
			abort();
		}
		return;
	}
	if (!c)
		abort();
	if (append) {
		conf_free(c);
		return;
	}
	out = fuzz_format(conf_format_file, c, &len);
	if (!out) {
		fprintf(stderr, "conf_format_file failed on a parsed config\n");
		abort();
	}
	ret = conf_parse_string_mode(out, "again.conf", append, &again, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "config: re-parse failed (%d: %s) on:\n%s\n", ret, err, out);
		abort();
	}
	fuzz_conf_eq("config", c, again, FUZZ_CMP_FILE);
	free(out);
	conf_free(again);
	conf_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	char *text;

	if (!init) {
		if (crypto_init())
			abort();
		init = true;
	}
	/* a C string: the API takes one */
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	one(text, false);
	one(text, true);
	free(text);
	return 0;
}
