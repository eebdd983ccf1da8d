// SPDX-License-Identifier: GPL-2.0
/*
 * Crypto primitives for xdpwg: thin wrappers, nothing hand-written.
 *
 * OpenSSL algorithm objects are fetched once (crypto_init) and shared read-only by all threads;
 * the mutable contexts (EVP_MD_CTX, EVP_MAC_CTX, EVP_CIPHER_CTX) are per thread, created on
 * first use and re-keyed per call, so the hot paths (the data-path AEAD, the handshake's many
 * HMACs) neither lock nor allocate. A pthread key frees a thread's contexts when it exits.
 *
 * OpenSSL failures on valid arguments mean a broken installation, not hostile input, so they
 * abort: carrying on would risk sending something unencrypted or wrongly keyed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
/*
 * Not <sodium.h>: it declares libsodium's own crypto_hash (SHA-512), whose name crypto.h
 * takes for BLAKE2s. Only the parts used are included.
 */
#include <sodium/core.h>
#include <sodium/crypto_aead_xchacha20poly1305.h>
#include <sodium/crypto_scalarmult.h>
#include <sodium/randombytes.h>
#include <sodium/utils.h>

#include "crypto.h"
#include "crypto_internal.h"
#include "log.h"

enum crypto_internal {
	CRYPTO_BLAKE2S_BLOCK_LEN = 64,
	CRYPTO_BLAKE2S_MAX_KEY_LEN = 32,
	/* KDF chaining inputs: the previous 32-byte output and a one-byte counter */
	CRYPTO_KDF_STEP_LEN = WG_HASH_LEN + 1,
};

/* Fetched once; immutable afterwards, so safe to share between threads. */
static struct {
	EVP_MD *blake2s;
	EVP_MAC *blake2smac;
	EVP_MAC *hmac;
	EVP_CIPHER *chachapoly;
	int status; /* 0 or -1: the result of the one initialisation */
} crypto_algs;

static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;
static pthread_key_t crypto_tls_key;

/* One thread's mutable contexts. */
struct crypto_tls {
	EVP_MD_CTX *md;
	EVP_MAC_CTX *mac;  /* BLAKE2SMAC, output size fixed at 16 */
	EVP_MAC_CTX *hmac; /* HMAC with BLAKE2S-256 fixed */
	EVP_CIPHER_CTX *enc;
	EVP_CIPHER_CTX *dec;
};

static __thread struct crypto_tls *crypto_tls;

/*
 * Scrubbing. An OpenSSL context keeps the last key it was given (the cipher its key words, the
 * keyed-BLAKE2s MAC a copy of its key) in memory OpenSSL allocates, which is neither locked nor
 * ours to wipe. So once an operation is over the context is re-keyed with zeros: no transport
 * key, handshake key or cookie secret stays behind in it. The thread's own contexts (the
 * handshake's) are scrubbed after each call; a data path's (struct crypto_ctx) after each batch,
 * by crypto_ctx_scrub, which is where the cost of one re-key is spread over many packets.
 */
static const uint8_t crypto_zero_key[WG_KEY_LEN];

static void crypto_cipher_scrub(EVP_CIPHER_CTX *c, bool enc)
{
	if (!(enc ? EVP_EncryptInit_ex2 : EVP_DecryptInit_ex2)(c, NULL, crypto_zero_key, NULL,
							       NULL))
		crypto_fatal("ChaCha20-Poly1305: scrubbing the key");
}

static void crypto_mac_scrub(EVP_MAC_CTX *mac)
{
	if (!EVP_MAC_init(mac, crypto_zero_key, sizeof(crypto_zero_key), NULL))
		crypto_fatal("keyed BLAKE2s: scrubbing the key");
}

void __attribute__((noreturn)) crypto_fatal(const char *what)
{
	unsigned long e = ERR_get_error();
	char buf[256] = "no OpenSSL error queued";

	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	log_err("crypto: %s failed (%s); the crypto library is unusable", what, buf);
	abort();
}

static void crypto_tls_free(void *p)
{
	struct crypto_tls *t = p;

	if (!t)
		return;
	/* The *_free functions cleanse the key material the contexts hold. */
	EVP_MD_CTX_free(t->md);
	EVP_MAC_CTX_free(t->mac);
	EVP_MAC_CTX_free(t->hmac);
	EVP_CIPHER_CTX_free(t->enc);
	EVP_CIPHER_CTX_free(t->dec);
	if (t == crypto_tls)
		crypto_tls = NULL;
	free(t);
}

