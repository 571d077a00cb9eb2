// SPDX-License-Identifier: Apache-2.0
// In-process, one worker: causeway-fwd's process_burst with a WireGuard tunnel, beside the raw
// cipher rate measured in the same run (issue 5):
//   BM_EncryptForward/S  LAN frames (inner IPv4, S bytes) -> eth/ip input -> FIB (path group)
//                        -> member choice -> encrypt_burst -> outer IPv4/UDP -> outer FIB
//                        lookup -> L2 -> tx buffer of the WAN port
//   BM_DecryptForward/S  WAN frames (WireGuard data of S inner bytes) -> eth/ip input ->
//                        tunnel_input (AEAD, replay, allowed IPs) -> FIB -> next hop -> L2
//                        rewrite -> tx buffer of the LAN port
//   BM_RawSeal/S, BM_RawOpen/S  one EVP ChaCha20-Poly1305 context, S bytes in place (the limit)
// Real EAL (--no-huge, no devices), mbufs, RouteTable/FIB and tun::Device. The tx buffer is
// taken instead of calling rte_eth_tx_burst (there is no device), and each burst's 32 mbufs are
// refilled from the original frames with one memcpy each, as a NIC's DMA would (decrypt: from a
// pool of frames sealed with fresh counters, refilled with timing paused like the raw open).
// items/s = packets/s.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <rte_eal.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

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
using namespace std::chrono_literals;

namespace {

constexpr unsigned kBurst = 32;
constexpr unsigned kPoolBursts = 16;
const std::uint8_t kLanMac[6] = {2, 0, 0, 0, 1, 1};
const std::uint8_t kWanMac[6] = {2, 0, 0, 0, 9, 1};
const std::uint8_t kFarMac[6] = {2, 0, 0, 0, 9, 2};

class Sink final : public tun::ActionSink {
 public:
  std::vector<std::vector<std::uint8_t>> sent;
  void send_datagram(const tun::Endpoint&, std::span<const std::uint8_t> d) override {
    sent.emplace_back(d.begin(), d.end());
  }
  void deliver(tun::PeerId, std::span<const std::uint8_t>) override {}
};

// An inner IPv4/UDP packet of `size` bytes (checksum valid) after a 14-byte Ethernet header.
std::vector<std::uint8_t> inner_frame(std::size_t size, const char* src, const char* dst,
                                      const std::uint8_t* dst_mac) {
  std::vector<std::uint8_t> f(14 + size, 0x5a);
  std::memcpy(f.data(), dst_mac, 6);
  std::memcpy(f.data() + 6, kFarMac, 6);
  f[12] = 0x08;
  f[13] = 0x00;
  std::uint8_t* ip = f.data() + 14;
  std::memset(ip, 0, 28);
  ip[0] = 0x45;
  wire::store_be16(ip + 2, static_cast<std::uint16_t>(size));
  ip[8] = 64;
  ip[9] = 17;
  std::memcpy(ip + 12, IpAddress::parse(src)->bytes.data(), 4);
  std::memcpy(ip + 16, IpAddress::parse(dst)->bytes.data(), 4);
  wire::store_be16(ip + 10, wire::csum_fold(wire::csum_add(0, ip, 20)));
  wire::store_be16(ip + 20, 40000);
  wire::store_be16(ip + 22, 5201);
  wire::store_be16(ip + 24, static_cast<std::uint16_t>(size - 20));
  return f;
}

struct Env {
  rte_mempool* pool = nullptr;
  rte_rcu_qsbr* qsbr = nullptr;
  std::unique_ptr<RouteTable> routes;
  rte_ring* punt_ring = nullptr;
  std::atomic<bool> armed{false}, quit{false};
  DataplaneShared shared;
  WorkerCounters counters;
  WorkerContext ctx;
  TunnelShared tunnels;
  TunnelWorker tunnel_worker;
  PathGroupTable groups;
  std::unique_ptr<tun::Device> pop, far;  // the PoP's tunnel and the remote side
  tun::PeerId pop_peer, far_peer;
  Sink sink;

  static Env& get() {
    static Env env;
    return env;
  }

