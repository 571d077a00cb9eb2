// SPDX-License-Identifier: Apache-2.0
// FIB builder against a fake forwarder: translation (ports by mirror ifindex, kinds, ECMP
// truncation, skipped routes, overlay next hops to the path programmer), queueing without
// forwarder I/O on the FPM thread, and resynchronisation (sweep only after zebra's snapshot,
// replay on forwarder reconnect).
#include "routed/fib_builder.h"

#include <catch2/catch.hpp>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fpm/core.h"

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
    return nlohmann::json{{"routes", routes}, {"nexthop_groups", groups_json()}};
  }
  // As the forwarder: a route to a group that does not exist refuses the whole batch.
  Result<std::uint64_t> send_routes(std::span<const ctl::RouteUpdate> updates) override {
    if (fail_sends) {
      up = false;
      return fail("broken pipe", EPIPE);
    }
    for (const auto& u : updates) {
      if (u.op == ctl::RouteOp::kAdd && u.kind == ctl::RouteKind::kNextHopGroup &&
          !groups.contains(u.port)) {
        return fail("no next-hop group " + std::to_string(u.port), ENOENT);
      }
    }
    ++batches;
    events.push_back("routes");
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
  Result<nlohmann::json> get_nexthop_groups() override { return groups_json(); }
  Result<void> set_nexthop_group(const ctl::NextHopGroupRequest& req) override {
    MemberSet set;
    for (const auto& m : req.members) set.push_back(GroupMember{*m.port_index, m.gateway});
    groups[req.id] = set;
    events.push_back("set " + std::to_string(req.id));
    return boost::outcome_v2::success();
  }
  Result<void> delete_nexthop_group(std::uint16_t id) override {
    if (!groups.contains(id)) return fail("no group", ENOENT);
    for (const auto& [p, u] : fib) {
      if (u.kind == ctl::RouteKind::kNextHopGroup && u.port == id) return fail("used", EBUSY);
    }
    groups.erase(id);
    events.push_back("del " + std::to_string(id));
    return boost::outcome_v2::success();
  }
  nlohmann::json groups_json() const {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [id, set] : groups) {
      nlohmann::json members = nlohmann::json::array();
      for (const auto& m : set) {
        members.push_back({{"port_index", m.port}, {"gateway", m.gateway.str()}});
      }
      out.push_back({{"id", id}, {"members", members}});
    }
    return out;
  }
  // The group a prefix's route points at (its members), or nothing.
  std::optional<MemberSet> group_of(const IpPrefix& p) const {
    auto it = fib.find(p);
    if (it == fib.end() || it->second.kind != ctl::RouteKind::kNextHopGroup) return std::nullopt;
    return groups.at(it->second.port);
  }

  std::map<std::uint16_t, MemberSet> groups;
  std::vector<std::string> events;  // "set N", "routes", "del N" in order
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

