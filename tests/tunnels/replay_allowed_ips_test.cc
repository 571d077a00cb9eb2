// SPDX-License-Identifier: Apache-2.0
// Replay window (RFC 6479 style) edge cases and cryptokey-routing longest-prefix match.
#include <catch2/catch.hpp>

#include "causeway/tun/allowed_ips.h"
#include "replay.h"

using namespace causeway;
using namespace causeway::tun;

TEST_CASE("replay window: fresh, duplicate, out of order", "[replay]") {
  ReplayWindow w;
  CHECK(w.check_and_update(0));
  CHECK_FALSE(w.check_and_update(0));
  CHECK(w.check_and_update(2));
  CHECK(w.check_and_update(1));
  CHECK_FALSE(w.check_and_update(1));
  CHECK_FALSE(w.check_and_update(2));
  for (std::uint64_t i = 3; i < 10000; ++i) REQUIRE(w.check_and_update(i));
  for (std::uint64_t i = 0; i < 10000; ++i) REQUIRE_FALSE(w.check_and_update(i));
}

TEST_CASE("replay window: exact window edge", "[replay]") {
  static_assert(kReplayWindowSize >= 2048, "issue 4: window of at least 2048");
  for (std::uint64_t top : {kReplayWindowSize + 5, std::uint64_t{100000}, std::uint64_t{100063},
                            std::uint64_t{100064}}) {
    ReplayWindow w;
    REQUIRE(w.check_and_update(top));
    CHECK(w.check_and_update(top - kReplayWindowSize));            // oldest still inside
    CHECK_FALSE(w.check_and_update(top - kReplayWindowSize));      // ... and now seen
    CHECK_FALSE(w.check_and_update(top - kReplayWindowSize - 1));  // just outside
    CHECK(w.check_and_update(top - 1));
    // All in-window counters not yet seen are accepted exactly once.
    for (std::uint64_t c = top - kReplayWindowSize + 1; c < top - 1; ++c) {
      REQUIRE(w.check_and_update(c));
      REQUIRE_FALSE(w.check_and_update(c));
    }
  }
}

TEST_CASE("replay window: large jump forgets the old window", "[replay]") {
  ReplayWindow w;
  for (std::uint64_t i = 0; i < 100; ++i) REQUIRE(w.check_and_update(i));
  REQUIRE(w.check_and_update(1'000'000));
  CHECK_FALSE(w.check_and_update(50));  // far left of the window
  CHECK(w.check_and_update(1'000'000 - 64));
  CHECK(w.check_and_update(1'000'000 + 1));
  // A jump of exactly one ring does not leave stale bits behind.
  ReplayWindow v;
  REQUIRE(v.check_and_update(64));
  REQUIRE(v.check_and_update(64 + 64 * kReplayRingBlocks));
  CHECK(v.check_and_update(64 + 64 * kReplayRingBlocks - 64));
}

TEST_CASE("replay window: counter limit REJECT_AFTER_MESSAGES", "[replay]") {
  ReplayWindow w;
  CHECK(w.check_and_update(kRejectAfterMessages - 1));
  CHECK_FALSE(w.check_and_update(kRejectAfterMessages));
  CHECK_FALSE(w.check_and_update(~0ull));
}

namespace {
IpPrefix P(const char* s) {
  return *IpPrefix::parse(s);
}
IpAddress A(const char* s) {
  return *IpAddress::parse(s);
}
}  // namespace

TEST_CASE("allowed IPs: IPv4 longest-prefix match", "[allowed_ips]") {
  AllowedIps t;
  const PeerId p1(1), p2(2), p3(3);
  t.insert(P("10.0.0.0/8"), p1);
  t.insert(P("10.1.0.0/16"), p2);
  t.insert(P("10.1.2.3/32"), p3);
  CHECK(t.lookup(A("10.9.9.9")) == p1);
  CHECK(t.lookup(A("10.1.9.9")) == p2);
  CHECK(t.lookup(A("10.1.2.3")) == p3);
  CHECK(t.lookup(A("10.1.2.4")) == p2);
  CHECK_FALSE(t.lookup(A("11.0.0.1")).valid());
  CHECK_FALSE(t.lookup(A("::1")).valid());
  t.insert(P("0.0.0.0/0"), p3);
  CHECK(t.lookup(A("11.0.0.1")) == p3);
  CHECK(t.size() == 4);
}

