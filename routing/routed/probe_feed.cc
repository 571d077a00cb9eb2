// SPDX-License-Identifier: Apache-2.0
// Probe feed (probe_feed.h): kGetProbeEvents -> SLA engine events, kSetProbeInterval.
#include "routed/probe_feed.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace causeway::rt {

namespace ctl = fwd::ctl;
using Clock = std::chrono::steady_clock;

namespace {
// A forwarder that refuses the read (e.g. one without probes) is asked again this much later.
constexpr auto kRefusedRetry = std::chrono::seconds(5);
}  // namespace

ProbeFeed::ProbeFeed(std::string socket_path, std::chrono::milliseconds reconnect_interval)
    : session_("probe feed", std::move(socket_path), "causeway-routed/probes", reconnect_interval,
               counters_.connects, counters_.errors) {}

void ProbeFeed::configure(SteeringPlan plan) {
  std::lock_guard lock(mu_);
  if (plan.probe_interval_ms != plan_.probe_interval_ms) interval_due_ = true;
  plan_ = std::move(plan);
}

std::chrono::milliseconds ProbeFeed::poll_period() const {
  std::lock_guard lock(mu_);
  const auto half = std::chrono::milliseconds(plan_.probe_interval_ms / 2);
  return std::clamp(half, std::chrono::milliseconds(5), std::chrono::milliseconds(20));
}

bool ProbeFeed::connected() const {
  std::lock_guard lock(mu_);
  return connected_;
}

void ProbeFeed::lost(const Error& error) {
  session_.lost(error);
  std::lock_guard lock(mu_);
  connected_ = false;
}

std::vector<ProbeEvent> ProbeFeed::poll(Clock::time_point now) {
  std::vector<ProbeEvent> out;
  const ForwarderSession::State state = session_.connect_when_due(now);
  if (state == ForwarderSession::State::kDown) return out;
  if (state == ForwarderSession::State::kNew) {
    if (session_.hello().pid != forwarder_pid_) {
      forwarder_pid_ = session_.hello().pid;
      cursor_ = 0;  // another forwarder process: its ring starts anew
    }
    next_read_ = {};
    refusal_logged_ = false;
    std::lock_guard lock(mu_);
    connected_ = true;
    interval_due_ = true;
  }
  ctl::ControlClient& client = session_.client();
  SteeringPlan plan;
  bool interval_due = false;
  {
    std::lock_guard lock(mu_);
    interval_due = interval_due_;
    interval_due_ = false;
    if (interval_due || now >= next_read_) plan = plan_;
  }
  if (interval_due) {
    auto r = client.request_json(ctl::MsgType::kSetProbeInterval,
                                 {{"interval_ms", plan.probe_interval_ms}});
    if (!r) {
      lost(r.error());
      std::lock_guard lock(mu_);
      interval_due_ = true;
      return out;
    }
    if (r.value().is_ok()) {
      counters_.interval_sets.fetch_add(1, std::memory_order_relaxed);
      spdlog::info("probe interval {} ms on {} peers", plan.probe_interval_ms,
                   r.value().body.value("peers", 0));
    } else {
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
      spdlog::warn("probe interval not set: {}", r.value().error_message());
    }
  }
  if (now < next_read_) return out;
  counters_.polls.fetch_add(1, std::memory_order_relaxed);
  auto r = client.request_json(ctl::MsgType::kGetProbeEvents, {{"cursor", cursor_}});
  if (!r) {
    lost(r.error());
    return out;
  }
  const ctl::Reply& reply = r.value();
  if (!reply.is_ok()) {
    counters_.errors.fetch_add(1, std::memory_order_relaxed);
    // Once per connection: a forwarder without probes refuses every 5 s.
    spdlog::log(refusal_logged_ ? spdlog::level::debug : spdlog::level::warn,
                "probe events: {}; asking again every {} s", reply.error_message(),
                std::chrono::duration_cast<std::chrono::seconds>(kRefusedRetry).count());
    refusal_logged_ = true;
    next_read_ = now + kRefusedRetry;
    return out;
  }
  const nlohmann::json& body = reply.body;
  const auto cursor = body.find("cursor");
  const auto events = body.find("events");
  if (cursor == body.end() || !cursor->is_number_unsigned() || events == body.end() ||
      !events->is_array()) {
    counters_.malformed.fetch_add(1, std::memory_order_relaxed);
    return out;
  }
  cursor_ = cursor->get<std::uint64_t>();
  if (auto m = body.find("missed"); m != body.end() && m->is_number_unsigned()) {
    counters_.missed.fetch_add(m->get<std::uint64_t>(), std::memory_order_relaxed);
  }
  out.reserve(events->size());
  for (const auto& e : *events) {
    if (!e.is_object()) {
      counters_.malformed.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    const auto kind = e.find("kind");
    const auto seq = e.find("seq");
    const auto ns = e.find("ns");
    const auto tunnel = e.find("tunnel");
    if (kind == e.end() || !kind->is_string() || seq == e.end() || !seq->is_number_unsigned() ||
        seq->get<std::uint64_t>() > UINT32_MAX || ns == e.end() || !ns->is_number_unsigned() ||
        tunnel == e.end() || !tunnel->is_string() || (*kind != "sent" && *kind != "reply")) {
      counters_.malformed.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    auto path = plan.path_of(tunnel->get<std::string>(), e.value("peer", std::string()),
                             e.value("public_key", std::string()));
    if (!path) {
      counters_.unmapped.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    ProbeEvent pe;
    pe.path = *path;
    pe.reply = *kind == "reply";
    pe.seq = static_cast<std::uint32_t>(seq->get<std::uint64_t>());
    pe.at = sla::TimePoint(static_cast<std::int64_t>(ns->get<std::uint64_t>()));
    (pe.reply ? counters_.replies : counters_.sent).fetch_add(1, std::memory_order_relaxed);
    out.push_back(pe);
  }
  return out;
}

}  // namespace causeway::rt
