#!/usr/bin/env bash
# make bench: throughput of xdpwgd against wireguard-go in one run, on one topology
# (bench/bench-lib.sh): a client talks through the router to the gateway; XDP on the gateway's
# eth0 when BENCH_XDP=1 (the default).
#
# Sides, run in turn per repetition (A B C D A B C D ...):
#   A  wireguard-go gateway,            wireguard-go client   (the reference pair)
#   B  xdpwgd gateway (--attach eth0),  xdpwgd client (socket) (the same-implementation pair:
#      the headline ratio B/A)
#   C  xdpwgd gateway,                  wireguard-go client   (BENCH_WGGO_CLIENT=1; TCP only;
#      the mixed pair of earlier runs, ratio C/A)
#   D  as B with BENCH_SCALE_PEERS (100000) idle peers loaded into the gateway first: one
#      active peer among N+1 (TCP 1 stream both ways, ratio D/B), with the load time and RSS;
#      D and B also run the TCP 1 stream rows with IPv6 inside the tunnel, the family of the
#      idle peers' allowed IPs
#   M  (opt-in: BENCH_MILLION=1) as D with 1,000,000 idle peers: one active among 1,000,001,
#      with the load time and RSS; the run also gains the million-peer figures of
#      bench/peers-load.sh (PEERS_OPS=1: load, RSS, add/remove one peer, show times, idle CPU)
#      and the responder's handshake rate with a million idle peers (hs-bench 2000 1000000)
# Tests: TCP 1 and 4 streams (iperf3 -P 4), client->gateway and gateway->client (-R); UDP
# client->gateway at fixed offered loads, goodput and loss %; CPU seconds per GB for each side's
# daemons (utime+stime deltas from /proc); for the gateway, tunnel bytes (wg transfer, both
# directions: what was encrypted plus decrypted) per CPU second of its crypto workers (xdpwgd's
# "xdpwg-wk*" threads; wireguard-go's and a socket-mode xdpwgd's whole process) as a fraction
# of the crypto ceiling (build/bench/crypto-bench: OpenSSL EVP ChaCha20-Poly1305, 1420 B, one
# core; before the first repetition and after each, median).
# Medians with min-max over the repetitions; ratio = median / median.
#
# Environment (defaults): BENCH_REPS (3), BENCH_SECONDS (3, each iperf3 run),
# BENCH_UDP_RATES ("200M 500M 1G"), BENCH_TCP (1), BENCH_XDP (1; 0 = xdpwgd socket mode),
# BENCH_CLIENT (same | wireguard-go: B's client; with wireguard-go there is no C),
# BENCH_WGGO_CLIENT (1), BENCH_SCALE_PEERS (100000; 0 = no D), BENCH_MILLION (0; 1 = side M and
# the million-peer figures, ~5 min more and 2 GB of RAM), BENCH_OUT (build/bench);
# BENCH_E_BUILD / BENCH_E_ENV: side E, an xdpwgd pair from another build directory and/or with
# extra environment (XDPWG_NO_TUN_GRO=1 ...), compared with B in the same run.
# Runtime about REPS * (7 + 7 + 4 + 2 tests) * (SECONDS + ~2) s plus ~25 s per rep for
# start-ups and the 100k-peer load: 7-8 min by default.
# Results: BENCH_OUT/bench.txt (the table), bench.json, bench.png.

. "$(dirname "$0")/bench-lib.sh"

