# shellcheck shell=bash disable=SC2034
# Shared helpers for the namespace tests (tests/net/*.t). Source it first thing:
#
#	. "$(dirname "$0")/lib.sh"
#	t_ns a; t_ns b; t_link a eth0 198.18.0.1/24 b eth0 198.18.0.2/24
#	t_start_xdpwgd a wg0 && A=$T_PID    # or t_start_wggo b wg0
#	t_wg "$A" set wg0 private-key ...    # `wg` against that daemon's private /run
#	t_ok "ping through the tunnel" t_in a ping -c1 -W2 192.0.2.2
#	t_done                             # prints the plan; exit status says whether all passed
#
# Everything a test creates is named with a per-run prefix ($T_PFX) and removed by an EXIT trap
# even when the test fails or is interrupted: started processes are killed by their pid, the
# namespaces deleted (taking their veths and TUNs along), the scratch directory removed.
#
# Daemons each get a private /run (their UAPI socket /run/wireguard/NAME.sock is otherwise global
# to the host), so every tool that talks to one must run in that daemon's mount namespace: t_wg
# and t_at do that by entering the daemon's namespaces through its pid.
#
# Environment: XDPWG_BUILD (set by `make test`; default /work/main/build) holds xdpwgd;
# T_VERBOSE=1 echoes commands and keeps daemon logs on stderr.

set -uo pipefail

XDPWG_BUILD=${XDPWG_BUILD:-/work/main/build}
export XDPWG_BUILD
# Namespace names are global: the prefix keeps parallel tests (and their leftovers) apart.
# Interface names are per namespace, so they need no prefix.
T_PFX=${T_PFX:-xw$(printf '%05d' $$)$(printf '%02x' $((RANDOM % 256)))}
T_DIR=$(mktemp -d "/tmp/${T_PFX}.XXXXXX")
T_N=0
T_FAILED=0
T_NS=()
T_PIDS=()
T_CLEANUP_HOOKS=()
T_PID=

# --- TAP ---

# t_ok DESC CMD...: runs CMD (output to the test log), "ok" when it exits 0.
t_ok()
{
	local desc=$1 rc
	shift
	"$@" >>"$T_DIR/log" 2>&1
	rc=$?
	t_result $rc "$desc"
	[ $rc -eq 0 ] || t_diag "  command: $* (exit $rc)"
	return $rc
}

