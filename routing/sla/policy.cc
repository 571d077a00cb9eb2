// SPDX-License-Identifier: Apache-2.0
// Whole-policy validation of the SLA section: every error names the field by its intent-file
// path and the bad value, so an operator can fix the file without reading code.
#include "causeway/rt/sla/policy.h"

#include <cmath>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace causeway::rt::sla {
namespace {

bool contains(const std::vector<std::string>& v, const std::string& s) {
  for (const auto& x : v)
    if (x == s) return true;
  return false;
}

Result<void> check_range(const std::string& field, double v, double lo, double hi) {
  if (!std::isfinite(v) || v < lo || v > hi)
    return fail(fmt::format("{}: must be between {} and {}, got {}", field, lo, hi, v), EINVAL);
  return boost::outcome_v2::success();
}

Result<void> check_range(const std::string& field, std::uint32_t v, std::uint32_t lo,
                         std::uint32_t hi) {
  if (v < lo || v > hi)
    return fail(fmt::format("{}: must be between {} and {}, got {}", field, lo, hi, v), EINVAL);
  return boost::outcome_v2::success();
}

Result<void> check_name(const std::string& field, const std::string& name,
                        std::set<std::string>& seen) {
  if (name.empty()) return fail(fmt::format("{}: must not be empty", field), EINVAL);
  if (!seen.insert(name).second)
    return fail(fmt::format("{}: duplicate name '{}'", field, name), EINVAL);
  return boost::outcome_v2::success();
}

Result<void> validate_timers(const Timers& t) {
  BOOST_OUTCOME_TRY(
      check_range("timers.probe_interval_ms", t.probe_interval_ms, kMinProbeIntervalMs, 60'000));
  BOOST_OUTCOME_TRY(
      check_range("timers.loss_timeout_ms", t.loss_timeout_ms, t.probe_interval_ms, 60'000));
  BOOST_OUTCOME_TRY(check_range("timers.window_probes", t.window_probes, 2, kMaxWindowProbes));
  BOOST_OUTCOME_TRY(
      check_range("timers.loss_window_probes", t.loss_window_probes, 2, kMaxWindowProbes));
  BOOST_OUTCOME_TRY(check_range("timers.min_samples", t.min_samples, 1, t.loss_window_probes));
  BOOST_OUTCOME_TRY(check_range("timers.blackout_probes", t.blackout_probes, 1, 100));
  BOOST_OUTCOME_TRY(check_range("timers.hold_down_ms", t.hold_down_ms, 0, 3'600'000));
  BOOST_OUTCOME_TRY(check_range("timers.enter_band_pct", t.enter_band_pct, 0.0, 99.0));
  BOOST_OUTCOME_TRY(check_range("timers.leave_band_pct", t.leave_band_pct, 0.0, 1000.0));
  return boost::outcome_v2::success();
}

}  // namespace

Result<void> validate(const Policy& p) {
  BOOST_OUTCOME_TRY(validate_timers(p.timers));

  if (p.backbones.empty()) return fail("backbones: at least one backbone is required", EINVAL);
  std::set<std::string> seen;
  for (std::size_t i = 0; i < p.backbones.size(); ++i) {
    BOOST_OUTCOME_TRY(check_name(fmt::format("backbones[{}]", i), p.backbones[i], seen));
  }

  seen.clear();
  std::vector<std::string> sla_names;
  for (std::size_t i = 0; i < p.sla_classes.size(); ++i) {
    const auto& c = p.sla_classes[i];
    const auto base = fmt::format("sla_classes[{}]", i);
    BOOST_OUTCOME_TRY(check_name(base + ".name", c.name, seen));
    const auto field = [&](const char* f) { return fmt::format("{} ({}).{}", base, c.name, f); };
    if (!c.max_loss_pct && !c.max_latency_ms && !c.max_jitter_ms)
      return fail(fmt::format("{} ({}): set at least one of max_loss_pct, max_latency_ms, "
                              "max_jitter_ms",
                              base, c.name),
                  EINVAL);
    if (c.max_loss_pct) {
      BOOST_OUTCOME_TRY(check_range(field("max_loss_pct"), *c.max_loss_pct, 0.0, 100.0));
    }
    if (c.max_latency_ms) {
      BOOST_OUTCOME_TRY(check_range(field("max_latency_ms"), *c.max_latency_ms, 0.001, 100'000.0));
    }
    if (c.max_jitter_ms) {
      BOOST_OUTCOME_TRY(check_range(field("max_jitter_ms"), *c.max_jitter_ms, 0.0, 100'000.0));
    }
    sla_names.push_back(c.name);
  }

  seen.clear();
  for (std::size_t i = 0; i < p.traffic_classes.size(); ++i) {
    const auto& t = p.traffic_classes[i];
    const auto base = fmt::format("traffic_classes[{}]", i);
    BOOST_OUTCOME_TRY(check_name(base + ".name", t.name, seen));
    const auto field = [&](const std::string& f) {
      return fmt::format("{} ({}).{}", base, t.name, f);
    };
    if (!contains(sla_names, t.sla_class))
      return fail(fmt::format("{}: unknown SLA class '{}' (known: {})", field("sla_class"),
                              t.sla_class, fmt::join(sla_names, ", ")),
                  EINVAL);
    if (t.backbones.empty())
      return fail(fmt::format("{}: at least one backbone is required", field("backbones")), EINVAL);
    std::set<std::string> listed;
    for (std::size_t b = 0; b < t.backbones.size(); ++b) {
      const auto f = field(fmt::format("backbones[{}]", b));
      if (!contains(p.backbones, t.backbones[b]))
        return fail(fmt::format("{}: unknown backbone '{}' (known: {})", f, t.backbones[b],
                                fmt::join(p.backbones, ", ")),
                    EINVAL);
      if (!listed.insert(t.backbones[b]).second)
        return fail(fmt::format("{}: backbone '{}' listed twice", f, t.backbones[b]), EINVAL);
    }
    const auto& fb = t.fallback;
    if (fb.mode == FallbackMode::kBackup) {
      if (fb.backup_backbone.empty())
        return fail(fmt::format("{}: required when fallback.mode is backup",
                                field("fallback.backup_backbone")),
                    EINVAL);
      if (!contains(p.backbones, fb.backup_backbone))
        return fail(
            fmt::format("{}: unknown backbone '{}' (known: {})", field("fallback.backup_backbone"),
                        fb.backup_backbone, fmt::join(p.backbones, ", ")),
            EINVAL);
    } else if (!fb.backup_backbone.empty()) {
      return fail(fmt::format("{}: only valid with fallback.mode backup (mode is {})",
                              field("fallback.backup_backbone"), to_string(fb.mode)),
                  EINVAL);
    }
    BOOST_OUTCOME_TRY(check_range(field("fallback.variance_pct"), fb.variance_pct, 0.0, 1000.0));
  }
  return boost::outcome_v2::success();
}

std::string_view to_string(LoadBalance lb) {
  return lb == LoadBalance::kEcmp ? "ecmp" : "preferred";
}

std::string_view to_string(FallbackMode mode) {
  switch (mode) {
    case FallbackMode::kBestOfWorst:
      return "best_of_worst";
    case FallbackMode::kBackup:
      return "backup";
    case FallbackMode::kDrop:
      return "drop";
  }
  return "?";
}

std::optional<LoadBalance> parse_load_balance(std::string_view s) {
  if (s == "preferred") return LoadBalance::kPreferred;
  if (s == "ecmp") return LoadBalance::kEcmp;
  return std::nullopt;
}

std::optional<FallbackMode> parse_fallback_mode(std::string_view s) {
  if (s == "best_of_worst") return FallbackMode::kBestOfWorst;
  if (s == "backup") return FallbackMode::kBackup;
  if (s == "drop") return FallbackMode::kDrop;
  return std::nullopt;
}

}  // namespace causeway::rt::sla
