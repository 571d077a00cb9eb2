// SPDX-License-Identifier: Apache-2.0
#include "fib.h"

#include <rte_errno.h>

#include <string>

#include "config/config.h"

namespace causeway::fwd {

Result<std::unique_ptr<FibCopy>> FibCopy::create(const std::string& name, const FibConfig& cfg,
                                                 int socket_id) {
  std::unique_ptr<FibCopy> copy(new FibCopy());

  rte_fib_conf c4{};
  c4.type = RTE_FIB_DIR24_8;
  c4.default_nh = 0;
  c4.max_routes = static_cast<int>(cfg.v4_max_routes);
  c4.dir24_8.nh_sz = RTE_FIB_DIR24_8_4B;
  c4.dir24_8.num_tbl8 = cfg.v4_tbl8_groups;
  std::string n4 = name + "4";
  copy->v4_ = rte_fib_create(n4.c_str(), socket_id, &c4);
  if (copy->v4_ == nullptr) {
    return fail("cannot create IPv4 FIB '" + n4 + "' (" + std::to_string(cfg.v4_max_routes) +
                    " routes, " + std::to_string(cfg.v4_tbl8_groups) + " tbl8 groups): " +
                    rte_strerror(rte_errno) + " (raise dpdk.memory_mb or lower fib sizes)",
                rte_errno);
  }

  rte_fib6_conf c6{};
  c6.type = RTE_FIB6_TRIE;
  c6.default_nh = 0;
  c6.max_routes = static_cast<int>(cfg.v6_max_routes);
  c6.trie.nh_sz = RTE_FIB6_TRIE_4B;
  c6.trie.num_tbl8 = cfg.v6_tbl8_groups;
  std::string n6 = name + "6";
  copy->v6_ = rte_fib6_create(n6.c_str(), socket_id, &c6);
  if (copy->v6_ == nullptr) {
    return fail("cannot create IPv6 FIB '" + n6 + "' (" + std::to_string(cfg.v6_max_routes) +
                    " routes, " + std::to_string(cfg.v6_tbl8_groups) + " tbl8 groups): " +
                    rte_strerror(rte_errno) + " (raise dpdk.memory_mb or lower fib sizes)",
                rte_errno);
  }
  return copy;
}

FibCopy::~FibCopy() {
  if (v4_) rte_fib_free(v4_);
  if (v6_) rte_fib6_free(v6_);
}

}  // namespace causeway::fwd
