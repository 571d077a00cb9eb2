// SPDX-License-Identifier: Apache-2.0
// dpdk: the WireGuard stages inside process_burst, with a real EAL (--no-huge, no devices),
// mbufs, RouteTable/FIB and two tun::Device (this PoP and the far side, session up). Bursts mix
// tunnel and plain packets, so the per-packet values the stages hand each other (IPv4
// destination, family) must follow a packet when tunnel_input drops, punts or replaces its
// neighbours by their inner packets.
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "causeway/fwd/probe.h"
#include "causeway/tun/device.h"
#include "dataplane/packet_meta.h"
#include "dataplane/tunnel_stages.h"
#include "dataplane/wire.h"
#include "dataplane/worker.h"
#include "dpdk_test_env.h"
#include "runtime/route_table.h"
#include "runtime/traffic_classes.h"

using namespace causeway;
using namespace causeway::fwd;

namespace {

using Bytes = std::vector<std::uint8_t>;

const std::uint8_t kLanMac[6] = {2, 0, 0, 0, 1, 1};
const std::uint8_t kWanMac[6] = {2, 0, 0, 0, 9, 1};
const std::uint8_t kFarMac[6] = {2, 0, 0, 0, 9, 2};
const std::uint8_t kHostMac[6] = {2, 0, 0, 0, 1, 5};
constexpr std::uint16_t kListenPort = 51820;
constexpr std::uint16_t kFarPort = 51821;
// Interface 2: wan0.300, an 802.1Q subinterface of the WAN port (10.7.0.1/24), where the tunnel
// listens too.
constexpr std::uint16_t kWanSub = 2;
constexpr std::uint16_t kWanVlan = 300;

tun::Nanos now() {
  return std::chrono::duration_cast<tun::Nanos>(
      std::chrono::steady_clock::now().time_since_epoch());
}

class Sink final : public tun::ActionSink {
 public:
  std::vector<Bytes> sent, delivered;
  void send_datagram(const tun::Endpoint&, std::span<const std::uint8_t> d) override {
    sent.emplace_back(d.begin(), d.end());
  }
  void deliver(tun::PeerId, std::span<const std::uint8_t> p) override {
    delivered.emplace_back(p.begin(), p.end());
  }
};

// An IPv4/UDP packet of `size` bytes (header checksum valid), TTL 64.
Bytes ip4_udp(std::size_t size, const char* src, const char* dst, std::uint16_t dport) {
  Bytes p(std::max<std::size_t>(size, 28), 0x5a);
  std::uint8_t* ip = p.data();
  std::memset(ip, 0, 28);
  ip[0] = 0x45;
  wire::store_be16(ip + 2, static_cast<std::uint16_t>(size));
  ip[8] = 64;
  ip[9] = 17;
  std::memcpy(ip + 12, IpAddress::parse(src)->bytes.data(), 4);
  std::memcpy(ip + 16, IpAddress::parse(dst)->bytes.data(), 4);
  wire::store_be16(ip + 10, wire::csum_fold(wire::csum_add(0, ip, 20)));
  wire::store_be16(ip + 20, 40000);
  wire::store_be16(ip + 22, dport);
  wire::store_be16(ip + 24, static_cast<std::uint16_t>(size - 20));
  return p;
}

Bytes frame(const std::uint8_t* dst_mac, const Bytes& ip_packet) {
  Bytes f(14 + ip_packet.size());
  std::memcpy(f.data(), dst_mac, 6);
  std::memcpy(f.data() + 6, kFarMac, 6);
  f[12] = 0x08;
  f[13] = 0x00;
  std::copy(ip_packet.begin(), ip_packet.end(), f.begin() + 14);
  return f;
}

// A frame from the far side to this PoP's listen port carrying `message` as UDP payload.
Bytes wan_datagram(const Bytes& message, const char* dst = "10.9.0.1",
                   const std::uint8_t* dst_mac = kWanMac) {
  Bytes ip = ip4_udp(28 + message.size(), "10.9.0.2", dst, kListenPort);
  wire::store_be16(ip.data() + 20, kFarPort);
  std::memcpy(ip.data() + 28, message.data(), message.size());
  return frame(dst_mac, ip);
}

// `f` with an 802.1Q tag (TCI `tci`) after its MAC addresses.
Bytes tagged(const Bytes& f, std::uint16_t tci) {
  Bytes t(f.size() + 4);
  std::memcpy(t.data(), f.data(), 12);
  wire::store_be16(t.data() + 12, wire::kEtherTypeVlan);
  wire::store_be16(t.data() + 14, tci);
  std::memcpy(t.data() + 16, f.data() + 12, f.size() - 12);
  return t;
}

std::string src4(const std::uint8_t* ip) {
  IpAddress a;
  a.family = Family::kV4;
  std::memcpy(a.bytes.data(), ip + 12, 4);
  return a.str();
}

std::string dst4(const std::uint8_t* ip) {
  IpAddress a;
  a.family = Family::kV4;
  std::memcpy(a.bytes.data(), ip + 16, 4);
  return a.str();
}

struct Env {
  rte_mempool* pool = nullptr;
  rte_rcu_qsbr* qsbr = nullptr;
  std::unique_ptr<RouteTable> routes;
  rte_ring* punt_ring = nullptr;
  static constexpr unsigned kHandshakeRing = 64;     // holds 63
  static constexpr unsigned kHandshakeReserve = 16;  // of which initiations leave 16
  rte_ring* handshake_ring = nullptr;
  std::atomic<bool> armed{false}, quit{false};
  DataplaneShared shared;
  std::unique_ptr<WorkerCounters> counters = std::make_unique<WorkerCounters>();
  std::unique_ptr<WorkerContext> ctx = std::make_unique<WorkerContext>();
  TunnelShared tunnels;
  std::unique_ptr<TunnelWorker> tunnel_worker = std::make_unique<TunnelWorker>();
  std::unique_ptr<PathGroupTable> groups = std::make_unique<PathGroupTable>();
  std::array<std::uint16_t, kVlanIds> vlan_tables[2];
  std::unique_ptr<tun::Device> pop, far;
  tun::PeerId pop_peer, far_peer, pop_peer2;

  // Every class of `g` uses all of `members`.
  static void set_members(PathGroup& g, std::initializer_list<PathMember> members) {
    g = PathGroup{};
    for (const PathMember& m : members) g.members[g.n_members++] = m;
    for (unsigned c = 0; c < kTrafficClassSlots; ++c) {
      for (std::uint8_t i = 0; i < g.n_members; ++i) g.active[c][g.n_active[c]++] = i;
    }
  }

  static Env& get() {
    static Env env;
    return env;
  }

