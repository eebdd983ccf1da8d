#!/usr/bin/env bash
# make demo: a roaming client and an XDP gateway on one machine, narrated step by step.
#
#   client ==wifi 198.51.100.2== router ==198.18.0.254 -- 198.18.0.1 eth0== gateway
#          ==lte  203.0.113.2 ==        (XDP program on eth0, xdpwgd --attach eth0)
#   tunnel: client 192.0.2.2 <==== WireGuard, UDP 51820 ====> gateway 192.0.2.1
#
# The client (xdpwgd, socket mode) streams pings through the tunnel every 20 ms (and UDP with
# iperf3 when it is installed) while the demo pulls the plug on its current uplink several times.
# The client sees its route change and announces itself from the other uplink at once, and the
# gateway moves its endpoint on that first authenticated packet: a switch takes well under a
# second. A live view shows the handshake, each move with its latency (link down -> the gateway's
# move, from the gateway's move events) and its blackout (the longest gap in the ping replies),
# throughput and the XDP drop counters. At the end: a summary table and a plot, in build/demo/
# (DEMO_OUT). Everything lives in network namespaces named xw<pid>..-* that are removed on exit,
# even on failure or Ctrl-C. Needs root. About a minute.
#
# Environment: DEMO_SWITCHES (4) uplink switches; DEMO_PLAIN=1 no live view (narration only);
#   DEMO_OUT (build/demo) where the table and plot go; DEMO_KEEPALIVE=1 start with the
#   persistent-keepalive fallback; XDPWG_BUILD (build/) where xdpwgd and xdpwgctl are.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
export XDPWG_BUILD=${XDPWG_BUILD:-$here/../build}
SWITCHES=${DEMO_SWITCHES:-4}
PLAIN=${DEMO_PLAIN:-0}
OUT=${DEMO_OUT:-$XDPWG_BUILD/demo}
KEEPALIVE=${DEMO_KEEPALIVE:-0}
MOVE_TIMEOUT=10 # seconds to wait for the tunnel to follow a switch
SLOW_MOVE=5    # a move slower than this turns the persistent-keepalive fallback on
SETTLE=6       # seconds of traffic shown before the first switch and after each one
DEMO_NAME=demo
. "$here/demo_lib.sh"
demo_args "$0" "$@"
demo_int DEMO_SWITCHES "$SWITCHES" 1 20
[ -t 1 ] || PLAIN=1

# The namespace, daemon and cleanup helpers the tests use (its EXIT trap tears everything down).
. "$here/../tests/net/lib.sh"
set +x
CTL=$XDPWG_BUILD/xdpwgctl

demo_require wg ping nsenter unshare gnuplot awk
[ -x "$XDPWG_BUILD/xdpwgd" ] && [ -x "$CTL" ] || die "no $XDPWG_BUILD/xdpwgd (run make)"
mkdir -p "$OUT" || die "cannot create $OUT"
rm -f "$OUT/summary.txt" "$OUT/demo.png" "$OUT/ping.dat" "$OUT/samples.dat" "$OUT/switches.dat"
IPERF=0
command -v iperf3 >/dev/null && IPERF=1

# ------------------------------------------------------------------------------------------
say "Build a small network out of namespaces ($T_PFX-*): a gateway, a router, a client"
t_ns gw
t_ns router
t_ns client
t_link gw eth0 198.18.0.1/24 router eth-gw 198.18.0.254/24
t_link client wifi 198.51.100.2/24 router r-wifi 198.51.100.254/24
t_link client lte 203.0.113.2/24 router r-lte 203.0.113.254/24
t_in router sysctl -qw net.ipv4.ip_forward=1
t_in gw ip route add default via 198.18.0.254
t_in client ip route add default via 198.51.100.254 dev wifi metric 100
t_in client ip route add default via 203.0.113.254 dev lte metric 200
note "gateway uplink eth0 198.18.0.1; the client has two uplinks, like a laptop or a sensor:"
note "  wifi 198.51.100.2 (preferred, route metric 100) and lte 203.0.113.2 (metric 200)"
t_in client ping -n -c 1 -W 2 198.18.0.1 >/dev/null || die "the underlay does not route"

