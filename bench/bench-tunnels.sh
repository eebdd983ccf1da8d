#!/usr/bin/env bash
# make bench-tunnels (and the last part of make bench): two tunnels on two cores against one,
# xdpwgd against wireguard-go in the same run (issue #16).
#
#   gateway ns "gw"  eth0 198.18.0.1/24, 2 RX + 2 TX queues ---- 198.18.0.2/24 eth0  client ns "cl"
#   tunnel 0: gw wg0 192.0.2.1/26,  port 51820  <->  cl wg0 192.0.2.2/26   everything on CPU 0
#   tunnel 1: gw wg1 192.0.2.65/26, port 51821  <->  cl wg1 192.0.2.66/26  everything on CPU 1
#
# A tunnel "on a core" has all of its processes there: the gateway daemon, the client daemon,
# the iperf3 server and client (each started under taskset -c N). xdpwgd gateways share eth0
# (--attach eth0 --queues N --worker-cpus N --handshake-cpus N, the uplink's entry program
# xdpwg_mux in front); the client side steers each tunnel to its queue with XPS (tx-N on CPU N:
# a veth delivers on the RX queue of the TX queue the sender used), so the XDP program and the
# AF_XDP worker of tunnel N run on CPU N too. wireguard-go gateways are two processes on two
# ports, each under taskset. The client of both gateways is the same: xdpwgd in socket mode
# (BENCH_TUNNELS_CLIENT=wireguard-go: wireguard-go).
#
# Per repetition, for wireguard-go and then xdpwgd: tunnel 0 alone ("one": one client, one
# core), then tunnel 1 up as well and both clients at once ("two": the sum of the two clients'
# goodput, both iperf3 runs started together); TCP 1 stream per client, client->gw and
# gw->client (-R), BENCH_SECONDS each. Table: median [min-max] over BENCH_REPS, the ratio
# two/one per implementation, and xdpwgd/wireguard-go per row.
#
# Environment (defaults): BENCH_REPS (3), BENCH_SECONDS (3), BENCH_TUNNELS_CLIENT (xdpwgd |
# wireguard-go), BENCH_XDP (1; 0 = xdpwgd gateways on their sockets), BENCH_OUT (build/bench),
# BENCH_TUNNELS_APPEND (0; 1 = append the table to BENCH_OUT/bench.txt, as make bench does).
# Runtime about REPS * (8 iperf3 runs * (SECONDS + ~1.5) + ~12 s of start-ups): ~1.5-2 min.
# Results: BENCH_OUT/bench-tunnels.txt (the table), bench-tunnels.tsv (every measurement).

. "$(dirname "$0")/bench-lib.sh"

b_require wireguard-go wg iperf3 jq nsenter unshare ping taskset
REPS=${BENCH_REPS:-3}
SECS=${BENCH_SECONDS:-3}
CLIENT=${BENCH_TUNNELS_CLIENT:-xdpwgd}
XDP=${BENCH_XDP:-1}
OUT=${BENCH_OUT:-$XDPWG_BUILD/bench}
[[ $REPS =~ ^[0-9]+$ ]] && [ "$REPS" -ge 1 ] && [ "$REPS" -le 50 ] || b_die "BENCH_REPS 1..50"
[[ $SECS =~ ^[0-9]+$ ]] && [ "$SECS" -ge 1 ] && [ "$SECS" -le 120 ] || b_die "BENCH_SECONDS 1..120"
[ "$CLIENT" = xdpwgd ] || [ "$CLIENT" = wireguard-go ] || b_die "BENCH_TUNNELS_CLIENT xdpwgd|wireguard-go"
if [ "$(nproc)" -lt 2 ]; then
	b_log "bench-tunnels needs two CPUs (one per tunnel); skipped"
	exit 0
fi
b_xdpwgd_usable || b_die "${B_XDPWGD_WHY:-xdpwgd not usable}"
mkdir -p "$OUT" || b_die "mkdir $OUT"
RAW=$OUT/bench-tunnels.tsv
TABLE=$OUT/bench-tunnels.txt
: >"$RAW"
STARTED=$(date -u +%FT%TZ)

