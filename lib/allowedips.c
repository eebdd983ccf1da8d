// SPDX-License-Identifier: GPL-2.0
/*
 * Cryptokey routing table. One path-compressed binary trie per family, as in the kernel
 * driver: every node holds a prefix (key masked to cidr) and its two children extend it by
 * the bit at position cidr. Nodes without an owner are intermediate: they exist only to
 * branch and always have exactly two children, so the depth is bounded by the address width
 * and a lookup costs at most 33 or 129 node visits whatever the number of prefixes.
 *
 * Each owner also has an entry in a hash map that chains its nodes, so removing a peer is
 * proportional to its own prefixes, not to the table.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "allowedips.h"

enum allowedips_constants {
	AIP_V4_BITS = 32,
	AIP_V6_BITS = 128,
	/* a root-to-leaf path visits at most one node per cidr value */
	AIP_MAX_DEPTH = AIP_V6_BITS + 1,
	AIP_OWNERS_MIN_BUCKETS = 64,
	AIP_WALK_STACK = 32,
};

/* Addresses as two host-order words, most significant bit first: an IPv4 address sits in
 * the top 32 bits of w[0]. Masks and common prefixes are then a shift and a clz. */
struct aip_key {
	uint64_t w[2];
};

struct aip_node {
	struct aip_key key;
	struct aip_node *parent;
	struct aip_node *child[2];
	void *owner; /* NULL: intermediate */
	/* the owner's chain, for remove_by_owner and walk_by_owner */
	struct aip_node *owner_prev, *owner_next;
	uint8_t cidr;
	uint8_t bits; /* 32 or 128: which trie, for walk */
};

struct aip_owner {
	void *owner;
	struct aip_node *head;
	size_t count;
	struct aip_owner *next; /* bucket chain */
};

struct allowedips {
	struct aip_node *root4, *root6;
	size_t count;
	struct aip_owner **owners;
	size_t owner_buckets; /* a power of two */
	size_t owner_count;
	/* allowedips_reserve's room: zeroed nodes chained through child[0], owner entries
	 * through next; inserts take from here before they allocate */
	struct aip_node *spare_nodes;
	struct aip_owner *spare_owners;
	size_t n_spare_nodes, n_spare_owners;
};

static int aip_family_bits(int family)
{
	if (family == AF_INET)
		return AIP_V4_BITS;
	if (family == AF_INET6)
		return AIP_V6_BITS;
	return -1;
}

static uint64_t aip_load_be64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; ++i)
		v = (v << 8) | p[i];
	return v;
}

static void aip_store_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; --i) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static void aip_key_from_addr(struct aip_key *k, int bits, const void *addr)
{
	const uint8_t *a = addr;

	if (bits == AIP_V4_BITS) {
		k->w[0] = (uint64_t)a[0] << 56 | (uint64_t)a[1] << 48 | (uint64_t)a[2] << 40 |
			  (uint64_t)a[3] << 32;
		k->w[1] = 0;
	} else {
		k->w[0] = aip_load_be64(a);
		k->w[1] = aip_load_be64(a + 8);
	}
}

static void aip_key_to_addr(uint8_t *out, int bits, const struct aip_key *k)
{
	if (bits == AIP_V4_BITS) {
		out[0] = (uint8_t)(k->w[0] >> 56);
		out[1] = (uint8_t)(k->w[0] >> 48);
		out[2] = (uint8_t)(k->w[0] >> 40);
		out[3] = (uint8_t)(k->w[0] >> 32);
	} else {
		aip_store_be64(out, k->w[0]);
		aip_store_be64(out + 8, k->w[1]);
	}
}

/* The top `cidr` bits of a 64-bit word; cidr may be anything, clamped to 0..64. */
static inline uint64_t aip_word_mask(int cidr)
{
	if (cidr <= 0)
		return 0;
	if (cidr >= 64)
		return ~0ULL;
	return ~0ULL << (64 - cidr);
}

static inline void aip_key_mask(struct aip_key *k, int cidr)
{
	k->w[0] &= aip_word_mask(cidr);
	k->w[1] &= aip_word_mask(cidr - 64);
}

static inline bool aip_prefix_matches(const struct aip_node *n, const struct aip_key *k)
{
	return !(((n->key.w[0] ^ k->w[0]) & aip_word_mask(n->cidr)) |
		 ((n->key.w[1] ^ k->w[1]) & aip_word_mask(n->cidr - 64)));
}

/* Which child continues towards k: the bit just past the node's prefix. Only called when
 * cidr < bits, so the position is within the key. */
