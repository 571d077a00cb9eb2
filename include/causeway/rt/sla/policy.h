// SPDX-License-Identifier: Apache-2.0
// SLA policy: the vocabulary of the intent file's `sla` section (DESIGN.md §4, §5), as plain
// data, plus its whole-policy validation. Field names match the intent file one to one:
//   sla class      {name, max_loss_pct, max_latency_ms, max_jitter_ms}
//   traffic class  {name, sla_class, backbones: [ordered], load_balance: preferred|ecmp,
//                   fallback: {mode: best_of_worst|backup|drop, backup_backbone, variance_pct}}
// Defaults and the meaning of every knob: docs/sla.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "causeway/common/result.h"

namespace causeway::rt::sla {

// Thresholds a path must meet to carry a class. An unset threshold is not checked; at least
// one must be set. Latency is round-trip time (what the in-tunnel probe measures).
struct SlaClass {
  std::string name;
  std::optional<double> max_loss_pct;
  std::optional<double> max_latency_ms;
  std::optional<double> max_jitter_ms;
};

enum class LoadBalance : std::uint8_t {
  kPreferred,  // the most preferred compliant backbone only
  kEcmp,       // every compliant backbone of the list (flow hash in the forwarder)
};

enum class FallbackMode : std::uint8_t {
  kBestOfWorst,  // the least-bad path that is up, with a variance band against flapping
  kBackup,       // the path on `backup_backbone`, if it is up
  kDrop,         // strict: no path; the forwarder drops the class
};

struct Fallback {
  FallbackMode mode = FallbackMode::kBestOfWorst;
  std::string backup_backbone;  // required for kBackup, must be empty otherwise
  double variance_pct = 10.0;   // kBestOfWorst: paths within this % of the best score are equal
};

struct TrafficClass {
  std::string name;
  std::string sla_class;
  std::vector<std::string> backbones;  // ordered preference, most preferred first
  LoadBalance load_balance = LoadBalance::kPreferred;
  Fallback fallback;
};

// Measurement and anti-flap knobs, shared by every path.
struct Timers {
  std::uint32_t probe_interval_ms = 100;   // the forwarder's probe cadence; min 10
  std::uint32_t loss_timeout_ms = 1000;    // a probe without reply after this counts as lost
  std::uint32_t window_probes = 30;        // RTT/jitter window: last N RTT samples
  std::uint32_t loss_window_probes = 100;  // loss window: last N probe outcomes
  std::uint32_t min_samples = 10;          // outcomes needed before a path is judged at all
  std::uint32_t blackout_probes = 3;       // fast fail: this many probe intervals without reply
  std::uint32_t hold_down_ms = 10000;      // slow recover: sustained compliance before return
  double enter_band_pct = 10.0;  // re-enter only when every metric <= threshold*(1-enter%)
  double leave_band_pct = 0.0;   // leave when any metric > threshold*(1+leave%)
};

struct Policy {
  std::vector<std::string> backbones;  // every backbone name the PoP knows
  std::vector<SlaClass> sla_classes;
  std::vector<TrafficClass> traffic_classes;
  Timers timers;
};

// Limits (implementation constants; docs/sla.md).
inline constexpr std::uint32_t kMinProbeIntervalMs = 10;
inline constexpr std::uint32_t kMaxWindowProbes = 10000;

// Validates the whole policy; the first error names the field by its intent-file path, e.g.
// "traffic_classes[1].backbones[0]: unknown backbone 'mpls2' (known: inet, mpls)".
[[nodiscard]] Result<void> validate(const Policy& policy);

[[nodiscard]] std::string_view to_string(LoadBalance lb);
[[nodiscard]] std::string_view to_string(FallbackMode mode);
[[nodiscard]] std::optional<LoadBalance> parse_load_balance(std::string_view s);
[[nodiscard]] std::optional<FallbackMode> parse_fallback_mode(std::string_view s);

}  // namespace causeway::rt::sla
