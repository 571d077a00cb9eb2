// SPDX-License-Identifier: Apache-2.0
// The forwarding stages. Each takes a burst, keeps its survivors at the front in order and
// returns how many there are; every other packet is either dropped (counted under a named
// DropReason and left for process_burst to free) or punted to the control thread (PuntReason
// in its PacketMeta). The order of the stages is in process_burst (worker.cc) and
// docs/life-of-a-packet.md.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>
#include <span>

#include "worker.h"

namespace causeway::fwd {

// L2: single segment, frame length, destination MAC, ethertype; ARP is punted.
std::uint16_t eth_input(WorkerContext& ctx, std::span<rte_mbuf*> pkts) noexcept;
// L3 validation: IPv4 header/checksum/lengths, IPv6 lengths, martians; ND is punted.
std::uint16_t ip_input(WorkerContext& ctx, std::span<rte_mbuf*> pkts) noexcept;
// Bulk FIB lookups (IPv4 and IPv6 of the burst each in one call).
std::uint16_t fib_lookup(WorkerContext& ctx, std::span<rte_mbuf*> pkts) noexcept;
// Next-hop kind, TTL/hop limit, neighbour MAC, output MTU.
std::uint16_t next_hop(WorkerContext& ctx, std::span<rte_mbuf*> pkts) noexcept;
// TTL/hop-limit decrement (incremental checksum) and Ethernet rewrite.
std::uint16_t rewrite(WorkerContext& ctx, std::span<rte_mbuf*> pkts) noexcept;

// Shared with the control thread, which finishes packets it held for neighbour resolution.
void rewrite_one(rte_mbuf* m, const std::uint8_t* src_mac, const std::uint8_t* dst_mac) noexcept;

}  // namespace causeway::fwd
