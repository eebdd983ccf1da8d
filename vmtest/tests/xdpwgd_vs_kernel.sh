#!/usr/bin/env bash
# xdpwgd against the kernel's WireGuard (TAP), meant for the VM (vmtest/run): kernel wg0 in
# namespace K, xdpwgd (private /run) in namespace X, a router namespace R between them:
#
#   K k1 198.51.100.2 ---- R ---- 198.18.0.2  eth0 X     (default routes, metric 10)
#     k2 203.0.113.2  ----   ---- 198.18.0.66 eth1       (second default routes, metric 20)
#
# IPv6 outer on the same links (2001:db8:c::/64, :d::, :a::, :b::); inner 192.0.2.0/24 and
# 2001:db8:1::/64. For xdpwgd in socket mode and then with `--attach eth0 --xdp-mode native`:
# handshakes with either side initiating (only the initiator is given an endpoint, so the
# other cannot), PSK on and off, IPv4 and IPv6 outer, pings and a TCP transfer both ways over
# IPv4 and IPv6 inner; then the kernel peer roams to its second uplink (xdpwgd follows) and,
# in socket mode, xdpwgd roams to its own second uplink (the kernel follows).
# When the XDP program does not load, the attach assertions fail and the verifier log is
# shown (and copied to $VMTEST_OUT/xdpwg-verifier.log).
# Environment: XDPWG_BUILD (xdpwgd, xdpwgctl, xdpwg.bpf.o), XDPWG_VK_MODES (default
# "socket attach"), XDPWG_VK_TCP_BYTES (default 1000000).
set -u
. "$(dirname "$0")/../lib/tap.sh"
require_root
require_cmd ip wg ping modprobe socat nsenter unshare cmp
build=${XDPWG_BUILD:-$PWD/build}
[ -x "$build/xdpwgd" ] || skip_all "no $build/xdpwgd (make all-tests)"
modprobe wireguard 2>/dev/null || skip_all "no kernel WireGuard module (run it under vmtest/run)"

