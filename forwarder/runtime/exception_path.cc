// SPDX-License-Identifier: Apache-2.0
// Exception path of the control thread: see exception_path.h for what it does and who owns
// what. Packets arrive here from the punt ring (worker -> control) and from the kernel
// mirrors; they leave through a worker's inject ring (control -> worker) or a mirror.
#include "exception_path.h"

#include <rte_ip.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "dataplane/packet_meta.h"
#include "dataplane/stages.h"
#include "dataplane/tunnel_stages.h"
#include "dataplane/wire.h"

namespace causeway::fwd {
namespace {

using namespace wire;

// ARP (RFC 826) for Ethernet/IPv4.
constexpr unsigned kArpLen = 28;
constexpr std::uint16_t kArpOpRequest = 1;
constexpr std::uint16_t kArpOpReply = 2;
// Neighbour discovery (RFC 4861 section 4).
constexpr std::uint8_t kNdNeighborSolicit = 135;
constexpr std::uint8_t kNdNeighborAdvert = 136;
constexpr std::uint8_t kNdOptSourceLinkAddr = 1;
constexpr std::uint8_t kNdOptTargetLinkAddr = 2;
constexpr std::uint8_t kNdHopLimit = 255;
constexpr std::uint8_t kNaFlagRouter = 0x80;
constexpr std::uint8_t kNaFlagSolicited = 0x40;
constexpr std::uint8_t kNaFlagOverride = 0x20;
// ICMP (RFC 792) and ICMPv6 (RFC 4443) error types.
constexpr std::uint8_t kIcmpDestUnreach = 3;
constexpr std::uint8_t kIcmpTimeExceeded = 11;
constexpr std::uint8_t kIcmpCodeNetUnreach = 0;
constexpr std::uint8_t kIcmpCodeHostUnreach = 1;
constexpr std::uint8_t kIcmpCodeFragNeeded = 4;
constexpr std::uint8_t kIcmp6DestUnreach = 1;
constexpr std::uint8_t kIcmp6PacketTooBig = 2;
constexpr std::uint8_t kIcmp6TimeExceeded = 3;
constexpr std::uint8_t kIcmp6CodeNoRoute = 0;
constexpr std::uint8_t kIcmp6CodeAddrUnreach = 3;
// RFC 1812 4.3.2.3: an ICMP error carries as much of the original as fits in 576 bytes;
// RFC 4443 2.4(c): as much as fits in the IPv6 minimum MTU.
constexpr unsigned kIcmp4MaxLen = 576;
constexpr unsigned kIcmp6MaxLen = 1280;
constexpr std::uint8_t kDefaultTtl = 64;
constexpr double kIcmpRatePerSecond = 100;
constexpr double kIcmpBurst = 100;

const std::uint8_t kBroadcastMac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

MacAddress mac_at(const std::uint8_t* p) {
  MacAddress m;
  std::memcpy(m.bytes.data(), p, 6);
  return m;
}
IpAddress v4_at(const std::uint8_t* p) {
  IpAddress a;
  a.family = Family::kV4;
  std::memcpy(a.bytes.data(), p, 4);
  return a;
}
IpAddress v6_at(const std::uint8_t* p) {
  IpAddress a;
  a.family = Family::kV6;
  std::memcpy(a.bytes.data(), p, 16);
  return a;
}

std::uint16_t icmp6_checksum(const std::uint8_t* ip6, const std::uint8_t* icmp, std::size_t len) {
  std::uint32_t sum = csum_add(0, ip6 + kIp6OffSrc, 32);
  sum += static_cast<std::uint32_t>(len >> 16) + static_cast<std::uint32_t>(len & 0xffff);
  sum += kIpProtoIcmpv6;
  sum = csum_add(sum, icmp, len);
  return csum_fold(sum);
}

void write_eth(std::uint8_t* eth, const std::uint8_t* dst, const std::uint8_t* src,
               std::uint16_t type) {
  std::memcpy(eth, dst, 6);
  std::memcpy(eth + 6, src, 6);
  store_be16(eth + 12, type);
}

void write_ip6(std::uint8_t* ip, const IpAddress& src, const IpAddress& dst, std::uint16_t plen,
               std::uint8_t hop_limit) {
  store_be32(ip, 0x60000000);
  store_be16(ip + kIp6OffPayloadLen, plen);
  ip[kIp6OffNextHeader] = kIpProtoIcmpv6;
  ip[kIp6OffHopLimit] = hop_limit;
  std::memcpy(ip + kIp6OffSrc, src.bytes.data(), 16);
  std::memcpy(ip + kIp6OffDst, dst.bytes.data(), 16);
}

}  // namespace

const char* neighbor_state_name(NeighborState s) {
  switch (s) {
    case NeighborState::kIncomplete:
      return "incomplete";
    case NeighborState::kReachable:
      return "reachable";
    case NeighborState::kProbe:
      return "probe";
    case NeighborState::kStatic:
      return "static";
  }
  return "?";
}

ExceptionPath::ExceptionPath(std::vector<PortRuntime>& ports, RouteTable& routes, rte_mempool* pool,
                             WorkerCounters& counters, const NeighborTimers& timers, Inject inject,
                             Clock now_ms)
    : ports_(ports),
      routes_(routes),
      pool_(pool),
      counters_(counters),
      timers_(timers),
      inject_(std::move(inject)),
      now_ms_(std::move(now_ms)) {
  icmp_last_ms_ = now_ms_();
}

ExceptionPath::~ExceptionPath() {
  for (auto& [key, n] : neighbors_) {
    for (rte_mbuf* m : n.pending) rte_pktmbuf_free(m);
  }
}

rte_mbuf* ExceptionPath::alloc() {
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (!m) counters_.count_drop(DropReason::no_buffer);
  return m;
}

void ExceptionPath::handle_punt(rte_mbuf* m) {
  PacketMeta& pm = meta(m);
  switch (pm.punt) {
    case PuntReason::kToKernel:
      to_kernel(pm.in_port, m);
      return;
    case PuntReason::kArp:
      handle_arp(m);
      return;
    case PuntReason::kNd:
      handle_nd(m);
      return;
    case PuntReason::kResolve:
      handle_resolve(m);
      return;
    case PuntReason::kTimeExceeded:
      send_icmp_error(m, pm.family == 4 ? kIcmpTimeExceeded : kIcmp6TimeExceeded, 0, 0);
      return;
    case PuntReason::kUnreachable:
      send_icmp_error(m, pm.family == 4 ? kIcmpDestUnreach : kIcmp6DestUnreach,
                      pm.family == 4 ? kIcmpCodeNetUnreach : kIcmp6CodeNoRoute, 0);
      return;
    case PuntReason::kTooBig: {
      if (pm.family == 4) {
        const std::uint8_t* ip = rte_pktmbuf_mtod_offset(m, const std::uint8_t*, pm.l3_offset);
        if ((load_be16(ip + kIp4OffFlagsFrag) & kIp4FlagDf) == 0) {
          // Fragmentation of transit packets is not implemented; the drop is counted.
          rte_pktmbuf_free(m);
          return;
        }
        send_icmp_error(m, kIcmpDestUnreach, kIcmpCodeFragNeeded, pm.mtu);
      } else {
        send_icmp_error(m, kIcmp6PacketTooBig, 0, pm.mtu);
      }
      return;
    }
    case PuntReason::kTunnelHandshake:
    case PuntReason::kTunnelNoSession:
    case PuntReason::kTunnelLocal:
    case PuntReason::kProbeReply:
      if (tunnel_handler_) {
        tunnel_handler_(m);
        return;
      }
      break;
  }
  rte_pktmbuf_free(m);
}

void ExceptionPath::to_kernel(std::uint16_t port, rte_mbuf* m) {
  copy_to_kernel(port, m);
  rte_pktmbuf_free(m);
}

void ExceptionPath::copy_to_kernel(std::uint16_t port, const rte_mbuf* m) {
  const Mirror* mirror = ports_[port].mirror.get();
  if (!mirror) return;
  ssize_t n = write(mirror->fd(), rte_pktmbuf_mtod(m, const void*), m->data_len);
  if (n != static_cast<ssize_t>(m->data_len)) counters_.count_drop(DropReason::mirror_write_failed);
}

void ExceptionPath::handle_mirror_frame(std::uint16_t port, rte_mbuf* m) {
  PacketMeta& pm = meta(m);
  pm.out_port = port;
  pm.in_port = port;
  pm.flags = kMetaLocalOrigin;
  if (!inject_(m)) rte_pktmbuf_free(m);
}

// RFC 826 "Packet Reception", with the merge step, for Ethernet/IPv4 only.
void ExceptionPath::handle_arp(rte_mbuf* m) {
  const std::uint16_t port = meta(m).in_port;
  PortRuntime& p = ports_[port];
  if (m->data_len < kEthHeaderLen + kArpLen) {
    counters_.count_drop(DropReason::arp_malformed);
    rte_pktmbuf_free(m);
    return;
  }
  std::uint8_t* eth = rte_pktmbuf_mtod(m, std::uint8_t*);
  std::uint8_t* arp = eth + kEthHeaderLen;
  if (load_be16(arp) != 1 || load_be16(arp + 2) != kEtherTypeIpv4 || arp[4] != 6 || arp[5] != 4) {
    counters_.count_drop(DropReason::arp_malformed);
    rte_pktmbuf_free(m);
    return;
  }
  const std::uint16_t op = load_be16(arp + 6);
  const MacAddress sha = mac_at(arp + 8);
  const IpAddress spa = v4_at(arp + 14);
  const IpAddress tpa = v4_at(arp + 24);
  const bool for_us = p.owns(tpa);
  // A reply to our MAC answers us or the kernel (which may ask from any of our addresses).
  const bool reply_to_us = op == kArpOpReply && std::memcmp(arp + 18, p.mac.bytes.data(), 6) == 0;
  if (spa.v4_host_order() != 0 && (sha.bytes[0] & 1) == 0) learn(port, spa, sha, for_us);

  if (op == kArpOpRequest && for_us) {
    // Turn the request into the reply in place.
    store_be16(arp + 6, kArpOpReply);
    std::memcpy(arp + 18, arp + 8, 10);  // tha, tpa <- sha, spa
    std::memcpy(arp + 8, p.mac.bytes.data(), 6);
    std::memcpy(arp + 14, tpa.bytes.data(), 4);
    write_eth(eth, sha.bytes.data(), p.mac.bytes.data(), kEtherTypeArp);
    PacketMeta& pm = meta(m);
    pm.out_port = port;
    pm.flags = kMetaLocalOrigin;
    if (!inject_(m)) rte_pktmbuf_free(m);
    return;
  }
  if (reply_to_us) {
    copy_to_kernel(port, m);  // the kernel may be resolving this neighbour itself
    rte_pktmbuf_free(m);
    return;
  }
  if (op != kArpOpRequest && op != kArpOpReply)
    counters_.count_drop(DropReason::arp_malformed);
  else
    counters_.count_drop(DropReason::arp_ignored);
  rte_pktmbuf_free(m);
}

// RFC 4861 section 7: neighbour solicitation / advertisement; other ND to the kernel.
void ExceptionPath::handle_nd(rte_mbuf* m) {
  const std::uint16_t port = meta(m).in_port;
  PortRuntime& p = ports_[port];
  std::uint8_t* eth = rte_pktmbuf_mtod(m, std::uint8_t*);
  std::uint8_t* ip = eth + meta(m).l3_offset;
  const std::size_t icmp_len = load_be16(ip + kIp6OffPayloadLen);
  std::uint8_t* icmp = ip + kIp6HeaderLen;
  const std::uint8_t type = icmp[0];
  // 7.1.1 / 7.1.2 validity checks.
  if (ip[kIp6OffHopLimit] != kNdHopLimit || icmp[1] != 0 ||
      icmp6_checksum(ip, icmp, icmp_len) != 0) {
    counters_.count_drop(DropReason::nd_malformed);
    rte_pktmbuf_free(m);
    return;
  }
  if (type != kNdNeighborSolicit && type != kNdNeighborAdvert) {
    to_kernel(port, m);  // router solicitation/advertisement, redirect
    return;
  }
  if (icmp_len < 24) {
    counters_.count_drop(DropReason::nd_malformed);
    rte_pktmbuf_free(m);
    return;
  }
  const IpAddress src = v6_at(ip + kIp6OffSrc);
  const IpAddress target = v6_at(icmp + 8);
  std::optional<MacAddress> lladdr;
  for (std::size_t off = 24; off + 8 <= icmp_len;) {
    const std::size_t olen = std::size_t{icmp[off + 1]} * 8;
    if (olen == 0 || off + olen > icmp_len) {
      counters_.count_drop(DropReason::nd_malformed);
      rte_pktmbuf_free(m);
      return;
    }
    const std::uint8_t otype = icmp[off];
    if ((type == kNdNeighborSolicit && otype == kNdOptSourceLinkAddr) ||
        (type == kNdNeighborAdvert && otype == kNdOptTargetLinkAddr)) {
      lladdr = mac_at(icmp + off + 2);
    }
    off += olen;
  }
  const bool src_unspecified =
      std::all_of(src.bytes.begin(), src.bytes.end(), [](std::uint8_t b) { return b == 0; });

  if (type == kNdNeighborAdvert) {
    if (lladdr) learn(port, target, *lladdr, false);
    copy_to_kernel(port, m);
    rte_pktmbuf_free(m);
    return;
  }
  // Neighbour solicitation.
  if (!p.owns(target)) {
    rte_pktmbuf_free(m);
    return;
  }
  if (!src_unspecified && lladdr) learn(port, src, *lladdr, true);
  // Answer (7.2.4): to the soliciting node, or all-nodes for DAD.
  IpAddress dst = src;
  std::uint8_t dst_mac[6];
  if (src_unspecified) {
    dst = *IpAddress::parse("ff02::1");
    const std::uint8_t all_nodes[6] = {0x33, 0x33, 0, 0, 0, 1};
    std::memcpy(dst_mac, all_nodes, 6);
  } else if (lladdr) {
    std::memcpy(dst_mac, lladdr->bytes.data(), 6);
  } else {
    std::memcpy(dst_mac, eth + 6, 6);
  }
  // Rebuild the packet as the advertisement: 24-byte NA + 8-byte target link-layer option.
  constexpr std::uint16_t kNaLen = 32;
  rte_pktmbuf_reset(m);
  meta(m).in_port = port;
  std::uint8_t* out = reinterpret_cast<std::uint8_t*>(
      rte_pktmbuf_append(m, kEthHeaderLen + kIp6HeaderLen + kNaLen));
  write_eth(out, dst_mac, p.mac.bytes.data(), kEtherTypeIpv6);
  std::uint8_t* oip = out + kEthHeaderLen;
  write_ip6(oip, target, dst, kNaLen, kNdHopLimit);
  std::uint8_t* na = oip + kIp6HeaderLen;
  std::memset(na, 0, kNaLen);
  na[0] = kNdNeighborAdvert;
  na[4] = kNaFlagRouter | kNaFlagOverride | (src_unspecified ? 0 : kNaFlagSolicited);
  std::memcpy(na + 8, target.bytes.data(), 16);
  na[24] = kNdOptTargetLinkAddr;
  na[25] = 1;
  std::memcpy(na + 26, p.mac.bytes.data(), 6);
  store_be16(na + 2, icmp6_checksum(oip, na, kNaLen));
  PacketMeta& pm = meta(m);
  pm.out_port = port;
  pm.flags = kMetaLocalOrigin;
  if (!inject_(m)) rte_pktmbuf_free(m);
}

void ExceptionPath::learn(std::uint16_t port, const IpAddress& addr, const MacAddress& mac,
                          bool create) {
  if (ports_[port].owns(addr)) return;
  NeighborKey key{port, addr};
  auto it = neighbors_.find(key);
  if (it == neighbors_.end()) {
    if (!create) return;
    it = neighbors_.emplace(key, Neighbor{}).first;
  }
  Neighbor& n = it->second;
  if (n.state == NeighborState::kStatic) return;
  const bool changed = !n.mac || *n.mac != mac;
  n.mac = mac;
  n.state = NeighborState::kReachable;
  n.confirmed_ms = now_ms_();
  n.probes_sent = 0;
  if (changed) resolved(key, n);
}

// A neighbour has a (new) MAC: publish it, install its host route if it is on-link, and
// send what was waiting for it.
void ExceptionPath::resolved(const NeighborKey& key, Neighbor& n) {
  const auto& [port, addr] = key;
  routes_.set_neighbor_mac(port, addr, n.mac);
  if (!n.adjacency && ports_[port].on_link(addr)) {
    RouteChange c;
    c.spec.prefix = IpPrefix{addr, static_cast<std::uint8_t>(addr.is_v4() ? 32 : 128)};
    c.spec.kind = NextHopKind::kGateway;
    c.spec.port = port;
    c.spec.gateway = addr;
    if (auto r = routes_.apply(RouteSource::kNeighbor, std::span(&c, 1)); r) {
      n.adjacency = true;
    } else {
      spdlog::warn("neighbour {} on {}: host route not installed: {}", addr.str(),
                   ports_[port].name, r.error().message);
    }
  }
  while (!n.pending.empty()) {
    rte_mbuf* m = n.pending.front();
    n.pending.pop_front();
    finish_and_send(m, port, *n.mac);
  }
}

void ExceptionPath::finish_and_send(rte_mbuf* m, std::uint16_t port, const MacAddress& dst) {
  PacketMeta& pm = meta(m);
  pm.out_port = port;
  if (pm.flags & kMetaLocalOrigin) {
    std::uint8_t* eth = rte_pktmbuf_mtod(m, std::uint8_t*);
    std::memcpy(eth, dst.bytes.data(), 6);
    std::memcpy(eth + 6, ports_[port].mac.bytes.data(), 6);
  } else {
    rewrite_one(m, ports_[port].mac.bytes.data(), dst.bytes.data());
  }
  if (!inject_(m)) rte_pktmbuf_free(m);
}

void ExceptionPath::handle_resolve(rte_mbuf* m) {
  PacketMeta& pm = meta(m);
  const NextHop& nh = routes_.next_hop(NextHopId(pm.next_hop));
  IpAddress target;
  if (nh.kind == NextHopKind::kGateway) {
    target = nh.gateway;
  } else if (nh.kind == NextHopKind::kConnected) {
    const std::uint8_t* ip = rte_pktmbuf_mtod_offset(m, const std::uint8_t*, pm.l3_offset);
    target = pm.family == 4 ? v4_at(ip + kIp4OffDst) : v6_at(ip + kIp6OffDst);
  } else {
    rte_pktmbuf_free(m);  // the route changed under the packet
    return;
  }
  const std::uint16_t port = nh.port;
  NeighborKey key{port, target};
  auto [it, inserted] = neighbors_.try_emplace(key);
  Neighbor& n = it->second;
  if (n.mac) {
    finish_and_send(m, port, *n.mac);
    return;
  }
  if (n.pending.size() >= timers_.queue_per_neighbor) {
    counters_.count_drop(DropReason::neighbor_queue_full);
    rte_pktmbuf_free(m);
  } else {
    n.pending.push_back(m);
  }
  if (inserted) {
    n.state = NeighborState::kIncomplete;
    send_solicit(port, target, std::nullopt);
    n.probes_sent = 1;
    n.next_probe_ms = now_ms_() + timers_.probe_interval_ms;
  }
}

void ExceptionPath::send_solicit(std::uint16_t port, const IpAddress& target,
                                 const std::optional<MacAddress>& unicast) {
  const PortRuntime& p = ports_[port];
  auto src = p.source_for(target);
  if (!src) return;  // no IPv4 address on this port to ask from
  rte_mbuf* m = alloc();
  if (!m) return;
  if (target.is_v4()) {
    auto* eth = reinterpret_cast<std::uint8_t*>(rte_pktmbuf_append(m, kEthHeaderLen + kArpLen));
    write_eth(eth, unicast ? unicast->bytes.data() : kBroadcastMac, p.mac.bytes.data(),
              kEtherTypeArp);
    std::uint8_t* arp = eth + kEthHeaderLen;
    store_be16(arp, 1);
    store_be16(arp + 2, kEtherTypeIpv4);
    arp[4] = 6;
    arp[5] = 4;
    store_be16(arp + 6, kArpOpRequest);
    std::memcpy(arp + 8, p.mac.bytes.data(), 6);
    std::memcpy(arp + 14, src->bytes.data(), 4);
    std::memset(arp + 18, 0, 6);
    std::memcpy(arp + 24, target.bytes.data(), 4);
  } else {
    constexpr std::uint16_t kNsLen = 32;
    auto* eth = reinterpret_cast<std::uint8_t*>(
        rte_pktmbuf_append(m, kEthHeaderLen + kIp6HeaderLen + kNsLen));
    IpAddress dst = target;
    std::uint8_t dst_mac[6];
    if (unicast) {
      std::memcpy(dst_mac, unicast->bytes.data(), 6);
    } else {
      // Solicited-node multicast ff02::1:ffXX:XXXX (RFC 4291 2.7.1) and its MAC (RFC 2464 7).
      dst = *IpAddress::parse("ff02::1:ff00:0");
      dst.bytes[13] = target.bytes[13];
      dst.bytes[14] = target.bytes[14];
      dst.bytes[15] = target.bytes[15];
      const std::uint8_t mc[6] = {
          0x33, 0x33, 0xff, target.bytes[13], target.bytes[14], target.bytes[15]};
      std::memcpy(dst_mac, mc, 6);
    }
    write_eth(eth, dst_mac, p.mac.bytes.data(), kEtherTypeIpv6);
    std::uint8_t* ip = eth + kEthHeaderLen;
    write_ip6(ip, *src, dst, kNsLen, kNdHopLimit);
    std::uint8_t* ns = ip + kIp6HeaderLen;
    std::memset(ns, 0, kNsLen);
    ns[0] = kNdNeighborSolicit;
    std::memcpy(ns + 8, target.bytes.data(), 16);
    ns[24] = kNdOptSourceLinkAddr;
    ns[25] = 1;
    std::memcpy(ns + 26, p.mac.bytes.data(), 6);
    store_be16(ns + 2, icmp6_checksum(ip, ns, kNsLen));
  }
  PacketMeta& pm = meta(m);
  pm.out_port = port;
  pm.flags = kMetaLocalOrigin;
  if (!inject_(m)) rte_pktmbuf_free(m);
}

void ExceptionPath::forget(std::map<NeighborKey, Neighbor>::iterator it, bool unreachable) {
  const auto& [port, addr] = it->first;
  Neighbor& n = it->second;
  for (rte_mbuf* m : n.pending) {
    if (unreachable) {
      counters_.count_drop(DropReason::neighbor_unresolved);
      const bool v4 = meta(m).family == 4;
      send_icmp_error(m, v4 ? kIcmpDestUnreach : kIcmp6DestUnreach,
                      v4 ? kIcmpCodeHostUnreach : kIcmp6CodeAddrUnreach, 0);
    } else {
      rte_pktmbuf_free(m);
    }
  }
  n.pending.clear();
  if (n.mac) routes_.set_neighbor_mac(port, addr, std::nullopt);
  if (n.adjacency) {
    RouteChange c;
    c.remove = true;
    c.spec.prefix = IpPrefix{addr, static_cast<std::uint8_t>(addr.is_v4() ? 32 : 128)};
    (void)routes_.apply(RouteSource::kNeighbor, std::span(&c, 1));
  }
  neighbors_.erase(it);
}

void ExceptionPath::on_timer() {
  const std::uint64_t now = now_ms_();
  for (auto it = neighbors_.begin(); it != neighbors_.end();) {
    auto cur = it++;
    Neighbor& n = cur->second;
    const auto& [port, addr] = cur->first;
    switch (n.state) {
      case NeighborState::kStatic:
        break;
      case NeighborState::kReachable:
        if (now - n.confirmed_ms >= std::uint64_t{timers_.reachable_s} * 1000) {
          n.state = NeighborState::kProbe;
          n.probes_sent = 1;
          n.next_probe_ms = now + timers_.probe_interval_ms;
          send_solicit(port, addr, n.mac);
        }
        break;
      case NeighborState::kProbe:
      case NeighborState::kIncomplete:
        if (now < n.next_probe_ms) break;
        if (n.probes_sent >= timers_.probes) {
          forget(cur, true);
          break;
        }
        ++n.probes_sent;
        n.next_probe_ms = now + timers_.probe_interval_ms;
        send_solicit(port, addr, n.state == NeighborState::kProbe ? n.mac : std::nullopt);
        break;
    }
  }
}

Result<void> ExceptionPath::add_static_neighbor(std::uint16_t port, const IpAddress& addr,
                                                const MacAddress& mac) {
  if (port >= ports_.size()) return fail("no such port", ENODEV);
  if (ports_[port].owns(addr)) {
    return fail(fmt::format("{} is an address of port {}", addr.str(), ports_[port].name), EINVAL);
  }
  NeighborKey key{port, addr};
  Neighbor& n = neighbors_[key];
  n.mac = mac;
  n.state = NeighborState::kStatic;
  n.confirmed_ms = now_ms_();
  resolved(key, n);
  return boost::outcome_v2::success();
}

Result<void> ExceptionPath::remove_neighbor(std::uint16_t port, const IpAddress& addr) {
  auto it = neighbors_.find(NeighborKey{port, addr});
  if (it == neighbors_.end()) return fail("no such neighbour", ENOENT);
  forget(it, false);
  return boost::outcome_v2::success();
}

std::vector<NeighborView> ExceptionPath::neighbors() const {
  std::vector<NeighborView> out;
  const std::uint64_t now = now_ms_();
  for (const auto& [key, n] : neighbors_) {
    out.push_back(NeighborView{key.first, key.second, n.mac, n.state,
                               n.confirmed_ms ? now - n.confirmed_ms : 0, n.pending.size()});
  }
  return out;
}

bool ExceptionPath::icmp_allowed() {
  const std::uint64_t now = now_ms_();
  icmp_tokens_ =
      std::min(kIcmpBurst, icmp_tokens_ + (now - icmp_last_ms_) * kIcmpRatePerSecond / 1000.0);
  icmp_last_ms_ = now;
  if (icmp_tokens_ < 1) {
    counters_.count_drop(DropReason::icmp_rate_limited);
    return false;
  }
  icmp_tokens_ -= 1;
  return true;
}

// Builds the ICMP/ICMPv6 error about `orig` (which it frees) and routes it back to the
// original source. RFC 1122 3.2.2 / RFC 4443 2.4(e): never about an ICMP error, a
// multicast/broadcast destination, a non-initial fragment, or an unspecific source.
void ExceptionPath::send_icmp_error(rte_mbuf* orig, std::uint8_t type, std::uint8_t code,
                                    std::uint32_t extra) {
  const PacketMeta om = meta(orig);
  const std::uint8_t* oip = rte_pktmbuf_mtod_offset(orig, const std::uint8_t*, om.l3_offset);
  const std::size_t olen = orig->data_len - om.l3_offset;
  const bool v4 = om.family == 4;
  bool allowed = true;
  IpAddress osrc;
  if (v4) {
    osrc = v4_at(oip + kIp4OffSrc);
    const std::uint32_t ihl = (oip[0] & 0x0fu) * 4;
    if ((load_be16(oip + kIp4OffFlagsFrag) & 0x1fff) != 0) allowed = false;
    if (oip[kIp4OffDst] >= 224) allowed = false;
    if (oip[kIp4OffProto] == kIpProtoIcmp && olen > ihl) {
      const std::uint8_t t = oip[ihl];
      if (t != 0 && t != 8 && t != 13 && t != 14) allowed = false;  // only about queries
    }
  } else {
    osrc = v6_at(oip + kIp6OffSrc);
    if (oip[kIp6OffDst] == 0xff && type != kIcmp6PacketTooBig) allowed = false;
    if (oip[kIp6OffNextHeader] == kIpProtoIcmpv6 && olen > kIp6HeaderLen &&
        oip[kIp6HeaderLen] < 128) {
      allowed = false;  // an ICMPv6 error
    }
  }
  const PortRuntime& in = ports_[om.in_port];
  auto src = in.source_for(osrc);
  if (!allowed || !src || !icmp_allowed()) {
    rte_pktmbuf_free(orig);
    return;
  }
  rte_mbuf* m = alloc();
  if (!m) {
    rte_pktmbuf_free(orig);
    return;
  }
  const unsigned ip_hdr = v4 ? kIp4MinHeaderLen : kIp6HeaderLen;
  const unsigned max_total = v4 ? kIcmp4MaxLen : kIcmp6MaxLen;
  const std::size_t quoted = std::min<std::size_t>(olen, max_total - ip_hdr - 8);
  const std::size_t icmp_len = 8 + quoted;
  auto* eth = reinterpret_cast<std::uint8_t*>(
      rte_pktmbuf_append(m, static_cast<std::uint16_t>(kEthHeaderLen + ip_hdr + icmp_len)));
  if (!eth) {
    rte_pktmbuf_free(m);
    rte_pktmbuf_free(orig);
    return;
  }
  std::memset(eth, 0, kEthHeaderLen);
  store_be16(eth + 12, v4 ? kEtherTypeIpv4 : kEtherTypeIpv6);
  std::uint8_t* ip = eth + kEthHeaderLen;
  std::uint8_t* icmp = ip + ip_hdr;
  icmp[0] = type;
  icmp[1] = code;
  store_be16(icmp + 2, 0);
  store_be32(icmp + 4, extra);  // unused, or the next-hop MTU (RFC 1191 / RFC 4443 3.2)
  std::memcpy(icmp + 8, oip, quoted);
  if (v4) {
    std::memset(ip, 0, kIp4MinHeaderLen);
    ip[0] = 0x45;
    store_be16(ip + kIp4OffTotalLen, static_cast<std::uint16_t>(kIp4MinHeaderLen + icmp_len));
    ip[kIp4OffTtl] = kDefaultTtl;
    ip[kIp4OffProto] = kIpProtoIcmp;
    std::memcpy(ip + kIp4OffSrc, src->bytes.data(), 4);
    std::memcpy(ip + kIp4OffDst, osrc.bytes.data(), 4);
    store_be16(ip + kIp4OffChecksum, csum_fold(csum_add(0, ip, kIp4MinHeaderLen)));
    store_be16(icmp + 2, csum_fold(csum_add(0, icmp, icmp_len)));
  } else {
    write_ip6(ip, *src, osrc, static_cast<std::uint16_t>(icmp_len), kDefaultTtl);
    store_be16(icmp + 2, icmp6_checksum(ip, icmp, icmp_len));
  }
  PacketMeta& pm = meta(m);
  pm.in_port = om.in_port;
  pm.family = om.family;
  pm.l3_offset = kEthHeaderLen;
  pm.flags = kMetaLocalOrigin;
  rte_pktmbuf_free(orig);
  send_routed(m);
}

void ExceptionPath::send_routed(rte_mbuf* m) {
  PacketMeta& pm = meta(m);
  const std::uint8_t* ip = rte_pktmbuf_mtod_offset(m, const std::uint8_t*, pm.l3_offset);
  const IpAddress dst = pm.family == 4 ? v4_at(ip + kIp4OffDst) : v6_at(ip + kIp6OffDst);
  NextHopId id = routes_.lookup(dst);
  if (routes_.next_hop(id).kind == NextHopKind::kNextHopGroup) {
    // ECMP: the member the workers would choose for this flow.
    id = routes_.group_member(routes_.next_hop(id).port,
                              flow_hash(ip, pm.family == 4, m->pkt_len - pm.l3_offset));
  }
  const NextHop& nh = routes_.next_hop(id);
  if (id == kNoRouteNextHop ||
      (nh.kind != NextHopKind::kGateway && nh.kind != NextHopKind::kConnected)) {
    rte_pktmbuf_free(m);
    return;
  }
  pm.next_hop = id.value();
  const std::uint64_t mac = nh.dst_mac.load(std::memory_order_relaxed);
  if (nh.kind == NextHopKind::kGateway && (mac & kMacValid)) {
    MacAddress dmac;
    unpack_mac(mac, dmac.bytes.data());
    finish_and_send(m, nh.port, dmac);
    return;
  }
  handle_resolve(m);
}

}  // namespace causeway::fwd
