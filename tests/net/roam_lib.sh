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
	t_start_client "$1" "${2:-198.18.0.1:51820}" 192.0.2.0/24
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

# --- a path that dies silently (tests/net/roam_paths.t, bench/bench-paths.sh) ---
# The failure is injected on the router only: the client's uplink stays up, its address and its
# routes stay; what the router forwards from or to the client's address on that uplink is gone.

# r_uplink_addr UPLINK: the client's address on UPLINK (wifi, lte).
r_uplink_addr()
{
	case $1 in
	wifi) echo 198.51.100.2 ;;
	lte) echo 203.0.113.2 ;;
	*) return 1 ;;
	esac
}

# r_uplink_of ADDR[:PORT]: the client uplink ADDR belongs to (wifi, lte; "-" for another).
r_uplink_of()
{
	case $1 in
	198.51.100.2 | 198.51.100.2:*) echo wifi ;;
	203.0.113.2 | 203.0.113.2:*) echo lte ;;
	*) echo - ;;
	esac
}

# r_blackhole UPLINK: the router drops everything it forwards from or to the client's address
# on UPLINK (an nft table of its own, xwbh_UPLINK, with counters); the link stays up.
r_blackhole()
{
	local a
	a=$(r_uplink_addr "$1") || return 1
	r_unblackhole "$1"
	ip netns exec "$RTNS" nft -f - <<EOT
table ip xwbh_$1 {
	chain blackhole {
		type filter hook forward priority -10; policy accept;
		ip saddr $a counter drop
		ip daddr $a counter drop
	}
}
EOT
}

# r_unblackhole UPLINK: the router forwards UPLINK's traffic again (no error when it did).
r_unblackhole()
{
	ip netns exec "$RTNS" nft delete table ip "xwbh_$1" 2>/dev/null
	return 0
}

# r_blackhole_drops UPLINK: packets the blackhole on UPLINK dropped so far (both directions).
r_blackhole_drops()
{
	ip netns exec "$RTNS" nft list table ip "xwbh_$1" 2>/dev/null |
		awk '/counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") n += $(i + 1) }
			END { print n + 0 }'
}

# r_active: the uplink the gateway (GW) sends to: its endpoint's uplink ("-": neither).
r_active()
{
	r_uplink_of "$(t_wg "$GW" show wg0 endpoints | awk 'NR == 1 { print $2 }')"
}

# r_json PID FILTER: jq -r FILTER over `xdpwgctl show wg0 --json` of the daemon PID.
r_json()
{
	t_at "$1" "$CTL" show wg0 --json 2>/dev/null | jq -r "$2" 2>/dev/null
}

# r_ping_bg NS DST INTERVAL SECONDS LOG: ping -D (timestamped replies) from namespace NS to
# DST every INTERVAL s for at most SECONDS s, in the background, tracked; R_PING_PID its pid.
r_ping_bg()
{
	ip netns exec "$(t_nsname "$1")" stdbuf -oL ping -D -n -i "$3" -W 1 -w "$4" "$2" \
		>"$5" 2>&1 &
	R_PING_PID=$!
	t_track "$R_PING_PID"
}

# r_now: the wall clock in seconds (ping -D's clock).
r_now()
{
	echo "${EPOCHREALTIME/,/.}"
}

