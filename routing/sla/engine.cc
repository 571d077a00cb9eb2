// SPDX-License-Identifier: Apache-2.0
// SLA engine (sans-I/O; flow in include/causeway/rt/sla/engine.h, algorithm in docs/sla.md).
//
// advance(now) runs three steps in a fixed order, over containers iterated in a fixed order,
// so the same inputs always produce the same decisions and the same change events:
//   1. per path: probes older than loss_timeout become losses; blackout detection (fast fail,
//      BFD-style detect time = blackout_probes x probe_interval without a reply, cf. RFC 5880
//      §6.8.4, plus that many probes actually sent and unanswered);
//   2. per (path, SLA class): the compliance state machine (hysteresis bands, hold-down);
//   3. per (remote PoP, traffic class) touched by step 1-2: choose paths, emit the change.
#include "causeway/rt/sla/engine.h"

#include <algorithm>
#include <cmath>
#include <deque>
#include <limits>
#include <map>
#include <unordered_map>

#include <fmt/format.h>

#include "window.h"

namespace causeway::rt::sla {
namespace {

using std::chrono::milliseconds;

// A path keeps at most this many probes in flight; beyond it the oldest is declared lost.
// 60 s timeout at the 10 ms minimum interval needs 6000.
constexpr std::size_t kMaxPendingProbes = 8192;
// A reply whose sequence number is at most this far behind the newest sent probe is "late"
// (its probe already timed out), anything else is "unknown".
constexpr std::uint32_t kLateSeqRange = 1u << 16;
// Threshold denominator floor, so a 0 threshold (e.g. max_loss_pct 0) still scores.
constexpr double kMinThreshold = 1e-3;

double to_ms(std::int64_t ns) {
  return static_cast<double>(ns) / 1e6;
}
double to_ms(TimePoint t) {
  return to_ms(static_cast<std::int64_t>(t.count()));
}

struct Pending {
  std::uint32_t seq;
  TimePoint tx;
};

struct ClassState {
  Compliance state = Compliance::kPending;
  TimePoint since{};
  Compliance before_down = Compliance::kPending;  // restored if the blackout proves spurious
  TimePoint since_before_down{};
};

// Metrics as judged against thresholds (ms and %).
struct Judged {
  bool enough = false;
  double loss_pct = 0;
  double rtt_ms = 0;
  double jitter_ms = 0;
};

struct Path {
  Path(PathId i, std::string r, std::string b, const Timers& t)
      : id(i),
        remote_pop(std::move(r)),
        backbone(std::move(b)),
        rtt(t.window_probes),
        loss(t.loss_window_probes) {}

  PathId id;
  std::string remote_pop;
  std::string backbone;
  std::deque<Pending> pending;  // in send order
  RttWindow rtt;
  LossWindow loss;
  PathHealth health = PathHealth::kPending;
  bool has_ref = false;
  TimePoint ref{};  // last reply received, or the first probe sent before any reply
  TimePoint last_answered_tx{};
  std::uint32_t unanswered = 0;  // probes sent after the newest answered one
  std::uint32_t highest_seq = 0;
  bool any_sent = false;
  bool dirty = true;    // metrics or health changed since the last advance()
  bool changed = true;  // something a decision depends on changed in this advance()
  std::vector<ClassState> cls;
  std::uint64_t probes_sent = 0, replies = 0, lost = 0, late = 0, unknown = 0, blackouts = 0;
  std::uint64_t spurious_blackouts = 0;
  std::uint64_t lost_at_blackout = 0;
  // Set when a blackout ends without any probe having been lost (a delay step longer than the
  // detect time, not an outage); holds the RTT of the reply that ended it.
  std::optional<std::int64_t> spurious_rtt_ns;

