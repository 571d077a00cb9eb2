// SPDX-License-Identifier: Apache-2.0
// The intent's SLA vocabulary (sla_classes, traffic_classes, probes) as the SLA engine's
// policy, and the engine's paths (one per remote PoP x backbone endpoint).
#pragma once

#include <string>
#include <vector>

#include "causeway/common/result.h"
#include "causeway/rt/sla/policy.h"
#include "intent/intent.h"

namespace causeway::rt {

// The mapping (docs/routed.md "SLA policy"):
//   sla_classes[*]          -> SlaClass with all three thresholds set
//   traffic_classes[*]      -> TrafficClass (sla_class, backbones, load_balance, fallback)
//   probes.interval_ms      -> timers.probe_interval_ms
//   probes.window           -> timers.window_probes and timers.loss_window_probes
//   probes.blackout_probes  -> timers.blackout_probes
//   probes.hold_down_ms     -> timers.hold_down_ms
//   probes.hysteresis_pct   -> timers.leave_band_pct, and enter_band_pct (capped at 99)
//   timers.min_samples      =  min(10, window)
//   timers.loss_timeout_ms  =  max(1000, 2 x interval)
// The result is validated with sla::validate; an error names the intent field.
[[nodiscard]] Result<sla::Policy> sla_policy_from_intent(const intent::Intent& intent);

struct PathSpec {
  std::string remote_pop;
  std::string backbone;
};
// One path per (peer, endpoint backbone), in intent order (peers, then endpoints).
[[nodiscard]] std::vector<PathSpec> paths_from_intent(const intent::Intent& intent);

}  // namespace causeway::rt
