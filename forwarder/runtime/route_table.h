// SPDX-License-Identifier: Apache-2.0
// The control thread's routing table (RIB) and the publication of the FIB to workers.
//
// Ownership: everything here belongs to the control thread. Workers see only
//  - the published FibCopy (`published()`), swapped with one release store, and
//  - the NextHop array, whose entries are filled before any FIB copy refers to them.
//
// Publication is left-right: two FibCopy instances hold the same routes. A batch is applied
// to the copy no worker reads and that copy is published; then (sync(), after the reply to
// the sender or before the next batch) the control thread waits for every worker to pass a
// quiescent state (rte_rcu_qsbr) and applies the batch again to the other copy. Workers never
// see a half-applied batch and never wait; a batch costs two incremental updates instead of
// a rebuild. A batch the FIB cannot take (IPv4 room is checked up front; rte_fib6 is rolled
// back) changes nothing.
//
// Each prefix has one slot per RouteSource; the lowest-numbered source present wins
// (interface addresses, then configuration, then the control socket / routing daemon, then
// neighbour adjacencies).
#pragma once

#include <rte_rcu_qsbr.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "causeway/common/ip.h"
#include "causeway/common/result.h"
#include "config/config.h"
#include "dataplane/fib.h"
#include "dataplane/next_hop.h"

namespace causeway::fwd {

enum class RouteSource : std::uint8_t { kInterface = 0, kConfig = 1, kControl = 2, kNeighbor = 3 };
inline constexpr unsigned kRouteSourceCount = 4;
const char* route_source_name(RouteSource s);

inline constexpr std::uint16_t kMaxPathGroupIds = 1024;  // RouteKind::kPathGroup ids 0..1023

struct RouteSpec {
  IpPrefix prefix;
  NextHopKind kind = NextHopKind::kGateway;
  std::uint16_t port = ctl::kNoPort;
  IpAddress gateway;  // kGateway only
};

struct RouteChange {
  bool remove = false;
  RouteSpec spec;  // on removal only spec.prefix is used
};

struct BatchResult {
  std::uint64_t added = 0;    // slots set (new or replaced)
  std::uint64_t removed = 0;  // slots cleared
  std::uint64_t missing = 0;  // removals of routes that were not there
  std::uint64_t fib_ops = 0;  // FIB entries changed
};

struct RouteView {
  IpPrefix prefix;
  RouteSource source;
  const NextHop* next_hop;
};

// One member of a next-hop group: a gateway out of a port.
struct GroupMemberSpec {
  std::uint16_t port = ctl::kNoPort;
  IpAddress gateway;
  bool operator==(const GroupMemberSpec&) const = default;
};

struct GroupMemberView {
  GroupMemberSpec spec;
  const NextHop* next_hop;  // kGateway; dst_mac says whether the neighbour is resolved
  std::uint64_t packets;    // forwarded through this member, summed over workers
};
struct GroupView {
  std::uint16_t id;
  std::uint32_t routes;  // routes that refer to the group
  std::vector<GroupMemberView> members;
};

class RouteTable {
 public:
  ~RouteTable();  // frees the next-hop groups; the workers have stopped
  [[nodiscard]] static Result<std::unique_ptr<RouteTable>> create(const FibConfig& cfg,
                                                                  unsigned n_ports, int socket_id,
                                                                  rte_rcu_qsbr* qsbr);

  // All or nothing. Errors name the index of the first bad change. On return the batch is in
  // the RIB and in the published FIB copy; the other copy takes it in sync().
  [[nodiscard]] Result<BatchResult> apply(RouteSource source, std::span<const RouteChange> batch);
  // Waits for a grace period and brings the unpublished copy up to date with the last batch,
  // then releases the next hops that batch stopped using. apply() and flush() call it first.
  // The wait sleeps in short steps rather than spinning: a worker that other processes keep
  // off its CPU must not cost the control thread its own CPU too.
  void sync();
  // The same if the grace period is already over; returns whether nothing is left pending.
  // The control thread calls it once it has answered a batch and on its timer.
  bool try_sync();
  // Removes every route of one source (e.g. the routing daemon's before a full resync).
  [[nodiscard]] Result<BatchResult> flush(RouteSource source);

  // A neighbour's MAC became known (mac set) or was lost (nullopt): every gateway next hop
  // through (port, address) is updated in place.
  void set_neighbor_mac(std::uint16_t port, const IpAddress& address,
                        std::optional<MacAddress> mac);

