#!/usr/bin/env bash
# Every libFuzzer harness (fuzz_xdp needs root: skipped without) for a few seconds (FUZZ_QUICK_SECONDS, default 5) on its seed corpus:
# one TAP line per harness. Skips cleanly without clang's fuzzer runtime.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
names=(uapi config allowedips replay receive handshake xdp)
secs=${FUZZ_QUICK_SECONDS:-5}
scripts/fuzz.sh --build-only "${names[@]}" >/tmp/fuzz-quick-build.$$ 2>&1
status=$?
if [ $status -eq 77 ]; then
	echo "1..0 # SKIP clang's libFuzzer runtime is missing (libclang-rt-14-dev)"
	rm -f /tmp/fuzz-quick-build.$$
	exit 0
fi
echo "1..${#names[@]}"
i=0
for n in "${names[@]}"; do
	i=$((i + 1))
	if grep -q "^fuzz_$n: " /tmp/fuzz-quick-build.$$; then
		echo "not ok $i - fuzz_$n # $(grep "^fuzz_$n: " /tmp/fuzz-quick-build.$$)"
		continue
	fi
	line=$(FUZZ_SECONDS=$secs scripts/fuzz.sh "$n" 2>&1 | tail -1)
	rc=${PIPESTATUS[0]}
	if [ "$rc" -eq 0 ] && [ "${line#*: skipped}" != "$line" ]; then
		echo "ok $i - # SKIP $line"
	elif [ "$rc" -eq 0 ]; then
		echo "ok $i - $line"
	else
		echo "not ok $i - $line"
	fi
done
rm -f /tmp/fuzz-quick-build.$$
