#!/usr/bin/env bash
# Fault injection against the XDP gateway (xdpwgd --attach eth0) with a wireguard-go client and
# traffic flowing: (a) kill -9 under traffic and a restart over the stale attachment, pins and
# socket file; (b) the uplink flapping; (d) the daemon stopped (SIGSTOP) for 2 s under a flood,
# so its AF_XDP rings fill up; (e) full BPF maps (peers, then sessions) so that the daemon's map
# updates fail; (f) 10,000 configuration changes on other peers through one UAPI connection
# while traffic flows; (c) the TUN deleted underneath: the daemon exits cleanly.
#
# The gateway daemon runs inside a placeholder's mount namespace (t_sandbox), so what a killed
# daemon leaves behind (socket file, bpffs pins) is still there for its successor.
. "$(dirname "$0")/lib.sh"
t_require_root
t_require_cmd wireguard-go wg socat python3 bpftool
t_require_xdpwgd
CTL=$XDPWG_BUILD/xdpwgctl
FILL=$XDPWG_BUILD/tests/helpers/bpf_mapfill
[ -x "$FILL" ] || t_bail "no $FILL (run make)"
PINS=/sys/fs/bpf/xdpwg/wg0

t_ns gw
t_ns cl
GWNS=$(t_nsname gw)
t_link gw eth0 198.18.0.1/24 cl eth0 198.18.0.2/24
gw_pub=$(t_genkey gw)
cl_pub=$(t_genkey cl)
GWLOG=$T_DIR/xdpwgd-gw.log

t_sandbox gw || t_bail "no sandbox"
SB=$T_PID

# until_s SECONDS CMD...: like t_wait, but bounded in wall-clock time even when CMD itself
# takes a while (t_wait counts tries of 0.1 s)
until_s()
{
	local end=$((SECONDS + $1))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ $SECONDS -lt "$end" ] || return 1
		sleep 0.1
	done
}

gw_alive()
{
	kill -0 "$GW" 2>/dev/null && [ "$(cat "/proc/$GW/comm" 2>/dev/null)" = xdpwgd ]
}

# xdpwgd in the sandbox's namespaces; GW is its pid (nsenter execs it)
gw_start()
{
	nsenter -t "$SB" -m -n "$XDPWG_BUILD/xdpwgd" -f --attach eth0 wg0 >>"$GWLOG" 2>&1 &
	GW=$!
	t_track "$GW"
	# a stale socket file may be there: wait until the new daemon answers on it
	t_wait 15 t_wg "$SB" show wg0 listen-port || return 1
	gw_peer || return 1
	ip -n "$GWNS" addr add 192.0.2.1/24 dev wg0 2>/dev/null
	ip -n "$GWNS" link set wg0 up
}

# the client as the gateway's peer; it knows the client's endpoint, so that it can initiate
gw_peer()
{
	t_wg "$SB" set wg0 private-key "$T_DIR/gw.key" listen-port 51820 \
		peer "$cl_pub" endpoint 198.18.0.2:51821 allowed-ips 192.0.2.2/32
}

stat_of()
{
	t_at "$SB" "$CTL" stats wg0 | awk -v k="$1" '$1 == k { print $2; exit }'
}

# ping -i 0.05 from the client for $1 seconds in the background; PING_PID, output in $2
ping_bg()
{
	# not through t_in (a function: $! would be a subshell), so that $! is ping itself
	ip netns exec "$(t_nsname cl)" ping -q -i 0.05 -W1 -w "$1" 192.0.2.1 >"$2" 2>&1 &
	PING_PID=$!
	t_track "$PING_PID"
}

ping_received()
{
	sed -n 's/.* \([0-9]*\) received.*/\1/p' "$1"
}

both_ways()
{
	t_in gw ping -c1 -W1 192.0.2.2 && t_in cl ping -c1 -W1 192.0.2.1
}

t_ok "gateway starts with --attach eth0" gw_start || t_bail "gateway did not start"
t_start_wggo cl wg0 || t_bail "wireguard-go did not start"
CL=$T_PID
t_wg "$CL" set wg0 private-key "$T_DIR/cl.key" listen-port 51821 \
	peer "$gw_pub" endpoint 198.18.0.1:51820 allowed-ips 192.0.2.1/32
ip -n "$(t_nsname cl)" addr add 192.0.2.2/24 dev wg0
ip -n "$(t_nsname cl)" link set wg0 up
t_ok "tunnel up" until_s 15 t_in cl ping -c1 -W1 192.0.2.1