say "Start the gateway: xdpwgd --attach eth0 loads the XDP program onto its uplink"
t_start_xdpwgd gw wg0 --attach eth0 || die "xdpwgd --attach eth0 did not start"
GW=$T_PID
note "WireGuard packets now go XDP -> AF_XDP socket -> xdpwgd, past the kernel's UDP stack:"
t_in gw ip -br link show eth0 | sed 's/^/      /'
note "$(t_in gw ip link show eth0 | grep -o 'prog/xdp id [0-9]*' | head -1)"

say "Start the client: xdpwgd in plain socket mode, as on a laptop"
t_start_xdpwgd client wg0 || die "xdpwgd (client) did not start"
CL=$T_PID

say "Keys and configuration, with stock wg(8) over each daemon's configuration socket"
kgw=$(t_genkey gw)
kcl=$(t_genkey client)
note "gateway public key $kgw"
note "client  public key $kcl"
t_wg "$GW" set wg0 private-key "$T_DIR/gw.key" listen-port 51820 peer "$kcl" \
	allowed-ips 192.0.2.2/32 || die "wg set on the gateway failed"
ka=()
[ "$KEEPALIVE" = 1 ] && ka=(persistent-keepalive 1)
t_wg "$CL" set wg0 private-key "$T_DIR/client.key" listen-port 51821 peer "$kgw" \
	allowed-ips 192.0.2.0/24 endpoint 198.18.0.1:51820 "${ka[@]}" ||
	die "wg set on the client failed"
t_in gw ip addr add 192.0.2.1/24 dev wg0
t_in gw ip link set wg0 up
t_in client ip addr add 192.0.2.2/24 dev wg0
t_in client ip link set wg0 up
note "tunnel addresses: gateway 192.0.2.1, client 192.0.2.2"
[ "$KEEPALIVE" = 1 ] && note "(persistent keepalive 1 s on the client: DEMO_KEEPALIVE=1)"

say "First packet through the tunnel: it triggers the handshake"
t0=$(now)
t_wait 10 t_in client ping -n -c 1 -W 1 192.0.2.1 || die "no reply through the tunnel"
note "handshake done and first reply after $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.0f", (b - a) * 1000 }') ms"
t_wg "$GW" show wg0 | sed 's/^/      /'

say "Stream traffic: a ping every 20 ms$([ $IPERF = 1 ] && echo ", and 20 Mbit/s of UDP with iperf3")"
T_START=$(now)
t_in client stdbuf -oL ping -D -n -i 0.02 -W 1 192.0.2.1 >"$T_DIR/ping.log" 2>&1 &
PING=$!
t_track "$PING"
if [ $IPERF = 1 ]; then
	t_in gw iperf3 -s -B 192.0.2.1 >/dev/null 2>&1 &
	t_track $!
	sleep 0.3
	t_in client iperf3 -c 192.0.2.1 -u -b 20M -l 1200 -t 600 >/dev/null 2>&1 &
	t_track $!
fi

# --- sampling: the gateway's own view, through xdpwgctl metrics ---
declare -A M
sample()
{
	local line
	M=()
	while IFS= read -r line; do
		case "$line" in
		xdpwg_peer_receive_bytes_total*) M[rx]=${line##* } M[ep]=$(sed 's/.*endpoint="\([^"]*\)".*/\1/' <<<"$line") ;;
		xdpwg_peer_transmit_bytes_total*) M[tx]=${line##* } ;;
		xdpwg_peer_handshake_age_seconds*) M[hs]=${line##* } ;;
		xdpwg_peer_endpoint_moves_total*) M[moves]=${line##* } ;;
		xdpwg_xdp_packets_total*action=\"drop\"*) M[drops]=$((${M[drops]:-0} + ${line##* })) ;;
		xdpwg_xdp_packets_total*reason=\"redirected\"*) M[redir]=${line##* } ;;
		esac
	done < <(t_at "$GW" "$CTL" metrics wg0 2>/dev/null)
}
# ping replies since the start: count and the time of the latest
ping_stats()
{
	awk -F'[][ =]' '/bytes from/ { n++; t = $2 } END { printf "%d %s\n", n, t ? t : 0 }' "$T_DIR/ping.log"
}
last_rtt()
{
	awk '/bytes from/ { r = $0 } END { sub(/.*time=/, "", r); sub(/ ms.*/, "", r); print r ? r : "-" }' \
		"$T_DIR/ping.log"
}

