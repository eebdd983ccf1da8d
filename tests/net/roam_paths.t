#!/usr/bin/env bash
# When a path dies silently (issue #18): a multi-homed xdpwgd client ("wifi" and "lte",
# roam_lib.sh's topology) whose active uplink stops answering although its link stays up fails
# over to the other one, and the gateway follows. The failure is injected on the router only
# (r_blackhole: an nft table that drops what it forwards from or to the client's address on that
# uplink); the client's links, addresses and routes stay as they are: nothing tells it but
# silence.
#
# Both ends set the other side's peer to roam-policy multipath (or redundant) with xdpwgctl; the
# client runs with XDPWG_UPLINKS=wifi,lte and XDPWG_PATH_PROBE_MS=200 (PATHS_PROBE_MS), in the
# environment so that a daemon without the options still starts and the plumbing can be seen to
# work. Sessions (gateway --attach eth0 unless ROAM_GW=socket; the client xdpwgd in socket mode):
#   1  multipath: no move while both paths are healthy (f, first half); (d) replayed and forged
#      datagrams from the spoofer add no path; (a) the router blackholes wifi while the client
#      pings every 20 ms: replies again within 5 s, the gateway at lte, one path move, two paths
#      listed, the move logged; no fail-back when wifi returns; (b) the gateway pings the silent
#      client and the router blackholes the now active path: the same recovery, the other way
#   2  (c) redundant: 150 pings every 20 ms, wifi blackholed after 20 replies: none lost, no
#      duplicate reaches ping, both ends report a wire ratio of about 2
#   3  (f) flapping: wifi blackholed 2 s, back 2 s, three times, pings every 20 ms: at least one
#      and at most three path moves, none in the 3 s after with both paths healthy
#   4  socket-mode gateway: (a) again (left out when ROAM_GW=socket made every session so)
#   5  (e) wireguard-go client, the gateway's peer multipath: pings both ways, and the client's
#      ordinary roaming (wifi gone) is still followed
#   6  (e) xdpwgd client, multipath then redundant towards a wireguard-go gateway: pings both ways
#   7  (h) wifi blackholed before the client starts (configured from a file, RoamPolicy =
#      multipath): its first initiation is lost, the retransmit goes out on lte, the tunnel is up
#   8  (g) wifi degraded next to a clean lte (the router's delay line: 30% lost, 300 ms each
#      way): the client moves to lte within 5 s (about 0.35 s in make bench-paths)
# Runtime ~55 s on the 2-core host with the feature in (each session's seconds are printed as
# comments); a daemon without it fails the feature's assertions after their bounded waits (~80 s).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/roam_lib.sh"
t_require_root
t_require_cmd wg wireguard-go jq nft python3 stdbuf
t_require_xdpwgd

WIFI_EP=198.51.100.2:51821
LTE_EP=203.0.113.2:51821
CL_LOG=$T_DIR/xdpwgd-cl-wg0.log
PROBE_MS=${PATHS_PROBE_MS:-200}
RECOVER_S=5
MAIN_MODE=xdp
[ "${ROAM_GW:-}" = socket ] && MAIN_MODE=socket
GW=
CL=

# --- helpers ---

# p_start_cl: the xdpwgd client, its uplinks and probe interval from the environment
p_start_cl()
{
	XDPWG_UPLINKS=wifi,lte XDPWG_PATH_PROBE_MS=$PROBE_MS r_start_cl xdpwgd
}

# p_npaths: how many paths the gateway lists for the client ("none": no paths in its show)
p_npaths()
{
	r_json "$GW" '.peers[0].paths | if . == null then "none" else length end'
}

p_npaths_is()
{
	[ "$(p_npaths)" = "$1" ]
}

# p_moves: the client's path moves for the gateway's peer ("null": not reported)
p_moves()
{
	r_json "$CL" '.peers[0].path_moves'
}

# p_other UPLINK: the other one
p_other()
{
	if [ "$1" = wifi ]; then echo lte; else echo wifi; fi
}

