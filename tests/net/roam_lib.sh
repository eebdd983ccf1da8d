# shellcheck shell=bash
# Roaming test topology (tests/net/roam_*.t), after bench/bench-lib.sh's: a gateway (xdpwgd
# --attach eth0 on 198.18.0.1) behind a router; a client with two uplinks to the router, "wifi"
# 198.51.100.2 (default route metric 100) and "lte" 203.0.113.2/25 (metric 200); a spoofer on
# 203.0.113.130/25, also behind the router. Tunnel 192.0.2.0/24. Source lib.sh first.

CTL=$XDPWG_BUILD/xdpwgctl
GWNS=$(t_nsname gw)
RTNS=$(t_nsname rt)
CLNS=$(t_nsname cl)

# r_topology [GW_EXTRA_UPLINK]: namespaces, links, routes, keys. With 1, the gateway has a
# second uplink eth1 198.18.0.129/25 (eth0 is then 198.18.0.1/25).
# r_sysctls: the router forwards; nobody drops asymmetric paths (a roaming client's replies
# and a multi-homed gateway's uplinks are asymmetric on purpose).
r_sysctls()
{
	t_in rt sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0
	t_in cl sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	t_in gw sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
}

r_topology()
{
	local mask=24
	[ "${1:-0}" = 1 ] && mask=25
	t_ns gw
	t_ns rt
	t_ns cl
	t_ns sp
	t_link gw eth0 198.18.0.1/$mask rt gw 198.18.0.2/$mask
	[ "${1:-0}" = 1 ] && t_link gw eth1 198.18.0.129/25 rt gw1 198.18.0.130/25
	t_link rt wifi 198.51.100.1/24 cl wifi 198.51.100.2/24
	t_link rt lte 203.0.113.1/25 cl lte 203.0.113.2/25
	t_link rt sp 203.0.113.129/25 sp eth0 203.0.113.130/25
	r_sysctls
	ip -n "$GWNS" route add 198.51.100.0/24 via 198.18.0.2
	ip -n "$GWNS" route add 203.0.113.0/24 via 198.18.0.2
	ip -n "$CLNS" route add default via 198.51.100.1 dev wifi metric 100
	ip -n "$CLNS" route add default via 203.0.113.1 dev lte metric 200
	ip -n "$(t_nsname sp)" route add default via 203.0.113.129
	t_wait 5 t_in cl ping -c1 -W1 198.18.0.1 || t_bail "underlay: client cannot reach 198.18.0.1"
	GW_PUB=$(t_genkey gw)
	CL_PUB=$(t_genkey cl)
}

# r_start_gw [XDPWGD ARGS...]: the gateway on port 51820 with the client as its peer; default
# --attach eth0 (ROAM_GW overrides, e.g. ROAM_GW=socket), "socket" for none. Sets GW.
r_start_gw()
{
	[ $# -gt 0 ] || set -- ${ROAM_GW:---attach eth0}
	[ "$1" = socket ] && shift
	t_start_xdpwgd gw wg0 "$@" || return 1
	GW=$T_PID
	t_wg "$GW" set wg0 private-key "$T_DIR/gw.key" listen-port 51820 \
		peer "$CL_PUB" allowed-ips 192.0.2.2/32 || return 1
	ip -n "$GWNS" addr add 192.0.2.1/24 dev wg0 && ip -n "$GWNS" link set wg0 up
}

# r_start_cl IMPL [ENDPOINT]: xdpwgd (socket mode) or wireguard-go as the client, port 51821.
r_start_cl()
{
	if [ "$1" = xdpwgd ]; then
		t_start_xdpwgd cl wg0 || return 1
	else
		t_start_wggo cl wg0 || return 1
	fi
	CL=$T_PID
	t_wg "$CL" set wg0 private-key "$T_DIR/cl.key" listen-port 51821 \
		peer "$GW_PUB" endpoint "${2:-198.18.0.1:51820}" allowed-ips 192.0.2.0/24 || return 1
	ip -n "$CLNS" addr add 192.0.2.2/24 dev wg0 && ip -n "$CLNS" link set wg0 up
}

# r_gw_endpoint: the gateway's endpoint for the client.
r_gw_endpoint()
{
	t_wg "$GW" show wg0 endpoints | awk '{ print $2 }'
}

# r_events: the gateway's recent move events as JSON lines.
r_events()
{
	t_at "$GW" "$CTL" events wg0 --json
}

r_nevents()
{
	r_events | grep -c '"seq"'
}

# r_wifi_down: the client's current uplink vanishes (address gone, link down).
r_wifi_down()
{
	ip -n "$CLNS" addr flush dev wifi
	ip -n "$CLNS" link set wifi down
}

# r_wifi_up: the wifi uplink back, and preferred again (metric 50, below lte's 200).
r_wifi_up()
{
	ip -n "$CLNS" link set wifi up
	ip -n "$CLNS" addr add 198.51.100.2/24 dev wifi nodad 2>/dev/null
	ip -n "$CLNS" route replace default via 198.51.100.1 dev wifi metric 50
}

# r_gw_at EP: the gateway's endpoint for the client is EP (for t_wait).
r_gw_at()
{
	nsenter -t "$GW" -m -n wg show wg0 endpoints | grep -q "$1"
}

# r_log_since FILE LINE: FILE from line LINE + 1 on (what a daemon logged since `wc -l`).
r_log_since()
{
	tail -n +"$(($2 + 1))" "$1"
}