prev_rx=0 prev_t=$(now) uplink=wifi other=lte
events=()
view()
{
	local t rate el
	t=$(now)
	sample
	rate=$(awk -v a="${M[rx]:-0}" -v b="$prev_rx" -v t1="$t" -v t0="$prev_t" \
		'BEGIN { d = t1 - t0; printf "%.1f", (d > 0 && a >= b) ? (a - b) * 8 / d / 1e6 : 0 }')
	prev_rx=${M[rx]:-0} prev_t=$t
	el=$(awk -v a="$T_START" -v b="$t" 'BEGIN { printf "%.1f", b - a }')
	printf '%s %s %s %s %s\n' "$el" "$rate" "${M[drops]:-0}" "${M[moves]:-0}" "$(last_rtt)" \
		>>"$OUT/samples.dat"
	[ "$PLAIN" = 1 ] && return
	printf '\033[H\033[2J'
	printf '%sxdpwg live view%s  t=%ss   (Ctrl-C stops the demo and cleans up)\n\n' "$bold" "$plain" "$el"
	printf '  client uplink     %s%s%s (the other: %s)\n' "$bold" "$uplink" "$plain" "$other"
	printf '  gateway sees it   %s   (endpoint moves: %s)\n' "${M[ep]:-?}" "${M[moves]:-0}"
	printf '  last handshake    %.0f s ago\n' "${M[hs]:-0}"
	printf '  throughput in     %s Mbit/s   (client -> gateway, through XDP)\n' "$rate"
	printf '  ping rtt          %s ms\n' "$(last_rtt)"
	printf '  XDP               %s redirected to AF_XDP, %s dropped\n' "${M[redir]:-0}" "${M[drops]:-0}"
	demo_view_events "${1:-}"
}

# the gateway's latest move event: "seq wall-time new-endpoint" (or nothing)
last_move()
{
	t_at "$GW" "$CTL" events wg0 --json 2>/dev/null | tail -n 1 |
		sed -n 's/.*"seq":\([0-9]*\).*"new_endpoint":"\([^"]*\)".*"time":"\([0-9.]*\)".*/\1 \3 \2/p'
}
# blackout FROM UNTIL (wall clock): the longest gap between ping replies from just before FROM
# until UNTIL, in ms, and the pings lost in it (one every 20 ms): "gap lost", or "none all"
blackout()
{
	awk -v ts="$1" -v te="$2" -F'[][ =]' '
		/bytes from/ { t = $2 } !/bytes from/ { next }
		t < ts - 0.5 { prev = t; next }
		t > te { exit }
		{ if (prev && t - prev > gap) gap = t - prev; prev = t; seen = 1 }
		END {
			if (!seen) { print "none all"; exit }
			lost = int(gap / 0.02 + 0.5) - 1
			printf "%.0f %d\n", gap * 1000, lost < 0 ? 0 : lost
		}' "$T_DIR/ping.log"
}

say "Watch the live view: traffic flows over wifi"
[ "$PLAIN" = 1 ] && note "(DEMO_PLAIN: narration only)"
tick "$SETTLE" "traffic over wifi; in a moment the wifi goes away"

