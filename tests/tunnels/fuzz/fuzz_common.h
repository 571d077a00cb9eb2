// SPDX-License-Identifier: Apache-2.0
// Shared set-up of the tunnels fuzz targets: two devices with fixed keys and a deterministic
// RNG, so a crash reproduces from its input alone.
#pragma once

#include <cstring>
#include <vector>

#include "causeway/tun/device.h"

namespace causeway::tun::fuzz {

class FuzzRng final : public Rng {
 public:
  void fill(std::span<std::uint8_t> out) override {
    for (auto& b : out) {
      s_ = s_ * 6364136223846793005ull + 1442695040888963407ull;
      b = static_cast<std::uint8_t>(s_ >> 56);
    }
  }
  std::uint64_t s_ = 1;
};
class FuzzWall final : public WallClock {
 public:
  std::chrono::system_clock::time_point t{std::chrono::seconds(1700000000)};
  std::chrono::system_clock::time_point wall_now() override { return t; }
};
class Capture final : public ActionSink {
 public:
  std::vector<std::vector<std::uint8_t>> sent;
  std::vector<std::vector<std::uint8_t>> delivered;
  void send_datagram(const Endpoint&, std::span<const std::uint8_t> d) override {
    if (sent.size() < 64) sent.emplace_back(d.begin(), d.end());
  }
  void deliver(PeerId, std::span<const std::uint8_t> p) override {
    if (delivered.size() < 64) delivered.emplace_back(p.begin(), p.end());
  }
};

inline Key32 fixed_key(std::uint8_t seed) {
  Key32 k;
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(seed * 17 + i);
  return k;
}

// Initiator a and responder b, each knowing the other; nothing exchanged yet.
struct Pair {
  FuzzRng rng_a, rng_b;
  FuzzWall wall_a, wall_b;
  Device a{rng_a, wall_a}, b{rng_b, wall_b};
  PeerId pa, pb;
  Endpoint ea{*IpAddress::parse("192.0.2.1"), 1000}, eb{*IpAddress::parse("192.0.2.2"), 2000};
  Nanos now = std::chrono::seconds(1000);

  explicit Pair(std::uint32_t under_load = 1000) {
    DeviceConfig ca, cb;
    ca.private_key = fixed_key(1);
    cb.private_key = fixed_key(2);
    cb.under_load_handshakes_per_second = under_load;
    (void)a.configure(ca);
    (void)b.configure(cb);
    PeerConfig pca;
    pca.public_key = b.public_key();
    pca.endpoint = eb;
    pca.allowed_ips = {*IpPrefix::parse("10.0.0.0/24"), *IpPrefix::parse("fd00::/64")};
    pa = a.add_peer(pca).value();
    PeerConfig pcb;
    pcb.public_key = a.public_key();
    pcb.endpoint = ea;
    pcb.allowed_ips = {*IpPrefix::parse("10.0.1.0/24"), *IpPrefix::parse("fd01::/64")};
    pb = b.add_peer(pcb).value();
  }
  void establish() {
    Capture ca, cb;
    a.initiate_handshake(now, pa, ca);
    for (int round = 0; round < 4; ++round) {
      for (auto& d : ca.sent) b.receive(now, ea, d, cb);
      ca.sent.clear();
      for (auto& d : cb.sent) a.receive(now, eb, d, ca);
      cb.sent.clear();
    }
  }
};

}  // namespace causeway::tun::fuzz