static inline int aip_choose(const struct aip_node *n, const struct aip_key *k)
{
	unsigned int pos = n->cidr;

	if (pos < 64)
		return (int)((k->w[0] >> (63 - pos)) & 1);
	return (int)((k->w[1] >> (127 - pos)) & 1);
}

/* How many leading bits of n's prefix and k agree, at most n->cidr. */
static int aip_common_bits(const struct aip_node *n, const struct aip_key *k)
{
	uint64_t x0 = n->key.w[0] ^ k->w[0], x1 = n->key.w[1] ^ k->w[1];
	int common;

	if (x0)
		common = __builtin_clzll(x0);
	else if (x1)
		common = 64 + __builtin_clzll(x1);
	else
		common = AIP_V6_BITS;
	return common < n->cidr ? common : n->cidr;
}

static struct aip_node **aip_root(struct allowedips *t, int bits)
{
	return bits == AIP_V4_BITS ? &t->root4 : &t->root6;
}

/* The pointer that holds n: its parent's child slot or the root. */
static struct aip_node **aip_slot(struct allowedips *t, struct aip_node *n)
{
	if (!n->parent)
		return aip_root(t, n->bits);
	return n->parent->child[0] == n ? &n->parent->child[0] : &n->parent->child[1];
}

static struct aip_node *aip_node_new(struct allowedips *t, const struct aip_key *k, uint8_t cidr,
				     uint8_t bits)
{
	struct aip_node *n = t->spare_nodes;

	if (n) {
		t->spare_nodes = n->child[0];
		--t->n_spare_nodes;
		n->child[0] = NULL;
	} else {
		n = calloc(1, sizeof(*n));
		if (!n)
			return NULL;
	}
	n->key = *k;
	aip_key_mask(&n->key, cidr);
	n->cidr = cidr;
	n->bits = bits;
	return n;
}

/* ---- owner index ---- */

static size_t aip_owner_hash(const void *owner, size_t buckets)
{
	/* Pointers are aligned and clustered; a multiplicative hash spreads the high bits of
	 * the product, which depend on all of the pointer's bits. */
	uint64_t h = (uint64_t)(uintptr_t)owner * 0x9e3779b97f4a7c15ULL;

	return (size_t)(h >> 32) & (buckets - 1);
}

static struct aip_owner *aip_owner_find(const struct allowedips *t, const void *owner)
{
	struct aip_owner *o;

	if (!t->owners)
		return NULL;
	for (o = t->owners[aip_owner_hash(owner, t->owner_buckets)]; o; o = o->next)
		if (o->owner == owner)
			return o;
	return NULL;
}

/* Rehash the owner index into nb buckets (a power of two). 0 or -ENOMEM (unchanged). */
static int aip_owners_resize(struct allowedips *t, size_t nb)
{
	struct aip_owner **nt = calloc(nb, sizeof(*nt));

	if (!nt)
		return -ENOMEM;
	for (size_t i = 0; i < t->owner_buckets; ++i) {
		struct aip_owner *o = t->owners[i], *next;

		for (; o; o = next) {
			size_t b = aip_owner_hash(o->owner, nb);

			next = o->next;
			o->next = nt[b];
			nt[b] = o;
		}
	}
	free(t->owners);
	t->owners = nt;
	t->owner_buckets = nb;
	return 0;
}

/* Keep the load factor at most one. A failed grow is harmless: chains just get longer. */
static void aip_owners_grow(struct allowedips *t)
{
	(void)aip_owners_resize(t,
				t->owner_buckets ? t->owner_buckets * 2 : AIP_OWNERS_MIN_BUCKETS);
}

/* An owner's entry, made if missing; NULL only when out of memory. */
static struct aip_owner *aip_owner_get(struct allowedips *t, void *owner)
{
	struct aip_owner *o = aip_owner_find(t, owner);
	size_t b;

	if (o)
		return o;
	if (t->owner_count >= t->owner_buckets)
		aip_owners_grow(t);
	if (!t->owners)
		return NULL;
	o = t->spare_owners;
	if (o) {
		t->spare_owners = o->next;
		--t->n_spare_owners;
		memset(o, 0, sizeof(*o));
	} else {
		o = calloc(1, sizeof(*o));
		if (!o)
			return NULL;
	}
	o->owner = owner;
	b = aip_owner_hash(owner, t->owner_buckets);
	o->next = t->owners[b];
	t->owners[b] = o;
	++t->owner_count;
	return o;
}

