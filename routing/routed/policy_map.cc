// SPDX-License-Identifier: Apache-2.0
#include "routed/policy_map.h"

#include <algorithm>

namespace causeway::rt {

Result<sla::Policy> sla_policy_from_intent(const intent::Intent& in) {
  sla::Policy p;
  for (const auto& b : in.backbones) p.backbones.push_back(b.name);
  for (const auto& c : in.sla_classes) {
    p.sla_classes.push_back(
        sla::SlaClass{c.name, c.max_loss_pct, c.max_latency_ms, c.max_jitter_ms});
  }
  for (const auto& tc : in.traffic_classes) {
    sla::TrafficClass t;
    t.name = tc.name;
    t.sla_class = tc.sla_class;
    t.backbones = tc.backbones;
    t.load_balance = tc.load_balance == intent::LoadBalance::kEcmp ? sla::LoadBalance::kEcmp
                                                                   : sla::LoadBalance::kPreferred;
    switch (tc.fallback.mode) {
      case intent::FallbackMode::kBestOfWorst:
        t.fallback.mode = sla::FallbackMode::kBestOfWorst;
        break;
      case intent::FallbackMode::kBackup:
        t.fallback.mode = sla::FallbackMode::kBackup;
        t.fallback.backup_backbone = tc.fallback.backup_backbone;
        break;
      case intent::FallbackMode::kDrop:
        t.fallback.mode = sla::FallbackMode::kDrop;
        break;
    }
    t.fallback.variance_pct = tc.fallback.variance_pct;
    p.traffic_classes.push_back(std::move(t));
  }
  const intent::Probes& pr = in.probes;
  p.timers.probe_interval_ms = pr.interval_ms;
  p.timers.window_probes = pr.window;
  p.timers.loss_window_probes = pr.window;
  p.timers.blackout_probes = pr.blackout_probes;
  p.timers.hold_down_ms = pr.hold_down_ms;
  p.timers.leave_band_pct = pr.hysteresis_pct;
  p.timers.enter_band_pct = std::min(pr.hysteresis_pct, 99.0);
  p.timers.min_samples = std::min<std::uint32_t>(10, pr.window);
  p.timers.loss_timeout_ms = std::max<std::uint32_t>(1000, 2 * pr.interval_ms);
  if (auto v = sla::validate(p); !v) {
    return fail("intent sla policy: " + v.error().message, v.error().code);
  }
  return p;
}

std::vector<PathSpec> paths_from_intent(const intent::Intent& in) {
  std::vector<PathSpec> out;
  for (const auto& peer : in.peers) {
    for (const auto& ep : peer.endpoints) out.push_back(PathSpec{peer.name, ep.backbone});
  }
  return out;
}

}  // namespace causeway::rt
