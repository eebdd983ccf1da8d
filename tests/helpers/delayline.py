#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
# A delay line for a namespace router, where this kernel has no sch_netem (and netem on one
# interface would delay one direction only): tests/net/roam_lib.sh's r_impair_on routes an
# uplink's traffic, both directions, through the TUN this makes.
# delayline.py TUN LOSS_PCT DELAY_MS LIFETIME_S: read packets from a new TUN, drop LOSS_PCT %,
# write the others back after DELAY_MS (routed on from there); exits after LIFETIME_S.
import collections, fcntl, os, random, select, signal, struct, sys, time
name, loss, delay, life = sys.argv[1], float(sys.argv[2]) / 100, float(sys.argv[3]) / 1000, float(sys.argv[4])
fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
fcntl.ioctl(fd, 0x400454CA, struct.pack("16sH", name.encode(), 0x0001 | 0x1000))  # TUNSETIFF, IFF_TUN | IFF_NO_PI
rnd = random.Random(18)
q = collections.deque()
end = time.monotonic() + life
stop = False
def term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, term)
print("ready", flush=True)
passed = dropped = 0
while not stop:
    now = time.monotonic()
    if now >= end:
        break
    wait = 0.2 if not q else max(0.0, q[0][0] - now)
    try:
        r, _, _ = select.select([fd], [], [], min(wait, end - now))
    except InterruptedError:
        continue
    now = time.monotonic()
    if r:
        while True:
            try:
                p = os.read(fd, 65536)
            except BlockingIOError:
                break
            if rnd.random() < loss:
                dropped += 1
            else:
                q.append((now + delay, p))
    while q and q[0][0] <= now:
        try:
            os.write(fd, q.popleft()[1])
            passed += 1
        except OSError:
            pass
print("passed %d dropped %d" % (passed, dropped), flush=True)
