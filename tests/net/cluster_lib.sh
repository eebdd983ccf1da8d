# shellcheck shell=bash disable=SC2034,SC2015
# The gateway cluster's namespace lab (tests/net/cluster_*.t, issue #17). Source lib.sh first.
#
#   cl  wifi 198.51.100.2/24 --- wifi 198.51.100.1  rt  br0 198.18.0.1/24 -+- gw1 eth0 198.18.0.11
#       lte  203.0.113.2/25  --- lte  203.0.113.1       (ports gw1..gw3)   +- gw2 eth0 198.18.0.12
#                                                                          +- gw3 eth0 198.18.0.13
#                              in  eth0 198.18.2.2 --- in 198.18.2.1
#                                                      br3 198.18.3.254/24 -+- e1 198.18.3.1
#                                                      (ports e1..e3)       +- e2 198.18.3.2
#                                                                           +- e3 198.18.3.3
#
# Every gateway has the service address 198.18.1.1/32 on lo: the kernel and the XDP program
# take it as local whichever interface it is on, it comes in on eth0 all the same (the router's
# next hop is the gateway's eth0 address), and nobody answers ARP for it on the shared segment.
# Each gateway's BIRD announces it to the router's BIRD over eBGP (AS 64513 -> 64512), with
# the routes of the gateway's kernel table C_TABLE (200); the router merges the equal routes
# into one ECMP route hashed on the 5-tuple, and BFD (100 ms x 3) takes a silent gateway out.
# Three etcd members, each in its own namespace (so one can be killed or cut alone), form one
# cluster; the client URLs are in C_ETCD_ENDPOINTS.
#
# Helpers: c_topology, c_bird_up / c_bird_start NS CONF / c_birdc NS CMD, c_etcd_up /
# c_etcd_start N / c_etcdctl ARGS, c_gw_table_add N PREFIX / c_gw_table_del N PREFIX,
# c_rt_nexthops PREFIX, c_holder PREFIX, c_kill_gw N, c_cut_gw N, c_udp_flows, c_now, c_since;
# xdpwgd: c_start_gw N [ARGS], c_gw_pid N, c_gw_handshakes N, c_start_cl IMPL [ENDPOINT].

C_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/cluster
C_SVC=198.18.1.1
C_TABLE=${C_TABLE:-200}
# the routes xdpwgd --cluster-table adds carry this protocol number (daemon/cluster_routes.c)
C_RTPROT=88
C_NGW=3
C_ETCD_ENDPOINTS=http://198.18.3.1:2379,http://198.18.3.2:2379,http://198.18.3.3:2379
C_ETCD_PEERS=e1=http://198.18.3.1:2380,e2=http://198.18.3.2:2380,e3=http://198.18.3.3:2380
RTNS=$(t_nsname rt)
CLNS=$(t_nsname cl)

# c_gw_addr N: gateway N's eth0 address.
c_gw_addr()
{
	echo "198.18.0.1$1"
}

# c_now: seconds since the epoch with ns; c_since T: seconds since T (c_now), 3 decimals.
c_now()
{
	date +%s.%N
}

c_since()
{
	awk -v a="$(c_now)" -v b="$1" 'BEGIN { printf "%.3f", a - b }'
}

c_sysctls()
{
	local n
	t_in rt sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0 net.ipv4.fib_multipath_hash_policy=1
	t_in cl sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	for n in $(seq "$C_NGW"); do
		# the service address is on lo, replies leave by eth0; ARP answers and asks only
		# with the address of the interface it is about
		t_in "gw$n" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
			net.ipv4.conf.default.rp_filter=0 net.ipv4.conf.all.arp_ignore=1 \
			net.ipv4.conf.all.arp_announce=2
	done
}

