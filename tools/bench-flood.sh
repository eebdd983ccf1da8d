#!/usr/bin/env bash
# make bench-flood: the legitimate tunnel under attack, xdpwgd (--attach eth0) against
# wireguard-go as the gateway in the same run, same topology (tools/bench-lib.sh) plus an
# attacker namespace "att" hung off the router:
#
#   att eth0 ---- rt att        (no addresses: build/tools/flood-gen writes raw frames to rt's MAC,
#                                rt forwards them to 198.18.0.1 like any other traffic)
#
# Floods, each at the highest rate one core makes (flood-gen: AF_PACKET, PACKET_QDISC_BYPASS,
# sendmmsg), for BENCH_FLOOD_SECONDS each, sources random in 203.0.113.16-255:
#   (a) junk   random bytes to the port
#   (b) unknown transport data for random receiver indexes
#   (c) init   handshake initiations with a valid mac1 (computed from the gateway's public key)
# During each (and once clean): the legitimate client's TCP throughput to the gateway (iperf3
# through the tunnel) and a new legitimate peer's handshake time (a second wireguard-go on the
# client, wg1, re-added before each try: ping's time for the first packet, i.e. the handshake
# plus one round trip; median of BENCH_FLOOD_HS tries, 1 s apart).
# Targets for the record: throughput >= 90% of clean under (a) and (b); a handshake within 1 s
# under (c).
#
# Environment (defaults): BENCH_FLOOD_SECONDS (10), BENCH_FLOOD_HS (3), BENCH_OUT (build/bench).
# Runtime: about 2 * 4 * (BENCH_FLOOD_SECONDS + 3) s plus ~20 s. Results: BENCH_OUT/bench-flood.txt.

. "$(dirname "$0")/bench-lib.sh"

b_require wireguard-go wg iperf3 jq nsenter unshare ping
SECS=${BENCH_FLOOD_SECONDS:-10}
HS_TRIES=${BENCH_FLOOD_HS:-3}
OUT=${BENCH_OUT:-$XDPWG_BUILD/bench}
FLOOD=$XDPWG_BUILD/tools/flood-gen
[[ $SECS =~ ^[0-9]+$ ]] && [ "$SECS" -ge 4 ] && [ "$SECS" -le 120 ] ||
	b_die "BENCH_FLOOD_SECONDS 4..120"
[[ $HS_TRIES =~ ^[0-9]+$ ]] && [ "$HS_TRIES" -ge 1 ] && [ "$HS_TRIES" -le 10 ] ||
	b_die "BENCH_FLOOD_HS 1..10"
[ -x "$FLOOD" ] || b_die "no $FLOOD (make)"
mkdir -p "$OUT" || b_die "mkdir $OUT"
RAW=$T_DIR/raw.tsv
: >"$RAW"

b_topology
t_ns att
t_link att eth0 - rt att -
t_in rt sysctl -qw net.ipv4.conf.att.rp_filter=0 net.ipv4.conf.att.forwarding=1
RT_MAC=$(t_in rt cat /sys/class/net/att/address)
wg genkey >"$T_DIR/nw.key" && wg pubkey <"$T_DIR/nw.key" >"$T_DIR/nw.pub"
b_bg gw "$T_DIR/iperf3-server.log" iperf3 -s
t_wait 5 t_in gw sh -c 'ss -ltn | grep -q ":5201 "' || b_die "iperf3 server did not start"

# new_peer_up: a second wireguard-go on the client (wg1, 192.0.2.3), known to the gateway.
new_peer_up()
{
	t_start cl wg1 "wggo-cl-wg1" env LOG_LEVEL=error wireguard-go -f wg1 || return 1
	NW_PID=$T_PID
	t_wg "$NW_PID" set wg1 private-key "$T_DIR/nw.key" || return 1
	t_in cl ip addr add 192.0.2.3/32 dev wg1 && t_in cl ip link set wg1 mtu 1420 up || return 1
	t_wg "$B_GW_PID" set wg0 peer "$(cat "$T_DIR/nw.pub")" allowed-ips 192.0.2.3/32
}

