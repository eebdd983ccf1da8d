#!/usr/bin/env bash
# make bench-cluster: roaming across the gateways of a cluster (issue #17), in the cluster lab
# of the tests (tests/net/cluster_lib.sh: a client with wifi and lte, an ECMP router with BIRD
# hashing on the 5-tuple, three gateways with the service address 198.18.1.1, an inside host).
#
# A = three wireguard-go gateways sharing one key behind the same router (no forwarding: a
# client the hash moves to another gateway costs a handshake); B = three xdpwgd gateways with
# XDP on eth0, ids 1..3, static membership (--cluster-gateway), --cluster-table (BIRD announces
# the client's tunnel address from the gateway that holds its session). Same run, A then B.
#
# Scenarios (CLUSTER_SCENARIOS):
#   roam   a stock wireguard-go client pings the gateway every 10 ms; its wifi goes away and it
#          rebinds its socket (a new port) on lte, picked so that the router's hash lands it on
#          ANOTHER gateway than the one holding its session: blackout (longest gap between echo
#          replies across the move) and new handshakes (the client's latest handshake changed);
#          then the control: the same with the new flow hashed to the holder itself
#   push   B only (wireguard-go gateways announce no routes for their clients): the inside host
#          pings a silent xdpwgd client every 10 ms; its wifi goes away, it moves to lte, hashed
#          to another gateway: blackout; then the control: the same with its lte flow hashed
#          to the holder itself (a move without forwarding)
#   kill   a stock wireguard-go client with persistent keepalive 25 s pings every 10 ms; the
#          gateway that holds its session is SIGKILLed (xdpwgd or wireguard-go, and its BIRD):
#          time until the replies are back, and handshakes (its own retry: a new handshake
#          15 s after data without an answer, keepalive 10 + rekey 5)
#   fwd    B only: iperf3 TCP from an xdpwgd client through the tunnel to the inside host,
#          CLUSTER_TPUT_S s, the client's flow hashed straight to the gateway that holds its
#          session ("direct") and to another one that forwards everything to it ("forwarded"),
#          alternated CLUSTER_TPUT_REPS times: forwarded / direct
#
# Environment (defaults): CLUSTER_REPS (5: roam, push), CLUSTER_KILL_REPS (1), CLUSTER_TPUT_REPS
# (2), CLUSTER_TPUT_S (4), CLUSTER_MAX_WAIT (25 s: cap on waiting for replies), CLUSTER_SCENARIOS
# ("roam push kill fwd"), BENCH_OUT (build/bench). Runtime ~4 min, most of it wireguard-go's
# 15 s handshake retry. Results: BENCH_OUT/bench-cluster.txt, bench-cluster.tsv.

# shellcheck source=bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"
# shellcheck source=../tests/net/cluster_lib.sh
. "$B_TOP/tests/net/cluster_lib.sh"
# shellcheck source=../tests/net/cluster_roam_lib.sh
. "$B_TOP/tests/net/cluster_roam_lib.sh"
# shellcheck source=../tests/net/roam_lib.sh
. "$B_TOP/tests/net/roam_lib.sh"

b_require wireguard-go wg bird birdc iperf3 jq nsenter unshare ping stdbuf python3
REPS=${CLUSTER_REPS:-5}
KREPS=${CLUSTER_KILL_REPS:-1}
TREPS=${CLUSTER_TPUT_REPS:-2}
TSECS=${CLUSTER_TPUT_S:-4}
MAXWAIT=${CLUSTER_MAX_WAIT:-25}
SCENARIOS=${CLUSTER_SCENARIOS:-roam push kill fwd}
OUT=${BENCH_OUT:-$XDPWG_BUILD/bench}
for v in REPS KREPS TREPS TSECS MAXWAIT; do
	[[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -ge 1 ] && [ "${!v}" -le 1000 ] || b_die "$v: 1..1000"
done
for s in $SCENARIOS; do
	case $s in roam | push | kill | fwd) ;; *) b_die "unknown scenario $s" ;; esac
