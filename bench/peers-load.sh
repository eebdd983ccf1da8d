#!/usr/bin/env bash
# peers-load.sh: how xdpwgd scales with configured peers. In a private namespace, per peer count
# (PEERS_COUNTS, default "1 100000"): start xdpwgd (PEERS_XDP=1: --attach eth0 on a veth),
# set a private key, load the peers through the UAPI socket (build/bench/peers-load: keys from
# the library, one allowed IP each, IPv6 2001:db8:1::N/128 and, with PEERS_V4_EVERY=K (default
# 8), every Kth peer an IPv4 /32 from 198.18.1.0 on), and report the apply time and the
# daemon's VmRSS (/proc/PID/status) before and after, and its peak (VmHWM). Prints one line per
# count:
#   peers N apply_s S rss_mb_before A rss_mb_after B hwm_mb H listed L [...]
# PEERS_BATCH=B: load in sets of B peers each (incremental `wg set`s) rather than one setconf.
# PEERS_OPS=1: then on the loaded set, also
#   - add and remove one peer 20 times (one set=1 each): median and worst ms;
#   - the time of `wg show wg0 dump`, `xdpwgctl show wg0`, `xdpwgctl showconf wg0` and
#     `xdpwgctl metrics wg0` (each with timeout 300; "fail" when it did not finish);
#   - the time of one scrape of the daemon's --metrics endpoint (curl, 127.0.0.1:9586), and,
#     while a second scrape runs, 5 adds and removals of one peer (median and worst ms: the
#     control thread stays responsive while it streams);
#   - the control thread's CPU (utime+stime of /proc/PID/task/PID/stat) over PEERS_IDLE_S (30)
#     seconds idle, in % of one core.
# The throughput of one active peer with 100k configured is measured by make bench with
# BENCH_EXTRA_PEERS=100000 (bench/bench-lib.sh loads them into the gateway the same way).
. "$(dirname "$0")/bench-lib.sh"

b_require nsenter unshare wg curl
LOADER=$XDPWG_BUILD/bench/peers-load
CTL=$XDPWG_BUILD/xdpwgctl
[ -x "$LOADER" ] || b_die "no $LOADER (make all)"
COUNTS=${PEERS_COUNTS:-1 100000}
V4_EVERY=${PEERS_V4_EVERY:-8}
IDLE_S=${PEERS_IDLE_S:-30}
[[ $V4_EVERY =~ ^[0-9]+$ && $IDLE_S =~ ^[0-9]+$ ]] || b_die "PEERS_V4_EVERY, PEERS_IDLE_S: numbers"

rss_mb() { awk -v k="^${2:-VmRSS}:" '$0 ~ k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/task/$1/stat"; }
# timed SECONDS_VAR CMD...: CMD's wall time in s (output discarded), or "fail".
timed()
{
	local t0 t1
	t0=$(date +%s.%N)
	if timeout 300 "$@" >/dev/null 2>>"$T_DIR/timed.log"; then
		t1=$(date +%s.%N)
		awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }'
	else
		echo fail
	fi
}

t_ns p
t_ns q
t_link p eth0 198.18.0.1/24 q eth0 198.18.0.2/24 || b_die "veth"
args=()
[ "${PEERS_XDP:-0}" = 1 ] && args=(--attach eth0)
[ "${PEERS_OPS:-0}" = 1 ] && args+=(--metrics 127.0.0.1:9586)
lopts=()
[ "$V4_EVERY" -gt 0 ] && lopts+=(-4 "$V4_EVERY")
[ -n "${PEERS_BATCH:-}" ] && lopts+=(-b "$PEERS_BATCH")
(umask 077 && wg genkey >"$T_DIR/gw.key")
for n in $COUNTS; do
	[[ $n =~ ^[0-9]+$ ]] || b_die "PEERS_COUNTS: numbers"
	t_start_xdpwgd p wg0 "${args[@]}" || b_die "xdpwgd did not start"
	pid=$T_PID
	t_wg "$pid" set wg0 private-key "$T_DIR/gw.key" listen-port 51820 || b_die "wg set"
	before=$(rss_mb "$pid")
	line=$(t_at "$pid" "$LOADER" "${lopts[@]}" /run/wireguard/wg0.sock "$n" 2>&1) ||
		b_die "peers-load: $line; daemon: $(tail -n 3 "$T_DIR"/*.log 2>/dev/null | tr "\n" " ")"
	after=$(rss_mb "$pid")
	hwm=$(rss_mb "$pid" VmHWM)
	shown=$(t_wg "$pid" show wg0 peers | wc -l)
	apply=$(sed -n 's/.*apply_s \([0-9.]*\).*/\1/p' <<<"$line")
	out="peers $n apply_s $apply rss_mb_before $before rss_mb_after $after hwm_mb $hwm listed $shown"
	[ -n "${PEERS_BATCH:-}" ] && out+=" batch $PEERS_BATCH"
	if [ "${PEERS_OPS:-0}" = 1 ]; then
		ops=$(t_at "$pid" "$LOADER" -g -o 20 "${lopts[@]}" /run/wireguard/wg0.sock 1 2>&1) ||
			b_die "peers-load -o: $ops"
		out+=" add_ms $(sed -n 's/.*add_ms_median \([0-9.]*\) add_ms_max \([0-9.]*\).*/\1 (max \2)/p' <<<"$ops")"
		out+=" remove_ms $(sed -n 's/.*remove_ms_median \([0-9.]*\) remove_ms_max \([0-9.]*\).*/\1 (max \2)/p' <<<"$ops")"
		out+=" uapi_get_s $(sed -n 's/.*get_s \([0-9.]*\).*/\1/p' <<<"$ops")"
		out+=" wg_dump_s $(timed nsenter -t "$pid" -m -n wg show wg0 dump)"
		out+=" ctl_show_s $(timed nsenter -t "$pid" -m -n "$CTL" show wg0)"
		out+=" ctl_showconf_s $(timed nsenter -t "$pid" -m -n "$CTL" showconf wg0)"
		out+=" metrics_s $(timed nsenter -t "$pid" -m -n "$CTL" metrics wg0)"
		out+=" metrics_http_s $(timed nsenter -t "$pid" -n curl -sSf -o /dev/null \
			http://127.0.0.1:9586/metrics)"
		nsenter -t "$pid" -n curl -sSf -o /dev/null http://127.0.0.1:9586/metrics &
		scrape=$!
		sleep 0.2
		ops=$(t_at "$pid" "$LOADER" -o 5 "${lopts[@]}" /run/wireguard/wg0.sock 1 2>&1) ||
			b_die "peers-load -o during a scrape: $ops"
		wait "$scrape" || b_die "the second scrape failed"
		out+=" add_ms_during_scrape $(sed -n 's/.*add_ms_median \([0-9.]*\) add_ms_max \([0-9.]*\).*/\1 (max \2)/p' <<<"$ops")"
		out+=" hwm_mb_after_show $(rss_mb "$pid" VmHWM)"
		c0=$(cpu_ticks "$pid")
		sleep "$IDLE_S"
		c1=$(cpu_ticks "$pid")
		hz=$(getconf CLK_TCK)
		out+=" idle_cpu_pct $(awk -v a="$c0" -v b="$c1" -v hz="$hz" -v s="$IDLE_S" \
			'BEGIN { printf "%.2f", (b - a) * 100 / hz / s }')"
	fi
	echo "$out"
	b_kill "$pid"
done
