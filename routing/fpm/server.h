// SPDX-License-Identifier: Apache-2.0
// FPM listener of causeway-routed: a TCP server on the caller's io_context (it starts no
// threads) that zebra's dplane_fpm_nl connects to (`fpm address A port P`; zebra retries
// every 3 s). One connection is active at a time: a new one replaces the old and starts a
// new snapshot. Bytes go to the sans-I/O Core as they are read; a steady_timer calls
// Core::tick at Core::deadline (the quiet period that ends a replay). zebra expects nothing
// back (FRR 8.4.4 discards what it reads), so the server never writes.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "causeway/common/result.h"
#include "core.h"

namespace causeway::rt::fpm {

struct ServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 2620;  // FPM_DEFAULT_PORT; 0 = any free port (tests)
  CoreOptions core;
};

struct ServerCounters {
  std::uint64_t connections_replaced = 0;    // an active connection closed for a newer one
  std::uint64_t connections_bad_stream = 0;  // closed by us: framing error (see Core counters)
  std::uint64_t connections_lost = 0;        // closed by zebra or a read error
  std::uint64_t accept_errors = 0;
};

class Server {
 public:
  // Binds, listens and starts accepting. `sink` must outlive the server. Call from the
  // io_context's thread or before it runs.
  [[nodiscard]] static Result<std::unique_ptr<Server>> start(boost::asio::io_context& io,
                                                             RouteSink& sink,
                                                             ServerOptions options = {});
  // Closes the listener and the connection. Idempotent. The server may be destroyed on the
  // io_context's thread or while it is not running; queued handlers then do nothing.
  void stop();
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  [[nodiscard]] std::uint16_t port() const { return port_; }
  [[nodiscard]] bool connected() const { return conn_.has_value(); }
  [[nodiscard]] const Core& core() const { return core_; }
  [[nodiscard]] const ServerCounters& counters() const { return counters_; }

 private:
  Server(boost::asio::io_context& io, RouteSink& sink, ServerOptions options);
  void accept();
  void read();
  void close_connection();
  void arm_timer();

  ServerOptions options_;
  Core core_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::optional<boost::asio::ip::tcp::socket> conn_;
  std::uint64_t conn_id_ = 0;  // tells a stale completion of a replaced socket apart
  boost::asio::steady_timer timer_;
  std::array<std::uint8_t, 65536> buf_{};
  std::uint16_t port_ = 0;
  ServerCounters counters_;
  bool stopped_ = false;
  // Expires with the server: completion handlers still queued in the io_context after the
  // server is gone (aborted reads, accepts, timer waits) check it before touching `this`.
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
};

}  // namespace causeway::rt::fpm