# --- the switches ---
# Each switch takes the client's current uplink down: its default route goes with it, the other
# uplink's takes over, the client announces itself from there, and the gateway moves the peer's
# endpoint on that packet. The latency is link down -> the move in the gateway's events.
switch_uplink()
{
	local n=$1 from=$uplink to=$other via_from via_to seq0 moves0 ts te i followed=0 want mv ms
	local gap lost there=
	case "$from" in
	wifi) via_from=198.51.100.254 via_to=203.0.113.254 ;;
	*) via_from=203.0.113.254 via_to=198.51.100.254 ;;
	esac
	mv=$(last_move)
	seq0=${mv%% *}
	seq0=${seq0:--1}
	want=$([ "$to" = wifi ] && echo 198.51.100. || echo 203.0.113.)
	sample
	moves0=${M[moves]:-0}
	[[ ${M[ep]:-} == "$want"* ]] && there=1
	ts=$(now)
	log_event "switch $n: $from link down at t=$(awk -v a="$T_START" -v b="$ts" 'BEGIN { printf "%.1f", b - a }') s -> traffic must move to $to"
	t_in client ip link set "$from" down
	uplink=$to other=$from
	# Followed: the gateway moved the endpoint to the target uplink (its move count grew), or
	# it was sending there already before the switch.
	for ((i = 0; i < MOVE_TIMEOUT * 10; i++)); do
		sample
		if [[ ${M[ep]:-} == "$want"* ]]; then
			if [ "${M[moves]:-0}" -gt "$moves0" ]; then
				followed=1 te=$(now)
				break
			elif [ -n "$there" ] && [ "$i" -ge 10 ]; then
				followed=2 te=$(now) ms=-
				break
			fi
		fi
		[ $((i % 10)) -eq 9 ] && view "switch $n: waiting for the tunnel to follow the client to $to"
		sleep 0.1
	done
	# the move's own time, from the gateway's events (recorded a moment after the move);
	# without it, the time this loop noticed it
	if [ $followed = 1 ]; then
		ms="~$(awk -v a="$ts" -v b="$te" 'BEGIN { printf "%.0f", (b - a) * 1000 }')"
		for ((i = 0; i < 10; i++)); do
			mv=$(last_move)
			if [ -n "$mv" ] && [ "${mv%% *}" -gt "$seq0" ]; then
				te=$(awk '{ print $2 }' <<<"$mv")
				ms=$(awk -v a="$ts" -v b="$te" 'BEGIN { printf "%.0f", (b - a) * 1000 }')
				break
			fi
			sleep 0.1
		done
	fi
	[ $followed = 0 ] && te=$(now)
	# the replies come back within a round trip of the move: give them a second, then measure
	sleep 1
	read -r gap lost <<<"$(blackout "$ts" "$(now)")"
	echo "$n $from $to $ts $te $followed ${ms:--} $gap $lost" >>"$T_DIR/switches"
	case $followed in
	1) log_event "switch $n: gateway moved to ${M[ep]} ${ms} ms after the link went down; blackout ${gap} ms (${lost} pings lost)" ;;
	2) log_event "switch $n: gateway already sends to ${M[ep]}; blackout ${gap} ms (${lost} pings lost)" ;;
	*) log_event "switch $n: the tunnel did not follow within $MOVE_TIMEOUT s" ;;
	esac
	if awk -v a="$ts" -v b="$te" -v m="$SLOW_MOVE" 'BEGIN { exit !(b - a > m) }'; then
		if [ "$KEEPALIVE" != 1 ]; then
			KEEPALIVE=1
			log_event "fallback: that move was slow (the client did not announce its route change); from now on it sends a keepalive every second (persistent-keepalive 1)"
			t_wg "$CL" set wg0 peer "$kgw" persistent-keepalive 1
		fi
	fi
	# The old uplink comes back, ready for the next switch. The current one stays preferred
	# (metric 50) and gets that route first, so the client's route to the gateway never changes
	# here: no announcement, no move between the switches.
	t_in client ip route replace default via "$via_to" dev "$to" metric 50 2>/dev/null
	t_in client ip link set "$from" up
	t_in client ip route replace default via "$via_from" dev "$from" \
		metric $([ "$from" = wifi ] && echo 100 || echo 200) 2>/dev/null
}