# r_until SECONDS CMD...: run CMD every 0.1 s until it succeeds, for at most SECONDS (may be
# fractional) of wall clock, however long CMD itself takes (t_wait counts tries: a CMD that
# waits a second, ping -W1, would stretch its bound tenfold). 1 on timeout.
r_until()
{
	local now end
	end=$((${EPOCHREALTIME//[!0-9]/} + $(awk -v s="$1" 'BEGIN { printf "%d", s * 1000000 }')))
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		now=${EPOCHREALTIME//[!0-9]/}
		[ "$now" -lt "$end" ] || return 1
		sleep 0.1
	done
}

# r_reply_after LOG T: LOG (ping -D) has an echo reply later than T (replies are appended in
# the order they arrive: the last one in the file's tail decides, however long the log).
r_reply_after()
{
	tail -n 20 "$1" 2>/dev/null | sed -n 's/^\[\([0-9.]*\)\] .*bytes from.*/\1/p' |
		awk -v t="$2" '$1 > t { f = 1 } END { exit !f }'
}

# r_wait_reply_after LOG T SECONDS: until LOG has a reply later than T (at most SECONDS).
r_wait_reply_after()
{
	r_until "$3" r_reply_after "$1" "$2"
}

# r_blackout LOG T0 T1: the longest gap in ms between echo replies in LOG from the last reply
# before T0 (the failure started) to the first one 50 ms after T1 (it was in place: a reply
# already past the router then cannot arrive that late), as bench-roam.sh measures it; "-" when
# no reply came after that.
r_blackout()
{
	sed -n 's/^\[\([0-9.]*\)\] .*bytes from.*/\1/p' "$1" 2>/dev/null |
		awk -v s="$2" -v s1="$3" '$1 < s { last = $1; next }
			last != "" { g = $1 - last; if (g > max) max = g }
			{ last = $1 }
			$1 > s1 + 0.05 { printf "%.3f\n", max * 1000; done = 1; exit }
			END { if (!done) print "-" }'
}

# r_ping_lost LOG: transmitted - received in a finished ping's summary ("-" without one).
r_ping_lost()
{
	sed -n 's/^\([0-9]*\) packets transmitted, \([0-9]*\) received.*/\1 \2/p' "$1" |
		awk '{ print $1 - $2; f = 1 } END { if (!f) print "-" }'
}

# r_sniff_start MAX IDLE: on the router's end of the gateway link, the UDP payloads of up to MAX
# datagrams to the gateway's port (198.18.0.1:51820) into $T_DIR/captured, one hex line each,
# until IDLE s pass without one. Sets SNIFF (the capture's pid) once it listens.
r_sniff_start()
{
	t_in rt timeout $(($2 + 25)) python3 - "$T_DIR/captured" "$1" "$2" <<'PY' >"$T_DIR/sniff.log" 2>&1 &
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))  # ETH_P_ALL
s.bind(("gw", 3))
s.settimeout(float(sys.argv[3]))
out = open(sys.argv[1], "w")
print("listening", flush=True)
n = 0
while n < int(sys.argv[2]):
    try:
        f, addr = s.recvfrom(4096)
    except socket.timeout:
        break
    if len(f) < 42 or f[12:14] != b"\x08\x00" or f[23] != 17:
        continue
    ihl = (f[14] & 15) * 4
    udp = f[14 + ihl:]
    if f[30:34] != socket.inet_aton("198.18.0.1") or struct.unpack("!H", udp[2:4])[0] != 51820:
        continue
    out.write(udp[8:].hex() + "\n")
    out.flush()
    n += 1
PY
	SNIFF=$!
	t_track "$SNIFF"
	t_wait 5 grep -q listening "$T_DIR/sniff.log"
}

R_HELPERS=$(cd "$(dirname "${BASH_SOURCE[0]}")/../helpers" && pwd)
R_DL_PID=

# r_impair_on UPLINK LOSS_PCT DELAY_MS: the router sends the client's traffic on UPLINK, both
# directions, through a delay line (tests/helpers/delayline.py on a TUN, dly0: LOSS_PCT % lost,
# DELAY_MS each way; policy rules to table 218), since this kernel has no sch_netem. Sets
# R_IMPAIR_T0 (r_now) just before the rules take effect.
r_impair_on()
{
	local a
	a=$(r_uplink_addr "$1") || return 1
	r_impair_off
	: >"$T_DIR/delayline.log"
	ip netns exec "$RTNS" python3 "$R_HELPERS/delayline.py" dly0 "$2" "$3" 3600 \
		>>"$T_DIR/delayline.log" 2>&1 &
	R_DL_PID=$!
	t_track "$R_DL_PID"
	r_until 5 grep -q ready "$T_DIR/delayline.log" || return 1
	ip -n "$RTNS" link set dly0 up && ip -n "$RTNS" route add default dev dly0 table 218 ||
		return 1
	R_IMPAIR_T0=$(r_now)
	ip -n "$RTNS" -batch - <<EOT
rule add iif $1 from $a lookup 218 pref 218
rule add iif gw to $a lookup 218 pref 219
EOT
}

# r_impair_off: the router's rules and the delay line gone (the TUN and its route with it)
r_impair_off()
{
	ip -n "$RTNS" rule del pref 218 2>/dev/null
	ip -n "$RTNS" rule del pref 219 2>/dev/null
	[ -n "$R_DL_PID" ] && t_stop "$R_DL_PID" 3 >/dev/null 2>&1
	R_DL_PID=
	return 0
}
