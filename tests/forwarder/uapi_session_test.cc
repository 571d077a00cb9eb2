// SPDX-License-Identifier: Apache-2.0
// UAPI session (one connection, no socket) over the stateful fake Backend: what reaches the
// backend, what the client reads back, which counter moves, when the connection closes.
#include <catch2/catch.hpp>

#include <cerrno>
#include <random>
#include <stdexcept>
#include <string>

#include "uapi/session.h"
#include "uapi_fake_backend.h"

using namespace causeway;
using namespace causeway::fwd::uapi;
using causeway::fwd::uapi::test::FakeBackend;

namespace {

const std::string kPeer = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";
const std::string kPriv = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20";

std::string set_peer(const std::string& extra = "") {
  return "set=1\nlisten_port=51820\npublic_key=" + kPeer +
         "\nendpoint=192.0.2.1:51820\nallowed_ip=10.0.0.0/24\n" + extra + "\n";
}

}  // namespace

TEST_CASE("get returns the backend's view; set applies and answers errno=0", "[uapi][session]") {
  FakeBackend backend;
  UapiCounters counters;
  Session s(backend, {}, counters);
  auto out = s.feed("get=1\n\n");
  REQUIRE(out.reply == "errno=0\n\n");
  REQUIRE_FALSE(out.close);

  out = s.feed(set_peer());
  REQUIRE(out.reply == "errno=0\n\n");
  REQUIRE(out.errors.empty());
  auto v = backend.snapshot();
  REQUIRE(v.listen_port == 51820);
  REQUIRE(v.peers.size() == 1);
  REQUIRE(key_to_hex(v.peers[0].public_key) == kPeer);

  out = s.feed("get=1\n\n");
  REQUIRE(out.reply == format_get_reply(backend.snapshot()));
  REQUIRE(out.reply.find("allowed_ip=10.0.0.0/24\n") != std::string::npos);
  REQUIRE(counters.get_requests == 2);
  REQUIRE(counters.set_requests == 1);
  REQUIRE(counters.sets_applied == 1);
}

TEST_CASE("a malformed set never reaches the backend and the connection stays usable",
          "[uapi][session]") {
  FakeBackend backend;
  UapiCounters counters;
  Session s(backend, {}, counters);
  auto out = s.feed(set_peer("persistent_keepalive_interval=70000\n"));
  REQUIRE(out.reply == "errno=-22\n\n");
  REQUIRE_FALSE(out.close);
  REQUIRE(out.errors.size() == 1);
  REQUIRE(backend.set_calls() == 0);
  REQUIRE(backend.snapshot().peers.empty());
  REQUIRE(backend.snapshot().listen_port == 0);
  REQUIRE(counters.rejected_malformed == 1);

  out = s.feed("set=1\nlisten_port\n\n");
  REQUIRE(out.reply == "errno=-71\n\n");  // EPROTO: a line without '='
  REQUIRE(counters.rejected_malformed == 2);

  out = s.feed(set_peer());
  REQUIRE(out.reply == "errno=0\n\n");
  REQUIRE(backend.snapshot().peers.size() == 1);
}

TEST_CASE("a backend refusal is answered with its errno and changes nothing", "[uapi][session]") {
  FakeBackend backend;
  backend.refuse_port(51820);
  UapiCounters counters;
  Session s(backend, {}, counters);
  auto out = s.feed(set_peer());
  REQUIRE(out.reply == "errno=-98\n\n");  // EADDRINUSE
  REQUIRE(backend.set_calls() == 1);
  REQUIRE(backend.applied() == 0);
  REQUIRE(backend.snapshot().peers.empty());
  REQUIRE(counters.rejected_backend == 1);
  REQUIRE(counters.sets_applied == 0);
}

TEST_CASE("a backend that throws is answered with EIO", "[uapi][session]") {
  FakeBackend backend;
  backend.throw_on_get(true);
  UapiCounters counters;
  Session s(backend, {}, counters);
  auto out = s.feed("get=1\n\n");
  REQUIRE(out.reply == "errno=5\n\n");  // positive on a get: what `wg` can read
  REQUIRE(counters.backend_exceptions == 1);
  REQUIRE_FALSE(out.close);
}

