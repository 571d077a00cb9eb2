// SPDX-License-Identifier: Apache-2.0
// Forwarding stages of a worker lcore (see stages.h for the contract, worker.cc for the
// order). Packets belong to the worker that received them; nothing here locks, allocates,
// logs or frees: drops go to ctx.dropped, punts to ctx.punt, survivors stay in the span.
#include "stages.h"

#include <rte_ip.h>

#include <cstring>

#include "packet_meta.h"
#include "wire.h"

namespace causeway::fwd {
namespace {

using namespace wire;

inline void drop(WorkerContext& ctx, rte_mbuf* m, DropReason r) noexcept {
  ctx.counters->count_drop(r);
  ctx.dropped[ctx.n_dropped++] = m;
}

inline void punt(WorkerContext& ctx, rte_mbuf* m, PuntReason r) noexcept {
  meta(m).punt = r;
  ctx.punt[ctx.n_punt++] = m;
}

// Not forwarded (counted as a drop) but handed to the control thread, which answers with an
// ICMP error and frees it.
inline void drop_with_icmp(WorkerContext& ctx, rte_mbuf* m, DropReason r, PuntReason p) noexcept {
  ctx.counters->count_drop(r);
  punt(ctx, m, p);
}

inline std::uint8_t* l3(rte_mbuf* m) noexcept {
  return rte_pktmbuf_mtod_offset(m, std::uint8_t*, meta(m).l3_offset);
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
inline void csum_replace16(std::uint8_t* csum, std::uint16_t old_word,
                           std::uint16_t new_word) noexcept {
  std::uint32_t sum = static_cast<std::uint16_t>(~load_be16(csum));
  sum += static_cast<std::uint16_t>(~old_word);
  sum += new_word;
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  store_be16(csum, static_cast<std::uint16_t>(~sum));
}

}  // namespace

std::uint16_t eth_input(WorkerContext& ctx, std::span<rte_mbuf*> pkts) noexcept {
  const DataplanePort& port = ctx.shared->ports[ctx.in_port];
  const std::uint32_t max_frame = port.mtu + kEthHeaderLen;
  std::uint16_t keep = 0;
  std::uint64_t bytes = 0;
  for (rte_mbuf* m : pkts) {
    bytes += m->pkt_len;
    PacketMeta& pm = meta(m);
    pm.in_port = ctx.in_port;
    pm.l3_offset = kEthHeaderLen;
    pm.family = 0;
    if (m->nb_segs != 1) {
      drop(ctx, m, DropReason::multi_segment);
      continue;
    }
    if (m->data_len < kEthHeaderLen) {
      drop(ctx, m, DropReason::eth_truncated);
      continue;
    }
    const std::uint8_t* eth = rte_pktmbuf_mtod(m, const std::uint8_t*);
    // Group bit set: broadcast or multicast; otherwise it must be our unicast MAC.
    if ((eth[0] & 1) == 0 && std::memcmp(eth, port.mac, 6) != 0) {
      drop(ctx, m, DropReason::not_for_us);
      continue;
    }
    std::uint16_t type = load_be16(eth + 12);
    switch (type) {
      case kEtherTypeIpv4:
        pm.family = 4;
        break;
      case kEtherTypeIpv6:
        pm.family = 6;
        break;
      case kEtherTypeArp:
        punt(ctx, m, PuntReason::kArp);
        continue;
      case kEtherTypeVlan:
      case kEtherTypeQinQ:
        drop(ctx, m, DropReason::vlan_unsupported);
        continue;
      default:
        drop(ctx, m, DropReason::unknown_ethertype);
        continue;
    }
    if (m->data_len > max_frame) {
      drop(ctx, m, DropReason::oversize);
      continue;
    }
    pkts[keep++] = m;
  }
  // Counted here, in the one loop that touches every received mbuf anyway.
  PortCounters& pc = ctx.counters->port[ctx.in_port];
  pc.rx_packets.add(pkts.size());
  pc.rx_bytes.add(bytes);
  return keep;
}

std::uint16_t ip_input(WorkerContext& ctx, std::span<rte_mbuf*> pkts) noexcept {
  std::uint16_t keep = 0;
  for (rte_mbuf* m : pkts) {
    PacketMeta& pm = meta(m);
    std::uint8_t* ip = l3(m);
    const std::uint32_t avail = m->data_len - pm.l3_offset;
    if (pm.family == 4) {
      if (avail < kIp4MinHeaderLen) {
        drop(ctx, m, DropReason::ip4_truncated);
        continue;
      }
      if ((ip[0] >> 4) != 4) {
        drop(ctx, m, DropReason::ip4_bad_version);
        continue;
      }
      const std::uint32_t ihl = (ip[0] & 0x0fu) * 4u;
      if (ihl < kIp4MinHeaderLen) {
        drop(ctx, m, DropReason::ip4_bad_ihl);
        continue;
      }
      const std::uint32_t total = load_be16(ip + kIp4OffTotalLen);
      if (ihl > avail || total > avail) {
        drop(ctx, m, DropReason::ip4_truncated);
        continue;
      }
      if (total < ihl) {
        drop(ctx, m, DropReason::ip4_bad_length);
        continue;
      }
      const std::uint64_t ck = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
      if (ck == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
          (ck != RTE_MBUF_F_RX_IP_CKSUM_GOOD && !ip4_header_checksum_ok(ip, ihl))) {
        drop(ctx, m, DropReason::ip4_bad_checksum);
        continue;
      }
      const std::uint8_t s0 = ip[kIp4OffSrc];
      if (s0 == 0 || s0 == 127 || s0 >= 224) {
        drop(ctx, m, DropReason::ip4_martian_source);
        continue;
      }
      const std::uint8_t d0 = ip[kIp4OffDst];
      if (d0 == 0 || d0 == 127) {
        drop(ctx, m, DropReason::ip4_martian_destination);
        continue;
      }
      if (total < avail) rte_pktmbuf_trim(m, static_cast<std::uint16_t>(avail - total));
    } else {
      if (avail < kIp6HeaderLen) {
        drop(ctx, m, DropReason::ip6_truncated);
        continue;
      }
      if ((ip[0] >> 4) != 6) {
        drop(ctx, m, DropReason::ip6_bad_version);
        continue;
      }
      const std::uint32_t total = kIp6HeaderLen + load_be16(ip + kIp6OffPayloadLen);
      if (total > avail) {
        drop(ctx, m, DropReason::ip6_truncated);
        continue;
      }
      if (total < avail) rte_pktmbuf_trim(m, static_cast<std::uint16_t>(avail - total));
      // ND is validated by the control thread (RFC 4861 7.1.1); DAD uses the :: source.
      if (is_ipv6_nd(ip, total)) {
        punt(ctx, m, PuntReason::kNd);
        continue;
      }
      const std::uint8_t* src = ip + kIp6OffSrc;
      if (src[0] == 0xff || v6_is_unspecified(src) || v6_is_loopback(src)) {
        drop(ctx, m, DropReason::ip6_martian_source);
        continue;
      }
      const std::uint8_t* dst = ip + kIp6OffDst;
      if (v6_is_unspecified(dst) || v6_is_loopback(dst)) {
        drop(ctx, m, DropReason::ip6_martian_destination);
        continue;
      }
    }
    pkts[keep++] = m;
  }
  return keep;
}

std::uint16_t fib_lookup(WorkerContext& ctx, std::span<rte_mbuf*> pkts) noexcept {
  std::uint32_t v4_dst[kBurstSize];
  std::uint64_t v4_nh[kBurstSize];
  std::uint16_t v4_idx[kBurstSize];
  std::uint8_t v6_dst[kBurstSize][16];
  std::uint64_t v6_nh[kBurstSize];
  std::uint16_t v6_idx[kBurstSize];
  unsigned n4 = 0, n6 = 0;
  for (std::uint16_t i = 0; i < pkts.size(); ++i) {
    rte_mbuf* m = pkts[i];
    const std::uint8_t* ip = l3(m);
    if (meta(m).family == 4) {
      v4_dst[n4] = load_be32(ip + kIp4OffDst);
      v4_idx[n4++] = i;
    } else {
      std::memcpy(v6_dst[n6], ip + kIp6OffDst, 16);
      v6_idx[n6++] = i;
    }
  }
  if (n4) ctx.fib->lookup4(v4_dst, v4_nh, n4);
  if (n6) ctx.fib->lookup6(v6_dst, v6_nh, n6);
  for (unsigned i = 0; i < n4; ++i)
    meta(pkts[v4_idx[i]]).next_hop = static_cast<std::uint32_t>(v4_nh[i]);
  for (unsigned i = 0; i < n6; ++i)
    meta(pkts[v6_idx[i]]).next_hop = static_cast<std::uint32_t>(v6_nh[i]);
  return static_cast<std::uint16_t>(pkts.size());
}

std::uint16_t next_hop(WorkerContext& ctx, std::span<rte_mbuf*> pkts) noexcept {
  const DataplaneShared& sh = *ctx.shared;
  std::uint16_t keep = 0;
  for (rte_mbuf* m : pkts) {
    PacketMeta& pm = meta(m);
    if (pm.next_hop == kNoRouteNextHop.value() || pm.next_hop >= sh.n_next_hops) {
      drop_with_icmp(ctx, m, DropReason::no_route, PuntReason::kUnreachable);
      continue;
    }
    const NextHop& nh = sh.next_hops[pm.next_hop];
    switch (nh.kind) {
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
        ctx.tunnel_out[ctx.n_tunnel_out++] = m;
        continue;
      case NextHopKind::kGateway:
      case NextHopKind::kConnected:
        break;
    }
    const std::uint8_t* ip = l3(m);
    const bool v4 = pm.family == 4;
    if ((v4 ? ip[kIp4OffTtl] : ip[kIp6OffHopLimit]) <= 1) {
      drop_with_icmp(ctx, m, v4 ? DropReason::ip4_ttl_expired : DropReason::ip6_hop_limit_expired,
                     PuntReason::kTimeExceeded);
      continue;
    }
    const std::uint16_t mtu = sh.ports[nh.port].mtu;
    if (m->data_len - pm.l3_offset > mtu) {
      pm.mtu = mtu;
      drop_with_icmp(ctx, m, DropReason::mtu_exceeded, PuntReason::kTooBig);
      continue;
    }
    const std::uint64_t mac =
        nh.kind == NextHopKind::kGateway ? nh.dst_mac.load(std::memory_order_acquire) : 0;
    if ((mac & kMacValid) == 0) {
      punt(ctx, m, PuntReason::kResolve);
      continue;
    }
    pm.out_port = nh.port;
    unpack_mac(mac, pm.dst_mac);
    pkts[keep++] = m;
  }
  return keep;
}

void rewrite_one(rte_mbuf* m, const std::uint8_t* src_mac, const std::uint8_t* dst_mac) noexcept {
  std::uint8_t* eth = rte_pktmbuf_mtod(m, std::uint8_t*);
  std::uint8_t* ip = eth + meta(m).l3_offset;
  if (meta(m).family == 4) {
    const std::uint16_t old_word = load_be16(ip + kIp4OffTtl);
    ip[kIp4OffTtl] -= 1;
    csum_replace16(ip + kIp4OffChecksum, old_word, load_be16(ip + kIp4OffTtl));
  } else {
    ip[kIp6OffHopLimit] -= 1;
  }
  std::memcpy(eth, dst_mac, 6);
  std::memcpy(eth + 6, src_mac, 6);
}

std::uint16_t rewrite(WorkerContext& ctx, std::span<rte_mbuf*> pkts) noexcept {
  for (rte_mbuf* m : pkts) {
    const PacketMeta& pm = meta(m);
    rewrite_one(m, ctx.shared->ports[pm.out_port].mac, pm.dst_mac);
  }
  return static_cast<std::uint16_t>(pkts.size());
}

}  // namespace causeway::fwd