# p_show_both: both daemons' xdpwgctl show, as TAP comments (after a failure)
p_show_both()
{
	t_diag "gateway: $(t_at "$GW" "$CTL" show wg0 2>&1)"
	t_diag "client: $(t_at "$CL" "$CTL" show wg0 2>&1)"
}

# p_up TAG MODE POLICY: gateway (xdp or socket) and xdpwgd client, POLICY on both ends, the
# tunnel up over wifi and both paths known to the gateway
p_up()
{
	local tag=$1 mode=$2 pol=$3 args=()
	[ "$mode" = socket ] && args=(socket)
	t_ok "$tag: gateway xdpwgd ($mode) up" r_start_gw "${args[@]}" || return 1
	t_ok "$tag: client xdpwgd up (uplinks wifi,lte; probe every $PROBE_MS ms)" p_start_cl ||
		return 1
	t_ok "$tag: gateway: roam-policy $pol for the client" \
		t_at "$GW" "$CTL" set wg0 peer "$CL_PUB" roam-policy "$pol"
	t_ok "$tag: client: roam-policy $pol for the gateway" \
		t_at "$CL" "$CTL" set wg0 peer "$GW_PUB" roam-policy "$pol"
	t_ok "$tag: tunnel up over wifi" r_until 5 t_in cl ping -c1 -W1 192.0.2.1 || return 1
	t_ok "$tag: the gateway sends to wifi" r_until 3 r_gw_at "$WIFI_EP" || p_show_both
	t_ok "$tag: the gateway lists both paths (probes from lte)" r_until 3 p_npaths_is 2 ||
		t_diag "  paths: $(p_npaths)"
	return 0
}

# p_down: stop both daemons, the router forwards everything again
p_down()
{
	[ -n "$CL" ] && t_stop "$CL"
	[ -n "$GW" ] && t_stop "$GW"
	CL=
	GW=
	r_unblackhole wifi
	r_unblackhole lte
}

# p_failover TAG NS DST UPLINK: NS pings DST every 20 ms, the router blackholes UPLINK; one
# result: replies again within RECOVER_S s. P_BO: the blackout in ms ("-": none came back).
p_failover()
{
	local tag=$1 ns=$2 dst=$3 up=$4 log t0 t1 ok pp
	log=$T_DIR/$tag.ping
	r_ping_bg "$ns" "$dst" 0.02 $((RECOVER_S + 15)) "$log"
	pp=$R_PING_PID
	t_ok "$tag: echo replies before the failure ($ns -> $dst)" \
		r_wait_reply_after "$log" "$(r_now)" 5
	t0=$(r_now)
	r_blackhole "$up" 2>>"$T_DIR/log" || t_result 1 "$tag: the router blackholes $up"
	t1=$(r_now)
	r_wait_reply_after "$log" "$(awk -v t="$t1" 'BEGIN { printf "%.6f", t + 0.05 }')" \
		$((RECOVER_S + 1))
	P_BO=$(r_blackout "$log" "$t0" "$t1")
	ok=$(awk -v b="$P_BO" -v l="$RECOVER_S" 'BEGIN { print (b != "-" && b <= l * 1000) ? 0 : 1 }')
	t_result "$ok" \
		"$tag: replies again within $RECOVER_S s of the router blackholing $up (blackout $P_BO ms)"
	[ "$ok" = 0 ] || p_show_both
	t_stop "$pp" 2
}

# p_pings TAG NS DST: 10 pings, all answered, no duplicates
p_pings()
{
	local tag=$1 out
	out=$(t_in "$2" ping -n -c 10 -i 0.05 -W 2 "$3" 2>&1)
	t_is "$(sed -n 's/.* \([0-9]*\) received.*/\1/p' <<<"$out")" 10 "$tag: $2 -> $3: 10 of 10 answered"
	t_is "$(grep -c 'DUP!' <<<"$out")" 0 "$tag: $2 -> $3: no duplicate replies"
}

