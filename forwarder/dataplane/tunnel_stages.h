// SPDX-License-Identifier: Apache-2.0
// WireGuard in the worker's burst (DESIGN.md section 2):
//
// Ingress, tunnel_input (after input, which marks UDP datagrams to a listen port in
// ctx.burst.tunnel_candidates; a burst without any costs one test): UDP to a tunnel's listen port
// on one of the receiving interface's own addresses (the subinterface of a frame that arrived
// tagged; input stripped the tag, so the IP header is at 14) is classified by WireGuard message
// type. Types 1-3 (handshakes, cookie replies) are punted to the control thread
// (PuntReason::kTunnelHandshake), which feeds them to the tunnel's control-side tun::Device. Type 4
// is decrypted in place here through the tunnel's tun::DataPath (AEAD, replay window, allowed IPs);
// the outer headers are stripped and the inner packet continues through the stages (FIB lookup ->
// LAN) as if it had been received. Other packets pass untouched.
//
// Egress, tunnel_output (after next_hop put the packets of RouteKind::kPathGroup routes in
// ctx.tunnel_out): the path group's active member is chosen by flow hash (ECMP), the inner TTL is
// decremented, the packets of one peer are encrypted as one burst, outer IPv4/IPv6 + UDP headers
// toward the peer's endpoint are written in front, the outer next hop comes from a FIB lookup of
// the endpoint, and the frame goes to the WAN interface (a subinterface's tag pushed, its physical
// port's tx buffer; or to the control thread for neighbour resolution). A peer without a session
// gets its packet punted (PuntReason::kTunnelNoSession): the control side stages it (bounded) and
// starts a handshake.
//
// Ownership: packets belong to the worker running the burst. TunnelShared is built before the
// workers start and is read-only afterwards, except `path_groups`, which the control thread
// republishes (release store; workers load with acquire once per burst; old tables freed after an
// rte_rcu_qsbr grace period). Each tun::DataPath is thread-safe per its contract: one encrypting
// and one decrypting thread per peer, which holds because a tunnel runs with one worker (the
// configuration refuses more until peers are handed off between workers).
#pragma once

#include <rte_mbuf.h>

#include <atomic>
#include <cstdint>
#include <span>

#include "causeway/tun/device.h"
#include "wire.h"
#include "worker.h"

namespace causeway::fwd {

inline constexpr unsigned kMaxTunnels = 8;
inline constexpr unsigned kMaxPathGroups = 1024;  // ids 0..1023 (RouteRecord.port)
inline constexpr unsigned kMaxPathMembers = 8;
inline constexpr unsigned kMaxLocalAddrs = 8;  // per port and family

struct PathMember {
  std::uint8_t tunnel = 0;
  tun::PeerId peer;
};
struct PathGroup {
  std::uint8_t n_active = 0;
  PathMember active[kMaxPathMembers];
};
// Immutable once published.
struct PathGroupTable {
  PathGroup groups[kMaxPathGroups];
};

struct TunnelListener {
  tun::DataPath* data = nullptr;
  std::uint16_t listen_port = 0;
  std::uint32_t port_mask = 0;  // bit i: listens on interface i's addresses
};

struct PortAddrs {
  std::uint8_t n4 = 0, n6 = 0;
  std::uint8_t v4[kMaxLocalAddrs][4];
  std::uint8_t v6[kMaxLocalAddrs][16];
};

struct TunnelShared {
  unsigned n_tunnels = 0;
  TunnelListener tunnels[kMaxTunnels];
  PortAddrs local[kMaxPorts];  // by interface index: own addresses (first = outer source)
  std::atomic<const PathGroupTable*> path_groups{nullptr};
};

// One worker's scratch and its tun counter block (only that worker touches them).
struct TunnelWorker {
  tun::Counters counters;
  tun::PacketBuf bufs[kBurstSize];
};

// input's pre-check for a packet it keeps (header at `ip`, `len` bytes of IP packet): UDP, not
// an IPv4 fragment, to a port some tunnel listens on at interface `in_port`
// (rx_interface: the subinterface of a stripped tag). tunnel_input checks the rest
// (local destination address, message type).
inline bool tunnel_candidate(const TunnelShared& ts, std::uint16_t in_port, const std::uint8_t* ip,
                             std::uint32_t len, bool v4) noexcept {
  using namespace wire;
  std::uint32_t l4;
  if (v4) {
    if (ip[kIp4OffProto] != kIpProtoUdp) return false;
    if ((load_be16(ip + kIp4OffFlagsFrag) & 0x3fff) != 0) return false;  // fragment
    l4 = (ip[0] & 0x0fu) * 4u;
  } else {
    if (ip[kIp6OffNextHeader] != kIpProtoUdp) return false;
    l4 = kIp6HeaderLen;
  }
  if (l4 + kUdpHeaderLen > len) return false;
  const std::uint16_t dport = load_be16(ip + l4 + 2);
  for (unsigned t = 0; t < ts.n_tunnels; ++t) {
    const TunnelListener& l = ts.tunnels[t];
    if (l.listen_port == dport && (l.port_mask & (1u << in_port)) != 0) return true;
  }
  return false;
}

// Stage: classify and decrypt the packets input marked; inner packets replace their datagrams
// in place (their ctx.burst values and n_v6 follow the inner packet).
std::uint16_t tunnel_input(WorkerContext& ctx, std::span<rte_mbuf*> pkts) noexcept;
// Encrypts and sends ctx.tunnel_out (filled by next_hop); clears it.
void tunnel_output(WorkerContext& ctx) noexcept;

// Writes outer Ethernet type, IPv4/IPv6 and UDP headers in front of a WireGuard message of
// `len` bytes at `payload` (room checked by the caller) and returns the frame start. Shared with
// the control thread, which sends handshake messages the same way.
std::uint8_t* write_outer_headers(std::uint8_t* payload, std::uint32_t len, const IpAddress& src,
                                  const IpAddress& dst, std::uint16_t sport,
                                  std::uint16_t dport) noexcept;
inline constexpr std::uint32_t outer_header_len(bool v4) noexcept {
  return 14 + (v4 ? 20 : 40) + 8;
}

}  // namespace causeway::fwd
