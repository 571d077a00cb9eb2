// SPDX-License-Identifier: Apache-2.0
// The forwarder's control socket: a versioned, framed protocol on a UNIX stream socket
// (default /run/causeway/fwd.sock). Clients are causewayctl and causeway-routed.
//
// Every message, request or reply, is a 16-byte header followed by `length` payload bytes:
//
//   0       4       6       8              12             16
//   +-------+-------+-------+--------------+--------------+
//   | magic |version| type  |     seq      |    length    |   all big-endian
//   +-------+-------+-------+--------------+--------------+
//
// A reply carries the request's seq and type kReply; its payload is a 4-byte big-endian
// status (0, or a positive errno value) followed by a UTF-8 JSON document (the answer, or
// {"error": "..."} naming what was wrong). Requests carry JSON, except kRouteBatch, whose
// payload is binary: a 4-byte big-endian record count and then that many RouteRecords.
// A route batch is validated whole before anything is applied: one bad record rejects the
// batch (EINVAL, the error names the record index) and changes nothing.
//
// A server closes a connection on a bad magic, an unknown version or a payload larger than
// kMaxPayload; it answers an unknown type with EOPNOTSUPP and keeps the connection.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace causeway::fwd::ctl {

inline constexpr std::uint32_t kMagic = 0x43574659;  // "CWFY"
inline constexpr std::uint16_t kVersion = 1;
inline constexpr std::uint32_t kMaxPayload = 64u << 20;  // 64 MiB: ~1.5M route records
inline constexpr std::size_t kHeaderSize = 16;

enum class MsgType : std::uint16_t {
  kReply = 0,
  kHello = 1,         // {"client": "name"} -> {"version": 1, "name": "<pop>", "pid": N}
  kRouteBatch = 2,    // binary RouteRecords -> {"added": N, "deleted": N}
  kGetStats = 3,      // {} -> {"ports": [...], "drops": {...}, "workers": [...]}
  kGetRoutes = 4,     // {"limit": N (optional), "family": 4|6 (optional)} -> {"routes": [...]}
  kGetNeighbors = 5,  // {} -> {"neighbors": [...]}
  kSetNeighbor = 6,   // {"op": "add"|"del", "port": "name", "address": "...", "mac": "..."}
  kGetPorts = 7,      // {} -> {"ports": [...]}
  kFlushRoutes = 8,   // {"source": "routed"} -> {"deleted": N}: drop every route of a source
  // 9-19: tunnels and path groups (docs/control-socket.md).
  kGetTunnels = 9,      // {} -> {"tunnels": [{name, listen_port, public_key, peers: [...]}]}
  kGetPathGroups = 10,  // {} -> {"path_groups": [{id, members: [...], active: [...]}]}
  // {"id": N, "members": [{"tunnel": "wg0", "peer": "name|base64 key"}], "active": [...]}
  // -> {"id": N}: replaces group N whole (active empty = every member; members empty deletes).
  // Optional "classes": [{"class": C, "active": [members...]}]: the active set of traffic class
  // C (an empty list drops the class); a class without an entry uses "active".
  kSetPathGroup = 11,
  // SLA probe events (sent / reply), read with a cursor (docs/control-socket.md):
  // {"cursor": N} (0 = the oldest kept) -> {"cursor": M, "missed": K, "events": [{"tunnel",
  // "peer", "public_key", "kind": "sent"|"reply", "seq", "ns", "rtt_ns" (reply)}]};
  // ns is CLOCK_MONOTONIC of the forwarder host.
  kGetProbeEvents = 12,
  // {"interval_ms": N} (0 = off, or 10..60000) -> {"peers": n}: every probing peer.
  kSetProbeInterval = 13,
  // {"classes": [{"id": 1..15, "name", "dscp", "protocol", "ports", "prefixes", ...}]} ->
  // {"classes": n}: replaces the traffic class table whole (include/causeway/fwd/steering_codec.h).
  kSetTrafficClasses = 14,
  // Next-hop groups (ECMP over gateways; include/causeway/fwd/nexthop_group_codec.h):
  // {"id": N, "members": [{"port": "wan0"|index, "gateway": "10.9.0.2"}, ...]} ->
  // {"id": N, "members": n}: creates group N or replaces its members in place (all or nothing).
  kSetNextHopGroup = 15,
  // {"id": N} -> {"id": N}: deletes group N; EBUSY while a route refers to it.
  kDeleteNextHopGroup = 16,
};

struct Header {
  std::uint32_t magic = kMagic;
  std::uint16_t version = kVersion;
  MsgType type = MsgType::kReply;
  std::uint32_t seq = 0;
  std::uint32_t length = 0;
};

enum class RouteOp : std::uint8_t { kAdd = 1, kDelete = 2 };

// What a route resolves to in the data path.
enum class RouteKind : std::uint8_t {
  kGateway = 0,       // via `gateway` out of `port`
  kConnected = 1,     // on-link subnet of `port`: the destination itself is resolved
  kLocal = 2,         // an address of this appliance: delivered to the kernel mirror
  kBlackhole = 3,     // silently dropped (counted)
  kUnreachable = 4,   // dropped with ICMP destination unreachable
  kPathGroup = 5,     // encrypted into a tunnel: `port` carries the path group id (0..1023);
                      // the group's active members (tunnel peers) share the traffic by flow hash
  kNextHopGroup = 6,  // ECMP: `port` carries a next-hop group id (0..4095, kSetNextHopGroup);
                      // its members (port, gateway) share the traffic by the same flow hash
};

// One route operation on the wire. Multi-byte fields are big-endian; addresses are in
// network order; an IPv4 address uses the first 4 bytes of its 16-byte field.
struct RouteRecord {
  std::uint8_t op;          // RouteOp
  std::uint8_t family;      // 4 or 6
  std::uint8_t prefix_len;  // 0..32 or 0..128
  std::uint8_t kind;        // RouteKind (ignored on delete)
  std::uint8_t port[2];     // port index, 0xffff = none
  std::uint8_t reserved[2];
  std::uint8_t table[4];  // routing table (segment); 0 = default
  std::array<std::uint8_t, 16> prefix;
  std::array<std::uint8_t, 16> gateway;
};
static_assert(sizeof(RouteRecord) == 44, "RouteRecord is a wire format");
inline constexpr std::uint16_t kNoPort = 0xffff;

}  // namespace causeway::fwd::ctl
