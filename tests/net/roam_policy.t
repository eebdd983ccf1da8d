#!/usr/bin/env bash
# Roam policy end to end: a pinned peer never moves (its client switches uplinks, the gateway
# keeps the configured endpoint and reports no event); roam-policy within moves only to sources
# inside the listed CIDRs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/roam_lib.sh"
t_require_root
t_require_cmd wg
t_require_xdpwgd

r_topology
t_ok "gateway up" r_start_gw
t_ok "client xdpwgd up" r_start_cl xdpwgd
t_ok "tunnel up over wifi" t_wait 3 t_in cl ping -c1 -W1 192.0.2.1
t_ok "pin the client's endpoint" t_at "$GW" "$CTL" set wg0 peer "$CL_PUB" roam-policy pinned
t_like "$(t_uapi "$GW" wg0 <<<$'get=1\n')" "roam_policy=pinned" "the policy is in the get reply"

r_wifi_down
# the client announces itself from lte at once; give it time to try, and to retry
t_in cl ping -c 5 -i 0.2 -W1 192.0.2.1 >/dev/null 2>&1
sleep 1
t_is "$(r_gw_endpoint)" "198.51.100.2:51821" "pinned: the endpoint stays at the wifi address"
t_is "$(r_nevents)" 0 "pinned: no move event"
t_ok "pinned: show reports no move" sh -c "! nsenter -t $GW -m -n $CTL show wg0 | grep -q 'endpoint moves'"

# within: lte is inside the allowed range, so the next authenticated packet moves it
t_ok "roam within 203.0.113.0/25" t_at "$GW" "$CTL" set wg0 peer "$CL_PUB" roam-policy within \
	roam-within 203.0.113.0/25
t_in cl ping -c 5 -i 0.2 -W1 192.0.2.1 >/dev/null 2>&1
t_ok "within: the endpoint moves to lte" \
	t_wait 5 sh -c "nsenter -t $GW -m -n wg show wg0 endpoints | grep -q 203.0.113.2:51821"
t_is "$(r_nevents)" 1 "within: one move event"

# and back to wifi, outside the range: it stays
ip -n "$CLNS" link set wifi up
ip -n "$CLNS" addr add 198.51.100.2/24 dev wifi nodad 2>/dev/null
ip -n "$CLNS" route replace default via 198.51.100.1 dev wifi metric 50
t_in cl ping -c 5 -i 0.2 -W1 192.0.2.1 >/dev/null 2>&1
sleep 0.5
t_is "$(r_gw_endpoint)" "203.0.113.2:51821" "within: no move to a source outside the range"
t_is "$(r_nevents)" 1 "within: still one event"
t_done
