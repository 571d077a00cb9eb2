// SPDX-License-Identifier: Apache-2.0
// Data-path benchmark of the WireGuard core, beside its physical limit measured in the same run:
//   BM_RawEvpSeal / BM_RawEvpOpen   OpenSSL EVP ChaCha20-Poly1305 on one keyed context, nonce
//                                   set per packet, in place, S bytes per packet (the limit);
//   BM_TunEncrypt / BM_TunDecrypt   DataPath::encrypt_burst / decrypt_burst (the worker side, what
//                                   the forwarder calls, per-worker counters) on bursts of 32
//                                   packets of S inner bytes (header, padding to 16, counter,
//                                   replay window, inner IP check, allowed-IPs lookup included).
// items/s = packets/s; bytes/s counts inner bytes S for both, so the rates compare directly.
// Decrypt needs fresh counters: both decrypt benchmarks work through a pool of 16 bursts that
// is refilled (timing paused) when used up, identically for the raw and the core variant.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <cstring>
#include <vector>

#include "causeway/tun/device.h"
#include "crypto.h"

using namespace causeway;
using namespace causeway::tun;
using namespace std::chrono_literals;

namespace {

constexpr std::size_t kBurst = 32;
constexpr std::size_t kPoolBursts = 16;
constexpr std::size_t kSlot = 2048;
constexpr std::size_t kHead = 64;

class BenchRng final : public Rng {
 public:
  void fill(std::span<std::uint8_t> out) override {
    for (auto& b : out) {
      s_ = s_ * 6364136223846793005ull + 1442695040888963407ull;
      b = static_cast<std::uint8_t>(s_ >> 56);
    }
  }

 private:
  std::uint64_t s_ = 42;
};
class BenchWall final : public WallClock {
 public:
  std::chrono::system_clock::time_point t{std::chrono::seconds(1700000000)};
  std::chrono::system_clock::time_point wall_now() override { return t; }
};
class Loopback final : public ActionSink {
 public:
  std::vector<std::vector<std::uint8_t>> sent;
  void send_datagram(const Endpoint&, std::span<const std::uint8_t> d) override {
    sent.emplace_back(d.begin(), d.end());
  }
  void deliver(PeerId, std::span<const std::uint8_t>) override {}
};

// Two connected devices with an established session (a = initiator, b = responder).
struct Tunnel {
  BenchRng rng_a, rng_b;
  BenchWall wall_a, wall_b;
  Device a{rng_a, wall_a}, b{rng_b, wall_b};
  PeerId pa, pb;
  Endpoint ea{*IpAddress::parse("192.0.2.1"), 1}, eb{*IpAddress::parse("192.0.2.2"), 2};
  Nanos now = 1000s;

  Tunnel() {
    Key32 ka{}, kb{};
    ka[0] = 1;
    kb[0] = 2;
    (void)a.set_private_key(ka);
    (void)b.set_private_key(kb);
    PeerConfig ca;
    ca.public_key = b.public_key();
    ca.endpoint = eb;
    ca.allowed_ips = {*IpPrefix::parse("10.0.0.2/32")};
    pa = a.add_peer(ca).value();
    PeerConfig cb;
    cb.public_key = a.public_key();
    cb.endpoint = ea;
    cb.allowed_ips = {*IpPrefix::parse("10.0.0.1/32")};
    pb = b.add_peer(cb).value();
    Loopback la, lb;
    a.initiate_handshake(now, pa, la);
    for (int round = 0; round < 4; ++round) {
      for (auto& d : la.sent) b.receive(now, ea, d, lb);
      la.sent.clear();
      for (auto& d : lb.sent) a.receive(now, eb, d, la);
      lb.sent.clear();
    }
  }
};

void fill_ipv4(std::uint8_t* p, std::size_t len) {
  std::memset(p, 0x5a, len);
  p[0] = 0x45;
  p[1] = 0;
  p[2] = static_cast<std::uint8_t>(len >> 8);
  p[3] = static_cast<std::uint8_t>(len);
  const std::uint8_t src[4] = {10, 0, 0, 1}, dst[4] = {10, 0, 0, 2};
  std::memcpy(p + 12, src, 4);
  std::memcpy(p + 16, dst, 4);
}

void set_rates(benchmark::State& state, std::size_t size) {
  const auto packets = static_cast<std::int64_t>(state.iterations() * kBurst);
  state.SetItemsProcessed(packets);
  state.SetBytesProcessed(packets * static_cast<std::int64_t>(size));
  state.counters["Mpps"] =
      benchmark::Counter(static_cast<double>(packets) / 1e6, benchmark::Counter::kIsRate);
  state.counters["Gbit/s"] =
      benchmark::Counter(static_cast<double>(packets) * static_cast<double>(size) * 8 / 1e9,
                         benchmark::Counter::kIsRate);
}

crypto::Key bench_key() {
  crypto::Key k;
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(i);
  return k;
}

void BM_RawEvpSeal(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  std::vector<std::uint8_t> mem(kBurst * kSlot);
  for (std::size_t i = 0; i < kBurst; ++i) fill_ipv4(&mem[i * kSlot + kHead], size);
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  const auto key = bench_key();
  EVP_CipherInit_ex2(ctx, crypto::chacha20poly1305_cipher(), key.data(), nullptr, 1, nullptr);
  std::uint64_t counter = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < kBurst; ++i) {
      std::uint8_t* p = &mem[i * kSlot + kHead];
      std::uint8_t nonce[12] = {};
      std::memcpy(nonce + 4, &counter, 8);
      ++counter;
      int outl = 0;
      EVP_CipherInit_ex2(ctx, nullptr, nullptr, nonce, -1, nullptr);
      EVP_CipherUpdate(ctx, p, &outl, p, static_cast<int>(size));
      EVP_CipherFinal_ex(ctx, p + size, &outl);
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, p + size);
    }
    benchmark::DoNotOptimize(mem.data());
  }
  EVP_CIPHER_CTX_free(ctx);
  set_rates(state, size);
}

