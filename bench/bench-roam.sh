#!/usr/bin/env bash
# make bench-roam: how fast the gateway follows a roaming client, xdpwgd against wireguard-go in
# the same run. Topology: bench/bench-lib.sh; the client has two uplinks, "wifi" (default route
# metric 100) and "lte" (metric 200), through the router to the gateway's eth0.
#
# By default each implementation runs on both ends (BENCH_CLIENT=same): A = wireguard-go
# gateway and client, B = xdpwgd gateway with --attach eth0 (BENCH_XDP=1; it falls back to the
# socket path and says so when XDP is unavailable) and an xdpwgd client in socket mode.
# BENCH_CLIENT=wireguard-go keeps wireguard-go as the client of both, BENCH_XDP=0 the gateway
# on its socket path.
#
# Scenarios (each for A and B, rounds A B A B):
#   client     the client pings the gateway through the tunnel every 10 ms; a switch = the
#              client's current uplink goes down, its other default route takes over
#   push-ka0   the gateway pings the (otherwise silent) client every 10 ms, persistent
#              keepalive off; same switch
#   push-ka25  the same with persistent keepalive 25 s on the client
#   nat        the router masquerades the client's UDP to a fixed port; a switch = the SNAT port
#              changes (rule to a new port + conntrack -F), the client pings every 10 ms
# Per switch (see analyze for the exact definitions): blackout, follow, reply, stale, lost,
# announce, move_us and queue_us (xdpwgd's move events), gw_stalled; p50/p99/max over the switches, ratio =
# B/A, and the issue's targets for B.
#
# Environment (defaults): ROAM_SWITCHES (20: client, nat), ROAM_PUSH_SWITCHES (20: each push
# scenario), ROAM_ROUNDS (2: switches are split into A B A B rounds), ROAM_MAX_WAIT (20 s: cap on
# waiting for traffic after a switch), ROAM_SETTLE (0.3 s), ROAM_SCENARIOS ("client push-ka0
# push-ka25 nat"), ROAM_DOWN (flush | link, see uplink_trigger), BENCH_OUT (build/bench),
# ROAM_REANALYZE (a run kept with T_KEEP=1: recompute its tables, run nothing), ROAM_BUSY_POLL
# (0; 1: B's xdpwgd XDP gateway runs with --busy-poll, its AF_XDP worker spinning on a core
# instead of sleeping in poll(), see docs/operations.md; the header says so), ROAM_WORKER_CPUS
# (B's gateway with --worker-cpus LIST), ROAM_CONFINE (a CPU list: the benchmark and all it
# starts run there, taskset, except B's AF_XDP workers, which --worker-cpus places: with
# ROAM_CONFINE=0 ROAM_WORKER_CPUS=1 ROAM_BUSY_POLL=1 the worker has CPU 1 to itself, as on a
# gateway with an isolated core; the header says so). Runtime ~20 min,
# almost all of it wireguard-go's ~15 s blackout per switch (it keeps its sticky source until its
# 15 s handshake retry); ROAM_PUSH_SWITCHES=3 makes it ~10 min.
# Results: BENCH_OUT/bench-roam.txt, bench-roam.tsv (every switch), bench-roam.png.

if [ -n "${ROAM_CONFINE:-}" ] && [ -z "${ROAM_CONFINED:-}" ]; then
	ROAM_CONFINED=$ROAM_CONFINE exec taskset -c "$ROAM_CONFINE" bash "$0" "$@"
fi
BENCH_CLIENT=${BENCH_CLIENT:-same}
BENCH_XDP=${BENCH_XDP:-1}
BENCH_BUSY_POLL=${ROAM_BUSY_POLL:-0}
BENCH_WORKER_CPUS=${ROAM_WORKER_CPUS:-}
export BENCH_CLIENT BENCH_XDP BENCH_BUSY_POLL BENCH_WORKER_CPUS
. "$(dirname "$0")/bench-lib.sh"

b_require wireguard-go wg tcpdump nft conntrack jq nsenter unshare ping stdbuf
NSW=${ROAM_SWITCHES:-20}
NPUSH=${ROAM_PUSH_SWITCHES:-20}
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
printf 'scenario\tside\timpl\tround\tswitch\tblackout_ms\tfollow_ms\tstale\tcapped\tlost\tannounce_ms\tmove_us\treply_ms\tgw_stalled\tqueue_us\n' >"$RES"
STARTED=$(date -u +%FT%TZ)
CL=$(t_nsname cl)
RT=$(t_nsname rt)
GWEP=198.18.0.1.$B_PORT
declare -A UPGW=([wifi]=198.51.100.1 [lte]=203.0.113.1)