  Env() {
    auto started = test::start_dpdk_test_env("forward_bench", 4096, 2);
    if (!started) {
      std::fprintf(stderr, "forward_bench: %s\n", started.error().message.c_str());
      std::abort();
    }
    pool = started.value().pool;
    qsbr = started.value().qsbr;
    routes = std::move(started.value().routes);
    punt_ring = rte_ring_create("fb_punt", 1024, static_cast<int>(rte_socket_id()), RING_F_SC_DEQ);

    // Port 0 = LAN 10.1.0.1/24, port 1 = WAN 10.9.0.1/24. Routes: the remote site into path
    // group 1; the far PoP's endpoint and the local site host through resolved gateways.
    std::vector<RouteChange> rc(3);
    rc[0].spec = RouteSpec{*IpPrefix::parse("10.2.0.0/16"), NextHopKind::kPathGroup, 1, {}};
    rc[1].spec = RouteSpec{*IpPrefix::parse("10.9.0.2/32"), NextHopKind::kGateway, 1,
                           *IpAddress::parse("10.9.0.2")};
    rc[2].spec = RouteSpec{*IpPrefix::parse("10.1.0.5/32"), NextHopKind::kGateway, 0,
                           *IpAddress::parse("10.1.0.5")};
    if (!routes->apply(RouteSource::kConfig, rc)) std::abort();
    MacAddress far_mac, host_mac;
    std::memcpy(far_mac.bytes.data(), kFarMac, 6);
    host_mac = *MacAddress::parse("02:00:00:00:01:05");
    routes->set_neighbor_mac(1, *IpAddress::parse("10.9.0.2"), far_mac);
    routes->set_neighbor_mac(0, *IpAddress::parse("10.1.0.5"), host_mac);

    for (unsigned i = 0; i < 2; ++i) {
      std::memcpy(shared.ports[i].mac, i == 0 ? kLanMac : kWanMac, 6);
      shared.ports[i].mtu = 1500;
      shared.ports[i].tx_port = i;  // a physical port sends on its own tx buffer
    }
    shared.n_ports = 2;
    shared.next_hops = routes->next_hop_array();
    shared.n_next_hops = routes->next_hop_capacity();
    shared.fib = routes->published();
    shared.qsbr = qsbr;
    shared.punt_ring = punt_ring;
    shared.punt_wakeup_armed = &armed;
    shared.quit = &quit;

    // The tunnel: the PoP (10.9.0.1:51820) and the far side (10.9.0.2:51821), session up.
    pop = std::make_unique<tun::Device>();
    far = std::make_unique<tun::Device>();
    tun::Key32 kp{}, kf{};
    kp[0] = 1;
    kf[0] = 2;
    if (!pop->set_private_key(kp) || !far->set_private_key(kf)) std::abort();
    const tun::Endpoint ep_pop{*IpAddress::parse("10.9.0.1"), 51820};
    const tun::Endpoint ep_far{*IpAddress::parse("10.9.0.2"), 51821};
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
    const tun::Nanos now =
        std::chrono::duration_cast<tun::Nanos>(std::chrono::steady_clock::now().time_since_epoch());
    far->initiate_handshake(now, far_peer, sink);
    Sink back;
    pop->receive(now, ep_far, sink.sent.at(0), back);
    sink.sent.clear();
    far->receive(now, ep_pop, back.sent.at(0), sink);  // response; far sends a keepalive
    pop->receive(now, ep_far, sink.sent.at(0), back);  // confirms the PoP's session
    if (!pop->data_path().can_send(now, pop_peer)) std::abort();

    tunnels.n_tunnels = 1;
    tunnels.tunnels[0] = TunnelListener{&pop->data_path(), 51820, 1u << 1};
    // The PoP's overlay address, as an overlay deployment has it: every decrypted packet is
    // compared with it (the transit packets here never match).
    tunnels.tunnels[0].own4[0] = IpAddress::parse("10.255.0.1")->v4_host_order();
    tunnels.tunnels[0].n_own4 = 1;
    tunnels.tunnels[0].own4_key = tunnels.tunnels[0].own4[0];
    std::memcpy(tunnels.local[0].v4[0], IpAddress::parse("10.1.0.1")->bytes.data(), 4);
    tunnels.local[0].n4 = 1;
    std::memcpy(tunnels.local[1].v4[0], IpAddress::parse("10.9.0.1")->bytes.data(), 4);
    tunnels.local[1].n4 = 1;
    fill_path_group(groups.groups[1], {PathMember{0, pop_peer}}, {true}, {});
    tunnels.path_groups.store(&groups);
    shared.tunnels = &tunnels;

    ctx.shared = &shared;
    ctx.counters = &counters;
    ctx.tunnel = &tunnel_worker;
    ctx.fib = shared.fib->load();
  }