# c_topology: the namespaces, links, addresses and static routes (no servers yet); keys for
# the client (cl.key) and the cluster (gw.key) in $T_DIR, public keys in CL_PUB and GW_PUB.
c_topology()
{
	local n
	t_ns rt
	t_ns cl
	t_ns in
	t_link rt wifi 198.51.100.1/24 cl wifi 198.51.100.2/24
	t_link rt lte 203.0.113.1/25 cl lte 203.0.113.2/25
	t_link rt in 198.18.2.1/24 in eth0 198.18.2.2/24
	ip -n "$RTNS" link add br0 type bridge && ip -n "$RTNS" link set br0 up &&
		ip -n "$RTNS" addr add 198.18.0.1/24 dev br0 || t_bail "router bridge br0"
	ip -n "$RTNS" link add br3 type bridge && ip -n "$RTNS" link set br3 up &&
		ip -n "$RTNS" addr add 198.18.3.254/24 dev br3 || t_bail "router bridge br3"
	for n in $(seq "$C_NGW"); do
		t_ns "gw$n"
		t_link rt "gw$n" - "gw$n" eth0 "$(c_gw_addr "$n")/24"
		ip -n "$RTNS" link set "gw$n" master br0
		ip -n "$(t_nsname "gw$n")" addr add "$C_SVC/32" dev lo
		ip -n "$(t_nsname "gw$n")" route add default via 198.18.0.1
		# what the tests put in table 200 by hand goes on this stand-in for a tunnel device
		# (a veth: this kernel has no dummy links)
		ip -n "$(t_nsname "gw$n")" link add tun0 type veth peer name tun0p &&
			ip -n "$(t_nsname "gw$n")" link set tun0p up &&
			ip -n "$(t_nsname "gw$n")" link set tun0 up || t_bail "gw$n: tun0"
	done
	for n in 1 2 3; do
		t_ns "e$n"
		t_link rt "e$n" - "e$n" eth0 "198.18.3.$n/24"
		ip -n "$RTNS" link set "e$n" master br3
		ip -n "$(t_nsname "e$n")" route add default via 198.18.3.254
	done
	ip -n "$(t_nsname in)" route add default via 198.18.2.1
	ip -n "$CLNS" route add default via 198.51.100.1 dev wifi metric 100
	ip -n "$CLNS" route add default via 203.0.113.1 dev lte metric 200
	c_sysctls
	for n in $(seq "$C_NGW"); do
		t_wait 5 t_in rt ping -c1 -W1 "$(c_gw_addr "$n")" ||
			t_bail "underlay: router cannot reach gw$n"
	done
	t_wait 5 t_in cl ping -c1 -W1 198.18.3.1 || t_bail "underlay: client cannot reach e1"
	GW_PUB=$(t_genkey gw)
	CL_PUB=$(t_genkey cl)
}

# --- BIRD ---

# c_bird_start NS CONF: BIRD in the foreground in namespace NS (a short name), its control
# socket $T_DIR/bird-NS.ctl, its log $T_DIR/bird-NS.log; its pid in C_BIRD_PID_NS. 1 when it
# does not answer on its socket within 5 s.
c_bird_start()
{
	local short=$1 conf=$2 pid
	ip netns exec "$(t_nsname "$short")" bird -f -c "$conf" -s "$T_DIR/bird-$short.ctl" \
		-P "$T_DIR/bird-$short.pid" >>"$T_DIR/bird-$short.out" 2>&1 &
	pid=$!
	disown "$pid"
	t_track "$pid"
	printf -v "C_BIRD_PID_${short}" '%s' "$pid"
	t_wait 5 c_birdc "$short" show status || {
		t_diag "BIRD in $short did not come up: $(tail -n 5 "$T_DIR/bird-$short.out")"
		return 1
	}
}

# c_birdc NS CMD...: birdc against NS's BIRD.
c_birdc()
{
	local short=$1
	shift
	birdc -s "$T_DIR/bird-$short.ctl" "$@"
}

# c_bird_conf TEMPLATE OUT [ADDR]: a configuration from tests/net/cluster/TEMPLATE.
c_bird_conf()
{
	sed -e "s|@LOG@|$T_DIR/bird-$(basename "$2" .conf).log|" -e "s|@ADDR@|${3:-}|g" \
		-e "s|@TABLE@|$C_TABLE|g" "$C_DIR/$1" >"$2"
}

