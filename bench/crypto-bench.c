// SPDX-License-Identifier: GPL-2.0
/*
 * crypto-bench: what one core does with the primitives the data path and handshake use.
 *   crypto-bench [SECONDS]     (default 1 per measurement)
 * Prints MB/s of crypto_aead_encrypt (OpenSSL EVP) next to libsodium's IETF ChaCha20-Poly1305
 * at 64 and 1420 bytes, then X25519 and HMAC-BLAKE2s operations per second. The machine may be
 * shared: compare numbers from one run, not across runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Not <sodium.h>: it declares a crypto_hash of its own that clashes with crypto.h's. */
#include <sodium/crypto_aead_chacha20poly1305.h>

#include "crypto.h"

enum {
	BENCH_BATCH = 256,
	BENCH_MAX_LEN = 1420,
	/* an upper bound on batches, whatever the clock says */
	BENCH_MAX_BATCHES = 1 << 24,
};

static double bench_seconds = 1.0;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum bench_op {
	BENCH_EVP,
	BENCH_SODIUM,
	BENCH_X25519,
	BENCH_HMAC,
};

static uint8_t key[WG_KEY_LEN], buf[BENCH_MAX_LEN + WG_AUTHTAG_LEN], out[WG_KEY_LEN];

static void bench_one(enum bench_op op, size_t len, uint64_t n)
{
	uint8_t nonce[CRYPTO_AEAD_NONCE_LEN] = { 0 };
	unsigned long long clen;

	switch (op) {
	case BENCH_EVP:
		crypto_aead_encrypt(buf, buf, len, NULL, 0, n, key);
		break;
	case BENCH_SODIUM:
		memcpy(nonce + 4, &n, sizeof(n));
		crypto_aead_chacha20poly1305_ietf_encrypt(buf, &clen, buf, len, NULL, 0, NULL,
							  nonce, key);
		break;
	case BENCH_X25519:
		/* A fresh-looking peer key each time so nothing is cached. */
		if (!crypto_dh(out, key, out))
			crypto_pubkey(out, key);
		break;
	case BENCH_HMAC:
		crypto_hmac(out, key, sizeof(key), buf, len);
		break;
	}
}

/* Operations per second over about bench_seconds. */
static double bench(enum bench_op op, size_t len)
{
	double start = now(), elapsed = 0;
	uint64_t n = 0, batches;
	int i;

	for (batches = 0; batches < BENCH_MAX_BATCHES; ++batches) {
		for (i = 0; i < BENCH_BATCH; ++i)
			bench_one(op, len, n++);
		elapsed = now() - start;
		if (elapsed >= bench_seconds)
			break;
	}
	return elapsed > 0 ? (double)n / elapsed : 0;
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 64, BENCH_MAX_LEN };
	size_t i;
	double evp, sod;

	if (argc > 1) {
		bench_seconds = atof(argv[1]);
		if (bench_seconds <= 0 || bench_seconds > 60) {
			fprintf(stderr, "usage: %s [SECONDS (0..60]]\n", argv[0]);
			return 2;
		}
	}
	if (crypto_init()) {
		fprintf(stderr, "crypto_init failed\n");
		return 1;
	}
	crypto_random(key, sizeof(key));
	crypto_random(buf, sizeof(buf));
	crypto_pubkey(out, key);

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); ++i) {
		evp = bench(BENCH_EVP, sizes[i]);
		sod = bench(BENCH_SODIUM, sizes[i]);
		printf("chacha20poly1305 %4zu B: OpenSSL EVP %8.1f MB/s (%8.0f pkt/s), "
		       "libsodium %8.1f MB/s (%8.0f pkt/s), ratio %.2f\n",
		       sizes[i], evp * (double)sizes[i] / 1e6, evp, sod * (double)sizes[i] / 1e6,
		       sod, sod > 0 ? evp / sod : 0);
	}
	printf("x25519: %.0f ops/s\n", bench(BENCH_X25519, 0));
	printf("hmac-blake2s 148 B: %.0f ops/s\n", bench(BENCH_HMAC, WG_MSG_INITIATION_LEN));
	crypto_wipe(key, sizeof(key));
	return 0;
}
