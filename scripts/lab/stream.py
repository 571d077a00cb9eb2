#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A steady numbered UDP stream between two lab sites, to time a failover in the data plane.

    stream.py send --dst ADDR [--port P] [--interval-ms MS] [--tos TOS]
    stream.py recv --out LOG [--port P]
    stream.py failover --log LOG --at NS [--interval-ms MS]

`send` sends one datagram every interval (default 5 ms, the cadence kept: a late send is not
followed by a burst) carrying its sequence number and its send time, CLOCK_MONOTONIC in ns;
`--tos 0xb8` (DSCP EF) makes it the lab's `voice` class. `recv` writes one line per datagram,
"SEQ SENT_NS RECEIVED_NS" (the lab's namespaces share the host's monotonic clock). `failover`
reads that log against the moment a backbone failed (AT, from the backbone emulator,
scripts/lab/wanem.py) and prints JSON: the first datagram sent at or after AT that arrived
(it can only have taken another path), the time from AT to its arrival (`failover_ms`), the
longest silence of the receiver around AT (`gap_ms`) and how many datagrams were lost.
Exit status 1 when no datagram sent after AT arrived.
"""
import argparse
import json
import socket
import struct
import sys
import time

FORMAT = "!QQ"  # seq, sent ns


def send(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, args.tos)
    interval = args.interval_ms / 1000.0
    seq = 0
    due = time.monotonic()
    while True:
        now = time.monotonic()
        if now < due:
            time.sleep(due - now)
        try:
            s.sendto(struct.pack(FORMAT, seq, time.monotonic_ns()) + bytes(64),
                     (args.dst, args.port))
        except OSError:
            pass  # no route for a moment: the datagram counts as lost
        seq += 1
        due += interval
        if time.monotonic() - due > interval:  # stalled: keep the cadence from now on
            due = time.monotonic()


def recv(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", args.port))
    with open(args.out, "w", buffering=1) as out:
        print(f"stream: receiving on {args.port}", file=sys.stderr, flush=True)
        while True:
            data = s.recv(2048)
            at = time.monotonic_ns()
            if len(data) < struct.calcsize(FORMAT):
                continue
            seq, sent = struct.unpack_from(FORMAT, data)
            out.write(f"{seq} {sent} {at}\n")


def failover(args):
    rows = []
    with open(args.log) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3:
                rows.append(tuple(int(p) for p in parts))
    at = args.at
    after = [r for r in rows if r[1] >= at]
    if not after:
        print(json.dumps({"error": "no datagram sent after the failure arrived",
                          "received": len(rows)}))
        return 1
    first = min(after, key=lambda r: r[2])
    arrivals = sorted(r[2] for r in rows)
    # The longest silence of the receiver between the failure and the first datagram via
    # the other path (datagrams in flight on the failed link at AT may still arrive).
    window = [a for a in arrivals if at - 10**9 <= a <= first[2]]
    gap = max((b - a for a, b in zip(window, window[1:])), default=0)
    seqs = {r[0] for r in rows}
    lo, hi = min(seqs), max(seqs)
    print(json.dumps({
        "failover_ms": round((first[2] - at) / 1e6, 1),
        "gap_ms": round(gap / 1e6, 1),
        "first_seq_after": first[0],
        "lost": (hi - lo + 1) - len(seqs),
        "received": len(rows),
        "interval_ms": args.interval_ms,
    }))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("--dst", required=True)
    s.add_argument("--port", type=int, default=7900)
    s.add_argument("--interval-ms", type=float, default=5)
    s.add_argument("--tos", type=lambda v: int(v, 0), default=0xB8)
    r = sub.add_parser("recv")
    r.add_argument("--out", required=True)
    r.add_argument("--port", type=int, default=7900)
    f = sub.add_parser("failover")
    f.add_argument("--log", required=True)
    f.add_argument("--at", type=int, required=True, help="CLOCK_MONOTONIC ns of the failure")
    f.add_argument("--interval-ms", type=float, default=5)
    args = ap.parse_args()
    return {"send": send, "recv": recv, "failover": failover}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
