#!/usr/bin/env bash
# xdpwgd's life cycle as wg-quick and operators see it: the command line, daemonizing (the parent
# returns only once the TUN and the socket exist, non-zero when the daemon cannot start), the
# socket's modes, refusing a second daemon, replacing a stale socket, leaving when the TUN or the
# socket is removed, and a configuration socket that survives garbage.
. "$(dirname "$0")/lib.sh"

t_require_root
t_require_cmd socat nsenter unshare wg
t_require_xdpwgd
D=$XDPWG_BUILD/xdpwgd
# Daemonized instances lose their stderr; keep what a SAN=1 build would report.
t_sanitizer_to_files

# --- command line (no namespace needed) ---
out=$("$D" --help 2>&1)
t_is "$?" 0 "--help exits 0"
t_like "$out" "Usage: xdpwgd" "--help prints the usage"
t_like "$("$D" --version)" "^xdpwgd [0-9]" "--version"
"$D" >/dev/null 2>&1
t_is "$?" 1 "no interface name: exit 1"
out=$("$D" -f 'a/b' 2>&1)
t_like "$?:$out" "^1:.*invalid interface name" "an interface name with a slash is refused"
out=$("$D" -f --attach nonexistent1 wgx 2>&1)
t_like "$?:$out" "^1:.*nonexistent1: no such interface" "--attach of a missing interface is refused, clearly"
out=$("$D" -f --attach lo --attach lo --attach lo --attach lo --attach lo wgx 2>&1)
t_like "$?:$out" "^1:xdpwgd: at most 4 --attach interfaces" \
	"a fifth --attach is refused at once, not when the XDP back-end starts"
out=$("$D" -f --xdp-mode generic wgx 2>&1)
t_like "$?:$out" "^1:.*--xdp-mode needs --attach" "--xdp-mode without --attach is refused"
out=$("$D" -f --busy-poll wgx 2>&1)
t_like "$?:$out" "^1:xdpwgd: --busy-poll needs --attach" \
	"--busy-poll without --attach (socket mode) is refused"
t_is "$(wc -l <<<"$out")" 1 "... with one line of error"
t_like "$("$D" --help)" "--busy-poll .*needs" "--help documents --busy-poll"
for bad in x 1, 1-0 -1 99999 1-x; do
	out=$("$D" -f --attach lo --worker-cpus "$bad" wgx 2>&1)
	t_like "$?:$out" "^1:xdpwgd: --worker-cpus '$bad': (not a CPU list|range .* runs backwards|no CPU 99999)" \
		"--worker-cpus '$bad' is refused, naming the list"
	t_is "$(wc -l <<<"$out")" 1 "... with one line of error"
done
out=$("$D" -f --worker-cpus 0 wgx 2>&1)
t_like "$?:$out" "^1:xdpwgd: --worker-cpus needs --attach" "--worker-cpus without --attach is refused"
t_like "$("$D" --help)" "--worker-cpus LIST" "--help documents --worker-cpus"
out=$("$D" -f --attach lo --xdp-mode turbo wgx 2>&1)
t_like "$?:$out" "^1:.*native or generic" "--xdp-mode is validated"
for bad in 1279 65456 1400x "" -1; do
	out=$("$D" -f --mtu "$bad" wgx 2>&1)
	t_like "$?:$out" "^1:xdpwgd: --mtu '$bad': not an MTU \\(1280-65455" "--mtu '$bad' is refused, naming it"
done
out=$(XDPWG_MTU=99 "$D" -f wgx 2>&1)
t_like "$?:$out" "^1:xdpwgd: XDPWG_MTU '99': not an MTU" "XDPWG_MTU is validated too"
t_like "$("$D" --help)" "--mtu N" "--help documents --mtu"
for bad in 49 3600001 10x "" -5; do
	out=$("$D" -f --path-probe "$bad" wgx 2>&1)
	t_like "$?:$out" "^1:xdpwgd: --path-probe $bad: not a number of milliseconds in 50\\.\\.3600000" \
		"--path-probe '$bad' is refused, naming it"
done
out=$(XDPWG_PATH_PROBE_MS=7 "$D" -f wgx 2>&1)
t_like "$?:$out" "^1:xdpwgd: XDPWG_PATH_PROBE_MS 7: not a number" "XDPWG_PATH_PROBE_MS is validated"
for bad in "wifi,,lte" "wifi," "a,b,c,d,e" "averyveryverylongname0" "wi fi"; do
	out=$("$D" -f --uplinks "$bad" wgx 2>&1)
	t_like "$?:$out" "^1:xdpwgd: --uplinks $bad: " "--uplinks '$bad' is refused"
	t_is "$(wc -l <<<"$out")" 1 "... with one line of error"
