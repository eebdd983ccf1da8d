/* SPDX-License-Identifier: GPL-2.0 */
/*
 * WireGuard's wire format: message types, sizes and layouts. Shared by the XDP program and
 * userspace, so it uses only <linux/types.h> types. All integers on the wire are little-endian.
 */
#ifndef XDPWG_WIRE_H
#define XDPWG_WIRE_H

#include <linux/types.h>

enum wg_message_type {
	WG_MSG_INVALID = 0,
	WG_MSG_HANDSHAKE_INITIATION = 1,
	WG_MSG_HANDSHAKE_RESPONSE = 2,
	WG_MSG_HANDSHAKE_COOKIE = 3,
	WG_MSG_DATA = 4,
};

enum wg_wire_lengths {
	WG_KEY_LEN = 32,
	WG_HASH_LEN = 32,
	WG_MAC_LEN = 16,
	WG_AUTHTAG_LEN = 16,
	WG_TIMESTAMP_LEN = 12,
	WG_COOKIE_LEN = 16,
	WG_COOKIE_NONCE_LEN = 24,
	WG_MSG_INITIATION_LEN = 148,
	WG_MSG_RESPONSE_LEN = 92,
	WG_MSG_COOKIE_LEN = 64,
	WG_MSG_DATA_HEADER_LEN = 16,
	/* header + an empty, tagged payload: a keepalive */
	WG_MSG_DATA_MIN_LEN = WG_MSG_DATA_HEADER_LEN + WG_AUTHTAG_LEN,
	/* plaintext is padded to a multiple of this before encryption */
	WG_MSG_PADDING = 16,
};

/* type is one byte followed by three reserved zero bytes: read the first 32 bits as LE type. */
struct wg_msg_header {
	__le32 type;
};

struct wg_msg_macs {
	__u8 mac1[WG_MAC_LEN];
	__u8 mac2[WG_MAC_LEN];
};

struct wg_msg_initiation {
	struct wg_msg_header header;
	__le32 sender_index;
	__u8 unencrypted_ephemeral[WG_KEY_LEN];
	__u8 encrypted_static[WG_KEY_LEN + WG_AUTHTAG_LEN];
	__u8 encrypted_timestamp[WG_TIMESTAMP_LEN + WG_AUTHTAG_LEN];
	struct wg_msg_macs macs;
} __attribute__((packed));

struct wg_msg_response {
	struct wg_msg_header header;
	__le32 sender_index;
	__le32 receiver_index;
	__u8 unencrypted_ephemeral[WG_KEY_LEN];
	__u8 encrypted_nothing[WG_AUTHTAG_LEN];
	struct wg_msg_macs macs;
} __attribute__((packed));

struct wg_msg_cookie {
	struct wg_msg_header header;
	__le32 receiver_index;
	__u8 nonce[WG_COOKIE_NONCE_LEN];
	__u8 encrypted_cookie[WG_COOKIE_LEN + WG_AUTHTAG_LEN];
} __attribute__((packed));

struct wg_msg_data {
	struct wg_msg_header header;
	__le32 key_idx;
	__le64 counter;
	__u8 encrypted_data[];
} __attribute__((packed));

_Static_assert(sizeof(struct wg_msg_initiation) == WG_MSG_INITIATION_LEN, "initiation size");
_Static_assert(sizeof(struct wg_msg_response) == WG_MSG_RESPONSE_LEN, "response size");
_Static_assert(sizeof(struct wg_msg_cookie) == WG_MSG_COOKIE_LEN, "cookie size");
_Static_assert(sizeof(struct wg_msg_data) == WG_MSG_DATA_HEADER_LEN, "data header size");
_Static_assert(__builtin_offsetof(struct wg_msg_initiation, macs) == 116, "initiation macs");
_Static_assert(__builtin_offsetof(struct wg_msg_response, macs) == 60, "response macs");
_Static_assert(__builtin_offsetof(struct wg_msg_data, counter) == 8, "data counter");

#endif