  // One burst through process_burst; returns how many frames reached the tx buffer of `out`.
  unsigned run(std::uint16_t in_port, rte_mbuf** pkts, std::uint16_t out) {
    process_burst(ctx, in_port, pkts, kBurst);
    TxBuffer& b = ctx.tx[out];
    const unsigned n = b.n;
    b.n = 0;
    b.bytes = 0;
    return n;
  }
};

void refill(rte_mbuf* m, const std::uint8_t* frame, std::size_t len) {
  m->data_off = RTE_PKTMBUF_HEADROOM;
  std::memcpy(rte_pktmbuf_mtod(m, void*), frame, len);
  m->data_len = static_cast<std::uint16_t>(len);
  m->pkt_len = static_cast<std::uint32_t>(len);
  m->nb_segs = 1;
  m->ol_flags = 0;
}

void BM_EncryptForward(benchmark::State& state) {
  Env& env = Env::get();
  const auto size = static_cast<std::size_t>(state.range(0));
  const auto frame = inner_frame(size, "10.1.0.5", "10.2.0.9", kLanMac);
  rte_mbuf* pkts[kBurst];
  if (rte_pktmbuf_alloc_bulk(env.pool, pkts, kBurst) != 0) std::abort();
  std::uint64_t sent = 0;
  for (auto _ : state) {
    for (unsigned i = 0; i < kBurst; ++i) refill(pkts[i], frame.data(), frame.size());
    sent += env.run(0, pkts, 1);
  }
  rte_pktmbuf_free_bulk(pkts, kBurst);
  if (sent != static_cast<std::uint64_t>(state.iterations()) * kBurst) {
    state.SkipWithError("packets did not reach the WAN tx buffer");
  }
  state.counters["Mpps"] =
      benchmark::Counter(static_cast<double>(sent) / 1e6, benchmark::Counter::kIsRate);
}

void BM_DecryptForward(benchmark::State& state) {
  Env& env = Env::get();
  const auto size = static_cast<std::size_t>(state.range(0));
  const unsigned n = kPoolBursts * kBurst;
  std::vector<std::vector<std::uint8_t>> frames(n);
  tun::Counters far_counters;
  // Frames of WireGuard data from the far side, fresh counters (timing paused by the caller).
  auto seal_pool = [&] {
    const auto inner = inner_frame(size, "10.2.0.9", "10.1.0.5", kWanMac);
    const tun::Nanos now =
        std::chrono::duration_cast<tun::Nanos>(std::chrono::steady_clock::now().time_since_epoch());
    const std::uint32_t outer = outer_header_len(true);
    for (auto& f : frames) {
      std::vector<std::uint8_t> buf(outer + 16 + size + 64, 0);
      std::memcpy(buf.data() + outer + 16, inner.data() + 14, size);
      tun::PacketBuf pb;
      pb.data = buf.data() + outer + 16;
      pb.len = static_cast<std::uint32_t>(size);
      pb.headroom = 16;
      pb.tailroom = 64;
      if (env.far->data_path().encrypt_burst(now, env.far_peer, std::span(&pb, 1), far_counters) !=
          1) {
        std::abort();
      }
      std::uint8_t* eth = write_outer_headers(pb.data, pb.len, *IpAddress::parse("10.9.0.2"),
                                              *IpAddress::parse("10.9.0.1"), 51821, 51820);
      std::memcpy(eth, kWanMac, 6);
      std::memcpy(eth + 6, kFarMac, 6);
      f.assign(eth, pb.data + pb.len);
    }
  };
  seal_pool();
  rte_mbuf* pkts[kBurst];
  if (rte_pktmbuf_alloc_bulk(env.pool, pkts, kBurst) != 0) std::abort();
  unsigned next = 0;
  std::uint64_t sent = 0;
  for (auto _ : state) {
    if (next == n) {
      state.PauseTiming();
      seal_pool();
      next = 0;
      state.ResumeTiming();
    }
    for (unsigned i = 0; i < kBurst; ++i, ++next) {
      refill(pkts[i], frames[next].data(), frames[next].size());
    }
    sent += env.run(1, pkts, 0);
  }
  rte_pktmbuf_free_bulk(pkts, kBurst);
  if (sent != static_cast<std::uint64_t>(state.iterations()) * kBurst) {
    state.SkipWithError("packets did not reach the LAN tx buffer");
  }
  state.counters["Mpps"] =
      benchmark::Counter(static_cast<double>(sent) / 1e6, benchmark::Counter::kIsRate);
}

// The reference: one keyed EVP context, nonce per packet, S bytes in place.
void raw(benchmark::State& state, bool seal) {
  const auto size = static_cast<std::size_t>(state.range(0));
  std::vector<std::uint8_t> buf(size + 16, 0x5a);
  std::uint8_t key[32] = {7};
  EVP_CIPHER_CTX* c = EVP_CIPHER_CTX_new();
  EVP_CipherInit_ex2(c, EVP_chacha20_poly1305(), key, nullptr, seal ? 1 : 0, nullptr);
  std::uint64_t counter = 0;
  std::uint8_t tag[16] = {};
  for (auto _ : state) {
    for (unsigned i = 0; i < kBurst; ++i) {
      std::uint8_t nonce[12] = {};
      ++counter;
      std::memcpy(nonce + 4, &counter, 8);
      int outl = 0;
      EVP_CipherInit_ex2(c, nullptr, nullptr, nonce, -1, nullptr);
      if (!seal) EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, tag);
      EVP_CipherUpdate(c, buf.data(), &outl, buf.data(), static_cast<int>(size));
      benchmark::DoNotOptimize(EVP_CipherFinal_ex(c, buf.data() + size, &outl));
      if (seal) EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, buf.data() + size);
    }
  }
  EVP_CIPHER_CTX_free(c);
  state.counters["Mpps"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * kBurst / 1e6, benchmark::Counter::kIsRate);
}
void BM_RawSeal(benchmark::State& state) {
  raw(state, true);
}
// Open: the tag does not verify (wrong on purpose): the cipher work is the same (decrypt and
// compute the tag), only the final comparison fails.
void BM_RawOpen(benchmark::State& state) {
  raw(state, false);
}

BENCHMARK(BM_EncryptForward)->Arg(64)->Arg(1420);
BENCHMARK(BM_RawSeal)->Arg(64)->Arg(1420);
BENCHMARK(BM_DecryptForward)->Arg(64)->Arg(1420);
BENCHMARK(BM_RawOpen)->Arg(64)->Arg(1420);

}  // namespace
