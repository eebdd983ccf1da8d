#!/usr/bin/env bash
# vmtest/suite.sh — the default command of vmtest/run (and so of `make vmtest`): inside the VM,
# prove over the unit tests (build/tests/unit/), the BPF tests (build/tests/bpf/), the namespace
# tests (tests/net/*.t) and the VM tests (vmtest/tests/*.sh). What does not exist yet is skipped.
# Nothing is compiled here: `make vmtest` builds on the host first.
set -uo pipefail
cd "$(dirname "$0")/.."
export XDPWG_BUILD=${XDPWG_BUILD:-$PWD/build}

tests=()
for f in "$XDPWG_BUILD"/tests/unit/test_* "$XDPWG_BUILD"/tests/bpf/test_* tests/net/*.t vmtest/tests/*.sh; do
	case "$f" in *.o | *.d | *.c) continue ;; esac
	[ -f "$f" ] && [ -x "$f" ] && tests+=("$f")
done
if [ ${#tests[@]} -eq 0 ]; then
	echo "vmtest/suite.sh: no tests found (build with make all-tests)"
	exit 0
fi
# Each test is bounded (VMTEST_TEST_TIMEOUT seconds, default 180) so that one hung test cannot
# eat the whole VM budget; timeout(1) kills its process group, the test's EXIT trap cleans up.
tt=${VMTEST_TEST_TIMEOUT:-180}
echo "# kernel $(uname -r), $(nproc) CPUs, XDPWG_BUILD=$XDPWG_BUILD, ${tt}s per test"
exec prove --exec "timeout -k 10 $tt" --timer "${tests[@]}"
