# shellcheck shell=bash
# Shared topology and daemon helpers for the benchmarks (bench/bench.sh, bench/bench-roam.sh).
# Source it; it sources tests/net/lib.sh for namespaces, private /run daemons and the EXIT trap
# that kills every process started here and deletes the namespaces.
#
#   gateway ns "gw"  eth0 198.18.0.1/24 ------ rt "gw" 198.18.0.2/24      router ns "rt"
#   client  ns "cl"  wifi 198.51.100.2/24 ---- rt "wifi" 198.51.100.1/24  (default, metric 100)
#                    lte  203.0.113.2/24 ----- rt "lte"  203.0.113.1/24   (default, metric 200)
#   tunnel: wg0 192.0.2.1/24 2001:db8::1/64 (gateway), 192.0.2.2/24 2001:db8::2/64 (client)
#
# Captures belong on the router's end of a link ("gw" in rt): frames that XDP redirects to
# AF_XDP never reach a tap on the gateway's eth0.
#
# Environment:
#   XDPWG_BUILD     where xdpwgd lives (make sets it; default: build/ next to this file)
#   BENCH_XDP=1     start xdpwgd with --attach eth0 when it supports it (trial start; falls back
#                   to the socket data path and says so in B_GW_MODE / the tables)
#   BENCH_CLIENT    wireguard-go (default) or "same": the client runs the gateway's IMPL too
#   BENCH_BUSY_POLL=1  the xdpwgd XDP gateway runs with --busy-poll (its AF_XDP worker spins on
#                   a core instead of sleeping); B_MODE says "(busy-poll)". Socket mode ignores it.
#   BENCH_WORKER_CPUS=LIST  the xdpwgd XDP gateway runs with --worker-cpus LIST; B_MODE says
#                   "(workers on CPU LIST)"

B_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
XDPWG_BUILD=${XDPWG_BUILD:-$B_TOP/build}
# Our own prefix, so that benchmark namespaces are told apart from the tests'.
T_PFX=${T_PFX:-xb$(printf '%05d' $$)$(printf '%02x' $((RANDOM % 256)))}
# shellcheck source=../tests/net/lib.sh
. "$B_TOP/tests/net/lib.sh"
set +x

B_PORT=51820
B_GW_PID=
B_CL_PID=
B_GW_MODE=
B_GW_IMPL=
B_CL_IMPL=
B_XDPWGD_OK=
B_XDPWGD_WHY=

b_log()
{
	printf '[%s] %s\n' "$(date +%T)" "$*" >&2
}

b_die()
{
	b_log "error: $*"
	exit 1
}

b_require()
{
	[ "$(id -u)" -eq 0 ] || b_die "needs root (network namespaces)"
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || b_die "needs $c (make deps)"
	done
}

# b_untrack PID: forget a pid that was stopped already (the cleanup must not kill a reused pid).
b_untrack()
{
	local p keep=()
	for p in "${T_PIDS[@]}"; do
		[ "$p" = "$1" ] || keep+=("$p")
	done
	T_PIDS=("${keep[@]}")
}

# b_bg NS LOG CMD...: CMD in the background in namespace NS (host /run), tracked; sets B_BG_PID.
b_bg()
{
	local ns=$1 log=$2
	shift 2
	ip netns exec "$(t_nsname "$ns")" "$@" >>"$log" 2>&1 &
	B_BG_PID=$!
	t_track "$B_BG_PID"
}

# b_kill PID: stop something b_bg started (bounded), forget it.
b_kill()
{
	[ -n "${1:-}" ] || return 0
	t_stop "$1" 3 >/dev/null 2>&1
	b_untrack "$1"
}

# --- topology ---

b_topology()
{
	t_ns gw
	t_ns rt
	t_ns cl
	t_link gw eth0 198.18.0.1/24 rt gw 198.18.0.2/24
	t_link rt wifi 198.51.100.1/24 cl wifi 198.51.100.2/24
	t_link rt lte 203.0.113.1/24 cl lte 203.0.113.2/24
	t_in rt sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
		net.ipv4.conf.default.rp_filter=0
	t_in cl sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	ip -n "$(t_nsname gw)" route add 198.51.100.0/24 via 198.18.0.2
	ip -n "$(t_nsname gw)" route add 203.0.113.0/24 via 198.18.0.2
	ip -n "$(t_nsname cl)" route add default via 198.51.100.1 dev wifi metric 100
	ip -n "$(t_nsname cl)" route add default via 203.0.113.1 dev lte metric 200
	t_wait 5 t_in cl ping -c1 -W1 198.18.0.1 || b_die "underlay: client cannot reach 198.18.0.1"
	(umask 077 && wg genkey >"$T_DIR/gw.key" && wg genkey >"$T_DIR/cl.key")
	wg pubkey <"$T_DIR/gw.key" >"$T_DIR/gw.pub"
	wg pubkey <"$T_DIR/cl.key" >"$T_DIR/cl.pub"
}

# --- daemons ---

