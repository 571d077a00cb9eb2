// SPDX-License-Identifier: Apache-2.0
// The control thread's routing table (RIB) and the publication of the FIB to workers.
//
// Ownership: everything here belongs to the control thread. Workers see only
//  - the published FibCopy (`published()`), swapped with one release store, and
//  - the NextHop array, whose entries are filled before any FIB copy refers to them.
//
// Publication is left-right: two FibCopy instances hold the same routes. A batch is applied
// to the copy no worker reads, that copy is published, the control thread waits for every
// worker to pass a quiescent state (rte_rcu_qsbr), and the batch is applied again to the
// other copy. Workers never see a half-applied batch and never wait; a batch costs two
// incremental updates instead of a rebuild. If the first copy cannot take the batch (tbl8
// groups exhausted), it is rolled back and nothing changes.
//
// Each prefix has one slot per RouteSource; the lowest-numbered source present wins
// (interface addresses, then configuration, then the control socket / routing daemon, then
// neighbour adjacencies).
#pragma once

#include <rte_rcu_qsbr.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

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

class RouteTable {
 public:
  [[nodiscard]] static Result<std::unique_ptr<RouteTable>> create(const FibConfig& cfg,
                                                                  unsigned n_ports, int socket_id,
                                                                  rte_rcu_qsbr* qsbr);

  // All or nothing. Errors name the index of the first bad change.
  [[nodiscard]] Result<BatchResult> apply(RouteSource source, std::span<const RouteChange> batch);
  // Removes every route of one source (e.g. the routing daemon's before a full resync).
  [[nodiscard]] Result<BatchResult> flush(RouteSource source);

  // A neighbour's MAC became known (mac set) or was lost (nullopt): every gateway next hop
  // through (port, address) is updated in place.
  void set_neighbor_mac(std::uint16_t port, const IpAddress& address,
                        std::optional<MacAddress> mac);

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
    bool operator==(const PrefixKey&) const = default;
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
  struct FibOp {
    PrefixKey key;
    std::uint32_t old_nh;
    std::uint32_t new_nh;
  };

  RouteTable() = default;
  static PrefixKey key_of(const IpPrefix& p);
  static IpPrefix prefix_of(const PrefixKey& k);
  [[nodiscard]] Result<std::uint32_t> acquire_next_hop(const RouteSpec& spec);
  void release_next_hop(std::uint32_t id);
  static int fib_set(FibCopy& fib, const PrefixKey& key, std::uint32_t nh);
  [[nodiscard]] Result<BatchResult> commit(
      std::unordered_map<PrefixKey, Entry, PrefixKeyHash>& touched,
      const std::vector<std::uint32_t>& acquired, const std::vector<std::uint32_t>& replaced,
      BatchResult stats);

  unsigned n_ports_ = 0;
  rte_rcu_qsbr* qsbr_ = nullptr;
  std::unique_ptr<FibCopy> copies_[2];
  std::atomic<FibCopy*> published_{nullptr};
  unsigned standby_ = 1;

  std::unique_ptr<NextHop[]> next_hops_;
  std::uint32_t nh_capacity_ = 0;
  std::vector<std::uint32_t> nh_refs_;
  std::vector<std::uint32_t> nh_free_;
  std::unordered_map<NhKey, std::uint32_t, NhKeyHash> nh_index_;
  // Known neighbour MACs, so a next hop created later starts resolved.
  std::unordered_map<NhKey, std::uint64_t, NhKeyHash> neighbor_macs_;

  std::unordered_map<PrefixKey, Entry, PrefixKeyHash> rib_;
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
