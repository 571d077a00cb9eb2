// SPDX-License-Identifier: Apache-2.0
// The DPDK set-up shared by the forwarder's dpdk-labelled unit tests and its in-process
// benchmarks: the EAL on one lcore without hugepages or PCI devices, a packet pool, an RCU
// QSBR variable for one worker and a small RouteTable. The EAL starts once per process, so
// each test binary calls this once (from its lazily built environment).
#pragma once

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "causeway/common/result.h"
#include "dataplane/packet_meta.h"
#include "runtime/route_table.h"

namespace causeway::fwd::test {

struct DpdkTestEnv {
  rte_mempool* pool = nullptr;
  rte_rcu_qsbr* qsbr = nullptr;
  std::unique_ptr<RouteTable> routes;  // room for 1024 routes per family
};

// `program` names the process in EAL messages and, with the PID, its runtime file prefix, so
// test binaries running at the same time do not share DPDK's runtime directory.
inline Result<DpdkTestEnv> start_dpdk_test_env(const std::string& program, unsigned pool_mbufs,
                                               unsigned n_ports) {
  std::vector<std::string> args{program,
                                "-l",
                                "0",
                                "--no-huge",
                                "-m",
                                "512",
                                "--no-pci",
                                "--file-prefix",
                                program + "-" + std::to_string(getpid()),
                                "--log-level=lib.*:error"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  if (rte_eal_init(static_cast<int>(argv.size()), argv.data()) < 0) {
    return fail(std::string("rte_eal_init: ") + rte_strerror(rte_errno));
  }
  DpdkTestEnv env;
  const int socket = static_cast<int>(rte_socket_id());
  env.pool = rte_pktmbuf_pool_create("test_pool", pool_mbufs, 0, kPacketMetaSize,
                                     RTE_MBUF_DEFAULT_BUF_SIZE, socket);
  if (env.pool == nullptr) return fail(std::string("mbuf pool: ") + rte_strerror(rte_errno));
  env.qsbr = static_cast<rte_rcu_qsbr*>(rte_zmalloc(nullptr, rte_rcu_qsbr_get_memsize(1), 64));
  if (env.qsbr == nullptr || rte_rcu_qsbr_init(env.qsbr, 1) != 0) return fail("rcu qsbr init");
  FibConfig fc;
  fc.v4_max_routes = 1024;
  fc.v4_tbl8_groups = 8;
  fc.v6_max_routes = 1024;
  fc.v6_tbl8_groups = 64;
  fc.max_next_hops = 64;
  auto routes = RouteTable::create(fc, n_ports, socket, env.qsbr);
  if (!routes) return fail("route table: " + routes.error().message);
  env.routes = std::move(routes).value();
  return env;
}

}  // namespace causeway::fwd::test
