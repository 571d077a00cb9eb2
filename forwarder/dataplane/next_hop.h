// SPDX-License-Identifier: Apache-2.0
// The next-hop table: what a FIB entry points to. The FIB stores a NextHopId (an index into
// this table); id 0 is the FIB's default ("no route").
//
// Ownership: the control thread allocates and fills entries and is the only writer. Workers
// read `kind`, `port` and `dst_mac`. An entry's kind/port/gateway never change while any
// FIB copy refers to it; only dst_mac changes in place (neighbour resolved, aged out), as one
// atomic 64-bit store (bit 63 = valid, low 48 bits = MAC in wire order), so workers see the
// old or the new MAC, never half of one. Freed ids are reused only after an RCU grace period.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>

#include "causeway/common/ip.h"
#include "causeway/common/strong_id.h"
#include "causeway/fwd/control_protocol.h"
#include "causeway/fwd/nexthop_group_codec.h"
#include "counters.h"

namespace causeway::fwd {

struct NextHopTag {};
using NextHopId = StrongId<NextHopTag>;
inline constexpr NextHopId kNoRouteNextHop{0};

using NextHopKind = ctl::RouteKind;

inline constexpr std::uint64_t kMacValid = 1ull << 63;

inline std::uint64_t pack_mac(const std::uint8_t* mac) noexcept {
  std::uint64_t v = 0;
  std::memcpy(&v, mac, 6);
  return v | kMacValid;
}
inline void unpack_mac(std::uint64_t v, std::uint8_t* mac) noexcept {
  std::memcpy(mac, &v, 6);
}

struct alignas(32) NextHop {
  std::atomic<std::uint64_t> dst_mac{0};  // 0 = unresolved
  std::uint16_t port = ctl::kNoPort;      // output port index
  NextHopKind kind = NextHopKind::kUnreachable;
  std::uint8_t reserved = 0;
  std::uint32_t reserved2 = 0;
  IpAddress gateway;  // neighbour to resolve (kGateway); read by the control thread only
};
static_assert(sizeof(NextHop) == 64);

// A next-hop group (ECMP) as workers read it. A route of kind kNextHopGroup has a NextHop whose
// `port` is the group id; the group's members are ordinary kGateway next hops (their MACs are
// resolved in place like any gateway's), and a packet takes members[flow_hash % n_members].
//
// Ownership: the control thread builds a group, then publishes it with one release store into
// its slot of the group table (DataplaneShared::nh_groups); a replaced or deleted group is
// freed, and its members' next hops released, after an RCU grace period. Immutable once
// published, except `packets`: row w is written by worker w only (its own cache lines).
inline constexpr unsigned kMaxNextHopGroups = ctl::kMaxNextHopGroups;
inline constexpr unsigned kMaxNextHopGroupMembers = ctl::kMaxNextHopGroupMembers;
inline constexpr unsigned kNextHopGroupCounterRows = 64;  // workers counted (the config's max)

struct NextHopGroup {
  std::uint32_t n_members = 0;
  std::uint32_t members[kMaxNextHopGroupMembers] = {};  // NextHopId values, kGateway
  struct alignas(64) Row {
    Counter packets[kMaxNextHopGroupMembers];
  };
  mutable Row packets[kNextHopGroupCounterRows];  // [worker][member]
};

}  // namespace causeway::fwd
