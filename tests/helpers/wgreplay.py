#!/usr/bin/env python3
"""wgreplay: capture WireGuard datagrams on an interface and send them again, for tests.

  wgreplay.py capture IFACE PORT SECONDS OUT
      Record every outgoing IPv4 UDP datagram to PORT seen on IFACE (AF_PACKET) for SECONDS (or
      until SIGTERM), one JSON line each: {"type": N, "len": L, "counter": C, "hex": "..."}.
  wgreplay.py send SRC SPORT DST DPORT IN [--types 1,4] [--no-keepalive] [--reverse]
                                          [--mutate none|trunc|flip]
      Send the recorded payloads from SRC:SPORT (any address: a raw IPv4 socket, so the same
      source as the capture or a spoofed one) to DST:DPORT. --mutate trunc sends every payload
      cut at several lengths, flip sends copies with single bits flipped; prints how many sent.
"""
import json
import signal
import socket
import struct
import sys
import time


def capture(iface, port, seconds, out):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind((iface, 0))
    s.settimeout(0.2)
    stop = [False]
    signal.signal(signal.SIGTERM, lambda *a: stop.__setitem__(0, True))
    end = time.time() + seconds
    n = 0
    with open(out, "w") as f:
        while not stop[0] and time.time() < end and n < 100000:
            try:
                frame, addr = s.recvfrom(65535)
            except socket.timeout:
                continue
            if addr[2] != socket.PACKET_OUTGOING:
                continue
            ip = frame[14:] if addr[1] == 0x0800 and len(frame) > 14 and frame[14] >> 4 == 4 \
                else frame
            if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
                continue
            ihl = (ip[0] & 15) * 4
            dport = struct.unpack("!H", ip[ihl + 2:ihl + 4])[0]
            if dport != port:
                continue
            payload = ip[ihl + 8:struct.unpack("!H", ip[2:4])[0]]
            counter = struct.unpack("<Q", payload[8:16])[0] if payload[:1] == b"\x04" and \
                len(payload) >= 16 else -1
            f.write(json.dumps({"type": payload[0], "len": len(payload), "counter": counter,
                                "hex": payload.hex()}) + "\n")
            f.flush()
            n += 1
    print(n)


def ip_udp(src, sport, dst, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                      socket.inet_aton(src), socket.inet_aton(dst))
    csum = sum(struct.unpack("!10H", hdr))
    csum = (csum & 0xFFFF) + (csum >> 16)
    csum = ~((csum & 0xFFFF) + (csum >> 16)) & 0xFFFF
    return hdr[:10] + struct.pack("!H", csum) + hdr[12:] + udp


def send(argv):
    src, sport, dst, dport, path = argv[0], int(argv[1]), argv[2], int(argv[3]), argv[4]
    opts = argv[5:]
    types = None
    mutate = "none"
    if "--types" in opts:
        types = {int(t) for t in opts[opts.index("--types") + 1].split(",")}
    if "--mutate" in opts:
        mutate = opts[opts.index("--mutate") + 1]
    recs = [json.loads(line) for line in open(path)]
    if types is not None:
        recs = [r for r in recs if r["type"] in types]
    if "--no-keepalive" in opts:
        recs = [r for r in recs if not (r["type"] == 4 and r["len"] == 32)]
    if "--reverse" in opts:
        recs.reverse()
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sent = 0
    for r in recs:
        p = bytes.fromhex(r["hex"])
        if mutate == "trunc":
            copies = [p[:n] for n in (1, 4, 8, 15, 16, 31, 32, len(p) - 16, len(p) - 1)
                      if 0 < n < len(p)]
        elif mutate == "flip":
            copies = []
            for bit in list(range(0, 128, 9)) + list(range(128, 8 * len(p), 61)):
                c = bytearray(p)
                c[bit // 8] ^= 1 << (bit % 8)
                copies.append(bytes(c))
        else:
            copies = [p]
        for c in copies:
            s.sendto(ip_udp(src, sport, dst, dport, c), (dst, 0))
            sent += 1
            if sent % 64 == 0:
                time.sleep(0.001)
    print(sent)


def main():
    if len(sys.argv) >= 6 and sys.argv[1] == "capture":
        capture(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5])
    elif len(sys.argv) >= 7 and sys.argv[1] == "send":
        send(sys.argv[2:])
    else:
        sys.stderr.write(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
