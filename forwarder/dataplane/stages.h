// SPDX-License-Identifier: Apache-2.0
// The forwarding stages. Each takes a burst, keeps its survivors at the front in order and
// returns how many there are; every other packet is either dropped (counted under a named
// DropReason and left for process_burst to free) or punted to the control thread (PuntReason
// in its PacketMeta). What a stage hands the next one per packet is in ctx.burst, at the
// packet's index in the span (a stage that drops moves it with the packet). The order of
// the stages is in process_burst (worker.cc) and docs/life-of-a-packet.md.
#pragma once

#include <rte_mbuf.h>

#include <cstdint>
#include <span>

#include "worker.h"

namespace causeway::fwd {

// One pass over the received burst (rx counters, frames prefetched a few packets ahead):
//  L2 (eth_input): single segment, frame length, destination MAC, ethertype; ARP is punted;
//  an 802.1Q tag of a configured subinterface is stripped (mbuf vlan_tci + RX_VLAN_STRIPPED
//  say which; punt() maps it back to the subinterface), stacked tags and unknown ids dropped;
//  L3 (ip4_input/ip6_input): IPv4 header/checksum/lengths, IPv6 lengths, martians; ND is
//  punted. Before all that, one pass prefetches each frame's would-be FIB entry. Out: per
//  packet burst.frame/len/family/ttl_word and burst.dst4 (IPv4 destination), burst.n_v6,
//  burst.tunnel_candidates (UDP to a tunnel's listen port; tunnel_input, tunnel_stages.h).
std::uint16_t input(WorkerContext& ctx, std::span<rte_mbuf*> pkts) noexcept;
// FIB lookups (IPv4 from burst.dst4; IPv6 in one bulk call). Out: burst.nh.
std::uint16_t fib_lookup(WorkerContext& ctx, std::span<rte_mbuf*> pkts) noexcept;
// Next-hop kind, TTL/hop limit, output MTU, neighbour MAC; then, for the packets it keeps,
// the rewrite: TTL/hop-limit decrement (incremental checksum) and Ethernet header, from the
// values input left in ctx.burst (an IPv4 frame is only written, not read again).
// Out: burst.out_port, burst.len. Packets of path-group routes are set aside in ctx.tunnel_out
// (with their next hop in ctx.tunnel_out_nh) for tunnel_output.
std::uint16_t next_hop(WorkerContext& ctx, std::span<rte_mbuf*> pkts) noexcept;

// Inserts an 802.1Q tag with `tci` after the MAC addresses of an untagged frame; false if
// the mbuf has no headroom (nothing changed).
bool push_vlan_tag(rte_mbuf* m, std::uint16_t tci) noexcept;

// Shared with the control thread, which finishes packets it held for neighbour resolution.
void rewrite_one(rte_mbuf* m, const std::uint8_t* src_mac, const std::uint8_t* dst_mac) noexcept;

}  // namespace causeway::fwd