static void aip_owner_drop(struct allowedips *t, struct aip_owner *o)
{
	struct aip_owner **pp = &t->owners[aip_owner_hash(o->owner, t->owner_buckets)];

	while (*pp != o)
		pp = &(*pp)->next;
	*pp = o->next;
	--t->owner_count;
	free(o);
}

static void aip_owner_link(struct aip_owner *o, struct aip_node *n)
{
	n->owner = o->owner;
	n->owner_prev = NULL;
	n->owner_next = o->head;
	if (o->head)
		o->head->owner_prev = n;
	o->head = n;
	++o->count;
}

/* Unlink n from its owner's chain; the entry goes too once it has no prefixes left. */
static void aip_owner_unlink(struct allowedips *t, struct aip_owner *o, struct aip_node *n)
{
	if (n->owner_prev)
		n->owner_prev->owner_next = n->owner_next;
	else
		o->head = n->owner_next;
	if (n->owner_next)
		n->owner_next->owner_prev = n->owner_prev;
	n->owner_prev = n->owner_next = NULL;
	n->owner = NULL;
	if (--o->count == 0)
		aip_owner_drop(t, o);
}

/* ---- trie ---- */

/* The deepest node whose prefix contains key/cidr with a cidr no longer than it. *exact is
 * set when that node is the prefix itself. */
static struct aip_node *aip_find_parent(struct aip_node *root, const struct aip_key *k,
					uint8_t cidr, bool *exact)
{
	struct aip_node *node = root, *parent = NULL;

	*exact = false;
	while (node && node->cidr <= cidr && aip_prefix_matches(node, k)) {
		parent = node;
		if (parent->cidr == cidr) {
			*exact = true;
			break;
		}
		node = node->child[aip_choose(node, k)];
	}
	return parent;
}

/* Take an owned node out of the trie. The kernel's rule: a node with two children stays as
 * an intermediate; otherwise its child (if any) takes its place, and a parent that is an
 * intermediate left with one child is spliced out too, so intermediates keep two children. */
static void aip_node_remove(struct allowedips *t, struct aip_node *n)
{
	struct aip_node *child, *parent, *other;

	if (n->child[0] && n->child[1])
		return; /* stays, now as an intermediate */
	child = n->child[0] ? n->child[0] : n->child[1];
	parent = n->parent;
	*aip_slot(t, n) = child;
	if (child)
		child->parent = parent;
	free(n);
	if (child || !parent || parent->owner)
		return;
	/* parent was an intermediate with two children and now has one */
	other = parent->child[0] ? parent->child[0] : parent->child[1];
	*aip_slot(t, parent) = other;
	other->parent = parent->parent;
	free(parent);
}

int allowedips_insert(struct allowedips *t, int family, const void *addr, uint8_t cidr, void *owner)
{
	struct aip_node *parent, *down, *newnode = NULL, *inter = NULL, **slot;
	struct aip_owner *o, *old;
	int bits = aip_family_bits(family), common;
	struct aip_key k;
	bool exact;

	if (!t || bits < 0 || cidr > bits || !addr || !owner)
		return -EINVAL;
	aip_key_from_addr(&k, bits, addr);
	aip_key_mask(&k, cidr);
	slot = aip_root(t, bits);

	parent = aip_find_parent(*slot, &k, cidr, &exact);
	if (exact && parent->owner == owner)
		return 0;
	if (exact) {
		/* the prefix exists (owned, or an intermediate that now gets an owner) */
		o = aip_owner_get(t, owner);
		if (!o)
			return -ENOMEM;
		if (parent->owner) {
			old = aip_owner_find(t, parent->owner);
			aip_owner_unlink(t, old, parent);
		} else {
			++t->count;
		}
		aip_owner_link(o, parent);
		return 0;
	}

	/* Allocate everything before touching the trie, so a failure leaves it unchanged. */
	newnode = aip_node_new(t, &k, cidr, (uint8_t)bits);
	if (!newnode)
		return -ENOMEM;
	down = parent ? parent->child[aip_choose(parent, &k)] : *slot;
	common = down ? aip_common_bits(down, &k) : 0;
	if (common > cidr)
		common = cidr;
	if (down && common < cidr) {
		/* neither contains the other: they need a branch point */
		inter = aip_node_new(t, &k, (uint8_t)common, (uint8_t)bits);
		if (!inter) {
			free(newnode);
			return -ENOMEM;
		}
	}
	o = aip_owner_get(t, owner);
	if (!o) {
		free(inter);
		free(newnode);
		return -ENOMEM;
	}
	aip_owner_link(o, newnode);
	++t->count;

	if (parent)
		slot = &parent->child[aip_choose(parent, &k)];
	if (!down) {
		newnode->parent = parent;
		*slot = newnode;
	} else if (!inter) {
		/* the new prefix contains down */
		newnode->child[aip_choose(newnode, &down->key)] = down;
		down->parent = newnode;
		newnode->parent = parent;
		*slot = newnode;
	} else {
		inter->child[aip_choose(inter, &down->key)] = down;
		inter->child[aip_choose(inter, &newnode->key)] = newnode;
		down->parent = inter;
		newnode->parent = inter;
		inter->parent = parent;
		*slot = inter;
	}
	return 0;
}

