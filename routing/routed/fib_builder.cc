// SPDX-License-Identifier: Apache-2.0
// FIB builder (fib_builder.h): translation of zebra routes, the queue between the FPM reader
// and the builder thread, incremental sync, full replay on forwarder (re)connect, and the
// mark-and-sweep of stale forwarder routes.
#include "routed/fib_builder.h"

#include <algorithm>
#include <cerrno>

#include <spdlog/spdlog.h>

#include "control/client.h"
#include "routed/forwarder_session.h"

namespace causeway::rt {

namespace ctl = fwd::ctl;
using Clock = std::chrono::steady_clock;

std::string_view to_string(SkipReason reason) {
  switch (reason) {
    case SkipReason::kTableUnsupported:
      return "table_unsupported";
    case SkipReason::kNotForwarderPort:
      return "not_forwarder_port";
    case SkipReason::kGatewayFamily:
      return "gateway_family";
    case SkipReason::kCount_:
      break;
  }
  return "unknown";
}

namespace {

Translation skipped(SkipReason reason) {
  Translation t;
  t.outcome = Translation::Outcome::kSkipped;
  t.skip = reason;
  return t;
}

// Lowest gateway first (connected hops, without a gateway, before any gateway), then the
// lowest ifindex: the same table always gives the same choice.
bool lower(const fpm::NextHop& a, const fpm::NextHop& b) {
  if (a.gateway != b.gateway) return a.gateway < b.gateway;
  return a.ifindex < b.ifindex;
}

}  // namespace

Translation translate(const fpm::Route& route, const PortMap& ports, const OverlayPeers& peers) {
  if (route.key.table != kMainTable) return skipped(SkipReason::kTableUnsupported);
  Translation t;
  t.outcome = Translation::Outcome::kForwarder;
  t.update.op = ctl::RouteOp::kAdd;
  t.update.prefix = route.key.prefix;
  t.update.table = 0;
  switch (route.type) {
    case fpm::RouteType::kBlackhole:
      t.update.kind = ctl::RouteKind::kBlackhole;
      return t;
    case fpm::RouteType::kUnreachable:
    case fpm::RouteType::kProhibit:
      t.update.kind = ctl::RouteKind::kUnreachable;
      return t;
    case fpm::RouteType::kUnicast:
      break;
  }
  // A next hop that is a remote PoP's overlay address: the route belongs to that PoP's path
  // group, whichever interface zebra resolved the address through.
  const fpm::NextHop* overlay = nullptr;
  for (const auto& nh : route.next_hops) {
    if (nh.gateway && peers.contains(*nh.gateway) && (!overlay || lower(nh, *overlay))) {
      overlay = &nh;
    }
  }
  if (overlay) {
    t.outcome = Translation::Outcome::kOverlay;
    t.overlay = OverlayRoute{route.key, peers.at(*overlay->gateway), *overlay->gateway};
    return t;
  }
  // ECMP: the gateways of the prefix's family through forwarder ports, when there are several.
  MemberSet members;
  for (const auto& nh : route.next_hops) {
    if (nh.gateway && nh.gateway->family == route.key.prefix.addr.family &&
        ports.contains(nh.ifindex)) {
      members.push_back(GroupMember{ports.at(nh.ifindex), *nh.gateway});
    }
  }
  std::sort(members.begin(), members.end());
  members.erase(std::unique(members.begin(), members.end()), members.end());
  if (members.size() >= 2) {
    if (members.size() > ctl::kMaxNextHopGroupMembers) members.resize(ctl::kMaxNextHopGroupMembers);
    t.ecmp_truncated = members.size() < route.next_hops.size();
    t.update.kind = ctl::RouteKind::kNextHopGroup;
    t.update.port = ctl::kNoPort;  // the group id, given by the builder
    t.group = std::move(members);
    return t;
  }
  const fpm::NextHop* pick = nullptr;
  for (const auto& nh : route.next_hops) {
    if (ports.contains(nh.ifindex) && (!pick || lower(nh, *pick))) pick = &nh;
  }
  if (!pick) return skipped(SkipReason::kNotForwarderPort);
  if (pick->gateway && pick->gateway->family != route.key.prefix.addr.family) {
    return skipped(SkipReason::kGatewayFamily);
  }
  t.ecmp_truncated = route.next_hops.size() > 1;
  t.update.port = ports.at(pick->ifindex);
  if (pick->gateway) {
    t.update.kind = ctl::RouteKind::kGateway;
    t.update.gateway = pick->gateway;
  } else {
    t.update.kind = ctl::RouteKind::kConnected;
  }
  return t;
}

Result<PortMap> port_map_from_json(const nlohmann::json& reply) {
  if (!reply.is_object() || !reply.contains("ports") || !reply["ports"].is_array()) {
    return fail("ports reply: no \"ports\" list", EPROTO);
  }
  PortMap map;
  for (const auto& p : reply["ports"]) {
    if (!p.is_object()) return fail("ports reply: a port is not an object", EPROTO);
    const auto index = p.find("index");
    const auto ifindex = p.find("mirror_ifindex");
    if (index == p.end() || !index->is_number_unsigned() || ifindex == p.end() ||
        !ifindex->is_number_integer()) {
      return fail("ports reply: a port lacks index or mirror_ifindex", EPROTO);
    }
    const auto idx = index->get<std::uint64_t>();
    const auto ifx = ifindex->get<std::int64_t>();
    if (idx >= ctl::kNoPort) return fail("ports reply: port index out of range", EPROTO);
    if (ifx <= 0) continue;  // no mirror interface: zebra cannot name this port
    map[static_cast<std::uint32_t>(ifx)] = static_cast<std::uint16_t>(idx);
  }
  return map;
}

// ---- the control socket link -----------------------------------------------------------------

namespace {

class ControlForwarderLink final : public ForwarderLink {
 public:
  static constexpr std::string_view kClientName = "causeway-routed";

