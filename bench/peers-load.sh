#!/usr/bin/env bash
# peers-load.sh: how xdpwgd scales with configured peers. In a private namespace, per peer count
# (PEERS_COUNTS, default "1 100000"): start xdpwgd (PEERS_XDP=1: --attach eth0 on a veth),
# set a private key, load the peers with ONE setconf through the UAPI socket (build/bench/peers-load:
# keys from the library, allowed IPs 2001:db8:1::N/128), and report the apply time and the
# daemon's VmRSS (/proc/PID/status) before and after. Prints one line per count:
#   peers N apply_s S rss_mb_before A rss_mb_after B
# The throughput of one active peer with 100k configured is measured by make bench with
# BENCH_EXTRA_PEERS=100000 (bench/bench-lib.sh loads them into the gateway the same way).
. "$(dirname "$0")/bench-lib.sh"

b_require nsenter unshare wg
LOADER=$XDPWG_BUILD/bench/peers-load
[ -x "$LOADER" ] || b_die "no $LOADER (make all)"
COUNTS=${PEERS_COUNTS:-1 100000}

rss_mb() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

t_ns p
t_ns q
t_link p eth0 198.18.0.1/24 q eth0 198.18.0.2/24 || b_die "veth"
args=()
[ "${PEERS_XDP:-0}" = 1 ] && args=(--attach eth0)
(umask 077 && wg genkey >"$T_DIR/gw.key")
for n in $COUNTS; do
	[[ $n =~ ^[0-9]+$ ]] || b_die "PEERS_COUNTS: numbers"
	t_start_xdpwgd p wg0 "${args[@]}" || b_die "xdpwgd did not start"
	pid=$T_PID
	t_wg "$pid" set wg0 private-key "$T_DIR/gw.key" listen-port 51820 || b_die "wg set"
	before=$(rss_mb "$pid")
	line=$(t_at "$pid" "$LOADER" /run/wireguard/wg0.sock "$n" 2>&1) || b_die "peers-load: $line; daemon: $(tail -n 3 "$T_DIR"/*.log 2>/dev/null | tr "\n" " ")"
	after=$(rss_mb "$pid")
	shown=$(t_wg "$pid" show wg0 peers | wc -l)
	apply=$(sed -n 's/.*apply_s \([0-9.]*\).*/\1/p' <<<"$line")
	echo "peers $n apply_s $apply rss_mb_before $before rss_mb_after $after listed $shown"
	b_kill "$pid"
done
