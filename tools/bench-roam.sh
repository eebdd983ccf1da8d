#!/usr/bin/env bash
# make bench-roam: how fast the gateway follows a roaming client, xdpwgd against wireguard-go as
# the gateway in the same run (client: wireguard-go). Topology: tools/bench-lib.sh; the client
# has two uplinks, "wifi" (default route metric 100) and "lte" (metric 200), through the router.
#
# Scenarios (each for A = wireguard-go and B = xdpwgd as the gateway, rounds A B A B):
#   client     the client pings the gateway through the tunnel every 10 ms; a switch = the
#              client's current uplink goes down, its other default route takes over
#   push-ka0   the gateway pings the (otherwise silent) client every 10 ms, persistent
#              keepalive off; same switch
#   push-ka25  the same with persistent keepalive 25 s on the client
#   nat        the router masquerades the client's UDP to a fixed port; a switch = the SNAT port
#              changes (rule to a new port + conntrack -F), the client pings every 10 ms
# Per switch, from ping -D timestamps and a capture on the router's end of the gateway link:
#   blackout   last echo reply before the switch -> first reply after it (ms)
#   follow     first WireGuard packet (initiation or data) from the client's new address:port
#              -> first packet the gateway sends to that address:port (ms)
#   stale      packets the gateway sent to the old address:port after the switch (until the
#              next switch)
# Reported as p50/p99/max over the switches, ratio = B/A.
#
# Environment (defaults): ROAM_SWITCHES (20: client, nat), ROAM_PUSH_SWITCHES (3: each push
# scenario; wireguard-go blacks out ~15 s per switch there), ROAM_ROUNDS (2: switches are split
# into A B A B rounds), ROAM_MAX_WAIT (20 s: cap on waiting for traffic after a switch),
# ROAM_SETTLE (0.3 s), ROAM_SCENARIOS ("client push-ka0 push-ka25 nat"), BENCH_XDP,
# ROAM_DOWN (flush | link, see uplink_trigger), BENCH_OUT (build/bench). Default runtime: 6 min
# when the client follows its route at once, up to ~17 min when the wireguard-go client sits out
# its 15 s handshake retry on every client switch (docs/benchmarks.md); the push scenarios are
# ~3 min of it (2 impls x 2 x 3 switches x ~16 s); ROAM_PUSH_SWITCHES=20 makes them ~22 min.
# Results: BENCH_OUT/bench-roam.txt, bench-roam.tsv (every switch), bench-roam.png.

. "$(dirname "$0")/bench-lib.sh"

