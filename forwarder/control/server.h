// SPDX-License-Identifier: Apache-2.0
// The forwarder's control socket server: a UNIX stream socket served on the caller's
// io_context (the forwarder's control thread runs it; the server starts no threads).
//
// Flow per connection: read a 16-byte header -> check magic, version, length (a bad one
// closes the connection and is counted) -> read the payload in bounded chunks -> check the
// request (unknown type: EOPNOTSUPP; malformed JSON: EINVAL) -> ControlHandler::handle() ->
// write the reply with the request's seq -> read the next header. One request is in flight
// per connection, so requests on one connection are answered in order; many connections
// are served at once. Nothing thrown by the handler escapes into the io_context: it becomes
// an EIO reply.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>

#include <boost/asio/io_context.hpp>

#include "causeway/common/result.h"
#include "causeway/fwd/control_codec.h"

namespace causeway::fwd::ctl {

// What the forwarder implements. Called on the io_context's thread, one request at a time.
// The payload is the raw request: JSON (already checked to be a well-formed object; use
// parse_request_json()) or, for kRouteBatch, binary records (use decode_route_batch()).
class ControlHandler {
 public:
  virtual ~ControlHandler() = default;
  // Returns the reply: status (0 or positive errno) + JSON body.
  virtual Reply handle(MsgType type, std::span<const std::uint8_t> payload) = 0;
};

struct ControlServerOptions {
  std::filesystem::path path = "/run/causeway/fwd.sock";
  mode_t mode = 0660;
  std::size_t max_connections = 64;  // further clients are accepted and closed at once
};

// Counters, written by the io_context thread only (relaxed); anyone may read them.
struct ControlServerCounters {
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> connections_active{0};
  std::atomic<std::uint64_t> connections_refused{0};  // over max_connections
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> bad_frames{0};      // bad magic/version or oversize: connection closed
  std::atomic<std::uint64_t> unsupported{0};     // unknown request type: EOPNOTSUPP
  std::atomic<std::uint64_t> malformed{0};       // malformed JSON request: EINVAL
  std::atomic<std::uint64_t> handler_errors{0};  // handler threw: EIO
  std::atomic<std::uint64_t> truncated{0};       // client left in the middle of a frame
  std::atomic<std::uint64_t> accept_errors{0};
  std::atomic<std::uint64_t> internal_errors{0};  // server-side failure: connection closed
};

class ControlServer {
 public:
  // Creates the socket's directory, removes a stale socket (refuses when another server
  // answers on it or the path is not a socket), binds, sets `mode`, listens and starts
  // accepting on `io`. `handler` must outlive the server. Call from the io_context's thread or
  // before it runs.
  [[nodiscard]] static Result<std::unique_ptr<ControlServer>> start(
      boost::asio::io_context& io, ControlHandler& handler, ControlServerOptions options = {});

  // Stops accepting, closes every connection and removes the socket file. Idempotent. Call
  // from the io_context's thread, or while it is not running.
  void stop();
  ~ControlServer();

  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const;
  [[nodiscard]] const ControlServerCounters& counters() const;

  struct State;  // shared with live connections; defined in server.cc

 private:
  explicit ControlServer(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace causeway::fwd::ctl
