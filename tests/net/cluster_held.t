#!/usr/bin/env bash
# Who holds a session, in etcd (daemon/cluster_held.c, docs/cluster.md "Who holds a session"):
# in the cluster lab with three etcd members and BIRD, gw1 and gw2 run xdpwgd in socket mode
# with --cluster, --etcd, --gateway-id and --cluster-table. A wireguard-go client handshakes
# with gw1: gw1 claims it (/xdpwg/held/held/KEY = {"gateway":1}) and the router routes its
# tunnel address via gw1. The client then handshakes with gw2 (its endpoint pointed at gw2's
# own address): gw2 claims it, gw1 sees the claim and withdraws its route, so the router routes
# via gw2 alone. Malformed held records are refused with a log line naming the key. gw2
# SIGKILLed: its claim goes with its lease. The peer removed from etcd while gw1 holds it:
# gw1 deletes its own claim.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
t_require_root
t_require_cmd bird birdc wg wireguard-go etcd etcdctl python3
t_require_xdpwgd

CTL=$XDPWG_BUILD/xdpwgctl
NAME=held
c_topology
t_ok "BIRD on the router and the gateways, sessions established" c_bird_up
t_ok "a 3-member etcd cluster is up" c_etcd_up || t_bail "etcd did not start"

KEY=/xdpwg/$NAME/held/$(tr '+/' '-_' <<<"$CL_PUB")
claim() { c_etcdctl get --print-value-only "$KEY"; }
claim_is() { [ "$(claim)" = "$1" ]; }
log_has() { grep -qF -- "$2" "$T_DIR/xdpwgd-gw$1-wg0.log"; }
has_peer() { t_wg "$(c_gw_pid "$1")" show wg0 peers | grep -qxF "$CL_PUB"; }
both_have() { has_peer 1 && has_peer 2; }
leased() { c_etcdctl -w json get "$KEY" | grep -q '"lease":[1-9]'; }

for n in 1 2; do
	XDPWG_UNDERLAY=$(c_gw_addr "$n") t_ok \
		"gw$n: xdpwgd --cluster $NAME --gateway-id $n --cluster-table $C_TABLE (socket mode)" \
		c_start_gw "$n" --cluster "$NAME" --etcd "$C_ETCD_ENDPOINTS" --gateway-id "$n"
done
t_ok "the peer added in etcd" t_in rt "$CTL" cluster --etcd "$C_ETCD_ENDPOINTS" --cluster "$NAME" \
	add-peer "$CL_PUB" allowed-ips 192.0.2.2/32
t_ok "  ... on both gateways" t_wait 5 both_have

# the client straight to gw1's own address: gw1 answers the handshake
t_ok "wireguard-go client to gw1" c_start_cl wireguard-go "$(c_gw_addr 1):51820"
t_ok "handshake with gw1" t_wait 5 t_in cl ping -c1 -W1 192.0.2.1
t_ok "the router routes the client via gw1" t_wait 3 c_rt_via 192.0.2.2 "$(c_gw_addr 1)"
t_ok "etcd: the claim is gw1's" t_wait 3 claim_is '{"gateway":1}'
t_ok "  ... under gw1's membership lease" leased

# the client moves to gw2: a new peer state on the client, so its next packet is a handshake
t_wg "$CL" set wg0 peer "$GW_PUB" remove
t_wg "$CL" set wg0 peer "$GW_PUB" endpoint "$(c_gw_addr 2):51820" \
	allowed-ips 192.0.2.0/24,198.18.2.0/24
ip -n "$CLNS" route replace 198.18.2.0/24 dev wg0
t_ok "handshake with gw2" t_wait 5 t_in cl ping -c1 -W1 192.0.2.1
t0=$(c_now)
t_ok "the router routes the client via gw2 alone (within 3 s)" \
	t_wait 3 c_rt_via 192.0.2.2 "$(c_gw_addr 2)"
t_diag "handshake with gw2 -> the router via gw2 alone: $(c_since "$t0") s"
t_is "$(c_gw_table 1)" "" "gw1's table $C_TABLE no longer has the client"
t_is "$(c_gw_table 2)" "192.0.2.2 dev wg0 proto $C_RTPROT scope link " "gw2's table has it"
t_ok "etcd: the claim is gw2's" t_wait 10 claim_is '{"gateway":2}'
t_ok "gw1 logged the move" log_has 1 "is held by gateway 2 now"
t_is "$(c_gw_handshakes 1)$(c_gw_handshakes 2)" 11 "one handshake on each gateway"
t_ok "the inside host reaches the client through gw2" t_wait 5 t_in in ping -c1 -W1 192.0.2.2

# malformed claims: refused by name, nothing changes
OTHER=/xdpwg/$NAME/held/$(tr '+/' '-_' <<<"$GW_PUB")
c_etcdctl put "$OTHER" 'not json' >/dev/null
c_etcdctl put "$OTHER" '{"gateway":99}' >/dev/null
c_etcdctl put /xdpwg/$NAME/held/nokey '{"gateway":1}' >/dev/null
t_ok "a claim that is not JSON refused, named" t_wait 3 log_has 2 "$OTHER refused: not JSON"
t_ok "a claim by gateway 99 refused, named" t_wait 3 log_has 2 "$OTHER refused: gateway: not a gateway id 1-63"
t_ok "a claim under a name that is not a key refused, named" \
	t_wait 3 log_has 1 "/xdpwg/$NAME/held/nokey refused: the key's name is not a public key"
t_ok "  ... the router still routes the client via gw2" c_rt_via 192.0.2.2 "$(c_gw_addr 2)"
c_etcdctl del "$OTHER" >/dev/null
c_etcdctl del /xdpwg/$NAME/held/nokey >/dev/null
t_ok "  ... and the client's claim is still gw2's" claim_is '{"gateway":2}'

# gw2 dies: its claim goes with its lease
t0=$(c_now)
kill -KILL "$(c_gw_pid 2)"
t_ok "gw2 SIGKILLed: its claim disappears with its lease (within 10 s)" t_wait 10 claim_is ""
t_diag "SIGKILL -> claim gone: $(c_since "$t0") s"

# back to gw1, then the peer removed in etcd: gw1 deletes its own claim
t_wg "$CL" set wg0 peer "$GW_PUB" remove
t_wg "$CL" set wg0 peer "$GW_PUB" endpoint "$(c_gw_addr 1):51820" \
	allowed-ips 192.0.2.0/24,198.18.2.0/24
ip -n "$CLNS" route replace 198.18.2.0/24 dev wg0
t_ok "handshake with gw1 again" t_wait 5 t_in cl ping -c1 -W1 192.0.2.1
t_ok "etcd: the claim is gw1's again" t_wait 3 claim_is '{"gateway":1}'
t_ok "the peer removed from etcd" t_in rt "$CTL" cluster --etcd "$C_ETCD_ENDPOINTS" \
	--cluster "$NAME" remove-peer "$CL_PUB"
t_ok "  ... gw1 deletes its claim" t_wait 3 claim_is ""
t_ok "  ... and withdraws its route" t_wait 3 c_rt_nnexthops 192.0.2.2 0
t_ok "xdpwgd on gw1 stops on SIGTERM" t_stop "$(c_gw_pid 1)"
t_no_sanitizer_reports

[ "$T_FAILED" -eq 0 ] || t_show_log 20
t_done
