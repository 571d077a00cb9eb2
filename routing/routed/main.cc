// SPDX-License-Identifier: Apache-2.0
// causeway-routed: the routing daemon (docs/routed.md). Everything is in causeway_rt_routed.
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "routed/daemon.h"

int main(int argc, char** argv) {
  causeway::rt::RoutedOptions o;
  std::string log_level = "info";
  CLI::App app("causeway-routed: intent -> FRR, FRR's RIB -> forwarder FIB, SLA engine",
               "causeway-routed");
  app.add_option("-c,--config", o.intent_path, "PoP intent file (YAML)")->required();
  app.add_flag("--check", o.check_only, "Validate the intent and print frr.conf; apply nothing");
  app.add_option("--frr-pathspace", o.frr_pathspace, "FRR instance (-N) to configure");
  app.add_option("--frr-config", o.frr_config,
                 "frr.conf to write (default /etc/frr[/PATHSPACE]/frr.conf)");
  app.add_flag("--no-frr", o.no_frr, "Do not configure FRR (only FPM -> forwarder and SLA)");
  app.add_option("--fwd-socket", o.fwd_socket,
                 "Forwarder control socket (default: the intent's forwarder.control_socket)");
  app.add_option("--fpm-address", o.fpm_address, "Address the FPM server listens on")
      ->capture_default_str();
  app.add_option("--fpm-quiet-ms", o.fpm_quiet_ms,
                 "Quiet period that ends zebra's replay of a connection")
      ->capture_default_str();
  app.add_option("--metrics", o.metrics_address, "Prometheus exposer HOST:PORT ('' to disable)")
      ->capture_default_str();
  app.add_option("--control-socket", o.control_socket, "routed's control socket")
      ->envname("CAUSEWAY_ROUTED_SOCKET")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::from_str(log_level));
  return causeway::rt::run_routed(o);
}
