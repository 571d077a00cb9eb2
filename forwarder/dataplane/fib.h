// SPDX-License-Identifier: Apache-2.0
// One copy of the forwarding table, mapping a prefix to a NextHopId value: a DIR-24-8 table
// for IPv4 (below) and DPDK's rte_fib6 (trie) for IPv6. The control thread keeps two copies
// and publishes one at a time (runtime/route_table.h); workers only call the lookups.
//
// Why IPv4 is not rte_fib (DPDK's own DIR-24-8): rte_fib keeps an rte_rib trie beside its
// tables and walks it three to four times per added route (exact lookup, insert, parent,
// covered sub-prefixes). With the routes of a large table arriving in random order every walk
// misses the cache: 1M routes took 2.25 s per copy (1.32 s with each batch sorted;
// bench/forwarding/fib_insert_bench.cc), and the forwarder fills two copies. rte_lpm, the
// other DPDK LPM, searches its rule table linearly per depth on every add. This table keeps
// the depth of the prefix that wrote each entry in the entry itself (as rte_lpm's tables do),
// so an add only overwrites the entries of its range whose depth is not larger, and needs no
// trie at all; a delete is told the covering prefix by the caller (the RIB, which has it).
// A /24 costs one store, a /25../32 one tbl8 group per /24 it falls in.
//
// Entry layout (32 bits): bit 31 = the tbl24 entry points to a tbl8 group (bits 0..23 are the
// group index); otherwise bits 24..29 are the depth of the prefix that set the entry (0 =
// none) and bits 0..23 the NextHopId (0 = no route). Next-hop ids and tbl8 groups are
// therefore limited to 2^24 (config.cc enforces it).
#pragma once

#include <rte_branch_prediction.h>
#include <rte_fib6.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "causeway/common/result.h"

namespace causeway::fwd {

struct FibConfig;

class FibCopy {
 public:
  static constexpr std::uint32_t kExt = 1u << 31;
  static constexpr std::uint32_t kValueMask = (1u << 24) - 1;
  static constexpr unsigned kDepthShift = 24;

  // `name` must be unique in the process (DPDK object names).
  [[nodiscard]] static Result<std::unique_ptr<FibCopy>> create(const std::string& name,
                                                               const FibConfig& cfg, int socket_id);
  ~FibCopy();
  FibCopy(const FibCopy&) = delete;
  FibCopy& operator=(const FibCopy&) = delete;

  // Control thread only, and only on a copy no worker reads (the table is written in place).
  // add4: 0, or -ENOSPC when a /25../32 needs a tbl8 group and none is free (nothing changed).
  int add4(std::uint32_t ip_host_order, std::uint8_t depth, std::uint32_t next_hop) noexcept;
  // del4: the entries the prefix set fall back to its longest covering prefix in the table
  // (`parent_depth` 0 and `parent_next_hop` 0 when there is none). Removing a prefix that is
  // not there changes nothing.
  void del4(std::uint32_t ip_host_order, std::uint8_t depth, std::uint32_t parent_next_hop,
            std::uint8_t parent_depth) noexcept;
  // For all-or-nothing batches: free tbl8 groups, and whether the /24 of `ip` already has one.
  [[nodiscard]] std::uint32_t tbl8_groups_free() const noexcept {
    return static_cast<std::uint32_t>(tbl8_free_.size());
  }
  [[nodiscard]] bool has_tbl8(std::uint32_t ip_host_order) const noexcept {
    return (tbl24_[ip_host_order >> 8] & kExt) != 0;
  }
  // Fetches the tbl24 entry of an address ahead of add4/del4 (for writing).
  void prefetch4(std::uint32_t ip_host_order) const noexcept {
    __builtin_prefetch(&tbl24_[ip_host_order >> 8], 1);
  }

  int add6(const std::uint8_t* ip, std::uint8_t depth, std::uint32_t next_hop) noexcept {
    return rte_fib6_add(v6_, ip, depth, next_hop);
  }
  int del6(const std::uint8_t* ip, std::uint8_t depth) noexcept {
    return rte_fib6_delete(v6_, ip, depth);
  }

  // Workers: lookups; a miss yields next hop 0 (kNoRouteNextHop).
  [[nodiscard]] std::uint32_t lookup4(std::uint32_t ip_host_order) const noexcept {
    std::uint32_t e = tbl24_[ip_host_order >> 8];
    if (unlikely(e & kExt)) e = tbl8_[((e & kValueMask) << 8) | (ip_host_order & 0xff)];
    return e & kValueMask;
  }
  // The tbl24 entry of an address, for prefetching ahead of lookup4.
  [[nodiscard]] const std::uint32_t* tbl24_entry(std::uint32_t ip_host_order) const noexcept {
    return &tbl24_[ip_host_order >> 8];
  }
  void lookup4(const std::uint32_t* ips_host_order, std::uint64_t* next_hops,
               unsigned n) const noexcept {
    for (unsigned i = 0; i < n; ++i) next_hops[i] = lookup4(ips_host_order[i]);
  }
  void lookup6(std::uint8_t (*ips)[16], std::uint64_t* next_hops, unsigned n) noexcept {
    rte_fib6_lookup_bulk(v6_, ips, next_hops, n);
  }

 private:
  FibCopy() = default;
  static std::uint32_t entry(std::uint32_t next_hop, unsigned depth) noexcept {
    return (depth << kDepthShift) | next_hop;
  }
  static unsigned depth_of(std::uint32_t e) noexcept { return (e >> kDepthShift) & 0x3f; }

  // An anonymous mapping backed by transparent huge pages (fib.cc says why).
  struct Table {
    std::uint32_t* data = nullptr;
    std::size_t bytes = 0;
    static Table allocate(std::size_t bytes);
    Table() = default;
    Table(Table&& o) noexcept : data(o.data), bytes(o.bytes) { o.data = nullptr; }
    Table& operator=(Table&& o) noexcept {
      std::swap(data, o.data);
      std::swap(bytes, o.bytes);
      return *this;
    }
    ~Table();
  };
  Table tbl24_mem_, tbl8_mem_;
  std::uint32_t* tbl24_ = nullptr;  // 2^24 entries
  std::uint32_t* tbl8_ = nullptr;   // n_tbl8_ groups of 256 entries
  std::uint32_t n_tbl8_ = 0;
  std::vector<std::uint32_t> tbl8_free_;  // free group indices (control thread)
  rte_fib6* v6_ = nullptr;
};

}  // namespace causeway::fwd