done
out=$(XDPWG_UPLINKS=",x" "$D" -f wgx 2>&1)
t_like "$?:$out" "^1:xdpwgd: XDPWG_UPLINKS ,x: " "XDPWG_UPLINKS is validated"
t_like "$("$D" --help)" "--uplinks LIST" "--help documents --uplinks"
t_like "$("$D" --help)" "--path-probe MS" "--help documents --path-probe"
for bad in 0 253 254 255 4294967296 x -2; do
	out=$("$D" -f --cluster-table "$bad" wgx 2>&1)
	t_like "$?:$out" "^1:xdpwgd: --cluster-table $bad: " "--cluster-table '$bad' is refused"
	t_is "$(wc -l <<<"$out")" 1 "... with one line of error"
done
out=$(XDPWG_CLUSTER_TABLE=254 "$D" -f wgx 2>&1)
t_like "$?:$out" "^1:xdpwgd: XDPWG_CLUSTER_TABLE 254: a table of the kernel's own" \
	"XDPWG_CLUSTER_TABLE is validated"
t_like "$("$D" --help)" "--cluster-table N" "--help documents --cluster-table"
# --cluster / --etcd (daemon/cluster.c): each needs the other, both validated before start
out=$("$D" -f --cluster grid wgx 2>&1)
t_like "$?:$out" "^1:xdpwgd: --cluster needs --etcd" "--cluster without --etcd is refused"
out=$("$D" -f --etcd http://198.18.3.1:2379 wgx 2>&1)
t_like "$?:$out" "^1:xdpwgd: --etcd needs --cluster" "--etcd without --cluster is refused"
for bad in "Grid" "-grid" "a/b" ""; do
	out=$("$D" -f --cluster "$bad" --etcd http://198.18.3.1:2379 wgx 2>&1)
	t_like "$?:$out" "^1:xdpwgd: --cluster \"$bad\": a cluster name" "--cluster '$bad' is refused, naming it"
done
for bad in "198.18.3.1:2379" "http://" "http://a:1,,http://b:2" "http://a:1," "ftp://a:1" \
	"http://a:1/v3"; do
	out=$("$D" -f --cluster grid --etcd "$bad" wgx 2>&1)
	t_like "$?:$out" "^1:xdpwgd: --etcd $bad: " "--etcd '$bad' is refused"
	t_is "$(wc -l <<<"$out")" 1 "... with one line of error"
done
out=$(XDPWG_CLUSTER=grid XDPWG_ETCD=http://a:1 XDPWG_UNDERLAY=gw1 "$D" -f wgx 2>&1)
t_like "$?:$out" "^1:xdpwgd: XDPWG_UNDERLAY gw1: not a numeric" "XDPWG_UNDERLAY is validated"
out=$(XDPWG_CLUSTER=Bad XDPWG_ETCD=http://a:1 "$D" -f wgx 2>&1)
t_like "$?:$out" "^1:xdpwgd: XDPWG_CLUSTER \"Bad\"" "XDPWG_CLUSTER is validated"
t_like "$("$D" --help)" "--cluster NAME" "--help documents --cluster"
t_like "$("$D" --help)" "--etcd URL" "--help documents --etcd"
out=$(XDPWG_ATTACH=nonexistent0 "$D" -f wgx 2>&1)
t_like "$?:$out" "^1:.*nonexistent0: no such interface" "XDPWG_ATTACH is read and validated"
# a gateway cluster's options (docs/cluster.md): one line naming the option and the fault
for bad in 0 64 x 1x -3; do
	out=$("$D" -f --gateway-id "$bad" wgx 2>&1)
	t_like "$?:$out" "^1:xdpwgd: --gateway-id '$bad': not a gateway id \\(1\\.\\.63\\)$" \
		"--gateway-id '$bad' is refused, naming it"
done
out=$("$D" -f --cluster-gateway 2=198.18.0.2 wgx 2>&1)
t_like "$?:$out" "^1:xdpwgd: --cluster-gateway needs --gateway-id" \
	"--cluster-gateway without --gateway-id is refused"
for bad in 2 =198.18.0.2 64=198.18.0.2 2=foo 2=198.18.0.2:51820 2=127.0.0.1 2=0.0.0.0 2=224.0.0.5 \
	2=fe80::2; do
	out=$("$D" -f --gateway-id 1 --cluster-gateway "$bad" wgx 2>&1)
	t_like "$?:$out" "^1:xdpwgd: --cluster-gateway '$bad': " "--cluster-gateway '$bad' is refused"
	t_is "$(wc -l <<<"$out")" 1 "... with one line of error"
done
out=$("$D" -f --gateway-id 1 --cluster-gateway 2=198.18.0.2 --cluster-gateway 2=198.18.0.3 wgx 2>&1)
t_like "$?:$out" "^1:.*gateway 2 is listed twice" "a member listed twice is refused"
out=$("$D" -f --gateway-id 1 --cluster-gateway 2=198.18.0.2 --cluster-gateway 3=198.18.0.2 wgx 2>&1)
t_like "$?:$out" "^1:.*198.18.0.2 is gateway 2's address too" "two members at one address are refused"
out=$("$D" -f --gateway-id 1 --cluster-gateway 2=198.18.0.2 --cluster-gateway 3=2001:db8::3 wgx 2>&1)
t_like "$?:$out" "^1:.*one address family for the whole cluster" "a cluster of two families is refused"
out=$(XDPWG_GATEWAY_ID=99 "$D" -f wgx 2>&1)
t_like "$?:$out" "^1:xdpwgd: XDPWG_GATEWAY_ID '99': not a gateway id" "XDPWG_GATEWAY_ID is validated"
out=$(XDPWG_CLUSTER_GATEWAYS="1=198.18.0.1,,2=198.18.0.2" "$D" -f --gateway-id 1 wgx 2>&1)
t_like "$?:$out" "^1:xdpwgd: XDPWG_CLUSTER_GATEWAYS '.*': an empty item" \
	"XDPWG_CLUSTER_GATEWAYS is validated"
out=$(XDPWG_CLUSTER_GATEWAYS="2=198.18.0.2" "$D" -f wgx 2>&1)
t_like "$?:$out" "^1:xdpwgd: --cluster-gateway needs --gateway-id" \
	"XDPWG_CLUSTER_GATEWAYS without an id is refused"
t_like "$("$D" --help)" "--gateway-id N" "--help documents --gateway-id"
t_like "$("$D" --help)" "--cluster-gateway ID=ADDR" "--help documents --cluster-gateway"

# --- daemonized, in a namespace with a private /run ---
t_ns a
t_sandbox a || t_bail "no sandbox"
S=$T_PID
# pid of the xdpwgd serving TUN (there is one per TUN here)
daemon_pid()
{
	local p
	for p in $(ip netns pids "$(t_nsname a)"); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -qE "xdpwgd( .*)? $1 ?$" && echo "$p"
	done
}

t_at "$S" "$D" wg0 >>"$T_DIR/log" 2>&1
t_is "$?" 0 "daemonized start exits 0"
# No waiting: the parent returned only once everything was ready.
t_ok "the socket exists when the parent returns" t_at "$S" test -S /run/wireguard/wg0.sock
t_ok "the TUN exists when the parent returns" t_in a ip link show wg0
t_is "$(t_at "$S" stat -c %a /run/wireguard)" 755 "socket directory mode 0755"
t_is "$(t_at "$S" stat -c %A /run/wireguard/wg0.sock)" srwx------ "socket mode 0700"
t_like "$(t_in a ip -d link show wg0)" "mtu 1420 .*state DOWN" "TUN: MTU 1420, left down"
t_like "$(t_in a ip -d link show wg0)" "tun type tun pi off .*multi_queue" "TUN: no PI, multi-queue"
P=$(daemon_pid wg0)
t_ok "the daemon runs in the background" test -n "$P"
t_like "$(t_at "$S" wg show wg0 listen-port)" "^[1-9][0-9]*$" "a random listen port before any set"

t_at "$S" "$D" wg0 >>"$T_DIR/log" 2>&1
t_is "$?" 1 "a second daemon for the same interface fails"
t_ok "... and the first one still answers" t_at "$S" wg show wg0

reply=$(printf 'bogus=1\n\n' | t_at "$S" socat -t 2 - UNIX-CONNECT:/run/wireguard/wg0.sock)
t_is "$reply" "" "an unknown operation closes the connection without a reply"
printf 'set=1\nlisten_port=' | t_at "$S" socat -t 1 - UNIX-CONNECT:/run/wireguard/wg0.sock >/dev/null
reply=$(printf 'get=1\n\n' | t_at "$S" socat -t 2 - UNIX-CONNECT:/run/wireguard/wg0.sock)
t_like "$reply" "errno=0" "after garbage and a truncated request the socket still answers"
reply=$(printf 'get=1\nx\n' | t_at "$S" socat -t 2 - UNIX-CONNECT:/run/wireguard/wg0.sock)
t_is "$reply" "errno=-22" "get=1 followed by anything but a blank line: EINVAL, as wireguard-go"

t_in a ip link del wg0
t_ok "deleting the TUN (wg-quick down) stops the daemon" t_wait 5 sh -c "! kill -0 $P"
t_ok "... which removes its socket" t_at "$S" test ! -e /run/wireguard/wg0.sock

# the TUN's MTU from the command line, and from the environment (the systemd unit's env file)
t_at "$S" "$D" --mtu 1280 wg5 >>"$T_DIR/log" 2>&1
t_like "$(t_in a ip link show wg5)" "mtu 1280 " "--mtu 1280: the TUN starts with MTU 1280"
t_in a ip link del wg5
t_wait 5 t_at "$S" test ! -e /run/wireguard/wg5.sock
t_at "$S" env XDPWG_MTU=1380 "$D" wg5 >>"$T_DIR/log" 2>&1
t_like "$(t_in a ip link show wg5)" "mtu 1380 " "XDPWG_MTU=1380: the TUN starts with MTU 1380"
t_at "$S" env XDPWG_MTU=1380 "$D" --mtu 1300 wg6 >>"$T_DIR/log" 2>&1
t_like "$(t_in a ip link show wg6)" "mtu 1300 " "--mtu wins over XDPWG_MTU"
t_in a ip link del wg5
t_in a ip link del wg6
t_wait 5 t_at "$S" test ! -e /run/wireguard/wg5.sock
t_wait 5 t_at "$S" test ! -e /run/wireguard/wg6.sock

t_at "$S" "$D" wg1 >>"$T_DIR/log" 2>&1
P=$(daemon_pid wg1)
t_at "$S" rm /run/wireguard/wg1.sock
t_ok "removing the socket stops the daemon" t_wait 5 sh -c "! kill -0 ${P:-0}"
t_ok "... which removes its TUN" t_wait 5 sh -c "! ip -n $(t_nsname a) link show wg1 2>/dev/null"

# A socket file nobody listens on (a daemon killed with SIGKILL) is replaced.
t_at "$S" "$D" wg2 >>"$T_DIR/log" 2>&1
P=$(daemon_pid wg2)
kill -KILL "$P"
t_wait 5 sh -c "! kill -0 $P"
t_ok "SIGKILL leaves a stale socket" t_at "$S" test -S /run/wireguard/wg2.sock
t_wait 5 sh -c "! ip -n $(t_nsname a) link show wg2 2>/dev/null"
t_at "$S" "$D" wg2 >>"$T_DIR/log" 2>&1
t_is "$?" 0 "a stale socket is replaced"
t_ok "... by a live one" t_at "$S" wg show wg2
# A large request arrives in many reads: 2000 peers through one set=1.
{
	echo "[Interface]"
	echo "PrivateKey = $(wg genkey)"
	perl -MMIME::Base64 -e 'open(R, "<", "/dev/urandom") or die; for my $i (1 .. 2000) {
		read(R, my $k, 32) == 32 or die; printf("[Peer]\nPublicKey = %s\nAllowedIPs = 2001:db8:%x::/48\n",
		encode_base64($k, ""), $i) }'
} >"$T_DIR/big.conf"
t_ok "setconf with 2000 peers" t_at "$S" wg setconf wg2 "$T_DIR/big.conf"
t_is "$(t_at "$S" wg show wg2 peers | wc -l)" 2000 "... all 2000 are there"
t_ok "setconf with no peers removes them" t_at "$S" wg setconf wg2 /dev/null
t_is "$(t_at "$S" wg show wg2 peers | wc -l)" 0 "... all gone"
P=$(daemon_pid wg2)
kill -TERM "$P"
t_ok "SIGTERM stops the daemon" t_wait 5 sh -c "! kill -0 $P"
t_ok "... and removes its socket" t_at "$S" test ! -e /run/wireguard/wg2.sock
t_ok "... and its TUN" sh -c "! ip -n $(t_nsname a) link show wg2 2>/dev/null"

# Something that is not a socket is never removed.
t_at "$S" touch /run/wireguard/wg3.sock
t_at "$S" "$D" wg3 >>"$T_DIR/log" 2>&1
t_is "$?" 1 "a non-socket file in the socket's place: start fails"
t_ok "... and the file is left alone" t_at "$S" test -f /run/wireguard/wg3.sock
t_ok "... and no TUN is left behind" sh -c "! ip -n $(t_nsname a) link show wg3 2>/dev/null"

# An interface name taken by another kind of device.
t_in a ip link add wg4 type veth peer name wg4p
t_at "$S" "$D" wg4 >>"$T_DIR/log" 2>&1
t_is "$?" 1 "an interface name taken by a veth: start fails"
t_ok "... and no socket is left behind" t_at "$S" test ! -e /run/wireguard/wg4.sock

t_no_sanitizer_reports
t_done