  Judged judge(std::uint32_t min_samples) const {
    Judged j;
    j.enough = loss.size() >= min_samples;
    j.loss_pct = loss.loss_pct();
    j.rtt_ms = rtt.size() ? rtt.mean_ns() / 1e6 : std::numeric_limits<double>::infinity();
    j.jitter_ms = rtt.jitter_ns() / 1e6;
    return j;
  }
};

// True when every threshold the class sets holds at threshold * factor.
bool within(const Judged& m, const SlaClass& c, double factor) {
  if (c.max_loss_pct && m.loss_pct > *c.max_loss_pct * factor) return false;
  if (c.max_latency_ms && m.rtt_ms > *c.max_latency_ms * factor) return false;
  if (c.max_jitter_ms && m.jitter_ms > *c.max_jitter_ms * factor) return false;
  return true;
}

// The metrics that break the class at `factor`, for log lines.
std::string violations(const Judged& m, const SlaClass& c, double factor) {
  std::string out;
  const auto add = [&](const char* what, double v, double thr, const char* unit) {
    if (v <= thr * factor) return;
    if (!out.empty()) out += ", ";
    out += fmt::format("{} {:.1f}{} > {:.1f}{}", what, v, unit, thr * factor, unit);
  };
  if (c.max_loss_pct) add("loss", m.loss_pct, *c.max_loss_pct, "%");
  if (c.max_latency_ms) add("rtt", m.rtt_ms, *c.max_latency_ms, " ms");
  if (c.max_jitter_ms) add("jitter", m.jitter_ms, *c.max_jitter_ms, " ms");
  return out;
}

// Best-of-worst score: how far the worst metric is over its threshold (1.0 = at threshold).
double score(const Judged& m, const SlaClass& c) {
  double s = 0;
  if (c.max_loss_pct) s = std::max(s, m.loss_pct / std::max(*c.max_loss_pct, kMinThreshold));
  if (c.max_latency_ms) s = std::max(s, m.rtt_ms / std::max(*c.max_latency_ms, kMinThreshold));
  if (c.max_jitter_ms) s = std::max(s, m.jitter_ms / std::max(*c.max_jitter_ms, kMinThreshold));
  return s;
}

struct Group {
  std::string remote_pop;
  std::uint32_t tc = 0;
  std::vector<int> candidates;  // path slot per backbone of the class, in order; -1: none
  int backup = -1;              // path slot on the fallback backup backbone
  bool evaluated = false;       // decided since the last rebuild of the table
  bool has_decision = false;    // decided at least once (the first decision is a change too)
  Decision decision;
  std::uint64_t changes = 0;
};

}  // namespace

struct Engine::State {
  Policy policy;
  std::vector<std::uint32_t> tc_sla;  // traffic class -> SLA class index
  std::vector<Path> paths;
  std::unordered_map<PathId, std::uint32_t> slot_of;
  std::map<std::pair<std::string, std::uint32_t>, Group> groups;  // (remote PoP, tc)
  std::vector<DecisionChange> changes;
  // Pairs that disappeared (last path to a PoP removed, traffic class deleted) while they had a
  // decision: the next advance() tells routed to drop their path group.
  std::vector<DecisionChange> vanished;
  bool reevaluate = true;  // the pair table was rebuilt; advance() must run now
  std::uint64_t decision_changes = 0;
  std::uint64_t by_reason[kReasonCount] = {};
  std::uint64_t unknown_path_events = 0;
  TimePoint now{};

  const Timers& t() const { return policy.timers; }
  TimePoint interval() const { return milliseconds(t().probe_interval_ms); }
  TimePoint loss_timeout() const { return milliseconds(t().loss_timeout_ms); }
  TimePoint hold_down() const { return milliseconds(t().hold_down_ms); }
  TimePoint blackout_time() const { return interval() * t().blackout_probes; }

  void index_policy() {
    tc_sla.clear();
    for (const auto& tc : policy.traffic_classes) {
      for (std::uint32_t i = 0; i < policy.sla_classes.size(); ++i)
        if (policy.sla_classes[i].name == tc.sla_class) tc_sla.push_back(i);
    }
  }

  Path* find(PathId id) {
    auto it = slot_of.find(id);
    if (it == slot_of.end()) {
      ++unknown_path_events;
      return nullptr;
    }
    return &paths[it->second];
  }

  int slot_on(const std::string& remote, const std::string& backbone) const {
    for (std::uint32_t i = 0; i < paths.size(); ++i)
      if (paths[i].remote_pop == remote && paths[i].backbone == backbone) return int(i);
    return -1;
  }