  Env() {
    auto started = test::start_dpdk_test_env("tunnel_dataplane_test", 512, 3);
    if (!started) FAIL(started.error().message);
    pool = started.value().pool;
    qsbr = started.value().qsbr;
    routes = std::move(started.value().routes);
    punt_ring = rte_ring_create("td_punt", 64, static_cast<int>(rte_socket_id()), RING_F_SC_DEQ);
    REQUIRE(punt_ring != nullptr);
    handshake_ring =
        rte_ring_create("td_handshake", kHandshakeRing, static_cast<int>(rte_socket_id()), 0);
    REQUIRE(handshake_ring != nullptr);

    // Port 0 = LAN 10.1.0.1/24, port 1 = WAN 10.9.0.1/24. The remote site goes into path group
    // 1, the empty path group 2 has no member; the far PoP (also the WAN gateway for
    // 10.8.0.0/16) and a LAN host through resolved gateways. No local routes: a packet still
    // looked up by its outer destination (10.9.0.1) would be dropped as no_route.
    std::vector<RouteChange> rc(5);
    rc[0].spec = RouteSpec{*IpPrefix::parse("10.2.0.0/16"), NextHopKind::kPathGroup, 1, {}};
    rc[1].spec = RouteSpec{*IpPrefix::parse("10.3.0.0/16"), NextHopKind::kPathGroup, 2, {}};
    rc[2].spec = RouteSpec{*IpPrefix::parse("10.9.0.2/32"), NextHopKind::kGateway, 1,
                           *IpAddress::parse("10.9.0.2")};
    rc[3].spec = RouteSpec{*IpPrefix::parse("10.8.0.0/16"), NextHopKind::kGateway, 1,
                           *IpAddress::parse("10.9.0.2")};
    rc[4].spec = RouteSpec{*IpPrefix::parse("10.1.0.5/32"), NextHopKind::kGateway, 0,
                           *IpAddress::parse("10.1.0.5")};
    REQUIRE(routes->apply(RouteSource::kConfig, rc));
    MacAddress far_mac, host_mac;
    std::memcpy(far_mac.bytes.data(), kFarMac, 6);
    std::memcpy(host_mac.bytes.data(), kHostMac, 6);
    routes->set_neighbor_mac(1, *IpAddress::parse("10.9.0.2"), far_mac);
    routes->set_neighbor_mac(0, *IpAddress::parse("10.1.0.5"), host_mac);

    for (std::uint16_t i = 0; i < 2; ++i) {
      std::memcpy(shared.ports[i].mac, i == 0 ? kLanMac : kWanMac, 6);
      shared.ports[i].mtu = 1500;
      shared.ports[i].tx_port = i;
      vlan_tables[i].fill(kNoInterface);
      vlan_tables[i][0] = i;
      shared.ports[i].vlan_to_if = vlan_tables[i].data();
    }
    std::memcpy(shared.ports[kWanSub].mac, kWanMac, 6);
    shared.ports[kWanSub].mtu = 1500;
    shared.ports[kWanSub].tx_port = 1;
    shared.ports[kWanSub].vlan_tci = kWanVlan;
    vlan_tables[1][kWanVlan] = kWanSub;
    shared.n_ports = 3;
    shared.next_hops = routes->next_hop_array();
    shared.n_next_hops = routes->next_hop_capacity();
    shared.fib = routes->published();
    shared.qsbr = qsbr;
    shared.punt_ring = punt_ring;
    shared.punt_wakeup_armed = &armed;
    shared.quit = &quit;

    // This PoP (10.9.0.1:51820) and the far side (10.9.0.2:51821): handshake done.
    pop = std::make_unique<tun::Device>();
    far = std::make_unique<tun::Device>();
    tun::Key32 kp{}, kf{};
    kp[0] = 1;
    kf[0] = 2;
    REQUIRE(pop->set_private_key(kp));
    REQUIRE(far->set_private_key(kf));
    const tun::Endpoint ep_pop{*IpAddress::parse("10.9.0.1"), kListenPort};
    const tun::Endpoint ep_far{*IpAddress::parse("10.9.0.2"), kFarPort};
    tun::PeerConfig to_far;
    to_far.public_key = far->public_key();
    to_far.endpoint = ep_far;
    to_far.allowed_ips = {*IpPrefix::parse("10.2.0.0/16")};
    pop_peer = pop->add_peer(to_far).value();
    tun::PeerConfig to_pop;
    to_pop.public_key = pop->public_key();
    to_pop.endpoint = ep_pop;
    to_pop.allowed_ips = {*IpPrefix::parse("10.1.0.0/16")};
    far_peer = far->add_peer(to_pop).value();
    Sink a, b;
    far->initiate_handshake(now(), far_peer, a);
    pop->receive(now(), ep_far, a.sent.at(0), b);
    a.sent.clear();
    far->receive(now(), ep_pop, b.sent.at(0), a);  // response; far sends a keepalive
    pop->receive(now(), ep_far, a.sent.at(0), b);  // confirms the PoP's session
    REQUIRE(pop->data_path().can_send(now(), pop_peer));

    tunnels.handshake_ring = handshake_ring;
    tunnels.handshake_reserve = kHandshakeReserve;
    tunnels.n_tunnels = 1;
    tunnels.tunnels[0] =
        TunnelListener{&pop->data_path(), kListenPort, (1u << 1) | (1u << kWanSub)};
    std::memcpy(tunnels.local[0].v4[0], IpAddress::parse("10.1.0.1")->bytes.data(), 4);
    tunnels.local[0].n4 = 1;
    std::memcpy(tunnels.local[1].v4[0], IpAddress::parse("10.9.0.1")->bytes.data(), 4);
    tunnels.local[1].n4 = 1;
    std::memcpy(tunnels.local[kWanSub].v4[0], IpAddress::parse("10.7.0.1")->bytes.data(), 4);
    tunnels.local[kWanSub].n4 = 1;
    // A second peer of this PoP (10.9.0.3), never handshaken: packets for it are punted with
    // its id (PuntReason::kTunnelNoSession), which shows which member a packet was given.
    tun::Key32 k2{};
    k2[1] = 3;  // byte 0 is clamped: 1, 2 and 3 there give the same key
    tun::Device other;
    REQUIRE(other.set_private_key(k2));
    tun::PeerConfig to_other;
    to_other.public_key = other.public_key();
    to_other.endpoint = tun::Endpoint{*IpAddress::parse("10.9.0.3"), kFarPort};
    auto added = pop->add_peer(to_other);
    if (!added) FAIL(added.error().message);
    pop_peer2 = added.value();
    set_members(groups->groups[1], {PathMember{0, pop_peer}});
    tunnels.path_groups.store(groups.get());
    shared.tunnels = &tunnels;

    ctx->shared = &shared;
    ctx->counters = counters.get();
    ctx->tunnel = tunnel_worker.get();
  }

  // A WireGuard data message from the far side carrying `inner`.
  Bytes seal_from_far(const Bytes& inner) {
    Bytes buf(16 + inner.size() + 32, 0);
    std::memcpy(buf.data() + 16, inner.data(), inner.size());
    tun::PacketBuf pb;
    pb.data = buf.data() + 16;
    pb.len = static_cast<std::uint32_t>(inner.size());
    pb.headroom = 16;
    pb.tailroom = 32;
    tun::Counters c;
    REQUIRE(far->data_path().encrypt_burst(now(), far_peer, std::span(&pb, 1), c) == 1);
    return Bytes(pb.data, pb.data + pb.len);
  }