b_require wireguard-go wg iperf3 jq nsenter unshare ping
REPS=${BENCH_REPS:-3}
SECS=${BENCH_SECONDS:-3}
RATES=${BENCH_UDP_RATES:-200M 500M 1G}
DO_TCP=${BENCH_TCP:-1}
OUT=${BENCH_OUT:-$XDPWG_BUILD/bench}
export BENCH_XDP=${BENCH_XDP:-1}
CLIENT=${BENCH_CLIENT:-same}
WGGO_CL=${BENCH_WGGO_CLIENT:-1}
SCALE=${BENCH_SCALE_PEERS:-100000}
MILLION=${BENCH_MILLION:-0}
MILLION_N=1000000
UDP_LEN=1392 # 1420 tunnel MTU - 20 IPv4 - 8 UDP
[[ $REPS =~ ^[0-9]+$ ]] && [ "$REPS" -ge 1 ] && [ "$REPS" -le 50 ] || b_die "BENCH_REPS 1..50"
[[ $SECS =~ ^[0-9]+$ ]] && [ "$SECS" -ge 1 ] && [ "$SECS" -le 120 ] || b_die "BENCH_SECONDS 1..120"
[[ $SCALE =~ ^[0-9]+$ ]] && [ "$SCALE" -le 1000000 ] || b_die "BENCH_SCALE_PEERS 0..1000000"
[ "$CLIENT" = same ] || [ "$CLIENT" = wireguard-go ] || b_die "BENCH_CLIENT same|wireguard-go"
[ "$MILLION" = 0 ] || [ "$MILLION" = 1 ] || b_die "BENCH_MILLION 0|1"
mkdir -p "$OUT" || b_die "mkdir $OUT"
RAW=$T_DIR/raw.tsv
: >"$RAW"
STARTED=$(date -u +%FT%TZ)

b_topology
# one iperf3 server for the whole run, on every address of the gateway namespace
b_bg gw "$T_DIR/iperf3-server.log" iperf3 -s
IPERF_PID=$B_BG_PID
t_wait 5 t_in gw sh -c 'ss -ltn | grep -q ":5201 "' || b_die "iperf3 server did not start"

# --- the crypto ceiling, same run: before the first repetition and after each, median ---
CRYPTO_LINE=
CEILS=$T_DIR/ceilings
: >"$CEILS"
measure_ceiling()
{
	local line mbs
	[ -x "$XDPWG_BUILD/bench/crypto-bench" ] || return 0
	line=$(timeout 60 "$XDPWG_BUILD/bench/crypto-bench" 1 2>&1 | grep '1420 B' | head -n1)
	mbs=$(sed -n 's/.*OpenSSL EVP *\([0-9.]*\) MB\/s.*/\1/p' <<<"$line")
	[ -n "$mbs" ] && echo "$mbs" >>"$CEILS"
	[ -n "$CRYPTO_LINE" ] || CRYPTO_LINE=$line
	b_log "crypto ceiling: ${line:-crypto-bench failed}"
}
measure_ceiling

# responder handshakes per second vs the 4-X25519 bound (build/bench/hs-bench), same run
HS_LINE=
[ -x "$XDPWG_BUILD/bench/hs-bench" ] && HS_LINE=$(timeout 60 "$XDPWG_BUILD/bench/hs-bench" 2000 2>/dev/null | tail -n1)
b_log "handshakes: ${HS_LINE:-hs-bench not built}"
# BENCH_PEERS=N: load N peers into xdpwgd with one setconf (bench/peers-load.sh): time and RSS
PEERS_LINE=
if [ -n "${BENCH_PEERS:-}" ]; then
	PEERS_LINE=$(PEERS_COUNTS=$BENCH_PEERS PEERS_XDP=$BENCH_XDP T_PFX=${T_PFX}p \
		timeout 120 "$(dirname "$0")/peers-load.sh" 2>/dev/null | tail -n1)
	b_log "peers: ${PEERS_LINE:-peers-load.sh failed}"
fi
# BENCH_MILLION=1: the million-peer figures (bench/peers-load.sh PEERS_OPS=1) and the responder's
# handshake rate with a million idle peers beside its one-peer figure (HS_LINE)
MILLION_LINE=
HS_M_LINE=
if [ "$MILLION" = 1 ]; then
	MILLION_LINE=$(PEERS_COUNTS=$MILLION_N PEERS_XDP=$BENCH_XDP PEERS_OPS=1 T_PFX=${T_PFX}m \
		timeout 900 "$(dirname "$0")/peers-load.sh" 2>/dev/null | tail -n1)
	b_log "million peers: ${MILLION_LINE:-peers-load.sh failed}"
	[ -x "$XDPWG_BUILD/bench/hs-bench" ] &&
		HS_M_LINE=$(timeout 300 "$XDPWG_BUILD/bench/hs-bench" 2000 "$MILLION_N" 2>/dev/null | tail -n1)
	b_log "handshakes, $MILLION_N idle peers: ${HS_M_LINE:-hs-bench failed}"
