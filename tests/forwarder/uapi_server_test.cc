// SPDX-License-Identifier: Apache-2.0
// UAPI socket server in a temporary directory (no root): socket file life cycle and mode,
// stale and foreign sockets, requests over a real connection, read timeout, clients that leave
// mid-request, connection cap, oversize requests.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <cerrno>
#include <fstream>

#include "uapi_fake_backend.h"
#include "uapi_test_util.h"

using namespace causeway;
using namespace causeway::fwd::uapi;
using namespace causeway::fwd::uapi::test;
using namespace std::chrono_literals;

namespace {

const std::string kPeer = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";

UapiServerOptions options_in(const TempDir& dir, std::string name = "cw0") {
  UapiServerOptions o;
  o.interface_name = std::move(name);
  o.socket_dir = dir.path() / "wireguard";
  return o;
}

// A socket file with nobody listening, as a crashed server leaves it.
void make_stale_socket(const std::filesystem::path& path) {
  std::filesystem::create_directories(path.parent_path());
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  ::close(fd);
}

}  // namespace

TEST_CASE("socket: created 0600 in its directory, serves get and set, removed on stop",
          "[uapi][server]") {
  TempDir dir;
  FakeBackend backend;
  auto options = options_in(dir);
  const auto path = options.socket_dir / "cw0.sock";
  ServerThread st(backend, options);
  REQUIRE_FALSE(st.error());
  REQUIRE(st.server()->path() == path);
  struct stat s {};
  REQUIRE(::lstat(path.c_str(), &s) == 0);
  REQUIRE(S_ISSOCK(s.st_mode));
  REQUIRE((s.st_mode & 0777) == 0600);

  Client c(path);
  REQUIRE(c.connected());
  REQUIRE(c.call("set=1\nlisten_port=51820\npublic_key=" + kPeer + "\nallowed_ip=10.0.0.0/8\n\n") ==
          "errno=0\n\n");
  REQUIRE(c.call("get=1\n\n") == format_get_reply(backend.snapshot()));
  REQUIRE(backend.snapshot().listen_port == 51820);
  // Several requests in one write on the same connection.
  const std::string want = format_get_reply(backend.snapshot()) + "errno=-22\n\n";
  REQUIRE(c.send("get=1\n\nset=1\nbogus=1\n\n"));
  std::string got;
  while (got.size() < want.size()) {
    auto part = c.read_reply();
    if (part.empty()) break;
    got += part;
  }
  REQUIRE(got == want);
  REQUIRE(st.server()->counters().rejected_malformed == 1);

  st.stop();
  REQUIRE_FALSE(std::filesystem::exists(std::filesystem::symlink_status(path)));
}

TEST_CASE("socket: a stale socket file is replaced", "[uapi][server]") {
  TempDir dir;
  FakeBackend backend;
  auto options = options_in(dir);
  make_stale_socket(options.socket_dir / "cw0.sock");
  ServerThread st(backend, options);
  REQUIRE_FALSE(st.error());
  Client c(options.socket_dir / "cw0.sock");
  REQUIRE(c.call("get=1\n\n") == "errno=0\n\n");
}

TEST_CASE("socket: refuses a live socket and a path that is not a socket", "[uapi][server]") {
  TempDir dir;
  FakeBackend backend;
  auto options = options_in(dir);
  {
    ServerThread first(backend, options);
    REQUIRE_FALSE(first.error());
    ServerThread second(backend, options);
    REQUIRE(second.error());
    REQUIRE(second.error()->code == EADDRINUSE);
    // The first server is untouched and still answers.
    Client c(options.socket_dir / "cw0.sock");
    REQUIRE(c.call("get=1\n\n") == "errno=0\n\n");
  }
  const auto file = options.socket_dir / "cw1.sock";
  std::ofstream(file) << "not a socket";
  auto o1 = options_in(dir, "cw1");
  ServerThread third(backend, o1);
  REQUIRE(third.error());
  REQUIRE(third.error()->code == EEXIST);
  REQUIRE(std::filesystem::is_regular_file(file));
}

TEST_CASE("socket: stop leaves alone a socket file that is no longer ours", "[uapi][server]") {
  TempDir dir;
  FakeBackend backend;
  auto options = options_in(dir);
  const auto path = options.socket_dir / "cw0.sock";
  ServerThread st(backend, options);
  REQUIRE_FALSE(st.error());
  std::filesystem::remove(path);
  make_stale_socket(path);  // someone else's now
  st.stop();
  REQUIRE(std::filesystem::exists(std::filesystem::symlink_status(path)));
}

