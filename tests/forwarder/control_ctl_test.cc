// SPDX-License-Identifier: Apache-2.0
// causewayctl: table rendering, the command line run in-process against the fake server, and
// the built binary run as a child process.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "causeway/fwd/steering_codec.h"
#include "control_fake.h"
#include "ctl/cli.h"
#include "ctl/render.h"

namespace causeway::fwd::ctl {
namespace {

using test::ServerFixture;

struct CtlRun {
  int code;
  std::string out;
  std::string err;
};

CtlRun ctl(std::vector<std::string> args, const std::string& input = {}) {
  args.insert(args.begin(), "causewayctl");
  std::vector<const char*> argv;
  for (auto& a : args) argv.push_back(a.c_str());
  std::istringstream in(input);
  std::ostringstream out, err;
  int code = run_ctl(static_cast<int>(argv.size()), argv.data(), in, out, err);
  return {code, out.str(), err.str()};
}

TEST_CASE("stats table", "[ctl][render]") {
  const std::string expected =
      "PORT  NAME  RX-PACKETS  RX-BYTES  RX-DROPPED  TX-PACKETS  TX-BYTES  TX-DROPPED\n"
      "   0  lan0        1200     98000           3        1100     87000           0\n"
      "   1  wan0           5       640           0           7       910           1\n"
      "\n"
      "DROP-REASON  PACKETS\n"
      "no_route           3\n"
      "tx_full            1\n"
      "\n"
      "LCORE  BUSY-POLLS  IDLE-POLLS  BUSY%\n"
      "    1         250         750   25.0\n";
  CHECK(render_stats(test::fake_stats(), false) == expected);
  CHECK_THAT(render_stats(test::fake_stats(), true), Catch::Contains("blackhole          0\n"));
  CHECK_THAT(render_stats(nlohmann::json::object(), false), Catch::Contains("no drops"));
}

TEST_CASE("tables survive missing and mistyped fields", "[ctl][render]") {
  auto odd = nlohmann::json::parse(
      R"({"ports": [{"index": "x", "name": 5}, 7], "drops": [], "workers": {}})");
  CHECK_NOTHROW(render_stats(odd, true));
  CHECK_NOTHROW(render_routes(nlohmann::json::array()));
  CHECK_NOTHROW(render_ports(nlohmann::json::parse(R"({"ports": [{"addresses": null}]})")));
  CHECK(json_cell(nlohmann::json{{"a", nullptr}}, "a") == "-");
  CHECK(json_cell(nlohmann::json{{"a", {"x", "y"}}}, "a") == "x,y");
  CHECK(json_cell(nlohmann::json{{"a", 2.5}}, "a") == "2.5");
}

TEST_CASE("ports and routes tables", "[ctl][render]") {
  auto routes = nlohmann::json::parse(R"({"routes": [
    {"prefix": "10.0.0.0/8", "kind": "gateway", "via": "10.9.0.2", "port": "wan0",
     "source": "control", "table": 0},
    {"prefix": "10.1.0.0/16", "kind": "local", "source": "interface", "table": 3},
    {"prefix": "10.2.0.0/16", "kind": "path_group", "path_group": 1, "source": "config",
     "table": 0}],
    "total": 3})");
  CHECK(render_routes(routes) ==
        "PREFIX       KIND        VIA       PORT  SOURCE     TABLE\n"
        "10.0.0.0/8   gateway     10.9.0.2  wan0  control        0\n"
        "10.1.0.0/16  local       -         -     interface      3\n"
        "10.2.0.0/16  path_group  group 1   -     config         0\n");
  auto ports = render_ports(test::fake_ports());
  CHECK_THAT(ports, Catch::StartsWith("INDEX  NAME  DEVICE          MAC                "));
  CHECK_THAT(ports, Catch::Contains("cw-wan0 (8)  192.0.2.1/24,2001:db8::1/64"));
}

