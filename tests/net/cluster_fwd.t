#!/usr/bin/env bash
# A gateway cluster's forwarding in XDP (issue #17, docs/cluster.md): two xdpwgd gateways in
# XDP mode (--attach eth0), ids 1 and 2, each with the other as a static member, the SAME
# private key and one service address 198.18.1.1 on both; a router in front with a /32 route
# for the service address via gw1; a wireguard-go client behind the router.
#   - the client handshakes with gw1 (its receiver index carries id 1);
#   - the router's route flips to gw2: pings keep working with ZERO new handshakes (the
#     client's latest handshake unchanged, gw2 never had one), gw2's counters show the data
#     forwarded, gw1's show it unwrapped; gw1 answers straight from the service address;
#   - the client changes its source port behind gw2: gw1's endpoint follows, still no handshake;
#   - captured data replayed from another source via gw2 reaches gw1 and moves nothing;
#   - an index of a gateway id with no member is dropped and counted at gw2;
#   - gw2 restarted without XDP forwards from its socket path (userspace, a raw socket).
#
#   cl eth0 203.0.113.2 --- 203.0.113.1 rt r1 198.18.0.254 --- 198.18.0.1 gw1 eth0
#                                          r2 198.18.2.254 --- 198.18.2.1 gw2 eth0
. "$(dirname "$0")/lib.sh"
t_require_root
t_require_cmd wireguard-go wg python3
t_require_xdpwgd
CTL=$XDPWG_BUILD/xdpwgctl
RP="python3 $(cd "$(dirname "$0")/../.." && pwd)/tests/helpers/wgreplay.py"

t_ns cl
t_ns rt
t_ns gw1
t_ns gw2
RT=$(t_nsname rt)
t_link cl eth0 203.0.113.2/24 rt eth0 203.0.113.1/24
t_link rt r1 198.18.0.254/24 gw1 eth0 198.18.0.1/24
t_link rt r2 198.18.2.254/24 gw2 eth0 198.18.2.1/24
t_in rt sysctl -qw net.ipv4.ip_forward=1
t_in cl ip route add default via 203.0.113.1
for g in gw1 gw2; do
	t_in $g ip addr add 198.18.1.1/32 dev lo
	t_in $g ip route add default via "$(t_in $g ip -4 -o addr show eth0 | awk '{ sub(/\.[0-9]+\/.*/, ".254", $4); print $4 }')"
done
ip -n "$RT" route add 198.18.1.1/32 via 198.18.0.1
# A gateway sends what it forwards back out of eth0 with XDP_TX; a veth delivers that only to a
# peer with an XDP program of its own. xdpwg_mux with no tunnels behind it passes everything.
for r in r1 r2; do
	ip -n "$RT" link set dev $r xdpdrv obj "$XDPWG_BUILD/xdpwg_mux.bpf.o" sec xdp ||
		t_bail "no XDP program on the router's $r"
done

gw_pub=$(t_genkey gw)
cl_pub=$(t_genkey cl)

start_gw()
{
	local g=$1 id=$2
	t_start_xdpwgd "$g" wg0 --attach eth0 --gateway-id "$id" \
		--cluster-gateway 1=198.18.0.1 --cluster-gateway 2=198.18.2.1 || return 1
	t_wg "$T_PID" set wg0 private-key "$T_DIR/gw.key" listen-port 51820 \
		peer "$cl_pub" allowed-ips 192.0.2.2/32 || return 1
	t_in "$g" ip addr add 192.0.2.1/24 dev wg0 &&
		t_in "$g" ip link set wg0 up
}
t_ok "gw1 starts: --gateway-id 1, members 1 and 2" start_gw gw1 1 || t_bail "gw1"
GW1=$T_PID
t_ok "gw2 starts: --gateway-id 2, the same key" start_gw gw2 2 || t_bail "gw2"
GW2=$T_PID
t_like "$(cat "$T_DIR/xdpwgd-gw1-wg0.log")" "gateway 1 of a cluster, underlay 198.18.0.1" \
	"gw1 logs its id and underlay address"
