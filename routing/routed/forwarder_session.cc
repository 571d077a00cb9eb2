// SPDX-License-Identifier: Apache-2.0
// Forwarder connections (forwarder_session.h): connect + hello; the session connects when due
// and drops the client on a transport error.
#include "routed/forwarder_session.h"

#include <spdlog/spdlog.h>

namespace causeway::rt {

namespace ctl = fwd::ctl;

Result<ForwarderConnection> open_forwarder_connection(std::string_view socket_path,
                                                      std::string_view client_name,
                                                      ctl::ControlClientOptions options) {
  auto c = ctl::ControlClient::connect(socket_path, options);
  if (!c) return c.error();
  auto hello = c.value().hello(client_name);
  if (!hello) return hello.error();
  return ForwarderConnection{std::move(c).value(), std::move(hello).value()};
}

ForwarderSession::ForwarderSession(std::string owner, std::string socket_path,
                                   std::string client_name,
                                   std::chrono::milliseconds reconnect_interval,
                                   std::atomic<std::uint64_t>& connects,
                                   std::atomic<std::uint64_t>& errors,
                                   ctl::ControlClientOptions options)
    : owner_(std::move(owner)),
      path_(std::move(socket_path)),
      client_name_(std::move(client_name)),
      reconnect_interval_(reconnect_interval),
      connects_(connects),
      errors_(errors),
      options_(options) {}

ForwarderSession::State ForwarderSession::connect_when_due(
    std::chrono::steady_clock::time_point now) {
  if (conn_ && conn_->client.usable()) return State::kUp;
  if (now < next_connect_) return State::kDown;
  next_connect_ = now + reconnect_interval_;
  auto c = open_forwarder_connection(path_, client_name_, options_);
  if (!c) {
    spdlog::debug("{}: {}", owner_, c.error().message);
    return State::kDown;
  }
  conn_.emplace(std::move(c).value());
  connects_.fetch_add(1, std::memory_order_relaxed);
  return State::kNew;
}

void ForwarderSession::lost(const Error& error) {
  errors_.fetch_add(1, std::memory_order_relaxed);
  spdlog::warn("{}: forwarder: {}; reconnecting", owner_, error.message);
  conn_.reset();
}

}  // namespace causeway::rt