TEST_CASE("framing errors are answered, then the connection closes", "[uapi][session]") {
  FakeBackend backend;
  UapiCounters counters;
  SECTION("unknown operation") {
    Session s(backend, {}, counters);
    auto out = s.feed("hello\nget=1\n\n");
    REQUIRE(out.reply == "errno=-71\n\n");
    REQUIRE(out.close);
    REQUIRE(s.closed());
    REQUIRE(counters.rejected_operation == 1);
    REQUIRE(s.feed("get=1\n\n").reply.empty());  // nothing more is read
    REQUIRE(backend.get_calls() == 0);
  }
  SECTION("junk after get=1") {
    Session s(backend, {}, counters);
    auto out = s.feed("get=1\nget=1\n\n");
    REQUIRE(out.reply == "errno=-22\n\n");
    REQUIRE(out.close);
    REQUIRE(backend.get_calls() == 0);
  }
  SECTION("oversize line and oversize request") {
    Limits limits{.max_request_bytes = 256, .max_line_bytes = 100};
    Session a(backend, limits, counters);
    auto out = a.feed("set=1\nlisten_port=" + std::string(200, '1') + "\n\n");
    REQUIRE(out.reply == "errno=-90\n\n");  // EMSGSIZE
    REQUIRE(out.close);
    Session b(backend, limits, counters);
    std::string big = "set=1\n";
    for (int i = 0; i < 40; ++i) big += "listen_port=1\n";
    out = b.feed(big + "\n");
    REQUIRE(out.reply == "errno=-90\n\n");
    REQUIRE(counters.rejected_oversize == 2);
    REQUIRE(backend.set_calls() == 0);
  }
}

TEST_CASE("a request arriving in pieces is applied once, when its empty line arrives",
          "[uapi][session]") {
  FakeBackend backend;
  UapiCounters counters;
  Session s(backend, {}, counters);
  const std::string req = set_peer();
  for (std::size_t i = 0; i + 1 < req.size(); ++i) {
    REQUIRE(s.feed(req.substr(i, 1)).reply.empty());
    REQUIRE(s.in_request());
  }
  REQUIRE(backend.set_calls() == 0);  // a client leaving now changes nothing
  REQUIRE(s.feed(req.substr(req.size() - 1)).reply == "errno=0\n\n");
  REQUIRE_FALSE(s.in_request());
  REQUIRE(backend.applied() == 1);
}

TEST_CASE("pipelined requests are answered in order", "[uapi][session]") {
  FakeBackend backend;
  UapiCounters counters;
  Session s(backend, {}, counters);
  auto out = s.feed(set_peer() + "set=1\nbogus=1\n\nget=1\n\nget=1\n");
  REQUIRE(out.reply.substr(0, 20) == "errno=0\n\nerrno=-22\n\n");
  REQUIRE(out.reply.substr(20) == format_get_reply(backend.snapshot()));
  REQUIRE(s.in_request());
  REQUIRE(s.feed("\n").reply == format_get_reply(backend.snapshot()));
}

TEST_CASE("chunking never changes the replies (random streams)", "[uapi][session]") {
  // The same byte stream fed whole and in random pieces gives the same reply bytes, the same
  // backend state and the same close decision.
  const std::vector<std::string> parts = {set_peer(),
                                          "get=1\n\n",
                                          "set=1\nbogus\n\n",
                                          "set=1\npublic_key=" + kPeer + "\nremove=true\n\n",
                                          "set=1\nprivate_key=" + kPriv + "\n\n",
                                          "set=1\nlisten_port=x\n\n",
                                          "junk\n"};
  std::mt19937 rng(99);
  for (int round = 0; round < 300; ++round) {
    std::string stream;
    for (int i = 0; i < 6; ++i) stream += parts[rng() % parts.size()];
    FakeBackend whole_backend;
    UapiCounters c1;
    Session whole(whole_backend, {}, c1);
    auto expected = whole.feed(stream);

    FakeBackend piece_backend;
    UapiCounters c2;
    Session pieces(piece_backend, {}, c2);
    std::string reply;
    bool closed = false;
    for (std::size_t pos = 0; pos < stream.size();) {
      std::size_t n = 1 + rng() % 16;
      auto out = pieces.feed(std::string_view(stream).substr(pos, n));
      reply += out.reply;
      closed = closed || out.close;
      pos += n;
    }
    REQUIRE(reply == expected.reply);
    REQUIRE(closed == expected.close);
    REQUIRE(format_get_reply(piece_backend.snapshot()) ==
            format_get_reply(whole_backend.snapshot()));
  }
}