  // Rebuilds the (remote PoP, traffic class) table after a path or policy change; decisions of
  // pairs that still exist are kept (by name) so only real changes are emitted.
  void rebuild_groups(const std::vector<std::string>* old_tc_names) {
    std::map<std::pair<std::string, std::string>, Group> old;
    for (auto& [key, g] : groups) {
      const std::string& name =
          old_tc_names ? (*old_tc_names)[key.second] : policy.traffic_classes[key.second].name;
      old.emplace(std::make_pair(key.first, name), std::move(g));
    }
    groups.clear();
    std::vector<std::string> remotes;
    for (const auto& p : paths) remotes.push_back(p.remote_pop);
    std::sort(remotes.begin(), remotes.end());
    remotes.erase(std::unique(remotes.begin(), remotes.end()), remotes.end());
    for (const auto& r : remotes) {
      for (std::uint32_t i = 0; i < policy.traffic_classes.size(); ++i) {
        const auto& tc = policy.traffic_classes[i];
        Group g;
        if (auto it = old.find({r, tc.name}); it != old.end()) {
          g = std::move(it->second);
          old.erase(it);
        }
        g.remote_pop = r;
        g.tc = i;
        g.evaluated = false;
        g.candidates.clear();
        for (const auto& b : tc.backbones) g.candidates.push_back(slot_on(r, b));
        g.backup = tc.fallback.mode == FallbackMode::kBackup
                       ? slot_on(r, tc.fallback.backup_backbone)
                       : -1;
        groups.emplace(std::make_pair(r, i), std::move(g));
      }
    }
    for (auto& [key, g] : old) {
      if (!g.has_decision) continue;
      DecisionChange ch;
      ch.remote_pop = key.first;
      ch.traffic_class = key.second;
      ch.from = g.decision.paths;
      ch.reason = Reason::kNoPath;
      ch.detail = fmt::format("no tunnel to '{}' any more, or traffic class '{}' removed",
                              key.first, key.second);
      vanished.push_back(std::move(ch));
    }
    reevaluate = true;
  }

  void reindex_paths() {
    slot_of.clear();
    for (std::uint32_t i = 0; i < paths.size(); ++i) slot_of.emplace(paths[i].id, i);
  }

  // ---- step 1: timeouts and blackout ---------------------------------------------------------

  void record_loss(Path& p) {
    p.loss.push(true);
    ++p.lost;
    p.dirty = true;
  }

  void expire(Path& p) {
    while (!p.pending.empty() && p.pending.front().tx + loss_timeout() <= now) {
      p.pending.pop_front();
      record_loss(p);
    }
    if (p.health != PathHealth::kDown && p.has_ref && p.unanswered >= t().blackout_probes &&
        now - p.ref >= blackout_time()) {
      // A path that never answered is down too, but that is no blackout of a working path
      // (e.g. an RTT above blackout_probes x interval before the first reply).
      if (p.health == PathHealth::kUp) ++p.blackouts;
      p.health = PathHealth::kDown;
      p.lost_at_blackout = p.lost;
      p.spurious_rtt_ns.reset();
      p.dirty = true;
    }
  }

  // ---- step 2: compliance state machine ------------------------------------------------------

  Compliance next_state(const Path& p, ClassState& s, const Judged& m, const SlaClass& c) {
    if (p.health == PathHealth::kDown) return Compliance::kDown;
    if (p.health == PathHealth::kPending) return Compliance::kPending;
    const double enter = 1.0 - t().enter_band_pct / 100.0;
    const double leave = 1.0 + t().leave_band_pct / 100.0;
    switch (s.state) {
      case Compliance::kPending:
        // First qualification: nothing to flap from, so the plain threshold and no hold-down.
        if (!m.enough) return Compliance::kPending;
        return within(m, c, 1.0) ? Compliance::kCompliant : Compliance::kViolating;
      case Compliance::kCompliant:
        return within(m, c, leave) ? Compliance::kCompliant : Compliance::kViolating;
      case Compliance::kDown:  // back from a blackout: earn compliance again
      case Compliance::kViolating:
        if (!m.enough || !within(m, c, enter)) return Compliance::kViolating;
        return hold_down().count() == 0 ? Compliance::kCompliant : Compliance::kRecovering;
      case Compliance::kRecovering:
        if (!within(m, c, enter)) return Compliance::kViolating;
        return now - s.since >= hold_down() ? Compliance::kCompliant : Compliance::kRecovering;
    }
    return s.state;
  }