# --- (a) kill -9 under traffic, restart ---
ping_bg 4 "$T_DIR/ping.a"
sleep 1
kill -9 "$GW"
wait "$GW" 2>/dev/null
t_like "$(ip -n "$GWNS" link show eth0)" "xdp" "(a) kill -9: the dead daemon's program stays attached"
t_ok "(a) its pins stay" t_at "$SB" test -e "$PINS/peers"
t_ok "(a) its socket file stays" t_at "$SB" test -S /run/wireguard/wg0.sock
t_ok "(a) a new daemon starts over the stale attachment, pins and socket" gw_start
t_ok "(a) traffic back after one handshake (gateway initiates)" until_s 10 both_ways
t_like "$(t_at "$SB" bpftool map show pinned "$PINS/peers" 2>&1)" "name peers" \
	"(a) the pinned peers map is the new daemon's and readable"
wait "$PING_PID"

# --- (b) the uplink flapping ---
ping_bg 4 "$T_DIR/ping.b"
for i in 1 2 3 4; do
	ip -n "$GWNS" link set eth0 down
	sleep 0.3
	ip -n "$GWNS" link set eth0 up
	sleep 0.4
done
t_ok "(b) the daemon survives 4 uplink flaps" gw_alive
t_like "$(ip -n "$GWNS" link show eth0)" "xdp" "(b) still attached"
t_ok "(b) traffic recovers" until_s 15 both_ways
wait "$PING_PID"
t_diag "(b) ping during the flaps: $(tail -n 2 "$T_DIR/ping.b" | head -n 1)"

# --- (d) the daemon stopped for 2 s under a flood: its rings fill, then it catches up ---
red0=$(stat_of redirected)
t_in cl python3 - >"$T_DIR/flood.d" 2>&1 <<'PY' &
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
end, n, b = time.time() + 4, 0, b"x" * 1000
while time.time() < end and n < 400000:
    try:
        s.sendto(b, ("192.0.2.1", 9))
    except OSError:
        pass
    n += 1
print(n)
PY
FLOOD=$!
t_track "$FLOOD"
sleep 0.7
kill -STOP "$GW"
sleep 2
kill -CONT "$GW"
wait "$FLOOD"
red1=$(stat_of redirected)
t_diag "(d) flood: $(cat "$T_DIR/flood.d") datagrams sent, $((red1 - red0)) frames redirected"
t_ok "(d) the daemon survives SIGSTOP/SIGCONT under a flood" gw_alive
t_ok "(d) traffic flows again" until_s 10 both_ways
t_result $((red1 - red0 > 1000 ? 0 : 1)) "(d) the flood went through XDP into AF_XDP"