TEST_CASE("path groups table: one row per traffic class", "[ctl][render]") {
  auto groups = nlohmann::json::parse(R"({"path_groups": [
    {"id": 1, "members": [{"tunnel": "wg-aws", "peer": "fra1"}, {"tunnel": "wg-inet", "peer": "fra1"}],
     "active": [{"tunnel": "wg-aws", "peer": "fra1"}],
     "classes": [
       {"class": 0, "name": "default", "own": false, "active": [{"tunnel": "wg-aws", "peer": "fra1"}]},
       {"class": 1, "name": "voice", "own": true, "active": [{"tunnel": "wg-inet", "peer": "fra1"}]},
       {"class": 2, "name": "erp", "own": false, "active": [{"tunnel": "wg-aws", "peer": "fra1"}]},
       {"class": 3, "name": "bulk", "own": true, "active": []}]},
    {"id": 7, "members": [{"tunnel": "wg0", "peer": "b"}], "active": [{"tunnel": "wg0", "peer": "b"}]}],
    "traffic_classes": []})");
  CHECK(render_path_groups(groups) ==
        "GROUP  MEMBERS                    CLASS      ACTIVE\n"
        "    1  wg-aws/fra1, wg-inet/fra1  0 default  wg-aws/fra1\n"
        "                                  1 voice    wg-inet/fra1\n"
        "                                  2 erp      wg-aws/fra1 (default)\n"
        "                                  3 bulk     drop\n"
        "    7  wg0/b                      -          wg0/b\n");
  // Without traffic classes (class 0 only) the table is the plain one.
  auto plain = nlohmann::json::parse(R"({"path_groups": [
    {"id": 1, "members": [{"tunnel": "wg0", "peer": "far"}, {"tunnel": "wg1", "peer": "far"}],
     "active": [{"tunnel": "wg0", "peer": "far"}],
     "classes": [{"class": 0, "name": "default", "own": false,
                  "active": [{"tunnel": "wg0", "peer": "far"}]}, "junk"]}]})");
  CHECK(render_path_groups(plain) ==
        "GROUP  MEMBERS           ACTIVE\n"
        "    1  wg0/far, wg1/far  wg0/far\n");
  CHECK_NOTHROW(render_path_groups(
      nlohmann::json::parse(R"({"path_groups": [{"id": 2, "classes": [3, {"class": 1}]}, 7]})")));
}

TEST_CASE("traffic classes table", "[ctl][render]") {
  auto classes = nlohmann::json::parse(R"({"classes": [
    {"id": 1, "name": "voice", "dscp": [46, 34], "protocol": 17, "dst_ports": ["5060", "16384-32767"]},
    {"id": 3, "name": "bulk"}]})");
  CHECK(render_traffic_classes(classes) ==
        "CLASS  NAME   MATCH\n"
        "    1  voice  dscp=46,34 protocol=17 dst_ports=5060,16384-32767\n"
        "    3  bulk   any\n"
        "(first match wins; other packets are class 0)\n");
}

