#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""WireGuard handshake-initiation floods for tests and benchmarks. Prints the number sent.

  wg_flood.py single SRC_IP DST_IP DST_PORT SECONDS
      bogus initiations (mac1 does not verify) from one address through a UDP socket, paced at
      about 20 000 per second;
  wg_flood.py forged IFACE DST_MAC DST_IP DST_PORT PUBLIC_KEY SECONDS
      initiations with a valid mac1 for PUBLIC_KEY (base64: the responder's public key; the rest
      of the message is random) from 4096 forged addresses in 198.18.0.0/15, written as
      Ethernet frames to IFACE (AF_PACKET) as fast as Python can.
SECONDS 0: until SIGTERM or SIGINT (the count is printed then too).
"""
import base64
import errno
import hashlib
import os
import signal
import socket
import struct
import sys
import time

MAC1_OFFSET = 116  # whitepaper 5.4.4: mac1 covers the message up to itself
stopped = False


def stop(signum, frame):
    global stopped
    stopped = True


def running(end):
    return not stopped and (end is None or time.monotonic() < end)


def deadline(seconds):
    return None if seconds <= 0 else time.monotonic() + seconds


def initiation(mac1_key=None):
    msg = bytes([1, 0, 0, 0]) + os.urandom(MAC1_OFFSET - 4)
    if mac1_key is None:
        return msg + bytes([0x22]) * 32
    mac1 = hashlib.blake2s(msg, digest_size=16, key=mac1_key).digest()
    return msg + mac1 + bytes(16)


def ip_checksum(header):
    s = sum(struct.unpack("!10H", header))
    s = (s & 0xFFFF) + (s >> 16)
    s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def single(src, dst, port, seconds):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    msg = initiation()
    sent, end = 0, deadline(seconds)
    while running(end):
        t = time.monotonic()
        for _ in range(200):
            try:
                s.sendto(msg, (dst, port))
                sent += 1
            except BlockingIOError:
                pass
        time.sleep(max(0.0, 0.01 - (time.monotonic() - t)))
    return sent


def forged(iface, dst_mac, dst, port, public_key, seconds):
    # mac1 key: HASH(LABEL_MAC1 || responder's static public key), whitepaper 5.4.4.
    mac1_key = hashlib.blake2s(b"mac1----" + base64.b64decode(public_key)).digest()
    src_mac = bytes.fromhex(open(f"/sys/class/net/{iface}/address").read().strip().replace(":", ""))
    frames = []
    for i in range(4096):
        msg = initiation(mac1_key)
        src = bytes([198, 18 + (i >> 13 & 1), (i >> 5) & 0xFF, 1 + (i & 31)])
        udp = struct.pack("!HHHH", 1024 + i, port, 8 + len(msg), 0) + msg
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), i, 0, 64, 17, 0, src,
                         socket.inet_aton(dst))
        ip = ip[:10] + struct.pack("!H", ip_checksum(ip)) + ip[12:]
        frames.append(bytes.fromhex(dst_mac.replace(":", "")) + src_mac + b"\x08\x00" + ip + udp)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    sent, end = 0, deadline(seconds)
    while running(end):
        for f in frames[sent % 4096:][:256]:
            try:
                s.send(f)
                sent += 1
            except OSError as e:
                if e.errno in (errno.ENXIO, errno.ENODEV, errno.ENETDOWN):
                    return sent  # the interface is gone
    return sent


def main(argv):
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if len(argv) == 6 and argv[1] == "single":
        print(single(argv[2], argv[3], int(argv[4]), float(argv[5])))
    elif len(argv) == 8 and argv[1] == "forged":
        print(forged(argv[2], argv[3], argv[4], int(argv[5]), argv[6], float(argv[7])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
