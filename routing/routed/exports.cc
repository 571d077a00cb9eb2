// SPDX-License-Identifier: Apache-2.0
#include "routed/exports.h"

#include <prometheus/metric_family.h>

#include "causeway/rt/sla/export.h"

namespace causeway::rt {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using Labels = std::vector<ClientMetric::Label>;

struct Families {
  std::vector<MetricFamily> out;

  MetricFamily& family(const std::string& name, const std::string& help, MetricType type) {
    for (auto& f : out) {
      if (f.name == name) return f;
    }
    out.push_back(MetricFamily{name, help, type, {}});
    return out.back();
  }
  void counter(const std::string& name, const std::string& help, double v, Labels labels = {}) {
    ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = v;
    family(name, help, MetricType::Counter).metric.push_back(std::move(m));
  }
  void gauge(const std::string& name, const std::string& help, double v, Labels labels = {}) {
    ClientMetric m;
    m.label = std::move(labels);
    m.gauge.value = v;
    family(name, help, MetricType::Gauge).metric.push_back(std::move(m));
  }
};

double load(const std::atomic<std::uint64_t>& a) {
  return static_cast<double>(a.load(std::memory_order_relaxed));
}

}  // namespace

std::vector<MetricFamily> RoutedCollector::Collect() const {
  const Board b = board_.get();
  const FibStatus fib = fib_.status();
  const FibCounters& fc = fib_.counters();
  Families f;

  f.gauge("causeway_routed_fpm_connected", "1 while zebra is connected over FPM",
          b.fpm.connected ? 1 : 0);
  for (std::size_t i = 0; i < fpm::kCounterCount; ++i) {
    const auto c = static_cast<fpm::Counter>(i);
    const auto& info = fpm::counter_info(c);
    f.counter("causeway_routed_fpm_events_total", "FPM events and drop reasons (docs/fpm.md)",
              static_cast<double>(b.fpm.counters[c]), {{"event", std::string(info.name)}});
  }

  f.gauge("causeway_routed_forwarder_connected", "1 while the forwarder's control socket is up",
          fib.forwarder_connected ? 1 : 0);
  f.gauge("causeway_routed_zebra_synced", "1 once zebra's first snapshot has settled",
          fib.zebra_synced ? 1 : 0);
  for (const auto& [table, n] : fib.routes_per_table) {
    f.gauge("causeway_routed_routes", "Routes received from zebra, per table",
            static_cast<double>(n), {{"table", std::to_string(table)}});
  }
  f.gauge("causeway_routed_fib_installed_routes", "Routes installed in the forwarder by routed",
          static_cast<double>(fib.installed));
  f.gauge("causeway_routed_fib_overlay_routes", "Routes handed to the path programmer",
          static_cast<double>(fib.overlay));
  f.gauge("causeway_routed_fib_ecmp_truncated_routes",
          "Routes installed with only some of zebra's next hops (others not on a forwarder port "
          "or not gateways, beyond 16, or no group id free)",
          static_cast<double>(fib.ecmp_truncated));
  f.gauge("causeway_routed_fib_ecmp_routes", "Routes installed through a next-hop group (ECMP)",
          static_cast<double>(fib.ecmp_routes));
  f.gauge("causeway_routed_fib_nexthop_groups", "Next-hop groups routed keeps in the forwarder",
          static_cast<double>(fib.nexthop_groups));
  for (std::size_t i = 0; i < kSkipReasonCount; ++i) {
    f.gauge("causeway_routed_fib_skipped_routes", "Routes not given to the forwarder, per reason",
            static_cast<double>(fib.skipped[i]),
            {{"reason", std::string(to_string(static_cast<SkipReason>(i)))}});
  }
  const std::pair<const char*, const std::atomic<std::uint64_t>*> counters[] = {
      {"batches_queued", &fc.batches_queued},
      {"changes_queued", &fc.changes_queued},
      {"updates_sent", &fc.updates_sent},
      {"batches_sent", &fc.batches_sent},
      {"send_errors", &fc.send_errors},
      {"overlay_routes_set", &fc.overlay_routes_set},
      {"forwarder_connects", &fc.forwarder_connects},
      {"full_replays", &fc.full_replays},
      {"sweeps", &fc.sweeps},
      {"swept_routes", &fc.swept},
      {"nexthop_groups_set", &fc.groups_set},
      {"nexthop_groups_replaced", &fc.groups_replaced},
      {"nexthop_groups_deleted", &fc.groups_deleted},
      {"nexthop_group_errors", &fc.group_errors},
  };
  for (const auto& [name, value] : counters) {
    f.counter("causeway_routed_fib_events_total", "FIB builder events (docs/routed.md)",
              load(*value), {{"event", name}});
  }
  for (const auto& [name, value] : b.steering_events) {
    f.counter("causeway_routed_steering_events_total",
              "Path programmer and probe feed events (docs/routed.md)", static_cast<double>(value),
              {{"event", name}});
  }
  f.gauge("causeway_routed_steering_missing_members",
          "Paths of the intent without a tunnel peer in the forwarder",
          static_cast<double>(b.missing_members));
  f.gauge("causeway_routed_fib_queue_depth", "Route changes waiting for the FIB builder",
          load(fc.queue_depth));
  f.gauge("causeway_routed_fib_queue_depth_max", "The most route changes that ever waited",
          load(fc.queue_depth_max));

  for (const auto& p : b.sla.paths) {
    Labels l{{"remote_pop", p.remote_pop}, {"backbone", p.backbone}};
    f.gauge("causeway_routed_sla_path_rtt_ms", "Mean RTT over the window", p.metrics.rtt_mean_ms,
            l);
    f.gauge("causeway_routed_sla_path_jitter_ms", "Jitter over the window", p.metrics.jitter_ms, l);
    f.gauge("causeway_routed_sla_path_loss_pct", "Loss over the window", p.metrics.loss_pct, l);
    for (auto h : {sla::PathHealth::kPending, sla::PathHealth::kUp, sla::PathHealth::kDown}) {
      Labels hl = l;
      hl.push_back({"state", std::string(sla::to_string(h))});
      f.gauge("causeway_routed_sla_path_state", "1 for the path's current health", p.health == h,
              hl);
    }
  }
  for (const auto& c : b.sla.classes) {
    for (const auto& chosen : c.paths) {
      f.gauge("causeway_routed_sla_class_path", "1 for each path a class uses towards a PoP", 1,
              {{"remote_pop", c.remote_pop},
               {"traffic_class", c.traffic_class},
               {"backbone", chosen.backbone},
               {"reason", std::string(sla::to_string(c.reason))}});
    }
    f.counter("causeway_routed_sla_class_changes_total", "Decision changes per class and PoP",
              static_cast<double>(c.changes),
              {{"remote_pop", c.remote_pop}, {"traffic_class", c.traffic_class}});
  }
  for (std::size_t r = 0; r < sla::kReasonCount; ++r) {
    f.counter("causeway_routed_sla_decisions_total", "Decision changes per reason",
              static_cast<double>(b.sla.changes_by_reason[r]),
              {{"reason", std::string(sla::to_string(static_cast<sla::Reason>(r)))}});
  }
  f.counter("causeway_routed_reloads_total", "Intent reloads applied",
            static_cast<double>(b.reloads));
  f.counter("causeway_routed_reload_failures_total", "Intent reloads refused (nothing applied)",
            static_cast<double>(b.reload_failures));
  f.counter("causeway_routed_frr_apply_failures_total", "FRR configuration applies that failed",
            static_cast<double>(b.frr_apply_failures));
  f.counter("causeway_routed_bfd_repairs_total",
            "BGP neighbours whose BFD session bgpd never registered, configured again",
            static_cast<double>(b.bfd_repairs));
  return std::move(f.out);
}

