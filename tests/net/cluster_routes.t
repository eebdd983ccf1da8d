#!/usr/bin/env bash
# xdpwgd --cluster-table (daemon/cluster_routes.c) in the cluster lab: a gateway keeps in kernel
# table 200 a route to every allowed IP of the peers whose session it holds; BIRD announces it,
# so the router sends the client's tunnel address to that gateway and the inside host reaches
# the client through it. Allowed IPs changed while held: the routes follow. The peer removed,
# the daemon stopped: withdrawn. What a killed daemon left is flushed at the next start, and
# only that. Bad table numbers are refused. In socket mode on gw1, with XDP on gw2; then on all
# three gateways with the client at the service address: the one the router's hash picks holds
# the session and alone announces it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
t_require_root
t_require_cmd bird birdc wg wireguard-go python3
t_require_xdpwgd

c_topology
t_ok "BIRD on the router and the three gateways, sessions established" c_bird_up

# option checks: one clear error, non-zero status
for bad in 0 253 254 255 4294967296 -1 abc 12x; do
	t_xdpwgd_refused gw1 --cluster-table "$bad" wg9
	t_result $? "--cluster-table $bad refused" || t_diag "$T_OUT"
	t_like "$T_OUT" "cluster-table $bad: " "  ... naming the option and the value"
done
XDPWG_CLUSTER_TABLE=main t_xdpwgd_refused gw1 wg9
t_result $? "XDPWG_CLUSTER_TABLE=main refused"
t_like "$T_OUT" "XDPWG_CLUSTER_TABLE main: not a routing table number" "  ... saying why"

# routes_case N MODE [XDPWGD ARGS...]: the whole story on gateway N.
routes_case()
{
	local n=$1 mode=$2 ga t0
	shift 2
	local args=("$@")
	ga=$(c_gw_addr "$n")
	t_diag "--- gw$n, $mode"
	# a stale route of ours in gw$n's table (a daemon killed earlier), and one that is not ours
	ip -n "$(t_nsname "gw$n")" route add 192.0.2.99/32 dev tun0 table "$C_TABLE" proto "$C_RTPROT"
	ip -n "$(t_nsname "gw$n")" route add 192.0.2.98/32 dev tun0 table "$C_TABLE" proto static
	t_ok "a stale route announced before the start" t_wait 3 c_rt_via 192.0.2.99 "$ga"

	t_ok "xdpwgd on gw$n with --cluster-table $C_TABLE ($mode)" \
		t_start_xdpwgd "gw$n" wg0 "${args[@]}" --cluster-table "$C_TABLE"
	GW=$T_PID
	# the configuration socket may be up before the device and its table are (a slow host)
	t_ok "the start flushes the stale route of ours" t_wait 10 grep -q \
		"table $C_TABLE: 1 stale route of an earlier run removed" "$T_DIR/xdpwgd-gw$n-wg0.log"
	t_is "$(c_gw_table "$n")" "192.0.2.98 dev tun0 proto static scope link " \
		"  ... and leaves the one that is not ours"
	t_ok "  ... the router withdraws the stale one" t_wait 3 c_rt_nnexthops 192.0.2.99 0
	ip -n "$(t_nsname "gw$n")" route del 192.0.2.98/32 table "$C_TABLE"

	t_wg "$GW" set wg0 private-key "$T_DIR/gw.key" listen-port 51820 \
		peer "$CL_PUB" allowed-ips 192.0.2.2/32
	ip -n "$(t_nsname "gw$n")" addr add 192.0.2.1/24 dev wg0
	ip -n "$(t_nsname "gw$n")" link set wg0 up

	# the client: wireguard-go, straight to gw$n's own address (the service address would hash
	# to any of the three gateways, and only gw$n runs a daemon here)
	[ -z "${CL:-}" ] || t_stop "$CL"
	ip -n "$CLNS" link del wg0 2>/dev/null
	t_ok "wireguard-go client up" t_start_wggo cl wg0
	CL=$T_PID
	t_wg "$CL" set wg0 private-key "$T_DIR/cl.key" listen-port 51821 \
		peer "$GW_PUB" endpoint "$ga:51820" allowed-ips 192.0.2.0/24,198.18.2.0/24
	ip -n "$CLNS" addr add 192.0.2.2/24 dev wg0
	ip -n "$CLNS" link set wg0 up
	ip -n "$CLNS" route add 198.18.2.0/24 dev wg0

	t_is "$(c_gw_table "$n")" "" "no session yet: gw$n's table $C_TABLE is empty"
	t_is "$(c_rt_nexthops 192.0.2.2)" "" "  ... and the router has no route to the client"
	t_ok "handshake: the client reaches gw$n through the tunnel" \
		t_wait 5 t_in cl ping -c1 -W1 192.0.2.1
	t0=$(c_now)
	t_ok "the router routes the client's tunnel address via gw$n (within 3 s)" \
		t_wait 3 c_rt_via 192.0.2.2 "$ga"
	t_diag "handshake -> routed at the router: $(c_since "$t0") s"
	t_is "$(c_gw_table "$n")" "192.0.2.2 dev wg0 proto $C_RTPROT scope link " \
		"gw$n's table $C_TABLE: the allowed IP on the tunnel device"
	t_is "$(for o in 1 2 3; do [ "$o" = "$n" ] || c_gw_table "$o"; done)" "" \
		"nothing in the other gateways' tables"
	t_ok "the inside host reaches the client through gw$n" t_in in ping -c2 -i0.2 -W2 192.0.2.2

	# allowed IPs changed while held: the routes follow
	t_wg "$GW" set wg0 peer "$CL_PUB" allowed-ips 192.0.2.2/32,192.0.2.66/32
	t_ok "an allowed IP added: routed via gw$n" t_wait 3 c_rt_via 192.0.2.66 "$ga"
	t_wg "$GW" set wg0 peer "$CL_PUB" replace-allowed-ips allowed-ips 192.0.2.2/32 2>/dev/null ||
		t_wg "$GW" set wg0 peer "$CL_PUB" allowed-ips 192.0.2.2/32
	t_is "$(t_wg "$GW" show wg0 allowed-ips | awk '{ print $2 }')" 192.0.2.2/32 \
		"  ... and taken away again"
	t_ok "  ... withdrawn at the router" t_wait 3 c_rt_nnexthops 192.0.2.66 0
	t_ok "  ... the client's address still routed via gw$n" c_rt_via 192.0.2.2 "$ga"

	# the peer removed: withdrawn
	t0=$(c_now)
	t_wg "$GW" set wg0 peer "$CL_PUB" remove
	t_ok "peer removed: the router withdraws the route (within 3 s)" \
		t_wait 3 c_rt_nnexthops 192.0.2.2 0
	t_diag "peer removed -> withdrawn at the router: $(c_since "$t0") s"
	t_is "$(c_gw_table "$n")" "" "gw$n's table $C_TABLE is empty"

	# back, a new handshake, then the daemon stops: it takes its routes along
	# (with the client's endpoint, so that the gateway starts the handshake: the client would
	# wait for its own 15 s retry)
	t_wg "$GW" set wg0 peer "$CL_PUB" allowed-ips 192.0.2.2/32 endpoint 198.51.100.2:51821
	t_ok "peer back, new handshake" t_wait 5 t_in "gw$n" ping -c1 -W1 192.0.2.2
	t_ok "  ... routed via gw$n again" t_wait 3 c_rt_via 192.0.2.2 "$ga"
	t_ok "xdpwgd stops on SIGTERM" t_stop "$GW"
	t_is "$(c_gw_table "$n")" "" "  ... and leaves gw$n's table $C_TABLE empty"
	t_ok "  ... the router withdraws the route" t_wait 3 c_rt_nnexthops 192.0.2.2 0
}