b_require wireguard-go wg tcpdump nft conntrack jq nsenter unshare ping stdbuf
NSW=${ROAM_SWITCHES:-20}
NPUSH=${ROAM_PUSH_SWITCHES:-3}
ROUNDS=${ROAM_ROUNDS:-2}
MAXWAIT=${ROAM_MAX_WAIT:-20}
SETTLE=${ROAM_SETTLE:-0.3}
SCENARIOS=${ROAM_SCENARIOS:-client push-ka0 push-ka25 nat}
OUT=${BENCH_OUT:-$XDPWG_BUILD/bench}
for v in NSW NPUSH ROUNDS MAXWAIT; do
	[[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -ge 1 ] && [ "${!v}" -le 1000 ] || b_die "$v: 1..1000"
done
mkdir -p "$OUT" || b_die "mkdir $OUT"
RES=$T_DIR/roam.tsv
printf 'scenario\tside\timpl\tround\tswitch\tblackout_ms\tfollow_ms\tstale\tcapped\n' >"$RES"
STARTED=$(date -u +%FT%TZ)
CL=$(t_nsname cl)
RT=$(t_nsname rt)
GWEP=198.18.0.1.$B_PORT
declare -A UPGW=([wifi]=198.51.100.1 [lte]=203.0.113.1)

b_topology
b_pick_impls
b_log "A = wireguard-go, B = $B_B_LABEL"

now() { date +%s.%N; }

# --- uplink switching: the active uplink goes down; restore brings it back as the standby ---
ACTIVE=wifi
STANDBY=lte
uplink_reset()
{
	ip -n "$CL" link set wifi up
	ip -n "$CL" link set lte up
	ip -n "$CL" addr replace 198.51.100.2/24 dev wifi 2>/dev/null
	ip -n "$CL" addr replace 203.0.113.2/24 dev lte 2>/dev/null
	ip -n "$CL" route flush exact 0.0.0.0/0 2>/dev/null
	ip -n "$CL" route add default via 198.51.100.1 dev wifi metric 100
	ip -n "$CL" route add default via 203.0.113.1 dev lte metric 200
	ACTIVE=wifi
	STANDBY=lte
}
declare -A UPADDR=([wifi]=198.51.100.2/24 [lte]=203.0.113.2/24)
# ROAM_DOWN=flush (default): the uplink loses its address and goes down, as an interface that
# vanishes does. ROAM_DOWN=link: only the link goes down; the wireguard-go client then keeps
# sending from its sticky source on the dead interface (ENETUNREACH is not a reason for it to
# forget the source, only EINVAL is) until its 15 s handshake retry: ~15 s blackouts that
# measure the client, not the gateway.
ROAM_DOWN=${ROAM_DOWN:-flush}
uplink_trigger()
{
	[ "$ROAM_DOWN" = link ] || ip -n "$CL" addr flush dev "$ACTIVE"
	ip -n "$CL" link set "$ACTIVE" down
}
uplink_restore()
{
	# the new active uplink takes the low metric (same path, no switch), the old one comes back
	# up with the high metric, so that it is the standby for the next switch
	ip -n "$CL" route replace default via "${UPGW[$STANDBY]}" dev "$STANDBY" metric 100
	ip -n "$CL" route del default via "${UPGW[$STANDBY]}" dev "$STANDBY" metric 200 2>/dev/null
	ip -n "$CL" link set "$ACTIVE" up
	ip -n "$CL" addr replace "${UPADDR[$ACTIVE]}" dev "$ACTIVE" 2>/dev/null
	ip -n "$CL" route replace default via "${UPGW[$ACTIVE]}" dev "$ACTIVE" metric 200
	local t=$ACTIVE
	ACTIVE=$STANDBY
	STANDBY=$t
}

# --- NAT rebinding: SNAT to a new fixed port, then flush conntrack so the flow is re-mapped ---
NATPORT=40000
nat_setup()
{
	ip netns exec "$RT" nft -f - <<EOF
table ip xbnat {
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "gw" meta l4proto udp masquerade to :$NATPORT
	}
}
EOF
	ip netns exec "$RT" conntrack -F >/dev/null 2>&1
}
nat_prepare()
{
	NATPORT=$((NATPORT + 1))
	ip netns exec "$RT" nft flush chain ip xbnat post &&
		ip netns exec "$RT" nft add rule ip xbnat post oifname gw meta l4proto udp masquerade to :$NATPORT
}
nat_trigger() { ip netns exec "$RT" conntrack -F >/dev/null 2>&1; }
nat_teardown() { ip netns exec "$RT" nft delete table ip xbnat 2>/dev/null; }

# last_reply LOG: timestamp of the last echo reply in a ping -D log (0 if none).
last_reply()
{
	tail -n 5 "$1" 2>/dev/null | grep 'bytes from' | tail -n1 |
		sed -n 's/^\[\([0-9.]*\)\].*/\1/p' | grep . || echo 0
}

# wait_reply_after LOG T SECONDS: until a reply later than T shows up (bounded). 1 on timeout.
wait_reply_after()
{
	local log=$1 t=$2 n i
	n=$(awk -v s="$3" 'BEGIN { printf "%d", s * 50 }')
	for ((i = 0; i < n; i++)); do
		awk -v a="$(last_reply "$log")" -v b="$t" 'BEGIN { exit !(a > b) }' && return 0
		sleep 0.02
	done
	return 1
}

TSTAMP=()
tcpdump_ts_args()
{
	# nanosecond timestamps; adapter_unsynced only where the interface offers it
	if ip netns exec "$RT" tcpdump -J -i gw 2>/dev/null | grep -q adapter_unsynced; then
		TSTAMP=(-j adapter_unsynced --time-stamp-precision=nano)
	else
		TSTAMP=(--time-stamp-precision=nano)
	fi
}

# packets PCAP: "ts src dst type" per WireGuard datagram (type = first payload byte).
packets()
{
	tcpdump -r "$1" -nn -tt --time-stamp-precision=nano -x 2>/dev/null | awk '
		/^[0-9]/ { if (ts != "") print ts, src, dst, typ
			ts = $1; src = $3; dst = $5; sub(/:$/, "", dst); typ = 0; next }
		$1 == "0x0010:" { typ = substr($8, 1, 2) + 0 }
		END { if (ts != "") print ts, src, dst, typ }'
}

