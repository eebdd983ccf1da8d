#!/usr/bin/env bash
# Hardening at the edge on a real (veth) uplink: tests/helpers/xsk-echo attaches the XDP program to eth0
# in a gateway namespace (198.18.0.1) and echoes whatever XDP lets through its AF_XDP socket. An
# attacker namespace (198.18.0.2, .3) sends a few hundred packets at a bounded rate: random junk,
# data for unknown receiver indexes, initiations with a wrong mac1, valid initiations from one
# source beyond its token bucket. The counters in the pinned stats map (`xdpwgctl stats`) must
# grow by what was sent, and legitimate messages must still be echoed. The mac1 key (derived from
# a random public key, as HASH("mac1----" || pub)) is written into the pinned config map with
# bpftool, as the daemon would through loader_set_mac1_key.
. "$(dirname "$0")/lib.sh"

t_require_root
t_require_cmd bpftool python3
ECHO=$XDPWG_BUILD/tests/helpers/xsk-echo
CTL=$XDPWG_BUILD/xdpwgctl
[ -x "$ECHO" ] || t_bail "no $ECHO (run make)"
[ -x "$CTL" ] || t_bail "no $CTL (run make)"

PORT=51820
INDEX=0x11223344
t_ns gw
t_ns att
GW=$(t_nsname gw)
ATT=$(t_nsname att)
t_link gw eth0 198.18.0.1/24 att eth0 198.18.0.2/24
ip -n "$ATT" addr add 198.18.0.3/24 dev eth0

BPFFS=$T_DIR/bpffs
mkdir -p "$BPFFS" && mount -t bpf bpf "$BPFFS" || t_bail "mount bpffs"
t_on_exit "umount -l '$BPFFS'"
PINS=$BPFFS/xdpwg/wg0
export XDPWG_PIN_ROOT=$BPFFS/xdpwg

