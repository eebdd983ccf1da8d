#!/usr/bin/env bash
# The move acknowledgment and the client's re-announce (docs/roaming.md), end to end: a client
# xdpwgd (socket mode) with "wifi" and "lte" uplinks reaches an xdpwgd gateway through a router.
#   a) The client loses wifi and announces itself from lte with a keepalive. A capture on the
#      router's end of the gateway link (AF_XDP frames never show on the gateway's own eth0)
#      shows the gateway answering it with a 32-byte data message (type 4) to the new address,
#      before anything else goes there; the move event says the ack went out.
#   b) Back on wifi, the router drops the client's first two packets from lte (an nft quota
#      rule: exact whatever the timing). After the switch the client re-sends its announce, the
#      gateway still moves within 1 s, and the client logs that its announce needed re-sends.
# Both gateway modes (--attach eth0, then socket) unless ROAM_GW picks one.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/roam_lib.sh"
t_require_root
t_require_cmd wg tcpdump nft
t_require_xdpwgd

WIFI_EP=198.51.100.2:51821
LTE_EP=203.0.113.2:51821
CL_LOG=$T_DIR/xdpwgd-cl-wg0.log

# ack_check MODE PCAP: part a's capture, read back.
ack_check()
{
	local m=$1 pcap=$2 first_cl first_gw first_ack dt
	# the client's first datagram from lte, the gateway's first to lte, and its first keepalive
	# there (a data message, type 4, of 32 bytes: UDP length 40)
	first_cl=$(tcpdump -r "$pcap" -nn -tt 'src host 203.0.113.2 and udp dst port 51820' \
		2>/dev/null | head -n1 | awk '{ print $1 }')
	first_gw=$(tcpdump -r "$pcap" -nn -tt 'src host 198.18.0.1 and dst host 203.0.113.2' \
		2>/dev/null | head -n1 | awk '{ print $1 }')
	first_ack=$(tcpdump -r "$pcap" -nn -tt \
		'src host 198.18.0.1 and udp src port 51820 and dst host 203.0.113.2 and udp dst port 51821 and udp[8] = 4 and udp[4:2] = 40' \
		2>/dev/null | head -n1 | awk '{ print $1 }')
	t_diag "$m: client's first from lte ${first_cl:-none}, gateway's first to lte ${first_gw:-none}, first ack ${first_ack:-none}"
	t_ok "$m: the client's announce from lte crossed the router" test -n "$first_cl"
	t_ok "$m: the gateway sent a 32-byte data message (type 4) to the client's new address" \
		test -n "$first_ack"
	t_is "$first_gw" "$first_ack" "$m: ... as the first thing it sent there"
	dt=$(awk -v a="${first_ack:-0}" -v c="${first_cl:-0}" 'BEGIN { printf "%.3f", (a - c) * 1000 }')
	t_diag "$m: client's announce -> gateway's ack: ${dt} ms"
	t_result "$(awk -v d="$dt" 'BEGIN { print (d >= 0 && d < 1000) ? 0 : 1 }')" \
		"$m: right after the client's first packet from lte (${dt} ms; bound 1 s)"
}

