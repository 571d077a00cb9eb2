// SPDX-License-Identifier: Apache-2.0
// Control socket: codec golden bytes and validation tables; server + client over a real UNIX
// socket with a fake handler (tests/forwarder/control_fake.h).
#include <sys/stat.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <fstream>
#include <thread>

#include <boost/asio/local/stream_protocol.hpp>

#include "control/client.h"
#include "control/server.h"
#include "control_fake.h"

namespace causeway::fwd::ctl {
namespace {

using test::RawSocket;
using test::ServerFixture;
using test::wait_until;

IpPrefix prefix(const char* text) {
  return IpPrefix::parse(text).value();
}
IpAddress addr(const char* text) {
  return IpAddress::parse(text).value();
}

RouteUpdate gateway_route(const char* p, const char* via, std::uint16_t port = 1) {
  RouteUpdate u;
  u.prefix = prefix(p);
  u.kind = RouteKind::kGateway;
  u.gateway = addr(via);
  u.port = port;
  return u;
}

std::vector<std::uint8_t> frame(MsgType type, std::uint32_t seq,
                                std::span<const std::uint8_t> payload = {}) {
  return encode_frame(type, seq, payload).value();
}

// ---- Codec ----

TEST_CASE("header encodes to the documented big-endian bytes", "[control][codec]") {
  Header h;
  h.type = MsgType::kRouteBatch;
  h.seq = 0x01020304;
  h.length = 0x58;
  const HeaderBytes expected{0x43, 0x57, 0x46, 0x59, 0x00, 0x01, 0x00, 0x02,
                             0x01, 0x02, 0x03, 0x04, 0x00, 0x00, 0x00, 0x58};
  CHECK(encode_header(h) == expected);
  Header back = decode_header(expected);
  CHECK(back.magic == kMagic);
  CHECK(back.version == kVersion);
  CHECK(back.type == MsgType::kRouteBatch);
  CHECK(back.seq == 0x01020304u);
  CHECK(back.length == 0x58u);
  CHECK(check_header(back) == HeaderProblem::kNone);
}

TEST_CASE("header checks name bad magic, version and length", "[control][codec]") {
  Header h;
  h.magic = 0x43574658;
  CHECK(check_header(h) == HeaderProblem::kBadMagic);
  h = Header{};
  h.version = 2;
  CHECK(check_header(h) == HeaderProblem::kBadVersion);
  h = Header{};
  h.length = kMaxPayload;
  CHECK(check_header(h) == HeaderProblem::kNone);
  h.length = kMaxPayload + 1;
  CHECK(check_header(h) == HeaderProblem::kTooLarge);
}

TEST_CASE("route record golden bytes", "[control][codec]") {
  RouteUpdate u = gateway_route("10.1.0.0/16", "10.9.0.2", 3);
  u.table = 7;
  auto bytes = encode_route_batch(std::span(&u, 1));
  const std::vector<std::uint8_t> expected{
      0x00, 0x00, 0x00, 0x01,                          // count
      0x01, 0x04, 0x10, 0x00,                          // add, IPv4, /16, gateway
      0x00, 0x03, 0x00, 0x00,                          // port 3, reserved
      0x00, 0x00, 0x00, 0x07,                          // table 7
      0x0a, 0x01, 0x00, 0x00, 0, 0, 0, 0, 0, 0, 0, 0,  // prefix
      0,    0,    0,    0,                             //
      0x0a, 0x09, 0x00, 0x02, 0, 0, 0, 0, 0, 0, 0, 0,  // gateway
      0,    0,    0,    0};
  REQUIRE(bytes.size() == 4 + 44);
  CHECK(bytes == expected);
}

TEST_CASE("route batches round-trip", "[control][codec]") {
  std::vector<RouteUpdate> in;
  in.push_back(gateway_route("0.0.0.0/0", "192.0.2.254"));
  in.push_back(gateway_route("2001:db8::/32", "fe80::1", 2));
  RouteUpdate connected;
  connected.prefix = prefix("192.0.2.0/24");
  connected.kind = RouteKind::kConnected;
  connected.port = 0;
  in.push_back(connected);
  RouteUpdate local;
  local.prefix = prefix("192.0.2.1/32");
  local.kind = RouteKind::kLocal;
  local.table = 42;
  in.push_back(local);
  RouteUpdate hole;
  hole.prefix = prefix("::/0");
  hole.kind = RouteKind::kBlackhole;
  in.push_back(hole);
  RouteUpdate unreach;
  unreach.prefix = prefix("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff/128");
  unreach.kind = RouteKind::kUnreachable;
  unreach.table = 0xffffffff;
  in.push_back(unreach);
  RouteUpdate del;
  del.op = RouteOp::kDelete;
  del.prefix = prefix("10.0.0.0/8");
  del.table = 3;
  in.push_back(del);

  auto bytes = encode_route_batch(in);
  auto out = decode_route_batch(bytes);
  REQUIRE(out);
  CHECK(out.value() == in);

  auto empty = decode_route_batch(encode_route_batch({}));
  REQUIRE(empty);
  CHECK(empty.value().empty());
}

// Offsets inside one RouteRecord.
constexpr std::size_t kOp = 0, kFamily = 1, kLen = 2, kKind = 3, kReserved = 6, kPrefix = 12,
                      kGateway = 28;

struct Malformed {
  const char* name;
  std::size_t record;  // which record of three is broken
  std::size_t offset;  // byte within the record
  std::uint8_t value;
  const char* message;
};

TEST_CASE("malformed route batches are rejected whole, naming the record", "[control][codec]") {
  // Three good records: IPv4 gateway, IPv6 gateway, IPv4 blackhole.
  std::vector<RouteUpdate> good{gateway_route("10.1.0.0/16", "10.9.0.2"),
                                gateway_route("2001:db8:1::/48", "2001:db8::2")};
  RouteUpdate hole;
  hole.prefix = prefix("203.0.113.0/24");
  hole.kind = RouteKind::kBlackhole;
  good.push_back(hole);
  const auto base = encode_route_batch(good);
  REQUIRE(decode_route_batch(base));

  const Malformed table[] = {
      {"op zero", 0, kOp, 0, "record 0: unknown op 0"},
      {"op three", 2, kOp, 3, "record 2: unknown op 3"},
      {"family 5", 1, kFamily, 5, "record 1: unknown address family 5"},
      {"IPv4 /33", 0, kLen, 33, "record 0: prefix length 33 out of range for IPv4"},
      {"IPv6 /129", 1, kLen, 129, "record 1: prefix length 129 out of range for IPv6"},
      {"IPv4 host bits", 0, kPrefix + 3, 1, "record 0: prefix 10.1.0.1/16 has host bits set"},
      {"IPv6 host bits", 1, kPrefix + 15, 1, "record 1: prefix 2001:db8:1::1/48 has host bits"},
      {"IPv4 prefix tail", 2, kPrefix + 8, 1, "record 2: IPv4 prefix has non-zero bytes"},
      {"unknown kind", 1, kKind, 9, "record 1: unknown route kind 9"},
      {"gateway kind without gateway", 2, kKind, 0,
       "record 2: gateway route 203.0.113.0/24 has no gateway"},
      {"blackhole with gateway", 2, kGateway, 1,
       "record 2: blackhole route 203.0.113.0/24 must not have a gateway"},
      {"connected with gateway", 0, kKind, 1, "record 0: connected route 10.1.0.0/16 must not"},
      {"IPv4 gateway tail", 0, kGateway + 4, 1,
       "record 0: gateway of an IPv4 route is not an IPv4 address"},
      {"reserved", 1, kReserved, 1, "record 1: reserved bytes not zero"},
  };
  for (const auto& m : table) {
    SECTION(m.name) {
      auto bytes = base;
      bytes[kRouteBatchPrefixSize + m.record * kRouteRecordSize + m.offset] = m.value;
      auto r = decode_route_batch(bytes);
      REQUIRE_FALSE(r);
      CHECK(r.error().code == EINVAL);
      CHECK_THAT(r.error().message, Catch::Contains(m.message));
    }
  }
  SECTION("count larger than the records") {
    auto bytes = base;
    bytes[3] = 4;
    auto r = decode_route_batch(bytes);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("announces 4 records"));
  }
  SECTION("trailing bytes") {
    auto bytes = base;
    bytes.push_back(0);
    CHECK_FALSE(decode_route_batch(bytes));
  }
  SECTION("shorter than the count") {
    std::vector<std::uint8_t> bytes{0, 0, 1};
    auto r = decode_route_batch(bytes);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("shorter than its record count"));
  }
  SECTION("a huge count does not allocate or overflow") {
    std::vector<std::uint8_t> bytes{0xff, 0xff, 0xff, 0xff};
    CHECK_FALSE(decode_route_batch(bytes));
  }
  SECTION("kind and gateway are ignored on delete") {
    auto bytes = base;
    bytes[kRouteBatchPrefixSize + kOp] = static_cast<std::uint8_t>(RouteOp::kDelete);
    bytes[kRouteBatchPrefixSize + kKind] = 200;
    auto r = decode_route_batch(bytes);
    REQUIRE(r);
    CHECK(r.value()[0].op == RouteOp::kDelete);
    CHECK_FALSE(r.value()[0].gateway);
  }
}

