// SPDX-License-Identifier: Apache-2.0
// WireGuard in the worker's burst (DESIGN.md section 2):
//
// Ingress, tunnel_input (after input, which marks UDP datagrams to a listen port in
// ctx.burst.tunnel_candidates; a burst without any costs one test): UDP to a tunnel's listen port
// on one of the receiving interface's own addresses (the subinterface of a frame that arrived
// tagged; input stripped the tag, so the IP header is at 14) is classified by WireGuard message
// type. Types 1-3 (handshakes, cookie replies) pass a per-source rate limit (HandshakeLimiter)
// and go to the control thread through their own bounded ring (TunnelShared::handshake_ring, so a
// flood of them cannot crowd ARP/ND and other punts out of the punt ring; part of it is kept for
// responses and cookie replies, so a flood of initiations cannot keep them out), which feeds them
// to the tunnel's control-side tun::Device (PuntReason::kTunnelHandshake in their PacketMeta). Type
// 4 is decrypted in place here through the tunnel's tun::DataPath (AEAD, replay window, allowed
// IPs); the outer headers are stripped and the inner packet continues through the stages (FIB
// lookup -> LAN) as if it had been received. Other packets pass untouched. Only decrypted packets
// are compared with the tunnel's own overlay addresses (one compare for a tunnel with one IPv4
// address); one addressed to the PoP itself leaves the burst: an SLA probe request
// (include/causeway/fwd/probe.h) is turned into its reply in place and encrypted back to the
// peer it came from in the same burst (tunnel_output), a probe reply goes to the control
// thread's probe book (PuntReason::kProbeReply, with the receive time), anything else to the
// kernel through the tunnel's mirror (PuntReason::kTunnelLocal); a malformed probe is dropped
// (probe_malformed).
//
// Egress, tunnel_output (after next_hop put the packets of RouteKind::kPathGroup routes in
// ctx.tunnel_out): the packet's traffic class is found (traffic_class.h; class 0 when the table
// is empty), then the member among that class's active set of the path group by flow hash
// (ECMP; a class with no active member is dropped as tunnel_no_path), the inner TTL is
// decremented, the packets of one peer are encrypted as one burst, outer IPv4/IPv6 + UDP headers
// toward the peer's endpoint are written in front, the outer next hop comes from a FIB lookup of
// the endpoint, and the frame goes to the WAN interface (a subinterface's tag pushed, its physical
// port's tx buffer; or to the control thread for neighbour resolution). A peer without a session
// gets its packet punted (PuntReason::kTunnelNoSession): the control side stages it (bounded) and
// starts a handshake.
//
// Several workers (DESIGN.md section 2, docs/tunnels.md "Several workers"): each tunnel peer's
// data-path state (send nonce and send cipher context, replay window, keypair confirmation) is
// used by exactly one worker, its owner, tunnel_peer_owner(). A data message that reaches
// another worker (RSS chose it) is handed to the owner before decryption: tunnel_input looks its
// receiver index up (DataPath::peer_of_index) and moves the datagram, untouched, to the owner's
// TunnelShared::handoff_rx ring; the owner resumes it at tunnel_input (tunnel_input_handed_off).
// A packet whose path-group member is another worker's peer is handed off before encryption:
// tunnel_output decrements its TTL and moves it to the owner's handoff_tx ring with the member in
// its PacketMeta (tunnel, next_hop = peer id); the owner encrypts it (kTunnelOutHandedOff). A full
// ring drops the packet (tunnel_handoff_full). Order: RSS keeps a flow (and a peer's outer
// datagrams, one UDP 5-tuple) on one worker, a ring is FIFO and the owner encrypts or decrypts
// all of a peer's packets, so a flow is not reordered and the peer's nonces leave in order.
//
// Ownership: packets belong to the worker running the burst (a handed-off packet to the worker
// that took it from the ring). TunnelShared is built before the workers start and is read-only
// afterwards, except `path_groups`, which the control thread republishes (release store; workers
// load with acquire once per burst; old tables freed after an rte_rcu_qsbr grace period). Each
// tun::DataPath is thread-safe per its contract: one encrypting and one decrypting thread per
// peer, the peer's owner worker (the control thread seals with its own cipher context).
#pragma once

#include <rte_mbuf.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <span>

#include "causeway/tun/device.h"
#include "traffic_class.h"
#include "wire.h"
#include "worker.h"