done
[ -x "$XDPWG_BUILD/xdpwgd" ] || b_die "no $XDPWG_BUILD/xdpwgd (make first)"
mkdir -p "$OUT" || b_die "mkdir $OUT"
RES=$T_DIR/cluster.tsv
printf 'scenario\tside\timpl\trep\tmetric\tvalue\tcapped\n' >"$RES"
STARTED=$(date -u +%FT%TZ)

rec() # SCEN SIDE IMPL REP METRIC VALUE [CAPPED]
{
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" "${7:-0}" >>"$RES"
}

# the client (wg0, 192.0.2.2) fresh on wifi at port PORT
cl_fresh() # IMPL PORT [KEEPALIVE]
{
	[ -z "${CL:-}" ] || t_stop "$CL" 3 >/dev/null 2>&1
	ip -n "$CLNS" link del wg0 2>/dev/null
	wifi_back
	# no gateway keeps (and announces) a session of an earlier repetition
	local n
	for n in $(seq "$C_NGW"); do
		[ -z "$(c_gw_pid "$n")" ] && continue
		t_wg "$(c_gw_pid "$n")" set wg0 peer "$CL_PUB" remove
		t_wg "$(c_gw_pid "$n")" set wg0 peer "$CL_PUB" allowed-ips 192.0.2.2/32
	done
	cr_start_cl "$1" "$2" || return 1
	[ -z "${3:-}" ] || t_wg "$CL" set wg0 peer "$GW_PUB" persistent-keepalive "$3"
	t_wait 10 t_in cl ping -c1 -W1 192.0.2.1
}

# wifi back, and the client's route to the service address through it (bounded: 3 s): a
# first packet out of lte would be hashed elsewhere
wifi_back()
{
	ip -n "$CLNS" link set wifi up
	ip -n "$CLNS" addr replace 198.51.100.2/24 dev wifi nodad 2>/dev/null
	t_wait 3 sh -c "ip -n $CLNS route replace default via 198.51.100.1 dev wifi metric 100 &&
		ip -n $CLNS route get $C_SVC | grep -q 'dev wifi'" ||
		b_log "wifi did not come back as the client's route"
}

wifi_gone()
{
	ip -n "$CLNS" addr flush dev wifi
	ip -n "$CLNS" link set wifi down
}

cl_hs()
{
	t_wg "$CL" show wg0 latest-handshakes | awk 'NR == 1 { print $2 }'
}

# wait for steady replies in LOG (one in the last 0.1 s), bounded
steady()
{
	r_until 5 r_reply_after "$1" "$(awk -v t="$(r_now)" 'BEGIN { printf "%.6f", t - 0.1 }')"
}

# landed_count IMPL Y: for xdpwgd, what all gateways forwarded (data); for wireguard-go, what
# reached gateway Y's UDP port 51820 (nft counters: no XDP in front of it)
landed_count()
{
	local n t=0
	if [ "$1" = xdpwgd ]; then
		for n in $(seq "$C_NGW"); do
			t=$((t + $(cr_stat "$n" cluster_forwarded_data || echo 0)))
		done
		echo "$t"
	else
		c_gw_count "$2"
	fi
}