nlohmann::json status_json(const Board& b, const FibStatus& fib, const FibCounters& fc) {
  nlohmann::json tables = nlohmann::json::object();
  for (const auto& [t, n] : fib.routes_per_table) tables[std::to_string(t)] = n;
  nlohmann::json skipped = nlohmann::json::object();
  for (std::size_t i = 0; i < kSkipReasonCount; ++i) {
    skipped[std::string(to_string(static_cast<SkipReason>(i)))] = fib.skipped[i];
  }
  nlohmann::json fpm_counters = nlohmann::json::object();
  for (std::size_t i = 0; i < fpm::kCounterCount; ++i) {
    const auto c = static_cast<fpm::Counter>(i);
    fpm_counters[std::string(fpm::counter_info(c).name)] = b.fpm.counters[c];
  }
  return {
      {"pop", b.pop},
      {"fpm",
       {{"connected", b.fpm.connected}, {"routes", b.fpm.routes}, {"counters", fpm_counters}}},
      {"forwarder",
       {{"connected", fib.forwarder_connected},
        {"ports", fib.ports},
        {"zebra_synced", fib.zebra_synced},
        {"swept", fib.swept}}},
      {"fib",
       {{"routes", fib.routes},
        {"routes_per_table", tables},
        {"installed", fib.installed},
        {"overlay", fib.overlay},
        {"ecmp_truncated", fib.ecmp_truncated},
        {"ecmp_routes", fib.ecmp_routes},
        {"nexthop_groups", fib.nexthop_groups},
        {"skipped", skipped},
        {"queue_depth", fc.queue_depth.load()},
        {"queue_depth_max", fc.queue_depth_max.load()},
        {"updates_sent", fc.updates_sent.load()},
        {"batches_sent", fc.batches_sent.load()},
        {"send_errors", fc.send_errors.load()},
        {"forwarder_connects", fc.forwarder_connects.load()},
        {"full_replays", fc.full_replays.load()},
        {"sweeps", fc.sweeps.load()},
        {"swept", fc.swept.load()}}},
      {"sla", {{"paths", b.sla.paths.size()}, {"decision_changes", b.sla.decision_changes}}},
      {"reloads", b.reloads},
      {"reload_failures", b.reload_failures},
      {"frr_applies", b.frr_applies},
      {"frr_apply_failures", b.frr_apply_failures},
      {"bfd_repairs", b.bfd_repairs},
  };
}

}  // namespace causeway::rt
