// SPDX-License-Identifier: Apache-2.0
// FIB builder against a fake forwarder: translation (ports by mirror ifindex, kinds, ECMP
// truncation, skipped routes, overlay next hops to the path programmer), queueing without
// forwarder I/O on the FPM thread, and resynchronisation (sweep only after zebra's snapshot,
// replay on forwarder reconnect).
#include "routed/fib_builder.h"

#include <catch2/catch.hpp>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace causeway::rt {
namespace {

namespace ctl = fwd::ctl;

IpPrefix P(const char* t) {
  return IpPrefix::parse(t).value();
}
IpAddress A(const char* t) {
  return IpAddress::parse(t).value();
}

fpm::Route gw_route(const char* prefix, std::vector<std::pair<const char*, std::uint32_t>> hops,
                    std::uint32_t table = kMainTable) {
  fpm::Route r;
  r.key = {table, P(prefix)};
  r.protocol = 196;
  for (auto [gw, ifx] : hops) {
    fpm::NextHop nh;
    if (gw) nh.gateway = A(gw);
    nh.ifindex = ifx;
    r.next_hops.push_back(nh);
  }
  std::sort(r.next_hops.begin(), r.next_hops.end());
  return r;
}

fpm::RouteChange add(fpm::Route r) {
  return {fpm::ChangeKind::kAdd, std::move(r)};
}
fpm::RouteChange del(fpm::Route r) {
  return {fpm::ChangeKind::kDelete, std::move(r)};
}

// The forwarder's control slot per prefix, plus interface routes that deletes never touch.
class FakeForwarder final : public ForwarderLink {
 public:
  Result<void> connect() override {
    ++connects;
    if (refuse) return fail("refused", ECONNREFUSED);
    up = true;
    return boost::outcome_v2::success();
  }
  bool connected() const override { return up; }
  void disconnect() override { up = false; }
  Result<nlohmann::json> get_ports() override {
    nlohmann::json ports = nlohmann::json::array();
    for (auto [ifx, idx] : mirrors) ports.push_back({{"index", idx}, {"mirror_ifindex", ifx}});
    return nlohmann::json{{"ports", ports}};
  }
  Result<nlohmann::json> get_routes() override {
    ++listings;
    nlohmann::json routes = nlohmann::json::array();
    std::set<IpPrefix> shown;
    for (const auto& p : interface_routes) {
      routes.push_back({{"prefix", p.str()}, {"source", "interface"}, {"table", 0}});
      shown.insert(p);
    }
    for (const auto& [p, u] : fib) {
      if (!shown.contains(p))
        routes.push_back({{"prefix", p.str()}, {"source", "control"}, {"table", 0}});
    }
    return nlohmann::json{{"routes", routes}};
  }
  Result<std::uint64_t> send_routes(std::span<const ctl::RouteUpdate> updates) override {
    if (fail_sends) {
      up = false;
      return fail("broken pipe", EPIPE);
    }
    ++batches;
    std::uint64_t deleted = 0;
    for (const auto& u : updates) {
      log.push_back(u);
      if (u.op == ctl::RouteOp::kDelete) {
        deleted += fib.erase(u.prefix);
      } else {
        fib[u.prefix] = u;
      }
    }
    return deleted;
  }
  Result<void> ping() override { return boost::outcome_v2::success(); }