# run_roam SIDE IMPL [same]: the stock client moved to another gateway, REPS times; "same":
# the control, its new lte flow hashed to the holder itself (the move without a gateway change)
run_roam()
{
	local side=$1 impl=$2 k pa pa2 x h log capped bo hs0 hs1 y c0 c1 sfx=
	[ "${3:-}" = same ] && sfx=_same
	pa=51821
	x=$(cr_hash 198.51.100.2 wifi "$pa")
	for ((k = 1; k <= REPS; k++)); do
		cl_fresh wireguard-go "$pa" || {
			b_log "roam $side $k: no handshake"
			continue
		}
		h=$(cr_holder_of "$CL_PUB" | tail -n 1)
		if [ "$h" != "$x" ]; then
			b_log "roam $side $k: the session is on gw$h, not gw$x: repetition skipped"
			continue
		fi
		# a new port on lte that the router hashes to another gateway (each repetition its own)
		if [ -n "$sfx" ]; then
			pa2=$(cr_pick_port 203.0.113.2 lte $((52821 + 100 * k)) \
				"$(seq "$C_NGW" | grep -vx "$x" | tr '\n' ' ')") || b_die "no lte port to gw$x"
		else
			pa2=$(cr_pick_port 203.0.113.2 lte $((52821 + 100 * k)) "$x") ||
				b_die "no lte port off gw$x"
		fi
		y=$(cr_hash 203.0.113.2 lte "$pa2")
		log=$T_DIR/roam-$side-$k.log
		r_ping_bg cl 192.0.2.1 0.01 $((MAXWAIT + 10)) "$log"
		steady "$log"
		hs0=$(cl_hs)
		c0=$(landed_count "$impl" "$y")
		# in one go: the wifi uplink gone and the socket rebound (what a client's network
		# manager hook would do), no process start in between
		measure_move "$log" t_at "$CL" sh -c "ip addr flush dev wifi && ip link set wifi down &&
			wg set wg0 listen-port $pa2"
		bo=$MOVE_BO capped=$MOVE_CAPPED
		hs1=$(cl_hs)
		# where the flow really went: the prediction (the router's route lookup) is checked
		# against the receiving gateway's counters; a repetition that went elsewhere is dropped
		c1=$(landed_count "$impl" "$y")
		if [ -z "$sfx" ] && [ "$((c1 - c0))" -le 0 ]; then
			b_log "roam $side $k: the flow did not reach gw$y as predicted: repetition dropped"
			continue
		fi
		if [ -n "$sfx" ] && [ "$impl" = xdpwgd ] && [ "$((c1 - c0))" -gt 0 ]; then
			b_log "roam $side $k: control forwarded after all: repetition dropped"
			continue
		fi
		rec roam "$side" "$impl" "$k" "blackout${sfx}_ms" "$bo" "$capped"
		rec roam "$side" "$impl" "$k" "handshakes$sfx" "$([ "$hs1" = "$hs0" ] && echo 0 || echo 1)"
		b_log "roam $side $k: gw$x -> hashed to gw$y: blackout $bo ms, handshake $([ "$hs1" = "$hs0" ] && echo no || echo yes)"
	done
}

# run_push [same]: the inside host pings a silent xdpwgd client across a move, REPS times (B
# only); "same": the control, a port whose lte flow is hashed to the holder itself (the move
# without forwarding)
run_push()
{
	local k pb x y log capped bo metric=blackout_ms
	[ "${1:-}" = same ] && metric=blackout_same_ms
	for ((k = 1; k <= REPS; k++)); do
		# one port whose wifi and lte flows hash to different gateways (the same one)
		pb=
		for p in $(seq $((51900 + 20 * k)) $((51999 + 20 * k))); do
			x=$(cr_hash 198.51.100.2 wifi "$p")
			y=$(cr_hash 203.0.113.2 lte "$p")
			[ -n "$x" ] && [ -n "$y" ] || continue
			if [ "${1:-}" = same ]; then
				[ "$x" = "$y" ] && pb=$p && break
			else
				[ "$x" != "$y" ] && pb=$p && break
			fi
		done
		[ -n "$pb" ] || b_die "no port for the push scenario in 100 tries"
		cl_fresh xdpwgd "$pb" || {
			b_log "push B $k: no handshake"
			continue
		}
		t_wait 5 c_rt_via 192.0.2.2 "$(c_gw_addr "$x")" || b_log "push B $k: not routed via gw$x"
		log=$T_DIR/push-$k.log
		r_ping_bg in 192.0.2.2 0.01 $((MAXWAIT + 10)) "$log"
		steady "$log"
		measure_move "$log" wifi_gone
		bo=$MOVE_BO capped=$MOVE_CAPPED
		rec push B xdpwgd "$k" "$metric" "$bo" "$capped"
		b_log "push B $k: gw$x holds, lte hashed to gw$y: blackout $bo ms"
	done
}

