// SPDX-License-Identifier: Apache-2.0
#include "route_table.h"

#include <rte_cycles.h>
#include <rte_lcore.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

namespace causeway::fwd {

const char* route_source_name(RouteSource s) {
  switch (s) {
    case RouteSource::kInterface:
      return "interface";
    case RouteSource::kConfig:
      return "config";
    case RouteSource::kControl:
      return "control";
    case RouteSource::kNeighbor:
      return "neighbor";
  }
  return "?";
}

std::size_t RouteTable::PrefixKeyHash::operator()(const PrefixKey& k) const noexcept {
  // Two multiply-xorshift rounds over the 16 address bytes, family and length: the flat map
  // takes its bucket and its control byte from this value, so every bit must be mixed.
  std::uint64_t lo, hi;
  std::memcpy(&lo, k.bytes.data(), 8);
  std::memcpy(&hi, k.bytes.data() + 8, 8);
  std::uint64_t h = (lo ^ (std::uint64_t{k.family} << 8 | k.len) << 48) * 0x9e3779b97f4a7c15ull;
  h ^= h >> 32;
  h = (h ^ hi) * 0xd6e8feb86659fd93ull;
  h ^= h >> 32;
  return static_cast<std::size_t>(h);
}

std::size_t RouteTable::NhKeyHash::operator()(const NhKey& k) const noexcept {
  std::uint64_t h = 1469598103934665603ull ^ (std::uint64_t(k.kind) << 16 | k.port);
  for (auto b : k.gateway.bytes) h = (h ^ b) * 1099511628211ull;
  return static_cast<std::size_t>(h);
}

RouteTable::PrefixKey RouteTable::key_of(const IpPrefix& p) {
  IpPrefix m = p.masked();
  return PrefixKey{static_cast<std::uint8_t>(m.addr.family), m.len, m.addr.bytes};
}

IpPrefix RouteTable::prefix_of(const PrefixKey& k) {
  IpPrefix p;
  p.addr.family = static_cast<Family>(k.family);
  p.addr.bytes = k.bytes;
  p.len = k.len;
  return p;
}

Result<std::unique_ptr<RouteTable>> RouteTable::create(const FibConfig& cfg, unsigned n_ports,
                                                       int socket_id, rte_rcu_qsbr* qsbr) {
  std::unique_ptr<RouteTable> t(new RouteTable());
  t->n_ports_ = n_ports;
  t->qsbr_ = qsbr;
  for (unsigned i = 0; i < 2; ++i) {
    auto copy = FibCopy::create(fmt::format("cwfib{}_", i), cfg, socket_id);
    if (!copy) return copy.error();
    t->copies_[i] = std::move(copy.value());
  }
  t->published_.store(t->copies_[0].get(), std::memory_order_release);
  t->standby_ = 1;
  t->v4_max_routes_ = cfg.v4_max_routes;
  t->nh_capacity_ = cfg.max_next_hops;
  t->next_hops_ = std::make_unique<NextHop[]>(cfg.max_next_hops);
  t->nh_refs_.assign(cfg.max_next_hops, 0);
  t->nh_free_.reserve(cfg.max_next_hops);
  for (std::uint32_t id = cfg.max_next_hops - 1; id >= 1; --id) t->nh_free_.push_back(id);
  // Id 0 is the FIB default: no route.
  t->next_hops_[0].kind = NextHopKind::kUnreachable;
  t->group_slots_ = std::make_unique<std::atomic<const NextHopGroup*>[]>(kMaxNextHopGroups);
  for (unsigned g = 0; g < kMaxNextHopGroups; ++g) {
    t->group_slots_[g].store(nullptr, std::memory_order_relaxed);
  }
  return t;
}

RouteTable::~RouteTable() {
  // Workers are stopped by now.
  for (auto& r : retired_groups_) delete r.object;
  for (auto& [id, g] : groups_) delete g.published;
}

Result<std::uint32_t> RouteTable::acquire_next_hop(const RouteSpec& spec) {
  NhKey key{spec.kind, spec.port, spec.kind == NextHopKind::kGateway ? spec.gateway : IpAddress{}};
  if (spec.kind != NextHopKind::kGateway && spec.kind != NextHopKind::kConnected &&
      spec.kind != NextHopKind::kPathGroup &&
      spec.kind != NextHopKind::kNextHopGroup) {  // a group's `port` is its group id
    key.port = ctl::kNoPort;
  }
  if (auto it = nh_index_.find(key); it != nh_index_.end()) {
    ++nh_refs_[it->second];
    return it->second;
  }
  if (nh_free_.empty()) {
    return fail(
        fmt::format("next-hop table full ({} entries; raise fib.max_next_hops)", nh_capacity_),
        ENOSPC);
  }
  std::uint32_t id = nh_free_.back();
  nh_free_.pop_back();
  NextHop& nh = next_hops_[id];
  nh.kind = key.kind;
  nh.port = key.port;
  nh.gateway = key.gateway;
  std::uint64_t mac = 0;
  if (key.kind == NextHopKind::kGateway) {
    if (auto it = neighbor_macs_.find(NhKey{NextHopKind::kGateway, key.port, key.gateway});
        it != neighbor_macs_.end()) {
      mac = it->second;
    }
  }
  nh.dst_mac.store(mac, std::memory_order_relaxed);
  nh_refs_[id] = 1;
  nh_index_.emplace(key, id);
  return id;
}

void RouteTable::release_next_hop(std::uint32_t id) {
  if (id == 0 || --nh_refs_[id] != 0) return;
  const NextHop& nh = next_hops_[id];
  nh_index_.erase(NhKey{nh.kind, nh.port, nh.gateway});
  nh_free_.push_back(id);
}

int RouteTable::fib_set(FibCopy& fib, const PrefixKey& key, std::uint32_t nh) {
  return nh ? fib.add6(key.bytes.data(), key.len, nh) : fib.del6(key.bytes.data(), key.len);
}

namespace {

std::uint32_t v4_of(const std::array<std::uint8_t, 16>& b) {
  return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
         b[3];
}

// FIB operations this far ahead have their IPv4 table entry fetched.
constexpr std::size_t kFibAhead = 16;

}  // namespace

void RouteTable::prefetch_v4(const FibCopy& fib, const FibOp& op) {
  if (op.key.family == 4) fib.prefetch4(v4_of(op.key.bytes));
}

std::pair<std::uint32_t, std::uint8_t> RouteTable::v4_parent(const PrefixKey& key,
                                                             const std::vector<Touched>& touched,
                                                             std::uint64_t lengths) const {
  const std::uint32_t ip = v4_of(key.bytes);
  for (unsigned l = key.len; l-- > 0;) {
    if ((lengths >> l & 1) == 0) continue;
    const std::uint32_t m = l == 0 ? 0 : ip & (~std::uint32_t{0} << (32 - l));
    PrefixKey pk{4, static_cast<std::uint8_t>(l), {}};
    pk.bytes[0] = static_cast<std::uint8_t>(m >> 24);
    pk.bytes[1] = static_cast<std::uint8_t>(m >> 16);
    pk.bytes[2] = static_cast<std::uint8_t>(m >> 8);
    pk.bytes[3] = static_cast<std::uint8_t>(m);
    auto t =
        std::lower_bound(touched.begin(), touched.end(), pk,
                         [](const Touched& a, const PrefixKey& b) { return fib_order(a.key, b); });
    std::uint32_t nh = 0;
    if (t != touched.end() && t->key == pk) {
      nh = t->after.effective();
    } else if (auto r = rib_.find(pk); r != rib_.end()) {
      nh = r->second.effective();
    }
    if (nh) return {nh, static_cast<std::uint8_t>(l)};
  }
  return {0, 0};
}

Result<BatchResult> RouteTable::apply(RouteSource source, std::span<const RouteChange> batch) {
  sync();
  const unsigned slot = static_cast<unsigned>(source);
  // Validate the whole batch before touching anything.
  for (std::size_t i = 0; i < batch.size(); ++i) {
    const RouteChange& c = batch[i];
    const IpPrefix& p = c.spec.prefix;
    if (p.len > p.max_len()) {
      return fail(fmt::format("route {}: prefix length {} out of range", i, p.len), EINVAL);
    }
    if (c.remove) continue;
    const RouteSpec& s = c.spec;
    const bool needs_port = s.kind == NextHopKind::kGateway || s.kind == NextHopKind::kConnected;
    if (needs_port && s.port >= n_ports_) {
      return fail(fmt::format("route {} ({}): no port with index {}", i, p.str(), s.port), EINVAL);
    }
    if (s.kind == NextHopKind::kGateway && s.gateway.family != p.addr.family) {
      return fail(fmt::format("route {} ({}): gateway {} is not of the prefix's family", i, p.str(),
                              s.gateway.str()),
                  EINVAL);
    }
    if (s.kind == NextHopKind::kPathGroup && s.port >= kMaxPathGroupIds) {
      return fail(fmt::format("route {} ({}): path group {} out of range (0..{})", i, p.str(),
                              s.port, kMaxPathGroupIds - 1),
                  EINVAL);
    }
    if (s.kind == NextHopKind::kNextHopGroup) {
      auto g = s.port < kMaxNextHopGroups ? groups_.find(s.port) : groups_.end();
      if (g == groups_.end()) {
        return fail(fmt::format("route {} ({}): no next-hop group {}", i, p.str(), s.port), ENOENT);
      }
      if (g->second.family != p.addr.family) {
        return fail(fmt::format("route {} ({}): next-hop group {} has gateways of the other family",
                                i, p.str(), s.port),
                    EINVAL);
      }
    }
    if (static_cast<unsigned>(s.kind) > static_cast<unsigned>(NextHopKind::kNextHopGroup)) {
      return fail(fmt::format("route {} ({}): unknown kind", i, p.str()), EINVAL);
    }
  }

  // Sorted by prefix in FIB order (the batch order among changes of one prefix): each prefix
  // is looked up in the RIB once, and the FIB operations come out in the order they are
  // applied in.
  struct Pending {
    PrefixKey key;
    std::uint32_t index;
  };
  std::vector<Pending> order(batch.size());
  for (std::size_t i = 0; i < batch.size(); ++i) {
    order[i] = Pending{key_of(batch[i].spec.prefix), static_cast<std::uint32_t>(i)};
  }
  std::sort(order.begin(), order.end(), [](const Pending& a, const Pending& b) {
    if (a.key == b.key) return a.index < b.index;
    return fib_order(a.key, b.key);
  });
  // Entry pointers stay valid while the map does not grow past its reservation.
  rib_.reserve(rib_.size() + batch.size());

  std::vector<Touched> touched;
  touched.reserve(batch.size());
  std::vector<std::uint32_t> acquired;  // references taken by this batch (undone on failure)
  std::vector<std::uint32_t> replaced;  // references given up by this batch (dropped on success)
  acquired.reserve(batch.size());
  BatchResult stats;
  // Most batches name few distinct next hops: remember the last few (one hash lookup less per
  // route).
  struct Recent {
    NextHopKind kind;
    std::uint16_t port;
    IpAddress gateway;
    std::uint32_t id;
  };
  std::array<Recent, 8> recent;
  unsigned n_recent = 0;
  // Each prefix's RIB slot is found (or made, empty) once; the slots of prefixes a few places
  // ahead are fetched meanwhile (a large table misses the cache on every prefix).
  constexpr std::size_t kAhead = 16;
  for (std::size_t i = 0; i < order.size(); ++i) {
    if (i + kAhead < order.size()) rib_.prefetch(order[i + kAhead].key);
    const Pending& p = order[i];
    const RouteChange& c = batch[p.index];
    if (touched.empty() || !(touched.back().key == p.key)) {
      auto [it, inserted] = rib_.try_emplace(p.key);
      touched.push_back(Touched{p.key, &it->second, it->second, !inserted});
    }
    Entry& e = touched.back().after;
    if (c.remove) {
      if (e.slot[slot] == 0) {
        ++stats.missing;
        continue;
      }
      replaced.push_back(e.slot[slot]);
      e.slot[slot] = 0;
      ++stats.removed;
      continue;
    }
    std::uint32_t id = 0;
    for (unsigned k = 0; k < std::min<unsigned>(n_recent, recent.size()); ++k) {
      const Recent& r = recent[k];
      if (r.kind == c.spec.kind && r.port == c.spec.port && r.gateway == c.spec.gateway) {
        id = r.id;
        ++nh_refs_[id];
        break;
      }
    }
    if (id == 0) {
      auto nh = acquire_next_hop(c.spec);
      if (!nh) {
        for (auto a : acquired) release_next_hop(a);
        discard_new(touched);
        return fail(
            fmt::format("route {} ({}): {}", p.index, c.spec.prefix.str(), nh.error().message),
            nh.error().code);
      }
      id = nh.value();
      recent[n_recent++ % recent.size()] = Recent{c.spec.kind, c.spec.port, c.spec.gateway, id};
    }
    acquired.push_back(id);
    if (e.slot[slot]) replaced.push_back(e.slot[slot]);
    e.slot[slot] = id;
    ++stats.added;
  }
  return commit(touched, acquired, replaced, stats);
}

Result<BatchResult> RouteTable::flush(RouteSource source) {
  sync();
  const unsigned slot = static_cast<unsigned>(source);
  std::vector<Touched> touched;
  std::vector<std::uint32_t> acquired, replaced;
  BatchResult stats;
  for (auto& [key, entry] : rib_) {
    if (entry.slot[slot] == 0) continue;
    Entry e = entry;
    replaced.push_back(e.slot[slot]);
    e.slot[slot] = 0;
    touched.push_back(Touched{key, &entry, e, true});
    ++stats.removed;
  }
  std::sort(touched.begin(), touched.end(),
            [](const Touched& a, const Touched& b) { return fib_order(a.key, b.key); });
  return commit(touched, acquired, replaced, stats);
}

Result<BatchResult> RouteTable::commit(std::vector<Touched>& touched,
                                       const std::vector<std::uint32_t>& acquired,
                                       const std::vector<std::uint32_t>& replaced,
                                       BatchResult stats) {
  std::vector<FibOp> ops;
  ops.reserve(touched.size());
  std::int64_t v4_delta = 0;
  for (const Touched& t : touched) {
    const std::uint32_t old_nh = t.rib ? t.rib->effective() : 0;
    const std::uint32_t new_nh = t.after.effective();
    if (old_nh == new_nh) continue;
    ops.push_back(FibOp{t.key, old_nh, new_nh});
    if (t.key.family == 4) v4_delta += (new_nh != 0) - (old_nh != 0);
  }
  auto undo = [&] {
    for (auto id : acquired) release_next_hop(id);
    discard_new(touched);
  };
  if (static_cast<std::int64_t>(v4_routes_) + v4_delta > v4_max_routes_) {
    undo();
    return fail(fmt::format("IPv4 FIB full: {} routes and {} more do not fit; nothing was applied "
                            "(raise fib.v4_max_routes)",
                            v4_routes_, v4_delta),
                ENOSPC);
  }
  // IPv4 room, up front: a /25../32 takes a tbl8 group for its /24 unless it has one.
  FibCopy& standby = *copies_[standby_];
  std::uint32_t groups_needed = 0;
  std::uint32_t last_group = ~0u;
  for (const FibOp& op : ops) {
    if (op.key.family != 4 || op.key.len <= 24 || op.new_nh == 0) continue;
    const std::uint32_t ip = v4_of(op.key.bytes);
    if ((ip >> 8) == last_group || standby.has_tbl8(ip)) continue;
    last_group = ip >> 8;
    ++groups_needed;
  }
  if (groups_needed > standby.tbl8_groups_free()) {
    undo();
    return fail(fmt::format("IPv4 FIB rejected the batch: it needs {} more tbl8 groups, {} are "
                            "free; nothing was applied (raise fib.v4_tbl8_groups)",
                            groups_needed, standby.tbl8_groups_free()),
                ENOSPC);
  }
  // IPv4 removals fall back to their covering prefix, found once for both copies. Only the
  // lengths that can hold a prefix after the batch are probed: in the RIB now or added.
  std::vector<std::pair<std::uint32_t, std::uint8_t>> parents(ops.size());
  std::uint64_t lengths = 0;
  for (unsigned l = 0; l <= 32; ++l) {
    if (v4_len_count_[l]) lengths |= 1ull << l;
  }
  for (const FibOp& op : ops) {
    if (op.key.family == 4 && op.old_nh == 0) lengths |= 1ull << op.key.len;
  }
  for (std::size_t i = 0; i < ops.size(); ++i) {
    if (ops[i].key.family == 4 && ops[i].new_nh == 0) {
      parents[i] = v4_parent(ops[i].key, touched, lengths);
    }
  }

  for (std::size_t i = 0; i < ops.size(); ++i) {
    if (i + kFibAhead < ops.size()) prefetch_v4(standby, ops[i + kFibAhead]);
    if (ops[i].key.family == 4) {
      apply_v4(standby, ops[i], parents[i]);
      continue;
    }
    int rc = fib_set(standby, ops[i].key, ops[i].new_nh);
    if (rc < 0 && !(rc == -ENOENT && ops[i].new_nh == 0)) {
      // Only IPv6 operations (ordered first) can have been applied.
      for (std::size_t j = i; j-- > 0;) fib_set(standby, ops[j].key, ops[j].old_nh);
      undo();
      return fail(fmt::format("FIB rejected {} ({}); nothing was applied (raise "
                              "fib.v6_tbl8_groups or fib.v6_max_routes)",
                              prefix_of(ops[i].key).str(), std::strerror(-rc)),
                  -rc);
    }
  }
  if (!ops.empty()) {
    published_.store(&standby, std::memory_order_release);
    pending_token_ = rte_rcu_qsbr_start(qsbr_);
    standby_ ^= 1;
    // The other copy takes the batch in sync(), after a grace period: the caller can answer
    // before waiting for the workers.
    pending_.ops = std::move(ops);
    pending_.parents = std::move(parents);
    pending_.release = replaced;
  }

  // Commit to the RIB, then drop the references of the slots that were overwritten (workers
  // can no longer reach them: both copies are updated and a grace period has passed).
  for (Touched& t : touched) {
    const bool was = t.existed;
    const bool is = t.after.effective() != 0;
    if (t.key.family == 4 && was != is) {
      v4_routes_ += is ? 1 : -1;
      v4_len_count_[t.key.len] += is ? 1 : -1;
    }
    if (is) {
      *t.rib = t.after;
    } else {
      rib_.erase(t.key);
    }
  }
  stats.fib_ops = pending_.ops.size();
  // With FIB changes, the overwritten slots' references go in sync() (the other copy may still
  // point at them); without, no FIB entry refers to them.
  if (stats.fib_ops == 0) {
    for (auto id : replaced) release_next_hop(id);
  }
  return stats;
}

void RouteTable::discard_new(const std::vector<Touched>& touched) {
  for (const Touched& t : touched) {
    if (!t.existed) rib_.erase(t.key);
  }
}

void RouteTable::apply_v4(FibCopy& fib, const FibOp& op,
                          std::pair<std::uint32_t, std::uint8_t> parent) {
  const std::uint32_t ip = v4_of(op.key.bytes);
  if (op.new_nh) {
    // Cannot fail: room was checked in commit(), and both copies hold the same groups.
    [[maybe_unused]] int rc = fib.add4(ip, op.key.len, op.new_nh);
  } else {
    fib.del4(ip, op.key.len, parent.first, parent.second);
  }
}

bool RouteTable::try_sync() {
  const bool groups_done = reclaim_groups(false);
  if (pending_.ops.empty()) return groups_done;
  if (rte_rcu_qsbr_check(qsbr_, pending_token_, false) != 1) return false;
  sync();
  return groups_done;
}

void RouteTable::sync() {
  reclaim_groups(false);
  if (pending_.ops.empty()) return;
  // Wait until no worker can still be reading the copy published before the last batch.
  while (rte_rcu_qsbr_check(qsbr_, pending_token_, false) != 1) rte_delay_us_sleep(20);
  FibCopy& fib = *copies_[standby_];
  for (std::size_t i = 0; i < pending_.ops.size(); ++i) {
    if (i + kFibAhead < pending_.ops.size()) prefetch_v4(fib, pending_.ops[i + kFibAhead]);
    const FibOp& op = pending_.ops[i];
    if (op.key.family == 4) {
      apply_v4(fib, op, pending_.parents[i]);
      continue;
    }
    int rc = fib_set(fib, op.key, op.new_nh);
    if (rc < 0 && !(rc == -ENOENT && op.new_nh == 0)) {
      // Both copies are created alike and took the same operations in the same order.
      spdlog::critical("FIB copies diverged on {}: {}", prefix_of(op.key).str(),
                       std::strerror(-rc));
    }
  }
  // Workers can no longer reach the overwritten slots' next hops: both copies are updated and
  // a grace period has passed.
  for (auto id : pending_.release) release_next_hop(id);
  pending_ = {};
}

void RouteTable::set_neighbor_mac(std::uint16_t port, const IpAddress& address,
                                  std::optional<MacAddress> mac) {
  NhKey key{NextHopKind::kGateway, port, address};
  std::uint64_t packed = mac ? pack_mac(mac->bytes.data()) : 0;
  if (mac) {
    neighbor_macs_[key] = packed;
  } else {
    neighbor_macs_.erase(key);
  }
  if (auto it = nh_index_.find(key); it != nh_index_.end()) {
    next_hops_[it->second].dst_mac.store(packed, std::memory_order_release);
  }
}

Result<void> RouteTable::set_group(std::uint16_t id, std::span<const GroupMemberSpec> members) {
  if (id >= kMaxNextHopGroups) {
    return fail(fmt::format("next-hop group {} out of range (0..{})", id, kMaxNextHopGroups - 1),
                EINVAL);
  }
  if (members.empty() || members.size() > kMaxNextHopGroupMembers) {
    return fail(fmt::format("next-hop group {}: {} members (1..{})", id, members.size(),
                            kMaxNextHopGroupMembers),
                EINVAL);
  }
  for (std::size_t i = 0; i < members.size(); ++i) {
    const GroupMemberSpec& m = members[i];
    if (m.port >= n_ports_) {
      return fail(fmt::format("members[{}]: no port with index {}", i, m.port), ENODEV);
    }
    if (m.gateway.family != members[0].gateway.family) {
      return fail(fmt::format("members[{}]: gateway {} is not of the first member's family", i,
                              m.gateway.str()),
                  EINVAL);
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (members[j] == m) return fail(fmt::format("members[{}]: listed twice", i), EINVAL);
    }
  }
  auto existing = groups_.find(id);
  if (existing != groups_.end() && existing->second.family != members[0].gateway.family &&
      nh_index_.contains(NhKey{NextHopKind::kNextHopGroup, id, IpAddress{}})) {
    return fail(fmt::format("next-hop group {}: routes of the other family refer to it", id),
                EINVAL);
  }
  auto object = std::make_unique<NextHopGroup>();
  for (const GroupMemberSpec& m : members) {
    RouteSpec spec;
    spec.kind = NextHopKind::kGateway;
    spec.port = m.port;
    spec.gateway = m.gateway;
    auto nh = acquire_next_hop(spec);
    if (!nh) {
      for (std::uint32_t k = 0; k < object->n_members; ++k) release_next_hop(object->members[k]);
      return fail(fmt::format("next-hop group {}: {}", id, nh.error().message), nh.error().code);
    }
    object->members[object->n_members++] = nh.value();
  }
  Group g;
  g.family = members[0].gateway.family;
  g.members.assign(members.begin(), members.end());
  g.published = object.release();
  if (existing != groups_.end()) {
    // Counters of the members that stay are carried over.
    for (const auto& c : existing->second.carried) {
      if (std::find(g.members.begin(), g.members.end(), c.first) != g.members.end()) {
        g.carried.push_back(c);
      }
    }
    retire_group(id, existing->second);
    existing->second = std::move(g);
  } else {
    groups_.emplace(id, std::move(g));
  }
  group_slots_[id].store(groups_.at(id).published, std::memory_order_release);
  return boost::outcome_v2::success();
}

Result<void> RouteTable::delete_group(std::uint16_t id) {
  auto it = id < kMaxNextHopGroups ? groups_.find(id) : groups_.end();
  if (it == groups_.end()) return fail(fmt::format("no next-hop group {}", id), ENOENT);
  sync();  // references of routes deleted by the last batch
  if (auto nh = nh_index_.find(NhKey{NextHopKind::kNextHopGroup, id, IpAddress{}});
      nh != nh_index_.end()) {
    return fail(fmt::format("next-hop group {} is used by {} route(s)", id, nh_refs_[nh->second]),
                EBUSY);
  }
  group_slots_[id].store(nullptr, std::memory_order_release);
  retire_group(id, it->second);
  groups_.erase(it);
  return boost::outcome_v2::success();
}

void RouteTable::retire_group(std::uint16_t id, const Group& old) {
  retired_groups_.push_back(
      RetiredGroup{rte_rcu_qsbr_start(qsbr_), id, old.published, old.members});
}

std::uint64_t RouteTable::packets_of(const NextHopGroup& g, unsigned member) {
  std::uint64_t n = 0;
  for (const auto& row : g.packets) n += row.packets[member].get();
  return n;
}

bool RouteTable::reclaim_groups(bool wait) {
  while (!retired_groups_.empty()) {
    RetiredGroup& r = retired_groups_.front();
    if (rte_rcu_qsbr_check(qsbr_, r.token, wait) != 1) return false;
    // What the old object counted stays with the members that are still in the group.
    if (auto g = groups_.find(r.id); g != groups_.end()) {
      for (std::size_t k = 0; k < r.members.size(); ++k) {
        if (std::find(g->second.members.begin(), g->second.members.end(), r.members[k]) ==
            g->second.members.end()) {
          continue;
        }
        const std::uint64_t n = packets_of(*r.object, static_cast<unsigned>(k));
        auto c = std::find_if(g->second.carried.begin(), g->second.carried.end(),
                              [&](const auto& e) { return e.first == r.members[k]; });
        if (c == g->second.carried.end()) {
          g->second.carried.emplace_back(r.members[k], n);
        } else {
          c->second += n;
        }
      }
    }
    for (std::uint32_t k = 0; k < r.object->n_members; ++k) release_next_hop(r.object->members[k]);
    delete r.object;
    retired_groups_.pop_front();
  }
  return true;
}

std::vector<GroupView> RouteTable::groups() const {
  std::vector<GroupView> out;
  for (const auto& [id, g] : groups_) {
    GroupView v{id, 0, {}};
    if (auto nh = nh_index_.find(NhKey{NextHopKind::kNextHopGroup, id, IpAddress{}});
        nh != nh_index_.end()) {
      v.routes = nh_refs_[nh->second];
    }
    for (std::size_t k = 0; k < g.members.size(); ++k) {
      std::uint64_t packets = packets_of(*g.published, static_cast<unsigned>(k));
      for (const auto& c : g.carried) {
        if (c.first == g.members[k]) packets += c.second;
      }
      v.members.push_back(
          GroupMemberView{g.members[k], &next_hops_[g.published->members[k]], packets});
    }
    out.push_back(std::move(v));
  }
  return out;
}

NextHopId RouteTable::group_member(std::uint16_t id, std::uint32_t hash) const {
  auto it = id < kMaxNextHopGroups ? groups_.find(id) : groups_.end();
  if (it == groups_.end() || it->second.published->n_members == 0) return kNoRouteNextHop;
  const NextHopGroup& g = *it->second.published;
  return NextHopId(g.members[hash % g.n_members]);
}

NextHopId RouteTable::lookup(const IpAddress& dst) const {
  FibCopy* fib = published_.load(std::memory_order_acquire);
  std::uint64_t nh = 0;
  if (dst.is_v4()) {
    std::uint32_t ip = dst.v4_host_order();
    fib->lookup4(&ip, &nh, 1);
  } else {
    std::uint8_t ip[1][16];
    std::memcpy(ip[0], dst.bytes.data(), 16);
    fib->lookup6(ip, &nh, 1);
  }
  return NextHopId(static_cast<std::uint32_t>(nh));
}

}  // namespace causeway::fwd
