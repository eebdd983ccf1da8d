#!/usr/bin/env bash
# Kernel WireGuard vs wireguard-go (TAP), meant for the VM (vmtest/run): kernel wg0 in namespace
# A, wireguard-go in namespace B with a private /run (its control socket lives in
# /run/wireguard), joined by a veth (198.51.100.0/24); handshake and ping both ways over
# 192.0.2.0/24 and 2001:db8:2::/64. Skips where the wireguard module or wireguard-go is missing.
set -u
. "$(dirname "$0")/../lib/tap.sh"
require_root
require_cmd ip wg ping modprobe wireguard-go unshare nsenter
modprobe wireguard 2>/dev/null || skip_all "no kernel WireGuard module (run it under vmtest/run)"

a=vmtga$$ b=vmtgb$$
tmp=$(mktemp -d)
mkdir -p "$tmp/run-b"
gopid=
cleanup() {
	[ -n "$gopid" ] && kill "$gopid" 2>/dev/null && wait "$gopid" 2>/dev/null
	ip netns del "$a" 2>/dev/null
	ip netns del "$b" 2>/dev/null
	rm -rf "$tmp"
}
on_exit cleanup

# inb CMD...: run CMD in namespace B with B's private /run.
inb() {
	nsenter --net="/run/netns/$b" -- unshare -m --propagation private \
		sh -c 'mount --bind "$0" /run && exec "$@"' "$tmp/run-b" "$@"
}

plan 9

setup_ns() {
	ip netns add "$a" && ip netns add "$b" &&
		ip link add va netns "$a" type veth peer name vb netns "$b" &&
		ip -n "$a" addr add 198.51.100.1/24 dev va && ip -n "$b" addr add 198.51.100.2/24 dev vb &&
		ip -n "$a" link set va up && ip -n "$b" link set vb up &&
		ip -n "$a" link set lo up && ip -n "$b" link set lo up
}
check "two namespaces joined by a veth" setup_ns

wg genkey >"$tmp/a.key" && wg genkey >"$tmp/b.key"
wg pubkey <"$tmp/a.key" >"$tmp/a.pub" && wg pubkey <"$tmp/b.key" >"$tmp/b.pub"

kernel_up() {
	ip -n "$a" link add wg0 type wireguard &&
		ip netns exec "$a" wg set wg0 private-key "$tmp/a.key" listen-port 51820 \
			peer "$(cat "$tmp/b.pub")" allowed-ips 192.0.2.2/32,2001:db8:2::2/128 \
			endpoint 198.51.100.2:51820 &&
		ip -n "$a" addr add 192.0.2.1/24 dev wg0 && ip -n "$a" addr add 2001:db8:2::1/64 dev wg0 nodad &&
		ip -n "$a" link set wg0 up
}
check "kernel wg0 in namespace A" kernel_up

WG_PROCESS_FOREGROUND=1 WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD=1 \
	inb wireguard-go -f wg0 >"$tmp/wggo.log" 2>&1 &
gopid=$!
check "wireguard-go started in namespace B (private /run)" \
	wait_for 100 test -S "$tmp/run-b/wireguard/wg0.sock"

go_up() {
	inb wg set wg0 private-key "$tmp/b.key" listen-port 51820 \
		peer "$(cat "$tmp/a.pub")" allowed-ips 192.0.2.1/32,2001:db8:2::1/128 &&
		ip -n "$b" addr add 192.0.2.2/24 dev wg0 && ip -n "$b" addr add 2001:db8:2::2/64 dev wg0 nodad &&
		ip -n "$b" link set wg0 up
}
check "wireguard-go configured (no endpoint: learns it from A)" go_up
check "wireguard-go socket not in the global /run" test ! -e /run/wireguard/wg0.sock

check "ping kernel -> wireguard-go (IPv4)" ip netns exec "$a" ping -c 3 -i 0.2 -W 3 192.0.2.2
check "ping wireguard-go -> kernel (IPv4)" ip netns exec "$b" ping -c 3 -i 0.2 -W 3 192.0.2.1
check "ping wireguard-go -> kernel (IPv6)" ip netns exec "$b" ping -6 -c 3 -i 0.2 -W 3 2001:db8:2::1

handshakes() {
	local k g
	k=$(ip netns exec "$a" wg show wg0 latest-handshakes | awk '{ print $2 }')
	g=$(inb wg show wg0 latest-handshakes | awk '{ print $2 }')
	echo "kernel: $k wireguard-go: $g"
	[ "${k:-0}" -gt 0 ] && [ "${g:-0}" -gt 0 ]
}
check "handshake seen by both" handshakes
if [ "$tap_fail" != 0 ]; then
	diag "wireguard-go log:"
	sed 's/^/#   /' "$tmp/wggo.log" | tail -20
fi
tap_done
