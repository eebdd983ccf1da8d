#!/usr/bin/env bash
# xdpwgd against wireguard-go, the reference userspace implementation, in two namespaces:
#
#   ns a: xdpwgd wg0   eth0 198.18.0.1/24 2001:db8:1::1/64   tunnel 192.0.2.1 2001:db8:2::1
#   ns b: wireguard-go eth0 198.18.0.2/24 2001:db8:1::2/64   tunnel 192.0.2.2 2001:db8:2::2
#
# Each side as initiator and as responder, with and without a preshared key, over outer IPv4
# and IPv6, inner IPv4 and IPv6: handshake, pings both ways, a TCP transfer both ways, and
# `wg show` on both sides agreeing on endpoints and byte counters. Then the configuration
# protocol against xdpwgd (show/set/setconf/showconf, a rejected set changing nothing, several
# requests on one connection, rebinding), wg-quick with xdpwgd as its userspace implementation,
# and SIGTERM removing the TUN and the socket.
. "$(dirname "$0")/lib.sh"

t_require_root
t_require_cmd wireguard-go wg wg-quick socat ping nsenter unshare
t_require_xdpwgd

XPORT=51820
GPORT=51821
XFER_BYTES=$((4 << 20))

t_ns a
t_ns b
t_link a eth0 198.18.0.1/24 b eth0 198.18.0.2/24 2001:db8:1::1/64 2001:db8:1::2/64

t_start_xdpwgd a wg0 || t_bail "xdpwgd did not start"
X=$T_PID
t_start_wggo b wg0 || t_bail "wireguard-go did not start"
G=$T_PID

KX=$(t_genkey x)
KG=$(t_genkey g)
t_genpsk ab

t_ok "xdpwgd: wg set private-key, listen-port" \
	t_wg "$X" set wg0 private-key "$T_DIR/x.key" listen-port $XPORT
t_wg "$G" set wg0 private-key "$T_DIR/g.key" listen-port $GPORT
t_is "$(t_wg "$X" show wg0 public-key)" "$KX" "xdpwgd: public key derived as wg does"
t_is "$(t_wg "$X" show wg0 listen-port)" "$XPORT" "xdpwgd: listen port reported"

t_in a ip addr add 192.0.2.1/24 dev wg0
t_in a ip addr add 2001:db8:2::1/64 dev wg0 nodad
t_in a ip link set wg0 up
t_in b ip addr add 192.0.2.2/24 dev wg0
t_in b ip addr add 2001:db8:2::2/64 dev wg0 nodad
t_in b ip link set wg0 up

# transfer SIDE PID PUBKEY: "rx tx" of that daemon for that peer
transfer()
{
	t_wg "$1" show wg0 transfer | awk -v k="$2" '$1 == k { print $2, $3 }'
}

handshake_time()
{
	t_wg "$1" show wg0 latest-handshakes | awk -v k="$2" '$1 == k { print $2 }'
}

# counters_agree DESC: `wg show` on both sides agrees on what crossed the tunnel. Over a bulk
# transfer the sender may count datagrams the receiver's socket then dropped (wireguard-go's
# receive path is the slower one), so totals only bound each other; over a quiet exchange of
# pings the deltas must match, allowing for a keepalive in flight between the reads.
counters_agree()
{
	local x0 g0 x1 g1 xrx xtx grx gtx xrx1 xtx1 grx1 gtx1 slack=256
	sleep 0.3
	x0=$(transfer "$X" "$KG")
	g0=$(transfer "$G" "$KX")
	read -r xrx xtx <<<"$x0"
	read -r grx gtx <<<"$g0"
	if [ -n "$xrx" ] && [ -n "$grx" ] && [ "$xtx" -gt 0 ] && [ "$gtx" -gt 0 ] &&
		[ "$grx" -le $((xtx + slack)) ] && [ "$xrx" -le $((gtx + slack)) ]; then
		t_result 0 "$1: nobody received more than the other sent (xdpwgd rx/tx $xrx/$xtx, wireguard-go $grx/$gtx)"
	else
		t_result 1 "$1: nobody received more than the other sent"
		t_diag "xdpwgd rx/tx: '$x0'  wireguard-go rx/tx: '$g0'"
	fi
	t_in a ping -n -q -c 5 -i 0.1 -w 5 192.0.2.2 >/dev/null
	t_in b ping -n -q -c 5 -i 0.1 -w 5 2001:db8:2::1 >/dev/null
	sleep 0.3
	x1=$(transfer "$X" "$KG")
	g1=$(transfer "$G" "$KX")
	read -r xrx1 xtx1 <<<"$x1"
	read -r grx1 gtx1 <<<"$g1"
	local dxrx=$((xrx1 - xrx)) dxtx=$((xtx1 - xtx)) dgrx=$((grx1 - grx)) dgtx=$((gtx1 - gtx))
	if [ $dxtx -gt 0 ] && [ $dgtx -gt 0 ] &&
		[ $((dxtx - dgrx)) -le $slack ] && [ $((dgrx - dxtx)) -le $slack ] &&
		[ $((dgtx - dxrx)) -le $slack ] && [ $((dxrx - dgtx)) -le $slack ]; then
		t_result 0 "$1: counters agree over 20 pings (xdpwgd +$dxrx/+$dxtx, wireguard-go +$dgrx/+$dgtx)"
	else
		t_result 1 "$1: counters agree over 20 pings"
		t_diag "deltas xdpwgd rx/tx +$dxrx/+$dxtx  wireguard-go rx/tx +$dgrx/+$dgtx"
	fi
}

