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
# "DELAY_MS LOSS_PERCENT [TAG]" (e.g. "20 0", "0 100 blackout-3"); after applying them it prints
# "impair_link: delay=<ms> loss=<percent>" to stdout, which a test polls for, and then
# "impair_link: applied tag=<TAG> delay=<ms> loss=<percent> monotonic_ns=<ns>": the
# CLOCK_MONOTONIC time the new settings took effect (frames received from then on get them),
# which every namespace on the host shares, so a test can measure a failover from it. SIGHUP
# wakes the loop at once (a wakeup fd), even when no frame is flowing.
# SIGUSR1 prints "impair_link: frames a_to_b=<n> b_to_a=<n> dropped=<n>": frames received on
# IF_A and sent on IF_B, the other way, and dropped by the loss setting, since the start.
# Usage: impair_link.py IF_A IF_B CONTROL_FILE
import heapq
import os
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
        self.stats_wanted = False

    def reload(self):
        self.reload_wanted = False
        with open(self.path) as f:
            fields = f.read().split()
        delay_ms, loss = fields[0], fields[1]
        tag = fields[2] if len(fields) > 2 else "-"
        self.delay = float(delay_ms) / 1000.0
        self.loss = float(loss) / 100.0
        applied = time.monotonic_ns()
        print(f"impair_link: delay={delay_ms} loss={loss}", flush=True)
        print(f"impair_link: applied tag={tag} delay={delay_ms} loss={loss} monotonic_ns={applied}",
              flush=True)


def main():
    a, b = open_socket(sys.argv[1]), open_socket(sys.argv[2])
    other = {a: b, b: a}
    settings = Settings(sys.argv[3])
    # Signals write to this pipe, so select() returns at once instead of being restarted.
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_r, False)
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGHUP, lambda *_: setattr(settings, "reload_wanted", True))
    signal.signal(signal.SIGUSR1, lambda *_: setattr(settings, "stats_wanted", True))
    count = {a: 0, b: 0}  # frames received on each side and passed on
    dropped = 0
    pending = []  # (due, seq, socket, frame): a heap ordered by due time, then arrival
    seq = 0
    print("impair_link: ready", flush=True)
    while True:
        if settings.reload_wanted:
            settings.reload()
        if settings.stats_wanted:
            settings.stats_wanted = False
            print(f"impair_link: frames a_to_b={count[a]} b_to_a={count[b]} dropped={dropped}",
                  flush=True)
        timeout = None
        if pending:
            timeout = max(0.0, pending[0][0] - time.monotonic())
        try:
            readable, _, _ = select.select([a, b, wake_r], [], [], timeout)
        except InterruptedError:
            continue
        if wake_r in readable:
            try:
                os.read(wake_r, 512)
            except BlockingIOError:
                pass
            readable.remove(wake_r)
            if settings.reload_wanted:
                settings.reload()  # before this batch: frames read from now on get the new settings
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
                    dropped += 1
                    continue
                count[s] += 1
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