TEST_CASE("replies encode status and JSON", "[control][codec]") {
  auto bytes = encode_reply(Reply::error(ENOENT, "no such route"));
  REQUIRE(bytes.size() > 4);
  CHECK(bytes[0] == 0);
  CHECK(bytes[3] == ENOENT);
  auto back = decode_reply(bytes);
  REQUIRE(back);
  CHECK(back.value().status == ENOENT);
  CHECK(back.value().error_message() == "no such route");

  auto ok = decode_reply(encode_reply(Reply::ok({{"added", 3}})));
  REQUIRE(ok);
  CHECK(ok.value().is_ok());
  CHECK(ok.value().body["added"] == 3);

  std::vector<std::uint8_t> status_only{0, 0, 0, 0};
  auto empty = decode_reply(status_only);
  REQUIRE(empty);
  CHECK(empty.value().body.is_object());

  std::vector<std::uint8_t> short_reply{0, 0};
  CHECK_FALSE(decode_reply(short_reply));
  std::vector<std::uint8_t> bad_json{0, 0, 0, 0, '{', 'x'};
  auto bad = decode_reply(bad_json);
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == EPROTO);

  Reply invalid_utf8 = Reply::ok({{"name", std::string("\xff\xfe")}});
  CHECK_FALSE(encode_reply(invalid_utf8).empty());  // replaced, not thrown
}

