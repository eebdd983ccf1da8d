#!/usr/bin/env bash
# Roaming across gateways (issue #17, docs/cluster.md "Roaming across gateways") in the cluster
# lab (tests/net/cluster_lib.sh): three xdpwgd gateways with XDP on eth0, ids 1..3, static
# membership, one key; two clients in cl at the service address 198.18.1.1:51820: A, a stock
# wireguard-go (wg0, 192.0.2.2), B, an xdpwgd in socket mode (wg1, 192.0.2.3).
#   - each client's source port is picked (bounded, from the router's own route lookup) so that
#     its wifi flow and its lte flow hash to DIFFERENT gateways, and A and B start on different
#     gateways;
#   - wifi goes away: both move to lte, the router's hash lands them on another gateway, which
#     forwards their data to the owner: ZERO new handshakes on any gateway, the receiving
#     gateway's cluster_forwarded_data grows, the owner's endpoint moves to the lte address;
#     the inside host's pings to the silent B (gateway-pushed traffic) keep being answered;
#   - captured data replayed from a spoofed source through a non-owner moves nothing;
#   - A's gateway killed with SIGKILL: A is back after its next handshake (with another
#     gateway), B does not notice (its pings continue, no new handshake).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
. "$(dirname "$0")/cluster_roam_lib.sh"
t_require_root
t_require_cmd bird birdc wg wireguard-go python3
t_require_xdpwgd
RP="python3 $(cd "$(dirname "$0")/../.." && pwd)/tests/helpers/wgreplay.py"

c_topology
t_ok "BIRD on the router and the three gateways, sessions established" c_bird_up ||
	t_bail "BIRD"
t_ok "the router routes the service address over 3 next hops" \
	t_wait 10 c_rt_nnexthops "$C_SVC" 3 || t_bail "no ECMP route"
t_ok "an XDP program on the router's ports to the gateways (for their XDP_TX)" cr_mux_on ||
	t_bail "router XDP"
B_PUB=$(t_genkey clb)
t_ok "gw1..gw3: xdpwgd --attach eth0 --gateway-id N, three members, one key" \
	cr_start_gws xdpwgd "$CL_PUB@192.0.2.2/32" "$B_PUB@192.0.2.3/32" || t_bail "gateways"
c_hash()
{
	cr_hash "$@"
}

# pick ports: A's wifi flow (port pa) and its lte flow (port pa2: a stock client that changes
# networks rebinds its socket; wireguard-go keeps its sticky source address otherwise, until its
# 15 s handshake retry) on different gateways; B's wifi and lte flows (one port) too, B's wifi
# gateway not A's, its lte gateway neither (so that killing A's gateway leaves B's paths alone)
pa=
pb=
for p in $(seq 51821 51920); do
	w=$(c_hash 198.51.100.2 wifi "$p")
	l=$(c_hash 203.0.113.2 lte "$p")
	[ -n "$w" ] && [ -n "$l" ] && [ "$w" != "$l" ] || continue
	if [ -z "$pa" ]; then
		pa=$p xa=$w
	elif [ "$w" != "$xa" ] && [ "$l" != "$xa" ]; then
		pb=$p xb=$w yb=$l
		break
	fi
done
[ -n "$pb" ] || t_bail "no ports with distinct gateways in 100 tries"
for p in $(seq 52821 52920); do
	l=$(c_hash 203.0.113.2 lte "$p")
	[ -n "$l" ] && [ "$l" != "$xa" ] && pa2=$p ya=$l && break
done
[ -n "${pa2:-}" ] || t_bail "no lte port for A off gw$xa in 100 tries"
t_diag "A: port $pa, wifi -> gw$xa, port $pa2 lte -> gw$ya; B: port $pb, wifi -> gw$xb, lte -> gw$yb"

t_ok "client A: wireguard-go, port $pa" c_start_cl wireguard-go || t_bail "client A"
A=$CL
t_wg "$A" set wg0 listen-port "$pa"
t_ok "client B: xdpwgd (socket mode), port $pb" t_start_xdpwgd cl wg1 || t_bail "client B"
B=$T_PID
t_wg "$B" set wg1 private-key "$T_DIR/clb.key" listen-port "$pb" \
	peer "$GW_PUB" endpoint "$C_SVC:51820" allowed-ips 192.0.2.1/32,198.18.2.0/25
