// SPDX-License-Identifier: Apache-2.0
// The WireGuard UAPI socket of one interface, /var/run/wireguard/<ifname>.sock (DESIGN.md 3),
// served on the caller's io_context (the forwarder's control thread; the server starts no
// threads), so the standard `wg` tool configures and reads the interface.
//
// Flow per connection: read what arrives -> Session::feed (framing, parsing, Backend calls,
// replies) -> write the replies -> read again. A connection that does not complete a request
// within read_timeout is closed (counted); one that leaves mid-request changes nothing.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "causeway/common/result.h"
#include "uapi/backend.h"
#include "uapi/codec.h"
#include "uapi/session.h"

namespace causeway::fwd::uapi {

struct UapiServerOptions {
  std::string interface_name;  // 1-15 bytes, a valid Linux interface name
  std::filesystem::path socket_dir = "/var/run/wireguard";
  std::chrono::milliseconds read_timeout{5000};  // per request, from the first byte awaited
  Limits limits;
  std::size_t max_connections = 16;  // further clients are accepted and closed at once
};

class UapiServer {
 public:
  // Socket mode: owner only, as wireguard-go creates it.
  static constexpr mode_t kSocketMode = 0600;

  // Creates socket_dir if needed, replaces a stale socket file (refuses with EADDRINUSE when a
  // server answers on it, EEXIST when the path is not a socket), binds, sets kSocketMode before
  // listening, and accepts on `io`. `backend` must outlive the server. Call from the io_context's
  // thread or before it runs.
  [[nodiscard]] static Result<std::unique_ptr<UapiServer>> start(boost::asio::io_context& io,
                                                                 Backend& backend,
                                                                 UapiServerOptions options);

  // Stops accepting, closes every connection and removes the socket file (only if it is still
  // the one this server bound). Idempotent. Call from the io_context's thread or while it is
  // not running.
  void stop();
  ~UapiServer();

  UapiServer(const UapiServer&) = delete;
  UapiServer& operator=(const UapiServer&) = delete;

  [[nodiscard]] const std::filesystem::path& path() const;
  [[nodiscard]] const UapiCounters& counters() const;

  struct State;  // shared with live connections; defined in server.cc

 private:
  explicit UapiServer(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

// Checks an interface name the way Linux does (dev_valid_name): 1-15 bytes, not "." or "..",
// no '/', ':' or whitespace.
[[nodiscard]] Result<void> check_interface_name(std::string_view name);

}  // namespace causeway::fwd::uapi
