#!/usr/bin/env bash
# xdpwgctl doctor: the troubleshooting matrix as one command. Three findings are provoked on a
# gateway and each must be named with what to do, then put right and gone:
#   - XDP in generic mode (xdpwgd --xdp-mode generic): every frame copied
#   - the tunnel's MTU (1500) plus WireGuard's overhead larger than the uplink's (1500)
#   - the uplink's txqueuelen (10) too short
#   - a peer with an endpoint and a persistent keepalive that never completed a handshake
# Exit status 2 with findings, 0 without; a bad interface is an error (1) naming it.
. "$(dirname "$0")/lib.sh"
t_require_root
t_require_cmd wg
t_require_xdpwgd
CTL=$XDPWG_BUILD/xdpwgctl

t_ns gw
t_ns cl
t_link gw eth0 198.18.0.1/24 cl eth0 198.18.0.2/24
gw_pub=$(t_genkey gw)
cl_pub=$(t_genkey cl)
t_start_xdpwgd gw wg0 --attach eth0 --xdp-mode generic || t_bail "xdpwgd did not start"
GW=$T_PID
# the peer's endpoint is an address nobody answers on
t_ok "gateway configured" t_wg "$GW" set wg0 private-key "$T_DIR/gw.key" listen-port 51820 \
	peer "$cl_pub" allowed-ips 192.0.2.2/32 endpoint 198.18.0.2:51820 persistent-keepalive 5
t_in gw ip link set wg0 mtu 1500 up
t_in gw ip link set eth0 txqueuelen 10

doctor() { t_at "$GW" "$CTL" doctor "$@"; }
OUT=$(doctor wg0)
RC=$?
t_diag "$OUT"
t_is "$RC" 2 "findings: exit status 2"
t_like "$OUT" $'WARN  xdp +eth0: generic XDP[^\n]*\n +-> [^\n]*native' "generic XDP named, with what to do"
t_like "$OUT" $'WARN  mtu +wg0 MTU 1500 \\+ 80 [^\n]*> eth0 MTU 1500\n +-> [^\n]*1420' \
	"the MTU that does not fit the uplink, with the MTU to set"
t_like "$OUT" $'WARN  txqueuelen +eth0 txqueuelen 10 [^\n]*\n +-> [^\n]*txqueuelen 1000' \
	"the short transmit queue, with the command"
t_like "$OUT" "WARN  handshakes +peer ${cl_pub//+/\\+}: no handshake yet" \
	"the peer that should be connected and is not"
t_like "$OUT" $'\n[0-9]+ findings\n?$' "a count of findings at the end"

# put three of them right: the finding goes, an "ok" line takes its place
t_in gw ip link set wg0 mtu 1420
t_in gw ip link set eth0 txqueuelen 1000
t_ok "the silent peer removed" t_wg "$GW" set wg0 peer "$cl_pub" remove
OUT=$(doctor wg0)
t_diag "$OUT"
t_like "$OUT" $'ok    mtu +wg0 1420 fits eth0 1500' "MTU: ok once it fits"
t_like "$OUT" $'ok    txqueuelen +eth0 1000' "txqueuelen: ok at 1000"
t_like "$OUT" $'ok    handshakes' "handshakes: ok without the silent peer"
t_ok "generic XDP is still a finding" grep -q '^WARN  xdp' <<<"$OUT"

# native XDP (a second daemon on another uplink would be a test of its own): restart natively
t_stop "$GW"
t_start_xdpwgd gw wg0 --attach eth0 || t_bail "xdpwgd (native) did not start"
GW=$T_PID
t_ok "gateway configured again" t_wg "$GW" set wg0 private-key "$T_DIR/gw.key" listen-port 51820
t_in gw ip link set wg0 mtu 1420 up
OUT=$(doctor wg0)
t_diag "$OUT"
t_like "$OUT" $'ok    xdp +eth0: native XDP' "native XDP: ok"

ERR=$(doctor nosuch0 2>&1)
t_is "$?" 1 "no daemon on the interface: exit status 1"
t_like "$ERR" "nosuch0" "... and the message names it"
ERR=$(doctor 2>&1)
t_is "$?" 1 "no interface given: exit status 1"
t_like "$ERR" "Usage: xdpwgctl doctor <interface>" "... with the usage"
t_done
