#!/usr/bin/env bash
# make fuzz: build the libFuzzer harnesses (tests/fuzz/fuzz_*.c) with clang and
# -fsanitize=fuzzer,address,undefined into build/fuzz/, run each for a bounded time on a scratch
# copy of its seed corpus (tests/fuzz/corpus/NAME/), print one line per harness, and exit
# non-zero if any crashed, leaked, timed out or failed to build.
#
#   scripts/fuzz.sh [--quick] [--seconds N] [--runs N] [--build-only] [--gen-seeds] [NAME...]
#     --runs N      a campaign: stop each harness after N executions (or --seconds, if given)
#     --gen-seeds   rewrite the wire-message seeds of corpus/{receive,handshake} (gen_seeds.c)
#     FUZZ_SECONDS  seconds per harness (default 60; --quick: 10)
#     FUZZ_JOBS     parallel compiles (default: nproc)
#     FUZZ_TIMEOUT  seconds one input may take before it counts as a hang (default 10; a
#                   campaign beside other work on a small machine may need more)
#   NAME is uapi, config, allowedips, replay, receive, handshake, xdp (default: all). xdp loads
#   the BPF program (build/xdpwg.skel.h, made here) and needs root: without it, it is skipped.
# Exit status: 0 clean, 1 a crash or build failure, 77 no libFuzzer runtime (clang, or
# libclang-rt-14-dev, missing). Crash inputs land in build/fuzz/artifacts/NAME/, logs in
# build/fuzz/logs/NAME.log; reproduce with build/fuzz/fuzz_NAME FILE.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

CLANG=${CLANG:-clang}
SECS=${FUZZ_SECONDS:-60}
FUZZ_STRICT=${FUZZ_STRICT:-0}
JOBS=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
TIMEOUT=${FUZZ_TIMEOUT:-10}
BUILD_ONLY=0
GEN_SEEDS=0
RUNS=0
SECS_SET=${FUZZ_SECONDS:+1}
ALL="uapi config allowedips replay receive handshake xdp"
names=()
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) SECS=${FUZZ_SECONDS:-10} ;;
	--seconds) SECS=$2; SECS_SET=1; shift ;;
	--runs) RUNS=$2; shift ;;
	--build-only) BUILD_ONLY=1 ;;
	--gen-seeds) GEN_SEEDS=1 ;;
	-h|--help) sed -n '2,16p' "$0"; exit 0 ;;
	-*) echo "fuzz: unknown option $1" >&2; exit 2 ;;
	*) names+=("$1") ;;
	esac
	shift
done
[ ${#names[@]} -gt 0 ] || read -r -a names <<<"$ALL"

OUT=build/fuzz
mkdir -p "$OUT/obj" "$OUT/logs" "$OUT/artifacts"

# -max_len per harness: text bodies are bounded by the parsers' line limits; wire messages by
# the largest datagram worth trying.
max_len() {
	case "$1" in
	uapi|config) echo 8192 ;;
	allowedips|replay) echo 4096 ;;
	receive|xdp) echo 2048 ;;
	handshake) echo 512 ;;
	*) echo 4096 ;;
	esac
}

# Library sources per harness (NAME.c in lib/ or engine/); the device harnesses link the whole
# engine (every engine/*.c: it has no I/O, so a new file there needs no edit here).
CORE="allowedips replay uapi_text config config_file crypto secmem keys endpoint log"
ENGINE=$( (echo "$CORE" | tr ' ' '\n' && cd engine && ls -- *.c | sed 's/\.c$//') | sort -u | tr '\n' ' ')
srcs_for() {
	case "$1" in
	uapi|config) echo "uapi_text config config_file crypto secmem keys endpoint log" ;;
	allowedips) echo "allowedips log" ;;
	replay) echo "replay" ;;
	xdp) echo "" ;;
	*) echo "$ENGINE" ;;
	esac
}

SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
CFLAGS="-std=gnu11 -O1 -g -Wall -Wextra -Wno-missing-field-initializers -D_GNU_SOURCE -pthread \
-Iheaders -Ilib -Iengine -Itests/fuzz -Itests/unit"
LIBS="-lsodium -lcrypto -pthread"
# the XDP harness: the reference classifier beside it, libbpf, and the skeleton from build/
XDP_LIBS="-lbpf -lelf -lz -lcrypto"
xdp_cflags() {
	# the edge fixes' names, once headers/ has them (enum constants: no #ifdef possible)
	grep -q XDPWG_STAT_IPV6_EXT_DEEP headers/xdpwg_kern_user.h && echo "-DXDPWG_HDR_HAS_EDGE"
	# io/xdp_meta.c: where this kernel lets the program put its metadata
	echo "-Ibuild -Iio"
}

# libFuzzer present?
probe=$OUT/obj/probe
if ! printf '#include <stdint.h>\n#include <stddef.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' |
	$CLANG -x c -fsanitize=fuzzer,address,undefined - -o "$probe" >/dev/null 2>&1; then
	echo "fuzz: $CLANG cannot link -fsanitize=fuzzer (install clang and libclang-rt-14-dev)" >&2
	exit 77
fi

# Compile one library or helper source into build/fuzz/obj when it is older than its source or
# any header. endpoint.c resolves through tests/fuzz/fake_resolver.c: no DNS from a fuzzer.
newest_hdr=$(ls -t lib/*.h engine/*.h headers/*.h tests/fuzz/*.h tests/unit/*.h 2>/dev/null | head -1)
compile() {
	local src=$1 obj=$2 extra=""
	case "$src" in
	lib/endpoint.c) extra="-Dgetaddrinfo=fuzz_getaddrinfo -Dfreeaddrinfo=fuzz_freeaddrinfo" ;;
	esac
	if [ -f "$obj" ] && [ "$obj" -nt "$src" ] && [ "$(cat "$obj.flags" 2>/dev/null)" = "$extra" ] && [ "$obj" -nt "$newest_hdr" ] &&
		[ "$obj" -nt "$0" ]; then
		return 0
	fi
	# shellcheck disable=SC2086
	$CLANG $CFLAGS $SAN -fsanitize=fuzzer-no-link $extra -c "$src" -o "$obj.tmp" 2>"$obj.err" &&
		mv "$obj.tmp" "$obj" && echo "$extra" >"$obj.flags"
}
export -f compile
export CLANG CFLAGS SAN newest_hdr FUZZ_STRICT

# lib/NAME.c or engine/NAME.c: the layers a harness may link (never io/ or daemon/)
srcpath() {
	local d
	for d in lib engine; do
		[ -f "$d/$1.c" ] && { echo "$d/$1.c"; return; }
	done
	echo "lib/$1.c"
}

want_srcs=""
for n in "${names[@]}"; do
	want_srcs="$want_srcs $(srcs_for "$n")"
done
want_srcs=$(echo "$want_srcs" | tr ' ' '\n' | sort -u | grep -v '^$')
{
	for s in $want_srcs; do echo "$(srcpath "$s") $OUT/obj/$s.o"; done
	echo "tests/fuzz/fake_resolver.c $OUT/obj/fake_resolver.o"
} | xargs -P "$JOBS" -L 1 bash -c 'compile "$0" "$1" || true'

rc=0
declare -A built
for n in "${names[@]}"; do
	if [ "$n" = xdp ]; then
		# the BPF object and its skeleton, as make builds them
		if ! make -s build/xdpwg.skel.h >"$OUT/logs/xdp.build" 2>&1; then
			echo "fuzz_xdp: BUILD FAILED (skeleton; see $OUT/logs/xdp.build)"
			rc=1
			continue
		fi
		# shellcheck disable=SC2046
		if ! $CLANG $CFLAGS $SAN $(xdp_cflags) -fsanitize=fuzzer tests/fuzz/fuzz_xdp.c \
			tests/fuzz/xdp_ref.c io/xdp_meta.c lib/log.c $XDP_LIBS -o "$OUT/fuzz_xdp" >>"$OUT/logs/xdp.build" 2>&1; then
			echo "fuzz_xdp: BUILD FAILED (see $OUT/logs/xdp.build)"
			rc=1
			continue
		fi
		built[$n]=1
		continue
	fi
	src=tests/fuzz/fuzz_$n.c bin=$OUT/fuzz_$n objs="" missing=""
	if [ ! -f "$src" ]; then
		echo "fuzz_$n: no such harness ($src)"
		rc=1
		continue
	fi
	for s in $(srcs_for "$n") fake_resolver; do
		[ -f "$OUT/obj/$s.o" ] || missing="$missing $s"
		objs="$objs $OUT/obj/$s.o"
	done
	if [ -n "$missing" ]; then
		echo "fuzz_$n: BUILD FAILED (did not compile:$missing; see $OUT/obj/*.err)"
		rc=1
		continue
	fi
	# shellcheck disable=SC2086
	if ! $CLANG $CFLAGS $SAN -fsanitize=fuzzer "$src" $objs $LIBS -o "$bin" \
		>"$OUT/logs/$n.build" 2>&1; then
		echo "fuzz_$n: BUILD FAILED (see $OUT/logs/$n.build)"
		rc=1
		continue
	fi
	built[$n]=1
done
if [ $GEN_SEEDS = 1 ]; then
	objs=""
	for s in $ENGINE fake_resolver; do objs="$objs $OUT/obj/$s.o"; done
	# shellcheck disable=SC2086
	$CLANG $CFLAGS $SAN tests/fuzz/gen_seeds.c $objs $LIBS -o "$OUT/gen_seeds" &&
		"$OUT/gen_seeds" tests/fuzz/corpus/receive tests/fuzz/corpus/handshake ||
		{ echo "fuzz: gen_seeds failed" >&2; exit 1; }
	exit $rc
fi
[ $BUILD_ONLY = 1 ] && exit $rc

scratch=$(mktemp -d "$OUT/run.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
for n in "${names[@]}"; do
	[ -n "${built[$n]:-}" ] || continue
	bin=$OUT/fuzz_$n log=$OUT/logs/$n.log art=$OUT/artifacts/$n/
	mkdir -p "$scratch/$n" "$art"
	[ -d tests/fuzz/corpus/$n ] && cp -r tests/fuzz/corpus/$n/. "$scratch/$n/"
	start=$(date +%s)
	limit=(-max_total_time="$SECS")
	if [ "$RUNS" -gt 0 ]; then
		# a campaign is bounded by its executions; by time only when asked to be
		limit=(-runs="$RUNS")
		[ -n "$SECS_SET" ] && limit+=(-max_total_time="$SECS") || SECS=$((7 * 86400))
	fi
	# a second bound in case the fuzzer itself wedges
	timeout -k 10 $((SECS + 120)) "$bin" "${limit[@]}" -max_len="$(max_len "$n")" \
		-error_exitcode=1 -timeout="$TIMEOUT" -rss_limit_mb=4096 -print_final_stats=1 \
		-artifact_prefix="$art" \
		"$scratch/$n" >"$log" 2>&1
	status=$?
	took=$(($(date +%s) - start))
	if [ $status -eq 77 ] && grep -q ': SKIP: ' "$log"; then
		echo "fuzz_$n: skipped ($(grep -m1 ': SKIP: ' "$log" | sed 's/.*: SKIP: //'))"
		continue
	fi
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	eps=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	if [ $status -eq 0 ]; then
		echo "fuzz_$n: ok (${runs:-?} runs, ${eps:-?} exec/s, cov ${cov:-?}, ft ${ft:-?}, ${took}s)"
	else
		crash=$(grep -o "Test unit written to [^ ]*" "$log" | tail -1 | sed 's/.* to //')
		echo "fuzz_$n: FAILED (exit $status after ${took}s; input ${crash:-none}; log $log)"
		rc=1
	fi
done
exit $rc
