#!/usr/bin/env bash
# make test: every libFuzzer harness runs its seed corpus (tests/fuzz/corpus/NAME/) and the
# regression inputs kept from its crashes and mismatches (tests/fuzz/crashes/NAME-*) once each,
# without fuzzing: one TAP line per harness. Skips without clang's fuzzer runtime; fuzz_xdp skips
# without root (it loads the BPF program). fuzz_xdp runs twice: with the metadata where this
# kernel puts it, and inline (XDPWG_XDP_META=inline, io/xdp_meta.h), so that the inline
# layout's stripping before XDP_PASS is checked on every kernel.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
names=(uapi config allowedips replay receive handshake xdp)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
scripts/fuzz.sh --build-only "${names[@]}" >"$out" 2>&1
if [ $? -eq 77 ]; then
	echo "1..0 # SKIP clang's libFuzzer runtime is missing (libclang-rt-14-dev)"
	exit 0
fi
runs=("${names[@]}" xdp:inline)
echo "1..${#runs[@]}"
i=0
for r in "${runs[@]}"; do
	i=$((i + 1))
	n=${r%%:*}
	meta=
	[ "$r" = "$n" ] || meta=${r#*:}
	if grep -q "^fuzz_$n: " "$out"; then
		echo "not ok $i - fuzz_$n # $(grep "^fuzz_$n: " "$out")"
		continue
	fi
	files=()
	for f in tests/fuzz/corpus/"$n"/* tests/fuzz/crashes/"$n"-*; do
		[ -f "$f" ] && files+=("$f")
	done
	if [ ${#files[@]} -eq 0 ]; then
		echo "ok $i - fuzz_$n # SKIP no inputs"
		continue
	fi
	log=build/fuzz/logs/$n${meta:+-$meta}.replay
	# files, not directories: libFuzzer runs each once and stops at the first failure
	XDPWG_XDP_META=${meta:-${XDPWG_XDP_META:-}} \
		timeout -k 10 600 build/fuzz/fuzz_"$n" -error_exitcode=1 -timeout=10 -rss_limit_mb=4096 \
		"${files[@]}" >"$log" 2>&1
	status=$?
	if [ $status -eq 77 ] && grep -q ': SKIP: ' "$log"; then
		echo "ok $i - fuzz_$n # SKIP $(grep -m1 ': SKIP: ' "$log" | sed 's/.*: SKIP: //')"
	elif [ $status -eq 0 ]; then
		echo "ok $i - fuzz_$n replays ${#files[@]} inputs${meta:+ (metadata $meta)}"
	else
		bad=$(grep '^Running: ' "$log" | tail -1 | sed 's/^Running: //')
		echo "not ok $i - fuzz_$n fails on ${bad:-?} (exit $status; log $log)"
	fi
done
