#!/usr/bin/env bash
# make bench: throughput of xdpwgd against wireguard-go as the gateway, in one run, same topology
# (tools/bench-lib.sh): the client (wireguard-go) talks through the router to the gateway.
#
# Per gateway implementation and repetition (A B A B ..., A = wireguard-go, B = xdpwgd):
#   TCP 1 stream and 4 streams (iperf3 -P 4), client->gateway and gateway->client (-R);
#   UDP client->gateway at fixed offered loads, goodput and loss %;
#   CPU seconds per GB moved, for the gateway's and the client's daemon (utime+stime deltas).
# Medians with min-max over the repetitions; ratio = B median / A median. The crypto ceiling
# (build/tools/crypto-bench, OpenSSL EVP ChaCha20-Poly1305 at 1420 B, one core) is measured in
# the same run. When xdpwgd cannot carry traffic yet, B is wireguard-go again (a placeholder,
# said in the table).
#
# Environment (defaults): BENCH_REPS (3), BENCH_SECONDS (5, each iperf3 run),
# BENCH_UDP_RATES ("200M 500M 1G"), BENCH_TCP (1: run the TCP tests), BENCH_XDP (0; 1 = xdpwgd
# --attach eth0 when supported), BENCH_CLIENT (wireguard-go | same), BENCH_OUT (build/bench).
# Runtime is about REPS * 2 * (4 + #rates) * (SECONDS + 1.5) s plus ~15 s: 4-5 min by default.
# Results: BENCH_OUT/bench.txt (the table), bench.json, bench.png.

. "$(dirname "$0")/bench-lib.sh"

b_require wireguard-go wg iperf3 jq nsenter unshare ping
REPS=${BENCH_REPS:-3}
SECS=${BENCH_SECONDS:-5}
RATES=${BENCH_UDP_RATES:-200M 500M 1G}
DO_TCP=${BENCH_TCP:-1}
OUT=${BENCH_OUT:-$XDPWG_BUILD/bench}
UDP_LEN=1392 # 1420 tunnel MTU - 20 IPv4 - 8 UDP
[[ $REPS =~ ^[0-9]+$ ]] && [ "$REPS" -ge 1 ] && [ "$REPS" -le 50 ] || b_die "BENCH_REPS 1..50"
[[ $SECS =~ ^[0-9]+$ ]] && [ "$SECS" -ge 1 ] && [ "$SECS" -le 120 ] || b_die "BENCH_SECONDS 1..120"
mkdir -p "$OUT" || b_die "mkdir $OUT"
RAW=$T_DIR/raw.tsv
: >"$RAW"
STARTED=$(date -u +%FT%TZ)

b_topology
# one iperf3 server for the whole run, on every address of the gateway namespace
b_bg gw "$T_DIR/iperf3-server.log" iperf3 -s
IPERF_PID=$B_BG_PID
t_wait 5 t_in gw sh -c 'ss -ltn | grep -q ":5201 "' || b_die "iperf3 server did not start"

# --- the crypto ceiling, same run ---
CRYPTO_LINE=
CRYPTO_MBS=-
if [ -x "$XDPWG_BUILD/tools/crypto-bench" ]; then
	CRYPTO_LINE=$(timeout 60 "$XDPWG_BUILD/tools/crypto-bench" 1 2>&1 | grep '1420 B' | head -n1)
	CRYPTO_MBS=$(sed -n 's/.*OpenSSL EVP *\([0-9.]*\) MB\/s.*/\1/p' <<<"$CRYPTO_LINE")
	[ -n "$CRYPTO_MBS" ] || CRYPTO_MBS=-
fi
b_log "crypto ceiling: ${CRYPTO_LINE:-crypto-bench not built}"