namespace causeway::fwd {

inline constexpr unsigned kMaxTunnels = 8;
inline constexpr unsigned kMaxPathGroups = 1024;  // ids 0..1023 (RouteRecord.port)
inline constexpr unsigned kMaxPathMembers = 8;
inline constexpr unsigned kMaxLocalAddrs = 8;       // per port and family
inline constexpr unsigned kMaxHandoffWorkers = 64;  // the configuration's dpdk.workers bound

// The worker that owns a tunnel peer's data path (encrypts and decrypts for it). Peers of one
// tunnel are spread round-robin by id; the tunnel index shifts the start, so that the first peer
// of each tunnel (one remote PoP on several backbones) lands on different workers.
inline unsigned tunnel_peer_owner(unsigned tunnel, tun::PeerId peer, unsigned n_workers) noexcept {
  return (tunnel + peer.value()) % n_workers;
}

struct PathMember {
  std::uint8_t tunnel = 0;
  tun::PeerId peer;
};
// A path group as workers read it: per traffic class, the active members (indices into
// `members`). The control side fills every class: a class without its own set gets the group's
// default set, a class the SLA decision drops gets none.
struct PathGroup {
  std::uint8_t n_members = 0;
  PathMember members[kMaxPathMembers];
  std::uint8_t n_active[kTrafficClassSlots] = {};
  std::uint8_t active[kTrafficClassSlots][kMaxPathMembers];
};
// Immutable once published: the path groups and the traffic classes that index them.
struct PathGroupTable {
  TrafficClassifier classes;
  PathGroup groups[kMaxPathGroups];
};

inline constexpr unsigned kMaxOwnAddrs = 4;  // a tunnel's overlay addresses per family
// own4_key of a tunnel without an IPv4 address: no 32-bit destination equals it.
inline constexpr std::uint64_t kNoOwn4 = std::uint64_t{1} << 32;

struct TunnelListener {
  tun::DataPath* data = nullptr;
  std::uint16_t listen_port = 0;
  std::uint32_t port_mask = 0;  // bit i: listens on interface i's addresses
  // The PoP's own overlay addresses on this tunnel (TunnelConfig::address).
  std::uint64_t own4_key = kNoOwn4;  // the first IPv4 one (host order), or kNoOwn4
  std::uint8_t n_own4 = 0, n_own6 = 0;
  std::uint32_t own4[kMaxOwnAddrs] = {};  // host order
  std::uint8_t own6[kMaxOwnAddrs][16] = {};
};

struct PortAddrs {
  std::uint8_t n4 = 0, n6 = 0;
  std::uint8_t v4[kMaxLocalAddrs][4];
  std::uint8_t v6[kMaxLocalAddrs][16];
};

struct TunnelShared {
  // Handshake and cookie messages, workers -> control thread: tunnel_input enqueues (multi-
  // producer), the control thread dequeues (single consumer) a bounded number per turn. Full:
  // the message is dropped (tunnel_handshake_queue_full); the peer retries (REKEY_TIMEOUT).
  rte_ring* handshake_ring = nullptr;
  // Slots of handshake_ring kept for responses and cookie replies (the answers to our own
  // initiations): an initiation is dropped when no more than this many are free.
  unsigned handshake_reserve = 0;
  unsigned n_tunnels = 0;
  TunnelListener tunnels[kMaxTunnels];
  PortAddrs local[kMaxPorts];  // by interface index: own addresses (first = outer source)
  std::atomic<const PathGroupTable*> path_groups{nullptr};
  // Hand-off between workers (see the top of this file); n_workers == 1: never.
  // handoff_rx[w]: WireGuard data datagrams for worker w's peers, not yet decrypted, their
  // PacketMeta::in_port the physical port they arrived on. handoff_tx[w]: inner packets for
  // worker w's peers, TTL decremented, PacketMeta::tunnel and next_hop (peer id) naming the
  // member. Both multi-producer (the other workers), single-consumer (worker w); bounded.
  unsigned n_workers = 1;
  rte_ring* handoff_rx[kMaxHandoffWorkers] = {};
  rte_ring* handoff_tx[kMaxHandoffWorkers] = {};
  // mbuf dynamic field (rte_mbuf_dynfield_register) where a worker stores the receive time
  // (steady clock ns) of a probe reply it punts; -1: none registered (replies carry no time).
  int probe_rx_ns_offset = -1;
};

// ctx.tunnel_out_nh entry of a packet that goes to one tunnel peer directly (a reflected
// probe, or a packet another worker handed off, kTunnelOutHandedOff) instead of through a path
// group: flags | tunnel << 24 | peer id (< 2^24).
inline constexpr std::uint32_t kTunnelOutDirect = 0x80000000u;
inline constexpr std::uint32_t kTunnelOutHandedOff = 0x40000000u;
inline constexpr std::uint32_t kTunnelOutTunnelMask = 0x3fu;  // after >> 24
inline constexpr std::uint32_t kTunnelOutPeerMask = 0x00ffffffu;
static_assert(kMaxTunnels <= kTunnelOutTunnelMask + 1);

// A token bucket per source address for the handshake and cookie messages a worker hands to the
// control thread, so that one source cannot fill the handshake ring and lock other peers out.
// Always on (a worker does not know whether the control side is under load) and generous: a
// peer sends an initiation every REKEY_TIMEOUT (5 s) at most, so 50 per second and a burst of 20
// per source leave room for many peers behind one address. The responder's own defences (cookie
// replies and its per-source limit under load, whitepaper section 5.3) stay in the tun::Device.
// Keyed by the IPv4 address or the IPv6 /64 (what one host controls) in a fixed direct-mapped
// table: a source that maps to a taken slot takes it over with a full bucket, so memory never
// grows and an evicted source only gains. Sources spread over many addresses are not limited
// here; the ring's bound and the control thread's per-turn budget hold them.
struct HandshakeLimiter {
  static constexpr unsigned kSlots = 1024;
  static constexpr std::int64_t kPerSecond = 50;
  static constexpr std::int64_t kBurst = 20;
  static constexpr std::int64_t kCostNs = 1'000'000'000 / kPerSecond;

