// SPDX-License-Identifier: Apache-2.0
// Steering in causeway-routed against a fake forwarder control server (a real UNIX socket and
// the real codec): the plan from the documented intent, members found in kGetTunnels, the
// ForwarderPathProgrammer's requests (classes, groups, per-class active sets, resend on reset,
// forwarder restart and reload), the probe feed (cursor, mapping, counters, interval, restart),
// their forwarder session (reconnect pacing) and probe events driving the SLA engine into a
// path group change.
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "causeway/fwd/steering_codec.h"
#include "causeway/rt/sla/engine.h"
#include "control/server.h"
#include "routed/forwarder_programmer.h"
#include "routed/forwarder_session.h"
#include "routed/policy_map.h"
#include "routed/probe_feed.h"
#include "routed/steering_plan.h"

namespace causeway::rt {
namespace {

namespace ctl = fwd::ctl;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr const char* kFraKey = "neAN2cKV57G8y8uIGu9qOv6LUSnex9JUaLcR0GNsSFI=";
constexpr const char* kLonKey = "YZloYzYH1JoX93wQ2LrAAs9w6abBLZ8SEj/Zxytljg8=";

intent::Intent example() {
  std::ifstream in(std::string(CAUSEWAY_SOURCE_DIR) + "/docs/examples/pop-intent.yaml");
  REQUIRE(in);
  std::ostringstream text;
  text << in.rdbuf();
  auto i = intent::parse_intent(text.str());
  REQUIRE(i);
  return i.value();
}

// The engine's ids as the daemon gives them: one per (peer, endpoint backbone), in order.
std::map<std::pair<std::string, std::string>, sla::PathId> path_ids(const intent::Intent& in) {
  std::map<std::pair<std::string, std::string>, sla::PathId> ids;
  std::uint32_t next = 1;
  for (const auto& s : paths_from_intent(in)) ids[{s.remote_pop, s.backbone}] = sla::PathId(next++);
  return ids;
}

// fra1 in wg-aws and wg-inet, lon1 in wg-inet (its key only: no name), plus a tunnel that is
// no backbone's.
json tunnels_reply() {
  return json{
      {"tunnels",
       {{{"name", "wg-aws"}, {"peers", {{{"name", "fra1"}, {"public_key", kFraKey}}}}},
        {{"name", "wg-inet"},
         {"peers",
          {{{"name", "fra1"}, {"public_key", kFraKey}}, {{"name", ""}, {"public_key", kLonKey}}}}},
        {{"name", "wg-lab"}, {"peers", {{{"name", "fra1"}, {"public_key", kFraKey}}}}}}}};
}

// A forwarder as the steering side sees it: records what it is told, answers probe reads from
// a script.
class FakeSteering final : public ctl::ControlHandler {
 public:
  ctl::Reply handle(ctl::MsgType type, std::span<const std::uint8_t> payload) override {
    std::lock_guard lock(mu);
    auto req = ctl::parse_request_json(payload);
    if (!req) return ctl::Reply::error(EINVAL, req.error().message);
    switch (type) {
      case ctl::MsgType::kHello:
        return ctl::Reply::ok({{"version", ctl::kVersion}, {"name", "pop"}, {"pid", pid}});
      case ctl::MsgType::kGetTunnels:
        ++tunnel_reads;
        return ctl::Reply::ok(tunnels);
      case ctl::MsgType::kSetTrafficClasses: {
        auto c = ctl::parse_traffic_classes(req.value());
        if (!c) return ctl::Reply::error(EINVAL, c.error().message);
        classes.push_back(c.value());
        return ctl::Reply::ok({{"classes", c.value().size()}});
      }
      case ctl::MsgType::kSetPathGroup: {
        auto g = ctl::parse_path_group(req.value(), 1024);
        if (!g) return ctl::Reply::error(EINVAL, g.error().message);
        groups.push_back(g.value());
        return ctl::Reply::ok({{"id", g.value().id}});
      }
      case ctl::MsgType::kSetProbeInterval:
        intervals.push_back(req.value().value("interval_ms", -1));
        return ctl::Reply::ok({{"peers", 3}});
      case ctl::MsgType::kGetProbeEvents: {
        cursors.push_back(req.value().value("cursor", std::uint64_t{999}));
        if (refuse_probes) return ctl::Reply::error(EOPNOTSUPP, "unsupported request");
        if (script.empty()) {
          return ctl::Reply::ok(
              {{"cursor", cursors.back()}, {"missed", 0}, {"events", json::array()}});
        }
        json r = script.front();
        script.pop_front();
        return ctl::Reply::ok(r);
      }
      default:
        return ctl::Reply::error(EOPNOTSUPP, "unsupported request");
    }
  }