fi

BENCH_CLIENT=$CLIENT b_pick_impls
b_log "A = wireguard-go pair, B = $B_B_LABEL (client: $CLIENT)"

# tests: name|label|iperf3 args|kind|server (default 192.0.2.1)
TESTS=()
if [ "$DO_TCP" = 1 ]; then
	TESTS+=("tcp1_up|TCP 1 stream  client->gw||tcp"
		"tcp1_down|TCP 1 stream  gw->client|-R|tcp"
		"tcp4_up|TCP 4 streams client->gw|-P 4|tcp"
		"tcp4_down|TCP 4 streams gw->client|-P 4 -R|tcp")
	# IPv6 inside the tunnel, B, D and M only: D's and M's idle peers have IPv6 /128s (the documentation
	# IPv4 range has room for 256), so only IPv6 traffic walks an allowed-IPs trie that holds
	# them, on the way in (source check) and out (destination lookup)
	{ [ "$SCALE" -gt 0 ] || [ "$MILLION" = 1 ]; } && TESTS+=("tcp1_up_v6|TCP 1 stream  up, IPv6 in||tcp|2001:db8::1"
		"tcp1_down_v6|TCP 1 stream  down, IPv6 in|-R|tcp|2001:db8::1")
fi
for r in $RATES; do
	TESTS+=("udp_$r|UDP $r client->gw|-u -b $r -l $UDP_LEN|udp")
done

# sides: letter|gateway impl|client impl|extra idle peers on the gateway|tests (all, tcp, tcp1)
B_CL=wireguard-go
[ "$CLIENT" = same ] && B_CL=$B_B
SIDES=("A|$B_A|$B_A|0|all" "B|$B_B|$B_CL|0|all")
if [ "$B_B" = xdpwgd ] && [ "$CLIENT" = same ] && [ "$WGGO_CL" = 1 ] && [ "$DO_TCP" = 1 ]; then
	SIDES+=("C|xdpwgd|wireguard-go|0|tcp")
fi
if [ "$B_B" = xdpwgd ] && [ "$SCALE" -gt 0 ] && [ "$DO_TCP" = 1 ]; then
	SIDES+=("D|xdpwgd|$B_CL|$SCALE|tcp1")
fi
if [ "$B_B" = xdpwgd ] && [ "$MILLION" = 1 ] && [ "$DO_TCP" = 1 ]; then
	SIDES+=("M|xdpwgd|$B_CL|$MILLION_N|tcp1")
fi
# E: a second xdpwgd pair, from another build and/or with other environment (a lever's worth in
# the same run, ratio B/E): BENCH_E_BUILD=DIR (default: this build), BENCH_E_ENV="VAR=1 ..."
if [ "$B_B" = xdpwgd ] && { [ -n "${BENCH_E_BUILD:-}" ] || [ -n "${BENCH_E_ENV:-}" ]; }; then
	[ -x "${BENCH_E_BUILD:-$XDPWG_BUILD}/xdpwgd" ] || b_die "no ${BENCH_E_BUILD:-$XDPWG_BUILD}/xdpwgd"
	SIDES+=("E|xdpwgd|$B_CL|0|all")
fi
has_side() { printf '%s\n' "${SIDES[@]}" | grep -q "^$1|"; }

# side_runs SIDESPEC TESTNAME: does this side run this test?
side_runs()
{
	case ${1##*|} in
	all) [[ $2 != *_v6 || $1 == B\|* ]] ;;
	tcp) [[ $2 == tcp* && $2 != *_v6 ]] ;;
	tcp1) [[ $2 == tcp1_* ]] ;;
	*) return 1 ;;
	esac
}