  explicit ControlForwarderLink(std::string path) : path_(std::move(path)) {}

  Result<void> connect() override {
    ctl::ControlClientOptions options;
    options.timeout = std::chrono::seconds(30);  // a full table listing takes a while
    auto c = open_forwarder_connection(path_, kClientName, options);
    if (!c) return c.error();
    client_.emplace(std::move(c).value().client);
    return boost::outcome_v2::success();
  }
  bool connected() const override { return client_ && client_->usable(); }
  void disconnect() override { client_.reset(); }
  Result<nlohmann::json> get_ports() override { return client_->get_ports(); }
  Result<nlohmann::json> get_routes() override {
    return client_->get_routes(std::nullopt, std::uint64_t{1} << 40);
  }
  Result<std::uint64_t> send_routes(std::span<const ctl::RouteUpdate> updates) override {
    auto r = client_->send_routes(updates);
    if (!r) return r.error();
    return r.value().deleted;
  }
  Result<void> ping() override {
    auto r = client_->hello(kClientName);
    if (!r) return r.error();
    return boost::outcome_v2::success();
  }
  Result<nlohmann::json> get_nexthop_groups() override {
    auto r = client_->get_routes(std::nullopt, std::uint64_t{0});  // the groups, no routes
    if (!r) return r.error();
    return r.value().value("nexthop_groups", nlohmann::json::array());
  }
  Result<void> set_nexthop_group(const ctl::NextHopGroupRequest& request) override {
    auto r = client_->set_nexthop_group(ctl::nexthop_group_json(request));
    if (!r) return r.error();
    return boost::outcome_v2::success();
  }
  Result<void> delete_nexthop_group(std::uint16_t id) override {
    auto r = client_->delete_nexthop_group(id);
    if (!r) return r.error();
    return boost::outcome_v2::success();
  }