  // The groups sent with this id, in order.
  std::vector<ctl::PathGroupRequest> group(std::uint16_t id) {
    std::lock_guard lock(mu);
    std::vector<ctl::PathGroupRequest> out;
    for (const auto& g : groups) {
      if (g.id == id) out.push_back(g);
    }
    return out;
  }

  std::mutex mu;  // protects everything below (io thread writes, test thread reads)
  long pid = 4242;
  json tunnels = tunnels_reply();
  int tunnel_reads = 0;
  std::vector<std::vector<ctl::TrafficClassSpec>> classes;
  std::vector<ctl::PathGroupRequest> groups;
  std::vector<int> intervals;
  std::vector<std::uint64_t> cursors;
  std::deque<json> script;
  bool refuse_probes = false;
};

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cw-steer-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::filesystem::path path;
};

// The fake served at `path` from its own io_context thread (a forwarder process).
class FakeForwarder {
 public:
  explicit FakeForwarder(const std::filesystem::path& path, long pid = 4242)
      : work_(boost::asio::make_work_guard(io_)) {
    handler.pid = pid;
    auto started = ctl::ControlServer::start(io_, handler, {path, 0660, 16});
    REQUIRE(started);
    server_ = std::move(started).value();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~FakeForwarder() {
    boost::asio::post(io_, [this] {
      server_->stop();
      io_.stop();
    });
    thread_.join();
  }
  FakeSteering handler;

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::unique_ptr<ctl::ControlServer> server_;
  std::thread thread_;
};

// Calls `step` until `done` holds, with a deadline (never sleeps for a state).
template <typename Step, typename Done>
bool drive(Step step, Done done, std::chrono::seconds limit = std::chrono::seconds(5)) {
  const auto deadline = Clock::now() + limit;
  while (Clock::now() < deadline) {
    step();
    if (done()) return true;
    std::this_thread::yield();
  }
  return done();
}

ctl::PathMemberName M(const char* tunnel, const char* peer) {
  return ctl::PathMemberName{tunnel, peer};
}

}  // namespace

TEST_CASE("steering plan: groups, classes and probe mapping from the documented intent",
          "[steering]") {
  const intent::Intent in = example();
  const SteeringPlan plan = steering_plan_from_intent(in, path_ids(in));
  REQUIRE(plan.peers.size() == 2);
  CHECK(plan.peers[0].name == "fra1");
  CHECK(plan.peers[0].group == 1);
  CHECK(plan.peers[0].public_key == kFraKey);
  CHECK(plan.peers[0].backbones == std::vector<std::string>{"aws", "inet"});
  CHECK(plan.peers[1].group == 2);
  // voice, erp, bulk -> classes 1, 2, 3 with the intent's match.
  REQUIRE(plan.classes.size() == 3);
  const auto& voice = plan.classes[0];
  CHECK(voice.id == 1);
  CHECK(voice.name == "voice");
  CHECK(voice.dscp == std::vector<std::uint8_t>{46, 34, 40});
  CHECK(voice.protocol == 17);
  CHECK(voice.dst_ports == std::vector<ctl::ClassPortRange>{{5060, 5060}, {16384, 32767}});
  CHECK(voice.src_ports.empty());
  CHECK(plan.classes[1].protocol == 6);
  CHECK(plan.classes[1].dst_prefixes ==
        std::vector<IpPrefix>{IpPrefix::parse("10.2.50.0/24").value()});
  CHECK(plan.classes[2].name == "bulk");
  CHECK(!plan.classes[2].protocol);  // no match: everything else
  CHECK(plan.class_ids.at("erp") == 2);
  CHECK(plan.unclassified.empty());
  CHECK(plan.probe_interval_ms == 100);
  // The message-14 encoding of the plan is what the forwarder accepts.
  auto decoded = ctl::parse_traffic_classes(ctl::traffic_classes_json(plan.classes));
  REQUIRE(decoded);
  CHECK(decoded.value() == plan.classes);
  // Probe events -> paths: (fra1, aws) = 1, (fra1, inet) = 2, (lon1, inet) = 3.
  CHECK(plan.path_of("wg-aws", "whatever", kFraKey) == sla::PathId(1));
  CHECK(plan.path_of("wg-inet", "fra1", "") == sla::PathId(2));
  CHECK(plan.path_of("wg-inet", "", kLonKey) == sla::PathId(3));
  CHECK(!plan.path_of("wg-aws", "lon1", kLonKey));  // lon1 has no aws endpoint
  CHECK(!plan.path_of("wg-mpls", "fra1", kFraKey));
  CHECK(!plan.path_of("aws", "fra1", kFraKey));
  CHECK(!plan.path_of("wg-aws", "par1", ""));
  CHECK(plan.path(sla::PathId(3)) == std::pair<std::string, std::string>{"lon1", "inet"});
}

TEST_CASE("steering plan: members from the forwarder's tunnels, per-class active sets",
          "[steering]") {
  const intent::Intent in = example();
  const SteeringPlan plan = steering_plan_from_intent(in, path_ids(in));
  const MemberMap members = members_from_tunnels(plan, tunnels_reply());
  REQUIRE(members.size() == 2);
  CHECK(members.at("fra1").at("aws") == M("wg-aws", "fra1"));
  CHECK(members.at("fra1").at("inet") == M("wg-inet", "fra1"));
  CHECK(members.at("lon1").at("inet") == M("wg-inet", kLonKey));  // nameless: by its key
  CHECK(members_from_tunnels(plan, json::object()).empty());
  CHECK(members_from_tunnels(plan, json{{"tunnels", 5}}).empty());

  // No decision yet: every member, no class sets.
  auto req = path_group_request(plan, plan.peers[0], members.at("fra1"), {});
  CHECK(req.id == 1);
  CHECK(req.members == std::vector{M("wg-aws", "fra1"), M("wg-inet", "fra1")});
  CHECK(req.active.empty());
  CHECK(req.classes.empty());
  // voice on aws, erp on both (ECMP), bulk dropped, a class the intent does not have ignored,
  // lon1's path in fra1's decision ignored.
  req = path_group_request(plan, plan.peers[0], members.at("fra1"),
                           {{"voice", {sla::PathId(1)}},
                            {"erp", {sla::PathId(2), sla::PathId(1), sla::PathId(3)}},
                            {"bulk", {}},
                            {"gone", {sla::PathId(2)}}});
  REQUIRE(req.classes.size() == 3);
  CHECK(req.classes[0].traffic_class == 1);
  CHECK(req.classes[0].active == std::vector{M("wg-aws", "fra1")});
  CHECK(req.classes[1].traffic_class == 2);
  CHECK(req.classes[1].active == std::vector{M("wg-inet", "fra1"), M("wg-aws", "fra1")});
  CHECK(req.classes[2].traffic_class == 3);
  CHECK(req.classes[2].active.empty());
  CHECK(req.active == std::vector{M("wg-aws", "fra1"), M("wg-inet", "fra1")});  // the union
  // A PoP without any tunnel peer: the request deletes its group.
  req = path_group_request(plan, plan.peers[1], {}, {{"voice", {sla::PathId(3)}}});
  CHECK(req.id == 2);
  CHECK(req.members.empty());
}

TEST_CASE("ForwarderSession: connects when due, reports a new connection, paced retries",
          "[steering]") {
  TempDir dir;
  const auto sock = dir.path / "fwd.sock";
  std::atomic<std::uint64_t> connects{0};
  std::atomic<std::uint64_t> errors{0};
  const auto interval = std::chrono::milliseconds(1000);
  ForwarderSession session("test", sock.string(), "causeway-routed/test", interval, connects,
                           errors);
  using State = ForwarderSession::State;
  const Clock::time_point t0 = Clock::time_point{} + std::chrono::hours(1);

  // No forwarder: the attempt fails, and the next one waits for the interval even once the
  // forwarder is there.
  CHECK(session.connect_when_due(t0) == State::kDown);
  auto fwd = std::make_unique<FakeForwarder>(sock, 4242);
  CHECK(session.connect_when_due(t0 + interval - std::chrono::milliseconds(1)) == State::kDown);
  CHECK(connects.load() == 0);
  CHECK(session.connect_when_due(t0 + interval) == State::kNew);
  CHECK(session.hello().pid == 4242);
  CHECK(connects.load() == 1);
  CHECK(session.connect_when_due(t0 + interval) == State::kUp);
  CHECK(session.client()
            .request_json(ctl::MsgType::kSetProbeInterval, {{"interval_ms", 50}})
            .has_value());
  CHECK(session.connect_when_due(t0 + 10 * interval) == State::kUp);  // kept, not remade
  CHECK(connects.load() == 1);

  // A transport error: counted, the client dropped; the reconnect is due at once here (the
  // last attempt was an interval ago) and finds the new process.
  fwd.reset();
  fwd = std::make_unique<FakeForwarder>(sock, 5151);
  session.lost(Error{"connection reset", ECONNRESET});
  CHECK(errors.load() == 1);
  const Clock::time_point t1 = t0 + 10 * interval;
  CHECK(session.connect_when_due(t1) == State::kNew);
  CHECK(session.hello().pid == 5151);
  CHECK(connects.load() == 2);

  // Lost again right after connecting: the next attempt waits for the interval.
  session.lost(Error{"timeout", ETIMEDOUT});
  CHECK(errors.load() == 2);
  CHECK(session.connect_when_due(t1 + interval / 2) == State::kDown);
  CHECK(connects.load() == 2);
  CHECK(session.connect_when_due(t1 + interval) == State::kNew);
  CHECK(connects.load() == 3);
  {
    std::lock_guard lock(fwd->handler.mu);
    CHECK(fwd->handler.intervals.empty());  // the first process had the request
  }
}

TEST_CASE("ForwarderPathProgrammer: classes and groups sent, decisions, reset, restart, reload",
          "[steering]") {
  TempDir dir;
  const auto sock = dir.path / "fwd.sock";
  const intent::Intent in = example();
  ForwarderPathProgrammer prog(sock.string(), std::chrono::milliseconds(0));
  prog.configure(steering_plan_from_intent(in, path_ids(in)));
  CHECK(prog.path_group("fra1") == 1);
  CHECK(prog.path_group("lon1") == 2);
  CHECK(!prog.path_group("par1"));
  CHECK(!prog.process());  // no forwarder yet: nothing sent, still pending
  CHECK(prog.pending());

  auto fwd = std::make_unique<FakeForwarder>(sock);
  CHECK(prog.process());
  {
    std::lock_guard lock(fwd->handler.mu);
    CHECK(fwd->handler.tunnel_reads == 1);
    REQUIRE(fwd->handler.classes.size() == 1);
    CHECK(fwd->handler.classes[0].size() == 3);
    CHECK(fwd->handler.groups.size() == 2);
  }
  auto g1 = fwd->handler.group(1);
  REQUIRE(g1.size() == 1);
  CHECK(g1[0].members == std::vector{M("wg-aws", "fra1"), M("wg-inet", "fra1")});
  CHECK(g1[0].classes.empty());
  REQUIRE(fwd->handler.group(2).size() == 1);
  CHECK(fwd->handler.group(2)[0].members == std::vector{M("wg-inet", kLonKey)});
  CHECK(prog.counters().groups_sent.load() == 2);
  CHECK(prog.counters().missing_members.load() == 0);

  // An SLA decision: only fra1's group is sent again, with the class set.
  prog.set_class_paths("fra1", "voice", {sla::PathId(2)});
  CHECK(prog.pending());
  CHECK(prog.process());
  g1 = fwd->handler.group(1);
  REQUIRE(g1.size() == 2);
  REQUIRE(g1[1].classes.size() == 1);
  CHECK(g1[1].classes[0].traffic_class == 1);
  CHECK(g1[1].classes[0].active == std::vector{M("wg-inet", "fra1")});
  CHECK(g1[1].active == std::vector{M("wg-inet", "fra1")});
  CHECK(fwd->handler.group(2).size() == 1);
  CHECK(prog.process());  // nothing new: nothing sent
  CHECK(fwd->handler.group(1).size() == 2);

  // The FIB builder's reconnect: everything again, decisions included.
  prog.reset();
  CHECK(prog.process());
  g1 = fwd->handler.group(1);
  REQUIRE(g1.size() == 3);
  CHECK(g1[2].classes.size() == 1);
  {
    std::lock_guard lock(fwd->handler.mu);
    CHECK(fwd->handler.classes.size() == 2);
    CHECK(fwd->handler.tunnel_reads == 2);
  }

  // The forwarder restarts (a new process on the same socket): routed notices on its next
  // request, reconnects and sends everything to the new one.
  fwd.reset();
  fwd = std::make_unique<FakeForwarder>(sock, 5151);
  prog.set_class_paths("fra1", "bulk", {});
  REQUIRE(drive([&] { prog.process(); }, [&] { return fwd->handler.group(1).size() == 1; }));
  g1 = fwd->handler.group(1);
  REQUIRE(g1[0].classes.size() == 2);  // voice on inet, bulk dropped
  CHECK(g1[0].classes[1].traffic_class == 3);
  CHECK(g1[0].classes[1].active.empty());
  CHECK(fwd->handler.group(2).size() == 1);
  CHECK(prog.counters().errors.load() >= 1);

  // Reload without lon1: its group is deleted, fra1 keeps group 1.
  intent::Intent next = in;
  next.peers.pop_back();
  prog.configure(steering_plan_from_intent(next, path_ids(next)));
  CHECK(!prog.path_group("lon1"));
  CHECK(prog.process());
  auto g2 = fwd->handler.group(2);
  REQUIRE(g2.size() == 2);
  CHECK(g2[1].members.empty());
  CHECK(fwd->handler.group(1).size() == 2);

  // A forwarder whose tunnels lack a peer: counted, and the group has what exists.
  {
    std::lock_guard lock(fwd->handler.mu);
    fwd->handler.tunnels["tunnels"].erase(0);  // no wg-aws
  }
  prog.reset();
  CHECK(prog.process());
  CHECK(prog.counters().missing_members.load() == 1);
  CHECK(fwd->handler.group(1).back().members == std::vector{M("wg-inet", "fra1")});

  // No tunnel at all: fra1's group is deleted once, and not sent again while it has no member.
  {
    std::lock_guard lock(fwd->handler.mu);
    fwd->handler.tunnels = json{{"tunnels", json::array()}};
  }
  const std::size_t before = fwd->handler.group(1).size();
  prog.reset();
  CHECK(prog.process());
  CHECK(prog.counters().missing_members.load() == 2);
  REQUIRE(fwd->handler.group(1).size() == before + 1);
  CHECK(fwd->handler.group(1).back().members.empty());
  prog.reset();
  CHECK(prog.process());
  CHECK(fwd->handler.group(1).size() == before + 1);
}

TEST_CASE("ProbeFeed: interval, cursor, mapping, counters, forwarder restart, refusal",
          "[steering]") {
  TempDir dir;
  const auto sock = dir.path / "fwd.sock";
  const intent::Intent in = example();
  ProbeFeed feed(sock.string(), std::chrono::milliseconds(0));
  feed.configure(steering_plan_from_intent(in, path_ids(in)));
  CHECK(feed.poll_period() == std::chrono::milliseconds(20));
  CHECK(feed.poll().empty());  // no forwarder
  CHECK(!feed.connected());

  auto fwd = std::make_unique<FakeForwarder>(sock);
  {
    std::lock_guard lock(fwd->handler.mu);
    fwd->handler.script.push_back(json::parse(R"({"cursor": 5, "missed": 2, "events": [
        {"tunnel": "wg-aws", "peer": "fra1", "public_key": ")" +
                                              std::string(kFraKey) +
                                              R"(", "kind": "sent", "seq": 1, "ns": 1000},
        {"tunnel": "wg-aws", "peer": "fra1", "kind": "reply", "seq": 1, "ns": 11000,
         "rtt_ns": 10000},
        {"tunnel": "wg-inet", "peer": "", "public_key": ")" +
                                              std::string(kLonKey) +
                                              R"(", "kind": "sent", "seq": 7, "ns": 2000},
        {"tunnel": "wg-mpls", "peer": "fra1", "kind": "sent", "seq": 1, "ns": 3000},
        {"tunnel": "wg-aws", "peer": "fra1", "kind": "lost", "seq": 1, "ns": 3000},
        {"tunnel": "wg-aws", "peer": "fra1", "kind": "sent", "seq": -1, "ns": 3000},
        "junk"
      ]})"));
  }
  const std::vector<ProbeEvent> events = feed.poll();
  REQUIRE(events.size() == 3);
  CHECK(events[0] == ProbeEvent{sla::PathId(1), false, 1, sla::TimePoint(1000)});
  CHECK(events[1] == ProbeEvent{sla::PathId(1), true, 1, sla::TimePoint(11000)});
  CHECK(events[2] == ProbeEvent{sla::PathId(3), false, 7, sla::TimePoint(2000)});
  CHECK(feed.counters().unmapped.load() == 1);
  CHECK(feed.counters().malformed.load() == 3);
  CHECK(feed.counters().missed.load() == 2);
  CHECK(feed.counters().sent.load() == 2);
  CHECK(feed.counters().replies.load() == 1);
  CHECK(feed.connected());
  CHECK(feed.poll().empty());
  {
    std::lock_guard lock(fwd->handler.mu);
    CHECK(fwd->handler.intervals == std::vector<int>{100});  // at connect
    CHECK(fwd->handler.cursors == std::vector<std::uint64_t>{0, 5});
  }