run_mode()
{
	local m=$1 cap t0 ev dt lines
	local gw_args=()
	[ "$m" = socket ] && gw_args=(socket)
	t_ok "$m: gateway up" r_start_gw "${gw_args[@]}"
	t_ok "$m: client xdpwgd (socket mode) up" r_start_cl xdpwgd
	t_ok "$m: tunnel up over wifi" t_wait 5 t_in cl ping -c1 -W1 192.0.2.1
	t_ok "$m: gateway sees the client at its wifi address" t_wait 3 r_gw_at "$WIFI_EP"

	# a) the ack, seen on the wire
	cap=$T_DIR/ack-$m.pcap
	t_in rt timeout 6 tcpdump -i gw -nn -U -w "$cap" udp and host 203.0.113.2 \
		>"$T_DIR/tcpdump-$m.log" 2>&1 &
	local tcpdump_pid=$!
	t_track $tcpdump_pid
	t_wait 3 grep -q listening "$T_DIR/tcpdump-$m.log"
	lines=$(wc -l <"$CL_LOG")
	r_wifi_down
	t_ok "$m: gateway follows the client to lte" t_wait 5 r_gw_at "$LTE_EP"
	ev=$(r_events)
	t_diag "$ev"
	t_like "$ev" '"new_endpoint":"203\.0\.113\.2:51821".*"ack_sent":1' \
		"$m: the move event says the move was acknowledged"
	# the kernel's share of the delay: known for a frame an AF_XDP worker took off its ring
	if [ "$m" = xdp ]; then
		t_like "$ev" '"new_endpoint":"203\.0\.113\.2:51821".*"queue_ns":[1-9][0-9]*' \
			"$m: the move event says how long the frame waited for the worker"
	else
		t_like "$ev" '"new_endpoint":"203\.0\.113\.2:51821".*"queue_ns":0' \
			"$m: no ring wait without a worker"
	fi
	# the client's last re-send would be 750 ms after its announce, its verdict 1.55 s
	sleep 2
	t_unlike_log "$m: the client's announce was not left unacknowledged" "$lines" \
		'not acknowledged'
	wait "$tcpdump_pid" 2>/dev/null
	ack_check "$m" "$cap"

	# back to wifi
	r_wifi_up
	t_ok "$m: the client moves back to wifi" t_wait 5 r_gw_at "$WIFI_EP"

	# b) the first two datagrams from lte are lost: 2 x 60 bytes (IPv4 + UDP + 32) fit the
	# quota; the rule stays until the move, then goes
	t_in rt nft add table inet xwack &&
		t_in rt nft add chain inet xwack lost \
			'{ type filter hook forward priority 0; policy accept; }' &&
		t_in rt nft add rule inet xwack lost ip saddr 203.0.113.2 udp dport 51820 \
			quota until 121 bytes counter drop
	t_result $? "$m: router drops the client's first two datagrams from lte"
	lines=$(wc -l <"$CL_LOG")
	t0=$(date +%s.%N)
	r_wifi_down
	t_ok "$m: gateway follows the client to lte despite the loss" t_wait 5 r_gw_at "$LTE_EP"
	t_diag "$(t_in rt nft list table inet xwack | grep counter)"
	t_like "$(t_in rt nft list table inet xwack)" 'counter packets 2 ' \
		"$m: the router did drop two datagrams from lte"
	t_in rt nft delete table inet xwack
	ev=$(r_events | tail -n1)
	t_diag "$ev"
	dt=$(awk -v a="$(sed -n 's/.*"time":"\([0-9.]*\)".*/\1/p' <<<"$ev")" -v b="$t0" \
		'BEGIN { printf "%.3f", a - b }')
	t_diag "$m: link down -> gateway moved: ${dt} s"
	t_result "$(awk -v d="$dt" 'BEGIN { print (d >= 0 && d < 1) ? 0 : 1 }')" \
		"$m: the gateway moved within 1 s of the switch (${dt} s)"
	t_ok "$m: the client logs that its announce was re-sent" \
		t_wait 3 sh -c "tail -n +$((lines + 1)) '$CL_LOG' | grep -qE 'announce to peer .* acknowledged after [1-4] re-sends?'"
	t_diag "$(r_log_since "$CL_LOG" "$lines" | grep 'announce to peer')"
	t_ok "$m: tunnel works after the moves" t_in cl ping -c1 -W2 192.0.2.1

	t_stop "$CL"
	t_stop "$GW"
	r_wifi_up
}

# t_unlike_log DESC LINE REGEX: the client's log since LINE has no match for REGEX.
t_unlike_log()
{
	if r_log_since "$CL_LOG" "$2" | grep -qE "$3"; then
		t_result 1 "$1"
		t_diag "$(r_log_since "$CL_LOG" "$2" | grep -E "$3")"
	else
		t_result 0 "$1"
	fi
}

r_topology
case "${ROAM_GW:-}" in
socket) modes=socket ;;
"") modes="xdp socket" ;;
*) modes=xdp ;;
esac
for mode in $modes; do
	run_mode "$mode"
done
t_done
