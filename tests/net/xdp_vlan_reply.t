#!/usr/bin/env bash
# A client that reaches the gateway over a VLAN on the gateway's attached uplink (eth0.100 on
# eth0): XDP sees the tagged frames and redirects them, the worker decrypts them, but its own
# AF_XDP replies would be untagged. Replies to a tagged next hop must carry the tag (here: take
# the kernel socket, routed out of eth0.100). The client drops untagged replies (strict reverse
# path filter, as a VLAN-only switch port would), and a capture on its side shows the tags.
. "$(dirname "$0")/lib.sh"
t_require_root
t_require_cmd wireguard-go wg ping tcpdump
t_require_xdpwgd

t_ns gw
t_ns cl
t_link gw eth0 - cl eth0 -
GWNS=$(t_nsname gw)
CLNS=$(t_nsname cl)
# the host kernel may lack 8021q (no loadable modules here): the VM (vmtest/run) has it
ip -n "$GWNS" link add link eth0 name eth0.100 type vlan id 100 2>/dev/null ||
	t_skip_all "no VLAN devices in this kernel (8021q)"
ip -n "$CLNS" link add link eth0 name eth0.100 type vlan id 100
ip -n "$GWNS" addr add 198.18.0.1/24 dev eth0.100
ip -n "$CLNS" addr add 198.18.0.2/24 dev eth0.100
ip -n "$GWNS" link set eth0.100 up
ip -n "$CLNS" link set eth0.100 up
t_in cl sysctl -qw net.ipv4.conf.all.rp_filter=1 net.ipv4.conf.eth0.rp_filter=1 \
	net.ipv4.conf.eth0/100.rp_filter=1

gw_pub=$(t_genkey gw)
cl_pub=$(t_genkey cl)
t_ok "xdpwgd on the gateway, XDP on eth0 (the VLAN's parent)" t_start_xdpwgd gw wg0 --attach eth0
GW=$T_PID
t_ok "gateway configured" t_wg "$GW" set wg0 private-key "$T_DIR/gw.key" listen-port 51820 \
	peer "$cl_pub" allowed-ips 192.0.2.2/32
ip -n "$GWNS" addr add 192.0.2.1/24 dev wg0
ip -n "$GWNS" link set wg0 up
t_ok "wireguard-go client over VLAN 100" t_wggo_client cl "$gw_pub"

t_in cl tcpdump -i eth0 -n -e -l -c 60 'udp or (vlan and udp)' >"$T_DIR/cap" 2>/dev/null &
CAP=$!
t_track "$CAP"
sleep 1
t_ok "client reaches the gateway over the VLAN" t_wait 10 t_in cl ping -c1 -W1 192.0.2.1
t_ok "30 pings through the tunnel, none lost" t_in cl ping -c 30 -i 0.05 -W2 192.0.2.1
sleep 1
kill "$CAP" 2>/dev/null
wait "$CAP" 2>/dev/null
replies=$(grep -c '198.18.0.1.51820 >' "$T_DIR/cap")
tagged=$(grep '198.18.0.1.51820 >' "$T_DIR/cap" | grep -c 'vlan 100')
t_diag "$(grep '198.18.0.1.51820 >' "$T_DIR/cap" | head -n 2)"
t_ok "replies captured ($replies)" test "$replies" -ge 20
t_is "$tagged" "$replies" "every reply carries the VLAN tag"
t_like "$(t_at "$GW" "$XDPWG_BUILD/xdpwgctl" stats wg0)" 'redirected +[1-9]' \
	"the tagged frames were received through XDP"

t_done