  void evaluate_path(Path& p) {
    bool recovering = false;
    for (const auto& s : p.cls) recovering |= s.state == Compliance::kRecovering;
    p.changed = p.dirty;
    if (!p.dirty && !recovering) return;
    const Judged m = p.judge(t().min_samples);
    for (std::size_t k = 0; k < p.cls.size(); ++k) {
      auto& s = p.cls[k];
      const SlaClass& c = policy.sla_classes[k];
      if (s.state == Compliance::kDown && p.health == PathHealth::kUp && p.spurious_rtt_ns &&
          (!c.max_latency_ms || to_ms(*p.spurious_rtt_ns) <= *c.max_latency_ms)) {
        // Spurious blackout: nothing was lost and the late reply meets the class's latency,
        // so the path was only slow for a moment. Back to where it was, no hold-down.
        s.state = s.before_down;
        s.since = s.since_before_down;
        p.changed = true;
      }
      const Compliance n = next_state(p, s, m, c);
      if (n == Compliance::kDown && s.state != Compliance::kDown) {
        s.before_down = s.state;
        s.since_before_down = s.since;
      }
      if (n != s.state) {
        s.state = n;
        s.since = now;
        p.changed = true;
      }
    }
    p.dirty = false;
    p.spurious_rtt_ns.reset();
  }

  // ---- step 3: decisions ---------------------------------------------------------------------

  std::string describe(int slot, std::uint32_t k, const std::string& backbone) const {
    if (slot < 0) return fmt::format("'{}': no tunnel", backbone);
    const Path& p = paths[slot];
    const auto& s = p.cls[k];
    const Judged m = p.judge(t().min_samples);
    const SlaClass& c = policy.sla_classes[k];
    switch (s.state) {
      case Compliance::kDown:
        return fmt::format("'{}': down (no reply for {:.0f} ms)", backbone, to_ms(now - p.ref));
      case Compliance::kPending:
        return fmt::format("'{}': pending ({}/{} samples)", backbone, p.loss.size(),
                           t().min_samples);
      case Compliance::kRecovering:
        return fmt::format("'{}': recovering (hold-down, {:.0f} ms left)", backbone,
                           to_ms(s.since + hold_down() - now));
      case Compliance::kViolating: {
        // Name the threshold that is broken; if none, the enter band that is not reached yet.
        auto v = violations(m, c, 1.0);
        if (v.empty()) v = violations(m, c, 1.0 - t().enter_band_pct / 100.0) + ", enter band";
        return fmt::format("'{}': out of SLA ({})", backbone, v);
      }
      case Compliance::kCompliant:
        return fmt::format("'{}': compliant", backbone);
    }
    return backbone;
  }

  std::string explain_none(const Group& g, std::uint32_t k) const {
    const auto& tc = policy.traffic_classes[g.tc];
    std::string out = fmt::format("no path meets '{}' [", tc.sla_class);
    for (std::size_t i = 0; i < g.candidates.size(); ++i) {
      if (i) out += "; ";
      out += describe(g.candidates[i], k, tc.backbones[i]);
    }
    return out + "]";
  }

  // `explain` builds the human detail (only done when the decision changes: it allocates).
  Decision choose(const Group& g, bool explain) const {
    const auto& tc = policy.traffic_classes[g.tc];
    const std::uint32_t k = tc_sla[g.tc];
    Decision d;
    std::vector<std::size_t> compliant;  // indexes into candidates
    bool any = false;
    for (std::size_t i = 0; i < g.candidates.size(); ++i) {
      const int slot = g.candidates[i];
      if (slot < 0) continue;
      any = true;
      if (paths[slot].cls[k].state == Compliance::kCompliant) compliant.push_back(i);
    }
    const auto id = [&](std::size_t i) { return paths[g.candidates[i]].id; };
    if (!any && g.backup < 0) {
      d.reason = Reason::kNoPath;
      if (explain)
        d.detail = fmt::format("no tunnel to '{}' on any backbone of '{}'", g.remote_pop, tc.name);
      return d;
    }
    if (!compliant.empty()) {
      if (tc.load_balance == LoadBalance::kEcmp) {
        d.reason = Reason::kEcmp;
        std::string names;
        for (auto i : compliant) {
          d.paths.push_back(id(i));
          if (explain) names += fmt::format("{}'{}'", names.empty() ? "" : ", ", tc.backbones[i]);
        }
        if (explain)
          d.detail = fmt::format("ecmp over {} (compliant with '{}')", names, tc.sla_class);
      } else {
        const std::size_t first = compliant.front();
        d.reason = Reason::kPreferred;
        d.paths.push_back(id(first));
        if (!explain) return d;
        d.detail = fmt::format("'{}' compliant with '{}' (preference {})", tc.backbones[first],
                               tc.sla_class, first + 1);
        for (std::size_t i = 0; i < first; ++i)
          d.detail += "; " + describe(g.candidates[i], k, tc.backbones[i]);
      }
      return d;
    }
    const std::string why = explain ? explain_none(g, k) : std::string();
    switch (tc.fallback.mode) {
      case FallbackMode::kDrop:
        d.reason = Reason::kDrop;
        if (explain) d.detail = why + "; fallback drop";
        return d;
      case FallbackMode::kBackup:
        if (g.backup >= 0 && paths[g.backup].health == PathHealth::kUp) {
          d.reason = Reason::kBackup;
          d.paths.push_back(paths[g.backup].id);
          if (explain)
            d.detail = fmt::format("{}; backup backbone '{}'", why, tc.fallback.backup_backbone);
        } else {
          d.reason = Reason::kNoPathUp;
          if (explain)
            d.detail =
                fmt::format("{}; backup backbone '{}' is {}", why, tc.fallback.backup_backbone,
                            g.backup < 0 ? "missing" : "not up");
        }
        break;
      case FallbackMode::kBestOfWorst:
        d = best_of_worst(g, k, explain, why);
        break;
    }
    return d.reason == Reason::kNoPathUp ? hold_last_paths(g, std::move(d), explain) : d;
  }