# b_cpu_workers PID: utime+stime of xdpwgd's crypto workers (threads "xdpwg-wk*"), seconds.
b_cpu_workers()
{
	local t f ticks=0
	for t in /proc/"$1"/task/*; do
		f=$(cat "$t/stat" 2>/dev/null) || continue
		case $f in *"(xdpwg-wk"*) ;; *) continue ;; esac
		f=${f##*) }
		# shellcheck disable=SC2086
		set -- $f
		ticks=$((ticks + ${12} + ${13}))
	done
	awk -v n="$ticks" -v t="$(getconf CLK_TCK)" 'BEGIN { printf "%.3f\n", n / t }'
}

# b_tunnel_bytes PID: rx + tx bytes over the daemon's peers (what it decrypted and encrypted).
b_tunnel_bytes()
{
	t_wg "$1" show wg0 transfer 2>/dev/null | awk '{ s += $2 + $3 } END { printf "%.0f\n", s }'
}

# run_test SIDE REP NAME ARGS KIND EXTRA SERVER: one iperf3 run, appends to $RAW.
run_test()
{
	local side=$1 rep=$2 name=$3 args=$4 kind=$5 extra=$6 server=${7:-192.0.2.1} json g0 g1 c0 c1 bytes v
	local w0=0 w1=0 t0=0 t1=0
	json=$T_DIR/$side-$rep-$name.json
	# with 100k peers a transfer dump costs the control thread: not for those runs
	if [ "$extra" = 0 ]; then
		t0=$(b_tunnel_bytes "$B_GW_PID")
		w0=$(b_cpu_workers "$B_GW_PID")
	fi
	g0=$(b_cpu "$B_GW_PID")
	c0=$(b_cpu "$B_CL_PID")
	# shellcheck disable=SC2086 # args are words
	timeout $((SECS + 20)) ip netns exec "$(t_nsname cl)" \
		iperf3 -c "$server" -t "$SECS" -J --connect-timeout 3000 $args >"$json" 2>"$json.err"
	g1=$(b_cpu "$B_GW_PID")
	c1=$(b_cpu "$B_CL_PID")
	if [ "$extra" = 0 ]; then
		w1=$(b_cpu_workers "$B_GW_PID")
		t1=$(b_tunnel_bytes "$B_GW_PID")
	fi
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
	# crypto per worker core: tunnel MB per CPU second of the crypto workers (over the
	# ceiling at the end); wireguard-go has no separate crypto threads: its whole process
	awk -v s="$side" -v r="$rep" -v n="$name" -v b="$bytes" -v g0="$g0" -v g1="$g1" \
		-v c0="$c0" -v c1="$c1" -v w0="$w0" -v w1="$w1" -v t0="$t0" -v t1="$t1" \
		-v impl="$B_GW_IMPL" 'BEGIN {
		if (b <= 0) exit
		printf "%s\t%s\t%s\tgwcpu\t%.4f\n", s, r, n, (g1 - g0) / (b / 1e9)
		printf "%s\t%s\t%s\tclcpu\t%.4f\n", s, r, n, (c1 - c0) / (b / 1e9)
		# xdpwgd in socket mode has no workers: its control thread does the crypto
		w = (impl == "xdpwgd" && w1 > w0) ? w1 - w0 : g1 - g0
		if (t1 > t0 && w > 0)
			printf "%s\t%s\t%s\twkMBps\t%.4f\n", s, r, n, (t1 - t0) / w / 1e6 }' >>"$RAW"
	b_log "  $side rep $rep $name: $(printf '%.3f' "$v") Gbit/s"
}

for ((rep = 1; rep <= REPS; rep++)); do
	for spec in "${SIDES[@]}"; do
		IFS='|' read -r side impl climpl extra _ <<<"$spec"
		[ "$extra" -gt 0 ] && : >"$T_DIR/peers-load.log"
		cl=wireguard-go
		[ "$climpl" = "$impl" ] && cl=same
		if [ "$side" = E ]; then
			OWN_BUILD=$XDPWG_BUILD
			XDPWG_BUILD=${BENCH_E_BUILD:-$XDPWG_BUILD}
			for kv in ${BENCH_E_ENV:-}; do export "${kv?}"; done
		fi
		BENCH_CLIENT=$cl BENCH_EXTRA_PEERS=$extra b_up "$impl"
		up=$?
		if [ "$side" = E ]; then
			XDPWG_BUILD=$OWN_BUILD
			for kv in ${BENCH_E_ENV:-}; do unset "${kv%%=*}"; done
		fi
		if [ $up != 0 ]; then
			b_log "rep $rep: $side ($impl) did not come up; skipped"
			continue
		fi
		[ "$side" = B ] && MODE_B=$B_GW_MODE
		if [ "$extra" -gt 0 ]; then
			ld=$(sed -n 's/.*apply_s \([0-9.]*\).*/\1/p' "$T_DIR/peers-load.log" | tail -n1)
			rss=$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$B_GW_PID/status")
			printf '%s\t%s\tsetup\tload_s\t%s\n' "$side" "$rep" "${ld:--}" >>"$RAW"
			printf '%s\t%s\tsetup\trss_mb\t%s\n' "$side" "$rep" "${rss:--}" >>"$RAW"
			b_log "rep $rep side $side: $extra peers more loaded in ${ld:-?} s, gateway RSS ${rss:-?} MB"
		fi
		b_log "rep $rep/$REPS side $side: gateway $B_GW_MODE, client $B_CL_IMPL"
		for t in "${TESTS[@]}"; do
			IFS='|' read -r name label args kind server <<<"$t"
			side_runs "$spec" "$name" || continue
			run_test "$side" "$rep" "$name" "$args" "$kind" "$extra" "$server"
			# give the daemons a moment to drain between runs
			sleep 0.2
		done
		b_down
	done
	measure_ceiling
done
b_kill "$IPERF_PID"
CRYPTO_MBS=$(b_stats <"$CEILS" | awk '{ print $1 }')
CEIL_SPREAD=$(b_stats <"$CEILS" | awk '$4 > 0 { printf "[%.0f-%.0f, %d runs]", $2, $3, $4 }')
awk -F'\t' -v c="$CRYPTO_MBS" '$4 == "wkMBps" && c != "-" {
	printf "%s\t%s\t%s\twkutil\t%.4f\n", $1, $2, $3, $5 / c }' "$RAW" >"$T_DIR/wkutil.tsv"
