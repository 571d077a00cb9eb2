// SPDX-License-Identifier: Apache-2.0
// causeway-routed put together (docs/routed.md): the intent, FRR, the FPM server, the FIB
// builder, the SLA engine, the exports. main.cc parses the command line and calls run_routed.
//
// Threads: the io_context thread (FPM reader, SLA engine, signals, control socket); the FIB
// builder's thread (forwarder I/O); the FRR thread (vtysh / frr-reload.py, which take
// seconds and must not hold up the FPM reader); the Prometheus exposer's threads (read
// copies only).
#pragma once

#include <cstdint>
#include <string>

namespace causeway::rt {

struct RoutedOptions {
  std::string intent_path;
  bool check_only = false;  // validate, render, print; apply nothing
  std::string frr_pathspace;
  std::string frr_config;  // default /etc/frr[/<pathspace>]/frr.conf
  bool no_frr = false;     // do not apply FRR configuration (FRR managed elsewhere)
  std::string fwd_socket;  // overrides the intent's forwarder.control_socket
  std::string fpm_address = "127.0.0.1";
  std::uint32_t fpm_quiet_ms = 3000;
  std::string metrics_address = "127.0.0.1:9477";  // empty: no exposer
  std::string control_socket = "/run/causeway/routed.sock";
};

// Returns the process exit code: 0, 1 (runtime failure), 2 (invalid intent).
int run_routed(const RoutedOptions& options);

}  // namespace causeway::rt
