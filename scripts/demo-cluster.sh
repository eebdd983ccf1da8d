#!/usr/bin/env bash
# make demo-cluster: a roaming client and a cluster of three XDP gateways on one machine.
#
#   client ==wifi 198.51.100.2== router (BIRD, ECMP hashed on the 5-tuple) == gw1 198.18.0.11
#          ==lte  203.0.113.2 ==                                            == gw2 198.18.0.12
#                                inside host 198.18.2.2                     == gw3 198.18.0.13
#   every gateway: service address 198.18.1.1, xdpwgd --attach eth0 --gateway-id N, one key
#
# The client (xdpwgd, socket mode) talks to the service address; the router's hash picks the
# gateway that answers its handshake: that one holds the session (its keys, its receiver index,
# whose top bits carry its id) and announces the client's tunnel address over BGP. The client
# pings the inside host every 20 ms while the demo takes its current uplink down, again and
# again: from the other uplink the hash lands it on ANOTHER gateway, which forwards its packets
# in XDP to the holder, no new handshake. The live view shows, once a second and per gateway:
# packets received from clients, packets forwarded to another gateway, packets unwrapped from
# one, handshakes, and whether it holds the session. At the end: a summary table and a plot in
# build/demo-cluster/ (DEMO_OUT). Namespaces xw<pid>..-*, removed on exit. Needs root.
#
# Environment: DEMO_SWITCHES (4); DEMO_PLAIN=1 no live view; DEMO_SETTLE (5 s of traffic shown
#   before the first switch and after each); DEMO_OUT (build/demo-cluster); XDPWG_BUILD.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
export XDPWG_BUILD=${XDPWG_BUILD:-$here/../build}
SWITCHES=${DEMO_SWITCHES:-4}
PLAIN=${DEMO_PLAIN:-0}
SETTLE=${DEMO_SETTLE:-5}
OUT=${DEMO_OUT:-$XDPWG_BUILD/demo-cluster}
DEMO_NAME=demo-cluster
. "$here/demo_lib.sh"
demo_args "$0" "$@"
demo_int DEMO_SWITCHES "$SWITCHES" 1 20
demo_int DEMO_SETTLE "$SETTLE" 1 60
[ -t 1 ] || PLAIN=1

. "$here/../tests/net/lib.sh"
set +x
. "$here/../tests/net/cluster_lib.sh"
. "$here/../tests/net/cluster_roam_lib.sh"

demo_require wg ping nsenter unshare gnuplot awk bird birdc python3
[ -x "$XDPWG_BUILD/xdpwgd" ] && [ -x "$CR_CTL" ] || die "no $XDPWG_BUILD/xdpwgd (run make)"
mkdir -p "$OUT" || die "cannot create $OUT"
rm -f "$OUT/summary.txt" "$OUT/demo.png" "$OUT/ping.dat" "$OUT/samples.dat" "$OUT/switches.dat"

say "Build the cluster lab out of namespaces ($T_PFX-*): client, router, three gateways, inside host"
c_topology
note "client: wifi 198.51.100.2 (preferred) and lte 203.0.113.2; gateways 198.18.0.11-13;"
note "service address $C_SVC on every gateway; inside host 198.18.2.2"
c_bird_up || die "BIRD: the BGP sessions did not come up"
t_wait 10 c_rt_nnexthops "$C_SVC" 3 || die "the router has no ECMP route to $C_SVC"
note "the router's route to the service address (BIRD, ECMP, hashed on the 5-tuple):"
ip -n "$RTNS" route show exact "$C_SVC" | sed 's/^/      /'
cr_mux_on || die "no XDP program on the router's ports"

say "Start the three gateways: xdpwgd --attach eth0 --gateway-id N, one key, static membership"
cr_start_gws xdpwgd "$CL_PUB@192.0.2.2/32" || die "the gateways did not start"
note "the cluster's public key (the one peer a client configures): $GW_PUB"