# --- (f) 10,000 configuration changes on other peers while traffic flows ---
# 10,000 requests (and 40 removals at the end) in 20 bursts through one connection, so that
# the dumps below sample the client's counters while the changes go on
cat >"$T_DIR/gen.py" <<'PY'
import os, sys, time
keys = [os.urandom(32).hex() for _ in range(40)]
out = sys.stdout
for i in range(10000):
    k, op = keys[i % 40], (i // 40) % 6
    if op == 0:
        out.write("set=1\npublic_key=%s\nallowed_ip=198.51.100.%d/32\n\n" % (k, i % 40 + 10))
    elif op == 1:
        out.write("set=1\npublic_key=%s\npersistent_keepalive_interval=%d\n\n" % (k, 20 + i % 5))
    elif op == 2:
        out.write("set=1\npublic_key=%s\nendpoint=203.0.113.%d:%d\n\n" % (k, i % 200 + 1, 1024 + i))
    elif op == 3:
        out.write("set=1\npublic_key=%s\nreplace_allowed_ips=true\nallowed_ip=2001:db8:99::%x/128\n\n" % (k, i))
    elif op == 4:
        out.write("set=1\npublic_key=%s\nendpoint=[2001:db8:77::%x]:51820\npersistent_keepalive_interval=0\n\n" % (k, i))
    else:
        out.write("set=1\npublic_key=%s\nremove=true\n\n" % k)
    if i % 500 == 499:
        out.flush()
        time.sleep(0.15)
for k in keys:
    out.write("set=1\npublic_key=%s\nremove=true\n\n" % k)
out.flush()
PY
ping_bg 20 "$T_DIR/ping.f"
python3 "$T_DIR/gen.py" | nsenter -t "$SB" -m -n socat -t 30 - UNIX-CONNECT:/run/wireguard/wg0.sock \
	>"$T_DIR/rep.f" 2>&1 &
SET=$!
t_track "$SET"
: >"$T_DIR/dump.f"
for ((i = 0; i < 600; i++)); do
	kill -0 "$SET" 2>/dev/null || break
	t_wg "$SB" show wg0 dump 2>/dev/null |
		awk -v k="$cl_pub" 'NR > 1 && $1 == k { print $6, $7; f = 1 } END { if (!f) print "missing" }' \
			>>"$T_DIR/dump.f"
done
wait "$SET"
kill -INT "$PING_PID" 2>/dev/null
wait "$PING_PID"
t_is "$(grep -c '^errno=0$' "$T_DIR/rep.f")" 10040 "(f) 10,040 set requests, every one answered errno=0"
t_ok "(f) the daemon survives" gw_alive
t_is "$(grep -c missing "$T_DIR/dump.f")" 0 "(f) the client never missing from $(wc -l <"$T_DIR/dump.f") dumps"
t_is "$(awk 'NR > 1 && ($1 < rx || $2 < tx) { n++ } { rx = $1; tx = $2 } END { print n + 0 }' \
	"$T_DIR/dump.f")" 0 "(f) transfer counters never go backwards"
t_is "$(t_wg "$SB" show wg0 peers)" "$cl_pub" "(f) only the client is left"
got=$(ping_received "$T_DIR/ping.f")
t_diag "(f) ping during the changes: $(tail -n 2 "$T_DIR/ping.f" | head -n 1)"
t_result $((${got:-0} > 10 ? 0 : 1)) "(f) traffic flowed during the changes (${got:-0} replies)"
t_ok "(f) traffic flows after the changes" until_s 5 both_ways

# --- (e) full maps: the daemon's map updates fail ---
# the gateway forgets the client (freeing its entries), the maps are filled, then it learns the
# client again: a new peer id, a new handshake, and the daemon's map updates fail
t_wg "$SB" set wg0 peer "$cl_pub" remove
fill=$(t_at "$SB" "$FILL" "$PINS/peers" 0x40000000 1100000 2>&1)
t_like "$fill" "^[0-9]+ full$" "(e) peers map filled from outside ($fill)"
t_ok "(e) the gateway learns the client again with the peers map full" gw_peer
t_ok "(e) the failed peers-map update is logged" \
	t_wait 5 grep -q "peers map: update failed" "$GWLOG"
t_ok "(e) traffic flows with the peer missing from the peers map" until_s 10 both_ways
t_wg "$SB" set wg0 peer "$cl_pub" remove
fill=$(t_at "$SB" "$FILL" "$PINS/sessions" 0x40000000 3300000 2>&1)
t_like "$fill" "^[0-9]+ full$" "(e) sessions map filled from outside ($fill)"
t_ok "(e) the gateway learns the client again with the sessions map full" gw_peer
t_ok "(e) the failed sessions-map update is logged" \
	until_s 10 sh -c "ip netns exec $GWNS ping -c1 -W1 192.0.2.2; grep -q 'sessions map: adding index' $GWLOG"
t_ok "(e) the daemon survives failing map updates" gw_alive
t_ok "(e) traffic flows for the peer whose session is not in the map" until_s 10 both_ways
t_like "$(stat_of unknown_index_passed)" '^[1-9][0-9]*$' \
	"(e) its data reached the engine through the kernel socket (unknown_index_passed)"
# --- (c) the TUN deleted underneath ---
ip -n "$GWNS" link del wg0
for ((i = 0; i < 50; i++)); do
	gw_alive || break
	sleep 0.1
done
if gw_alive; then
	t_result 1 "(c) the daemon exits when its TUN is deleted"
	kill -TERM "$GW"
	t_wait 5 sh -c "! kill -0 $GW"
	wait "$GW"
	rc=$?
else
	t_result 0 "(c) the daemon exits when its TUN is deleted"
	wait "$GW"
	rc=$?
fi
t_is "$rc" 0 "(c) exit status 0"
t_ok "(c) XDP detached" sh -c "! ip -n $GWNS link show eth0 | grep -q xdp"
t_ok "(c) pins removed" t_at "$SB" test ! -e "$PINS"
t_ok "(c) socket file removed" t_at "$SB" test ! -e /run/wireguard/wg0.sock
t_unlike_crash()
{
	! grep -qE 'Segmentation|Aborted|core dumped|double free' "$GWLOG"
}
t_ok "(c) no crash in the daemon's log" t_unlike_crash
t_no_sanitizer_reports

t_done