ip -n "$CLNS" addr add 192.0.2.3/32 dev wg1 && ip -n "$CLNS" link set wg1 up
# B's own route to the inside host: replies to the inside host leave through wg1
ip -n "$CLNS" route add 198.18.2.2/32 dev wg1

t_ok "A: handshake through the service address" t_wait 5 t_in cl ping -c1 -W1 192.0.2.1
t_ok "B: handshake through the service address" \
	t_wait 5 t_in cl ping -c1 -W1 -I 192.0.2.3 198.18.2.2

gw_hs()
{
	cr_gw_hs "$@"
}
gw_ep()
{
	cr_gw_ep "$@"
}
stat_of()
{
	cr_stat "$@"
}
# all_hs: every gateway's latest handshake with A and B, one string
all_hs()
{
	local n
	for n in 1 2 3; do
		printf '%s/%s ' "$(gw_hs "$n" "$CL_PUB")" "$(gw_hs "$n" "$B_PUB")"
	done
}
hs_of()
{
	local n
	for n in 1 2 3; do
		[ "$(gw_hs "$n" "$1")" = 0 ] || echo "$n"
	done
}

t_is "$(hs_of "$CL_PUB")" "$xa" "A's handshake landed on gw$xa, where the router's hash sends it"
t_is "$(hs_of "$B_PUB")" "$xb" "B's handshake landed on gw$xb"
t_ok "the router routes A's tunnel address via gw$xa" t_wait 3 c_rt_via 192.0.2.2 "$(c_gw_addr "$xa")"
t_ok "the router routes B's tunnel address via gw$xb" t_wait 3 c_rt_via 192.0.2.3 "$(c_gw_addr "$xb")"
t_ok "the inside host pings B through gw$xb" t_in in ping -c2 -i0.2 -W2 192.0.2.3
t_is "$(gw_ep "$xa" "$CL_PUB")" "198.51.100.2:$pa" "gw$xa's endpoint for A: wifi"

# --- the move: wifi goes away, both clients go out by lte (A from its new port), hashed to
# other gateways ---
hs0=$(all_hs)
fa0=$(stat_of "$ya" cluster_forwarded_data)
fb0=$(stat_of "$yb" cluster_forwarded_data)
ia0=$(stat_of "$xa" cluster_forwarded_in)
t_in in ping -c 60 -i 0.1 -W 1 192.0.2.3 >"$T_DIR/push.txt" 2>&1 &
PUSH=$!
t_track "$PUSH"
sleep 0.5
t_at "$A" sh -c "ip addr flush dev wifi && ip link set wifi down && wg set wg0 listen-port $pa2"
t_ok "A pings after wifi went away (lte, hashed to gw$ya)" \
	t_in cl ping -c 20 -i 0.1 -W 2 192.0.2.1
t_ok "gw$xa's endpoint for A moved to lte" t_wait 3 sh -c \
	"nsenter -t $(c_gw_pid "$xa") -m -n wg show wg0 endpoints | grep -q '203.0.113.2:$pa2'"
fa1=$(stat_of "$ya" cluster_forwarded_data)
ia1=$(stat_of "$xa" cluster_forwarded_in)
t_result $(((fa1 - fa0) >= 20 ? 0 : 1)) "gw$ya forwarded A's data to gw$xa ($((fa1 - fa0)))"
t_result $(((ia1 - ia0) >= 20 ? 0 : 1)) "gw$xa unwrapped it ($((ia1 - ia0)))"
wait "$PUSH"
rxp=$(awk '/received/ { print $4 }' "$T_DIR/push.txt")
t_diag "inside -> B during the move: $(grep received "$T_DIR/push.txt")"
t_result $((${rxp:-0} >= 50 ? 0 : 1)) "gateway-pushed traffic to the silent B: replies flow across the move ($rxp/60)"
t_is "$(gw_ep "$xb" "$B_PUB")" "203.0.113.2:$pb" "gw$xb's endpoint for B moved to lte"
fb1=$(stat_of "$yb" cluster_forwarded_data)
t_result $(((fb1 - fb0) >= 1 ? 0 : 1)) "gw$yb forwarded B's data to gw$xb ($((fb1 - fb0)))"
t_is "$(all_hs)" "$hs0" "ZERO new handshakes on any gateway (latest handshakes per gateway unchanged)"
t_is "$(t_wg "$A" show wg0 endpoints | awk '{ print $2 }')" "$C_SVC:51820" \
	"A hears from the service address"
