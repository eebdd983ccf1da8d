// SPDX-License-Identifier: GPL-2.0
/*
 * The handshake's wire form, checked against an independent derivation written from the
 * protocol description (PROTOCOL.md) with the crypto primitives: what the engine sends must be
 * what any WireGuard peer expects. Plus TAI64N and the transport header.
 */
#include <endian.h>

#include "noise.h"
#include "tap.h"
#include "wg_harness.h"

static void test_tai64n(void)
{
	uint8_t a[NOISE_TIMESTAMP_LEN], b[NOISE_TIMESTAMP_LEN];
	uint64_t wall = 1234567890ULL * 1000000000ULL + 123456789ULL, secs;
	uint32_t nsecs;

	noise_tai64n(a, wall);
	memcpy(&secs, a, 8);
	memcpy(&nsecs, a + 8, 4);
	is_int(be64toh(secs), 0x400000000000000aULL + 1234567890ULL, "TAI64 seconds label");
	is_int(be32toh(nsecs), 123456789 - 123456789 % (1 << 24), "nanoseconds rounded to 2^24");
	noise_tai64n(b, wall + 5000000);
	ok(memcmp(a, b, sizeof(a)) == 0, "5 ms later: same granule");
	noise_tai64n(b, wall + 20000000);
	ok(memcmp(a, b, sizeof(a)) < 0, "20 ms later: strictly greater");
	noise_tai64n(b, wall + 1000000000ULL);
	ok(memcmp(a, b, sizeof(a)) < 0, "a second later: greater");
}

static void test_initiation_wire(void)
{
	static const char construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
	static const char identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";
	struct wg_msg_initiation init;
	struct wg_msg_response resp;
	uint8_t c[32], h[32], k[32], dh[32], s[32], t[12], key[32], mac[16];
	struct wgh_host *a, *b;
	uint64_t secs, counter;
	uint32_t nsecs;
	size_t i;

	wgh_reset();
	a = wgh_host_new("a", "198.51.100.1:51820");
	b = wgh_host_new("b", "198.51.100.2:51821");
	wgh_pair(a, b, NULL, NULL, true, false);
	wg_device_announce(a->dev, NULL);
	is_int(a->n_out, 1, "one message out");
	is_int(a->out[0].len, WG_MSG_INITIATION_LEN, "initiation is 148 bytes");
	memcpy(&init, a->out[0].data, sizeof(init));
	ok(a->out[0].data[0] == 1 && !a->out[0].data[1] && !a->out[0].data[2] && !a->out[0].data[3],
	   "type 1, three zero bytes");

	/* the responder's side, step by step from the description */
	crypto_hash(c, construction, strlen(construction), NULL, 0);
	crypto_hash(h, c, 32, identifier, strlen(identifier));
	crypto_hash(h, h, 32, b->pub, 32);
	crypto_kdf(c, NULL, NULL, c, init.unencrypted_ephemeral, 32);
	crypto_hash(h, h, 32, init.unencrypted_ephemeral, 32);
	ok(crypto_dh(dh, b->priv, init.unencrypted_ephemeral), "es");
	crypto_kdf(c, k, NULL, c, dh, 32);
	ok(crypto_aead_decrypt(s, init.encrypted_static, sizeof(init.encrypted_static), h, 32, 0,
			       k),
	   "encrypted static decrypts");
	is_mem(s, a->pub, 32, "and is the initiator's public key");
	crypto_hash(h, h, 32, init.encrypted_static, sizeof(init.encrypted_static));
	ok(crypto_dh(dh, b->priv, a->pub), "ss");
	crypto_kdf(c, k, NULL, c, dh, 32);
	ok(crypto_aead_decrypt(t, init.encrypted_timestamp, sizeof(init.encrypted_timestamp), h, 32,
			       0, k),
	   "encrypted timestamp decrypts");
	memcpy(&secs, t, 8);
	memcpy(&nsecs, t + 8, 4);
	ok(be64toh(secs) > 0x400000000000000aULL + 1600000000ULL, "timestamp is TAI64N of now");
	is_int(be32toh(nsecs) % (1 << 24), 0, "timestamp nanoseconds coarse");

	crypto_hash(key, "mac1----", 8, b->pub, 32);
	crypto_mac(mac, key, 32, &init, offsetof(struct wg_msg_initiation, macs));
	is_mem(init.macs.mac1, mac, 16, "mac1 keyed with the responder's key");

	/* the response */
	a->n_out = 0;
	wgh_inject(b, (const uint8_t *)&init, sizeof(init), &a->addr);
	wg_device_process_handshakes(b->dev, 10);
	for (i = 0; i < b->n_out && b->out[i].data[0] != WG_MSG_HANDSHAKE_RESPONSE; i++)
		;
	ok(i < b->n_out && b->out[i].len == WG_MSG_RESPONSE_LEN, "response is 92 bytes");
	memcpy(&resp, b->out[i].data, sizeof(resp));
	is_int(resp.receiver_index, init.sender_index, "response names the initiation's index");
	ok(resp.sender_index != init.sender_index, "and has its own index");
	crypto_hash(key, "mac1----", 8, a->pub, 32);
	crypto_mac(mac, key, 32, &resp, offsetof(struct wg_msg_response, macs));
	is_mem(resp.macs.mac1, mac, 16, "response mac1 keyed with the initiator's key");
	wgh_inject(a, b->out[i].data, b->out[i].len, &b->addr);
	b->n_out = 0;
	wg_device_process_handshakes(a->dev, 10);

	/* the initiator confirms with a keepalive: type 4, b's index, counter 0, 32 bytes */
	ok(a->n_out == 1 && a->out[0].len == WG_MSG_DATA_MIN_LEN, "keepalive confirms");
	memcpy(&counter, a->out[0].data + 8, 8);
	is_int(le64toh(counter), 0, "first counter is 0");
	ok(!memcmp(a->out[0].data + 4, &resp.sender_index, 4),
	   "addressed to the responder's index");
	wgh_pump();
	{
		uint8_t pkt[128];
		size_t len = wgh_ip4(pkt, "192.0.2.1", "192.0.2.2", 8, 1);

		wg_device_tx(wg_device_path(a->dev), pkt, len);
		memcpy(&counter, a->out[0].data + 8, 8);
		is_int(le64toh(counter), 1, "next counter is 1");
		wgh_pump();
	}
	is_int(b->n_delivered, 1, "and b takes it");
	crypto_wipe(k, sizeof(k));
	crypto_wipe(c, sizeof(c));
	crypto_wipe(dh, sizeof(dh));
}

int main(void)
{
	test_tai64n();
	test_initiation_wire();
	wgh_reset();
	return done_testing();
}
