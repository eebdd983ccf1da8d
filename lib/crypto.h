/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Thin wrappers over maintained libraries, and nothing hand-written:
 *   X25519, XChaCha20-Poly1305, randomness, locked memory  — libsodium
 *   BLAKE2s-256, keyed BLAKE2s (MAC), HMAC-BLAKE2s          — OpenSSL 3 libcrypto
 *   ChaCha20-Poly1305 (bulk)                               — OpenSSL 3 EVP (2x libsodium here)
 * Every function here is thread-safe; per-thread library contexts are kept internally, except for
 * the data path's, whose contexts (struct crypto_ctx) its caller owns and passes.
 */
#ifndef XDPWG_CRYPTO_H
#define XDPWG_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "xdpwg_wire.h"

enum crypto_lengths {
	CRYPTO_KEY_BASE64_LEN = 44, /* without the NUL */
	CRYPTO_KEY_HEX_LEN = 64,    /* without the NUL */
	CRYPTO_XNONCE_LEN = 24,
};

/* sodium_init and OpenSSL algorithm fetches; call once before anything else. 0 or -1. */
int crypto_init(void);

/* HASH(a || b) = BLAKE2s-256; b may be NULL with blen 0. */
void crypto_hash(uint8_t out[WG_HASH_LEN], const void *a, size_t alen, const void *b, size_t blen);
/* MAC(key, in) = keyed BLAKE2s with a 16-byte output; keylen 1..32. */
void crypto_mac(uint8_t out[WG_MAC_LEN], const uint8_t *key, size_t keylen, const void *in,
		size_t len);
/* HMAC-BLAKE2s-256 (64-byte block). */
void crypto_hmac(uint8_t out[WG_HASH_LEN], const uint8_t *key, size_t keylen, const void *in,
		 size_t len);
/* WireGuard's KDF_n: t1..t3 (any may be NULL to stop early: t2 NULL means KDF1). */
void crypto_kdf(uint8_t *t1, uint8_t *t2, uint8_t *t3, const uint8_t key[WG_HASH_LEN],
		const void *in, size_t len);

/* X25519. crypto_dh fails (false) when the shared point is all zero (a low-order key). */
bool crypto_dh(uint8_t out[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN],
	       const uint8_t pub[WG_KEY_LEN]);
void crypto_pubkey(uint8_t pub[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN]);
/* A fresh private key, clamped exactly as `wg genkey` clamps it. */
void crypto_genkey(uint8_t priv[WG_KEY_LEN]);
void crypto_clamp(uint8_t key[WG_KEY_LEN]);

/*
 * ChaCha20-Poly1305 (RFC 8439) with WireGuard's nonce: 4 zero bytes then the 64-bit counter,
 * little-endian. encrypt writes len + 16 bytes to dst; decrypt takes len including the tag,
 * writes len - 16 bytes and returns false on a bad tag. dst may equal src (in place).
 * On false, decrypt has wiped the len - 16 bytes at dst (they were never authenticated).
 */
void crypto_aead_encrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			 size_t adlen, uint64_t nonce, const uint8_t key[WG_KEY_LEN]);
bool crypto_aead_decrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			 size_t adlen, uint64_t nonce, const uint8_t key[WG_KEY_LEN]);

/*
 * The data path's operations on contexts the caller owns: a data-path thread (an AF_XDP worker,
 * the socket back-end's loop) keeps one in its engine path, so the packet path reaches its
 * cipher and MAC state through an argument, not a thread-local. One user at a time. NULL on
 * ENOMEM. seal/open as crypto_aead_encrypt/decrypt; mac as crypto_mac (ctx NULL: that).
 */
struct crypto_ctx;
struct crypto_ctx *crypto_ctx_new(void);
void crypto_ctx_free(struct crypto_ctx *a);
void crypto_ctx_seal(struct crypto_ctx *a, uint8_t *dst, const uint8_t *src, size_t len,
		     const uint8_t *ad, size_t adlen, uint64_t nonce,
		     const uint8_t key[WG_KEY_LEN]);
bool crypto_ctx_open(struct crypto_ctx *a, uint8_t *dst, const uint8_t *src, size_t len,
		     const uint8_t *ad, size_t adlen, uint64_t nonce,
		     const uint8_t key[WG_KEY_LEN]);
void crypto_ctx_mac(struct crypto_ctx *a, uint8_t out[WG_MAC_LEN], const uint8_t *key,
		    size_t keylen, const void *in, size_t len);
/* The batch is over: the contexts forget the last keys they were given (re-keyed with zeros;
 * only those used since the last scrub). Call it before the thread waits for more work. */
void crypto_ctx_scrub(struct crypto_ctx *a);

/* XChaCha20-Poly1305 for cookie replies; same length conventions. */
void crypto_xaead_encrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			  size_t adlen, const uint8_t nonce[CRYPTO_XNONCE_LEN],
			  const uint8_t key[WG_KEY_LEN]);
bool crypto_xaead_decrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			  size_t adlen, const uint8_t nonce[CRYPTO_XNONCE_LEN],
			  const uint8_t key[WG_KEY_LEN]);

void crypto_random(void *buf, size_t len);
uint32_t crypto_random_u32(void);
/* Uniform in [0, bound). */
uint32_t crypto_random_uniform(uint32_t bound);

/* Locked (mlock), guarded memory for secrets; zeroed on allocation, wiped on free. */
void *crypto_secure_alloc(size_t len);
void crypto_secure_free(void *p);
/* Wipe that the compiler may not elide. */
void crypto_wipe(void *p, size_t len);
/* Constant-time equality. */
bool crypto_equal(const void *a, const void *b, size_t len);
bool crypto_is_zero(const void *p, size_t len);

/*
 * Key encodings. base64 exactly as `wg` prints keys (44 characters, one '=' pad); hex as the
 * configuration protocol carries them. Decoders are strict: wrong length, bad characters or
 * non-canonical trailing bits are refused (false) and the output is left wiped.
 */
void crypto_key_to_base64(char out[CRYPTO_KEY_BASE64_LEN + 1], const uint8_t key[WG_KEY_LEN]);
bool crypto_key_from_base64(uint8_t key[WG_KEY_LEN], const char *in);
void crypto_key_to_hex(char out[CRYPTO_KEY_HEX_LEN + 1], const uint8_t key[WG_KEY_LEN]);
bool crypto_key_from_hex(uint8_t key[WG_KEY_LEN], const char *in);

/* Appended for the test vectors (RFC 8439 uses nonces that are not WireGuard's). */
enum crypto_aead_lengths {
	CRYPTO_AEAD_NONCE_LEN = 12,
};

/* crypto_aead_* with a raw 12-byte nonce; same conventions. Tests and tools only. */
void crypto_aead_encrypt_iv(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			    size_t adlen, const uint8_t iv[CRYPTO_AEAD_NONCE_LEN],
			    const uint8_t key[WG_KEY_LEN]);
bool crypto_aead_decrypt_iv(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			    size_t adlen, const uint8_t iv[CRYPTO_AEAD_NONCE_LEN],
			    const uint8_t key[WG_KEY_LEN]);

#endif
