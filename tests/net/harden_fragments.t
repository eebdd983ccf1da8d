#!/usr/bin/env bash
# Fragments to our port (issue #15): XDP cannot see what follows the first fragment's UDP header,
# so it passes first fragments within a per-source budget (fragment_passed, the rest
# fragment_over_budget) and the kernel reassembles them for the daemon's UDP socket. There the
# socket path must hold them to the same checks as XDP holds whole datagrams, before any
# cryptography: message type, size for the type, receiver index, mac1, and (socket mode) the
# source allowlist. Every datagram below is larger than the link's MTU, so the sender's kernel
# fragments it (IPv4 and IPv6); each must end in exactly one engine drop counter, and none may
# change a peer.
#
#   att eth0 198.18.0.2/24 2001:db8:18::2/64 ---- gw eth0 198.18.0.1/24 2001:db8:18::1/64
#   gw: xdpwgd --attach eth0 (wg0, port 51820) and xdpwgd in socket mode (wg1, port 51821)
. "$(dirname "$0")/lib.sh"
t_require_root
t_require_cmd wg bpftool python3
t_require_xdpwgd
CTL=$XDPWG_BUILD/xdpwgctl

t_ns gw
t_ns att
t_link gw eth0 198.18.0.1/24 att eth0 198.18.0.2/24
ip -n "$(t_nsname gw)" addr add 2001:db8:18::1/64 dev eth0 nodad
ip -n "$(t_nsname att)" addr add 2001:db8:18::2/64 dev eth0 nodad
gw_pub=$(t_genkey gw)
cl_pub=$(t_genkey cl)
t_start_xdpwgd gw wg0 --attach eth0 || t_bail "xdpwgd (XDP) did not start"
GW=$T_PID
t_ok "XDP gateway configured" t_wg "$GW" set wg0 private-key "$T_DIR/gw.key" listen-port 51820 \
	peer "$cl_pub" allowed-ips 192.0.2.2/32
t_start_xdpwgd gw wg1 || t_bail "xdpwgd (socket) did not start"
SK=$T_PID
t_ok "socket-mode gateway configured" t_wg "$SK" set wg1 private-key "$T_DIR/gw.key" \
	listen-port 51821 peer "$cl_pub" allowed-ips 192.0.2.3/32

# stat_of PID TUN NAME: one counter of `xdpwgctl stats` (0 when absent)
stat_of()
{
	local v
	v=$(t_at "$1" "$CTL" stats "$2" 2>/dev/null | awk -v k="$3" '$1 == k { print $2; exit }')
	echo "${v:-0}"
}
# send FAMILY PORT KIND COUNT [GAP]: COUNT datagrams of KIND, each larger than the MTU, from att.
# junk: an unknown type; unknown: transport data for a receiver index nobody gave out;
# size: an initiation's type with 2000 bytes. (A handshake message is never larger than the
# MTU, so mac1 is not reached: the size check comes first.)
send()
{
	t_in att timeout 30 python3 - "$@" <<'PY'
import os, socket, struct, sys, time
fam, port, kind, count = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
gap = float(sys.argv[5]) if len(sys.argv) > 5 else 0.02
dst = "198.18.0.1" if fam == "4" else "2001:db8:18::1"
s = socket.socket(socket.AF_INET if fam == "4" else socket.AF_INET6, socket.SOCK_DGRAM)
# let the kernel fragment (no DF, no path-MTU error back to us)
if fam == "4":
    s.setsockopt(socket.IPPROTO_IP, 10, 0)          # IP_MTU_DISCOVER = IP_PMTUDISC_DONT
else:
    s.setsockopt(socket.IPPROTO_IPV6, 23, 0)        # IPV6_MTU_DISCOVER = IPV6_PMTUDISC_DONT
for i in range(count):
    if kind == "junk":
        m = bytes([7, 0, 0, 0]) + os.urandom(2996)
    elif kind == "unknown":
        m = struct.pack("<II", 4, 0x5eed0000 + i) + bytes(8) + os.urandom(2984)
    elif kind == "size":
        m = struct.pack("<II", 1, i + 1) + os.urandom(1992)
    s.sendto(m, (dst, port))
    time.sleep(gap)
PY
}
# delta PID TUN NAME BEFORE: the counter's growth since BEFORE
delta() { echo $(($(stat_of "$1" "$2" "$3") - $4)); }
# grew_to PID TUN NAME BEFORE N: the counter grew by N (polled: the socket path runs on its own)
grew_to() { [ "$(delta "$1" "$2" "$3" "$4")" -eq "$5" ]; }

