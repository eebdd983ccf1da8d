#!/usr/bin/env bash
# The wg-quick path, as dist/systemd/xdpwg-quick@.service runs it (its own commands, without
# systemd): WG_QUICK_USERSPACE_IMPLEMENTATION=xdpwgd and, from the env file, XDPWG_ATTACH=eth0;
# a configuration with Address, MTU = 1280 and PostUp/PreDown/PostDown hooks (the nftables rules
# operators put there). While up: the XDP program on eth0, the MTU in force on the TUN and in
# the daemon, the hooks ran, a wireguard-go client's traffic flows through AF_XDP. After
# `wg-quick down`: no XDP program on eth0, no pins, no socket, no daemon; PreDown and PostDown
# ran. The unit's reload (`wg syncconf` of `wg-quick strip`) adds a peer live.
. "$(dirname "$0")/lib.sh"
t_require_root
t_require_cmd wireguard-go wg wg-quick ping pgrep
t_require_xdpwgd

t_ns gw
t_ns cl
t_link gw eth0 198.18.0.1/24 cl eth0 198.18.0.2/24
gw_pub=$(t_genkey gw)
cl_pub=$(t_genkey cl)
new_pub=$(t_genkey new)
t_start_wggo cl wg0 || t_bail "wireguard-go did not start"
CL=$T_PID
t_ok "client configured (keepalive: it opens the session)" t_wg "$CL" set wg0 \
	private-key "$T_DIR/cl.key" peer "$gw_pub" endpoint 198.18.0.1:51820 \
	allowed-ips 192.0.2.1/32 persistent-keepalive 1
t_in cl ip addr add 192.0.2.2/24 dev wg0
t_in cl ip link set wg0 up

mkdir -p "$T_DIR/etc"
cat >"$T_DIR/etc/wg0.conf" <<EOF
[Interface]
PrivateKey = $(cat "$T_DIR/gw.key")
Address = 192.0.2.1/24
ListenPort = 51820
MTU = 1280
PostUp = echo "up %i" >$T_DIR/postup
PreDown = echo "predown %i" >$T_DIR/predown
PostDown = echo "down %i" >$T_DIR/postdown

[Peer]
PublicKey = $cl_pub
AllowedIPs = 192.0.2.2/32
EOF
chmod 600 "$T_DIR/etc/wg0.conf"
# the env file the unit reads (EnvironmentFile=-/etc/xdpwg/%i.env)
printf 'XDPWG_ATTACH=eth0\n' >"$T_DIR/etc/wg0.env"

# One private mount namespace for wg-quick, the daemon it starts and `wg` (one /run). Exit
# codes name the step that failed.
if t_kernel_wg_blocked >>"$T_DIR/log" 2>&1; then
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$T_DIR/sanitizer" \
		UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$T_DIR/sanitizer" \
		t_in_private gw bash -c '
		d=$1 new=$2
		set -a; . "$d/etc/wg0.env"; set +a
		export PATH="$XDPWG_BUILD:$PATH" WG_QUICK_USERSPACE_IMPLEMENTATION=xdpwgd
		wg-quick up "$d/etc/wg0.conf" || exit 10
		! ip -d link show wg0 | grep -qw wireguard || exit 11
		pid=$(pgrep -n -f "^xdpwgd wg0\$") || exit 12
		ip link show eth0 | grep -q "xdp" || exit 13
		test -d /sys/fs/bpf/xdpwg/wg0 || exit 14
		ip link show wg0 | grep -q "mtu 1280 " || exit 15
		[ "$(cat "$d/postup")" = "up wg0" ] || exit 16
		for i in $(seq 100); do ping -n -c 1 -W 1 192.0.2.2 >/dev/null && break; done
		ping -n -c 3 -i 0.2 -w 10 192.0.2.2 || exit 17
		redirected=$(xdpwgctl stats wg0 | awk "\$1 == \"redirected\" { print \$2 }")
		[ "${redirected:-0}" -gt 0 ] || exit 18
		# the unit reload: the file changes, wg syncconf of wg-quick strip applies it
		printf "\n[Peer]\nPublicKey = %s\nAllowedIPs = 192.0.2.9/32\n" "$new" >>"$d/etc/wg0.conf"
		wg syncconf wg0 <(wg-quick strip "$d/etc/wg0.conf") || exit 19
		wg show wg0 allowed-ips | grep -q "192.0.2.9/32" || exit 20
		wg-quick down "$d/etc/wg0.conf" || exit 21
		for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		! kill -0 "$pid" 2>/dev/null || exit 22
		test ! -e /run/wireguard/wg0.sock || exit 23
		! ip link show eth0 | grep -q "xdp" || exit 24
		test ! -e /sys/fs/bpf/xdpwg/wg0 || exit 25
		! ip link show wg0 2>/dev/null || exit 26
		[ "$(cat "$d/predown")" = "predown wg0" ] && [ "$(cat "$d/postdown")" = "down wg0" ] ||
			exit 27
		exit 0' sh "$T_DIR" "$new_pub" >>"$T_DIR/log" 2>&1
	rc=$?
	t_is "$rc" 0 "wg-quick up with XDP attached, MTU 1280, hooks, traffic, reload, down clean" ||
		t_diag "exit 10 up, 11 kernel WireGuard used, 12 no daemon, 13 no XDP on eth0, 14 no pins, 15 MTU not 1280, 16 PostUp, 17 ping, 18 nothing redirected by XDP, 19-20 reload, 21 down, 22 daemon left, 23 socket left, 24 XDP left on eth0, 25 pins left, 26 TUN left, 27 PreDown/PostDown; $(tail -n 15 "$T_DIR/log" | tr '\n' '|')"
else
	t_skip "wg-quick: cannot keep the kernel's wireguard module from loading, so wg-quick would use it, not xdpwgd"
fi
t_done
