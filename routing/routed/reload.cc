// SPDX-License-Identifier: Apache-2.0
#include "routed/reload.h"

namespace causeway::rt {

ReloadPlan plan_reload(const intent::Intent& before, const intent::Intent& after) {
  using intent::Section;
  ReloadPlan plan;
  const intent::IntentDiff d = intent::diff(before, after);
  plan.summary = d.summary();
  if (d.empty()) return plan;
  plan.apply_frr = d.affects_frr();
  if (const intent::SectionDiff* bgp = d.find(Section::kBgp)) {
    for (const auto* list : {&bgp->added, &bgp->removed, &bgp->changed}) {
      for (const auto& item : *list) {
        if (item.rfind("sla_communities", 0) == 0) plan.communities = true;
      }
    }
  }
  plan.sla_policy = d.find(Section::kSlaClasses) || d.find(Section::kTrafficClasses) ||
                    d.find(Section::kProbes) || d.find(Section::kBackbones);
  plan.paths = d.find(Section::kPeers) != nullptr;
  if (before.forwarder.control_socket != after.forwarder.control_socket) {
    plan.restart_required.push_back("forwarder.control_socket");
  }
  if (before.fpm.port != after.fpm.port) plan.restart_required.push_back("fpm.port");
  return plan;
}

}  // namespace causeway::rt
