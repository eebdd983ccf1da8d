#!/usr/bin/env bash
# Our replies through AF_XDP carry our own MAC as their source: the worker learns the next hop
# from a received frame, and used to take "our" MAC from that frame's destination MAC. A frame
# need not be addressed to us to reach XDP (a veth, or a NIC in promiscuous mode, hands XDP
# every frame): here the client's neighbour entry for the gateway is a wrong MAC, and the
# gateway's replies must still leave with eth0's real address, not the wrong one.
. "$(dirname "$0")/lib.sh"
t_require_root
t_require_cmd wireguard-go wg ping tcpdump
t_require_xdpwgd

t_ns gw
t_ns cl
t_link gw eth0 198.18.0.1/24 cl eth0 198.18.0.2/24
GWMAC=02:00:5e:10:00:01
BOGUS=02:00:5e:10:00:99
ip -n "$(t_nsname gw)" link set eth0 address $GWMAC
ip -n "$(t_nsname cl)" neigh replace 198.18.0.1 lladdr $BOGUS dev eth0 nud permanent

gw_pub=$(t_genkey gw)
cl_pub=$(t_genkey cl)
t_ok "xdpwgd on the gateway, XDP on eth0" t_start_xdpwgd gw wg0 --attach eth0
GW=$T_PID
t_ok "gateway configured" t_wg "$GW" set wg0 private-key "$T_DIR/gw.key" listen-port 51820 \
	peer "$cl_pub" allowed-ips 192.0.2.2/32
ip -n "$(t_nsname gw)" addr add 192.0.2.1/24 dev wg0
ip -n "$(t_nsname gw)" link set wg0 up
t_ok "wireguard-go client" t_wggo_client cl "$gw_pub"

t_in cl tcpdump -i eth0 -n -e -l -c 40 'udp and src port 51820' >"$T_DIR/cap" 2>/dev/null &
CAP=$!
t_track "$CAP"
sleep 1
t_ok "client reaches the gateway although it uses a wrong MAC for it" \
	t_wait 10 t_in cl ping -c1 -W1 192.0.2.1
t_ok "30 pings through the tunnel" t_in cl ping -c 30 -i 0.05 -W2 192.0.2.1
sleep 1
kill "$CAP" 2>/dev/null
wait "$CAP" 2>/dev/null
total=$(grep -c . "$T_DIR/cap")
bogus=$(grep -ci "^[^ ]* $BOGUS >" "$T_DIR/cap")
t_diag "$(head -n 3 "$T_DIR/cap")"
t_ok "replies captured on the client ($total)" test "$total" -ge 20
t_is "$bogus" 0 "no reply sent with the frame's destination MAC as our source"
t_is "$(grep -ci "^[^ ]* $GWMAC >" "$T_DIR/cap")" "$total" "every reply from eth0's own MAC"

t_done
