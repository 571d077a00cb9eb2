// SPDX-License-Identifier: Apache-2.0
// The control/data split of the WireGuard core under real threads: a worker thread encrypts on
// one device and decrypts on the other through DataPath while the control thread rekeys over
// and over, sends timer keepalives on the same keypairs, churns the configuration and reclaims
// what it retired through a quiescent-state reclaimer (the test's stand-in for rte_rcu_qsbr).
// Meant to run under ThreadSanitizer and AddressSanitizer as well (docs/tunnels.md).
#include <atomic>
#include <catch2/catch.hpp>
#include <cstring>
#include <deque>
#include <mutex>
#include <set>
#include <thread>

#include "test_util.h"

using namespace causeway;
using namespace causeway::tun;
using namespace causeway::tun::test;
using namespace std::chrono_literals;

namespace {

// Quiescent-state based reclamation, as rte_rcu_qsbr does it: retire() stamps a token; a reader
// reports quiescence by copying the current token; poll() frees what every reader has passed.
class QsbrReclaimer final : public Reclaimer {
 public:
  explicit QsbrReclaimer(std::size_t readers) : seen_(readers) {
    for (auto& s : seen_) s.store(0);
  }
  void retire(std::function<void()> free) override {
    const std::uint64_t token = token_.fetch_add(1, std::memory_order_acq_rel) + 1;
    pending_.push_back({token, std::move(free)});
    ++retired_;
  }
  // Reader r finished its burst and holds nothing published.
  void quiescent(std::size_t r) {
    seen_[r].store(token_.load(std::memory_order_acquire), std::memory_order_release);
  }
  void offline(std::size_t r) { seen_[r].store(~0ull, std::memory_order_release); }
  // Control thread: frees what every reader has passed.
  void poll() {
    std::uint64_t min_seen = ~0ull;
    for (auto& s : seen_) min_seen = std::min(min_seen, s.load(std::memory_order_acquire));
    while (!pending_.empty() && pending_.front().token <= min_seen) {
      pending_.front().free();
      pending_.pop_front();
      ++freed_;
    }
  }
  std::size_t pending() const { return pending_.size(); }
  std::size_t retired() const { return retired_; }
  std::size_t deferred_max() const { return deferred_max_; }
  void note_deferred() { deferred_max_ = std::max(deferred_max_, pending_.size()); }

 private:
  struct Item {
    std::uint64_t token;
    std::function<void()> free;
  };
  std::atomic<std::uint64_t> token_{0};
  std::vector<std::atomic<std::uint64_t>> seen_;
  std::deque<Item> pending_;  // control thread only
  std::size_t retired_ = 0;
  std::size_t freed_ = 0;
  std::size_t deferred_max_ = 0;
};

struct Side {
  Side(std::uint64_t seed, Reclaimer& rc, const char* addr, std::uint16_t port)
      : rng(seed), dev(rng, wall, rc), ep{*IpAddress::parse(addr), port} {}
  FakeRng rng;
  FakeWallClock wall;
  Device dev;
  RecordingSink sink;
  Endpoint ep;
  PeerId peer;
};

// Keys 1 and 2, each side the other's peer; a knows b's endpoint, b learns a's from the handshake.
void connect(Side& a, Side& b, std::vector<IpPrefix> a_allows, std::vector<IpPrefix> b_allows,
             bool a_knows_endpoint = true) {
  DeviceConfig ca;
  ca.private_key = key_from(1);
  REQUIRE(a.dev.configure(ca));
  DeviceConfig cb;
  cb.private_key = key_from(2);
  REQUIRE(b.dev.configure(cb));
  PeerConfig pa;
  pa.public_key = b.dev.public_key();
  if (a_knows_endpoint) pa.endpoint = b.ep;
  pa.allowed_ips = std::move(a_allows);
  a.peer = a.dev.add_peer(pa).value();
  PeerConfig pb;
  pb.public_key = a.dev.public_key();
  pb.allowed_ips = std::move(b_allows);
  b.peer = b.dev.add_peer(pb).value();
}

// Transport header fields of a sealed message.
std::pair<std::uint32_t, std::uint64_t> index_and_counter(const std::uint8_t* msg) {
  std::uint32_t idx = 0;
  std::uint64_t ctr = 0;
  for (int i = 3; i >= 0; --i) idx = (idx << 8) | msg[4 + i];
  for (int i = 7; i >= 0; --i) ctr = (ctr << 8) | msg[8 + i];
  return {idx, ctr};
}

}  // namespace