# b_xdpwgd_usable: can build/xdpwgd run at all? Caches the answer in B_XDPWGD_OK (1/0).
b_xdpwgd_usable()
{
	if [ -z "$B_XDPWGD_OK" ]; then
		if [ -x "$XDPWG_BUILD/xdpwgd" ] && "$XDPWG_BUILD/xdpwgd" --help >/dev/null 2>&1; then
			B_XDPWGD_OK=1
		else
			B_XDPWGD_OK=0
			B_XDPWGD_WHY="no runnable $XDPWG_BUILD/xdpwgd"
		fi
	fi
	[ "$B_XDPWGD_OK" = 1 ]
}

# b_start_daemon NS IMPL [XDP]: wireguard-go or xdpwgd creating wg0 in NS with a private /run.
# Sets B_PID and B_MODE ("wireguard-go", "xdpwgd socket", "xdpwgd xdp", or "xdpwgd socket
# (xdp unavailable)"). 1 when it did not come up.
b_start_daemon()
{
	local ns=$1 impl=$2 xdp=${3:-0}
	B_PID=
	B_MODE=$impl
	case $impl in
	wireguard-go)
		t_start "$ns" wg0 "wggo-$ns" env LOG_LEVEL=error wireguard-go -f wg0 || return 1
		B_PID=$T_PID
		;;
	xdpwgd)
		b_xdpwgd_usable || return 1
		T_PID=
		if [ "$xdp" = 1 ] && [ "$ns" = gw ] && [ "${B_XDP_FAILED:-0}" = 1 ]; then
			B_MODE="xdpwgd socket (xdp unavailable)"
		elif [ "$xdp" = 1 ] && [ "$ns" = gw ]; then
			local busy=() label="xdpwgd xdp"
			if [ "${BENCH_BUSY_POLL:-0}" = 1 ]; then
				busy=(--busy-poll)
				label="xdpwgd xdp (busy-poll)"
			fi
			if [ -n "${BENCH_WORKER_CPUS:-}" ]; then
				busy+=(--worker-cpus "$BENCH_WORKER_CPUS")
				label+=" (workers on CPU $BENCH_WORKER_CPUS)"
			fi
			if "$XDPWG_BUILD/xdpwgd" --help 2>&1 | grep -q -- --attach &&
				t_start "$ns" wg0 "xdpwgd-$ns" "$XDPWG_BUILD/xdpwgd" -f --attach eth0 \
					"${busy[@]}" wg0 &&
				kill -0 "$T_PID" 2>/dev/null; then
				B_PID=$T_PID
				B_MODE=$label
				return 0
			fi
			[ -n "$T_PID" ] && b_kill "$T_PID"
			B_XDP_FAILED=1 # tried once per run: do not wait for it again
			b_log "xdpwgd --attach eth0 did not start ($(tail -n1 "$T_DIR/xdpwgd-$ns.log" 2>/dev/null)); socket mode"
			B_MODE="xdpwgd socket (xdp unavailable)"
		else
			B_MODE="xdpwgd socket"
		fi
		t_start "$ns" wg0 "xdpwgd-$ns" "$XDPWG_BUILD/xdpwgd" -f wg0 || return 1
		B_PID=$T_PID
		;;
	*) b_die "unknown IMPL $impl" ;;
	esac
}

# b_configure_gw / b_configure_cl [KEEPALIVE]: keys, peers, addresses.
b_configure_gw()
{
	t_wg "$B_GW_PID" set wg0 private-key "$T_DIR/gw.key" listen-port "$B_PORT" \
		peer "$(cat "$T_DIR/cl.pub")" allowed-ips 192.0.2.2/32,2001:db8::2/128 || return 1
	# BENCH_EXTRA_PEERS=N (xdpwgd only): N idle peers more, one setconf (bench/peers-load.c)
	if [ "${BENCH_EXTRA_PEERS:-0}" -gt 0 ] && [ "$B_GW_IMPL" = xdpwgd ]; then
		t_at "$B_GW_PID" "$XDPWG_BUILD/bench/peers-load" /run/wireguard/wg0.sock \
			"$BENCH_EXTRA_PEERS" >>"$T_DIR/peers-load.log" 2>&1 || return 1
	fi
	t_in gw ip addr add 192.0.2.1/24 dev wg0 &&
		t_in gw ip addr add 2001:db8::1/64 dev wg0 nodad &&
		t_in gw ip link set wg0 mtu 1420 up
}

b_configure_cl()
{
	local ka=${1:-0}
	t_wg "$B_CL_PID" set wg0 private-key "$T_DIR/cl.key" \
		peer "$(cat "$T_DIR/gw.pub")" allowed-ips 192.0.2.0/24,2001:db8::/64 \
		endpoint "198.18.0.1:$B_PORT" persistent-keepalive "$ka" || return 1
	t_in cl ip addr add 192.0.2.2/24 dev wg0 &&
		t_in cl ip addr add 2001:db8::2/64 dev wg0 nodad &&
		t_in cl ip link set wg0 mtu 1420 up
}

