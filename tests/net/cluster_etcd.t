#!/usr/bin/env bash
# The cluster's peer set and membership in etcd (daemon/cluster.c, lib/etcd.c,
# docs/cluster.md "The peer set in etcd"):
#
#   ns et:  three etcd members on 198.18.3.1-3 (lo), a 3-member cluster; the tools run here
#   ns gw1: xdpwgd --cluster lab, gateway 1   eth1 198.18.4.1/30 to et, eth0 198.18.0.1/24
#   ns gw2: xdpwgd --cluster lab, gateway 2   eth1 198.18.4.5/30 to et
#   ns gw3: a gateway started late (first sync of 1000 peers), eth1 198.18.4.9/30 to et
#   ns cl:  wireguard-go client, eth0 198.18.0.2/24, tunnel 192.0.2.2 through gw1
#
# Socket mode (no XDP). All gateways share the cluster's private key, each from its own 0600
# file. A peer added with xdpwgctl reaches both gateways and carries traffic; a malformed
# record put with etcdctl is refused with a log line naming its key and changes nothing;
# remove-peer removes it everywhere; with one etcd member SIGKILLed, changes still propagate;
# a gateway SIGKILLed leaves the membership after its lease; a new gateway's first sync of
# 1000 peers.
. "$(dirname "$0")/lib.sh"

t_require_root
t_require_cmd etcd etcdctl wireguard-go wg ping nsenter unshare python3
t_require_xdpwgd

CTL=$XDPWG_BUILD/xdpwgctl
EURLS=http://198.18.3.1:2379,http://198.18.3.2:2379,http://198.18.3.3:2379
export XDPWG_CLUSTER=lab

t_ns et
for g in 1 2 3; do
	t_ns gw$g
	t_link gw$g eth1 198.18.4.$((g * 4 - 3))/30 et g$g 198.18.4.$((g * 4 - 2))/30
	t_in gw$g ip route add 198.18.3.0/24 via 198.18.4.$((g * 4 - 2))
done
t_ns cl
t_link gw1 eth0 198.18.0.1/24 cl eth0 198.18.0.2/24
for m in 1 2 3; do
	t_in et ip addr add 198.18.3.$m/32 dev lo
done

# three members; data directories under T_DIR (removed on exit), processes tracked
INITIAL=e1=http://198.18.3.1:2380,e2=http://198.18.3.2:2380,e3=http://198.18.3.3:2380
declare -A EPID
for m in 1 2 3; do
	# a simple command, so that $! is etcd itself (ip netns exec execs it)
	ip netns exec "$(t_nsname et)" etcd --name e$m --data-dir "$T_DIR/e$m" \
		--listen-peer-urls http://198.18.3.$m:2380 \
		--initial-advertise-peer-urls http://198.18.3.$m:2380 \
		--listen-client-urls http://198.18.3.$m:2379 \
		--advertise-client-urls http://198.18.3.$m:2379 \
		--initial-cluster "$INITIAL" --initial-cluster-state new \
		--initial-cluster-token "$T_PFX" >"$T_DIR/etcd-e$m.log" 2>&1 &
	EPID[$m]=$!
	t_track "${EPID[$m]}"
	disown "${EPID[$m]}" # killed by pid (here and at exit), never reported as a job
done
ectl() { t_in et etcdctl --endpoints "$EURLS" --command-timeout=3s "$@"; }
cctl() { t_in et "$CTL" cluster --etcd "$EURLS" "$@"; }
t_ok "a 3-member etcd cluster is up" t_wait 20 ectl put /probe ok ||
	{ t_show_log; t_bail "etcd did not start"; }

KGW=$(t_genkey gw)
KC=$(t_genkey cl) # t_wggo_client reads cl.key
KX=$(t_genkey x)
name_of() { tr '+/' '-_' <<<"$1"; }

