# shellcheck shell=bash
# The narration both demos share (scripts/demo.sh, scripts/demo-cluster.sh): numbered steps in
# bold on a terminal, indented notes, and die, which shows the end of the test library's log
# (tests/net/lib.sh, sourced first). DEMO_NAME names the demo in errors.

step=0
bold='' dim='' plain=''
if [ -t 1 ]; then
	bold=$(printf '\033[1m')
	dim=$(printf '\033[2m')
	plain=$(printf '\033[0m')
fi
say()
{
	step=$((step + 1))
	printf '\n%s==> %d. %s%s\n' "$bold" "$step" "$*" "$plain"
}
note()
{
	printf '    %s\n' "$*"
}
die()
{
	printf '\n%s: %s\n' "$DEMO_NAME" "$*" >&2
	t_show_log 15 >&2
	exit 1
}
now() { date +%s.%N; }

# demo_require CMD...: root, and every command
demo_require()
{
	local c
	[ "$(id -u)" -eq 0 ] || die "needs root (network namespaces); try: sudo make $DEMO_NAME"
	for c in "$@"; do
		command -v "$c" >/dev/null || die "needs $c (make deps)"
	done
}

# The live view's end: the events so far, then MESSAGE in bold. The demo defines view and keeps
# events (an array) and PLAIN.
demo_view_events()
{
	local e
	printf '\n%s  events:%s\n' "$dim" "$plain"
	for e in "${events[@]}"; do printf '  %s\n' "$e"; done
	printf '\n%s  %s%s\n' "$bold" "$1" "$plain"
}
log_event()
{
	events+=("$*")
	[ "$PLAIN" = 1 ] && note "$*"
}
# tick SECONDS MESSAGE: the live view once a second for SECONDS
tick()
{
	local i
	for ((i = 0; i < $1; i++)); do
		view "$2"
		sleep 1
	done
}
