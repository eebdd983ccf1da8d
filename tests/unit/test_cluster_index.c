// SPDX-License-Identifier: GPL-2.0
/*
 * Receiver indexes that carry the gateway id (issue #17, docs/cluster.md):
 *   - with an owner id, every index handed out has it in the top XDPWG_GW_ID_BITS bits, the
 *     indexes stay unique, and each of the 26 low bits still varies;
 *   - without one (id 0) the top bits are random as before;
 *   - the id is refused when out of range (-EINVAL) and when it would change while indexes are
 *     out (-EBUSY); setting the same id again is fine, and so is a change once all are gone;
 *   - through the engine: a gateway with id 7 answers a handshake with a sender index of id 7,
 *     and the client's data names it; the id is then fixed until the sessions are gone.
 */
#include <errno.h>
#include <stdio.h>

#include "index.h"
#include "tap.h"
#include "wg_harness.h"
#include "xdpwg_kern_user.h"

enum {
	N_ENTRIES = 2000,
};

static struct index_entry entries[N_ENTRIES];

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* insert every entry, then check ids, uniqueness and the spread of the low bits */
static void fill_and_check(struct index_table *t, unsigned int id)
{
	static uint32_t idx[N_ENTRIES];
	uint32_t ones = 0, zeros = 0, tops = 0;
	unsigned int wrong_id = 0, dups = 0, distinct_tops = 0;

	for (int i = 0; i < N_ENTRIES; i++) {
		entries[i] = (struct index_entry){ .type = INDEX_TYPE_KEYPAIR };
		idx[i] = index_table_insert(t, &entries[i]);
		if (id && idx[i] >> XDPWG_GW_ID_SHIFT != id)
			wrong_id++;
		ones |= idx[i] & XDPWG_GW_INDEX_MASK;
		zeros |= ~idx[i] & XDPWG_GW_INDEX_MASK;
	}
	qsort(idx, N_ENTRIES, sizeof(idx[0]), cmp_u32);
	for (int i = 1; i < N_ENTRIES; i++)
		dups += idx[i] == idx[i - 1];
	for (int i = 0; i < N_ENTRIES; i++) {
		uint32_t top = idx[i] >> XDPWG_GW_ID_SHIFT;

		if (!(tops & (1u << (top & 31)))) {
			tops |= 1u << (top & 31);
			distinct_tops++;
		}
	}
	if (id) {
		is_int(wrong_id, 0, "every index carries the gateway id in its top bits");
		is_int(distinct_tops, 1, "one value in the top bits");
	} else {
		ok(distinct_tops > 8, "no gateway id: the top bits are random (%u values)",
		   distinct_tops);
	}
	is_int(dups, 0, "indexes unique");
	is_int(ones, XDPWG_GW_INDEX_MASK, "each low bit is set in some index");
	is_int(zeros, XDPWG_GW_INDEX_MASK, "each low bit is clear in some index");
}

static void empty(struct index_table *t)
{
	for (int i = 0; i < N_ENTRIES; i++)
		index_table_remove(t, &entries[i]);
}

static void test_table(void)
{
	struct index_table *t = index_table_new();

	is_int(XDPWG_GW_ID_SHIFT + XDPWG_GW_ID_BITS, 32, "the id is the top bits");
	is_int(XDPWG_GW_ID_MAX, 63, "ids 1..63");
	is_int(index_table_owner(t), 0, "no gateway id by default");
	is_int(index_table_set_owner(t, 64), -EINVAL, "id 64 refused");
	is_int(index_table_set_owner(t, 63), 0, "id 63 taken");
	is_int(index_table_set_owner(t, 5), 0, "id changed while no index is out");
	fill_and_check(t, 5);
	is_int(index_table_set_owner(t, 6), -EBUSY, "id change refused while indexes are out");
	is_int(index_table_set_owner(t, 0), -EBUSY, "leaving the cluster too");
	is_int(index_table_set_owner(t, 5), 0, "the same id again is no change");
	is_int(index_table_owner(t), 5, "id kept");
	index_table_remove(t, &entries[0]);
	is_int(index_table_set_owner(t, 6), -EBUSY, "still refused with one index out");
	empty(t);
	is_int(index_table_set_owner(t, 63), 0, "changed once every index is gone");
	fill_and_check(t, 63);
	empty(t);
	is_int(index_table_set_owner(t, 0), 0, "back to no cluster");
	fill_and_check(t, 0);
	empty(t);
	index_table_free(t);
}