TEST_CASE("request JSON must be an object", "[control][codec]") {
  std::string text = R"({"limit": 3})";
  std::vector<std::uint8_t> good(text.begin(), text.end());
  REQUIRE(parse_request_json(good));
  CHECK(parse_request_json({}).value().is_object());
  text = R"({"limit": )";
  auto bad = parse_request_json(std::vector<std::uint8_t>(text.begin(), text.end()));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == EINVAL);
  CHECK_THAT(bad.error().message, Catch::StartsWith("malformed JSON in request"));
  text = "[1, 2]";
  auto array = parse_request_json(std::vector<std::uint8_t>(text.begin(), text.end()));
  REQUIRE_FALSE(array);
  CHECK_THAT(array.error().message, Catch::Contains("expected a JSON object"));
}

// ---- Server and client ----

TEST_CASE("server creates its directory and a 0660 socket; client says hello",
          "[control][server]") {
  ServerFixture f;
  struct stat st {};
  REQUIRE(::lstat(f.socket_path.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 0777) == 0660);

  auto client = ControlClient::connect(f.socket_path.string());
  REQUIRE(client);
  auto hello = client.value().hello("test");
  REQUIRE(hello);
  CHECK(hello.value().version == kVersion);
  CHECK(hello.value().name == "pop-test");
  CHECK(hello.value().pid == ::getpid());
  CHECK(f.server->counters().requests.load() == 1);
}

