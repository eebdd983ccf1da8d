#!/usr/bin/env bash
# make bench-flood: the legitimate tunnel under attack, xdpwgd (--attach eth0) against
# wireguard-go as the gateway in the same run, same topology (bench/bench-lib.sh) plus an
# attacker namespace "att" hung off the router:
#
#   att eth0 ---- rt att        (no addresses: build/bench/flood-gen writes raw frames to rt's MAC,
#                                rt forwards them to 198.18.0.1 like any other traffic)
#
# Floods at the highest rate one core makes (flood-gen: AF_PACKET, PACKET_QDISC_BYPASS,
# sendmmsg), sources random in 203.0.113.16-255:
#   (a) junk   random bytes to the port
#   (b) unknown transport data for random receiver indexes
#   (c) init   handshake initiations with a valid mac1 (computed from the gateway's public key)
#   (d) dstopt IPv6 to the gateway's IPv6 address with an 8-byte Destination Options header in
#              front of the UDP header, junk and unknown-index data in turn (the flood that went
#              around XDP before issue #15); sources random in 2001:db8:fe::/64
# During each (and once clean):
#   - the legitimate client's TCP throughput to the gateway (iperf3 through the tunnel, for
#     BENCH_FLOOD_SECONDS from the flood's first second);
#   - new peers' handshake times: two more clients in the client namespace, known to the
#     gateway, wg1 a wireguard-go and wg2 an xdpwgd (socket mode); each try removes and re-adds
#     the gateway on the client (no session left) and times the first ping through it (ping's
#     time: the handshake plus one round trip). BENCH_FLOOD_HS tries per client, alternating,
#     while the flood lasts (it runs until the last try is over). A try with no reply within
#     BENCH_FLOOD_HS_WAIT seconds counts as failed: it is reported, never dropped.
# The xdpwgd gateway's drop counters (xdpwgctl stats) are recorded per scenario, as differences.
# Targets for the record: throughput >= 90% of clean under (a), (b) and (d); a handshake within
# 1 s under (c).
#
# Environment (defaults): BENCH_FLOOD_SECONDS (10), BENCH_FLOOD_HS (5), BENCH_FLOOD_HS_WAIT (7:
# a stock client's retransmit after a cookie reply comes 5-5.33 s later),
# BENCH_FLOOD_SCENARIOS ("clean junk unknown init dstopt"), BENCH_FLOOD_GATEWAYS
# ("wireguard-go xdpwgd"), BENCH_FLOOD_CLIENTS ("wireguard-go xdpwgd"), BENCH_OUT (build/bench).
# Runtime: about 2 gateways * 5 floods * (BENCH_FLOOD_SECONDS + 2 * BENCH_FLOOD_HS * 1.5 s) plus
# 5 s per try that waits for a retransmit. Results: BENCH_OUT/bench-flood.txt (table),
# bench-flood.tsv (every value), bench-flood-stats.txt (counters per scenario).

. "$(dirname "$0")/bench-lib.sh"

b_require wireguard-go wg iperf3 jq nsenter unshare ping
SECS=${BENCH_FLOOD_SECONDS:-10}
HS_TRIES=${BENCH_FLOOD_HS:-5}
HS_WAIT=${BENCH_FLOOD_HS_WAIT:-7}
SCENARIOS=${BENCH_FLOOD_SCENARIOS:-clean junk unknown init dstopt}
GATEWAYS=${BENCH_FLOOD_GATEWAYS:-wireguard-go xdpwgd}
CLIENTS=${BENCH_FLOOD_CLIENTS:-wireguard-go xdpwgd}
OUT=${BENCH_OUT:-$XDPWG_BUILD/bench}
FLOOD=$XDPWG_BUILD/bench/flood-gen
[[ $SECS =~ ^[0-9]+$ ]] && [ "$SECS" -ge 4 ] && [ "$SECS" -le 120 ] ||
	b_die "BENCH_FLOOD_SECONDS 4..120"
[[ $HS_TRIES =~ ^[0-9]+$ ]] && [ "$HS_TRIES" -ge 1 ] && [ "$HS_TRIES" -le 20 ] ||
	b_die "BENCH_FLOOD_HS 1..20"
[[ $HS_WAIT =~ ^[0-9]+$ ]] && [ "$HS_WAIT" -ge 1 ] && [ "$HS_WAIT" -le 30 ] ||
	b_die "BENCH_FLOOD_HS_WAIT 1..30"
[ -x "$FLOOD" ] || b_die "no $FLOOD (make)"
mkdir -p "$OUT" || b_die "mkdir $OUT"
RAW=$T_DIR/raw.tsv
STATS=$T_DIR/stats.txt
: >"$RAW"
: >"$STATS"

