// SPDX-License-Identifier: Apache-2.0
// Control side of the forwarder's tunnels (see tunnels.h). Everything here runs on the control
// thread; packets it builds leave through the exception path's route + neighbour + inject.
#include "tunnels.h"

#include <rte_errno.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "causeway/fwd/probe.h"
#include "dataplane/packet_meta.h"
#include "dataplane/wire.h"
#include "exception_path.h"
#include "traffic_classes.h"
#include "uapi_backend.h"

namespace causeway::fwd {
namespace {

using namespace wire;
using nlohmann::json;

// Handshake and cookie messages waiting for the control thread (a power of two; usable
// size one less). At about 1 us per message refused on mac1 and under 100 us per accepted
// one, a full ring is a few milliseconds of work; its mbufs are a small share of the pool.
constexpr unsigned kHandshakeRingSize = 512;
// Of which initiations may not take the last quarter: it is kept for responses and cookie
// replies, the answers to the handshakes this side starts (TunnelShared::handshake_reserve).
constexpr unsigned kHandshakeRingReserve = kHandshakeRingSize / 4;
// Each worker's two hand-off rings (TunnelShared::handoff_rx/handoff_tx, several workers only):
// about 30 bursts, room for the owner to be a poll round or a short sleep behind.
constexpr unsigned kHandoffRingSize = 1024;

void drain_and_free(rte_ring* r) {
  if (r == nullptr) return;
  void* obj;
  while (rte_ring_dequeue(r, &obj) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(obj));
  rte_ring_free(r);
}

tun::Nanos monotonic_now() {
  return std::chrono::duration_cast<tun::Nanos>(
      std::chrono::steady_clock::now().time_since_epoch());
}

std::uint64_t total_drops(const tun::Counters& c) {
  std::uint64_t sum = 0;
  for (std::size_t i = 1; i < c.drops.size(); ++i) sum += c.drops[i];  // [0] is kNone
  return sum;
}

std::uint64_t steady_ns() {
  return static_cast<std::uint64_t>(monotonic_now().count());
}

// WireGuard's overhead over the worst outer header (IPv6 40 + UDP 8 + data header 16 + tag 16),
// and the inner size kept a multiple of the 16-byte padding, so every inner packet the kernel
// sends fits the smallest WAN port whatever the endpoint's family.
unsigned tunnel_mirror_mtu(const TunnelConfig& tc, const std::vector<PortRuntime>& ports) {
  unsigned mtu = 9000;
  for (const std::string& name : tc.ports) {
    for (const PortRuntime& p : ports) {
      if (p.name == name) mtu = std::min<unsigned>(mtu, p.mtu);
    }
  }
  return (mtu - 80) / 16 * 16;
}

// Where a worker stores a probe reply's receive time (TunnelShared::probe_rx_ns_offset).
int register_probe_timestamp() {
  rte_mbuf_dynfield desc{};
  std::snprintf(desc.name, sizeof(desc.name), "%s", "causeway_probe_rx_ns");
  desc.size = sizeof(std::uint64_t);
  desc.align = alignof(std::uint64_t);
  return rte_mbuf_dynfield_register(&desc);
}

std::string endpoint_str(const tun::Endpoint& e) {
  return e.addr.is_v4() ? fmt::format("{}:{}", e.addr.str(), e.port)
                        : fmt::format("[{}]:{}", e.addr.str(), e.port);
}

}  // namespace

QsbrReclaimer::~QsbrReclaimer() {
  for (auto& [token, free] : pending_) free();
}

void QsbrReclaimer::retire(std::function<void()> free) {
  pending_.emplace_back(rte_rcu_qsbr_start(qsbr_), std::move(free));
}

void QsbrReclaimer::poll() {
  while (!pending_.empty() && rte_rcu_qsbr_check(qsbr_, pending_.front().first, false) == 1) {
    pending_.front().second();
    pending_.pop_front();
  }
}

struct TunnelRuntime::Tunnel final : tun::ActionSink {
  TunnelRuntime* rt = nullptr;
  unsigned index = 0;
  std::string name;
  std::uint16_t listen_port = 0;
  std::unique_ptr<tun::Device> dev;
  // Configured peer names -> public keys. By key, not PeerId: a peer removed and added again
  // through the UAPI gets a new PeerId but keeps its name (and its path group memberships).
  std::map<std::string, tun::Key32> by_name;
  std::vector<IpPrefix> address;   // own overlay addresses
  std::unique_ptr<Mirror> mirror;  // L3 kernel mirror (with an address only)