# b_up IMPL [KEEPALIVE]: gateway IMPL (XDP per BENCH_XDP), client wireguard-go (or IMPL with
# BENCH_CLIENT=same), configured, tunnel verified by a ping. Sets B_GW_PID, B_CL_PID, B_GW_MODE.
b_up()
{
	local impl=$1 ka=${2:-0} climpl=wireguard-go
	[ "${BENCH_CLIENT:-wireguard-go}" = same ] && climpl=$impl
	B_GW_IMPL=$impl
	B_CL_IMPL=$climpl
	b_start_daemon gw "$impl" "${BENCH_XDP:-0}" || {
		b_log "gateway $impl did not start: $(tail -n3 "$T_DIR"/*-gw.log 2>/dev/null | tr '\n' ' ')"
		b_down
		return 1
	}
	B_GW_PID=$B_PID
	B_GW_MODE=$B_MODE
	b_start_daemon cl "$climpl" 0 || {
		b_log "client $climpl did not start"
		b_down
		return 1
	}
	B_CL_PID=$B_PID
	if ! b_configure_gw || ! b_configure_cl "$ka"; then
		b_log "configuring the tunnel failed"
		b_down
		return 1
	fi
	if ! t_wait 10 t_in cl ping -c1 -W1 192.0.2.1; then
		b_log "no ping through the tunnel with gateway $B_GW_MODE"
		b_down
		return 1
	fi
	return 0
}

# b_down: stop both daemons (their TUNs go with them).
b_down()
{
	local p
	for p in "$B_GW_PID" "$B_CL_PID"; do
		[ -n "$p" ] || continue
		t_stop "$p" 3 >/dev/null 2>&1
		b_untrack "$p"
	done
	B_GW_PID=
	B_CL_PID=
	# a daemon killed hard leaves its TUN behind only if it was not the owner; be sure
	t_in gw ip link del wg0 2>/dev/null
	t_in cl ip link del wg0 2>/dev/null
	return 0
}

# b_cpu PID: utime+stime of PID in seconds (0 if gone).
b_cpu()
{
	local f
	f=$(cat "/proc/$1/stat" 2>/dev/null) || {
		echo 0
		return
	}
	# the comm field may hold spaces: cut after the last ')'
	f=${f##*) }
	awk -v t="$(getconf CLK_TCK)" '{ printf "%.3f\n", ($12 + $13) / t }' <<<"$f"
}

# b_pick_impls: IMPL A and B for a run. B is xdpwgd when it starts and carries a ping, else
# wireguard-go again as a placeholder (B_B_LABEL says which). Sets B_A, B_B, B_B_LABEL.
b_pick_impls()
{
	B_A=wireguard-go
	B_B=wireguard-go
	B_B_LABEL="wireguard-go (placeholder: xdpwgd not ready)"
	if [ "${BENCH_IMPL_B:-xdpwgd}" != xdpwgd ]; then
		B_B=${BENCH_IMPL_B}
		B_B_LABEL=$B_B
		return
	fi
	if b_xdpwgd_usable && b_up xdpwgd; then
		B_B=xdpwgd
		B_B_LABEL=$B_GW_MODE
		b_down
	else
		b_log "xdpwgd is not usable as gateway here (${B_XDPWGD_WHY:-did not carry a ping}); B = wireguard-go placeholder"
		b_down
	fi
}

# b_stats: read numbers (one per line) on stdin, print "median min max n" (or "- - - 0").
b_stats()
{
	sort -g | awk 'NF { v[++n] = $1 } END {
		if (n == 0) { print "- - - 0"; exit }
		m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
		printf "%.6g %.6g %.6g %d\n", m, v[1], v[n], n }'
}

# b_fmt "median min max n" (b_stats' line): "med [min-max]", "-" when there is none.
b_fmt()
{
	# shellcheck disable=SC2086
	set -- $1
	if [ "$4" = 0 ]; then echo "-"; else printf '%.3g [%.3g-%.3g]' "$1" "$2" "$3"; fi
}

# b_fmt_fixed "median min max n" DIGITS: b_fmt with DIGITS decimals, for values whose size
# varies (ms from 10 to 30,000: %.3g would print 3.01e+04).
b_fmt_fixed()
{
	local d=$2
	# shellcheck disable=SC2086
	set -- $1
	if [ "$4" = 0 ]; then echo "-"; else printf '%.*f [%.*f-%.*f]' "$d" "$1" "$d" "$2" "$d" "$3"; fi
}

# b_num V DIGITS: V with DIGITS decimals, "-" stays "-".
b_num()
{
	case $1 in
	- | "") echo "-" ;;
	*) printf '%.*f\n' "$2" "$1" ;;
	esac
}

# b_pct P: the P-th percentile (nearest rank) of numbers on stdin, or "-".
b_pct()
{
	sort -g | awk -v p="$1" 'NF { v[++n] = $1 } END {
		if (n == 0) { print "-"; exit }
		r = int((p / 100) * n + 0.999999); if (r < 1) r = 1; if (r > n) r = n
		printf "%.6g\n", v[r] }'
}

# b_ratio B A: B/A with two decimals, "-" when either is missing or A is 0.
b_ratio()
{
	awk -v b="$1" -v a="$2" 'BEGIN {
		if (a == "-" || b == "-" || a == "" || b == "" || a + 0 == 0) print "-"
		else printf "%.2f\n", b / a }'
}