modes=${XDPWG_VK_MODES:-socket attach}
bytes=${XDPWG_VK_TCP_BYTES:-1000000}
K=vmxk$$ X=vmxx$$ R=vmxr$$
tmp=$(mktemp -d)
xpid=
stop_x() {
	[ -n "$xpid" ] || return 0
	kill -TERM "$xpid" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$xpid" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$xpid" 2>/dev/null
	wait "$xpid" 2>/dev/null
	xpid=
}
teardown() {
	stop_x
	local n p
	for n in "$K" "$X" "$R"; do
		for p in $(ip netns pids "$n" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
		ip netns del "$n" 2>/dev/null
	done
	return 0
}
cleanup() {
	teardown
	rm -rf "$tmp"
}
on_exit cleanup

# --- helpers ---------------------------------------------------------------------------------
on() { # on k|x|r CMD...: run CMD in that network namespace
	local s=$1
	shift
	case $s in
	k) nsenter --net="/run/netns/$K" -- "$@" ;;
	x) nsenter --net="/run/netns/$X" -- "$@" ;;
	r) nsenter --net="/run/netns/$R" -- "$@" ;;
	esac
}
xwg() { nsenter -t "$xpid" -m -n wg "$@"; }   # wg against xdpwgd (its private /run)
kwg() { on k wg "$@"; }
ping_retry() { # ping_retry SIDE ADDR: the first packet may wait for a handshake
	local i
	for i in $(seq 15); do
		on "$1" ping -c1 -W1 "$2" >/dev/null 2>&1 && { echo "reply after $i tries"; return 0; }
	done
	on "$1" ping -c1 -W1 "$2"
	return 1
}
ping3() { on "$1" ping -c 3 -i 0.2 -W 2 "$2"; }
tcp_xfer() { # tcp_xfer FROM TO ADDR PORT
	local from=$1 to=$2 addr=$3 port=$4 lst=TCP4-LISTEN lpid
	[[ $addr == \[* ]] && lst=TCP6-LISTEN
	rm -f "$tmp/recv.$port"
	on "$to" timeout 50 socat -u "$lst:$port,reuseaddr" "OPEN:$tmp/recv.$port,creat,trunc" &
	lpid=$!
	on "$from" timeout 50 socat -u "OPEN:$tmp/blob" "TCP:$addr:$port,retry=50,interval=0.2" ||
		{ kill "$lpid" 2>/dev/null; return 1; }
	wait "$lpid" || return 1
	cmp "$tmp/blob" "$tmp/recv.$port"
}
endpoint_is() { # endpoint_is k|x EXPECTED: that side's endpoint for its one peer
	local got
	if [ "$1" = k ]; then got=$(kwg show wg0 endpoints); else got=$(xwg show wg0 endpoints); fi
	got=$(echo "$got" | awk '{ print $2 }')
	echo "endpoint: $got (expected $2)"
	[ "$got" = "$2" ]
}
handshakes() {
	local k x
	k=$(kwg show wg0 latest-handshakes | awk '{ print $2 }')
	x=$(xwg show wg0 latest-handshakes | awk '{ print $2 }')
	echo "kernel: $k xdpwgd: $x"
	[ "${k:-0}" -gt 0 ] && [ "${x:-0}" -gt 0 ]
}

# --- topology --------------------------------------------------------------------------------
veth() { # veth NS1 IF1 NS2 IF2 ADDR1 ADDR2 ADDR1v6 ADDR2v6
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3" &&
		ip -n "$1" addr add "$5" dev "$2" && ip -n "$3" addr add "$6" dev "$4" &&
		ip -n "$1" addr add "$7" dev "$2" nodad && ip -n "$3" addr add "$8" dev "$4" nodad &&
		ip -n "$1" link set "$2" up && ip -n "$3" link set "$4" up
}
topology() {
	local n
	for n in "$K" "$X" "$R"; do
		ip netns add "$n" && ip -n "$n" link set lo up &&
			on "${n:3:1}" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
				net.ipv6.conf.default.accept_dad=0 || return 1
	done
	on r sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 &&
		veth "$K" k1 "$R" rk1 198.51.100.2/24 198.51.100.1/24 2001:db8:c::2/64 2001:db8:c::1/64 &&
		veth "$K" k2 "$R" rk2 203.0.113.2/24 203.0.113.1/24 2001:db8:d::2/64 2001:db8:d::1/64 &&
		veth "$X" eth0 "$R" rx0 198.18.0.2/26 198.18.0.1/26 2001:db8:a::2/64 2001:db8:a::1/64 &&
		veth "$X" eth1 "$R" rx1 198.18.0.66/26 198.18.0.65/26 2001:db8:b::2/64 2001:db8:b::1/64 &&
		ip -n "$K" route add default via 198.51.100.1 dev k1 metric 10 &&
		ip -n "$K" route add default via 203.0.113.1 dev k2 metric 20 &&
		ip -n "$K" -6 route add default via 2001:db8:c::1 dev k1 metric 10 &&
		ip -n "$K" -6 route add default via 2001:db8:d::1 dev k2 metric 20 &&
		ip -n "$X" route add default via 198.18.0.1 dev eth0 metric 10 &&
		ip -n "$X" route add default via 198.18.0.65 dev eth1 metric 20 &&
		ip -n "$X" -6 route add default via 2001:db8:a::1 dev eth0 metric 10 &&
		ip -n "$X" -6 route add default via 2001:db8:b::1 dev eth1 metric 20 &&
		ip -n "$K" link add wg0 type wireguard &&
		kwg set wg0 private-key "$tmp/k.key" listen-port 51821 &&
		ip -n "$K" addr add 192.0.2.2/24 dev wg0 && ip -n "$K" addr add 2001:db8:1::2/64 dev wg0 &&
		ip -n "$K" link set wg0 up &&
		on k ping -c1 -W5 198.18.0.2 && on k ping -c1 -W5 2001:db8:a::2
}

wg genkey >"$tmp/k.key" && wg pubkey <"$tmp/k.key" >"$tmp/k.pub"
wg genkey >"$tmp/x.key" && wg pubkey <"$tmp/x.key" >"$tmp/x.pub"
wg genpsk >"$tmp/psk"
kpub=$(cat "$tmp/k.pub") xpub=$(cat "$tmp/x.pub")
head -c "$bytes" /dev/urandom >"$tmp/blob"

# start_x MODE: xdpwgd in X with a private /run; sets xpid (not in a subshell).
start_x() {
	local args=(-f)
	[ "$1" = attach ] && args+=(--attach eth0 --xdp-mode native)
	ip netns exec "$X" unshare -m --propagation private \
		sh -c 'mount -t tmpfs -o mode=0755 tmpfs /run && exec "$@"' sh \
		"$build/xdpwgd" "${args[@]}" wg0 >"$tmp/xdpwgd-$1.log" 2>&1 &
	xpid=$!
}
x_up() {
	local i
	for i in $(seq 300); do
		kill -0 "$xpid" 2>/dev/null || { echo "xdpwgd exited"; return 1; }
		nsenter -t "$xpid" -m -n test -S /run/wireguard/wg0.sock && break
		sleep 0.1
	done
	xwg set wg0 private-key "$tmp/x.key" listen-port 51820 &&
		ip -n "$X" addr add 192.0.2.1/24 dev wg0 && ip -n "$X" addr add 2001:db8:1::1/64 dev wg0 &&
		ip -n "$X" link set wg0 up
}
xdp_native() { # XDP_ATTACHED_DRV is mode 1
	ip -n "$X" -j link show dev eth0 | tee /dev/stderr | grep -q '"xdp":{"mode":1'
}
verifier_log() { # the 6.1 verifier's verdict on the object, for the report
	local obj=$build/xdpwg.bpf.o log=$tmp/verifier.log
	[ -f "$obj" ] || return 0
	mkdir -p "$tmp/bpffs" && mount -t bpf bpf "$tmp/bpffs" 2>/dev/null
	bpftool -d prog loadall "$obj" "$tmp/bpffs/p" >"$log" 2>&1
	local rc=$?
	umount "$tmp/bpffs" 2>/dev/null
	[ -n "${VMTEST_OUT:-}" ] && cp "$log" "$VMTEST_OUT/xdpwg-verifier.log" 2>/dev/null
	diag "bpftool prog loadall $obj: exit $rc; verifier log (full: \$VMTEST_OUT/xdpwg-verifier.log):"
	grep -vE '^(libbpf: |$)' "$log" | tail -12 | sed 's/^/#   /'
}

# round MODE PSK(on|off) OUTER(4|6) INITIATOR(k|x) TCP(tcp|-): fresh peers on both sides,
# endpoint only on the initiator, traffic both ways.
round() {
	local mode=$1 psk=$2 fam=$3 init=$4 tcp=$5 kep xep pk=() kx=() xk=()
	if [ "$fam" = 4 ]; then kep=198.51.100.2:51821 xep=198.18.0.2:51820
	else kep='[2001:db8:c::2]:51821' xep='[2001:db8:a::2]:51820'; fi
	[ "$psk" = on ] && pk=(preshared-key "$tmp/psk")
	if [ "$init" = k ]; then kx=(endpoint "$xep"); else xk=(endpoint "$kep"); fi
	local d="$mode, PSK $psk, IPv$fam outer, $([ "$init" = k ] && echo kernel || echo xdpwgd) initiates"
	peers() {
		kwg set wg0 peer "$xpub" remove && xwg set wg0 peer "$kpub" remove &&
			kwg set wg0 peer "$xpub" allowed-ips 192.0.2.1/32,2001:db8:1::1/128 "${pk[@]}" "${kx[@]}" &&
			xwg set wg0 peer "$kpub" allowed-ips 192.0.2.2/32,2001:db8:1::2/128 "${pk[@]}" "${xk[@]}" &&
			if [ "$psk" = on ]; then # both sides hold the same PSK
				[ "$(kwg show wg0 preshared-keys | awk '{ print $2 }')" = "$(cat "$tmp/psk")" ] &&
					[ "$(xwg show wg0 preshared-keys | awk '{ print $2 }')" = "$(cat "$tmp/psk")" ]
			fi
	}
	check "$d: peers configured" peers
	if [ "$init" = k ]; then
		check "$d: handshake, ping kernel -> xdpwgd" ping_retry k 192.0.2.1
		check "$d: xdpwgd learned the kernel's endpoint" endpoint_is x "$kep"
	else
		check "$d: handshake, ping xdpwgd -> kernel" ping_retry x 192.0.2.2
		check "$d: kernel learned xdpwgd's endpoint" endpoint_is k "$xep"
	fi
	check "$d: handshake seen by both" handshakes
	check "$d: ping xdpwgd -> kernel (IPv4 inner)" ping3 x 192.0.2.2
	check "$d: ping kernel -> xdpwgd (IPv6 inner)" ping3 k 2001:db8:1::1
	check "$d: ping xdpwgd -> kernel (IPv6 inner)" ping3 x 2001:db8:1::2
	[ "$tcp" = tcp ] || return 0
	local in=4 a4=192.0.2 a6='[2001:db8:1::'
	[ "$fam" = 6 ] && in=6
	TAP_TIMEOUT=60 check "$d: TCP $bytes bytes kernel -> xdpwgd (IPv$in inner)" \
		tcp_xfer k x "$([ $in = 4 ] && echo $a4.1 || echo "${a6}1]")" 5001
	TAP_TIMEOUT=60 check "$d: TCP $bytes bytes xdpwgd -> kernel (IPv$in inner)" \
		tcp_xfer x k "$([ $in = 4 ] && echo $a4.2 || echo "${a6}2]")" 5002
}