TEST_CASE("a 100k-route batch is split below the limit and delivered in order",
          "[control][server]") {
  ServerFixture f;
  std::vector<RouteUpdate> routes;
  routes.reserve(100000);
  for (std::uint32_t i = 0; i < 100000; ++i) {
    RouteUpdate u;
    u.prefix.addr = IpAddress::v4(0x0a000000u | (i << 8));
    u.prefix.len = 24;
    u.kind = RouteKind::kGateway;
    u.gateway = IpAddress::v4(0xc0000201u);
    u.port = static_cast<std::uint16_t>(i % 4);
    u.op = i % 10 == 9 ? RouteOp::kDelete : RouteOp::kAdd;
    if (u.op == RouteOp::kDelete) u.gateway.reset();
    routes.push_back(u);
  }
  SECTION("default batch size") {
    auto client = ControlClient::connect(f.socket_path.string());
    REQUIRE(client);
    auto sent = client.value().send_routes(routes);
    REQUIRE(sent);
    CHECK(sent.value().added == 90000);
    CHECK(sent.value().deleted == 10000);
    CHECK(sent.value().batches == 7);  // 16384 records per batch
    std::lock_guard lock(f.handler.mu);
    CHECK(f.handler.batch_sizes.front() == 16384);
    CHECK(f.handler.routes == routes);
  }
  SECTION("one 4.4 MB batch read in chunks") {
    ControlClientOptions options;
    options.max_batch_records = 1u << 20;
    auto client = ControlClient::connect(f.socket_path.string(), options);
    REQUIRE(client);
    auto sent = client.value().send_routes(routes);
    REQUIRE(sent);
    CHECK(sent.value().batches == 1);
    std::lock_guard lock(f.handler.mu);
    CHECK(f.handler.routes == routes);
  }
  SECTION("a rejected batch names the global record range") {
    routes[40000].prefix.len = 8;  // 10.156.64.0/8: host bits set
    auto client = ControlClient::connect(f.socket_path.string());
    REQUIRE(client);
    auto sent = client.value().send_routes(routes);
    REQUIRE_FALSE(sent);
    CHECK(sent.error().code == EINVAL);
    CHECK_THAT(sent.error().message,
               Catch::Contains("route batch 2 (records 32768..49151) rejected: record 7232:"));
    std::lock_guard lock(f.handler.mu);
    CHECK(f.handler.batch_sizes.size() == 2);
  }
}

TEST_CASE("unknown types get EOPNOTSUPP and the connection stays usable", "[control][server]") {
  ServerFixture f;
  auto client = ControlClient::connect(f.socket_path.string());
  REQUIRE(client);
  auto& c = client.value();
  for (auto type : {static_cast<MsgType>(42), MsgType::kReply}) {
    auto reply = c.request(type, std::span<const std::uint8_t>{});
    REQUIRE(reply);
    CHECK(reply.value().status == EOPNOTSUPP);
    CHECK_THAT(reply.value().error_message(), Catch::Contains("unsupported request type"));
  }
  CHECK(c.hello());
  CHECK(f.server->counters().unsupported.load() == 2);
  std::lock_guard lock(f.handler.mu);
  CHECK(f.handler.calls == 1);  // the handler never saw the unknown types
}

TEST_CASE("malformed JSON gets EINVAL with a message; handler exceptions become EIO",
          "[control][server]") {
  ServerFixture f;
  auto client = ControlClient::connect(f.socket_path.string());
  REQUIRE(client);
  auto& c = client.value();
  std::string text = R"({"client": )";
  auto reply = c.request(MsgType::kHello, std::vector<std::uint8_t>(text.begin(), text.end()));
  REQUIRE(reply);
  CHECK(reply.value().status == EINVAL);
  CHECK_THAT(reply.value().error_message(), Catch::StartsWith("malformed JSON in request"));

  auto flushed = c.flush_routes("routed");
  REQUIRE_FALSE(flushed);
  CHECK(flushed.error().code == EIO);
  CHECK_THAT(flushed.error().message, Catch::Contains("flush exploded"));

  auto bad_batch = c.request(MsgType::kRouteBatch, std::vector<std::uint8_t>{0, 0, 0, 9});
  REQUIRE(bad_batch);
  CHECK(bad_batch.value().status == EINVAL);

  CHECK(c.hello());
  CHECK(f.server->counters().malformed.load() == 1);
  CHECK(f.server->counters().handler_errors.load() == 1);
}