# a client port whose wifi and lte flows hash to different gateways, so that every switch
# is a move across gateways
port=
for p in $(seq 51821 51920); do
	w=$(cr_hash 198.51.100.2 wifi "$p")
	l=$(cr_hash 203.0.113.2 lte "$p")
	[ -n "$w" ] && [ -n "$l" ] && [ "$w" != "$l" ] && port=$p && break
done
[ -n "$port" ] || die "no client port whose wifi and lte flows hash apart"
declare -A HASHED=([wifi]=$w [lte]=$l)

say "Start the client: xdpwgd in socket mode, one peer: $C_SVC:51820, port $port"
cr_start_cl xdpwgd "$port" || die "the client did not start"
note "from wifi the router hashes it to gw${HASHED[wifi]}, from lte to gw${HASHED[lte]}"
t_wait 10 t_in cl ping -n -c 1 -W 1 198.18.2.2 || die "no reply through the tunnel"
holder=$(cr_holder_of "$CL_PUB" | head -n 1)
note "handshake answered by gw$holder: it holds the session from now on"

say "Stream traffic: the client pings the inside host every 20 ms"
T_START=$(now)
t_in cl stdbuf -oL ping -D -n -i 0.02 -W 1 198.18.2.2 >"$T_DIR/ping.log" 2>&1 &
PING=$!
t_track "$PING"

# per gateway: rx (data packets from clients: its own XDP redirects and what it unwrapped),
# fwd (forwarded to another gateway), in (unwrapped from another), hs (handshakes), held
declare -A G
sample()
{
	local n s
	G=()
	for n in 1 2 3; do
		s=$(t_at "$(c_gw_pid "$n")" "$CR_CTL" stats wg0 2>/dev/null)
		G[rx$n]=$(awk '$1 == "redirected" || $1 == "redirected:" { print $NF; exit }' <<<"$s")
		G[fwd$n]=$(awk '$1 ~ /^cluster_forwarded_(data|response|cookie):?$/ { t += $NF } END { print t + 0 }' <<<"$s")
		G[in$n]=$(awk '$1 == "cluster_forwarded_in" || $1 == "cluster_forwarded_in:" { print $NF; exit }' <<<"$s")
		G[hs$n]=$(t_wg "$(c_gw_pid "$n")" show wg0 latest-handshakes 2>/dev/null | awk '$2 > 0' | grep -c .)
	done
	G[holder]=$(c_holder 192.0.2.2)
	G[ep]=$(cr_gw_ep "${G[holder]:-$holder}" "$CL_PUB")
}
last_rtt()
{
	awk '/bytes from/ { r = $0 } END { sub(/.*time=/, "", r); sub(/ ms.*/, "", r); print r ? r : "-" }' \
		"$T_DIR/ping.log"
}

