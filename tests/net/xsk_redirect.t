#!/usr/bin/env bash
# The XDP program and AF_XDP sockets on a real (veth) uplink, driven by tests/helpers/xsk-echo: a gateway
# namespace (eth0, 198.18.0.1) and a peer namespace (198.18.0.2). WireGuard-shaped datagrams to
# the listen port come back through AF_XDP; junk is dropped and counted; ping and TCP to the
# gateway still work while attached; pinned maps print named fields; kill -9 of the tool and a
# restart replace the stale attachment and pins; the metadata inline in front of the frame (as
# on a kernel that refuses bpf_xdp_adjust_meta) arrives in native and generic mode; a two-queue
# veth gets a socket per queue.
. "$(dirname "$0")/lib.sh"

t_require_root
t_require_cmd bpftool python3 socat ping
ECHO=$XDPWG_BUILD/tests/helpers/xsk-echo
[ -x "$ECHO" ] || t_bail "no $ECHO (run make)"

PORT=51820
INDEX=0x11223344
t_ns gw
t_ns peer
GW=$(t_nsname gw)
PEER=$(t_nsname peer)
t_link gw eth0 198.18.0.1/24 peer eth0 198.18.0.2/24 2001:db8::1/64 2001:db8::2/64

# A private bpffs for the pins: visible from every `ip netns exec` (which remounts /sys).
BPFFS=$T_DIR/bpffs
mkdir -p "$BPFFS" && mount -t bpf bpf "$BPFFS" || t_bail "mount bpffs"
t_on_exit "umount -l '$BPFFS'"
PINS=$BPFFS/xdpwg/wg0