  struct Slot {
    std::uint64_t key = 0;
    std::uint8_t family = 0;  // 0 = unused
    std::int64_t tokens_ns = 0;
    std::int64_t last_ns = 0;
  };
  Slot slots[kSlots];

  // True if a message from `src` (4 or 16 bytes, by `v4`) may pass at `now_ns`; takes a token.
  bool allow(const std::uint8_t* src, bool v4, std::int64_t now_ns) noexcept {
    std::uint64_t key = 0;
    std::memcpy(&key, src, v4 ? 4 : 8);
    const std::uint8_t family = v4 ? 4 : 6;
    Slot& s = slots[((key ^ family) * 0x9e3779b97f4a7c15ull) >> 54];  // 10 bits: kSlots
    if (s.family != family || s.key != key) {
      s = Slot{key, family, kCostNs * kBurst, now_ns};
    } else if (now_ns > s.last_ns) {
      s.tokens_ns = std::min(kCostNs * kBurst, s.tokens_ns + (now_ns - s.last_ns));
      s.last_ns = now_ns;
    }
    if (s.tokens_ns < kCostNs) return false;
    s.tokens_ns -= kCostNs;
    return true;
  }
};
static_assert(HandshakeLimiter::kSlots == 1u << 10, "allow() takes the top 10 bits of the hash");

// One worker's scratch, its tun counter block and its handshake limiter (only that worker
// touches them).
struct TunnelWorker {
  tun::Counters counters;
  tun::PacketBuf bufs[kBurstSize];
  HandshakeLimiter limiter;
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
// Encrypts and sends ctx.tunnel_out (filled by next_hop, and by tunnel_input for reflected
// probes); clears it.
void tunnel_output(WorkerContext& ctx) noexcept;

// The owner's side of a hand-off (worker.cc, process_handoffs): datagrams other workers took
// from their rx queues (all received on ctx.in_port) re-enter at tunnel_input, which decrypts
// them here without looking their owner up again; returns the survivors' count like a stage.
std::uint16_t tunnel_input_handed_off(WorkerContext& ctx, std::span<rte_mbuf*> pkts) noexcept;
// Inner packets other workers routed to this worker's peers (handoff_tx), queued in
// ctx.tunnel_out for tunnel_output (which has room: at most kBurstSize, and it is empty).
void tunnel_output_handed_off(WorkerContext& ctx, std::span<rte_mbuf*> pkts) noexcept;

// Writes outer Ethernet type, IPv4/IPv6 and UDP headers in front of a WireGuard message of
// `len` bytes at `payload` (room checked by the caller) and returns the frame start. Shared with
// the control thread, which sends handshake messages the same way.
std::uint8_t* write_outer_headers(std::uint8_t* payload, std::uint32_t len, const IpAddress& src,
                                  const IpAddress& dst, std::uint16_t sport,
                                  std::uint16_t dport) noexcept;
inline constexpr std::uint32_t outer_header_len(bool v4) noexcept {
  return 14 + (v4 ? 20 : 40) + 8;
}

// Flow hash of an inner IP packet of `len` bytes: addresses, protocol and (for TCP/UDP) ports.
// The path-group member of a flow is active[flow_hash % n_active], in the workers and for the
// packets the control thread sends from a tunnel mirror.
std::uint32_t flow_hash(const std::uint8_t* ip, bool v4, std::uint32_t len) noexcept;

}  // namespace causeway::fwd
