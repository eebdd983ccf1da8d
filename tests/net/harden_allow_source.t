#!/usr/bin/env bash
# The source allowlist (xdpwg extension), set live and from a config file: xdpwgd --attach eth0
# as the gateway (198.18.0.1), a wireguard-go client from 198.18.0.2. With allow-source
# 198.51.100.0/24 the client cannot handshake and XDP's source_not_allowed counter grows;
# clearing it lets the client in. A bad CIDR refuses the whole set. Then the same without XDP
# (socket mode): the daemon enforces the list itself and counts engine.source_not_allowed.
. "$(dirname "$0")/lib.sh"
t_require_root
t_require_cmd wireguard-go wg bpftool
t_require_xdpwgd
CTL=$XDPWG_BUILD/xdpwgctl

t_ns gw
t_ns cl
t_link gw eth0 198.18.0.1/24 cl eth0 198.18.0.2/24
GWNS=$(t_nsname gw)
CLNS=$(t_nsname cl)
gw_pub=$(t_genkey gw)
cl_pub=$(t_genkey cl)

# start_gw [ARGS...]: the gateway, configured for the client; sets GW.
start_gw()
{
	t_start_xdpwgd gw wg0 "$@" || return 1
	GW=$T_PID
	t_wg "$GW" set wg0 private-key "$T_DIR/gw.key" listen-port 51820 \
		peer "$cl_pub" allowed-ips 192.0.2.2/32 || return 1
	ip -n "$GWNS" addr add 192.0.2.1/24 dev wg0
	ip -n "$GWNS" link set wg0 up
}
ctl() { t_at "$GW" "$CTL" "$@"; }
stat_of() { ctl stats wg0 2>/dev/null | awk -v k="$1" '$1 == k { print $2; exit }'; }
n_allow() { t_uapi "$GW" wg0 <<<$'get=1\n' | grep -c '^allow_source='; }

# hs_now [SECONDS]: one fresh handshake attempt from the client (its peer re-added, so no
# session is left; a ping makes it start one); 0 when the client recorded a handshake within
# SECONDS (default 2).
hs_now()
{
	local i
	t_wg "$CL" set wg0 peer "$gw_pub" remove
	t_wg "$CL" set wg0 peer "$gw_pub" endpoint 198.18.0.1:51820 allowed-ips 192.0.2.1/32
	t_in cl ping -c1 -W1 192.0.2.1 >/dev/null 2>&1 &
	for ((i = 0; i < ${1:-2} * 10; i++)); do
		t_wg "$CL" show wg0 latest-handshakes | awk '$2 > 0 { f = 1 } END { exit !f }' &&
			return 0
		sleep 0.1
	done
	return 1
}
# in_now: up to 5 attempts (bounded in time: t_wait counts polls, not seconds)
in_now()
{
	local i
	for ((i = 0; i < 5; i++)); do
		hs_now 2 && return 0
	done
	return 1
}
no_hs() { ! hs_now 3; }

t_ok "xdpwgd starts with --attach eth0" start_gw --attach eth0
t_start_wggo cl wg0 || t_bail "wireguard-go did not start"
CL=$T_PID
t_wg "$CL" set wg0 private-key "$T_DIR/cl.key" listen-port 51821
ip -n "$CLNS" addr add 192.0.2.2/24 dev wg0
ip -n "$CLNS" link set wg0 up
t_ok "without an allowlist the client gets in" in_now

t_ok "set allow-source 198.51.100.0/24" ctl set wg0 allow-source 198.51.100.0/24
t_like "$(t_uapi "$GW" wg0 <<<$'get=1\n')" "allow_source=198.51.100.0/24" \
	"the get reply carries allow_source"
t_ok "stock wg show still works with the extension keys" t_wg "$GW" show wg0
t_ok "stock wg showconf too" t_wg "$GW" showconf wg0
B=$(stat_of source_not_allowed)
t_ok "the client cannot handshake" no_hs
A=$(stat_of source_not_allowed)
t_ok "XDP source_not_allowed grew ($B -> $A)" test "${A:-0}" -gt "${B:-0}"