# t_result RC DESC: report a result computed by the caller (0 = pass).
t_result()
{
	T_N=$((T_N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $T_N - $2"
	else
		T_FAILED=$((T_FAILED + 1))
		echo "not ok $T_N - $2"
	fi
	return "$1"
}

# t_is GOT EXPECTED DESC
t_is()
{
	if [ "$1" = "$2" ]; then
		t_result 0 "$3"
	else
		t_result 1 "$3"
		t_diag "  got:      '$1'"
		t_diag "  expected: '$2'"
		return 1
	fi
}

# t_like GOT REGEX DESC
t_like()
{
	if [[ $1 =~ $2 ]]; then
		t_result 0 "$3"
	else
		t_result 1 "$3"
		t_diag "  got:      '$1'"
		t_diag "  expected to match: '$2'"
		return 1
	fi
}

t_skip()
{
	T_N=$((T_N + 1))
	echo "ok $T_N # skip $1"
}

t_diag()
{
	local line
	while IFS= read -r line; do
		echo "# $line"
	done <<<"$*"
}

# t_skip_all REASON: the whole test cannot run here (not root, tool missing).
t_skip_all()
{
	echo "1..0 # SKIP $1"
	exit 0
}

t_bail()
{
	echo "Bail out! $*"
	exit 1
}

# Print the plan; the exit status is the number of failures (capped), as prove expects.
t_done()
{
	echo "1..$T_N"
	[ "$T_FAILED" -eq 0 ] || t_diag "$T_FAILED of $T_N failed; log: $T_DIR/log (kept)"
	[ "$T_FAILED" -eq 0 ] || T_KEEP_DIR=1
	exit $((T_FAILED > 254 ? 254 : T_FAILED))
}

# Show the last lines of the test log (and daemon logs) as TAP comments.
t_show_log()
{
	local f
	for f in "$T_DIR"/log "$T_DIR"/*.log; do
		[ -s "$f" ] || continue
		t_diag "--- tail $f"
		t_diag "$(tail -n "${1:-20}" "$f")"
	done
}

# --- requirements ---

t_require_root()
{
	[ "$(id -u)" -eq 0 ] || t_skip_all "needs root (network namespaces)"
}

t_require_cmd()
{
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || t_skip_all "needs $c"
	done
}

t_require_xdpwgd()
{
	[ -x "$XDPWG_BUILD/xdpwgd" ] || t_bail "no $XDPWG_BUILD/xdpwgd (run make)"
}

# --- waiting, bounded ---

# t_wait SECONDS CMD...: poll CMD every 0.1 s until it succeeds; 1 on timeout.
t_wait()
{
	local i n=$(($1 * 10))
	shift
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

# --- namespaces and links ---

# t_nsname SHORT: the real namespace name.
t_nsname()
{
	echo "${T_PFX}-$1"
}

# t_ns SHORT: a fresh namespace with lo up; IPv6 DAD off so addresses are usable at once.
t_ns()
{
	local ns
	ns=$(t_nsname "$1")
	ip netns add "$ns" || t_bail "ip netns add $ns"
	T_NS+=("$ns")
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
}

# t_gw_cl [QUEUES]: the XDP gateway tests' two namespaces, gw and cl (names in GWNS and CLNS),
# and the gateway's uplink: eth0 198.18.0.1/24 to the client's eth0 198.18.0.2/24, QUEUES (1)
# queues each way.
t_gw_cl()
{
	t_ns gw
	t_ns cl
	GWNS=$(t_nsname gw)
	CLNS=$(t_nsname cl)
	t_link -q "${1:-1}" gw eth0 198.18.0.1/24 cl eth0 198.18.0.2/24
}

# t_in SHORT CMD...: run CMD in the namespace (host mount namespace, host /run).
t_in()
{
	local ns
	ns=$(t_nsname "$1")
	shift
	ip netns exec "$ns" "$@"
}

# t_link [-q N] NS1 IF1 ADDR1 NS2 IF2 ADDR2 [ADDR1b ADDR2b]: a veth between two namespaces, up,
# with addresses (CIDR; "-" for none; an optional second pair, e.g. IPv6); -q: N RX and TX
# queues each way (1).
t_link()
{
	local n1 n2 q=1
	if [ "$1" = -q ]; then
		q=$2
		shift 2
	fi
	n1=$(t_nsname "$1")
	n2=$(t_nsname "$4")
	ip -n "$n1" link add "$2" numtxqueues "$q" numrxqueues "$q" type veth peer name "$5" \
		numtxqueues "$q" numrxqueues "$q" netns "$n2" || t_bail "veth $1/$2-$4/$5"
	[ "$3" = - ] || ip -n "$n1" addr add "$3" dev "$2" nodad 2>/dev/null ||
		ip -n "$n1" addr add "$3" dev "$2"
	[ "$6" = - ] || ip -n "$n2" addr add "$6" dev "$5" nodad 2>/dev/null ||
		ip -n "$n2" addr add "$6" dev "$5"
	if [ $# -ge 8 ]; then
		ip -n "$n1" addr add "$7" dev "$2" nodad 2>/dev/null || ip -n "$n1" addr add "$7" dev "$2"
		ip -n "$n2" addr add "$8" dev "$5" nodad 2>/dev/null || ip -n "$n2" addr add "$8" dev "$5"
	fi
	ip -n "$n1" link set "$2" up
	ip -n "$n2" link set "$5" up
}

# --- daemons with a private /run ---

# t_in_private SHORT CMD...: run CMD in the namespace with its own mount namespace and an empty
# tmpfs on /run (so /run/wireguard/*.sock is private). Everything CMD starts shares that /run.
t_in_private()
{
	local ns
	ns=$(t_nsname "$1")
	shift
	ip netns exec "$ns" unshare -m --propagation private \
		sh -c 'mount -t tmpfs -o mode=0755 tmpfs /run && exec "$@"' sh "$@"
}

# t_track PID: kill PID at cleanup.
t_track()
{
	T_PIDS+=("$1")
}

# t_start SHORT TUN NAME CMD...: start CMD (a foreground daemon that creates TUN) in namespace
# SHORT with a private /run, log to $T_DIR/NAME.log, wait (bounded) for its UAPI socket. Sets
# T_PID to the daemon's pid (the daemon itself: ip netns exec, unshare and sh all exec); call it
# directly, not in $(...), so that the pid is tracked for cleanup. 1 if it never came up.
t_start()
{
	local short=$1 tun=$2 name=$3 pid
	shift 3
	# A simple command, not a function call, so that $! is the process that becomes the daemon.
	ip netns exec "$(t_nsname "$short")" unshare -m --propagation private \
		sh -c 'mount -t tmpfs -o mode=0755 tmpfs /run && exec "$@"' sh "$@" \
		>>"$T_DIR/$name.log" 2>&1 &
	pid=$!
	t_track "$pid"
	T_PID=$pid
	if ! t_wait 10 t_at "$pid" test -S "/run/wireguard/$tun.sock"; then
		t_diag "$name did not create /run/wireguard/$tun.sock"
		t_diag "$(tail -n 20 "$T_DIR/$name.log" 2>/dev/null)"
		return 1
	fi
}

# t_start_xdpwgd SHORT TUN [ARGS...]: xdpwgd in the foreground (debug log with T_VERBOSE=1).
t_start_xdpwgd()
{
	local short=$1 tun=$2 v=()
	shift 2
	[ "${T_VERBOSE:-0}" = 1 ] && v=(-v)
	t_start "$short" "$tun" "xdpwgd-$short-$tun" "$XDPWG_BUILD/xdpwgd" -f "${v[@]}" "$@" "$tun"
}

# t_xdpwgd_refused SHORT ARGS...: xdpwgd -f ARGS in namespace SHORT with a private /run, for a
# start that is expected to fail: its output in T_OUT; 0 when it exited non-zero (within 20 s).
t_xdpwgd_refused()
{
	local short=$1
	shift
	T_OUT=$(ip netns exec "$(t_nsname "$short")" unshare -m --propagation private sh -c \
		'mount -t tmpfs tmpfs /run && exec "$@"' sh timeout 20 "$XDPWG_BUILD/xdpwgd" -f \
		"$@" 2>&1)
	[ $? -ne 0 ]
}

# t_start_wggo SHORT TUN: wireguard-go in the foreground.
t_start_wggo()
{
	local short=$1 tun=$2
	t_start "$short" "$tun" "wggo-$short-$tun" env LOG_LEVEL=verbose wireguard-go -f "$tun"
}

# t_tcp_transfer FROM TO ADDR PORT BLOB: send file BLOB over TCP from namespace FROM to a socat
# listener in TO at ADDR:PORT (ADDR in brackets for IPv6); true when it arrived intact.
t_tcp_transfer()
{
	local from=$1 to=$2 addr=$3 port=$4 blob=$5 listen=TCP4-LISTEN lpid
	[[ $addr == \[* ]] && listen=TCP6-LISTEN
	t_in "$to" timeout 30 socat -u "$listen:$port,reuseaddr" "OPEN:$T_DIR/recv.$port,creat,trunc" &
	lpid=$!
	t_track "$lpid"
	t_wait 5 t_in "$to" sh -c "ss -Hltn | grep -q ':$port '"
	t_in "$from" timeout 30 socat -u "OPEN:$blob" "TCP:$addr:$port,retry=20,interval=0.2" || return 1
	wait "$lpid" || return 1
	[ "$(md5sum <"$T_DIR/recv.$port" | cut -d' ' -f1)" = "$(md5sum <"$blob" | cut -d' ' -f1)" ]
}

# t_start_client IMPL ENDPOINT ALLOWED_IPS [PORT]: in namespace cl, xdpwgd (socket mode) or
# wireguard-go as a client on PORT (51821) with one peer, GW_PUB at ENDPOINT, its key
# $T_DIR/cl.key, tunnel address 192.0.2.2/24 up. Its pid in T_PID and CL.
t_start_client()
{
	if [ "$1" = xdpwgd ]; then
		t_start_xdpwgd cl wg0 || return 1
	else
		t_start_wggo cl wg0 || return 1
	fi
	CL=$T_PID
	t_wg "$CL" set wg0 private-key "$T_DIR/cl.key" listen-port "${4:-51821}" \
		peer "$GW_PUB" endpoint "$2" allowed-ips "$3" || return 1
	ip -n "$(t_nsname cl)" addr add 192.0.2.2/24 dev wg0 &&
		ip -n "$(t_nsname cl)" link set wg0 up
}

# t_wggo_client SHORT GW_PUB: wireguard-go as wg0 in namespace SHORT, the client of the XDP
# gateway tests: key $T_DIR/SHORT.key, port 51821, the gateway at 198.18.0.1:51820 for
# 192.0.2.1 and 2001:db8:1::1, tunnel addresses 192.0.2.2/24 and 2001:db8:1::2/64; T_PID its pid.
t_wggo_client()
{
	local short=$1 gw_pub=$2 ns
	ns=$(t_nsname "$short")
	t_start_wggo "$short" wg0 || return 1
	t_wg "$T_PID" set wg0 private-key "$T_DIR/$short.key" listen-port 51821 \
		peer "$gw_pub" endpoint 198.18.0.1:51820 \
		allowed-ips 192.0.2.1/32,2001:db8:1::1/128 || return 1
	ip -n "$ns" addr add 192.0.2.2/24 dev wg0 &&
		ip -n "$ns" addr add 2001:db8:1::2/64 dev wg0 nodad &&
		ip -n "$ns" link set wg0 up
}

# wg-quick starts WG_QUICK_USERSPACE_IMPLEMENTATION only when `ip link add NAME type wireguard`
# fails. Debian 12's kernel ships the wireguard module and autoloads it for that command, so on
# a stock Debian 12 machine (and in vmtest's VM) wg-quick silently sets up kernel WireGuard and
# never starts xdpwgd; this host's kernel has no loadable modules, so here it falls back.
# Do what docs/troubleshooting.md tells users: blacklist the module, which makes the link
# type's autoload fail, and unload it if it is loaded but unused. Undone at exit.
# t_kernel_wg_blocked: 0: wg-quick will fall back to xdpwgd; 1: cannot arrange that here.
t_kernel_wg_blocked()
{
	local f=/etc/modprobe.d/$T_PFX-no-wireguard.conf
	[ -e /sys/module/wireguard ] || modprobe -n -q wireguard 2>/dev/null || return 0
	echo "blacklist wireguard" >"$f" || return 1
	t_on_exit "rm -f $f"
	if [ -e /sys/module/wireguard ]; then
		rmmod wireguard || return 1
		t_on_exit "modprobe wireguard"
	fi
}

# t_sandbox SHORT: a placeholder process in namespace SHORT with a private /run; sets T_PID.
# `t_at "$T_PID" CMD` then runs CMD there, e.g. a daemon that forks into the background
# (`xdpwgd wg0`, wg-quick) whose socket must stay out of the host's /run.
t_sandbox()
{
	local pid
	ip netns exec "$(t_nsname "$1")" unshare -m --propagation private \
		sh -c 'mount -t tmpfs -o mode=0755 tmpfs /run && exec "$@"' sh sleep 600 \
		>>"$T_DIR/log" 2>&1 &
	pid=$!
	t_track "$pid"
	T_PID=$pid
	t_wait 5 sh -c "[ \"\$(cat /proc/$pid/comm)\" = sleep ]"
}

# t_at PID CMD...: run CMD inside PID's network and mount namespaces (its private /run).
t_at()
{
	local pid=$1
	shift
	nsenter -t "$pid" -m -n "$@"
}

# t_wg PID ARGS...: `wg ARGS` against the daemon PID.
t_wg()
{
	local pid=$1
	shift
	nsenter -t "$pid" -m -n wg "$@"
}

# t_uapi PID TUN: send stdin to the daemon's configuration socket, print the reply.
t_uapi()
{
	nsenter -t "$1" -m -n socat -t 2 - "UNIX-CONNECT:/run/wireguard/$2.sock"
}

# t_stop PID [SECONDS]: SIGTERM, wait (bounded), then SIGKILL. 0 if it exited on SIGTERM; its
# exit status (when PID is a child of this shell) in T_STOP_RC.
t_stop()
{
	local pid=$1 i n=$((${2:-5} * 10))
	T_STOP_RC=
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < n; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		return 1
	fi
	wait "$pid" 2>/dev/null
	T_STOP_RC=$?
	return 0
}

# t_hold PID: a process that keeps PID's mount namespace (its private /run) alive after PID
# exits, so a test can look at what PID left behind. Sets T_HOLD to a pid to pass to t_at.
t_hold()
{
	nsenter -t "$1" -m -n sleep 120 &
	T_HOLD=$!
	t_track "$T_HOLD"
	t_wait 2 sh -c "[ \"\$(readlink /proc/$T_HOLD/ns/mnt)\" = \"\$(readlink /proc/$1/ns/mnt)\" ]"
}

# t_sanitizer_to_files: from now on, sanitizer reports of everything started go to
# $T_DIR/sanitizer.PID, where t_no_sanitizer_reports finds them; for daemons that fork into the
# background and lose their stderr.
t_sanitizer_to_files()
{
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}log_path=$T_DIR/sanitizer"
	export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}log_path=$T_DIR/sanitizer"
}

# t_sanitized: true when the xdpwgd under test is a sanitizer build (make SAN=1): its memory
# figures are ASan's (shadow memory, redzones, quarantine), not the daemon's.
t_sanitized()
{
	ldd "$XDPWG_BUILD/xdpwgd" 2>/dev/null | grep -q libasan
}

# t_no_sanitizer_reports: one result: no ASan/UBSan/LSan report in any daemon log (meaningful
# with XDPWG_BUILD pointing at a `make SAN=1` build; passes trivially otherwise).
t_no_sanitizer_reports()
{
	local f bad=()
	for f in "$T_DIR"/*.log "$T_DIR"/sanitizer.*; do
		[ -e "$f" ] || continue
		grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$f" && bad+=("$f")
	done
	t_result ${#bad[@]} "no sanitizer reports in daemon logs" ||
		t_diag "$(grep -hE -A8 'Sanitizer|runtime error:' "${bad[@]}" | head -40)"
}

# --- keys ---

# t_genkey NAME: writes $T_DIR/NAME.key (private) and NAME.pub; prints the public key.
t_genkey()
{
	(umask 077 && wg genkey >"$T_DIR/$1.key")
	wg pubkey <"$T_DIR/$1.key" >"$T_DIR/$1.pub"
	cat "$T_DIR/$1.pub"
}

t_genpsk()
{
	(umask 077 && wg genpsk >"$T_DIR/$1.psk")
}

# --- cleanup ---

# t_on_exit CMD: run CMD (a string for eval) at cleanup, before processes are killed.
t_on_exit()
{
	T_CLEANUP_HOOKS+=("$1")
}

t_cleanup()
{
	local rc=$? h pid ns i
	trap - EXIT INT TERM
	for h in "${T_CLEANUP_HOOKS[@]}"; do
		eval "$h" >/dev/null 2>&1
	done
	for pid in "${T_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null
	done
	# Anything else still running in our namespaces was started by this test (daemonized
	# children, wg-quick's daemon, iperf3 servers): end those by pid too.
	for ns in "${T_NS[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -TERM "$pid" 2>/dev/null
		done
	done
	for ((i = 0; i < 30; i++)); do
		local alive=0
		for pid in "${T_PIDS[@]}"; do
			kill -0 "$pid" 2>/dev/null && alive=1
		done
		for ns in "${T_NS[@]}"; do
			[ -n "$(ip netns pids "$ns" 2>/dev/null)" ] && alive=1
		done
		[ $alive -eq 0 ] && break
		sleep 0.1
	done
	for pid in "${T_PIDS[@]}"; do
		kill -KILL "$pid" 2>/dev/null
	done
	for ns in "${T_NS[@]}"; do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	wait 2>/dev/null
	if [ "${T_KEEP_DIR:-0}" = 1 ] || [ "${T_KEEP:-0}" = 1 ]; then
		echo "# kept $T_DIR" >&2
	else
		rm -rf "$T_DIR"
	fi
	exit $rc
}
trap t_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

[ "${T_VERBOSE:-0}" = 1 ] && set -x
true
