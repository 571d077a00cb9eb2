// SPDX-License-Identifier: Apache-2.0
// Per-packet metadata, kept in the mbuf's private area (the packet pool is created with
// priv_size = sizeof(PacketMeta)). Written by the worker that received the packet only when
// it punts it (forwarded packets never touch this cache line; the stages pass what they need
// in WorkerContext::burst), then by the control thread.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>

#include "drop_reasons.h"

namespace causeway::fwd {

struct PacketMeta {
  std::uint32_t next_hop;   // NextHopId value chosen by the FIB stage
  std::uint16_t in_port;    // our port index (not the DPDK port id)
  std::uint16_t out_port;   // our port index, set by the next-hop stage
  std::uint16_t l3_offset;  // bytes from the frame start to the IP header
  std::uint8_t family;      // 4, 6, or 0 for non-IP
  PuntReason punt;          // why it went to the control thread
  std::uint16_t mtu;        // output MTU, for kTooBig
  std::uint8_t dst_mac[6];  // resolved next-hop MAC, set by the next-hop stage
  std::uint8_t flags;       // kMetaLocalOrigin: built by the control thread, TTL not decremented
  std::uint8_t tunnel;      // tunnel index of a tunnel punt (kTunnelHandshake/kTunnelNoSession)
  std::uint8_t reserved[2];
};
static_assert(sizeof(PacketMeta) == 24);
inline constexpr std::uint16_t kPacketMetaSize =
    (sizeof(PacketMeta) + RTE_MBUF_PRIV_ALIGN - 1) & ~(RTE_MBUF_PRIV_ALIGN - 1);

inline constexpr std::uint8_t kMetaLocalOrigin = 1;

inline PacketMeta& meta(rte_mbuf* m) noexcept {
  return *static_cast<PacketMeta*>(rte_mbuf_to_priv(m));
}

}  // namespace causeway::fwd