TEST_CASE("allowed IPs: IPv6, host bits, moves and removal", "[allowed_ips]") {
  AllowedIps t;
  const PeerId p1(1), p2(2);
  t.insert(P("2001:db8::ff/32"), p1);  // host bits ignored
  t.insert(P("2001:db8:1::/48"), p2);
  CHECK(t.lookup(A("2001:db8::1")) == p1);
  CHECK(t.lookup(A("2001:db8:1::1")) == p2);
  CHECK_FALSE(t.lookup(A("2001:db9::1")).valid());
  // A prefix belongs to one peer: inserting it for p2 moves it.
  t.insert(P("2001:db8::/32"), p2);
  CHECK(t.lookup(A("2001:db8::1")) == p2);
  CHECK(t.size() == 2);
  CHECK_FALSE(t.remove(P("2001:db8::/32"), p1));
  CHECK(t.remove(P("2001:db8::/32"), p2));
  CHECK_FALSE(t.lookup(A("2001:db8::1")).valid());
  CHECK(t.lookup(A("2001:db8:1::1")) == p2);
  t.insert(P("10.0.0.0/24"), p1);
  t.insert(P("::/0"), p1);
  auto mine = t.prefixes_of(p1);
  REQUIRE(mine.size() == 2);
  CHECK(mine[0] == P("10.0.0.0/24"));
  CHECK(mine[1] == P("::/0"));
  t.remove_peer(p1);
  CHECK_FALSE(t.lookup(A("10.0.0.1")).valid());
  CHECK_FALSE(t.lookup(A("3000::1")).valid());
  CHECK(t.size() == 1);
}

TEST_CASE("allowed IPs: randomized cross-check against a linear longest-prefix match",
          "[allowed_ips]") {
  std::uint64_t s = 0x9e3779b97f4a7c15ull;
  auto rnd = [&] {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
  };
  for (int family = 0; family < 2; ++family) {
    const bool v4 = family == 0;
    const unsigned max_len = v4 ? 32 : 128;
    AllowedIps t;
    std::vector<std::pair<IpPrefix, PeerId>> ref;
    auto random_addr = [&] {
      IpAddress a;
      a.family = v4 ? Family::kV4 : Family::kV6;
      // Few distinct leading bytes so prefixes nest and share paths.
      for (unsigned i = 0; i < a.size(); ++i) a.bytes[i] = static_cast<std::uint8_t>(rnd() & 0x83);
      return a;
    };
    for (int i = 0; i < 300; ++i) {
      IpPrefix p{random_addr(), static_cast<std::uint8_t>(rnd() % (max_len + 1))};
      p = p.masked();
      const PeerId peer(static_cast<std::uint32_t>(rnd() % 7));
      if (rnd() % 5 == 0 && !ref.empty()) {  // remove an existing one
        auto& [rp, rpeer] = ref[rnd() % ref.size()];
        REQUIRE(t.remove(rp, rpeer) == rpeer.valid());
        rpeer = PeerId::invalid();
        continue;
      }
      t.insert(p, peer);
      bool replaced = false;
      for (auto& [rp, rpeer] : ref) {
        if (rp == p) rpeer = peer, replaced = true;
      }
      if (!replaced) ref.emplace_back(p, peer);
    }
    std::size_t live = 0;
    for (const auto& entry : ref) live += entry.second.valid() ? 1 : 0;
    CHECK(t.size() == live);
    for (int i = 0; i < 3000; ++i) {
      const IpAddress a = random_addr();
      PeerId want;
      int best = -1;
      for (const auto& [rp, rpeer] : ref) {
        if (rpeer.valid() && rp.contains(a) && rp.len > best) best = rp.len, want = rpeer;
      }
      REQUIRE(t.lookup(a) == want);
    }
  }
}
