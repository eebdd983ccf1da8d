#!/usr/bin/env bash
# xdpwgctl capture, metrics and top against an XDP gateway (xdpwgd --attach eth0) with a
# wireguard-go client: capture -c 10 -w FILE while pinging through the tunnel gives a pcap that
# tcpdump reads back as ten WireGuard frames in both directions, the client's (redirected by
# XDP) and the gateway's answers (sent through AF_XDP by the worker), which tcpdump on the uplink
# never sees; a new handshake shows the gateway's response, sent by the kernel socket; the text mode prints verdicts, drops included; the capture flag is cleared on
# exit and with it off the counters move as before; metrics is valid Prometheus text, with the
# AF_XDP worker's ring depths and packet counters; top --once and --count print frames; in socket
# mode the daemon's events socket answers workers=1 with nothing and metrics has no worker lines.
. "$(dirname "$0")/lib.sh"
t_require_root
t_require_cmd wireguard-go wg tcpdump bpftool python3
t_require_xdpwgd
CTL=$XDPWG_BUILD/xdpwgctl

t_ns gw
t_ns cl
t_link gw eth0 198.18.0.1/24 cl eth0 198.18.0.2/24
gw_pub=$(t_genkey gw)
cl_pub=$(t_genkey cl)

t_start_xdpwgd gw wg0 --attach eth0 || t_bail "xdpwgd --attach eth0 did not start"
GW=$T_PID
t_wg "$GW" set wg0 private-key "$T_DIR/gw.key" listen-port 51820 peer "$cl_pub" \
	allowed-ips 192.0.2.2/32 || t_bail "gateway configuration"
t_in gw ip addr add 192.0.2.1/24 dev wg0
t_in gw ip link set wg0 up
t_start_wggo cl wg0 || t_bail "wireguard-go did not start"
CL=$T_PID
t_wg "$CL" set wg0 private-key "$T_DIR/cl.key" listen-port 51821 peer "$gw_pub" \
	endpoint 198.18.0.1:51820 allowed-ips 192.0.2.1/32 || t_bail "client configuration"
t_in cl ip addr add 192.0.2.2/24 dev wg0
t_in cl ip link set wg0 up
t_ok "tunnel up" t_wait 10 t_in cl ping -c1 -W1 192.0.2.1

stat_of()
{
	t_at "$GW" "$CTL" stats wg0 | awk -v k="$1" '$1 == k { print $NF; exit }'
}
cfg_flags()
{
	t_at "$GW" bpftool -j map lookup pinned /sys/fs/bpf/xdpwg/wg0/config key 0 0 0 0 |
		python3 -c 'import json,sys; v=json.load(sys.stdin); v=v.get("formatted",v)["value"]; print(v["flags"] if isinstance(v,dict) else int(v[2])|int(v[3])<<8)'
}
# capture's own switch (capture_ctl: the ctl is its only writer; the config map is the daemon's)
cap_switch()
{
	t_at "$GW" bpftool -j map lookup pinned /sys/fs/bpf/xdpwg/wg0/capture_ctl key 0 0 0 0 |
		python3 -c 'import json,sys; v=json.load(sys.stdin); v=v.get("formatted",v)["value"]; print(v["on"] if isinstance(v,dict) else int(v[0]))'
}

# --- capture off: one flag test, nothing else changes ---
t_is "$(cap_switch)" 0 "capture switch off before any capture"
r0=$(stat_of redirected)
t_at "$GW" "$CTL" stats wg0 >"$T_DIR/stats0"
t_ok "10 pings with capture off" t_in cl ping -c 10 -i 0.05 -W 2 192.0.2.1
t_at "$GW" "$CTL" stats wg0 >"$T_DIR/stats1"
r1=$(stat_of redirected)
t_result $(((r1 - r0) >= 10 && (r1 - r0) <= 14 ? 0 : 1)) \
	"capture off: the 10 pings redirected as before ($((r1 - r0)))"