  // No path of the PoP is up, yet the policy did not ask to drop: keep the paths the class has.
  // When every tunnel is really dead the packets are lost either way; when the paths only look
  // dead (the host did not run the forwarder or routed for longer than the detect time, which
  // takes every path down at once) the traffic keeps flowing instead of being dropped until
  // the next reply. A class that never had a path keeps none.
  // Only paths that are still there are kept (a reload can remove a tunnel).
  Decision hold_last_paths(const Group& g, Decision d, bool explain) const {
    if (!g.has_decision) return d;
    const auto still_there = [&](const PathId& id) {
      if (g.backup >= 0 && paths[g.backup].id == id) return true;
      return std::any_of(g.candidates.begin(), g.candidates.end(),
                         [&](int slot) { return slot >= 0 && paths[slot].id == id; });
    };
    for (const PathId& kept : g.decision.paths)
      if (still_there(kept)) d.paths.push_back(kept);
    if (explain && !d.paths.empty()) d.detail += "; keeping the last paths";
    return d;
  }

  Decision best_of_worst(const Group& g, std::uint32_t k, bool explain,
                         const std::string& why) const {
    const auto& tc = policy.traffic_classes[g.tc];
    const SlaClass& c = policy.sla_classes[k];
    Decision d;
    std::vector<std::pair<std::size_t, double>> up;  // candidate index, score
    for (std::size_t i = 0; i < g.candidates.size(); ++i) {
      const int slot = g.candidates[i];
      if (slot < 0 || paths[slot].health != PathHealth::kUp) continue;
      up.emplace_back(i, score(paths[slot].judge(t().min_samples), c));
    }
    if (up.empty()) {
      d.reason = Reason::kNoPathUp;
      if (explain) d.detail = why + "; best of worst: no path up";
      return d;
    }
    double best = std::numeric_limits<double>::infinity();
    for (const auto& [i, s] : up) best = std::min(best, s);
    const double band = best * (1.0 + tc.fallback.variance_pct / 100.0);
    std::vector<std::size_t> in_band;
    for (const auto& [i, s] : up)
      if (s <= band) in_band.push_back(i);
    d.reason = Reason::kBestOfWorst;
    const auto id = [&](std::size_t i) { return paths[g.candidates[i]].id; };
    if (tc.load_balance == LoadBalance::kEcmp) {
      for (auto i : in_band) d.paths.push_back(id(i));
    } else {
      // Sticky inside the band: keep the current path while it is within variance of the best.
      std::size_t pick = in_band.front();  // most preferred within the band
      if (g.decision.reason == Reason::kBestOfWorst && g.decision.paths.size() == 1) {
        for (auto i : in_band)
          if (id(i) == g.decision.paths.front()) pick = i;
      }
      d.paths.push_back(id(pick));
    }
    if (!explain) return d;
    std::string names;
    for (auto pid : d.paths) {
      for (std::size_t i = 0; i < g.candidates.size(); ++i)
        if (g.candidates[i] >= 0 && paths[g.candidates[i]].id == pid)
          names += fmt::format("{}'{}'", names.empty() ? "" : ", ", tc.backbones[i]);
    }
    d.detail = fmt::format("{}; best of worst: {} (score {:.2f}, variance {}%)", why, names, best,
                           tc.fallback.variance_pct);
    return d;
  }