# responder handshakes per second vs the 4-X25519 bound (build/tools/hs-bench), same run
HS_LINE=
[ -x "$XDPWG_BUILD/tools/hs-bench" ] && HS_LINE=$(timeout 60 "$XDPWG_BUILD/tools/hs-bench" 2000 2>/dev/null | tail -n1)
b_log "handshakes: ${HS_LINE:-hs-bench not built}"
# BENCH_PEERS=N: load N peers into xdpwgd with one setconf (tools/peers-load.sh): time and RSS
PEERS_LINE=
if [ -n "${BENCH_PEERS:-}" ]; then
	PEERS_LINE=$(PEERS_COUNTS=$BENCH_PEERS PEERS_XDP=${BENCH_XDP:-0} T_PFX=${T_PFX}p \
		timeout 120 "$(dirname "$0")/peers-load.sh" 2>/dev/null | tail -n1)
	b_log "peers: ${PEERS_LINE:-peers-load.sh failed}"
fi

b_pick_impls
b_log "A = wireguard-go, B = $B_B_LABEL"

# tests: name|label|iperf3 args|kind
TESTS=()
if [ "$DO_TCP" = 1 ]; then
	TESTS+=("tcp1_up|TCP 1 stream  client->gw||tcp"
		"tcp1_down|TCP 1 stream  gw->client|-R|tcp"
		"tcp4_up|TCP 4 streams client->gw|-P 4|tcp"
		"tcp4_down|TCP 4 streams gw->client|-P 4 -R|tcp")
fi
for r in $RATES; do
	TESTS+=("udp_$r|UDP $r client->gw|-u -b $r -l $UDP_LEN|udp")
done

# run_test SIDE REP NAME ARGS KIND: one iperf3 run, appends to $RAW.
run_test()
{
	local side=$1 rep=$2 name=$3 args=$4 kind=$5 json g0 g1 c0 c1 bytes v
	json=$T_DIR/$side-$rep-$name.json
	g0=$(b_cpu "$B_GW_PID")
	c0=$(b_cpu "$B_CL_PID")
	# shellcheck disable=SC2086 # args are words
	timeout $((SECS + 20)) ip netns exec "$(t_nsname cl)" \
		iperf3 -c 192.0.2.1 -t "$SECS" -J --connect-timeout 3000 $args >"$json" 2>"$json.err"
	g1=$(b_cpu "$B_GW_PID")
	c1=$(b_cpu "$B_CL_PID")
	if ! jq -e '.end.sum_received or .end.sum' "$json" >/dev/null 2>&1 ||
		jq -e '.error' "$json" >/dev/null 2>&1; then
		b_log "  $side rep $rep $name: iperf3 failed: $(jq -r '.error // empty' "$json" 2>/dev/null | head -c 200)"
		return 1
	fi
	if [ "$kind" = tcp ]; then
		bytes=$(jq -r '.end.sum_received.bytes' "$json")
		v=$(jq -r '.end.sum_received.bits_per_second / 1e9' "$json")
		printf '%s\t%s\t%s\tgbps\t%s\n' "$side" "$rep" "$name" "$v" >>"$RAW"
	else
		bytes=$(jq -r "(.end.sum.packets - .end.sum.lost_packets) * $UDP_LEN" "$json")
		v=$(jq -r "(.end.sum.packets - .end.sum.lost_packets) * $UDP_LEN * 8 / .end.sum.seconds / 1e9" "$json")
		printf '%s\t%s\t%s\tgbps\t%s\n' "$side" "$rep" "$name" "$v" >>"$RAW"
		printf '%s\t%s\t%s\tloss\t%s\n' "$side" "$rep" "$name" "$(jq -r '.end.sum.lost_percent' "$json")" >>"$RAW"
	fi
	awk -v s="$side" -v r="$rep" -v n="$name" -v b="$bytes" -v g0="$g0" -v g1="$g1" \
		-v c0="$c0" -v c1="$c1" 'BEGIN { if (b > 0) {
			printf "%s\t%s\t%s\tgwcpu\t%.4f\n", s, r, n, (g1 - g0) / (b / 1e9)
			printf "%s\t%s\t%s\tclcpu\t%.4f\n", s, r, n, (c1 - c0) / (b / 1e9) } }' >>"$RAW"
	b_log "  $side rep $rep $name: $(printf '%.3f' "$v") Gbit/s"
}