static void crypto_do_init(void)
{
	crypto_algs.status = -1;
	if (sodium_init() < 0) {
		log_err("crypto: sodium_init failed");
		return;
	}
	crypto_algs.blake2s = EVP_MD_fetch(NULL, "BLAKE2S-256", NULL);
	crypto_algs.blake2smac = EVP_MAC_fetch(NULL, "BLAKE2SMAC", NULL);
	crypto_algs.hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	crypto_algs.chachapoly = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	if (!crypto_algs.blake2s || !crypto_algs.blake2smac || !crypto_algs.hmac ||
	    !crypto_algs.chachapoly) {
		log_err("crypto: OpenSSL lacks BLAKE2s, BLAKE2SMAC, HMAC or ChaCha20-Poly1305");
		return;
	}
	if (pthread_key_create(&crypto_tls_key, crypto_tls_free)) {
		log_err("crypto: pthread_key_create failed");
		return;
	}
	crypto_algs.status = 0;
}

int crypto_init(void)
{
	pthread_once(&crypto_once, crypto_do_init);
	return crypto_algs.status;
}

/* Every entry point may be the first call (tests and tools forget crypto_init). */
void crypto_ready(void)
{
	if (crypto_init())
		crypto_fatal("initialisation");
}

static struct crypto_tls *crypto_tls_get(void)
{
	struct crypto_tls *t = crypto_tls;
	OSSL_PARAM params[2];
	size_t size = WG_MAC_LEN;

	if (__builtin_expect(t != NULL, 1))
		return t;
	crypto_ready();
	t = calloc(1, sizeof(*t));
	if (!t)
		crypto_fatal("allocating per-thread contexts");
	t->md = EVP_MD_CTX_new();
	t->mac = EVP_MAC_CTX_new(crypto_algs.blake2smac);
	t->hmac = EVP_MAC_CTX_new(crypto_algs.hmac);
	t->enc = EVP_CIPHER_CTX_new();
	t->dec = EVP_CIPHER_CTX_new();
	if (!t->md || !t->mac || !t->hmac || !t->enc || !t->dec)
		crypto_fatal("allocating per-thread contexts");

	/* Parameters that never change are set once here, keys per call. */
	params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size);
	params[1] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_CTX_set_params(t->mac, params))
		crypto_fatal("BLAKE2SMAC output size");
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, "BLAKE2S-256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if (!EVP_MAC_CTX_set_params(t->hmac, params))
		crypto_fatal("HMAC digest");
	if (!EVP_EncryptInit_ex2(t->enc, crypto_algs.chachapoly, NULL, NULL, NULL) ||
	    !EVP_DecryptInit_ex2(t->dec, crypto_algs.chachapoly, NULL, NULL, NULL))
		crypto_fatal("ChaCha20-Poly1305 setup");

	if (pthread_setspecific(crypto_tls_key, t))
		crypto_fatal("pthread_setspecific");
	crypto_tls = t;
	return t;
}

void crypto_hash(uint8_t out[WG_HASH_LEN], const void *a, size_t alen, const void *b, size_t blen)
{
	struct crypto_tls *t = crypto_tls_get();
	unsigned int outlen = 0;

	if (!EVP_DigestInit_ex2(t->md, crypto_algs.blake2s, NULL) ||
	    !EVP_DigestUpdate(t->md, a, alen) || (blen && !EVP_DigestUpdate(t->md, b, blen)) ||
	    !EVP_DigestFinal_ex(t->md, out, &outlen) || outlen != WG_HASH_LEN)
		crypto_fatal("BLAKE2s-256");
}

static void crypto_mac_on(EVP_MAC_CTX *mac, uint8_t out[WG_MAC_LEN], const uint8_t *key,
			  size_t keylen, const void *in, size_t len)
{
	size_t outlen = 0;

	if (keylen < 1 || keylen > CRYPTO_BLAKE2S_MAX_KEY_LEN)
		crypto_fatal("keyed BLAKE2s: key length out of range");
	if (!EVP_MAC_init(mac, key, keylen, NULL) || !EVP_MAC_update(mac, in, len) ||
	    !EVP_MAC_final(mac, out, &outlen, WG_MAC_LEN) || outlen != WG_MAC_LEN)
		crypto_fatal("keyed BLAKE2s");
}

void crypto_mac(uint8_t out[WG_MAC_LEN], const uint8_t *key, size_t keylen, const void *in,
		size_t len)
{
	struct crypto_tls *t = crypto_tls_get();

	crypto_mac_on(t->mac, out, key, keylen, in, len);
	crypto_mac_scrub(t->mac);
}

