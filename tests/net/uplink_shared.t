#!/usr/bin/env bash
# Two tunnels on one uplink: xdpwgd wg0 (port 51820, RX queue 0) and xdpwgd wg1 (port 51821, RX
# queue 1) both --attach eth0, a two-queue veth whose far end steers each tunnel to its queue
# (what ethtool -N does on a NIC; here XPS: a veth delivers on the RX queue of the TX queue the
# sender used, and each client runs on the CPU whose TX queue leads to its tunnel's queue). Checks: both redirect into their own AF_XDP sockets
# through the uplink's entry program (xdpwg_mux), restarting wg0 and killing wg1 with SIGKILL
# never disturb the other's traffic, a killed daemon's slot is reclaimed, a third tunnel with
# no queue left is refused with a clear error, and the last one out leaves eth0 without XDP.
. "$(dirname "$0")/lib.sh"
t_require_root
t_require_cmd wireguard-go wg bpftool taskset python3
[ "$(nproc)" -ge 2 ] || t_skip_all "needs two CPUs to steer two clients to two queues"
t_require_xdpwgd
CTL=$XDPWG_BUILD/xdpwgctl

t_gw_cl 2
# the client's side picks the gateway's RX queue: CPU 0 sends on tx-0 (-> the gateway's rx-0),
# CPU 1 on tx-1
t_in cl sh -c 'echo 1 >/sys/class/net/eth0/queues/tx-0/xps_cpus &&
	echo 2 >/sys/class/net/eth0/queues/tx-1/xps_cpus' || t_bail "XPS"

gw_pub=$(t_genkey gw)
cl_pub=$(t_genkey cl)

# start_gw TUN PORT QUEUE NET: a gateway tunnel; its tunnel network 192.0.2.NET.0/26 style:
# the gateway is .NET+1, the client .NET+2
start_gw()
{
	local tun=$1 port=$2 q=$3 net=$4
	t_start_xdpwgd gw "$tun" --attach eth0 --queues "$q" || return 1
	t_wg "$T_PID" set "$tun" private-key "$T_DIR/gw.key" listen-port "$port" \
		peer "$cl_pub" allowed-ips "192.0.2.$((net + 2))/32" || return 1
	ip -n "$GWNS" addr add "192.0.2.$((net + 1))/26" dev "$tun" 2>/dev/null
	ip -n "$GWNS" link set "$tun" up
}
start_cl()
{
	local tun=$1 port=$2 net=$3
	t_start_wggo cl "$tun" || return 1
	# wg0's client on CPU 0, wg1's on CPU 1: each reaches its tunnel's queue
	taskset -a -p $((1 << (port - 51820))) "$T_PID" >>"$T_DIR/log" 2>&1 || return 1
	t_wg "$T_PID" set "$tun" private-key "$T_DIR/cl.key" peer "$gw_pub" \
		endpoint "198.18.0.1:$port" allowed-ips "192.0.2.$((net + 1))/32" || return 1
	ip -n "$CLNS" addr add "192.0.2.$((net + 2))/26" dev "$tun" &&
		ip -n "$CLNS" link set "$tun" up
}

t_ok "wg0 starts on eth0 (port 51820, queue 0)" start_gw wg0 51820 0 0
GW0=$T_PID
t_ok "wg1 starts on eth0 too (port 51821, queue 1)" start_gw wg1 51821 1 64
GW1=$T_PID
t_ok "client tunnel to wg0" start_cl wg0 51820 0
t_ok "client tunnel to wg1" start_cl wg1 51821 64

prog_name()
{
	local id
	id=$(ip -n "$GWNS" -d link show eth0 | sed -n 's/.*prog\/xdp id \([0-9]*\).*/\1/p' | head -1)
	[ -n "$id" ] && bpftool prog show id "$id" | sed -n 's/^[0-9]*: xdp *name \([^ ]*\).*/\1/p'
}
t_is "$(prog_name)" xdpwg_mux "eth0 runs the uplink's entry program"
t_like "$(cat "$T_DIR/xdpwgd-gw-wg1.log")" "eth0 queue 1: AF_XDP socket" "wg1 opened queue 1"

