// SPDX-License-Identifier: Apache-2.0
// routed's control socket end to end: RoutedControlServer on a real UNIX socket, and
// causewayctl's `sla`, `paths` and `routed status` (table and --json) against it.
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <filesystem>
#include <sstream>
#include <thread>

#include "ctl/cli.h"
#include "routed/control_server.h"

namespace causeway::rt {
namespace {

struct Run {
  int code;
  std::string out, err;
};

Run ctl(std::vector<std::string> args) {
  std::vector<const char*> argv{"causewayctl"};
  for (const auto& a : args) argv.push_back(a.c_str());
  std::istringstream in;
  std::ostringstream out, err;
  int code = fwd::ctl::run_ctl(static_cast<int>(argv.size()), argv.data(), in, out, err);
  return {code, out.str(), err.str()};
}

TEST_CASE("causewayctl sla / paths / routed status against routed's control socket") {
  const auto dir =
      std::filesystem::temp_directory_path() / ("cw-routed-ctl-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "routed.sock").string();
  boost::asio::io_context io;
  auto server = RoutedControlServer::start(io, path, [](const nlohmann::json& req) {
    const std::string cmd = req.value("command", "");
    if (cmd == "sla") {
      return nlohmann::json{{"sla", {{"paths", nlohmann::json::array({{{"id", 1}}})}}},
                            {"table", "PATH  POP\n1     fra1\n"}};
    }
    if (cmd == "paths") return nlohmann::json{{"overlay_routes", 0}, {"table", "PREFIX\n"}};
    if (cmd == "status") {
      return nlohmann::json{{"pop", "ams1"},
                            {"fpm", {{"connected", true}, {"routes", 12}}},
                            {"forwarder", {{"connected", true}, {"ports", 2}, {"swept", true}}},
                            {"fib", {{"installed", 11}, {"skipped", {{"not_forwarder_port", 1}}}}}};
    }
    return nlohmann::json{{"error", "unknown command '" + cmd + "'"}};
  });
  REQUIRE(server);
  std::thread t([&] { io.run(); });

  auto r = ctl({"--routed-socket", path, "sla"});
  CHECK(r.code == 0);
  CHECK(r.out == "PATH  POP\n1     fra1\n");
  r = ctl({"--routed-socket", path, "sla", "--json"});
  CHECK(r.code == 0);
  CHECK(nlohmann::json::parse(r.out)["paths"][0]["id"] == 1);
  r = ctl({"--routed-socket", path, "paths"});
  CHECK(r.out == "PREFIX\n");
  r = ctl({"--routed-socket", path, "routed", "status"});
  CHECK(r.code == 0);
  CHECK(r.out.find("pop                ams1") != std::string::npos);
  CHECK(r.out.find("routes installed   11") != std::string::npos);
  CHECK(r.out.find("skipped not_forwarder_port  1") != std::string::npos);
  r = ctl({"--routed-socket", path, "routed", "status", "--json"});
  CHECK(nlohmann::json::parse(r.out)["fib"]["installed"] == 11);

  r = ctl({"--routed-socket", (dir / "none.sock").string(), "sla"});
  CHECK(r.code == 3);
  CHECK(r.err.find("is causeway-routed running?") != std::string::npos);

  server.value()->stop();
  io.stop();
  t.join();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace causeway::rt
