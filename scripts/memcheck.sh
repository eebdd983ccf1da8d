#!/usr/bin/env bash
# Every unit test binary under valgrind memcheck, one line per test:
#
#	scripts/memcheck.sh [BUILD_DIR]      (default build/; run `make all-tests` first)
#
# PASS: the test passed and valgrind found no error and no definite/indirect leak
# (--leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=1).
# SKIP: the test needs what valgrind cannot emulate. The BPF tests (build/tests/bpf/*) load
# programs through bpf(2) and run them with BPF_PROG_TEST_RUN; valgrind does not know the
# bpf(2) syscall's memory effects (map lookups write into user buffers it considers
# uninitialised) and aborts or floods false reports, so they are skipped; ASan (make SAN=1)
# covers them. Unit tests that need root or namespaces skip themselves inside.
# Exit status: the number of FAILs (capped at 254).
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
command -v valgrind >/dev/null || { echo "memcheck: valgrind not installed" >&2; exit 2; }
ls "$BUILD"/tests/unit/test_* >/dev/null 2>&1 || { echo "memcheck: no $BUILD/tests/unit/test_* (make all-tests)" >&2; exit 2; }
logdir=$(mktemp -d /tmp/memcheck.XXXXXX)
fail=0
for t in "$BUILD"/tests/unit/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	log=$logdir/$name.valgrind
	start=$SECONDS
	# generous bound: valgrind is 20-50x slower, test_crypto's vectors dominate
	timeout 600 valgrind --quiet --leak-check=full --errors-for-leak-kinds=definite,indirect \
		--show-leak-kinds=definite,indirect --error-exitcode=99 --log-file="$log" \
		--suppressions=/dev/null "$t" >"$logdir/$name.out" 2>&1
	rc=$?
	errs=$(grep -cE '^==[0-9]+== (Invalid|Conditional|Use of|Syscall param|Mismatched|.*definitely lost|.*indirectly lost)' "$log")
	secs=$((SECONDS - start))
	if [ $rc -eq 0 ]; then
		printf '%-24s PASS  (%ds)\n' "$name" "$secs"
	elif [ $rc -eq 99 ]; then
		printf '%-24s FAIL  valgrind: %s report(s), see %s\n' "$name" "$errs" "$log"
		fail=$((fail + 1))
	elif [ $rc -eq 124 ]; then
		printf '%-24s FAIL  timeout after %ds\n' "$name" "$secs"
		fail=$((fail + 1))
	else
		printf '%-24s FAIL  test exit %d (%s not ok), see %s\n' "$name" "$rc" \
			"$(grep -c '^not ok' "$logdir/$name.out")" "$logdir/$name.out"
		fail=$((fail + 1))
	fi
done
for t in "$BUILD"/tests/bpf/test_*; do
	[ -x "$t" ] || continue
	printf '%-24s SKIP  bpf(2) program tests: valgrind cannot follow the syscall (ASan covers it)\n' \
		"$(basename "$t")"
done
[ $fail -eq 0 ] && rm -rf "$logdir" || echo "memcheck: logs in $logdir"
exit $((fail > 254 ? 254 : fail))
