// SPDX-License-Identifier: Apache-2.0
#include "routed/daemon.h"

#include <unistd.h>

#include <condition_variable>
#include <csignal>
#include <iostream>
#include <mutex>
#include <thread>

#include <prometheus/exposer.h>
#include <spdlog/spdlog.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "causeway/rt/sla/engine.h"
#include "causeway/rt/sla/export.h"
#include "fpm/server.h"
#include "frr/frr_config.h"
#include "intent/intent.h"
#include "routed/control_server.h"
#include "routed/exports.h"
#include "routed/fib_builder.h"
#include "routed/forwarder_programmer.h"
#include "routed/policy_map.h"
#include "routed/probe_feed.h"
#include "routed/reload.h"

namespace causeway::rt {

namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

OverlayPeers overlay_peers(const intent::Intent& in) {
  OverlayPeers peers;
  for (const auto& p : in.peers) peers[p.overlay_address] = p.name;
  return peers;
}

sla::TimePoint sla_now() {
  return std::chrono::duration_cast<sla::TimePoint>(Clock::now().time_since_epoch());
}

intent::SlaState to_intent_state(sla::ClassHealth h) {
  switch (h) {
    case sla::ClassHealth::kCompliant:
      return intent::SlaState::kCompliant;
    case sla::ClassHealth::kDegraded:
      return intent::SlaState::kDegraded;
    case sla::ClassHealth::kDown:
      break;
  }
  return intent::SlaState::kDown;
}

class Routed {
 public:
  Routed(const RoutedOptions& options, intent::Intent intent, sla::Engine engine)
      : options_(options),
        intent_(std::move(intent)),
        engine_(std::move(engine)),
        programmer_(fwd_socket()),
        probes_(fwd_socket()),
        link_(make_control_link(fwd_socket())),
        fib_(*link_, programmer_, overlay_peers(intent_)),
        frr_(frr_options(options)),
        signals_(io_, SIGHUP, SIGINT, SIGTERM),
        tick_(io_),
        bfd_watch_(io_),
        sla_timer_(io_) {}

  std::string fwd_socket() const {
    return options_.fwd_socket.empty() ? intent_.forwarder.control_socket : options_.fwd_socket;
  }

  static frr::ApplyOptions frr_options(const RoutedOptions& o) {
    frr::ApplyOptions a;
    a.pathspace = o.frr_pathspace;
    if (!o.frr_config.empty()) {
      a.config_path = o.frr_config;
    } else if (!o.frr_pathspace.empty()) {
      a.config_path = "/etc/frr/" + o.frr_pathspace + "/frr.conf";
    }
    return a;
  }

  int run() {
    board_.pop = intent_.identity.pop;
    add_paths(paths_from_intent(intent_));
    configure_steering();
    if (!options_.no_frr) {
      auto r = frr_.apply(frr::render_frr_conf(intent_, sla_states_));
      ++board_.frr_applies;
      if (!r) {
        spdlog::error("FRR configuration not applied: {}", r.error().message);
        return 1;
      }
      spdlog::info("FRR configuration applied ({} lines removed, {} added)",
                   r.value().deleted.size(), r.value().added.size());
    }
    fpm::ServerOptions so;
    so.address = options_.fpm_address;
    so.port = intent_.fpm.port;
    so.core.quiet_period = std::chrono::milliseconds(options_.fpm_quiet_ms);
    auto server = fpm::Server::start(io_, fib_, so);
    if (!server) {
      spdlog::error("FPM server: {}", server.error().message);
      return 1;
    }
    fpm_ = std::move(server).value();
    spdlog::info("FPM server listening on {}:{}", so.address, fpm_->port());

    auto control = RoutedControlServer::start(
        io_, options_.control_socket, [this](const nlohmann::json& req) { return answer(req); });
    if (!control) {
      spdlog::error("control socket: {}", control.error().message);
      return 1;
    }
    control_ = std::move(control).value();

    std::unique_ptr<prometheus::Exposer> exposer;
    auto collector = std::make_shared<RoutedCollector>(board_store_, fib_);
    if (!options_.metrics_address.empty()) {
      try {
        exposer = std::make_unique<prometheus::Exposer>(options_.metrics_address);
        exposer->RegisterCollectable(collector);
      } catch (const std::exception& e) {
        spdlog::error("metrics exposer on {}: {}", options_.metrics_address, e.what());
        return 1;
      }
    }

    fib_.start();
    auto work = asio::make_work_guard(frr_io_);
    std::thread frr_thread([this] { frr_io_.run(); });
    std::thread steering_thread([this] { steering_loop(); });
    wait_signal();
    on_tick();
    if (!options_.no_frr) watch_bfd();
    arm_sla();
    io_.run();

    {
      std::lock_guard lock(steer_mu_);
      steer_stop_ = true;
    }
    steer_cv_.notify_one();
    steering_thread.join();
    work.reset();
    frr_io_.stop();
    frr_thread.join();
    fib_.stop();
    if (control_) control_->stop();
    if (fpm_) fpm_->stop();
    spdlog::info("causeway-routed stopped");
    return 0;
  }