cat "$T_DIR/wkutil.tsv" >>"$RAW"
[ -n "${MODE_B:-}" ] && [ "$B_B" = xdpwgd ] && B_B_LABEL=$MODE_B

# --- table ---
stat_of() # SIDE TEST METRIC -> "median min max n"
{
	awk -F'\t' -v s="$1" -v t="$2" -v m="$3" \
		'$1 == s && $3 == t && $4 == m && $5 != "-" { print $5 }' "$RAW" | b_stats
}

TABLE=$OUT/bench.txt
PLOTDAT=$T_DIR/plot.dat
JSONL=$T_DIR/rows.jsonl
: >"$PLOTDAT"
: >"$JSONL"

# cmp_table X Y TITLE XNAME YNAME: Y against X, ratio Y/X, for the tests Y ran
cmp_table()
{
	local x=$1 y=$2 t name label args kind m ml metrics sx sy ratio
	echo
	echo "$3"
	printf '%-26s %-12s %-22s %-22s %s\n' test metric "$x $4" "$y $5" "$y/$x"
	for t in "${TESTS[@]}"; do
		IFS='|' read -r name label args kind _ <<<"$t"
		metrics="gbps gwcpu clcpu wkutil"
		[ "$kind" = udp ] && metrics="gbps loss gwcpu clcpu wkutil"
		for m in $metrics; do
			case $m in
			gbps) ml="Gbit/s" ;;
			loss) ml="loss %" ;;
			gwcpu) ml="gw CPU s/GB" ;;
			clcpu) ml="cl CPU s/GB" ;;
			wkutil) ml="crypto/core" ;;
			esac
			sx=$(stat_of "$x" "$name" "$m")
			sy=$(stat_of "$y" "$name" "$m")
			[ "${sy##* }" = 0 ] || [ "${sx##* }" = 0 ] && continue
			ratio=$(b_ratio "${sy%% *}" "${sx%% *}")
			printf '%-26s %-12s %-22s %-22s %s\n' "$label" "$ml" "$(b_fmt "$sx")" "$(b_fmt "$sy")" "$ratio"
			# shellcheck disable=SC2086
			set -- $sx $sy
			jq -nc --arg cmp "$y/$x" --arg test "$name" --arg lbl "$label" --arg metric "$m" \
				--arg am "$1" --arg an "$2" --arg ax "$3" --arg bm "$5" --arg bn "$6" --arg bx "$7" \
				--arg ratio "$ratio" \
				'def n: if . == "-" then null else tonumber end;
				{compare: $cmp, test: $test, "label": $lbl, metric: $metric,
				 base: {median: ($am|n), min: ($an|n), max: ($ax|n)},
				 cand: {median: ($bm|n), min: ($bn|n), max: ($bx|n)}, ratio: ($ratio|n)}' >>"$JSONL"
		done
	done
}

