#!/usr/bin/env bash
# xdpwgctl against stock wireguard-go, checked by stock wg: configuring with one tool and reading
# with the other must agree, key for key and line for line. Peer order is normalised before
# comparing, since wireguard-go lists peers in Go map order (random on every get).
. "$(dirname "$0")/lib.sh"

t_require_root
t_require_cmd wireguard-go wg nsenter
X=$XDPWG_BUILD/xdpwgctl
[ -x "$X" ] || t_bail "no $X (run make)"

t_ns g
t_start_wggo g wg0 || t_bail "wireguard-go did not start"
G=$T_PID

# Commands run inside wireguard-go's namespaces, where its private /run is.
ctl() { t_at "$G" "$X" "$@"; }
wgc() { t_wg "$G" "$@"; }
# Paragraphs (interface block, peer blocks) sorted; lines within a block kept.
blocks() { awk 'BEGIN { RS = "" } { gsub(/\n/, "|"); print }' | sort; }
# First line kept, the rest sorted (dump and per-field output).
head_sorted() { awk 'NR == 1 { print; next } { print | "sort" }'; }

A=$(t_genkey a)
B=$(t_genkey b)
C=$(t_genkey c)
t_genkey srv >/dev/null
t_genpsk a
SRV=$(cat "$T_DIR/srv.key")
PSK=$(cat "$T_DIR/a.psk")

cat >"$T_DIR/wg0.conf" <<CONF
# a config as wg-quick users write them
[Interface]
PrivateKey = $SRV   # comment after a value
ListenPort = 51820
FwMark = 0x20
Address = 198.18.0.1/24
MTU = 1420
PostUp = true

[Peer]
PublicKey = $A
PresharedKey = $PSK
AllowedIPs = 198.18.0.2/32, 2001:db8:1::/64
Endpoint = 192.0.2.10:51820
PersistentKeepalive = 25

[peer]
publickey = $B
AllowedIPs = 198.51.100.0/24
Endpoint = [2001:db8::10]:4500
CONF

t_ok "setconf with comments and wg-quick keys" ctl setconf wg0 "$T_DIR/wg0.conf"

t_is "$(ctl show wg0 | blocks)" "$(wgc show wg0 | blocks)" "show agrees with wg show"
t_is "$(ctl showconf wg0 | blocks)" "$(wgc showconf wg0 | blocks)" \
	"showconf agrees with wg showconf"
t_is "$(ctl show wg0 dump | head_sorted)" "$(wgc show wg0 dump | head_sorted)" \
	"show dump agrees with wg show dump"
for f in public-key private-key listen-port fwmark peers preshared-keys endpoints allowed-ips \
	latest-handshakes transfer persistent-keepalive; do
	t_is "$(ctl show wg0 "$f" | sort)" "$(wgc show wg0 "$f" | sort)" "show $f agrees"
done
t_is "$(ctl show all dump | head_sorted)" "$(wgc show all dump | head_sorted)" "show all dump agrees"
t_is "$(ctl show interfaces)" "$(wgc show interfaces)" "show interfaces agrees"
t_is "$(ctl show wg0 --json | jq -r '.peers | length')" 2 "show --json is JSON with both peers"
t_is "$(ctl show wg0 --json | jq -r --arg a "$A" '.peers[] | select(.public_key == $a) | .persistent_keepalive')" \
	25 "show --json carries the keepalive"

# set: add, change, remove a peer
t_ok "set adds a peer" ctl set wg0 peer "$C" allowed-ips 203.0.113.0/24,192.0.2.128/25 \
	endpoint 192.0.2.20:1234 persistent-keepalive 5
t_is "$(wgc show wg0 allowed-ips | grep "^$C" | cut -f2)" "203.0.113.0/24 192.0.2.128/25" \
	"wg sees the new peer's allowed ips"
t_is "$(wgc show wg0 endpoints | grep "^$C" | cut -f2)" "192.0.2.20:1234" "wg sees its endpoint"
t_ok "set replaces allowed ips" ctl set wg0 peer "$C" allowed-ips 203.0.113.64/26
t_is "$(wgc show wg0 allowed-ips | grep "^$C" | cut -f2)" "203.0.113.64/26" \
	"allowed ips replaced"