# p_wifi_back: wifi up again after r_wifi_down, with its first metric (100, lte 200)
p_wifi_back()
{
	r_wifi_up
	ip -n "$CLNS" route del default via 198.51.100.1 dev wifi metric 50 2>/dev/null
	ip -n "$CLNS" route replace default via 198.51.100.1 dev wifi metric 100
}

# spoof: the captured datagrams replayed from the spoofer (203.0.113.130), with forged counters
# and cookie replies on a valid receiver index; prints how many were sent
spoof()
{
	t_in sp python3 - "$T_DIR/captured" <<'PY'
import os, socket, struct, sys
pkts = [bytes.fromhex(l.strip()) for l in open(sys.argv[1]) if l.strip()]
data = [p for p in pkts if p[0] == 4][-80:]     # data, keepalives and probes among them
init = [p for p in pkts if p[0] == 1]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("203.0.113.130", 40000))
dst = ("198.18.0.1", 51820)
sent = 0
for p in data:                                 # replays
    s.sendto(p, dst); sent += 1
for p in init:                                 # replayed handshake initiations
    s.sendto(p, dst); sent += 1
for i, p in enumerate(data[:20]):              # forged counters on a valid receiver index
    f = bytearray(p); f[8:16] = struct.pack("<Q", 1000000 + i); s.sendto(bytes(f), dst); sent += 1
ka = [p for p in data if len(p) == 32][:10]    # keepalives (probes), far ahead in the window
for i, p in enumerate(ka):
    f = bytearray(p); f[8:16] = struct.pack("<Q", 2000000 + i); s.sendto(bytes(f), dst); sent += 1
idx = data[0][4:8]
for i in range(10):                            # cookie replies to a valid receiver index
    s.sendto(struct.pack("<I", 3) + idx + os.urandom(56), dst); sent += 1
print(sent)
PY
}

# --- 1: multipath, both paths healthy; spoof; failover client-driven, then gateway-pushed ---
session1()
{
	local out n np0 lines act other
	r_sniff_start 150 5
	p_up 1 "$MAIN_MODE" multipath || return
	out=$(t_in cl ping -n -q -c 150 -i 0.02 -W 1 192.0.2.1 2>&1)
	t_like "$out" ' 150 received' "1: 150 pings over 3 s, both paths healthy: all answered"
	t_is "$(p_moves)" 0 "1: no path move while both paths are healthy"
	t_ok "1: the gateway still sends to wifi" r_gw_at "$WIFI_EP"

	# d: spoof
	r_until 10 sh -c "! kill -0 $SNIFF 2>/dev/null"
	t_like "$(grep -c '^04' "$T_DIR/captured")" '^[1-9][0-9]+$' "d: captured the client's data packets"
	np0=$(p_npaths)
	n=$(spoof)
	t_like "$n" '^[0-9]+$' "d: sent $n replayed and forged datagrams from 203.0.113.130"
	sleep 1
	t_is "$(p_npaths)" "$np0" "d: the gateway's paths for the client: as many as before ($np0)"
	t_ok "d: none of them is the spoofer's" \
		sh -c "! nsenter -t $GW -m -n $CTL show wg0 | grep -q 203.0.113.130"
	t_is "$(r_gw_endpoint)" "$WIFI_EP" "d: the endpoint did not move"
	t_is "$(r_nevents)" 0 "d: no move event"

	# a: client-driven traffic, wifi blackholed
	lines=$(wc -l <"$CL_LOG")
	p_failover a cl 192.0.2.1 wifi
	t_like "$(ip -n "$CLNS" -br link show wifi)" 'UP' "a: the client's wifi link stayed up"
	t_like "$(r_blackhole_drops wifi)" '^[1-9]' "a: the router dropped the client's wifi traffic"
	t_ok "a: underlay: nothing through wifi" \
		sh -c "! ip netns exec $CLNS ping -I wifi -c1 -W1 198.18.0.1"
	t_ok "a: underlay: lte works" t_in cl ping -I lte -c1 -W1 198.18.0.1
	t_ok "a: the gateway sends to lte" r_until 3 r_gw_at "$LTE_EP"
	t_is "$(p_moves)" 1 "a: the client counts one path move"
	t_like "$(t_at "$CL" "$CTL" show wg0 2>&1)" 'path moves: 1' "a: xdpwgctl show says so"
	t_is "$(p_npaths)" 2 "a: the gateway lists two paths"
	t_like "$(r_log_since "$CL_LOG" "$lines" | grep 'path wifi -> lte')" \
		"wg0: peer .* path wifi -> lte" "a: the client logs the failover"

	# no fail-back: wifi answers again, the client stays where it is
	r_unblackhole wifi
	sleep 1.5
	t_ok "a: wifi back: no fail-back, the gateway still sends to lte" r_gw_at "$LTE_EP"
	t_is "$(p_moves)" 1 "a: wifi back: still one path move"

	# b: the gateway pings the silent client; the router blackholes the active path
	act=$(r_active)
	other=$(p_other "$act")
	t_is "$act" lte "b: the active path is lte"
	lines=$(wc -l <"$CL_LOG")
	p_failover b gw 192.0.2.2 "$act"
	t_ok "b: the gateway sends to $other" r_until 3 r_gw_at "$(r_uplink_addr "$other"):51821"
	t_is "$(p_moves)" 2 "b: the client counts two path moves"
	t_like "$(r_log_since "$CL_LOG" "$lines" | grep "path $act -> $other")" \
		"path $act -> $other" "b: the client logs the failover back"
	t_diag "1: gateway: $(t_at "$GW" "$CTL" show wg0 2>&1 | grep -A3 -E 'paths|endpoint:')"
	p_down
}