head -c $XFER_BYTES /dev/urandom >"$T_DIR/send.bin"

# scenario INITIATOR(x|g) PSK(0|1) OUTER(4|6) XFER(0|1)
scenario()
{
	local init=$1 psk=$2 outer=$3 xfer=$4 desc xep gep pskarg=() ping_from ping_to
	desc="$([ "$init" = x ] && echo "xdpwgd initiates" || echo "wireguard-go initiates"), psk $([ "$psk" = 1 ] && echo on || echo off), outer IPv$outer"
	if [ "$outer" = 4 ]; then
		xep=198.18.0.1:$XPORT
		gep=198.18.0.2:$GPORT
	else
		xep="[2001:db8:1::1]:$XPORT"
		gep="[2001:db8:1::2]:$GPORT"
	fi
	[ "$psk" = 1 ] && pskarg=(preshared-key "$T_DIR/ab.psk")
	# Remove and re-add the peers: fresh sessions, so the handshake under test really happens.
	t_wg "$X" set wg0 peer "$KG" remove
	t_wg "$G" set wg0 peer "$KX" remove
	if [ "$init" = x ]; then
		t_wg "$G" set wg0 peer "$KX" "${pskarg[@]}" allowed-ips 192.0.2.1/32,2001:db8:2::1/128
		t_ok "$desc: configure xdpwgd" t_wg "$X" set wg0 peer "$KG" "${pskarg[@]}" \
			allowed-ips 192.0.2.2/32,2001:db8:2::2/128 endpoint "$gep"
		ping_from=a ping_to=2
	else
		t_ok "$desc: configure xdpwgd" t_wg "$X" set wg0 peer "$KG" "${pskarg[@]}" \
			allowed-ips 192.0.2.2/32,2001:db8:2::2/128
		t_wg "$G" set wg0 peer "$KX" "${pskarg[@]}" allowed-ips 192.0.2.1/32,2001:db8:2::1/128 \
			endpoint "$xep"
		ping_from=b ping_to=1
	fi
	t_ok "$desc: ping inner IPv4 from the initiator" \
		t_in $ping_from ping -n -c 2 -i 0.2 -w 10 192.0.2.$ping_to
	local hx hg
	hx=$(handshake_time "$X" "$KG")
	hg=$(handshake_time "$G" "$KX")
	[ "${hx:-0}" -gt 0 ] && [ "${hg:-0}" -gt 0 ]
	t_result $? "$desc: handshake recorded on both sides" || t_diag "xdpwgd '$hx' wireguard-go '$hg'"
	t_ok "$desc: ping inner IPv6 from the initiator" \
		t_in $ping_from ping -n -c 2 -i 0.2 -w 5 2001:db8:2::$ping_to
	local back_from=a back_to=1
	[ "$ping_from" = a ] && back_from=b
	[ "$ping_to" = 1 ] && back_to=2
	t_ok "$desc: ping inner IPv4 from the responder" \
		t_in "$back_from" ping -n -c 2 -i 0.2 -w 5 "192.0.2.$back_to"
	t_ok "$desc: ping inner IPv6 from the responder" \
		t_in "$back_from" ping -n -c 2 -i 0.2 -w 5 "2001:db8:2::$back_to"
	t_is "$(t_wg "$X" show wg0 endpoints | awk -v k="$KG" '$1 == k { print $2 }')" "$gep" \
		"$desc: xdpwgd's endpoint for wireguard-go"
	t_is "$(t_wg "$G" show wg0 endpoints | awk -v k="$KX" '$1 == k { print $2 }')" "$xep" \
		"$desc: wireguard-go's endpoint for xdpwgd"
	if [ "$psk" = 1 ]; then
		t_is "$(t_wg "$X" show wg0 preshared-keys | awk -v k="$KG" '$1 == k { print $2 }')" \
			"$(cat "$T_DIR/ab.psk")" "$desc: xdpwgd reports the preshared key"
	fi
	if [ "$xfer" = 1 ]; then
		t_ok "$desc: xdpwgd -> wireguard-go, inner IPv4: TCP transfer of $XFER_BYTES bytes" \
			t_tcp_transfer a b 192.0.2.2 5001 "$T_DIR/send.bin"
		t_ok "$desc: wireguard-go -> xdpwgd, inner IPv6: TCP transfer of $XFER_BYTES bytes" \
			t_tcp_transfer b a "[2001:db8:2::1]" 5001 "$T_DIR/send.bin"
	fi
	counters_agree "$desc"
}

