#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# A two-port link emulator for the netns tests: every frame received on one interface leaves on
# the other after a fixed delay, or is dropped with a given probability. It stands in for
# `tc qdisc ... netem` where the kernel is built without CONFIG_NET_SCH_NETEM, and, sitting in
# a namespace of its own between two forwarders, it also impairs traffic that DPDK's af_packet
# PMD sends with PACKET_QDISC_BYPASS. Written by hand: no packaged tool emulates delay/loss
# without that kernel option.
#
# Settings are read at start and again on SIGHUP from a control file holding
# "DELAY_MS LOSS_PERCENT" (e.g. "20 0", "0 100"); after applying them it prints
# "impair_link: delay=<ms> loss=<percent>" to stdout, which a test polls for.
# Usage: impair_link.py IF_A IF_B CONTROL_FILE
import heapq
import random
import select
import signal
import socket
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def open_socket(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((ifname, 0))
    s.setblocking(False)
    return s


class Settings:
    def __init__(self, path):
        self.path = path
        self.delay = 0.0
        self.loss = 0.0
        self.reload_wanted = True

    def reload(self):
        self.reload_wanted = False
        with open(self.path) as f:
            delay_ms, loss = f.read().split()
        self.delay = float(delay_ms) / 1000.0
        self.loss = float(loss) / 100.0
        print(f"impair_link: delay={delay_ms} loss={loss}", flush=True)


def main():
    a, b = open_socket(sys.argv[1]), open_socket(sys.argv[2])
    other = {a: b, b: a}
    settings = Settings(sys.argv[3])
    signal.signal(signal.SIGHUP, lambda *_: setattr(settings, "reload_wanted", True))
    pending = []  # (due, seq, socket, frame): a heap ordered by due time, then arrival
    seq = 0
    print("impair_link: ready", flush=True)
    while True:
        if settings.reload_wanted:
            settings.reload()
        timeout = None
        if pending:
            timeout = max(0.0, pending[0][0] - time.monotonic())
        try:
            readable, _, _ = select.select([a, b], [], [], timeout)
        except InterruptedError:
            continue
        now = time.monotonic()
        for s in readable:
            while True:
                try:
                    frame, addr = s.recvfrom(65535)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue
                if settings.loss > 0 and random.random() < settings.loss:
                    continue
                heapq.heappush(pending, (now + settings.delay, seq, other[s], frame))
                seq += 1
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, _, out, frame = heapq.heappop(pending)
            try:
                out.send(frame)
            except OSError:
                pass  # a full queue drops the frame, as a link would


if __name__ == "__main__":
    main()
