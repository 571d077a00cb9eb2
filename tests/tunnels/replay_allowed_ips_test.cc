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