# send.py DST TYPE LEN INDEX FLOWS: one datagram per flow (its own socket and source port),
# prints how many came back unchanged from DST:PORT within 1 s each.
cat >"$T_DIR/send.py" <<'EOF'
import socket, struct, sys
dst, typ, ln, idx, flows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4], 0), int(sys.argv[5])
port = int(sys.argv[6])
got = 0
for f in range(flows):
    s = socket.socket(socket.AF_INET6 if ':' in dst else socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    body = bytes((i * 7 + f) & 0xff for i in range(max(ln - 8, 0)))
    msg = (struct.pack('<II', typ, idx) + body)[:ln]
    s.sendto(msg, (dst, port))
    try:
        data, addr = s.recvfrom(4096)
        if data == msg and addr[:2] == (dst, port):
            got += 1
    except socket.timeout:
        pass
    s.close()
print(got)
EOF

send() # TYPE LEN INDEX FLOWS [DST]
{
	ip netns exec "$PEER" python3 "$T_DIR/send.py" "${5:-198.18.0.1}" "$1" "$2" "$3" "$4" "$PORT"
}

# start_echo LOG IFACE [ARGS...]: the tool in the gateway namespace, bounded to 120 s.
start_echo()
{
	local log=$T_DIR/$1.log
	ip netns exec "$GW" "$ECHO" -i "$2" -t wg0 -p "$PORT" -r "$BPFFS/xdpwg" -s "$INDEX:7" \
		-P 7:198.18.0.2:40000 -T 120 "${@:3}" >>"$log" 2>&1 &
	ECHO_PID=$!
	t_track "$ECHO_PID"
	t_wait 10 grep -q '^ready' "$log"
}

# stat NAME LOG: the tool's last printed value of a per-reason counter.
stat_of()
{
	grep "^stat $1 " "$2" | tail -n 1 | awk '{print $3}'
}

dump_counters() # LOG
{
	local n
	n=$(grep -c '^stat pass_other' "$1")
	kill -USR1 "$ECHO_PID"
	t_wait 15 test "$(grep -c '^stat pass_other' "$1")" -gt "$n"
}

xdp_attached() # NS IFACE
{
	ip -n "$1" link show "$2" | grep -q 'xdp'
}

# --- one queue ---
t_ok "xsk-echo attached to eth0 and bound" start_echo echo1 eth0 || t_show_log
t_like "$(cat "$T_DIR/echo1.log")" "queue 0: socket bound \(copy\)" "queue 0 socket in copy mode"
t_like "$(cat "$T_DIR/echo1.log")" "native mode" "native XDP on veth"
t_is "$(send 4 48 "$INDEX" 1)" 1 "data message echoed through AF_XDP"
t_is "$(send 4 32 "$INDEX" 1)" 1 "keepalive-sized data echoed"
t_is "$(send 1 148 0 1)" 1 "initiation echoed"
t_is "$(send 2 92 0 1)" 1 "response echoed"
t_is "$(send 3 64 0 1)" 1 "cookie echoed"
t_is "$(send 4 1424 "$INDEX" 8)" 8 "8 flows of 1424-byte data echoed"
t_is "$(send 4 80 "$INDEX" 2 2001:db8::1)" 2 "IPv6 data echoed (UDP checksum rebuilt)"
t_is "$(send 9 32 "$INDEX" 1)" 0 "junk type not answered"
t_is "$(send 4 31 "$INDEX" 1)" 0 "short data (< 32 bytes) not answered"
t_is "$(send 1 100 0 1)" 0 "short initiation not answered"
t_is "$(send 4 32 0x99 1)" 0 "unknown index not answered"
t_ok "counters dumped" dump_counters "$T_DIR/echo1.log"
L=$T_DIR/echo1.log
t_is "$(stat_of bad_type "$L")" 1 "stats: bad_type 1"
t_is "$(stat_of bad_size_data "$L")" 1 "stats: bad_size_data 1"
t_is "$(stat_of bad_size_initiation "$L")" 1 "stats: bad_size_initiation 1"
t_is "$(stat_of unknown_index "$L")" 1 "stats: unknown_index 1"
t_is "$(stat_of redirected "$L")" 15 "stats: redirected 15"
t_is "$(grep '^queue 0:' "$L" | tail -n 1 | awk '{print $4, $8, $10}')" "15 15 0" \
	"queue 0: rx 15, metadata on 15, none inconsistent"

t_ok "ping to 198.18.0.1 while attached" ip netns exec "$PEER" ping -c 2 -i 0.2 -W 2 198.18.0.1
ip netns exec "$GW" socat -T 5 TCP-LISTEN:8080,reuseaddr SYSTEM:'echo hello' >/dev/null 2>&1 &
t_track $!
t_wait 5 sh -c "ip netns exec '$GW' ss -ltn | grep -q ':8080'"
t_is "$(ip netns exec "$PEER" socat -T 3 - TCP:198.18.0.1:8080 </dev/null 2>&1)" hello \
	"TCP to another port while attached"
t_is "$(ip netns exec "$PEER" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1)
s.sendto(b"x", ("198.18.0.1", 9)); print("sent")')" sent "UDP to another port passes (no crash)"

DUMP=$(bpftool map dump pinned "$PINS/peers" 2>&1)
t_like "$DUMP" '"rx_packets": [1-9]' "bpftool dump of peers: named fields, rx_packets counted"
t_like "$DUMP" '"nexthop_mac"' "bpftool dump of peers: nexthop_mac"
t_like "$(bpftool map dump pinned "$PINS/sessions" 2>&1)" '"peer_id": 7' \
	"bpftool dump of sessions: peer_id"
t_like "$(bpftool map dump pinned "$PINS/config" 2>&1)" "\"listen_port\": $PORT" \
	"bpftool dump of config: listen_port"
for m in config sessions peers ifaces stats events xsks; do
	[ -e "$PINS/$m" ] || t_diag "missing pin $PINS/$m"
done
t_ok "all seven maps pinned" test -e "$PINS/config" -a -e "$PINS/sessions" -a -e "$PINS/peers" \
	-a -e "$PINS/ifaces" -a -e "$PINS/stats" -a -e "$PINS/events" -a -e "$PINS/xsks"

# --- kill -9, restart ---
kill -KILL "$ECHO_PID"
wait "$ECHO_PID" 2>/dev/null
t_ok "attachment left behind by kill -9" xdp_attached "$GW" eth0
t_ok "pins left behind by kill -9" test -e "$PINS/peers"
t_is "$(send 4 32 "$INDEX" 1)" 0 "no echo while the tool is dead"
t_ok "restarted over the stale attachment" start_echo echo2 eth0 || t_show_log
t_like "$(cat "$T_DIR/echo2.log")" "is stale: reclaimed" "the killed one.s slot in the uplink.s chain reclaimed"
t_is "$(send 4 48 "$INDEX" 2)" 2 "echo works after the restart"
t_ok "counters dumped" dump_counters "$T_DIR/echo2.log"
t_is "$(stat_of redirected "$T_DIR/echo2.log")" 2 "fresh maps: redirected 2"
t_stop "$ECHO_PID"
t_ok "clean exit detaches" sh -c "! ip -n '$GW' link show eth0 | grep -q xdp"
t_ok "clean exit removes the pins" test ! -e "$PINS"

# --- forced generic mode: metadata still arrives ---
t_ok "xsk-echo in forced generic mode" start_echo echo4 eth0 -m generic || t_show_log
t_like "$(cat "$T_DIR/echo4.log")" "generic mode" "attached in generic mode"
t_is "$(send 4 48 "$INDEX" 2)" 2 "echo in generic mode"
t_ok "counters dumped" dump_counters "$T_DIR/echo4.log"
t_is "$(grep '^queue 0:' "$T_DIR/echo4.log" | tail -n 1 | awk '{print $4, $8, $10}')" "2 2 0" \
	"generic mode: metadata on every frame"
t_stop "$ECHO_PID"
t_ok "generic attachment removed on exit" sh -c "! ip -n '$GW' link show eth0 | grep -q xdp"

# --- the metadata inline (io/xdp_meta.h), as on a kernel that refuses bpf_xdp_adjust_meta:
# forced here so that a kernel that allows both runs this layout too ---
for m in native generic; do
	XDPWG_XDP_META=inline t_ok "xsk-echo, metadata inline, $m mode" \
		start_echo "inline-$m" eth0 -m "$m" || t_show_log
	t_is "$(send 4 48 "$INDEX" 2)" 2 "inline metadata, $m: data echoed"
	t_is "$(send 1 148 0 1)" 1 "inline metadata, $m: initiation echoed"
	t_ok "counters dumped" dump_counters "$T_DIR/inline-$m.log"
	t_is "$(grep '^queue 0:' "$T_DIR/inline-$m.log" | tail -n 1 | awk '{print $4, $8, $10}')" \
		"3 3 0" "inline metadata, $m: on every frame, consistent with the frame"
	t_stop "$ECHO_PID"
done

# --- two queues ---
ip -n "$GW" link del eth0
t_link -q 2 gw eth0 198.18.0.1/24 peer eth0 198.18.0.2/24
t_ok "xsk-echo on a two-queue veth" start_echo echo3 eth0 || t_show_log
L=$T_DIR/echo3.log
t_like "$(cat "$L")" "queue 1: socket bound" "queue 1 has a socket too"
t_like "$(cat "$L")" "2 queues" "both queues found"
t_is "$(send 4 64 "$INDEX" 24)" 24 "24 flows echoed"
t_ok "counters dumped" dump_counters "$L"
Q0=$(grep '^queue 0:' "$L" | tail -n 1 | awk '{print $4}')
Q1=$(grep '^queue 1:' "$L" | tail -n 1 | awk '{print $4}')
t_diag "queue 0 rx $Q0, queue 1 rx $Q1"
t_ok "both queues received (q0 $Q0, q1 $Q1)" test "$Q0" -gt 0 -a "$Q1" -gt 0
t_stop "$ECHO_PID"

t_done