# --- 2: redundant ---
# The router cuts wifi as soon as 20 of 150 replies are in (3 s of pings), before anything
# else is asked of the daemons: under TCG an xdpwgctl call takes a second, and asked first they
# let every ping finish before the cut (which then tested nothing).
session2()
{
	local log=$T_DIR/c.ping pid i wr gwr lost nb
	p_up c "$MAIN_MODE" redundant || return
	ip netns exec "$CLNS" stdbuf -oL ping -D -n -c 150 -i 0.02 -W 2 192.0.2.1 >"$log" 2>&1 &
	pid=$!
	t_track "$pid"
	for ((i = 0; i < 200; i++)); do
		[ "$(grep -c 'bytes from' "$log" 2>/dev/null)" -ge 20 ] 2>/dev/null && break
		sleep 0.05
	done
	r_blackhole wifi 2>>"$T_DIR/log" || t_result 1 "c: the router blackholes wifi"
	nb=$(grep -c 'bytes from' "$log")
	t_result "$(awk -v n="$nb" 'BEGIN { print (n >= 20 && n < 130) ? 0 : 1 }')" \
		"c: the router cut wifi while the pings flowed (after $nb replies of 150)"
	wr=$(r_json "$CL" '.peers[0].wire_ratio')
	gwr=$(r_json "$GW" '.peers[0].wire_ratio')
	t_like "$(t_at "$CL" "$CTL" show wg0 2>&1)" 'redundancy: [0-9.]+ bytes on the wire per byte sent' \
		"c: the client's show reports the redundancy"
	t_result "$(awk -v r="$wr" 'BEGIN { print (r ~ /^[0-9.]+$/ && r >= 1.5) ? 0 : 1 }')" \
		"c: the client sends about twice: wire_ratio $wr"
	t_result "$(awk -v r="$gwr" 'BEGIN { print (r ~ /^[0-9.]+$/ && r >= 1.5) ? 0 : 1 }')" \
		"c: the gateway sends about twice: wire_ratio $gwr"
	r_until 25 sh -c "! kill -0 $pid 2>/dev/null"
	wait "$pid" 2>/dev/null
	lost=$(r_ping_lost "$log")
	t_like "$(tail -n 3 "$log")" '(^|[^0-9])150 packets transmitted' "c: 150 pings sent"
	t_is "$lost" 0 "c: wifi blackholed after $nb replies: none of the 150 lost"
	[ "$lost" = 0 ] || { p_show_both; t_diag "c: the client's log: $(grep -E 'path|dead' "$CL_LOG" | tail -n 20)"; }
	t_is "$(grep -c 'DUP!' "$log")" 0 "c: no duplicate reached ping (the replay window took them)"
	t_like "$(r_blackhole_drops wifi)" '^[1-9]' "c: the router did drop wifi's copies"
	p_down
}