t_is "$(t_in gw1 sysctl -n net.ipv4.conf.eth0.forwarding)" 1 \
	"forwarding on gw1's eth0 (XDP's route lookups need it)"
t_like "$(t_in gw2 ip -d neigh show 198.18.2.254 dev eth0)" "managed" \
	"gw2 keeps its next hop towards gw1 resolved (a managed neighbour)"

t_start_wggo cl wg0 || t_bail "wireguard-go"
CL=$T_PID
t_wg "$CL" set wg0 private-key "$T_DIR/cl.key" listen-port 51821 \
	peer "$gw_pub" endpoint 198.18.1.1:51820 allowed-ips 192.0.2.1/32
t_in cl ip addr add 192.0.2.2/24 dev wg0
t_in cl ip link set wg0 up

stat_of()
{
	t_at "$1" "$CTL" stats wg0 | awk -v k="$2" '$1 == k || $1 == k":" { print $NF; exit }'
}
hs()
{
	t_wg "$1" show wg0 latest-handshakes | awk '{ print $2 }'
}
ep()
{
	t_wg "$1" show wg0 endpoints | awk '{ print $2 }'
}
rx()
{
	t_wg "$1" show wg0 transfer | awk '{ print $2 }'
}

# 1. through gw1, with a capture of what the client sends
rm -f "$T_DIR/c1.cap"
t_in cl $RP capture eth0 51820 20 "$T_DIR/c1.cap" >>"$T_DIR/log" 2>&1 &
CAP=$!
t_track "$CAP"
t_wait 5 test -e "$T_DIR/c1.cap"
t_ok "client pings through gw1" t_wait 10 t_in cl ping -c1 -W1 192.0.2.1
t_ok "... and again" t_in cl ping -c 5 -i 0.2 -W 2 192.0.2.1
sleep 0.2
pkill -TERM -P "$CAP" 2>/dev/null
kill -TERM "$CAP" 2>/dev/null
wait "$CAP" 2>/dev/null
hs_cl=$(hs "$CL")
hs_gw1=$(hs "$GW1")
t_like "$hs_cl" '^[1-9][0-9]*$' "the client has a handshake (with gw1)"
t_like "$hs_gw1" '^[1-9][0-9]*$' "gw1 has the session"
t_is "$(hs "$GW2")" 0 "gw2 never saw a handshake"
t_is "$(ep "$GW1")" 203.0.113.2:51821 "gw1's endpoint for the client"

# 2. the router now sends the service address to gw2
fwd0=$(stat_of "$GW2" cluster_forwarded_data)
in0=$(stat_of "$GW1" cluster_forwarded_in)
ip -n "$RT" route replace 198.18.1.1/32 via 198.18.2.1
t_ok "pings keep working after the route flips to gw2" \
	t_in cl ping -c 10 -i 0.1 -W 2 192.0.2.1
fwd1=$(stat_of "$GW2" cluster_forwarded_data)
in1=$(stat_of "$GW1" cluster_forwarded_in)
t_result $(((fwd1 - fwd0) >= 10 ? 0 : 1)) "gw2 forwarded the data to gw1 ($((fwd1 - fwd0)))"
t_result $(((in1 - in0) >= 10 ? 0 : 1)) "gw1 unwrapped it ($((in1 - in0)))"
t_is "$(stat_of "$GW2" cluster_no_neighbour)" 0 "gw2 never lacked a neighbour"
t_is "$(hs "$CL")" "$hs_cl" "ZERO new handshakes: the client's latest handshake is unchanged"
t_is "$(hs "$GW1")" "$hs_gw1" "... and gw1's"
t_is "$(hs "$GW2")" 0 "... and gw2 still never had one"
t_is "$(ep "$GW1")" 203.0.113.2:51821 "gw1's endpoint for the client unchanged"
t_ok "gw1 pings the client" t_in gw1 ping -c 3 -i 0.2 -W 2 192.0.2.2
# wireguard-go moves its endpoint to the source of any authenticated packet: replies from an
# underlay address, or relayed by gw2, would show here
t_is "$(ep "$CL")" 198.18.1.1:51820 "gw1 answers from the service address, straight to the client"

