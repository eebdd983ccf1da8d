#!/usr/bin/env bash
# The layering check (make check; docs/architecture.md, "Layers"). Which layer may use which:
#
#   bpf     -> headers/
#   lib     -> headers/
#   engine  -> lib, headers/
#   io      -> engine (its public face only), lib, headers/, the BPF skeleton
#   daemon  -> io, engine (public face only), lib, headers/
#   ctl     -> lib, headers/
#
# The engine's public face is device.h and messages.h, and the functions named wg_*; everything
# else in engine/ is its own business. Two checks:
#   includes  every #include "..." of a file in a layer resolves to a layer it may use;
#   symbols   every undefined symbol of a layer's library (build/libxdpwg-LAYER.a, the ctl's
#             objects and binary) that another layer defines is one it may call.
#
#   scripts/layers.sh [--root DIR] [--build DIR] [--includes-only | --symbols-only]
#
# Prints one line per violation (file, what it uses, which rule) and exits 1 when there is any.
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=
mode=all
while [ $# -gt 0 ]; do
	case "$1" in
	--root) root=$(cd "$2" && pwd); shift 2 ;;
	--build) build=$2; shift 2 ;;
	--includes-only) mode=includes; shift ;;
	--symbols-only) mode=symbols; shift ;;
	*) echo "usage: scripts/layers.sh [--root DIR] [--build DIR] [--includes-only|--symbols-only]" >&2; exit 2 ;;
	esac
done
build=${build:-$root/build}
bad=0

# may LAYER use TARGET?
allowed() {
	case "$1:$2" in
	bpf:bpf | bpf:headers) return 0 ;;
	lib:lib | lib:headers) return 0 ;;
	engine:engine | engine:lib | engine:headers) return 0 ;;
	io:io | io:engine-public | io:lib | io:headers | io:skel) return 0 ;;
	daemon:daemon | daemon:io | daemon:engine-public | daemon:lib | daemon:headers) return 0 ;;
	ctl:ctl | ctl:lib | ctl:headers) return 0 ;;
	esac
	return 1
}

engine_public() {
	case "$1" in device.h | messages.h) return 0 ;; esac
	return 1
}

violation() {
	echo "layers: $*"
	bad=1
}

# Where each header lives: the layer directory of every *.h under the source layers.
declare -A header_dir
for l in ctl daemon io engine lib bpf headers; do
	for h in "$root/$l"/*.h; do
		[ -f "$h" ] && header_dir[${h##*/}]=$l
	done
done

# Which layer a header named in an #include of a file in dir belongs to, in REPLY ("" when
# unknown). No subshell: it runs for every include of the tree.
header_layer() {
	local h=$1 dir=$2 d
	if [ -f "$root/$dir/$h" ]; then
		d=$dir
	else
		d=${header_dir[$h]:-}
	fi
	case "$h" in *.skel.h) REPLY=skel; return ;; esac
	if [ "$d" = engine ] && [ "$dir" = engine ]; then
		REPLY=engine
	elif [ "$d" = engine ] && engine_public "$h"; then
		REPLY=engine-public
	elif [ "$d" = engine ]; then
		REPLY=engine-private
	else
		REPLY=$d
	fi
}

check_includes() {
	local layer f h target
	for layer in bpf lib engine io daemon ctl; do
		[ -d "$root/$layer" ] || continue
		for f in "$root/$layer"/*.c "$root/$layer"/*.h; do
			[ -f "$f" ] || continue
			while IFS= read -r h; do
				header_layer "$h" "$layer"
				target=$REPLY
				if [ -z "$target" ]; then
					violation "${f#"$root"/}: includes \"$h\", which is in no layer"
				elif [ "$target" = engine-private ]; then
					violation "${f#"$root"/}: includes \"$h\", the engine's internals ($layer may use only device.h and messages.h)"
				elif ! allowed "$layer" "$target"; then
					violation "${f#"$root"/}: includes \"$h\" from $target/ ($layer must not use $target)"
				fi
			done < <(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f")
		done
	done
}

# defined symbols of an archive or object: one name a line
defined() { nm -g --defined-only "$@" 2>/dev/null | awk 'NF >= 3 && $3 != "" {print $3}' | sort -u; }
undefined() { nm -g -u "$@" 2>/dev/null | awk 'NF == 2 && $1 == "U" {print $2}' | sort -u; }

check_symbols() {
	local l lib sym owner
	declare -A owner_of
	for l in lib engine io daemon; do
		lib=$build/libxdpwg-$l.a
		if [ ! -f "$lib" ]; then
			violation "no $lib (build first)"
			return
		fi
		while IFS= read -r sym; do owner_of[$sym]=$l; done < <(defined "$lib")
	done
	for l in engine io daemon; do
		while IFS= read -r sym; do
			owner=${owner_of[$sym]:-}
			[ -n "$owner" ] && [ "$owner" != "$l" ] || continue
			if [ "$owner" = engine ]; then
				case "$sym" in wg_*) owner=engine-public ;; esac
			fi
			allowed "$l" "$owner" ||
				violation "libxdpwg-$l.a calls $sym of $owner ($l must not use ${owner%-public})"
		done < <(undefined "$build/libxdpwg-$l.a")
	done
	# lib calls nothing of the others
	while IFS= read -r sym; do
		owner=${owner_of[$sym]:-}
		[ -n "$owner" ] && [ "$owner" != lib ] &&
			violation "libxdpwg-lib.a calls $sym of $owner (lib must not use $owner)"
	done < <(undefined "$build/libxdpwg-lib.a")
	# the ctl: its objects call lib only, and its binary carries nothing else
	if compgen -G "$build/obj/ctl/*.o" >/dev/null; then
		while IFS= read -r sym; do
			owner=${owner_of[$sym]:-}
			[ -n "$owner" ] && [ "$owner" != lib ] &&
				violation "ctl calls $sym of $owner (ctl must not use $owner)"
		done < <(undefined "$build"/obj/ctl/*.o)
	fi
	if [ -f "$build/xdpwgctl" ]; then
		while IFS= read -r sym; do
			owner=${owner_of[$sym]:-}
			case "$owner" in engine | io | daemon)
				violation "xdpwgctl carries $sym of $owner" ;;
			esac
		done < <(nm --defined-only "$build/xdpwgctl" 2>/dev/null | awk 'NF >= 3 && $3 != "" {print $3}' | sort -u)
	fi
}

[ "$mode" = symbols ] || check_includes
[ "$mode" = includes ] || check_symbols
[ $bad -eq 0 ] && echo "layers: clean"
exit $bad
