#!/usr/bin/env bash
# Transit traffic through an attached gateway (issue #15): a wireguard-go pair on port 51820,
# one in front of the gateway (cl) and one behind it (in), while xdpwgd on the gateway listens
# on the same port with XDP on its uplink. With the local-address match (local_addrs, filled by
# the daemon from rtnetlink) their datagrams are not ours: XDP passes them untouched
# (pass_transit) and the kernel forwards them. Before #15 XDP judged them as ours: handshakes
# failed mac1 and data had unknown indexes, so the pair never came up. IPv4 and IPv6 outer, and
# an address added to the gateway later is picked up (RTM_NEWADDR).
. "$(dirname "$0")/lib.sh"
t_require_root
t_require_cmd wireguard-go wg ping
t_require_xdpwgd
CTL=$XDPWG_BUILD/xdpwgctl

t_ns cl
t_ns gw
t_ns in
t_link cl eth0 198.18.0.2/24 gw eth0 198.18.0.1/24 2001:db8:ff::2/64 2001:db8:ff::1/64
t_link gw eth1 198.51.100.1/24 in eth0 198.51.100.2/24 2001:db8:ee::1/64 2001:db8:ee::2/64
t_in gw sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
t_in cl ip route add 198.51.100.0/24 via 198.18.0.1
t_in cl ip -6 route add 2001:db8:ee::/64 via 2001:db8:ff::1
t_in in ip route add default via 198.51.100.1
t_in in ip -6 route add default via 2001:db8:ee::1

gw_pub=$(t_genkey gw)
cl_pub=$(t_genkey cl)
in_pub=$(t_genkey in)

t_ok "xdpwgd on the gateway, XDP on eth0, port 51820" t_start_xdpwgd gw wg0 --attach eth0
GW=$T_PID
t_ok "gateway configured (no peers)" \
	t_wg "$GW" set wg0 private-key "$T_DIR/gw.key" listen-port 51820

stat_of()
{
	t_at "$GW" "$CTL" stats wg0 | awk -v k="$1" '$1 == k || $1 == k":" { print $NF; exit }'
}

# the pair: in listens on 51820 behind the gateway, cl on 51820 in front of it
t_ok "wireguard-go behind the gateway" t_start_wggo in wg0
IN=$T_PID
t_ok "wireguard-go in front of the gateway" t_start_wggo cl wg0
CL=$T_PID
pair_conf()
{
	t_wg "$IN" set wg0 private-key "$T_DIR/in.key" listen-port 51820 \
		peer "$cl_pub" allowed-ips 192.0.2.2/32,2001:db8:1::2/128 &&
		t_wg "$CL" set wg0 private-key "$T_DIR/cl.key" listen-port 51820 \
			peer "$in_pub" endpoint "$1" allowed-ips 192.0.2.1/32,2001:db8:1::1/128
}
t_ok "pair configured, IPv4 outer" pair_conf 198.51.100.2:51820
ip -n "$(t_nsname in)" addr add 192.0.2.1/24 dev wg0
ip -n "$(t_nsname in)" addr add 2001:db8:1::1/64 dev wg0 nodad
ip -n "$(t_nsname in)" link set wg0 up
ip -n "$(t_nsname cl)" addr add 192.0.2.2/24 dev wg0
ip -n "$(t_nsname cl)" addr add 2001:db8:1::2/64 dev wg0 nodad
ip -n "$(t_nsname cl)" link set wg0 up

transit0=$(stat_of pass_transit)
drops0=$(($(stat_of unknown_index) + $(stat_of bad_mac1) + $(stat_of bad_type)))
t_ok "the pair talks through the gateway (IPv4 outer)" t_wait 10 t_in cl ping -c1 -W1 192.0.2.1
t_ok "20 pings, none lost" t_in cl ping -c 20 -i 0.05 -W2 192.0.2.1
transit1=$(stat_of pass_transit)
t_ok "XDP counted them as transit (pass_transit $transit0 -> $transit1)" \
	test "$transit1" -ge $((transit0 + 20))

t_ok "pair switched to IPv6 outer" \
	t_wg "$CL" set wg0 peer "$in_pub" endpoint '[2001:db8:ee::2]:51820'
t_ok "the pair talks through the gateway (IPv6 outer)" \
	t_wait 10 t_in cl ping -6 -c 20 -i 0.05 -W2 2001:db8:1::1
transit2=$(stat_of pass_transit)
t_ok "IPv6 transit counted too ($transit1 -> $transit2)" test "$transit2" -ge $((transit1 + 20))
drops1=$(($(stat_of unknown_index) + $(stat_of bad_mac1) + $(stat_of bad_type)))
t_is "$drops1" "$drops0" "no transit datagram dropped as ours (unknown index, mac1, type)"

# junk to the gateway's own address on the port is still ours: dropped in XDP
bad0=$(stat_of bad_type)
t_in cl python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(5):
    s.sendto(b"\x09\0\0\0" + b"x" * 60, ("198.18.0.1", 51820))
' 2>/dev/null
t_ok "junk to the gateway's own address: dropped as bad_type" \
	t_wait 5 sh -c "[ \$(nsenter -t $GW -m -n $CTL stats wg0 | awk '\$1 ~ /^bad_type/ { print \$NF }') -ge $((bad0 + 5)) ]"

# an address added to the gateway later becomes ours (the daemon follows RTM_NEWADDR)
ip -n "$(t_nsname gw)" addr add 198.18.0.77/24 dev eth0
bad1=$(stat_of bad_type)
t_ok "junk to an address added later: ours after the monitor saw it" t_wait 5 sh -c "
	ip netns exec $(t_nsname cl) python3 -c '
import socket
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b\"\x09\0\0\0\" + b\"x\" * 60, (\"198.18.0.77\", 51820))
' && sleep 0.2 &&
	[ \$(nsenter -t $GW -m -n $CTL stats wg0 | awk '\$1 ~ /^bad_type/ { print \$NF }') -gt $bad1 ]"

t_done
