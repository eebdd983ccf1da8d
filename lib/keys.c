// SPDX-License-Identifier: GPL-2.0
/*
 * Key encodings (crypto.h): base64 exactly as `wg` prints keys, hex as the configuration protocol
 * carries them; strict decoders that leave the output wiped on refusal.
 */
#include <string.h>

#include <sodium/utils.h>

#include "crypto.h"
#include "crypto_internal.h"

void crypto_key_to_base64(char out[CRYPTO_KEY_BASE64_LEN + 1], const uint8_t key[WG_KEY_LEN])
{
	crypto_ready();
	sodium_bin2base64(out, CRYPTO_KEY_BASE64_LEN + 1, key, WG_KEY_LEN,
			  sodium_base64_VARIANT_ORIGINAL);
}

bool crypto_key_from_base64(uint8_t key[WG_KEY_LEN], const char *in)
{
	char again[CRYPTO_KEY_BASE64_LEN + 1];
	const char *end = NULL;
	size_t binlen = 0;
	bool ret = false;

	crypto_ready();
	/* 32 bytes encode to 43 significant characters and exactly one '=' of padding. */
	if (!in || strnlen(in, CRYPTO_KEY_BASE64_LEN + 1) != CRYPTO_KEY_BASE64_LEN ||
	    in[CRYPTO_KEY_BASE64_LEN - 1] != '=' || in[CRYPTO_KEY_BASE64_LEN - 2] == '=')
		goto out;
	if (sodium_base642bin(key, WG_KEY_LEN, in, CRYPTO_KEY_BASE64_LEN, NULL, &binlen, &end,
			      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    binlen != WG_KEY_LEN || end != in + CRYPTO_KEY_BASE64_LEN)
		goto out;
	/* Canonical only: unused low bits of the last character must be zero, so one key has
	 * exactly one spelling. Re-encoding is the plainest proof. */
	crypto_key_to_base64(again, key);
	ret = sodium_memcmp(again, in, CRYPTO_KEY_BASE64_LEN) == 0;
out:
	if (!ret)
		sodium_memzero(key, WG_KEY_LEN);
	sodium_memzero(again, sizeof(again));
	return ret;
}

void crypto_key_to_hex(char out[CRYPTO_KEY_HEX_LEN + 1], const uint8_t key[WG_KEY_LEN])
{
	crypto_ready();
	sodium_bin2hex(out, CRYPTO_KEY_HEX_LEN + 1, key, WG_KEY_LEN);
}

bool crypto_key_from_hex(uint8_t key[WG_KEY_LEN], const char *in)
{
	const char *end = NULL;
	size_t binlen = 0;
	bool ret = false;

	crypto_ready();
	/* Either case is accepted, as the kernel and wireguard-go accept it; nothing else. */
	if (!in || strnlen(in, CRYPTO_KEY_HEX_LEN + 1) != CRYPTO_KEY_HEX_LEN)
		goto out;
	ret = sodium_hex2bin(key, WG_KEY_LEN, in, CRYPTO_KEY_HEX_LEN, NULL, &binlen, &end) == 0 &&
	      binlen == WG_KEY_LEN && end == in + CRYPTO_KEY_HEX_LEN;
out:
	if (!ret)
		sodium_memzero(key, WG_KEY_LEN);
	return ret;
}