  // Next-hop groups (ECMP, next_hop.h). set_group creates group `id` or replaces its members in
  // place: one pointer swap for the workers, routes untouched; all or nothing (EINVAL: id out of
  // range, no or too many members, a port that does not exist, mixed families, a member twice;
  // ENOSPC: next-hop table full). delete_group: ENOENT if absent, EBUSY while a route refers to
  // it. The old group and its members' next hops go after a grace period (try_sync/sync).
  [[nodiscard]] Result<void> set_group(std::uint16_t id, std::span<const GroupMemberSpec> members);
  [[nodiscard]] Result<void> delete_group(std::uint16_t id);
  [[nodiscard]] std::vector<GroupView> groups() const;
  // The member next hop a packet of group `id` with flow hash `hash` takes (0: no such group).
  [[nodiscard]] NextHopId group_member(std::uint16_t id, std::uint32_t hash) const;
  const std::atomic<const NextHopGroup*>* group_slots() const { return group_slots_.get(); }

  // Control-thread lookup in the published copy.
  [[nodiscard]] NextHopId lookup(const IpAddress& dst) const;
  [[nodiscard]] const NextHop& next_hop(NextHopId id) const { return next_hops_[id.value()]; }

  std::atomic<FibCopy*>* published() { return &published_; }
  NextHop* next_hop_array() { return next_hops_.get(); }
  [[nodiscard]] std::uint32_t next_hop_capacity() const { return nh_capacity_; }
  [[nodiscard]] std::size_t size() const { return rib_.size(); }
  [[nodiscard]] std::size_t next_hops_in_use() const { return nh_index_.size(); }

  // Visits effective routes (family 0 = both), stops after `limit`.
  template <typename F>
  void for_each(unsigned family, std::size_t limit, F&& f) const;

 private:
  struct PrefixKey {
    std::uint8_t family;
    std::uint8_t len;
    std::array<std::uint8_t, 16> bytes;
    bool operator==(const PrefixKey& o) const {
      std::uint64_t a[2], b[2];
      std::memcpy(a, bytes.data(), 16);
      std::memcpy(b, o.bytes.data(), 16);
      return family == o.family && len == o.len && a[0] == b[0] && a[1] == b[1];
    }
  };
  struct PrefixKeyHash {
    std::size_t operator()(const PrefixKey& k) const noexcept;
  };
  struct Entry {
    std::array<std::uint32_t, kRouteSourceCount> slot{};  // NextHopId values, 0 = none
    [[nodiscard]] std::uint32_t effective() const {
      for (auto v : slot)
        if (v) return v;
      return 0;
    }
  };
  struct NhKey {
    NextHopKind kind;
    std::uint16_t port;
    IpAddress gateway;
    bool operator==(const NhKey&) const = default;
  };
  struct NhKeyHash {
    std::size_t operator()(const NhKey& k) const noexcept;
  };
  // One prefix a batch changes: its RIB entry (`rib`; inserted empty by the batch unless
  // `existed`, and removed again if the batch fails) and the entry the batch leaves.
  struct Touched {
    PrefixKey key;
    Entry* rib;
    Entry after;
    bool existed;
  };
  struct FibOp {
    PrefixKey key;
    std::uint32_t old_nh;
    std::uint32_t new_nh;
  };
  // FIB application order: IPv6 first (rte_fib6 can fail and is rolled back; the IPv4 table
  // is checked for room up front and cannot), then by address, a prefix before the longer
  // prefixes it covers (so a covering prefix is in place when a covered one is removed).
  static bool fib_order(const PrefixKey& a, const PrefixKey& b) {
    if (a.family != b.family) return a.family > b.family;
    const std::uint64_t a0 = be64_at(a, 0), b0 = be64_at(b, 0);
    if (a0 != b0) return a0 < b0;
    const std::uint64_t a1 = be64_at(a, 8), b1 = be64_at(b, 8);
    if (a1 != b1) return a1 < b1;
    return a.len < b.len;
  }
  static std::uint64_t be64_at(const PrefixKey& k, unsigned off) {
    std::uint64_t v;
    std::memcpy(&v, k.bytes.data() + off, 8);
    return __builtin_bswap64(v);
  }

  // A batch published in one copy and not yet applied to the other (sync()).
  struct PendingCopy {
    std::vector<FibOp> ops;
    std::vector<std::pair<std::uint32_t, std::uint8_t>> parents;  // IPv4 removals (v4_parent)
    std::vector<std::uint32_t> release;                           // next-hop references
  };

  RouteTable() = default;