# c_bird_up: BIRD on the router and on every gateway; 0 once every BGP session is Established
# (bounded: 20 s).
c_bird_up()
{
	local n
	c_bird_conf router.conf "$T_DIR/rt.conf"
	c_bird_start rt "$T_DIR/rt.conf" || return 1
	for n in $(seq "$C_NGW"); do
		c_bird_conf gateway.conf "$T_DIR/gw$n.conf" "$(c_gw_addr "$n")"
		c_bird_start "gw$n" "$T_DIR/gw$n.conf" || return 1
	done
	t_wait 20 c_bgp_established "$C_NGW"
}

# c_bgp_established N: the router has N BGP sessions Established.
c_bgp_established()
{
	[ "$(c_birdc rt show protocols | grep -c 'BGP .*Established')" -eq "$1" ]
}

# c_rt_nexthops PREFIX: the router's kernel next hops for PREFIX, sorted, one per line (none
# when it has no route).
c_rt_nexthops()
{
	ip -n "$RTNS" -4 route show exact "$1" | grep -o 'via [0-9.]*' | awk '{ print $2 }' | sort
}

# c_rt_nnexthops PREFIX N: the router routes PREFIX over exactly N next hops (for t_wait).
c_rt_nnexthops()
{
	[ "$(c_rt_nexthops "$1" | grep -c .)" -eq "$2" ]
}

# c_rt_via PREFIX ADDR: the router routes PREFIX via ADDR alone.
c_rt_via()
{
	[ "$(c_rt_nexthops "$1")" = "$2" ]
}

# c_gw_table_add N PREFIX / c_gw_table_del N PREFIX: a route in gateway N's table C_TABLE on
# tun0, as xdpwgd --cluster-table puts one there.
c_gw_table_add()
{
	ip -n "$(t_nsname "gw$1")" route add "$2" dev tun0 table "$C_TABLE" proto "$C_RTPROT"
}

c_gw_table_del()
{
	ip -n "$(t_nsname "gw$1")" route del "$2" table "$C_TABLE"
}

# c_gw_table N: gateway N's table C_TABLE, one route a line ("" when empty).
c_gw_table()
{
	ip -n "$(t_nsname "gw$1")" -4 route show table "$C_TABLE" 2>/dev/null
}

# c_kill_gw N: gateway N dies at once: SIGKILL to everything in its namespace (xdpwgd, BIRD),
# its link stays up.
c_kill_gw()
{
	local pid
	for pid in $(ip netns pids "$(t_nsname "gw$1")"); do
		kill -KILL "$pid" 2>/dev/null
	done
}

# c_cut_gw N: gateway N's link to the router goes down on the gateway's side: nothing tells
# the router's BGP; only BFD notices.
c_cut_gw()
{
	ip -n "$(t_nsname "gw$1")" link set eth0 down
}

# c_udp_flows N PORT: the client sends one datagram to the service address on each of N source
# ports (40000...), N flows for the router to hash.
c_udp_flows()
{
	t_in cl python3 - "$1" "$C_SVC" "$2" <<'EOF'
import socket, sys
n, dst, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", 40000 + i))
    s.sendto(b"flow %d" % i, (dst, port))
    s.close()
EOF
}

# c_gw_count_start PORT: an nft counter of UDP datagrams to the service address and PORT in
# every gateway (table xwcl); c_gw_count N: gateway N's count.
c_gw_count_start()
{
	local n
	for n in $(seq "$C_NGW"); do
		t_in "gw$n" nft -f - <<EOT || return 1
table inet xwcl {
	counter flows { }
	chain in { type filter hook input priority 0; ip daddr $C_SVC udp dport $1 counter name flows; }
}
EOT
	done
}

c_gw_count()
{
	t_in "gw$1" nft list counter inet xwcl flows | awk '/packets/ { print $2 }'
}

# --- xdpwgd gateways and clients ---