  // A reload with another interval: sent once; the poll period follows (interval / 2, >= 5).
  intent::Intent fast = in;
  fast.probes.interval_ms = 10;
  feed.configure(steering_plan_from_intent(fast, path_ids(fast)));
  CHECK(feed.poll_period() == std::chrono::milliseconds(5));
  (void)feed.poll();
  (void)feed.poll();
  {
    std::lock_guard lock(fwd->handler.mu);
    CHECK(fwd->handler.intervals == std::vector<int>{100, 10});
  }

  // A new forwarder process: the interval again, and the cursor from 0.
  fwd.reset();
  fwd = std::make_unique<FakeForwarder>(sock, 777);
  REQUIRE(drive([&] { (void)feed.poll(); },
                [&] {
                  std::lock_guard lock(fwd->handler.mu);
                  return !fwd->handler.cursors.empty();
                }));
  {
    std::lock_guard lock(fwd->handler.mu);
    CHECK(fwd->handler.cursors.front() == 0);
    CHECK(fwd->handler.intervals == std::vector<int>{10});
  }

  // A forwarder without probe events (EOPNOTSUPP): counted, and not asked again at once.
  {
    std::lock_guard lock(fwd->handler.mu);
    fwd->handler.refuse_probes = true;
    fwd->handler.cursors.clear();
  }
  const std::uint64_t errors = feed.counters().errors.load();
  (void)feed.poll();
  (void)feed.poll();
  (void)feed.poll();
  CHECK(feed.counters().errors.load() == errors + 1);
  std::lock_guard lock(fwd->handler.mu);
  CHECK(fwd->handler.cursors.size() == 1);
}

