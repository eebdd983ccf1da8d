#!/usr/bin/env bash
# A large peer set on the XDP gateway (issue #21, sized to keep make test fast): xdpwgd
# --attach eth0 loads PEERS_LARGE_N (50,000) peers in one set=1 (build/bench/peers-load: one
# allowed IP each, every 8th an IPv4 /32 from 198.18.1.0, the others 2001:db8:1::N/128), then:
# the peers and their allowed IPs are listed (the streamed get=1) and looked up by address; the
# pinned BPF peers map holds one entry per peer (tests/helpers/bpf_mapfill -c); 100 peers removed in one set=1 are gone from
# the listing, the allowed IPs and the BPF map; one peer added and removed alone each take
# under 10 ms (median of 5); the daemon's VmRSS stays under 40 MB + 4 KiB per peer (a million
# peers measure ~1.3 KB each, docs/benchmarks.md). Then what reads the whole set in pieces:
# xdpwgctl show dump (the reply kept in ~50-peer pieces) gives wg's dump byte for byte, showconf
# lists every peer, and the --metrics endpoint (streamed, one engine dump per family) gives a
# scrape that promtool accepts, with one line per peer in each family and the same peer lines
# as xdpwgctl metrics. Last, 1,000 more peers in sets of 100 (incremental `wg set`s) are all
# there with their allowed IPs.
. "$(dirname "$0")/lib.sh"
t_require_root
t_require_cmd wg socat python3 curl promtool
t_require_xdpwgd
LOADER=$XDPWG_BUILD/bench/peers-load
FILL=$XDPWG_BUILD/tests/helpers/bpf_mapfill
[ -x "$LOADER" ] && [ -x "$FILL" ] || t_bail "no $LOADER or $FILL (run make)"
N=${PEERS_LARGE_N:-50000}
GONE=100
PINS=/sys/fs/bpf/xdpwg/wg0

t_ns gw
t_ns cl
t_link gw eth0 198.18.0.1/24 cl eth0 198.18.0.2/24
t_genkey gw >/dev/null

t_start_xdpwgd gw wg0 --attach eth0 --metrics 127.0.0.1:9586 || t_bail "xdpwgd did not start"
GW=$T_PID
t_wg "$GW" set wg0 private-key "$T_DIR/gw.key" listen-port 51820 || t_bail "wg set"