{
	echo "xdpwg throughput benchmark, $STARTED, $(nproc) cores, kernel $(uname -r)"
	echo "A = wireguard-go gateway + wireguard-go client"
	echo "B = $B_B_LABEL gateway + $B_CL client$([ "$B_CL" = xdpwgd ] && echo " (socket mode)")"
	has_side C && echo "C = $B_B_LABEL gateway + wireguard-go client"
	has_side E && echo "E = as B, xdpwgd from ${BENCH_E_BUILD:-this build}${BENCH_E_ENV:+ with $BENCH_E_ENV}"
	has_side D && echo "D = as B with $SCALE idle peers more on the gateway (one active among $((SCALE + 1)))"
	has_side M && echo "M = as B with $MILLION_N idle peers more on the gateway (one active among $((MILLION_N + 1)))"
	echo "$REPS reps, sides in turn, ${SECS}s per iperf3 run; median [min-max]; ratio of medians"
	echo "crypto ceiling (1 core, OpenSSL EVP ChaCha20-Poly1305, 1420 B): ${CRYPTO_MBS} MB/s $CEIL_SPREAD" \
		"= $(awk -v m="$CRYPTO_MBS" 'BEGIN { if (m == "-") print "-"; else printf "%.2f", m * 8 / 1000 }') Gbit/s"
	echo "crypto/core = gateway tunnel bytes (in + out) per CPU second of its crypto workers / ceiling"
	if [ "$B_CL" = "$B_B" ]; then
		cmp_table A B "== same implementation on both ends (the headline) ==" wireguard-go "${B_B%% *}"
	else
		cmp_table A B "== wireguard-go client, gateway swapped ==" wireguard-go "${B_B%% *}"
	fi
	has_side C && cmp_table A C "== wireguard-go client, gateway swapped ==" wireguard-go "${B_B%% *}"
	has_side E && cmp_table E B "== this build against E (${BENCH_E_BUILD:-this build} ${BENCH_E_ENV:-}) ==" \
		E B
	if has_side D; then
		cmp_table B D "== one active peer among $((SCALE + 1)) configured ==" "1 peer" "$((SCALE + 1)) peers"
		printf '%-26s %-12s %-22s\n' "setconf $SCALE peers" "apply s" "$(b_fmt "$(stat_of D setup load_s)")"
		printf '%-26s %-12s %-22s\n' "gateway after setconf" "RSS MB" "$(b_fmt "$(stat_of D setup rss_mb)")"
	fi
	if has_side M; then
		cmp_table B M "== one active peer among $((MILLION_N + 1)) configured ==" "1 peer" "$((MILLION_N + 1)) peers"
		printf '%-26s %-12s %-22s\n' "setconf $MILLION_N peers" "apply s" "$(b_fmt "$(stat_of M setup load_s)")"
		printf '%-26s %-12s %-22s\n' "gateway after setconf" "RSS MB" "$(b_fmt "$(stat_of M setup rss_mb)")"
	fi
	echo
	[ -n "$HS_LINE" ] && echo "responder handshakes (hs-bench, 1 core): $HS_LINE"
	[ -n "$PEERS_LINE" ] && echo "configured peers (peers-load.sh, xdpwgd): $PEERS_LINE"
	[ -n "$HS_M_LINE" ] && echo "responder handshakes, $MILLION_N idle peers (hs-bench): $HS_M_LINE"
	[ -n "$MILLION_LINE" ] && echo "a million peers (peers-load.sh PEERS_OPS=1, xdpwgd): $MILLION_LINE"
} | tee "$TABLE"

