#!/usr/bin/env bash
# vmtest/suite.sh — the default command of vmtest/run (and so of `make vmtest`): inside the VM,
# prove over the unit tests (build/tests/unit/), the BPF tests (build/tests/bpf/), the namespace
# tests (tests/net/*.t) and the VM tests (vmtest/tests/*.sh). What does not exist yet is skipped.
# Nothing is compiled here: `make vmtest` builds on the host first.
#
#   vmtest/suite.sh [--ci | --full] [--list] [TEST...]      (or VMTEST_PROFILE=ci|full)
#
# Every test file runs, in both profiles: a new tests/net/*.t or vmtest/tests/*.sh is picked up
# by its name, and no test is left out of CI. --ci (what .ci/run runs) and --full (the default,
# `make vmtest`) differ only in the name they print; the profile is kept so that CI logs say
# which one ran. TEST... (paths) runs only those, with the same per-test limits: for diagnosing
# one test in the VM.
# Each test is bounded by its entry in $timeouts below, else VMTEST_TEST_TIMEOUT (default 600 s).
# These limits only catch a hung test; the whole run is bounded by vmtest/run --timeout (.ci/run:
# CI_VM_TIMEOUT). VMTEST_TIMEOUTS="a.t=400 ..." replaces the table. --list prints the tests with
# their limits instead of running them.
set -uo pipefail
cd "$(dirname "$0")/.."
export XDPWG_BUILD=${XDPWG_BUILD:-$PWD/build}

profile=${VMTEST_PROFILE:-full}
list=0
only=()
for a in "$@"; do
	case "$a" in
	--ci) profile=ci ;;
	--full) profile=full ;;
	--list) list=1 ;;
	-*) echo "usage: vmtest/suite.sh [--ci|--full] [--list] [TEST...]" >&2; exit 2 ;;
	*) only+=("$a") ;;
	esac
done

# Per-test limits (seconds). They only catch hangs, so they allow for a shared host: under TCG
# on the 2-core host with another VM and a fuzzer running, the VM got less than one core and the
# slowest namespace tests (replay_spoof.t, interop_wggo.t, roam_multihome.t) took 220 s to more
# than 300 s (docs/testing.md, "Time"). xdpwgd_vs_kernel.sh runs its matrix twice (socket and
# attach mode).
tt=${VMTEST_TEST_TIMEOUT:-600}
timeouts=${VMTEST_TIMEOUTS:-"xdpwgd_vs_kernel.sh=900"}

tests=()
add() { local f; for f in "$@"; do
	case "$f" in *.o | *.d | *.c) continue ;; esac
	[ -f "$f" ] && [ -x "$f" ] && tests+=("$f")
done; }
if [ ${#only[@]} -gt 0 ]; then
	for f in "${only[@]}"; do
		[ -f "$f" ] && [ -x "$f" ] || { echo "vmtest/suite.sh: $f: not an executable test" >&2; exit 2; }
	done
	tests=("${only[@]}")
else
	add "$XDPWG_BUILD"/tests/unit/test_* "$XDPWG_BUILD"/tests/bpf/test_*
	add tests/net/*.t
	add vmtest/tests/*.sh
fi
if [ ${#tests[@]} -eq 0 ]; then
	echo "vmtest/suite.sh: no tests found (build with make all-tests)"
	exit 0
fi
# Each test is bounded so that one hung test cannot eat the whole VM budget; timeout(1) kills
# its process group, the test's EXIT trap cleans up. vmtest/lib/bounded looks the limit up.
export VMTEST_TIMEOUTS="$timeouts" VMTEST_TEST_TIMEOUT=$tt
if [ "$list" = 1 ]; then
	for t in "${tests[@]}"; do
		s=$tt
		for kv in $timeouts; do [ "${kv%%=*}" = "${t##*/}" ] && s=${kv#*=}; done
		echo "$t ${s}s"
	done
	exit 0
fi
echo "# profile $profile, kernel $(uname -r), $(nproc) CPUs, XDPWG_BUILD=$XDPWG_BUILD, ${tt}s per test${timeouts:+ (except $timeouts)}"
exec prove --exec "$PWD/vmtest/lib/bounded" --timer "${tests[@]}"