TEST_CASE("probe events through the engine reach the forwarder as per-class active sets",
          "[steering]") {
  TempDir dir;
  const auto sock = dir.path / "fwd.sock";
  const intent::Intent in = example();
  const auto ids = path_ids(in);
  const SteeringPlan plan = steering_plan_from_intent(in, ids);
  auto policy = sla_policy_from_intent(in);
  REQUIRE(policy);
  auto engine = sla::Engine::create(policy.value());
  REQUIRE(engine);
  for (const auto& [key, id] : ids) REQUIRE(engine.value().add_path(id, key.first, key.second));

  // Before any reply the engine drops every class (no path up); no path was judged, so routed
  // does not program those drops (measured_for).
  const std::int64_t base = 5'000'000'000;
  const auto first = engine.value().advance(sla::TimePoint(base - 1'000'000));
  REQUIRE(!first.empty());
  for (const auto& c : first) CHECK(c.to.empty());
  CHECK(!measured_for(engine.value().snapshot(), "fra1", "voice"));

  FakeForwarder fwd(sock);
  ProbeFeed feed(sock.string(), std::chrono::milliseconds(0));
  ForwarderPathProgrammer prog(sock.string(), std::chrono::milliseconds(0));
  feed.configure(plan);
  prog.configure(plan);
  REQUIRE(prog.process());

  // 20 probes every 100 ms on each path, as the forwarder reports them: fra1 over aws answers
  // in 12 ms, over inet in 95 ms (above voice's 80 ms), lon1 over inet in 30 ms.
  json events = json::array();
  const struct {
    const char* tunnel;
    const char* key;
    std::int64_t rtt_ms;
  } paths[] = {{"wg-aws", kFraKey, 12}, {"wg-inet", kFraKey, 95}, {"wg-inet", kLonKey, 30}};
  for (int k = 0; k < 20; ++k) {
    for (const auto& p : paths) {
      const std::int64_t tx = base + k * 100'000'000;
      events.push_back(
          {{"tunnel", p.tunnel}, {"public_key", p.key}, {"kind", "sent"}, {"seq", k}, {"ns", tx}});
      events.push_back({{"tunnel", p.tunnel},
                        {"public_key", p.key},
                        {"kind", "reply"},
                        {"seq", k},
                        {"ns", tx + p.rtt_ms * 1'000'000}});
    }
  }
  {
    std::lock_guard lock(fwd.handler.mu);
    fwd.handler.script.push_back({{"cursor", events.size()}, {"missed", 0}, {"events", events}});
  }
  const std::vector<ProbeEvent> got = feed.poll();
  REQUIRE(got.size() == 120);
  for (const ProbeEvent& e : got) {
    if (e.reply) {
      engine.value().on_probe_reply(e.path, e.seq, e.at);
    } else {
      engine.value().on_probe_sent(e.path, e.seq, e.at);
    }
  }
  const auto changes = engine.value().advance(sla::TimePoint(base + 2'000'000'000));
  REQUIRE(!changes.empty());
  CHECK(measured_for(engine.value().snapshot(), "fra1", "voice"));
  CHECK(measured_for(engine.value().snapshot(), "lon1", "bulk"));
  CHECK(!measured_for(engine.value().snapshot(), "par1", "voice"));
  for (const auto& c : changes) prog.set_class_paths(c.remote_pop, c.traffic_class, c.to);
  REQUIRE(prog.process());

  // fra1: voice (realtime, aws first) on aws; erp (ECMP over inet, aws; business 200 ms) on
  // both; bulk (inet only, business) on inet. lon1: every class on its one path.
  const auto g1 = fwd.handler.group(1);
  REQUIRE(g1.size() == 2);
  const ctl::PathGroupRequest& fra = g1.back();
  REQUIRE(fra.classes.size() == 3);
  CHECK(fra.classes[0].traffic_class == 1);
  CHECK(fra.classes[0].active == std::vector{M("wg-aws", "fra1")});
  CHECK(fra.classes[1].traffic_class == 2);
  CHECK(fra.classes[1].active == std::vector{M("wg-inet", "fra1"), M("wg-aws", "fra1")});
  CHECK(fra.classes[2].traffic_class == 3);
  CHECK(fra.classes[2].active == std::vector{M("wg-inet", "fra1")});
  const auto g2 = fwd.handler.group(2);
  REQUIRE(g2.size() == 2);
  CHECK(g2.back().classes[0].active == std::vector{M("wg-inet", kLonKey)});
}

}  // namespace causeway::rt
