#!/usr/bin/env python3
"""Seed corpus for fuzz_xdp (tests/fuzz/corpus/xdp/): the frames of tests/bpf/test_xdp.c's and
test_xdp_harden.c's fixtures, and the edge spec's new cases, in fuzz_xdp.c's input format (its
header comment). Rewrites the directory: tests/fuzz/gen_xdp_seeds.py [DIR]."""
import os
import struct
import sys

D = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus", "xdp")


def u16(v):
    return struct.pack(">H", v)


def u32(v):
    return struct.pack(">I", v)


def state(s0=0, s1=0x11, s2=0, s3=0, extra=b""):
    """S0 flags, S1 sessions/peers (default: IDX[0] live, peer 1), S2, S3, descriptors."""
    return bytes([s0, s1, s2, s3]) + extra


def v4(i0=0, i1=0, extra=b""):
    return bytes([0x00, i0, i1]) + extra


def v6(i0=0, i1=0, extra=b"", f0=0x08):
    return bytes([f0, i0, i1]) + extra


def udp(u0=0, extra=b""):
    return bytes([u0]) + extra


# W0 kinds: 0 initiation, 1 response, 2 cookie, 3 data; sizes: exact (data: 32 + 16 * u8)
DATA48 = bytes([0x03, 1])
DATA32 = bytes([0x03, 0])
INIT = bytes([0x00])
RESP = bytes([0x01])
COOKIE = bytes([0x02])

seeds = {
    "v4-data-known": state() + v4() + udp() + DATA48,
    "v4-keepalive": state() + v4() + udp() + DATA32,
    "v4-data-unknown-index": state() + v4() + udp() + bytes([0x43, 0]) + u32(0xDEAD),
    "v4-data-31": state() + v4() + udp() + bytes([0x0B, 0xFF]),
    "v4-initiation": state(0x01) + v4() + udp() + INIT,
    "v4-initiation-147": state(0x01) + v4() + udp() + bytes([0x08, 0xFF]),
    "v4-initiation-bad-mac1": state(0x01) + v4() + udp() + bytes([0x80]) + bytes(140) + b"\x70",
    "v4-response": state(0x01) + v4() + udp() + RESP,
    "v4-response-93": state(0x01) + v4() + udp() + bytes([0x09, 0x01]),
    "v4-cookie": state(0x01) + v4() + udp() + COOKIE,
    "v4-type-5": state() + v4() + udp() + bytes([0x05, 5, 0]),
    "v4-type-4-reserved": state() + v4() + udp() + bytes([0x07, 1, 0]),
    "v4-options-data": state() + v4(0x03) + udp() + DATA32,
    "v4-first-fragment": state() + v4(0x10) + udp() + DATA48,
    "v4-later-fragment": state() + v4(0x20, 0, u16(0x00B9)) + udp() + DATA48,
    "v4-udp-53": state() + v4() + udp(0x01, u16(53)) + DATA48,
    "v4-tcp": state() + v4(0x40, 0, bytes([6])) + udp() + DATA48,
    "v4-truncated": state() + bytes([0xA0, 0, 0]) + udp() + bytes([0x03, 2]) + bytes(56) + b"\x0a",
    "v4-udp-len-8": state() + v4() + udp(0x02, u16(8)) + DATA32,
    "v4-port-0": state(0x40) + v4() + udp() + DATA48,
    "v4-new-source-event": state(0, 0x11, 0x01) + v4() + udp() + DATA48,
    "v4-new-source-ratelimited": state(0, 0x11, 0x09) + v4() + udp() + DATA48,
    "v4-new-source-pinned": state(0, 0x11, 0x05) + v4() + udp() + DATA48,
    "v4-pass-unknown": state(0x10) + v4() + udp() + bytes([0x43, 0]) + u32(9),
    "v4-capture": state(0x08) + v4() + udp() + DATA48,
    "v4-allowlist-hit": state(0x04, 0x11, 0, 0x01, bytes([0x01, 24])) + v4() + udp() + DATA48,
    "v4-allowlist-miss": state(0x04, 0x11, 0, 0x01, bytes([0x00, 24]) + bytes([203, 0, 113]) + bytes(13))
    + v4()
    + udp()
    + DATA48,
    "v4-local-ours": state(0x20, 0x11, 0, 0x04, bytes([0x01])) + v4() + udp() + DATA48,
    # local_addrs holds 198.18.0.1; the frame goes to 192.0.2.200
    "v4-local-transit": state(0x20, 0x11, 0, 0x04, bytes([0x00, 198, 18, 0, 1]) + bytes(12))
    + v4(0, 0x08)
    + udp()
    + DATA48,
    "v4-under-load-empty": state(0x03, 0x11, 0x20) + v4() + udp() + INIT,
    "v4-bucket-empty": state(0x01, 0x11, 0x20) + v4() + udp() + INIT,
    "v4-frag-budget-empty": state(0, 0x11, 0x80) + v4(0x10) + udp() + DATA48,
    "vlan-data": state() + bytes([0x01, 0, 0]) + udp() + DATA32,
    "qinq-v6-data": state(0, 0x22) + v6(f0=0x0F) + udp() + bytes([0x23, 1, 1]),
    "v6-data": state(0, 0x22) + v6() + udp() + bytes([0x23, 1, 1]),
    "v6-hbh-data": state() + v6(0x01) + bytes([0x00]) + udp() + DATA48,
    "v6-hbh-junk": state() + v6(0x01) + bytes([0x00]) + udp() + bytes([0x05, 9, 0]),
    "v6-routing-dstopts-data": state() + v6(0x02) + bytes([0x01, 0x0A]) + udp() + DATA48,
    "v6-ah-data": state() + v6(0x01) + bytes([0x03]) + udp() + DATA48,
    "v6-first-fragment": state() + v6(0x01) + bytes([0x04]) + udp() + DATA48,
    "v6-atomic-fragment": state() + v6(0x01) + bytes([0x0C]) + udp() + DATA48,
    "v6-later-fragment": state() + v6(0x01) + bytes([0x14]) + u16(0x0100) + udp() + DATA48,
    "v6-mobility": state() + v6(0x01) + bytes([0x05]) + udp() + DATA48,
    "v6-chain-6": state() + v6(0x06) + bytes(6) + udp() + DATA48,
    "v6-chain-7": state() + v6(0x07) + bytes(7) + udp() + DATA48,
    # local_addrs holds 2001:db8::1; the frame goes to 2001:db8::100
    "v6-local-transit": state(0x20, 0x11, 0, 0x04, bytes([0x02, 0x20, 0x01, 0x0D, 0xB8]) + bytes(11) + b"\x01")
    + v6(0, 0x04)
    + udp()
    + DATA48,
    "arp": state() + bytes([0x10]) + u16(0x0806) + bytes(28),
}

os.makedirs(D, exist_ok=True)
for f in os.listdir(D):
    os.unlink(os.path.join(D, f))
for name, data in seeds.items():
    with open(os.path.join(D, name), "wb") as fh:
        fh.write(data)
print(f"{len(seeds)} seeds in {D}")
