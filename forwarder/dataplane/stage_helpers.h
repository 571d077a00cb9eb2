// SPDX-License-Identifier: Apache-2.0
// What every stage file (stages.cc, tunnel_stages.cc) does with a packet it does not keep:
// drop it under a named reason or punt it to the control thread. Internal to the data path.
#pragma once

#include <rte_mbuf.h>
#include <sys/eventfd.h>

#include <cstdint>

#include "packet_meta.h"
#include "wire.h"
#include "worker.h"

namespace causeway::fwd {

// 4 or 6 for an IPv4 / IPv6 frame (by its ethertype), else 0.
inline std::uint8_t family_of(const rte_mbuf* m) noexcept {
  if (m->data_len < wire::kEthHeaderLen) return 0;
  switch (wire::load_be16(rte_pktmbuf_mtod_offset(m, const std::uint8_t*, 12))) {
    case wire::kEtherTypeIpv4:
      return 4;
    case wire::kEtherTypeIpv6:
      return 6;
    default:
      return 0;
  }
}

inline void drop(WorkerContext& ctx, rte_mbuf* m, DropReason r) noexcept {
  ctx.counters->count_drop(r);
  ctx.dropped[ctx.n_dropped++] = m;
}

// The interface a received frame arrived on: the subinterface of its VLAN id if vlan_input
// stripped a tag (it leaves the tag in the mbuf: vlan_tci, RX_VLAN_STRIPPED; VLAN strip
// offload is never enabled, so the flag is ours), else the port. An id without a subinterface
// cannot get here, but would stay on the port rather than index past the interfaces.
inline std::uint16_t rx_interface(const WorkerContext& ctx, const rte_mbuf* m) noexcept {
  if ((m->ol_flags & RTE_MBUF_F_RX_VLAN_STRIPPED) == 0) return ctx.in_port;
  const std::uint16_t* table = ctx.shared->ports[ctx.in_port].vlan_to_if;
  const std::uint16_t sub = table == nullptr ? kNoInterface : table[m->vlan_tci & 0x0fff];
  return sub == kNoInterface ? ctx.in_port : sub;
}

// The PacketMeta of a packet is written only when it is punted (the control thread's input);
// forwarded packets never touch that cache line. Fields a punt reason needs beyond these
// (mtu, next_hop, tunnel, flags) are set by the caller after this call.
inline void punt(WorkerContext& ctx, rte_mbuf* m, PuntReason r) noexcept {
  PacketMeta& pm = meta(m);
  pm.in_port = rx_interface(ctx, m);
  pm.l3_offset = wire::kEthHeaderLen;
  pm.family = family_of(m);
  pm.flags = 0;
  pm.punt = r;
  ctx.punt[ctx.n_punt++] = m;
}

// After enqueueing to a ring the control thread reads: wake it if it waits (it re-arms the flag
// when it has emptied its rings), so a burst of punts costs one syscall, not one per packet.
inline void wake_control(const DataplaneShared& sh) noexcept {
  if (sh.punt_wakeup_armed->load(std::memory_order_relaxed) &&
      sh.punt_wakeup_armed->exchange(false, std::memory_order_acq_rel)) {
    eventfd_write(sh.punt_eventfd, 1);
  }
}

}  // namespace causeway::fwd
