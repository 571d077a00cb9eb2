// SPDX-License-Identifier: Apache-2.0
// Test driver for the netns test: validates an intent, renders frr.conf and applies it to
// the FRR instance of a pathspace with FrrApplier, the way causeway-routed does.
//   rt_frr_apply INTENT.yaml CONFIG_PATH PATHSPACE [class=state ...]
//   rt_frr_apply --raw FRR.conf CONFIG_PATH PATHSPACE      (apply a given frr.conf as is)
//   rt_frr_apply --sla INTENT.yaml CONFIG_PATH PATHSPACE class=state...
//                                    (only the carrier route-map, as a vtysh -f fragment)
//   rt_frr_apply --repair-bfd INTENT.yaml CONFIG_PATH PATHSPACE
//                                    (one pass of routed's BFD registration watchdog)
// Prints what changed; on error prints the message and exits 1.
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "frr/frr_config.h"
#include "intent/intent.h"

using namespace causeway::rt;

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: rt_frr_apply [--raw] FILE CONFIG_PATH PATHSPACE [class=state ...]\n";
    return 2;
  }
  const bool raw = std::strcmp(argv[1], "--raw") == 0;
  const bool sla_only = std::strcmp(argv[1], "--sla") == 0;
  const bool repair = std::strcmp(argv[1], "--repair-bfd") == 0;
  const int first = raw || sla_only || repair ? 2 : 1;
  if (repair) {
    auto parsed = intent::load_intent(argv[first]);
    if (!parsed) {
      std::cerr << "invalid intent: " << parsed.error().message << "\n";
      return 1;
    }
    frr::ApplyOptions options;
    options.config_path = argv[first + 1];
    options.pathspace = argv[first + 2];
    auto repaired = frr::FrrApplier(options).repair_bfd(parsed.value());
    if (!repaired) {
      std::cerr << "repair failed: " << repaired.error().message << "\n";
      return 1;
    }
    for (const auto& a : repaired.value()) std::cout << "repaired " << a << "\n";
    return 0;
  }
  std::string text;
  if (raw) {
    std::ifstream in(argv[first]);
    std::ostringstream buf;
    buf << in.rdbuf();
    text = buf.str();
  } else {
    auto parsed = intent::load_intent(argv[first]);
    if (!parsed) {
      std::cerr << "invalid intent: " << parsed.error().message << "\n";
      return 1;
    }
    frr::SlaStates states;
    for (int i = first + 3; i < argc; ++i) {
      const std::string arg = argv[i];
      const auto eq = arg.find('=');
      const std::string state = arg.substr(eq + 1);
      states[arg.substr(0, eq)] = state == "down"       ? intent::SlaState::kDown
                                  : state == "degraded" ? intent::SlaState::kDegraded
                                                        : intent::SlaState::kCompliant;
    }
    text = sla_only ? frr::render_sla_update(parsed.value(), states)
                    : frr::render_frr_conf(parsed.value(), states);
  }
  frr::ApplyOptions options;
  options.config_path = argv[first + 1];
  options.pathspace = argv[first + 2];
  frr::FrrApplier applier(options);
  if (sla_only) {
    auto done = applier.apply_fragment(text);
    if (!done) {
      std::cerr << "apply failed: " << done.error().message << "\n";
      return 1;
    }
    std::cout << "applied\n";
    return 0;
  }
  auto report = applier.apply(text);
  if (!report) {
    std::cerr << "apply failed: " << report.error().message << "\n";
    return 1;
  }
  for (const auto& line : report.value().deleted) std::cout << "- " << line << "\n";
  for (const auto& line : report.value().added) std::cout << "+ " << line << "\n";
  std::cout << (report.value().changed() ? "applied\n" : "unchanged\n");
  return 0;
}