for ((s = 1; s <= SWITCHES; s++)); do
	[ "$PLAIN" = 1 ] && say "Switch $s of $SWITCHES: pull the plug on $uplink (ip link set $uplink down)"
	switch_uplink "$s"
	tick $((SETTLE - 1)) "after switch $s: traffic over $uplink"
done

say "Stop the traffic and work out what happened"
kill -TERM "$PING" 2>/dev/null # async jobs of a script ignore SIGINT
wait "$PING" 2>/dev/null
T_END=$(now)

# ping.dat: time since start, rtt in ms (replies only)
awk -v t0="$T_START" -F'[][ =]' '/bytes from/ {
	rtt = $0; sub(/.*time=/, "", rtt); sub(/ ms.*/, "", rtt); printf "%.3f %s\n", $2 - t0, rtt }' \
	"$T_DIR/ping.log" >"$OUT/ping.dat"
# per switch: the move's latency (link down -> the gateway's endpoint move) and the blackout (the
# longest silence between two ping replies around the switch; lost = pings sent in it)
{
	printf '%-7s %-12s %12s %6s %20s\n' switch uplinks blackout_ms lost gateway_moved
	while read -r n from to ts te followed ms gap lost; do
		case $followed in
		1) how="after $ms ms" ;;
		2) how="already there" ;;
		*) how="no" ;;
		esac
		printf '%-7s %-12s %12s %6s %20s\n' "$n" "$from->$to" "$gap" "$lost" "$how"
	done <"$T_DIR/switches"
} >"$OUT/summary.txt"
awk -v t0="$T_START" '{ printf "%.3f\n", $4 - t0 }' "$T_DIR/switches" >"$OUT/switches.dat"
sent=$(awk -F'icmp_seq=' '/icmp_seq=/ { split($2, a, " "); if (a[1] > m) m = a[1] } END { print m + 0 }' "$T_DIR/ping.log")
got=$(grep -c 'bytes from' "$T_DIR/ping.log")
sample
[ "$PLAIN" = 1 ] || printf '\033[H\033[2J'
say "Summary"
sed 's/^/    /' "$OUT/summary.txt"
note ""
note "pings: $got replies of about $sent sent over $(awk -v a="$T_START" -v b="$T_END" 'BEGIN { printf "%.0f", b - a }') s; endpoint moves seen by the gateway: ${M[moves]:-0}"
note "XDP on the gateway: ${M[redir]:-0} frames redirected to AF_XDP, ${M[drops]:-0} dropped"
[ "$KEEPALIVE" = 1 ] && note "(with the persistent-keepalive 1 s fallback on the client)"
note "gateway_moved: from the moment the link went down to the gateway's endpoint move (its events)"
note "blackout: the longest gap between ping replies through the tunnel around the switch"

# the plot: rtt per ping, throughput per second, a line at each switch
{
	demo_plot_head 'xdpwg roaming demo: ping RTT and throughput through the tunnel' \
		'throughput (Mbit/s)' 'top left'
	echo "plot '$OUT/ping.dat' using 1:2 with points pt 7 ps 0.3 title 'ping RTT (ms)', \\"
	echo "     '$OUT/samples.dat' using 1:2 axes x1y2 with lines lw 2 title 'gateway receive (Mbit/s)'"
} >"$OUT/demo.gnuplot"
gnuplot "$OUT/demo.gnuplot" 2>"$T_DIR/gnuplot.err" || die "gnuplot failed: $(cat "$T_DIR/gnuplot.err")"
note ""
note "table: $OUT/summary.txt   plot: $OUT/demo.png   (data: ping.dat, samples.dat)"

say "Done: stopping both daemons and removing the namespaces"
t_stop "$GW"
t_stop "$CL"
