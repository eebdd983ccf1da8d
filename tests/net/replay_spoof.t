#!/usr/bin/env bash
# Replays and spoofs against xdpwgd, on the socket path and with --attach eth0, with a
# wireguard-go client. Real datagrams are captured on the client's uplink (AF_PACKET,
# tests/helpers/wgreplay.py) and sent again through raw sockets: from the client's own address and
# port, and from a third namespace ("spoofer") on the same bridge; truncated and bit-flipped;
# held back (the client's bridge port detached) and delivered late in reverse order, within the
# replay window (accepted) and beyond it (refused). Asserted through `wg show` (transfer-rx, the
# endpoint, the latest handshake) and, with XDP, `xdpwgctl stats`. The engine's own drop
# counters (replay, decrypt) are not exposed by any command, so they cannot be asserted here.
. "$(dirname "$0")/lib.sh"
t_require_root
t_require_cmd wireguard-go wg python3
t_require_xdpwgd
CTL=$XDPWG_BUILD/xdpwgctl
RP="python3 $(cd "$(dirname "$0")/../.." && pwd)/tests/helpers/wgreplay.py"

t_ns gw
t_ns cl
t_ns sp
t_ns sw
SW=$(t_nsname sw)
t_link gw eth0 198.18.0.1/24 sw p0 -
t_link cl eth0 198.18.0.2/24 sw p1 -
t_link sp eth0 198.18.0.3/24 sw p2 -
ip -n "$SW" link add br0 type bridge
for p in p0 p1 p2; do
	ip -n "$SW" link set "$p" master br0
done
ip -n "$SW" link set br0 up
gw_pub=$(t_genkey gw)
cl_pub=$(t_genkey cl)

rx()
{
	t_wg "$GW" show wg0 transfer | awk '{ print $2 }'
}
hs()
{
	t_wg "$GW" show wg0 latest-handshakes | awk '{ print $2 }'
}
ep()
{
	t_wg "$GW" show wg0 endpoints | awk '{ print $2 }'
}
stat_of()
{
	t_at "$GW" "$CTL" stats wg0 | awk -v k="$1" '$1 == k { print $2; exit }'
}

# capture NAME: start recording what the client sends to the gateway's port
cap_start()
{
	rm -f "$T_DIR/$1.cap"
	t_in cl $RP capture eth0 51820 20 "$T_DIR/$1.cap" >>"$T_DIR/log" 2>&1 &
	CAP=$!
	t_track "$CAP"
	t_wait 5 test -e "$T_DIR/$1.cap"
}
cap_stop()
{
	sleep 0.2
	# the capture runs in a subshell (t_in): end the python process itself
	pkill -TERM -P "$CAP" 2>/dev/null
	kill -TERM "$CAP" 2>/dev/null
	wait "$CAP" 2>/dev/null
	true
}
ncap()
{
	python3 -c 'import json, sys; print(sum(1 for l in open(sys.argv[1]) if json.loads(l)["type"] == int(sys.argv[2])))' "$T_DIR/$1.cap" "$2"
}
bytes4()
{
	python3 -c 'import json, sys; print(sum(json.loads(l)["len"] for l in open(sys.argv[1]) if json.loads(l)["type"] == 4 and json.loads(l)["len"] > 32))' "$T_DIR/$1.cap"
}
# rx_grew OLD EXPECTED DESC: transfer-rx grew by EXPECTED bytes, give or take the client's own
# keepalives (32 bytes each, at most two: wireguard-go's passive keepalive may fire meanwhile);
# replayed keepalives are never sent, replayed data messages are 128 bytes and more
rx_grew()
{
	local d=$(($(rx) - $1 - $2))
	if [ $d -eq 0 ] || [ $d -eq 32 ] || [ $d -eq 64 ]; then
		t_result 0 "$3"
	else
		t_result 1 "$3"
		t_diag "  rx grew by $(($2 + d)), expected $2 (+ 0, 32 or 64)"
	fi
}
# replay NS SRC NAME [ARGS]: send NAME's datagrams from SRC:51821 in namespace NS
replay()
{
	local ns=$1 src=$2 name=$3
	shift 3
	t_in "$ns" $RP send "$src" 51821 198.18.0.1 51820 "$T_DIR/$name.cap" --no-keepalive "$@" >/dev/null
	sleep 0.3
}
hold()
{
	ip -n "$SW" link set p1 nomaster
}
release()
{
	ip -n "$SW" link set p1 master br0
	sleep 0.2
}

