// SPDX-License-Identifier: Apache-2.0
// intent -> SLA policy (the documented example, field by field), the reload plan (what a
// SIGHUP applies for each kind of change), and the control socket's request handling.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>
#include <string>

#include "intent/intent.h"
#include "routed/control_server.h"
#include "routed/policy_map.h"
#include "routed/reload.h"

namespace causeway::rt {
namespace {

std::string example_text() {
  std::ifstream in(std::string(CAUSEWAY_SOURCE_DIR) + "/docs/examples/pop-intent.yaml");
  REQUIRE(in);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

intent::Intent example() {
  auto i = intent::parse_intent(example_text());
  REQUIRE(i);
  return i.value();
}

TEST_CASE("intent -> SLA policy: the documented example") {
  auto p = sla_policy_from_intent(example());
  REQUIRE(p);
  const sla::Policy& pol = p.value();
  CHECK(pol.backbones == std::vector<std::string>{"aws", "inet"});
  REQUIRE(pol.sla_classes.size() == 2);
  CHECK(pol.sla_classes[0].name == "realtime");
  CHECK(pol.sla_classes[0].max_loss_pct == 1.0);
  CHECK(pol.sla_classes[0].max_latency_ms == 80.0);
  CHECK(pol.sla_classes[0].max_jitter_ms == 10.0);
  CHECK(pol.sla_classes[1].max_loss_pct == 2.5);
  REQUIRE(pol.traffic_classes.size() == 3);
  const auto& voice = pol.traffic_classes[0];
  CHECK(voice.name == "voice");
  CHECK(voice.sla_class == "realtime");
  CHECK(voice.backbones == std::vector<std::string>{"aws", "inet"});
  CHECK(voice.load_balance == sla::LoadBalance::kPreferred);
  CHECK(voice.fallback.mode == sla::FallbackMode::kBestOfWorst);
  CHECK(voice.fallback.variance_pct == 15.0);
  const auto& erp = pol.traffic_classes[1];
  CHECK(erp.load_balance == sla::LoadBalance::kEcmp);
  CHECK(erp.fallback.mode == sla::FallbackMode::kBackup);
  CHECK(erp.fallback.backup_backbone == "aws");
  CHECK(pol.traffic_classes[2].fallback.mode == sla::FallbackMode::kDrop);
  CHECK(pol.timers.probe_interval_ms == 100);
  CHECK(pol.timers.window_probes == 50);
  CHECK(pol.timers.loss_window_probes == 50);
  CHECK(pol.timers.blackout_probes == 3);
  CHECK(pol.timers.hold_down_ms == 10000);
  CHECK(pol.timers.leave_band_pct == 10.0);
  CHECK(pol.timers.enter_band_pct == 10.0);
  CHECK(pol.timers.min_samples == 10);
  CHECK(pol.timers.loss_timeout_ms == 1000);

  auto paths = paths_from_intent(example());
  REQUIRE(paths.size() == 3);
  CHECK(paths[0].remote_pop == "fra1");
  CHECK(paths[0].backbone == "aws");
  CHECK(paths[1].backbone == "inet");
  CHECK(paths[2].remote_pop == "lon1");
}

TEST_CASE("intent -> SLA policy: probe settings at their limits stay valid") {
  auto in = example();
  in.probes.interval_ms = 10000;
  in.probes.window = 4;
  in.probes.blackout_probes = 4;
  in.probes.hysteresis_pct = 100;
  auto p = sla_policy_from_intent(in);
  REQUIRE(p);
  CHECK(p.value().timers.min_samples == 4);
  CHECK(p.value().timers.enter_band_pct == 99.0);
  CHECK(p.value().timers.loss_timeout_ms == 20000);
}

TEST_CASE("reload plan: only what changed") {
  const auto before = example();
  SECTION("identical: nothing") {
    auto plan = plan_reload(before, before);
    CHECK(plan.nothing());
  }
  SECTION("a community value: FRR only") {
    auto after = before;
    after.bgp.sla_communities[0].compliant[0].local1 = 200;
    auto plan = plan_reload(before, after);
    CHECK(plan.apply_frr);
    CHECK(plan.communities);
    CHECK_FALSE(plan.sla_policy);
    CHECK_FALSE(plan.paths);
    CHECK(plan.restart_required.empty());
  }
  SECTION("an SLA threshold: the engine only, FRR untouched") {
    auto after = before;
    after.sla_classes[0].max_latency_ms = 60;
    auto plan = plan_reload(before, after);
    CHECK(plan.sla_policy);
    CHECK_FALSE(plan.apply_frr);
    CHECK_FALSE(plan.paths);
  }
  SECTION("a probe setting: the engine only") {
    auto after = before;
    after.probes.hold_down_ms = 5000;
    auto plan = plan_reload(before, after);
    CHECK(plan.sla_policy);
    CHECK_FALSE(plan.apply_frr);
  }
  SECTION("a peer removed: paths, overlay peers and FRR") {
    auto after = before;
    after.peers.pop_back();
    auto plan = plan_reload(before, after);
    CHECK(plan.paths);
    CHECK(plan.apply_frr);
    CHECK(plan.summary.find("lon1") != std::string::npos);
  }
  SECTION("the FPM port: FRR now, routed's listener at the next start") {
    auto after = before;
    after.fpm.port = 2700;
    auto plan = plan_reload(before, after);
    CHECK(plan.apply_frr);
    CHECK(plan.restart_required == std::vector<std::string>{"fpm.port"});
  }
  SECTION("the forwarder socket: restart required") {
    auto after = before;
    after.forwarder.control_socket = "/run/other.sock";
    auto plan = plan_reload(before, after);
    CHECK(plan.restart_required == std::vector<std::string>{"forwarder.control_socket"});
    CHECK_FALSE(plan.apply_frr);
  }
}

TEST_CASE("control socket: one JSON line in, one out, errors never thrown") {
  ControlHandler h = [](const nlohmann::json& req) -> nlohmann::json {
    if (req.value("command", "") == "boom") throw std::runtime_error("boom");
    return {{"ok", req.value("command", "")}};
  };
  CHECK(answer_line(R"({"command":"status"})", h) == "{\"ok\":\"status\"}\n");
  CHECK(nlohmann::json::parse(answer_line("not json", h)).contains("error"));
  CHECK(nlohmann::json::parse(answer_line("[1]", h)).contains("error"));
  CHECK(nlohmann::json::parse(answer_line(R"({"command":"boom"})", h))["error"] == "boom");
}

}  // namespace
}  // namespace causeway::rt