# a bad CIDR refuses the whole request: the port does not change either
t_ok "a bad CIDR is refused" sh -c "! nsenter -t $GW -m -n $CTL set wg0 listen-port 51999 \
	allow-source 198.51.100.0/24,203.0.113.0/33 2>$T_DIR/err"
t_like "$(cat "$T_DIR/err")" '203.0.113.0/33' "the error names the bad CIDR"
printf 'set=1\nlisten_port=51999\nallow_source=203.0.113.0/24\nallow_source=bad/8\n\n' >"$T_DIR/req"
t_like "$(t_uapi "$GW" wg0 <"$T_DIR/req")" "errno=-22" "a bad allow_source line: errno=-22"
t_like "$(t_wg "$GW" show wg0 listen-port)" '^51820$' "nothing changed: still port 51820"
t_is "$(n_allow)" 1 "nothing changed: still one allow_source"

t_ok "allow-source any clears it" ctl set wg0 allow-source any
t_is "$(n_allow)" 0 "no allow_source in the get reply"
t_ok "the client gets in again" in_now
t_ok "allow-source 198.18.0.0/24,2001:db8::/32 (the client's net)" \
	ctl set wg0 allow-source 198.18.0.0/24,2001:db8::/32
t_ok "the client gets in while listed" in_now

# from a config file, through xdpwgctl setconf (stock wg setconf would refuse the key)
cat >"$T_DIR/gw.conf" <<CONF
[Interface]
PrivateKey = $(cat "$T_DIR/gw.key")
ListenPort = 51820
AllowSource = 198.51.100.0/24, 203.0.113.0/24

[Peer]
PublicKey = $cl_pub
AllowedIPs = 192.0.2.2/32
CONF
t_ok "setconf with AllowSource" ctl setconf wg0 "$T_DIR/gw.conf"
t_like "$(ctl showconf wg0)" "AllowSource = 198.51.100.0/24, 203.0.113.0/24" \
	"showconf prints the AllowSource"
t_ok "stock wg setconf refuses a file with AllowSource" \
	sh -c "! nsenter -t $GW -m -n wg setconf wg0 $T_DIR/gw.conf 2>/dev/null"
B=$(stat_of source_not_allowed)
t_ok "the client is kept out again" no_hs
t_ok "source_not_allowed grew" test "$(stat_of source_not_allowed)" -gt "${B:-0}"
sed -i '/AllowSource/d' "$T_DIR/gw.conf"
t_ok "setconf without AllowSource clears it on xdpwgd" ctl setconf wg0 "$T_DIR/gw.conf"
t_is "$(n_allow)" 0 "no allow_source left"
t_ok "the client gets in" in_now
printf '[Interface]\nListenPort = 51821\nPrivateKey = %s\n' "$(cat "$T_DIR/cl.key")" >"$T_DIR/cl.conf"
cat >>"$T_DIR/cl.conf" <<CONF

[Peer]
PublicKey = $gw_pub
Endpoint = 198.18.0.1:51820
AllowedIPs = 192.0.2.1/32
CONF
t_ok "xdpwgctl setconf against wireguard-go sends no extension key" \
	t_at "$CL" "$CTL" setconf wg0 "$T_DIR/cl.conf"
t_stop "$GW"

# socket mode: no XDP, the daemon filters what its sockets receive
t_ok "xdpwgd starts without XDP" start_gw
t_ok "socket mode: the client gets in" in_now
t_ok "socket mode: set allow-source 198.51.100.0/24" ctl set wg0 allow-source 198.51.100.0/24
B=$(stat_of engine.source_not_allowed)
t_ok "socket mode: the client cannot handshake" no_hs
A=$(stat_of engine.source_not_allowed)
t_ok "socket mode: engine.source_not_allowed grew ($B -> $A)" test "${A:-0}" -gt "${B:-0}"
t_like "$(ctl stats wg0 2>&1 >/dev/null)" "no XDP data path attached: engine counters only" \
	"stats without XDP: engine section only, and says so"
t_ok "socket mode: allow-source \"\" clears it" ctl set wg0 allow-source ""
t_ok "socket mode: the client gets in again" in_now
t_stop "$GW"
t_done
