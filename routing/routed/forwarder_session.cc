// SPDX-License-Identifier: Apache-2.0
// ForwarderSession (forwarder_session.h): connect when due, hello, drop on a transport error.
#include "routed/forwarder_session.h"

#include <spdlog/spdlog.h>

namespace causeway::rt {

namespace ctl = fwd::ctl;

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
  if (client_ && client_->usable()) return State::kUp;
  if (now < next_connect_) return State::kDown;
  next_connect_ = now + reconnect_interval_;
  auto c = ctl::ControlClient::connect(path_, options_);
  if (!c) {
    spdlog::debug("{}: {}", owner_, c.error().message);
    return State::kDown;
  }
  client_.emplace(std::move(c).value());
  auto hello = client_->hello(client_name_);
  if (!hello) {
    client_.reset();
    return State::kDown;
  }
  hello_ = std::move(hello).value();
  connects_.fetch_add(1, std::memory_order_relaxed);
  return State::kNew;
}

void ForwarderSession::lost(const Error& error) {
  errors_.fetch_add(1, std::memory_order_relaxed);
  spdlog::warn("{}: forwarder: {}; reconnecting", owner_, error.message);
  client_.reset();
}

}  // namespace causeway::rt