/* key NULL re-uses the key of the previous call on this thread (OpenSSL keeps the pads). */
static void crypto_hmac_ctx(EVP_MAC_CTX *ctx, uint8_t out[WG_HASH_LEN], const uint8_t *key,
			    size_t keylen, const void *a, size_t alen, const void *b, size_t blen)
{
	size_t outlen = 0;

	if (!EVP_MAC_init(ctx, key, keylen, NULL) || !EVP_MAC_update(ctx, a, alen) ||
	    (blen && !EVP_MAC_update(ctx, b, blen)) ||
	    !EVP_MAC_final(ctx, out, &outlen, WG_HASH_LEN) || outlen != WG_HASH_LEN)
		crypto_fatal("HMAC-BLAKE2s");
}

void crypto_hmac(uint8_t out[WG_HASH_LEN], const uint8_t *key, size_t keylen, const void *in,
		 size_t len)
{
	struct crypto_tls *t = crypto_tls_get();
	static const uint8_t empty_key;

	/* OpenSSL reads a NULL key as "keep the old one"; an empty key must not mean that. */
	if (!key || !keylen) {
		key = &empty_key;
		keylen = 0;
	}
	crypto_hmac_ctx(t->hmac, out, key, keylen, in, len, NULL, 0);
}

void crypto_kdf(uint8_t *t1, uint8_t *t2, uint8_t *t3, const uint8_t key[WG_HASH_LEN],
		const void *in, size_t len)
{
	struct crypto_tls *t = crypto_tls_get();
	uint8_t t0[WG_HASH_LEN], prev[WG_HASH_LEN];
	const uint8_t one = 1, two = 2, three = 3;

	if (!t1)
		goto out;
	crypto_hmac_ctx(t->hmac, t0, key, WG_HASH_LEN, in, len, NULL, 0);
	/* Outputs may alias each other or the key; work in locals, copy out at the end of each. */
	crypto_hmac_ctx(t->hmac, prev, t0, WG_HASH_LEN, &one, 1, NULL, 0);
	memcpy(t1, prev, WG_HASH_LEN);
	if (!t2)
		goto out;
	/* t0 is still the HMAC key: NULL re-uses it without recomputing the pads. */
	crypto_hmac_ctx(t->hmac, prev, NULL, 0, prev, WG_HASH_LEN, &two, 1);
	memcpy(t2, prev, WG_HASH_LEN);
	if (!t3)
		goto out;
	crypto_hmac_ctx(t->hmac, prev, NULL, 0, prev, WG_HASH_LEN, &three, 1);
	memcpy(t3, prev, WG_HASH_LEN);
out:
	/* The thread's HMAC context keeps its key (OpenSSL's provider holds a copy, and the pads
	 * derived from it) until the next init: t0, the chaining key's PRK, would stay in memory
	 * for as long as the thread lives. Re-key it with zeros. */
	if (t1) {
		sodium_memzero(t0, sizeof(t0));
		crypto_hmac_ctx(t->hmac, prev, t0, WG_HASH_LEN, &one, 1, NULL, 0);
	}
	sodium_memzero(t0, sizeof(t0));
	sodium_memzero(prev, sizeof(prev));
}

bool crypto_dh(uint8_t out[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN],
	       const uint8_t pub[WG_KEY_LEN])
{
	crypto_ready();
	/* libsodium refuses an all-zero result itself; check again so the contract does not hang
	 * on a library detail. */
	if (crypto_scalarmult(out, priv, pub) != 0 || sodium_is_zero(out, WG_KEY_LEN)) {
		sodium_memzero(out, WG_KEY_LEN);
		return false;
	}
	return true;
}

void crypto_pubkey(uint8_t pub[WG_KEY_LEN], const uint8_t priv[WG_KEY_LEN])
{
	crypto_ready();
	/* Cannot fail: the clamped scalar is never zero. */
	if (crypto_scalarmult_base(pub, priv) != 0)
		crypto_fatal("X25519 base point multiplication");
}

void crypto_clamp(uint8_t key[WG_KEY_LEN])
{
	key[0] &= 248;
	key[31] &= 127;
	key[31] |= 64;
}

void crypto_genkey(uint8_t priv[WG_KEY_LEN])
{
	crypto_random(priv, WG_KEY_LEN);
	crypto_clamp(priv);
}

static void crypto_wg_nonce(uint8_t iv[CRYPTO_AEAD_NONCE_LEN], uint64_t nonce)
{
	int i;

	memset(iv, 0, 4);
	for (i = 0; i < 8; ++i)
		iv[4 + i] = (uint8_t)(nonce >> (8 * i));
}