  void send_datagram(const tun::Endpoint& to, std::span<const std::uint8_t> d) override {
    rt->send_datagram(index, to, d);
  }
  // Data messages are decrypted by the workers; the control side never delivers inner packets.
  void deliver(tun::PeerId, std::span<const std::uint8_t>) override {}

  std::string peer_name(const tun::Key32& key) const {
    for (const auto& [n, k] : by_name) {
      if (k == key) return n;
    }
    return {};
  }
};

TunnelRuntime::TunnelRuntime(std::vector<PortRuntime>& ports, RouteTable& routes,
                             ExceptionPath& exception, rte_mempool* pool, rte_rcu_qsbr* qsbr,
                             WorkerCounters& counters)
    : ports_(ports),
      routes_(routes),
      exception_(exception),
      pool_(pool),
      counters_(counters),
      reclaimer_(qsbr),
      shared_(std::make_unique<TunnelShared>()) {}

TunnelRuntime::~TunnelRuntime() {
  drain_and_free(handshake_ring_);
  for (unsigned w = 0; w < kMaxHandoffWorkers; ++w) {
    drain_and_free(shared_->handoff_rx[w]);
    drain_and_free(shared_->handoff_tx[w]);
  }
  delete shared_->path_groups.load(std::memory_order_relaxed);
  tunnels_.clear();  // Devices hand their last snapshots to the reclaimer, freed below
}

Result<std::unique_ptr<TunnelRuntime>> TunnelRuntime::create(
    const FwdConfig& config, std::vector<PortRuntime>& ports, RouteTable& routes,
    ExceptionPath& exception, rte_mempool* pool, rte_rcu_qsbr* qsbr, WorkerCounters& counters) {
  std::unique_ptr<TunnelRuntime> rt(
      new TunnelRuntime(ports, routes, exception, pool, qsbr, counters));
  TunnelShared& ts = *rt->shared_;
  ts.probe_rx_ns_offset = register_probe_timestamp();
  if (ts.probe_rx_ns_offset < 0) {
    spdlog::warn(
        "no mbuf field for probe receive times: {} (replies are timed on the control "
        "thread)",
        rte_strerror(rte_errno));
  }
  const std::uint64_t start_ns = steady_ns();
  rt->handshake_ring_ = rte_ring_create("cw_handshake", kHandshakeRingSize,
                                        static_cast<int>(rte_socket_id()), RING_F_SC_DEQ);
  if (rt->handshake_ring_ == nullptr) return fail("cannot create the handshake ring", ENOMEM);
  ts.handshake_ring = rt->handshake_ring_;
  ts.handshake_reserve = kHandshakeRingReserve;
  // Several workers: each owns a share of the peers (tunnel_peer_owner) and takes the others'
  // packets for them from its hand-off rings (multi-producer, single-consumer).
  ts.n_workers = std::max(1u, unsigned{config.dpdk.workers});
  if (ts.n_workers > kMaxHandoffWorkers) return fail("too many workers for tunnels", EINVAL);
  for (unsigned w = 0; ts.n_workers > 1 && w < ts.n_workers; ++w) {
    ts.handoff_rx[w] = rte_ring_create(fmt::format("cw_handoff_rx{}", w).c_str(), kHandoffRingSize,
                                       static_cast<int>(rte_socket_id()), RING_F_SC_DEQ);
    ts.handoff_tx[w] = rte_ring_create(fmt::format("cw_handoff_tx{}", w).c_str(), kHandoffRingSize,
                                       static_cast<int>(rte_socket_id()), RING_F_SC_DEQ);
    if (ts.handoff_rx[w] == nullptr || ts.handoff_tx[w] == nullptr) {
      return fail("cannot create the tunnel hand-off rings", ENOMEM);
    }
  }
  for (const PortRuntime& p : ports) {
    PortAddrs& a = ts.local[p.index];
    for (const IpPrefix& pre : p.addresses) {
      if (pre.addr.is_v4() && a.n4 < kMaxLocalAddrs) {
        std::memcpy(a.v4[a.n4++], pre.addr.bytes.data(), 4);
      } else if (!pre.addr.is_v4() && a.n6 < kMaxLocalAddrs) {
        std::memcpy(a.v6[a.n6++], pre.addr.bytes.data(), 16);
      }
    }
  }
  for (std::size_t i = 0; i < config.tunnels.size(); ++i) {
    const TunnelConfig& tc = config.tunnels[i];
    const std::string at = fmt::format("tunnels[{}]", i);
    auto t = std::make_unique<Tunnel>();
    t->rt = rt.get();
    t->index = static_cast<unsigned>(i);
    t->name = tc.name;
    t->listen_port = tc.listen_port;
    t->dev =
        std::make_unique<tun::Device>(tun::system_rng(), tun::system_wall_clock(), rt->reclaimer_);
    if (!tc.private_key) return fail(at + ".private_key: no key loaded", EINVAL);
    tun::DeviceConfig dc;
    dc.private_key = *tc.private_key;
    if (auto r = t->dev->configure(dc); !r) {
      return fail(at + ".private_key: " + r.error().message, r.error().code);
    }
    for (std::size_t k = 0; k < tc.peers.size(); ++k) {
      const TunnelPeerConfig& pc = tc.peers[k];
      tun::PeerConfig p;
      p.public_key = pc.public_key;
      if (pc.preshared_key) p.preshared_key = *pc.preshared_key;
      if (pc.endpoint) p.endpoint = tun::Endpoint{pc.endpoint->addr, pc.endpoint->port};
      p.allowed_ips = pc.allowed_ips;
      p.persistent_keepalive = std::chrono::seconds(pc.persistent_keepalive_s);
      auto id = t->dev->add_peer(p);
      if (!id) {
        return fail(fmt::format("{}.peers[{}]: {}", at, k, id.error().message), id.error().code);
      }
      const std::string name = pc.name.empty() ? wg_key_str(pc.public_key) : pc.name;
      t->by_name.emplace(name, pc.public_key);
      if (pc.probe_interval_ms != 0) {
        if (const auto target = probe_target(tc, pc)) {
          rt->probes_.add_peer(
              ProbePeerInfo{t->index, id.value().value(), tc.name, name, wg_key_str(pc.public_key),
                            target->source, target->destination, pc.probe_interval_ms},
              start_ns);
          rt->probe_keys_.push_back(pc.public_key);
        }
      }
      if (pc.path_group) {
        Group& g = rt->groups_[*pc.path_group];
        g.members.push_back(PathMemberRef{tc.name, name});
        g.active.push_back(true);
      }
    }
    TunnelListener& l = ts.tunnels[ts.n_tunnels++];
    l.data = &t->dev->data_path();
    l.listen_port = tc.listen_port;
    for (const IpPrefix& a : tc.address) {
      if (a.addr.is_v4() && l.n_own4 < kMaxOwnAddrs) {
        l.own4[l.n_own4++] = a.addr.v4_host_order();
      } else if (!a.addr.is_v4() && l.n_own6 < kMaxOwnAddrs) {
        std::memcpy(l.own6[l.n_own6++], a.addr.bytes.data(), 16);
      }
    }
    if (l.n_own4) l.own4_key = l.own4[0];
    t->address = tc.address;
    if (!tc.address.empty()) {
      auto mirror = Mirror::create_l3(tc.name, tunnel_mirror_mtu(tc, ports), tc.address);
      if (!mirror) return fail(at + ".address: " + mirror.error().message, mirror.error().code);
      t->mirror = std::move(mirror.value());
      std::string addrs;
      for (const IpPrefix& a : tc.address) addrs += (addrs.empty() ? "" : ", ") + a.str();
      spdlog::info("tunnel {}: kernel mirror {} (ifindex {}, mtu {}) with {}", tc.name, tc.name,
                   t->mirror->ifindex(), tunnel_mirror_mtu(tc, ports), addrs);
    }
    for (const std::string& port : tc.ports) {
      for (const PortRuntime& p : ports) {
        if (p.name == port) l.port_mask |= 1u << p.index;
      }
    }
    spdlog::info("tunnel {}: listening on UDP {} ({} peers), public key {}", tc.name,
                 tc.listen_port, tc.peers.size(), wg_key_str(t->dev->public_key()));
    rt->tunnels_.push_back(std::move(t));
  }
  rt->publish_path_groups();
  return rt;
}

tun::Device* TunnelRuntime::device(const std::string& name) {
  for (auto& t : tunnels_) {
    if (t->name == name) return t->dev.get();
  }
  return nullptr;
}

std::unique_ptr<uapi::Backend> TunnelRuntime::make_uapi_backend(const std::string& name) {
  for (auto& t : tunnels_) {
    if (t->name == name) {
      return std::make_unique<DeviceBackend>(*t->dev, t->listen_port,
                                             [this] { refresh_path_groups(); });
    }
  }
  return nullptr;
}

std::optional<PathMember> TunnelRuntime::resolve(const PathMemberRef& ref) const {
  for (const auto& t : tunnels_) {
    if (t->name != ref.tunnel) continue;
    if (auto it = t->by_name.find(ref.peer); it != t->by_name.end()) {
      if (auto id = t->dev->find_peer(it->second)) {
        return PathMember{static_cast<std::uint8_t>(t->index), *id};
      }
      return std::nullopt;
    }
    if (auto key = parse_wg_key(ref.peer)) {
      if (auto id = t->dev->find_peer(*key)) {
        return PathMember{static_cast<std::uint8_t>(t->index), *id};
      }
    }
  }
  return std::nullopt;
}

void TunnelRuntime::publish_path_groups() {
  auto table = std::make_unique<PathGroupTable>();
  table->classes = classifier_;
  for (const auto& [id, g] : groups_) {
    std::vector<std::optional<PathMember>> members;
    for (const auto& m : g.members) members.push_back(resolve(m));
    fill_path_group(table->groups[id], members, g.active, g.class_active);
  }
  const PathGroupTable* old =
      shared_->path_groups.exchange(table.release(), std::memory_order_acq_rel);
  if (old != nullptr) reclaimer_.retire([old] { delete old; });
}

void TunnelRuntime::refresh_path_groups() {
  for (std::size_t slot = 0; slot < probes_.size(); ++slot) {
    (void)probe_peer(*tunnels_[probes_.info(slot).tunnel], slot);
  }
  publish_path_groups();
}

Result<void> TunnelRuntime::set_path_group(const ctl::PathGroupRequest& req) {
  if (req.id >= kMaxPathGroups) {
    return fail(fmt::format("path group {} out of range (0..{})", req.id, kMaxPathGroups - 1),
                EINVAL);
  }
  if (req.members.size() > kMaxPathMembers) {
    return fail(fmt::format("{} members; at most {}", req.members.size(), kMaxPathMembers), EINVAL);
  }
  Group g;
  for (std::size_t i = 0; i < req.members.size(); ++i) {
    if (!resolve(req.members[i])) {
      return fail(fmt::format("members[{}]: no peer {} in tunnel {}", i, req.members[i].peer,
                              req.members[i].tunnel),
                  ENOENT);
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (req.members[j] == req.members[i])
        return fail(fmt::format("members[{}]: listed twice", i), EINVAL);
    }
    g.members.push_back(req.members[i]);
  }
  // The subset of the members a list names; an error names the list's entry.
  auto subset = [&g](const std::vector<PathMemberRef>& list, const std::string& at,
                     std::vector<bool>& out) -> Result<void> {
    out.assign(g.members.size(), false);
    for (std::size_t i = 0; i < list.size(); ++i) {
      bool found = false;
      for (std::size_t k = 0; k < g.members.size(); ++k) {
        if (g.members[k] == list[i]) out[k] = found = true;
      }
      if (!found) return fail(fmt::format("{}[{}]: not a member of the group", at, i), EINVAL);
    }
    return boost::outcome_v2::success();
  };
  if (auto r = subset(req.active, "active", g.active); !r) return r.error();
  if (req.active.empty()) g.active.assign(g.members.size(), true);
  for (std::size_t c = 0; c < req.classes.size(); ++c) {
    const ctl::ClassActive& ca = req.classes[c];
    if (ca.traffic_class >= kTrafficClassSlots) {
      return fail(fmt::format("classes[{}].class: {} out of range (0..{})", c, ca.traffic_class,
                              kTrafficClassSlots - 1),
                  EINVAL);
    }
    if (g.class_active.contains(ca.traffic_class)) {
      return fail(fmt::format("classes[{}].class: {} listed twice", c, ca.traffic_class), EINVAL);
    }
    std::vector<bool> set;
    if (auto r = subset(ca.active, fmt::format("classes[{}].active", c), set); !r) {
      return r.error();
    }
    g.class_active.emplace(ca.traffic_class, std::move(set));
  }
  if (g.members.empty()) {
    groups_.erase(req.id);
  } else {
    groups_[req.id] = std::move(g);
  }
  publish_path_groups();
  return boost::outcome_v2::success();
}

Result<void> TunnelRuntime::set_traffic_classes(std::vector<ctl::TrafficClassSpec> classes) {
  auto compiled = compile_traffic_classes(classes);
  if (!compiled) return compiled.error();
  classifier_ = compiled.value();
  classes_ = std::move(classes);
  publish_path_groups();
  return boost::outcome_v2::success();
}

void TunnelRuntime::send_datagram(unsigned tunnel, const tun::Endpoint& to,
                                  std::span<const std::uint8_t> bytes) {
  const NextHopId id = routes_.lookup(to.addr);
  const NextHop& nh = routes_.next_hop(id);
  if (id == kNoRouteNextHop ||
      (nh.kind != NextHopKind::kGateway && nh.kind != NextHopKind::kConnected) ||
      nh.port >= ports_.size()) {
    counters_.count_drop(DropReason::tunnel_no_outer_route);
    return;
  }
  const auto src = ports_[nh.port].source_for(to.addr);
  if (!src) {
    counters_.count_drop(DropReason::tunnel_no_outer_route);
    return;
  }
  rte_mbuf* m = rte_pktmbuf_alloc(pool_);
  if (m == nullptr) {
    counters_.count_drop(DropReason::no_buffer);
    return;
  }
  const std::uint32_t outer = outer_header_len(to.addr.is_v4());
  if (outer + bytes.size() > rte_pktmbuf_tailroom(m)) {
    rte_pktmbuf_free(m);
    counters_.count_drop(DropReason::tunnel_too_big);
    return;
  }
  std::uint8_t* base = rte_pktmbuf_mtod(m, std::uint8_t*);
  std::memcpy(base + outer, bytes.data(), bytes.size());
  write_outer_headers(base + outer, static_cast<std::uint32_t>(bytes.size()), *src, to.addr,
                      tunnels_[tunnel]->listen_port, to.port);
  rte_pktmbuf_append(m, static_cast<std::uint16_t>(outer + bytes.size()));
  PacketMeta& pm = meta(m);
  std::memset(&pm, 0, sizeof(pm));
  pm.family = to.addr.is_v4() ? 4 : 6;
  pm.l3_offset = kEthHeaderLen;
  pm.in_port = nh.port;
  pm.flags = kMetaLocalOrigin;
  exception_.send_routed(m);
}

void TunnelRuntime::handle_punt(rte_mbuf* m) {
  PacketMeta& pm = meta(m);
  const tun::Nanos now = monotonic_now();
  if (pm.tunnel >= tunnels_.size()) {
    rte_pktmbuf_free(m);
    return;
  }
  Tunnel& t = *tunnels_[pm.tunnel];
  std::uint8_t* ip = rte_pktmbuf_mtod_offset(m, std::uint8_t*, pm.l3_offset);
  const std::uint32_t avail = m->data_len - pm.l3_offset;
  if (pm.punt == PuntReason::kTunnelNoSession) {
    send_inner(t, tun::PeerId(pm.next_hop), std::span<const std::uint8_t>(ip, avail), now);
    rte_pktmbuf_free(m);
    return;
  }
  if (pm.punt == PuntReason::kTunnelLocal) {
    if (!t.mirror || write(t.mirror->fd(), ip, avail) != static_cast<ssize_t>(avail)) {
      counters_.count_drop(DropReason::mirror_write_failed);
    }
    rte_pktmbuf_free(m);
    return;
  }
  if (pm.punt == PuntReason::kProbeReply) {
    handle_probe_reply(m);
    return;
  }
  // kTunnelHandshake: tunnel_input checked the UDP header and the message type.
  tun::Endpoint from;
  std::uint32_t l4;
  if (pm.family == 4) {
    from.addr.family = Family::kV4;
    std::memcpy(from.addr.bytes.data(), ip + kIp4OffSrc, 4);
    l4 = (ip[0] & 0x0fu) * 4u;
  } else {
    from.addr.family = Family::kV6;
    std::memcpy(from.addr.bytes.data(), ip + kIp6OffSrc, 16);
    l4 = kIp6HeaderLen;
  }
  from.port = load_be16(ip + l4);
  std::uint8_t* payload = ip + l4 + 8;
  const std::uint32_t len = avail - l4 - 8;
  const std::uint64_t before = total_drops(t.dev->counters());
  t.dev->receive(now, from, std::span<std::uint8_t>(payload, len), t);
  if (total_drops(t.dev->counters()) != before) {
    counters_.count_drop(DropReason::tunnel_handshake_dropped);
  }
  rte_pktmbuf_free(m);
}

void TunnelRuntime::send_inner(Tunnel& t, tun::PeerId peer, std::span<const std::uint8_t> packet,
                               tun::Nanos now) {
  const tun::Counters& c = t.dev->counters();
  const std::uint64_t overflow = c[tun::DropReason::kStagedOverflow];
  const std::uint64_t before = total_drops(c);
  t.dev->send_to_peer(now, peer, packet, t);
  if (c[tun::DropReason::kStagedOverflow] != overflow) {
    counters_.count_drop(DropReason::tunnel_queue_full);  // the oldest waiting packet went
  } else if (total_drops(c) != before) {
    counters_.count_drop(DropReason::tunnel_encrypt_failed);
  }
}

void TunnelRuntime::handle_probe_reply(rte_mbuf* m) {
  const PacketMeta& pm = meta(m);
  const std::uint8_t* ip = rte_pktmbuf_mtod_offset(m, const std::uint8_t*, pm.l3_offset);
  probe::Parsed parsed;
  if (probe::parse_packet(std::span(ip, m->data_len - pm.l3_offset), parsed) !=
      probe::ParseError::kNone) {
    counters_.count_drop(DropReason::probe_malformed);  // the worker checked it: not reached
    rte_pktmbuf_free(m);
    return;
  }
  const int off = shared_->probe_rx_ns_offset;
  const std::uint64_t rx_ns = off >= 0 ? *RTE_MBUF_DYNFIELD(m, off, std::uint64_t*) : steady_ns();
  if (probes_.on_reply(pm.tunnel, pm.next_hop, parsed.payload, rx_ns) ==
      ProbeBook::ReplyResult::kUnknown) {
    counters_.count_drop(DropReason::probe_unknown);
  }
  rte_pktmbuf_free(m);
}

std::vector<std::pair<unsigned, int>> TunnelRuntime::mirror_fds() const {
  std::vector<std::pair<unsigned, int>> out;
  for (const auto& t : tunnels_) {
    if (t->mirror) out.emplace_back(t->index, t->mirror->fd());
  }
  return out;
}

void TunnelRuntime::persist_mirrors() {
  for (const auto& t : tunnels_) {
    if (!t->mirror) continue;
    if (auto r = t->mirror->persist(); !r) spdlog::warn("{}", r.error().message);
  }
}

void TunnelRuntime::handle_mirror_packet(unsigned tunnel, rte_mbuf* m) {
  const tun::Nanos now = monotonic_now();
  Tunnel& t = *tunnels_[tunnel];
  const std::uint8_t* ip = rte_pktmbuf_mtod_offset(m, const std::uint8_t*, kEthHeaderLen);
  const std::uint32_t len = m->data_len - kEthHeaderLen;
  const unsigned version = len ? ip[0] >> 4 : 0;
  if ((version != 4 || len < kIp4MinHeaderLen) && (version != 6 || len < kIp6HeaderLen)) {
    counters_.count_drop(version == 6 ? DropReason::ip6_truncated : DropReason::ip4_truncated);
    rte_pktmbuf_free(m);
    return;
  }
  const bool v4 = version == 4;
  IpAddress dst;
  dst.family = v4 ? Family::kV4 : Family::kV6;
  std::memcpy(dst.bytes.data(), ip + (v4 ? kIp4OffDst : kIp6OffDst), v4 ? 4 : 16);
  // The FIB decides first: a path-group route takes the member the workers would choose for
  // this flow (its traffic class's active set, then the flow hash); otherwise the tunnel's own
  // peer by allowed IPs.
  std::optional<PathMember> member;
  const NextHopId id = routes_.lookup(dst);
  if (id != kNoRouteNextHop) {
    const NextHop& nh = routes_.next_hop(id);
    const PathGroupTable* groups = shared_->path_groups.load(std::memory_order_relaxed);
    if (nh.kind == NextHopKind::kPathGroup && groups != nullptr && nh.port < kMaxPathGroups) {
      const PathGroup& g = groups->groups[nh.port];
      const std::uint8_t cls =
          groups->classes.n_rules == 0 ? 0 : classify(groups->classes, ip, v4, len);
      if (g.n_active[cls]) {
        member = g.members[g.active[cls][flow_hash(ip, v4, len) % g.n_active[cls]]];
      }
    }
  }
  if (!member) {
    const tun::PeerId peer = t.dev->route(dst);
    if (peer.valid()) member = PathMember{static_cast<std::uint8_t>(t.index), peer};
  }
  if (!member || member->tunnel >= tunnels_.size()) {
    counters_.count_drop(DropReason::tunnel_mirror_no_peer);
    rte_pktmbuf_free(m);
    return;
  }
  send_inner(*tunnels_[member->tunnel], member->peer, std::span(ip, len), now);
  rte_pktmbuf_free(m);
}

void TunnelRuntime::on_probe_timer() {
  const tun::Nanos now = monotonic_now();
  probes_.run_due(static_cast<std::uint64_t>(now.count()),
                  [&](std::size_t slot, std::span<const std::uint8_t> pkt) {
                    Tunnel& t = *tunnels_[probes_.info(slot).tunnel];
                    // By key: the UAPI may have removed the peer or added it again.
                    const tun::PeerId peer = probe_peer(t, slot);
                    if (!peer.valid()) return false;
                    if (!t.dev->data_path().can_send(now, peer)) {
                      // A path without a session loses its probes; the handshake is asked
                      // for (spaced by REKEY_TIMEOUT in the Device).
                      t.dev->initiate_handshake(now, peer, t);
                      return false;
                    }
                    send_inner(t, peer, pkt, now);
                    return true;
                  });
}

tun::PeerId TunnelRuntime::probe_peer(const Tunnel& t, std::size_t slot) {
  const std::optional<tun::PeerId> id = t.dev->find_peer(probe_keys_[slot]);
  const std::uint32_t value = id ? id->value() : ProbeBook::kNoPeer;
  if (probes_.info(slot).peer != value) {
    probes_.set_peer(slot, id ? std::optional<std::uint32_t>(value) : std::nullopt);
  }
  return id.value_or(tun::PeerId::invalid());
}

std::size_t TunnelRuntime::set_probe_interval(std::uint32_t interval_ms) {
  return probes_.set_interval(interval_ms, steady_ns());
}

bool TunnelRuntime::poll_handshakes(unsigned budget) {
  void* objs[kBurstSize];
  while (budget > 0) {
    const unsigned n = rte_ring_sc_dequeue_burst(handshake_ring_, objs,
                                                 std::min<unsigned>(budget, kBurstSize), nullptr);
    if (n == 0) return false;
    for (unsigned i = 0; i < n; ++i) handle_punt(static_cast<rte_mbuf*>(objs[i]));
    budget -= n;
  }
  return handshakes_waiting();
}

bool TunnelRuntime::handshakes_waiting() const {
  return rte_ring_count(handshake_ring_) != 0;
}

void TunnelRuntime::on_timer() {
  const tun::Nanos now = monotonic_now();
  if (!started_) {
    // As wireguard-go does when an interface comes up: a peer with an endpoint and a
    // persistent keepalive gets its session at once, not with the first packet.
    started_ = true;
    for (auto& t : tunnels_) {
      for (tun::PeerId id : t->dev->peers()) {
        auto st = t->dev->peer_status(id);
        if (st && st.value().endpoint && st.value().persistent_keepalive.count() > 0) {
          t->dev->initiate_handshake(now, id, *t);
        }
      }
    }
  }
  for (auto& t : tunnels_) {
    if (t->dev->next_deadline() <= now) t->dev->tick(now, *t);
  }
  reclaimer_.poll();
}

json TunnelRuntime::tunnels_json() const {
  json out = json::array();
  const std::uint64_t now_ns = steady_ns();
  for (const auto& t : tunnels_) {
    json peers = json::array();
    for (tun::PeerId id : t->dev->peers()) {
      auto st = t->dev->peer_status(id);
      if (!st) continue;
      const tun::PeerStatus& s = st.value();
      json p = {{"name", t->peer_name(s.public_key)},
                {"public_key", wg_key_str(s.public_key)},
                {"endpoint", s.endpoint ? endpoint_str(*s.endpoint) : ""},
                {"rx_bytes", s.rx_bytes},
                {"tx_bytes", s.tx_bytes},
                {"session", s.has_current_keypair},
                {"persistent_keepalive", s.persistent_keepalive.count()}};
      p["latest_handshake"] = s.last_handshake ? std::chrono::duration_cast<std::chrono::seconds>(
                                                     s.last_handshake->time_since_epoch())
                                                     .count()
                                               : 0;
      json allowed = json::array();
      for (const auto& a : s.allowed_ips) allowed.push_back(a.str());
      p["allowed_ips"] = allowed;
      if (const long slot = probes_.slot_of(t->index, id.value()); slot >= 0) {
        p["probe"] = probes_.peer_json(static_cast<std::size_t>(slot), now_ns);
      }
      peers.push_back(p);
    }
    json counters = json::object();
    const tun::Counters& c = t->dev->counters();
    for (std::size_t i = 1; i < tun::kDropReasonCount; ++i) {
      if (c.drops[i]) counters[std::string(tun::kDropReasonInfo[i].name)] = c.drops[i];
    }
    for (std::size_t i = 0; i < tun::kEventCount; ++i) {
      if (c.events[i]) counters[std::string(tun::kEventInfo[i].name)] = c.events[i];
    }
    json address = json::array();
    for (const IpPrefix& a : t->address) address.push_back(a.str());
    out.push_back({{"name", t->name},
                   {"listen_port", t->listen_port},
                   {"public_key", wg_key_str(t->dev->public_key())},
                   {"address", address},
                   {"mirror", t->mirror ? t->mirror->name() : ""},
                   {"mirror_ifindex", t->mirror ? t->mirror->ifindex() : 0},
                   {"peers", peers},
                   {"control_counters", counters}});
  }
  return out;
}

json TunnelRuntime::path_groups_json() const {
  json out = json::array();
  auto name_of = [this](unsigned cls) -> std::string {
    if (cls == 0) return "default";
    for (const auto& c : classes_) {
      if (c.id == cls) return c.name;
    }
    return {};
  };
  for (const auto& [id, g] : groups_) {
    json members = json::array();
    auto subset = [&g](const std::vector<bool>& on) {
      json list = json::array();
      for (std::size_t i = 0; i < g.members.size(); ++i) {
        if (on[i]) list.push_back({{"tunnel", g.members[i].tunnel}, {"peer", g.members[i].peer}});
      }
      return list;
    };
    for (const auto& m : g.members) members.push_back({{"tunnel", m.tunnel}, {"peer", m.peer}});
    // Per class the set its packets use: class 0, every class of the table, and any class the
    // group has its own set for.
    std::set<unsigned> shown = {0};
    for (const auto& c : classes_) shown.insert(c.id);
    for (const auto& [cls, on] : g.class_active) shown.insert(cls);
    json classes = json::array();
    for (unsigned cls : shown) {
      auto own = g.class_active.find(static_cast<std::uint8_t>(cls));
      const bool has_own = own != g.class_active.end();
      classes.push_back({{"class", cls},
                         {"name", name_of(cls)},
                         {"own", has_own},
                         {"active", subset(has_own ? own->second : g.active)}});
    }
    out.push_back(
        {{"id", id}, {"members", members}, {"active", subset(g.active)}, {"classes", classes}});
  }
  return out;
}

json TunnelRuntime::traffic_classes_json() const {
  return ctl::traffic_classes_json(classes_)["classes"];
}

}  // namespace causeway::fwd