# c_start_gw N [XDPWGD ARGS...]: xdpwgd on gateway N (default --attach eth0), with
# --cluster-table C_TABLE, the cluster's key (gw.key), port 51820, wg0 192.0.2.1/24 up; its
# pid in T_PID and C_GW_PID_N.
c_start_gw()
{
	local n=$1
	shift
	[ $# -gt 0 ] || set -- --attach eth0
	t_start_xdpwgd "gw$n" wg0 "$@" --cluster-table "$C_TABLE" || return 1
	printf -v "C_GW_PID_$n" '%s' "$T_PID"
	t_wg "$T_PID" set wg0 private-key "$T_DIR/gw.key" listen-port 51820 || return 1
	ip -n "$(t_nsname "gw$n")" addr add 192.0.2.1/24 dev wg0 &&
		ip -n "$(t_nsname "gw$n")" link set wg0 up
}

# c_gw_pid N: gateway N's xdpwgd.
c_gw_pid()
{
	local v="C_GW_PID_$1"
	echo "${!v}"
}

# c_start_cl IMPL [ENDPOINT] [PORT]: the client, xdpwgd (socket mode) or wireguard-go on PORT
# (51821), one peer: the cluster (GW_PUB) at ENDPOINT (default the service address,
# 198.18.1.1:51820) for the tunnel and the inside network; tunnel address 192.0.2.2/24. Its pid
# in T_PID and CL.
c_start_cl()
{
	t_start_client "$1" "${2:-$C_SVC:51820}" 192.0.2.0/24,198.18.2.0/24 "${3:-51821}" &&
		ip -n "$CLNS" route add 198.18.2.0/24 dev wg0
}

# c_holder PREFIX: the number of the gateway the router sends PREFIX to ("" for none, "many"
# for several next hops).
c_holder()
{
	local nh
	nh=$(c_rt_nexthops "$1")
	case $nh in
	"") echo "" ;;
	198.18.0.1[0-9]) echo "${nh#198.18.0.1}" ;;
	*) echo many ;;
	esac
}

# c_gw_handshakes N: how many peers have had a handshake with gateway N's xdpwgd.
c_gw_handshakes()
{
	t_wg "$(c_gw_pid "$1")" show wg0 latest-handshakes | awk '$2 > 0' | grep -c .
}

# --- etcd ---

# c_etcd_start N: etcd member eN (1..3) of the lab's three-member cluster, data in
# $T_DIR/etcd-eN (removed with $T_DIR), log $T_DIR/etcd-eN.out; its pid in C_ETCD_PID_N.
c_etcd_start()
{
	local n=$1 a="198.18.3.$1" pid
	ip netns exec "$(t_nsname "e$n")" etcd --name "e$n" --data-dir "$T_DIR/etcd-e$n" \
		--listen-peer-urls "http://$a:2380" --listen-client-urls "http://$a:2379" \
		--advertise-client-urls "http://$a:2379" --initial-advertise-peer-urls "http://$a:2380" \
		--initial-cluster "$C_ETCD_PEERS" \
		--initial-cluster-state new --initial-cluster-token "$T_PFX" \
		--logger zap --log-outputs stderr >>"$T_DIR/etcd-e$n.out" 2>&1 &
	pid=$!
	# killed on purpose by tests: no "Killed" notice from the shell (cleanup kills it by pid)
	disown "$pid"
	t_track "$pid"
	printf -v "C_ETCD_PID_$n" '%s' "$pid"
}

# c_etcdctl ARGS...: etcdctl (v3 API) from the router's namespace against every member.
c_etcdctl()
{
	ETCDCTL_API=3 t_in rt etcdctl --dial-timeout=2s --command-timeout=3s \
		--endpoints="$C_ETCD_ENDPOINTS" "$@"
}

# c_etcd_healthy [ENDPOINTS]: every member listed (default all) answers healthy.
c_etcd_healthy()
{
	ETCDCTL_API=3 t_in rt etcdctl --dial-timeout=2s --command-timeout=3s \
		--endpoints="${1:-$C_ETCD_ENDPOINTS}" endpoint health
}

# c_etcd_up: the three members, 0 once all three are healthy (bounded: 20 s).
c_etcd_up()
{
	local n
	for n in 1 2 3; do
		c_etcd_start "$n"
	done
	t_wait 20 c_etcd_healthy
}