run_mode()
{
	local mode=$1 m args=() rx0 hs0 n
	m="[$mode]"
	[ "$mode" = xdp ] && args=(--attach eth0)
	t_start_xdpwgd gw wg0 "${args[@]}" || return 1
	GW=$T_PID
	t_wg "$GW" set wg0 private-key "$T_DIR/gw.key" listen-port 51820 \
		peer "$cl_pub" allowed-ips 192.0.2.2/32
	ip -n "$(t_nsname gw)" addr add 192.0.2.1/24 dev wg0
	ip -n "$(t_nsname gw)" link set wg0 up
	t_start_wggo cl wg0 || return 1
	CL=$T_PID
	t_wg "$CL" set wg0 private-key "$T_DIR/cl.key" listen-port 51821 \
		peer "$gw_pub" endpoint 198.18.0.1:51820 allowed-ips 192.0.2.1/32
	ip -n "$(t_nsname cl)" addr add 192.0.2.2/24 dev wg0
	ip -n "$(t_nsname cl)" link set wg0 up

	# 1. a handshake the client initiates and some data, captured
	cap_start c1
	t_ok "$m client pings the gateway" t_in cl ping -c 5 -i 0.2 -W 2 192.0.2.1
	cap_stop
	t_like "$(ncap c1 1) $(ncap c1 4)" '^[1-9][0-9]* [5-9]' "$m captured initiation(s) and data"
	sleep 0.5
	rx0=$(rx)
	hs0=$(hs)
	t_is "$(ep)" 198.18.0.2:51821 "$m endpoint is the client"

	# 2. replays, same source, then the spoofer
	replay cl 198.18.0.2 c1
	rx_grew "$rx0" 0 "$m replayed from the client's own address: rx bytes unchanged"
	t_is "$(hs)" "$hs0" "$m replayed initiation: no new handshake"
	replay sp 198.18.0.3 c1
	rx_grew "$rx0" 0 "$m replayed from the spoofer: rx bytes unchanged"
	t_is "$(ep)" 198.18.0.2:51821 "$m endpoint not moved to the spoofer"
	t_is "$(hs)" "$hs0" "$m no new handshake from the spoofer's replay"

	# 3. held back: delivered late, reversed, within the window; mutilated copies first
	hold
	cap_start c2
	t_in cl ping -c 6 -i 0.1 -W 1 192.0.2.1 >/dev/null 2>&1
	cap_stop
	release
	n=$(ncap c2 4)
	t_like "$n" '^[6-9]' "$m 6 data packets held back ($n)"
	t_ok "$m fresh traffic after the hold (counter moves past the held ones)" \
		t_in cl ping -c 2 -i 0.2 -W 2 192.0.2.1
	sleep 0.3
	local b0 b1 bad0=0 bad1
	[ "$mode" = xdp ] && bad0=$(($(stat_of bad_type) + $(stat_of unknown_index) + $(stat_of bad_size_data)))
	rx0=$(rx)
	replay sp 198.18.0.3 c2 --types 4 --mutate trunc
	replay sp 198.18.0.3 c2 --types 4 --mutate flip
	replay cl 198.18.0.2 c2 --types 4 --mutate flip
	rx_grew "$rx0" 0 "$m truncated and bit-flipped copies: rx bytes unchanged"
	rx0=$(rx)
	t_is "$(ep)" 198.18.0.2:51821 "$m endpoint unchanged"
	if [ "$mode" = xdp ]; then
		bad1=$(($(stat_of bad_type) + $(stat_of unknown_index) + $(stat_of bad_size_data)))
		t_result $((bad1 > bad0 ? 0 : 1)) "$m XDP dropped the header-mangled copies ($((bad1 - bad0)))"
	fi
	b0=$(bytes4 c2)
	replay cl 198.18.0.2 c2 --types 4 --reverse
	rx_grew "$rx0" "$b0" "$m held packets, reversed, within the window: all accepted ($b0 bytes)"
	b1=$(rx)
	replay cl 198.18.0.2 c2 --types 4
	rx_grew "$b1" 0 "$m and refused when replayed once more"

	# 4. beyond the window: 8,300 packets later, held ones are refused
	hold
	cap_start c3
	t_in cl ping -c 3 -i 0.1 -W 1 192.0.2.1 >/dev/null 2>&1
	cap_stop
	release
	local rxf0 got
	rxf0=$(rx)
	cap_start c4
	# floods of 9000 until the gateway has received more than 8200 of them (at most 3: on a
	# loaded machine its socket buffer may overflow, and only what arrives moves its window;
	# each flood datagram is one 64-byte data message, a 29-byte packet padded to 32)
	for round in 1 2 3; do
		t_in cl python3 -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(9000):
    s.sendto(b"x", ("192.0.2.1", 9))
    if i % 50 == 49:
        time.sleep(0.004)
' >/dev/null 2>&1
		sleep 0.3
		got=$((($(rx) - rxf0) / 64))
		[ "$got" -gt 8200 ] && break
	done
	cap_stop
	rx0=$(rx)
	t_like "$(ncap c3 4)" '^[3-9]' "$m 3 more data packets held back"
	# how far the client's counter moved past the held packets (the captured counters)
	local adv
	adv=$(python3 -c 'import json, sys; m = lambda f: max([json.loads(l)["counter"] for l in open(f)] + [0]); print(m(sys.argv[2]) - m(sys.argv[1]))' "$T_DIR/c3.cap" "$T_DIR/c4.cap")
	replay cl 198.18.0.2 c3 --types 4 --reverse
	if [ "$adv" -gt 8200 ] && [ "$got" -gt 8200 ]; then
		rx_grew "$rx0" 0 "$m held packets beyond the window ($adv later, $got received): refused"
	else
		t_result 1 "$m the window moved past the held packets (sent $adv, received $got: < 8200)"
	fi

	# 5. nothing was rejected wrongly
	t_ok "$m fresh traffic still flows, client -> gateway" t_in cl ping -c 2 -i 0.2 -W 2 192.0.2.1
	t_ok "$m and gateway -> client" t_in gw ping -c 2 -i 0.2 -W 2 192.0.2.2
	t_is "$(ep)" 198.18.0.2:51821 "$m endpoint still the client"
	if [ "$mode" = xdp ]; then
		t_like "$(stat_of redirected)" '^[0-9]{4,}$' "$m the data went through XDP"
		t_diag "$(t_at "$GW" "$CTL" stats wg0 | awk '$2 != 0')"
	fi
	t_stop "$CL"
	t_stop "$GW"
	t_result $? "$m daemon stops on SIGTERM"
}

# RS_MODES=xdp (or sock) runs one mode only
[ "${RS_MODES:-sock xdp}" != xdp ] && run_mode sock
[ "${RS_MODES:-sock xdp}" != sock ] && run_mode xdp
t_no_sanitizer_reports
t_done