 private:
  std::string path_;
  std::optional<ctl::ControlClient> client_;
};

}  // namespace

std::unique_ptr<ForwarderLink> make_control_link(std::string socket_path) {
  return std::make_unique<ControlForwarderLink>(std::move(socket_path));
}

// ---- FibBuilder ------------------------------------------------------------------------------

FibBuilder::FibBuilder(ForwarderLink& link, PathProgrammer& programmer, OverlayPeers peers,
                       FibBuilderOptions options)
    : link_(link), programmer_(programmer), options_(options), peers_(std::move(peers)) {}

FibBuilder::~FibBuilder() {
  stop();
}

void FibBuilder::apply(std::span<const fpm::RouteChange> changes) {
  if (changes.empty()) return;
  {
    std::lock_guard lock(queue_mu_);
    queue_.insert(queue_.end(), changes.begin(), changes.end());
    const std::uint64_t depth = queue_.size();
    counters_.queue_depth.store(depth, std::memory_order_relaxed);
    if (depth > counters_.queue_depth_max.load(std::memory_order_relaxed)) {
      counters_.queue_depth_max.store(depth, std::memory_order_relaxed);
    }
  }
  counters_.batches_queued.fetch_add(1, std::memory_order_relaxed);
  counters_.changes_queued.fetch_add(changes.size(), std::memory_order_relaxed);
  queue_cv_.notify_one();
}

void FibBuilder::set_zebra_synced() {
  {
    std::lock_guard lock(queue_mu_);
    if (zebra_synced_) return;
    zebra_synced_ = true;
  }
  queue_cv_.notify_one();
}

void FibBuilder::set_overlay_peers(OverlayPeers peers) {
  {
    std::lock_guard lock(queue_mu_);
    peers_update_ = std::move(peers);
  }
  queue_cv_.notify_one();
}

void FibBuilder::process(Clock::time_point now) {
  std::vector<fpm::RouteChange> batch;
  std::optional<OverlayPeers> peers;
  bool synced = false;
  {
    std::lock_guard lock(queue_mu_);
    batch.swap(queue_);
    peers.swap(peers_update_);
    synced = zebra_synced_;
    counters_.queue_depth.store(0, std::memory_order_relaxed);
  }
  std::set<fpm::RouteKey> dirty;
  for (const auto& c : batch) {
    const auto& key = c.route.key;
    if (c.kind == fpm::ChangeKind::kDelete) {
      if (desired_.erase(key) && --per_table_[key.table] == 0) per_table_.erase(key.table);
    } else {
      auto [it, inserted] = desired_.insert_or_assign(key, c.route);
      if (inserted) ++per_table_[key.table];
    }
    dirty.insert(key);
  }
  batch = {};
  if (peers) {
    peers_ = std::move(*peers);
    for (const auto& [key, route] : desired_) dirty.insert(key);
  }

  if (!link_.connected() && now >= next_connect_) connect_forwarder(now);
  if (!link_.connected()) {
    // Nothing is sent; the connection's full replay will carry these changes.
    publish_status();
    return;
  }
  if (need_full_) {
    need_full_ = false;
    counters_.full_replays.fetch_add(1, std::memory_order_relaxed);
    std::set<fpm::RouteKey> all;
    for (const auto& [key, route] : desired_) all.insert(key);
    for (const auto& [key, mark] : marks_) all.insert(key);  // withdrawn while disconnected
    sync(all);
  } else {
    sync(dirty);
  }
  if (!flush_pending()) {
    publish_status();
    return;
  }
  if (synced && !swept_) sweep();
  if (link_.connected() && pending_.empty() && dirty.empty() &&
      now - last_activity_ >= options_.keepalive_interval) {
    last_activity_ = now;
    if (auto r = link_.ping(); !r) lost(r.error());
  }
  publish_status();
}

void FibBuilder::connect_forwarder(Clock::time_point now) {
  next_connect_ = now + options_.reconnect_interval;
  if (auto r = link_.connect(); !r) {
    spdlog::debug("forwarder: {}", r.error().message);
    return;
  }
  auto reply = link_.get_ports();
  Result<PortMap> ports =
      reply ? port_map_from_json(reply.value()) : Result<PortMap>(reply.error());
  if (!ports) {
    spdlog::warn("forwarder: cannot read its ports: {}", ports.error().message);
    link_.disconnect();
    return;
  }
  ports_ = std::move(ports).value();
  // Its next-hop groups (a routed restart leaves them behind): a group with a set we need is
  // taken over, the others' ids are avoided until the sweep deletes them.
  auto found = link_.get_nexthop_groups();
  if (!found) {
    spdlog::warn("forwarder: cannot read its next-hop groups: {}", found.error().message);
    link_.disconnect();
    return;
  }
  groups_.clear();
  group_of_set_.clear();
  route_group_.clear();
  group_sets_.clear();
  group_deletes_.clear();
  found_groups_.clear();
  for (const auto& g : found.value()) {
    if (!g.is_object() || !g.contains("id") || !g["id"].is_number_unsigned()) continue;
    MemberSet set;
    for (const auto& m : g.value("members", nlohmann::json::array())) {
      auto gw = IpAddress::parse(m.value("gateway", std::string()));
      if (!gw || !m.contains("port_index") || !m["port_index"].is_number_unsigned()) continue;
      set.push_back(GroupMember{m["port_index"].get<std::uint16_t>(), *gw});
    }
    std::sort(set.begin(), set.end());
    found_groups_[g["id"].get<std::uint16_t>()] = std::move(set);
  }
  counters_.forwarder_connects.fetch_add(1, std::memory_order_relaxed);
  spdlog::info("forwarder connected: {} ports with a mirror interface; replaying {} routes",
               ports_.size(), desired_.size());
  // The forwarder may be a new process: nothing it had from us is assumed.
  installed_.clear();
  overlay_.clear();
  programmer_.reset();
  pending_.clear();
  need_full_ = true;
  swept_ = false;
  last_activity_ = now;
}

void FibBuilder::note(const fpm::RouteKey& key, const std::optional<Translation>& t) {
  Mark now;
  if (t && t->outcome == Translation::Outcome::kSkipped) now.skip = t->skip;
  if (t && t->outcome == Translation::Outcome::kForwarder) now.truncated = t->ecmp_truncated;
  auto it = marks_.find(key);
  Mark before = it == marks_.end() ? Mark{} : it->second;
  if (before.skip) --skipped_now_[static_cast<std::size_t>(*before.skip)];
  if (before.truncated) --truncated_now_;
  if (now.skip) ++skipped_now_[static_cast<std::size_t>(*now.skip)];
  if (now.truncated) ++truncated_now_;
  if (!now.skip && !now.truncated) {
    if (it != marks_.end()) marks_.erase(it);
  } else {
    marks_[key] = now;
  }
}

void FibBuilder::sync(const std::set<fpm::RouteKey>& keys) {
  std::map<fpm::RouteKey, std::optional<Translation>> translated;
  for (const auto& key : keys) {
    std::optional<Translation> t;
    if (auto it = desired_.find(key); it != desired_.end()) {
      t = translate(it->second, ports_, peers_);
    }
    translated.emplace(key, std::move(t));
  }
  replace_groups_in_place(translated);
  for (auto& [key, t] : translated) {
    if (t && !t->group.empty()) {
      if (auto id = group_for(t->group)) {
        t->update.port = *id;
      } else {
        // No group id left: the lowest member, as a single gateway route.
        counters_.group_errors.fetch_add(1, std::memory_order_relaxed);
        t->update.kind = ctl::RouteKind::kGateway;
        t->update.port = t->group.front().port;
        t->update.gateway = t->group.front().gateway;
        t->group.clear();
        t->ecmp_truncated = true;
      }
    }
    note(key, t);
    // A route towards a remote PoP whose path group the programmer names is installed as
    // RouteKind 5 with the other routes (and kept by the sweep like them).
    if (t && t->outcome == Translation::Outcome::kOverlay) {
      if (auto group = programmer_.path_group(t->overlay.remote_pop)) {
        t->update.op = ctl::RouteOp::kAdd;
        t->update.prefix = key.prefix;
        t->update.kind = ctl::RouteKind::kPathGroup;
        t->update.port = *group;
        t->update.gateway.reset();
        t->update.table = 0;
        t->via_group = true;
      }
    }
    if (key.table == kMainTable) {
      const bool want = t && (t->outcome == Translation::Outcome::kForwarder || t->via_group);
      auto have = installed_.find(key.prefix);
      if (want && (have == installed_.end() || !(have->second == t->update))) {
        pending_.push_back(t->update);
        installed_[key.prefix] = t->update;
        use_group(key.prefix,
                  t->group.empty() ? std::nullopt : std::optional<std::uint16_t>(t->update.port));
      } else if (!want && have != installed_.end()) {
        ctl::RouteUpdate del;
        del.op = ctl::RouteOp::kDelete;
        del.prefix = key.prefix;
        pending_.push_back(del);
        installed_.erase(have);
        use_group(key.prefix, std::nullopt);
      } else if (!want) {
        use_group(key.prefix, std::nullopt);  // a group taken for it that it did not install
      }
    }
    const bool want_overlay = t && t->outcome == Translation::Outcome::kOverlay;
    auto have = overlay_.find(key);
    if (want_overlay && (have == overlay_.end() || !(have->second == t->overlay))) {
      programmer_.set_route(t->overlay);
      overlay_[key] = t->overlay;
      counters_.overlay_routes_set.fetch_add(1, std::memory_order_relaxed);
    } else if (!want_overlay && have != overlay_.end()) {
      programmer_.remove_route(key);
      overlay_.erase(have);
    }
  }
}

std::optional<std::uint16_t> FibBuilder::group_for(const MemberSet& set) {
  if (auto it = group_of_set_.find(set); it != group_of_set_.end()) return it->second;
  std::optional<std::uint16_t> id;
  // A group the forwarder already has with these members (left by a previous routed): taken
  // over, so its routes keep pointing at the right gateways while the replay goes on.
  for (const auto& [fid, members] : found_groups_) {
    if (members == set && !groups_.contains(fid)) {
      id = fid;
      break;
    }
  }
  for (std::uint16_t i = 1; !id && i < ctl::kMaxNextHopGroups; ++i) {
    if (!groups_.contains(i) && !found_groups_.contains(i)) id = i;
  }
  if (!id) return std::nullopt;
  found_groups_.erase(*id);
  groups_[*id] = Group{set, 0, false};
  group_of_set_[set] = *id;
  group_sets_.insert(*id);
  return id;
}

void FibBuilder::use_group(const IpPrefix& prefix, std::optional<std::uint16_t> id) {
  auto it = route_group_.find(prefix);
  const std::optional<std::uint16_t> old =
      it == route_group_.end() ? std::nullopt : std::optional<std::uint16_t>(it->second);
  if (old == id) {
    return;
  }
  if (id) {
    ++groups_.at(*id).routes;
    route_group_[prefix] = *id;
  } else if (it != route_group_.end()) {
    route_group_.erase(it);
  }
  if (old) {
    if (--groups_.at(*old).routes == 0) group_deletes_.insert(*old);
  }
}

void FibBuilder::replace_groups_in_place(
    const std::map<fpm::RouteKey, std::optional<Translation>>& translated) {
  // Per group: the new member sets its routes in this round want.
  std::map<std::uint16_t, std::set<MemberSet>> moving;
  std::map<std::uint16_t, std::size_t> movers;
  for (const auto& [key, t] : translated) {
    if (key.table != kMainTable) continue;
    auto rg = route_group_.find(key.prefix);
    if (rg == route_group_.end()) continue;
    const Group& g = groups_.at(rg->second);
    if (!t || t->group.empty() || t->group == g.members) {
      moving[rg->second].insert(MemberSet{});  // leaves ECMP or stays: no rename
    } else {
      moving[rg->second].insert(t->group);
    }
    ++movers[rg->second];
  }
  for (const auto& [id, sets] : moving) {
    Group& g = groups_.at(id);
    if (sets.size() != 1 || sets.begin()->empty() || movers[id] != g.routes) continue;
    const MemberSet& to = *sets.begin();
    if (group_of_set_.contains(to)) continue;  // another group has it: the routes move there
    group_of_set_.erase(g.members);
    g.members = to;
    group_of_set_[to] = id;
    group_sets_.insert(id);
    counters_.groups_replaced.fetch_add(1, std::memory_order_relaxed);
  }
}

bool FibBuilder::send_group_sets() {
  for (auto it = group_sets_.begin(); it != group_sets_.end();) {
    auto g = groups_.find(*it);
    if (g == groups_.end() || g->second.routes == 0) {
      if (g != groups_.end()) group_deletes_.insert(g->first);  // no route ended up using it
      it = group_sets_.erase(it);
      continue;
    }
    ctl::NextHopGroupRequest req;
    req.id = g->first;
    for (const auto& m : g->second.members) {
      req.members.push_back(ctl::NextHopMember{m.port, {}, m.gateway});
    }
    if (auto r = link_.set_nexthop_group(req); !r) {
      lost(r.error());
      return false;
    }
    counters_.groups_set.fetch_add(1, std::memory_order_relaxed);
    g->second.programmed = true;
    it = group_sets_.erase(it);
  }
  return true;
}

void FibBuilder::send_group_deletes() {
  for (auto id : group_deletes_) {
    auto g = groups_.find(id);
    if (g == groups_.end() || g->second.routes != 0) continue;  // in use again
    const bool programmed = g->second.programmed;
    group_of_set_.erase(g->second.members);
    groups_.erase(g);
    if (!programmed) continue;  // never sent
    // Refused (a route we do not know still uses it): the sweep deals with it.
    if (!delete_forwarder_group(id, "forwarder refused to delete next-hop group")) {
      group_deletes_.clear();
      return;
    }
  }
  group_deletes_.clear();
}

bool FibBuilder::delete_forwarder_group(std::uint16_t id, std::string_view refused) {
  auto r = link_.delete_nexthop_group(id);
  if (r) {
    counters_.groups_deleted.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  if (!link_.connected()) {
    lost(r.error());
    return false;
  }
  counters_.group_errors.fetch_add(1, std::memory_order_relaxed);
  spdlog::warn("{} {}: {}", refused, id, r.error().message);
  return true;
}

bool FibBuilder::flush_pending() {
  // Groups before the routes that use them, deletions of unused groups after the routes left.
  if (!send_group_sets()) return false;
  if (!pending_.empty()) {
    auto r = link_.send_routes(pending_);
    if (!r) {
      lost(r.error());
      return false;
    }
    counters_.updates_sent.fetch_add(pending_.size(), std::memory_order_relaxed);
    counters_.batches_sent.fetch_add(1, std::memory_order_relaxed);
    pending_.clear();
  }
  send_group_deletes();
  return link_.connected();
}

void FibBuilder::sweep() {
  auto listing = link_.get_routes();
  if (!listing) {
    lost(listing.error());
    return;
  }
  const auto& routes = listing.value().value("routes", nlohmann::json::array());
  std::set<IpPrefix> stale;
  for (const auto& r : routes) {
    if (!r.is_object() || r.value("table", 0) != 0) continue;
    auto prefix = IpPrefix::parse(r.value("prefix", std::string()));
    if (!prefix || installed_.contains(*prefix)) continue;
    // Interface and configuration routes win over ours in the forwarder, so a listing
    // shows them even where a stale route of ours sits underneath: a delete removes only
    // the routing daemon's slot, so every prefix we do not hold is deleted.
    stale.insert(*prefix);
  }
  for (const auto& p : stale) {
    ctl::RouteUpdate del;
    del.op = ctl::RouteOp::kDelete;
    del.prefix = p;
    pending_.push_back(del);
  }
  const std::size_t n = pending_.size();
  std::uint64_t deleted = 0;
  if (!pending_.empty()) {
    auto r = link_.send_routes(pending_);
    if (!r) {
      lost(r.error());
      return;
    }
    deleted = r.value();
    counters_.updates_sent.fetch_add(n, std::memory_order_relaxed);
    counters_.batches_sent.fetch_add(1, std::memory_order_relaxed);
    pending_.clear();
  }
  // Next-hop groups that are not ours (left by a previous routed), now that no route of ours
  // uses them.
  for (const auto& g : listing.value().value("nexthop_groups", nlohmann::json::array())) {
    if (!g.is_object() || !g.contains("id") || !g["id"].is_number_unsigned()) continue;
    const auto id = g["id"].get<std::uint16_t>();
    if (groups_.contains(id)) continue;
    found_groups_.erase(id);
    if (!delete_forwarder_group(id, "sweep: not deleted: next-hop group")) return;
  }
  swept_ = true;
  counters_.sweeps.fetch_add(1, std::memory_order_relaxed);
  counters_.swept.fetch_add(deleted, std::memory_order_relaxed);
  spdlog::info("forwarder resynchronised: {} routes installed, {} stale routes removed",
               installed_.size(), deleted);
}

void FibBuilder::lost(const Error& error) {
  counters_.send_errors.fetch_add(1, std::memory_order_relaxed);
  spdlog::warn("forwarder: {}; reconnecting", error.message);
  link_.disconnect();
  pending_.clear();
  need_full_ = true;
  swept_ = false;
}

void FibBuilder::publish_status() {
  FibStatus s;
  s.forwarder_connected = link_.connected();
  {
    std::lock_guard lock(queue_mu_);
    s.zebra_synced = zebra_synced_;
  }
  s.swept = swept_;
  s.routes = desired_.size();
  s.installed = installed_.size();
  s.overlay = overlay_.size();
  s.ecmp_truncated = truncated_now_;
  s.ecmp_routes = route_group_.size();
  s.nexthop_groups = groups_.size();
  s.skipped = skipped_now_;
  s.routes_per_table = per_table_;
  s.ports = ports_.size();
  std::lock_guard lock(status_mu_);
  status_ = std::move(s);
}

FibStatus FibBuilder::status() const {
  std::lock_guard lock(status_mu_);
  return status_;
}

void FibBuilder::start() {
  if (thread_) return;
  thread_ = std::make_unique<std::thread>([this] {
    while (true) {
      {
        std::unique_lock lock(queue_mu_);
        queue_cv_.wait_for(lock, std::chrono::milliseconds(200), [&] {
          return stopping_ || !queue_.empty() || peers_update_.has_value() ||
                 (zebra_synced_ && !swept_ && link_.connected());
        });
        if (stopping_) return;
      }
      process(Clock::now());
    }
  });
}

void FibBuilder::stop() {
  {
    std::lock_guard lock(queue_mu_);
    stopping_ = true;
  }
  queue_cv_.notify_one();
  if (thread_ && thread_->joinable()) thread_->join();
  thread_.reset();
}

}  // namespace causeway::rt