# ARP and IPv6 neighbour traffic may move pass_*, and the gateway's own IPv6 chatter on wg0
# (router solicitations, MLD: no peer has those addresses) the engine's transmit-side
# engine.no_peer; nothing else but redirected may
changed=$(join <(sort "$T_DIR/stats0") <(sort "$T_DIR/stats1") |
	awk '$2 != $3 && $1 !~ /^pass_/ && $1 != "engine.no_peer" { print $1 }' | tr '\n' ' ')
t_is "$changed" "redirected " "capture off: no drop, event or capture counter moved"
t_is "$(stat_of capture_lost)" 0 "capture off: capture_lost stays 0"

# --- capture -c 5 -w FILE while pinging ---
# tcpdump on the uplink for comparison: the redirected frames never reach it
t_in gw timeout 8 tcpdump -nn -i eth0 -w "$T_DIR/uplink.pcap" udp port 51820 >/dev/null 2>&1 &
TD=$!
t_track "$TD"
t_at "$GW" timeout 20 "$CTL" capture wg0 -c 10 -w "$T_DIR/cap.pcap" 2>"$T_DIR/capture.err" &
CAP=$!
t_track "$CAP"
capture_on() { [ "$(cap_switch)" = 1 ]; }
t_ok "capture switch on while capture runs" t_wait 5 capture_on
t_is "$(($(cfg_flags) & 8))" 0 "... and the config map untouched by it (the daemon's alone)"
sleep 0.5
t_ok "20 pings while capturing" t_in cl ping -c 20 -i 0.1 -W 2 192.0.2.1
wait "$CAP"
t_result $? "capture -c 10 -w exits 0 after 10 frames" || t_diag "$(cat "$T_DIR/capture.err")"
wait "$TD" 2>/dev/null
t_is "$(cap_switch)" 0 "capture switch off on exit"
out=$(tcpdump -nn -r "$T_DIR/cap.pcap" 2>&1)
t_diag "$out"
t_is "$(grep -c 'UDP\|WireGuard' <<<"$out")" 10 "tcpdump -r reads 10 frames"
to=$(grep -c '> 198.18.0.1.51820' <<<"$out")
from=$(grep -c '198.18.0.1.51820 > 198.18.0.2' <<<"$out")
t_result $((to >= 3 && from >= 3 && to + from == 10 ? 0 : 1)) \
	"both directions: $to to the gateway's port (received), $from from it (sent through AF_XDP)"
t_is "$(tcpdump -nn -r "$T_DIR/cap.pcap" 2>/dev/null | awk '{ print $1 }' | sort -c && echo sorted)" \
	sorted "the frames are in time order"
t_like "$(tcpdump -nn -v -r "$T_DIR/cap.pcap" 2>&1)" 'WireGuard|Transport Data|UDP, length' \
	"tcpdump decodes them as UDP/WireGuard"
t_like "$(python3 - "$T_DIR/cap.pcap" <<'PY'
import struct, sys
d = open(sys.argv[1], "rb").read()
magic, vmaj, vmin, _, _, snap, link = struct.unpack("<IHHiIII", d[:24])
print(hex(magic), vmaj, vmin, snap, link)
PY
)" '^0xa1b2c3d4 2 4 256 1$' "pcap global header: magic, 2.4, snaplen 256, Ethernet"
up=$(tcpdump -nn -r "$T_DIR/uplink.pcap" 'udp port 51820' 2>/dev/null | wc -l)
t_result $((up < 5 ? 0 : 1)) "tcpdump on the uplink saw $up of the captured frames"

# --- text mode: verdicts, drops included ---
t_at "$GW" timeout 20 "$CTL" capture wg0 -c 4 --timeout 15 >"$T_DIR/cap.txt" 2>&1 &
CAP=$!
t_track "$CAP"
sleep 0.5
t_in cl python3 -c '
import socket, os
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(2):
    s.sendto(b"\x09\x00\x00\x00" + os.urandom(40), ("198.18.0.1", 51820))