# The kernel has a PSK, xdpwgd none: the kernel must reject xdpwgd's handshake response.
psk_mismatch() {
	kwg set wg0 peer "$xpub" remove && xwg set wg0 peer "$kpub" remove &&
		kwg set wg0 peer "$xpub" allowed-ips 192.0.2.1/32 preshared-key "$tmp/psk" \
			endpoint 198.18.0.2:51820 &&
		xwg set wg0 peer "$kpub" allowed-ips 192.0.2.2/32 || return 1
	if on k ping -c 2 -i 0.5 -W 3 192.0.2.1; then return 1; fi
	kwg show wg0 latest-handshakes
	[ "$(kwg show wg0 latest-handshakes | awk '{ print $2 }')" = 0 ]
}

# The kernel moves to its second uplink: k1 loses its address and goes down, the metric-20
# default route via k2 takes over, the kernel's next packet leaves from 203.0.113.2.
kernel_roams() {
	ip -n "$K" addr flush dev k1 && ip -n "$K" link set k1 down
}
# xdpwgd's uplink eth0 goes down; its metric-20 default route via eth1 takes over.
xdpwgd_roams() {
	ip -n "$X" link set eth0 down
}

nmodes=$(echo "$modes" | wc -w)
per_mode=51 # 3 + rounds 9+9+7+7 + 1 + roaming 7+4+4
plan $((per_mode * nmodes))
for mode in $modes; do
	teardown
	check "$mode: namespaces K, X, R, kernel wg0 in K" topology
	start_x "$mode"
	if [ "$mode" = attach ]; then
		check "$mode: xdpwgd --attach eth0 --xdp-mode native starts" x_up
		f0=$tap_fail
		check "$mode: XDP program attached to eth0 in native mode" xdp_native
		if [ "$tap_fail" != "$f0" ]; then
			diag "xdpwgd log:"
			tail -15 "$tmp/xdpwgd-$mode.log" | sed 's/^/#   /'
			verifier_log
		fi
	else
		check "$mode: xdpwgd starts (UDP socket data path)" x_up
		check "$mode: no XDP program on eth0" sh -c "! ip -n $X link show dev eth0 | grep -q xdp"
	fi
	if ! kill -0 "$xpid" 2>/dev/null; then # its start already failed above; skip, don't wait
		for _ in $(seq $((per_mode - 3))); do skip "$mode: traffic" "xdpwgd is not running"; done
		xpid=
		continue
	fi
	# PSK off / on × IPv4 / IPv6 outer × either side initiating: four rounds cover every pair
	round "$mode" off 4 k tcp
	round "$mode" on 6 x tcp
	round "$mode" on 4 x -
	round "$mode" off 6 k -
	if [ "$mode" = attach ]; then
		redirected() {
			nsenter -t "$xpid" -m -n "$build/xdpwgctl" stats wg0 |
				awk '$1 == "redirected" || $1 == "redirected:" { print $NF; f = 1 } END { exit !f }' |
				{ read -r n; echo "redirected: $n"; [ "${n:-0}" -gt 100 ]; }
		}
		check "$mode: data went through XDP -> AF_XDP (stats: redirected > 100)" redirected
	else
		check "$mode: PSK on the kernel only: no handshake" psk_mismatch
	fi

	# Roaming, on IPv4 outer: the kernel initiates, then moves to its second uplink.
	round "$mode" off 4 k -
	check "$mode: kernel roams: k1 down, default route via k2" kernel_roams
	check "$mode: kernel -> xdpwgd after the move" ping_retry k 192.0.2.1
	check "$mode: xdpwgd follows the kernel to 203.0.113.2" endpoint_is x 203.0.113.2:51821
	check "$mode: xdpwgd -> kernel at its new address" ping3 x 192.0.2.2
	if [ "$mode" = socket ]; then
		check "$mode: xdpwgd roams: eth0 down, default route via eth1" xdpwgd_roams
		check "$mode: xdpwgd -> kernel after its move" ping_retry x 192.0.2.2
		check "$mode: kernel follows xdpwgd to 198.18.0.66" endpoint_is k 198.18.0.66:51820
		check "$mode: kernel -> xdpwgd at its new address" ping3 k 192.0.2.1
	else
		# With --attach eth0 only, eth0 going down takes the XDP data path away; xdpwgd's own
		# roaming is covered in socket mode (and by tests/net/roam_*.t on the host).
		for s in "xdpwgd roams" "xdpwgd -> kernel after its move" \
			"kernel follows xdpwgd" "kernel -> xdpwgd at its new address"; do
			skip "$mode: $s" "covered in socket mode"
		done
	fi
	if [ "$tap_fail" != 0 ]; then
		diag "xdpwgd log ($mode):"
		tail -20 "$tmp/xdpwgd-$mode.log" | sed 's/^/#   /'
	fi
	stop_x
done
tap_done
