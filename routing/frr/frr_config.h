// SPDX-License-Identifier: Apache-2.0
// FRR configuration of causeway-routed (DESIGN.md sections 1 and 4; docs/frr.md).
//
// render_frr_conf() turns a valid intent (plus the current SLA state of each traffic class)
// into FRR's integrated frr.conf: deterministic text, written in the form FRR itself prints
// in `show running-config`, so that frr-reload.py finds no difference between what was
// applied and what runs. FrrApplier writes that text, checks it, applies the difference with
// frr-reload.py and verifies the result; every FRR command goes through an injected
// CommandRunner, so tests run without FRR.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "causeway/common/result.h"
#include "intent/intent.h"

namespace causeway::rt::frr {

// Names of the objects the rendering owns in FRR's configuration.
constexpr char kCarrierOutRouteMap[] = "CW-CARRIER-OUT";
constexpr char kCarrierInRouteMap[] = "CW-CARRIER-IN";
constexpr char kAnnounceV4PrefixList[] = "CW-ANNOUNCE-V4";
constexpr char kAnnounceV6PrefixList[] = "CW-ANNOUNCE-V6";
constexpr char kBfdProfile[] = "causeway";

// SLA state per traffic class name; a class that is not listed counts as compliant.
using SlaStates = std::map<std::string, intent::SlaState>;

// The whole integrated frr.conf.
[[nodiscard]] std::string render_frr_conf(const intent::Intent& intent,
                                          const SlaStates& states = {});

// The communities carried by prefixes announced to carriers in these states: for each
// traffic class with sla_communities, in intent order, the communities of its state;
// repeats dropped.
[[nodiscard]] std::vector<intent::Community> carrier_communities(const intent::Intent& intent,
                                                                 const SlaStates& states);

// A vtysh fragment that changes only the communities of the carrier route-map (explicit
// `no set ...` where a state carries none). Applied with FrrApplier::apply_fragment when only
// SLA states changed; bgpd re-advertises after its route-map delay timer.
[[nodiscard]] std::string render_sla_update(const intent::Intent& intent, const SlaStates& states);

// ---- applying --------------------------------------------------------------------------------

struct CommandResult {
  int exit_code = 0;  // 128+signal when killed, 127 when the program could not be started
  std::string out;
  std::string err;
};
using CommandRunner = std::function<CommandResult(const std::vector<std::string>& argv)>;

// Runs argv (no shell) and collects its output; kills it after `timeout`.
[[nodiscard]] CommandResult run_command(
    const std::vector<std::string>& argv,
    std::chrono::milliseconds timeout = std::chrono::seconds(60));

struct ApplyOptions {
  std::string config_path = "/etc/frr/frr.conf";
  std::string pathspace;  // FRR instance (-N); empty for the default instance
  std::string vtysh = "/usr/bin/vtysh";
  std::string frr_reload = "/usr/lib/frr/frr-reload.py";  // Debian frr-pythontools
};

struct ApplyReport {
  std::vector<std::string> deleted;  // frr-reload.py "Lines To Delete" (before applying)
  std::vector<std::string> added;    // frr-reload.py "Lines To Add"
  [[nodiscard]] bool changed() const { return !deleted.empty() || !added.empty(); }
};

// FRR 8.4's bgpd sometimes never registers an Established neighbour's BFD session with bfdd:
// zebra counts no BFD registration from bgpd, `show bgp neighbors` says "Status: Unknown, Last
// update: never" and bfdd has no such peer, so BFD never comes up (seen in about one of five
// starts of the netns test). Configuring `neighbor X bfd` again registers it. These are the
// neighbours (of `wanted`, the ones the intent asks BFD for) in that state: Established for at
// least `grace`, with BFD configured in bgpd, and no bfdd peer of that address.
// `neighbors` is `show bgp neighbors json`, `bfd_peers` is `show bfd peers json`.
[[nodiscard]] std::vector<std::string> unregistered_bfd_neighbors(
    const std::string& neighbors_json, const std::string& bfd_peers_json,
    const std::vector<std::string>& wanted, std::chrono::milliseconds grace);

class FrrApplier {
 public:
  explicit FrrApplier(ApplyOptions options, CommandRunner runner = {});

  // Finds the intent's BFD neighbours that bgpd never registered with bfdd (above) and
  // configures their BFD again (`no neighbor X bfd`, `neighbor X bfd`, its profile): nothing
  // else changes and the BGP session is not touched. Returns the addresses repaired.
  // causeway-routed runs it periodically.
  [[nodiscard]] Result<std::vector<std::string>> repair_bfd(
      const intent::Intent& intent, std::chrono::milliseconds grace = std::chrono::seconds(10));

  // Applies a whole frr.conf: writes it to config_path + ".new", checks it (vtysh -C),
  // computes the difference to the running configuration (frr-reload.py --test), applies it
  // (frr-reload.py --reload), verifies that nothing is left to apply, and only then renames it
  // over config_path. On failure config_path keeps the previous configuration, the running
  // configuration is reloaded from it, and the error names the step with FRR's own message.
  [[nodiscard]] Result<ApplyReport> apply(const std::string& config_text);

  // Applies a fragment with `vtysh -f` (additive: for render_sla_update()).
  [[nodiscard]] Result<void> apply_fragment(const std::string& fragment);

 private:
  std::vector<std::string> vtysh_args(std::vector<std::string> rest) const;
  std::vector<std::string> reload_args(const std::string& mode, const std::string& file) const;
  Result<ApplyReport> difference(const std::string& file);
  std::string restore_previous(const std::optional<std::string>& previous);

  ApplyOptions options_;
  CommandRunner runner_;
};

// Parses frr-reload.py --test output into deleted/added lines. Lines about `hostname` are
// dropped: vtysh keeps its own hostname and the daemons keep the system's, so FRR 8.4 never
// shows a configured one back and the rendering does not set it.
[[nodiscard]] ApplyReport parse_reload_diff(const std::string& output);

}  // namespace causeway::rt::frr
