// SPDX-License-Identifier: GPL-2.0
/*
 * Locked memory for secrets, and the comparisons and wipes that must not leak or be elided
 * (crypto.h).
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <sodium/utils.h>

#include "crypto.h"
#include "crypto_internal.h"
#include "log.h"

/*
 * Secure memory. sodium_malloc maps every allocation with guard pages on both sides: three
 * mappings and at least 12 KB each, so 100,000 peers would pass vm.max_map_count (65530) and
 * cost over 1 GB. Small allocations therefore come from locked, never-dumped arenas in 64-byte
 * steps with one free list per size (a freed block is wiped before it is listed); large ones
 * still get sodium_malloc and its guard pages. Arena chunks are kept for the process's life.
 */
enum crypto_secure_constants {
	SECURE_ALIGN = 64,
	SECURE_HDR = SECURE_ALIGN, /* keeps the block 64-byte aligned */
	SECURE_MAX_SMALL = 16384,  /* block size, header included */
	SECURE_CLASSES = SECURE_MAX_SMALL / SECURE_ALIGN + 1,
	SECURE_CHUNK = 4 << 20,
	SECURE_MAGIC_SMALL = 0x5ec5a11c,
	SECURE_MAGIC_LARGE = 0x5ec1a29e,
};

struct secure_hdr {
	uint32_t magic;
	uint32_t block; /* small: the whole block's size; large: 0 */
	size_t len;	/* what the caller asked for */
};

struct secure_free {
	struct secure_free *next;
};

static pthread_mutex_t secure_lock = PTHREAD_MUTEX_INITIALIZER;
static struct secure_free *secure_lists[SECURE_CLASSES];
static uint8_t *secure_bump, *secure_end;

static void *secure_small_block(size_t block)
{
	struct secure_free **list = &secure_lists[block / SECURE_ALIGN];
	void *b;

	if (*list) {
		b = *list;
		*list = (*list)->next;
		return b;
	}
	if (!secure_bump || (size_t)(secure_end - secure_bump) < block) {
		void *c = mmap(NULL, SECURE_CHUNK, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (c == MAP_FAILED)
			return NULL;
		/* as sodium_malloc: best effort (RLIMIT_MEMLOCK), never in a core dump */
		if (mlock(c, SECURE_CHUNK))
			log_debug("crypto: mlock of secure arena: %s", strerror(errno));
		madvise(c, SECURE_CHUNK, MADV_DONTDUMP);
		secure_bump = c;
		secure_end = secure_bump + SECURE_CHUNK;
	}
	b = secure_bump;
	secure_bump += block;
	return b;
}

void *crypto_secure_alloc(size_t len)
{
	size_t block = (len + SECURE_HDR + SECURE_ALIGN - 1) & ~(size_t)(SECURE_ALIGN - 1);
	struct secure_hdr *h;

	crypto_ready();
	if (len > SECURE_MAX_SMALL || block > SECURE_MAX_SMALL) {
		/* sodium_malloc ends the block at its guard page, so the start is only as aligned
		 * as the size: round it up, or the header would sit misaligned */
		h = sodium_malloc((len + SECURE_HDR + 15) & ~(size_t)15);
		if (!h)
			return NULL;
		h->magic = SECURE_MAGIC_LARGE;
		h->block = 0;
	} else {
		pthread_mutex_lock(&secure_lock);
		h = secure_small_block(block);
		pthread_mutex_unlock(&secure_lock);
		if (!h)
			return NULL;
		h->magic = SECURE_MAGIC_SMALL;
		h->block = (uint32_t)block;
	}
	h->len = len;
	/* the contract promises zeroes (sodium_malloc fills with a canary pattern) */
	sodium_memzero((uint8_t *)h + SECURE_HDR, len);
	return (uint8_t *)h + SECURE_HDR;
}

void crypto_secure_free(void *p)
{
	struct secure_hdr *h;
	struct secure_free *f;
	uint32_t cls;

	if (!p)
		return;
	h = (struct secure_hdr *)((uint8_t *)p - SECURE_HDR);
	if (h->magic == SECURE_MAGIC_LARGE) {
		/* sodium_free wipes before unmapping */
		sodium_free(h);
		return;
	}
	if (h->magic != SECURE_MAGIC_SMALL)
		abort(); /* not ours, or freed twice: never carry on with corrupted secrets */
	sodium_memzero(p, h->len);
	cls = h->block / SECURE_ALIGN;
	if (!cls || cls >= SECURE_CLASSES)
		abort();
	h->magic = 0;
	f = (struct secure_free *)h;
	pthread_mutex_lock(&secure_lock);
	f->next = secure_lists[cls];
	secure_lists[cls] = f;
	pthread_mutex_unlock(&secure_lock);
}

void crypto_wipe(void *p, size_t len)
{
	sodium_memzero(p, len);
}

bool crypto_equal(const void *a, const void *b, size_t len)
{
	return sodium_memcmp(a, b, len) == 0;
}

/* Every byte is read whatever the others hold (no early exit), eight at a time: libsodium's
 * sodium_is_zero goes a byte at a time through a volatile, ~160 cycles for a key, and every
 * peer's preshared key is tested in each snapshot and each parse: 15% of a million-peer scrape
 * (perf, issue #21). */
bool crypto_is_zero(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint64_t acc = 0, w;
	size_t i = 0;

	for (; i + sizeof(w) <= len; i += sizeof(w)) {
		memcpy(&w, b + i, sizeof(w));
		acc |= w;
	}
	for (; i < len; i++)
		acc |= b[i];
	return acc == 0;
}
