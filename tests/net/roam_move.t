#!/usr/bin/env bash
# Roaming, end to end: a client xdpwgd (socket mode) with two uplinks, "wifi" and "lte", reaches
# an xdpwgd gateway (--attach eth0) through a router. Its wifi uplink goes down: the client
# notices the route change and announces itself from lte at once; the gateway moves the endpoint
# on that authenticated packet, reports one event with the right old and new endpoint, counts
# the move in show, and sends nothing more to the old endpoint. Then the client moves back and a
# follower (events --follow) sees that move as it happens.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/roam_lib.sh"
t_require_root
t_require_cmd wg python3 tcpdump
t_require_xdpwgd

r_topology
t_ok "gateway xdpwgd --attach eth0 up" r_start_gw
t_ok "client xdpwgd (socket mode) up" r_start_cl xdpwgd
t_ok "tunnel up over wifi" t_wait 3 t_in cl ping -c1 -W1 192.0.2.1
t_is "$(r_gw_endpoint)" "198.51.100.2:51821" "gateway sees the client at its wifi address"
t_is "$(r_nevents)" 0 "no move event yet (a first learned endpoint is no move)"
t_like "$(t_at "$GW" ls /run/wireguard)" 'wg0\.events' "the events socket is next to wg0.sock"

# the gateway talks to the client now and then (so it has sent to the old endpoint)
t_in gw ping -c 3 -i 0.1 -W1 192.0.2.2 >/dev/null 2>&1

# the switch: wifi goes away; no keepalive is configured, the client has nothing to send
t0=$(date +%s.%N)
r_wifi_down
t_ok "gateway follows the client to lte (bounded wait)" \
	t_wait 5 sh -c "nsenter -t $GW -m -n wg show wg0 endpoints | grep -q 203.0.113.2:51821"
ev=$(r_events)
t_diag "$ev"
t_is "$(grep -c '"seq"' <<<"$ev")" 1 "exactly one move event"
t_like "$ev" '"old_endpoint":"198\.51\.100\.2:51821","new_endpoint":"203\.0\.113\.2:51821"' \
	"the event names the old and the new endpoint"
t_like "$ev" "\"peer\":\"${CL_PUB//+/\\+}\"" "the event names the peer's public key"
if [ "${ROAM_GW:-}" = socket ]; then
	t_like "$ev" '"first_seen_source":"receive"' "socket mode: dated by the receive time"
else
	t_like "$ev" '"first_seen_source":"xdp_event"' "dated by the XDP program's new-source event"
fi
t_like "$ev" '"sent_to_old":[0-9]+' "sends to the old endpoint since its last packet are counted"
moved=$(sed -n 's/.*"time":"\([0-9.]*\)".*/\1/p' <<<"$ev" | head -n1)
dt=$(awk -v a="$moved" -v b="$t0" 'BEGIN { printf "%.3f", a - b }')
t_diag "link down -> gateway moved: ${dt} s"
t_result "$(awk -v d="$dt" 'BEGIN { print (d >= 0 && d < 1) ? 0 : 1 }')" \
	"the client announced itself within 1 s of its route change (${dt} s)"
t_like "$(t_at "$GW" "$CTL" show wg0)" "endpoint moves: 1" "xdpwgctl show counts the move"
t_like "$(grep 'moved 198.51.100.2:51821 -> 203.0.113.2:51821' "$T_DIR"/xdpwgd-gw-wg0.log)" \
	"first seen" "the daemon logs the move in one line"

# nothing more to the old endpoint: capture on the router while the gateway pings the client
t_in rt timeout 3 tcpdump -i gw -nn -U -w "$T_DIR/after.pcap" udp and dst host 198.51.100.2 \
	>"$T_DIR/tcpdump.log" 2>&1 &
t_track $!
t_wait 3 grep -q listening "$T_DIR/tcpdump.log"
t_ok "gateway reaches the client at its new address" t_in gw ping -c 10 -i 0.1 -W1 192.0.2.2
sleep 2.5
t_is "$(tcpdump -r "$T_DIR/after.pcap" -nn 2>/dev/null | grep -c .)" 0 \
	"nothing sent to the old endpoint after the move"

# a follower sees the next move live
t_at "$GW" timeout 20 "$CTL" events wg0 --follow --json >"$T_DIR/follow.out" 2>&1 &
t_track $!
t_wait 3 grep -q '"seq":0' "$T_DIR/follow.out"
t_is "$(grep -c '"seq"' "$T_DIR/follow.out")" 1 "a follower gets the recent events first"
ip -n "$CLNS" link set wifi up
ip -n "$CLNS" addr add 198.51.100.2/24 dev wifi nodad 2>/dev/null
ip -n "$CLNS" route replace default via 198.51.100.1 dev wifi metric 50
t_ok "the client moves back to wifi" \
	t_wait 5 sh -c "nsenter -t $GW -m -n wg show wg0 endpoints | grep -q 198.51.100.2:51821"
t_ok "the follower gets the move back as it happens" t_wait 3 grep -q '"seq":1' "$T_DIR/follow.out"
t_like "$(grep '"seq":1' "$T_DIR/follow.out")" \
	'"old_endpoint":"203\.0\.113\.2:51821","new_endpoint":"198\.51\.100\.2:51821"' \
	"the live event names lte -> wifi"
t_like "$(t_wg "$GW" show wg0 2>&1)" "peer: " "stock wg still reads the gateway"
t_ok "tunnel works after the moves" t_in cl ping -c1 -W2 192.0.2.1
t_done
