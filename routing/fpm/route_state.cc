// SPDX-License-Identifier: Apache-2.0
// See route_state.h for the snapshot rule and how next-hop references resolve.
#include "route_state.h"

#include <algorithm>
#include <type_traits>
#include <utility>

namespace causeway::rt::fpm {

RouteState::RouteState(RouteSink& sink, Counters& counters, StateOptions options)
    : sink_(sink), counters_(counters), options_(options) {}

void RouteState::begin_snapshot(TimePoint now) {
  ++generation_;
  connected_ = true;
  snapshot_open_ = true;
  settle_pending_ = true;
  last_activity_ = now;
  counters_.add(Counter::kSnapshots);
}

void RouteState::connection_lost() {
  connected_ = false;
}

void RouteState::link(const RouteKey& key, std::uint32_t nh_id) {
  if (nh_id != 0) users_[nh_id].insert(key);
}

void RouteState::unlink(const RouteKey& key, std::uint32_t nh_id) {
  if (nh_id == 0) return;
  auto it = users_.find(nh_id);
  if (it == users_.end()) return;
  it->second.erase(key);
  if (it->second.empty()) users_.erase(it);
}

void RouteState::dirty_users_of(std::uint32_t id) {
  auto mark = [&](std::uint32_t nh) {
    if (auto it = users_.find(nh); it != users_.end())
      dirty_.insert(it->second.begin(), it->second.end());
  };
  mark(id);
  if (auto it = parents_.find(id); it != parents_.end()) {
    for (std::uint32_t group : it->second) mark(group);
  }
}

void RouteState::erase_nhg(std::uint32_t id) {
  auto it = nhgs_.find(id);
  if (it == nhgs_.end()) return;
  for (const auto& m : it->second.object.members) {
    auto p = parents_.find(m.id);
    if (p == parents_.end()) continue;
    p->second.erase(id);
    if (p->second.empty()) parents_.erase(p);
  }
  nhgs_.erase(it);
  dirty_users_of(id);
}

void RouteState::set_nhg(std::uint32_t id, NextHopObject object) {
  auto it = nhgs_.find(id);
  if (it != nhgs_.end() && it->second.object == object) {
    it->second.generation = generation_;
    return;
  }
  erase_nhg(id);
  for (const auto& m : object.members) parents_[m.id].insert(id);
  nhgs_[id] = NhgEntry{std::move(object), generation_};
  dirty_users_of(id);
}

std::optional<Route> RouteState::resolve(const RouteEntry& entry) const {
  if (entry.nh_id == 0) return entry.route;
  auto it = nhgs_.find(entry.nh_id);
  if (it == nhgs_.end()) return std::nullopt;
  Route route = entry.route;
  const NextHopObject& object = it->second.object;
  switch (object.kind) {
    case NextHopObject::Kind::kHop:
      route.next_hops = {object.hop};
      route.next_hops.front().weight = 1;
      break;
    case NextHopObject::Kind::kBlackhole:
      route.type = RouteType::kBlackhole;  // a unicast route through a blackhole object
      route.next_hops.clear();
      break;
    case NextHopObject::Kind::kGroup:
      route.next_hops.clear();
      for (const auto& m : object.members) {
        auto member = nhgs_.find(m.id);
        // Members are single hops (the kernel allows no nested groups).
        if (member == nhgs_.end() || member->second.object.kind != NextHopObject::Kind::kHop) {
          return std::nullopt;
        }
        NextHop hop = member->second.object.hop;
        hop.weight = m.weight;
        route.next_hops.push_back(hop);
      }
      std::sort(route.next_hops.begin(), route.next_hops.end());
      break;
  }
  return route;
}

void RouteState::apply(std::span<const Operation> ops, TimePoint now) {
  last_activity_ = now;
  settle_pending_ = true;
  for (const Operation& op : ops) {
    std::visit(
        [&](const auto& o) {
          using T = std::decay_t<decltype(o)>;
          if constexpr (std::is_same_v<T, NewRoute>) {
            const RouteKey& key = o.route.key;
            auto [it, inserted] = routes_.try_emplace(key);
            if (!inserted) unlink(key, it->second.nh_id);
            it->second = RouteEntry{o.route, o.nh_id, generation_, false};
            link(key, o.nh_id);
            dirty_.insert(key);
          } else if constexpr (std::is_same_v<T, DelRoute>) {
            auto it = routes_.find(o.key);
            if (it == routes_.end()) {
              counters_.add(Counter::kDeleteUnknown);
              return;
            }
            unlink(o.key, it->second.nh_id);
            routes_.erase(it);
            dirty_.insert(o.key);
          } else if constexpr (std::is_same_v<T, NewNextHop>) {
            set_nhg(o.id, o.object);
          } else {
            erase_nhg(o.id);
          }
        },
        op);
  }
  publish_dirty();
}

void RouteState::publish_dirty() {
  batch_.clear();
  collect_dirty();
  flush();
}

void RouteState::flush() {
  if (batch_.empty()) return;
  counters_.add(Counter::kBatches);
  counters_.add(Counter::kChanges, batch_.size());
  sink_.apply(batch_);
  batch_.clear();
}

void RouteState::collect_dirty() {
  for (const RouteKey& key : dirty_) {
    auto entry = routes_.find(key);
    auto pub = published_.find(key);
    if (entry == routes_.end()) {
      unresolved_.erase(key);
      if (pub != published_.end()) {
        batch_.push_back({ChangeKind::kDelete, std::move(pub->second)});
        published_.erase(pub);
      }
      continue;
    }
    std::optional<Route> want = resolve(entry->second);
    if (!want) {
      // Keep the last published form until the id arrives or the stream settles.
      unresolved_.insert(key);
      continue;
    }
    unresolved_.erase(key);
    entry->second.undefined_counted = false;
    if (pub == published_.end()) {
      published_.emplace(key, *want);
      batch_.push_back({ChangeKind::kAdd, std::move(*want)});
    } else if (!(pub->second == *want)) {
      pub->second = *want;
      batch_.push_back({ChangeKind::kReplace, std::move(*want)});
    }
  }
  dirty_.clear();
}

std::optional<TimePoint> RouteState::deadline() const {
  if (!settle_pending_) return std::nullopt;
  return last_activity_ + options_.quiet_period;
}

void RouteState::tick(TimePoint now) {
  if (settle_pending_ && now >= last_activity_ + options_.quiet_period) settle();
}

void RouteState::settle() {
  settle_pending_ = false;
  batch_.clear();
  if (snapshot_open_ && connected_) {
    // Sweep what the replay did not re-mark: routes first, then next-hop objects.
    snapshot_open_ = false;
    counters_.add(Counter::kSweeps);
    for (auto it = routes_.begin(); it != routes_.end();) {
      if (it->second.generation == generation_) {
        ++it;
        continue;
      }
      counters_.add(Counter::kRoutesSwept);
      unlink(it->first, it->second.nh_id);
      dirty_.insert(it->first);
      it = routes_.erase(it);
    }
    std::vector<std::uint32_t> stale;
    for (const auto& [id, nhg] : nhgs_) {
      if (nhg.generation != generation_) stale.push_back(id);
    }
    for (std::uint32_t id : stale) erase_nhg(id);
    counters_.add(Counter::kNextHopGroupsSwept, stale.size());
  }
  collect_dirty();
  // Routes still naming an undefined next-hop object: withdraw, count once each.
  for (const RouteKey& key : unresolved_) {
    auto entry = routes_.find(key);
    if (entry != routes_.end() && !entry->second.undefined_counted) {
      entry->second.undefined_counted = true;
      counters_.add(Counter::kNhgUndefined);
    }
    if (auto pub = published_.find(key); pub != published_.end()) {
      batch_.push_back({ChangeKind::kDelete, std::move(pub->second)});
      published_.erase(pub);
    }
  }
  flush();
}

}  // namespace causeway::rt::fpm
