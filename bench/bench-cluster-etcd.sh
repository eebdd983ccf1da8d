#!/usr/bin/env bash
# The etcd rows of make bench-cluster (issue #17): how fast the cluster's peer set in etcd
# reaches the gateways. The lab of tests/net/cluster_lib.sh (three etcd members, three
# gateways; no BIRD: routes play no part here), xdpwgd in socket mode on each gateway with
# --cluster bench --etcd (the three members). Two figures:
#
#   add     a peer added with `xdpwgctl cluster add-peer`, usable on all gateways: the time from
#           xdpwgctl returning to the peer listed by all three gateways (`wg show wg0 peers`,
#           polled without sleeping, gateway by gateway); ADD_REPS adds, fresh keys each time.
#   sync    N peers (tests/helpers/etcd-peers.py) in the store, gw1 and gw2 stopped (so that
#           nothing else takes the CPU): a new gateway's first sync, from its start to the log
#           line saying the whole set was applied (one request), the count checked after with
#           `wg show`; SYNC_REPS starts.
#
# Baseline: wireguard-go has no shared peer set, so "a peer added everywhere" has no
# equivalent (one `wg set` per gateway, by whatever pushes configuration): n/a. For the sync,
# the closest fair equivalent is measured in the same run: `wg setconf` of the same N peers
# (read back from etcd into a wg config file beforehand, not timed) into a fresh wireguard-go
# in gw3. It does less than the xdpwgd sync (no etcd read, no JSON), so the ratio favours it.
#
# Output: markdown table rows (| figure | xdpwgd | target | wireguard-go | ratio |), the
# header too unless ROWS_ONLY=1 (for bench/bench-cluster.sh, which prints its own); also in
# BENCH_OUT/bench-cluster-etcd.txt.
# Environment (defaults): ADD_REPS (20), N (100000; make bench-cluster BENCH_MILLION=1 runs
# 1000000, issue #21), SYNC_REPS (3), SYNC_CAP (60 s, 30 s per 100,000 peers beyond), BASELINE (1: the
# wireguard-go setconf; 0 skips it), BASELINE_CAP (60 s: the setconf is given up after this;
# wireguard-go 0.0.20220316 had used 2.5 min of CPU and 5 GB of memory on 100,000 peers
# without finishing when it was stopped), ROWS_ONLY (0), BENCH_OUT (build/bench). Runtime with
# the defaults ~3 min on a 2-core host: ~25 s writing the 100,000 records, ~30 s of syncs, the
# baseline's cap.

# shellcheck source=bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"
# shellcheck source=../tests/net/cluster_lib.sh
. "$B_TOP/tests/net/cluster_lib.sh"

