#!/usr/bin/env bash
# Multi-homed gateway: replies leave from the local address the peer last wrote to, and through
# that address's uplink, also across two attached interfaces (the kernel driver's cached source).
#
#   gateway eth0 198.18.0.1/24 ---- 198.18.0.2 rt "gw0"    main table: the clients via eth0
#   gateway eth1 198.18.1.1/24 ---- 198.18.1.2 rt "gw1"    "from 198.18.1.1" -> table 101 via eth1
#   client  wifi 198.51.100.2/24 -- rt, default metric 100; lte 203.0.113.2/24 -- rt, metric 200
#
# The gateway runs xdpwgd with --attach eth0 --attach eth1 (then again without --attach: socket
# mode; ROAM_MH_MODES picks). The client is xdpwgd in socket mode. Phases:
#   1. the client writes to A = 198.18.0.1: replies come from A and cross the gw0 link only;
#   2. the client's endpoint is set to B = 198.18.1.1 (same client address): the next
#      authenticated packet changes the gateway's cached source, replies come from B over gw1
#      only, the client keeps B as its endpoint (a reply from A would have moved it back), the
#      gateway-side endpoint does not move and there is no move event;
#   3. the client loses wifi and writes to A again from lte: one packet moves the endpoint and
#      the cached source together, one event (wifi -> lte), replies from A over gw0 only.
# Each phase: the client pings the gateway, the gateway pings the client (traffic both ways);
# captures on the router's ends of the two gateway links (frames sent through AF_XDP do not show
# on the gateway's own uplinks) count what the gateway sent, by link and source address.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/roam_lib.sh"
t_require_root
t_require_cmd wg tcpdump
t_require_xdpwgd

GA=198.18.0.1
GB=198.18.1.1

mh_topology()
{
	t_ns gw
	t_ns rt
	t_ns cl
	t_link gw eth0 $GA/24 rt gw0 198.18.0.2/24
	t_link gw eth1 $GB/24 rt gw1 198.18.1.2/24
	t_link rt wifi 198.51.100.1/24 cl wifi 198.51.100.2/24
	t_link rt lte 203.0.113.1/24 cl lte 203.0.113.2/24
	r_sysctls
	# eth0 is the main uplink; what leaves from B's address takes eth1 (source routing, as a
	# multi-homed host is set up: without it the kernel would send B's packets out eth0)
	ip -n "$GWNS" route add 198.51.100.0/24 via 198.18.0.2
	ip -n "$GWNS" route add 203.0.113.0/24 via 198.18.0.2
	ip -n "$GWNS" route add default via 198.18.1.2 dev eth1 table 101
	ip -n "$GWNS" rule add from $GB lookup 101 pref 100
	ip -n "$CLNS" route add default via 198.51.100.1 dev wifi metric 100
	ip -n "$CLNS" route add default via 203.0.113.1 dev lte metric 200
	t_wait 5 t_in cl ping -c1 -W1 $GA || t_bail "underlay: client cannot reach $GA"
	t_wait 5 t_in cl ping -c1 -W1 $GB || t_bail "underlay: client cannot reach $GB"
	GW_PUB=$(t_genkey gw)
	# shellcheck disable=SC2034 # used by roam_lib.sh
	CL_PUB=$(t_genkey cl)
}

# mh_capture PHASE: tcpdump on both router ends of the gateway links, what the gateway sends
mh_capture()
{
	local l
	for l in gw0 gw1; do
		t_in rt timeout 30 tcpdump -i $l -nn -U -w "$T_DIR/$1-$l.pcap" udp and src port 51820 \
			>"$T_DIR/$1-$l.tcpdump.log" 2>&1 &
		t_track $!
		MH_TCPD+=($!)
	done
	t_wait 3 grep -q listening "$T_DIR/$1-gw0.tcpdump.log"
	t_wait 3 grep -q listening "$T_DIR/$1-gw1.tcpdump.log"
}

mh_capture_stop()
{
	local p
	# libpcap delivers in blocks (-U flushes per packet, but give it a moment), then stop
	sleep 0.5
	for p in "${MH_TCPD[@]}"; do
		kill -INT "$p" 2>/dev/null
	done
	for p in "${MH_TCPD[@]}"; do
		t_wait 3 sh -c "! kill -0 $p 2>/dev/null"
	done
	MH_TCPD=()
}

# mh_count PHASE LINK SRC: datagrams the gateway sent from SRC seen on LINK (no keepalives)
mh_count()
{
	tcpdump -r "$T_DIR/$1-$2.pcap" -nn 2>/dev/null | grep -v "length 32$" | grep -c " IP $3\.51820 > "
}

# mh_total PHASE LINK: all datagrams the gateway sent seen on LINK, but keepalives (32 bytes):
# a passive keepalive to the current endpoint may fall into the next phase's capture, just
# before the switch, from the then right address (it is counted in the diagnostics)
mh_total()
{
	tcpdump -r "$T_DIR/$1-$2.pcap" -nn 2>/dev/null | grep " IP " | grep -vc "length 32$"
}