for t in "${TESTS[@]}"; do
	name=${t%%|*}
	line=$name
	for sd in A B C D E; do
		# shellcheck disable=SC2046
		set -- $(stat_of "$sd" "$name" gbps)
		if [ "$4" = 0 ]; then line+=$'\tNaN\tNaN\tNaN'; else line+=$'\t'"$1"$'\t'"$2"$'\t'"$3"; fi
	done
	printf '%s\n' "$line" >>"$PLOTDAT"
done

jq -n --arg started "$STARTED" --arg kernel "$(uname -r)" --arg cores "$(nproc)" \
	--arg b "$B_B_LABEL" --arg bcl "$B_CL" --arg reps "$REPS" --arg secs "$SECS" \
	--arg scale "$SCALE" --arg crypto "$CRYPTO_MBS" --arg crypto_line "$CRYPTO_LINE" \
	--arg hs "$HS_LINE" --slurpfile rows "$JSONL" --rawfile raw "$RAW" \
	--arg million "$MILLION_N" --arg million_line "$MILLION_LINE" --arg hs_m "$HS_M_LINE" \
	'{started: $started, kernel: $kernel, cores: ($cores|tonumber),
	  sides: {A: "wireguard-go gateway + wireguard-go client",
		  B: ($b + " gateway + " + $bcl + " client"),
		  C: ($b + " gateway + wireguard-go client"),
		  D: ("as B with " + $scale + " idle peers more on the gateway"),
		  M: ("as B with " + $million + " idle peers more on the gateway")},
	  million: {peers: $million_line, handshakes: $hs_m},
	  reps: ($reps|tonumber), seconds: ($secs|tonumber),
	  crypto_ceiling: {evp_1420_MBps: (if $crypto == "-" then null else ($crypto|tonumber) end),
			   line: $crypto_line},
	  handshakes: $hs,
	  rows: $rows,
	  raw: ($raw | split("\n") | map(select(length > 0) | split("\t")
		| {side: .[0], rep: (.[1]|tonumber), test: .[2], metric: .[3], value: (.[4]|tonumber? // null)}))}' \
	>"$OUT/bench.json" || b_log "writing bench.json failed"

# one bar per side that ran: columns 2-4 A, 5-7 B, 8-10 C, 11-13 D, 14-16 E
PLOT=
col=2
for sd in A B C D E; do
	if has_side "$sd"; then
		case $sd in
		A) t="A wireguard-go pair" ;;
		B) t="B $B_B_LABEL gw + $B_CL client" ;;
		C) t="C xdpwgd gw + wireguard-go client" ;;
		D) t="D as B, $SCALE idle peers" ;;
		E) t="E as B, ${BENCH_E_BUILD:-this build} ${BENCH_E_ENV:-}" ;;
		esac
		if [ -z "$PLOT" ]; then
			PLOT="\"$PLOTDAT\" using $col:$((col + 1)):$((col + 2)):xtic(1) title \"$t\""
		else
			PLOT+=", \"\" using $col:$((col + 1)):$((col + 2)) title \"$t\""
		fi
	fi
	col=$((col + 3))
done
if command -v gnuplot >/dev/null 2>&1 && [ -s "$PLOTDAT" ] && [ -n "$PLOT" ]; then
	gnuplot <<EOF 2>>"$T_DIR/gnuplot.log" || b_log "gnuplot failed: $(tail -n2 "$T_DIR/gnuplot.log")"
set terminal pngcairo size 1200,600 noenhanced
set output "$OUT/bench.png"
set title "xdpwg bench $STARTED, Gbit/s (median, min-max)"
set style data histogram
set style histogram errorbars gap 1 lw 1
set style fill solid 0.6 border -1
set xtics rotate by -20 noenhanced
set key top left
set grid ytics
set yrange [0:*]
set ylabel "Gbit/s"
plot $PLOT
EOF
fi
b_log "results: $TABLE, $OUT/bench.json, $OUT/bench.png"