  // The control thread's record of a group; `published` is what workers read.
  struct Group {
    Family family = Family::kV4;
    std::vector<GroupMemberSpec> members;  // published->members[k] is members[k]'s next hop
    NextHopGroup* published = nullptr;     // holds one reference to each member's next hop
    // Packets counted by replaced objects, per member still in the group.
    std::vector<std::pair<GroupMemberSpec, std::uint64_t>> carried;
  };
  // A group object no worker may reach any more once the grace period `token` is over.
  struct RetiredGroup {
    std::uint64_t token;
    std::uint16_t id;
    NextHopGroup* object;
    std::vector<GroupMemberSpec> members;  // of `object`, for the counters; its next-hop
                                           // references are dropped with it
  };
  void retire_group(std::uint16_t id, const Group& old);
  // Frees the retired groups whose grace period is over (all of them, waiting, if `wait`).
  bool reclaim_groups(bool wait);
  static std::uint64_t packets_of(const NextHopGroup& g, unsigned member);

  static void prefetch_v4(const FibCopy& fib, const FibOp& op);
  static void apply_v4(FibCopy& fib, const FibOp& op,
                       std::pair<std::uint32_t, std::uint8_t> parent);
  static PrefixKey key_of(const IpPrefix& p);
  static IpPrefix prefix_of(const PrefixKey& k);
  [[nodiscard]] Result<std::uint32_t> acquire_next_hop(const RouteSpec& spec);
  void release_next_hop(std::uint32_t id);
  static int fib_set(FibCopy& fib, const PrefixKey& key, std::uint32_t nh);
  // Removes the empty entries a failed batch inserted.
  void discard_new(const std::vector<Touched>& touched);
  // `touched` is in fib_order, one element per prefix.
  [[nodiscard]] Result<BatchResult> commit(std::vector<Touched>& touched,
                                           const std::vector<std::uint32_t>& acquired,
                                           const std::vector<std::uint32_t>& replaced,
                                           BatchResult stats);
  // The longest IPv4 prefix shorter than `key` covering it, as the batch leaves the table:
  // (next hop, depth), or (0, 0). `lengths`: bit l set if a /l may exist after the batch.
  std::pair<std::uint32_t, std::uint8_t> v4_parent(const PrefixKey& key,
                                                   const std::vector<Touched>& touched,
                                                   std::uint64_t lengths) const;

  unsigned n_ports_ = 0;
  rte_rcu_qsbr* qsbr_ = nullptr;
  std::unique_ptr<FibCopy> copies_[2];
  std::atomic<FibCopy*> published_{nullptr};
  unsigned standby_ = 1;
  PendingCopy pending_;
  std::uint64_t pending_token_ = 0;  // rte_rcu_qsbr_start() right after the publication

  std::map<std::uint16_t, Group> groups_;
  std::unique_ptr<std::atomic<const NextHopGroup*>[]> group_slots_;
  std::deque<RetiredGroup> retired_groups_;

  std::unique_ptr<NextHop[]> next_hops_;
  std::uint32_t nh_capacity_ = 0;
  std::vector<std::uint32_t> nh_refs_;
  std::vector<std::uint32_t> nh_free_;
  std::unordered_map<NhKey, std::uint32_t, NhKeyHash> nh_index_;
  // Known neighbour MACs, so a next hop created later starts resolved.
  std::unordered_map<NhKey, std::uint64_t, NhKeyHash> neighbor_macs_;

  // Flat (open addressing) rather than node-based: one cache miss per prefix instead of
  // several, and no allocation per route (1M-route loads, docs/benchmarks.md).
  absl::flat_hash_map<PrefixKey, Entry, PrefixKeyHash> rib_;
  std::uint32_t v4_max_routes_ = 0;
  std::size_t v4_routes_ = 0;                     // IPv4 prefixes in rib_
  std::array<std::uint32_t, 33> v4_len_count_{};  // IPv4 prefixes in rib_ per length
};

template <typename F>
void RouteTable::for_each(unsigned family, std::size_t limit, F&& f) const {
  std::size_t n = 0;
  for (const auto& [key, entry] : rib_) {
    if (family && key.family != family) continue;
    if (n++ >= limit) return;
    for (unsigned s = 0; s < kRouteSourceCount; ++s) {
      if (entry.slot[s]) {
        f(RouteView{prefix_of(key), static_cast<RouteSource>(s), &next_hops_[entry.slot[s]]});
        break;
      }
    }
  }
}

}  // namespace causeway::fwd