  std::uint64_t drops(DropReason r) const { return counters->drop[static_cast<int>(r)].get(); }
};

struct BurstResult {
  std::vector<Bytes> tx[2];
  std::vector<rte_mbuf*> punted;  // freed by the caller after inspection
};

BurstResult collect(WorkerContext& ctx, bool drain_handshakes = true);

// Runs one burst (on `worker`, default the Env's worker 0); what went to the punt ring (and,
// unless told otherwise, to the handshake ring) is returned in `punted`.
BurstResult run(std::uint16_t in_port, const std::vector<Bytes>& frames,
                bool drain_handshakes = true, WorkerContext* worker = nullptr) {
  Env& env = Env::get();
  WorkerContext& ctx = worker != nullptr ? *worker : *env.ctx;
  std::vector<rte_mbuf*> pkts;
  for (const Bytes& f : frames) {
    rte_mbuf* m = rte_pktmbuf_alloc(env.pool);
    REQUIRE(m != nullptr);
    std::memcpy(rte_pktmbuf_append(m, static_cast<std::uint16_t>(f.size())), f.data(), f.size());
    pkts.push_back(m);
  }
  ctx.fib = env.shared.fib->load();
  process_burst(ctx, in_port, pkts.data(), static_cast<std::uint16_t>(pkts.size()));
  return collect(ctx, drain_handshakes);
}

// What a worker's burst left in its tx buffers (taken and freed) and in the control rings.
BurstResult collect(WorkerContext& ctx, bool drain_handshakes) {
  Env& env = Env::get();
  BurstResult r;
  for (std::uint16_t p = 0; p < 2; ++p) {
    TxBuffer& b = ctx.tx[p];
    for (std::uint16_t i = 0; i < b.n; ++i) {
      const auto* d = rte_pktmbuf_mtod(b.pkts[i], const std::uint8_t*);
      r.tx[p].emplace_back(d, d + b.pkts[i]->data_len);
      rte_pktmbuf_free(b.pkts[i]);
    }
    b.n = 0;
    b.bytes = 0;
  }
  void* obj = nullptr;
  while (rte_ring_dequeue(env.punt_ring, &obj) == 0) {
    r.punted.push_back(static_cast<rte_mbuf*>(obj));
  }
  if (drain_handshakes) {
    while (rte_ring_dequeue(env.handshake_ring, &obj) == 0) {
      r.punted.push_back(static_cast<rte_mbuf*>(obj));
    }
  }
  return r;
}

void free_all(std::vector<rte_mbuf*>& v) {
  for (rte_mbuf* m : v) rte_pktmbuf_free(m);
  v.clear();
}

}  // namespace

TEST_CASE("Mixed burst from the WAN: tunnel packets decrypted, dropped or punted in place",
          "[tunnel]") {
  Env& env = Env::get();
  const unsigned in_use = rte_mempool_in_use_count(env.pool);
  const std::uint64_t malformed = env.drops(DropReason::tunnel_malformed);
  const Bytes inner = ip4_udp(100, "10.2.0.9", "10.1.0.5", 5201);
  Bytes bad_type(32, 0);
  bad_type[0] = 9;
  Bytes initiation(148, 0);
  initiation[0] = tun::kMessageHandshakeInitiation;

  BurstResult res = run(1, {
                               wan_datagram(bad_type),                                   // dropped
                               frame(kWanMac, ip4_udp(60, "10.8.1.1", "10.1.0.5", 80)),  // plain
                               wan_datagram(env.seal_from_far(inner)),  // data: inner packet
                               wan_datagram(initiation),                // punted
                               wan_datagram(bad_type, "10.8.0.9"),  // listen port, not ours: routed
                               frame(kWanMac, ip4_udp(60, "10.8.1.2", "10.1.0.5", 81)),  // plain
                           });

  // LAN: the plain packets and the decrypted inner packet, in burst order, each routed by its
  // own destination (TTL decremented, MACs rewritten).
  REQUIRE(res.tx[0].size() == 3);
  CHECK(dst4(res.tx[0][0].data() + 14) == "10.1.0.5");
  CHECK(wire::load_be16(res.tx[0][0].data() + 14 + 22) == 80);
  const Bytes& got = res.tx[0][1];
  REQUIRE(got.size() == 14 + inner.size());
  CHECK(std::memcmp(got.data(), kHostMac, 6) == 0);
  CHECK(std::memcmp(got.data() + 6, kLanMac, 6) == 0);
  CHECK(got[14 + 8] == 63);
  CHECK(std::memcmp(got.data() + 14 + 12, inner.data() + 12, 8) == 0);  // src and dst
  CHECK(std::memcmp(got.data() + 14 + 20, inner.data() + 20, inner.size() - 20) == 0);
  CHECK(wire::csum_fold(wire::csum_add(0, got.data() + 14, 20)) == 0);
  CHECK(wire::load_be16(res.tx[0][2].data() + 14 + 22) == 81);
  // WAN: the datagram to another host's listen port, forwarded unchanged but for TTL and MACs.
  REQUIRE(res.tx[1].size() == 1);
  CHECK(dst4(res.tx[1][0].data() + 14) == "10.8.0.9");
  CHECK(std::memcmp(res.tx[1][0].data(), kFarMac, 6) == 0);
  // The handshake went to the control thread with what it reads: tunnel, family, L3 offset.
  REQUIRE(res.punted.size() == 1);
  const PacketMeta& pm = meta(res.punted[0]);
  CHECK(pm.punt == PuntReason::kTunnelHandshake);
  CHECK(pm.tunnel == 0);
  CHECK(pm.family == 4);
  CHECK(pm.l3_offset == 14);
  CHECK(pm.in_port == 1);
  CHECK(env.drops(DropReason::tunnel_malformed) == malformed + 1);
  free_all(res.punted);
  CHECK(rte_mempool_in_use_count(env.pool) == in_use);
}

TEST_CASE("Tunnel data arriving on a port without a listener is routed, not decrypted",
          "[tunnel]") {
  Env& env = Env::get();
  const unsigned in_use = rte_mempool_in_use_count(env.pool);
  const std::uint64_t no_route = env.drops(DropReason::no_route);
  // The listener is on port 1 only: this datagram (to 10.9.0.1, no route here) is not marked.
  const Bytes sealed = env.seal_from_far(ip4_udp(60, "10.2.0.9", "10.1.0.5", 1));
  BurstResult r = run(0, {wan_datagram(sealed, "10.9.0.1", kLanMac)});
  CHECK(r.tx[0].empty());
  CHECK(r.tx[1].empty());
  CHECK(env.drops(DropReason::no_route) == no_route + 1);
  REQUIRE(r.punted.size() == 1);  // no_route answers with ICMP unreachable
  CHECK(meta(r.punted[0]).punt == PuntReason::kUnreachable);
  free_all(r.punted);
  CHECK(rte_mempool_in_use_count(env.pool) == in_use);
}