# measure_move LOG CMD...: with the pings of LOG (r_ping_bg, R_PING_PID) flowing, run CMD (the
# move) and wait for a reply after it; MOVE_BO: the longest reply gap around it in ms,
# MOVE_CAPPED 1 when none came within MAXWAIT. The pings are stopped.
measure_move()
{
	local log=$1 t0 t1
	shift
	sleep 0.3
	t0=$(r_now)
	"$@"
	t1=$(r_now)
	MOVE_CAPPED=0
	r_wait_reply_after "$log" "$t1" "$MAXWAIT" || MOVE_CAPPED=1
	sleep 0.3
	b_kill "$R_PING_PID"
	MOVE_BO=$(r_blackout "$log" "$t0" "$t1")
}

# gw_restart N: gateway N back after a kill (its BIRD, its daemon), BGP up again
gw_restart()
{
	local n=$1
	ip -n "$(t_nsname "gw$n")" link del wg0 2>/dev/null
	c_bird_start "gw$n" "$T_DIR/gw$n.conf" || return 1
	cr_start_gw "$CR_GW_IMPL" "$n" || return 1
	t_wg "$(c_gw_pid "$n")" set wg0 peer "$CL_PUB" allowed-ips 192.0.2.2/32
	t_wait 20 c_bgp_established "$C_NGW" && t_wait 5 c_rt_nnexthops "$C_SVC" "$C_NGW"
}

# run_kill SIDE IMPL: the holder of a keepalive-25 stock client killed, KREPS times
run_kill()
{
	local side=$1 impl=$2 k x log t0 t1 capped back hs0 hs1
	for ((k = 1; k <= KREPS; k++)); do
		cl_fresh wireguard-go $((51830 + k)) 25 || {
			b_log "kill $side $k: no handshake"
			continue
		}
		# the holder: the one gateway with a handshake (cl_fresh removed the others' sessions)
		x=$(cr_holder_of "$CL_PUB" | tail -n 1)
		log=$T_DIR/kill-$side-$k.log
		r_ping_bg cl 192.0.2.1 0.01 $((MAXWAIT + 10)) "$log"
		steady "$log"
		hs0=$(cl_hs)
		sleep 0.3
		t0=$(r_now)
		disown "$(c_gw_pid "$x")" 2>/dev/null
		c_kill_gw "$x"
		# a reply up to 50 ms after the kill was on its way already
		t1=$(awk -v t="$(r_now)" 'BEGIN { printf "%.6f", t + 0.05 }')
		capped=0
		r_wait_reply_after "$log" "$t1" "$MAXWAIT" || capped=1
		back=$(sed -n 's/^\[\([0-9.]*\)\] .*bytes from.*/\1/p' "$log" |
			awk -v t="$t1" -v t0="$t0" '$1 > t { printf "%.3f\n", $1 - t0; exit }')
		b_kill "$R_PING_PID"
		hs1=$(cl_hs)
		rec kill "$side" "$impl" "$k" back_s "${back:--}" "$capped"
		rec kill "$side" "$impl" "$k" handshakes "$([ "$hs1" = "$hs0" ] && echo 0 || echo 1)"
		b_log "kill $side $k: gw$x killed: back after ${back:--} s"
		gw_restart "$x" || b_die "gw$x did not come back"
	done
}

