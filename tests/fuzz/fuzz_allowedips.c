// SPDX-License-Identifier: GPL-2.0
/*
 * The allowed-IPs trie against a naive model (a flat list of prefixes, longest match by scan).
 * Input: a sequence of ops. Each op is one byte:
 *   bits 0-2  0,1: insert  2: remove  3: remove_by_owner  4,5: lookup  6: walk  7: count
 *   bit 3     family (0 IPv4, 1 IPv6)
 *   bits 4-5  owner (one of four)
 *   bit 6     address from the pool of recent addresses (one byte: slot and a bit to flip)
 * then, unless from the pool, the address (4 or 16 bytes), and for insert/remove one cidr byte
 * (taken modulo max + 3, so invalid cidrs are tried too).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "allowedips.h"

enum {
	MODEL_MAX = 1024,
	POOL = 8
};

struct model_entry {
	int family;
	uint8_t cidr;
	uint8_t addr[16];
	void *owner;
};

static struct model_entry model[MODEL_MAX];
static size_t n_model;
static char owners[4];
static uint8_t pool[2][POOL][16];

static void mask(uint8_t *a, int bytes, unsigned int cidr)
{
	int i;

	for (i = 0; i < bytes; i++) {
		unsigned int bits = cidr > (unsigned int)i * 8 ? cidr - (unsigned int)i * 8 : 0;

		if (bits < 8)
			a[i] &= (uint8_t)(0xff00 >> bits);
	}
}

static bool contains(const struct model_entry *e, const uint8_t *addr, int bytes)
{
	uint8_t a[16];

	memcpy(a, addr, (size_t)bytes);
	mask(a, bytes, e->cidr);
	return !memcmp(a, e->addr, (size_t)bytes);
}

static struct model_entry *model_find(int family, const uint8_t *addr, uint8_t cidr)
{
	int bytes = family == AF_INET ? 4 : 16;
	size_t i;

	for (i = 0; i < n_model; i++)
		if (model[i].family == family && model[i].cidr == cidr &&
		    !memcmp(model[i].addr, addr, (size_t)bytes))
			return &model[i];
	return NULL;
}

static void *model_lookup(int family, const uint8_t *addr)
{
	int bytes = family == AF_INET ? 4 : 16, best = -1;
	void *owner = NULL;
	size_t i;

	for (i = 0; i < n_model; i++)
		if (model[i].family == family && (int)model[i].cidr > best &&
		    contains(&model[i], addr, bytes)) {
			best = model[i].cidr;
			owner = model[i].owner;
		}
	return owner;
}

static size_t model_count(void *owner)
{
	size_t i, n = 0;

	for (i = 0; i < n_model; i++)
		n += !owner || model[i].owner == owner;
	return n;
}

struct walk_ctx {
	void *owner;
	size_t n;
	int last_family;
	uint8_t last[16];
	uint8_t last_cidr;
};

static int walk_fn(void *vctx, int family, const uint8_t *addr, uint8_t cidr)
{
	struct walk_ctx *ctx = vctx;
	int bytes = family == AF_INET ? 4 : 16;
	struct model_entry *e;
	uint8_t a[16];

	if (family != AF_INET && family != AF_INET6) {
		fprintf(stderr, "allowedips: walk gave family %d\n", family);
		abort();
	}
	memcpy(a, addr, (size_t)bytes);
	mask(a, bytes, cidr);
	e = model_find(family, a, cidr);
	if (memcmp(a, addr, (size_t)bytes) || !e || e->owner != ctx->owner) {
		fprintf(stderr, "allowedips: walk gave a prefix the model does not have (/%u)\n",
			cidr);
		abort();
	}
	/* v4 before v6, and no prefix twice */
	if (ctx->n && family == ctx->last_family && cidr == ctx->last_cidr &&
	    !memcmp(ctx->last, addr, (size_t)bytes)) {
		fprintf(stderr, "allowedips: walk gave a prefix twice\n");
		abort();
	}
	if (ctx->n && ctx->last_family == AF_INET6 && family == AF_INET) {
		fprintf(stderr, "allowedips: walk gave IPv4 after IPv6\n");
		abort();
	}
	ctx->last_family = family;
	ctx->last_cidr = cidr;
	memcpy(ctx->last, addr, (size_t)bytes);
	ctx->n++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	struct allowedips *t = allowedips_new();
	unsigned int pool_next[2] = { 0, 0 };

	if (!t)
		return 0;
	n_model = 0;
	memset(pool, 0, sizeof(pool));
	while (p < end) {
		uint8_t op = *p++, addr[16] = { 0 }, cidr = 0;
		int kind = op & 7, fi = (op >> 3) & 1, family = fi ? AF_INET6 : AF_INET;
		int bytes = fi ? 16 : 4, max = fi ? 128 : 32;
		void *owner = &owners[(op >> 4) & 3], *got, *want;
		struct model_entry *e;
		int ret;

		if (op & 0x40) {
			uint8_t sel;

			if (p >= end)
				break;
			sel = *p++;
			memcpy(addr, pool[fi][sel % POOL], 16);
			if (sel & 0x80)
				addr[(sel >> 3) % (unsigned int)bytes] ^=
					(uint8_t)(1U << (sel & 7));
		} else {
			if (end - p < bytes)
				break;
			memcpy(addr, p, (size_t)bytes);
			p += bytes;
			memcpy(pool[fi][pool_next[fi]++ % POOL], addr, 16);
		}
		if (kind <= 2) {
			if (p >= end)
				break;
			cidr = (uint8_t)(*p++ % (max + 3));
		}
		switch (kind) {
		case 0:
		case 1:
			ret = allowedips_insert(t, family, addr, cidr, owner);
			if (cidr > max) {
				if (ret != -EINVAL) {
					fprintf(stderr, "allowedips: insert /%u gave %d\n", cidr,
						ret);
					abort();
				}
				break;
			}
			if (ret) {
				fprintf(stderr, "allowedips: insert gave %d\n", ret);
				abort();
			}
			mask(addr, bytes, cidr);
			e = model_find(family, addr, cidr);
			if (e) {
				e->owner = owner;
			} else if (n_model < MODEL_MAX) {
				e = &model[n_model++];
				e->family = family;
				e->cidr = cidr;
				memcpy(e->addr, addr, 16);
				e->owner = owner;
			} else {
				goto done;
			}
			break;
		case 2:
			ret = allowedips_remove(t, family, addr, cidr, owner);
			if (cidr > max) {
				if (ret == 0) {
					fprintf(stderr, "allowedips: removed invalid /%u\n", cidr);
					abort();
				}
				break;
			}
			mask(addr, bytes, cidr);
			e = model_find(family, addr, cidr);
			if (e && e->owner == owner) {
				if (ret) {
					fprintf(stderr,
						"allowedips: remove of present /%u gave %d\n", cidr,
						ret);
					abort();
				}
				*e = model[--n_model];
			} else if (ret != -ENOENT) {
				fprintf(stderr, "allowedips: remove of absent /%u gave %d\n", cidr,
					ret);
				abort();
			}
			break;
		case 3: {
			size_t i = 0;

			allowedips_remove_by_owner(t, owner);
			while (i < n_model)
				if (model[i].owner == owner)
					model[i] = model[--n_model];
				else
					i++;
			break;
		}
		case 4:
		case 5:
			got = allowedips_lookup(t, family, addr);
			want = model_lookup(family, addr);
			if (got != want) {
				fprintf(stderr, "allowedips: lookup gave owner %p, model %p\n", got,
					want);
				abort();
			}
			break;
		case 6: {
			struct walk_ctx ctx = { .owner = owner };

			allowedips_walk_by_owner(t, owner, walk_fn, &ctx);
			if (ctx.n != model_count(owner)) {
				fprintf(stderr,
					"allowedips: walk gave %zu prefixes, model has %zu\n",
					ctx.n, model_count(owner));
				abort();
			}
			break;
		}
		default:
			break;
		}
		if (allowedips_count(t) != n_model) {
			fprintf(stderr, "allowedips: count %zu, model %zu\n", allowedips_count(t),
				n_model);
			abort();
		}
	}
done:
	allowedips_free(t);
	return 0;
}
