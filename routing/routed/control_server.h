// SPDX-License-Identifier: Apache-2.0
// routed's control socket server (include/causeway/rt/routed_control.h): JSON lines on a UNIX
// stream socket, served on the caller's io_context. The socket file's life cycle is the
// forwarder's (forwarder/ipc/unix_listener.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "causeway/common/result.h"

namespace causeway::rt {

using ControlHandler = std::function<nlohmann::json(const nlohmann::json& request)>;

class RoutedControlServer {
 public:
  // The handler runs on the io_context's thread; what it throws becomes {"error": ...}.
  [[nodiscard]] static Result<std::unique_ptr<RoutedControlServer>> start(
      boost::asio::io_context& io, std::string path, ControlHandler handler);
  ~RoutedControlServer();
  void stop();

  struct State;

 private:
  explicit RoutedControlServer(std::shared_ptr<State> state) : state_(std::move(state)) {}
  std::shared_ptr<State> state_;
};

// Answers one request line (exposed for tests): parses, dispatches, never throws.
[[nodiscard]] std::string answer_line(const std::string& line, const ControlHandler& handler);

}  // namespace causeway::rt
