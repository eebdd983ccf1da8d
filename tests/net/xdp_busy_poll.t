#!/usr/bin/env bash
# xdpwgd --attach eth0 --busy-poll: the AF_XDP worker spins instead of sleeping in poll().
# Against a wireguard-go client: the log says how many cores it keeps busy, the worker thread is
# on its CPU, traffic passes both ways (pings, IPv4 and IPv6 inner, a TCP transfer each way),
# and SIGTERM still stops it promptly, with status 0, the program detached and its pins gone.
# One RX queue, so that one core spins and the other stays for everyone else on a 2-core machine;
# --worker-cpus puts that worker on the last CPU, and the test checks it is pinned there.
#
# The gateway runs inside a placeholder's mount namespace (t_sandbox), so its bpffs pins can
# be looked at after it exited.
. "$(dirname "$0")/lib.sh"
t_require_root
t_require_cmd wireguard-go wg socat nsenter
t_require_xdpwgd
PINS=/sys/fs/bpf/xdpwg/wg0
WCPU=$(($(nproc --all) - 1))

t_ns gw
t_ns cl
GWNS=$(t_nsname gw)
t_link gw eth0 198.18.0.1/24 cl eth0 198.18.0.2/24
gw_pub=$(t_genkey gw)
cl_pub=$(t_genkey cl)
GWLOG=$T_DIR/xdpwgd-gw.log

t_sandbox gw || t_bail "no sandbox"
SB=$T_PID

gw_start()
{
	nsenter -t "$SB" -m -n "$XDPWG_BUILD/xdpwgd" -f --attach eth0 --busy-poll \
		--worker-cpus "$WCPU" wg0 \
		>>"$GWLOG" 2>&1 &
	GW=$!
	t_track "$GW"
	t_wait 15 t_wg "$SB" show wg0 listen-port || return 1
	t_wg "$SB" set wg0 private-key "$T_DIR/gw.key" listen-port 51820 \
		peer "$cl_pub" allowed-ips 192.0.2.2/32,2001:db8:1::2/128 || return 1
	ip -n "$GWNS" addr add 192.0.2.1/24 dev wg0 &&
		ip -n "$GWNS" addr add 2001:db8:1::1/64 dev wg0 nodad &&
		ip -n "$GWNS" link set wg0 up
}
t_ok "xdpwgd starts with --attach eth0 --busy-poll --worker-cpus $WCPU" gw_start || t_bail "gateway did not start"
t_like "$(cat "$GWLOG")" "workers busy-poll: 1 core kept busy" \
	"the log says how many cores the workers keep busy"
t_like "$(ip -n "$GWNS" link show eth0)" "xdp" "an XDP program on eth0"

t_ok "wireguard-go client started and configured" t_wggo_client cl "$gw_pub" ||
	t_bail "wireguard-go client did not come up"
CL=$T_PID

t_ok "client pings the gateway through the tunnel" t_wait 10 t_in cl ping -c1 -W1 192.0.2.1
t_ok "gateway pings the client" t_in gw ping -c 5 -i 0.2 -W2 192.0.2.2
t_ok "client pings the gateway (IPv6 inner)" t_wait 5 t_in cl ping -6 -c1 -W1 2001:db8:1::1
t_ok "gateway pings the client (IPv6 inner)" t_in gw ping -6 -c 3 -i 0.2 -W2 2001:db8:1::2

# The worker thread (named xdpwg-wk0) exists; its state is R while it spins, but a scheduler
# snapshot proves nothing, so only say what it was.
wk=$(grep -l '^xdpwg-wk0$' /proc/"$GW"/task/*/comm 2>/dev/null | head -n1)
t_ok "the worker thread xdpwg-wk0 runs" test -n "$wk"
t_is "$(awk '/^Cpus_allowed_list:/ { print $2 }' "${wk%/comm}/status" 2>/dev/null)" "$WCPU" \
	"... pinned to CPU $WCPU, as --worker-cpus asked"
[ -n "$wk" ] && t_diag "worker state: $(awk '{ print $3 }' "${wk%/comm}/stat" 2>/dev/null)"

head -c 2000000 /dev/urandom >"$T_DIR/blob"
t_ok "TCP 2 MB client -> gateway intact" t_tcp_transfer cl gw 192.0.2.1 5001 "$T_DIR/blob"
t_ok "TCP 2 MB gateway -> client intact" t_tcp_transfer gw cl 192.0.2.2 5002 "$T_DIR/blob"

t_ok "the pins exist while it runs" t_at "$SB" test -e "$PINS/peers"
t_stop "$GW" 5
t_result $? "SIGTERM stops the busy-polling daemon within 5 s"
t_is "${T_STOP_RC:-}" 0 "... with status 0"
t_ok "... the program is detached" sh -c "! ip -n $GWNS link show eth0 | grep -q xdp"
t_ok "... and its pins are removed" t_at "$SB" test ! -e "$PINS"
t_ok "... and its TUN is gone" sh -c "! ip -n $GWNS link show wg0 2>/dev/null"
t_like "$(tail -n 3 "$GWLOG")" "wg0: stopped" "... and it says so"

t_done
