// SPDX-License-Identifier: Apache-2.0
// routing/frr applying: FrrApplier against a scripted command runner (the exact FRR commands,
// their order, the file on disk after success and after each kind of failure), the parser of
// frr-reload.py's difference, and run_command against real processes.
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "frr/frr_config.h"

namespace causeway::rt::frr {
namespace {

namespace fs = std::filesystem;
using Argv = std::vector<std::string>;

// A frr-reload.py --test report as FRR 8.4 prints it.
const char kDiff[] =
    "\nLines To Delete\n===============\nno hostname vm\nrouter bgp 65001\n no neighbor 192.0.2.1 "
    "bfd\n"
    "\nLines To Add\n============\nroute-map CW-CARRIER-OUT permit 10\n set community 65001:200 "
    "additive\n";
const char kNoDiff[] = "\nLines To Delete\n===============\nno hostname vm\n";

struct TempDir {
  TempDir() {
    char pattern[] = "/tmp/cw-frr-apply-XXXXXX";
    REQUIRE(::mkdtemp(pattern) != nullptr);
    path = pattern;
  }
  ~TempDir() { fs::remove_all(path); }
  std::string path;
};

std::string read(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Answers each command from a script keyed by its mode; records every call.
struct FakeFrr {
  std::vector<Argv> calls;
  std::vector<CommandResult> tests = {{0, kDiff, ""}, {0, kNoDiff, ""}};  // --test, in order
  CommandResult check{0, "", ""};
  CommandResult reload{0, "", ""};
  CommandResult restore{0, "", ""};
  CommandResult vtysh_file{0, "", ""};
  std::string config_path;
  std::size_t test_calls = 0;

  CommandRunner runner() {
    return [this](const Argv& argv) {
      calls.push_back(argv);
      if (argv[0] == "vtysh")
        return std::find(argv.begin(), argv.end(), "-C") != argv.end() ? check : vtysh_file;
      if (argv[1] == "--test") return tests.at(std::min(test_calls++, tests.size() - 1));
      if (argv[1] == "--reload") {
        // Like frr-reload.py: `vtysh write` puts the running configuration in the live file.
        if (!config_path.empty()) std::ofstream(config_path) << "written by vtysh\n";
        return argv.back() == config_path + ".prev" ? restore : reload;
      }
      FAIL("unexpected command " << argv[0]);
      return CommandResult{};
    };
  }
};

ApplyOptions options(const TempDir& dir) {
  ApplyOptions o;
  o.config_path = dir.path + "/frr.conf";
  o.pathspace = "pop1";
  o.vtysh = "vtysh";
  o.frr_reload = "frr-reload.py";
  return o;
}

TEST_CASE("apply: check, difference, reload, verify, then the file is replaced") {
  TempDir dir;
  FakeFrr frr;
  const auto o = options(dir);
  frr.config_path = o.config_path;
  std::ofstream(o.config_path) << "old\n";
  FrrApplier applier(o, frr.runner());
  auto report = applier.apply("new config\n");
  INFO((report ? "" : report.error().message));
  REQUIRE(report);
  CHECK(report.value().deleted ==
        std::vector<std::string>{"router bgp 65001", " no neighbor 192.0.2.1 bfd"});
  CHECK(report.value().added == std::vector<std::string>{"route-map CW-CARRIER-OUT permit 10",
                                                         " set community 65001:200 additive"});
  const std::string candidate = o.config_path + ".new";
  CHECK(frr.calls == std::vector<Argv>{
                         {"vtysh", "-N", "pop1", "-C", "-f", candidate},
                         {"frr-reload.py", "--test", "-N", "pop1", "--stdout", candidate},
                         {"frr-reload.py", "--reload", "-N", "pop1", "--stdout", candidate},
                         {"frr-reload.py", "--test", "-N", "pop1", "--stdout", candidate},
                     });
  CHECK(read(o.config_path) == "new config\n");
  CHECK_FALSE(fs::exists(candidate));
}

TEST_CASE("apply: nothing to change means no reload") {
  TempDir dir;
  FakeFrr frr;
  frr.tests = {{0, kNoDiff, ""}};
  const auto o = options(dir);
  FrrApplier applier(o, frr.runner());
  auto report = applier.apply("same\n");
  REQUIRE(report);
  CHECK_FALSE(report.value().changed());
  CHECK(frr.calls.size() == 2);  // check + difference
  CHECK(read(o.config_path) == "same\n");
}

TEST_CASE("apply: a configuration FRR rejects changes nothing") {
  TempDir dir;
  FakeFrr frr;
  frr.check = {2, "line 7: % Unknown command[25]:  neighbor 1.2.3.4 remote-az 5\n", ""};
  const auto o = options(dir);
  std::ofstream(o.config_path) << "old\n";
  FrrApplier applier(o, frr.runner());
  auto report = applier.apply("bad\n");
  REQUIRE_FALSE(report);
  CHECK(report.error().message ==
        "FRR rejected the configuration (vtysh -C, exit 2: line 7: % Unknown command[25]:  "
        "neighbor 1.2.3.4 remote-az 5); nothing was applied");
  CHECK(frr.calls.size() == 1);
  CHECK(read(o.config_path) == "old\n");
  CHECK_FALSE(fs::exists(o.config_path + ".new"));
}

TEST_CASE("apply: a failed reload restores the previous configuration") {
  TempDir dir;
  FakeFrr frr;
  const auto o = options(dir);
  frr.config_path = o.config_path;
  frr.reload = {
      1, "",
      "2026-11-23 INFO: Executed \"no hostname vm\"\n% Local-AS allowed only for EBGP peers\n"
      "line 2: Failure to communicate[13] to bgpd, line:  neighbor 10.255.0.2 local-as 65001\n"};
  std::ofstream(o.config_path) << "old\n";
  FrrApplier applier(o, frr.runner());
  auto report = applier.apply("new\n");
  REQUIRE_FALSE(report);
  const std::string& message = report.error().message;
  INFO(message);
  CHECK(
      message.rfind(
          "frr-reload.py --reload failed (exit 1: % Local-AS allowed only for EBGP peers\nline 2:",
          0) == 0);
  CHECK(message.find("Executed") == std::string::npos);  // frr-reload's own log is left out
  CHECK(message.find("; the running configuration was restored from the previous " +
                     o.config_path) != std::string::npos);
  REQUIRE(frr.calls.size() == 4);
  CHECK(frr.calls[3] ==
        Argv{"frr-reload.py", "--reload", "-N", "pop1", "--stdout", o.config_path + ".prev"});
  CHECK_FALSE(fs::exists(o.config_path + ".prev"));
  CHECK(read(o.config_path) == "old\n");
  CHECK_FALSE(fs::exists(o.config_path + ".new"));
}

TEST_CASE("apply: a difference left after the reload is an error, and restores") {
  TempDir dir;
  FakeFrr frr;
  const auto o = options(dir);
  frr.config_path = o.config_path;
  frr.tests = {{0, kDiff, ""}, {0, kDiff, ""}};
  std::ofstream(o.config_path) << "old\n";
  FrrApplier applier(o, frr.runner());
  auto report = applier.apply("new\n");
  REQUIRE_FALSE(report);
  INFO(report.error().message);
  CHECK(report.error().message.rfind(
            "FRR did not take the whole configuration; still different:\n"
            "  delete: router bgp 65001\n  delete:  no neighbor 192.0.2.1 bfd\n",
            0) == 0);
  CHECK(frr.calls.back() ==
        Argv{"frr-reload.py", "--reload", "-N", "pop1", "--stdout", o.config_path + ".prev"});
  CHECK(read(o.config_path) == "old\n");
}

TEST_CASE("apply: without a previous file there is nothing to restore, and it says so") {
  TempDir dir;
  FakeFrr frr;
  frr.reload = {1, "", "% bad\n"};
  const auto o = options(dir);
  FrrApplier applier(o, frr.runner());
  auto report = applier.apply("new\n");
  REQUIRE_FALSE(report);
  CHECK(report.error().message == "frr-reload.py --reload failed (exit 1: % bad); no previous " +
                                      o.config_path + " to restore");
  CHECK_FALSE(fs::exists(o.config_path));
}

TEST_CASE("apply_fragment checks, then applies with vtysh -f") {
  TempDir dir;
  FakeFrr frr;
  auto o = options(dir);
  o.pathspace.clear();
  FrrApplier applier(o, frr.runner());
  REQUIRE(applier.apply_fragment(
      "route-map CW-CARRIER-OUT permit 10\n set community 1:1 additive\nexit\n"));
  const std::string file = o.config_path + ".fragment";
  CHECK(frr.calls == std::vector<Argv>{{"vtysh", "-C", "-f", file}, {"vtysh", "-f", file}});
  CHECK_FALSE(fs::exists(file));
  frr.vtysh_file = {2, "line 1: % Unknown command\n", ""};
  auto failed = applier.apply_fragment("x\n");
  REQUIRE_FALSE(failed);
  CHECK(failed.error().message == "vtysh -f failed (exit 2: line 1: % Unknown command)");
}

TEST_CASE("parse_reload_diff reads both sections and drops hostname lines") {
  CHECK_FALSE(parse_reload_diff("").changed());
  CHECK_FALSE(parse_reload_diff(kNoDiff).changed());
  const ApplyReport r = parse_reload_diff(
      "\nLines To Delete\n===============\nno fpm address 127.0.0.1\n\nLines To Add\n============\n"
      "hostname pop-a\nfpm address 127.0.0.1 port 2621\n");
  CHECK(r.deleted == std::vector<std::string>{"no fpm address 127.0.0.1"});
  CHECK(r.added == std::vector<std::string>{"fpm address 127.0.0.1 port 2621"});
}

TEST_CASE("run_command collects output, exit status, and stops at its deadline") {
  const CommandResult r = run_command({"/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
  CHECK(r.exit_code == 3);
  CHECK(r.out == "out\n");
  CHECK(r.err == "err\n");
  const CommandResult missing = run_command({"/nonexistent/program"});
  CHECK(missing.exit_code == 127);
  CHECK(missing.err.find("cannot run /nonexistent/program") != std::string::npos);
  const auto start = std::chrono::steady_clock::now();
  const CommandResult slow = run_command({"/bin/sleep", "30"}, std::chrono::milliseconds(200));
  CHECK(slow.exit_code == 128 + 9);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
}

}  // namespace
}  // namespace causeway::rt::frr
