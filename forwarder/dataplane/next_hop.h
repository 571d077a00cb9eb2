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

}  // namespace causeway::fwd