TEST_CASE("Mixed burst from the LAN: path-group packets encrypted toward the peer, others routed",
          "[tunnel]") {
  Env& env = Env::get();
  const unsigned in_use = rte_mempool_in_use_count(env.pool);
  const std::uint64_t no_path = env.drops(DropReason::tunnel_no_path);
  const Bytes to_site = ip4_udp(200, "10.1.0.5", "10.2.0.9", 5201);
  BurstResult r = run(0, {
                             frame(kLanMac, to_site),                                 // encrypted
                             frame(kLanMac, ip4_udp(60, "10.1.0.5", "10.8.3.3", 7)),  // plain
                             frame(kLanMac, ip4_udp(60, "10.1.0.5", "10.3.0.1", 7)),  // empty group
                         });
  CHECK(env.drops(DropReason::tunnel_no_path) == no_path + 1);
  CHECK(r.tx[0].empty());
  CHECK(r.punted.empty());
  // Plain packets are queued first (tx_enqueue_burst), the encrypted one after (tunnel_output).
  REQUIRE(r.tx[1].size() == 2);
  CHECK(dst4(r.tx[1][0].data() + 14) == "10.8.3.3");
  const Bytes& out = r.tx[1][1];
  REQUIRE(out.size() > 14 + 28 + 16);
  CHECK(std::memcmp(out.data(), kFarMac, 6) == 0);
  CHECK(std::memcmp(out.data() + 6, kWanMac, 6) == 0);
  const std::uint8_t* ip = out.data() + 14;
  CHECK(dst4(ip) == "10.9.0.2");
  CHECK(ip[9] == 17);
  CHECK(wire::load_be16(ip + 20) == kListenPort);
  CHECK(wire::load_be16(ip + 22) == kFarPort);
  CHECK(wire::csum_fold(wire::csum_add(0, ip, 20)) == 0);
  // The far side decrypts it to the inner packet with its TTL decremented.
  Bytes datagram(ip + 28, out.data() + out.size());
  Sink sink;
  env.far->receive(now(), tun::Endpoint{*IpAddress::parse("10.9.0.1"), kListenPort}, datagram,
                   sink);
  REQUIRE(sink.delivered.size() == 1);
  const Bytes& in = sink.delivered[0];
  REQUIRE(in.size() == to_site.size());
  CHECK(in[8] == 63);
  CHECK(std::memcmp(in.data() + 12, to_site.data() + 12, 8) == 0);
  CHECK(std::memcmp(in.data() + 20, to_site.data() + 20, to_site.size() - 20) == 0);
  CHECK(rte_mempool_in_use_count(env.pool) == in_use);
}

TEST_CASE("A listener on a WAN subinterface: tagged tunnel packets decrypted, punts name it",
          "[tunnel][vlan]") {
  Env& env = Env::get();
  const unsigned in_use = rte_mempool_in_use_count(env.pool);
  const Bytes inner = ip4_udp(100, "10.2.0.9", "10.1.0.5", 5202);
  Bytes initiation(148, 0);
  initiation[0] = tun::kMessageHandshakeInitiation;
  // Tagged on the WAN port (the tag is stripped in input, so the tunnel stage finds the IP
  // header at 14); the listener and local address are the subinterface's: for this test the
  // tunnel listens there only, not on the physical port the frames arrive on.
  std::uint32_t& mask = env.tunnels.tunnels[0].port_mask;
  const std::uint32_t saved_mask = mask;
  mask = 1u << kWanSub;
  BurstResult res = run(1, {
                               tagged(wan_datagram(env.seal_from_far(inner), "10.7.0.1"), kWanVlan),
                               tagged(wan_datagram(initiation, "10.7.0.1"), kWanVlan),
                           });
  mask = saved_mask;
  REQUIRE(res.tx[0].size() == 1);
  const Bytes& got = res.tx[0][0];
  REQUIRE(got.size() == 14 + inner.size());
  CHECK(std::memcmp(got.data(), kHostMac, 6) == 0);
  CHECK(wire::load_be16(got.data() + 12) == wire::kEtherTypeIpv4);
  CHECK(got[14 + 8] == 63);
  CHECK(std::memcmp(got.data() + 14 + 20, inner.data() + 20, inner.size() - 20) == 0);
  CHECK(res.tx[1].empty());
  REQUIRE(res.punted.size() == 1);
  const PacketMeta& pm = meta(res.punted[0]);
  CHECK(pm.punt == PuntReason::kTunnelHandshake);
  CHECK(pm.in_port == kWanSub);
  CHECK(pm.l3_offset == 14);
  CHECK(pm.family == 4);
  free_all(res.punted);
  CHECK(rte_mempool_in_use_count(env.pool) == in_use);
}

TEST_CASE("Path-group output through a WAN subinterface: tag pushed, physical port's tx buffer",
          "[tunnel][vlan]") {
  Env& env = Env::get();
  const unsigned in_use = rte_mempool_in_use_count(env.pool);
  // The far endpoint is reached through wan0.300 for this test (gateway 10.7.0.2).
  const auto via_sub = [&](bool sub) {
    std::vector<RouteChange> rc(1);
    rc[0].spec = sub ? RouteSpec{*IpPrefix::parse("10.9.0.2/32"), NextHopKind::kGateway, kWanSub,
                                 *IpAddress::parse("10.7.0.2")}
                     : RouteSpec{*IpPrefix::parse("10.9.0.2/32"), NextHopKind::kGateway, 1,
                                 *IpAddress::parse("10.9.0.2")};
    REQUIRE(env.routes->apply(RouteSource::kConfig, rc));
  };
  via_sub(true);
  MacAddress far_mac;
  std::memcpy(far_mac.bytes.data(), kFarMac, 6);
  env.routes->set_neighbor_mac(kWanSub, *IpAddress::parse("10.7.0.2"), far_mac);
  const Bytes to_site = ip4_udp(200, "10.1.0.5", "10.2.0.9", 5203);
  BurstResult r = run(0, {frame(kLanMac, to_site)});
  via_sub(false);
  CHECK(r.tx[0].empty());
  CHECK(r.punted.empty());
  REQUIRE(r.tx[1].size() == 1);
  const Bytes& out = r.tx[1][0];
  REQUIRE(out.size() > 18 + 28 + 16);
  CHECK(std::memcmp(out.data(), kFarMac, 6) == 0);
  CHECK(std::memcmp(out.data() + 6, kWanMac, 6) == 0);
  CHECK(wire::load_be16(out.data() + 12) == wire::kEtherTypeVlan);
  CHECK(wire::load_be16(out.data() + 14) == kWanVlan);
  CHECK(wire::load_be16(out.data() + 16) == wire::kEtherTypeIpv4);
  const std::uint8_t* ip = out.data() + 18;
  CHECK(src4(ip) == "10.7.0.1");  // the subinterface's address
  CHECK(dst4(ip) == "10.9.0.2");
  CHECK(wire::csum_fold(wire::csum_add(0, ip, 20)) == 0);
  Bytes datagram(ip + 28, out.data() + out.size());
  Sink sink;
  env.far->receive(now(), tun::Endpoint{*IpAddress::parse("10.7.0.1"), kListenPort}, datagram,
                   sink);
  REQUIRE(sink.delivered.size() == 1);
  CHECK(std::memcmp(sink.delivered[0].data() + 20, to_site.data() + 20, to_site.size() - 20) == 0);
  CHECK(rte_mempool_in_use_count(env.pool) == in_use);
}

