// SPDX-License-Identifier: Apache-2.0
// Handshake benchmark beside the X25519 operation rate measured in the same run.
// A full WireGuard handshake costs 8 X25519 scalar multiplications with the static-static DH
// precomputed per peer (as wireguard-go and Linux do):
//   initiator create:  ephemeral keygen, DH(E_i, S_r)                         = 2
//   responder consume + create: DH(S_r, E_i), keygen, DH(E_r, E_i), DH(E_r, S_i) = 4
//   initiator consume: DH(E_i, E_r), DH(S_i, E_r)                             = 2
// so the X25519 bound is x25519_ops_per_second / 8 handshakes per second.
//   BM_X25519Derive   EVP_PKEY_derive on a prepared context (the cheapest X25519 via libcrypto)
//   BM_X25519Keygen   raw private key import, which computes the public key (base-point mult)
//   BM_Handshake      initiation -> response -> consumed response (+ the confirming keepalive),
//                     through Device::receive with mac1 checks, all on one core.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>

#include <vector>

#include "causeway/tun/device.h"

using namespace causeway;
using namespace causeway::tun;
using namespace std::chrono_literals;

namespace {

class BenchRng final : public Rng {
 public:
  void fill(std::span<std::uint8_t> out) override {
    for (auto& b : out) {
      s_ = s_ * 6364136223846793005ull + 1442695040888963407ull;
      b = static_cast<std::uint8_t>(s_ >> 56);
    }
  }

 private:
  std::uint64_t s_ = 7;
};
class BenchWall final : public WallClock {
 public:
  std::chrono::system_clock::time_point t{std::chrono::seconds(1700000000)};
  std::chrono::system_clock::time_point wall_now() override { return t; }
};
// Keeps the last datagram in a reused buffer (no allocation in steady state).
class LastDatagram final : public ActionSink {
 public:
  std::vector<std::uint8_t> bytes;
  std::size_t count = 0;
  void send_datagram(const Endpoint&, std::span<const std::uint8_t> d) override {
    bytes.assign(d.begin(), d.end());
    ++count;
  }
  void deliver(PeerId, std::span<const std::uint8_t>) override {}
};

EVP_PKEY* raw_private(std::uint8_t seed) {
  std::uint8_t k[32];
  for (int i = 0; i < 32; ++i) k[i] = static_cast<std::uint8_t>(seed + i);
  return EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, k, 32);
}

void BM_X25519Derive(benchmark::State& state) {
  EVP_PKEY* a = raw_private(1);
  EVP_PKEY* b = raw_private(2);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(a, nullptr);
  EVP_PKEY_derive_init(ctx);
  EVP_PKEY_derive_set_peer(ctx, b);
  std::uint8_t out[32];
  for (auto _ : state) {
    std::size_t len = sizeof(out);
    EVP_PKEY_derive(ctx, out, &len);
    benchmark::DoNotOptimize(out);
  }
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(a);
  EVP_PKEY_free(b);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["x25519_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["handshake_bound_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) / 8, benchmark::Counter::kIsRate);
}

void BM_X25519Keygen(benchmark::State& state) {
  std::uint8_t k[32] = {9};
  for (auto _ : state) {
    k[1]++;
    EVP_PKEY* p = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, k, 32);
    benchmark::DoNotOptimize(p);
    EVP_PKEY_free(p);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void BM_Handshake(benchmark::State& state) {
  BenchRng rng_a, rng_b;
  BenchWall wall_a, wall_b;
  Device a(rng_a, wall_a), b(rng_b, wall_b);
  Key32 ka{}, kb{};
  ka[0] = 1;
  kb[0] = 2;
  (void)a.set_private_key(ka);
  (void)b.set_private_key(kb);
  const Endpoint ea{*IpAddress::parse("192.0.2.1"), 1}, eb{*IpAddress::parse("192.0.2.2"), 2};
  PeerConfig ca;
  ca.public_key = b.public_key();
  ca.endpoint = eb;
  const PeerId pa = a.add_peer(ca).value();
  PeerConfig cb;
  cb.public_key = a.public_key();
  (void)b.add_peer(cb).value();
  LastDatagram to_b, to_a;
  Nanos now = 1000s;
  std::uint64_t done = 0;
  for (auto _ : state) {
    // Initiations are spaced by REKEY_TIMEOUT and need a newer TAI64N: move both clocks.
    now += kRekeyTimeout + 1s;
    wall_a.t += 6s;
    a.initiate_handshake(now, pa, to_b);   // initiator: create initiation
    b.receive(now, ea, to_b.bytes, to_a);  // responder: consume, create response
    a.receive(now, eb, to_a.bytes, to_b);  // initiator: consume response -> keepalive
    done += to_b.bytes.size() == TransportHeader::kMinMessage;
  }
  if (done != static_cast<std::uint64_t>(state.iterations()))
    state.SkipWithError("handshake did not complete");
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["handshakes_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

}  // namespace

BENCHMARK(BM_X25519Derive);
BENCHMARK(BM_X25519Keygen);
BENCHMARK(BM_Handshake);
