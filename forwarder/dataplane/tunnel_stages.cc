// SPDX-License-Identifier: Apache-2.0
// WireGuard stages of a worker (flow and ownership in tunnel_stages.h). Like the other stages:
// no locks, no allocation, no logging; drops go to ctx.dropped with a named reason, punts to
// ctx.punt, handshake messages to TunnelShared::handshake_ring.
#include "tunnel_stages.h"

#include <rte_ip.h>
#include <rte_mbuf_dyn.h>
#include <rte_ring.h>

#include <chrono>
#include <cstring>

#include "causeway/fwd/probe.h"
#include "causeway/tun/messages.h"
#include "packet_meta.h"
#include "stage_helpers.h"
#include "wire.h"

namespace causeway::fwd {
namespace {

using namespace wire;

constexpr std::uint8_t kOuterTtl = 64;

inline tun::Nanos monotonic_now() noexcept {
  return std::chrono::duration_cast<tun::Nanos>(
      std::chrono::steady_clock::now().time_since_epoch());
}

// Every frame the stages handle is untagged: the IP header follows the Ethernet header.
inline std::uint8_t* l3(rte_mbuf* m) noexcept {
  return rte_pktmbuf_mtod_offset(m, std::uint8_t*, kEthHeaderLen);
}

bool is_local(const PortAddrs& a, const std::uint8_t* dst, bool v4) noexcept {
  if (v4) {
    for (unsigned i = 0; i < a.n4; ++i) {
      if (std::memcmp(a.v4[i], dst, 4) == 0) return true;
    }
    return false;
  }
  for (unsigned i = 0; i < a.n6; ++i) {
    if (std::memcmp(a.v6[i], dst, 16) == 0) return true;
  }
  return false;
}

DropReason fwd_reason(tun::DropReason r) noexcept {
  switch (r) {
    case tun::DropReason::kUnknownIndex:
      return DropReason::tunnel_unknown_index;
    case tun::DropReason::kAuthFailed:
      return DropReason::tunnel_auth_failed;
    case tun::DropReason::kReplayed:
      return DropReason::tunnel_replayed;
    case tun::DropReason::kKeypairExpired:
      return DropReason::tunnel_keypair_expired;
    case tun::DropReason::kBadInnerPacket:
    case tun::DropReason::kInnerSourceNotAllowed:
      return DropReason::tunnel_inner_rejected;
    default:
      return DropReason::tunnel_malformed;
  }
}

// RFC 1624 eqn. 3 for the TTL word of an IPv4 header.
inline void decrement_ttl(std::uint8_t* ip, bool v4) noexcept {
  if (!v4) {
    ip[kIp6OffHopLimit] -= 1;
    return;
  }
  const std::uint16_t old_word = load_be16(ip + kIp4OffTtl);
  ip[kIp4OffTtl] -= 1;
  std::uint32_t sum = static_cast<std::uint16_t>(~load_be16(ip + kIp4OffChecksum));
  sum += static_cast<std::uint16_t>(~old_word);
  sum += load_be16(ip + kIp4OffTtl);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  store_be16(ip + kIp4OffChecksum, static_cast<std::uint16_t>(~sum));
}

}  // namespace

std::uint32_t flow_hash(const std::uint8_t* ip, bool v4, std::uint32_t len) noexcept {
  std::uint32_t h = 2166136261u;
  auto mix = [&h](const std::uint8_t* p, unsigned n) {
    for (unsigned i = 0; i < n; ++i) h = (h ^ p[i]) * 16777619u;
  };
  std::uint8_t proto;
  std::uint32_t l4;
  if (v4) {
    mix(ip + kIp4OffSrc, 8);
    proto = ip[kIp4OffProto];
    l4 = (ip[0] & 0x0fu) * 4u;
  } else {
    mix(ip + kIp6OffSrc, 32);
    proto = ip[kIp6OffNextHeader];
    l4 = kIp6HeaderLen;
  }
  mix(&proto, 1);
  if ((proto == 6 || proto == kIpProtoUdp) && l4 + 4 <= len) mix(ip + l4, 4);
  return h ^ (h >> 16);
}

namespace {

// Whether a decrypted inner packet (IP header at `ip`) is addressed to one of tunnel `tl`'s own
// overlay addresses. The common case (one IPv4 address, a packet in transit) is one compare.
inline bool to_own_address(const TunnelListener& tl, const std::uint8_t* ip, bool v4) noexcept {
  if (v4) {
    const std::uint32_t dst = load_be32(ip + kIp4OffDst);
    if (std::uint64_t{dst} == tl.own4_key) [[unlikely]]
      return true;
    if (tl.n_own4 > 1) [[unlikely]] {
      for (unsigned i = 1; i < tl.n_own4; ++i) {
        if (tl.own4[i] == dst) return true;
      }
    }
    return false;
  }
  for (unsigned i = 0; i < tl.n_own6; ++i) {
    if (std::memcmp(tl.own6[i], ip + kIp6OffDst, 16) == 0) return true;
  }
  return false;
}

// A decrypted packet to the PoP itself (to_own_address), `len` bytes of IP packet at `ip` in
// frame m: a probe request is reflected (queued for tunnel_output to the peer it came from), a
// probe reply punted to the probe book with its receive time, anything else punted to the
// tunnel's mirror.
void deliver_local(WorkerContext& ctx, const TunnelShared& ts, rte_mbuf* m, std::uint8_t* ip,
                   std::uint32_t len, unsigned tunnel, tun::PeerId peer, tun::Nanos rx) noexcept {
  if (!probe::is_probe_port(ip, len)) {
    punt(ctx, m, PuntReason::kTunnelLocal);
    meta(m).tunnel = static_cast<std::uint8_t>(tunnel);
    return;
  }
  probe::Parsed parsed;
  if (probe::parse_packet(std::span<const std::uint8_t>(ip, len), parsed) !=
          probe::ParseError::kNone ||
      peer.value() > kTunnelOutPeerMask) {
    drop(ctx, m, DropReason::probe_malformed);
    return;
  }
  const auto rx_ns = static_cast<std::uint64_t>(rx.count());
  if (parsed.payload.type == probe::Type::kReply) {
    if (ts.probe_rx_ns_offset >= 0) {
      *RTE_MBUF_DYNFIELD(m, ts.probe_rx_ns_offset, std::uint64_t*) = rx_ns;
    }
    punt(ctx, m, PuntReason::kProbeReply);
    PacketMeta& pm = meta(m);
    pm.tunnel = static_cast<std::uint8_t>(tunnel);
    pm.next_hop = peer.value();
    return;
  }
  probe::make_reply(std::span<std::uint8_t>(ip, len), parsed, rx_ns,
                    static_cast<std::uint64_t>(monotonic_now().count()));
  ctx.counters->probes_reflected.add();
  ctx.tunnel_out_nh[ctx.n_tunnel_out] = kTunnelOutDirect | (tunnel << 24) | peer.value();
  ctx.tunnel_out[ctx.n_tunnel_out++] = m;
}

// For a packet input marked (tunnel_candidate): the tunnel whose listener it reaches on one of
// the receiving interface's own addresses and where its UDP payload starts, or nullptr.
const std::uint8_t* tunnel_payload(const TunnelShared& ts, rte_mbuf* m, bool v4,
                                   std::uint16_t in_port, unsigned& tunnel,
                                   std::uint32_t& payload_len) noexcept {
  const std::uint8_t* ip = l3(m);
  const std::uint32_t avail = m->data_len - kEthHeaderLen;
  const std::uint32_t l4 = v4 ? (ip[0] & 0x0fu) * 4u : kIp6HeaderLen;
  if (!is_local(ts.local[in_port], ip + (v4 ? kIp4OffDst : kIp6OffDst), v4)) return nullptr;
  const std::uint16_t dport = load_be16(ip + l4 + 2);
  for (unsigned t = 0; t < ts.n_tunnels; ++t) {
    const TunnelListener& l = ts.tunnels[t];
    if (l.listen_port != dport || (l.port_mask & (1u << in_port)) == 0) continue;
    tunnel = t;
    payload_len = avail - l4 - kUdpHeaderLen;
    return ip + l4 + kUdpHeaderLen;
  }
  return nullptr;
}

// Moves pkts[i] to worker dest[i]'s ring in rings[] (one enqueue per destination, burst order
// kept); what a full ring refuses is dropped (tunnel_handoff_full).
void hand_off(WorkerContext& ctx, rte_ring* const* rings, rte_mbuf** pkts,
              const std::uint16_t* dest, unsigned n) noexcept {
  std::uint32_t pending = n == 32 ? ~0u : (1u << n) - 1;
  while (pending != 0) {
    const unsigned first = static_cast<unsigned>(__builtin_ctz(pending));
    const std::uint16_t w = dest[first];
    rte_mbuf* group[kBurstSize];
    unsigned k = 0;
    for (std::uint32_t bits = pending; bits != 0; bits &= bits - 1) {
      const unsigned i = static_cast<unsigned>(__builtin_ctz(bits));
      if (dest[i] != w) continue;
      group[k++] = pkts[i];
      pending &= ~(1u << i);
    }
    const unsigned sent =
        rte_ring_mp_enqueue_burst(rings[w], reinterpret_cast<void**>(group), k, nullptr);
    ctx.counters->handoff_sent.add(sent);
    for (unsigned i = sent; i < k; ++i) drop(ctx, group[i], DropReason::tunnel_handoff_full);
  }
}

}  // namespace

std::uint16_t tunnel_input_handed_off(WorkerContext& ctx, std::span<rte_mbuf*> pkts) noexcept {
  // The values input would have kept (the handing worker's were per burst and are gone).
  BurstState& b = ctx.burst;
  std::uint16_t n_v6 = 0;
  for (std::size_t i = 0; i < pkts.size(); ++i) {
    rte_mbuf* m = pkts[i];
    const bool v4 = family_of(m) == 4;
    b.set(static_cast<unsigned>(i), rte_pktmbuf_mtod(m, std::uint8_t*), m->data_len, v4);
    n_v6 = static_cast<std::uint16_t>(n_v6 + !v4);
  }
  b.n_v6 = n_v6;
  b.tunnel_candidates = pkts.size() == 32 ? ~0u : (1u << pkts.size()) - 1;
  ctx.handed_off = true;
  const std::uint16_t kept = tunnel_input(ctx, pkts);
  ctx.handed_off = false;
  return kept;
}

void tunnel_output_handed_off(WorkerContext& ctx, std::span<rte_mbuf*> pkts) noexcept {
  for (rte_mbuf* m : pkts) {
    const PacketMeta& pm = meta(m);
    ctx.tunnel_out_nh[ctx.n_tunnel_out] =
        kTunnelOutDirect | kTunnelOutHandedOff | std::uint32_t{pm.tunnel} << 24 | pm.next_hop;
    ctx.tunnel_out[ctx.n_tunnel_out++] = m;
  }
}

std::uint16_t tunnel_input(WorkerContext& ctx, std::span<rte_mbuf*> pkts) noexcept {
  BurstState& b = ctx.burst;
  const std::uint32_t candidates = b.tunnel_candidates;
  if (candidates == 0) return static_cast<std::uint16_t>(pkts.size());
  b.tunnel_candidates = 0;
  const TunnelShared& ts = *ctx.shared->tunnels;  // input marks nothing without tunnels
  TunnelWorker& tw = *ctx.tunnel;
  // Pass 1: classify the marked packets. Data messages are collected (bufs[] in burst order).
  constexpr std::uint8_t kMalformed = 0xff;
  constexpr std::uint8_t kUnknownIndex = 0xfe;
  rte_mbuf* data[kBurstSize];
  std::uint8_t data_tunnel[kBurstSize];
  std::uint8_t tunnel_of[kBurstSize];  // for the packets in `ours`
  unsigned n_data = 0;
  std::uint32_t ours = 0;
  // Data messages for peers another worker owns (never in a handed-off burst): moved there.
  const bool check_owner = ts.n_workers > 1 && !ctx.handed_off;
  std::uint32_t handoff = 0;
  std::uint16_t owner_of[kBurstSize];
  std::uint64_t last_key = ~std::uint64_t{0};  // tunnel << 32 | receiver index; ~0: none
  tun::PeerId last_peer = tun::PeerId::invalid();
  for (std::uint32_t bits = candidates; bits != 0; bits &= bits - 1) {
    const unsigned i = static_cast<unsigned>(__builtin_ctz(bits));
    rte_mbuf* m = pkts[i];
    const bool v4 = family_of(m) == 4;
    unsigned tunnel = 0;
    std::uint32_t len = 0;
    const std::uint8_t* payload = tunnel_payload(ts, m, v4, rx_interface(ctx, m), tunnel, len);
    if (payload == nullptr) continue;  // not to one of our addresses: forwarded as it is
    ours |= 1u << i;
    const std::uint8_t type = len >= 4 ? payload[0] : 0;
    if (len < 4 || type < tun::kMessageHandshakeInitiation || type > tun::kMessageTransportData ||
        payload[1] != 0 || payload[2] != 0 || payload[3] != 0) {
      tunnel_of[i] = kMalformed;  // dropped in pass 3
      continue;
    }
    tunnel_of[i] = static_cast<std::uint8_t>(tunnel);
    if (type != tun::kMessageTransportData) continue;
    if (check_owner) {
      // Receiver index (little endian, bytes 4..7): its peer's owner decrypts. Unknown here:
      // dropped at once, so that only an owner ever touches a peer's replay window.
      // The last index's answer is kept: a burst is usually one session's packets.
      const std::uint64_t key = len >= tun::TransportHeader::kSize
                                    ? std::uint64_t{tunnel} << 32 | tun::load_le32(payload + 4)
                                    : ~std::uint64_t{0};
      if (key != last_key) {
        last_key = key;
        last_peer = key == ~std::uint64_t{0}
                        ? tun::PeerId::invalid()
                        : ts.tunnels[tunnel].data->peer_of_index(static_cast<std::uint32_t>(key));
      }
      const tun::PeerId peer = last_peer;
      if (!peer.valid()) {
        tunnel_of[i] = kUnknownIndex;
        continue;
      }
      const unsigned owner = tunnel_peer_owner(tunnel, peer, ts.n_workers);
      if (owner != ctx.id) {
        handoff |= 1u << i;
        owner_of[i] = static_cast<std::uint16_t>(owner);
        continue;
      }
    }
    tun::PacketBuf& pb = tw.bufs[n_data];
    pb.data = const_cast<std::uint8_t*>(payload);
    pb.len = len;
    const std::uint8_t* ip = l3(m);
    pb.from.addr.family = v4 ? Family::kV4 : Family::kV6;
    pb.from.addr.bytes = {};
    std::memcpy(pb.from.addr.bytes.data(), ip + (v4 ? kIp4OffSrc : kIp6OffSrc), v4 ? 4 : 16);
    pb.from.port = load_be16(payload - kUdpHeaderLen);
    data[n_data] = m;
    data_tunnel[n_data] = static_cast<std::uint8_t>(tunnel);
    ++n_data;
  }
  if (ours == 0) return static_cast<std::uint16_t>(pkts.size());
  // Pass 2: decrypt each tunnel's data messages as one burst.
  const tun::Nanos now = n_data ? monotonic_now() : tun::Nanos{0};
  if (n_data) {
    for (unsigned t = 0; t < ts.n_tunnels; ++t) {
      tun::PacketBuf group[kBurstSize];
      unsigned idx[kBurstSize];
      unsigned n = 0;
      for (unsigned i = 0; i < n_data; ++i) {
        if (data_tunnel[i] == t) {
          idx[n] = i;
          group[n++] = tw.bufs[i];
        }
      }
      if (n == 0) continue;
      ts.tunnels[t].data->decrypt_burst(now, std::span(group, n), tw.counters);
      for (unsigned k = 0; k < n; ++k) tw.bufs[idx[k]] = group[k];
    }
  }
  // Pass 3: survivors in order, their burst values moved with them; inner packets become the
  // frame and their values (and family, for burst.n_v6) replace the outer datagram's.
  std::uint16_t keep = 0;
  unsigned d = 0;
  int n_v6 = b.n_v6;
  rte_mbuf* replies[kBurstSize];  // responses and cookie replies: to our own initiations
  rte_mbuf* initiations[kBurstSize];
  unsigned n_replies = 0, n_initiations = 0;
  rte_mbuf* handed[kBurstSize];
  std::uint16_t handed_to[kBurstSize];
  unsigned n_handed = 0;
  std::int64_t handshake_now = -1;
  for (std::size_t i = 0; i < pkts.size(); ++i) {
    rte_mbuf* m = pkts[i];
    if ((ours & (1u << i)) == 0) {
      b.move(keep, static_cast<unsigned>(i));
      pkts[keep++] = m;
      continue;
    }
    if (family_of(m) == 6) --n_v6;  // the outer datagram leaves the burst (or is replaced)
    if (handoff & (1u << i)) {
      meta(m).in_port = ctx.in_port;  // the physical port: the owner finds the subinterface
      handed_to[n_handed] = owner_of[i];
      handed[n_handed++] = m;
      continue;
    }
    if (tunnel_of[i] == kMalformed) {
      drop(ctx, m, DropReason::tunnel_malformed);
      continue;
    }
    if (tunnel_of[i] == kUnknownIndex) {
      drop(ctx, m, DropReason::tunnel_unknown_index);
      continue;
    }
    if (d < n_data && data[d] == m) {
      const unsigned tunnel = data_tunnel[d];
      const tun::PacketBuf& pb = tw.bufs[d++];
      if (pb.result != tun::DropReason::kNone) {
        drop(ctx, m, fwd_reason(pb.result));
        continue;
      }
      if (pb.len == 0) {
        drop(ctx, m, DropReason::tunnel_keepalive);
        continue;
      }
      // The inner packet follows a rebuilt Ethernet header 14 bytes before it (the decrypted
      // packet's header was checked by the core: version, length, allowed source).
      std::uint8_t* frame = pb.data - kEthHeaderLen;
      const auto front = static_cast<std::uint16_t>(frame - rte_pktmbuf_mtod(m, std::uint8_t*));
      rte_pktmbuf_adj(m, front);
      rte_pktmbuf_trim(m, static_cast<std::uint16_t>(m->data_len - kEthHeaderLen - pb.len));
      const bool v4 = (pb.data[0] >> 4) == 4;
      store_be16(frame + 12, v4 ? kEtherTypeIpv4 : kEtherTypeIpv6);
      if (to_own_address(ts.tunnels[tunnel], pb.data, v4)) [[unlikely]] {
        deliver_local(ctx, ts, m, pb.data, pb.len, tunnel, pb.peer, now);
        continue;
      }
      b.set(keep, frame, m->data_len, v4);
      if (!v4) ++n_v6;
      pkts[keep++] = m;
      continue;
    }
    // Handshake or cookie message: the source's rate, then the handshake ring.
    const bool v4 = family_of(m) == 4;
    if (handshake_now < 0) handshake_now = monotonic_now().count();
    if (!tw.limiter.allow(l3(m) + (v4 ? kIp4OffSrc : kIp6OffSrc), v4, handshake_now)) {
      drop(ctx, m, DropReason::tunnel_handshake_rate_limited);
      continue;
    }
    PacketMeta& pm = meta(m);
    pm.in_port = rx_interface(ctx, m);
    pm.l3_offset = kEthHeaderLen;
    pm.family = v4 ? 4 : 6;
    pm.flags = 0;
    pm.punt = PuntReason::kTunnelHandshake;
    pm.tunnel = tunnel_of[i];
    const std::uint8_t* ip = l3(m);
    const std::uint32_t l4 = v4 ? (ip[0] & 0x0fu) * 4u : kIp6HeaderLen;
    if (ip[l4 + kUdpHeaderLen] == tun::kMessageHandshakeInitiation) {
      initiations[n_initiations++] = m;
    } else {
      replies[n_replies++] = m;
    }
  }
  b.n_v6 = static_cast<std::uint16_t>(n_v6);
  if (n_handed) hand_off(ctx, ts.handoff_rx, handed, handed_to, n_handed);
  if (n_replies + n_initiations) {
    // Replies first; initiations only while more than the reserve is free, so that a flood of
    // initiations cannot keep the answers to our own handshakes out of the ring.
    unsigned sent = rte_ring_mp_enqueue_burst(ts.handshake_ring, reinterpret_cast<void**>(replies),
                                              n_replies, nullptr);
    for (unsigned i = sent; i < n_replies; ++i) {
      drop(ctx, replies[i], DropReason::tunnel_handshake_queue_full);
    }
    const unsigned free = rte_ring_free_count(ts.handshake_ring);
    const unsigned room = free > ts.handshake_reserve ? free - ts.handshake_reserve : 0;
    const unsigned sent_init =
        rte_ring_mp_enqueue_burst(ts.handshake_ring, reinterpret_cast<void**>(initiations),
                                  std::min(n_initiations, room), nullptr);
    for (unsigned i = sent_init; i < n_initiations; ++i) {
      drop(ctx, initiations[i], DropReason::tunnel_handshake_queue_full);
    }
    sent += sent_init;
    ctx.counters->punted.add(sent);
    if (sent) wake_control(*ctx.shared);
  }
  return keep;
}

std::uint8_t* write_outer_headers(std::uint8_t* payload, std::uint32_t len, const IpAddress& src,
                                  const IpAddress& dst, std::uint16_t sport,
                                  std::uint16_t dport) noexcept {
  const bool v4 = dst.is_v4();
  std::uint8_t* udp = payload - kUdpHeaderLen;
  std::uint8_t* ip = udp - (v4 ? kIp4MinHeaderLen : kIp6HeaderLen);
  std::uint8_t* eth = ip - kEthHeaderLen;
  const std::uint32_t udp_len = kUdpHeaderLen + len;
  store_be16(eth + 12, v4 ? kEtherTypeIpv4 : kEtherTypeIpv6);
  store_be16(udp, sport);
  store_be16(udp + 2, dport);
  store_be16(udp + 4, static_cast<std::uint16_t>(udp_len));
  store_be16(udp + 6, 0);
  if (v4) {
    ip[0] = 0x45;
    ip[1] = 0;
    store_be16(ip + kIp4OffTotalLen, static_cast<std::uint16_t>(kIp4MinHeaderLen + udp_len));
    store_be32(ip + 4, 0);  // id 0, no flags: WireGuard's outer packets may be fragmented
    ip[kIp4OffTtl] = kOuterTtl;
    ip[kIp4OffProto] = kIpProtoUdp;
    store_be16(ip + kIp4OffChecksum, 0);
    std::memcpy(ip + kIp4OffSrc, src.bytes.data(), 4);
    std::memcpy(ip + kIp4OffDst, dst.bytes.data(), 4);
    store_be16(ip + kIp4OffChecksum, csum_fold(csum_add(0, ip, kIp4MinHeaderLen)));
    // UDP checksum 0: optional over IPv4 (RFC 768); the AEAD authenticates the payload.
  } else {
    store_be32(ip, 0x60000000u);
    store_be16(ip + kIp6OffPayloadLen, static_cast<std::uint16_t>(udp_len));
    ip[kIp6OffNextHeader] = kIpProtoUdp;
    ip[kIp6OffHopLimit] = kOuterTtl;
    std::memcpy(ip + kIp6OffSrc, src.bytes.data(), 16);
    std::memcpy(ip + kIp6OffDst, dst.bytes.data(), 16);
    // Mandatory over IPv6 (RFC 8200 section 8.1): pseudo-header + UDP header + payload.
    std::uint32_t sum = csum_add(0, ip + kIp6OffSrc, 32);
    sum += udp_len;
    sum += kIpProtoUdp;
    sum = csum_add(sum, udp, udp_len);
    std::uint16_t c = csum_fold(sum);
    store_be16(udp + 6, c == 0 ? 0xffff : c);
  }
  return eth;
}

void tunnel_output(WorkerContext& ctx) noexcept {
  const TunnelShared* ts = ctx.shared->tunnels;
  const std::uint16_t n_in = ctx.n_tunnel_out;
  ctx.n_tunnel_out = 0;
  if (ts == nullptr) {
    for (std::uint16_t i = 0; i < n_in; ++i)
      drop(ctx, ctx.tunnel_out[i], DropReason::tunnel_no_path);
    return;
  }
  const PathGroupTable* groups = ts->path_groups.load(std::memory_order_acquire);
  const DataplaneShared& sh = *ctx.shared;
  TunnelWorker& tw = *ctx.tunnel;
  const tun::Nanos now = monotonic_now();
  // Choose the member of every packet; TTL; keep the ones to encrypt.
  rte_mbuf* todo[kBurstSize];
  PathMember member[kBurstSize];
  unsigned n = 0;
  rte_mbuf* handed[kBurstSize];  // to the workers owning their members' peers
  std::uint16_t handed_to[kBurstSize];
  unsigned n_handed = 0;
  for (std::uint16_t i = 0; i < n_in; ++i) {
    rte_mbuf* m = ctx.tunnel_out[i];
    const std::uint32_t out = ctx.tunnel_out_nh[i];
    if (out & kTunnelOutDirect) [[unlikely]] {
      // A reflected probe: to the peer it came from; its TTL was set when it was rewritten.
      // Or a packet another worker handed to this one, the owner of its peer.
      const PathMember pmem{static_cast<std::uint8_t>((out >> 24) & kTunnelOutTunnelMask),
                            tun::PeerId(out & kTunnelOutPeerMask)};
      if (pmem.tunnel >= ts->n_tunnels) {
        drop(ctx, m, DropReason::tunnel_no_path);
        continue;
      }
      if (!ts->tunnels[pmem.tunnel].data->can_send(now, pmem.peer)) {
        if ((out & kTunnelOutHandedOff) == 0) {
          drop(ctx, m, DropReason::tunnel_no_path);
          continue;
        }
        punt(ctx, m, PuntReason::kTunnelNoSession);  // as below; meta holds tunnel and peer
        continue;
      }
      todo[n] = m;
      member[n++] = pmem;
      continue;
    }
    const NextHop& nh = sh.next_hops[out];
    const PathGroup* g =
        groups != nullptr && nh.port < kMaxPathGroups ? &groups->groups[nh.port] : nullptr;
    if (g == nullptr || g->n_members == 0) {
      drop(ctx, m, DropReason::tunnel_no_path);
      continue;
    }
    std::uint8_t* ip = l3(m);
    const bool v4 = family_of(m) == 4;
    const std::uint32_t len = m->data_len - kEthHeaderLen;
    const std::uint8_t cls =
        groups->classes.n_rules == 0 ? 0 : classify(groups->classes, ip, v4, len);
    const unsigned n_active = g->n_active[cls];
    if (n_active == 0) {  // the class is dropped (SLA fallback `drop`) or has no usable member
      drop(ctx, m, DropReason::tunnel_no_path);
      continue;
    }
    if ((v4 ? ip[kIp4OffTtl] : ip[kIp6OffHopLimit]) <= 1) {
      ctx.counters->count_drop(v4 ? DropReason::ip4_ttl_expired
                                  : DropReason::ip6_hop_limit_expired);
      punt(ctx, m, PuntReason::kTimeExceeded);
      continue;
    }
    const PathMember pmem = g->members[g->active[cls][flow_hash(ip, v4, len) % n_active]];
    if (ts->n_workers > 1 && pmem.tunnel < ts->n_tunnels) {
      const unsigned owner = tunnel_peer_owner(pmem.tunnel, pmem.peer, ts->n_workers);
      if (owner != ctx.id) {
        if (pmem.peer.value() > kTunnelOutPeerMask) [[unlikely]] {
          drop(ctx, m, DropReason::tunnel_no_path);
          continue;
        }
        decrement_ttl(ip, v4);
        PacketMeta& pm = meta(m);
        pm.tunnel = pmem.tunnel;
        pm.next_hop = pmem.peer.value();
        handed_to[n_handed] = static_cast<std::uint16_t>(owner);
        handed[n_handed++] = m;
        continue;
      }
    }
    if (pmem.tunnel >= ts->n_tunnels || !ts->tunnels[pmem.tunnel].data->can_send(now, pmem.peer)) {
      // No session yet: the control side stages the packet and starts the handshake.
      punt(ctx, m, PuntReason::kTunnelNoSession);
      PacketMeta& pm = meta(m);
      pm.tunnel = pmem.tunnel;
      pm.next_hop = pmem.peer.value();
      continue;
    }
    decrement_ttl(ip, v4);
    todo[n] = m;
    member[n++] = pmem;
  }
  if (n_handed) hand_off(ctx, ts->handoff_tx, handed, handed_to, n_handed);
  // Encrypt per peer, in order of first appearance; then outer headers and L2.
  bool done[kBurstSize] = {};
  for (unsigned first = 0; first < n; ++first) {
    if (done[first]) continue;
    const PathMember pmem = member[first];
    const TunnelListener& tl = ts->tunnels[pmem.tunnel];
    unsigned idx[kBurstSize];
    unsigned k = 0;
    for (unsigned i = first; i < n; ++i) {
      if (done[i] || member[i].tunnel != pmem.tunnel || member[i].peer != pmem.peer) continue;
      done[i] = true;
      rte_mbuf* m = todo[i];
      tun::PacketBuf& pb = tw.bufs[k];
      pb.data = l3(m);
      pb.len = m->data_len - kEthHeaderLen;
      pb.headroom = static_cast<std::uint32_t>(pb.data - static_cast<std::uint8_t*>(m->buf_addr));
      pb.tailroom = rte_pktmbuf_tailroom(m);
      idx[k++] = i;
    }
    tl.data->encrypt_burst(now, pmem.peer, std::span(tw.bufs, k), tw.counters);
    tun::Endpoint ep;
    const bool have_ep = tl.data->endpoint(pmem.peer, ep);
    // Outer next hop: one FIB lookup per peer burst.
    std::uint64_t nh_id = 0;
    if (have_ep) {
      if (ep.addr.is_v4()) {
        nh_id = ctx.fib->lookup4(load_be32(ep.addr.bytes.data()));
      } else {
        std::uint8_t dst[1][16];
        std::memcpy(dst[0], ep.addr.bytes.data(), 16);
        ctx.fib->lookup6(dst, &nh_id, 1);
      }
    }
    const NextHop* onh = nh_id != 0 && nh_id < sh.n_next_hops ? &sh.next_hops[nh_id] : nullptr;
    const bool outer_ok = onh != nullptr && (onh->kind == NextHopKind::kGateway ||
                                             onh->kind == NextHopKind::kConnected);
    IpAddress src;
    bool have_src = false;
    if (outer_ok) {
      const PortAddrs& la = ts->local[onh->port];
      if (ep.addr.is_v4() && la.n4) {
        src.family = Family::kV4;
        std::memcpy(src.bytes.data(), la.v4[0], 4);
        have_src = true;
      } else if (!ep.addr.is_v4() && la.n6) {
        src.family = Family::kV6;
        std::memcpy(src.bytes.data(), la.v6[0], 16);
        have_src = true;
      }
    }
    const std::uint64_t mac = outer_ok && onh->kind == NextHopKind::kGateway
                                  ? onh->dst_mac.load(std::memory_order_acquire)
                                  : 0;
    for (unsigned j = 0; j < k; ++j) {
      rte_mbuf* m = todo[idx[j]];
      const tun::PacketBuf& pb = tw.bufs[j];
      if (pb.result != tun::DropReason::kNone) {
        drop(ctx, m, DropReason::tunnel_encrypt_failed);
        continue;
      }
      if (!have_ep) {
        drop(ctx, m, DropReason::tunnel_no_endpoint);
        continue;
      }
      if (!outer_ok || !have_src) {
        drop(ctx, m, DropReason::tunnel_no_outer_route);
        continue;
      }
      const std::uint32_t outer = outer_header_len(ep.addr.is_v4());
      if (pb.len + outer - kEthHeaderLen > sh.ports[onh->port].mtu) {
        drop(ctx, m, DropReason::tunnel_too_big);
        continue;
      }
      std::uint8_t* frame =
          write_outer_headers(pb.data, pb.len, src, ep.addr, tl.listen_port, ep.port);
      m->data_off = static_cast<std::uint16_t>(frame - static_cast<std::uint8_t*>(m->buf_addr));
      m->data_len = static_cast<std::uint16_t>(outer + pb.len);
      m->pkt_len = m->data_len;
      if ((mac & kMacValid) == 0) {
        punt(ctx, m, PuntReason::kResolve);  // family from the outer ethertype just written
        PacketMeta& pm = meta(m);
        pm.next_hop = static_cast<std::uint32_t>(nh_id);
        pm.flags = kMetaLocalOrigin;  // outer TTL is ours: not decremented on resolution
        continue;
      }
      std::uint8_t* eth = frame;
      unpack_mac(mac, eth);
      std::memcpy(eth + 6, sh.ports[onh->port].mac, 6);
      // A WAN subinterface: its tag is pushed and the frame queued on its physical port.
      if (!tx_enqueue_interface(ctx, onh->port, m)) [[unlikely]] {
        drop(ctx, m, DropReason::no_buffer);
      }
    }
  }
}

}  // namespace causeway::fwd