/* One encryption on c, whose cipher is set: only key and IV change per packet. */
static void crypto_seal(EVP_CIPHER_CTX *c, uint8_t *dst, const uint8_t *src, size_t len,
			const uint8_t *ad, size_t adlen, const uint8_t iv[CRYPTO_AEAD_NONCE_LEN],
			const uint8_t key[WG_KEY_LEN])
{
	int n = 0;

	if (len > INT32_MAX || adlen > INT32_MAX)
		crypto_fatal("ChaCha20-Poly1305: length out of range");
	if (!EVP_EncryptInit_ex2(c, NULL, key, iv, NULL) ||
	    (adlen && !EVP_EncryptUpdate(c, NULL, &n, ad, (int)adlen)) ||
	    (len && !EVP_EncryptUpdate(c, dst, &n, src, (int)len)) ||
	    !EVP_EncryptFinal_ex(c, dst + len, &n) ||
	    !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, WG_AUTHTAG_LEN, dst + len))
		crypto_fatal("ChaCha20-Poly1305 encryption");
}

static bool crypto_open(EVP_CIPHER_CTX *c, uint8_t *dst, const uint8_t *src, size_t len,
			const uint8_t *ad, size_t adlen, const uint8_t iv[CRYPTO_AEAD_NONCE_LEN],
			const uint8_t key[WG_KEY_LEN])
{
	uint8_t tag[WG_AUTHTAG_LEN];
	size_t plen;
	int n = 0;

	if (len < WG_AUTHTAG_LEN)
		return false;
	if (len > INT32_MAX || adlen > INT32_MAX)
		crypto_fatal("ChaCha20-Poly1305: length out of range");
	plen = len - WG_AUTHTAG_LEN;
	/* Copied first: in place, the tag sits right after the plaintext being written. */
	memcpy(tag, src + plen, WG_AUTHTAG_LEN);
	if (!EVP_DecryptInit_ex2(c, NULL, key, iv, NULL) ||
	    (adlen && !EVP_DecryptUpdate(c, NULL, &n, ad, (int)adlen)) ||
	    (plen && !EVP_DecryptUpdate(c, dst, &n, src, (int)plen)) ||
	    !EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, WG_AUTHTAG_LEN, tag))
		crypto_fatal("ChaCha20-Poly1305 decryption");
	/* A bad tag is bad input, not a broken library. With nothing to decrypt dst may be NULL
	 * (an empty AEAD, as in the handshake response): no pointer arithmetic on it then. */
	if (EVP_DecryptFinal_ex(c, plen ? dst + plen : tag, &n) != 1) {
		ERR_clear_error();
		/* The plaintext was written unauthenticated: nobody may see it. */
		if (plen)
			sodium_memzero(dst, plen);
		return false;
	}
	return true;
}

void crypto_aead_encrypt_iv(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			    size_t adlen, const uint8_t iv[CRYPTO_AEAD_NONCE_LEN],
			    const uint8_t key[WG_KEY_LEN])
{
	struct crypto_tls *t = crypto_tls_get();

	crypto_seal(t->enc, dst, src, len, ad, adlen, iv, key);
	crypto_cipher_scrub(t->enc, true);
}

bool crypto_aead_decrypt_iv(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			    size_t adlen, const uint8_t iv[CRYPTO_AEAD_NONCE_LEN],
			    const uint8_t key[WG_KEY_LEN])
{
	struct crypto_tls *t = crypto_tls_get();
	bool ok = crypto_open(t->dec, dst, src, len, ad, adlen, iv, key);

	crypto_cipher_scrub(t->dec, false);
	return ok;
}

void crypto_aead_encrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			 size_t adlen, uint64_t nonce, const uint8_t key[WG_KEY_LEN])
{
	uint8_t iv[CRYPTO_AEAD_NONCE_LEN];

	crypto_wg_nonce(iv, nonce);
	crypto_aead_encrypt_iv(dst, src, len, ad, adlen, iv, key);
}

bool crypto_aead_decrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			 size_t adlen, uint64_t nonce, const uint8_t key[WG_KEY_LEN])
{
	uint8_t iv[CRYPTO_AEAD_NONCE_LEN];

	crypto_wg_nonce(iv, nonce);
	return crypto_aead_decrypt_iv(dst, src, len, ad, adlen, iv, key);
}

/* A data-path thread's own contexts (see crypto.h): the same operations, no thread-local. */
struct crypto_ctx {
	EVP_CIPHER_CTX *enc;
	EVP_CIPHER_CTX *dec;
	EVP_MAC_CTX *mac; /* BLAKE2SMAC, output size fixed at 16 */
	/* keyed since the last crypto_ctx_scrub: enc, dec, mac */
	bool used_enc, used_dec, used_mac;
};

