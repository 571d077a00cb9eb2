// SPDX-License-Identifier: Apache-2.0
// The control thread's packet work (the exception path):
//  - ARP (RFC 826) and IPv6 neighbour discovery (RFC 4861): answer for our own addresses,
//    learn neighbours, pass replies on to the kernel mirror;
//  - neighbour resolution: packets whose next hop has no MAC wait in a bounded queue per
//    neighbour while ARP requests / neighbour solicitations go out; dynamic entries are
//    re-probed after `reachable_s` and removed after `probes` unanswered probes; static
//    entries never age;
//  - ICMP/ICMPv6 errors (time exceeded, unreachable, fragmentation needed / packet too big),
//    rate limited;
//  - the kernel mirrors: frames for the appliance go to the port's TAP, frames the kernel
//    sends on a TAP leave through the port.
// Everything here runs on the control thread; packets leave through a worker's inject ring.
#pragma once

#include <rte_mempool.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <vector>

#include "config/config.h"
#include "dataplane/counters.h"
#include "port.h"
#include "route_table.h"

struct rte_mbuf;

namespace causeway::fwd {

enum class NeighborState : std::uint8_t { kIncomplete, kReachable, kProbe, kStatic };
const char* neighbor_state_name(NeighborState s);

struct NeighborView {
  std::uint16_t port;
  IpAddress address;
  std::optional<MacAddress> mac;
  NeighborState state;
  std::uint64_t age_ms;
  std::size_t queued;
};

class ExceptionPath {
 public:
  using Inject = std::function<bool(rte_mbuf*)>;  // hand a finished frame to a worker
  using Clock = std::function<std::uint64_t()>;   // milliseconds, monotonic

  ExceptionPath(std::vector<PortRuntime>& ports, RouteTable& routes, rte_mempool* pool,
                WorkerCounters& counters, const NeighborTimers& timers, Inject inject,
                Clock now_ms);
  ~ExceptionPath();

  // A packet punted by a worker (PacketMeta::punt says why). Takes ownership.
  void handle_punt(rte_mbuf* m);
  // A frame the kernel wrote on port `port`'s mirror. Takes ownership.
  void handle_mirror_frame(std::uint16_t port, rte_mbuf* m);
  // Ageing, probes, expiry of unresolved neighbours. Call every ~100 ms.
  void on_timer();

  [[nodiscard]] Result<void> add_static_neighbor(std::uint16_t port, const IpAddress& addr,
                                                 const MacAddress& mac);
  [[nodiscard]] Result<void> remove_neighbor(std::uint16_t port, const IpAddress& addr);
  [[nodiscard]] std::vector<NeighborView> neighbors() const;

  // Routes a locally built IP packet (L2 header space included, PacketMeta family/l3_offset/
  // flags set) and sends it or queues it for neighbour resolution. Takes ownership.
  void send_routed(rte_mbuf* m);
  // Receives the tunnel punts (PuntReason::kTunnelHandshake, kTunnelNoSession, kTunnelLocal,
  // kProbeReply).
  void set_tunnel_handler(std::function<void(rte_mbuf*)> handler) {
    tunnel_handler_ = std::move(handler);
  }

 private:
  struct Neighbor {
    std::optional<MacAddress> mac;
    NeighborState state = NeighborState::kIncomplete;
    std::uint64_t confirmed_ms = 0;
    std::uint64_t next_probe_ms = 0;
    std::uint32_t probes_sent = 0;
    bool adjacency = false;  // a host route through this neighbour is installed
    std::deque<rte_mbuf*> pending;
  };
  using NeighborKey = std::pair<std::uint16_t, IpAddress>;

  void handle_arp(rte_mbuf* m);
  void handle_nd(rte_mbuf* m);
  void handle_resolve(rte_mbuf* m);
  void to_kernel(std::uint16_t port, rte_mbuf* m);
  void copy_to_kernel(std::uint16_t port, const rte_mbuf* m);
  void send_icmp_error(rte_mbuf* orig, std::uint8_t type, std::uint8_t code, std::uint32_t extra);
  void learn(std::uint16_t port, const IpAddress& addr, const MacAddress& mac, bool create);
  void resolved(const NeighborKey& key, Neighbor& n);
  void send_solicit(std::uint16_t port, const IpAddress& target,
                    const std::optional<MacAddress>& unicast);
  void finish_and_send(rte_mbuf* m, std::uint16_t port, const MacAddress& dst);
  void forget(std::map<NeighborKey, Neighbor>::iterator it, bool unreachable);
  bool icmp_allowed();
  rte_mbuf* alloc();

  std::vector<PortRuntime>& ports_;
  RouteTable& routes_;
  rte_mempool* pool_;
  WorkerCounters& counters_;
  NeighborTimers timers_;
  Inject inject_;
  Clock now_ms_;
  std::function<void(rte_mbuf*)> tunnel_handler_;
  std::map<NeighborKey, Neighbor> neighbors_;
  // ICMP error token bucket (RFC 1812 4.3.2.8 asks for a rate limit).
  double icmp_tokens_ = 100;
  std::uint64_t icmp_last_ms_ = 0;
};

}  // namespace causeway::fwd
