#!/usr/bin/env bash
# The engine's drop counters made visible: xdpwgd --attach eth0 as the gateway; initiations with a
# valid mac1 but garbage inside pass XDP and are dropped by the engine (handshake_invalid). The
# get reply carries drop_<reason>=N (stock `wg show` unaffected), and `xdpwgctl stats` prints
# both sections: XDP (pinned map) and engine (get reply), as text and as JSON. A burst of junk
# makes one "dropped N packets in T s: reason (xdp)" line in the daemon's log, and no more than
# one per reason within 10 s.
. "$(dirname "$0")/lib.sh"
t_require_root
t_require_cmd wg bpftool python3
t_require_xdpwgd
CTL=$XDPWG_BUILD/xdpwgctl

t_ns gw
t_ns att
t_link gw eth0 198.18.0.1/24 att eth0 198.18.0.2/24
gw_pub=$(t_genkey gw)
cl_pub=$(t_genkey cl)
t_start_xdpwgd gw wg0 --attach eth0 || t_bail "xdpwgd did not start"
GW=$T_PID
t_ok "gateway configured" t_wg "$GW" set wg0 private-key "$T_DIR/gw.key" listen-port 51820 \
	peer "$cl_pub" allowed-ips 192.0.2.2/32
ctl() { t_at "$GW" "$CTL" "$@"; }
stat_of() { ctl stats wg0 2>/dev/null | awk -v k="$1" '$1 == k { print $2; exit }'; }

GET=$(t_uapi "$GW" wg0 <<<$'get=1\n')
t_like "$GET" $'drop_decrypt=0\n' "get reply: drop_decrypt"
t_like "$GET" $'drop_handshake_invalid=[0-9]+\n' "get reply: drop_handshake_invalid"
t_like "$GET" $'drop_source_not_allowed=0\n' "get reply: drop_source_not_allowed"
t_ok "stock wg show works with drop_ keys present" sh -c "nsenter -t $GW -m -n wg show wg0 | grep -qF \"peer: $cl_pub\""
t_ok "stock wg show dump unaffected" \
	sh -c "nsenter -t $GW -m -n wg show wg0 dump | head -1 | grep -qF '	$gw_pub	51820	off'"

# 50 initiations with a valid mac1 and garbage inside, at most 200/s (bounded)
B_INV=$(stat_of engine.handshake_invalid)
B_RED=$(stat_of redirected)
t_ok "50 garbage initiations sent" t_in att timeout 20 python3 - "$(cat "$T_DIR/gw.pub")" <<'PY'
import base64, hashlib, os, socket, struct, sys, time
pub = base64.b64decode(sys.argv[1])
key = hashlib.blake2s(b"mac1----" + pub).digest()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(50):
    m = struct.pack("<II", 1, i + 1) + os.urandom(108)
    s.sendto(m + hashlib.blake2s(m, key=key, digest_size=16).digest() + bytes(16),
             ("198.18.0.1", 51820))
    time.sleep(0.005)
PY
# XDP's bucket (burst 5, 20/s) passes some; every one it passed is the engine's to drop
A_RED=$(stat_of redirected)
PASSED=$((A_RED - ${B_RED:-0}))
inv_grew() { test "$(stat_of engine.handshake_invalid)" -eq $((${B_INV:-0} + PASSED)); }
t_ok "XDP passed some ($PASSED), ratelimited the rest" \
	test "$PASSED" -ge 5 -a $((PASSED + $(stat_of handshake_ratelimited))) -eq 50
t_ok "engine.handshake_invalid grew by what XDP passed" t_wait 5 inv_grew
OUT=$(ctl stats wg0)
t_like "$OUT" $'\nbad_mac1 +[0-9]+\n' "stats text: the XDP section"
t_like "$OUT" $'\nengine.decrypt +0\n' "stats text: the engine section"
t_is "$(ctl stats wg0 --json | python3 -c 'import json, sys
d = json.load(sys.stdin)
print(d["xdp_attached"], "bad_mac1" in d["stats"], d["engine"]["handshake_invalid"] >= 5,
      len(d["engine"]))')" "True True True $(grep -c '^engine\.' <<<"$OUT")" \
	"stats --json: both sections, as many engine reasons as the text form"
# a burst of junk with an unknown message type: dropped in XDP (bad_type), logged once
LOG=$T_DIR/xdpwgd-gw-wg0.log
t_ok "300 junk datagrams sent" t_in att timeout 20 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(300):
    s.sendto(b"\x09" + bytes(40), ("198.18.0.1", 51820))'
burst_logged() { grep -qE 'wg0: dropped [0-9]+ packets in [0-9.]+ s: bad_type \(xdp\)' "$LOG"; }
t_ok "the daemon logs the burst of drops by reason" t_wait 5 burst_logged
t_diag "$(grep -E 'dropped [0-9]+ packets' "$LOG")"
t_ok "a second burst within 10 s is folded, not logged" t_in att timeout 20 python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(300):
    s.sendto(b"\x09" + bytes(40), ("198.18.0.1", 51820))'
sleep 2.5
t_is "$(grep -cE 'dropped [0-9]+ packets in [0-9.]+ s: bad_type \(xdp' "$LOG")" 1 \
	"one line for bad_type so far"
t_stop "$GW"
t_done