declare -A PREV
uplink=wifi other=lte
events=()
view()
{
	local t el n d
	t=$(now)
	sample
	el=$(awk -v a="$T_START" -v b="$t" 'BEGIN { printf "%.1f", b - a }')
	# forwarded packets per second since the last sample (sampling takes its own time), for
	# the plot
	printf '%s' "$el" >>"$OUT/samples.dat"
	for n in 1 2 3; do
		d=$((${G[fwd$n]:-0} - ${PREV[fwd$n]:-0}))
		awk -v d="$d" -v t="$el" -v p="${PREV[t]:-0}" \
			'BEGIN { printf " %.0f", (t > p) ? d / (t - p) : 0 }' >>"$OUT/samples.dat"
		PREV[fwd$n]=${G[fwd$n]:-0}
	done
	PREV[t]=$el
	echo >>"$OUT/samples.dat"
	[ "$PLAIN" = 1 ] && return
	printf '\033[H\033[2J'
	printf '%sxdpwg cluster live view%s  t=%ss   (Ctrl-C stops the demo and cleans up)\n\n' "$bold" "$plain" "$el"
	printf '  client uplink   %s%s%s -> the router hashes it to %sgw%s%s\n' "$bold" "$uplink" "$plain" \
		"$bold" "${HASHED[$uplink]}" "$plain"
	printf '  session held by gw%s (the router routes 192.0.2.2 there), endpoint %s\n' \
		"${G[holder]:-?}" "${G[ep]:-?}"
	printf '  ping rtt        %s ms\n\n' "$(last_rtt)"
	printf '  %-8s %10s %10s %10s %10s %6s %s\n' gateway "rx(XDP)" forwarded unwrapped handshakes held receives
	for n in 1 2 3; do
		printf '  %-8s %10s %10s %10s %10s %6s %s\n' "gw$n" "${G[rx$n]:-0}" "${G[fwd$n]:-0}" \
			"${G[in$n]:-0}" "${G[hs$n]:-0}" "$([ "${G[holder]}" = "$n" ] && echo yes || echo no)" \
			"$([ "${HASHED[$uplink]}" = "$n" ] && echo '<- the client' || echo)"
	done
	demo_view_events "${1:-}"
}
# blackout FROM UNTIL: the longest gap between ping replies around the switch, in ms
blackout()
{
	awk -v ts="$1" -v te="$2" -F'[][ =]' '
		/bytes from/ { t = $2 } !/bytes from/ { next }
		t < ts - 0.5 { prev = t; next }
		t > te { exit }
		{ if (prev && t - prev > gap) gap = t - prev; prev = t; seen = 1 }
		END { if (!seen) print "none"; else printf "%.0f\n", gap * 1000 }' "$T_DIR/ping.log"
}
hs_total()
{
	local n t=0
	for n in 1 2 3; do
		t=$((t + $(t_wg "$(c_gw_pid "$n")" show wg0 latest-handshakes | awk '{ s += ($2 > 0) } END { print s + 0 }')))
	done
	echo "$t"
}

say "Watch the live view: traffic flows over wifi to gw${HASHED[wifi]}"
[ "$PLAIN" = 1 ] && note "(DEMO_PLAIN: narration only)"
tick "$SETTLE" "traffic over wifi; in a moment the wifi goes away"

for ((s = 1; s <= SWITCHES; s++)); do
	from=$uplink to=$other
	[ "$PLAIN" = 1 ] && say "Switch $s of $SWITCHES: $from goes away"
	t_wg "$(c_gw_pid "$holder")" show wg0 latest-handshakes >"$T_DIR/hs0"
	ts=$(now)
	log_event "switch $s: $from down at t=$(awk -v a="$T_START" -v b="$ts" 'BEGIN { printf "%.1f", b - a }') s; from $to the router hashes the client to gw${HASHED[$to]}, gw$holder holds its session"
	t_in cl ip link set "$from" down
	uplink=$to other=$from
	# the old uplink back, ready for the next switch; the current one stays preferred
	via_to=$([ "$to" = wifi ] && echo 198.51.100.1 || echo 203.0.113.1)
	via_from=$([ "$from" = wifi ] && echo 198.51.100.1 || echo 203.0.113.1)
	t_in cl ip route replace default via "$via_to" dev "$to" metric 50 2>/dev/null
	tick 2 "switch $s: the client is on $to"
	t_in cl ip link set "$from" up
	t_in cl ip route replace default via "$via_from" dev "$from" \
		metric "$([ "$from" = wifi ] && echo 100 || echo 200)" 2>/dev/null
	te=$(now)
	bo=$(blackout "$ts" "$te")
	# what the gateways forward in the second after that, the client settled on $to
	sample
	fwd0=$((${G[fwd1]:-0} + ${G[fwd2]:-0} + ${G[fwd3]:-0}))
	tick 1 "switch $s: the client is on $to"
	sample
	fwd1=$((${G[fwd1]:-0} + ${G[fwd2]:-0} + ${G[fwd3]:-0}))
	new_hs=$(t_wg "$(c_gw_pid "$holder")" show wg0 latest-handshakes | cmp -s - "$T_DIR/hs0" && echo 0 || echo 1)
	[ "$(hs_total)" -gt 1 ] && new_hs=1
	echo "$s $from $to ${HASHED[$to]} $holder $ts $bo $new_hs $((fwd1 - fwd0))" >>"$T_DIR/switches"
	log_event "switch $s: blackout $bo ms; received by gw${HASHED[$to]}, $([ "${HASHED[$to]}" = "$holder" ] && echo "the holder itself" || echo "forwarded to gw$holder ($((fwd1 - fwd0)) packets in the next second)"); new handshakes: $new_hs"
	tick $((SETTLE - 3 > 0 ? SETTLE - 3 : 1)) "after switch $s: traffic over $uplink"
