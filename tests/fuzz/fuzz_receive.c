// SPDX-License-Identifier: GPL-2.0
/*
 * The receive path on arbitrary datagrams: wg_device_rx on a device with a fixed identity and
 * two peers (see fuzz_wg.h), then wg_device_process_handshakes. The first input byte steers:
 *   bits 0-2  0: the datagram as is
 *             1-4: overwrite the type word with that message type (so sizes and parsers of
 *                  each type are reached; wrong sizes are tried too)
 *             5: transport data encrypted under a real session from A (so decryption succeeds
 *                and the replay window, roaming and the inner-packet checks see fuzzed input):
 *                two bytes of signed counter offset, then the plaintext
 *             6,7: as 1-4 for data (type 4) carrying T's live receiver index
 *   bit 3     the source is another address (roaming)
 *   bit 4     under load (cookie replies instead of handshakes)
 *   bit 5     run the timers (wg_device_tick) afterwards
 * The rest is the datagram (or the plaintext).
 */
#include <stdint.h>

#include "fuzz_wg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t fz_counter;

static size_t fz_data_msg(uint8_t *out, const uint8_t *p, size_t n)
{
	struct noise_keypair *kp = fz_session();
	int16_t delta;
	uint64_t c;
	uint32_t v;

	if (!kp || n < 2)
		return 0;
	delta = (int16_t)(p[0] | p[1] << 8);
	p += 2;
	n -= 2;
	c = fz_counter + (uint64_t)(int64_t)delta;
	if (delta >= 0)
		fz_counter += (uint64_t)delta + 1;
	v = htole32(WG_MSG_DATA);
	memcpy(out, &v, 4);
	v = htole32(kp->remote_index);
	memcpy(out + 4, &v, 4);
	c = htole64(c);
	memcpy(out + 8, &c, 8);
	crypto_aead_encrypt(out + WG_MSG_DATA_HEADER_LEN, p, n, NULL, 0, le64toh(c),
			    kp->sending.key);
	noise_keypair_put(kp, false);
	return WG_MSG_DATA_HEADER_LEN + n + WG_AUTHTAG_LEN;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool init;
	static uint8_t buf[4096];
	struct wg_endpoint src;
	unsigned int mode;
	size_t len;
	uint8_t flags;

	if (!init) {
		fz_setup();
		init = true;
	}
	if (size < 1 || size > sizeof(buf) - 64)
		return 0;
	flags = data[0];
	mode = flags & 7;
	data++;
	size--;
	if (mode == 5) {
		len = fz_data_msg(buf, data, size);
		if (!len)
			return 0;
	} else {
		memcpy(buf, data, size);
		len = size;
		if (mode >= 1 && len >= 4) {
			uint32_t type = htole32(mode <= 4 ? mode : WG_MSG_DATA);

			memcpy(buf, &type, 4);
		}
		if (mode >= 6 && len >= 8) {
			struct noise_keypair *kp = fz_session();

			if (kp) {
				uint32_t idx = htole32(kp->remote_index);

				memcpy(buf + 4, &idx, 4);
				noise_keypair_put(kp, false);
			}
		}
	}
	src = fz_a->addr;
	if (flags & 8)
		wgh_set_addr(&src, flags & 0x40 ? "[2001:db8:1::9]:1234" : "203.0.113.9:4321");
	src.src4 = fz_t->addr.addr.in4.sin_addr;
	wg_device_set_under_load_for_test(fz_t->dev, flags & 0x10);
	wg_device_rx(wg_device_path(fz_t->dev), buf, len, &src);
	wg_device_process_handshakes(fz_t->dev, 64);
	if (flags & 0x20)
		wg_device_tick(fz_t->dev);
	wg_device_set_under_load_for_test(fz_t->dev, false);
	fz_drain();
	return 0;
}
