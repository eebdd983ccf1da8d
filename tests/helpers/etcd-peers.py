#!/usr/bin/env python3
# Write N peer records of cluster CLUSTER into etcd through its JSON gateway, in transactions
# of 128 puts (etcd's default --max-txn-ops): a peer set for first-sync tests and benchmarks.
#
#   tests/helpers/etcd-peers.py N URL CLUSTER [FIRST]
#
# Random public keys (32 random bytes: any value is a valid X25519 public key for the
# device); allowed IPs 10.x.y.z/32 from index FIRST (0) on, so sets written with different
# FIRST do not overlap; persistent keepalive 25. 100,000 records take about 10 s here.
import base64
import json
import os
import sys
import urllib.request


def b64(s):
    return base64.b64encode(s if isinstance(s, bytes) else s.encode()).decode()


def main():
    if len(sys.argv) not in (4, 5):
        sys.exit("usage: etcd-peers.py N URL CLUSTER [FIRST]")
    n, url, cluster = int(sys.argv[1]), sys.argv[2].rstrip("/"), sys.argv[3]
    first = int(sys.argv[4]) if len(sys.argv) == 5 else 0
    ops = []

    def flush():
        if ops:
            req = urllib.request.Request(url + "/v3/kv/txn", data=json.dumps({"success": ops}).encode(),
                                         headers={"Content-Type": "application/json"})
            urllib.request.urlopen(req, timeout=30).read()
            ops.clear()

    for i in range(first, first + n):
        key = b64(os.urandom(32))
        rec = {"public_key": key, "allowed_ips": ["10.%d.%d.%d/32" % (i >> 16 & 255, i >> 8 & 255, i & 255)],
               "persistent_keepalive": 25}
        name = "/xdpwg/%s/peers/%s" % (cluster, key.replace("+", "-").replace("/", "_"))
        ops.append({"request_put": {"key": b64(name), "value": b64(json.dumps(rec))}})
        if len(ops) == 128:
            flush()
    flush()


main()