TEST_CASE("causewayctl against a fake forwarder", "[ctl]") {
  ServerFixture f;
  const std::string sock = f.socket_path.string();

  SECTION("stats") {
    auto r = ctl({"--socket", sock, "stats"});
    CHECK(r.code == kExitOk);
    CHECK(r.out == render_stats(test::fake_stats(), false));
  }
  SECTION("--json prints the server's JSON") {
    auto r = ctl({"stats", "--json", "--socket", sock});
    REQUIRE(r.code == kExitOk);
    CHECK(nlohmann::json::parse(r.out) == test::fake_stats());
    CHECK_THAT(r.out, Catch::Contains("\n  \"drops\": {"));  // pretty
  }
  SECTION("routes with filters") {
    auto r = ctl({"--socket", sock, "routes", "--family", "4", "--limit", "3"});
    CHECK(r.code == kExitOk);
    CHECK_THAT(r.out, Catch::StartsWith("PREFIX          KIND       VIA       PORT\n"
                                        "10.0.0.0/8      gateway    10.9.0.2  wan0\n"));
    CHECK_THAT(r.out, Catch::EndsWith("(3 of 5 routes shown)\n"));
    std::lock_guard lock(f.handler.mu);
    CHECK(f.handler.last_request == nlohmann::json{{"family", 4}, {"limit", 3}});
  }
  SECTION("probes: table and --json from the tunnels") {
    auto r = ctl({"--socket", sock, "probes"});
    CHECK(r.code == kExitOk);
    CHECK(r.out ==
          "TUNNEL  PEER   TARGET      INTERVAL  SENT  REPLIED  LOST  LAST RTT MS  LAST REPLY\n"
          "wg-aws  pop-b  10.255.0.2    100 ms    50       48     2       20.500   40 ms ago\n"
          "wg-gcp  pop-b  10.255.0.2       off     3        0     3            -       never\n");
    r = ctl({"--socket", sock, "probes", "--json"});
    REQUIRE(r.code == kExitOk);
    const auto view = nlohmann::json::parse(r.out);
    REQUIRE(view["probes"].size() == 2);  // the peer without a probe object is not listed
    CHECK(view["probes"][0]["tunnel"] == "wg-aws");
    CHECK(view["probes"][0]["public_key"] == "k1");
    CHECK(view["probes"][0]["lost"] == 2);
    CHECK(view["probes"][0]["last_rtt_ns"] == 20500000);
    CHECK(view["probes"][1]["no_session"] == 3);
    CHECK(view == probes_view(test::fake_tunnels()));
  }
  SECTION("probes events --cursor, probes interval") {
    auto r = ctl({"--socket", sock, "probes", "events", "--cursor", "5"});
    CHECK(r.code == kExitOk);
    CHECK(r.out ==
          "KIND   TUNNEL  PEER   SEQ        NS  RTT MS\n"
          "sent   wg-aws  pop-b    4      1000\n"
          "reply  wg-aws  pop-b    4  21001000  21.000\n"
          "cursor 7, missed 2\n");
    {
      std::lock_guard lock(f.handler.mu);
      CHECK(f.handler.last_request == nlohmann::json{{"cursor", 5}});
    }
    r = ctl({"--socket", sock, "probes", "interval", "20"});
    CHECK(r.code == kExitOk);
    CHECK(r.out == "probe interval set on 2 peers\n");
    {
      std::lock_guard lock(f.handler.mu);
      CHECK(f.handler.last_request == nlohmann::json{{"interval_ms", 20}});
    }
    r = ctl({"--socket", sock, "probes", "interval", "5"});
    CHECK(r.code == kExitFailed);
    CHECK_THAT(r.err, Catch::Contains("out of range"));
  }
  SECTION("route add resolves the port name") {
    auto r =
        ctl({"--socket", sock, "route", "add", "10.0.0.0/8", "via", "10.9.0.2", "port", "wan0"});
    CHECK(r.code == kExitOk);
    CHECK(r.err.empty());
    std::lock_guard lock(f.handler.mu);
    REQUIRE(f.handler.routes.size() == 1);
    const auto& u = f.handler.routes[0];
    CHECK(u.op == RouteOp::kAdd);
    CHECK(u.prefix.str() == "10.0.0.0/8");
    CHECK(u.kind == RouteKind::kGateway);
    CHECK(u.gateway->str() == "10.9.0.2");
    CHECK(u.port == 1);
  }
  SECTION("route add blackhole, route del") {
    CHECK(ctl({"--socket", sock, "route", "add", "2001:db8::/32", "blackhole"}).code == 0);
    CHECK(ctl({"--socket", sock, "route", "del", "2001:db8::/32", "table", "4"}).code == 0);
    std::lock_guard lock(f.handler.mu);
    REQUIRE(f.handler.routes.size() == 2);
    CHECK(f.handler.routes[0].kind == RouteKind::kBlackhole);
    CHECK(f.handler.routes[1].op == RouteOp::kDelete);
    CHECK(f.handler.routes[1].table == 4);
  }
  SECTION("path-groups set with per-class sets; traffic-classes set checked before sending") {
    CHECK(ctl({"--socket", sock, "path-groups", "set", "3", "--member", "wg-aws/fra1", "--member",
               "wg-inet/fra1", "--class", "1=wg-inet/fra1", "--class", "2=wg-aws/fra1,wg-inet/fra1",
               "--class", "5="})
              .code == kExitOk);
    {
      std::lock_guard lock(f.handler.mu);
      const auto req = ctl::parse_path_group(f.handler.last_request, 1024);
      REQUIRE(req);
      CHECK(req.value().id == 3);
      REQUIRE(req.value().classes.size() == 3);
      CHECK(req.value().classes[0].active == std::vector<PathMemberName>{{"wg-inet", "fra1"}});
      CHECK(req.value().classes[1].active.size() == 2);
      CHECK(req.value().classes[2].traffic_class == 5);
      CHECK(req.value().classes[2].active.empty());
    }
    CHECK(ctl({"--socket", sock, "path-groups", "set", "3", "--class", "16=wg0/a"}).code ==
          kExitUsage);
    CHECK(ctl({"--socket", sock, "path-groups", "set", "3", "--class", "x=wg0/a"}).code ==
          kExitUsage);
    CHECK(ctl({"--socket", sock, "path-groups", "set", "3", "--class", "1=wg0"}).code ==
          kExitUsage);
    CHECK(ctl({"--socket", sock, "traffic-classes", "set",
               R"({"classes": [{"id": 1, "dscp": [46]}]})"})
              .code == kExitOk);
    auto bad = ctl({"--socket", sock, "traffic-classes", "set", R"({"classes": [{"id": 0}]})"});
    CHECK(bad.code == kExitUsage);
    CHECK_THAT(bad.err, Catch::Contains("classes[0].id"));
    std::lock_guard lock(f.handler.mu);
    CHECK(f.handler.last_request ==
          nlohmann::json::parse(R"({"classes": [{"id": 1, "dscp": [46]}]})"));
  }
  SECTION("usage errors exit 2 before talking to the server") {
    auto r = ctl({"--socket", sock, "route", "add", "10.0.0.1/8", "via", "10.9.0.2"});
    CHECK(r.code == kExitUsage);
    CHECK_THAT(r.err, Catch::Contains("did you mean 10.0.0.0/8?"));
    CHECK(ctl({"--socket", sock, "route", "add", "10.0.0.0/8", "via", "2001:db8::1"}).code ==
          kExitUsage);
    CHECK(ctl({"--socket", sock, "route", "add", "10.0.0.0/8"}).code == kExitUsage);
    CHECK(ctl({"--socket", sock, "routes", "--family", "5"}).code == kExitUsage);
    CHECK(ctl({"--socket", sock, "frobnicate"}).code == kExitUsage);
    CHECK(ctl({"--socket", sock}).code == kExitUsage);
    // The forwarder's path groups are `path-groups`; a member is TUNNEL/PEER.
    CHECK(ctl({"--socket", sock, "path-groups", "set", "1", "--member", "wg0"}).code == kExitUsage);
    CHECK(ctl({"--socket", sock, "paths", "set", "1", "--member", "wg0/far"}).code == kExitUsage);
    std::lock_guard lock(f.handler.mu);
    CHECK(f.handler.calls == 0);
  }
  SECTION("unknown port name fails with 1") {
    auto r = ctl({"--socket", sock, "route", "add", "10.0.0.0/8", "port", "dmz9"});
    CHECK(r.code == kExitFailed);
    CHECK_THAT(r.err, Catch::Contains("no port named dmz9"));
  }
  SECTION("server errors are printed and exit 1") {
    auto r =
        ctl({"--socket", sock, "neighbor", "add", "10.9.0.3", "02:00:00:00:00:0a", "port", "lan7"});
    CHECK(r.code == kExitFailed);
    CHECK(r.err == "causewayctl: no port named lan7\n");
    auto ok = ctl({"--socket", sock, "neighbor", "del", "10.9.0.3", "port", "wan0"});
    CHECK(ok.code == kExitOk);
    std::lock_guard lock(f.handler.mu);
    CHECK(f.handler.last_request ==
          nlohmann::json{{"op", "del"}, {"port", "wan0"}, {"address", "10.9.0.3"}});
  }
  SECTION("neighbors, ports, hello") {
    auto n = ctl({"--socket", sock, "neighbors"});
    CHECK(n.code == kExitOk);
    CHECK_THAT(n.out, Catch::Contains("wan0  10.9.0.2  02:00:00:00:00:09  reachable      12"));
    CHECK(ctl({"--socket", sock, "ports"}).out == render_ports(test::fake_ports()));
    auto h = ctl({"--socket", sock, "hello"});
    CHECK_THAT(h.out, Catch::StartsWith("causeway-fwd pop-test, pid "));
  }
  SECTION("batch from stdin stops at the first failure") {
    auto r = ctl({"--socket", sock, "-"},
                 "# a comment\n\nhello\nroute add 10.1.0.0/16 via 10.9.0.2\n"
                 "route add 10.2.0.0/16 port nowhere\nhello\n");
    CHECK(r.code == kExitFailed);
    CHECK_THAT(r.err, Catch::Contains("<stdin>:5: command failed: route add 10.2.0.0/16"));
    std::lock_guard lock(f.handler.mu);
    CHECK(f.handler.routes.size() == 1);
  }
  SECTION("batch from a file, --json applies to every line") {
    auto file = f.dir.path() / "cmds";
    std::ofstream(file) << "hello\nports\n";
    auto r = ctl({"--socket", sock, "--json", "-f", file.string()});
    CHECK(r.code == kExitOk);
    CHECK_THAT(r.out, Catch::Contains("\"name\": \"pop-test\""));
    CHECK_THAT(r.out, Catch::Contains("\"mirror\": \"cw-lan0\""));
  }
}

