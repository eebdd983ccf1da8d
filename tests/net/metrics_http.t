#!/usr/bin/env bash
# xdpwgd --metrics ADDR:PORT: GET /metrics over HTTP, scraped by a real Prometheus (Debian's
# prometheus, in the gateway's namespace, with a temporary data directory). A wireguard-go
# client pings through an attached gateway; Prometheus scrapes the daemon and its own HTTP API
# must give back the peer's received bytes under the WireGuard exporter's name
# (wireguard_received_bytes_total{interface,public_key,allowed_ips}). The same exposition as
# `xdpwgctl metrics`; 404, 405 and 400 for what is not GET /metrics; bad --metrics values and a
# port in use are refused, naming them. Prometheus gets 120 s to start and scrape (a Go
# program under TCG in the VM starts slowly); on the host it takes 2-3 s.
. "$(dirname "$0")/lib.sh"
t_require_root
t_require_cmd wireguard-go wg ping curl jq prometheus
t_require_xdpwgd
D=$XDPWG_BUILD/xdpwgd
CTL=$XDPWG_BUILD/xdpwgctl

for bad in nonsense 127.0.0.1 127.0.0.1:0 127.0.0.1:99999 localhost:9586 2001:db8::1:9586; do
	out=$("$D" -f --metrics "$bad" wgx 2>&1)
	t_like "$?:$out" "^1:xdpwgd: --metrics '$bad': not ADDR:PORT" "--metrics '$bad' is refused, naming it"
done
out=$(XDPWG_METRICS=nonsense "$D" -f wgx 2>&1)
t_like "$?:$out" "^1:xdpwgd: XDPWG_METRICS 'nonsense': not ADDR:PORT" "XDPWG_METRICS is validated too"

t_ns gw
t_ns cl
t_link gw eth0 198.18.0.1/24 cl eth0 198.18.0.2/24
gw_pub=$(t_genkey gw)
cl_pub=$(t_genkey cl)
t_start_xdpwgd gw wg0 --attach eth0 --metrics 127.0.0.1:9586 || t_bail "xdpwgd did not start"
GW=$T_PID
t_ok "gateway configured" t_wg "$GW" set wg0 private-key "$T_DIR/gw.key" listen-port 51820 \
	peer "$cl_pub" allowed-ips 192.0.2.2/32
t_in gw ip addr add 192.0.2.1/24 dev wg0
t_in gw ip link set wg0 up
t_ok "wireguard-go client up" t_wggo_client cl "$gw_pub"
t_ok "ping through the tunnel" t_in cl ping -n -c 3 -i 0.2 -w 10 192.0.2.1

URL=http://127.0.0.1:9586
OUT=$(t_in gw curl -sS -m 5 -D "$T_DIR/head.txt" "$URL/metrics")
t_like "$(cat "$T_DIR/head.txt")" $'^HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4' \
	"200, the exposition's content type"
t_like "$OUT" "wireguard_received_bytes_total\\{interface=\"wg0\",public_key=\"${cl_pub//+/\\+}\",allowed_ips=\"192.0.2.2/32\"\\} [1-9][0-9]*" \
	"the peer's received bytes under the exporter's name and labels"
t_like "$OUT" "wireguard_sent_bytes_total\\{interface=\"wg0\",public_key=\"${cl_pub//+/\\+}\"" \
	"... and its sent bytes"
t_like "$OUT" "wireguard_latest_handshake_seconds\\{[^}]*\\} [1-9][0-9]{9}" \
	"... and its latest handshake, Unix seconds"
t_like "$OUT" $'\nxdpwg_up\\{interface="wg0"\\} 1\n' "xdpwg_up 1"
t_like "$OUT" 'xdpwg_xdp_packets_total\{interface="wg0",reason="redirected",action="redirect"\} [1-9]' \
	"the XDP counters"
t_like "$OUT" 'xdpwg_worker_packets_total\{interface="wg0",uplink="eth0",queue="0"' "the workers"
types() { grep '^# TYPE' | sort; }
t_is "$(types <<<"$OUT")" "$(t_at "$GW" "$CTL" metrics wg0 | types)" \
	"the same metrics as xdpwgctl metrics"

t_like "$(t_in gw curl -s -m 5 -o /dev/null -w '%{http_code}' "$URL/")" '^404$' "another path: 404"
t_like "$(t_in gw curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST "$URL/metrics")" '^405$' \
	"another method: 405"
t_like "$(printf 'hello\r\n\r\n' | t_in gw timeout 5 nc -N 127.0.0.1 9586 | head -1)" \
	'^HTTP/1.1 400 ' "not HTTP: 400"
t_ok "the daemon still answers after all that" t_wg "$GW" show wg0

# a real Prometheus scrapes it every second
cat >"$T_DIR/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: xdpwg
    static_configs:
      - targets: ['127.0.0.1:9586']
EOF
mkdir -p "$T_DIR/prom-data"
t_in gw prometheus --config.file="$T_DIR/prometheus.yml" --storage.tsdb.path="$T_DIR/prom-data" \
	--web.listen-address=127.0.0.1:9090 >"$T_DIR/prometheus.log" 2>&1 &
t_track $!
Q="$(printf 'wireguard_received_bytes_total{public_key="%s"}' "$cl_pub" | jq -sRr @uri)"
value() { t_in gw curl -s -m 2 "http://127.0.0.1:9090/api/v1/query?query=$Q" |
	jq -r '.data.result[0].value[1] // empty' 2>/dev/null; }
scraped() { [ "$(value)" -gt 0 ] 2>/dev/null; }
t_ok "Prometheus scraped the daemon: its API returns the peer's received bytes" t_wait 120 scraped
t_diag "Prometheus: wireguard_received_bytes_total = $(value)"
UP=$(t_in gw curl -s -m 2 'http://127.0.0.1:9090/api/v1/targets' |
	jq -r '.data.activeTargets[0].health' 2>/dev/null)
t_is "$UP" up "Prometheus reports the target up"

# a second daemon on the same port cannot start, and says why
t_start_xdpwgd gw wg1 --metrics 127.0.0.1:9586 2>/dev/null
t_like "$(cat "$T_DIR"/xdpwgd-gw-wg1.log)" "metrics: cannot listen on 127.0.0.1:9586: Address already in use" \
	"a port in use: the daemon refuses to start, naming it"
t_done