b_topology
t_ns att
t_link att eth0 - rt att -
t_in rt sysctl -qw net.ipv4.conf.att.rp_filter=0 net.ipv4.conf.att.forwarding=1
RT_MAC=$(t_in rt cat /sys/class/net/att/address)
# IPv6 for dstopt: the gateway's uplink and the router's two sides (no DAD: addresses at once)
ip -n "$(t_nsname gw)" addr add 2001:db8:18::1/64 dev eth0 nodad
ip -n "$(t_nsname rt)" addr add 2001:db8:18::2/64 dev gw nodad
ip -n "$(t_nsname rt)" addr add 2001:db8:fe::1/64 dev att nodad
t_in rt sysctl -qw net.ipv6.conf.all.forwarding=1
for c in wg1 wg2; do
	(umask 077 && wg genkey >"$T_DIR/$c.key") && wg pubkey <"$T_DIR/$c.key" >"$T_DIR/$c.pub"
done
b_bg gw "$T_DIR/iperf3-server.log" iperf3 -s
t_wait 5 t_in gw sh -c 'ss -ltn | grep -q ":5201 "' || b_die "iperf3 server did not start"

# The new peers: TUN, inner address and daemon per client implementation.
declare -A NP_TUN=([wireguard-go]=wg1 [xdpwgd]=wg2)
declare -A NP_IP=([wireguard-go]=192.0.2.3 [xdpwgd]=192.0.2.4)
declare -A NP_PID=()

# new_peer_up IMPL: the new peer's daemon on the client, known to the gateway.
new_peer_up()
{
	local impl=$1 tun=${NP_TUN[$1]} ip=${NP_IP[$1]}
	case $impl in
	wireguard-go)
		t_start cl "$tun" "wggo-cl-$tun" env LOG_LEVEL=verbose wireguard-go -f "$tun" ||
			return 1
		;;
	xdpwgd)
		t_start cl "$tun" "xdpwgd-cl-$tun" "$XDPWG_BUILD/xdpwgd" -f -v "$tun" || return 1
		;;
	esac
	NP_PID[$impl]=$T_PID
	t_wg "$T_PID" set "$tun" private-key "$T_DIR/$tun.key" || return 1
	t_in cl ip addr add "$ip/32" dev "$tun" && t_in cl ip link set "$tun" mtu 1420 up || return 1
	t_wg "$B_GW_PID" set wg0 peer "$(cat "$T_DIR/$tun.pub")" allowed-ips "$ip/32"
}

new_peers_down()
{
	local impl
	for impl in "${!NP_PID[@]}"; do
		t_stop "${NP_PID[$impl]}" 3 >/dev/null 2>&1
		b_untrack "${NP_PID[$impl]}"
		t_in cl ip link del "${NP_TUN[$impl]}" 2>/dev/null
	done
	NP_PID=()
}

# hs_time IMPL: one fresh handshake of that new peer (the gateway removed and re-added on it,
# so no session is left); prints milliseconds from the first packet to its reply (ping's time:
# the handshake plus one round trip), or "-" when none came back within HS_WAIT seconds.
hs_time()
{
	local impl=$1 tun=${NP_TUN[$1]} pid=${NP_PID[$1]} ms
	t_wg "$pid" set "$tun" peer "$(cat "$T_DIR/gw.pub")" remove
	t_wg "$pid" set "$tun" peer "$(cat "$T_DIR/gw.pub")" endpoint "198.18.0.1:$B_PORT" \
		allowed-ips 192.0.2.1/32
	ms=$(t_in cl ping -n -c1 -W"$HS_WAIT" -I "$tun" 192.0.2.1 2>/dev/null |
		sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p')
	echo "${ms:--}"
}

# stats_snap FILE: the xdpwgd gateway's counters ("name value" lines), when it is attached.
stats_snap()
{
	[ "$B_GW_IMPL" = xdpwgd ] || return 0
	t_at "$B_GW_PID" "$XDPWG_BUILD/xdpwgctl" stats wg0 >"$1" 2>/dev/null
}

# run_one GW SCEN: throughput (Mbit/s) and handshake times under SCEN
# (clean|junk|unknown|init|dstopt).
run_one()
{
	local gw=$1 scen=$2 fpid= ipid hs mbit i c flog=$T_DIR/flood-$gw-$scen.log
	local dst=198.18.0.1 srcnet=203.0.113.0/24
	stats_snap "$T_DIR/stats-before"
	if [ "$scen" != clean ]; then
		[ "$scen" = dstopt ] && dst=2001:db8:18::1 srcnet=2001:db8:fe::/64
		# runs until stopped after the last try (bounded by timeout all the same)
		b_bg att "$flog" timeout 600 "$FLOOD" -i eth0 -M "$RT_MAC" -d "$dst" \
			-p "$B_PORT" -m "$scen" -s "$srcnet" -k "$(cat "$T_DIR/gw.pub")" -t 590
		fpid=$B_BG_PID
		sleep 1
	fi
	t_in cl timeout $((SECS + 15)) iperf3 -c 192.0.2.1 -t "$SECS" -J \
		>"$T_DIR/iperf-$gw-$scen.json" 2>&1 &
	ipid=$!
	t_track "$ipid"
	sleep 1
	for ((i = 0; i < HS_TRIES; i++)); do
		for c in $CLIENTS; do
			[ -n "${NP_PID[$c]:-}" ] || continue
			hs=$(hs_time "$c")
			printf '%s\t%s\ths:%s\t%s\n' "$gw" "$scen" "$c" "$hs" >>"$RAW"
			sleep 0.5
		done
	done
	wait "$ipid"
	b_untrack "$ipid"
	mbit=$(jq -r '.end.sum_received.bits_per_second // empty' "$T_DIR/iperf-$gw-$scen.json" \
		2>/dev/null | awk 'NF { printf "%.1f", $1 / 1e6 }')
	printf '%s\t%s\ttput\t%s\n' "$gw" "$scen" "${mbit:--}" >>"$RAW"
	if [ -n "$fpid" ]; then
		# SIGINT: flood-gen prints what it sent before it goes
		kill -INT "$fpid" 2>/dev/null
		t_wait 5 sh -c "! kill -0 $fpid 2>/dev/null"
		b_kill "$fpid"
		b_log "$gw $scen: flood $(tail -n1 "$flog")"
		printf '%s\t%s\tpps\t%s\n' "$gw" "$scen" \
			"$(sed -n 's/.*(\([0-9]*\) pps).*/\1/p' "$flog" | tail -n1)" >>"$RAW"
	fi
	stats_snap "$T_DIR/stats-after"
	if [ -s "$T_DIR/stats-after" ]; then
		{
			echo "== $gw $scen (differences over the scenario, non-zero only)"
			awk 'NR == FNR { b[$1] = $2; next } NF == 2 && $2 ~ /^[0-9]+$/ && $2 - b[$1] != 0 {
				printf "  %-26s %d\n", $1, $2 - b[$1] }' "$T_DIR/stats-before" \
				"$T_DIR/stats-after"
		} >>"$STATS"
	fi
	b_log "$gw $scen: ${mbit:--} Mbit/s, handshakes $(awk -F'\t' -v a="$gw" -v s="$scen" \
		'$1 == a && $2 == s && $3 ~ /^hs:/ { printf "%s=%s ", substr($3, 4), $4 }' "$RAW")"
}

