#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A numbered, timestamped UDP stream: times a failover in the data plane.

    udp_stream.py send --dst ADDR [--port P] (--rate-hz HZ | --interval-ms MS) [--count N]
                       [--dscp D]
    udp_stream.py recv --out FILE [--port P]
    udp_stream.py failover --log FILE --at NS [--max-owd-ms MS]

All network namespaces of a host share CLOCK_MONOTONIC, so the sender's, the receiver's and a
link emulator's timestamps compare directly (tests/forwarder/impair_link.py and
scripts/lab/wanem.py print when an impairment took effect).

`send` sends datagrams of 64 bytes, each {seq u64, send CLOCK_MONOTONIC ns u64}, on a fixed
schedule (a late wake-up sends the overdue ones at once, so the rate holds on a busy host),
COUNT of them or (0, the default) until SIGTERM. `--dscp 46` (EF) makes it a voice-class
stream. `recv` writes one line "SEQ SENT_NS RECEIVED_NS" per datagram into FILE (flushed
every 50 ms) until SIGTERM and prints "udp_stream: receiving on PORT" once bound.

`failover` reads that file against AT, the moment a path failed, and prints JSON:
  first_ms        arrival of the first datagram sent after AT, minus AT (a datagram sent
                  after a blackout began cannot have crossed the failed link: it took another
                  path; after a delay step give --max-owd-ms, and only datagrams whose one-way
                  delay, arrival - send, is at most that count, which tells the other path from
                  the delayed one)
  send_ms         that datagram's send time minus AT
  last_before_ms  arrival of the last datagram sent before it that still arrived, minus AT
  gap_ms          the longest silence of the receiver from 1 s before AT to that first arrival
  lost            datagrams sent between those two that never arrived
  received, sent_after
Exit status 1 when nothing sent after AT arrived.

Written by hand: iperf3 and ping report rates and round trips, not per-datagram one-way send
and arrival times on a shared clock.
"""
import argparse
import json
import select
import signal
import socket
import struct
import sys
import time

FMT = "!QQ"  # seq, send ns
SIZE = 64


def send(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if args.dscp:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, args.dscp << 2)
    period = (1_000_000_000 // args.rate_hz if args.rate_hz
              else int(args.interval_ms * 1_000_000))
    start = time.monotonic_ns()
    seq = 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while args.count == 0 or seq < args.count:
        due = start + seq * period
        now = time.monotonic_ns()
        if due > now:
            time.sleep((due - now) / 1e9)
        payload = struct.pack(FMT, seq, time.monotonic_ns()).ljust(SIZE, b"\0")
        try:
            s.sendto(payload, (args.dst, args.port))
        except OSError:
            pass  # no route for a moment, or a full queue: the receiver counts it as lost
        seq += 1
    return 0


def recv(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("0.0.0.0", args.port))
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    print(f"udp_stream: receiving on {args.port}", flush=True)
    last_flush = time.monotonic()
    with open(args.out, "w") as out:
        while not stop:
            try:
                ready, _, _ = select.select([s], [], [], 0.05)
            except InterruptedError:
                continue
            while ready:
                try:
                    data = s.recv(2048, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                now = time.monotonic_ns()
                if len(data) >= struct.calcsize(FMT):
                    seq, sent = struct.unpack_from(FMT, data)
                    out.write(f"{seq} {sent} {now}\n")
            if time.monotonic() - last_flush > 0.05:
                out.flush()
                last_flush = time.monotonic()
    return 0


def failover(args):
    rows = []
    with open(args.log) as f:
        for line in f:
            p = line.split()
            if len(p) == 3:
                rows.append(tuple(int(x) for x in p))
    rows.sort()
    at = args.at
    after = [r for r in rows if r[1] > at]
    if args.max_owd_ms is not None:
        after = [r for r in after if r[2] - r[1] <= args.max_owd_ms * 1e6]
    if not after:
        print(json.dumps({"error": "nothing sent after the event arrived", "received": len(rows)}))
        return 1
    first = min(after, key=lambda r: r[2])
    before = [r for r in rows if r[0] < first[0]]
    last_before = max(before, key=lambda r: r[0]) if before else None
    lost = first[0] - (last_before[0] + 1) if last_before else first[0]
    # Datagrams in flight on the failed link at AT may still arrive after it.
    arrivals = sorted(r[2] for r in rows if at - 10**9 <= r[2] <= first[2])
    gap = max((b - a for a, b in zip(arrivals, arrivals[1:])), default=0)
    print(json.dumps({
        "first_ms": round((first[2] - at) / 1e6, 3),
        "send_ms": round((first[1] - at) / 1e6, 3),
        "last_before_ms": round((last_before[2] - at) / 1e6, 3) if last_before else None,
        "gap_ms": round(gap / 1e6, 3),
        "lost": lost,
        "received": len(rows),
        "sent_after": len(after),
    }))
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("send")
    s.add_argument("--dst", required=True)
    s.add_argument("--port", type=int, default=7900)
    rate = s.add_mutually_exclusive_group(required=True)
    rate.add_argument("--rate-hz", type=int)
    rate.add_argument("--interval-ms", type=float)
    s.add_argument("--count", type=int, default=0, help="0: until SIGTERM")
    s.add_argument("--dscp", type=int, default=0)
    r = sub.add_parser("recv")
    r.add_argument("--out", required=True)
    r.add_argument("--port", type=int, default=7900)
    f = sub.add_parser("failover")
    f.add_argument("--log", required=True)
    f.add_argument("--at", type=int, required=True, help="CLOCK_MONOTONIC ns of the failure")
    f.add_argument("--max-owd-ms", type=float)
    args = ap.parse_args()
    if args.cmd == "send" and (args.rate_hz or 0) <= 0 and (args.interval_ms or 0) <= 0:
        ap.error("the rate or interval must be positive")
    return {"send": send, "recv": recv, "failover": failover}[args.cmd](args)


if __name__ == "__main__":
    sys.exit(main())
