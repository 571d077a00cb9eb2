// SPDX-License-Identifier: Apache-2.0
// SLA probe wire format (include/causeway/fwd/probe.h): golden bytes, round trips, the reply
// made in place, and every malformed form rejected with its reason (never a read past the end).
#include <catch2/catch.hpp>

#include <cstring>
#include <random>
#include <vector>

#include "causeway/fwd/probe.h"

using namespace causeway;
using namespace causeway::fwd;

namespace {

IpAddress addr(const char* text) {
  return *IpAddress::parse(text);
}

probe::Payload request(std::uint32_t seq, std::uint64_t tx) {
  probe::Payload p;
  p.type = probe::Type::kRequest;
  p.seq = seq;
  p.sender_tx_ns = tx;
  return p;
}

std::vector<std::uint8_t> packet(const char* src, const char* dst, const probe::Payload& p) {
  std::vector<std::uint8_t> out(probe::packet_size(addr(dst).is_v4()));
  REQUIRE(probe::build_packet(addr(src), addr(dst), p, out) == out.size());
  return out;
}

}  // namespace

TEST_CASE("probe payload: golden bytes and round trip", "[probe]") {
  probe::Payload p;
  p.type = probe::Type::kReply;
  p.seq = 0x01020304;
  p.sender_tx_ns = 0x1112131415161718;
  p.reflector_rx_ns = 0x2122232425262728;
  p.reflector_tx_ns = 0x3132333435363738;
  std::uint8_t bytes[probe::kPayloadSize];
  probe::encode(p, bytes);
  const std::uint8_t golden[probe::kPayloadSize] = {
      'C',  'W',  'P',  'R',  1,    2,    0,    0,    1,    2,    3,    4,
      0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x21, 0x22, 0x23, 0x24,
      0x25, 0x26, 0x27, 0x28, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38};
  CHECK(std::memcmp(bytes, golden, sizeof golden) == 0);
  probe::Payload back;
  REQUIRE(probe::decode(bytes, back) == probe::ParseError::kNone);
  CHECK(back.type == probe::Type::kReply);
  CHECK(back.seq == p.seq);
  CHECK(back.sender_tx_ns == p.sender_tx_ns);
  CHECK(back.reflector_rx_ns == p.reflector_rx_ns);
  CHECK(back.reflector_tx_ns == p.reflector_tx_ns);
}

TEST_CASE("probe payload: malformed payloads name their reason", "[probe]") {
  std::uint8_t good[probe::kPayloadSize];
  probe::encode(request(7, 99), good);
  probe::Payload out;
  for (std::size_t n = 0; n < probe::kPayloadSize; ++n) {
    CHECK(probe::decode(std::span(good, n), out) == probe::ParseError::kTruncated);
  }
  std::uint8_t bad[probe::kPayloadSize];
  std::memcpy(bad, good, sizeof bad);
  bad[3] = 'X';
  CHECK(probe::decode(bad, out) == probe::ParseError::kBadMagic);
  std::memcpy(bad, good, sizeof bad);
  bad[4] = 2;
  CHECK(probe::decode(bad, out) == probe::ParseError::kBadVersion);
  for (std::uint8_t type : {0, 3, 255}) {
    std::memcpy(bad, good, sizeof bad);
    bad[5] = type;
    CHECK(probe::decode(bad, out) == probe::ParseError::kBadType);
  }
  // Reserved bytes are ignored; a longer payload is accepted.
  std::uint8_t longer[probe::kPayloadSize + 8] = {};
  std::memcpy(longer, good, sizeof good);
  longer[6] = 0xff;
  CHECK(probe::decode(longer, out) == probe::ParseError::kNone);
  CHECK(out.seq == 7);
}

TEST_CASE("probe packet: IPv4 and IPv6 build, parse, reflect", "[probe]") {
  for (const auto& [src, dst] :
       {std::pair{"10.255.0.1", "10.255.0.2"}, std::pair{"fd00:ff::1", "fd00:ff::2"}}) {
    INFO(src);
    const bool v4 = addr(src).is_v4();
    auto pkt = packet(src, dst, request(42, 1000));
    CHECK(pkt.size() == (v4 ? 64u : 84u));
    CHECK(probe::is_probe_port(pkt.data(), pkt.size()));
    probe::Parsed parsed;
    REQUIRE(probe::parse_packet(pkt, parsed) == probe::ParseError::kNone);
    CHECK(parsed.payload.type == probe::Type::kRequest);
    CHECK(parsed.payload.seq == 42);
    CHECK(parsed.payload.sender_tx_ns == 1000);
    CHECK(parsed.udp_offset == (v4 ? 20u : 40u));
    CHECK(parsed.udp_len == 44u);
    if (v4) {
      CHECK(probe::detail::fold(probe::detail::sum16(0, pkt.data(), 20)) == 0);  // header sum
      CHECK((load_be16(pkt.data() + 6) & 0x4000) != 0);                          // DF
    }

    probe::make_reply(pkt, parsed, 5000, 5300);
    probe::Parsed reply;
    REQUIRE(probe::parse_packet(pkt, reply) == probe::ParseError::kNone);  // checksums valid
    CHECK(reply.payload.type == probe::Type::kReply);
    CHECK(reply.payload.seq == 42);
    CHECK(reply.payload.sender_tx_ns == 1000);
    CHECK(reply.payload.reflector_rx_ns == 5000);
    CHECK(reply.payload.reflector_tx_ns == 5300);
    // Addresses swapped: the reply goes back to the sender.
    const auto expect = packet(dst, src, request(0, 0));
    const std::size_t a = v4 ? 12 : 8, n = v4 ? 8 : 32;
    CHECK(std::memcmp(pkt.data() + a, expect.data() + a, n) == 0);
    // 10 ms out and back, the reflector held it 300 ns.
    CHECK(probe::round_trip_ns(reply.payload, 1000 + 10'000'000) == 10'000'000 - 300);
  }
}

