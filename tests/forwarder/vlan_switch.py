#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# A minimal 802.1Q switch for the netns VLAN test: one trunk interface and access interfaces,
# each with a VLAN id. Frames received on an access interface leave the trunk tagged with its
# id; tagged frames received on the trunk leave, untagged, on the access interface of their
# id (others are dropped). It stands in for a kernel VLAN device (eth0.100) where the kernel
# is built without CONFIG_VLAN_8021Q. Written by hand: no packaged tool does this without
# that kernel option (bridge VLAN filtering and tc's vlan action are kernel options too).
#
# The kernel moves a received tag into packet metadata before packet sockets see the frame;
# PACKET_AUXDATA hands it back (tp_vlan_tci with TP_STATUS_VLAN_VALID).
# Usage: vlan_switch.py TRUNK_IF ACCESS_IF:VID [ACCESS_IF:VID...]
import select
import socket
import struct
import sys

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_AUXDATA = 8
PACKET_OUTGOING = 4
TP_STATUS_VLAN_VALID = 0x10
TPID_8021Q = 0x8100


def open_socket(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.bind((ifname, 0))
    return s


def receive(s):
    """A received frame with its 802.1Q tag in place (if it had one), or None."""
    data, anc, _flags, addr = s.recvmsg(65535, socket.CMSG_SPACE(20))
    if addr[2] == PACKET_OUTGOING:
        return None
    for level, kind, value in anc:
        if level == SOL_PACKET and kind == PACKET_AUXDATA and len(value) >= 20:
            status, _len, _snap, _mac, _net, tci, tpid = struct.unpack("IIIHHHH", value[:20])
            if status & TP_STATUS_VLAN_VALID:
                tpid = tpid or TPID_8021Q
                data = data[:12] + struct.pack("!HH", tpid, tci) + data[12:]
    return data


def main():
    trunk = open_socket(sys.argv[1])
    access = {}  # socket -> vid
    by_vid = {}  # vid -> socket
    for spec in sys.argv[2:]:
        ifname, vid = spec.split(":")
        s = open_socket(ifname)
        access[s] = int(vid)
        by_vid[int(vid)] = s
    print("vlan_switch: ready", flush=True)
    sockets = [trunk] + list(access)
    while True:
        readable, _, _ = select.select(sockets, [], [])
        for s in readable:
            frame = receive(s)
            if frame is None or len(frame) < 14:
                continue
            if s is trunk:
                if len(frame) < 18 or struct.unpack("!H", frame[12:14])[0] != TPID_8021Q:
                    continue
                vid = struct.unpack("!H", frame[14:16])[0] & 0x0FFF
                out = by_vid.get(vid)
                if out is not None:
                    out.send(frame[:12] + frame[16:])
            else:
                tag = struct.pack("!HH", TPID_8021Q, access[s])
                trunk.send(frame[:12] + tag + frame[12:])


if __name__ == "__main__":
    main()