TEST_CASE("causewayctl cannot connect: exit 3", "[ctl]") {
  test::TempDir dir;
  auto path = (dir.path() / "none.sock").string();
  auto r = ctl({"--socket", path, "stats"});
  CHECK(r.code == kExitNoConnect);
  CHECK(r.err == "causewayctl: cannot connect to " + path +
                     ": No such file or directory (is causeway-fwd running?)\n");
  // `paths` is causeway-routed's view: it asks routed's socket, not the forwarder's.
  auto paths = ctl({"--socket", path, "--routed-socket", path + ".routed", "paths"});
  CHECK(paths.code == kExitNoConnect);
  CHECK_THAT(paths.err, Catch::Contains(path + ".routed"));
}

TEST_CASE("causewayctl status: provisioning record and forwarder hello", "[ctl][status]") {
  ServerFixture f;
  const std::string sock = f.socket_path.string();
  const std::string record = (f.dir.path() / "provision.json").string();
  const std::string none = (f.dir.path() / "none.sock").string();

  SECTION("no record, forwarder up: exit 0") {
    auto r = ctl({"--socket", sock, "status", "--provision-file", record});
    CHECK(r.code == kExitOk);
    CHECK(r.out == "provisioning  none (no " + record +
                       ")\nforwarder     up: causeway-fwd pop-test, pid " +
                       std::to_string(::getpid()) + ", protocol version 1\n");
  }
  SECTION("applied, forwarder down: exit 3") {
    std::ofstream(record) << R"({"state": "applied", "instance_id": "iid-1",)"
                          << R"( "time": "2026-01-01T00:00:00Z", "message": "applied fwd.yaml"})";
    auto r = ctl({"--socket", none, "status", "--provision-file", record});
    CHECK(r.code == kExitNoConnect);
    CHECK_THAT(r.out, Catch::StartsWith("provisioning  applied (instance iid-1, "
                                        "2026-01-01T00:00:00Z)\n              applied fwd.yaml\n"
                                        "forwarder     not answering: cannot connect to "));
  }
  SECTION("failed provisioning: exit 1 even with the forwarder up; --json has both") {
    std::ofstream(record) << R"({"state": "failed", "instance_id": "iid-2", "time": "t",)"
                          << R"( "message": "user-data: missing key 'causeway'"})";
    auto r = ctl({"--socket", sock, "status", "--provision-file", record});
    CHECK(r.code == kExitFailed);
    CHECK_THAT(r.out, Catch::Contains("failed (instance iid-2, t)\n"
                                      "              user-data: missing key 'causeway'\n"));
    auto j = ctl({"--socket", sock, "--json", "status", "--provision-file", record});
    CHECK(j.code == kExitFailed);
    auto body = nlohmann::json::parse(j.out);
    CHECK(body["provisioning"]["state"] == "failed");
    CHECK(body["forwarder"]["up"] == true);
    CHECK(body["forwarder"]["hello"]["name"] == "pop-test");
  }
  SECTION("an unreadable record is a failure, not a crash") {
    std::ofstream(record) << "{not json";
    auto r = ctl({"--socket", sock, "status", "--provision-file", record});
    CHECK(r.code == kExitFailed);
    CHECK_THAT(r.out, Catch::Contains("unreadable"));
  }
}

// Runs the built binary; returns exit code and stdout.
CtlRun exec_ctl(const std::vector<std::string>& args) {
  int out_pipe[2];
  REQUIRE(::pipe(out_pipe) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::dup2(out_pipe[1], STDOUT_FILENO);
    if (int null = ::open("/dev/null", O_WRONLY); null >= 0) ::dup2(null, STDERR_FILENO);
    ::close(out_pipe[0]);
    ::close(out_pipe[1]);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(CAUSEWAY_CTL_BINARY));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(CAUSEWAY_CTL_BINARY, argv.data());
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out_pipe[0], buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(out_pipe[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out, {}};
}

TEST_CASE("the causewayctl binary", "[ctl]") {
  ServerFixture f;
  auto r = exec_ctl({"--socket", f.socket_path.string(), "stats"});
  CHECK(r.code == 0);
  CHECK(r.out == render_stats(test::fake_stats(), false));
  CHECK(exec_ctl({"--socket", (f.dir.path() / "nope").string(), "hello"}).code == 3);
  CHECK(exec_ctl({"--socket", f.socket_path.string(), "--bogus"}).code == 2);
}

}  // namespace
}  // namespace causeway::fwd::ctl