TEST_CASE("requests on one connection are answered in order with their seq", "[control][server]") {
  ServerFixture f;
  RawSocket raw(f.socket_path);
  std::vector<std::uint8_t> burst;
  for (auto [type, seq] : {std::pair{MsgType::kHello, 10u}, std::pair{MsgType(99), 11u},
                           std::pair{MsgType::kGetPorts, 12u}}) {
    auto fr = frame(type, seq);
    burst.insert(burst.end(), fr.begin(), fr.end());
  }
  REQUIRE(raw.send(burst));
  for (std::uint32_t seq : {10u, 11u, 12u}) {
    auto head = raw.recv(kHeaderSize);
    REQUIRE(head.size() == kHeaderSize);
    Header h = decode_header(std::span<const std::uint8_t, kHeaderSize>(head.data(), kHeaderSize));
    CHECK(h.type == MsgType::kReply);
    CHECK(h.seq == seq);
    auto body = raw.recv(h.length);
    auto reply = decode_reply(body);
    REQUIRE(reply);
    CHECK(reply.value().status == (seq == 11 ? EOPNOTSUPP : 0));
  }
}

TEST_CASE("bad frames close only their connection", "[control][server]") {
  ServerFixture f;
  auto bystander = ControlClient::connect(f.socket_path.string());
  REQUIRE(bystander);
  Header h;
  h.type = MsgType::kHello;
  SECTION("bad magic") {
    h.magic = 0xdeadbeef;
  }
  SECTION("bad version") {
    h.version = 7;
  }
  SECTION("oversize length") {
    h.length = kMaxPayload + 1;
  }
  RawSocket raw(f.socket_path);
  REQUIRE(raw.send(encode_header(h)));
  CHECK(raw.closed_by_peer());
  CHECK(wait_until([&] { return f.server->counters().bad_frames.load() == 1; }));
  CHECK(bystander.value().hello());
  auto newcomer = ControlClient::connect(f.socket_path.string());
  REQUIRE(newcomer);
  CHECK(newcomer.value().hello());
}

TEST_CASE("a client leaving mid-frame is cleaned up", "[control][server]") {
  ServerFixture f;
  auto& counters = f.server->counters();
  {
    RawSocket raw(f.socket_path);
    REQUIRE(wait_until([&] { return counters.connections_active.load() == 1; }));
    SECTION("mid-header") {
      auto fr = frame(MsgType::kHello, 1);
      REQUIRE(raw.send(std::span(fr).first(7)));
    }
    SECTION("mid-payload") {
      std::vector<std::uint8_t> payload(3 << 20, ' ');  // spans several read chunks
      auto fr = frame(MsgType::kHello, 1, payload);
      REQUIRE(raw.send(std::span(fr).first(kHeaderSize + (1 << 20) + 5)));
    }
  }
  CHECK(wait_until([&] { return counters.truncated.load() == 1; }));
  CHECK(wait_until([&] { return counters.connections_active.load() == 0; }));
  auto client = ControlClient::connect(f.socket_path.string());
  REQUIRE(client);
  CHECK(client.value().hello());
}

