# TAP helpers for vmtest/tests/*.sh (bash). Source it, call plan N (or skip_all), then
# check/ok/not_ok/skip; finish with tap_done (exit status 1 if anything failed).
# Every command checked is bounded by its own timeout; logs of failures become TAP comments.
umask 077
tap_n=0
tap_fail=0
tap_log=$(mktemp "${TMPDIR:-/tmp}/tap.XXXXXX")
plan() { echo "1..$1"; }
diag() { echo "# $*"; }
ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
not_ok() { tap_n=$((tap_n + 1)); tap_fail=$((tap_fail + 1)); echo "not ok $tap_n - $*"; }
skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1 # SKIP ${2:-}"; }
skip_all() { echo "1..0 # SKIP $*"; rm -f "$tap_log"; exit 0; }
bail() { echo "Bail out! $*"; exit 255; }
# check DESCRIPTION COMMAND...: ok when COMMAND (a program or a shell function, run in a
# subshell) succeeds within TAP_TIMEOUT seconds (default 30). The watchdog is a separate
# timeout(1) + tail --pid process that ends by itself with the command: bash children are never
# killed mid-fork (a child killed before it execs can run the parent's traps).
check() {
	local d=$1 pid wd rc=0 wrc=0
	shift
	("$@") >"$tap_log" 2>&1 </dev/null &
	pid=$!
	timeout "${TAP_TIMEOUT:-30}" tail --pid="$pid" -s 0.1 -f /dev/null >/dev/null 2>&1 </dev/null &
	wd=$!
	wait "$wd" || wrc=$?
	if [ "$wrc" = 124 ]; then
		echo "timed out after ${TAP_TIMEOUT:-30} s" >>"$tap_log"
		kill -TERM "$pid" 2>/dev/null
	fi
	wait "$pid" || rc=$?
	if [ $rc = 0 ]; then
		ok "$d"
	else
		not_ok "$d"
		diag "command: $* (exit $rc)"
		sed 's/^/#   /' "$tap_log" | tail -20
	fi
}
# wait_for TRIES COMMAND...: retries every 0.1 s, at most TRIES times.
wait_for() {
	local n=$1 i=0
	shift
	while [ "$i" -lt "$n" ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
# on_exit FUNC: run FUNC when the test exits (also on failure or signal), in the test's own
# shell only: children forked by bash (e.g. for `sleep &`) that are killed before they exec can
# otherwise run the parent's EXIT trap and tear the test's namespaces down early.
on_exit() {
	trap "[ \"\$BASHPID\" = $$ ] && $1" EXIT
	trap "exit 143" TERM
	trap "exit 130" INT
}
require_root() { [ "$(id -u)" = 0 ] || skip_all "needs root"; }
require_cmd() {
	local c
	for c in "$@"; do command -v "$c" >/dev/null 2>&1 || skip_all "$c not installed"; done
}
tap_done() {
	rm -f "$tap_log"
	[ "$tap_fail" = 0 ]
}