TEST_CASE("data path on a worker thread while the control thread rekeys, ticks and reconfigures",
          "[device][threads]") {
  QsbrReclaimer reclaimer(1);
  Side a(11, reclaimer, "192.0.2.1", 51820);
  Side b(12, reclaimer, "192.0.2.2", 51821);
  connect(a, b, {*IpPrefix::parse("10.0.0.2/32")}, {*IpPrefix::parse("10.0.0.1/32")});
  // The control thread seals keepalives on the keypairs the worker uses.
  REQUIRE(a.dev.set_persistent_keepalive(a.peer, 1s));

  std::atomic<std::int64_t> clock{(1000s).count() * 1000000000ll};
  auto now = [&] { return Nanos(clock.load(std::memory_order_relaxed)); };
  // Control-thread pump: handshake messages only; transport messages from the control thread
  // (keepalives) are recorded, not decrypted, since b's data path belongs to the worker.
  std::vector<std::pair<std::uint32_t, std::uint64_t>> control_nonces;
  auto pump = [&] {
    for (int round = 0; round < 10; ++round) {
      auto from_a = std::move(a.sink.sent);
      auto from_b = std::move(b.sink.sent);
      a.sink.sent.clear();
      b.sink.sent.clear();
      if (from_a.empty() && from_b.empty()) return;
      for (auto& d : from_a) {
        if (d.bytes[0] == 4) {
          control_nonces.push_back(index_and_counter(d.bytes.data()));
          continue;
        }
        b.dev.receive(now(), a.ep, d.bytes, b.sink);
      }
      for (auto& d : from_b) {
        if (d.bytes[0] != 4) a.dev.receive(now(), b.ep, d.bytes, a.sink);
      }
    }
  };
  a.dev.initiate_handshake(now(), a.peer, a.sink);
  pump();
  REQUIRE(a.dev.peer_status(a.peer).value().has_current_keypair);

  constexpr int kRekeys = 60;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> sealed{0}, opened{0}, mismatched{0};
  Counters worker_a, worker_b;  // the worker's own counter blocks
  std::vector<std::pair<std::uint32_t, std::uint64_t>> worker_nonces;

  std::thread worker([&] {
    constexpr std::size_t kBurst = 8;
    std::vector<std::vector<std::uint8_t>> storage(kBurst);
    std::vector<std::vector<std::uint8_t>> originals(kBurst);
    std::uint32_t seq = 0;
    while (!stop.load(std::memory_order_relaxed)) {
      std::array<PacketBuf, kBurst> bufs;
      for (std::size_t i = 0; i < kBurst; ++i) {
        originals[i] = ipv4_packet("10.0.0.1", "10.0.0.2", 16 + (seq + i) % 200,
                                   static_cast<std::uint8_t>(seq + i));
        storage[i].assign(64 + originals[i].size() + 64, 0);
        std::memcpy(storage[i].data() + 64, originals[i].data(), originals[i].size());
        bufs[i].data = storage[i].data() + 64;
        bufs[i].len = static_cast<std::uint32_t>(originals[i].size());
        bufs[i].headroom = 64;
        bufs[i].tailroom = 64;
        bufs[i].from = a.ep;
      }
      seq += kBurst;
      const Nanos t = now();
      sealed += a.dev.data_path().encrypt_burst(t, a.peer, bufs, worker_a);
      std::array<bool, kBurst> was_sealed{};
      for (std::size_t i = 0; i < kBurst; ++i) {
        was_sealed[i] = bufs[i].result == DropReason::kNone;
        if (was_sealed[i]) worker_nonces.push_back(index_and_counter(bufs[i].data));
      }
      b.dev.data_path().decrypt_burst(t, bufs, worker_b);
      for (std::size_t i = 0; i < kBurst; ++i) {
        if (!was_sealed[i] || bufs[i].result != DropReason::kNone) continue;
        ++opened;
        if (bufs[i].peer != b.peer ||
            std::vector<std::uint8_t>(bufs[i].data, bufs[i].data + bufs[i].len) != originals[i]) {
          ++mismatched;
        }
      }
      reclaimer.quiescent(0);
    }
    reclaimer.offline(0);
  });

  // Control thread: rekey every REKEY_TIMEOUT (+1 ms), tick both sides, churn configuration that
  // workers read (allowed IPs, a third peer, endpoints), reclaim.
  std::uint64_t last_opened = 0;
  for (int i = 0; i < kRekeys; ++i) {
    clock.fetch_add((kRekeyTimeout + 1ms).count(), std::memory_order_relaxed);
    a.wall.now += kRekeyTimeout + 1ms;
    b.wall.now += kRekeyTimeout + 1ms;
    a.dev.initiate_handshake(now(), a.peer, a.sink);
    pump();
    a.dev.tick(now(), a.sink);
    b.dev.tick(now(), b.sink);
    pump();
    REQUIRE(a.dev.add_allowed_ip(a.peer, *IpPrefix::parse("198.51.100.0/24")));
    REQUIRE(a.dev.remove_allowed_ip(a.peer, *IpPrefix::parse("198.51.100.0/24")));
    PeerConfig extra;
    extra.public_key = key_from(static_cast<std::uint8_t>(50 + i));
    extra.allowed_ips = {*IpPrefix::parse("10.9.0.0/16")};
    if (auto id = b.dev.add_peer(extra)) REQUIRE(b.dev.remove_peer(id.value()));
    REQUIRE(a.dev.set_endpoint(a.peer, b.ep));
    reclaimer.note_deferred();
    reclaimer.poll();
    // Let the worker use this session before the next rekey (deadline, not a sleep).
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (opened.load() < last_opened + 64 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::yield();
    }
    last_opened = opened.load();
  }
  stop = true;
  worker.join();
  reclaimer.poll();

  CHECK(a.dev.counters()[Event::kSessionsDerived] >= kRekeys);
  CHECK(b.dev.counters()[Event::kSessionsDerived] >= kRekeys);
  CHECK(opened.load() >= 64u * kRekeys);
  CHECK(mismatched.load() == 0);
  // Nothing authenticated failed and no nonce was used twice, although the worker and the
  // control thread (keepalives) sealed on the same keypairs.
  CHECK(worker_b[DropReason::kAuthFailed] == 0);
  CHECK(worker_b[DropReason::kReplayed] == 0);
  CHECK(worker_b[DropReason::kInnerSourceNotAllowed] == 0);
  CHECK_FALSE(control_nonces.empty());
  std::set<std::pair<std::uint32_t, std::uint64_t>> all(worker_nonces.begin(), worker_nonces.end());
  const std::size_t worker_unique = all.size();
  all.insert(control_nonces.begin(), control_nonces.end());
  CHECK(worker_unique == worker_nonces.size());
  CHECK(all.size() == worker_nonces.size() + control_nonces.size());
  // Retired keypairs/snapshots waited for the worker, and everything was freed in the end.
  CHECK(reclaimer.retired() > 0);
  CHECK(reclaimer.pending() == 0);
  // Control-side byte counters saw the worker's traffic.
  CHECK(a.dev.peer_status(a.peer).value().tx_bytes > 0);
  CHECK(b.dev.peer_status(b.peer).value().rx_bytes > 0);
  // Drops the worker may see: packets sealed with a keypair the receiver already rotated out.
  for (std::size_t r = 0; r < kDropReasonCount; ++r) {
    const auto reason = static_cast<DropReason>(r);
    if (reason == DropReason::kUnknownIndex) continue;
    INFO(name_of(reason));
    CHECK(worker_b[reason] == 0);
  }
}