# run_fwd: iperf3 through the tunnel, direct and forwarded (B only)
run_fwd()
{
	local k x pd pf mode port bps f0 f1 y
	pd=51821
	x=$(cr_hash 198.51.100.2 wifi "$pd")
	pf=$(cr_pick_port 198.51.100.2 wifi 53821 "$x") || b_die "no wifi port off gw$x"
	y=$(cr_hash 198.51.100.2 wifi "$pf")
	cl_fresh xdpwgd "$pd" || return 1
	b_bg in "$T_DIR/iperf3-s.log" iperf3 -s -B 198.18.2.2
	IPERF=$B_BG_PID
	t_wait 5 t_in in sh -c 'ss -ltn | grep -q ":5201 "'
	for ((k = 1; k <= TREPS; k++)); do
		for mode in direct forwarded; do
			port=$pd
			[ "$mode" = forwarded ] && port=$pf
			t_wg "$CL" set wg0 listen-port "$port"
			t_wait 5 t_in cl ping -c1 -W1 192.0.2.1
			f0=$(cr_stat "$y" cluster_forwarded_data)
			bps=$(t_in cl iperf3 -c 198.18.2.2 -t "$TSECS" -J 2>/dev/null |
				jq -r '.end.sum_received.bits_per_second // empty')
			f1=$(cr_stat "$y" cluster_forwarded_data)
			rec fwd B xdpwgd "$k" "${mode}_mbps" "$(awk -v b="${bps:-0}" 'BEGIN { printf "%.1f", b / 1e6 }')"
			b_log "fwd $k: $mode (gw$([ "$mode" = direct ] && echo "$x" || echo "$y -> gw$x")): $(awk -v b="${bps:-0}" 'BEGIN { printf "%.1f", b / 1e6 }') Mbit/s, gw$y forwarded $((${f1:-0} - ${f0:-0})) packets"
		done
	done
	b_kill "$IPERF"
}

b_log "cluster lab: namespaces, BIRD, ECMP"
c_topology
c_bird_up || b_die "BIRD: BGP sessions not established"
t_wait 10 c_rt_nnexthops "$C_SVC" 3 || b_die "no ECMP route to the service address"
cr_mux_on || b_die "no XDP program on the router's ports"
c_gw_count_start 51820 || b_die "no nft counters in the gateways"

for side in A B; do
	impl=wireguard-go
	[ "$side" = B ] && impl=xdpwgd
	cr_start_gws "$impl" "$CL_PUB@192.0.2.2/32" || b_die "$impl gateways did not start"
	b_log "side $side: $impl gateways"
	for scen in $SCENARIOS; do
		case $scen in
		roam) { run_roam "$side" "$impl"; run_roam "$side" "$impl" same; } ;;
		push) [ "$side" = B ] && { run_push; run_push same; } ;;
		kill) run_kill "$side" "$impl" ;;
		fwd) [ "$side" = B ] && run_fwd ;;
		esac
	done
	[ -z "${CL:-}" ] || t_stop "$CL" 3 >/dev/null 2>&1
	CL=
	ip -n "$CLNS" link del wg0 2>/dev/null
	cr_stop_gws
done

