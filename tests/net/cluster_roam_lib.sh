# shellcheck shell=bash disable=SC2034
# Roaming across the cluster lab's gateways (tests/net/cluster_roam.t, bench/bench-cluster.sh,
# scripts/demo-cluster.sh). Source lib.sh and cluster_lib.sh first.
#
# Helpers: cr_mux_on, cr_hash SRC IIF SPORT, cr_start_gws IMPL PEERS..., cr_stop_gws,
# cr_start_cl IMPL PORT,
# cr_gw_hs N PUB, cr_gw_ep N PUB, cr_stat N KEY, cr_holder_of PUB, cr_pick_port SRC IIF FROM
# NOT.

CR_CTL=$XDPWG_BUILD/xdpwgctl
CR_GW_IMPL=

# cr_mux_on: an XDP program on the router's ports to the gateways. A gateway sends what it
# forwards to another back out of its eth0 with XDP_TX; a veth delivers that only to a peer
# that has an XDP program of its own (xdpwg_mux with no tunnels behind it passes everything).
cr_mux_on()
{
	local n
	for n in $(seq "$C_NGW"); do
		ip -n "$RTNS" link set dev "gw$n" xdpdrv obj "$XDPWG_BUILD/xdpwg_mux.bpf.o" sec xdp ||
			return 1
	done
}

# cr_hash SRC IIF SPORT: the gateway (1..3) the router's ECMP hash sends the client flow
# SRC:SPORT -> service address:51820 arriving on IIF to (the router's own route lookup: the
# same hash as for the forwarded packet); "" when it has no route.
cr_hash()
{
	ip -n "$RTNS" route get "$C_SVC" from "$1" iif "$2" ipproto udp sport "$3" dport 51820 \
		2>/dev/null | grep -o 'via 198\.18\.0\.1[0-9]' | tail -c 2
}

# cr_pick_port SRC IIF FROM NOT: the first port in FROM..FROM+99 whose flow the router hashes
# to a gateway other than NOT (a list, "1 3"); "" when none.
cr_pick_port()
{
	local p g
	for p in $(seq "$3" $(($3 + 99))); do
		g=$(cr_hash "$1" "$2" "$p")
		[ -n "$g" ] || continue
		case " $4 " in *" $g "*) continue ;; esac
		echo "$p"
		return 0
	done
	return 1
}

# cr_start_gw IMPL N: gateway N alone (its peers not set): xdpwgd (XDP on eth0, id N, the static
# membership of all C_NGW) or wireguard-go (the baseline: the same key, no forwarding, no routes)
cr_start_gw()
{
	local impl=$1 n=$2 m members=()
	for m in $(seq "$C_NGW"); do
		members+=(--cluster-gateway "$m=$(c_gw_addr "$m")")
	done
	if [ "$impl" = xdpwgd ]; then
		c_start_gw "$n" --attach eth0 --gateway-id "$n" "${members[@]}"
		return
	fi
	t_start_wggo "gw$n" wg0 || return 1
	printf -v "C_GW_PID_$n" '%s' "$T_PID"
	t_wg "$T_PID" set wg0 private-key "$T_DIR/gw.key" listen-port 51820 || return 1
	ip -n "$(t_nsname "gw$n")" addr add 192.0.2.1/24 dev wg0 &&
		ip -n "$(t_nsname "gw$n")" link set wg0 up
}

# cr_start_gws IMPL PEER... : the three gateways (cr_start_gw), each PEER "PUB@ALLOWED-IPS" on
# every one.
cr_start_gws()
{
	local impl=$1 n p
	shift
	for n in $(seq "$C_NGW"); do
		cr_start_gw "$impl" "$n" || return 1
		for p in "$@"; do
			t_wg "$(c_gw_pid "$n")" set wg0 peer "${p%%@*}" allowed-ips "${p#*@}" || return 1
		done
	done
	CR_GW_IMPL=$impl
}

# cr_stop_gws: the gateways' daemons stopped (whatever is left of them), their wg0 gone.
cr_stop_gws()
{
	local n pid
	for n in $(seq "$C_NGW"); do
		pid=$(c_gw_pid "$n")
		[ -z "$pid" ] || t_stop "$pid" 3 >/dev/null 2>&1
		ip -n "$(t_nsname "gw$n")" link del wg0 2>/dev/null
		printf -v "C_GW_PID_$n" '%s' ""
	done
}

# cr_gw_hs N PUB: gateway N's latest handshake with PUB (0: none, "" when N is down).
cr_gw_hs()
{
	t_wg "$(c_gw_pid "$1")" show wg0 latest-handshakes 2>/dev/null |
		awk -v k="$2" '$1 == k { print $2 }'
}

# cr_gw_ep N PUB: gateway N's endpoint for PUB.
cr_gw_ep()
{
	t_wg "$(c_gw_pid "$1")" show wg0 endpoints 2>/dev/null | awk -v k="$2" '$1 == k { print $2 }'
}

# cr_stat N KEY: counter KEY of gateway N's `xdpwgctl stats` (xdpwgd only).
cr_stat()
{
	t_at "$(c_gw_pid "$1")" "$CR_CTL" stats wg0 2>/dev/null |
		awk -v k="$2" '$1 == k || $1 == k":" { print $NF; exit }'
}

# cr_holder_of PUB: the gateways with a handshake with PUB (one per line).
cr_holder_of()
{
	local n h
	for n in $(seq "$C_NGW"); do
		h=$(cr_gw_hs "$n" "$1")
		[ -z "$h" ] || [ "$h" = 0 ] || echo "$n"
	done
}

# cr_start_cl IMPL PORT: c_start_cl with the client's listen port PORT from the start (a first
# packet from another port, an IPv6 solicitation say, would be hashed to, and answered by,
# another gateway than the one PORT's flow goes to). Sets CL.
cr_start_cl()
{
	c_start_cl "$1" "$C_SVC:51820" "$2"
}