# --- XDP mode: first fragments within the budget reach the socket path, which drops them ----
for fam in 4 6; do
	for k in junk:bad_type unknown:unknown_index size:bad_size; do
		kind=${k%%:*} reason=${k#*:}
		b_fp=$(stat_of "$GW" wg0 fragment_passed)
		b_en=$(stat_of "$GW" wg0 "engine.$reason")
		b_red=$(stat_of "$GW" wg0 redirected)
		t_ok "IPv$fam: 5 fragmented $kind datagrams sent" send "$fam" 51820 "$kind" 5 0.05
		t_ok "IPv$fam $kind: XDP passed the 5 first fragments (fragment_passed)" \
			t_wait 5 grew_to "$GW" wg0 fragment_passed "$b_fp" 5
		t_ok "IPv$fam $kind: the socket path dropped all 5 (engine.$reason)" \
			t_wait 5 grew_to "$GW" wg0 "engine.$reason" "$b_en" 5
		t_is "$(delta "$GW" wg0 redirected "$b_red")" 0 "IPv$fam $kind: none went to AF_XDP"
	done
done

# --- the budget: a burst from one source is cut at the bucket's depth ------------------------
b_fp=$(stat_of "$GW" wg0 fragment_passed)
b_ob=$(stat_of "$GW" wg0 fragment_over_budget)
b_en=$(stat_of "$GW" wg0 engine.bad_type)
t_ok "a burst of 100 fragmented junk datagrams sent (no gap)" send 4 51820 junk 100 0
burst_seen()
{
	[ $(($(delta "$GW" wg0 fragment_passed "$b_fp") +
		$(delta "$GW" wg0 fragment_over_budget "$b_ob"))) -ge 100 ]
}
t_wait 5 burst_seen
passed=$(delta "$GW" wg0 fragment_passed "$b_fp")
over=$(delta "$GW" wg0 fragment_over_budget "$b_ob")
t_diag "burst: $passed passed, $over over budget"
t_ok "the burst met the budget: passed + over budget = 100, some over" \
	test $((passed + over)) -eq 100 -a "$over" -gt 0 -a "$passed" -ge 20
t_ok "the engine dropped every passed one as bad_type, nothing more" \
	t_wait 5 grew_to "$GW" wg0 engine.bad_type "$b_en" "$passed"

# --- the allowlist stops first fragments in XDP before the budget ---------------------------
t_ok "allow-source 198.51.100.0/24 (att not in it)" \
	t_at "$GW" "$CTL" set wg0 allow-source 198.51.100.0/24,2001:db8:5100::/48
sleep 1.2 # the fragment bucket refills
b_sna=$(stat_of "$GW" wg0 source_not_allowed)
b_fp=$(stat_of "$GW" wg0 fragment_passed)
b_en=$(stat_of "$GW" wg0 engine.bad_type)
send_both() { send 4 51820 junk 3 && send 6 51820 junk 3; }
t_ok "IPv4 and IPv6: 3 fragmented junk datagrams each" send_both
t_ok "XDP dropped the 6 first fragments (source_not_allowed)" \
	t_wait 5 grew_to "$GW" wg0 source_not_allowed "$b_sna" 6
t_is "$(delta "$GW" wg0 fragment_passed "$b_fp")" 0 "none spent the fragment budget"
sleep 0.5
t_is "$(delta "$GW" wg0 engine.bad_type "$b_en")" 0 "none reached the socket path"

# --- socket mode: the socket path's own allowlist check on reassembled datagrams ------------
b_en=$(stat_of "$SK" wg1 engine.unknown_index)
t_ok "socket mode: 3 fragmented unknown-index datagrams" send 4 51821 unknown 3
t_ok "socket mode: dropped as unknown_index" \
	t_wait 5 grew_to "$SK" wg1 engine.unknown_index "$b_en" 3
t_ok "socket mode: allow-source 198.51.100.0/24" \
	t_at "$SK" "$CTL" set wg1 allow-source 198.51.100.0/24
GET=$(t_uapi "$SK" wg1 <<<$'get=1\n')
b_sna=$(sed -n 's/^drop_source_not_allowed=//p' <<<"$GET")
b_en=$(stat_of "$SK" wg1 engine.unknown_index)
t_ok "socket mode: 3 more from att (not allowed)" send 4 51821 unknown 3
sna_grew()
{
	local v
	v=$(t_uapi "$SK" wg1 <<<$'get=1\n' | sed -n 's/^drop_source_not_allowed=//p')
	[ "$v" -eq $((b_sna + 3)) ]
}
t_ok "socket mode: dropped before the engine (drop_source_not_allowed +3)" t_wait 5 sna_grew
t_is "$(delta "$SK" wg1 engine.unknown_index "$b_en")" 0 "socket mode: the engine saw none"

# --- nothing moved ------------------------------------------------------------------------------
for p in "$GW:wg0" "$SK:wg1"; do
	t_is "$(t_wg "${p%%:*}" show "${p#*:}" endpoints | awk '{ print $2 }')" "(none)" \
		"${p#*:}: the peer has no endpoint"
done
t_ok "both daemons alive" kill -0 "$GW" "$SK"
t_done