TEST_CASE("Handshake floods: a per-source rate limit, then a bounded ring to the control thread",
          "[tunnel][flood]") {
  Env& env = Env::get();
  const unsigned in_use = rte_mempool_in_use_count(env.pool);
  Bytes initiation(148, 0);
  initiation[0] = tun::kMessageHandshakeInitiation;
  auto from = [&](const std::string& src) {
    Bytes ip = ip4_udp(28 + initiation.size(), src.c_str(), "10.9.0.1", kListenPort);
    wire::store_be16(ip.data() + 20, kFarPort);
    std::memcpy(ip.data() + 28, initiation.data(), initiation.size());
    return frame(kWanMac, ip);
  };
  const std::uint64_t limited = env.drops(DropReason::tunnel_handshake_rate_limited);
  const std::uint64_t full = env.drops(DropReason::tunnel_handshake_queue_full);

  // One source floods (31 messages in a burst) while another sends one: the flooding source
  // gets its burst allowance through, the other source is not affected.
  std::vector<Bytes> burst(31, from("10.9.5.1"));
  burst.push_back(from("10.9.5.2"));
  const auto t0 = std::chrono::steady_clock::now();
  BurstResult res = run(1, burst);
  const auto burst_size = static_cast<std::size_t>(HandshakeLimiter::kBurst);
  REQUIRE(res.punted.size() == burst_size + 1);
  CHECK(src4(rte_pktmbuf_mtod(res.punted.back(), const std::uint8_t*) + 14) == "10.9.5.2");
  for (rte_mbuf* m : res.punted) CHECK(meta(m).punt == PuntReason::kTunnelHandshake);
  CHECK(env.drops(DropReason::tunnel_handshake_rate_limited) == limited + 31 - burst_size);
  free_all(res.punted);
  // Right after, the flooding source has only the tokens refilled since (one per 20 ms).
  res = run(1, std::vector<Bytes>(32, from("10.9.5.1")));
  const auto refilled = static_cast<std::size_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0)
          .count() /
      HandshakeLimiter::kCostNs);
  CHECK(res.punted.size() <= refilled);
  CHECK(env.drops(DropReason::tunnel_handshake_rate_limited) ==
        limited + 31 - burst_size + 32 - res.punted.size());
  free_all(res.punted);

  // Many sources (each within its rate) while the control thread does not read: initiations
  // fill the ring but for the reserve (47 of 63), the rest is dropped and counted; responses and
  // cookie replies still get in, up to the ring's size; nothing leaks.
  constexpr unsigned kFree = Env::kHandshakeRing - 1;
  constexpr unsigned kForInitiations = kFree - Env::kHandshakeReserve;
  for (int b = 0; b < 3; ++b) {
    std::vector<Bytes> many;
    for (int i = 0; i < 32; ++i) many.push_back(from(fmt::format("10.9.{}.{}", 10 + b, i + 1)));
    res = run(1, many, /*drain_handshakes=*/false);
    CHECK(res.punted.empty());
  }
  CHECK(rte_ring_count(env.handshake_ring) == kForInitiations);
  CHECK(env.drops(DropReason::tunnel_handshake_queue_full) == full + 96 - kForInitiations);
  Bytes response(92, 0);
  response[0] = tun::kMessageHandshakeResponse;
  std::vector<Bytes> replies;
  for (int i = 0; i < 20; ++i) {
    Bytes ip = ip4_udp(28 + response.size(), fmt::format("10.9.20.{}", i + 1).c_str(), "10.9.0.1",
                       kListenPort);
    wire::store_be16(ip.data() + 20, kFarPort);
    std::memcpy(ip.data() + 28, response.data(), response.size());
    replies.push_back(frame(kWanMac, ip));
  }
  res = run(1, replies, /*drain_handshakes=*/false);
  CHECK(res.punted.empty());
  CHECK(rte_ring_count(env.handshake_ring) == kFree);
  CHECK(env.drops(DropReason::tunnel_handshake_queue_full) ==
        full + 96 - kForInitiations + 20 - Env::kHandshakeReserve);
  res = run(1, {});
  CHECK(res.punted.size() == kFree);
  free_all(res.punted);
  CHECK(rte_mempool_in_use_count(env.pool) == in_use);
}

