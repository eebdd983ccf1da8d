#!/usr/bin/env bash
# The cluster lab itself (tests/net/cluster_lib.sh), no xdpwgd: the router's BIRD learns the
# service address from the three gateways' BIRDs and installs one ECMP route hashed on the
# 5-tuple, so the client's flows spread over the gateways; a /32 in one gateway's table 200 is
# routed to that gateway and withdrawn after its deletion; a gateway whose link is cut leaves
# the ECMP set through BFD, a killed one at once; the three-member etcd cluster keeps working
# with one member killed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cluster_lib.sh"
t_require_root
t_require_cmd bird birdc etcd etcdctl nft python3

c_topology
t_ok "etcd: a three-member cluster, every member healthy" c_etcd_up
t_ok "BIRD on the router and the three gateways, three BGP sessions established" c_bird_up
t_ok "BFD sessions up to the three gateways" \
	t_wait 10 sh -c "[ \$(birdc -s $T_DIR/bird-rt.ctl show bfd sessions | grep -c ' Up ') -eq 3 ]"
t_ok "the router routes the service address over 3 next hops" \
	t_wait 10 c_rt_nnexthops "$C_SVC" 3
t_is "$(c_rt_nexthops "$C_SVC" | tr '\n' ' ')" "198.18.0.11 198.18.0.12 198.18.0.13 " \
	"the next hops are the gateways"
t_is "$(t_in rt sysctl -n net.ipv4.fib_multipath_hash_policy)" 1 "the router hashes on layer 4"

# 64 flows from the client, one datagram each: every gateway gets some
t_ok "nft counters in the gateways" c_gw_count_start 51820
t_ok "64 UDP flows from the client to the service address" c_udp_flows 64 51820
sleep 0.3
counts=()
total=0
for n in 1 2 3; do
	counts+=("$(c_gw_count "$n")")
	total=$((total + ${counts[-1]:-0}))
done
t_diag "flows per gateway: ${counts[*]}"
t_is "$total" 64 "every flow reached one gateway"
t_ok "each gateway got some of the flows" \
	test "${counts[0]:-0}" -gt 0 -a "${counts[1]:-0}" -gt 0 -a "${counts[2]:-0}" -gt 0
t_ok "the inside host reaches the service address" t_in in ping -c1 -W2 "$C_SVC"

# a tunnel address in gw2's table 200 is routed via gw2, and withdrawn after its deletion
t0=$(c_now)
t_ok "a /32 in gw2's table $C_TABLE" c_gw_table_add 2 192.0.2.77/32
t_ok "the router routes it via gw2 (within 3 s)" t_wait 3 c_rt_via 192.0.2.77 198.18.0.12
t_diag "announce: $(c_since "$t0") s"
t_is "$(c_rt_nexthops "$C_SVC" | grep -c .)" 3 "the service address keeps its 3 next hops"
t0=$(c_now)
t_ok "deleted from gw2's table" c_gw_table_del 2 192.0.2.77/32
t_ok "the router withdraws it (within 3 s)" t_wait 3 c_rt_nnexthops 192.0.2.77 0
t_diag "withdraw: $(c_since "$t0") s"
t_ok "a prefix outside the tunnel range is not announced" c_gw_table_add 1 198.51.100.0/24
sleep 0.5
t_is "$(ip -n "$RTNS" route show proto bird | grep -c 198.51.100.0/24)" 0 \
	"  ... the router has no BIRD route for it"

# gw3's link cut: no TCP reset, no BGP notification; BFD takes it out of the ECMP set
t0=$(c_now)
c_cut_gw 3
t_ok "gw3 cut: the service address is left with 2 next hops (BFD, within 3 s)" \
	t_wait 3 c_rt_nnexthops "$C_SVC" 2
dt=$(c_since "$t0")
t_diag "link cut -> out of the ECMP set: $dt s (BFD 100 ms x 3)"
t_is "$(c_rt_nexthops "$C_SVC" | tr '\n' ' ')" "198.18.0.11 198.18.0.12 " "gw1 and gw2 remain"

# gw1 killed (everything in it, BIRD included): its BGP session closes with it
t0=$(c_now)
c_kill_gw 1
t_ok "gw1 killed: the service address is left with gw2 alone (within 3 s)" \
	t_wait 3 c_rt_via "$C_SVC" 198.18.0.12
t_diag "SIGKILL -> out of the ECMP set: $(c_since "$t0") s"

# one etcd member killed: the other two still form a quorum
t_ok "etcd put" c_etcdctl put /xdpwg-lab/before 1
kill -KILL "$C_ETCD_PID_2"
t_ok "etcd member e2 killed: put still works" \
	t_wait 5 c_etcdctl put /xdpwg-lab/after 2
t_is "$(c_etcdctl get --print-value-only /xdpwg-lab/before 2>/dev/null)" 1 \
	"get still works: what was there before"
t_is "$(c_etcdctl get --print-value-only /xdpwg-lab/after 2>/dev/null)" 2 \
	"get still works: what was put after"
t_ok "the two other members are healthy" \
	c_etcd_healthy http://198.18.3.1:2379,http://198.18.3.3:2379

[ "$T_FAILED" -eq 0 ] || t_show_log 15
t_done