struct crypto_ctx *crypto_ctx_new(void)
{
	OSSL_PARAM params[2];
	size_t size = WG_MAC_LEN;
	struct crypto_ctx *a;

	crypto_ready();
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	a->enc = EVP_CIPHER_CTX_new();
	a->dec = EVP_CIPHER_CTX_new();
	a->mac = EVP_MAC_CTX_new(crypto_algs.blake2smac);
	params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size);
	params[1] = OSSL_PARAM_construct_end();
	if (!a->enc || !a->dec || !a->mac ||
	    !EVP_EncryptInit_ex2(a->enc, crypto_algs.chachapoly, NULL, NULL, NULL) ||
	    !EVP_DecryptInit_ex2(a->dec, crypto_algs.chachapoly, NULL, NULL, NULL) ||
	    !EVP_MAC_CTX_set_params(a->mac, params)) {
		crypto_ctx_free(a);
		return NULL;
	}
	return a;
}

void crypto_ctx_free(struct crypto_ctx *a)
{
	if (!a)
		return;
	/* the *_free functions cleanse the key material the contexts hold */
	EVP_CIPHER_CTX_free(a->enc);
	EVP_CIPHER_CTX_free(a->dec);
	EVP_MAC_CTX_free(a->mac);
	free(a);
}

void crypto_ctx_seal(struct crypto_ctx *a, uint8_t *dst, const uint8_t *src, size_t len,
		     const uint8_t *ad, size_t adlen, uint64_t nonce, const uint8_t key[WG_KEY_LEN])
{
	uint8_t iv[CRYPTO_AEAD_NONCE_LEN];

	crypto_wg_nonce(iv, nonce);
	crypto_seal(a->enc, dst, src, len, ad, adlen, iv, key);
	a->used_enc = true;
}

bool crypto_ctx_open(struct crypto_ctx *a, uint8_t *dst, const uint8_t *src, size_t len,
		     const uint8_t *ad, size_t adlen, uint64_t nonce, const uint8_t key[WG_KEY_LEN])
{
	uint8_t iv[CRYPTO_AEAD_NONCE_LEN];

	crypto_wg_nonce(iv, nonce);
	a->used_dec = true;
	return crypto_open(a->dec, dst, src, len, ad, adlen, iv, key);
}

void crypto_ctx_mac(struct crypto_ctx *a, uint8_t out[WG_MAC_LEN], const uint8_t *key,
		    size_t keylen, const void *in, size_t len)
{
	if (!a) {
		crypto_mac(out, key, keylen, in, len);
		return;
	}
	crypto_mac_on(a->mac, out, key, keylen, in, len);
	a->used_mac = true;
}

void crypto_ctx_scrub(struct crypto_ctx *a)
{
	if (!a)
		return;
	if (a->used_enc)
		crypto_cipher_scrub(a->enc, true);
	if (a->used_dec)
		crypto_cipher_scrub(a->dec, false);
	if (a->used_mac)
		crypto_mac_scrub(a->mac);
	a->used_enc = a->used_dec = a->used_mac = false;
}

void crypto_xaead_encrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			  size_t adlen, const uint8_t nonce[CRYPTO_XNONCE_LEN],
			  const uint8_t key[WG_KEY_LEN])
{
	unsigned long long clen = 0;

	crypto_ready();
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(dst, &clen, src, len, ad, adlen, NULL, nonce,
						       key) != 0 ||
	    clen != len + WG_AUTHTAG_LEN)
		crypto_fatal("XChaCha20-Poly1305 encryption");
}

bool crypto_xaead_decrypt(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t *ad,
			  size_t adlen, const uint8_t nonce[CRYPTO_XNONCE_LEN],
			  const uint8_t key[WG_KEY_LEN])
{
	unsigned long long plen = 0;

	crypto_ready();
	if (len < WG_AUTHTAG_LEN)
		return false;
	/* libsodium verifies before it decrypts, so dst is untouched on failure. */
	return crypto_aead_xchacha20poly1305_ietf_decrypt(dst, &plen, NULL, src, len, ad, adlen,
							  nonce, key) == 0 &&
	       plen == len - WG_AUTHTAG_LEN;
}

void crypto_random(void *buf, size_t len)
{
	crypto_ready();
	randombytes_buf(buf, len);
}

uint32_t crypto_random_u32(void)
{
	crypto_ready();
	return randombytes_random();
}

uint32_t crypto_random_uniform(uint32_t bound)
{
	crypto_ready();
	/* libsodium returns 0 for a bound below 2, which is the only sensible answer too. */
	return randombytes_uniform(bound);
}
