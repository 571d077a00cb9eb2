// SPDX-License-Identifier: Apache-2.0
// The Asio listener on loopback (no root): recorded zebra bytes sent by a TCP client reach
// the table; a second connection replaces the first and its replay is swept after the quiet
// period; a bad stream is closed by the server.
#include <catch2/catch.hpp>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "fpm/server.h"
#include "fpm_test_util.h"

namespace causeway::rt::fpm::test {
namespace {

using namespace std::chrono_literals;
namespace asio = boost::asio;
using asio::ip::tcp;

// Runs the io_context until pred() holds or 10 s pass.
template <typename Pred>
bool run_until(asio::io_context& io, Pred pred) {
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.restart();
    io.run_for(10ms);
  }
  return true;
}

tcp::socket dial(asio::io_context& io, std::uint16_t port) {
  tcp::socket s(io);
  s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  return s;
}

void send(tcp::socket& s, const std::string& fixture) {
  auto bytes = load_fixture(fixture);
  asio::write(s, asio::buffer(bytes));
}

TEST_CASE("server: zebra's recorded stream over TCP, replacement connection, sweep") {
  asio::io_context io;
  RecordingSink sink;
  auto started = Server::start(io, sink, ServerOptions{"127.0.0.1", 0, CoreOptions{300ms}});
  REQUIRE(started.has_value());
  Server& server = *started.value();
  REQUIRE(server.port() != 0);

  auto first = dial(io, server.port());
  for (const char* step : {"nonhg-01-connect", "nonhg-02-static", "nonhg-03-ecmp",
                           "nonhg-04-reject", "nonhg-05-change"}) {
    send(first, step);
  }
  REQUIRE(run_until(io, [&] { return server.core().routes().size() == 12; }));
  CHECK(server.connected());
  // The first replay goes quiet (300 ms): its sweep finds nothing stale.
  REQUIRE(run_until(io, [&] { return !server.core().state().snapshot_open(); }));
  CHECK(server.core().counters()[Counter::kSweeps] == 1);

  // zebra (restarted) connects again while the old socket is still open: it replaces it.
  auto second = dial(io, server.port());
  send(second, "nonhg-06-replay");
  REQUIRE(run_until(io, [&] { return server.core().counters()[Counter::kSweeps] == 2; }));
  CHECK(server.counters().connections_replaced == 1);
  CHECK(server.core().counters()[Counter::kConnections] == 2);
  CHECK(server.core().counters()[Counter::kRoutesSwept] == 2);
  CHECK(server.core().routes().size() == 11);
  CHECK(describe(sink.table) == describe(server.core().routes()));
  // The replaced socket was closed by the server.
  std::uint8_t byte;
  boost::system::error_code ec;
  asio::read(first, asio::buffer(&byte, 1), ec);
  CHECK(ec == asio::error::eof);

  // A bad frame header: the server closes this connection, keeps the table.
  std::uint8_t bad[8] = {9, 1, 0, 8, 0, 0, 0, 0};
  asio::write(second, asio::buffer(bad));
  REQUIRE(run_until(io, [&] { return !server.connected(); }));
  CHECK(server.counters().connections_bad_stream == 1);
  CHECK(server.core().counters()[Counter::kFrameBadVersion] == 1);
  CHECK(server.core().routes().size() == 11);
  server.stop();
}

TEST_CASE("server: a bad address or a busy port is a clear error") {
  asio::io_context io;
  RecordingSink sink;
  auto bad = Server::start(io, sink, ServerOptions{"not-an-address", 0, {}});
  REQUIRE(bad.has_error());
  CHECK(bad.error().message.find("not-an-address") != std::string::npos);
  auto a = Server::start(io, sink, ServerOptions{"127.0.0.1", 0, {}});
  REQUIRE(a.has_value());
  auto b = Server::start(io, sink, ServerOptions{"127.0.0.1", a.value()->port(), {}});
  REQUIRE(b.has_error());
  CHECK(b.error().message.find("bind") != std::string::npos);
}

}  // namespace
}  // namespace causeway::rt::fpm::test

namespace causeway::rt::fpm::test {
namespace {

TEST_CASE("server: destroyed with a connection and a timer pending, the io_context runs on") {
  boost::asio::io_context io;
  RecordingSink sink;
  auto started = Server::start(io, sink, ServerOptions{"127.0.0.1", 0, CoreOptions{50ms}});
  REQUIRE(started.has_value());
  auto server = std::move(started).value();
  auto client = dial(io, server->port());
  send(client, "nhg-01-connect");
  REQUIRE(run_until(io, [&] { return server->core().routes().size() == 5; }));
  server.reset();  // read, accept and quiet-period timer still queued
  io.restart();
  io.run_for(200ms);
  // The listener is gone: the client sees the connection closed.
  std::uint8_t byte;
  boost::system::error_code ec;
  boost::asio::read(client, boost::asio::buffer(&byte, 1), ec);
  CHECK(ec == boost::asio::error::eof);
}

}  // namespace
}  // namespace causeway::rt::fpm::test