# --- 3: flapping ---
session3()
{
	local log=$T_DIR/f.ping m t0 t1 ep
	p_up f "$MAIN_MODE" multipath || return
	r_ping_bg cl 192.0.2.1 0.02 25 "$log"
	t_ok "f: echo replies" r_wait_reply_after "$log" "$(r_now)" 5
	t0=$(r_now)
	for _ in 1 2 3; do
		r_blackhole wifi 2>>"$T_DIR/log" || t_result 1 "f: the router blackholes wifi"
		sleep 2
		r_unblackhole wifi
		sleep 2
	done
	t1=$(r_now)
	m=$(p_moves)
	t_result "$(awk -v m="$m" 'BEGIN { print (m ~ /^[0-9]+$/ && m >= 1 && m <= 3) ? 0 : 1 }')" \
		"f: 3 flaps: 1 to 3 path moves ($m)"
	ep=$(r_gw_endpoint)
	sleep 3
	t_diag "f: 3 flaps of wifi: path moves $m, longest reply gap $(r_blackout "$log" "$t0" "$t1") ms"
	t_is "$(p_moves)" "$m" "f: both paths healthy for 3 s: no more moves"
	t_is "$(r_gw_endpoint)" "$ep" "f: ... and the gateway stays on $ep"
	t_ok "f: the tunnel works" t_in cl ping -c1 -W2 192.0.2.1
	p_down
}

# --- 4: the gateway in socket mode: failover, client-driven ---
session4()
{
	p_up s socket multipath || return
	p_failover s cl 192.0.2.1 wifi
	t_ok "s: the gateway sends to lte" r_until 3 r_gw_at "$LTE_EP"
	t_is "$(p_moves)" 1 "s: the client counts one path move"
	p_down
}

# --- 5: wireguard-go client, multipath peer on the gateway ---
session5()
{
	t_ok "e1: gateway xdpwgd ($MAIN_MODE) up" r_start_gw || return
	t_ok "e1: gateway: roam-policy multipath for the client" \
		t_at "$GW" "$CTL" set wg0 peer "$CL_PUB" roam-policy multipath
	t_ok "e1: wireguard-go client up" r_start_cl wireguard-go || return
	t_ok "e1: tunnel up" r_until 5 t_in cl ping -c1 -W1 192.0.2.1
	p_pings e1 cl 192.0.2.1
	p_pings e1 gw 192.0.2.2
	t_is "$(r_gw_endpoint)" "$WIFI_EP" "e1: the gateway sends to wifi"
	t_diag "e1: gateway paths: $(p_npaths)"
	# a stock client's ordinary roaming (its wifi goes away) is still followed. Its endpoint is
	# set again, which makes wireguard-go forget its source address on wifi at once (by itself
	# it holds on to it until its next handshake, ~15 s: bench-roam.sh, ROAM_DOWN)
	r_wifi_down
	t_wg "$CL" set wg0 peer "$GW_PUB" endpoint 198.18.0.1:51820
	t_ok "e1: wifi gone: the stock client reaches the gateway from lte" \
		r_until 5 t_in cl ping -c1 -W1 192.0.2.1
	t_ok "e1: the gateway follows it to lte" r_until 3 r_gw_at "$LTE_EP"
	p_down
	p_wifi_back
}

