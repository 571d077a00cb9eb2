// SPDX-License-Identifier: Apache-2.0
// What a reload (SIGHUP) of the intent changes, decided from the diff of two valid intents.
// Pure, so that the rule is tested without FRR or a forwarder.
#pragma once

#include <string>
#include <vector>

#include "intent/intent.h"

namespace causeway::rt {

struct ReloadPlan {
  bool apply_frr = false;    // render frr.conf again and apply the difference (frr-reload.py)
  bool sla_policy = false;   // give the SLA engine the new policy
  bool paths = false;        // add/remove SLA engine paths; new overlay peers for the FIB
  bool communities = false;  // SLA communities changed (part of apply_frr)
  // Settings routed reads only at start; they keep their old value until a restart.
  std::vector<std::string> restart_required;
  std::string summary;  // intent::IntentDiff::summary()

  [[nodiscard]] bool nothing() const {
    return !apply_frr && !sla_policy && !paths && restart_required.empty();
  }
};

[[nodiscard]] ReloadPlan plan_reload(const intent::Intent& before, const intent::Intent& after);

}  // namespace causeway::rt