 private:
  // The path programmer and the probe feed follow the intent and the engine's path ids.
  void configure_steering() {
    const SteeringPlan plan = steering_plan_from_intent(intent_, path_ids_);
    for (auto it = deferred_.begin(); it != deferred_.end();) {  // PoPs or classes removed
      const bool known = plan.peer(it->first.first) && plan.class_ids.contains(it->first.second);
      it = known ? std::next(it) : deferred_.erase(it);
    }
    programmer_.configure(plan);
    probes_.configure(plan);
    wake_steering();
  }

  void wake_steering() {
    {
      std::lock_guard lock(steer_mu_);
      steer_wake_ = true;
    }
    steer_cv_.notify_one();
  }

  // The steering thread: forwarder I/O of the path programmer and the probe feed, so the
  // io_context never waits for the forwarder. Probe events go to the engine on the io_context.
  void steering_loop() {
    while (true) {
      {
        std::unique_lock lock(steer_mu_);
        steer_cv_.wait_for(lock, probes_.poll_period(),
                           [this] { return steer_stop_ || steer_wake_; });
        if (steer_stop_) return;
        steer_wake_ = false;
      }
      programmer_.process();
      std::vector<ProbeEvent> events = probes_.poll();
      if (!events.empty()) {
        asio::post(io_, [this, events = std::move(events)] { feed_probes(events); });
      }
    }
  }

  void feed_probes(const std::vector<ProbeEvent>& events) {
    for (const ProbeEvent& e : events) {
      if (e.reply) {
        engine_.on_probe_reply(e.path, e.seq, e.at);
      } else {
        engine_.on_probe_sent(e.path, e.seq, e.at);
      }
    }
    arm_sla();  // advance() after the batch; the timer follows next_deadline()
  }

  void add_paths(const std::vector<PathSpec>& specs) {
    for (const auto& s : specs) {
      const auto key = std::make_pair(s.remote_pop, s.backbone);
      if (path_ids_.contains(key)) continue;
      const sla::PathId id(next_path_id_++);
      if (auto r = engine_.add_path(id, s.remote_pop, s.backbone); !r) {
        spdlog::warn("SLA path {} via {}: {}", s.remote_pop, s.backbone, r.error().message);
        continue;
      }
      path_ids_[key] = id;
    }
  }
  void sync_paths(const std::vector<PathSpec>& specs) {
    std::set<std::pair<std::string, std::string>> wanted;
    for (const auto& s : specs) wanted.insert({s.remote_pop, s.backbone});
    for (auto it = path_ids_.begin(); it != path_ids_.end();) {
      if (!wanted.contains(it->first)) {
        (void)engine_.remove_path(it->second);
        it = path_ids_.erase(it);
      } else {
        ++it;
      }
    }
    add_paths(specs);
  }

