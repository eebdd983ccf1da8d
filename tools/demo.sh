#!/usr/bin/env bash
# make demo: xdpwgd as a VPN gateway, a client behind a router, a tunnel, a few pings, each step
# narrated. Everything lives in network namespaces named xw<pid>..-* and is removed on exit,
# even on failure or Ctrl-C.
#
#   client (198.51.100.2) --- router (198.51.100.254 | 198.18.0.254) --- gateway (198.18.0.1)
#   tunnel: client 192.0.2.2  <==== WireGuard, UDP 51820 ====>  gateway 192.0.2.1
#
# Usage: tools/demo.sh [--client wireguard-go|xdpwgd]
#   XDPWG_BUILD  where xdpwgd is (default: build/ next to this script)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
export XDPWG_BUILD=${XDPWG_BUILD:-$here/../build}
client_impl=wireguard-go
case "${1:-}" in
--client)
	client_impl=${2:-}
	;;
-h | --help)
	sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
	exit 0
	;;
"") ;;
*)
	echo "demo: unknown argument $1 (try --help)" >&2
	exit 2
	;;
esac
case "$client_impl" in
wireguard-go | xdpwgd) ;;
*)
	echo "demo: --client must be wireguard-go or xdpwgd" >&2
	exit 2
	;;
esac

# The namespace, daemon and cleanup helpers the tests use (its EXIT trap tears everything down).
. "$here/../tests/net/lib.sh"
set +x

step=0
bold=
plain=
if [ -t 1 ]; then
	bold=$(printf '\033[1m')
	plain=$(printf '\033[0m')
fi
say()
{
	step=$((step + 1))
	printf '\n%s==> %d. %s%s\n' "$bold" "$step" "$*" "$plain"
}
# show WHERE CMD...: print the command as one would type it in that namespace, run it, indent its
# output. The helpers' plumbing (t_in NS, t_wg PID) is left out of what is printed.
show()
{
	local where=$1 shown
	shift
	case "$1" in
	t_in) shown="${*:3}" ;;
	t_wg) shown="wg ${*:3}" ;;
	*) shown="$*" ;;
	esac
	printf '    [%s] # %s\n' "$where" "${shown//$T_DIR\//}"
	"$@" 2>&1 | sed 's/^/      /'
	return "${PIPESTATUS[0]}"
}
die()
{
	printf '\ndemo: %s\n' "$*" >&2
	t_show_log 15 >&2
	exit 1
}

[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces)"
for c in wireguard-go wg ping nsenter unshare; do
	command -v "$c" >/dev/null || die "needs $c (make deps)"
done
[ -x "$XDPWG_BUILD/xdpwgd" ] || die "no $XDPWG_BUILD/xdpwgd (run make)"

say "Three network namespaces: a client, a router, a gateway ($T_PFX-*)"
t_ns client
t_ns router
t_ns gw
t_link client eth0 198.51.100.2/24 router eth-c 198.51.100.254/24
t_link gw eth0 198.18.0.1/24 router eth-gw 198.18.0.254/24
t_in router sysctl -qw net.ipv4.ip_forward=1
t_in client ip route add default via 198.51.100.254
t_in gw ip route add default via 198.18.0.254
echo "    client 198.51.100.2 -- router -- gateway 198.18.0.1 (documentation addresses only)"
show client t_in client ping -n -c 1 -W 2 198.18.0.1 || die "the underlay does not route"

say "Start xdpwgd on the gateway: TUN wg0 and /run/wireguard/wg0.sock (a private /run)"
t_start_xdpwgd gw wg0 || die "xdpwgd did not start"
GW=$T_PID
echo "    xdpwgd runs as pid $GW"
show gateway t_in gw ip -br link show wg0

say "Start $client_impl on the client"
if [ "$client_impl" = xdpwgd ]; then
	t_start_xdpwgd client wg0 || die "xdpwgd (client) did not start"
else
	t_start_wggo client wg0 || die "wireguard-go did not start"
fi
CL=$T_PID

say "Keys: one pair each, made by wg genkey"
kgw=$(t_genkey gw)
kcl=$(t_genkey client)
echo "    gateway $kgw"
echo "    client  $kcl"

say "Configure both ends with stock wg(8) over the configuration socket"
show gateway t_wg "$GW" set wg0 private-key "$T_DIR/gw.key" listen-port 51820 \
	peer "$kcl" allowed-ips 192.0.2.2/32 || die "wg set on the gateway failed"
show client t_wg "$CL" set wg0 private-key "$T_DIR/client.key" \
	peer "$kgw" allowed-ips 192.0.2.0/24 endpoint 198.18.0.1:51820 persistent-keepalive 25 ||
	die "wg set on the client failed"
t_in gw ip addr add 192.0.2.1/24 dev wg0
t_in gw ip link set wg0 up
t_in client ip addr add 192.0.2.2/24 dev wg0
t_in client ip link set wg0 up
echo "    tunnel addresses: gateway 192.0.2.1, client 192.0.2.2; both wg0 up"

say "Ping the gateway through the tunnel (the first packet triggers the handshake)"
show client t_in client ping -n -c 3 -i 0.3 -w 10 192.0.2.1 || die "no reply through the tunnel"

say "And the other way, gateway to client"
show gateway t_in gw ping -n -c 3 -i 0.3 -w 5 192.0.2.2 || die "no reply from the client"

say "What the gateway sees: the client's endpoint is the router-side address it came from"
show gateway t_wg "$GW" show wg0

say "What the client sees"
show client t_wg "$CL" show wg0

say "Stop the gateway with SIGTERM: it removes its socket and its TUN"
t_stop "$GW" && echo "    xdpwgd exited with status ${T_STOP_RC:-?}"
if t_in gw ip link show wg0 >/dev/null 2>&1; then
	die "wg0 is still there"
fi
echo "    wg0 is gone from the gateway namespace"

say "Done; the namespaces are removed on exit"