# hs_time: one fresh handshake of the new peer (its peer entry re-added, so no session is left);
# prints milliseconds from the first packet to its reply (ping's time: the handshake plus one
# round trip), or "-" when none came back within 5 s.
hs_time()
{
	local ms
	t_wg "$NW_PID" set wg1 peer "$(cat "$T_DIR/gw.pub")" remove
	t_wg "$NW_PID" set wg1 peer "$(cat "$T_DIR/gw.pub")" endpoint "198.18.0.1:$B_PORT" \
		allowed-ips 192.0.2.1/32
	ms=$(t_in cl ping -n -c1 -W5 -I wg1 192.0.2.1 2>/dev/null | sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p')
	echo "${ms:--}"
}

# run_one IMPL SCEN: throughput (Mbit/s) and handshake times under SCEN (clean|junk|unknown|init).
run_one()
{
	local impl=$1 scen=$2 fpid= ipid hs mbit i flog=$T_DIR/flood-$impl-$scen.log
	if [ "$scen" != clean ]; then
		b_bg att "$flog" timeout $((SECS + 10)) "$FLOOD" -i eth0 -M "$RT_MAC" -d 198.18.0.1 \
			-p "$B_PORT" -m "$scen" -s 203.0.113.0/24 -k "$(cat "$T_DIR/gw.pub")" \
			-t $((SECS + 2))
		fpid=$B_BG_PID
		sleep 1
	fi
	t_in cl timeout $((SECS + 15)) iperf3 -c 192.0.2.1 -t "$SECS" -J \
		>"$T_DIR/iperf-$impl-$scen.json" 2>&1 &
	ipid=$!
	t_track "$ipid"
	sleep 1
	for ((i = 0; i < HS_TRIES; i++)); do
		hs=$(hs_time)
		printf '%s\t%s\ths\t%s\n' "$impl" "$scen" "$hs" >>"$RAW"
		sleep 1
	done
	wait "$ipid"
	b_untrack "$ipid"
	mbit=$(jq -r '.end.sum_received.bits_per_second // empty' "$T_DIR/iperf-$impl-$scen.json" \
		2>/dev/null | awk 'NF { printf "%.1f", $1 / 1e6 }')
	printf '%s\t%s\ttput\t%s\n' "$impl" "$scen" "${mbit:--}" >>"$RAW"
	if [ -n "$fpid" ]; then
		wait "$fpid" 2>/dev/null
		b_untrack "$fpid"
		b_log "$impl $scen: flood $(tail -n1 "$flog")"
		printf '%s\t%s\tpps\t%s\n' "$impl" "$scen" \
			"$(sed -n 's/.*(\([0-9]*\) pps).*/\1/p' "$flog" | tail -n1)" >>"$RAW"
	fi
	b_log "$impl $scen: ${mbit:--} Mbit/s, handshakes $(awk -F'\t' -v a="$impl" -v s="$scen" \
		'$1 == a && $2 == s && $3 == "hs" { printf "%s ", $4 }' "$RAW")ms"
}

MODES=()
for impl in wireguard-go xdpwgd; do
	BENCH_XDP=1
	export BENCH_XDP
	if ! b_up "$impl"; then
		b_log "$impl: the tunnel did not come up; skipped"
		continue
	fi
	MODES+=("$impl=$B_GW_MODE")
	if ! new_peer_up; then
		b_log "$impl: the second client did not come up"
	fi
	for scen in clean junk unknown init; do
		run_one "$impl" "$scen"
	done
	if [ "$impl" = xdpwgd ]; then
		t_at "$B_GW_PID" "$XDPWG_BUILD/xdpwgctl" stats wg0 >"$OUT/bench-flood-stats.txt" 2>&1
	fi
	[ -n "${NW_PID:-}" ] && { t_stop "$NW_PID" 3 >/dev/null 2>&1; b_untrack "$NW_PID"; NW_PID=; }
	b_down
done

# get IMPL SCEN KIND: the median of what was recorded ("-" for none)
get()
{
	awk -F'\t' -v a="$1" -v s="$2" -v k="$3" '$1 == a && $2 == s && $3 == k && $4 != "-" { print $4 }' \
		"$RAW" | b_stats | awk '{ print $1 }'
}
pct()
{
	awk -v b="$1" -v a="$2" 'BEGIN { if (a == "-" || b == "-" || a + 0 == 0) print "-"
		else printf "%.0f%%\n", 100 * b / a }'
}

{
	echo "bench-flood $(date -u +%FT%TZ), $(nproc) CPUs, kernel $(uname -r), ${SECS} s per flood"
	echo "gateways: ${MODES[*]}; client wireguard-go; flood-gen: one core, AF_PACKET"
	printf '%-9s %11s | %9s %6s %8s | %9s %6s %8s | %5s %5s\n' "flood" "pps sent" \
		"wg-go Mb/s" "%clean" "hs ms" "xdpwgd Mb/s" "%clean" "hs ms" "tput" "hs"
	printf '%-9s %11s | %9s %6s %8s | %9s %6s %8s | %5s %5s\n' "" "(xdpwgd run)" "" "" "" "" \
		"" "" "x/wg" "x/wg"
	for scen in clean junk unknown init; do
		wt=$(get wireguard-go "$scen" tput)
		xt=$(get xdpwgd "$scen" tput)
		printf '%-9s %11s | %9s %6s %8s | %9s %6s %8s | %5s %5s\n' "$scen" \
			"$(get xdpwgd "$scen" pps)" "$wt" "$(pct "$wt" "$(get wireguard-go clean tput)")" \
			"$(get wireguard-go "$scen" hs)" "$xt" "$(pct "$xt" "$(get xdpwgd clean tput)")" \
			"$(get xdpwgd "$scen" hs)" "$(b_ratio "$xt" "$wt")" \
			"$(b_ratio "$(get xdpwgd "$scen" hs)" "$(get wireguard-go "$scen" hs)")"
	done
	echo "targets: xdpwgd >= 90% of clean under junk and unknown; handshake <= 1000 ms under init"
	echo "hs ms: median of $HS_TRIES fresh handshakes of a new peer (first ping's time); '-' = none in 5 s"
} | tee "$OUT/bench-flood.txt"
cp "$RAW" "$OUT/bench-flood.tsv"
