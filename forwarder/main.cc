// SPDX-License-Identifier: Apache-2.0
// causeway-fwd: the DPDK forwarder of a Causeway PoP. Thin: parse the command line, load and
// validate the configuration (nothing is touched if it is bad), then run the Forwarder.
#include <cstdio>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "config/config.h"
#include "runtime/forwarder.h"

int main(int argc, char** argv) {
  CLI::App app{"causeway-fwd: DPDK forwarder of a Causeway PoP"};
  std::string config_path = "/etc/causeway/fwd.yaml";
  std::vector<std::string> eal_extra;
  bool check_only = false;
  std::string log_level = "info";
  std::string uapi_socket_dir;
  app.add_option("-c,--config", config_path, "configuration file (YAML)");
  app.add_flag("--check", check_only, "validate the configuration and exit");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error");
  app.add_option("--eal", eal_extra, "extra DPDK EAL argument (repeatable)");
  app.add_option("--uapi-socket-dir", uapi_socket_dir,
                 "directory of the WireGuard UAPI sockets (overrides uapi.socket_dir)");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::from_str(log_level));

  auto cfg = causeway::fwd::load_config(config_path);
  if (!cfg) {
    std::fprintf(stderr, "causeway-fwd: %s\n", cfg.error().message.c_str());
    return 2;
  }
  if (!uapi_socket_dir.empty()) {
    if (auto bad = causeway::fwd::check_uapi_socket_dir(uapi_socket_dir); !bad.empty()) {
      std::fprintf(stderr, "causeway-fwd: --uapi-socket-dir: %s\n", bad.c_str());
      return 2;
    }
    cfg.value().uapi.socket_dir = uapi_socket_dir;
  }
  if (check_only) {
    std::printf("%s: configuration is valid\n", config_path.c_str());
    return 0;
  }
  auto fwd = causeway::fwd::Forwarder::create(cfg.value(), eal_extra);
  if (!fwd) {
    std::fprintf(stderr, "causeway-fwd: %s\n", fwd.error().message.c_str());
    return 1;
  }
  return fwd.value()->run();
}
