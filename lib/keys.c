// SPDX-License-Identifier: GPL-2.0
/*
 * Key encodings (crypto.h): base64 exactly as `wg` prints keys, hex as the configuration protocol
 * carries them; strict decoders that leave the output wiped on refusal.
 */
#include <string.h>

#include <sodium/utils.h>

#include "crypto.h"
#include "crypto_internal.h"

/*
 * The codecs below are branch-free arithmetic, as wireguard-tools' encoding.c: keys are secret,
 * so no table lookup or branch may depend on them. They replace libsodium's, which are
 * constant-time too but cost ~2,400 instructions per key: at a million peers every `get=1`,
 * `show` and scrape encodes or decodes two million keys (seconds, issue #21).
 */

/* One base64 character of a 6-bit value x: 'A'..'Z', 'a'..'z', '0'..'9', '+', '/'. Each term
 * is a mask from the sign of a difference (the unsigned wrap-around sets the high bits). */
static char key_b64_char(unsigned int x)
{
	return (char)(x + 'A' + (((25U - x) >> 8) & 6U) - (((51U - x) >> 8) & 75U) -
		      (((61U - x) >> 8) & 15U) + (((62U - x) >> 8) & 3U));
}

static void key_b64_quad(char out[4], uint8_t a, uint8_t b, uint8_t c)
{
	out[0] = key_b64_char((unsigned int)a >> 2);
	out[1] = key_b64_char((((unsigned int)a << 4) | ((unsigned int)b >> 4)) & 63U);
	out[2] = key_b64_char((((unsigned int)b << 2) | ((unsigned int)c >> 6)) & 63U);
	out[3] = key_b64_char((unsigned int)c & 63U);
}

void crypto_key_to_base64(char out[CRYPTO_KEY_BASE64_LEN + 1], const uint8_t key[WG_KEY_LEN])
{
	unsigned int i;

	/* 32 bytes: ten groups of three, then two bytes and one '=' of padding */
	for (i = 0; i < WG_KEY_LEN / 3; ++i)
		key_b64_quad(out + i * 4, key[i * 3], key[i * 3 + 1], key[i * 3 + 2]);
	key_b64_quad(out + i * 4, key[i * 3], key[i * 3 + 1], 0);
	out[CRYPTO_KEY_BASE64_LEN - 1] = '=';
	out[CRYPTO_KEY_BASE64_LEN] = '\0';
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
	for (unsigned int i = 0; i < WG_KEY_LEN; ++i) {
		unsigned int hi = key[i] >> 4, lo = key[i] & 15U;

		/* '0'..'9' for 0..9, 'a'..'f' for 10..15: 87 + x, less 39 below 10 */
		out[i * 2] = (char)(87U + hi + (((hi - 10U) >> 8) & ~38U));
		out[i * 2 + 1] = (char)(87U + lo + (((lo - 10U) >> 8) & ~38U));
	}
	out[CRYPTO_KEY_HEX_LEN] = '\0';
}

/* One hex digit's value; *bad gets all ones when c is not one (either case is accepted). */
static unsigned int key_hex_nibble(unsigned char c, unsigned int *bad)
{
	unsigned int num = c ^ 48U, num_ok, alpha, alpha_ok;

	num_ok = ((num - 10U) >> 8) & 0xffU; /* 0xff for '0'..'9' */
	alpha = ((c & ~32U) - 55U) & 0xffU;  /* 10..15 for 'A'..'F', 'a'..'f' */
	alpha_ok = (((alpha - 10U) ^ (alpha - 16U)) >> 8) & 0xffU; /* 0xff for those */
	*bad |= ((num_ok | alpha_ok) - 1U) >> 8;
	return (num_ok & num) | (alpha_ok & alpha);
}

bool crypto_key_from_hex(uint8_t key[WG_KEY_LEN], const char *in)
{
	unsigned int bad = 0;

	/* Either case is accepted, as the kernel and wireguard-go accept it; nothing else. */
	if (!in || strnlen(in, CRYPTO_KEY_HEX_LEN + 1) != CRYPTO_KEY_HEX_LEN) {
		sodium_memzero(key, WG_KEY_LEN);
		return false;
	}
	for (unsigned int i = 0; i < WG_KEY_LEN; ++i) {
		unsigned int hi = key_hex_nibble((unsigned char)in[i * 2], &bad);
		unsigned int lo = key_hex_nibble((unsigned char)in[i * 2 + 1], &bad);

		key[i] = (uint8_t)((hi << 4) | lo);
	}
	if (bad) {
		sodium_memzero(key, WG_KEY_LEN);
		return false;
	}
	return true;
}
