# shellcheck shell=bash
# The narration both demos share (scripts/demo.sh, scripts/demo-cluster.sh): numbered steps in
# bold on a terminal, indented notes, and die, which shows the end of the test library's log
# (tests/net/lib.sh, sourced before die is called). DEMO_NAME names the demo in errors. Sourced
# before anything is built: it defines functions and colours only.

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

# demo_plot_head TITLE Y2LABEL KEY: the gnuplot script's start, for a PNG in $OUT: ping RTT on
# the left axis, the demo's own series on the right, a dashed line at each switch
# ($OUT/switches.dat); the demo prints its plot command after it
demo_plot_head()
{
	local i=0 x
	echo "set terminal pngcairo size 1000,500 noenhanced"
	echo "set output '$OUT/demo.png'"
	echo "set title '$1'"
	echo "set xlabel 'time (s)'"
	echo "set ylabel 'ping RTT (ms)'"
	echo "set y2label '$2'"
	echo "set ytics nomirror"
	echo "set y2tics"
	echo "set grid"
	echo "set key $3"
	while read -r x; do
		i=$((i + 1))
		echo "set arrow $i from $x, graph 0 to $x, graph 1 nohead dt 2 lc rgb 'red'"
		echo "set label $i 'switch $i' at $x, graph 0.95 left offset 0.5,0 tc rgb 'red'"
	done <"$OUT/switches.dat"
}

# demo_args SCRIPT ARG...: --help prints SCRIPT's header comment; any other argument is refused
demo_args()
{
	case "${2:-}" in
	-h | --help)
		awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$1"
		exit 0
		;;
	"") ;;
	*)
		echo "$DEMO_NAME: unknown argument $2 (try --help)" >&2
		exit 2
		;;
	esac
}

# demo_int NAME VALUE MIN MAX: VALUE a whole number within MIN..MAX, or exit 2 naming NAME
demo_int()
{
	[[ $2 =~ ^[0-9]+$ ]] && [ "$2" -ge "$3" ] && [ "$2" -le "$4" ] ||
		{ echo "$DEMO_NAME: $1 must be $3..$4" >&2; exit 2; }
}
