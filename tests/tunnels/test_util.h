// SPDX-License-Identifier: Apache-2.0
// Helpers shared by the tunnels tests: hex conversion, a deterministic RNG, a fake wall clock
// and an ActionSink that records what the core asked for.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "causeway/tun/device.h"

namespace causeway::tun::test {

inline std::vector<std::uint8_t> unhex(std::string_view s) {
  std::vector<std::uint8_t> out;
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (std::size_t i = 0; i + 1 < s.size(); i += 2) {
    out.push_back(static_cast<std::uint8_t>(nib(s[i]) * 16 + nib(s[i + 1])));
  }
  return out;
}
template <std::size_t N>
std::array<std::uint8_t, N> unhex_array(std::string_view s) {
  std::array<std::uint8_t, N> a{};
  auto v = unhex(s);
  std::memcpy(a.data(), v.data(), std::min(N, v.size()));
  return a;
}
template <typename Range>
std::string hex(const Range& r) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string s;
  for (std::uint8_t b : r) {
    s += kHex[b >> 4];
    s += kHex[b & 15];
  }
  return s;
}

// A deterministic key (a private key is any 32 bytes; X25519 clamps it).
inline Key32 key_from(std::uint8_t seed) {
  Key32 k;
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(seed * 31 + i);
  return k;
}

// xorshift64*: deterministic, seeded per test.
class FakeRng final : public Rng {
 public:
  explicit FakeRng(std::uint64_t seed) : state_(seed | 1) {}
  void fill(std::span<std::uint8_t> out) override {
    for (auto& b : out) {
      state_ ^= state_ >> 12;
      state_ ^= state_ << 25;
      state_ ^= state_ >> 27;
      b = static_cast<std::uint8_t>((state_ * 2685821657736338717ull) >> 56);
    }
  }

 private:
  std::uint64_t state_;
};

class FakeWallClock final : public WallClock {
 public:
  std::chrono::system_clock::time_point now{std::chrono::seconds(1700000000)};
  std::chrono::system_clock::time_point wall_now() override { return now; }
};

struct Datagram {
  Endpoint to;
  std::vector<std::uint8_t> bytes;
};
struct Delivered {
  PeerId peer;
  std::vector<std::uint8_t> bytes;
};

class RecordingSink final : public ActionSink {
 public:
  std::vector<Datagram> sent;
  std::vector<Delivered> delivered;
  void send_datagram(const Endpoint& to, std::span<const std::uint8_t> d) override {
    sent.push_back({to, {d.begin(), d.end()}});
  }
  void deliver(PeerId from, std::span<const std::uint8_t> p) override {
    delivered.push_back({from, {p.begin(), p.end()}});
  }
  void clear() {
    sent.clear();
    delivered.clear();
  }
};

// A minimal IPv4 packet (header checksum left zero: the core does not check it).
inline std::vector<std::uint8_t> ipv4_packet(std::string_view src, std::string_view dst,
                                             std::size_t payload_len, std::uint8_t fill = 0xab) {
  std::vector<std::uint8_t> p(20 + payload_len, fill);
  const auto total = static_cast<std::uint16_t>(p.size());
  p[0] = 0x45;
  p[1] = 0;
  p[2] = static_cast<std::uint8_t>(total >> 8);
  p[3] = static_cast<std::uint8_t>(total);
  std::memset(&p[4], 0, 8);
  p[8] = 64;
  p[9] = 17;
  auto s = IpAddress::parse(src);
  auto d = IpAddress::parse(dst);
  std::memcpy(&p[12], s->bytes.data(), 4);
  std::memcpy(&p[16], d->bytes.data(), 4);
  return p;
}

inline std::vector<std::uint8_t> ipv6_packet(std::string_view src, std::string_view dst,
                                             std::size_t payload_len) {
  std::vector<std::uint8_t> p(40 + payload_len, 0xcd);
  p[0] = 0x60;
  p[1] = p[2] = p[3] = 0;
  p[4] = static_cast<std::uint8_t>(payload_len >> 8);
  p[5] = static_cast<std::uint8_t>(payload_len);
  p[6] = 17;
  p[7] = 64;
  auto s = IpAddress::parse(src);
  auto d = IpAddress::parse(dst);
  std::memcpy(&p[8], s->bytes.data(), 16);
  std::memcpy(&p[24], d->bytes.data(), 16);
  return p;
}

}  // namespace causeway::tun::test
