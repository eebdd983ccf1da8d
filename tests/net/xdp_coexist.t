#!/usr/bin/env bash
# xdpwg beside another XDP program on one uplink, through libxdp. On a kernel with libxdp's
# multi-program dispatcher (Debian 12's 6.1, in the VM suite): xdp-filter and xdpwgd both on the
# gateway's eth0, xdp-loader status lists both, xdp-filter drops the port it is told to, xdpwgd's
# datagrams still go XDP -> AF_XDP, and stopping xdpwgd leaves xdp-filter in place. On a kernel
# without it (this host's: no freplace): xdpwgd says so in one log line when it attaches alone,
# and refuses, naming the program, when xdp-filter is there first.
. "$(dirname "$0")/lib.sh"
t_require_root
t_require_cmd xdp-filter xdp-loader wireguard-go wg socat python3
t_require_xdpwgd
CTL=$XDPWG_BUILD/xdpwgctl

t_gw_cl

# One bpffs for libxdp's dispatcher pins and xdp-filter's maps, seen by every process of the test
# (`ip netns exec` remounts /sys, and so hides /sys/fs/bpf): libxdp and xdp-tools look for it in
# LIBXDP_BPFFS.
export LIBXDP_BPFFS=$T_DIR/bpffs
mkdir -p "$LIBXDP_BPFFS"
mount -t bpf bpf "$LIBXDP_BPFFS" || t_bail "bpffs"
t_on_exit "umount -l $LIBXDP_BPFFS"

gw_pub=$(t_genkey gw)
cl_pub=$(t_genkey cl)
start_gw()
{
	t_start_xdpwgd gw wg0 --attach eth0 || return 1
	GW=$T_PID
	t_wg "$GW" set wg0 private-key "$T_DIR/gw.key" listen-port 51820 \
		peer "$cl_pub" allowed-ips 192.0.2.2/32 || return 1
	ip -n "$GWNS" addr add 192.0.2.1/24 dev wg0 2>/dev/null
	ip -n "$GWNS" link set wg0 up
}
loader_status()
{
	t_in gw xdp-loader status eth0 2>&1
}

t_ok "xdp-filter loads on eth0 (native)" t_in gw xdp-filter load -m native eth0
t_on_exit "ip netns exec $GWNS xdp-filter unload eth0 >/dev/null 2>&1"
status=$(loader_status)
t_diag "$status"

if ! grep -q xdp_dispatcher <<<"$status"; then
	# --- no dispatcher: one program per interface ---
	t_ok "no dispatcher: xdpwgd does not start beside xdp-filter" \
		t_xdpwgd_refused gw --attach eth0 wg0
	t_like "$T_OUT" "another XDP program, 'xdpfilt_[a-z_]*'" "and names the program in the way"
	t_diag "$(grep -m1 "another XDP program" <<<"$T_OUT")"
	t_like "$(loader_status)" "xdpfilt" "xdp-filter is left in place"
	t_in gw xdp-filter unload eth0
	t_ok "alone, xdpwgd starts" start_gw
	t_like "$(cat "$T_DIR/xdpwgd-gw-wg0.log")" "runs alone on the uplink, without libxdp's dispatcher" \
		"and says in one line that the uplink is its alone"
	t_like "$(loader_status)" "xdpwg_mux" "xdp-loader status shows xdpwg_mux"
	t_ok "xdpwgd stops" t_stop "$GW"
	t_done
	exit
fi

# --- the dispatcher: both on eth0 ---
t_ok "xdpwgd starts beside xdp-filter" start_gw
t_like "$(cat "$T_DIR/xdpwgd-gw-wg0.log")" "under libxdp's dispatcher beside 1 other program" \
	"it joined libxdp's dispatcher"
status=$(loader_status)
t_diag "$status"
t_like "$status" "xdpwg_rx" "xdp-loader status lists xdpwg_rx"
t_like "$status" "xdpfilt" "and xdp-filter's program"

t_ok "wireguard-go client" t_wggo_client cl "$gw_pub"
stat_of()
{
	t_at "$GW" "$CTL" stats wg0 | awk -v k="$1" '$1 == k || $1 == k":" { print $NF; exit }'
}
r0=$(stat_of redirected)
t_ok "ping through the tunnel" t_wait 20 t_in cl ping -c1 -W2 192.0.2.1
t_in cl ping -q -c 10 -i 0.05 -W 2 192.0.2.1 >/dev/null
t_ok "xdpwgd's datagrams go XDP -> AF_XDP under the dispatcher" \
	test "$(stat_of redirected)" -ge $((r0 + 10))

# xdp-filter does its job: UDP to port 9999 arrives, then is dropped once filtered
udp_recv()
{
	rm -f "$T_DIR/udp.got"
	t_in gw timeout 3 socat -u UDP4-RECV:9999,bind=198.18.0.1 "OPEN:$T_DIR/udp.got,creat" &
	local l=$!
	sleep 0.5
	t_in cl sh -c 'for i in 1 2 3 4 5; do echo x; sleep 0.1; done |
		socat -u - UDP4-SENDTO:198.18.0.1:9999' 2>/dev/null
	wait "$l" 2>/dev/null
	[ -s "$T_DIR/udp.got" ]
}
t_ok "UDP to port 9999 arrives" udp_recv
t_ok "xdp-filter told to drop UDP port 9999" t_in gw xdp-filter port -p udp 9999
udp_dropped()
{
	! udp_recv
}
t_ok "UDP to port 9999 no longer arrives: xdp-filter dropped it" udp_dropped
t_ok "the tunnel still works" t_in cl ping -c 3 -i 0.2 -W 2 192.0.2.1

t_ok "xdpwgd stops" t_stop "$GW"
status=$(loader_status)
t_unlike_status()
{
	! grep -q xdpwg_ <<<"$status"
}
t_ok "xdpwg_rx is gone from the dispatcher" t_unlike_status
t_like "$status" "xdpfilt" "xdp-filter stays"
t_done