declare -A GPID
start_gw() {
	local g=$1
	XDPWG_GATEWAY_ID=$g XDPWG_UNDERLAY=198.18.4.$((g * 4 - 3)) \
		t_start_xdpwgd gw$g wg0 --cluster lab --etcd "$EURLS" || return 1
	GPID[$g]=$T_PID
	t_wg "$T_PID" set wg0 private-key "$T_DIR/gw.key" listen-port 51820
}
has_peer() { t_wg "${GPID[$1]}" show wg0 peers | grep -qxF "$2"; }
lacks_peer() { ! t_wg "${GPID[$1]}" show wg0 peers | grep -qxF "$2"; }
ips_of() { t_wg "${GPID[$1]}" show wg0 allowed-ips | awk -v k="$2" '$1 == k { $1 = ""; print substr($0, 2) }'; }
log_has() { grep -qF -- "$2" "$T_DIR/xdpwgd-gw$1-wg0.log"; }
members() { cctl gateways | sort | tr '\n' ';'; }
members_are() { [ "$(members)" = "$1" ]; }
npeers() { t_wg "${GPID[$1]}" show wg0 peers | wc -l; }
npeers_is() { [ "$(npeers "$1")" = "$2" ]; }

start_gw 1 || t_bail "gateway 1 did not start"
start_gw 2 || t_bail "gateway 2 did not start"
t_ok "both gateways registered, with their ids and underlay addresses" \
	t_wait 10 members_are "gateway 1: 198.18.4.1;gateway 2: 198.18.4.5;"
t_ok "gateway 1 saw gateway 2 join" t_wait 5 log_has 1 "gateway 2 (198.18.4.5) joined"

# add-peer: on both gateways, and the client gets through
t_ok "xdpwgctl cluster add-peer" cctl add-peer "$KC" allowed-ips 192.0.2.2/32 persistent-keepalive 25
t_ok "... gateway 1 has the peer" t_wait 5 has_peer 1 "$KC"
t_ok "... gateway 2 has the peer" t_wait 5 has_peer 2 "$KC"
t_is "$(ips_of 2 "$KC")" "192.0.2.2/32" "... with its allowed IPs"
t_is "$(t_wg "${GPID[2]}" show wg0 persistent-keepalive | awk -v k="$KC" '$1 == k { print $2 }')" 25 \
	"... and its keepalive"
list_has() { cctl list "${@:2}" | grep -qF -- "$1"; }
t_ok "xdpwgctl cluster list shows it" list_has "peer: $KC"
t_ok "... and list --json" list_has "\"public_key\": \"$KC\"" --json
t_like "$(ectl get "/xdpwg/lab/peers/$(name_of "$KC")" --print-value-only)" \
	'^\{"public_key":"[^"]*","allowed_ips":\["192.0.2.2/32"\],"persistent_keepalive":25\}$' \
	"etcdctl reads the record as JSON"
t_in gw1 ip addr add 192.0.2.1/24 dev wg0
t_in gw1 ip link set wg0 up
t_wggo_client cl "$KGW" || t_bail "wireguard-go client did not start"
t_ok "the client pings through gateway 1 with the peer from etcd" t_wait 10 t_in cl ping -c1 -W1 192.0.2.1

# etcdctl put works as well, and a malformed record changes nothing
REC="{\"public_key\":\"$KX\",\"allowed_ips\":[\"192.0.2.3/32\"],\"roam_policy\":\"pinned\"}"
t_ok "etcdctl put of a well-formed record" ectl put "/xdpwg/lab/peers/$(name_of "$KX")" "$REC"
t_ok "... on gateway 1" t_wait 5 has_peer 1 "$KX"
t_ok "... on gateway 2" t_wait 5 has_peer 2 "$KX"
BAD="{\"public_key\":\"$KC\",\"allowed_ips\":[\"192.0.2.300/32\"]}"
t_ok "etcdctl put of a record with a bad CIDR" ectl put "/xdpwg/lab/peers/$(name_of "$KC")" "$BAD"
for g in 1 2; do
	t_ok "... gateway $g refuses it, naming the key" \
		t_wait 5 log_has $g "/xdpwg/lab/peers/$(name_of "$KC") refused: allowed_ips[0]"
	t_is "$(ips_of $g "$KC")" "192.0.2.2/32" "... gateway $g keeps the peer's settings"