MODES=()
for gw in $GATEWAYS; do
	BENCH_XDP=1
	export BENCH_XDP
	if ! b_up "$gw"; then
		b_log "$gw: the tunnel did not come up; skipped"
		continue
	fi
	MODES+=("$gw=$B_GW_MODE")
	for c in $CLIENTS; do
		new_peer_up "$c" || b_log "$gw: the new peer ($c) did not come up"
	done
	for scen in $SCENARIOS; do
		run_one "$gw" "$scen"
	done
	new_peers_down
	b_down
done

# get GW SCEN KIND: the median of what was recorded ("-" for none)
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
# hs GW SCEN CLIENT: "p50 / max / failed k of n" over the tries (p50 and max of those that
# completed; a failed try is one with no reply within HS_WAIT s)
hs()
{
	awk -F'\t' -v a="$1" -v s="$2" -v k="hs:$3" '$1 == a && $2 == s && $3 == k { print $4 }' \
		"$RAW" | sort -g | awk '{ n++; if ($1 == "-") f++; else v[++m] = $1 } END {
			if (!n) { print "-"; exit }
			if (!m) { printf "- / - / %d of %d\n", f, n; exit }
			p = (m % 2) ? v[(m + 1) / 2] : (v[m / 2] + v[m / 2 + 1]) / 2
			printf "%.4g / %.4g / %d of %d\n", p, v[m], f, n }'
}

{
	echo "bench-flood $(date -u +%FT%TZ), $(nproc) CPUs, kernel $(uname -r), ${SECS} s of iperf3 per flood"
	echo "gateways: ${MODES[*]}; main client wireguard-go; flood-gen: one core, AF_PACKET"
	printf '%-8s %-13s %9s %10s %7s' "flood" "gateway" "pps sent" "tput Mb/s" "%clean"
	for c in $CLIENTS; do printf ' | %-26s' "hs ms, $c client"; done
	echo
	for scen in $SCENARIOS; do
		for gw in $GATEWAYS; do
			t=$(get "$gw" "$scen" tput)
			printf '%-8s %-13s %9s %10s %7s' "$scen" "$gw" "$(get "$gw" "$scen" pps)" "$t" \
				"$(pct "$t" "$(get "$gw" clean tput)")"
			for c in $CLIENTS; do printf ' | %-26s' "$(hs "$gw" "$scen" "$c")"; done
			echo
		done
	done
	echo "targets: xdpwgd >= 90% of clean under junk, unknown and dstopt;" \
		"handshake <= 1000 ms under init"
	echo "hs ms: p50 / max of the tries that completed / tries with no reply within ${HS_WAIT} s;"
	echo "$HS_TRIES tries per client, each a fresh handshake of a new peer (first ping's time)"
} | tee "$OUT/bench-flood.txt"
cp "$RAW" "$OUT/bench-flood.tsv"
cp "$STATS" "$OUT/bench-flood-stats.txt"