# the BPF peers map's entries (the pins live in the daemon's mount namespace)
bpf_peers()
{
	t_at "$GW" "$FILL" -c "$PINS/peers"
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$GW/status"; }

start=$SECONDS
line=$(t_at "$GW" "$LOADER" -4 8 /run/wireguard/wg0.sock "$N" 2>&1)
t_result $? "$N peers load in one set=1 ($line)"
t_diag "loaded in $((SECONDS - start)) s (keys generated included)"

t_wg "$GW" show wg0 dump >"$T_DIR/dump" 2>>"$T_DIR/log"
t_is "$(($(wc -l <"$T_DIR/dump") - 1))" "$N" "wg show dump lists every peer (streamed get=1)"
t_is "$(t_wg "$GW" show wg0 peers | wc -l)" "$N" "wg show peers lists $N"

# peer i (0-based): IPv4 198.18.1.0 + i/8 when i % 8 == 0, else 2001:db8:1::(i+1)/128
v6=$(awk -F'\t' 'NR > 1 && $4 == "2001:db8:1::2/128"' "$T_DIR/dump" | wc -l)
t_is "$v6" 1 "peer 1 has 2001:db8:1::2/128"
v4=$(awk -F'\t' 'NR > 1 && $4 == "198.18.1.1/32"' "$T_DIR/dump" | wc -l)
t_is "$v4" 1 "peer 8 has 198.18.1.1/32"
last=$(printf '2001:db8:1::%x/128' "$N")
t_is "$(awk -F'\t' -v a="$last" 'NR > 1 && $4 == a' "$T_DIR/dump" | wc -l)" 1 "peer $((N - 1)) has $last"
n4=$(awk -F'\t' 'NR > 1 && $4 ~ /\/32$/' "$T_DIR/dump" | wc -l)
t_is "$n4" "$(((N + 7) / 8))" "one peer in 8 has an IPv4 /32"

# lookups by address: wg show allowed-ips maps each prefix to its peer's key
key_v4=$(awk -F'\t' 'NR > 1 && $4 == "198.18.1.1/32" { print $1 }' "$T_DIR/dump")
t_wg "$GW" show wg0 allowed-ips >"$T_DIR/aips"
t_like "$(grep -F "$key_v4" "$T_DIR/aips")" "198\\.18\\.1\\.1/32" "the IPv4 peer's key maps to its /32"

t_is "$(bpf_peers)" "$N" "the pinned BPF peers map holds $N entries"

# remove GONE peers (every 97th line of the dump) in one set=1
awk -F'\t' -v g="$GONE" 'NR > 1 && (NR % 97) == 0 && c < g { print $1; c++ }' "$T_DIR/dump" >"$T_DIR/gone"
t_is "$(wc -l <"$T_DIR/gone")" "$GONE" "picked $GONE peers to remove"
python3 -c 'import base64, sys
print("set=1")
for k in sys.stdin.read().split():
    print("public_key=" + base64.b64decode(k).hex())
    print("remove=true")
print()' <"$T_DIR/gone" >"$T_DIR/remove"
t_like "$(t_uapi "$GW" wg0 <"$T_DIR/remove")" "errno=0" "$GONE peers removed in one set=1"
t_wg "$GW" show wg0 dump >"$T_DIR/dump2"
t_is "$(($(wc -l <"$T_DIR/dump2") - 1))" "$((N - GONE))" "$((N - GONE)) peers listed"
t_is "$(grep -cFf "$T_DIR/gone" "$T_DIR/dump2")" 0 "no removed peer is listed"
t_wg "$GW" show wg0 allowed-ips >"$T_DIR/aips2"
t_is "$(grep -cFf "$T_DIR/gone" "$T_DIR/aips2")" 0 "no removed peer has an allowed IP"
t_is "$(bpf_peers)" "$((N - GONE))" "the pinned BPF peers map lost them too"

ops=$(t_at "$GW" "$LOADER" -o 5 -4 8 /run/wireguard/wg0.sock 1 2>&1)
t_result $? "single adds and removals ($ops)"
add=$(sed -n 's/.*add_ms_median \([0-9.]*\).*/\1/p' <<<"$ops")
del=$(sed -n 's/.*remove_ms_median \([0-9.]*\).*/\1/p' <<<"$ops")
t_result "$(awk -v a="$add" -v d="$del" 'BEGIN { print !(a < 10 && d < 10) }')" \
	"adding ($add ms) and removing ($del ms) one peer among $N: under 10 ms"

CTL=$XDPWG_BUILD/xdpwgctl
# the -o run above left its one base peer behind
M=$((N - GONE + 1))
t_wg "$GW" show wg0 dump >"$T_DIR/dump3"
t_is "$(($(wc -l <"$T_DIR/dump3") - 1))" "$M" "$M peers listed"
WG_HIDE_KEYS=never t_at "$GW" "$CTL" show wg0 dump >"$T_DIR/ctl_dump"
t_ok "xdpwgctl show dump is wg's, byte for byte ($M peers in pieces)" cmp "$T_DIR/dump3" "$T_DIR/ctl_dump"
t_is "$(t_at "$GW" "$CTL" showconf wg0 | grep -c '^\[Peer\]')" "$M" "showconf lists $M peers"

t_in gw curl -sSf -m 60 -o "$T_DIR/scrape" http://127.0.0.1:9586/metrics
t_result $? "a scrape of $M peers over HTTP"
t_ok "promtool accepts the streamed exposition" promtool check metrics <"$T_DIR/scrape"
for fam in xdpwg_peer_receive_bytes_total xdpwg_peer_last_move_seconds \
	wireguard_received_bytes_total wireguard_latest_handshake_seconds; do
	t_is "$(grep -c "^$fam{" "$T_DIR/scrape")" "$M" "$fam: one line per peer"
done
t_is "$(grep -c '^# TYPE ' "$T_DIR/scrape" | tr -d ' ')" \
	"$(grep '^# TYPE ' "$T_DIR/scrape" | sort -u | wc -l)" "each family's head once"
peer_lines() { grep -E '^(xdpwg_peer|wireguard)_' | grep -v handshake_age; }
t_at "$GW" "$CTL" metrics wg0 >"$T_DIR/ctl_metrics"
t_ok "the same peer lines as xdpwgctl metrics" \
	cmp <(peer_lines <"$T_DIR/scrape") <(peer_lines <"$T_DIR/ctl_metrics")

more=$(t_at "$GW" "$LOADER" -b 100 /run/wireguard/wg0.sock 1000 2001:db8:2:: 2>&1)
t_result $? "1000 more peers in 10 sets of 100 ($more)"
t_wg "$GW" show wg0 dump >"$T_DIR/dump4"
t_is "$(($(wc -l <"$T_DIR/dump4") - 1))" "$((M + 1000))" "$((M + 1000)) peers listed"
t_is "$(awk -F'\t' 'NR > 1 && $4 ~ /^2001:db8:2::/' "$T_DIR/dump4" | wc -l)" 1000 \
	"each of them with its own allowed IP"
t_is "$(awk -F'\t' 'NR > 1 && $4 == "2001:db8:2::3e8/128"' "$T_DIR/dump4" | wc -l)" 1 \
	"the last one has 2001:db8:2::3e8/128"
t_is "$(bpf_peers)" "$((M + 1000))" "the pinned BPF peers map has them too"

rss=$(rss_kb)
bound=$((40 * 1024 + 4 * N))
if t_sanitized; then
	t_skip "VmRSS $((rss / 1024)) MB: a sanitizer build's memory is ASan's, the bound is the daemon's"
else
	t_result "$([ "$rss" -lt "$bound" ] && echo 0 || echo 1)" \
		"VmRSS $((rss / 1024)) MB < $((bound / 1024)) MB (40 MB + 4 KiB per peer)"
fi
kill -0 "$GW" 2>/dev/null
t_result $? "the daemon is still running"

t_done
