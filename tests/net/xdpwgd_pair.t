#!/usr/bin/env bash
# Two xdpwgd talking to each other over the socket back-end, outer IPv6, with a preshared key:
# handshake, pings over inner IPv4 and IPv6, a TCP transfer each way, byte counters that match
# over a quiet exchange, a listen-port change on one side mid-session, and clean SIGTERM exits.
. "$(dirname "$0")/lib.sh"

t_require_root
t_require_cmd wg socat ping nsenter unshare
t_require_xdpwgd

XFER_BYTES=$((4 << 20))

t_ns a
t_ns b
t_link a eth0 198.18.0.1/24 b eth0 198.18.0.2/24 2001:db8:1::1/64 2001:db8:1::2/64
t_start_xdpwgd a wg0 || t_bail "xdpwgd a did not start"
A=$T_PID
t_start_xdpwgd b wg0 || t_bail "xdpwgd b did not start"
B=$T_PID
KA=$(t_genkey a)
KB=$(t_genkey b)
t_genpsk ab

t_ok "configure a" t_wg "$A" set wg0 private-key "$T_DIR/a.key" listen-port 51820 \
	peer "$KB" preshared-key "$T_DIR/ab.psk" allowed-ips 192.0.2.2/32,2001:db8:2::2/128 \
	endpoint "[2001:db8:1::2]:51821"
t_ok "configure b" t_wg "$B" set wg0 private-key "$T_DIR/b.key" listen-port 51821 \
	peer "$KA" preshared-key "$T_DIR/ab.psk" allowed-ips 192.0.2.1/32,2001:db8:2::1/128
for s in a:1 b:2; do
	t_in "${s%:*}" ip addr add "192.0.2.${s#*:}/24" dev wg0
	t_in "${s%:*}" ip addr add "2001:db8:2::${s#*:}/64" dev wg0 nodad
	t_in "${s%:*}" ip link set wg0 up
done

t_ok "ping inner IPv4 a -> b (handshake)" t_in a ping -n -c 2 -i 0.2 -w 10 192.0.2.2
t_ok "ping inner IPv6 b -> a" t_in b ping -n -c 2 -i 0.2 -w 5 2001:db8:2::1
t_is "$(t_wg "$B" show wg0 endpoints | awk '{ print $2 }')" "[2001:db8:1::1]:51820" \
	"b learned a's endpoint from the handshake"

head -c $XFER_BYTES /dev/urandom >"$T_DIR/send.bin"
t_ok "TCP transfer a -> b over inner IPv4" t_tcp_transfer a b 192.0.2.2 5001 "$T_DIR/send.bin"
t_ok "TCP transfer b -> a over inner IPv6" \
	t_tcp_transfer b a "[2001:db8:2::1]" 5001 "$T_DIR/send.bin"

transfer()
{
	t_wg "$1" show wg0 transfer | awk '{ print $2, $3 }'
}
sleep 0.3
read -r arx0 atx0 <<<"$(transfer "$A")"
read -r brx0 btx0 <<<"$(transfer "$B")"
t_in a ping -n -q -c 5 -i 0.1 -w 5 192.0.2.2 >/dev/null
t_in b ping -n -q -c 5 -i 0.1 -w 5 2001:db8:2::1 >/dev/null
sleep 0.3
read -r arx1 atx1 <<<"$(transfer "$A")"
read -r brx1 btx1 <<<"$(transfer "$B")"
d1=$((atx1 - atx0 - (brx1 - brx0)))
d2=$((btx1 - btx0 - (arx1 - arx0)))
[ $((atx1 - atx0)) -gt 0 ] && [ ${d1#-} -le 256 ] && [ ${d2#-} -le 256 ]
t_result $? "counters agree over 20 pings (a +$((arx1 - arx0))/+$((atx1 - atx0)), b +$((brx1 - brx0))/+$((btx1 - btx0)))"

t_ok "a moves to another listen port mid-session" t_wg "$A" set wg0 listen-port 51830
t_ok "ping a -> b after the move" t_in a ping -n -c 2 -i 0.2 -w 5 192.0.2.2
t_is "$(t_wg "$B" show wg0 endpoints | awk '{ print $2 }')" "[2001:db8:1::1]:51830" \
	"b follows a to the new port"

t_ok "SIGTERM a" t_stop "$A"
t_is "${T_STOP_RC:-}" 0 "a exits 0"
t_ok "SIGTERM b" t_stop "$B"
t_is "${T_STOP_RC:-}" 0 "b exits 0"
t_no_sanitizer_reports

t_done