scenario x 0 4 1
scenario g 1 6 1
scenario x 1 6 0
scenario g 0 4 0

# --- the configuration protocol against xdpwgd ---

t_wg "$X" showconf wg0 >"$T_DIR/c1.conf"
t_ok "showconf: private key" grep -qxF "PrivateKey = $(cat "$T_DIR/x.key")" "$T_DIR/c1.conf"
t_ok "showconf: listen port" grep -qxF "ListenPort = $XPORT" "$T_DIR/c1.conf"
t_ok "showconf: peer" grep -qxF "PublicKey = $KG" "$T_DIR/c1.conf"
t_ok "setconf with showconf's output" t_wg "$X" setconf wg0 "$T_DIR/c1.conf"
t_wg "$X" showconf wg0 >"$T_DIR/c2.conf"
t_ok "showconf after setconf is unchanged" diff -u "$T_DIR/c1.conf" "$T_DIR/c2.conf"
t_ok "ping after setconf" t_in a ping -n -c 1 -w 5 192.0.2.2

before=$(t_wg "$X" showconf wg0)
reply=$(printf 'set=1\nlisten_port=40000\npublic_key=zz\n\n' | t_uapi "$X" wg0)
t_like "$reply" '^errno=-[1-9][0-9]*$' "set=1 with a bad key: errno=-N, as wireguard-go answers"
t_is "$(t_wg "$X" showconf wg0)" "$before" "set=1 with a bad key changed nothing"
t_ok "wg set with a bad key fails" sh -c "! nsenter -t $X -m -n wg set wg0 peer bogus= remove"
t_is "$(t_wg "$X" showconf wg0)" "$before" "wg set with a bad key changed nothing"
# A refusal by the daemon itself (the port is taken) reaches wg as the right errno.
t_in a socat -u UDP4-RECV:51899 /dev/null &
sock_pid=$!
t_wait 5 t_in a sh -c "ss -Hlun | grep -q ':51899 '"
out=$(t_wg "$X" set wg0 listen-port 51899 2>&1)
t_like "$?:$out" "^1:.*Address already in use" "wg set listen-port to a taken port: wg reports EADDRINUSE"
kill "$sock_pid" 2>/dev/null
wait "$sock_pid" 2>/dev/null
t_is "$(t_wg "$X" showconf wg0)" "$before" "a refused rebind changed nothing"

reply=$(printf 'get=1\n\nget=1\n\n' | t_uapi "$X" wg0)
t_is "$(grep -c '^errno=0$' <<<"$reply")" 2 "two requests on one connection, two replies"
t_is "$(grep -c '^private_key=' <<<"$reply")" 2 "both replies carry the device"

t_ok "wg set listen-port (rebind)" t_wg "$X" set wg0 listen-port 51830
t_is "$(t_wg "$X" show wg0 listen-port)" 51830 "new listen port reported"
t_ok "old port closed, new port open" t_in a sh -c \
	"ss -Hlun | grep -q ':51830 ' && ! ss -Hlun | grep -q ':$XPORT '"
t_ok "ping after rebinding (wireguard-go follows the new source port)" \
	t_in a ping -n -c 2 -i 0.2 -w 10 192.0.2.2
t_is "$(t_wg "$G" show wg0 endpoints | awk -v k="$KX" '$1 == k { print $2 }')" \
	198.18.0.1:51830 "wireguard-go's endpoint for xdpwgd moved to the new port"
t_ok "wg set fwmark" t_wg "$X" set wg0 fwmark 0x1234
t_is "$(t_wg "$X" show wg0 fwmark)" 0x1234 "fwmark reported"
t_ok "ping with fwmark set" t_in a ping -n -c 1 -w 5 192.0.2.2
t_ok "wg set fwmark off" t_wg "$X" set wg0 fwmark 0
t_is "$(t_wg "$X" show wg0 fwmark)" off "fwmark off"

# --- the cached source: replies leave from the address the peer wrote to ---

t_in a ip addr add 198.18.0.5/24 dev eth0
t_wg "$G" set wg0 peer "$KX" endpoint 198.18.0.5:51830
t_ok "ping xdpwgd at a second address" t_in b ping -n -c 3 -i 0.2 -w 5 192.0.2.1
t_is "$(t_wg "$G" show wg0 endpoints | awk -v k="$KX" '$1 == k { print $2 }')" \
	198.18.0.5:51830 "xdpwgd answers from the address wireguard-go wrote to"
