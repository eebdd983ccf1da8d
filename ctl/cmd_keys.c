// SPDX-License-Identifier: GPL-2.0
/*
 * genkey, genpsk, pubkey: the same bytes in and out as wg(8)'s, so keys move freely between
 * the two tools.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto.h"
#include "ctl.h"

enum keys_limits {
	/* a base64 key, a newline and generous trailing whitespace */
	KEYS_STDIN_MAX = 128,
};

/* The key goes to stdout; for secrets, warn as wg does when that is a file others may read. */
static int keys_print(const uint8_t *key, bool secret)
{
	char *b64 = crypto_secure_alloc(CRYPTO_KEY_BASE64_LEN + 1);
	struct stat st;
	int ret = 0;

	if (!b64) {
		ctl_err("out of memory");
		return 1;
	}
	if (secret && !fstat(STDOUT_FILENO, &st) && S_ISREG(st.st_mode) && (st.st_mode & S_IRWXO))
		fputs("Warning: writing to world accessible file.\n"
		      "Consider setting the umask to 077 and trying again.\n",
		      stderr);
	crypto_key_to_base64(b64, key);
	if (printf("%s\n", b64) < 0 || fflush(stdout)) {
		ctl_err("writing the key: %m");
		ret = 1;
	}
	crypto_secure_free(b64);
	return ret;
}

static int keys_gen(int argc, char **argv, bool clamp)
{
	uint8_t *key;
	int ret;

	if (argc != 1)
		return ctl_usage(argv[0]);
	key = crypto_secure_alloc(WG_KEY_LEN);
	if (!key) {
		ctl_err("out of memory");
		return 1;
	}
	if (clamp)
		crypto_genkey(key);
	else
		crypto_random(key, WG_KEY_LEN);
	ret = keys_print(key, true);
	crypto_secure_free(key);
	return ret;
}

static int keys_genkey(int argc, char **argv)
{
	return keys_gen(argc, argv, true);
}

static int keys_genpsk(int argc, char **argv)
{
	return keys_gen(argc, argv, false);
}

static int keys_pubkey(int argc, char **argv)
{
	char *in = NULL;
	uint8_t *priv = NULL, pub[WG_KEY_LEN];
	size_t len = 0, i;
	int ret = 1;

	if (argc != 1)
		return ctl_usage(argv[0]);
	in = crypto_secure_alloc(KEYS_STDIN_MAX + 1);
	priv = crypto_secure_alloc(WG_KEY_LEN);
	if (!in || !priv) {
		ctl_err("out of memory");
		goto out;
	}
	/* bounded: each pass reads at least one byte, at most KEYS_STDIN_MAX in all */
	while (len < KEYS_STDIN_MAX) {
		size_t r = fread(in + len, 1, KEYS_STDIN_MAX - len, stdin);

		if (!r)
			break;
		len += r;
	}
	if (ferror(stdin)) {
		ctl_err("pubkey: reading standard input: %m");
		goto out;
	}
	for (i = CRYPTO_KEY_BASE64_LEN; i < len; ++i) {
		if (!isspace((unsigned char)in[i])) {
			ctl_err("pubkey: standard input: trailing characters after the key");
			goto out;
		}
	}
	if (len < CRYPTO_KEY_BASE64_LEN) {
		ctl_err("pubkey: standard input: not a base64 key of 32 bytes (44 characters)");
		goto out;
	}
	in[CRYPTO_KEY_BASE64_LEN] = '\0';
	if (!crypto_key_from_base64(priv, in)) {
		ctl_err("pubkey: standard input: not a base64 key of 32 bytes (44 characters)");
		goto out;
	}
	/* as wg: the scalar is clamped before use, whatever the file holds */
	crypto_clamp(priv);
	crypto_pubkey(pub, priv);
	ret = keys_print(pub, false);
out:
	crypto_secure_free(in);
	crypto_secure_free(priv);
	return ret;
}

CTL_COMMAND(genkey, .name = "genkey", .run = keys_genkey, .usage = "",
	    .summary = "Generates a new private key and writes it to stdout");
CTL_COMMAND(genpsk, .name = "genpsk", .run = keys_genpsk, .usage = "",
	    .summary = "Generates a new preshared key and writes it to stdout");
CTL_COMMAND(pubkey, .name = "pubkey", .run = keys_pubkey, .usage = "< private-key",
	    .summary = "Reads a private key from stdin and writes a public key to stdout");
