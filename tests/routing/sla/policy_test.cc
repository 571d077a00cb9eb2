// SPDX-License-Identifier: Apache-2.0
// Policy validation: every bad field is rejected with a message naming it by its intent-file
// path, and a valid policy (the defaults) passes.
#include <catch2/catch.hpp>

#include "sla_testing.h"

using namespace causeway::rt::sla;
using causeway::rt::sla::test::base_policy;

namespace {

std::string error_of(const Policy& p) {
  auto r = validate(p);
  if (r) return "";
  CHECK(r.error().code == EINVAL);
  return r.error().message;
}

}  // namespace

TEST_CASE("the base policy and the defaults are valid") {
  CHECK(validate(base_policy()));
  CHECK(validate(base_policy(10)));
  Timers t;
  CHECK(t.probe_interval_ms == 100);
  CHECK(t.blackout_probes == 3);
}

TEST_CASE("unknown names are rejected naming the field and listing what is known") {
  auto p = base_policy();
  p.traffic_classes[1].backbones[1] = "mpls2";
  CHECK(error_of(p) ==
        "traffic_classes[1] (bulk).backbones[1]: unknown backbone 'mpls2' (known: inet, mpls, "
        "lte)");

  p = base_policy();
  p.traffic_classes[0].sla_class = "gold";
  CHECK(error_of(p) ==
        "traffic_classes[0] (voice).sla_class: unknown SLA class 'gold' (known: realtime, bulk)");

  p = base_policy();
  p.traffic_classes[0].fallback = {FallbackMode::kBackup, "sat", 0};
  CHECK(error_of(p) ==
        "traffic_classes[0] (voice).fallback.backup_backbone: unknown backbone 'sat' (known: "
        "inet, mpls, lte)");
}

TEST_CASE("structural errors name the field") {
  auto p = base_policy();
  p.traffic_classes[0].fallback = {FallbackMode::kBackup, "", 0};
  CHECK(error_of(p) ==
        "traffic_classes[0] (voice).fallback.backup_backbone: required when fallback.mode is "
        "backup");

  p = base_policy();
  p.traffic_classes[0].fallback.backup_backbone = "lte";
  CHECK(error_of(p) ==
        "traffic_classes[0] (voice).fallback.backup_backbone: only valid with fallback.mode "
        "backup (mode is best_of_worst)");

  p = base_policy();
  p.traffic_classes[0].backbones = {"inet", "inet"};
  CHECK(error_of(p) == "traffic_classes[0] (voice).backbones[1]: backbone 'inet' listed twice");

  p = base_policy();
  p.traffic_classes[0].backbones.clear();
  CHECK(error_of(p) == "traffic_classes[0] (voice).backbones: at least one backbone is required");

  p = base_policy();
  p.traffic_classes[1].name = "voice";
  CHECK(error_of(p) == "traffic_classes[1].name: duplicate name 'voice'");

  p = base_policy();
  p.sla_classes[1].name = "";
  CHECK(error_of(p) == "sla_classes[1].name: must not be empty");

  p = base_policy();
  p.sla_classes[1] = {"bulk", std::nullopt, std::nullopt, std::nullopt};
  CHECK(error_of(p) ==
        "sla_classes[1] (bulk): set at least one of max_loss_pct, max_latency_ms, max_jitter_ms");

  p = base_policy();
  p.backbones = {"inet", "mpls", "inet"};
  CHECK(error_of(p) == "backbones[2]: duplicate name 'inet'");

  p = base_policy();
  p.backbones.clear();
  CHECK(error_of(p) == "backbones: at least one backbone is required");
}

TEST_CASE("bad numbers name the field, the range and the value") {
  auto p = base_policy();
  p.sla_classes[0].max_loss_pct = 120;
  CHECK(error_of(p) ==
        "sla_classes[0] (realtime).max_loss_pct: must be between 0 and 100, got 120");

  p = base_policy();
  p.sla_classes[0].max_latency_ms = -5;
  CHECK(error_of(p) ==
        "sla_classes[0] (realtime).max_latency_ms: must be between 0.001 and 100000, got -5");

  p = base_policy();
  p.sla_classes[0].max_jitter_ms = std::nan("");
  CHECK(error_of(p) ==
        "sla_classes[0] (realtime).max_jitter_ms: must be between 0 and 100000, got nan");

  p = base_policy();
  p.traffic_classes[0].fallback.variance_pct = -1;
  CHECK(error_of(p) ==
        "traffic_classes[0] (voice).fallback.variance_pct: must be between 0 and 1000, got -1");

  p = base_policy();
  p.timers.probe_interval_ms = 5;
  CHECK(error_of(p) == "timers.probe_interval_ms: must be between 10 and 60000, got 5");

  p = base_policy();
  p.timers.loss_timeout_ms = 50;
  CHECK(error_of(p) == "timers.loss_timeout_ms: must be between 100 and 60000, got 50");

  p = base_policy();
  p.timers.min_samples = 101;
  CHECK(error_of(p) == "timers.min_samples: must be between 1 and 100, got 101");

  p = base_policy();
  p.timers.loss_window_probes = 20000;
  CHECK(error_of(p) == "timers.loss_window_probes: must be between 2 and 10000, got 20000");

  p = base_policy();
  p.timers.window_probes = 1;
  CHECK(error_of(p) == "timers.window_probes: must be between 2 and 10000, got 1");

  p = base_policy();
  p.timers.blackout_probes = 0;
  CHECK(error_of(p) == "timers.blackout_probes: must be between 1 and 100, got 0");

  p = base_policy();
  p.timers.enter_band_pct = 100;
  CHECK(error_of(p) == "timers.enter_band_pct: must be between 0 and 99, got 100");
}

TEST_CASE("Engine::create refuses an invalid policy with the same message") {
  auto p = base_policy();
  p.traffic_classes[0].backbones[0] = "nope";
  auto e = Engine::create(p);
  REQUIRE(!e);
  CHECK(e.error().message == error_of(p));
}

TEST_CASE("enum spellings of the intent file") {
  CHECK(parse_load_balance("ecmp") == LoadBalance::kEcmp);
  CHECK(parse_load_balance("preferred") == LoadBalance::kPreferred);
  CHECK(!parse_load_balance("random"));
  CHECK(parse_fallback_mode("best_of_worst") == FallbackMode::kBestOfWorst);
  CHECK(parse_fallback_mode("backup") == FallbackMode::kBackup);
  CHECK(parse_fallback_mode("drop") == FallbackMode::kDrop);
  CHECK(!parse_fallback_mode("strict"));
  CHECK(to_string(FallbackMode::kBestOfWorst) == "best_of_worst");
  CHECK(to_string(LoadBalance::kEcmp) == "ecmp");
}
