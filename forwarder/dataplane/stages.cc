// SPDX-License-Identifier: Apache-2.0
// Forwarding stages of a worker lcore (see stages.h for the contract, worker.cc for the
// order). Packets belong to the worker that received them; nothing here locks, allocates,
// logs or frees: drops go to ctx.dropped, punts to ctx.punt, survivors stay in the span.
#include "stages.h"

#include <rte_ip.h>
#include <rte_prefetch.h>

#include <bit>
#include <cstring>

#include "packet_meta.h"
#include "stage_helpers.h"
#include "tunnel_stages.h"
#include "wire.h"

namespace causeway::fwd {
namespace {

using namespace wire;

// Not forwarded (counted as a drop) but handed to the control thread, which answers with an
// ICMP error and frees it.
inline void drop_with_icmp(WorkerContext& ctx, rte_mbuf* m, DropReason r, PuntReason p) noexcept {
  ctx.counters->count_drop(r);
  punt(ctx, m, p);
}

bool is_ipv6_nd(const std::uint8_t* ip6, std::uint32_t avail) noexcept {
  if (ip6[kIp6OffNextHeader] != kIpProtoIcmpv6 || avail < kIp6HeaderLen + 4) return false;
  std::uint8_t type = ip6[kIp6HeaderLen];
  return type >= kNdRouterSolicit && type <= kNdRedirect;
}

bool v6_is_unspecified(const std::uint8_t* a) noexcept {
  static constexpr std::uint8_t kZero[16] = {};
  return std::memcmp(a, kZero, 16) == 0;
}
bool v6_is_loopback(const std::uint8_t* a) noexcept {
  static constexpr std::uint8_t kLoop[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return std::memcmp(a, kLoop, 16) == 0;
}

// RFC 1071: the ones'-complement sum of a valid header is 0xffff. The common 20-byte header
// is summed as five 32-bit words (end-around carry folds them the same as 16-bit words).
inline bool ip4_header_checksum_ok(const std::uint8_t* ip, std::uint32_t ihl) noexcept {
  if (ihl != kIp4MinHeaderLen) return rte_raw_cksum(ip, ihl) == 0xffff;
  std::uint64_t sum = 0;
  for (unsigned i = 0; i < 5; ++i) {
    std::uint32_t w;
    std::memcpy(&w, ip + 4 * i, 4);
    sum += w;
  }
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffffffff) + (sum >> 32);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return sum == 0xffff;
}

// RFC 1624 eqn. 3: HC' = ~(~HC + ~m + m'), for one changed 16-bit word.
inline std::uint16_t csum_replace16(std::uint16_t csum, std::uint16_t old_word,
                                    std::uint16_t new_word) noexcept {
  std::uint32_t sum = static_cast<std::uint16_t>(~csum);
  sum += static_cast<std::uint16_t>(~old_word);
  sum += new_word;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

// IPv4 header bytes 8..11 (TTL, protocol, checksum; as BurstState::ttl_word holds them) with
// the TTL minus one and the checksum updated for it.
inline std::uint32_t ttl_word_decremented(std::uint32_t w) noexcept {
  const auto old_word = static_cast<std::uint16_t>(w >> 16);
  const auto new_word = static_cast<std::uint16_t>(old_word - 0x100);
  return std::uint32_t{new_word} << 16 |
         csum_replace16(static_cast<std::uint16_t>(w), old_word, new_word);
}

// TTL (with the RFC 1624 checksum update) or hop limit minus one.
inline void rewrite_ip(std::uint8_t* ip, bool v4) noexcept {
  if (v4) {
    store_be32(ip + kIp4OffTtl, ttl_word_decremented(load_be32(ip + kIp4OffTtl)));
  } else {
    ip[kIp6OffHopLimit] -= 1;
  }
}

// Destination MAC (as NextHop::dst_mac holds it: pack_mac, the six bytes in wire order in the
// low bytes) and source MAC: one 8-byte and one 4-byte store.
inline void rewrite_eth(std::uint8_t* eth, std::uint64_t dst_mac,
                        const std::uint8_t* src) noexcept {
  static_assert(std::endian::native == std::endian::little);
  const std::uint64_t w0 =
      (dst_mac & 0xffffffffffffull) | std::uint64_t{src[0]} << 48 | std::uint64_t{src[1]} << 56;
  std::memcpy(eth, &w0, 8);
  std::memcpy(eth + 8, src + 2, 4);
}

}  // namespace

namespace {

// An 802.1Q-tagged frame (one tag): finds the subinterface of its VLAN id on the receiving
// port, strips the tag (the MAC addresses move 4 bytes up, as a NIC's VLAN strip would leave
// the frame) and keeps it in the mbuf (vlan_tci, RX_VLAN_STRIPPED) for punt(); then the
// ethertype and the subinterface's MTU, as eth_input does for untagged frames. Out of line:
// untagged traffic never enters it.
[[gnu::noinline]] bool vlan_input(WorkerContext& ctx, rte_mbuf* m, std::uint8_t& family) noexcept {
  if (m->data_len < kEthHeaderLen + kVlanTagLen) {
    drop(ctx, m, DropReason::eth_truncated);
    return false;
  }
  std::uint8_t* eth = rte_pktmbuf_mtod(m, std::uint8_t*);
  // 802.1Q: TPID at 12 (already read), TCI at 14, the inner ethertype at 16.
  const std::uint16_t tci = load_be16(eth + kEthHeaderLen);
  const std::uint16_t inner = load_be16(eth + kEthHeaderLen + 2);
  if (inner == kEtherTypeVlan || inner == kEtherTypeQinQ) {
    drop(ctx, m, DropReason::vlan_stacked);
    return false;
  }
  const DataplanePort& port = ctx.shared->ports[ctx.in_port];
  const std::uint16_t ifx =
      port.vlan_to_if == nullptr ? kNoInterface : port.vlan_to_if[tci & 0x0fff];
  if (ifx == kNoInterface) {
    drop(ctx, m, DropReason::vlan_unknown);
    return false;
  }
  switch (inner) {
    case kEtherTypeIpv4:
      family = 4;
      break;
    case kEtherTypeIpv6:
      family = 6;
      break;
    case kEtherTypeArp:
      break;
    default:
      drop(ctx, m, DropReason::unknown_ethertype);
      return false;
  }
  std::memmove(eth + kVlanTagLen, eth, 12);
  rte_pktmbuf_adj(m, kVlanTagLen);
  m->vlan_tci = tci;
  m->ol_flags |= RTE_MBUF_F_RX_VLAN | RTE_MBUF_F_RX_VLAN_STRIPPED;
  if (ifx != ctx.in_port) {  // the port itself (priority tag) counts every frame in input()
    PortCounters& pc = ctx.counters->port[ifx];
    pc.rx_packets.add(1);
    pc.rx_bytes.add(m->pkt_len);
  }
  if (inner == kEtherTypeArp) {
    punt(ctx, m, PuntReason::kArp);
    return false;
  }
  if (m->data_len > ctx.shared->ports[ifx].mtu + kEthHeaderLen) {
    drop(ctx, m, DropReason::oversize);
    return false;
  }
  return true;
}

// The per-packet halves of `input`; true if the packet goes on. Check order = drop precedence
// (the golden tables in tests/forwarder/dataplane_test.cc).
inline bool eth_input(WorkerContext& ctx, const DataplanePort& port, std::uint32_t max_frame,
                      rte_mbuf* m, std::uint8_t& family) noexcept {
  if (m->nb_segs != 1) {
    drop(ctx, m, DropReason::multi_segment);
    return false;
  }
  if (m->data_len < kEthHeaderLen) {
    drop(ctx, m, DropReason::eth_truncated);
    return false;
  }
  const std::uint8_t* eth = rte_pktmbuf_mtod(m, const std::uint8_t*);
  // Group bit set: broadcast or multicast; otherwise it must be our unicast MAC.
  if ((eth[0] & 1) == 0 && std::memcmp(eth, port.mac, 6) != 0) {
    drop(ctx, m, DropReason::not_for_us);
    return false;
  }
  switch (load_be16(eth + 12)) {
    case kEtherTypeIpv4:
      family = 4;
      break;
    case kEtherTypeIpv6:
      family = 6;
      break;
    case kEtherTypeArp:
      punt(ctx, m, PuntReason::kArp);
      return false;
    case kEtherTypeVlan:
      return vlan_input(ctx, m, family);
    case kEtherTypeQinQ:
      drop(ctx, m, DropReason::vlan_stacked);
      return false;
    default:
      drop(ctx, m, DropReason::unknown_ethertype);
      return false;
  }
  if (m->data_len > max_frame) {
    drop(ctx, m, DropReason::oversize);
    return false;
  }
  return true;
}

// Validates the IPv4 header at `ip`.
inline bool ip4_input(WorkerContext& ctx, rte_mbuf* m, std::uint8_t* ip,
                      std::uint32_t avail) noexcept {
  if (avail < kIp4MinHeaderLen) {
    drop(ctx, m, DropReason::ip4_truncated);
    return false;
  }
  if ((ip[0] >> 4) != 4) {
    drop(ctx, m, DropReason::ip4_bad_version);
    return false;
  }
  const std::uint32_t ihl = (ip[0] & 0x0fu) * 4u;
  if (ihl < kIp4MinHeaderLen) {
    drop(ctx, m, DropReason::ip4_bad_ihl);
    return false;
  }
  const std::uint32_t total = load_be16(ip + kIp4OffTotalLen);
  if (ihl > avail || total > avail) {
    drop(ctx, m, DropReason::ip4_truncated);
    return false;
  }
  if (total < ihl) {
    drop(ctx, m, DropReason::ip4_bad_length);
    return false;
  }
  const std::uint64_t ck = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
  if (ck == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
      (ck != RTE_MBUF_F_RX_IP_CKSUM_GOOD && !ip4_header_checksum_ok(ip, ihl))) {
    drop(ctx, m, DropReason::ip4_bad_checksum);
    return false;
  }
  const std::uint8_t s0 = ip[kIp4OffSrc];
  if (s0 == 0 || s0 == 127 || s0 >= 224) {
    drop(ctx, m, DropReason::ip4_martian_source);
    return false;
  }
  const std::uint8_t d0 = ip[kIp4OffDst];
  if (d0 == 0 || d0 == 127) {
    drop(ctx, m, DropReason::ip4_martian_destination);
    return false;
  }
  if (total < avail) rte_pktmbuf_trim(m, static_cast<std::uint16_t>(avail - total));
  return true;
}

inline bool ip6_input(WorkerContext& ctx, rte_mbuf* m, std::uint8_t* ip,
                      std::uint32_t avail) noexcept {
  if (avail < kIp6HeaderLen) {
    drop(ctx, m, DropReason::ip6_truncated);
    return false;
  }
  if ((ip[0] >> 4) != 6) {
    drop(ctx, m, DropReason::ip6_bad_version);
    return false;
  }
  const std::uint32_t total = kIp6HeaderLen + load_be16(ip + kIp6OffPayloadLen);
  if (total > avail) {
    drop(ctx, m, DropReason::ip6_truncated);
    return false;
  }
  if (total < avail) rte_pktmbuf_trim(m, static_cast<std::uint16_t>(avail - total));
  // ND is validated by the control thread (RFC 4861 7.1.1); DAD uses the :: source.
  if (is_ipv6_nd(ip, total)) {
    punt(ctx, m, PuntReason::kNd);
    return false;
  }
  const std::uint8_t* src = ip + kIp6OffSrc;
  if (src[0] == 0xff || v6_is_unspecified(src) || v6_is_loopback(src)) {
    drop(ctx, m, DropReason::ip6_martian_source);
    return false;
  }
  const std::uint8_t* dst = ip + kIp6OffDst;
  if (v6_is_unspecified(dst) || v6_is_loopback(dst)) {
    drop(ctx, m, DropReason::ip6_martian_destination);
    return false;
  }
  return true;
}

// The member of next-hop group route `nh` (its `port` is the group id) for packet i of the
// burst: members[flow_hash % n], the flow hash path groups use (tunnel_stages.h), so one flow
// keeps one member. Out of line: routes without ECMP never enter it. 0 if the group is empty.
[[gnu::noinline]] std::uint32_t nexthop_group_member(WorkerContext& ctx, const NextHop& nh,
                                                     const BurstState& b, unsigned i) noexcept {
  const NextHopGroup* g = nh.port < kMaxNextHopGroups
                              ? ctx.shared->nh_groups[nh.port].load(std::memory_order_acquire)
                              : nullptr;
  if (g == nullptr || g->n_members == 0) return 0;
  const bool v4 = b.family[i] == 4;
  const std::uint32_t k =
      flow_hash(b.frame[i] + kEthHeaderLen, v4, b.len[i] - kEthHeaderLen) % g->n_members;
  if (ctx.id < kNextHopGroupCounterRows) g->packets[ctx.id].packets[k].add();
  return g->members[k];
}

// Packets this far ahead have their frame prefetched while the current one is parsed.
constexpr unsigned kPrefetchAhead = 4;

}  // namespace

std::uint16_t input(WorkerContext& ctx, std::span<rte_mbuf*> pkts) noexcept {
  const DataplanePort& port = ctx.shared->ports[ctx.in_port];
  const std::uint32_t max_frame = port.mtu + kEthHeaderLen;
  const FibCopy& fib = *ctx.fib;
  const std::size_t n = pkts.size();
  for (std::size_t i = 0; i < n && i < kPrefetchAhead; ++i) {
    rte_prefetch0(rte_pktmbuf_mtod(pkts[i], void*));
  }
  // Tunnel listeners, if any (else no packet is looked at for them).
  const TunnelShared* ts = ctx.shared->tunnels;
  if (ts != nullptr && ts->n_tunnels == 0) ts = nullptr;
  std::uint32_t tunnel_candidates = 0;
  std::uint16_t keep = 0;
  std::uint16_t n_v6 = 0;
  std::uint64_t bytes = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (i + kPrefetchAhead < n) rte_prefetch0(rte_pktmbuf_mtod(pkts[i + kPrefetchAhead], void*));
    rte_mbuf* m = pkts[i];
    bytes += m->pkt_len;
    std::uint8_t family = 0;
    if (!eth_input(ctx, port, max_frame, m, family)) continue;
    std::uint8_t* ip = rte_pktmbuf_mtod_offset(m, std::uint8_t*, kEthHeaderLen);
    const std::uint32_t avail = m->data_len - kEthHeaderLen;
    if (family == 4) {
      if (!ip4_input(ctx, m, ip, avail)) continue;
      // The FIB entry is loaded by fib_lookup, a few dozen packets later: fetch it now.
      rte_prefetch0(fib.tbl24_entry(load_be32(ip + kIp4OffDst)));
    } else {
      if (!ip6_input(ctx, m, ip, avail)) continue;
      ++n_v6;
    }
    ctx.burst.set(keep, ip - kEthHeaderLen, m->data_len, family == 4);
    // After vlan_input the tag is gone (the IP header is at kEthHeaderLen either way) and the
    // listener is looked up on the receiving interface, the subinterface of a tagged frame.
    if (ts != nullptr &&
        tunnel_candidate(*ts, rx_interface(ctx, m), ip, m->data_len - kEthHeaderLen, family == 4)) {
      tunnel_candidates |= 1u << keep;
    }
    pkts[keep++] = m;
  }
  ctx.burst.n_v6 = n_v6;
  ctx.burst.tunnel_candidates = tunnel_candidates;
  // Counted here, in the one loop that touches every received mbuf anyway.
  PortCounters& pc = ctx.counters->port[ctx.in_port];
  pc.rx_packets.add(n);
  pc.rx_bytes.add(bytes);
  return keep;
}

std::uint16_t fib_lookup(WorkerContext& ctx, std::span<rte_mbuf*> pkts) noexcept {
  BurstState& b = ctx.burst;
  const FibCopy& fib = *ctx.fib;
  if (b.n_v6 == 0) {
    for (std::size_t i = 0; i < pkts.size(); ++i) b.nh[i] = fib.lookup4(b.dst4[i]);
    return static_cast<std::uint16_t>(pkts.size());
  }
  std::uint8_t v6_dst[kBurstSize][16];
  std::uint64_t v6_nh[kBurstSize];
  std::uint16_t v6_idx[kBurstSize];
  unsigned n6 = 0;
  for (std::uint16_t i = 0; i < pkts.size(); ++i) {
    if (b.family[i] == 4) {
      b.nh[i] = fib.lookup4(b.dst4[i]);
    } else {
      std::memcpy(v6_dst[n6], b.frame[i] + kEthHeaderLen + kIp6OffDst, 16);
      v6_idx[n6++] = i;
    }
  }
  ctx.fib->lookup6(v6_dst, v6_nh, n6);
  for (unsigned i = 0; i < n6; ++i) b.nh[v6_idx[i]] = static_cast<std::uint32_t>(v6_nh[i]);
  return static_cast<std::uint16_t>(pkts.size());
}

std::uint16_t next_hop(WorkerContext& ctx, std::span<rte_mbuf*> pkts) noexcept {
  const DataplaneShared& sh = *ctx.shared;
  BurstState& b = ctx.burst;
  const bool all_v4 = b.n_v6 == 0;
  std::uint16_t keep = 0;
  for (std::size_t i = 0; i < pkts.size(); ++i) {
    rte_mbuf* m = pkts[i];
    std::uint32_t id = b.nh[i];
    if (id == kNoRouteNextHop.value() || id >= sh.n_next_hops) {
      drop_with_icmp(ctx, m, DropReason::no_route, PuntReason::kUnreachable);
      continue;
    }
    const NextHop* nhp = &sh.next_hops[id];
    switch (nhp->kind) {
      case NextHopKind::kLocal:
        punt(ctx, m, PuntReason::kToKernel);
        continue;
      case NextHopKind::kBlackhole:
        drop(ctx, m, DropReason::blackhole);
        continue;
      case NextHopKind::kUnreachable:
        drop_with_icmp(ctx, m, DropReason::unreachable, PuntReason::kUnreachable);
        continue;
      case NextHopKind::kPathGroup:  // encrypted by tunnel_output (tunnel_stages.h)
        ctx.tunnel_out_nh[ctx.n_tunnel_out] = id;
        ctx.tunnel_out[ctx.n_tunnel_out++] = m;
        continue;
      case NextHopKind::kNextHopGroup:  // ECMP: one member by flow hash, then as a gateway
        id = nexthop_group_member(ctx, *nhp, b, i);
        if (id == 0) [[unlikely]] {
          drop(ctx, m, DropReason::nexthop_group_empty);
          continue;
        }
        nhp = &sh.next_hops[id];
        break;
      case NextHopKind::kGateway:
      case NextHopKind::kConnected:
        break;
    }
    const NextHop& nh = *nhp;
    // The frame is only written from here on: its TTL, checksum and length are in b.
    std::uint8_t* eth = b.frame[i];
    const bool v4 = all_v4 || b.family[i] == 4;
    const std::uint32_t ttl_word = b.ttl_word[i];
    if ((v4 ? ttl_word >> 24 : eth[kEthHeaderLen + kIp6OffHopLimit]) <= 1) {
      drop_with_icmp(ctx, m, v4 ? DropReason::ip4_ttl_expired : DropReason::ip6_hop_limit_expired,
                     PuntReason::kTimeExceeded);
      continue;
    }
    const std::uint16_t mtu = sh.ports[nh.port].mtu;  // the subinterface's, if one
    std::uint16_t len = b.len[i];
    if (len - kEthHeaderLen > mtu) {
      meta(m).mtu = mtu;
      drop_with_icmp(ctx, m, DropReason::mtu_exceeded, PuntReason::kTooBig);
      continue;
    }
    const std::uint64_t mac =
        nh.kind == NextHopKind::kGateway ? nh.dst_mac.load(std::memory_order_acquire) : 0;
    if ((mac & kMacValid) == 0) {
      meta(m).next_hop = id;
      punt(ctx, m, PuntReason::kResolve);
      continue;
    }
    // Forwarded: the rewrite is done here (one pass less), with stores only.
    if (v4) {
      store_be32(eth + kEthHeaderLen + kIp4OffTtl, ttl_word_decremented(ttl_word));
    } else {
      eth[kEthHeaderLen + kIp6OffHopLimit] -= 1;
    }
    const DataplanePort& out = sh.ports[nh.port];
    rewrite_eth(eth, mac, out.mac);
    if (out.vlan_tci != 0) [[unlikely]] {
      if (!push_vlan_tag(m, out.vlan_tci)) {
        drop(ctx, m, DropReason::no_buffer);
        continue;
      }
      len += kVlanTagLen;
    }
    b.out_port[keep] = out.tx_port;
    b.len[keep] = len;
    pkts[keep++] = m;
  }
  return keep;
}

bool push_vlan_tag(rte_mbuf* m, std::uint16_t tci) noexcept {
  auto* eth = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_prepend(m, kVlanTagLen));
  if (eth == nullptr) return false;
  std::memmove(eth, eth + kVlanTagLen, 12);
  store_be16(eth + 12, kEtherTypeVlan);
  store_be16(eth + 14, tci);
  return true;
}

void rewrite_one(rte_mbuf* m, const std::uint8_t* src_mac, const std::uint8_t* dst_mac) noexcept {
  std::uint8_t* eth = rte_pktmbuf_mtod(m, std::uint8_t*);
  rewrite_ip(eth + meta(m).l3_offset, meta(m).family == 4);
  rewrite_eth(eth, pack_mac(dst_mac), src_mac);
}

}  // namespace causeway::fwd