for ((rep = 1; rep <= REPS; rep++)); do
	for side in A B; do
		impl=$B_A
		[ $side = B ] && impl=$B_B
		if ! b_up "$impl"; then
			b_log "rep $rep: $side ($impl) did not come up; skipped"
			continue
		fi
		[ $side = B ] && MODE_B=$B_GW_MODE
		b_log "rep $rep/$REPS side $side: gateway $B_GW_MODE, client $B_CL_IMPL"
		for t in "${TESTS[@]}"; do
			IFS='|' read -r name label args kind <<<"$t"
			run_test "$side" "$rep" "$name" "$args" "$kind"
			# give the daemons a moment to drain between runs
			sleep 0.2
		done
		b_down
	done
done
b_kill "$IPERF_PID"
[ -n "${MODE_B:-}" ] && [ "$B_B" = xdpwgd ] && B_B_LABEL=$MODE_B

# --- table ---
stat_of() # SIDE TEST METRIC -> "median min max n"
{
	awk -F'\t' -v s="$1" -v t="$2" -v m="$3" '$1 == s && $3 == t && $4 == m { print $5 }' "$RAW" | b_stats
}
fmt() # "median min max n" UNITSCALE -> "med [min-max]"
{
	# shellcheck disable=SC2086
	set -- $1
	if [ "$4" = 0 ]; then echo "-"; else printf '%.3g [%.3g-%.3g]' "$1" "$2" "$3"; fi
}

TABLE=$OUT/bench.txt
PLOTDAT=$T_DIR/plot.dat
JSONL=$T_DIR/rows.jsonl
: >"$PLOTDAT"
: >"$JSONL"
{
	echo "xdpwg throughput benchmark, $STARTED, $(nproc) cores, kernel $(uname -r)"
	echo "A = wireguard-go gateway; B = $B_B_LABEL; client = ${BENCH_CLIENT:-wireguard-go}"
	echo "$REPS reps A B A B, ${SECS}s per iperf3 run; median [min-max]; ratio = B/A (medians)"
	echo "crypto ceiling (1 core, OpenSSL EVP ChaCha20-Poly1305, 1420 B): ${CRYPTO_MBS} MB/s" \
		"= $(awk -v m="$CRYPTO_MBS" 'BEGIN { if (m == "-") print "-"; else printf "%.2f", m * 8 / 1000 }') Gbit/s"
	printf '%-26s %-12s %-22s %-22s %s\n' test metric "A wireguard-go" "B ${B_B%% *}" ratio
	for t in "${TESTS[@]}"; do
		IFS='|' read -r name label args kind <<<"$t"
		metrics="gbps gwcpu clcpu"
		[ "$kind" = udp ] && metrics="gbps loss gwcpu clcpu"
		for m in $metrics; do
			case $m in
			gbps) ml="Gbit/s" ;;
			loss) ml="loss %" ;;
			gwcpu) ml="gw CPU s/GB" ;;
			clcpu) ml="cl CPU s/GB" ;;
			esac
			sa=$(stat_of A "$name" "$m")
			sb=$(stat_of B "$name" "$m")
			ratio=$(b_ratio "${sb%% *}" "${sa%% *}")
			printf '%-26s %-12s %-22s %-22s %s\n' "$label" "$ml" "$(fmt "$sa")" "$(fmt "$sb")" "$ratio"
			# shellcheck disable=SC2086
			set -- $sa $sb
			jq -nc --arg test "$name" --arg lbl "$label" --arg metric "$m" \
				--arg am "$1" --arg an "$2" --arg ax "$3" --arg bm "$5" --arg bn "$6" --arg bx "$7" \
				--arg ratio "$ratio" \
				'def n: if . == "-" then null else tonumber end;
				{test: $test, "label": $lbl, metric: $metric,
				 a: {median: ($am|n), min: ($an|n), max: ($ax|n)},
				 b: {median: ($bm|n), min: ($bn|n), max: ($bx|n)}, ratio: ($ratio|n)}' >>"$JSONL"
			if [ "$m" = gbps ] || [ "$m" = gwcpu ]; then
				# $1..$8 are still "$sa $sb" from the set above
				printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$m" "$name" "$1" "$2" "$3" "$5" "$6" "$7" >>"$PLOTDAT"
			fi
		done
	done
	# bytes one gateway core moves (1 / CPU s per GB) as a fraction of what it could encrypt
	if [ "$CRYPTO_MBS" != - ]; then
		for t in "${TESTS[@]}"; do
			IFS='|' read -r name label args kind <<<"$t"
			sa=$(stat_of A "$name" gwcpu)
			sb=$(stat_of B "$name" gwcpu)
			fa=$(awk -v c="${sa%% *}" -v m="$CRYPTO_MBS" 'BEGIN { if (c > 0) printf "%.2f", 1000 / c / m; else print "-" }')
			fb=$(awk -v c="${sb%% *}" -v m="$CRYPTO_MBS" 'BEGIN { if (c > 0) printf "%.2f", 1000 / c / m; else print "-" }')
			printf '%-26s %-12s %-22s %-22s %s\n' "$label" "ceil/gwcore" "$fa" "$fb" "$(b_ratio "$fb" "$fa")"
		done
	fi
	[ -n "$HS_LINE" ] && echo "responder handshakes (hs-bench, 1 core): $HS_LINE"
	[ -n "$PEERS_LINE" ] && echo "configured peers (peers-load.sh, xdpwgd): $PEERS_LINE"
} | tee "$TABLE"