# --- topology: one two-queue veth, gateway to client ---
t_ns gw
t_ns cl
GWNS=$(t_nsname gw)
CLNS=$(t_nsname cl)
ip -n "$GWNS" link add eth0 numtxqueues 2 numrxqueues 2 type veth peer name eth0 \
	numtxqueues 2 numrxqueues 2 netns "$CLNS" || b_die "two-queue veth"
ip -n "$GWNS" addr add 198.18.0.1/24 dev eth0
ip -n "$CLNS" addr add 198.18.0.2/24 dev eth0
ip -n "$GWNS" link set eth0 up
ip -n "$CLNS" link set eth0 up
# CPU 0 sends on tx-0 (the gateway's rx-0), CPU 1 on tx-1
t_in cl sh -c 'echo 1 >/sys/class/net/eth0/queues/tx-0/xps_cpus &&
	echo 2 >/sys/class/net/eth0/queues/tx-1/xps_cpus' || b_die "XPS on the client's eth0"
t_wait 5 t_in cl ping -c1 -W1 198.18.0.1 || b_die "underlay: client cannot reach 198.18.0.1"
(umask 077 && wg genkey >"$T_DIR/gw.key" && wg genkey >"$T_DIR/cl.key")
GW_PUB=$(wg pubkey <"$T_DIR/gw.key")
CL_PUB=$(wg pubkey <"$T_DIR/cl.key")

# one iperf3 server per tunnel, on its CPU, for the whole run
for n in 0 1; do
	b_bg gw "$T_DIR/iperf3-server$n.log" taskset -c "$n" iperf3 -s -p $((5201 + n))
done
t_wait 5 t_in gw sh -c 'ss -ltn | grep -q ":5201 " && ss -ltn | grep -q ":5202 "' ||
	b_die "iperf3 servers did not start"

GW_PIDS=()
CL_PIDS=()
XDP_FAILED=0
GW_LABEL=

# gw_up IMPL N: tunnel N's gateway (wgN, port 51820+N) on CPU N. Sets GW_LABEL for xdpwgd.
gw_up()
{
	local impl=$1 n=$2 tun=wg$2
	if [ "$impl" = wireguard-go ]; then
		t_start gw "$tun" "wggo-gw-$tun" taskset -c "$n" env LOG_LEVEL=error \
			wireguard-go -f "$tun" || return 1
	else
		T_PID=
		if [ "$XDP" = 1 ] && [ "$XDP_FAILED" = 0 ] &&
			t_start gw "$tun" "xdpwgd-gw-$tun" taskset -c "$n" "$XDPWG_BUILD/xdpwgd" -f \
				--attach eth0 --queues "$n" --worker-cpus "$n" --handshake-cpus "$n" "$tun" &&
			kill -0 "$T_PID" 2>/dev/null; then
			GW_LABEL="xdpwgd xdp"
		else
			[ -n "$T_PID" ] && b_kill "$T_PID"
			if [ "$XDP" = 1 ] && [ "$XDP_FAILED" = 0 ]; then
				XDP_FAILED=1
				b_log "xdpwgd --attach eth0 --queues $n did not start ($(tail -n1 "$T_DIR/xdpwgd-gw-$tun.log" 2>/dev/null)); socket mode"
			fi
			GW_LABEL="xdpwgd socket"
			[ "$XDP" = 1 ] && GW_LABEL="xdpwgd socket (xdp unavailable)"
			t_start gw "$tun" "xdpwgd-gw-$tun" taskset -c "$n" "$XDPWG_BUILD/xdpwgd" -f \
				--handshake-cpus "$n" "$tun" || return 1
		fi
	fi
	GW_PIDS[n]=$T_PID
	t_wg "$T_PID" set "$tun" private-key "$T_DIR/gw.key" listen-port $((51820 + n)) \
		peer "$CL_PUB" allowed-ips "192.0.2.$((64 * n + 2))/32" || return 1
	ip -n "$GWNS" addr add "192.0.2.$((64 * n + 1))/26" dev "$tun" &&
		ip -n "$GWNS" link set "$tun" mtu 1420 up
}