  void wait_signal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        reload();
        wait_signal();
        return;
      }
      spdlog::info("signal {}: stopping", sig);
      io_.stop();
    });
  }

  // SIGHUP: the file is validated whole; on error nothing changes.
  void reload() {
    auto next = intent::load_intent(options_.intent_path);
    if (!next) {
      ++board_.reload_failures;
      spdlog::error("reload refused, nothing applied: {}", next.error().message);
      return;
    }
    const ReloadPlan plan = plan_reload(intent_, next.value());
    if (plan.nothing()) {
      spdlog::info("reload: intent unchanged");
      return;
    }
    std::optional<sla::Policy> policy;
    if (plan.sla_policy) {
      auto p = sla_policy_from_intent(next.value());
      if (!p) {
        ++board_.reload_failures;
        spdlog::error("reload refused, nothing applied: {}", p.error().message);
        return;
      }
      policy = std::move(p).value();
    }
    if (policy) {
      if (auto r = engine_.set_policy(*policy); !r) {
        ++board_.reload_failures;
        spdlog::error("reload refused, nothing applied: {}", r.error().message);
        return;
      }
    }
    spdlog::info("reload: {}", plan.summary);
    for (const auto& f : plan.restart_required) {
      spdlog::warn("reload: {} changed; it takes effect at the next start", f);
    }
    const intent::Intent old = intent_;
    intent_ = std::move(next).value();
    for (const auto& f : plan.restart_required) {
      if (f == "forwarder.control_socket") {
        intent_.forwarder.control_socket = old.forwarder.control_socket;
      } else if (f == "fpm.port") {
        intent_.fpm.port = old.fpm.port;
      }
    }
    if (plan.paths) sync_paths(paths_from_intent(intent_));
    configure_steering();  // before the FIB builder translates the routes with the new groups
    if (plan.paths) fib_.set_overlay_peers(overlay_peers(intent_));
    ++board_.reloads;
    if (plan.apply_frr && !options_.no_frr) {
      const std::string text = frr::render_frr_conf(intent_, sla_states_);
      asio::post(frr_io_, [this, text] {
        auto r = frr_.apply(text);
        asio::post(io_, [this, ok = bool(r), msg = r ? std::string() : r.error().message] {
          ++board_.frr_applies;
          if (!ok) {
            ++board_.frr_apply_failures;
            spdlog::error("FRR configuration not applied (previous one restored): {}", msg);
          } else {
            spdlog::info("FRR configuration applied");
          }
        });
      });
    }
    arm_sla();
  }

  void arm_sla() {
    handle_decisions(engine_.advance(sla_now()));
    const auto deadline = engine_.next_deadline();
    const auto at = deadline
                        ? Clock::time_point(std::chrono::duration_cast<Clock::duration>(*deadline))
                        : Clock::now() + std::chrono::seconds(1);
    sla_timer_.expires_at(std::max(at, Clock::now() + std::chrono::milliseconds(1)));
    sla_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) arm_sla();
    });
  }

  void handle_decisions(std::span<const sla::DecisionChange> changes) {
    std::optional<sla::Snapshot> snap;
    bool programmed = false;
    for (const auto& c : changes) {
      std::string to;
      for (const auto& id : c.to) to += (to.empty() ? "" : ",") + std::to_string(id.value());
      spdlog::info("sla: {} class {} -> paths [{}] ({}: {})", c.remote_pop, c.traffic_class, to,
                   sla::to_string(c.reason), c.detail);
      const auto key = std::make_pair(c.remote_pop, c.traffic_class);
      // Dropping a class on the strength of no measurement (e.g. just after a start) would
      // stop traffic the forwarder carries: deferred until a path has been judged.
      if (c.to.empty() && c.reason != sla::Reason::kNoPath) {
        if (!snap) snap = engine_.snapshot();
        if (!measured_for(*snap, c.remote_pop, c.traffic_class)) {
          deferred_[key] = c.to;
          continue;
        }
      }
      deferred_.erase(key);
      programmer_.set_class_paths(c.remote_pop, c.traffic_class, c.to);
      programmed = true;
    }
    if (!deferred_.empty()) {
      if (!snap) snap = engine_.snapshot();
      for (auto it = deferred_.begin(); it != deferred_.end();) {
        if (!measured_for(*snap, it->first.first, it->first.second)) {
          ++it;
          continue;
        }
        programmer_.set_class_paths(it->first.first, it->first.second, it->second);
        programmed = true;
        it = deferred_.erase(it);
      }
    }
    if (programmed) wake_steering();
    if (changes.empty()) return;
    update_communities();
  }

  // The carrier communities follow the classes' health once measurements exist (a PoP whose
  // paths are all still unmeasured announces its configured state, compliant).
  void update_communities() {
    const sla::Snapshot snap = engine_.snapshot();
    bool measured = false;
    for (const auto& p : snap.paths) measured = measured || p.health != sla::PathHealth::kPending;
    if (!measured || options_.no_frr) return;
    frr::SlaStates states;
    for (const auto& h : sla::class_health(snap, engine_.policy())) {
      states[h.traffic_class] = to_intent_state(h.health);
    }
    if (states == sla_states_) return;
    sla_states_ = states;
    const std::string fragment = frr::render_sla_update(intent_, states);
    asio::post(frr_io_, [this, fragment] {
      auto r = frr_.apply_fragment(fragment);
      if (!r) spdlog::error("SLA communities not applied: {}", r.error().message);
    });
  }

  // The BFD registration watchdog (routing/frr/frr_config.h): every 10 s, on the FRR thread,
  // with the intent of the moment (a copy: reloads change intent_ on this thread).
  void watch_bfd() {
    bfd_watch_.expires_after(std::chrono::seconds(10));
    bfd_watch_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) return;
      asio::post(frr_io_, [this, intent = intent_] {
        auto r = frr_.repair_bfd(intent);
        if (!r) {
          spdlog::debug("BFD watchdog: {}", r.error().message);
          return;
        }
        if (r.value().empty()) return;
        for (const auto& a : r.value()) {
          spdlog::warn(
              "BFD watchdog: bgpd never registered neighbour {} with bfdd; its BFD was "
              "configured again",
              a);
        }
        asio::post(io_, [this, n = r.value().size()] { board_.bfd_repairs += n; });
      });
      watch_bfd();
    });
  }

  void on_tick() {
    if (fpm_) {
      if (fpm_->connected() && !fpm_->core().state().snapshot_open()) fib_.set_zebra_synced();
      board_.fpm.connected = fpm_->connected();
      board_.fpm.counters = fpm_->core().counters();
      board_.fpm.routes = fpm_->core().routes().size();
    }
    board_.sla = engine_.snapshot();
    board_.steering_events = steering_events();
    board_.missing_members = programmer_.counters().missing_members.load();
    board_store_.set(board_);
    tick_.expires_after(std::chrono::milliseconds(200));
    tick_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) on_tick();
    });
  }

  nlohmann::json answer(const nlohmann::json& req) {
    const std::string cmd = req.value("command", std::string());
    if (cmd == "status") return status_json(board_, fib_.status(), fib_.counters());
    if (cmd == "sla") {
      const sla::Snapshot snap = engine_.snapshot();
      return {{"sla", sla::to_json(snap)}, {"table", sla::render_table(snap)}};
    }
    if (cmd == "paths") return paths_json();
    return {{"error", "unknown command '" + cmd + "' (status, sla, paths)"}};
  }

  std::vector<std::pair<std::string, std::uint64_t>> steering_events() const {
    const ProgrammerCounters& pc = programmer_.counters();
    const ProbeFeedCounters& fc = probes_.counters();
    return {{"programmer_connects", pc.connects.load()},
            {"programmer_full_syncs", pc.full_syncs.load()},
            {"programmer_groups_sent", pc.groups_sent.load()},
            {"programmer_classes_sent", pc.classes_sent.load()},
            {"programmer_rejected", pc.rejected.load()},
            {"programmer_errors", pc.errors.load()},
            {"probes_polls", fc.polls.load()},
            {"probes_sent", fc.sent.load()},
            {"probes_replies", fc.replies.load()},
            {"probes_unmapped", fc.unmapped.load()},
            {"probes_malformed", fc.malformed.load()},
            {"probes_missed", fc.missed.load()},
            {"probes_errors", fc.errors.load()},
            {"probes_connects", fc.connects.load()},
            {"probes_interval_sets", fc.interval_sets.load()}};
  }

  nlohmann::json paths_json() {
    nlohmann::json routes = nlohmann::json::array();
    std::string table = "PREFIX  TABLE  REMOTE-POP  NEXT-HOP\n";
    for (const auto& r : programmer_.routes()) {
      routes.push_back({{"prefix", r.key.prefix.str()},
                        {"table", r.key.table},
                        {"remote_pop", r.remote_pop},
                        {"next_hop", r.next_hop.str()}});
      table += r.key.prefix.str() + "  " + std::to_string(r.key.table) + "  " + r.remote_pop +
               "  " + r.next_hop.str() + "\n";
    }
    nlohmann::json groups = nlohmann::json::array();
    table += "\nREMOTE-POP  TRAFFIC-CLASS  PATHS\n";
    for (const auto& [key, ids] : programmer_.class_paths()) {
      nlohmann::json jids = nlohmann::json::array();
      std::string text;
      for (const auto& id : ids) {
        jids.push_back(id.value());
        text += (text.empty() ? "" : ",") + std::to_string(id.value());
      }
      groups.push_back({{"remote_pop", key.first}, {"traffic_class", key.second}, {"paths", jids}});
      table += key.first + "  " + key.second + "  " + (text.empty() ? "-" : text) + "\n";
    }
    nlohmann::json counters = nlohmann::json::object();
    for (const auto& [name, value] : steering_events()) counters[name] = value;
    counters["programmer_missing_members"] = programmer_.counters().missing_members.load();
    return {{"overlay_routes", routes},
            {"class_paths", groups},
            {"programmed", true},
            {"forwarder", programmer_.status()},
            {"probe_feed_connected", probes_.connected()},
            {"counters", counters},
            {"table", table}};
  }

  const RoutedOptions& options_;
  intent::Intent intent_;
  sla::Engine engine_;
  std::map<std::pair<std::string, std::string>, sla::PathId> path_ids_;
  std::uint32_t next_path_id_ = 1;
  // Empty decisions not programmed yet because no path of the PoP was judged for the class.
  std::map<std::pair<std::string, std::string>, std::vector<sla::PathId>> deferred_;
  ForwarderPathProgrammer programmer_;
  ProbeFeed probes_;
  std::unique_ptr<ForwarderLink> link_;
  FibBuilder fib_;
  frr::FrrApplier frr_;
  frr::SlaStates sla_states_;
  asio::io_context io_;
  asio::io_context frr_io_;  // the FRR thread: vtysh and frr-reload.py run here
  asio::signal_set signals_;
  asio::steady_timer tick_;
  asio::steady_timer bfd_watch_;
  asio::steady_timer sla_timer_;
  std::unique_ptr<fpm::Server> fpm_;
  std::unique_ptr<RoutedControlServer> control_;
  // Protects steer_stop_ and steer_wake_: set by the io_context thread, read by the steering
  // thread.
  std::mutex steer_mu_;
  std::condition_variable steer_cv_;
  bool steer_stop_ = false;
  bool steer_wake_ = false;
  Board board_;              // io_context thread
  StatusBoard board_store_;  // copies for the other threads
};

}  // namespace

int run_routed(const RoutedOptions& options) {
  auto in = intent::load_intent(options.intent_path);
  if (!in) {
    std::cerr << "causeway-routed: " << in.error().message << "\n";
    return 2;
  }
  auto policy = sla_policy_from_intent(in.value());
  if (!policy) {
    std::cerr << "causeway-routed: " << options.intent_path << ": " << policy.error().message
              << "\n";
    return 2;
  }
  auto engine = sla::Engine::create(policy.value());
  if (!engine) {
    std::cerr << "causeway-routed: " << engine.error().message << "\n";
    return 2;
  }
  if (options.check_only) {
    std::cout << frr::render_frr_conf(in.value());
    std::cerr << "causeway-routed: " << options.intent_path << ": valid\n";
    return 0;
  }
  signal(SIGPIPE, SIG_IGN);
  Routed routed(options, std::move(in).value(), std::move(engine).value());
  return routed.run();
}

}  // namespace causeway::rt