TEST_CASE("translate: ECMP over gateways on ports becomes a next-hop group") {
  auto t =
      translate(gw_route("10.1.0.0/16", {{"192.0.2.9", 9}, {"192.0.2.3", 7}, {"192.0.2.1", 4}}),
                kPorts, kPeers);
  REQUIRE(t.outcome == Translation::Outcome::kForwarder);
  CHECK(t.update.kind == ctl::RouteKind::kNextHopGroup);
  CHECK_FALSE(t.update.gateway);
  // .1 leaves through ifindex 4, not a port: left out, and the route says so.
  CHECK(t.group == MemberSet{{0, A("192.0.2.3")}, {1, A("192.0.2.9")}});
  CHECK(t.ecmp_truncated);
  // Same members in another order: the same set.
  auto u =
      translate(gw_route("10.1.0.0/16", {{"192.0.2.3", 7}, {"192.0.2.9", 9}, {"192.0.2.1", 4}}),
                kPorts, kPeers);
  CHECK(u.group == t.group);
  CHECK(u.update == t.update);
  // Only one gateway (the other hop is connected): one next hop as before, truncated.
  auto v = translate(gw_route("10.1.0.0/16", {{"192.0.2.3", 7}, {nullptr, 9}}), kPorts, kPeers);
  CHECK(v.update.kind != ctl::RouteKind::kNextHopGroup);
  CHECK(v.group.empty());
  CHECK(v.ecmp_truncated);
  // Every member on a port: nothing truncated.
  auto w = translate(gw_route("10.1.0.0/16", {{"192.0.2.3", 7}, {"192.0.2.4", 7}}), kPorts, kPeers);
  CHECK(w.group.size() == 2);
  CHECK_FALSE(w.ecmp_truncated);
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
  CHECK(fwd.fib.at(P("10.8.0.0/24")).kind == ctl::RouteKind::kNextHopGroup);
  CHECK(fwd.group_of(P("10.8.0.0/24")) == MemberSet{{1, A("192.0.2.2")}, {1, A("192.0.2.5")}});
  CHECK(fib.counters().queue_depth == 0);
  CHECK(fib.counters().queue_depth_max == 3);
  auto st = fib.status();
  CHECK(st.installed == 3);
  CHECK(st.ecmp_truncated == 0);
  CHECK(st.ecmp_routes == 1);
  CHECK(st.nexthop_groups == 1);
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

  // ECMP shrinking to one next hop: a gateway route, and the group goes after it.
  fib.apply(std::vector{add(gw_route("10.8.0.0/24", {{"192.0.2.5", 9}}))});
  fib.process();
  CHECK(fib.status().ecmp_routes == 0);
  CHECK(fwd.fib.at(P("10.8.0.0/24")).gateway == A("192.0.2.5"));
  CHECK(fwd.groups.empty());
  CHECK(fib.status().nexthop_groups == 0);
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

namespace causeway::rt {
namespace {

const MemberSet kSetA{{0, A("192.0.2.3")}, {1, A("192.0.2.9")}};
const MemberSet kSetB{{0, A("192.0.2.4")}, {1, A("192.0.2.9")}};

fpm::Route ecmp_a(const char* prefix) {
  return gw_route(prefix, {{"192.0.2.3", 7}, {"192.0.2.9", 9}});
}
fpm::Route ecmp_b(const char* prefix) {
  return gw_route(prefix, {{"192.0.2.4", 7}, {"192.0.2.9", 9}});
}

TEST_CASE(
    "FibBuilder ECMP: one group per member set, shared, set before its routes, deleted "
    "after the last") {
  FakeForwarder fwd;
  FakeProgrammer prog;
  FibBuilder fib(fwd, prog, kPeers);
  fib.apply(std::vector{add(ecmp_a("10.1.0.0/16")), add(ecmp_a("10.2.0.0/16")),
                        add(ecmp_b("10.3.0.0/16"))});
  fib.process();
  REQUIRE(fwd.groups.size() == 2);
  // Both groups before the routes (the fake forwarder would refuse the batch otherwise).
  CHECK(fwd.events == std::vector<std::string>{"set 1", "set 2", "routes"});
  CHECK(fwd.fib.at(P("10.1.0.0/16")).port == fwd.fib.at(P("10.2.0.0/16")).port);
  CHECK(fwd.group_of(P("10.1.0.0/16")) == kSetA);
  CHECK(fwd.group_of(P("10.3.0.0/16")) == kSetB);
  CHECK(fib.status().ecmp_routes == 3);
  CHECK(fib.status().nexthop_groups == 2);

  // The first route of a shared group leaves: the group stays.
  fwd.events.clear();
  fib.apply(std::vector{del(ecmp_a("10.1.0.0/16"))});
  fib.process();
  CHECK(fwd.events == std::vector<std::string>{"routes"});
  CHECK(fwd.groups.size() == 2);
  // The last one leaves: deleted after the route is gone.
  fwd.events.clear();
  fib.apply(std::vector{del(ecmp_a("10.2.0.0/16"))});
  fib.process();
  const std::uint16_t a_id = 1;
  CHECK(fwd.events == std::vector<std::string>{"routes", "del " + std::to_string(a_id)});
  CHECK(fwd.groups.size() == 1);
  CHECK(fib.counters().groups_deleted == 1);
  CHECK(fib.status().nexthop_groups == 1);
  // A new set reuses the free id.
  fwd.events.clear();
  fib.apply(std::vector{add(gw_route("10.4.0.0/16", {{"192.0.2.5", 7}, {"192.0.2.9", 9}}))});
  fib.process();
  CHECK(fwd.events == std::vector<std::string>{"set 1", "routes"});
}

TEST_CASE("FibBuilder ECMP: a group is replaced in place only when all its routes move alike") {
  FakeForwarder fwd;
  FakeProgrammer prog;
  FibBuilder fib(fwd, prog, kPeers);
  fib.apply(std::vector{add(ecmp_a("10.1.0.0/16")), add(ecmp_a("10.2.0.0/16"))});
  fib.process();
  REQUIRE(fwd.groups.size() == 1);
  const std::uint16_t id = fwd.fib.at(P("10.1.0.0/16")).port;

  SECTION("every route of the group gets the same new set: one set message, no route update") {
    fwd.events.clear();
    fwd.log.clear();
    fib.apply(std::vector{add(ecmp_b("10.1.0.0/16")), add(ecmp_b("10.2.0.0/16"))});
    fib.process();
    CHECK(fwd.events == std::vector<std::string>{"set " + std::to_string(id)});
    CHECK(fwd.log.empty());
    CHECK(fwd.group_of(P("10.1.0.0/16")) == kSetB);
    CHECK(fwd.group_of(P("10.2.0.0/16")) == kSetB);
    CHECK(fib.counters().groups_replaced == 1);
  }
  SECTION("only one route changes: it moves to a new group, the shared one is untouched") {
    fwd.events.clear();
    fib.apply(std::vector{add(ecmp_b("10.1.0.0/16"))});
    fib.process();
    REQUIRE(fwd.groups.size() == 2);
    CHECK(fwd.group_of(P("10.1.0.0/16")) == kSetB);
    CHECK(fwd.group_of(P("10.2.0.0/16")) == kSetA);
    CHECK(fwd.fib.at(P("10.2.0.0/16")).port == id);
    CHECK(fib.counters().groups_replaced == 0);
  }
  SECTION("the new set has a group already: the routes move there, the old group goes") {
    fib.apply(std::vector{add(ecmp_b("10.3.0.0/16"))});
    fib.process();
    REQUIRE(fwd.groups.size() == 2);
    fwd.events.clear();
    fib.apply(std::vector{add(ecmp_b("10.1.0.0/16")), add(ecmp_b("10.2.0.0/16"))});
    fib.process();
    CHECK(fwd.events == std::vector<std::string>{"routes", "del " + std::to_string(id)});
    CHECK(fwd.groups.size() == 1);
    CHECK(fwd.group_of(P("10.2.0.0/16")) == kSetB);
  }
}

TEST_CASE("FibBuilder ECMP: a restart takes over matching groups and sweeps stale ones") {
  FakeForwarder fwd;
  // Left by the previous routed: group 5 (set A) used by a route zebra still has, group 6
  // (set B) used by a stale route, group 1 with no route at all.
  fwd.groups = {{5, kSetA}, {6, kSetB}, {1, MemberSet{{0, A("192.0.2.7")}, {1, A("192.0.2.8")}}}};
  ctl::RouteUpdate keep{
      ctl::RouteOp::kAdd, P("10.1.0.0/16"), ctl::RouteKind::kNextHopGroup, std::nullopt, 5, 0};
  ctl::RouteUpdate stale = keep;
  stale.prefix = P("10.9.0.0/16");
  stale.port = 6;
  fwd.fib = {{keep.prefix, keep}, {stale.prefix, stale}};
  FakeProgrammer prog;
  FibBuilder fib(fwd, prog, kPeers);

  fib.apply(std::vector{add(ecmp_a("10.1.0.0/16")),
                        add(gw_route("10.2.0.0/16", {{"192.0.2.5", 7}, {"192.0.2.6", 9}}))});
  fib.process();
  // Set A is group 5 again (its route never pointed elsewhere); the new set avoids 1 and 6.
  CHECK(fwd.fib.at(P("10.1.0.0/16")).port == 5);
  CHECK(fwd.fib.at(P("10.2.0.0/16")).port == 2);
  CHECK(fwd.groups.size() == 4);
  fib.set_zebra_synced();
  fib.process();
  CHECK(fib.status().swept);
  CHECK_FALSE(fwd.fib.contains(P("10.9.0.0/16")));
  CHECK(fwd.groups == std::map<std::uint16_t, MemberSet>{
                          {2, MemberSet{{0, A("192.0.2.5")}, {1, A("192.0.2.6")}}}, {5, kSetA}});
  CHECK(fib.counters().groups_deleted == 2);

  SECTION("the forwarder restarts: groups and routes are sent again, groups first") {
    fwd.groups.clear();
    fwd.fib.clear();
    fwd.up = false;
    fwd.events.clear();
    fib.process(std::chrono::steady_clock::now() + std::chrono::seconds(5));  // reconnect due
    CHECK(fwd.events.size() == 3);
    CHECK(fwd.events.back() == "routes");
    CHECK(fwd.group_of(P("10.1.0.0/16")) == kSetA);
    CHECK(fwd.groups.size() == 2);
  }
}

// zebra's own FPM stream, in both of its ECMP encodings, through the FPM core into the builder.
std::vector<std::uint8_t> fixture(const std::string& name) {
  std::ifstream in(std::string(CAUSEWAY_SOURCE_DIR) + "/tests/routing/fixtures/" + name + ".bin",
                   std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST_CASE(
    "FibBuilder ECMP: zebra's next-hop-group and RTA_MULTIPATH streams give the same groups") {
  for (const std::string mode : {"nhg", "nonhg"}) {
    INFO(mode);
    FakeForwarder fwd;
    fwd.mirrors = {{3, 0}, {5, 1}};  // the recording's interfaces
    FakeProgrammer prog;
    FibBuilder fib(fwd, prog, kPeers);
    fpm::Core core(fib);
    const auto t0 = fpm::TimePoint{};
    core.connection_opened(t0);
    for (const char* step : {"-01-connect", "-02-static", "-03-ecmp"}) {
      REQUIRE(core.receive(fixture(mode + step), t0));
    }
    fib.process();
    // 198.51.100.0/24 and 2001:db8:200::/48 are static routes over two gateways.
    CHECK(fwd.group_of(P("198.51.100.0/24")) == MemberSet{{0, A("10.0.1.2")}, {1, A("10.0.2.2")}});
    CHECK(fwd.group_of(P("2001:db8:200::/48")) ==
          MemberSet{{0, A("2001:db8:1::2")}, {1, A("2001:db8:2::2")}});
    CHECK(fwd.fib.at(P("192.0.2.0/24")).kind == ctl::RouteKind::kGateway);
    CHECK(fib.status().ecmp_routes == 2);
    CHECK(fib.status().ecmp_truncated == 0);
    // One gateway of 198.51.100.0/24 removed: a single gateway route, its group deleted after.
    REQUIRE(core.receive(fixture(mode + "-04-reject"), t0));
    REQUIRE(core.receive(fixture(mode + "-05-change"), t0));
    fwd.events.clear();
    fib.process();
    CHECK(fwd.fib.at(P("198.51.100.0/24")).kind == ctl::RouteKind::kGateway);
    CHECK(fwd.fib.at(P("198.51.100.0/24")).gateway == A("10.0.1.2"));
    CHECK(fwd.groups.size() == 1);
    REQUIRE_FALSE(fwd.events.empty());
    CHECK(fwd.events.back().rfind("del ", 0) == 0);
  }
}

}  // namespace
}  // namespace causeway::rt