routes_case 1 "socket mode"
routes_case 2 "XDP on eth0" --attach eth0

# all three gateways with XDP on eth0, the client to the service address: whichever gateway
# the router's hash picks answers the handshake, holds the session and alone announces it
t_stop "$CL"
ip -n "$CLNS" link del wg0 2>/dev/null
t_diag "--- three gateways, the client at the service address"
for n in 1 2 3; do
	t_ok "gw$n: xdpwgd --attach eth0 --cluster-table $C_TABLE" c_start_gw "$n"
	t_wg "$(c_gw_pid "$n")" set wg0 peer "$CL_PUB" allowed-ips 192.0.2.2/32
done
t_ok "wireguard-go client to $C_SVC:51820" c_start_cl wireguard-go
t_ok "handshake through the service address" t_wait 5 t_in cl ping -c1 -W1 192.0.2.1
t_ok "the router routes the client's address via one gateway" \
	t_wait 3 sh -c "ip -n $RTNS -4 route show exact 192.0.2.2 | grep -q '^192.0.2.2 via'"
holder=$(c_holder 192.0.2.2)
hs=$(for n in 1 2 3; do c_gw_handshakes "$n"; done | tr '\n' ' ')
t_diag "handshakes per gateway: $hs; routed via gw$holder"
t_is "$hs" "$(for n in 1 2 3; do [ "$n" = "$holder" ] && printf '1 ' || printf '0 '; done)" \
	"the gateway routed to is the one that has the handshake, the only one"
t_is "$(for n in 1 2 3; do c_gw_table "$n"; done | grep -c .)" 1 "one route in all tables"
t_ok "the inside host reaches the client through it" t_in in ping -c2 -i0.2 -W2 192.0.2.2
t_no_sanitizer_reports

[ "$T_FAILED" -eq 0 ] || t_show_log 15
t_done