b_require etcd etcdctl wireguard-go wg python3 nsenter unshare
ADD_REPS=${ADD_REPS:-20}
N=${N:-100000}
SYNC_REPS=${SYNC_REPS:-3}
# a sync not done after this many seconds is counted at the cap: 60 s, 30 s per 100,000 beyond
SYNC_CAP=${SYNC_CAP:-$((N / 100000 * 30 > 60 ? N / 100000 * 30 : 60))}
BASELINE=${BASELINE:-1}
BASELINE_CAP=${BASELINE_CAP:-60}
ROWS_ONLY=${ROWS_ONLY:-0}
OUT=${BENCH_OUT:-$XDPWG_BUILD/bench}
for v in ADD_REPS SYNC_REPS; do
	[[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -ge 1 ] && [ "${!v}" -le 1000 ] || b_die "$v: 1..1000"
done
[[ $N =~ ^[0-9]+$ ]] && [ "$N" -ge 1 ] && [ "$N" -le 1000000 ] || b_die "N: 1..1000000"
mkdir -p "$OUT" || b_die "mkdir $OUT"
[ -x "$XDPWG_BUILD/xdpwgd" ] || b_die "no $XDPWG_BUILD/xdpwgd (make first)"
CTL=$XDPWG_BUILD/xdpwgctl
NAME=bench
EURL1=http://198.18.3.1:2379
CAP_S=10 # a peer not everywhere after this is counted at the cap

# e_now: seconds, with ns
e_now() { date +%s.%N; }
e_sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f", a - b }'; }

declare -A GPID
e_start_gw()
{
	t_start_xdpwgd "gw$1" wg0 --cluster "$NAME" --etcd "$C_ETCD_ENDPOINTS" >/dev/null || return 1
	GPID[$1]=$T_PID
	t_wg "$T_PID" set wg0 private-key "$T_DIR/gw.key" listen-port 51820
}

# e_visible N PUB: gateway N lists the peer
e_visible() { t_wg "${GPID[$1]}" show wg0 peers | grep -qxF "$2"; }

b_log "lab: namespaces, three etcd members"
c_topology >/dev/null
c_etcd_up >/dev/null || b_die "etcd did not start"
for n in 1 2 3; do
	e_start_gw "$n" || b_die "xdpwgd on gw$n did not start"
done

# --- add: xdpwgctl returns -> on all three gateways ---
b_log "add: $ADD_REPS peers, one at a time"
ADD=()
capped=0
for i in $(seq "$ADD_REPS"); do
	pub=$(wg genkey | wg pubkey)
	t_in rt "$CTL" cluster --etcd "$C_ETCD_ENDPOINTS" --cluster "$NAME" add-peer "$pub" \
		allowed-ips "10.255.$((i / 256)).$((i % 256))/32" >/dev/null || b_die "add-peer failed"
	t0=$(e_now)
	for n in 1 2 3; do
		until e_visible "$n" "$pub"; do
			[ "$(e_sub "$(e_now)" "$t0" | cut -d. -f1)" -lt "$CAP_S" ] || break
		done
	done
	d=$(e_sub "$(e_now)" "$t0")
	e_visible 1 "$pub" && e_visible 2 "$pub" && e_visible 3 "$pub" || capped=$((capped + 1))
	ADD+=("$d")
done
printf '%s\n' "${ADD[@]}" >"$T_DIR/add.txt"
ADD50=$(b_pct 50 <"$T_DIR/add.txt")
ADD99=$(b_pct 99 <"$T_DIR/add.txt")
b_log "add: p50 $ADD50 s, p99 $ADD99 s (capped $capped)"

# --- sync: a new gateway reads N peers ---
for n in 1 2 3; do
	t_stop "${GPID[$n]}" || true
done
b_log "sync: writing $N peer records"
w0=$(e_now)
t_in e1 python3 "$B_TOP/tests/helpers/etcd-peers.py" "$N" "$EURL1" "$NAME" >/dev/null ||
	b_die "etcd-peers.py failed"
b_log "sync: written in $(e_sub "$(e_now)" "$w0") s"
TOTAL=$((N + ADD_REPS))
LOG=$T_DIR/xdpwgd-gw3-wg0.log
SYNC=()
scapped=0
for r in $(seq "$SYNC_REPS"); do
	before=$(grep -c "synced at revision" "$LOG")
	t0=$(e_now)
	e_start_gw 3 || b_die "xdpwgd on gw3 did not start"
	while [ "$(grep -c "synced at revision" "$LOG")" -le "$before" ]; do
		[ "$(e_sub "$(e_now)" "$t0" | cut -d. -f1)" -lt "$SYNC_CAP" ] || break
		sleep 0.02
	done
	d=$(e_sub "$(e_now)" "$t0")
	got=$(t_wg "${GPID[3]}" show wg0 peers | wc -l)
	[ "$got" = "$TOTAL" ] || {
		b_log "sync $r: $got peers, not $TOTAL"
		scapped=$((scapped + 1))
	}
	SYNC+=("$d")
	# where the time went: the daemon's own stamps of the read and of the applied set
	rd=$(grep " read .* peers .* at revision" "$LOG" | tail -n1 | cut -d' ' -f1)
	sy=$(grep "synced at revision" "$LOG" | tail -n1 | cut -d' ' -f1)
	b_log "sync $r: $d s, $got peers (read done $rd, applied $sy)"
	t_stop "${GPID[3]}" 10 || true
done
printf '%s\n' "${SYNC[@]}" >"$T_DIR/sync.txt"
SYNC50=$(b_pct 50 <"$T_DIR/sync.txt")
SYNCMAX=$(b_pct 100 <"$T_DIR/sync.txt")

# --- baseline: wg setconf of the same peers into wireguard-go ---
WGGO=-
if [ "$BASELINE" = 1 ]; then
	b_log "baseline: the same $TOTAL peers as a wg config file"
	t_in e1 python3 - "$EURL1" "$NAME" "$(cat "$T_DIR/gw.key")" >"$T_DIR/peers.conf" <<'PY' ||
import base64, json, sys, urllib.request
url, name, priv = sys.argv[1], sys.argv[2], sys.argv[3]
b64 = lambda s: base64.b64encode(s).decode()
pfx = ("/xdpwg/%s/peers/" % name).encode()
end = pfx[:-1] + bytes([pfx[-1] + 1])
key = pfx
print("[Interface]\nPrivateKey = %s\nListenPort = 51820" % priv)
while True:
    body = json.dumps({"key": b64(key), "range_end": b64(end), "limit": 5000}).encode()
    r = json.loads(urllib.request.urlopen(urllib.request.Request(url + "/v3/kv/range", data=body), timeout=60).read())
    kvs = r.get("kvs", [])
    for kv in kvs:
        rec = json.loads(base64.b64decode(kv["value"]))
        print("[Peer]\nPublicKey = %s\nAllowedIPs = %s\nPersistentKeepalive = %d"
              % (rec["public_key"], ", ".join(rec["allowed_ips"]), rec.get("persistent_keepalive", 0)))
    if not r.get("more"):
        break
    key = base64.b64decode(kvs[-1]["key"]) + b"\0"
PY
		b_die "reading the peers back from etcd failed"
	t_start_wggo gw3 wg1 >/dev/null || b_die "wireguard-go did not start"
	WPID=$T_PID
	t0=$(e_now)
	if timeout "$BASELINE_CAP" nsenter -t "$WPID" -m -n wg setconf wg1 "$T_DIR/peers.conf"; then
		WGGO=$(e_sub "$(e_now)" "$t0")
		got=$(t_wg "$WPID" show wg1 peers | wc -l)
		b_log "baseline: wg setconf of $got peers into wireguard-go: $WGGO s"
		[ "$got" = "$TOTAL" ] || WGGO=-
	else
		b_log "baseline: wg setconf not done within $BASELINE_CAP s"
		WGGO=capped
	fi
	t_stop "$WPID" || true
fi

# --- the rows ---
met() { awk -v v="$1" -v l="$2" -v c="$3" 'BEGIN { print (v != "-" && v <= l && c == 0) ? "met" : "MISSED" }'; }
ms() { case $1 in -) echo - ;; *) awk -v v="$1" 'BEGIN { printf "%.0f ms", v * 1000 }' ;; esac; }
s2() { case $1 in -) echo - ;; *) awk -v v="$1" 'BEGIN { printf "%.2f s", v }' ;; esac; }
{
	if [ "$ROWS_ONLY" != 1 ]; then
		echo "xdpwg bench-cluster-etcd, $(date -u +%FT%TZ), $(nproc --all) cores, kernel $(uname -r);" \
			"3 etcd members, 3 xdpwgd gateways (socket mode); $ADD_REPS adds, $N peers x $SYNC_REPS syncs"
		echo
		echo "| figure | xdpwgd | target | wireguard-go | ratio |"
		echo "|---|---|---|---|---|"
	fi
	echo "| a peer added in etcd, usable on all gateways: p50 / p99 (n $ADD_REPS) |" \
		"$(ms "$ADD50") / $(ms "$ADD99") | ≤ 1 s: $(met "$ADD99" 1 "$capped") |" \
		"n/a (no shared peer set; \`wg set\` or \`wg syncconf\` per gateway) | - |"
	echo "| $N peers: first sync of a new gateway: median / max (n $SYNC_REPS) |" \
		"$(s2 "$SYNC50") / $(s2 "$SYNCMAX") | $(if [ "$N" -le 100000 ]; then
			echo "≤ 10 s: $(met "$SYNCMAX" 10 "$scapped")"
		else
			echo "measured (#21)$([ "$scapped" = 0 ] || echo ", $scapped capped")"
		fi) |" \
		"$(case $WGGO in -) echo "n/a" ;; capped) echo "> $BASELINE_CAP s (\`wg setconf\` of the same peers, given up)" ;;
		*) echo "$(s2 "$WGGO") (\`wg setconf\` of the same peers, no store)" ;; esac) |" \
		"$(case $WGGO in capped) echo "< $(b_ratio "$SYNC50" "$BASELINE_CAP")" ;; *) b_ratio "$SYNC50" "$WGGO" ;; esac) |"
} | tee "$OUT/bench-cluster-etcd.txt"
cp "$LOG" "$OUT/bench-cluster-etcd-gw3.log" 2>/dev/null
