#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# `make install`: every file where it belongs with the right mode, man pages that render without
# warnings, --help output and man pages that name the same commands and options, a unit file
# that systemd accepts. Fast, needs neither root nor a running daemon; the binaries come from
# $XDPWG_BUILD (default /work/main/build) and are not rebuilt (make -o all).
# shellcheck disable=SC2015 # A && B || C: C is the complaint, also right when B fails
set -uo pipefail

XDPWG_BUILD=${XDPWG_BUILD:-/work/main/build}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
TMP=$(mktemp -d /tmp/xdpwg-install.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
N=0
FAILED=0
# a make started by `make test` must not inherit its flags or jobserver
unset MAKEFLAGS MFLAGS MAKELEVEL MAKEOVERRIDES

ok() # ok RC DESC
{
	N=$((N + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $N - $2"
	else
		FAILED=$((FAILED + 1))
		echo "not ok $N - $2"
	fi
}

diag() { sed 's/^/# /' "$@"; }

# mode_is PATH MODE: exists, is a regular file, has MODE
mode_is()
{
	[ -f "$1" ] && [ "$(stat -c %a "$1")" = "$2" ]
}

# make_install DESTDIR PREFIX
make_install()
{
	make -s -C "$TOP" -o all BUILD="$XDPWG_BUILD" install DESTDIR="$1" PREFIX="$2" \
		>"$TMP/make.log" 2>&1
}

# roff source to plain words: "\-" to "-", font escapes dropped
man_words()
{
	sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\(..//g' "$1"
}

echo "1..24"

# --- make install, PREFIX=/usr ---
D=$TMP/usr
make_install "$D" /usr
rc=$?
ok $rc "make install DESTDIR=... PREFIX=/usr"
[ $rc -eq 0 ] || diag "$TMP/make.log"

expected="lib/systemd/system/xdpwg-quick@.service 644
lib/systemd/system/xdpwgd@.service 644
usr/bin/xdpwgctl 755
usr/sbin/xdpwgd 755
usr/share/doc/xdpwg/xdpwgd.env.example 644
usr/share/man/man8/xdpwgctl.8 644
usr/share/man/man8/xdpwgd.8 644"
bad=0
while read -r f m; do
	mode_is "$D/$f" "$m" || { echo "# $f: missing or not mode $m"; bad=1; }
done <<<"$expected"
ok $bad "every file installed with its mode (binaries 0755, the rest 0644)"

got=$( (cd "$D" 2>/dev/null && find . -type f | sed 's|^\./||' | sort) )
[ "$got" = "$(cut -d' ' -f1 <<<"$expected" | sort)" ]
rc=$?
ok $rc "nothing else installed"
[ $rc -eq 0 ] || echo "$got" | sed 's/^/# installed: /'

cmp -s "$D/usr/sbin/xdpwgd" "$XDPWG_BUILD/xdpwgd" && cmp -s "$D/usr/bin/xdpwgctl" "$XDPWG_BUILD/xdpwgctl"
ok $? "the installed binaries are those of \$XDPWG_BUILD"

U=$D/lib/systemd/system/xdpwgd@.service
# shellcheck disable=SC2016 # a literal $ in the unit
grep -q '^ExecStart=/usr/sbin/xdpwgd -f \$XDPWG_ARGS %i$' "$U" &&
	grep -q 'exec /usr/bin/xdpwgctl setconf %i /etc/wireguard/%i.conf' "$U"
ok $? "PREFIX=/usr: the unit runs /usr/sbin/xdpwgd -f and /usr/bin/xdpwgctl setconf"
Q=$D/lib/systemd/system/xdpwg-quick@.service
grep -q '^Environment=WG_QUICK_USERSPACE_IMPLEMENTATION=/usr/sbin/xdpwgd$' "$Q" &&
	grep -q '^ExecStart=/usr/bin/wg-quick up %i$' "$Q" &&
	grep -q '^ExecStop=/usr/bin/wg-quick down %i$' "$Q" &&
	grep -q '^EnvironmentFile=-/etc/xdpwg/%i.env$' "$Q"
ok $? "PREFIX=/usr: xdpwg-quick@ runs wg-quick up/down with /usr/sbin/xdpwgd as its implementation"

# --- PREFIX=/usr/local: the unit under the prefix, naming the prefix's binaries ---
L=$TMP/local
make_install "$L" /usr/local &&
	mode_is "$L/usr/local/lib/systemd/system/xdpwgd@.service" 644 &&
	mode_is "$L/usr/local/sbin/xdpwgd" 755 &&
	mode_is "$L/usr/local/bin/xdpwgctl" 755 &&
	mode_is "$L/usr/local/share/man/man8/xdpwgd.8" 644 &&
	mode_is "$L/usr/local/share/doc/xdpwg/xdpwgd.env.example" 644 &&
	[ ! -e "$L/lib" ] &&
	grep -q '^ExecStart=/usr/local/sbin/xdpwgd ' "$L/usr/local/lib/systemd/system/xdpwgd@.service" &&
	grep -q '^Environment=WG_QUICK_USERSPACE_IMPLEMENTATION=/usr/local/sbin/xdpwgd$' \
		"$L/usr/local/lib/systemd/system/xdpwg-quick@.service" &&
	! grep -Eq '/usr/(s?bin)/xdpwg' "$L/usr/local/lib/systemd/system/xdpwgd@.service"
ok $? "PREFIX=/usr/local: unit in /usr/local/lib/systemd/system, naming /usr/local binaries"

# a failing step fails the install: no silent `|| true`
make -s -C "$TOP" -o all BUILD="$TMP/nonexistent" install DESTDIR="$TMP/fail" PREFIX=/usr \
	>/dev/null 2>&1
ok $((!$?)) "make install fails when a binary is missing"

# --- man pages ---
for page in xdpwgd xdpwgctl; do
	f=$D/usr/share/man/man8/$page.8
	out=$(MANWIDTH=80 man -l --warnings -E UTF-8 "$f" 2>&1 >/dev/null)
	[ -z "$out" ] && [ -s "$f" ]
	rc=$?
	ok $rc "man -l --warnings renders $page.8 silently"
	[ $rc -eq 0 ] && [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/# /'
	out=$(groff -man -ww -z "$f" 2>&1)
	[ -z "$out" ]
	rc=$?
	ok $rc "groff -man -ww -z $page.8: no warnings"
	[ $rc -eq 0 ] || printf '%s\n' "$out" | sed 's/^/# /'
done

for page in xdpwgd xdpwgctl; do
	f=$D/usr/share/man/man8/$page.8
	bad=0
	for s in NAME SYNOPSIS DESCRIPTION ENVIRONMENT FILES "EXIT STATUS" EXAMPLES "SEE ALSO"; do
		grep -q "^\.SH \"\?$s\"\?$" "$f" || { echo "# $page.8: no $s section"; bad=1; }
	done
	w=$(man_words "$f")
	for s in 'wg (8)' 'wg-quick (8)' 'bpftool (8)' 'xdp-loader (8)' XDPWG_ATTACH \
		WG_QUICK_USERSPACE_IMPLEMENTATION /var/run/wireguard/INTERFACE.sock \
		/sys/fs/bpf/xdpwg/INTERFACE/ /etc/wireguard/INTERFACE.conf 'umask 077'; do
		grep -qF -- "$s" <<<"$w" || { echo "# $page.8: does not mention $s"; bad=1; }
	done
	ok $bad "$page.8 has the sections, files, environment and references"
done

# --- --help against the man pages ---
XD=$D/usr/sbin/xdpwgd
XC=$D/usr/bin/xdpwgctl
dw=$(man_words "$D/usr/share/man/man8/xdpwgd.8")
cw=$(man_words "$D/usr/share/man/man8/xdpwgctl.8")

dhelp=$("$XD" --help 2>&1)
ok $? "xdpwgd --help exits 0"
# every long option on either side appears on the other
dman_opts=$(sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$D/usr/share/man/man8/xdpwgd.8" |
	man_words /dev/stdin | grep -oE -- '--[a-z][a-z-]*' | sort -u)
dhelp_opts=$(grep -oE -- '--[a-z][a-z-]*' <<<"$dhelp" | sort -u)
bad=0
for o in $dman_opts; do
	grep -qw -- "$o" <<<"$dhelp" || { echo "# xdpwgd.8 documents $o, --help does not list it"; bad=1; }
done
for o in $dhelp_opts; do
	grep -q -- "$o" <<<"$dman_opts" || { echo "# xdpwgd --help lists $o, xdpwgd.8 does not"; bad=1; }
done
for o in -f -v -h; do
	grep -qE -- "(^| )$o," <<<"$dhelp" && grep -qF -- ".BR $o \", \"" <<<"$dw" ||
		{ echo "# short option $o not in both"; bad=1; }
done
[ -n "$dman_opts" ] || bad=1
ok $bad "xdpwgd: --help and xdpwgd.8 OPTIONS list the same options ($(tr "\n" " " <<<"$dman_opts"))"

chelp=$("$XC" help 2>&1) && [ "$chelp" = "$("$XC" --help 2>&1)" ]
ok $? "xdpwgctl help and --help exit 0 with the same text"
cmds=$(sed -n 's/^  \([a-z][a-z]*\) .*/\1/p' <<<"$chelp")
man_cmds=$(sed -n '/^\.SH COMMANDS/,/^\.SH /p' "$D/usr/share/man/man8/xdpwgctl.8" |
	awk '/^\.RS/ { d++ } /^\.RE/ { d-- } d == 0 && tp { print } { tp = d == 0 && /^\.TP/ }' |
	man_words /dev/stdin | awk '{print $2}' | grep -E '^[a-z]+$' | sort -u)
bad=0
for c in $cmds; do
	grep -qx -- "$c" <<<"$man_cmds" || { echo "# xdpwgctl help lists $c, xdpwgctl.8 COMMANDS does not"; bad=1; }
done
for c in $man_cmds; do
	grep -qx -- "$c" <<<"$cmds" || { echo "# xdpwgctl.8 documents $c, xdpwgctl help does not"; bad=1; }
done
[ -n "$cmds" ] || bad=1
ok $bad "xdpwgctl: help and xdpwgctl.8 COMMANDS name the same commands ($(tr "\n" " " <<<"$cmds"))"

# each command's arguments: every keyword in its usage line is in the man page
bad=0
for c in $cmds; do
	[ "$c" = help ] && continue
	u=$("$XC" "$c" --help 2>&1) || { echo "# xdpwgctl $c --help failed"; bad=1; continue; }
	for w in $(sed 's/<[^>]*>//g' <<<"${u#"Usage: xdpwgctl $c"}" | grep -oE -- '(--)?[a-z][a-z0-9-]+' | sort -u); do
		grep -qw -- "$w" <<<"$cw" || { echo "# xdpwgctl $c: $w is not in xdpwgctl.8"; bad=1; }
	done
done
ok $bad "xdpwgctl: every argument keyword of every command's usage is in xdpwgctl.8"

bad=0
for w in --json roam-policy roam-within RoamPolicy RoamWithin WG_HIDE_KEYS pinned within \
	--version; do
	grep -qw -- "$w" <<<"$cw" || { echo "# xdpwgctl.8 does not mention $w"; bad=1; }
done
"$XC" --version >/dev/null 2>&1 || { echo "# xdpwgctl --version fails"; bad=1; }
"$XD" --version >/dev/null 2>&1 || { echo "# xdpwgd --version fails"; bad=1; }
ok $bad "xdpwgctl.8 covers --json and the roam extensions; --version works for both"

# --- the unit ---
if command -v systemd-analyze >/dev/null 2>&1; then
	# against the installed binaries and man pages: a copy naming them by their DESTDIR path
	mkdir -p "$TMP/unit"
	sed -e "s|/usr/sbin/xdpwgd|$D/usr/sbin/xdpwgd|g" -e "s|/usr/bin/xdpwgctl|$D/usr/bin/xdpwgctl|g" \
		"$U" >"$TMP/unit/xdpwgd@.service"
	out=$(cd "$TMP/unit" && MANPATH=$D/usr/share/man SYSTEMD_LOG_LEVEL=warning \
		timeout 60 systemd-analyze verify xdpwgd@wg0.service 2>&1)
	rc=$?
	[ $rc -eq 0 ] && [ -z "$out" ]
	rc=$?
	ok $rc "systemd-analyze verify xdpwgd@wg0.service: no complaints"
	[ $rc -eq 0 ] || printf '%s\n' "$out" | sed 's/^/# /'
	sed -e "s|/usr/sbin/xdpwgd|$D/usr/sbin/xdpwgd|g" "$Q" >"$TMP/unit/xdpwg-quick@.service"
	# wg-quick(8) is wireguard-tools': the system's manual path after ours (trailing colon)
	out=$(cd "$TMP/unit" && MANPATH=$D/usr/share/man: SYSTEMD_LOG_LEVEL=warning \
		timeout 60 systemd-analyze verify xdpwg-quick@wg0.service 2>&1)
	[ -z "$out" ]
	rc=$?
	ok $rc "systemd-analyze verify xdpwg-quick@wg0.service: no complaints"
	[ $rc -eq 0 ] || printf '%s\n' "$out" | sed 's/^/# /'
else
	# no systemd here: a syntax sanity check
	bad=0
	awk '/^[ \t]*(#|;|$)/ { next }
	     /^\[(Unit|Service|Install)\]$/ { next }
	     /^[A-Za-z]+=/ { next }
	     { print "line " NR ": " $0; bad = 1 } END { exit bad }' "$U" || bad=1
	for k in '^\[Unit\]' '^\[Service\]' '^\[Install\]' '^ExecStart=/' '^Restart=on-failure'; do
		grep -q "$k" "$U" || { echo "# unit: no $k"; bad=1; }
	done
	ok $bad "unit file syntax (systemd-analyze not available)"
	ok 0 "# SKIP xdpwg-quick@: systemd-analyze not available"
fi

bad=0
for k in 'EnvironmentFile=-/etc/xdpwg/%i.env' 'Restart=on-failure' 'LimitMEMLOCK=infinity' \
	'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' 'NoNewPrivileges=yes' \
	'After=network-online.target' \
	'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK AF_XDP AF_PACKET'; do
	grep -qxF -- "$k" "$U" || { echo "# unit: no $k"; bad=1; }
done
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$U")
[ "$caps" = "$(sed -n 's/^AmbientCapabilities=//p' "$U")" ] || { echo "# bounding != ambient"; bad=1; }
for c in $caps; do
	grep -q "^#.*$c " "$U" || { echo "# unit: $c has no comment saying why"; bad=1; }
done
grep -q '^ReadWritePaths=.*/run/wireguard' "$U" && grep -q '^ReadWritePaths=.*/sys/fs/bpf' "$U" ||
	{ echo "# unit: ReadWritePaths lacks /run/wireguard or /sys/fs/bpf"; bad=1; }
ok $bad "unit: environment file, restart, capabilities (each explained), hardening"

E=$D/usr/share/doc/xdpwg/xdpwgd.env.example
bad=0
for v in XDPWG_ATTACH XDPWG_ARGS; do
	grep -q "^$v=" "$E" && grep -q "^# $v:" "$E" || { echo "# env example: $v not set and documented"; bad=1; }
done
# systemd's EnvironmentFile syntax: comments, blanks and VAR=value only
grep -vE '^(#.*|[A-Z_][A-Z0-9_]*=.*|)$' "$E" | sed 's/^/# bad line: /' | grep . && bad=1
ok $bad "the example environment file sets and documents XDPWG_ATTACH and XDPWG_ARGS"

[ $FAILED -eq 0 ]