done
t_ok "... and the client still pings" t_in cl ping -c1 -W2 192.0.2.1
ectl put "/xdpwg/lab/peers/$(name_of "$KX")" "{\"public_key\":\"$KC\",\"allowed_ips\":[]}" >/dev/null
t_ok "a record filed under another key is refused" \
	t_wait 5 log_has 1 "/xdpwg/lab/peers/$(name_of "$KX") refused: public_key: not the key"
t_is "$(ips_of 1 "$KX")" "192.0.2.3/32" "... and changes nothing"
t_ok "a peer configured locally" t_wg "${GPID[1]}" set wg0 peer "$(t_genkey l)" allowed-ips 192.0.2.9/32
t_is "$(cctl add-peer "$KC" allowed-ips 10.0.0.0/33 2>&1; echo "rc=$?")" \
	"xdpwgctl: cluster: allowed-ips: \"10.0.0.0/33\" is not a CIDR
rc=1" "xdpwgctl cluster add-peer refuses a bad CIDR"
t_is "$(cctl add-peer "$KC" allowed-ips 192.0.2.2/32 preshared-key x 2>&1 | grep -c secrets)" 1 \
	"... and a preshared key"

t_is "$(t_in et env -u XDPWG_CLUSTER "$CTL" cluster --etcd "$EURLS" list 2>&1; echo "rc=$?")" \
	"xdpwgctl: cluster: no cluster name: --cluster NAME or XDPWG_CLUSTER
rc=1" "xdpwgctl cluster without a cluster name is refused"
t_is "$(cctl add-peer not-a-key 2>&1; echo "rc=$?")" \
	"xdpwgctl: cluster add-peer: not-a-key: not a public key (base64, 32 bytes)
rc=1" "... a bad public key"
t_like "$(t_in et "$CTL" cluster --etcd 198.18.3.1:2379 list 2>&1; echo "rc=$?")" \
	"not an http:// or https:// URL.*rc=1" "... a bad --etcd"
t_like "$(cctl frobnicate 2>&1; echo "rc=$?")" "unknown subcommand .*Usage: xdpwgctl cluster.*rc=1" \
	"... an unknown subcommand, with the usage"

# remove-peer: gone from both; the locally configured peer stays
t_ok "xdpwgctl cluster remove-peer" cctl remove-peer "$KX"
t_ok "... gone from gateway 1" t_wait 5 lacks_peer 1 "$KX"
t_ok "... gone from gateway 2" t_wait 5 lacks_peer 2 "$KX"
t_ok "... the local peer is left alone" has_peer 1 "$(cat "$T_DIR/l.pub")"
t_is "$(cctl remove-peer "$KX" 2>&1 >/dev/null; echo "rc=$?")" \
	"xdpwgctl: cluster remove-peer: $KX: no such peer in cluster lab
rc=1" "removing it again: no such peer"

# one etcd member killed (the first of every endpoint list): nothing changes
kill -KILL "${EPID[1]}"
t_ok "etcd member 1 is gone" t_wait 5 sh -c "! kill -0 ${EPID[1]} 2>/dev/null"
K2=$(t_genkey k2)
t_ok "etcd member 1 killed: add-peer still works" cctl add-peer "$K2" allowed-ips 192.0.2.4/32
t_ok "... and reaches gateway 1" t_wait 10 has_peer 1 "$K2"
t_ok "... and gateway 2" t_wait 10 has_peer 2 "$K2"
t_ok "... the client still pings" t_in cl ping -c1 -W2 192.0.2.1
t_is "$(members)" "gateway 1: 198.18.4.1;gateway 2: 198.18.4.5;" "... the membership is intact"

# a gateway killed: its membership goes with its lease (3 s)
kill -KILL "${GPID[2]}"
t_ok "gateway 2 killed: its key is gone after the lease" \
	t_wait 10 members_are "gateway 1: 198.18.4.1;"
t_ok "... and gateway 1 saw it leave" t_wait 5 log_has 1 "gateway 2 (198.18.4.5) left"

# gateway 1 cut off from etcd while peers change and the history is compacted: when it is
# back, its watch finds its revision gone and it reads the whole set again, removals included
K3=$(t_genkey k3)
t_in gw1 ip link set eth1 down
t_ok "gateway 1 cut off from etcd: its watch notices (TCP keepalive)" \
	t_wait 15 log_has 1 "no etcd member answers"
