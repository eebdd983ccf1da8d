// SPDX-License-Identifier: GPL-2.0
/*
 * Writes the wire-message seeds of tests/fuzz/corpus/{receive,handshake}/ from the fuzzers'
 * own fixed world (fuzz_wg.h): a genuine initiation, response, cookie reply and data message,
 * each prefixed with the steering byte that feeds it unchanged. Run: scripts/fuzz.sh --gen-seeds
 */
#include <stdint.h>

#include "fuzz_wg.h"

static void put(const char *dir, const char *name, uint8_t mode, const void *msg, size_t len)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f) {
		perror(path);
		exit(1);
	}
	fputc(mode, f);
	if (len)
		fwrite(msg, 1, len, f);
	fclose(f);
}

int main(int argc, char **argv)
{
	struct wg_msg_initiation init;
	struct noise_keypair *kp;
	struct wg_endpoint a;
	uint8_t ip[64] = { 0x45, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 2, 192, 0, 2, 1 };
	uint8_t ctr[2 + sizeof(ip)] = { 0 };
	size_t i;

	if (argc != 3) {
		fprintf(stderr, "usage: gen_seeds RECEIVE_DIR HANDSHAKE_DIR\n");
		return 2;
	}
	fz_setup();
	a = fz_a->addr;
	/* an initiation, and T's response to it */
	if (!fz_a_initiation(&init))
		return 1;
	put(argv[1], "initiation", 0, &init, sizeof(init));
	put(argv[2], "initiation", 0, (uint8_t *)&init + 4,
	    offsetof(struct wg_msg_initiation, macs) - 4);
	put(argv[2], "genuine", 4, NULL, 0);
	put(argv[2], "replay", 5, NULL, 0);
	put(argv[2], "roundtrip", 6, NULL, 0);
	put(argv[2], "cookie", 7, NULL, 0);
	fz_drain();
	wg_device_rx(wg_device_path(fz_t->dev), (uint8_t *)&init, sizeof(init), &a);
	wg_device_process_handshakes(fz_t->dev, 4);
	for (i = 0; i < fz_t->n_out; i++)
		if (fz_t->out[i].len == WG_MSG_RESPONSE_LEN) {
			put(argv[1], "response", 0, fz_t->out[i].data, WG_MSG_RESPONSE_LEN);
			put(argv[2], "response", 2, fz_t->out[i].data + 4,
			    offsetof(struct wg_msg_response, macs) - 4);
		}
	/* under load: a cookie reply */
	wgh_advance_ms(6000);
	fz_drain();
	if (!fz_a_initiation(&init))
		return 1;
	wg_device_set_under_load_for_test(fz_t->dev, true);
	wg_device_rx(wg_device_path(fz_t->dev), (uint8_t *)&init, sizeof(init), &a);
	wg_device_process_handshakes(fz_t->dev, 4);
	wg_device_set_under_load_for_test(fz_t->dev, false);
	for (i = 0; i < fz_t->n_out; i++)
		if (fz_t->out[i].len == WG_MSG_COOKIE_LEN)
			put(argv[1], "cookie", 0, fz_t->out[i].data, WG_MSG_COOKIE_LEN);
	/* data: as a raw message, and as mode 5's plaintext (an IPv4 packet from A's address) */
	kp = fz_session();
	if (!kp)
		return 1;
	memcpy(ctr + 2, ip, sizeof(ip));
	put(argv[1], "data-ip4", 5, ctr, 2 + 28);
	put(argv[1], "keepalive", 5, ctr, 2);
	{
		uint8_t msg[WG_MSG_DATA_HEADER_LEN + 32 + WG_AUTHTAG_LEN];
		uint32_t v = htole32(WG_MSG_DATA);
		uint64_t c = 0;

		memcpy(msg, &v, 4);
		v = htole32(kp->remote_index);
		memcpy(msg + 4, &v, 4);
		memcpy(msg + 8, &c, 8);
		crypto_aead_encrypt(msg + 16, ip, 32, NULL, 0, 0, kp->sending.key);
		put(argv[1], "data", 0, msg, sizeof(msg));
	}
	noise_keypair_put(kp, false);
	return 0;
}
