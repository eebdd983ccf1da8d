#!/usr/bin/env bash
# xdpwgd is not dumpable (prctl PR_SET_DUMPABLE 0, first thing in main): its memory holds the
# private key, preshared keys and session keys. The external signal: with `ulimit -c unlimited`
# and a plain-file kernel.core_pattern, SIGABRT (not SIGQUIT, which bash leaves ignored in
# background jobs) leaves a core file for a control process and none for xdpwgd. Skipped when
# core_pattern is a pipe or a path. Tried and rejected as a second signal: reading
# /proc/PID/environ as root without CAP_SYS_PTRACE succeeded for a non-dumpable process on this
# host's kernel (6.18), and opening /proc/PID/mem failed for the dumpable control too.
. "$(dirname "$0")/lib.sh"

t_require_root
t_require_cmd nsenter unshare
t_require_xdpwgd
D=$XDPWG_BUILD/xdpwgd
# a SAN=1 build would otherwise turn core dumps off itself (ASan's disable_coredump)
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}disable_coredump=0"

t_ns a

# --- core files ---
pattern=$(cat /proc/sys/kernel/core_pattern)
if [[ $pattern == \|* || $pattern == */* || $pattern == *%* ]]; then
	t_skip "kernel.core_pattern is '$pattern', not a plain file name: no core file to look for"
else
	ulimit -c unlimited
	mkdir -p "$T_DIR/ctl" "$T_DIR/d"
	(cd "$T_DIR/ctl" && exec sleep 60) &
	CTL=$!
	t_track "$CTL"
	t_wait 5 sh -c "[ \"\$(cat /proc/$CTL/comm)\" = sleep ]"
	kill -ABRT "$CTL"
	wait "$CTL" 2>/dev/null
	t_wait 5 sh -c "ls '$T_DIR/ctl' | grep -q '^$pattern'"
	t_ok "control: SIGABRT leaves a core file ('$pattern') for a dumpable process" \
		sh -c "ls '$T_DIR/ctl' | grep -q '^$pattern'"
	cd "$T_DIR/d" || t_bail "cd"
	t_start a wg0 xdpwgd-a-wg0 "$D" -f wg0 || t_bail "xdpwgd did not start"
	P=$T_PID
	cd / || t_bail "cd /"
	kill -ABRT "$P"
	t_wait 5 sh -c "! kill -0 $P"
	t_ok "xdpwgd died of SIGABRT" sh -c "! kill -0 $P"
	sleep 0.5
	t_is "$(ls "$T_DIR/d" | grep -c "^$pattern")" 0 "no core file from xdpwgd"
	rm -f "$T_DIR"/ctl/"$pattern"* "$T_DIR"/d/"$pattern"*
fi

t_done
