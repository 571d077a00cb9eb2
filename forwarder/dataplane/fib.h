// SPDX-License-Identifier: Apache-2.0
// One copy of the forwarding table: DPDK rte_fib (DIR-24-8) for IPv4 and rte_fib6 (trie)
// for IPv6, both mapping a prefix to a NextHopId value. The control thread keeps two copies
// and publishes one at a time (runtime/fib_publisher.h); workers only call the lookups.
#pragma once

#include <rte_fib.h>
#include <rte_fib6.h>

#include <cstdint>
#include <memory>
#include <string>

#include "causeway/common/result.h"

namespace causeway::fwd {

struct FibConfig;

class FibCopy {
 public:
  // `name` must be unique in the process (DPDK object names).
  [[nodiscard]] static Result<std::unique_ptr<FibCopy>> create(const std::string& name,
                                                               const FibConfig& cfg, int socket_id);
  ~FibCopy();
  FibCopy(const FibCopy&) = delete;
  FibCopy& operator=(const FibCopy&) = delete;

  // Control thread only. Return 0 or a negative errno (ENOSPC when tbl8 groups run out).
  int add4(std::uint32_t ip_host_order, std::uint8_t depth, std::uint32_t next_hop) noexcept {
    return rte_fib_add(v4_, ip_host_order, depth, next_hop);
  }
  int del4(std::uint32_t ip_host_order, std::uint8_t depth) noexcept {
    return rte_fib_delete(v4_, ip_host_order, depth);
  }
  int add6(const std::uint8_t* ip, std::uint8_t depth, std::uint32_t next_hop) noexcept {
    return rte_fib6_add(v6_, ip, depth, next_hop);
  }
  int del6(const std::uint8_t* ip, std::uint8_t depth) noexcept {
    return rte_fib6_delete(v6_, ip, depth);
  }

  // Workers: bulk lookups; a miss yields next hop 0 (kNoRouteNextHop).
  void lookup4(std::uint32_t* ips_host_order, std::uint64_t* next_hops, unsigned n) noexcept {
    rte_fib_lookup_bulk(v4_, ips_host_order, next_hops, n);
  }
  void lookup6(std::uint8_t (*ips)[16], std::uint64_t* next_hops, unsigned n) noexcept {
    rte_fib6_lookup_bulk(v6_, ips, next_hops, n);
  }

 private:
  FibCopy() = default;
  rte_fib* v4_ = nullptr;
  rte_fib6* v6_ = nullptr;
};

}  // namespace causeway::fwd
