#!/usr/bin/env bash
# XDP object load/attach check (TAP), meant for the VM (vmtest/run): nothing is compiled here.
# The BPF object ($XDPWG_XDP_OBJ, default $XDPWG_BUILD/xdpwg.bpf.o) must pass this kernel's
# verifier (bpftool prog loadall) and its XDP program must attach to a veth in native (driver)
# mode. XDPWG_XDP_PROG names the program to attach (default: the first XDP program).
# Skips when the object does not exist yet.
set -u
. "$(dirname "$0")/../lib/tap.sh"
require_root
obj=${XDPWG_XDP_OBJ:-${XDPWG_BUILD:-build}/xdpwg.bpf.o}
[ -f "$obj" ] || skip_all "no $obj yet"
require_cmd bpftool ip

ns=vmtx$$
tmp=$(mktemp -d)
cleanup() {
	ip netns del "$ns" 2>/dev/null
	umount "$tmp/bpffs" 2>/dev/null
	rm -rf "$tmp"
}
on_exit cleanup

plan 5
# A bpffs of our own: `ip -n` remounts /sys, so pins under /sys/fs/bpf would not be seen there.
mkdir -p "$tmp/bpffs"
mount -t bpf bpf "$tmp/bpffs" || bail "cannot mount a bpffs"
pins=$tmp/bpffs/progs

check "$(basename "$obj") loads under the $(uname -r) verifier" bpftool prog loadall "$obj" "$pins"

prog=
for p in "$pins"/*; do
	[ -e "$p" ] || continue
	if [ -n "${XDPWG_XDP_PROG:-}" ]; then
		[ "${p##*/}" = "$XDPWG_XDP_PROG" ] && prog=$p
	elif bpftool prog show pinned "$p" 2>/dev/null | grep -q ': xdp '; then
		prog=$p
		break
	fi
done
if [ -n "$prog" ]; then
	ok "XDP program found: ${prog##*/}"
else
	not_ok "XDP program found in $obj"
fi

setup() {
	ip netns add "$ns" &&
		ip -n "$ns" link add x0 type veth peer name x1 &&
		ip -n "$ns" link set x0 up && ip -n "$ns" link set x1 up
}
check "veth pair in a namespace" setup
if [ -n "$prog" ]; then
	check "native (xdpdrv) attach to a veth" sh -c \
		"ip -n '$ns' link set dev x0 xdpdrv pinned '$prog' && ip -n '$ns' -j link show dev x0 | grep -q '\"xdp\":{\"mode\":1'"
	check "detach" sh -c "ip -n '$ns' link set dev x0 xdpdrv off && ! ip -n '$ns' -d link show dev x0 | grep -q 'prog/xdp'"
else
	skip "native (xdpdrv) attach to a veth" "no XDP program"
	skip "detach" "no XDP program"
fi
tap_done