# analyze SCEN SIDE IMPL ROUND: per switch, from $RUN/{switches,ping.log,pkts}.
analyze()
{
	local scen=$1 side=$2 impl=$3 round=$4 k=0 s next
	mapfile -t SW <"$RUN/switches"
	grep 'bytes from' "$RUN/ping.log" | sed -n 's/^\[\([0-9.]*\)\].*/\1/p' >"$RUN/replies"
	for ((k = 0; k < ${#SW[@]}; k++)); do
		s=${SW[$k]%% *}
		capped=${SW[$k]#* }
		next=${SW[$((k + 1))]:-9999999999}
		next=${next%% *}
		bo=$(awk -v s="$s" '$1 < s { last = $1 } $1 > s { if (last != "") printf "%.3f", ($1 - last) * 1000; exit }' "$RUN/replies")
		read -r fol stale < <(awk -v s="$s" -v e="$next" -v gw="$GWEP" '
			$1 < s && $3 == gw { old = $2 }
			$1 >= s && $1 < e {
				if ($2 == gw && $3 == old) stale++
				if (tnew == "" && $3 == gw && $2 != old && ($4 == 1 || $4 == 4)) { tnew = $1; nsrc = $2 }
				if (tnew != "" && tfol == "" && $2 == gw && $3 == nsrc) tfol = $1
			}
			END { f = (tnew != "" && tfol != "") ? sprintf("%.3f", (tfol - tnew) * 1000) : "-"
				printf "%s %d\n", f, stale }' "$RUN/pkts")
		printf '%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n' "$scen" "$side" "$impl" "$round" \
			$((k + 1)) "${bo:--}" "${fol:--}" "${stale:-0}" "$capped" >>"$RES"
	done
}

# run_roam SCEN SIDE IMPL ROUND NSWITCHES
run_roam()
{
	local scen=$1 side=$2 impl=$3 round=$4 n=$5 ka=0 k t capped pingdst=192.0.2.1 pingns=cl
	local tcpd pingp
	RUN=$T_DIR/$scen-$side-$round
	mkdir -p "$RUN"
	case $scen in
	push-ka0) pingdst=192.0.2.2 pingns=gw ;;
	push-ka25) pingdst=192.0.2.2 pingns=gw ka=25 ;;
	esac
	uplink_reset
	[ "$scen" = nat ] && nat_setup
	if ! b_up "$impl" "$ka"; then
		b_log "$scen $side round $round: $impl did not come up; skipped"
		[ "$scen" = nat ] && nat_teardown
		return 1
	fi
	[ "$side" = B ] && MODE_B=$B_GW_MODE
	b_bg rt "$RUN/tcpdump.log" tcpdump -i gw -nn -U -s 96 "${TSTAMP[@]}" -w "$RUN/cap.pcap" \
		udp port "$B_PORT"
	tcpd=$B_BG_PID
	t_wait 5 grep -q 'listening on' "$RUN/tcpdump.log" || b_log "tcpdump not ready: $(cat "$RUN/tcpdump.log")"
	b_bg "$pingns" "$RUN/ping.log" stdbuf -oL ping -D -n -i 0.01 -W 1 \
		-w $((n * (MAXWAIT + 8) + 30)) "$pingdst"
	pingp=$B_BG_PID
	t_wait 5 grep -q 'bytes from' "$RUN/ping.log" || b_log "$scen: no echo replies before the first switch"
	: >"$RUN/switches"
	for ((k = 1; k <= n; k++)); do
		# steady traffic: a reply within the last 0.2 s (bounded)
		wait_reply_after "$RUN/ping.log" "$(awk -v t="$(now)" 'BEGIN { printf "%.6f", t - 0.2 }')" 5 ||
			b_log "$scen $side: no steady replies before switch $k"
		[ "$scen" = nat ] && nat_prepare
		# the switch time is when the trigger has returned: the link is down (or the conntrack
		# table flushed) by then; taken before, it would count the command's own start-up
		if [ "$scen" = nat ]; then nat_trigger; else uplink_trigger; fi
		t=$(now)
		capped=0
		wait_reply_after "$RUN/ping.log" "$t" "$MAXWAIT" || capped=1
		echo "$t $capped" >>"$RUN/switches"
		[ "$scen" = nat ] || uplink_restore
		sleep "$SETTLE"
	done
	sleep 0.2
	b_kill "$pingp"
	# libpcap hands over packets in blocks: give it time to deliver the last ones before SIGTERM
	sleep 1
	b_kill "$tcpd"
	packets "$RUN/cap.pcap" >"$RUN/pkts"
	analyze "$scen" "$side" "$impl" "$round"
	b_down
	[ "$scen" = nat ] && nat_teardown
	uplink_reset
	b_log "$scen $side round $round ($B_GW_MODE): $(awk -F'\t' -v s="$scen" -v d="$side" -v r="$round" \
		'$1 == s && $2 == d && $4 == r { printf "%s/%s ", $6, $7 }' "$RES")(blackout/follow ms)"
}

tcpdump_ts_args
b_log "capture timestamps: ${TSTAMP[*]}"
for scen in $SCENARIOS; do
	case $scen in
	client | nat) total=$NSW ;;
	push-ka0 | push-ka25) total=$NPUSH ;;
	*) b_die "unknown scenario $scen" ;;
	esac
	r=$ROUNDS
	[ "$r" -gt "$total" ] && r=$total
	for ((round = 1; round <= r; round++)); do
		# split the switches over the rounds as evenly as possible
		n=$(((total * round) / r - (total * (round - 1)) / r))
		run_roam "$scen" A "$B_A" "$round" "$n"
		run_roam "$scen" B "$B_B" "$round" "$n"
	done