changes() { cctl add-peer "$K3" allowed-ips 192.0.2.5/32 && cctl remove-peer "$K2"; }
t_ok "... add-peer and remove-peer meanwhile" changes
REV=$(ectl get /probe -w fields | awk -F' : ' '/^"Revision"/ { print $2 }')
t_ok "... and the history compacted (revision $REV)" ectl compact "$REV"
t_in gw1 ip link set eth1 up
t_in gw1 ip route add 198.18.3.0/24 via 198.18.4.2
t_ok "gateway 1 back: it resyncs (the added peer is there)" t_wait 20 has_peer 1 "$K3"
t_ok "... and the removed peer is gone" t_wait 5 lacks_peer 1 "$K2"
t_ok "... after a full read, named in the log" log_has 1 "reading the whole peer set again"
t_ok "... the local peer is still left alone" has_peer 1 "$(cat "$T_DIR/l.pub")"
t_ok "... and gateway 1 is (again) a member" t_wait 10 members_are "gateway 1: 198.18.4.1;"

# an id already registered is not taken over
XDPWG_GATEWAY_ID=1 XDPWG_UNDERLAY=198.18.4.5 t_start_xdpwgd gw2 wg1 --cluster lab --etcd "$EURLS" ||
	t_bail "a second gateway 1 did not start"
DUP=$T_PID
t_ok "a second gateway with id 1 waits for the id" \
	t_wait 5 grep -qF "gateway id 1 is taken" "$T_DIR/xdpwgd-gw2-wg1.log"
t_is "$(members)" "gateway 1: 198.18.4.1;" "... and the registration stays gateway 1's"
t_stop "$DUP"

# first sync of a new gateway: 1000 peers written straight through the JSON gateway
# (tests/helpers/etcd-peers.py, in transactions of 128)
t_ok "1000 peers written" t_in et python3 "$(cd "$(dirname "$0")/../.." && pwd)/tests/helpers/etcd-peers.py" \
	1000 http://198.18.3.2:2379 lab
start_gw 3 || t_bail "gateway 3 did not start"
# every peer but the one whose record is malformed (put above and left so)
t_ok "gateway 3's first sync: 1001 peers" t_wait 20 npeers_is 3 1001
t_ok "... the malformed record refused there too" log_has 3 "/xdpwg/lab/peers/$(name_of "$KC") refused"
t_ok "... in one request" log_has 3 "synced at revision"
t_ok "... gateway 1 has them too" t_wait 20 npeers_is 1 1003
t_ok "gateway 3 registered" t_wait 5 members_are "gateway 1: 198.18.4.1;gateway 3: 198.18.4.9;"

# a clean stop leaves the membership at once (the lease revoked)
t_stop "${GPID[3]}"
t_ok "gateway 3 stopped: its key is gone at once" \
	t_wait 2 members_are "gateway 1: 198.18.4.1;"

# a local request that removes peers from etcd (wg set ... remove, setconf) does not keep
# them away: the gateway reads etcd again and puts them back
t_ok "the client's record corrected in etcd" cctl add-peer "$KC" allowed-ips 192.0.2.2/32
t_ok "... applied on gateway 1" t_wait 5 log_has 1 "/xdpwg/lab/peers/$(name_of "$KC") applied"
t_ok "wg set removes a peer from etcd on gateway 1" t_wg "${GPID[1]}" set wg0 peer "$K3" remove
t_ok "... it comes back from etcd" t_wait 5 has_peer 1 "$K3"
printf '[Interface]\nPrivateKey = %s\nListenPort = 51820\n' "$(cat "$T_DIR/gw.key")" >"$T_DIR/gw.conf"
t_ok "setconf with a file without peers (as the systemd unit runs at start)" \
	t_at "${GPID[1]}" wg setconf wg0 "$T_DIR/gw.conf"
t_ok "... the peers from etcd come back (the local one is gone)" t_wait 10 npeers_is 1 1002
t_ok "... named in the log" log_has 1 "a local set removed peers from etcd"

t_no_sanitizer_reports
t_done