/* one round of wgh_pump: what each host has queued reaches its destination */
static int step(void)
{
	int moved = 0;

	/* the control thread's part: a staged packet's handshake starts on the tick */
	wgh_tick_all();
	for (int i = 0; i < wgh_n_hosts; i++) {
		struct wgh_host *h = &wgh_hosts[i];
		static struct wgh_pkt batch[WGH_MAX_OUT];
		size_t n = h->n_out;

		memcpy(batch, h->out, n * sizeof(batch[0]));
		h->n_out = 0;
		for (size_t j = 0; j < n; j++) {
			struct wgh_host *to = wgh_host_at(&batch[j].dst);

			if (to) {
				wgh_inject(to, batch[j].data, batch[j].len, &h->addr);
				moved++;
			}
		}
	}
	for (int i = 0; i < wgh_n_hosts; i++)
		wg_device_process_handshakes(wgh_hosts[i].dev, 1000);
	return moved;
}

static void test_device(void)
{
	struct wgh_host *A, *B;
	uint8_t pkt[256];
	uint32_t idx;
	size_t len;
	bool seen_resp = false, seen_data = false;

	wgh_reset();
	A = wgh_host_new("client", "198.51.100.2:51821");
	B = wgh_host_new("gateway", "198.18.1.1:51820");
	is_int(wg_device_set_gateway_id(B->dev, 64), -EINVAL, "device: id 64 refused");
	is_int(wg_device_set_gateway_id(B->dev, 7), 0, "device: gateway id 7");
	is_int(wg_device_gateway_id(B->dev), 7, "device: id read back");
	wgh_pair(A, B, NULL, NULL, true, false);
	len = wgh_ip4(pkt, "192.0.2.1", "192.0.2.2", 20, 1);
	wg_device_tx(wg_device_path(A->dev), pkt, len);
	/* pump by hand: look at the gateway's response and the client's first data */
	for (int round = 0; round < 8; round++) {
		for (size_t i = 0; i < B->n_out; i++) {
			if (wgh_msg_type(&B->out[i]) == WG_MSG_HANDSHAKE_RESPONSE) {
				memcpy(&idx, B->out[i].data + 4, 4);
				idx = le32toh(idx);
				is_int(idx >> XDPWG_GW_ID_SHIFT, 7,
				       "response's sender index: id 7");
				seen_resp = true;
			}
		}
		for (size_t i = 0; i < A->n_out; i++) {
			if (wgh_msg_type(&A->out[i]) == WG_MSG_DATA && !seen_data) {
				memcpy(&idx, A->out[i].data + 4, 4);
				idx = le32toh(idx);
				is_int(idx >> XDPWG_GW_ID_SHIFT, 7,
				       "client's data names index id 7");
				seen_data = true;
			}
		}
		step();
	}
	ok(seen_resp && seen_data, "handshake answered and data sent");
	is_int(B->n_delivered, 1, "the data reached the gateway");
	is_int(wg_device_set_gateway_id(B->dev, 8), -EBUSY, "device: id fixed while sessions live");
	is_int(wg_device_set_gateway_id(B->dev, 7), 0, "device: the same id again");
	is_int(wg_device_gateway_id(A->dev), 0, "client: not in a cluster");
	wgh_reset();
}

int main(void)
{
	test_table();
	test_device();
	return done_testing();
}
