#!/usr/bin/env bash
# make check: the tree obeys .clang-format, cppcheck finds nothing, and the layers hold
# (scripts/layers.sh; make check builds first, so that the libraries are there to look at).
set -uo pipefail
cd "$(dirname "$0")/.."
rc=0
files=$(git ls-files '*.c' '*.h' 2>/dev/null; git ls-files --others --exclude-standard '*.c' '*.h' 2>/dev/null)
files=$(echo "$files" | sort -u | grep -v '^$')
bad=""
for f in $files; do
	if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
		bad="$bad $f"
	fi
done
if [ -n "$bad" ]; then
	echo "check: not clang-formatted (run 'make format'):$bad" >&2
	rc=1
fi
user_c=$(echo "$files" | grep -E '^(lib|engine|io|daemon|ctl|bench|tests)/.*\.c$' || true)
if ! cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
	--inline-suppr --suppress=missingIncludeSystem --std=c11 \
	-D__x86_64__ -D_GNU_SOURCE -Iheaders -Ilib -Iengine -Iio -Idaemon -Ictl $user_c; then
	echo "check: cppcheck found problems" >&2
	rc=1
fi
# the layers (docs/architecture.md): includes in the tree, calls in the built libraries
if ! scripts/layers.sh --build "${XDPWG_BUILD:-build}"; then
	echo "check: the layering check found violations" >&2
	rc=1
fi
[ $rc -eq 0 ] && echo "check: clean"
exit $rc
