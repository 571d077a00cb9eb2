// SPDX-License-Identifier: Apache-2.0
// routing/frr rendering: frr.conf for the documented example and for an IPv6-only PoP
// compared line by line with golden files (tests/routing/frr/golden; regenerate with
// CAUSEWAY_UPDATE_GOLDEN=1 and review the difference); SLA states change only the
// communities; the SLA update fragment.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "frr/frr_config.h"

namespace causeway::rt::frr {
namespace {

using intent::SlaState;

const std::string kSource = CAUSEWAY_SOURCE_DIR;
const std::string kGolden = kSource + "/tests/routing/frr/golden/";

intent::Intent load(const std::string& path) {
  auto parsed = intent::load_intent(path);
  INFO((parsed ? "" : parsed.error().message));
  REQUIRE(parsed);
  return parsed.value();
}

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

void check_golden(const std::string& rendered, const std::string& name) {
  const std::string path = kGolden + name;
  if (std::getenv("CAUSEWAY_UPDATE_GOLDEN") != nullptr) std::ofstream(path) << rendered;
  const std::string golden = read(path);
  REQUIRE_FALSE(golden.empty());
  std::istringstream a(rendered);
  std::istringstream b(golden);
  std::string la;
  std::string lb;
  int line = 0;
  while (true) {
    const bool more_a = static_cast<bool>(std::getline(a, la));
    const bool more_b = static_cast<bool>(std::getline(b, lb));
    ++line;
    if (!more_a && !more_b) break;
    INFO(name << " line " << line);
    REQUIRE(la == lb);
  }
}

TEST_CASE("the example intent renders the golden frr.conf") {
  const auto in = load(kSource + "/docs/examples/pop-intent.yaml");
  const std::string text = render_frr_conf(in);
  check_golden(text, "pop-intent.frr.conf");
  CHECK(render_frr_conf(in) == text);  // deterministic
  // An explicit all-compliant state renders the same text as no state at all.
  CHECK(render_frr_conf(in, {{"voice", SlaState::kCompliant}, {"erp", SlaState::kCompliant}}) ==
        text);
}

TEST_CASE("an IPv6 PoP with non-default settings renders its golden frr.conf") {
  const auto in = load(kGolden + "minimal-v6.yaml");
  check_golden(render_frr_conf(in, {{"voice", SlaState::kDown}}), "minimal-v6.frr.conf");
}

TEST_CASE("SLA states change only the community lines") {
  const auto in = load(kSource + "/docs/examples/pop-intent.yaml");
  const std::string compliant = render_frr_conf(in);
  const std::string degraded =
      render_frr_conf(in, {{"voice", SlaState::kDegraded}, {"erp", SlaState::kDown}});
  std::istringstream a(compliant);
  std::istringstream b(degraded);
  std::string la;
  std::string lb;
  std::vector<std::pair<std::string, std::string>> differing;
  while (std::getline(a, la) && std::getline(b, lb)) {
    if (la != lb) differing.emplace_back(la, lb);
  }
  REQUIRE(differing.size() == 4);  // community + large-community, in the v4 and v6 entries
  CHECK(differing[0] == std::pair<std::string, std::string>{" set community 65001:100 additive",
                                                            " set community 65001:101 additive"});
  CHECK(differing[1] ==
        std::pair<std::string, std::string>{" set large-community 65001:2:0 additive",
                                            " set large-community 65001:2:2 additive"});
  const auto down = carrier_communities(in, {{"voice", SlaState::kDown}});
  REQUIRE(down.size() == 3);
  CHECK(down[0].str() == "65001:102");
  CHECK(down[1].str() == "65001:1:102");
  CHECK(down[2].str() == "65001:2:0");
}

TEST_CASE("the SLA update fragment sets or clears the carrier communities") {
  const auto in = load(kGolden + "minimal-v6.yaml");
  // data has no degraded communities, voice none missing: the large list empties when both
  // classes are degraded.
  CHECK(render_sla_update(in, {{"voice", SlaState::kDegraded}, {"data", SlaState::kDegraded}}) ==
        "route-map CW-CARRIER-OUT permit 20\n"
        " set community 100:2 additive\n"
        " no set large-community\n"
        "exit\n");
  CHECK(render_sla_update(in, {}) ==
        "route-map CW-CARRIER-OUT permit 20\n"
        " set community 100:1 additive\n"
        " no set large-community\n"
        "exit\n");
  CHECK(render_sla_update(in, {{"data", SlaState::kDown}}) ==
        "route-map CW-CARRIER-OUT permit 20\n"
        " set community 100:1 additive\n"
        " set large-community 4200000001:2:3 additive\n"
        "exit\n");
}

}  // namespace
}  // namespace causeway::rt::frr