t_ok "the router still routes A via gw$xa" c_rt_via 192.0.2.2 "$(c_gw_addr "$xa")"

# --- a forged replay through a non-owner: captured A data from a spoofed source ---
rm -f "$T_DIR/a.cap"
t_in cl $RP capture lte 51820 10 "$T_DIR/a.cap" >>"$T_DIR/log" 2>&1 &
CAP=$!
t_track "$CAP"
t_wait 5 test -e "$T_DIR/a.cap"
t_in cl ping -c 5 -i 0.1 -W 2 192.0.2.1 >/dev/null
sleep 0.2
kill -TERM "$CAP" 2>/dev/null
wait "$CAP" 2>/dev/null
# a source port the router hashes to a gateway that is not A's owner
sp=
for p in $(seq 4000 4100); do
	g=$(ip -n "$RTNS" route get "$C_SVC" from 203.0.113.66 iif in ipproto udp sport "$p" \
		dport 51820 | grep -o 'via 198\.18\.0\.1[0-9]' | tail -c 2)
	[ -n "$g" ] && [ "$g" != "$xa" ] && sp=$p && break
done
if [ -n "$sp" ]; then
	f0=$(stat_of "$g" cluster_forwarded_data)
	n=$(t_in in $RP send 203.0.113.66 "$sp" "$C_SVC" 51820 "$T_DIR/a.cap" --types 4 --no-keepalive)
	sleep 0.5
	f1=$(stat_of "$g" cluster_forwarded_data)
	t_result $(((n > 0 && f1 - f0 >= n) ? 0 : 1)) \
		"$n replayed data messages from a spoofed source, forwarded by gw$g to gw$xa ($((f1 - f0)))"
	t_is "$(gw_ep "$xa" "$CL_PUB")" "203.0.113.2:$pa2" "the replay moved nothing"
	t_is "$(all_hs)" "$hs0" "  ... and cost no handshake"
else
	t_result 1 "no spoofed source port hashed to a non-owner in 100 tries"
fi

# --- A's gateway killed: A back after its next handshake, B does not notice ---
t_in cl ping -c 400 -i 0.1 -W 1 192.0.2.1 >"$T_DIR/a-kill.txt" 2>&1 &
PA=$!
t_track "$PA"
t_in in ping -c 50 -i 0.1 -W 1 192.0.2.3 >"$T_DIR/b-kill.txt" 2>&1 &
PB=$!
t_track "$PB"
sleep 0.3
hsb=$(gw_hs "$xb" "$B_PUB")
t0=$(c_now)
# killed on purpose: no "Killed" notice from the shell (the cleanup still has its pid)
disown "$(c_gw_pid "$xa")" 2>/dev/null
c_kill_gw "$xa"
t_ok "gw$xa killed: it leaves the ECMP set" t_wait 3 c_rt_nnexthops "$C_SVC" 2
wait "$PB"
rxb=$(awk '/received/ { print $4 }' "$T_DIR/b-kill.txt")
t_diag "inside -> B while gw$xa dies: $(grep received "$T_DIR/b-kill.txt")"
t_result $((${rxb:-0} >= 45 ? 0 : 1)) "B does not notice: the inside host's pings go on ($rxb/50)"
t_is "$(gw_hs "$xb" "$B_PUB")" "$hsb" "  ... and B had no new handshake"
# wireguard-go starts a handshake after 15 s (keepalive 10 + rekey 5) of data without a reply
back=
for _ in $(seq 300); do
	for n in 1 2 3; do
		[ "$n" = "$xa" ] && continue
		[ "$(gw_hs "$n" "$CL_PUB")" = 0 ] || back=$n
	done
	[ -n "$back" ] && break
	sleep 0.1
done
t_ok "A: a new handshake with a living gateway (gw${back:-none}) within 30 s" test -n "$back"
t_diag "SIGKILL -> A's new handshake: $(c_since "$t0") s"
t_ok "A pings again" t_wait 5 t_in cl ping -c1 -W1 192.0.2.1
t_ok "the router routes A via its new gateway" \
	t_wait 3 c_rt_via 192.0.2.2 "$(c_gw_addr "${back:-0}")"
kill "$PA" 2>/dev/null
wait "$PA" 2>/dev/null
t_no_sanitizer_reports

[ "$T_FAILED" -eq 0 ] || t_show_log 15
t_done