TEST_CASE("socket: interface names and limits are checked", "[uapi][server]") {
  TempDir dir;
  FakeBackend backend;
  for (std::string bad : {"", "a234567890123456", ".", "..", "a/b", "a:b", "a b", "a\tb"}) {
    INFO(bad);
    ServerThread st(backend, options_in(dir, bad));
    REQUIRE(st.error());
    REQUIRE(st.error()->code == EINVAL);
  }
  REQUIRE(check_interface_name("a23456789012345"));  // 15 bytes
  auto long_dir = options_in(dir);
  long_dir.socket_dir = dir.path() / std::string(120, 'd');
  ServerThread st(backend, long_dir);
  REQUIRE(st.error());
  REQUIRE(st.error()->code == ENAMETOOLONG);
  auto zero = options_in(dir);
  zero.read_timeout = 0ms;
  ServerThread z(backend, zero);
  REQUIRE(z.error());
  REQUIRE(z.error()->code == EINVAL);
}

TEST_CASE("connection: a request that does not complete in time is dropped", "[uapi][server]") {
  TempDir dir;
  FakeBackend backend;
  auto options = options_in(dir);
  options.read_timeout = 200ms;
  ServerThread st(backend, options);
  REQUIRE_FALSE(st.error());
  const auto path = options.socket_dir / "cw0.sock";

  Client slow(path);
  REQUIRE(slow.send("set=1\nlisten_port=5\n"));  // no empty line, ever
  REQUIRE(slow.closed_by_server(10s));
  Client idle(path);  // sends nothing at all
  REQUIRE(idle.closed_by_server(10s));
  REQUIRE(wait_until([&] { return st.server()->counters().timeouts == 2; }));
  REQUIRE(backend.set_calls() == 0);

  // A connection that keeps answering in time is not cut: each request gets a new deadline.
  Client busy(path);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(busy.call("get=1\n\n") == "errno=0\n\n");
  }
  REQUIRE(st.server()->counters().timeouts == 2);
}

TEST_CASE("connection: a client leaving mid-request changes nothing", "[uapi][server]") {
  TempDir dir;
  FakeBackend backend;
  auto options = options_in(dir);
  ServerThread st(backend, options);
  REQUIRE_FALSE(st.error());
  {
    Client c(options.socket_dir / "cw0.sock");
    REQUIRE(c.send("set=1\nlisten_port=5\npublic_key=" + kPeer + "\nallowed_ip=10.0.0.0/8\n"));
  }
  REQUIRE(wait_until([&] { return st.server()->counters().truncated == 1; }));
  REQUIRE(backend.set_calls() == 0);
  REQUIRE(backend.snapshot().peers.empty());
  REQUIRE(backend.snapshot().listen_port == 0);
}

TEST_CASE("connection: over max_connections is closed at once", "[uapi][server]") {
  TempDir dir;
  FakeBackend backend;
  auto options = options_in(dir);
  options.max_connections = 2;
  ServerThread st(backend, options);
  REQUIRE_FALSE(st.error());
  const auto path = options.socket_dir / "cw0.sock";
  Client a(path);
  Client b(path);
  REQUIRE(wait_until([&] { return st.server()->counters().connections_active == 2; }));
  Client c(path);
  REQUIRE(c.closed_by_server(10s));
  REQUIRE(st.server()->counters().connections_refused == 1);
  REQUIRE(a.call("get=1\n\n") == "errno=0\n\n");
}

TEST_CASE("connection: oversize and unknown operations are answered, then closed",
          "[uapi][server]") {
  TempDir dir;
  FakeBackend backend;
  auto options = options_in(dir);
  options.limits.max_request_bytes = 1024;
  ServerThread st(backend, options);
  REQUIRE_FALSE(st.error());
  const auto path = options.socket_dir / "cw0.sock";

  Client big(path);
  std::string flood = "set=1\n";
  while (flood.size() < 64 * 1024) flood += "listen_port=1\n";
  big.send(flood);  // the server may close before it has read all of it
  REQUIRE(big.read_reply() == "errno=-90\n\n");
  REQUIRE(big.closed_by_server());

  Client odd(path);
  REQUIRE(odd.call("delete=1\n\n") == "errno=-71\n\n");
  REQUIRE(odd.closed_by_server());
  REQUIRE(st.server()->counters().rejected_oversize == 1);
  REQUIRE(st.server()->counters().rejected_operation == 1);
  REQUIRE(backend.set_calls() == 0);
}

TEST_CASE("stop closes open connections", "[uapi][server]") {
  TempDir dir;
  FakeBackend backend;
  auto options = options_in(dir);
  ServerThread st(backend, options);
  REQUIRE_FALSE(st.error());
  Client c(options.socket_dir / "cw0.sock");
  REQUIRE(c.call("get=1\n\n") == "errno=0\n\n");
  st.stop();
  REQUIRE(c.closed_by_server(10s));
}