void BM_TunEncrypt(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  Tunnel t;
  Counters worker_counters;
  std::vector<std::uint8_t> mem(kBurst * kSlot);
  std::vector<PacketBuf> bufs(kBurst);
  for (std::size_t i = 0; i < kBurst; ++i) fill_ipv4(&mem[i * kSlot + kHead], size);
  std::size_t ok = 0;
  for (auto _ : state) {
    for (std::size_t i = 0; i < kBurst; ++i) {  // what the forwarder does per mbuf
      bufs[i].data = &mem[i * kSlot + kHead];
      bufs[i].len = static_cast<std::uint32_t>(size);
      bufs[i].headroom = kHead;
      bufs[i].tailroom = static_cast<std::uint32_t>(kSlot - kHead - size);
    }
    ok += t.a.data_path().encrypt_burst(t.now, t.pa, bufs, worker_counters);
    benchmark::DoNotOptimize(mem.data());
  }
  if (ok != static_cast<std::size_t>(state.iterations()) * kBurst)
    state.SkipWithError("encrypt_burst dropped packets");
  set_rates(state, size);
}

// Raw open over a pool of sealed packets, restored from a pristine copy when used up.
void BM_RawEvpOpen(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const std::size_t n = kPoolBursts * kBurst;
  std::vector<std::uint8_t> pristine(n * kSlot), pool(n * kSlot);
  const auto key = bench_key();
  for (std::size_t i = 0; i < n; ++i) {
    std::uint8_t* p = &pristine[i * kSlot + kHead];
    fill_ipv4(p, size);
    std::vector<std::uint8_t> sealed(size + 16);
    if (!crypto::aead_seal(key, i, crypto::Bytes(p, size), {}, sealed)) std::abort();
    std::memcpy(p, sealed.data(), sealed.size());
  }
  pool = pristine;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  EVP_CipherInit_ex2(ctx, crypto::chacha20poly1305_cipher(), key.data(), nullptr, 0, nullptr);
  std::size_t next = 0, ok = 0;
  for (auto _ : state) {
    if (next == n) {
      state.PauseTiming();
      pool = pristine;
      next = 0;
      state.ResumeTiming();
    }
    for (std::size_t i = 0; i < kBurst; ++i, ++next) {
      std::uint8_t* p = &pool[next * kSlot + kHead];
      std::uint64_t counter = next;
      std::uint8_t nonce[12] = {};
      std::memcpy(nonce + 4, &counter, 8);
      int outl = 0;
      EVP_CipherInit_ex2(ctx, nullptr, nullptr, nonce, -1, nullptr);
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, 16, p + size);
      EVP_CipherUpdate(ctx, p, &outl, p, static_cast<int>(size));
      ok += EVP_CipherFinal_ex(ctx, p + size, &outl) == 1;
    }
    benchmark::DoNotOptimize(pool.data());
  }
  EVP_CIPHER_CTX_free(ctx);
  if (ok != static_cast<std::size_t>(state.iterations()) * kBurst)
    state.SkipWithError("raw open failed");
  set_rates(state, size);
}

void BM_TunDecrypt(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  Tunnel t;
  Counters worker_counters;
  const std::size_t n = kPoolBursts * kBurst;
  std::vector<std::uint8_t> pool(n * kSlot);
  std::vector<PacketBuf> sealed(n);
  // Seals the whole pool with fresh counters from the sender (timing paused by the caller).
  auto refill = [&] {
    for (std::size_t i = 0; i < n; ++i) {
      std::uint8_t* p = &pool[i * kSlot + kHead];
      fill_ipv4(p, size);
      sealed[i].data = p;
      sealed[i].len = static_cast<std::uint32_t>(size);
      sealed[i].headroom = kHead;
      sealed[i].tailroom = static_cast<std::uint32_t>(kSlot - kHead - size);
    }
    if (t.a.encrypt_burst(t.now, t.pa, sealed) != n) std::abort();
    for (auto& pb : sealed) pb.from = t.ea;
  };
  refill();
  std::vector<PacketBuf> bufs(kBurst);
  std::size_t next = 0, ok = 0;
  for (auto _ : state) {
    if (next == n) {
      state.PauseTiming();
      refill();
      next = 0;
      state.ResumeTiming();
    }
    std::memcpy(bufs.data(), &sealed[next], kBurst * sizeof(PacketBuf));  // rx descriptors
    next += kBurst;
    ok += t.b.data_path().decrypt_burst(t.now, bufs, worker_counters);
    benchmark::DoNotOptimize(bufs.data());
  }
  if (ok != static_cast<std::size_t>(state.iterations()) * kBurst)
    state.SkipWithError("decrypt_burst dropped packets");
  set_rates(state, size);
}

}  // namespace

BENCHMARK(BM_RawEvpSeal)->Arg(64)->Arg(512)->Arg(1420);
BENCHMARK(BM_TunEncrypt)->Arg(64)->Arg(512)->Arg(1420);
BENCHMARK(BM_RawEvpOpen)->Arg(64)->Arg(512)->Arg(1420);
BENCHMARK(BM_TunDecrypt)->Arg(64)->Arg(512)->Arg(1420);