TEST_CASE("HandshakeLimiter: per IPv4 address or IPv6 /64, 50 per second, burst 20",
          "[tunnel][flood]") {
  auto limiter = std::make_unique<HandshakeLimiter>();
  auto v6 = [](const char* text) { return IpAddress::parse(text)->bytes; };
  auto v4 = [](const char* text) { return IpAddress::parse(text)->bytes; };
  const auto a = v6("2001:db8:1:2::1"), same64 = v6("2001:db8:1:2:ffff::9"),
             other = v6("2001:db8:1:3::1");
  const auto b = v4("192.0.2.1");
  const std::int64_t t0 = 1'000'000'000;
  auto passed = [&](const auto& addr, bool is_v4, int n, std::int64_t now) {
    int ok = 0;
    for (int i = 0; i < n; ++i) ok += limiter->allow(addr.data(), is_v4, now) ? 1 : 0;
    return ok;
  };
  CHECK(passed(a, false, 15, t0) == 15);
  CHECK(passed(same64, false, 15, t0) == 5);  // the same /64: one bucket of 20
  CHECK(passed(other, false, 25, t0) == 20);  // another /64: its own bucket
  CHECK(passed(b, true, 25, t0) == 20);
  // Refill: one token per 20 ms, never more than the burst.
  CHECK(passed(a, false, 10, t0 + 100'000'000) == 5);
  CHECK(passed(b, true, 30, t0 + 10'000'000'000) == 20);
}

namespace {

// `ip4_udp` with DSCP `dscp` (header checksum recomputed) and UDP source port `sport`.
Bytes marked(std::uint8_t dscp, std::uint16_t sport, const char* dst = "10.4.0.9") {
  Bytes p = ip4_udp(120, "10.1.0.5", dst, 5004);
  p[1] = static_cast<std::uint8_t>(dscp << 2);
  wire::store_be16(p.data() + 20, sport);
  wire::store_be16(p.data() + 10, 0);
  wire::store_be16(p.data() + 10, wire::csum_fold(wire::csum_add(0, p.data(), 20)));
  return p;
}

// An SLA probe (probe.h) from the far PoP's overlay address to ours.
Bytes probe_packet(probe::Type type, std::uint32_t seq) {
  probe::Payload p;
  p.type = type;
  p.seq = seq;
  p.sender_tx_ns = 1000 + seq;
  Bytes out(probe::packet_size(true));
  REQUIRE(probe::build_packet(*IpAddress::parse("10.2.255.2"), *IpAddress::parse("10.1.255.1"), p,
                              out) == out.size());
  return out;
}

}  // namespace

TEST_CASE("Traffic classes pick the member: per-class active sets, drop, ECMP by flow",
          "[tunnel][traffic_class]") {
  Env& env = Env::get();
  const unsigned in_use = rte_mempool_in_use_count(env.pool);
  const std::uint64_t no_path = env.drops(DropReason::tunnel_no_path);
  // Path group 4 = {peer 1 (session up), peer 2 (no session)}. Class 1 (EF) uses peer 2 only,
  // class 2 (AF11) is dropped, class 3 (AF21) spreads over both, class 0 uses peer 1.
  std::vector<RouteChange> rc(1);
  rc[0].spec = RouteSpec{*IpPrefix::parse("10.4.0.0/16"), NextHopKind::kPathGroup, 4, {}};
  REQUIRE(env.routes->apply(RouteSource::kConfig, rc));
  auto spec = fwd::ctl::parse_traffic_classes(nlohmann::json::parse(R"({"classes": [
      {"id": 1, "dscp": [46]}, {"id": 2, "dscp": [10]}, {"id": 3, "dscp": [18]}]})"));
  REQUIRE(spec);
  auto table = std::make_unique<PathGroupTable>();
  *table = *env.groups;
  table->classes = compile_traffic_classes(spec.value()).value();
  PathGroup& g = table->groups[4];
  Env::set_members(g, {PathMember{0, env.pop_peer}, PathMember{0, env.pop_peer2}});
  for (unsigned c = 0; c < kTrafficClassSlots; ++c) {
    g.n_active[c] = 1;
    g.active[c][0] = 0;
  }
  g.active[1][0] = 1;
  g.n_active[2] = 0;
  g.n_active[3] = 2;
  g.active[3][1] = 1;
  env.tunnels.path_groups.store(table.get());

  BurstResult r = run(0, {frame(kLanMac, marked(46, 1000)), frame(kLanMac, marked(0, 1000)),
                          frame(kLanMac, marked(10, 1000)), frame(kLanMac, marked(46, 1001))});
  // EF -> peer 2 (punted for its handshake, with its id), BE -> peer 1 (encrypted and sent),
  // AF11 -> dropped.
  REQUIRE(r.punted.size() == 2);
  for (rte_mbuf* m : r.punted) {
    CHECK(meta(m).punt == PuntReason::kTunnelNoSession);
    CHECK(meta(m).next_hop == env.pop_peer2.value());
  }
  REQUIRE(r.tx[1].size() == 1);
  CHECK(dst4(r.tx[1][0].data() + 14) == "10.9.0.2");
  CHECK(env.drops(DropReason::tunnel_no_path) == no_path + 1);
  free_all(r.punted);

  // AF21: 64 flows over both members; each flow keeps its member when sent again.
  std::vector<Bytes> flows;
  for (std::uint16_t f = 0; f < 64; ++f) flows.push_back(frame(kLanMac, marked(18, 2000 + f)));
  std::vector<int> first_member;
  for (int round = 0; round < 2; ++round) {
    std::vector<int> member;
    for (const Bytes& f : flows) {
      BurstResult one = run(0, {f});
      const bool to_peer2 = one.punted.size() == 1;
      CHECK(one.punted.size() + one.tx[1].size() == 1);
      member.push_back(to_peer2 ? 2 : 1);
      free_all(one.punted);
    }
    if (round == 0) {
      first_member = member;
    } else {
      CHECK(member == first_member);
    }
  }
  const auto to_peer2 = std::count(first_member.begin(), first_member.end(), 2);
  CHECK(to_peer2 > 8);  // about half of 64; both members carry flows
  CHECK(to_peer2 < 56);

  // An empty class table: every packet is class 0 (peer 1), EF included.
  table->classes = TrafficClassifier{};
  BurstResult plain = run(0, {frame(kLanMac, marked(46, 1000))});
  CHECK(plain.punted.empty());
  CHECK(plain.tx[1].size() == 1);

  env.tunnels.path_groups.store(env.groups.get());
  rc[0].remove = true;
  REQUIRE(env.routes->apply(RouteSource::kConfig, rc));
  CHECK(rte_mempool_in_use_count(env.pool) == in_use);
}

TEST_CASE(
    "Decrypted packets to the tunnel's own address: probes reflected, replies and the rest "
    "punted, malformed probes dropped",
    "[tunnel][probe]") {
  Env& env = Env::get();
  const unsigned in_use = rte_mempool_in_use_count(env.pool);
  TunnelListener& tl = env.tunnels.tunnels[0];
  tl.own4[0] = IpAddress::parse("10.1.255.1")->v4_host_order();
  tl.n_own4 = 1;
  tl.own4_key = tl.own4[0];
  rte_mbuf_dynfield desc{};
  std::snprintf(desc.name, sizeof desc.name, "%s", "causeway_probe_rx_ns");
  desc.size = 8;
  desc.align = 8;
  env.tunnels.probe_rx_ns_offset = rte_mbuf_dynfield_register(&desc);
  REQUIRE(env.tunnels.probe_rx_ns_offset >= 0);
  const std::uint64_t malformed = env.drops(DropReason::probe_malformed);
  const std::uint64_t reflected = env.counters->probes_reflected.get();

  Bytes bad_probe = probe_packet(probe::Type::kRequest, 9);
  bad_probe[28] = 'X';  // magic; the UDP checksum now fails too: malformed either way
  const Bytes transit = ip4_udp(100, "10.2.0.9", "10.1.0.5", 5201);
  const auto t0 = static_cast<std::uint64_t>(now().count());
  BurstResult res =
      run(1, {
                 wan_datagram(env.seal_from_far(probe_packet(probe::Type::kRequest, 7))),
                 wan_datagram(env.seal_from_far(transit)),
                 wan_datagram(env.seal_from_far(probe_packet(probe::Type::kReply, 8))),
                 wan_datagram(env.seal_from_far(ip4_udp(60, "10.2.255.2", "10.1.255.1", 179))),
                 wan_datagram(env.seal_from_far(bad_probe)),
             });
  const auto t1 = static_cast<std::uint64_t>(now().count());

  // Transit: routed to the LAN as before.
  REQUIRE(res.tx[0].size() == 1);
  CHECK(dst4(res.tx[0][0].data() + 14) == "10.1.0.5");
  // The request went back to the far PoP, encrypted, as the reply.
  REQUIRE(res.tx[1].size() == 1);
  Bytes out = res.tx[1][0];
  CHECK(dst4(out.data() + 14) == "10.9.0.2");
  CHECK(wire::load_be16(out.data() + 14 + 22) == kFarPort);
  tun::PacketBuf pb;
  pb.data = out.data() + 42;
  pb.len = static_cast<std::uint32_t>(out.size() - 42);
  tun::Counters c;
  REQUIRE(env.far->data_path().decrypt_burst(now(), std::span(&pb, 1), c) == 1);
  probe::Parsed reply;
  REQUIRE(probe::parse_packet(std::span<const std::uint8_t>(pb.data, pb.len), reply) ==
          probe::ParseError::kNone);
  CHECK(reply.payload.type == probe::Type::kReply);
  CHECK(reply.payload.seq == 7);
  CHECK(reply.payload.sender_tx_ns == 1007);
  CHECK(reply.payload.reflector_rx_ns >= t0);
  CHECK(reply.payload.reflector_rx_ns <= reply.payload.reflector_tx_ns);
  CHECK(reply.payload.reflector_tx_ns <= t1);
  CHECK(src4(pb.data) == "10.1.255.1");
  CHECK(dst4(pb.data) == "10.2.255.2");
  CHECK(env.counters->probes_reflected.get() == reflected + 1);
  // The reply to one of our probes and the BGP packet were punted, in burst order.
  REQUIRE(res.punted.size() == 2);
  const PacketMeta& r = meta(res.punted[0]);
  CHECK(r.punt == PuntReason::kProbeReply);
  CHECK(r.tunnel == 0);
  CHECK(r.next_hop == env.pop_peer.value());
  const std::uint64_t rx =
      *RTE_MBUF_DYNFIELD(res.punted[0], env.tunnels.probe_rx_ns_offset, std::uint64_t*);
  CHECK(rx >= t0);
  CHECK(rx <= t1);
  const PacketMeta& k = meta(res.punted[1]);
  CHECK(k.punt == PuntReason::kTunnelLocal);
  CHECK(k.tunnel == 0);
  CHECK(k.l3_offset == 14);
  CHECK(k.family == 4);
  CHECK(wire::load_be16(rte_pktmbuf_mtod_offset(res.punted[1], const std::uint8_t*, 14 + 22)) ==
        179);
  CHECK(env.drops(DropReason::probe_malformed) == malformed + 1);
  free_all(res.punted);

  tl.n_own4 = 0;
  tl.own4_key = kNoOwn4;
  CHECK(rte_mempool_in_use_count(env.pool) == in_use);
}

namespace {

// Two workers for the hand-off tests: worker 0 is the Env's, worker 1 a second context with its
// own counters and tunnel scratch. Peer ids: pop_peer 0 (owner 0), pop_peer2 1 (owner 1).
// Small hand-off rings (7 usable slots) so that "full" is easy to reach; restored on exit.
struct TwoWorkers {
  static constexpr unsigned kRing = 8;
  Env& env = Env::get();
  std::unique_ptr<WorkerCounters> counters1 = std::make_unique<WorkerCounters>();
  std::unique_ptr<WorkerContext> ctx1 = std::make_unique<WorkerContext>();
  std::unique_ptr<TunnelWorker> tunnel1 = std::make_unique<TunnelWorker>();

  TwoWorkers() {
    REQUIRE(tun::PeerId(0) == env.pop_peer);
    REQUIRE(tunnel_peer_owner(0, env.pop_peer, 2) == 0);
    REQUIRE(tunnel_peer_owner(0, env.pop_peer2, 2) == 1);
    for (unsigned w = 0; w < 2; ++w) {
      env.tunnels.handoff_rx[w] = rte_ring_create(fmt::format("td_hrx{}", w).c_str(), kRing,
                                                  static_cast<int>(rte_socket_id()), RING_F_SC_DEQ);
      env.tunnels.handoff_tx[w] = rte_ring_create(fmt::format("td_htx{}", w).c_str(), kRing,
                                                  static_cast<int>(rte_socket_id()), RING_F_SC_DEQ);
      REQUIRE(env.tunnels.handoff_rx[w] != nullptr);
      REQUIRE(env.tunnels.handoff_tx[w] != nullptr);
    }
    env.tunnels.n_workers = 2;
    ctx1->id = 1;
    ctx1->shared = &env.shared;
    ctx1->counters = counters1.get();
    ctx1->tunnel = tunnel1.get();
  }
  ~TwoWorkers() {
    env.tunnels.n_workers = 1;
    auto release = [](rte_ring*& r) {
      void* obj;
      while (rte_ring_dequeue(r, &obj) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(obj));
      rte_ring_free(r);
      r = nullptr;
    };
    for (unsigned w = 0; w < 2; ++w) {
      release(env.tunnels.handoff_rx[w]);
      release(env.tunnels.handoff_tx[w]);
    }
  }
  // Worker `w` takes its hand-offs; what that produced.
  BurstResult take(WorkerContext& ctx, unsigned expect) {
    ctx.fib = env.shared.fib->load();
    CHECK(process_handoffs(ctx) == expect);
    return collect(ctx);
  }
  std::uint64_t drops1(DropReason r) const { return counters1->drop[static_cast<int>(r)].get(); }
};

}  // namespace

TEST_CASE("Two workers, ingress: data for another worker's peer is handed off, then decrypted",
          "[tunnel][handoff]") {
  TwoWorkers two;
  Env& env = two.env;
  const unsigned in_use = rte_mempool_in_use_count(env.pool);
  const std::uint64_t received0 = env.counters->handoff_received.get();
  const std::uint64_t replayed = env.drops(DropReason::tunnel_replayed);
  // Five data messages of pop_peer (owned by worker 0) and a plain packet reach worker 1.
  std::vector<Bytes> frames;
  for (int i = 0; i < 5; ++i) {
    frames.push_back(wan_datagram(env.seal_from_far(
        ip4_udp(100, "10.2.0.9", "10.1.0.5", static_cast<std::uint16_t>(7000 + i)))));
  }
  frames.insert(frames.begin() + 2, frame(kWanMac, ip4_udp(60, "10.8.1.1", "10.1.0.5", 80)));
  // And one with a receiver index no session has: dropped where it arrived.
  Bytes unknown = env.seal_from_far(ip4_udp(100, "10.2.0.9", "10.1.0.5", 1));
  unknown[4] ^= 0x5a;
  frames.push_back(wan_datagram(unknown));
  const std::uint64_t unknown_idx = two.drops1(DropReason::tunnel_unknown_index);
  BurstResult r1 = run(1, frames, true, two.ctx1.get());
  REQUIRE(r1.tx[0].size() == 1);  // only the plain packet leaves worker 1
  CHECK(wire::load_be16(r1.tx[0][0].data() + 14 + 22) == 80);
  CHECK(r1.tx[1].empty());
  CHECK(r1.punted.empty());
  CHECK(two.counters1->handoff_sent.get() == 5);
  CHECK(two.drops1(DropReason::tunnel_unknown_index) == unknown_idx + 1);
  CHECK(rte_ring_count(env.tunnels.handoff_rx[0]) == 5);
  CHECK(rte_ring_count(env.tunnels.handoff_rx[1]) == 0);
  // Worker 0 decrypts them, in order (no replay drop), and routes the inner packets to the LAN.
  BurstResult r0 = two.take(*env.ctx, 5);
  REQUIRE(r0.tx[0].size() == 5);
  for (int i = 0; i < 5; ++i) {
    CHECK(wire::load_be16(r0.tx[0][i].data() + 14 + 22) == 7000 + i);
    CHECK(r0.tx[0][i][14 + 8] == 63);
    CHECK(std::memcmp(r0.tx[0][i].data(), kHostMac, 6) == 0);
  }
  CHECK(env.counters->handoff_received.get() == received0 + 5);
  CHECK(env.drops(DropReason::tunnel_replayed) == replayed);
  // Worker 0 receiving its own peer's data decrypts it itself.
  BurstResult own =
      run(1, {wan_datagram(env.seal_from_far(ip4_udp(100, "10.2.0.9", "10.1.0.5", 9)))});
  CHECK(own.tx[0].size() == 1);
  CHECK(rte_ring_count(env.tunnels.handoff_rx[0]) == 0);
  // A tagged datagram for a listener on the subinterface only keeps its interface across the
  // hand-off (the owner finds the subinterface again from the tag the mbuf keeps).
  std::uint32_t& mask = env.tunnels.tunnels[0].port_mask;
  const std::uint32_t saved_mask = mask;
  mask = 1u << kWanSub;
  BurstResult tag1 = run(
      1,
      {tagged(wan_datagram(env.seal_from_far(ip4_udp(100, "10.2.0.9", "10.1.0.5", 11)), "10.7.0.1"),
              kWanVlan)},
      true, two.ctx1.get());
  CHECK(tag1.tx[0].empty());
  BurstResult tag0 = two.take(*env.ctx, 1);
  mask = saved_mask;
  REQUIRE(tag0.tx[0].size() == 1);
  CHECK(wire::load_be16(tag0.tx[0][0].data() + 14 + 22) == 11);
  CHECK(rte_mempool_in_use_count(env.pool) == in_use);
}

TEST_CASE("Two workers, egress: a path-group packet for another worker's peer is handed off",
          "[tunnel][handoff]") {
  TwoWorkers two;
  Env& env = two.env;
  const unsigned in_use = rte_mempool_in_use_count(env.pool);
  // Group 1 = pop_peer (owner 0). Worker 1 routes two packets into it: handed to worker 0 with
  // their TTL decremented once, encrypted there in order.
  const Bytes a = ip4_udp(200, "10.1.0.5", "10.2.0.9", 5201);
  const Bytes b = ip4_udp(300, "10.1.0.5", "10.2.0.9", 5202);
  BurstResult r1 = run(0,
                       {frame(kLanMac, a), frame(kLanMac, b),
                        frame(kLanMac, ip4_udp(60, "10.1.0.5", "10.8.3.3", 7))},
                       true, two.ctx1.get());
  REQUIRE(r1.tx[1].size() == 1);  // the plain packet only
  CHECK(dst4(r1.tx[1][0].data() + 14) == "10.8.3.3");
  CHECK(two.counters1->handoff_sent.get() == 2);
  REQUIRE(rte_ring_count(env.tunnels.handoff_tx[0]) == 2);
  BurstResult r0 = two.take(*env.ctx, 2);
  REQUIRE(r0.tx[1].size() == 2);
  for (int i = 0; i < 2; ++i) {
    const Bytes& out = r0.tx[1][i];
    const std::uint8_t* ip = out.data() + 14;
    CHECK(dst4(ip) == "10.9.0.2");
    Bytes datagram(ip + 28, out.data() + out.size());
    Sink sink;
    env.far->receive(now(), tun::Endpoint{*IpAddress::parse("10.9.0.1"), kListenPort}, datagram,
                     sink);
    REQUIRE(sink.delivered.size() == 1);
    const Bytes& in = sink.delivered[0];
    CHECK(in.size() == (i == 0 ? a.size() : b.size()));
    CHECK(in[8] == 63);  // decremented once, by worker 1
    CHECK(wire::load_be16(in.data() + 22) == 5201 + i);
  }
  // Group 1 = pop_peer2 (owner 1, no session): worker 0 hands the packet to worker 1, which
  // punts it for the handshake with the member in its metadata.
  const PathGroup saved = env.groups->groups[1];
  Env::set_members(env.groups->groups[1], {PathMember{0, env.pop_peer2}});
  BurstResult p0 = run(0, {frame(kLanMac, a)});
  CHECK(p0.tx[1].empty());
  CHECK(p0.punted.empty());
  CHECK(env.counters->handoff_sent.get() >= 1);
  BurstResult p1 = two.take(*two.ctx1, 1);
  REQUIRE(p1.punted.size() == 1);
  const PacketMeta& pm = meta(p1.punted[0]);
  CHECK(pm.punt == PuntReason::kTunnelNoSession);
  CHECK(pm.tunnel == 0);
  CHECK(pm.next_hop == env.pop_peer2.value());
  CHECK(pm.in_port == 0);
  free_all(p1.punted);
  env.groups->groups[1] = saved;
  CHECK(rte_mempool_in_use_count(env.pool) == in_use);
}

TEST_CASE("Two workers: a full hand-off ring drops with a named reason, nothing leaks",
          "[tunnel][handoff]") {
  TwoWorkers two;
  Env& env = two.env;
  const unsigned in_use = rte_mempool_in_use_count(env.pool);
  const std::uint64_t full = two.drops1(DropReason::tunnel_handoff_full);
  constexpr unsigned kUsable = TwoWorkers::kRing - 1;
  // Ingress: 10 data messages for worker 0's peer at worker 1: 7 fit, 3 are dropped.
  std::vector<Bytes> frames;
  for (int i = 0; i < 10; ++i) {
    frames.push_back(wan_datagram(env.seal_from_far(ip4_udp(100, "10.2.0.9", "10.1.0.5", 1))));
  }
  BurstResult r1 = run(1, frames, true, two.ctx1.get());
  CHECK(r1.tx[0].empty());
  CHECK(rte_ring_count(env.tunnels.handoff_rx[0]) == kUsable);
  CHECK(two.drops1(DropReason::tunnel_handoff_full) == full + 10 - kUsable);
  CHECK(two.counters1->handoff_sent.get() == kUsable);
  // Egress: the same for inner packets.
  std::vector<Bytes> lan(12, frame(kLanMac, ip4_udp(200, "10.1.0.5", "10.2.0.9", 5201)));
  r1 = run(0, lan, true, two.ctx1.get());
  CHECK(r1.tx[1].empty());
  CHECK(rte_ring_count(env.tunnels.handoff_tx[0]) == kUsable);
  CHECK(two.drops1(DropReason::tunnel_handoff_full) == full + 10 - kUsable + 12 - kUsable);
  // Worker 0 takes one burst from each ring (7 + 7); everything queued is sent.
  BurstResult r0 = two.take(*env.ctx, 2 * kUsable);
  CHECK(r0.tx[0].size() == kUsable);
  CHECK(r0.tx[1].size() == kUsable);
  CHECK(rte_mempool_in_use_count(env.pool) == in_use);
}
