#!/usr/bin/env bash
# Spoof-proof roaming: real datagrams of the client (its handshake initiation and data packets,
# captured on the router with AF_PACKET) re-sent from another address (a spoofing namespace),
# data packets with forged counters, and cookie replies carrying a valid receiver index: none
# moves the endpoint, none makes an event. Then the genuine client moves and that does.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/roam_lib.sh"
t_require_root
t_require_cmd wg python3
t_require_xdpwgd

r_topology
t_ok "gateway up" r_start_gw

# capture what the client sends to the gateway, from its first packet on
r_sniff_start 60 15
t_ok "client up" r_start_cl "${ROAM_CL:-xdpwgd}"
t_ok "tunnel up" t_wait 3 t_in cl ping -c1 -W1 192.0.2.1
t_in cl ping -c 60 -i 0.02 -W1 192.0.2.1 >/dev/null 2>&1
wait "$SNIFF" 2>/dev/null
t_like "$(grep -c '^04' "$T_DIR/captured")" '^[1-9][0-9]+$' "captured the client's data packets"
t_like "$(grep -c '^01' "$T_DIR/captured")" '^[1-9]' "captured its handshake initiation"
ep0=$(r_gw_endpoint)
t_is "$ep0" "198.51.100.2:51821" "gateway has the client at its wifi address"

spoof()
{
	t_in sp python3 - "$T_DIR/captured" <<'PY'
import os, socket, struct, sys
pkts = [bytes.fromhex(l.strip()) for l in open(sys.argv[1]) if l.strip()]
data = [p for p in pkts if p[0] == 4][:50]
init = [p for p in pkts if p[0] == 1]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("203.0.113.130", 40000))
dst = ("198.18.0.1", 51820)
sent = 0
for p in data:                                 # replays of captured data packets
    s.sendto(p, dst); sent += 1
for p in init:                                 # a replayed handshake initiation
    s.sendto(p, dst); sent += 1
for i, p in enumerate(data[:20]):              # forged counters on a valid receiver index
    f = bytearray(p); f[8:16] = struct.pack("<Q", 1000000 + i); s.sendto(bytes(f), dst); sent += 1
idx = data[0][4:8]
for i in range(10):                            # cookie replies to a valid receiver index
    s.sendto(struct.pack("<I", 3) + idx + os.urandom(56), dst); sent += 1
print(sent)
PY
}
n=$(spoof)
t_like "$n" '^[0-9]+$' "sent $n spoofed, replayed and forged datagrams from 203.0.113.130"
t_result $((n >= 50 ? 0 : 1)) "at least 50 of them"
sleep 1
t_is "$(r_gw_endpoint)" "$ep0" "the endpoint did not move"
t_is "$(r_nevents)" 0 "no move event"
t_unlike_moves()
{
	! t_at "$GW" "$CTL" show wg0 | grep -q "endpoint moves"
}
t_ok "show reports no move" t_unlike_moves
t_ok "the tunnel still works from the real client" t_in cl ping -c1 -W2 192.0.2.1
t_is "$(r_gw_endpoint)" "$ep0" "still at the wifi address after real traffic"

# the genuine move still works, and is the only event
r_wifi_down
t_in cl ping -c1 -W2 192.0.2.1 >/dev/null 2>&1
t_ok "the real client moves to lte" \
	t_wait 5 sh -c "nsenter -t $GW -m -n wg show wg0 endpoints | grep -q 203.0.113.2:51821"
t_is "$(r_nevents)" 1 "one event, for the real move"
t_done