'
t_in cl ping -c 4 -i 0.1 -W 2 192.0.2.1 >/dev/null 2>&1
wait "$CAP"
t_result $? "capture -c 4 (text) exits 0"
txt=$(cat "$T_DIR/cap.txt")
t_diag "$txt"
t_is "$(wc -l <<<"$txt")" 4 "one line per frame"
t_like "$txt" 'eth0 q[0-9]+ 198\.18\.0\.2:[0-9]+ > 198\.18\.0\.1:51820: WireGuard type 9.* -> drop \(bad_type\)' \
	"junk shows with its drop verdict"
t_like "$txt" 'WireGuard data receiver 0x[0-9a-f]{8} counter [0-9]+, length [0-9]+ -> redirect \(redirected\)' \
	"data shows as redirected"
t_is "$(cap_switch)" 0 "capture switch off after the text capture"

# --- a new handshake: the gateway's response leaves through the kernel socket ---
t_at "$GW" timeout 20 "$CTL" capture wg0 --timeout 6 >"$T_DIR/cap-hs.txt" 2>&1 &
CAP=$!
t_track "$CAP"
sleep 0.5
t_wg "$CL" set wg0 peer "$gw_pub" remove
t_wg "$CL" set wg0 peer "$gw_pub" endpoint 198.18.0.1:51820 allowed-ips 192.0.2.1/32
t_in cl ping -c 2 -i 0.2 -W 2 192.0.2.1 >/dev/null 2>&1
wait "$CAP"
hs=$(cat "$T_DIR/cap-hs.txt")
t_diag "$hs"
t_like "$hs" '198\.18\.0\.2:[0-9]+ > 198\.18\.0\.1:51820: WireGuard handshake initiation.* -> redirect' \
	"the client's initiation, received"
t_like "$hs" '198\.18\.0\.1:51820 > 198\.18\.0\.2:[0-9]+: WireGuard handshake response.* -> sent \((kernel socket|AF_XDP)\)' \
	"the gateway's response, sent"
t_like "$hs" '198\.18\.0\.1:51820 > 198\.18\.0\.2:[0-9]+: WireGuard data.* -> sent \(AF_XDP\)' \
	"the gateway's data, sent through AF_XDP"
t_ok "capture --timeout 1 with no traffic exits 0" t_at "$GW" timeout 10 "$CTL" capture wg0 --timeout 1
t_ok "capture on an interface without XDP fails cleanly" sh -c "! $CTL capture nosuch0 -c 1 2>/dev/null"

# --- metrics ---
t_in cl ping -c 3 -i 0.1 -W 2 192.0.2.1 >/dev/null 2>&1
t_at "$GW" "$CTL" metrics wg0 >"$T_DIR/metrics.txt" 2>"$T_DIR/metrics.err"
t_result $? "metrics wg0 exits 0"
t_ok "metrics is valid Prometheus text exposition" python3 - "$T_DIR/metrics.txt" <<'PY'
import re, sys
name = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
lab = r'[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\["\\n])*"'
sample = re.compile(r"^(%s)(\{%s(?:,%s)*\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)$" % (name, lab, lab))
typed, helped, seen_samples = {}, set(), set()
bad = 0
for ln in open(sys.argv[1]).read().split("\n")[:-1]:
    if ln.startswith("# HELP "):
        n = ln.split()[2]; assert n not in helped, "dup HELP " + n; helped.add(n)
    elif ln.startswith("# TYPE "):
        _, _, n, t = ln.split()
        assert t in ("counter", "gauge", "untyped", "histogram", "summary"), ln
        assert n not in typed and n not in seen_samples, "TYPE after samples " + n
        typed[n] = t
    elif ln.startswith("#"):
        continue
    else:
        m = sample.match(ln)
        if not m:
            print("bad line:", ln); bad += 1; continue
        n = m.group(1); seen_samples.add(n)
        assert n in typed, "sample without TYPE " + n
        if typed[n] == "counter": assert n.endswith("_total"), n
