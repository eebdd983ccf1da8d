// SPDX-License-Identifier: GPL-2.0
/*
 * Known-answer tests for lib/crypto.c. Vectors come from the RFCs named next to them; the
 * keyed-BLAKE2s, HMAC and KDF answers were computed with Python's hashlib/hmac when this file
 * was written, so they check OpenSSL's plumbing against an independent implementation.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium/utils.h>

#include "crypto.h"
#include "tap.h"

enum {
	TEST_MAX_VEC = 256,
	TEST_THREADS = 4,
	TEST_THREAD_ROUNDS = 500,
	TEST_WG_ROUNDS = 3,
};

/* Test vectors are written as hex; a malformed one is a bug in this file, so it aborts. */

static void secure_free_null(void)
{
	crypto_secure_free(NULL);
}
static size_t unhex(uint8_t *out, size_t max, const char *hex)
{
	size_t n = 0;
	unsigned int byte;

	while (*hex) {
		if (*hex == ' ' || *hex == ':') {
			++hex;
			continue;
		}
		if (n >= max || sscanf(hex, "%2x", &byte) != 1) {
			fprintf(stderr, "bad test vector near \"%s\"\n", hex);
			abort();
		}
		out[n++] = (uint8_t)byte;
		hex += 2;
	}
	return n;
}

static const char fox[] = "The quick brown fox jumps over the lazy dog";

