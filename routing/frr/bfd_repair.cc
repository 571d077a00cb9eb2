// SPDX-License-Identifier: Apache-2.0
// The BFD registration watchdog (frr_config.h): FRR 8.4's bgpd can leave an Established
// neighbour's BFD session unregistered with bfdd; this finds such neighbours from FRR's own
// JSON and configures their BFD again.
#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>

#include "frr/frr_config.h"

namespace causeway::rt::frr {

std::vector<std::string> unregistered_bfd_neighbors(const std::string& neighbors_json,
                                                    const std::string& bfd_peers_json,
                                                    const std::vector<std::string>& wanted,
                                                    std::chrono::milliseconds grace) {
  const auto neighbors = nlohmann::json::parse(neighbors_json, nullptr, false);
  const auto peers = nlohmann::json::parse(bfd_peers_json, nullptr, false);
  std::vector<std::string> out;
  // Unreadable output is no evidence of anything: repair nothing.
  if (!neighbors.is_object() || !peers.is_array()) return out;
  std::set<std::string> in_bfdd;
  for (const auto& p : peers) {
    if (p.is_object() && p.contains("peer") && p["peer"].is_string()) {
      in_bfdd.insert(p["peer"].get<std::string>());
    }
  }
  for (const std::string& address : wanted) {
    auto it = neighbors.find(address);
    if (it == neighbors.end() || !it->is_object()) continue;
    const auto& n = *it;
    if (n.value("bgpState", "") != "Established") continue;
    const auto up = n.find("bgpTimerUpMsec");
    if (up == n.end() || !up->is_number() || up->get<double>() < static_cast<double>(grace.count()))
      continue;
    if (!n.contains("peerBfdInfo")) continue;  // BFD not configured in bgpd (yet)
    if (in_bfdd.count(address) != 0) continue;
    out.push_back(address);
  }
  return out;
}

Result<std::vector<std::string>> FrrApplier::repair_bfd(const intent::Intent& intent,
                                                        std::chrono::milliseconds grace) {
  std::vector<std::string> wanted;
  for (const auto& n : intent.bgp.neighbors) {
    if (n.bfd) wanted.push_back(n.address.str());
  }
  if (wanted.empty()) return std::vector<std::string>{};
  const CommandResult neighbors = runner_(vtysh_args({"-c", "show bgp neighbors json"}));
  if (neighbors.exit_code != 0) return fail("vtysh show bgp neighbors json failed", EIO);
  const CommandResult peers = runner_(vtysh_args({"-c", "show bfd peers json"}));
  if (peers.exit_code != 0) return fail("vtysh show bfd peers json failed", EIO);
  const auto lost = unregistered_bfd_neighbors(neighbors.out, peers.out, wanted, grace);
  if (lost.empty()) return lost;
  std::vector<std::string> rest{"-c", "configure terminal", "-c",
                                "router bgp " + std::to_string(intent.bgp.asn)};
  for (const std::string& a : lost) {
    for (const std::string& line : {"no neighbor " + a + " bfd", "neighbor " + a + " bfd",
                                    "neighbor " + a + " bfd profile " + kBfdProfile}) {
      rest.push_back("-c");
      rest.push_back(line);
    }
  }
  const CommandResult r = runner_(vtysh_args(rest));
  if (r.exit_code != 0) {
    return fail("re-configuring BFD of " + lost.front() + " failed: " + r.err + r.out, EIO);
  }
  return lost;
}

}  // namespace causeway::rt::frr