sys.exit(1 if bad else 0)
PY
m=$(cat "$T_DIR/metrics.txt")
t_like "$m" "xdpwg_peer_receive_bytes_total\{interface=\"wg0\",public_key=\"${cl_pub//+/\\+}\",endpoint=\"198\.18\.0\.2:51821\"\} [1-9][0-9]*" \
	"per-peer receive bytes with public_key and endpoint labels"
t_like "$m" 'xdpwg_peer_handshake_age_seconds\{[^}]*\} [0-9.]+' "handshake age"
t_like "$m" 'xdpwg_peer_endpoint_moves_total\{[^}]*\} [0-9]+' "endpoint moves"
t_like "$m" 'xdpwg_xdp_packets_total\{interface="wg0",reason="bad_type",action="drop"\} [1-9]' \
	"XDP drop counters by reason"
t_like "$m" 'xdpwg_xdp_attached\{interface="wg0"\} 1' "xdp attached"
t_like "$m" 'xdpwg_worker_rx_ring_depth\{interface="wg0",uplink="eth0",queue="0",cpu="[0-9]+"\} [0-9]+' \
	"the worker's rx ring depth, labelled by uplink, queue and cpu"
t_like "$m" 'xdpwg_worker_fill_ring_depth\{[^}]*\} [1-9][0-9]*' "the fill ring holds buffers"
t_like "$m" 'xdpwg_worker_packets_total\{interface="wg0",uplink="eth0",queue="0",cpu="[0-9]+",direction="rx"\} [1-9][0-9]*' \
	"the worker's received packets"
t_like "$m" 'xdpwg_worker_packets_total\{[^}]*direction="tun"\} [0-9]+' "... and what it read from its TUN queue"

# --- top ---
top1=$(t_at "$GW" "$CTL" top wg0 --once 2>&1)
t_result $? "top --once exits 0"
t_diag "$top1"
k10=${cl_pub:0:10}
t_like "$top1" "${k10//+/\\+}\.\.\. +198\.18\.0\.2:51821" "top shows the peer and its endpoint"
t_like "$top1" 'redirected +redirect +[0-9]+' "top shows the XDP counters"
[[ $top1 != *$'\033'* ]]
t_result $? "top --once prints no escape codes into a pipe"
t_in cl ping -c 30 -i 0.05 -W 2 192.0.2.1 >/dev/null 2>&1 &
t_track $!
top2=$(t_at "$GW" timeout 10 "$CTL" top wg0 --count 2 2>&1)
t_result $? "top --count 2 exits 0"
t_is "$(grep -c '^xdpwgctl top' <<<"$top2")" 2 "two frames"
t_like "$(sed -n '/^xdpwgctl top/h; //!H; ${x;p}' <<<"$top2")" '[0-9.]+ [kM]?bit/s +[0-9.]+ [kM]?bit/s' \
	"the second frame has peer rates"

t_like "$top1" $'\n''UPLINK +QUEUE +CPU +POLL +RX/s.*'$'\n''eth0 +0 +[0-9]+ +sleep ' "top shows the worker"

t_stop "$GW"
t_result $? "gateway stops"

# --- socket mode: no workers ---
t_start_xdpwgd gw wg1 || t_bail "xdpwgd wg1 (socket mode) did not start"
SK=$T_PID
t_is "$(printf 'workers=1\n\n' | t_at "$SK" socat -t 2 - UNIX-CONNECT:/run/wireguard/wg1.events)" "" \
	"socket mode: the events socket answers workers=1 with no line"
m=$(t_at "$SK" "$CTL" metrics wg1)
t_result $? "socket mode: metrics exits 0"
t_like "$m" 'xdpwg_up\{interface="wg1"\} 1' "socket mode: the daemon is up"
[[ $m != *xdpwg_worker_* ]]
t_result $? "socket mode: no worker lines"
t_stop "$SK"
t_done