TEST_CASE("probe packet: round trip with inconsistent reflector stamps", "[probe]") {
  probe::Payload r = request(1, 100);
  r.type = probe::Type::kReply;
  r.reflector_rx_ns = 50;
  r.reflector_tx_ns = 40;  // backwards: ignored
  CHECK(probe::round_trip_ns(r, 1100) == 1000);
  r.reflector_tx_ns = 50 + 5000;  // held longer than the round trip: ignored
  CHECK(probe::round_trip_ns(r, 1100) == 1000);
  CHECK(probe::round_trip_ns(r, 50) == 0);  // received before it was sent
}

TEST_CASE("probe packet: malformed packets are rejected with a reason", "[probe]") {
  const auto good4 = packet("10.255.0.1", "10.255.0.2", request(1, 2));
  const auto good6 = packet("fd00:ff::1", "fd00:ff::2", request(1, 2));
  probe::Parsed out;
  auto with = [](std::vector<std::uint8_t> p, std::size_t at, std::uint8_t v) {
    p[at] = v;
    return p;
  };
  // Not a probe: other protocol, other port, a fragment.
  CHECK(probe::parse_packet(with(good4, 9, 6), out) == probe::ParseError::kNotProbe);
  CHECK(probe::parse_packet(with(good4, 23, 1), out) == probe::ParseError::kNotProbe);
  CHECK(probe::parse_packet(with(good4, 7, 1), out) == probe::ParseError::kNotProbe);
  CHECK(probe::parse_packet(with(good6, 6, 58), out) == probe::ParseError::kNotProbe);
  // Every truncation.
  for (const auto* good : {&good4, &good6}) {
    for (std::size_t n = 0; n < good->size(); ++n) {
      const auto e = probe::parse_packet(std::span(good->data(), n), out);
      CHECK((e == probe::ParseError::kTruncated || e == probe::ParseError::kNotProbe));
    }
  }
  // Lengths that disagree.
  CHECK(probe::parse_packet(with(good4, 3, 200), out) == probe::ParseError::kTruncated);
  CHECK(probe::parse_packet(with(good4, 25, 8), out) == probe::ParseError::kTruncated);
  CHECK(probe::parse_packet(with(good4, 25, 60), out) == probe::ParseError::kTruncated);
  CHECK(probe::parse_packet(with(good4, 0, 0x44), out) == probe::ParseError::kNotProbe);
  CHECK(probe::parse_packet(with(good6, 5, 200), out) == probe::ParseError::kTruncated);
  // Checksums: a flipped payload bit; zero over IPv6 (mandatory); zero over IPv4 is allowed.
  CHECK(probe::parse_packet(with(good4, 40, good4[40] ^ 1), out) ==
        probe::ParseError::kBadChecksum);
  auto zero6 = with(with(good6, 46, 0), 47, 0);
  CHECK(probe::parse_packet(zero6, out) == probe::ParseError::kBadChecksum);
  auto zero4 = with(with(good4, 26, 0), 27, 0);
  CHECK(probe::parse_packet(zero4, out) == probe::ParseError::kNone);
  // A bad payload under a valid checksum.
  auto rebuilt = [](std::vector<std::uint8_t> p, std::size_t at, std::uint8_t v) {
    p[at] = v;
    const bool v4 = (p[0] >> 4) == 4;
    std::uint8_t* udp = p.data() + (v4 ? 20 : 40);
    store_be16(udp + 6, 0);
    store_be16(udp + 6, probe::detail::udp_checksum(p.data(), v4, udp, 44));
    return p;
  };
  CHECK(probe::parse_packet(rebuilt(good4, 28, 'X'), out) == probe::ParseError::kBadMagic);
  CHECK(probe::parse_packet(rebuilt(good6, 48 + 4, 9), out) == probe::ParseError::kBadVersion);
  CHECK(probe::parse_packet(rebuilt(good4, 28 + 5, 7), out) == probe::ParseError::kBadType);
}

TEST_CASE("probe packet: random bytes and mutations never read out of bounds", "[probe]") {
  std::mt19937 rng(7783);
  const auto good = packet("10.255.0.1", "10.255.0.2", request(1, 2));
  probe::Parsed out;
  std::size_t accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    std::vector<std::uint8_t> p = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < flips; ++k) p[rng() % p.size()] = static_cast<std::uint8_t>(rng());
    p.resize(rng() % (p.size() + 1));
    // An exact-size copy on the heap: ASan reports any read past it.
    std::vector<std::uint8_t> exact(p.begin(), p.end());
    if (probe::parse_packet(exact, out) == probe::ParseError::kNone) ++accepted;
  }
  CHECK(accepted < 20000);
}