if [ -z "${ROAM_REANALYZE:-}" ]; then
	b_topology
	b_pick_impls
	b_log "A = wireguard-go, B = $B_B_LABEL"
fi

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
# One ip process for both steps, so that they are microseconds apart and the switch falls
# between the two timestamps run_roam takes around it, not tens of ms after the first.
uplink_trigger()
{
	{
		[ "$ROAM_DOWN" = link ] || echo "addr flush dev $ACTIVE"
		echo "link set $ACTIVE down"
	} | ip -n "$CL" -batch -
}
uplink_restore()
{
	# the new active uplink takes the low metric (same path, no switch), the old one comes back
	# up with the high metric, so that it is the standby for the next switch; one ip process
	# (-force: a missing route to delete is no reason to stop)
	ip -n "$CL" -force -batch - 2>/dev/null <<EOF
route replace default via ${UPGW[$STANDBY]} dev $STANDBY metric 100
route del default via ${UPGW[$STANDBY]} dev $STANDBY metric 200
link set $ACTIVE up
addr replace ${UPADDR[$ACTIVE]} dev $ACTIVE
route replace default via ${UPGW[$ACTIVE]} dev $ACTIVE metric 200
EOF
	ip -n "$CL" route get 198.18.0.1 | grep -q "dev $STANDBY" ||
		b_log "restore: the route to the gateway does not leave via $STANDBY: $(ip -n "$CL" route)"
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
# The new rule replaces the old one in one transaction: between a separate "flush chain" and
# "add rule" the client's packets left un-NATed, from its real address, and the gateway rightly
# followed them there and back (the unexplained "stale" packets of earlier runs).
nat_prepare()
{
	NATPORT=$((NATPORT + 1))
	ip netns exec "$RT" nft -f - <<EOF
flush chain ip xbnat post
add rule ip xbnat post oifname "gw" meta l4proto udp masquerade to :$NATPORT
EOF
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

# packets PCAP: "ts src dst type length" per WireGuard datagram (type = first payload byte,
# length = UDP payload; a keepalive is a 32-byte data message).
packets()
{
	tcpdump -r "$1" -nn -tt --time-stamp-precision=nano -x 2>/dev/null | awk '
		/^[0-9]/ { if (ts != "") print ts, src, dst, typ, len
			ts = $1; src = $3; dst = $5; sub(/:$/, "", dst); typ = 0; len = $NF; next }
		$1 == "0x0010:" { typ = substr($8, 1, 2) + 0 }
		END { if (ts != "") print ts, src, dst, typ, len }'
}

# analyze SCEN SIDE IMPL ROUND: per switch, from $RUN/{switches,ping.log,pkts,events}.
#   tnew  = first initiation or data packet from the client at an address:port the gateway has
#           not been sending to (seen on the router's end of the gateway link)
#   follow   tnew -> first packet the gateway sends to that address:port
#   announce switch -> tnew: how long the client took to speak from its new path
#   lost     packets to the old address:port between the switch and tnew (sent before the
#            gateway could know; the move event's sent_to_old counts the same)
#   stale    packets to the old address:port after the move: for xdpwgd after its move event's
#            time (wall clock), for wireguard-go (no events) after tnew. Capture and event share
#            the clock; a packet sent before the move may be captured a few µs after it, never
#            the other way round. (After tnew alone would count what a gateway that had not
#            yet run sent to the old endpoint correctly, before it saw the new source.)
#   move     xdpwgd only: the move event's detect_ns (XDP saw the packet -> endpoint moved)
#   queue    xdpwgd only: the move event's queue_ns, the part of move spent before an AF_XDP
#            worker took the frame off its RX ring (the kernel's share)
#   reply    the first packet from the new address:port that asks for an answer -> the
#            gateway's first packet there: its own reaction time, without waiting for traffic.
#            An initiation asks for a response; in client and nat, data that is not a
#            keepalive is an echo request. (An xdpwgd client announces with a keepalive, which
#            asks for nothing: follow then includes up to one ping interval, 10 ms.)
#   gw_stalled 1 when the gateway was not getting the CPU around the switch (a loaded
#            machine), so that the switch's numbers measure that too: it sent nothing in the 30
#            ms before t0 although there is traffic every 10 ms, or (push, where it pings every
#            10 ms whatever the client does) nothing for more than 50 ms between t0 and its
#            first packet to the new address:port. Shown as a separate target line.
analyze()
{
	local scen=$1 side=$2 impl=$3 round=$4 k=0 s s1 next mv tmv qu capped fol stale lost ann rep bo stl
	mapfile -t SW <"$RUN/switches"
	grep 'bytes from' "$RUN/ping.log" | sed -n 's/^\[\([0-9.]*\)\].*/\1/p' >"$RUN/replies"
	# "wall_time detect_ns" per move event (empty for wireguard-go)
	jq -r '"\(.time) \(.detect_ns) \(.queue_ns // 0)"' "$RUN/events.json" 2>/dev/null >"$RUN/moves" || : >"$RUN/moves"
	for ((k = 0; k < ${#SW[@]}; k++)); do
		read -r s s1 capped <<<"${SW[$k]}"
		next=${SW[$((k + 1))]:-9999999999}
		next=${next%% *}
		# the longest gap between replies from the last one before the trigger started to the
		# first one after it returned (the uplink went down somewhere in between)
		bo=$(awk -v s="$s" -v s1="$s1" '$1 < s { last = $1; next }
			last != "" { g = $1 - last; if (g > max) max = g; last = $1 }
			$1 > s1 { if (max != "") printf "%.3f", max * 1000; exit }' "$RUN/replies")
		read -r tmv mv qu < <(awk -v s="$s" -v e="$next" '$1 >= s && $1 < e {
			printf "%s %.3f %s", $1, $2 / 1000, ($3 > 0 ? sprintf("%.3f", $3 / 1000) : "-"); exit }' "$RUN/moves")
		read -r fol stale lost ann rep stl < <(awk -v s="$s" -v e="$next" -v gw="$GWEP" -v sc="$scen" -v tmv="${tmv:-}" '
			$1 < s && $3 == gw { old = $2 }
			$1 >= s - 0.03 && $1 < s && $2 == gw { pre++ }
			# the longest pause in what the gateway sends, from t0 until it reaches the client
			$1 >= s && $1 < e && $2 == gw && tfol == "" {
				if (lastgw != "" && $1 - lastgw > gap) gap = $1 - lastgw
				lastgw = $1 }
			$1 < s && $2 == gw { lastgw = $1 }
			# the client back at the old source (or a third one) after the move: a later
			# move, not this switch; stop there
			tnew != "" && $3 == gw && $2 != nsrc && ($4 == 1 || $4 == 4) { e = $1 }
			$1 >= s && $1 < e {
				if ($2 == gw && $3 == old) {
					if (tnew == "") lost++
					else if (tmv == "" || $1 > tmv) stale++
				}
				if (tnew == "" && $3 == gw && $2 != old && ($4 == 1 || $4 == 4)) { tnew = $1; nsrc = $2 }
				if (tnew != "" && tfol == "" && $2 == gw && $3 == nsrc) tfol = $1
				if (tnew != "" && task == "" && $3 == gw && $2 == nsrc &&
				    ($4 == 1 || ($4 == 4 && $5 > 32 && sc !~ /^push/))) task = $1
				else if (task != "" && trep == "" && $2 == gw && $3 == nsrc) trep = $1
			}
			END { f = (tnew != "" && tfol != "") ? sprintf("%.3f", (tfol - tnew) * 1000) : "-"
				a = (tnew != "") ? sprintf("%.3f", (tnew - s) * 1000) : "-"
				r = (task != "" && trep != "") ? sprintf("%.3f", (trep - task) * 1000) : "-"
				# no new source: the client was not on the uplink that went down
				l = (tnew != "") ? lost + 0 : "-"
				st = (!pre || (sc ~ /^push/ && gap > 0.05)) ? 1 : 0
				printf "%s %d %s %s %s %d\n", f, stale, l, a, r, st }' "$RUN/pkts")
		printf '%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$scen" "$side" \
			"$impl" "$round" $((k + 1)) "${bo:--}" "${fol:--}" "${stale:-0}" "$capped" \
			"${lost:-0}" "${ann:--}" "${mv:--}" "${rep:--}" "${stl:-0}" "${qu:--}" >>"$RES"
	done
}

# run_roam SCEN SIDE IMPL ROUND NSWITCHES
run_roam()
{
	local scen=$1 side=$2 impl=$3 round=$4 n=$5 ka=0 k t t0 capped pingdst=192.0.2.1 pingns=cl
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
		# the switch happens between t0 (before the trigger) and t (it has returned): the
		# client may already have reacted before the command exits, so packets are sorted
		# old/new from t0, and the blackout is the longest reply gap across [t0, t]
		t0=$(now)
		if [ "$scen" = nat ]; then nat_trigger; else uplink_trigger; fi
		t=$(now)
		capped=0
		wait_reply_after "$RUN/ping.log" "$t" "$MAXWAIT" || capped=1
		echo "$t0 $t $capped" >>"$RUN/switches"
		[ "$scen" = nat ] || uplink_restore
		sleep "$SETTLE"
	done
	sleep 0.2
	b_kill "$pingp"
	# libpcap hands over packets in blocks: give it time to deliver the last ones before SIGTERM
	sleep 1
	b_kill "$tcpd"
	packets "$RUN/cap.pcap" >"$RUN/pkts"
	# the gateway's own account of each move (xdpwgd): dated from the XDP timestamp
	if [ "$impl" = xdpwgd ]; then
		t_at "$B_GW_PID" "$XDPWG_BUILD/xdpwgctl" events wg0 --json >"$RUN/events.json" 2>/dev/null
	fi
	analyze "$scen" "$side" "$impl" "$round"
	b_down
	[ "$scen" = nat ] && nat_teardown
	uplink_reset
	b_log "$scen $side round $round ($B_GW_MODE): $(awk -F'\t' -v s="$scen" -v d="$side" -v r="$round" \
		'$1 == s && $2 == d && $4 == r { printf "%s/%s ", $6, $7 }' "$RES")(blackout/follow ms)"
}

# ROAM_REANALYZE=DIR: recompute the tables from a run kept with T_KEEP=1 (its T_DIR), without
# running anything: the captures, ping logs and events are all there.
if [ -n "${ROAM_REANALYZE:-}" ]; then
	[ -f "$ROAM_REANALYZE/meta" ] || b_die "$ROAM_REANALYZE/meta: not a kept bench-roam run"
	# shellcheck disable=SC1091
	. "$ROAM_REANALYZE/meta"
	for scen in $SCENARIOS; do
		for ((round = 1; round <= ROUNDS; round++)); do
			for side in A B; do
				RUN=$ROAM_REANALYZE/$scen-$side-$round
				[ -d "$RUN" ] || continue
				impl=$B_A
				[ "$side" = B ] && impl=$B_B
				packets "$RUN/cap.pcap" >"$RUN/pkts"
				analyze "$scen" "$side" "$impl" "$round"
			done
		done
	done
	SCENARIOS_RUN=
else
	SCENARIOS_RUN=$SCENARIOS
	tcpdump_ts_args
	b_log "capture timestamps: ${TSTAMP[*]}"
fi
for scen in $SCENARIOS_RUN; do
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
[ -n "${ROAM_REANALYZE:-}" ] || declare -p STARTED B_A B_B B_B_LABEL SCENARIOS ROUNDS NSW NPUSH \
	MAXWAIT ROAM_DOWN 2>/dev/null | sed 's/^declare -- //' >"$T_DIR/meta"
[ "${BENCH_CLIENT:-}" = same ] && echo "BENCH_CLIENT=same" >>"$T_DIR/meta"

# --- table ---
col() # SCEN SIDE COLUMN [unstalled] -> values
{
	awk -F'\t' -v s="$1" -v d="$2" -v c="$3" -v u="${4:-}" \
		'NR > 1 && $1 == s && $2 == d && $c != "-" && !(u != "" && $14 == 1) { print $c }' "$RES"
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
	echo "xdpwg roaming benchmark, $STARTED, $(nproc --all) cores, kernel $(uname -r)"
	if [ "${BENCH_CLIENT:-}" = same ]; then
		echo "A = wireguard-go gateway and client; B = $B_B_LABEL gateway, xdpwgd socket client"
	else
		echo "A = wireguard-go gateway; B = $B_B_LABEL; client = wireguard-go"
	fi
	echo "switches: client/nat $NSW, push $NPUSH each, in $ROUNDS rounds A B A B; uplink down = $ROAM_DOWN; cap ${MAXWAIT}s; p50/p99/max; ratio = B/A"
	[ -n "${ROAM_CONFINED:-}" ] && echo "everything but B's AF_XDP workers confined to CPU $ROAM_CONFINED (taskset)"
	printf '%-10s %-12s %-26s %-26s %-6s %-6s %s\n' scenario metric "A p50/p99/max" \
		"B p50/p99/max" "r.p50" "r.p99" "n(A/B) capped(A/B)"
	for scen in $SCENARIOS; do
		for m in 6:blackout_ms 7:follow_ms 13:reply_ms 8:stale_pkts 10:lost_pkts 11:announce_ms 12:move_us 15:queue_us; do
			c=${m%%:*}
			# the gateway's move events: xdpwgd only
			{ [ "$c" = 12 ] || [ "$c" = 15 ]; } && [ -z "$(col "$scen" B "$c")" ] && continue
			read -r a50 a99 amax an <<<"$(cell "$scen" A "$c")"
			read -r b50 b99 bmax bn <<<"$(cell "$scen" B "$c")"
			ca=$(awk -F'\t' -v s="$scen" '$1 == s && $2 == "A" && $9 == 1' "$RES" | grep -c .)
			cb=$(awk -F'\t' -v s="$scen" '$1 == s && $2 == "B" && $9 == 1' "$RES" | grep -c .)
			printf '%-10s %-12s %-26s %-26s %-6s %-6s %s\n' "$scen" "${m#*:}" "$a50/$a99/$amax" \
				"$b50/$b99/$bmax" "$(b_ratio "$b50" "$a50")" "$(b_ratio "$b99" "$a99")" "$an/$bn $ca/$cb"
			[ "$c" = 6 ] || [ "$c" = 7 ] || [ "$c" = 13 ] || continue
			printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${m#*:}" "$scen" \
				"$a50" "$a50" "$amax" "$b50" "$b50" "$bmax" >>"$PLOT"
		done
	done
	# the issue's targets for xdpwgd (B), p99 over the switches
	target() # DESC SCEN COLUMN LIMIT
	{
		local v u n
		v=$(col "$2" B "$3" | b_pct 99)
		[ "$v" = - ] && return
		u=$(col "$2" B "$3" unstalled | b_pct 99)
		n=$(awk -F'\t' -v s="$2" 'NR > 1 && $1 == s && $2 == "B" && $14 == 1' "$RES" | grep -c .)
		printf 'target  %-44s B p99 %-10s %-7s without the %d gw-stalled: %-10s %s\n' "$1 <= $4" \
			"$v" "$(awk -v v="$v" -v l="$4" 'BEGIN { print (v <= l) ? "met" : "MISSED" }')" "$n" "$u" \
			"$(awk -v v="$u" -v l="$4" 'BEGIN { print (v != "-" && v <= l) ? "met" : "MISSED" }')"
	}
	case " $SCENARIOS " in *" push-ka0 "*) target "push-ka0 blackout ms" push-ka0 6 50 ;; esac
	for scen in $SCENARIOS; do
		target "$scen follow ms" "$scen" 7 0.05
		target "$scen reply ms" "$scen" 13 0.05
		target "$scen stale packets after the move" "$scen" 8 0
	done
} | tee "$TABLE"
cp "$RES" "$OUT/bench-roam.tsv"

if command -v gnuplot >/dev/null 2>&1 && [ -s "$PLOT" ]; then
	for m in blackout_ms follow_ms reply_ms; do
		grep -P "^$m\t" "$PLOT" | cut -f2- | sed 's/\t-/\tNaN/g' >"$T_DIR/$m.dat"
	done
	gnuplot <<EOF 2>>"$T_DIR/gnuplot.log" || b_log "gnuplot failed: $(tail -n2 "$T_DIR/gnuplot.log")"
set terminal pngcairo size 1200,1100 noenhanced
set output "$OUT/bench-roam.png"
set multiplot layout 3,1 title "xdpwg bench-roam $STARTED: A = wireguard-go, B = $B_B_LABEL (bar p50, whisker to max)"
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
set ylabel "gateway reply ms (packet asking an answer)"
plot "$T_DIR/reply_ms.dat" using 2:3:4:xtic(1) title "A wireguard-go", "" using 5:6:7 title "B $B_B_LABEL"
unset multiplot
EOF
fi
b_log "results: $TABLE, $OUT/bench-roam.tsv, $OUT/bench-roam.png"