# 3. the client's source changes behind gw2 (a NAT rebinding, a new uplink's port)
t_wg "$CL" set wg0 listen-port 51822
t_ok "pings after the client's port changed, through gw2" \
	t_in cl ping -c 5 -i 0.2 -W 2 192.0.2.1
t_is "$(ep "$GW1")" 203.0.113.2:51822 "gw1's endpoint followed the forwarded, authenticated packets"
t_is "$(hs "$CL")" "$hs_cl" "still no new handshake"
t_is "$(ep "$CL")" 198.18.1.1:51820 "the client still hears from the service address"

# 4. captured data replayed from elsewhere, through gw2: authenticated by nobody, moves nothing
rx0=$(rx "$GW1")
fwd0=$(stat_of "$GW2" cluster_forwarded_data)
n=$(t_in rt $RP send 203.0.113.66 4444 198.18.1.1 51820 "$T_DIR/c1.cap" --types 4 --no-keepalive)
sleep 0.5
fwd1=$(stat_of "$GW2" cluster_forwarded_data)
t_result $(((n > 0 && fwd1 - fwd0 >= n) ? 0 : 1)) \
	"$n replayed data messages forwarded by gw2 ($((fwd1 - fwd0)))"
t_is "$(ep "$GW1")" 203.0.113.2:51822 "the replay moved nothing"
rx1=$(rx "$GW1")
t_result $(((rx1 - rx0) <= 64 ? 0 : 1)) "and delivered nothing (rx grew by $((rx1 - rx0)))"
t_is "$(hs "$CL")" "$hs_cl" "and cost no handshake"

# 5. an index naming gateway 9, which is no member
unk0=$(stat_of "$GW2" cluster_unknown_gateway)
t_in rt python3 -c '
import socket, struct
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(3):
    s.sendto(struct.pack("<II", 4, (9 << 26) | 77 + i) + bytes(24), ("198.18.1.1", 51820))
'
sleep 0.3
unk1=$(stat_of "$GW2" cluster_unknown_gateway)
t_is "$((unk1 - unk0))" 3 "data for gateway 9's index: dropped and counted at gw2"
t_ok "the client still pings" t_in cl ping -c 2 -i 0.2 -W 2 192.0.2.1
t_diag "$(t_at "$GW2" "$CTL" stats wg0 | grep -E 'cluster|redirected')"

# a clean stop leaves no cluster behind: the managed neighbour goes with the daemon
t_ok "gw2 stops on SIGTERM" t_stop "$GW2"
t_result "$(t_in gw2 ip -d neigh show 198.18.2.254 dev eth0 | grep -c managed)" \
	"gw2's managed neighbour removed at its stop"

# 6. gw2 again, without XDP: its socket path forwards in userspace (a raw IP-in-IP socket)
start_gw_sock()
{
	t_start_xdpwgd gw2 wg0 --gateway-id 2 \
		--cluster-gateway 1=198.18.0.1 --cluster-gateway 2=198.18.2.1 || return 1
	t_wg "$T_PID" set wg0 private-key "$T_DIR/gw.key" listen-port 51820 \
		peer "$cl_pub" allowed-ips 192.0.2.2/32 || return 1
	t_in gw2 ip addr add 192.0.2.1/24 dev wg0 && t_in gw2 ip link set wg0 up
}
t_ok "gw2 starts in socket mode (no --attach), id 2" start_gw_sock || t_bail "gw2 socket mode"
GW2=$T_PID
in0=$(stat_of "$GW1" cluster_forwarded_in)
t_ok "pings through gw2's socket path" t_in cl ping -c 5 -i 0.2 -W 2 192.0.2.1
in1=$(stat_of "$GW1" cluster_forwarded_in)
t_result $(((in1 - in0) >= 5 ? 0 : 1)) "gw1 unwrapped what gw2 forwarded from userspace ($((in1 - in0)))"
t_is "$(hs "$CL")" "$hs_cl" "still no new handshake"
t_is "$(hs "$GW2")" 0 "gw2 in socket mode never had one either"
t_is "$(ep "$CL")" 198.18.1.1:51820 "the client hears from the service address"
t_no_sanitizer_reports

t_done