# A public key, and the mac1 key derived from it, as bpftool hex bytes.
PUB=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
MAC1KEY=$(python3 -c 'import hashlib, sys
k = hashlib.blake2s(b"mac1----" + bytes.fromhex(sys.argv[1])).digest()
print(" ".join("%02x" % b for b in k))' "$PUB")

# flood.py STEP...: each STEP is MODE:COUNT:SRC[:PPS]: COUNT datagrams to 198.18.0.1:PORT from
# SRC at most PPS per second (default 1000). Prints one line per step: how many came back (echoes,
# waited for 0.3 s after the last) and how long the sending took in ms. One python process for
# many steps: interpreter start-up takes seconds on a busy machine.
cat >"$T_DIR/flood.py" <<'PY'
import hashlib, os, random, socket, struct, sys, time
port, index = int(os.environ["PORT"]), int(os.environ["INDEX"], 0)
mac1_key = hashlib.blake2s(b"mac1----" + bytes.fromhex(os.environ["PUB"])).digest()

def initiation(valid):
    m = struct.pack("<II", 1, random.getrandbits(32)) + os.urandom(108)
    mac1 = hashlib.blake2s(m, key=mac1_key, digest_size=16).digest() if valid else os.urandom(16)
    return m + mac1 + bytes(16)

def junk():
    m = bytearray(os.urandom(random.randint(4, 200)))
    if m[0] in (1, 2, 3, 4):
        m[1] = m[1] or 1  # non-zero reserved bytes: never a valid type
    return bytes(m)

def unknown_index():
    i = random.getrandbits(32)
    while i == index:
        i = random.getrandbits(32)
    return struct.pack("<IIQ", 4, i, 0) + os.urandom(16 * random.randint(1, 8))

def data():
    return struct.pack("<IIQ", 4, index, 0) + os.urandom(32)

makers = {"junk": junk, "unknown": unknown_index, "badmac": lambda: initiation(False),
          "init": lambda: initiation(True), "data": data}

def step(mode, count, src, pps):
    count = min(count, 1000)  # bounded, whatever the caller says
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.setblocking(False)
    sent, got, t0 = set(), 0, time.monotonic()
    for n in range(count):
        m = makers[mode]()
        sent.add(m)
        s.sendto(m, ("198.18.0.1", port))
        while time.monotonic() < t0 + (n + 1) / pps:
            try:
                d, _ = s.recvfrom(4096)
                got += d in sent
            except BlockingIOError:
                time.sleep(0.0005)
    t1 = time.monotonic()
    while time.monotonic() < t1 + 0.3:
        try:
            d, _ = s.recvfrom(4096)
            got += d in sent
        except BlockingIOError:
            time.sleep(0.002)
    s.close()
    print(got, int((t1 - t0) * 1000), flush=True)

for a in sys.argv[1:]:
    f = a.split(":")
    step(f[0], int(f[1]), f[2], float(f[3]) if len(f) > 3 else 1000.0)
PY

flood() # STEP...
{
	ip netns exec "$ATT" env PORT=$PORT INDEX=$INDEX PUB="$PUB" \
		timeout 30 python3 "$T_DIR/flood.py" "$@"
}

# line N [F]: field F (1: echoes, 2: ms) of line N of $OUT.
line()
{
	sed -n "${1}p" <<<"$OUT" | awk -v f="${2:-1}" '{ print $f }'
}

# stat NAME: the counter from `xdpwgctl stats wg0`.
stat()
{
	"$CTL" stats wg0 | awk -v n="$1" '$1 == n { print $2 }'
}

# cfg_write FLAGS: the whole config value (port, flags, reserved, mac1 key) through bpftool.
cfg_write()
{
	# shellcheck disable=SC2046,SC2086
	bpftool map update pinned "$PINS/config" key hex 00 00 00 00 value hex \
		$(printf '%02x %02x %02x 00' $((PORT & 255)) $((PORT >> 8)) "$1") 00 00 00 00 $MAC1KEY
}

t_like "$("$CTL" stats wg0 2>&1)" \
	"xdpwgctl: wg0: no XDP data path attached \(no pins under $BPFFS/xdpwg/wg0\)" \
	"stats without pins: clear error"

LOG=$T_DIR/echo.log
ip netns exec "$GW" "$ECHO" -i eth0 -t wg0 -p "$PORT" -r "$BPFFS/xdpwg" -s "$INDEX:7" \
	-P 7:198.18.0.2:40000 -T 90 >>"$LOG" 2>&1 &
ECHO_PID=$!
t_track "$ECHO_PID"
t_ok "xsk-echo attached to eth0" t_wait 10 grep -q '^ready' "$LOG" || t_show_log
t_ok "stats pin present" test -e "$PINS/stats"
t_ok "mac1 key written to the config map" cfg_write 1
t_like "$(bpftool map dump pinned "$PINS/config" 2>&1)" '"flags": 1' "config flags: mac1 on"

OUT=$(flood init:1:198.18.0.3 data:1:198.18.0.2)
t_is "$(line 1)" 1 "valid initiation echoed before the flood"
t_is "$(line 2)" 1 "data for a known index echoed before the flood"

B_TYPE=$(stat bad_type)
B_IDX=$(stat unknown_index)
B_MAC=$(stat bad_mac1)
B_RL=$(stat handshake_ratelimited)
B_RED=$(stat redirected)

# (a)-(c) at 1000/s; (d) 100 valid initiations from one source at 200/s: the bucket (20/s,
# burst 5) lets at most 5 + 20/s over the sending time through. Each has its own counter.
OUT=$(flood junk:200:198.18.0.2 unknown:200:198.18.0.2 badmac:200:198.18.0.2 \
	init:100:198.18.0.2:200)
t_is "$(line 1)" 0 "(a) 200 junk datagrams: none echoed"
t_is "$(($(stat bad_type) - B_TYPE))" 200 "(a) bad_type grew by 200"
t_is "$(line 2)" 0 "(b) 200 data with unknown indexes: none echoed"
t_is "$(($(stat unknown_index) - B_IDX))" 200 "(b) unknown_index grew by 200"
t_is "$(line 3)" 0 "(c) 200 initiations with a bad mac1: none echoed"
t_is "$(($(stat bad_mac1) - B_MAC))" 200 "(c) bad_mac1 grew by 200"
GOT=$(line 4)
MS=$(line 4 2)
RL=$(($(stat handshake_ratelimited) - B_RL))
MAXPASS=$((5 + 20 * MS / 1000 + 2))
t_diag "(d) echoed $GOT, ratelimited $RL, allowed at most $MAXPASS in $MS ms"
t_ok "(d) valid initiations beyond the bucket dropped ($RL >= $((100 - MAXPASS)))" \
	test "$RL" -ge $((100 - MAXPASS))
t_is "$((GOT + RL))" 100 "(d) each either echoed or ratelimited (bad mac1 spent no tokens)"
t_ok "(d) the source got at least its burst ($GOT >= 5)" test "$GOT" -ge 5

OUT=$(flood init:1:198.18.0.3 data:3:198.18.0.2)
t_is "$(line 1)" 1 "after the flood: valid initiation from another source echoed"
t_is "$(line 2)" 3 "after the flood: data from the flooding source echoed"

# under load: valid initiations still reach userspace; a source beyond its bucket is limited
# (its bucket refilled meanwhile: a burst of 5, and a token or two, gets through)
t_ok "under_load flag written" cfg_write 3
B_UL=$(stat handshake_under_load)
B_RL=$(stat handshake_ratelimited)
OUT=$(flood init:2:198.18.0.3:10 init:20:198.18.0.2)
GOT=$(line 2)
t_is "$(line 1)" 2 "under load: valid initiations still echoed"
t_is "$(($(stat handshake_under_load) - B_UL))" $((2 + GOT)) \
	"under load: handshake_under_load counts every initiation passed"
t_ok "under load: a source beyond its bucket is limited (echoed $GOT <= 7)" test "$GOT" -le 7
t_is "$(($(stat handshake_ratelimited) - B_RL))" $((20 - GOT)) \
	"under load: the rest counted as ratelimited"

JSON=$("$CTL" stats wg0 --json)
t_is "$(python3 -c 'import json, sys
d = json.load(sys.stdin)
print(d["interface"], d["stats"]["bad_mac1"] > 0, len(d["stats"]))' <<<"$JSON")" \
	"wg0 True $("$CTL" stats wg0 | wc -l)" "stats --json parses, same reasons as the text form"
t_ok "redirected grew" test "$(stat redirected)" -gt "$B_RED"

t_stop "$ECHO_PID"
t_ok "clean exit removes the pins" test ! -e "$PINS"
t_done