mh_keepalives()
{
	tcpdump -r "$T_DIR/$1-$2.pcap" -nn 2>/dev/null | grep -c "length 32$"
}

# mh_traffic: both directions through the tunnel (pings from the client, then from the gateway)
mh_traffic()
{
	t_ok "$MODE phase $1: client -> gateway through the tunnel" \
		t_in cl ping -c 5 -i 0.05 -W 2 192.0.2.1
	t_ok "$MODE phase $1: gateway -> client through the tunnel" \
		t_in gw ping -c 5 -i 0.05 -W 2 192.0.2.2
}

# mh_check PHASE WANT_SRC WANT_LINK OTHER_LINK
mh_check()
{
	local n other
	n=$(mh_count "$1" "$3" "$2")
	other=$(mh_total "$1" "$4")
	t_diag "$MODE phase $1: $n from $2 on $3; $other of any source on $4;" \
		"$(mh_total "$1" "$3") in all on $3; keepalives: $(mh_keepalives "$1" gw0) on gw0," \
		"$(mh_keepalives "$1" gw1) on gw1"
	t_result "$([ "$n" -ge 10 ] && echo 0 || echo 1)" \
		"$MODE phase $1: the gateway replies from $2 over $3 ($n datagrams)"
	t_is "$(mh_total "$1" "$3")" "$n" "$MODE phase $1: nothing from another address over $3"
	t_is "$other" 0 "$MODE phase $1: nothing over $4"
}

mh_run()
{
	MODE=$1
	local ev cl_ep
	MH_TCPD=()
	if [ "$MODE" = xdp ]; then
		t_ok "$MODE: gateway xdpwgd --attach eth0 --attach eth1 up" \
			r_start_gw --attach eth0 --attach eth1
	else
		t_ok "$MODE: gateway xdpwgd (socket mode) up" r_start_gw socket
	fi
	t_ok "$MODE: client xdpwgd (socket mode) up" r_start_cl xdpwgd "$GA:51820"
	t_ok "$MODE: tunnel up over wifi to A" t_wait 5 t_in cl ping -c1 -W1 192.0.2.1

	# 1: A, over gw0
	mh_capture "1-$MODE"
	mh_traffic 1
	mh_capture_stop
	mh_check "1-$MODE" $GA gw0 gw1
	t_is "$(r_gw_endpoint)" "198.51.100.2:51821" "$MODE phase 1: the gateway's endpoint is wifi"

	# 2: the client writes to B from the same address: cached source only
	mh_capture "2-$MODE"
	t_wg "$CL" set wg0 peer "$GW_PUB" endpoint "$GB:51820"
	mh_traffic 2
	mh_capture_stop
	mh_check "2-$MODE" $GB gw1 gw0
	cl_ep=$(t_wg "$CL" show wg0 endpoints | awk '{ print $2 }')
	t_is "$cl_ep" "$GB:51820" "$MODE phase 2: the client still writes to B (no reply from A)"
	t_is "$(r_gw_endpoint)" "198.51.100.2:51821" "$MODE phase 2: the peer itself did not move"
	t_is "$(r_nevents)" 0 "$MODE phase 2: a new cached source is no move event"

	# 3: wifi goes, the client writes to A from lte: endpoint and cached source move together
	mh_capture "3-$MODE"
	t_wg "$CL" set wg0 peer "$GW_PUB" endpoint "$GA:51820"
	r_wifi_down
	t_ok "$MODE phase 3: the gateway follows the client to lte" \
		t_wait 5 sh -c "nsenter -t $GW -m -n wg show wg0 endpoints | grep -q 203.0.113.2:51821"
	mh_traffic 3
	mh_capture_stop
	mh_check "3-$MODE" $GA gw0 gw1
	ev=$(r_events)
	t_diag "$ev"
	t_is "$(grep -c '"seq"' <<<"$ev")" 1 "$MODE phase 3: one move event"
	t_like "$ev" '"old_endpoint":"198\.51\.100\.2:51821","new_endpoint":"203\.0\.113\.2:51821"' \
		"$MODE phase 3: the event names wifi -> lte"
	cl_ep=$(t_wg "$CL" show wg0 endpoints | awk '{ print $2 }')
	t_is "$cl_ep" "$GA:51820" "$MODE phase 3: the client writes to A"
	if [ "$MODE" = xdp ]; then
		t_like "$(t_at "$GW" "$CTL" stats wg0 2>&1)" 'redirected +[1-9]' \
			"$MODE: data went through XDP"
	fi

	t_stop "$GW" 5
	t_stop "$CL" 5
	# back to the start for the next mode
	ip -n "$CLNS" link set wifi up
	ip -n "$CLNS" addr replace 198.51.100.2/24 dev wifi
	ip -n "$CLNS" route replace default via 198.51.100.1 dev wifi metric 100
	t_wait 5 t_in cl ping -c1 -W1 $GA >/dev/null
}

mh_topology
for m in ${ROAM_MH_MODES:-xdp socket}; do
	mh_run "$m"
done
t_done