# The cached source disappears: sending from it fails (EINVAL), xdpwgd lets the kernel choose.
t_in a ip addr del 198.18.0.5/24 dev eth0
t_ok "ping after the cached source address is removed" t_in a ping -n -c 2 -i 0.2 -w 5 192.0.2.2
t_is "$(t_wg "$G" show wg0 endpoints | awk -v k="$KX" '$1 == k { print $2 }')" \
	198.18.0.1:51830 "wireguard-go follows xdpwgd to the address the kernel chose"
# The same over outer IPv6.
t_in a ip addr add 2001:db8:1::5/64 dev eth0 nodad
t_wg "$G" set wg0 peer "$KX" endpoint "[2001:db8:1::5]:51830"
t_ok "IPv6: ping xdpwgd at a second address" t_in b ping -n -c 3 -i 0.2 -w 5 192.0.2.1
t_is "$(t_wg "$G" show wg0 endpoints | awk -v k="$KX" '$1 == k { print $2 }')" \
	"[2001:db8:1::5]:51830" "IPv6: xdpwgd answers from the address wireguard-go wrote to"
t_in a ip addr del 2001:db8:1::5/64 dev eth0
t_ok "IPv6: ping after the cached source address is removed" \
	t_in a ping -n -c 2 -i 0.2 -w 5 192.0.2.2
t_is "$(t_wg "$G" show wg0 endpoints | awk -v k="$KX" '$1 == k { print $2 }')" \
	"[2001:db8:1::1]:51830" "IPv6: wireguard-go follows xdpwgd to the address the kernel chose"

# --- wg-quick with xdpwgd as the userspace implementation ---

# wg-quick falls back to xdpwgd only when the kernel cannot make a wireguard link
# (t_kernel_wg_blocked, tests/net/lib.sh).
KQ=$(t_genkey q)
t_wg "$G" set wg0 peer "$KQ" allowed-ips 192.0.2.3/32
cat >"$T_DIR/wgq.conf" <<EOF
[Interface]
PrivateKey = $(cat "$T_DIR/q.key")
Address = 192.0.2.3/32
ListenPort = 51822

[Peer]
PublicKey = $KG
AllowedIPs = 192.0.2.2/32
Endpoint = 198.18.0.2:$GPORT
EOF
chmod 600 "$T_DIR/wgq.conf"
# All in one private mount namespace: wg-quick, the daemon it starts and `wg` see one /run.
# The daemon forks into the background: its sanitizer reports (SAN=1) go to files.
if t_kernel_wg_blocked >>"$T_DIR/log" 2>&1; then
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$T_DIR/sanitizer" \
		UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$T_DIR/sanitizer" \
		t_in_private a bash -c '
		export PATH="$XDPWG_BUILD:$PATH" WG_QUICK_USERSPACE_IMPLEMENTATION=xdpwgd
		wg-quick up "$1/wgq.conf" || exit 10
		! ip -d link show wgq | grep -qw wireguard || exit 18
		test -S /run/wireguard/wgq.sock || exit 11
		[ "$(wg show wgq listen-port)" = 51822 ] || exit 12
		ip -br addr show wgq | grep -q 192.0.2.3 || exit 13
		ping -n -c 2 -i 0.2 -w 10 -I 192.0.2.3 192.0.2.2 || exit 14
		wg-quick down "$1/wgq.conf" || exit 15
		for i in $(seq 50); do [ -e /run/wireguard/wgq.sock ] || break; sleep 0.1; done
		test ! -e /run/wireguard/wgq.sock || exit 16
		! ip link show wgq 2>/dev/null || exit 17
		exit 0' sh "$T_DIR" >>"$T_DIR/log" 2>&1
	rc=$?
	t_is "$rc" 0 "wg-quick up (xdpwgd as userspace implementation), ping, wg-quick down" ||
		t_diag "exit 10 up, 11 socket, 12 port, 13 address, 14 ping, 15 down, 16 socket left, 17 TUN left, 18 kernel WireGuard used instead of xdpwgd"
else
	t_skip "wg-quick: cannot keep the kernel's wireguard module from loading (in use?), so wg-quick would use it, not xdpwgd"
fi

# --- SIGTERM ---

t_hold "$X"
t_ok "SIGTERM: xdpwgd exits" t_stop "$X"
t_is "${T_STOP_RC:-}" 0 "SIGTERM: exit status 0"
t_ok "SIGTERM: TUN removed" sh -c "! ip -n $(t_nsname a) link show wg0 2>/dev/null"
t_ok "SIGTERM: socket removed" t_at "$T_HOLD" test ! -e /run/wireguard/wg0.sock
t_no_sanitizer_reports

t_done