TEST_CASE("DataPath queries follow what the control side publishes", "[device][threads]") {
  Side a(21, immediate_reclaimer(), "192.0.2.1", 51820);
  Side b(22, immediate_reclaimer(), "192.0.2.2", 51821);
  connect(a, b, {*IpPrefix::parse("10.0.0.2/32")}, {*IpPrefix::parse("10.0.0.1/32")}, false);
  const Nanos now = 1000s;
  DataPath& dp = a.dev.data_path();
  Endpoint e;
  CHECK_FALSE(dp.endpoint(a.peer, e));
  REQUIRE(a.dev.set_endpoint(a.peer, b.ep));
  REQUIRE(dp.endpoint(a.peer, e));
  CHECK(e == b.ep);
  CHECK(dp.route(*IpAddress::parse("10.0.0.2")) == a.peer);
  CHECK_FALSE(dp.route(*IpAddress::parse("10.0.0.3")).valid());
  REQUIRE(a.dev.add_allowed_ip(a.peer, *IpPrefix::parse("10.0.3.0/24")));
  CHECK(dp.route(*IpAddress::parse("10.0.3.7")) == a.peer);
  CHECK_FALSE(dp.can_send(now, a.peer));
  a.dev.initiate_handshake(now, a.peer, a.sink);
  REQUIRE(a.sink.sent.size() == 1);
  b.dev.receive(now, a.ep, a.sink.sent[0].bytes, b.sink);
  REQUIRE(b.sink.sent.size() == 1);
  a.sink.clear();
  a.dev.receive(now, b.ep, b.sink.sent[0].bytes, a.sink);
  CHECK(dp.can_send(now, a.peer));
  CHECK_FALSE(dp.can_send(now + kRejectAfterTime, a.peer));
  // The keepalive that confirms the session names b's receiver index.
  REQUIRE(a.sink.sent.size() == 1);
  const auto [idx, ctr] = index_and_counter(a.sink.sent[0].bytes.data());
  CHECK(ctr == 0);
  CHECK(b.dev.data_path().peer_of_index(idx) == b.peer);
  CHECK_FALSE(b.dev.data_path().peer_of_index(idx + 1).valid());
  // Removing the peer unpublishes it: the data path drops without touching freed state.
  REQUIRE(a.dev.remove_peer(a.peer));
  CHECK_FALSE(dp.can_send(now, a.peer));
  CHECK_FALSE(dp.route(*IpAddress::parse("10.0.0.2")).valid());
  std::vector<std::uint8_t> buf(200, 0);
  PacketBuf pkt;
  pkt.data = buf.data() + 16;
  pkt.len = 60;
  pkt.headroom = 16;
  pkt.tailroom = 100;
  Counters c;
  CHECK(dp.encrypt_burst(now, a.peer, std::span(&pkt, 1), c) == 0);
  CHECK(c[DropReason::kNoKeypair] == 1);
}