int allowedips_remove(struct allowedips *t, int family, const void *addr, uint8_t cidr, void *owner)
{
	int bits = aip_family_bits(family);
	struct aip_node *n;
	struct aip_key k;
	bool exact;

	if (!t || bits < 0 || cidr > bits || !addr)
		return -EINVAL;
	aip_key_from_addr(&k, bits, addr);
	aip_key_mask(&k, cidr);
	n = aip_find_parent(*aip_root(t, bits), &k, cidr, &exact);
	if (!exact || !n->owner || n->owner != owner)
		return -ENOENT;
	aip_owner_unlink(t, aip_owner_find(t, owner), n);
	--t->count;
	aip_node_remove(t, n);
	return 0;
}

void allowedips_remove_by_owner(struct allowedips *t, void *owner)
{
	struct aip_owner *o;
	struct aip_node *n;

	if (!t || !owner)
		return;
	o = aip_owner_find(t, owner);
	if (!o)
		return;
	/* The entry is freed with its last prefix, so count down rather than test o. */
	for (size_t left = o->count; left > 0; --left) {
		n = o->head;
		aip_owner_unlink(t, o, n);
		--t->count;
		aip_node_remove(t, n);
	}
}

void *allowedips_lookup(const struct allowedips *t, int family, const void *addr)
{
	const struct aip_node *node;
	void *found = NULL;
	struct aip_key k;
	int bits;

	if (!t || !addr)
		return NULL;
	if (family == AF_INET)
		node = t->root4;
	else if (family == AF_INET6)
		node = t->root6;
	else
		return NULL;
	bits = family == AF_INET ? AIP_V4_BITS : AIP_V6_BITS;
	aip_key_from_addr(&k, bits, addr);
	/* Each step strictly lengthens the prefix, so this ends within bits + 1 nodes. */
	while (node && aip_prefix_matches(node, &k)) {
		if (node->owner)
			found = node->owner;
		if (node->cidr >= bits)
			break;
		node = node->child[aip_choose(node, &k)];
	}
	return found;
}

/* A prefix copied out for walk_by_owner. */
struct aip_walk_entry {
	struct aip_key key;
	uint8_t cidr;
	uint8_t bits;
};

/* v4 before v6, then address, then cidr: a total order since prefixes are unique. */
static int aip_walk_cmp(const void *a, const void *b)
{
	const struct aip_walk_entry *x = a, *y = b;

	if (x->bits != y->bits)
		return x->bits < y->bits ? -1 : 1;
	for (int i = 0; i < 2; ++i)
		if (x->key.w[i] != y->key.w[i])
			return x->key.w[i] < y->key.w[i] ? -1 : 1;
	return x->cidr < y->cidr ? -1 : x->cidr > y->cidr;
}

int allowedips_walk_by_owner(const struct allowedips *t, void *owner, allowedips_walk_fn fn,
			     void *ctx)
{
	struct aip_walk_entry stackbuf[AIP_WALK_STACK], *snap = stackbuf;
	const struct aip_owner *o;
	const struct aip_node *n;
	uint8_t addr[16];
	size_t i = 0;
	int ret = 0;

	if (!t || !fn || !owner)
		return 0;
	o = aip_owner_find(t, owner);
	if (!o)
		return 0;
	/* A sorted copy: the chain is in insertion order, and fn may change the table (a
	 * caller removing the prefixes it is shown must not leave us reading freed nodes). */
	if (o->count > AIP_WALK_STACK) {
		snap = malloc(o->count * sizeof(*snap));
		if (!snap)
			return -ENOMEM;
	}
	for (n = o->head; n && i < o->count; n = n->owner_next, ++i) {
		snap[i].key = n->key;
		snap[i].cidr = n->cidr;
		snap[i].bits = n->bits;
	}
	qsort(snap, i, sizeof(*snap), aip_walk_cmp);
	for (size_t j = 0; j < i && !ret; ++j) {
		aip_key_to_addr(addr, snap[j].bits, &snap[j].key);
		ret = fn(ctx, snap[j].bits == AIP_V4_BITS ? AF_INET : AF_INET6, addr, snap[j].cidr);
	}
	if (snap != stackbuf)
		free(snap);
	return ret;
}