# cl_up N: tunnel N's client (wgN) on CPU N, BENCH_TUNNELS_CLIENT's implementation.
cl_up()
{
	local n=$1 tun=wg$1
	if [ "$CLIENT" = wireguard-go ]; then
		t_start cl "$tun" "wggo-cl-$tun" taskset -c "$n" env LOG_LEVEL=error \
			wireguard-go -f "$tun" || return 1
	else
		t_start cl "$tun" "xdpwgd-cl-$tun" taskset -c "$n" "$XDPWG_BUILD/xdpwgd" -f \
			"$tun" || return 1
	fi
	CL_PIDS[n]=$T_PID
	t_wg "$T_PID" set "$tun" private-key "$T_DIR/cl.key" peer "$GW_PUB" \
		endpoint "198.18.0.1:$((51820 + n))" allowed-ips "192.0.2.$((64 * n + 1))/32" || return 1
	ip -n "$CLNS" addr add "192.0.2.$((64 * n + 2))/26" dev "$tun" &&
		ip -n "$CLNS" link set "$tun" mtu 1420 up
}

# tunnel_up IMPL N: gateway and client of tunnel N, checked by a ping through it
tunnel_up()
{
	gw_up "$1" "$2" && cl_up "$2" &&
		t_wait 10 t_in cl ping -c1 -W1 "192.0.2.$((64 * $2 + 1))"
}

all_down()
{
	local p
	for p in "${GW_PIDS[@]}" "${CL_PIDS[@]}"; do
		b_kill "$p"
	done
	GW_PIDS=()
	CL_PIDS=()
	t_in gw ip link del wg0 2>/dev/null
	t_in gw ip link del wg1 2>/dev/null
	t_in cl ip link del wg0 2>/dev/null
	t_in cl ip link del wg1 2>/dev/null
	return 0
}

# redirected PID TUN: xdpwgd's XDP redirect counter for TUN ("-" when not xdp)
redirected()
{
	t_at "$1" "$XDPWG_BUILD/xdpwgctl" stats "$2" 2>/dev/null |
		awk '$1 == "redirected" || $1 == "redirected:" { print $NF; exit }'
}

# run IMPL REP COUNT DIR ARGS: COUNT clients (tunnels 0..COUNT-1) at once, each iperf3 from its
# CPU to its tunnel's server; the sum of their goodputs (receiver side) to $RAW
run()
{
	local impl=$1 rep=$2 count=$3 dir=$4 args=$5 n pids=() sum=0 v json r0=() r1 ok=1 per=""
	for ((n = 0; n < count; n++)); do
		[ "$GW_LABEL" = "xdpwgd xdp" ] && [ "$impl" = xdpwgd ] && r0[n]=$(redirected "${GW_PIDS[n]}" "wg$n")
	done
	for ((n = 0; n < count; n++)); do
		json=$T_DIR/$impl-$rep-$count-$dir-$n.json
		# shellcheck disable=SC2086 # args are words
		timeout $((SECS + 20)) ip netns exec "$CLNS" taskset -c "$n" iperf3 \
			-c "192.0.2.$((64 * n + 1))" -p $((5201 + n)) -t "$SECS" -J \
			--connect-timeout 3000 $args >"$json" 2>"$json.err" &
		pids[n]=$!
	done
	for ((n = 0; n < count; n++)); do
		wait "${pids[n]}"
		json=$T_DIR/$impl-$rep-$count-$dir-$n.json
		if ! v=$(jq -er '.end.sum_received.bits_per_second / 1e9' "$json" 2>/dev/null); then
			b_log "  $impl rep $rep $count tunnel(s) $dir, client $n: iperf3 failed: $(jq -r '.error // empty' "$json" 2>/dev/null | head -c 200)"
			ok=0
			continue
		fi
		sum=$(awk -v a="$sum" -v b="$v" 'BEGIN { printf "%.6f", a + b }')
		per+=" $(printf '%.3f' "$v")"
		printf '%s\t%s\t%s\t%s\ttunnel%s\t%s\n' "$impl" "$rep" "$count" "$dir" "$n" "$v" >>"$RAW"
	done
	for ((n = 0; n < count; n++)); do
		[ -n "${r0[n]:-}" ] || continue
		r1=$(redirected "${GW_PIDS[n]}" "wg$n")
		[ "${r1:-0}" -gt "${r0[n]:-0}" ] 2>/dev/null ||
			b_log "  warning: wg$n's gateway counted no XDP redirects (steering to queue $n failed?)"
	done
	[ "$ok" = 1 ] || return 1
	printf '%s\t%s\t%s\t%s\tsum\t%s\n' "$impl" "$rep" "$count" "$dir" "$sum" >>"$RAW"
	b_log "  $impl rep $rep, $count tunnel(s) $dir: $(printf '%.3f' "$sum") Gbit/s (per client:$per)"
}