# --- table ---
col() # SCEN SIDE METRIC -> values
{
	awk -F'\t' -v s="$1" -v d="$2" -v m="$3" \
		'NR > 1 && $1 == s && $2 == d && $5 == m && $6 != "-" { print $6 }' "$RES"
}
ncapped()
{
	awk -F'\t' -v s="$1" -v d="$2" -v m="$3" 'NR > 1 && $1 == s && $2 == d && $5 == m && $7 == 1' "$RES" | grep -c .
}
cell() # VALUES DIGITS -> "med [min-max] p99"
{
	[ -n "$1" ] || {
		echo "-"
		return
	}
	printf '%s p99 %s' "$(b_fmt_fixed "$(b_stats <<<"$1")" "$2")" "$(b_num "$(b_pct 99 <<<"$1")" "$2")"
}
TABLE=$OUT/bench-cluster.txt
{
	echo "xdpwg bench-cluster (roaming across gateways), $STARTED, $(nproc --all) cores, kernel $(uname -r)"
	echo "A = 3 wireguard-go gateways, one key, behind an ECMP router (BIRD, L4 hash); B = 3 xdpwgd gateways (XDP on eth0, ids 1..3, static membership)"
	echo "repetitions: roam/push $REPS, kill $KREPS, fwd $TREPS x ${TSECS} s; cap ${MAXWAIT} s; cells: median [min-max] p99; ratio = B/A"
	printf '%-52s %-34s %-34s %-6s %s\n' row A B ratio "target (B)"
	row() # DESC SCEN METRIC DIGITS TARGET
	{
		local av bv
		av=$(col "$2" A "$3")
		bv=$(col "$2" B "$3")
		printf '%-52s %-34s %-34s %-6s %s\n' "$1" "$(cell "$av" "$4")" "$(cell "$bv" "$4")" \
			"$(b_ratio "$(b_pct 99 <<<"$bv")" "$(b_pct 99 <<<"$av")")" "$5"
	}
	verdict() # VALUE LIMIT
	{
		awk -v v="$1" -v l="$2" 'BEGIN { print (v != "-" && v != "" && v <= l) ? "met" : "MISSED" }'
	}
	case " $SCENARIOS " in *" roam "*)
		row "cross-gateway roam, stock client: blackout ms" roam blackout_ms 0 \
			"p99 <= 50: $(verdict "$(col roam B blackout_ms | b_pct 99)" 50) (capped A/B $(ncapped roam A blackout_ms)/$(ncapped roam B blackout_ms))"
		row "  ... new handshakes per move" roam handshakes 0 \
			"0: $(verdict "$(col roam B handshakes | b_pct 100)" 0)"
		row "  ... control: lte hashed to the holder itself" roam blackout_same_ms 0 \
			"(the same move on one gateway)"
		row "  ... control: new handshakes" roam handshakes_same 0 "" ;;
	esac
	case " $SCENARIOS " in *" push "*)
		row "gateway-pushed, silent xdpwgd client: blackout ms" push blackout_ms 0 \
			"p99 <= 50: $(verdict "$(col push B blackout_ms | b_pct 99)" 50) (A: wireguard-go gateways announce no routes)"
		row "  ... control: lte hashed to the holder itself" push blackout_same_ms 0 \
			"(the same move without forwarding)" ;;
	esac
	printf '%-52s %s\n' "peer added in etcd, usable on all gateways: p99" \
		"the next table (bench/bench-cluster-etcd.sh, its own lab)"
	printf '%-52s %s\n' "100,000 peers: first sync of a new gateway" \
		"the next table (bench/bench-cluster-etcd.sh, its own lab)"
	case " $SCENARIOS " in *" kill "*)
		row "gateway killed, stock client ka 25 s: back after s" kill back_s 2 \
			"<= retry 15 s + 1: $(verdict "$(col kill B back_s | b_pct 100)" 16)"
		row "  ... handshakes" kill handshakes 0 "1" ;;
	esac
	case " $SCENARIOS " in *" fwd "*)
		d=$(col fwd B direct_mbps | b_stats)
		f=$(col fwd B forwarded_mbps | b_stats)
		r=$(b_ratio "${f%% *}" "${d%% *}")
		printf '%-52s %-34s %-34s %-6s %s\n' "forwarding cost: iperf3 Mbit/s, B direct | forwarded" \
			"$(b_fmt_fixed "$d" 0)" "$(b_fmt_fixed "$f" 0)" "$r" \
			"forwarded/direct >= 0.8: $(verdict "$(awk -v r="$r" 'BEGIN { print (r == "-") ? "-" : -r }')" -0.8)" ;;
	esac
} | tee "$TABLE"
cp "$RES" "$OUT/bench-cluster.tsv"
b_log "results: $TABLE, $OUT/bench-cluster.tsv"
