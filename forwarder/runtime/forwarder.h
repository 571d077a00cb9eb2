// SPDX-License-Identifier: Apache-2.0
// causeway-fwd as a library: start-up (EAL, ports, mirrors, FIB, workers), the control
// thread (Boost.Asio on the EAL main lcore: punts, mirrors, timers, control socket) and an
// orderly shutdown. Start-up errors are returned before any worker runs, naming the cause.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "causeway/common/result.h"
#include "config/config.h"

namespace causeway::fwd {

class Forwarder {
 public:
  // Initialises DPDK and every resource. `eal_extra` is appended to the EAL arguments.
  [[nodiscard]] static Result<std::unique_ptr<Forwarder>> create(
      const FwdConfig& config, const std::vector<std::string>& eal_extra);
  ~Forwarder();

  // Runs until SIGINT/SIGTERM. Returns the process exit status.
  int run();

  struct Impl;

 private:
  explicit Forwarder(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// The EAL argument vector for a configuration (exposed for tests and --dry-run).
std::vector<std::string> eal_arguments(const FwdConfig& config,
                                       const std::vector<std::string>& extra);

}  // namespace causeway::fwd