size_t allowedips_count(const struct allowedips *t)
{
	return t ? t->count : 0;
}

/*
 * An insert needs at most two nodes (the prefix and a branch point) and one owner entry (for an
 * owner new to the table), and aip_owner_get grows the owner index only when it holds as many
 * owners as it has buckets: with owner_count + n_owners buckets it never has to while the
 * reserved inserts run, however many owners they remove and add back in between.
 */
int allowedips_reserve(struct allowedips *t, size_t n_inserts, size_t n_owners)
{
	size_t want_nodes, want_owners, need, nb, i;
	struct aip_node *nodes = NULL, *n;
	struct aip_owner *owners = NULL, *o;

	if (!t)
		return -EINVAL;
	if (n_owners > n_inserts)
		n_owners = n_inserts;
	if (!n_inserts)
		return 0;
	if (n_inserts > (SIZE_MAX - t->n_spare_nodes) / 2 - 1 ||
	    n_owners > SIZE_MAX - t->n_spare_owners - t->owner_count)
		return -ENOMEM;
	want_nodes = 2 * n_inserts;
	want_owners = n_owners;
	for (i = 0; i < want_nodes; ++i) {
		n = calloc(1, sizeof(*n));
		if (!n)
			goto fail;
		n->child[0] = nodes;
		nodes = n;
	}
	for (i = 0; i < want_owners; ++i) {
		o = calloc(1, sizeof(*o));
		if (!o)
			goto fail;
		o->next = owners;
		owners = o;
	}
	need = t->owner_count + t->n_spare_owners + want_owners;
	nb = t->owner_buckets ? t->owner_buckets : AIP_OWNERS_MIN_BUCKETS;
	while (nb < need)
		nb *= 2;
	if ((nb != t->owner_buckets || !t->owners) && aip_owners_resize(t, nb))
		goto fail;
	/* nothing can fail from here: hand the room over */
	while (nodes) {
		n = nodes;
		nodes = n->child[0];
		n->child[0] = t->spare_nodes;
		t->spare_nodes = n;
		++t->n_spare_nodes;
	}
	while (owners) {
		o = owners;
		owners = o->next;
		o->next = t->spare_owners;
		t->spare_owners = o;
		++t->n_spare_owners;
	}
	return 0;
fail:
	while (nodes) {
		n = nodes;
		nodes = n->child[0];
		free(n);
	}
	while (owners) {
		o = owners;
		owners = o->next;
		free(o);
	}
	return -ENOMEM;
}

void allowedips_unreserve(struct allowedips *t)
{
	struct aip_node *n;
	struct aip_owner *o;

	if (!t)
		return;
	while ((n = t->spare_nodes)) {
		t->spare_nodes = n->child[0];
		free(n);
	}
	while ((o = t->spare_owners)) {
		t->spare_owners = o->next;
		free(o);
	}
	t->n_spare_nodes = t->n_spare_owners = 0;
}

struct allowedips *allowedips_new(void)
{
	return calloc(1, sizeof(struct allowedips));
}

/* Post-order without recursion: the depth is bounded, so is the explicit stack. */
static void aip_free_trie(struct aip_node *root)
{
	struct aip_node *stack[AIP_MAX_DEPTH + 1], *n;
	int sp = 0;

	if (!root)
		return;
	stack[sp++] = root;
	while (sp > 0) {
		n = stack[sp - 1];
		if (n->child[0]) {
			stack[sp++] = n->child[0];
			n->child[0] = NULL;
		} else if (n->child[1]) {
			stack[sp++] = n->child[1];
			n->child[1] = NULL;
		} else {
			--sp;
			free(n);
		}
	}
}

void allowedips_free(struct allowedips *t)
{
	if (!t)
		return;
	aip_free_trie(t->root4);
	aip_free_trie(t->root6);
	for (size_t i = 0; i < t->owner_buckets; ++i) {
		struct aip_owner *o = t->owners[i], *next;

		for (; o; o = next) {
			next = o->next;
			free(o);
		}
	}
	free(t->owners);
	allowedips_unreserve(t);
	free(t);
}
