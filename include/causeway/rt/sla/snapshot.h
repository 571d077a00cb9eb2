// SPDX-License-Identifier: Apache-2.0
// What the SLA engine exports: per path metrics and state, per (remote PoP, traffic class) the
// chosen paths, and decision counters. Plain data, copied out of the engine; rendered by
// export.h for Prometheus, `causewayctl sla` (table and --json) and BGP communities.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "causeway/common/strong_id.h"

namespace causeway::rt::sla {

// A path is one tunnel: remote PoP x backbone. The id is routed's (it names the tunnel in the
// forwarder's path group).
using PathId = StrongId<struct PathIdTag>;

// Monotonic time since an arbitrary epoch, supplied by the caller (STYLE.md 6).
using TimePoint = std::chrono::nanoseconds;

enum class PathHealth : std::uint8_t {
  kPending,  // no reply yet
  kUp,       // replies arrive
  kDown,     // blackout: `blackout_probes` probe intervals without a reply
};

// Per path and SLA class.
enum class Compliance : std::uint8_t {
  kPending,     // fewer than `min_samples` outcomes in the window
  kCompliant,   // meets the class; eligible
  kViolating,   // a metric crossed the leave line (or came back from a blackout)
  kRecovering,  // every metric inside the enter line; hold-down running
  kDown,        // the path is in blackout
};

// Why a (remote PoP, traffic class) uses the paths it uses.
enum class Reason : std::uint8_t {
  kPreferred,    // most preferred compliant backbone
  kEcmp,         // every compliant backbone (load_balance: ecmp)
  kBestOfWorst,  // none compliant; least-bad path(s) within the variance band
  kBackup,       // none compliant; the backup backbone
  kDrop,         // none compliant; strict drop
  kNoPathUp,     // none compliant and the fallback has no path that is up
  kNoPath,       // no tunnel to that PoP on any listed backbone
};
inline constexpr std::size_t kReasonCount = 7;

// Windowed metrics of one path (docs/sla.md "Metrics").
struct PathMetrics {
  std::uint32_t outcomes = 0;     // completed probes in the loss window
  std::uint32_t rtt_samples = 0;  // RTT samples in the RTT window
  double loss_pct = 0;
  double rtt_mean_ms = 0;
  double rtt_min_ms = 0;
  double rtt_max_ms = 0;
  double rtt_p90_ms = 0;
  double jitter_ms = 0;  // mean |RTT(i) - RTT(i-1)| over consecutive samples in the window
};

struct PathClassState {
  std::string sla_class;
  Compliance state = Compliance::kPending;
  TimePoint since{};  // when `state` was entered
};

struct PathSnapshot {
  PathId id;
  std::string remote_pop;
  std::string backbone;
  PathHealth health = PathHealth::kPending;
  PathMetrics metrics;
  std::vector<PathClassState> classes;  // in policy order of sla_classes
  std::uint64_t probes_sent = 0;
  std::uint64_t replies = 0;
  std::uint64_t lost = 0;
  std::uint64_t late_replies = 0;     // reply after the probe was declared lost, or a duplicate
  std::uint64_t unknown_replies = 0;  // sequence number never sent or already answered
  std::uint64_t blackouts = 0;
  std::uint64_t spurious_blackouts = 0;  // ended by a late reply with no probe lost
};

struct ChosenPath {
  PathId id;
  std::string backbone;
};

struct ClassSnapshot {
  std::string remote_pop;
  std::string traffic_class;
  std::string sla_class;
  std::vector<ChosenPath> paths;  // empty: the class has no path (dropped)
  Reason reason = Reason::kNoPath;
  std::string detail;
  TimePoint since{};
  std::uint64_t changes = 0;
};

struct Snapshot {
  TimePoint now{};
  std::vector<PathSnapshot> paths;     // by path id
  std::vector<ClassSnapshot> classes;  // by remote PoP, then traffic class in policy order
  std::uint64_t decision_changes = 0;
  std::uint64_t changes_by_reason[kReasonCount] = {};
};

[[nodiscard]] std::string_view to_string(PathHealth h);
[[nodiscard]] std::string_view to_string(Compliance c);
[[nodiscard]] std::string_view to_string(Reason r);

}  // namespace causeway::rt::sla