  std::map<std::uint32_t, std::uint16_t> mirrors{{7, 0}, {9, 1}};  // ifindex -> port
  std::map<IpPrefix, ctl::RouteUpdate> fib;
  std::vector<IpPrefix> interface_routes;
  std::vector<ctl::RouteUpdate> log;
  bool up = false, refuse = false, fail_sends = false;
  int connects = 0, batches = 0, listings = 0;
};

class FakeProgrammer final : public PathProgrammer {
 public:
  void set_route(const OverlayRoute& r) override { routes[r.key] = r; }
  void remove_route(const fpm::RouteKey& k) override { routes.erase(k); }
  void reset() override { ++resets; }
  void set_class_paths(const std::string&, const std::string&,
                       const std::vector<sla::PathId>&) override {}
  std::map<fpm::RouteKey, OverlayRoute> routes;
  int resets = 0;
};

const PortMap kPorts{{7, 0}, {9, 1}};
const OverlayPeers kPeers{{A("10.255.0.2"), "fra1"}};

TEST_CASE("translate: kinds, ports by mirror ifindex, skips") {
  auto t = translate(gw_route("10.1.0.0/16", {{"192.0.2.2", 9}}), kPorts, kPeers);
  REQUIRE(t.outcome == Translation::Outcome::kForwarder);
  CHECK(t.update.kind == ctl::RouteKind::kGateway);
  CHECK(t.update.port == 1);
  CHECK(t.update.gateway == A("192.0.2.2"));
  CHECK(t.update.table == 0);
  CHECK_FALSE(t.ecmp_truncated);

  t = translate(gw_route("10.7.0.0/24", {{nullptr, 7}}), kPorts, kPeers);
  CHECK(t.update.kind == ctl::RouteKind::kConnected);
  CHECK(t.update.port == 0);
  CHECK_FALSE(t.update.gateway);

  fpm::Route bh = gw_route("10.66.0.0/16", {});
  bh.type = fpm::RouteType::kBlackhole;
  t = translate(bh, kPorts, kPeers);
  CHECK(t.update.kind == ctl::RouteKind::kBlackhole);
  CHECK(t.update.port == ctl::kNoPort);
  bh.type = fpm::RouteType::kProhibit;
  CHECK(translate(bh, kPorts, kPeers).update.kind == ctl::RouteKind::kUnreachable);
  bh.type = fpm::RouteType::kUnreachable;
  CHECK(translate(bh, kPorts, kPeers).update.kind == ctl::RouteKind::kUnreachable);

  t = translate(gw_route("10.1.0.0/16", {{"192.0.2.2", 9}}, 1001), kPorts, kPeers);
  CHECK(t.outcome == Translation::Outcome::kSkipped);
  CHECK(t.skip == SkipReason::kTableUnsupported);
  t = translate(gw_route("10.1.0.0/16", {{"100.64.0.2", 3}}), kPorts, kPeers);  // lo / overlay
  CHECK(t.outcome == Translation::Outcome::kSkipped);
  CHECK(t.skip == SkipReason::kNotForwarderPort);
  t = translate(gw_route("10.1.0.0/16", {{"fe80::1", 9}}), kPorts, kPeers);  // RFC 5549
  CHECK(t.skip == SkipReason::kGatewayFamily);
}

TEST_CASE("translate: ECMP takes the lowest gateway on a port and says so") {
  auto t =
      translate(gw_route("10.1.0.0/16", {{"192.0.2.9", 9}, {"192.0.2.3", 7}, {"192.0.2.1", 4}}),
                kPorts, kPeers);
  REQUIRE(t.outcome == Translation::Outcome::kForwarder);
  CHECK(t.update.gateway == A("192.0.2.3"));  // .1 leaves through ifindex 4, not a port
  CHECK(t.update.port == 0);
  CHECK(t.ecmp_truncated);
  // Same members in another order: the same choice.
  auto u =
      translate(gw_route("10.1.0.0/16", {{"192.0.2.3", 7}, {"192.0.2.9", 9}, {"192.0.2.1", 4}}),
                kPorts, kPeers);
  CHECK(u.update == t.update);
}

TEST_CASE("translate: a remote PoP's overlay address goes to the path programmer") {
  auto r = gw_route("10.2.0.0/16", {{"10.255.0.2", 3}});
  r.protocol = 186;
  auto t = translate(r, kPorts, kPeers);
  REQUIRE(t.outcome == Translation::Outcome::kOverlay);
  CHECK(t.overlay.remote_pop == "fra1");
  CHECK(t.overlay.next_hop == A("10.255.0.2"));
  CHECK(t.overlay.key == r.key);
}

TEST_CASE("port map from the forwarder's ports reply") {
  auto m = port_map_from_json(nlohmann::json::parse(
      R"({"ports":[{"index":0,"mirror_ifindex":12},{"index":3,"mirror_ifindex":15}]})"));
  REQUIRE(m);
  CHECK(m.value() == PortMap{{12, 0}, {15, 3}});
  CHECK_FALSE(port_map_from_json(nlohmann::json::parse(R"({"ports":[{"index":0}]})")));
  CHECK_FALSE(port_map_from_json(nlohmann::json::parse(R"({"nope":1})")));
}

TEST_CASE("FibBuilder: the FPM thread only queues; the builder sends batches") {
  FakeForwarder fwd;
  FakeProgrammer prog;
  FibBuilder fib(fwd, prog, kPeers);
  const std::vector<fpm::RouteChange> b1{add(gw_route("10.1.0.0/16", {{"192.0.2.2", 9}})),
                                         add(gw_route("10.7.0.0/24", {{nullptr, 7}}))};
  fib.apply(b1);
  fib.apply(std::vector{add(gw_route("10.8.0.0/24", {{"192.0.2.2", 9}, {"192.0.2.5", 9}}))});
  CHECK(fwd.connects == 0);  // apply() did no forwarder I/O
  CHECK(fwd.log.empty());
  CHECK(fib.counters().queue_depth == 3);
  CHECK(fib.counters().batches_queued == 2);

  fib.process();
  CHECK(fwd.connects == 1);
  CHECK(fwd.batches == 1);  // three changes, one batch
  REQUIRE(fwd.fib.size() == 3);
  CHECK(fwd.fib.at(P("10.7.0.0/24")).kind == ctl::RouteKind::kConnected);
  CHECK(fwd.fib.at(P("10.8.0.0/24")).gateway == A("192.0.2.2"));
  CHECK(fib.counters().queue_depth == 0);
  CHECK(fib.counters().queue_depth_max == 3);
  auto st = fib.status();
  CHECK(st.installed == 3);
  CHECK(st.ecmp_truncated == 1);
  CHECK(st.routes_per_table.at(kMainTable) == 3);

  // A withdrawn route is deleted; an unchanged re-add sends nothing.
  fwd.log.clear();
  fib.apply(std::vector{del(gw_route("10.7.0.0/24", {{nullptr, 7}})),
                        add(gw_route("10.1.0.0/16", {{"192.0.2.2", 9}}))});
  fib.process();
  REQUIRE(fwd.log.size() == 1);
  CHECK(fwd.log[0].op == ctl::RouteOp::kDelete);
  CHECK(fwd.log[0].prefix == P("10.7.0.0/24"));
  CHECK_FALSE(fwd.fib.contains(P("10.7.0.0/24")));

  // ECMP shrinking to one next hop is no longer truncated.
  fib.apply(std::vector{add(gw_route("10.8.0.0/24", {{"192.0.2.5", 9}}))});
  fib.process();
  CHECK(fib.status().ecmp_truncated == 0);
  CHECK(fwd.fib.at(P("10.8.0.0/24")).gateway == A("192.0.2.5"));
}

TEST_CASE("FibBuilder: skipped routes are counted; overlay routes go to the programmer") {
  FakeForwarder fwd;
  FakeProgrammer prog;
  FibBuilder fib(fwd, prog, kPeers);
  auto overlay = gw_route("10.2.0.0/16", {{"10.255.0.2", 3}});
  fib.apply(std::vector{add(gw_route("10.1.0.0/16", {{"192.0.2.2", 9}}, 1001)),
                        add(gw_route("10.9.0.0/16", {{"100.64.0.2", 3}})), add(overlay)});
  fib.process();
  CHECK(fwd.fib.empty());
  auto st = fib.status();
  CHECK(st.skipped[static_cast<std::size_t>(SkipReason::kTableUnsupported)] == 1);
  CHECK(st.skipped[static_cast<std::size_t>(SkipReason::kNotForwarderPort)] == 1);
  REQUIRE(prog.routes.size() == 1);
  CHECK(prog.routes.begin()->second.remote_pop == "fra1");
  CHECK(st.overlay == 1);

  // The overlay route now resolves through a port: the programmer drops it, the FIB gets it.
  fib.apply(std::vector{add(gw_route("10.2.0.0/16", {{"192.0.2.2", 9}})),
                        del(gw_route("10.9.0.0/16", {{"100.64.0.2", 3}}))});
  fib.process();
  CHECK(prog.routes.empty());
  CHECK(fwd.fib.contains(P("10.2.0.0/16")));
  st = fib.status();
  CHECK(st.skipped[static_cast<std::size_t>(SkipReason::kNotForwarderPort)] == 0);
  CHECK(st.overlay == 0);
}

// A programmer that names path groups (as ForwarderPathProgrammer does): fra1 -> group 1.
class GroupProgrammer final : public PathProgrammer {
 public:
  void set_route(const OverlayRoute& r) override { routes[r.key] = r; }
  void remove_route(const fpm::RouteKey& k) override { routes.erase(k); }
  void reset() override {}
  void set_class_paths(const std::string&, const std::string&,
                       const std::vector<sla::PathId>&) override {}
  std::optional<std::uint16_t> path_group(const std::string& pop) const override {
    if (pop == "fra1") return 1;
    return std::nullopt;
  }
  std::map<fpm::RouteKey, OverlayRoute> routes;
};

TEST_CASE(
    "FibBuilder: overlay routes of a PoP with a path group are installed as kind 5, kept by "
    "the sweep, withdrawn with the route") {
  FakeForwarder fwd;
  GroupProgrammer prog;
  FibBuilder fib(fwd, prog, OverlayPeers{{A("10.255.0.2"), "fra1"}, {A("10.255.0.3"), "lon1"}});
  fib.apply(std::vector{add(gw_route("10.2.0.0/16", {{"10.255.0.2", 3}})),
                        add(gw_route("10.3.0.0/16", {{"10.255.0.3", 3}}))});
  fib.set_zebra_synced();
  fib.process();
  // fra1's route points at group 1 in the forwarder; lon1 has no group: recorded only.
  REQUIRE(fwd.fib.size() == 1);
  const ctl::RouteUpdate& u = fwd.fib.at(P("10.2.0.0/16"));
  CHECK(u.kind == ctl::RouteKind::kPathGroup);
  CHECK(u.port == 1);
  CHECK(!u.gateway);
  CHECK(prog.routes.size() == 2);
  CHECK(fwd.listings == 1);  // swept: the group route is ours and stays
  CHECK(fwd.fib.contains(P("10.2.0.0/16")));
  CHECK(fib.status().installed == 1);
  CHECK(fib.status().overlay == 2);
  // Withdrawn: deleted from the forwarder and from the programmer.
  fib.apply(std::vector{del(gw_route("10.2.0.0/16", {{"10.255.0.2", 3}}))});
  fib.process();
  CHECK(fwd.fib.empty());
  CHECK(prog.routes.size() == 1);
}

TEST_CASE("FibBuilder: restart resync sweeps stale routes only after zebra's snapshot") {
  FakeForwarder fwd;
  // What the previous routed left: one route still in zebra, one stale, one stale route
  // hidden under an interface route; plus an interface route of the forwarder itself.
  ctl::RouteUpdate keep{
      ctl::RouteOp::kAdd, P("10.1.0.0/16"), ctl::RouteKind::kGateway, A("192.0.2.2"), 1, 0};
  ctl::RouteUpdate stale = keep;
  stale.prefix = P("10.50.0.0/16");
  ctl::RouteUpdate hidden{
      ctl::RouteOp::kAdd, P("192.0.2.0/30"), ctl::RouteKind::kConnected, std::nullopt, 1, 0};
  fwd.fib = {{keep.prefix, keep}, {stale.prefix, stale}, {hidden.prefix, hidden}};
  fwd.interface_routes = {P("192.0.2.0/30"), P("10.7.0.0/24")};
  FakeProgrammer prog;
  FibBuilder fib(fwd, prog, kPeers);

  // zebra's replay: nothing is deleted while it may still be arriving.
  fib.apply(std::vector{add(gw_route("10.1.0.0/16", {{"192.0.2.2", 9}}))});
  fib.process();
  fib.apply(std::vector{add(gw_route("10.3.0.0/16", {{"192.0.2.2", 9}}))});
  fib.process();
  for (const auto& u : fwd.log) CHECK(u.op == ctl::RouteOp::kAdd);
  CHECK(fwd.fib.contains(stale.prefix));
  CHECK(fwd.listings == 0);
  CHECK_FALSE(fib.status().swept);

  fib.set_zebra_synced();
  fib.process();
  CHECK(fwd.listings == 1);
  CHECK(fib.status().swept);
  CHECK(fib.counters().swept == 2);  // the stale route and the hidden one
  std::set<IpPrefix> have;
  for (const auto& [p, u] : fwd.fib) have.insert(p);
  CHECK(have == std::set<IpPrefix>{P("10.1.0.0/16"), P("10.3.0.0/16")});
  // Nothing of ours was ever deleted: the kept route was re-added in place, not removed.
  for (const auto& u : fwd.log) {
    if (u.op == ctl::RouteOp::kDelete) CHECK(u.prefix != P("10.1.0.0/16"));
  }
  fib.process();
  CHECK(fwd.listings == 1);  // once per forwarder connection
}

TEST_CASE("FibBuilder: forwarder restart -> ports re-read, whole table replayed") {
  FakeForwarder fwd;
  FakeProgrammer prog;
  FibBuilder fib(fwd, prog, kPeers);
  fib.apply(std::vector{add(gw_route("10.1.0.0/16", {{"192.0.2.2", 9}})),
                        add(gw_route("10.2.0.0/16", {{"10.255.0.2", 3}}))});
  fib.set_zebra_synced();
  fib.process();
  REQUIRE(fwd.fib.at(P("10.1.0.0/16")).port == 1);
  CHECK(prog.resets == 1);

  // The forwarder restarts: empty FIB, the mirror of port 1 has a new ifindex.
  fwd.fail_sends = true;
  fib.apply(std::vector{add(gw_route("10.4.0.0/16", {{"192.0.2.2", 9}}))});
  fib.process();  // the send fails: link dropped
  CHECK_FALSE(fwd.up);
  CHECK(fib.counters().send_errors == 1);
  fwd.fail_sends = false;
  fwd.fib.clear();
  fwd.mirrors = {{7, 0}, {11, 1}};
  fib.apply(std::vector{add(gw_route("10.1.0.0/16", {{"192.0.2.2", 11}})),
                        add(gw_route("10.4.0.0/16", {{"192.0.2.2", 11}}))});
  fib.process(std::chrono::steady_clock::now() + std::chrono::seconds(5));
  CHECK(fwd.connects == 2);
  CHECK(prog.resets == 2);
  CHECK(prog.routes.size() == 1);  // set again after the reset
  REQUIRE(fwd.fib.size() == 2);
  CHECK(fwd.fib.at(P("10.1.0.0/16")).port == 1);
  CHECK(fwd.fib.at(P("10.4.0.0/16")).port == 1);
  CHECK(fib.counters().full_replays == 2);
  CHECK(fib.status().swept);
}

TEST_CASE("FibBuilder: no forwarder yet -> changes wait, retried at the reconnect interval") {
  FakeForwarder fwd;
  fwd.refuse = true;
  FakeProgrammer prog;
  FibBuilder fib(fwd, prog, kPeers);
  const auto t0 = std::chrono::steady_clock::now();
  fib.apply(std::vector{add(gw_route("10.1.0.0/16", {{"192.0.2.2", 9}}))});
  fib.process(t0);
  fib.process(t0 + std::chrono::milliseconds(10));
  CHECK(fwd.connects == 1);
  fwd.refuse = false;
  fib.apply(std::vector{del(gw_route("10.1.0.0/16", {{"192.0.2.2", 9}})),
                        add(gw_route("10.5.0.0/16", {{"192.0.2.2", 9}}))});
  fib.process(t0 + std::chrono::seconds(2));
  CHECK(fwd.connects == 2);
  CHECK(fwd.fib.size() == 1);
  CHECK(fwd.fib.contains(P("10.5.0.0/16")));
}

TEST_CASE("FibBuilder: the builder thread drains what the FPM thread queues") {
  FakeForwarder fwd;
  FakeProgrammer prog;
  FibBuilder fib(fwd, prog, kPeers);
  fib.start();
  fib.apply(std::vector{add(gw_route("10.1.0.0/16", {{"192.0.2.2", 9}}))});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (fib.status().installed != 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  fib.stop();
  CHECK(fib.status().installed == 1);
}

}  // namespace
}  // namespace causeway::rt
