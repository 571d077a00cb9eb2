#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""The lab's backbone emulator: relays Ethernet frames between the two ends of each backbone
link with a one-way delay, jitter and loss per link (docs/lab.md).

Why by hand: the lab machines' kernel is built without `sch_netem` (CONFIG_NET_SCH_NETEM is
not set; only fifo, tbf, htb and ingress qdiscs exist) and no Debian package emulates a WAN
link without it. This relay does what the lab needs from netem, on any kernel:

    PoP A  ifA ==veth== wA  [wanem, in the lab's "wan" namespace]  wB ==veth== ifB  PoP B

Each link is two veths whose inner ends (wA, wB) live in one namespace; one AF_PACKET socket
per inner end reads every frame the PoP sends and queues it for the other end, to be sent
`delay_ms` (plus a uniform jitter of +-`jitter_ms`) later, or drops it with probability
`loss_pct` (100 = blackout). Frames of one direction leave in the order they came (a jittered
frame is never sent before the frame ahead of it, as on a real backbone that does not reorder).
Idle, the process sleeps in epoll; with frames queued it wakes when the first one is due.

    wanem.py run --config LINKS.json     relay until SIGTERM; SIGHUP re-reads the shaping
    wanem.py set --config LINKS.json LINK [--delay MS] [--jitter MS] [--loss PCT]
                                         change one link in the file (then SIGHUP the relay)

LINKS.json: {"generation": N, "links": [{"name": "aws:eu-west-1:us-east-1", "a": "w0a",
"b": "w0b", "delay_ms": 9, "jitter_ms": 0, "loss_pct": 0}, ...]}. After each (re)load the relay
writes LINKS.json.applied = {"generation": N, "monotonic_ns": T} so callers can wait until a
change is in force and know when it took effect (T: CLOCK_MONOTONIC).
"""
import argparse
import collections
import json
import os
import random
import selectors
import signal
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4  # linux/if_packet.h: a frame this host sent (seen by every packet socket)


def load(path):
    with open(path) as f:
        return json.load(f)


def write_json(path, doc):
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


class Direction:
    """Frames from one end of a link to the other, with that link's shaping."""

    def __init__(self, out_sock):
        self.out = out_sock
        self.queue = collections.deque()  # (due, frame), due non-decreasing
        self.delay = self.jitter = self.loss = 0.0
        self.last_due = 0.0
        self.sent = self.dropped = 0

    def push(self, now, frame):
        if self.loss > 0 and random.random() * 100 < self.loss:
            self.dropped += 1
            return
        due = now + self.delay
        if self.jitter > 0:
            due += random.uniform(-self.jitter, self.jitter)
        due = max(due, self.last_due, now)
        self.last_due = due
        self.queue.append((due, frame))

    def flush(self, now):
        while self.queue and self.queue[0][0] <= now:
            frame = self.queue.popleft()[1]
            try:
                self.out.send(frame)
                self.sent += 1
            except OSError:
                self.dropped += 1


def open_socket(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((ifname, ETH_P_ALL))
    s.setblocking(False)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    return s


def run(path):
    conf = load(path)
    sel = selectors.DefaultSelector()
    by_name = {}
    for link in conf["links"]:
        sa, sb = open_socket(link["a"]), open_socket(link["b"])
        a_to_b, b_to_a = Direction(sb), Direction(sa)
        by_name[link["name"]] = (a_to_b, b_to_a)
        sel.register(sa, selectors.EVENT_READ, a_to_b)
        sel.register(sb, selectors.EVENT_READ, b_to_a)
    directions = [d for pair in by_name.values() for d in pair]

    def apply(doc):
        for link in doc["links"]:
            for d in by_name.get(link["name"], ()):
                d.delay = link["delay_ms"] / 1000.0
                d.jitter = link.get("jitter_ms", 0) / 1000.0
                d.loss = float(link.get("loss_pct", 0))
        # When the change took effect, on the host's CLOCK_MONOTONIC (the clock of the
        # forwarders' probe events and of the lab's UDP stream): failover is timed from it.
        write_json(f"{path}.applied", {"generation": doc.get("generation", 0),
                                       "monotonic_ns": time.monotonic_ns()})

    # Signals arrive through a socketpair so the epoll wait wakes for them.
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)
    signal.set_wakeup_fd(wake_w.fileno())
    pending = {"hup": False, "stop": False}
    signal.signal(signal.SIGHUP, lambda *_: pending.__setitem__("hup", True))
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: pending.__setitem__("stop", True))
    sel.register(wake_r, selectors.EVENT_READ, None)
    apply(conf)
    print(f"wanem: relaying {len(by_name)} links", flush=True)

    while not pending["stop"]:
        due = [d.queue[0][0] for d in directions if d.queue]
        timeout = max(0.0, min(due) - time.monotonic()) if due else None
        for key, _ in sel.select(timeout):
            if key.data is None:
                try:
                    while wake_r.recv(64):
                        pass
                except BlockingIOError:
                    pass
                continue
            now = time.monotonic()
            while True:
                try:
                    frame, addr = key.fileobj.recvfrom(65535)
                except BlockingIOError:
                    break
                if addr[2] != PACKET_OUTGOING:
                    key.data.push(now, frame)
        if pending["hup"]:
            pending["hup"] = False
            try:
                apply(load(path))
                print("wanem: shaping reloaded", flush=True)
            except (OSError, ValueError, KeyError) as e:
                print(f"wanem: reload refused, shaping unchanged: {e}", flush=True)
        now = time.monotonic()
        for d in directions:
            d.flush(now)
    for name, (ab, ba) in by_name.items():
        print(f"wanem: {name}: sent {ab.sent}/{ba.sent}, dropped {ab.dropped}/{ba.dropped}",
              flush=True)
    return 0


def set_link(args):
    conf = load(args.config)
    link = next((ln for ln in conf["links"] if ln["name"] == args.link), None)
    if link is None:
        names = ", ".join(ln["name"] for ln in conf["links"])
        print(f"wanem: no link {args.link} (links: {names})", file=sys.stderr)
        return 1
    for key, value, lo, hi in (("delay_ms", args.delay, 0, 10000),
                               ("jitter_ms", args.jitter, 0, 10000),
                               ("loss_pct", args.loss, 0, 100)):
        if value is None:
            continue
        if not lo <= value <= hi:
            print(f"wanem: {key} {value} is out of range ({lo}..{hi})", file=sys.stderr)
            return 1
        link[key] = value
    conf["generation"] = conf.get("generation", 0) + 1
    write_json(args.config, conf)
    print(conf["generation"])
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--config", required=True)
    s = sub.add_parser("set")
    s.add_argument("--config", required=True)
    s.add_argument("link")
    s.add_argument("--delay", type=float)
    s.add_argument("--jitter", type=float)
    s.add_argument("--loss", type=float)
    args = ap.parse_args()
    return run(args.config) if args.cmd == "run" else set_link(args)


if __name__ == "__main__":
    sys.exit(main())