jq -n --arg started "$STARTED" --arg kernel "$(uname -r)" --arg cores "$(nproc)" \
	--arg a "wireguard-go" --arg b "$B_B_LABEL" --arg reps "$REPS" --arg secs "$SECS" \
	--arg crypto "$CRYPTO_MBS" --arg crypto_line "$CRYPTO_LINE" \
	--slurpfile rows "$JSONL" --rawfile raw "$RAW" \
	'{started: $started, kernel: $kernel, cores: ($cores|tonumber), a: $a, b: $b,
	  reps: ($reps|tonumber), seconds: ($secs|tonumber),
	  crypto_ceiling: {evp_1420_MBps: (if $crypto == "-" then null else ($crypto|tonumber) end),
			   line: $crypto_line},
	  rows: $rows,
	  raw: ($raw | split("\n") | map(select(length > 0) | split("\t")
		| {side: .[0], rep: (.[1]|tonumber), test: .[2], metric: .[3], value: (.[4]|tonumber? // null)}))}' \
	>"$OUT/bench.json" || b_log "writing bench.json failed"

if command -v gnuplot >/dev/null 2>&1 && [ -s "$PLOTDAT" ]; then
	grep -P '^gbps\t' "$PLOTDAT" | cut -f2- | sed "s/\t-/\tNaN/g" >"$T_DIR/gbps.dat"
	grep -P '^gwcpu\t' "$PLOTDAT" | cut -f2- | sed "s/\t-/\tNaN/g" >"$T_DIR/gwcpu.dat"
	gnuplot <<EOF 2>>"$T_DIR/gnuplot.log" || b_log "gnuplot failed: $(tail -n2 "$T_DIR/gnuplot.log")"
set terminal pngcairo size 1200,800 noenhanced
set output "$OUT/bench.png"
set multiplot layout 2,1 title "xdpwg bench $STARTED: A = wireguard-go, B = $B_B_LABEL (median, min-max)"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set xtics rotate by -20 noenhanced
set key top right
set grid ytics
set yrange [0:*]
set ylabel "Gbit/s"
plot "$T_DIR/gbps.dat" using 2:3:4:xtic(1) title "A wireguard-go", "" using 5:6:7 title "B $B_B_LABEL"
set ylabel "gateway CPU s/GB"
plot "$T_DIR/gwcpu.dat" using 2:3:4:xtic(1) title "A wireguard-go", "" using 5:6:7 title "B $B_B_LABEL"
unset multiplot
EOF
fi
b_log "results: $TABLE, $OUT/bench.json, $OUT/bench.png"
