// SPDX-License-Identifier: GPL-2.0
/*
 * The handshake consumer past mac1: inputs are shaped into initiations and responses to T (see
 * fuzz_wg.h) whose mac1 the harness computes, so the fuzzer reaches the Noise code, the cookie
 * checks and the handshake queue. The first byte steers:
 *   bits 0-2  0,1: an initiation: the input fills sender index, ephemeral, encrypted static and
 *                  timestamp, and mac2
 *             2,3: a response: sender and receiver index (bit 3: receiver = T's live handshake
 *                  index for A), ephemeral, encrypted nothing, mac2
 *             4:   a genuine initiation from A, then (offset, xor) byte pairs from the input
 *                  applied before mac1 is recomputed
 *             5:   the last genuine initiation again (a replay: must not answer twice)
 *             6:   a genuine round trip T -> A, with A's response mutated as in 4
 *             7:   a cookie reply for T's live handshake index, the rest from the input
 *   bit 4     under load (mac2 and cookie replies)
 *   bit 5     source from another address
 * The fake clock moves 25 ms per input, past the flood limit and timestamp granularity.
 */
#include <stdint.h>

#include "fuzz_wg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct wg_msg_initiation fz_last_init;
static bool fz_have_last, fz_last_answered;

static void fz_fill(uint8_t *dst, size_t len, const uint8_t **p, size_t *n)
{
	size_t k = *n < len ? *n : len;

	memcpy(dst, *p, k);
	memset(dst + k, 0, len - k);
	*p += k;
	*n -= k;
}

static void fz_mutate(uint8_t *msg, size_t len, const uint8_t *p, size_t n)
{
	for (; n >= 2; p += 2, n -= 2)
		msg[p[0] % len] ^= p[1];
}

/* T's handshake index for A after T sends an initiation (T's state moves on). */
static uint32_t fz_t_initiates(struct wg_msg_initiation *out)
{
	struct wg_peer *peer = fz_t_peer_a();
	struct wg_msg_initiation m;

	if (!noise_handshake_create_initiation(&m, &peer->handshake, fz_t->dev->index,
					       (uint64_t)wg_device_wall_ns(fz_t->dev)))
		return 0;
	if (out)
		*out = m;
	return le32toh(m.sender_index);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	uint8_t buf[WG_MSG_INITIATION_LEN];
	struct wg_endpoint src;
	uint8_t flags;
	size_t len = 0, n;
	const uint8_t *p;
	uint32_t v;

	if (!init) {
		fz_setup();
		init = true;
	}
	if (size < 1)
		return 0;
	flags = data[0];
	p = data + 1;
	n = size - 1;
	wgh_advance_ms(25);
	memset(buf, 0, sizeof(buf));
	switch (flags & 7) {
	case 0:
	case 1:
		len = WG_MSG_INITIATION_LEN;
		v = htole32(WG_MSG_HANDSHAKE_INITIATION);
		memcpy(buf, &v, 4);
		fz_fill(buf + 4, offsetof(struct wg_msg_initiation, macs) - 4, &p, &n);
		fz_put_mac1(buf, len);
		fz_fill(buf + len - WG_MAC_LEN, WG_MAC_LEN, &p, &n);
		break;
	case 2:
	case 3:
		len = WG_MSG_RESPONSE_LEN;
		v = htole32(WG_MSG_HANDSHAKE_RESPONSE);
		memcpy(buf, &v, 4);
		fz_fill(buf + 4, offsetof(struct wg_msg_response, macs) - 4, &p, &n);
		if (flags & 8) {
			v = htole32(fz_t_initiates(NULL));
			memcpy(buf + 8, &v, 4);
		}
		fz_put_mac1(buf, len);
		fz_fill(buf + len - WG_MAC_LEN, WG_MAC_LEN, &p, &n);
		break;
	case 4:
		if (!fz_a_initiation(&fz_last_init))
			return 0;
		fz_have_last = true;
		fz_last_answered = false;
		len = WG_MSG_INITIATION_LEN;
		memcpy(buf, &fz_last_init, len);
		fz_mutate(buf, offsetof(struct wg_msg_initiation, macs), p, n);
		fz_put_mac1(buf, len);
		break;
	case 5:
		if (!fz_have_last)
			return 0;
		len = WG_MSG_INITIATION_LEN;
		memcpy(buf, &fz_last_init, len);
		break;
	case 6: {
		struct wg_msg_initiation m;
		struct wg_endpoint t_src = fz_t->addr;
		size_t i;

		if (!fz_t_initiates(&m))
			return 0;
		fz_put_mac1((uint8_t *)&m, sizeof(m));
		/* mac1 for A, not T: let A's own cookie code do it */
		cookie_add_mac_to_packet((uint8_t *)&m, sizeof(m), &fz_t_peer_a()->latest_cookie,
					 wgh_now_ns);
		fz_drain();
		wg_device_rx(wg_device_path(fz_a->dev), (uint8_t *)&m, sizeof(m), &t_src);
		wg_device_process_handshakes(fz_a->dev, 4);
		for (i = 0; i < fz_a->n_out; i++)
			if (fz_a->out[i].len == WG_MSG_RESPONSE_LEN)
				break;
		if (i == fz_a->n_out)
			return 0;
		len = WG_MSG_RESPONSE_LEN;
		memcpy(buf, fz_a->out[i].data, len);
		fz_mutate(buf, offsetof(struct wg_msg_response, macs), p, n);
		fz_put_mac1(buf, len);
		fz_drain();
		break;
	}
	default:
		len = WG_MSG_COOKIE_LEN;
		v = htole32(WG_MSG_HANDSHAKE_COOKIE);
		memcpy(buf, &v, 4);
		v = htole32(fz_t_initiates(NULL));
		memcpy(buf + 4, &v, 4);
		fz_fill(buf + 8, WG_MSG_COOKIE_LEN - 8, &p, &n);
		break;
	}
	src = fz_a->addr;
	if (flags & 0x20)
		wgh_set_addr(&src, "203.0.113.9:4321");
	src.src4 = fz_t->addr.addr.in4.sin_addr;
	wg_device_set_under_load_for_test(fz_t->dev, flags & 0x10);
	fz_drain();
	wg_device_rx(wg_device_path(fz_t->dev), buf, len, &src);
	wg_device_process_handshakes(fz_t->dev, 16);
	if ((flags & 7) == 4 || (flags & 7) == 5) {
		bool answered = false;
		size_t i;

		for (i = 0; i < fz_t->n_out; i++)
			answered |= fz_t->out[i].len == WG_MSG_RESPONSE_LEN;
		/* the genuine initiation (maybe mutated in 4) was answered once already */
		if ((flags & 7) == 5 && answered && fz_last_answered) {
			fprintf(stderr, "handshake: a replayed initiation was answered\n");
			abort();
		}
		if (answered && ((flags & 7) == 5 || !memcmp(buf, &fz_last_init, len)))
			fz_last_answered = true;
	}
	wg_device_set_under_load_for_test(fz_t->dev, false);
	fz_drain();
	return 0;
}
