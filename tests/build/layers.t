#!/usr/bin/env bash
# The layering check itself (scripts/layers.sh, part of make check): clean on the tree as it is,
# and failing, with the file and the rule named, on each kind of deliberate violation: an include
# across a forbidden arrow, the engine's internals used from outside, a call across a forbidden
# arrow in the built libraries, and an engine symbol in the ctl. Works on copies in a scratch
# directory; the tree is not touched.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${XDPWG_BUILD:-$top/build}
tmp=$(mktemp -d /tmp/xdpwg-layers.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
n=0
failed=0
result() {
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; failed=$((failed + 1)); fi
}

# a copy of the source layers to break
fresh() {
	rm -rf "$tmp/src"
	mkdir -p "$tmp/src/scripts"
	cp -r "$top"/headers "$top"/lib "$top"/engine "$top"/io "$top"/daemon "$top"/ctl "$top"/bpf "$tmp/src/"
	cp "$top/scripts/layers.sh" "$tmp/src/scripts/"
}

# expect_violation DESC PATTERN ARGS...: layers.sh exits 1 and says PATTERN
expect_violation() {
	local desc=$1 pat=$2 out rc
	shift 2
	out=$("$tmp/src/scripts/layers.sh" --root "$tmp/src" "$@" 2>&1)
	rc=$?
	if [ $rc -eq 1 ] && grep -q -- "$pat" <<<"$out"; then
		result 0 "$desc"
	else
		result 1 "$desc"
		echo "# exit $rc, output:"
		sed 's/^/#   /' <<<"$out"
	fi
}

fresh
out=$("$tmp/src/scripts/layers.sh" --root "$tmp/src" --includes-only 2>&1)
rc=$?
result $rc "the tree's includes follow the layers"
[ $rc -eq 0 ] || sed 's/^/#   /' <<<"$out"

fresh
sed -i '0,/#include "log.h"/s//#include "log.h"\n#include "loader.h"/' "$tmp/src/engine/peer.c"
expect_violation "engine including io/loader.h is refused" \
	'engine/peer.c: includes "loader.h" from io/ (engine must not use io)' --includes-only

fresh
sed -i '0,/#include "log.h"/s//#include "log.h"\n#include "xdpwgd.h"/' "$tmp/src/io/tun.c"
expect_violation "io including the daemon's header is refused" \
	'io/tun.c: includes "xdpwgd.h" from daemon/ (io must not use daemon)' --includes-only

fresh
sed -i '0,/#include "ctl.h"/s//#include "ctl.h"\n#include "device.h"/' "$tmp/src/ctl/main.c"
expect_violation "ctl including the engine's device.h is refused" \
	'ctl/main.c: includes "device.h" from engine-public/ (ctl must not use engine-public)' --includes-only

fresh
sed -i '0,/#include "log.h"/s//#include "log.h"\n#include "peer.h"/' "$tmp/src/io/peer_sync.c"
expect_violation "io including the engine's internals (peer.h) is refused" \
	"io/peer_sync.c: includes \"peer.h\", the engine's internals" --includes-only

fresh
sed -i '0,/#include "xdpwg_wire.h"/s//#include "xdpwg_wire.h"\n#include "crypto.h"/' "$tmp/src/bpf/xdpwg.bpf.c"
expect_violation "the BPF program including lib/ is refused" \
	'bpf/xdpwg.bpf.c: includes "crypto.h" from lib/ (bpf must not use lib)' --includes-only

# Symbols: small libraries standing in for the layers, each defining a few names.
mkobj() { # mkobj LAYER 'c source'
	mkdir -p "$tmp/b/obj/$1"
	printf '%s\n' "$2" >"$tmp/b/$1.c"
	cc -c "$tmp/b/$1.c" -o "$tmp/b/obj/$1/$1.o" && ar rcs "$tmp/b/libxdpwg-$1.a" "$tmp/b/obj/$1/$1.o"
}
fake_libs() { # fake_libs ENGINE_BODY IO_BODY
	rm -rf "$tmp/b"
	mkdir -p "$tmp/b"
	mkobj lib 'int log_x(void) { return 1; }'
	mkobj engine "int log_x(void); int peer_get(void) { return 2; } int wg_device_rx(void) { return log_x(); } $1"
	mkobj io "int wg_device_rx(void); int io_send(void) { return wg_device_rx(); } $2"
	mkobj daemon 'int io_send(void); int daemon_run(void) { return io_send(); }'
}

fake_libs "" ""
out=$("$top/scripts/layers.sh" --build "$tmp/b" --symbols-only 2>&1)
result $? "clean stand-in libraries pass the symbol check"

fake_libs "int io_send(void); int eng_bad(void) { return io_send(); }" ""
expect_violation "an engine calling into io is refused" \
	'libxdpwg-engine.a calls io_send of io (engine must not use io)' --build "$tmp/b" --symbols-only

fake_libs "" "int peer_get(void); int io_bad(void) { return peer_get(); }"
expect_violation "io calling an engine internal (not wg_*) is refused" \
	'libxdpwg-io.a calls peer_get of engine (io must not use engine)' --build "$tmp/b" --symbols-only

fake_libs "" ""
mkdir -p "$tmp/b/obj/ctl"
printf 'int wg_device_rx(void);\nint main(void) { return wg_device_rx(); }\n' >"$tmp/b/ctl.c"
cc -c "$tmp/b/ctl.c" -o "$tmp/b/obj/ctl/main.o"
expect_violation "the ctl calling the engine is refused" \
	'ctl calls wg_device_rx of engine' --build "$tmp/b" --symbols-only

# The real build, when there is one: xdpwgctl carries no engine, io or daemon symbol.
if [ -f "$build/xdpwgctl" ] && [ -f "$build/libxdpwg-engine.a" ]; then
	out=$("$top/scripts/layers.sh" --build "$build" --symbols-only 2>&1)
	rc=$?
	result $rc "the built libraries and xdpwgctl follow the layers"
	[ $rc -eq 0 ] || sed 's/^/#   /' <<<"$out"
	eng=$(nm -g --defined-only "$build/libxdpwg-engine.a" "$build/libxdpwg-io.a" "$build/libxdpwg-daemon.a" 2>/dev/null |
		awk 'NF >= 3 {print $3}' | sort -u)
	ctl=$(nm --defined-only "$build/xdpwgctl" | awk 'NF >= 3 {print $3}' | sort -u)
	both=$(comm -12 <(echo "$eng") <(echo "$ctl") | head -5)
	[ -z "$both" ]
	result $? "nm xdpwgctl shows no engine, io or daemon symbol${both:+ (has: $(echo $both))}"
else
	echo "ok $((n + 1)) # skip no build in $build"
	n=$((n + 1))
fi

echo "1..$n"
[ $failed -eq 0 ]