stat_of()
{
	t_at "$1" "$CTL" stats "$2" | awk -v k="$3" '$1 == k || $1 == k":" { print $NF; exit }'
}
r0=$(stat_of "$GW0" wg0 redirected)
r1=$(stat_of "$GW1" wg1 redirected)
t_ok "ping through wg0" t_wait 10 t_in cl ping -c1 -W1 192.0.2.1
t_ok "ping through wg1" t_wait 10 t_in cl ping -c1 -W1 192.0.2.65
t_ok "20 more through each" sh -c "ip netns exec $CLNS ping -q -c 20 -i 0.02 -W 2 192.0.2.1 &&
	ip netns exec $CLNS ping -q -c 20 -i 0.02 -W 2 192.0.2.65"
t_ok "wg0's datagrams went XDP -> its AF_XDP socket" \
	test "$(stat_of "$GW0" wg0 redirected)" -ge $((r0 + 20))
t_ok "wg1's datagrams went XDP -> its AF_XDP socket" \
	test "$(stat_of "$GW1" wg1 redirected)" -ge $((r1 + 20))

# --- restart wg0 while wg1 carries traffic ---
ip netns exec "$CLNS" ping -q -c 60 -i 0.05 -W 2 192.0.2.65 >"$T_DIR/ping1" 2>&1 &
PING=$!
t_track "$PING"
sleep 0.5
t_ok "wg0 stops on SIGTERM" t_stop "$GW0"
t_like "$(prog_name)" xdpwg_mux "eth0 keeps the entry program while wg1 runs"
t_ok "wg0 starts again" start_gw wg0 51820 0 0
GW0=$T_PID
wait "$PING"
t_like "$(cat "$T_DIR/ping1")" " 0% packet loss" "wg1 lost nothing while wg0 restarted"
t_diag "$(grep -h "packet loss" "$T_DIR/ping1")"
t_ok "wg0 carries traffic again" t_wait 10 t_in cl ping -c1 -W1 192.0.2.1

# --- kill -9 wg1 while wg0 carries traffic ---
ip netns exec "$CLNS" ping -q -c 40 -i 0.05 -W 2 192.0.2.1 >"$T_DIR/ping0" 2>&1 &
PING=$!
t_track "$PING"
sleep 0.3
kill -KILL "$GW1"
wait "$GW1" 2>/dev/null
wait "$PING"
t_like "$(cat "$T_DIR/ping0")" " 0% packet loss" "wg0 lost nothing when wg1 was killed"
t_ok "wg1 starts again after kill -9" start_gw wg1 51821 1 64
GW1=$T_PID
t_like "$(cat "$T_DIR/xdpwgd-gw-wg1.log")" "slot [0-9] of wg1 .* is stale: reclaimed" \
	"the killed daemon's slot is reclaimed"
t_ok "wg1 carries traffic again" t_wait 10 t_in cl ping -c1 -W1 192.0.2.65
r1=$(stat_of "$GW1" wg1 redirected)
t_in cl ping -q -c 10 -i 0.02 -W 2 192.0.2.65 >/dev/null
t_ok "and through XDP" test "$(stat_of "$GW1" wg1 redirected)" -ge $((r1 + 10))

# --- a third tunnel finds no queue of its own ---
t_ok "a third tunnel without a free queue is refused" t_xdpwgd_refused gw --attach eth0 wg2
t_like "$T_OUT" "no RX queue left" "and says why"
t_diag "$(echo "$T_OUT" | grep -m1 "RX queue")"
t_ok "the other two still work" sh -c "ip netns exec $CLNS ping -c1 -W2 192.0.2.1 &&
	ip netns exec $CLNS ping -c1 -W2 192.0.2.65"

# --- a clean-up by hand does not pull the uplink from under live tunnels ---
out=$(t_in gw "$CTL" detach eth0 2>&1)
rc=$?
t_ok "xdpwgctl detach eth0 refuses while tunnels run behind xdpwg_mux" test "$rc" -ne 0
t_like "$out" "still serves wg[01]" "and says which tunnel"
t_is "$(prog_name)" xdpwg_mux "the entry program stays"

# --- the last one out leaves eth0 as it found it ---
t_ok "wg0 stops" t_stop "$GW0"
t_ok "wg1 stops" t_stop "$GW1"
t_unlike_xdp()
{
	! ip -n "$GWNS" link show eth0 | grep -q xdp
}
t_ok "no XDP program left on eth0" t_unlike_xdp
t_done
