#!/usr/bin/env bash
# Kernel WireGuard smoke test (TAP), meant for the VM (vmtest/run): two namespaces joined by a
# veth (198.51.100.0/24), kernel WireGuard on both ends (inner 192.0.2.0/24 and 2001:db8:2::/64),
# keys from `wg genkey`, ping through the tunnel. Skips where the wireguard module is missing.
set -u
. "$(dirname "$0")/../lib/tap.sh"
require_root
require_cmd ip wg ping modprobe
modprobe wireguard 2>/dev/null || skip_all "no kernel WireGuard module (run it under vmtest/run)"

a=vmtwa$$ b=vmtwb$$
tmp=$(mktemp -d)
cleanup() {
	ip netns del "$a" 2>/dev/null
	ip netns del "$b" 2>/dev/null
	rm -rf "$tmp"
}
on_exit cleanup

plan 8
ok "modprobe wireguard"

setup_ns() {
	ip netns add "$a" && ip netns add "$b" &&
		ip link add va netns "$a" type veth peer name vb netns "$b" &&
		ip -n "$a" addr add 198.51.100.1/24 dev va && ip -n "$b" addr add 198.51.100.2/24 dev vb &&
		ip -n "$a" link set va up && ip -n "$b" link set vb up &&
		ip -n "$a" link set lo up && ip -n "$b" link set lo up
}
check "two namespaces joined by a veth" setup_ns

wg genkey >"$tmp/a.key" && wg genkey >"$tmp/b.key" &&
	wg pubkey <"$tmp/a.key" >"$tmp/a.pub" && wg pubkey <"$tmp/b.key" >"$tmp/b.pub"
check "keys from wg genkey" test -s "$tmp/a.pub" -a -s "$tmp/b.pub"

wg_up() { # wg_up NS KEY PEERPUB MY4 MY6 PEER4 PEER6 ENDPOINT
	ip -n "$1" link add wg0 type wireguard &&
		ip netns exec "$1" wg set wg0 private-key "$2" listen-port 51820 \
			peer "$(cat "$3")" allowed-ips "$6/32,$7/128" endpoint "$8:51820" &&
		ip -n "$1" addr add "$4/24" dev wg0 && ip -n "$1" addr add "$5/64" dev wg0 nodad &&
		ip -n "$1" link set wg0 up
}
check "kernel wg0 in namespace A" wg_up "$a" "$tmp/a.key" "$tmp/b.pub" 192.0.2.1 2001:db8:2::1 192.0.2.2 2001:db8:2::2 198.51.100.2
check "kernel wg0 in namespace B" wg_up "$b" "$tmp/b.key" "$tmp/a.pub" 192.0.2.2 2001:db8:2::2 192.0.2.1 2001:db8:2::1 198.51.100.1

check "ping A -> B through the tunnel (IPv4)" ip netns exec "$a" ping -c 3 -i 0.2 -W 3 192.0.2.2
check "ping B -> A through the tunnel (IPv6)" ip netns exec "$b" ping -6 -c 3 -i 0.2 -W 3 2001:db8:2::1

handshake() {
	local t
	t=$(ip netns exec "$a" wg show wg0 latest-handshakes | awk '{ print $2 }')
	[ -n "$t" ] && [ "$t" -gt 0 ]
}
check "handshake recorded" handshake
tap_done