# --- 6: xdpwgd client against a wireguard-go gateway ---
session6()
{
	t_ok "e2: wireguard-go gateway up" t_start_wggo gw wg0 || return
	GW=$T_PID
	t_ok "e2: gateway configured" t_wg "$GW" set wg0 private-key "$T_DIR/gw.key" \
		listen-port 51820 peer "$CL_PUB" allowed-ips 192.0.2.2/32
	ip -n "$GWNS" addr add 192.0.2.1/24 dev wg0 && ip -n "$GWNS" link set wg0 up
	t_ok "e2: client xdpwgd up" p_start_cl || return
	t_ok "e2: client: roam-policy multipath for the gateway" \
		t_at "$CL" "$CTL" set wg0 peer "$GW_PUB" roam-policy multipath
	t_ok "e2: tunnel up" r_until 5 t_in cl ping -c1 -W1 192.0.2.1
	p_pings e2-multipath cl 192.0.2.1
	p_pings e2-multipath gw 192.0.2.2
	t_diag "e2: wireguard-go's endpoint for the client: $(r_gw_endpoint)"
	t_ok "e2: client: roam-policy redundant for the gateway" \
		t_at "$CL" "$CTL" set wg0 peer "$GW_PUB" roam-policy redundant
	p_pings e2-redundant cl 192.0.2.1
	p_pings e2-redundant gw 192.0.2.2
	p_down
}

# --- 7: wifi dead from the start: the handshake is the probe ---
session7()
{
	t_ok "h: gateway xdpwgd ($MAIN_MODE) up" r_start_gw || return
	t_ok "h: gateway: roam-policy multipath for the client" \
		t_at "$GW" "$CTL" set wg0 peer "$CL_PUB" roam-policy multipath
	r_blackhole wifi
	XDPWG_UPLINKS=wifi,lte XDPWG_PATH_PROBE_MS=$PROBE_MS t_start_xdpwgd cl wg0 || return
	CL=$T_PID
	# the client's policy from a configuration file this time (RoamPolicy)
	cat >"$T_DIR/cl.conf" <<-EOF
		[Interface]
		PrivateKey = $(cat "$T_DIR/cl.key")
		ListenPort = 51821

		[Peer]
		PublicKey = $GW_PUB
		Endpoint = 198.18.0.1:51820
		AllowedIPs = 192.0.2.0/24
		RoamPolicy = multipath
	EOF
	t_ok "h: client configured from a file with RoamPolicy = multipath" \
		t_at "$CL" "$CTL" setconf wg0 "$T_DIR/cl.conf"
	ip -n "$CLNS" addr add 192.0.2.2/24 dev wg0 && ip -n "$CLNS" link set wg0 up
	# the first initiation goes out on wifi, into the blackhole; the retransmit (REKEY_TIMEOUT,
	# 5 s) on lte: up well within 15 s, where a stock client waits for wifi to come back
	t_ok "h: wifi dead from the start: the tunnel comes up over lte" \
		r_until 15 t_in cl ping -c1 -W1 192.0.2.1
	t_like "$(grep 'path wifi -> lte' "$CL_LOG")" "handshake unanswered" \
		"h: the client moved to lte because its initiation went unanswered"
	t_ok "h: the gateway sends to lte" r_until 3 r_gw_at "$LTE_EP"
	p_down
}

# --- 8: the active path degrades (satellite-like) next to a clean one ---
session8()
{
	p_up g "$MAIN_MODE" multipath || return
	t_in cl ping -i 0.02 -w 8 -W1 192.0.2.1 >/dev/null 2>&1 &
	t_track $!
	t_ok "g: wifi through the router's delay line (30% lost, 300 ms each way)" \
		r_impair_on wifi 30 300
	t_ok "g: the client leaves it for the clean lte within 5 s" r_until 5 r_gw_at "$LTE_EP"
	t_like "$(grep 'path wifi -> lte' "$CL_LOG")" "round trip|loss|no answer" \
		"g: the client logs why it left wifi"
	r_impair_off
	p_down
}

# timed: each session's seconds in a comment, for the runtime budget (docs/testing.md)
timed()
{
	local s=$SECONDS
	"$@"
	t_diag "$1: $((SECONDS - s)) s"
}
r_topology
timed session1
timed session2
timed session3
[ "$MAIN_MODE" = socket ] || timed session4
timed session5
timed session6
timed session7
timed session8
t_no_sanitizer_reports
t_done