TEST_CASE("many clients at once", "[control][server]") {
  ServerFixture f;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      auto client = ControlClient::connect(f.socket_path.string());
      if (!client) {
        ++failures;
        return;
      }
      for (int i = 0; i < 50; ++i) {
        if (!client.value().get_stats()) ++failures;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(failures.load() == 0);
  CHECK(f.server->counters().requests.load() == 400);
  CHECK(f.server->counters().connections_accepted.load() == 8);
}

TEST_CASE("connections beyond the limit are closed at once", "[control][server]") {
  test::TempDir dir;
  boost::asio::io_context io;
  test::FakeHandler handler;
  auto path = dir.path() / "fwd.sock";
  auto server = ControlServer::start(io, handler, {path, 0660, 1});
  REQUIRE(server);
  std::thread runner([&] { io.run(); });
  auto first = ControlClient::connect(path.string());
  REQUIRE(first);
  CHECK(first.value().hello());
  auto second = ControlClient::connect(path.string());
  REQUIRE(second);  // accepted by the kernel, then closed by the server
  CHECK_FALSE(second.value().hello());
  CHECK(server.value()->counters().connections_refused.load() == 1);
  CHECK(first.value().hello());
  boost::asio::post(io, [&] {
    server.value()->stop();
    io.stop();
  });
  runner.join();
}

TEST_CASE("socket file: stale removed, live or foreign refused, removed on stop",
          "[control][server]") {
  test::TempDir dir;
  boost::asio::io_context io;
  test::FakeHandler handler;
  auto path = dir.path() / "fwd.sock";
  SECTION("stale socket from a dead server") {
    {
      boost::asio::local::stream_protocol::acceptor dead(io);
      dead.open();
      dead.bind(path.string());
    }
    REQUIRE(std::filesystem::exists(path));
    auto server = ControlServer::start(io, handler, {path});
    REQUIRE(server);
    server.value()->stop();
    CHECK_FALSE(std::filesystem::exists(path));
  }
  SECTION("live server") {
    auto first = ControlServer::start(io, handler, {path});
    REQUIRE(first);
    auto second = ControlServer::start(io, handler, {path});
    REQUIRE_FALSE(second);
    CHECK(second.error().code == EADDRINUSE);
    CHECK_THAT(second.error().message, Catch::Contains("already running"));
  }
  SECTION("regular file") {
    std::ofstream(path) << "not a socket";
    auto server = ControlServer::start(io, handler, {path});
    REQUIRE_FALSE(server);
    CHECK(server.error().code == EEXIST);
    CHECK(std::filesystem::is_regular_file(path));
  }
  SECTION("path too long") {
    auto server = ControlServer::start(io, handler, {dir.path() / std::string(120, 'x')});
    REQUIRE_FALSE(server);
    CHECK(server.error().code == ENAMETOOLONG);
  }
}

TEST_CASE("client errors are clear", "[control][client]") {
  SECTION("nothing listening") {
    test::TempDir dir;
    auto path = (dir.path() / "fwd.sock").string();
    auto client = ControlClient::connect(path);
    REQUIRE_FALSE(client);
    CHECK(client.error().code == ENOENT);
    CHECK(client.error().message ==
          "cannot connect to " + path + ": No such file or directory (is causeway-fwd running?)");
  }
  SECTION("timeout leaves the connection unusable") {
    ServerFixture f;
    {
      std::lock_guard lock(f.handler.mu);
      f.handler.delay = std::chrono::milliseconds(300);
    }
    ControlClientOptions options;
    options.timeout = std::chrono::milliseconds(50);
    auto client = ControlClient::connect(f.socket_path.string(), options);
    REQUIRE(client);
    auto hello = client.value().hello();
    REQUIRE_FALSE(hello);
    CHECK(hello.error().code == ETIMEDOUT);
    CHECK_FALSE(client.value().usable());
    auto again = client.value().hello();
    REQUIRE_FALSE(again);
    CHECK(again.error().code == ENOTCONN);
  }
  SECTION("server gone") {
    auto f = std::make_unique<ServerFixture>();
    auto client = ControlClient::connect(f->socket_path.string());
    REQUIRE(client);
    f.reset();
    auto hello = client.value().hello();
    REQUIRE_FALSE(hello);
    CHECK_THAT(hello.error().message, Catch::Contains("closed the connection"));
  }
}

}  // namespace
}  // namespace causeway::fwd::ctl