done

say "Stop the traffic and work out what happened"
kill -TERM "$PING" 2>/dev/null
wait "$PING" 2>/dev/null
T_END=$(now)
awk -v t0="$T_START" -F'[][ =]' '/bytes from/ {
	rtt = $0; sub(/.*time=/, "", rtt); sub(/ ms.*/, "", rtt); printf "%.3f %s\n", $2 - t0, rtt }' \
	"$T_DIR/ping.log" >"$OUT/ping.dat"
{
	printf '%-7s %-12s %-12s %-8s %12s %14s %12s\n' switch uplinks received_by holder blackout_ms new_handshakes forwarded_1s
	while read -r n from to rcv hold ts bo hs fw; do
		printf '%-7s %-12s %-12s %-8s %12s %14s %12s\n' "$n" "$from->$to" "gw$rcv" "gw$hold" "$bo" "$hs" "$fw"
	done <"$T_DIR/switches"
} >"$OUT/summary.txt"
awk -v t0="$T_START" '{ printf "%.3f\n", $6 - t0 }' "$T_DIR/switches" >"$OUT/switches.dat"
got=$(grep -c 'bytes from' "$T_DIR/ping.log")
sent=$(awk -F'icmp_seq=' '/icmp_seq=/ { split($2, a, " "); if (a[1] > m) m = a[1] } END { print m + 0 }' "$T_DIR/ping.log")
[ "$PLAIN" = 1 ] || printf '\033[H\033[2J'
say "Summary"
sed 's/^/    /' "$OUT/summary.txt"
note ""
note "pings: $got replies of about $sent sent over $(awk -v a="$T_START" -v b="$T_END" 'BEGIN { printf "%.0f", b - a }') s; handshakes in all: $(hs_total) (gw$holder's, at the start)"
note "received_by: the gateway the router's hash sends the client to; holder: the one with its keys"
note "blackout: the longest gap between ping replies around the switch; forwarded_1s: packets sent on to the holder in the live view's next tick (about a second)"

{
	demo_plot_head 'xdpwg cluster demo: ping RTT, and packets forwarded per gateway per second' \
		'forwarded (packets/s)' 'below horizontal'
	echo "plot '$OUT/ping.dat' using 1:2 with points pt 7 ps 0.3 title 'ping RTT (ms)', \\"
	echo "     '$OUT/samples.dat' using 1:2 axes x1y2 with fsteps lw 2 title 'gw1 forwarded', \\"
	echo "     '$OUT/samples.dat' using 1:3 axes x1y2 with fsteps lw 2 title 'gw2 forwarded', \\"
	echo "     '$OUT/samples.dat' using 1:4 axes x1y2 with fsteps lw 2 title 'gw3 forwarded'"
} >"$OUT/demo.gnuplot"
gnuplot "$OUT/demo.gnuplot" 2>"$T_DIR/gnuplot.err" || die "gnuplot failed: $(cat "$T_DIR/gnuplot.err")"
note ""
note "table: $OUT/summary.txt   plot: $OUT/demo.png   (data: ping.dat, samples.dat)"

say "Done: stopping the daemons and removing the namespaces"
cr_stop_gws
t_stop "$CL"