static void test_blake2s(void)
{
	uint8_t out[WG_HASH_LEN], want[WG_HASH_LEN];

	/* RFC 7693 Appendix B */
	unhex(want, sizeof(want),
	      "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
	crypto_hash(out, "abc", 3, NULL, 0);
	is_mem(out, want, sizeof(want), "BLAKE2s-256(\"abc\") (RFC 7693 App. B)");
	crypto_hash(out, "a", 1, "bc", 2);
	is_mem(out, want, sizeof(want), "BLAKE2s-256(\"a\" || \"bc\") concatenates");

	unhex(want, sizeof(want),
	      "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9");
	crypto_hash(out, "", 0, NULL, 0);
	is_mem(out, want, sizeof(want), "BLAKE2s-256(\"\")");

	/* WireGuard's initial chaining key and hash, as every implementation hard-codes them. */
	unhex(want, sizeof(want),
	      "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36");
	crypto_hash(out, "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s", 37, NULL, 0);
	is_mem(out, want, sizeof(want), "HASH(CONSTRUCTION)");
	crypto_hash(out, out, sizeof(out), "WireGuard v1 zx2c4 Jason@zx2c4.com", 34);
	unhex(want, sizeof(want),
	      "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3");
	is_mem(out, want, sizeof(want), "HASH(C || IDENTIFIER), output aliasing input");
}

static void test_mac(void)
{
	uint8_t key[32], out[WG_MAC_LEN], want[WG_MAC_LEN];
	size_t i;

	for (i = 0; i < sizeof(key); ++i)
		key[i] = (uint8_t)i;
	unhex(want, sizeof(want), "4e2219ec6d234a478e4ace91429bbce4");
	crypto_mac(out, key, 32, fox, strlen(fox));
	is_mem(out, want, sizeof(want), "keyed BLAKE2s-128, 32-byte key (as mac1)");

	for (i = 0; i < 16; ++i)
		key[i] = (uint8_t)(0x40 + i);
	unhex(want, sizeof(want), "729acdb58139547f97633e8e33e6fbbd");
	crypto_mac(out, key, 16, fox, strlen(fox));
	is_mem(out, want, sizeof(want), "keyed BLAKE2s-128, 16-byte key (as mac2's cookie)");

	key[0] = 1;
	unhex(want, sizeof(want), "95714fec355dea0dda4da4bebf429e17");
	crypto_mac(out, key, 1, "", 0);
	is_mem(out, want, sizeof(want), "keyed BLAKE2s-128, 1-byte key, empty input");
}

static void test_hmac_kdf(void)
{
	uint8_t key[WG_HASH_LEN], big[200], out[WG_HASH_LEN], want[WG_HASH_LEN];
	uint8_t t1[WG_HASH_LEN], t2[WG_HASH_LEN], t3[WG_HASH_LEN];
	uint8_t w1[WG_HASH_LEN], w2[WG_HASH_LEN], w3[WG_HASH_LEN];
	size_t i;

	for (i = 0; i < sizeof(key); ++i)
		key[i] = (uint8_t)i;
	for (i = 0; i < sizeof(big); ++i)
		big[i] = (uint8_t)(i * 7);

	unhex(want, sizeof(want),
	      "f4660dee21c6a48e2a3d695ceedc26693e37b64b5ac5227476578517ee87fe6d");
	crypto_hmac(out, key, sizeof(key), fox, strlen(fox));
	is_mem(out, want, sizeof(want), "HMAC-BLAKE2s, 32-byte key");
	/* A key longer than the 64-byte block is hashed first. */
	unhex(want, sizeof(want),
	      "d08cfa3f8cae805de71fa283faaab500cb9f46f203eec9679f5b0452af890e66");
	crypto_hmac(out, big, 100, big, sizeof(big));
	is_mem(out, want, sizeof(want), "HMAC-BLAKE2s, 100-byte key, 200-byte input");

	unhex(w1, sizeof(w1), "c471865b3d2b771612913b81650c7c69ca16c5ac72ae83aaf2e47dc5337e67fc");
	unhex(w2, sizeof(w2), "2411eee3c28d42aa1059e1d4a1d9622de9d3af8ecc67a0a2f7775a4af463a1df");
	unhex(w3, sizeof(w3), "c909be26cedc47c1b8e0dad92bfb74fde4fc061980c7d398142c5e0a3c48f4e1");
	crypto_kdf(t1, t2, t3, key, fox, strlen(fox));
	is_mem(t1, w1, sizeof(w1), "KDF3 t1");
	is_mem(t2, w2, sizeof(w2), "KDF3 t2");
	is_mem(t3, w3, sizeof(w3), "KDF3 t3");
	memset(t2, 0xaa, sizeof(t2));
	crypto_kdf(t1, NULL, NULL, key, fox, strlen(fox));
	is_mem(t1, w1, sizeof(w1), "KDF1 equals KDF3's t1");
	/* The handshake writes the chaining key over its own input: C = KDF1(C, x). */
	memcpy(t1, key, sizeof(key));
	crypto_kdf(t1, t2, NULL, t1, fox, strlen(fox));
	is_mem(t1, w1, sizeof(w1), "KDF2 with t1 aliasing the key: t1");
	is_mem(t2, w2, sizeof(w2), "KDF2 with t1 aliasing the key: t2");

	/* Transport keys: KDF2(C, empty). */
	unhex(w1, sizeof(w1), "7a38c34bf2b8738d7374ca77c44ecb309a11d2b2528304fa86052c365e722624");
	unhex(w2, sizeof(w2), "1a17621f346abdc520746a9fb64d8eb03231d674fc15687537b0780fd9c060fd");
	crypto_kdf(t1, t2, NULL, key, NULL, 0);
	is_mem(t1, w1, sizeof(w1), "KDF2 of empty input: t1");
	is_mem(t2, w2, sizeof(w2), "KDF2 of empty input: t2");

	/* A plain HMAC after a KDF must not inherit the KDF's key. */
	unhex(want, sizeof(want),
	      "f4660dee21c6a48e2a3d695ceedc26693e37b64b5ac5227476578517ee87fe6d");
	crypto_hmac(out, key, sizeof(key), fox, strlen(fox));
	is_mem(out, want, sizeof(want), "HMAC after KDF re-keys");
}

static const char sunscreen[] =
	"Ladies and Gentlemen of the class of '99: If I could offer you only "
	"one tip for the future, sunscreen would be it.";

static void test_aead(void)
{
	uint8_t key[32], iv[CRYPTO_AEAD_NONCE_LEN], ad[12], want[TEST_MAX_VEC];
	uint8_t buf[TEST_MAX_VEC], back[TEST_MAX_VEC];
	size_t len = strlen(sunscreen), wantlen, i;

	/* RFC 8439 section 2.8.2 */
	unhex(key, sizeof(key), "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
	unhex(iv, sizeof(iv), "070000004041424344454647");
	unhex(ad, sizeof(ad), "50515253c0c1c2c3c4c5c6c7");
	wantlen = unhex(want, sizeof(want),
			"d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
			"3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
			"92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
			"3ff4def08e4b7a9de576d26586cec64b6116"
			"1ae10b594f09e26a7e902ecbd0600691");
	is_int(wantlen, len + WG_AUTHTAG_LEN, "RFC 8439 vector length");
	crypto_aead_encrypt_iv(buf, (const uint8_t *)sunscreen, len, ad, sizeof(ad), iv, key);
	is_mem(buf, want, wantlen, "ChaCha20-Poly1305 encrypt (RFC 8439 2.8.2)");
	ok(crypto_aead_decrypt_iv(back, want, wantlen, ad, sizeof(ad), iv, key) &&
		   !memcmp(back, sunscreen, len),
	   "ChaCha20-Poly1305 decrypt (RFC 8439 2.8.2)");

	/* WireGuard's nonce: 4 zero bytes, then the counter little-endian. */
	unhex(iv, sizeof(iv), "000000000102030405060708");
	crypto_aead_encrypt_iv(want, (const uint8_t *)sunscreen, len, NULL, 0, iv, key);
	crypto_aead_encrypt(buf, (const uint8_t *)sunscreen, len, NULL, 0, 0x0807060504030201ULL,
			    key);
	is_mem(buf, want, len + WG_AUTHTAG_LEN, "counter nonce is 0^32 || LE64(counter)");

	/* In place, both ways, as the data path does it. */
	memcpy(buf, sunscreen, len);
	crypto_aead_encrypt(buf, buf, len, ad, sizeof(ad), 42, key);
	crypto_aead_encrypt(back, (const uint8_t *)sunscreen, len, ad, sizeof(ad), 42, key);
	is_mem(buf, back, len + WG_AUTHTAG_LEN, "in-place encrypt equals out-of-place");
	ok(crypto_aead_decrypt(buf, buf, len + WG_AUTHTAG_LEN, ad, sizeof(ad), 42, key) &&
		   !memcmp(buf, sunscreen, len),
	   "in-place decrypt round trip");

	/* A keepalive: no plaintext, just the tag. */
	crypto_aead_encrypt(buf, NULL, 0, NULL, 0, 7, key);
	ok(crypto_aead_decrypt(back, buf, WG_AUTHTAG_LEN, NULL, 0, 7, key), "empty payload");
	ok(!crypto_aead_decrypt(back, buf, WG_AUTHTAG_LEN - 1, NULL, 0, 7, key),
	   "shorter than a tag is refused");

	crypto_aead_encrypt(buf, (const uint8_t *)sunscreen, len, ad, sizeof(ad), 1, key);
	ok(!crypto_aead_decrypt(back, buf, len + WG_AUTHTAG_LEN, ad, sizeof(ad), 2, key),
	   "wrong counter fails");
	ok(!crypto_aead_decrypt(back, buf, len + WG_AUTHTAG_LEN, ad, sizeof(ad) - 1, 1, key),
	   "wrong associated data fails");
	key[5] ^= 1;
	ok(!crypto_aead_decrypt(back, buf, len + WG_AUTHTAG_LEN, ad, sizeof(ad), 1, key),
	   "wrong key fails");
	key[5] ^= 1;
	for (i = 0; i < len + WG_AUTHTAG_LEN; i += 37) {
		buf[i] ^= 0x10;
		if (crypto_aead_decrypt(back, buf, len + WG_AUTHTAG_LEN, ad, sizeof(ad), 1, key))
			break;
		buf[i] ^= 0x10;
	}
	ok(i >= len + WG_AUTHTAG_LEN, "every flipped bit tried (ciphertext and tag) fails");
	buf[len + WG_AUTHTAG_LEN - 1] ^= 0x80;
	memset(back, 0x55, sizeof(back));
	ok(!crypto_aead_decrypt(back, buf, len + WG_AUTHTAG_LEN, ad, sizeof(ad), 1, key) &&
		   crypto_is_zero(back, len),
	   "a failed decrypt leaves no unauthenticated plaintext behind");
	buf[len + WG_AUTHTAG_LEN - 1] ^= 0x80;
	ok(crypto_aead_decrypt(back, buf, len + WG_AUTHTAG_LEN, ad, sizeof(ad), 1, key),
	   "context recovers after a failure");
}

static void test_xaead(void)
{
	uint8_t key[32], nonce[CRYPTO_XNONCE_LEN], ad[12], want[TEST_MAX_VEC];
	uint8_t buf[TEST_MAX_VEC], back[TEST_MAX_VEC];
	size_t len = strlen(sunscreen), wantlen;

	/* draft-irtf-cfrg-xchacha-03, appendix A.3.1 */
	unhex(key, sizeof(key), "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
	unhex(nonce, sizeof(nonce), "404142434445464748494a4b4c4d4e4f5051525354555657");
	unhex(ad, sizeof(ad), "50515253c0c1c2c3c4c5c6c7");
	wantlen = unhex(want, sizeof(want),
			"bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
			"731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
			"2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
			"21f9664c97637da9768812f615c68b13b52e"
			"c0875924c1c7987947deafd8780acf49");
	crypto_xaead_encrypt(buf, (const uint8_t *)sunscreen, len, ad, sizeof(ad), nonce, key);
	is_mem(buf, want, wantlen, "XChaCha20-Poly1305 encrypt (draft-irtf-cfrg-xchacha A.3.1)");
	ok(crypto_xaead_decrypt(back, want, wantlen, ad, sizeof(ad), nonce, key) &&
		   !memcmp(back, sunscreen, len),
	   "XChaCha20-Poly1305 decrypt");
	want[3] ^= 4;
	ok(!crypto_xaead_decrypt(back, want, wantlen, ad, sizeof(ad), nonce, key),
	   "XChaCha20-Poly1305 tamper fails");
	ok(!crypto_xaead_decrypt(back, want, WG_AUTHTAG_LEN - 1, ad, sizeof(ad), nonce, key),
	   "XChaCha20-Poly1305 short input fails");
}

static void test_x25519(void)
{
	uint8_t a[32], b[32], apub[32], bpub[32], want[32], s1[32], s2[32], bad[32];
	static const char *const low_order[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	};
	size_t i;
	bool all = true;

	/* RFC 7748 section 6.1 */
	unhex(a, 32, "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
	unhex(b, 32, "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
	crypto_pubkey(apub, a);
	crypto_pubkey(bpub, b);
	unhex(want, 32, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
	is_mem(apub, want, 32, "X25519 Alice's public key (RFC 7748 6.1)");
	unhex(want, 32, "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
	is_mem(bpub, want, 32, "X25519 Bob's public key");
	unhex(want, 32, "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
	ok(crypto_dh(s1, a, bpub) && !memcmp(s1, want, 32), "X25519 shared secret, Alice's side");
	ok(crypto_dh(s2, b, apub) && !memcmp(s2, want, 32), "X25519 shared secret, Bob's side");

	for (i = 0; i < sizeof(low_order) / sizeof(low_order[0]); ++i) {
		unhex(bad, 32, low_order[i]);
		memset(s1, 0x77, sizeof(s1));
		if (crypto_dh(s1, a, bad) || !crypto_is_zero(s1, sizeof(s1)))
			all = false;
	}
	ok(all, "low-order public keys are refused and the output wiped");

	crypto_genkey(a);
	ok((a[0] & 7) == 0 && (a[31] & 0xc0) == 0x40, "crypto_genkey clamps");
	memset(b, 0xff, 32);
	crypto_clamp(b);
	ok(b[0] == 0xf8 && b[31] == 0x7f && b[15] == 0xff, "crypto_clamp on all-ones");
}

static void test_encodings(void)
{
	uint8_t key[32], back[32];
	char b64[CRYPTO_KEY_BASE64_LEN + 1], hex[CRYPTO_KEY_HEX_LEN + 1], bad[80];
	size_t i;

	for (i = 0; i < 32; ++i)
		key[i] = (uint8_t)(i * 13 + 5);
	crypto_key_to_base64(b64, key);
	is_int(strlen(b64), 44, "base64 key is 44 characters");
	ok(b64[43] == '=' && b64[42] != '=', "base64 key ends in exactly one '='");
	ok(crypto_key_from_base64(back, b64) && !memcmp(back, key, 32), "base64 round trip");
	/* RFC 7748 Alice's public key as `wg` prints it. */
	unhex(key, 32, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
	crypto_key_to_base64(b64, key);
	ok(!strcmp(b64, "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="),
	   "base64 matches a known encoding");

	crypto_key_to_hex(hex, key);
	ok(!strcmp(hex, "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"),
	   "hex is lower case, 64 characters");
	ok(crypto_key_from_hex(back, hex) && !memcmp(back, key, 32), "hex round trip");
	for (i = 0; i < 64; ++i)
		bad[i] = (char)(hex[i] >= 'a' ? hex[i] - 32 : hex[i]);
	bad[64] = '\0';
	ok(crypto_key_from_hex(back, bad) && !memcmp(back, key, 32), "upper-case hex accepted");

	/* Strictness: every malformed spelling is refused and leaves the output wiped. */
#define REFUSE_B64(str, what)                                                                      \
	do {                                                                                       \
		memset(back, 0x33, sizeof(back));                                                  \
		ok(!crypto_key_from_base64(back, (str)) && crypto_is_zero(back, 32),               \
		   "base64 refuses " what);                                                        \
	} while (0)
#define REFUSE_HEX(str, what)                                                                      \
	do {                                                                                       \
		memset(back, 0x33, sizeof(back));                                                  \
		ok(!crypto_key_from_hex(back, (str)) && crypto_is_zero(back, 32),                  \
		   "hex refuses " what);                                                           \
	} while (0)

	REFUSE_B64("", "the empty string");
	REFUSE_B64("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo", "43 characters without pad");
	REFUSE_B64("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo==", "two pads");
	REFUSE_B64("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo= ", "trailing space");
	REFUSE_B64(" hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTm=", "leading space");
	REFUSE_B64("hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo=", "URL-safe alphabet");
	REFUSE_B64("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066Spjqq*Tmo=", "a bad character");
	REFUSE_B64("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmp=", "non-zero trailing bits");
	REFUSE_B64("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTm==", "a 31-byte key");
	REFUSE_B64("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmoA", "no pad at 44 characters");
	REFUSE_B64("hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=AAAA", "extra characters");

	REFUSE_HEX("", "the empty string");
	REFUSE_HEX("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6", "63 digits");
	REFUSE_HEX("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a0",
		   "65 digits");
	REFUSE_HEX("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6g",
		   "a non-digit");
	REFUSE_HEX("8520f0098930a754748b7ddcb43ef75a0dbf3a0d 6381af4eba4a98eaa9b4e6a0", "a space");
	REFUSE_HEX("0x20f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
		   "a 0x prefix");
#undef REFUSE_B64
#undef REFUSE_HEX
}

static void test_misc(void)
{
	uint8_t a[64], b[64], *p;
	uint32_t u;
	int i;
	bool inrange = true, varied = false;

	is_int(crypto_init(), 0, "crypto_init again is harmless");
	p = crypto_secure_alloc(100);
	ok(p && crypto_is_zero(p, 100), "secure allocation is zeroed");
	if (p)
		memset(p, 0xee, 100);
	crypto_secure_free(p);
	ok(tap_survives_in_child(secure_free_null),
	   "crypto_secure_free(NULL) returns (in a child)");

	memset(a, 1, sizeof(a));
	memcpy(b, a, sizeof(b));
	ok(crypto_equal(a, b, sizeof(a)), "crypto_equal on equal buffers");
	b[63] ^= 1;
	ok(!crypto_equal(a, b, sizeof(a)), "crypto_equal sees the last byte");
	crypto_wipe(a, sizeof(a));
	ok(crypto_is_zero(a, sizeof(a)) && !crypto_is_zero(b, sizeof(b)), "wipe and is_zero");

	crypto_random(a, sizeof(a));
	crypto_random(b, sizeof(b));
	ok(memcmp(a, b, sizeof(a)) != 0, "two random draws differ");
	for (i = 0; i < 1000; ++i) {
		u = crypto_random_uniform(10);
		if (u >= 10)
			inrange = false;
		if (u != crypto_random_uniform(10))
			varied = true;
	}
	ok(inrange && varied, "crypto_random_uniform stays below its bound");
	is_int(crypto_random_uniform(1), 0, "crypto_random_uniform(1) is 0");
	u = crypto_random_u32();
	ok(u != crypto_random_u32() || u != crypto_random_u32(), "crypto_random_u32 varies");
}

/* Every thread gets its own OpenSSL contexts; all must agree with the main thread's answers. */
struct thread_job {
	uint8_t hash[WG_HASH_LEN], t1[WG_HASH_LEN], ct[64 + WG_AUTHTAG_LEN], key[32];
	bool good;
};

static void *thread_main(void *arg)
{
	struct thread_job *job = arg;
	uint8_t out[WG_HASH_LEN], t1[WG_HASH_LEN], ct[sizeof(job->ct)], pt[64];
	int i;

	job->good = true;
	for (i = 0; i < TEST_THREAD_ROUNDS && job->good; ++i) {
		crypto_hash(out, fox, strlen(fox), NULL, 0);
		crypto_kdf(t1, NULL, NULL, job->key, fox, strlen(fox));
		crypto_aead_encrypt(ct, (const uint8_t *)fox, 40, NULL, 0, 9, job->key);
		if (memcmp(out, job->hash, sizeof(out)) || memcmp(t1, job->t1, sizeof(t1)) ||
		    memcmp(ct, job->ct, 40 + WG_AUTHTAG_LEN) ||
		    !crypto_aead_decrypt(pt, ct, 40 + WG_AUTHTAG_LEN, NULL, 0, 9, job->key))
			job->good = false;
	}
	return NULL;
}

static void test_threads(void)
{
	struct thread_job jobs[TEST_THREADS];
	pthread_t tid[TEST_THREADS];
	bool good = true;
	int i;

	for (i = 0; i < TEST_THREADS; ++i) {
		memset(jobs[i].key, i + 1, sizeof(jobs[i].key));
		crypto_hash(jobs[i].hash, fox, strlen(fox), NULL, 0);
		crypto_kdf(jobs[i].t1, NULL, NULL, jobs[i].key, fox, strlen(fox));
		crypto_aead_encrypt(jobs[i].ct, (const uint8_t *)fox, 40, NULL, 0, 9, jobs[i].key);
	}
	for (i = 0; i < TEST_THREADS; ++i)
		if (pthread_create(&tid[i], NULL, thread_main, &jobs[i]))
			good = false;
	for (i = 0; i < TEST_THREADS; ++i)
		pthread_join(tid[i], NULL);
	for (i = 0; i < TEST_THREADS; ++i)
		good = good && jobs[i].good;
	ok(good, "%d threads agree with the main thread", TEST_THREADS);
}

/* Runs cmd; returns its first output line without the newline, or false. */
static bool run_line(const char *cmd, char *line, size_t size)
{
	FILE *f = popen(cmd, "r");
	bool got;

	if (!f)
		return false;
	got = fgets(line, (int)size, f) != NULL;
	if (pclose(f) != 0)
		got = false;
	if (got)
		line[strcspn(line, "\n")] = '\0';
	return got;
}

static void test_wg_interop(void)
{
	char line[128], cmd[160], b64[CRYPTO_KEY_BASE64_LEN + 1];
	uint8_t priv[32], pub[32], parsed[32];
	bool genkey_ok = true, pubkey_ok = true;
	int i;

	if (system("command -v wg >/dev/null 2>&1") != 0) {
		printf("ok %d # skip wg (wireguard-tools) not installed\n", ++tap_n);
		printf("ok %d # skip wg (wireguard-tools) not installed\n", ++tap_n);
		return;
	}
	for (i = 0; i < TEST_WG_ROUNDS; ++i) {
		/* Their private key through our parser and X25519, against their pubkey. */
		if (!run_line("wg genkey", line, sizeof(line)) ||
		    !crypto_key_from_base64(priv, line)) {
			genkey_ok = false;
			break;
		}
		snprintf(cmd, sizeof(cmd), "printf '%%s\\n' '%s' | wg pubkey", line);
		crypto_pubkey(pub, priv);
		crypto_key_to_base64(b64, pub);
		if (!run_line(cmd, line, sizeof(line)) || strcmp(line, b64) ||
		    !crypto_key_from_base64(parsed, line) || memcmp(parsed, pub, 32))
			genkey_ok = false;

		/* Our private key through their parser. */
		crypto_genkey(priv);
		crypto_key_to_base64(b64, priv);
		snprintf(cmd, sizeof(cmd), "printf '%%s\\n' '%s' | wg pubkey", b64);
		crypto_pubkey(pub, priv);
		crypto_key_to_base64(b64, pub);
		if (!run_line(cmd, line, sizeof(line)) || strcmp(line, b64))
			pubkey_ok = false;
	}
	crypto_wipe(priv, sizeof(priv));
	ok(genkey_ok, "`wg genkey` keys parse and our public key equals `wg pubkey`'s");
	ok(pubkey_ok, "`wg pubkey` accepts crypto_genkey keys and agrees with us");
}

#if defined(__SANITIZE_ADDRESS__)
#define TEST_CRYPTO_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_CRYPTO_ASAN 1
#endif
#endif

#ifndef TEST_CRYPTO_ASAN
/* Copies of key in this process's writable memory but the stack (where key itself is), each
 * mapping read whole: the heap OpenSSL allocates its contexts from is one of them. */
static int key_copies(const uint8_t key[WG_KEY_LEN])
{
	char line[512], perms[8];
	unsigned long lo, hi;
	int n = 0;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		const uint8_t *p, *end;

		if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) != 3 || perms[0] != 'r' ||
		    perms[1] != 'w' || strstr(line, "[stack") || hi - lo > (256ul << 20))
			continue;
		end = (const uint8_t *)hi - WG_KEY_LEN;
		for (p = (const uint8_t *)lo; p <= end; p++) {
			p = memchr(p, key[0], (size_t)(end - p) + 1);
			if (!p)
				break;
			if (!memcmp(p, key, WG_KEY_LEN))
				n++;
		}
	}
	fclose(f);
	return n;
}
#endif

/*
 * Issue #15: no copy of a key outlives its use outside locked, wiped memory. OpenSSL's contexts
 * keep the last key they were given; the scrub re-keys them with zeros. The key under test lives
 * on the stack only (the scan skips the stack), the buffers handed to the library are wiped, so
 * what the scan finds is what the library kept.
 */
static void test_scrub(void)
{
#ifdef TEST_CRYPTO_ASAN
	tap_skip(4, "key scan: ASan poisons the freed heap the scan would read");
#else
	uint8_t key[WG_KEY_LEN], *k = crypto_secure_alloc(WG_KEY_LEN);
	uint8_t in[64] = { 1 }, out[64 + WG_AUTHTAG_LEN], out2[64 + WG_AUTHTAG_LEN],
		mac[WG_MAC_LEN];
	struct crypto_ctx *c = crypto_ctx_new();
	int before;

	crypto_random(key, sizeof(key));
	/* not a byte the scan would stop on at every zero page */
	key[0] |= 0x80;
	memcpy(k, key, WG_KEY_LEN);
	crypto_ctx_seal(c, out, in, sizeof(in), NULL, 0, 1, k);
	crypto_ctx_open(c, in, out, sizeof(out), NULL, 0, 1, k);
	crypto_ctx_mac(c, mac, k, WG_KEY_LEN, in, sizeof(in));
	crypto_wipe(k, WG_KEY_LEN);
	before = key_copies(key);
	ok(before >= 1, "the scan finds the key the contexts were last given (%d copies)", before);
	crypto_ctx_scrub(c);
	is_int(key_copies(key), 0, "after crypto_ctx_scrub: no copy left");

	crypto_random(key, sizeof(key));
	key[0] |= 0x80;
	memcpy(k, key, WG_KEY_LEN);
	crypto_aead_encrypt(out, in, sizeof(in), NULL, 0, 7, k);
	crypto_aead_decrypt(in, out, sizeof(out), NULL, 0, 7, k);
	crypto_mac(mac, k, WG_KEY_LEN, in, sizeof(in));
	crypto_wipe(k, WG_KEY_LEN);
	is_int(key_copies(key), 0, "the thread's own contexts keep no copy after each call");
	crypto_ctx_scrub(c);
	crypto_ctx_scrub(NULL);
	/* a scrubbed context takes the next key as if new: same output as the thread's own */
	crypto_random(k, WG_KEY_LEN);
	crypto_ctx_seal(c, out, in, sizeof(in), NULL, 0, 9, k);
	crypto_aead_encrypt(out2, in, sizeof(in), NULL, 0, 9, k);
	ok(!memcmp(out, out2, sizeof(out)) &&
		   crypto_ctx_open(c, in, out, sizeof(out), NULL, 0, 9, k),
	   "after two scrubs (and a NULL one) the context seals and opens with the next key");
	crypto_wipe(key, sizeof(key));
	crypto_secure_free(k);
	crypto_ctx_free(c);
#endif
}

/* The key codecs are our own branch-free arithmetic (issue #21: libsodium's cost seconds at a
 * million peers); libsodium's are the reference: every byte value in every position through
 * base64 and hex, and every character through the hex decoder in both nibbles. */
static void test_codecs_vs_sodium(void)
{
	char ours[CRYPTO_KEY_BASE64_LEN + 1], ref[CRYPTO_KEY_BASE64_LEN + 1];
	char hex[CRYPTO_KEY_HEX_LEN + 1], rhex[CRYPTO_KEY_HEX_LEN + 1];
	uint8_t key[32], back[32];
	int bad_b64 = 0, bad_hex = 0, bad_dec = 0;

	for (int v = 0; v < 256; ++v) {
		for (int pos = 0; pos < 32; ++pos) {
			for (int i = 0; i < 32; ++i)
				key[i] = (uint8_t)(i == pos ? v : (v * 7 + i * 31) & 0xff);
			crypto_key_to_base64(ours, key);
			sodium_bin2base64(ref, sizeof(ref), key, 32,
					  sodium_base64_VARIANT_ORIGINAL);
			bad_b64 += strcmp(ours, ref) != 0;
			crypto_key_to_hex(hex, key);
			sodium_bin2hex(rhex, sizeof(rhex), key, 32);
			bad_hex += strcmp(hex, rhex) != 0;
		}
	}
	is_int(bad_b64, 0, "base64 encodes every byte in every position as libsodium does");
	is_int(bad_hex, 0, "hex encodes every byte in every position as libsodium does");
	memset(hex, '0', CRYPTO_KEY_HEX_LEN);
	hex[CRYPTO_KEY_HEX_LEN] = '\0';
	for (int c = 1; c < 256; ++c) {
		for (int at = 0; at < 2; ++at) {
			size_t binlen = 0;
			const char *end = NULL;
			uint8_t rb[32];
			bool want, got;

			hex[10 + at] = (char)c;
			want = sodium_hex2bin(rb, 32, hex, CRYPTO_KEY_HEX_LEN, NULL, &binlen,
					      &end) == 0 &&
			       binlen == 32 && end == hex + CRYPTO_KEY_HEX_LEN;
			got = crypto_key_from_hex(back, hex);
			bad_dec += want != got || (got && memcmp(back, rb, 32));
			hex[10 + at] = '0';
		}
	}
	is_int(bad_dec, 0, "hex decodes (or refuses) every character as libsodium does");

	/* crypto_is_zero reads eight bytes at a time, then the tail: every length and position */
	for (size_t len = 0; len <= 40; ++len) {
		uint8_t buf[41] = { 0 };

		bad_dec += !crypto_is_zero(buf, len);
		for (size_t at = 0; at < len; ++at) {
			buf[at] = (uint8_t)(1U << (at % 8));
			bad_dec += crypto_is_zero(buf, len);
			bad_dec += !crypto_is_zero(buf, at);
			buf[at] = 0;
		}
	}
	is_int(bad_dec, 0, "is_zero finds a set bit at every position of every length to 40");
}

int main(void)
{
	/* Deliberately no crypto_init() first: every entry point must initialise lazily. */
	test_blake2s();
	test_mac();
	test_hmac_kdf();
	test_aead();
	test_xaead();
	test_x25519();
	test_encodings();
	test_codecs_vs_sodium();
	test_misc();
	test_threads();
	test_wg_interop();
	test_scrub();
	return done_testing();
}