TEST_CASE("preshared key: set_preshared_key on both sides, a mismatch fails the handshake",
          "[device]") {
  auto handshake = [](const Key32& psk_a, const Key32& psk_b) {
    Side a(31, immediate_reclaimer(), "192.0.2.1", 51820);
    Side b(32, immediate_reclaimer(), "192.0.2.2", 51821);
    connect(a, b, {}, {});
    REQUIRE(a.dev.set_preshared_key(a.peer, psk_a));
    REQUIRE(b.dev.set_preshared_key(b.peer, psk_b));
    CHECK_FALSE(a.dev.set_preshared_key(PeerId(7), psk_a));
    const Nanos now = 1000s;
    a.dev.initiate_handshake(now, a.peer, a.sink);
    REQUIRE(a.sink.sent.size() == 1);
    b.dev.receive(now, a.ep, a.sink.sent[0].bytes, b.sink);
    REQUIRE(b.sink.sent.size() == 1);
    a.dev.receive(now, b.ep, b.sink.sent[0].bytes, a.sink);
    return std::pair{a.dev.peer_status(a.peer).value().has_current_keypair,
                     a.dev.counters()[DropReason::kHandshakeDecrypt]};
  };
  const Key32 psk = key_from(9);
  CHECK(handshake(psk, psk) == std::pair<bool, std::uint64_t>{true, 0});
  CHECK(handshake(psk, key_from(10)) == std::pair<bool, std::uint64_t>{false, 1});
  CHECK(handshake(psk, Key32{}) == std::pair<bool, std::uint64_t>{false, 1});
}
