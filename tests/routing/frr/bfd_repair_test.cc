// SPDX-License-Identifier: Apache-2.0
// routing/frr BFD registration watchdog: which neighbours count as never registered (from
// FRR 8.4's JSON as bgpd and bfdd print it), and the exact vtysh commands of a repair.
#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "frr/frr_config.h"

namespace causeway::rt::frr {
namespace {

using namespace std::chrono_literals;
using Argv = std::vector<std::string>;

// `show bgp neighbors json` (trimmed to the fields read) with a carrier Established for 25 s,
// one Established for 3 s, one in Active, one Established without BFD configured.
const char kNeighbors[] = R"({
  "192.0.2.2": {"bgpState": "Established", "bgpTimerUpMsec": 25000,
                "peerBfdInfo": {"type": "single hop", "status": "Unknown", "lastUpdate": "never"}},
  "192.0.2.6": {"bgpState": "Established", "bgpTimerUpMsec": 3000,
                "peerBfdInfo": {"type": "single hop", "status": "Unknown", "lastUpdate": "never"}},
  "192.0.2.10": {"bgpState": "Active", "bgpTimerUpMsec": null,
                 "peerBfdInfo": {"type": "single hop", "status": "Unknown", "lastUpdate": "never"}},
  "192.0.2.14": {"bgpState": "Established", "bgpTimerUpMsec": 60000}
})";

TEST_CASE("unregistered BFD: Established past the grace time, BFD configured, no bfdd peer") {
  const std::vector<std::string> wanted{"192.0.2.2", "192.0.2.6", "192.0.2.10", "192.0.2.14",
                                        "192.0.2.99"};
  CHECK(unregistered_bfd_neighbors(kNeighbors, "[]", wanted, 10s) ==
        std::vector<std::string>{"192.0.2.2"});
  // bfdd has the peer (whatever its state): registered, nothing to repair.
  CHECK(unregistered_bfd_neighbors(kNeighbors, R"([{"peer": "192.0.2.2", "status": "down"}])",
                                   wanted, 10s)
            .empty());
  // A shorter grace time includes the young session too.
  CHECK(unregistered_bfd_neighbors(kNeighbors, "[]", wanted, 1s) ==
        std::vector<std::string>{"192.0.2.2", "192.0.2.6"});
  // Only addresses the intent asks BFD for.
  CHECK(unregistered_bfd_neighbors(kNeighbors, "[]", {"192.0.2.14"}, 1s).empty());
}

TEST_CASE("unregistered BFD: unreadable output repairs nothing") {
  const std::vector<std::string> wanted{"192.0.2.2"};
  CHECK(unregistered_bfd_neighbors("% Unknown command", "[]", wanted, 1s).empty());
  CHECK(unregistered_bfd_neighbors(kNeighbors, "bfdd is not running", wanted, 1s).empty());
  CHECK(unregistered_bfd_neighbors("[]", "{}", wanted, 1s).empty());
  CHECK(unregistered_bfd_neighbors(R"({"192.0.2.2": 5})", "[]", wanted, 1s).empty());
  CHECK(unregistered_bfd_neighbors(R"({"192.0.2.2": {"bgpState": "Established",
      "bgpTimerUpMsec": "soon", "peerBfdInfo": {}}})",
                                   "[]", wanted, 1s)
            .empty());
}

intent::Intent intent_with_bfd() {
  intent::Intent in;
  in.bgp.asn = 65001;
  intent::BgpNeighbor carrier;
  carrier.name = "noc";
  carrier.address = IpAddress::parse("192.0.2.2").value();
  carrier.asn = 64500;
  carrier.bfd = true;
  in.bgp.neighbors.push_back(carrier);
  intent::BgpNeighbor plain = carrier;
  plain.name = "other";
  plain.address = IpAddress::parse("192.0.2.6").value();
  plain.bfd = false;
  in.bgp.neighbors.push_back(plain);
  return in;
}

TEST_CASE("repair_bfd reads bgpd and bfdd, then configures BFD of the lost neighbour again") {
  std::vector<Argv> calls;
  std::string bfd_peers = "[]";
  auto runner = [&](const Argv& argv) {
    calls.push_back(argv);
    if (argv.back() == "show bgp neighbors json") return CommandResult{0, kNeighbors, ""};
    if (argv.back() == "show bfd peers json") return CommandResult{0, bfd_peers, ""};
    return CommandResult{0, "", ""};
  };
  ApplyOptions o;
  o.vtysh = "vtysh";
  o.pathspace = "pop1";
  FrrApplier applier(o, runner);
  auto r = applier.repair_bfd(intent_with_bfd());
  REQUIRE(r);
  CHECK(r.value() == std::vector<std::string>{"192.0.2.2"});
  REQUIRE(calls.size() == 3);
  CHECK(calls[0] == Argv{"vtysh", "-N", "pop1", "-c", "show bgp neighbors json"});
  CHECK(calls[1] == Argv{"vtysh", "-N", "pop1", "-c", "show bfd peers json"});
  CHECK(calls[2] == Argv{"vtysh", "-N", "pop1", "-c", "configure terminal", "-c",
                         "router bgp 65001", "-c", "no neighbor 192.0.2.2 bfd", "-c",
                         "neighbor 192.0.2.2 bfd", "-c",
                         "neighbor 192.0.2.2 bfd profile causeway"});

  SECTION("registered: two reads, no change") {
    calls.clear();
    bfd_peers = R"([{"peer": "192.0.2.2", "status": "up"}])";
    auto again = applier.repair_bfd(intent_with_bfd());
    REQUIRE(again);
    CHECK(again.value().empty());
    CHECK(calls.size() == 2);
  }
}

TEST_CASE("repair_bfd: no BFD neighbour in the intent runs nothing; a failing vtysh is an error") {
  std::size_t calls = 0;
  int exit_code = 0;
  auto runner = [&](const Argv&) {
    ++calls;
    return CommandResult{exit_code, "", "vtysh: error"};
  };
  FrrApplier applier(ApplyOptions{}, runner);
  intent::Intent none = intent_with_bfd();
  none.bgp.neighbors[0].bfd = false;
  auto r = applier.repair_bfd(none);
  REQUIRE(r);
  CHECK(r.value().empty());
  CHECK(calls == 0);
  exit_code = 1;
  CHECK_FALSE(applier.repair_bfd(intent_with_bfd()));
}

}  // namespace
}  // namespace causeway::rt::frr