t_ok "set persistent-keepalive off" ctl set wg0 peer "$C" persistent-keepalive off
t_is "$(wgc show wg0 persistent-keepalive | grep "^$C" | cut -f2)" off "keepalive off"
t_ok "set removes the peer" ctl set wg0 peer "$C" remove
t_is "$(wgc show wg0 peers | grep -c "^$C")" 0 "the peer is gone"
t_ok "set listen-port and fwmark" ctl set wg0 listen-port 51821 fwmark off
t_is "$(wgc show wg0 listen-port) $(wgc show wg0 fwmark)" "51821 off" "wg sees port and fwmark"

# addconf adds without removing
cat >"$T_DIR/add.conf" <<CONF
[Peer]
PublicKey = $C
AllowedIPs = 203.0.113.9
CONF
t_ok "addconf" ctl addconf wg0 "$T_DIR/add.conf"
t_is "$(wgc show wg0 peers | sort)" "$(printf '%s\n' "$A" "$B" "$C" | sort)" \
	"addconf kept the others"
t_is "$(wgc show wg0 listen-port)" 51821 "addconf left the port alone"

# syncconf: B and C are not in the file, so they go; A stays (its psk dropped as the file says)
cat >"$T_DIR/sync.conf" <<CONF
[Interface]
PrivateKey = $SRV
ListenPort = 51820
[Peer]
PublicKey = $A
AllowedIPs = 198.18.0.2/32
CONF
t_ok "syncconf" ctl syncconf wg0 "$T_DIR/sync.conf"
t_is "$(wgc show wg0 peers)" "$A" "syncconf removed the peers not in the file"
t_is "$(wgc show wg0 preshared-keys | cut -f2)" "(none)" "syncconf reset the preshared key"
t_is "$(wgc show wg0 persistent-keepalive | cut -f2)" off "syncconf reset the keepalive"
t_is "$(wgc showconf wg0 | blocks)" "$(ctl showconf wg0 | blocks)" "showconf still agrees"

# keys interoperate both ways
k=$("$X" genkey)
t_is "$(echo "$k" | "$X" pubkey)" "$(echo "$k" | wg pubkey)" "xdpwgctl genkey, both pubkeys agree"
k=$(wg genkey)
t_is "$(echo "$k" | "$X" pubkey)" "$(echo "$k" | wg pubkey)" "wg genkey, xdpwgctl pubkey agrees"
t_is "$(ctl genpsk | wc -c)" 45 "genpsk prints a 44-character key"

# bad arguments: exit 1, one message naming the argument, nothing changed
before=$(wgc showconf wg0)
bad()
{
	local desc=$1 want=$2 out rc
	shift 2
	out=$(ctl "$@" 2>&1 >/dev/null)
	rc=$?
	t_is "$rc" 1 "$desc: exit status 1"
	t_like "$out" "$want" "$desc: message names it"
	t_is "$(wgc showconf wg0)" "$before" "$desc: config unchanged"
}
bad "port out of range" "listen-port: \"70000\" is not a port" set wg0 listen-port 70000
bad "bad cidr" 'allowed-ips: "198.18.0.0/33"' set wg0 peer "$B" allowed-ips 198.18.0.0/33
bad "bad peer key" "peer: \"nope\"" set wg0 peer nope allowed-ips 198.18.0.0/24
bad "valid peer then bad keepalive" "persistent-keepalive" \
	set wg0 peer "$B" allowed-ips 198.18.9.0/24 persistent-keepalive 99999
bad "unknown argument" "frobnicate: invalid argument" set wg0 frobnicate 1
printf '[Interface]\nListenPort = 1\n[Peer]\nPublicKey = %s\nAllowedIPs = 1.2.3.4/40\n' "$B" \
	>"$T_DIR/bad.conf"
bad "setconf with a bad line" "bad.conf:5: AllowedIPs" setconf wg0 "$T_DIR/bad.conf"
cp "$T_DIR/b.key" "$T_DIR/open.key"
chmod 644 "$T_DIR/open.key"
bad "world-readable key file" "chmod 600 $T_DIR/open.key" set wg0 private-key "$T_DIR/open.key"
bad "no such interface" "wg9" show wg9

t_done