  void decide(Group& g) {
    Decision d = choose(g, false);
    g.evaluated = true;
    if (g.has_decision && d.paths == g.decision.paths && d.reason == g.decision.reason) return;
    d = choose(g, true);  // same inputs, same paths; now with the explanation
    DecisionChange ch;
    ch.remote_pop = g.remote_pop;
    ch.traffic_class = policy.traffic_classes[g.tc].name;
    ch.at = now;
    ch.from = g.decision.paths;
    ch.to = d.paths;
    ch.reason = d.reason;
    ch.detail = d.detail;
    d.since = now;
    g.decision = std::move(d);
    g.has_decision = true;
    ++g.changes;
    ++decision_changes;
    ++by_reason[static_cast<std::size_t>(ch.reason)];
    changes.push_back(std::move(ch));
  }

  bool touched(const Group& g) const {
    if (!g.evaluated) return true;
    for (int s : g.candidates)
      if (s >= 0 && paths[s].changed) return true;
    return g.backup >= 0 && paths[g.backup].changed;
  }
};

Engine::Engine(std::unique_ptr<State> s) : s_(std::move(s)) {}
Engine::Engine(Engine&&) noexcept = default;
Engine& Engine::operator=(Engine&&) noexcept = default;
Engine::~Engine() = default;

Result<Engine> Engine::create(Policy policy) {
  BOOST_OUTCOME_TRY(validate(policy));
  auto s = std::make_unique<State>();
  s->policy = std::move(policy);
  s->index_policy();
  return Engine(std::move(s));
}

const Policy& Engine::policy() const {
  return s_->policy;
}

Result<void> Engine::set_policy(Policy policy) {
  BOOST_OUTCOME_TRY(validate(policy));
  for (const auto& p : s_->paths) {
    if (std::find(policy.backbones.begin(), policy.backbones.end(), p.backbone) ==
        policy.backbones.end())
      return fail(fmt::format("backbones: backbone '{}' is still used by path {} to '{}'",
                              p.backbone, p.id.value(), p.remote_pop),
                  EBUSY);
  }
  State& s = *s_;
  std::vector<std::string> old_tc_names;
  for (const auto& tc : s.policy.traffic_classes) old_tc_names.push_back(tc.name);
  const Policy old = std::move(s.policy);
  s.policy = std::move(policy);
  s.index_policy();
  for (auto& p : s.paths) {
    std::vector<ClassState> cls(s.policy.sla_classes.size());
    for (std::size_t k = 0; k < cls.size(); ++k) {
      for (std::size_t o = 0; o < old.sla_classes.size(); ++o) {
        // A class kept by name with the same thresholds keeps its state; otherwise it qualifies
        // afresh.
        const auto& a = old.sla_classes[o];
        const auto& b = s.policy.sla_classes[k];
        if (a.name == b.name && a.max_loss_pct == b.max_loss_pct &&
            a.max_latency_ms == b.max_latency_ms && a.max_jitter_ms == b.max_jitter_ms)
          cls[k] = p.cls[o];
      }
    }
    p.cls = std::move(cls);
    // Resized windows keep the newest samples.
    if (s.t().window_probes != old.timers.window_probes) {
      RttWindow rtt(s.t().window_probes);
      for (auto v : p.rtt.samples()) rtt.push(v);
      p.rtt = std::move(rtt);
    }
    if (s.t().loss_window_probes != old.timers.loss_window_probes) {
      LossWindow loss(s.t().loss_window_probes);
      for (bool l : p.loss.outcomes()) loss.push(l);
      p.loss = std::move(loss);
    }
    p.dirty = true;
  }
  s.rebuild_groups(&old_tc_names);
  return boost::outcome_v2::success();
}

Result<void> Engine::add_path(PathId id, std::string remote_pop, std::string backbone) {
  State& s = *s_;
  if (!id.valid()) return fail("path id: invalid", EINVAL);
  if (remote_pop.empty()) return fail(fmt::format("path {}: empty remote PoP", id.value()), EINVAL);
  if (std::find(s.policy.backbones.begin(), s.policy.backbones.end(), backbone) ==
      s.policy.backbones.end())
    return fail(fmt::format("path {}: unknown backbone '{}'", id.value(), backbone), EINVAL);
  if (s.slot_of.count(id)) return fail(fmt::format("path {}: already exists", id.value()), EEXIST);
  if (s.slot_on(remote_pop, backbone) >= 0)
    return fail(fmt::format("path {}: '{}' already has a path on backbone '{}'", id.value(),
                            remote_pop, backbone),
                EEXIST);
  Path p(id, std::move(remote_pop), std::move(backbone), s.t());
  p.cls.resize(s.policy.sla_classes.size());
  s.paths.push_back(std::move(p));
  s.reindex_paths();
  s.rebuild_groups(nullptr);
  return boost::outcome_v2::success();
}

Result<void> Engine::remove_path(PathId id) {
  State& s = *s_;
  auto it = s.slot_of.find(id);
  if (it == s.slot_of.end()) return fail(fmt::format("path {}: no such path", id.value()), ENOENT);
  s.paths.erase(s.paths.begin() + it->second);
  s.reindex_paths();
  s.rebuild_groups(nullptr);
  return boost::outcome_v2::success();
}

void Engine::on_probe_sent(PathId path, std::uint32_t seq, TimePoint tx) {
  Path* p = s_->find(path);
  if (!p) return;
  if (p->pending.size() >= kMaxPendingProbes) {
    p->pending.pop_front();
    s_->record_loss(*p);
  }
  p->pending.push_back({seq, tx});
  ++p->probes_sent;
  ++p->unanswered;
  p->highest_seq = seq;
  p->any_sent = true;
  if (!p->has_ref) {
    p->has_ref = true;
    p->ref = tx;
  }
}

void Engine::on_probe_reply(PathId path, std::uint32_t seq, TimePoint rx) {
  Path* p = s_->find(path);
  if (!p) return;
  auto it = std::find_if(p->pending.begin(), p->pending.end(),
                         [seq](const Pending& q) { return q.seq == seq; });
  if (it == p->pending.end()) {
    if (p->any_sent && p->highest_seq - seq < kLateSeqRange)
      ++p->late;
    else
      ++p->unknown;
    return;
  }
  const TimePoint tx = it->tx;
  p->pending.erase(it);
  p->rtt.push(std::max<std::int64_t>(0, (rx - tx).count()));
  p->loss.push(false);
  ++p->replies;
  if (tx >= p->last_answered_tx) {
    p->last_answered_tx = tx;
    p->unanswered = 0;
    for (auto r = p->pending.rbegin(); r != p->pending.rend() && r->tx > tx; ++r) ++p->unanswered;
  }
  p->ref = std::max(p->ref, rx);
  p->has_ref = true;
  if (p->health == PathHealth::kDown && p->lost == p->lost_at_blackout) {
    ++p->spurious_blackouts;
    p->spurious_rtt_ns = std::max<std::int64_t>(0, (rx - tx).count());
  }
  p->health = PathHealth::kUp;
  p->dirty = true;
}

std::span<const DecisionChange> Engine::advance(TimePoint now) {
  State& s = *s_;
  s.now = std::max(s.now, now);
  s.changes.clear();
  for (auto& p : s.paths) s.expire(p);
  for (auto& p : s.paths) s.evaluate_path(p);
  for (auto& ch : s.vanished) {
    ch.at = s.now;
    ++s.decision_changes;
    ++s.by_reason[static_cast<std::size_t>(Reason::kNoPath)];
    s.changes.push_back(std::move(ch));
  }
  s.vanished.clear();
  for (auto& [key, g] : s.groups)
    if (s.touched(g)) s.decide(g);
  s.reevaluate = false;
  for (auto& p : s.paths) p.changed = false;
  return s.changes;
}

std::optional<TimePoint> Engine::next_deadline() const {
  const State& s = *s_;
  std::optional<TimePoint> best;
  const auto consider = [&](TimePoint t) {
    if (!best || t < *best) best = t;
  };
  if (s.reevaluate || !s.vanished.empty()) consider(s.now);
  for (const auto& p : s.paths) {
    if (!p.pending.empty()) consider(p.pending.front().tx + s.loss_timeout());
    if (p.health != PathHealth::kDown && p.has_ref && p.unanswered >= s.t().blackout_probes)
      consider(p.ref + s.blackout_time());
    for (const auto& c : p.cls)
      if (c.state == Compliance::kRecovering) consider(c.since + s.hold_down());
  }
  return best;
}

const Decision* Engine::decision(std::string_view remote_pop,
                                 std::string_view traffic_class) const {
  const auto& tcs = s_->policy.traffic_classes;
  for (std::uint32_t i = 0; i < tcs.size(); ++i) {
    if (tcs[i].name != traffic_class) continue;
    const auto it = s_->groups.find({std::string(remote_pop), i});
    return it != s_->groups.end() && it->second.has_decision ? &it->second.decision : nullptr;
  }
  return nullptr;
}

std::uint64_t Engine::unknown_path_events() const {
  return s_->unknown_path_events;
}

Snapshot Engine::snapshot() const {
  const State& s = *s_;
  Snapshot out;
  out.now = s.now;
  for (const auto& p : s.paths) {
    PathSnapshot ps;
    ps.id = p.id;
    ps.remote_pop = p.remote_pop;
    ps.backbone = p.backbone;
    ps.health = p.health;
    auto& m = ps.metrics;
    m.outcomes = p.loss.size();
    m.rtt_samples = p.rtt.size();
    m.loss_pct = p.loss.loss_pct();
    m.rtt_mean_ms = p.rtt.mean_ns() / 1e6;
    m.jitter_ms = p.rtt.jitter_ns() / 1e6;
    if (auto v = p.rtt.samples(); !v.empty()) {
      std::sort(v.begin(), v.end());
      m.rtt_min_ms = to_ms(v.front());
      m.rtt_max_ms = to_ms(v.back());
      // Nearest-rank 90th percentile.
      const std::size_t rank = (v.size() * 9 + 9) / 10;
      m.rtt_p90_ms = to_ms(v[std::min(v.size(), std::max<std::size_t>(rank, 1)) - 1]);
    }
    for (std::size_t k = 0; k < p.cls.size(); ++k)
      ps.classes.push_back({s.policy.sla_classes[k].name, p.cls[k].state, p.cls[k].since});
    ps.probes_sent = p.probes_sent;
    ps.replies = p.replies;
    ps.lost = p.lost;
    ps.late_replies = p.late;
    ps.unknown_replies = p.unknown;
    ps.blackouts = p.blackouts;
    ps.spurious_blackouts = p.spurious_blackouts;
    out.paths.push_back(std::move(ps));
  }
  std::sort(out.paths.begin(), out.paths.end(),
            [](const auto& a, const auto& b) { return a.id < b.id; });
  for (const auto& [key, g] : s.groups) {
    const auto& tc = s.policy.traffic_classes[g.tc];
    ClassSnapshot cs;
    cs.remote_pop = g.remote_pop;
    cs.traffic_class = tc.name;
    cs.sla_class = tc.sla_class;
    for (auto id : g.decision.paths) {
      const auto it = s.slot_of.find(id);
      cs.paths.push_back({id, it == s.slot_of.end() ? "" : s.paths[it->second].backbone});
    }
    cs.reason = g.decision.reason;
    cs.detail = g.decision.detail;
    cs.since = g.decision.since;
    cs.changes = g.changes;
    out.classes.push_back(std::move(cs));
  }
  out.decision_changes = s.decision_changes;
  std::copy(std::begin(s.by_reason), std::end(s.by_reason), std::begin(out.changes_by_reason));
  return out;
}

std::string_view to_string(PathHealth h) {
  switch (h) {
    case PathHealth::kPending:
      return "pending";
    case PathHealth::kUp:
      return "up";
    case PathHealth::kDown:
      return "down";
  }
  return "?";
}

std::string_view to_string(Compliance c) {
  switch (c) {
    case Compliance::kPending:
      return "pending";
    case Compliance::kCompliant:
      return "compliant";
    case Compliance::kViolating:
      return "violating";
    case Compliance::kRecovering:
      return "recovering";
    case Compliance::kDown:
      return "down";
  }
  return "?";
}

std::string_view to_string(Reason r) {
  switch (r) {
    case Reason::kPreferred:
      return "preferred";
    case Reason::kEcmp:
      return "ecmp";
    case Reason::kBestOfWorst:
      return "best_of_worst";
    case Reason::kBackup:
      return "backup";
    case Reason::kDrop:
      return "drop";
    case Reason::kNoPathUp:
      return "no_path_up";
    case Reason::kNoPath:
      return "no_path";
  }
  return "?";
}

}  // namespace causeway::rt::sla