DIRS=("up|" "down|-R")
for ((rep = 1; rep <= REPS; rep++)); do
	for impl in wireguard-go xdpwgd; do
		for count in 1 2; do
			if ! tunnel_up "$impl" $((count - 1)); then
				b_log "rep $rep: $impl tunnel $((count - 1)) did not come up; skipped"
				break
			fi
			[ "$impl" = xdpwgd ] && [ "$count" = 1 ] && b_log "rep $rep/$REPS: gateways $GW_LABEL, clients $CLIENT"
			[ "$impl" = wireguard-go ] && [ "$count" = 1 ] && b_log "rep $rep/$REPS: gateways wireguard-go, clients $CLIENT"
			# warm-up, not counted: 1 s through the new tunnel
			t_in cl taskset -c $((count - 1)) iperf3 -c "192.0.2.$((64 * count - 63))" \
				-p $((5200 + count)) -t 1 >/dev/null 2>&1
			for d in "${DIRS[@]}"; do
				run "$impl" "$rep" "$count" "${d%%|*}" "${d#*|}"
				sleep 0.2
			done
		done
		all_down
	done
done
[ "$GW_LABEL" = "xdpwgd xdp" ] && GW_LABEL="xdpwgd xdp (--attach eth0 --queues N --worker-cpus N)"

# --- table ---
stat_of() # IMPL COUNT DIR -> "median min max n"
{
	awk -F'\t' -v i="$1" -v c="$2" -v d="$3" \
		'$1 == i && $3 == c && $4 == d && $5 == "sum" { print $6 }' "$RAW" | b_stats
}
{
	echo "xdpwg tunnels benchmark (two tunnels on two cores vs one), $STARTED, $(nproc) cores, kernel $(uname -r)"
	echo "one = tunnel 0 alone, all its processes on CPU 0; two = tunnels 0 and 1 at once, each on its CPU"
	echo "gateways: wireguard-go (two processes, two ports) | ${GW_LABEL:-xdpwgd}; clients: $CLIENT$([ "$CLIENT" = xdpwgd ] && echo " (socket mode)") for both"
	echo "$REPS reps, ${SECS}s per iperf3 run, TCP 1 stream per client; aggregate Gbit/s, median [min-max]; ratio of medians"
	printf '%-26s %-8s %-22s %-22s %s\n' test tunnels "wireguard-go" "xdpwgd" "xdpwgd/wireguard-go"
	for d in "up|TCP client->gw" "down|TCP gw->client"; do
		for count in 1 2; do
			sa=$(stat_of wireguard-go "$count" "${d%%|*}")
			sb=$(stat_of xdpwgd "$count" "${d%%|*}")
			printf '%-26s %-8s %-22s %-22s %s\n' "${d#*|}" "$([ "$count" = 1 ] && echo one || echo two)" \
				"$(b_fmt "$sa")" "$(b_fmt "$sb")" "$(b_ratio "${sb%% *}" "${sa%% *}")"
		done
		ra=$(b_ratio "$(stat_of wireguard-go 2 "${d%%|*}" | cut -d' ' -f1)" \
			"$(stat_of wireguard-go 1 "${d%%|*}" | cut -d' ' -f1)")
		rb=$(b_ratio "$(stat_of xdpwgd 2 "${d%%|*}" | cut -d' ' -f1)" \
			"$(stat_of xdpwgd 1 "${d%%|*}" | cut -d' ' -f1)")
		printf '%-26s %-8s %-22s %-22s\n' "${d#*|}" two/one "$ra" "$rb"
	done
} >"$TABLE"
cat "$TABLE"
if [ "${BENCH_TUNNELS_APPEND:-0}" = 1 ] && [ -f "$OUT/bench.txt" ]; then
	{
		echo
		cat "$TABLE"
	} >>"$OUT/bench.txt"
fi
b_log "results: $TABLE, $RAW"