done
[ -n "${MODE_B:-}" ] && [ "$B_B" = xdpwgd ] && B_B_LABEL=$MODE_B

# --- table ---
col() # SCEN SIDE COLUMN -> values
{
	awk -F'\t' -v s="$1" -v d="$2" -v c="$3" 'NR > 1 && $1 == s && $2 == d && $c != "-" { print $c }' "$RES"
}
cell() # SCEN SIDE COLUMN -> "p50 p99 max n"
{
	local v
	v=$(col "$@")
	printf '%s %s %s %s' "$(b_pct 50 <<<"$v")" "$(b_pct 99 <<<"$v")" "$(b_pct 100 <<<"$v")" \
		"$(grep -c . <<<"$v")"
}
TABLE=$OUT/bench-roam.txt
PLOT=$T_DIR/plot.dat
: >"$PLOT"
{
	echo "xdpwg roaming benchmark, $STARTED, $(nproc) cores, kernel $(uname -r)"
	echo "A = wireguard-go gateway; B = $B_B_LABEL; client = ${BENCH_CLIENT:-wireguard-go}"
	echo "switches: client/nat $NSW, push $NPUSH each, in $ROUNDS rounds A B A B; uplink down = $ROAM_DOWN; cap ${MAXWAIT}s; p50/p99/max; ratio = B/A"
	printf '%-10s %-12s %-26s %-26s %-6s %-6s %s\n' scenario metric "A p50/p99/max" \
		"B p50/p99/max" "r.p50" "r.p99" "n(A/B) capped(A/B)"
	for scen in $SCENARIOS; do
		for m in 6:blackout_ms 7:follow_ms 8:stale_pkts; do
			c=${m%%:*}
			read -r a50 a99 amax an <<<"$(cell "$scen" A "$c")"
			read -r b50 b99 bmax bn <<<"$(cell "$scen" B "$c")"
			ca=$(awk -F'\t' -v s="$scen" '$1 == s && $2 == "A" && $9 == 1' "$RES" | grep -c .)
			cb=$(awk -F'\t' -v s="$scen" '$1 == s && $2 == "B" && $9 == 1' "$RES" | grep -c .)
			printf '%-10s %-12s %-26s %-26s %-6s %-6s %s\n' "$scen" "${m#*:}" "$a50/$a99/$amax" \
				"$b50/$b99/$bmax" "$(b_ratio "$b50" "$a50")" "$(b_ratio "$b99" "$a99")" "$an/$bn $ca/$cb"
			[ "$c" = 8 ] || printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${m#*:}" "$scen" \
				"$a50" "$a50" "$amax" "$b50" "$b50" "$bmax" >>"$PLOT"
		done
	done
} | tee "$TABLE"
cp "$RES" "$OUT/bench-roam.tsv"

if command -v gnuplot >/dev/null 2>&1 && [ -s "$PLOT" ]; then
	for m in blackout_ms follow_ms; do
		grep -P "^$m\t" "$PLOT" | cut -f2- | sed 's/\t-/\tNaN/g' >"$T_DIR/$m.dat"
	done
	gnuplot <<EOF 2>>"$T_DIR/gnuplot.log" || b_log "gnuplot failed: $(tail -n2 "$T_DIR/gnuplot.log")"
set terminal pngcairo size 1200,800 noenhanced
set output "$OUT/bench-roam.png"
set multiplot layout 2,1 title "xdpwg bench-roam $STARTED: A = wireguard-go, B = $B_B_LABEL (bar p50, whisker to max)"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set key top left
set grid ytics
set logscale y
set ylabel "blackout ms"
plot "$T_DIR/blackout_ms.dat" using 2:3:4:xtic(1) title "A wireguard-go", "" using 5:6:7 title "B $B_B_LABEL"
set ylabel "gateway follow delay ms"
plot "$T_DIR/follow_ms.dat" using 2:3:4:xtic(1) title "A wireguard-go", "" using 5:6:7 title "B $B_B_LABEL"
unset multiplot
EOF
fi
b_log "results: $TABLE, $OUT/bench-roam.tsv, $OUT/bench-roam.png"
