#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# A numbered, timestamped UDP stream for the SLA failover test and benchmark: measures in the
# data plane when traffic stops and resumes. All namespaces of a host share CLOCK_MONOTONIC, so
# the sender's, the receiver's and the link emulator's timestamps compare directly.
#
#   udp_stream.py send DST PORT RATE_HZ COUNT [--dscp N]
#       COUNT datagrams (0: until SIGTERM) at RATE_HZ, each {seq u64, send CLOCK_MONOTONIC ns
#       u64} padded to 64 bytes, sent on a fixed schedule (a late wake-up sends the overdue ones
#       at once, so the rate holds on a busy host).
#   udp_stream.py recv PORT OUT_FILE
#       one line "seq send_ns recv_ns" per datagram into OUT_FILE (flushed every 50 ms) until
#       SIGTERM; prints "udp_stream: listening" once bound.
#   udp_stream.py failover OUT_FILE EVENT_NS [MAX_OWD_MS]
#       EVENT_NS: when the path failed (the link emulator's monotonic_ns). Prints JSON:
#       first_ms = arrival of the first datagram sent after the event - event (a datagram sent
#       after a blackout began cannot have crossed the failed link, so it took the other path;
#       after a delay step, give MAX_OWD_MS: only datagrams whose one-way delay, arrival - send,
#       is at most that count, which tells the other path from the delayed one);
#       send_ms = its send time - event; last_before_ms = arrival of the last datagram sent
#       before it that still arrived - event; lost = datagrams sent between the two that never
#       arrived; received, sent_after = counts. Exit 1 when nothing sent after the event arrived.
# Written by hand: iperf3 and ping report rates and round trips, not per-datagram one-way
# send/arrival times on a shared clock.
import json
import select
import signal
import socket
import struct
import sys
import time

FMT = "!QQ"
SIZE = 64


def send(dst, port, rate, count, dscp):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    if dscp:
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, dscp << 2)
    period = 1_000_000_000 // rate
    start = time.monotonic_ns()
    seq = 0
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while count == 0 or seq < count:
        due = start + seq * period
        now = time.monotonic_ns()
        if due > now:
            time.sleep((due - now) / 1e9)
        payload = struct.pack(FMT, seq, time.monotonic_ns()).ljust(SIZE, b"\0")
        try:
            s.sendto(payload, (dst, port))
        except OSError:
            pass  # no route yet, or a full queue: counted as lost by the receiver
        seq += 1


def recv(port, path):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(("0.0.0.0", port))
    out = open(path, "w")
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    print("udp_stream: listening", flush=True)
    last_flush = time.monotonic()
    while not stop:
        try:
            ready, _, _ = select.select([s], [], [], 0.05)
        except InterruptedError:
            continue
        if ready:
            while True:
                try:
                    data = s.recv(2048, socket.MSG_DONTWAIT)
                except BlockingIOError:
                    break
                now = time.monotonic_ns()
                if len(data) >= 16:
                    seq, sent = struct.unpack_from(FMT, data)
                    out.write(f"{seq} {sent} {now}\n")
        if time.monotonic() - last_flush > 0.05:
            out.flush()
            last_flush = time.monotonic()
    out.close()


def failover(path, event, max_owd_ms=None):
    rows = []
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) == 3:
                rows.append(tuple(int(x) for x in p))
    rows.sort()
    after = [r for r in rows if r[1] > event]
    if max_owd_ms is not None:
        after = [r for r in after if r[2] - r[1] <= max_owd_ms * 1e6]
    if not after:
        print(json.dumps({"error": "nothing sent after the event arrived", "received": len(rows)}))
        return 1
    first = min(after, key=lambda r: r[2])
    before = [r for r in rows if r[0] < first[0]]
    last_before = max(before, key=lambda r: r[0]) if before else None
    lost = first[0] - (last_before[0] + 1) if last_before else first[0]
    print(json.dumps({
        "first_ms": round((first[2] - event) / 1e6, 3),
        "send_ms": round((first[1] - event) / 1e6, 3),
        "last_before_ms": round((last_before[2] - event) / 1e6, 3) if last_before else None,
        "lost": lost,
        "received": len(rows),
        "sent_after": len(after),
    }))
    return 0


def main():
    mode = sys.argv[1]
    if mode == "send":
        dscp = 0
        if "--dscp" in sys.argv:
            dscp = int(sys.argv[sys.argv.index("--dscp") + 1])
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), dscp)
        return 0
    if mode == "recv":
        recv(int(sys.argv[2]), sys.argv[3])
        return 0
    if mode == "failover":
        return failover(sys.argv[2], int(sys.argv[3]),
                        float(sys.argv[4]) if len(sys.argv) > 4 else None)
    print(f"unknown mode {mode}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
