// SPDX-License-Identifier: Apache-2.0
// The sans-I/O FPM core of causeway-routed: bytes of one zebra connection and the current
// time in, batches of route changes out (to a RouteSink). The server (server.h) owns the
// socket and the timer and calls these in order:
//   connection_opened -> receive* -> connection_closed, with tick() at deadline().
// Flow: bytes -> Framer (whole FPM frames) -> parse_frame (operations of the frame's valid
// messages) -> RouteState::apply (one batch per frame) -> RouteSink.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <vector>

#include "causeway/rt/fpm.h"
#include "framer.h"
#include "netlink_parser.h"
#include "route_state.h"

namespace causeway::rt::fpm {

struct CoreOptions {
  // No frame for this long after a connection's last frame ends its replay (sweep).
  std::chrono::milliseconds quiet_period{3000};
};

class Core {
 public:
  explicit Core(RouteSink& sink, CoreOptions options = {});
  Core(const Core&) = delete;  // state_ refers to counters_
  Core& operator=(const Core&) = delete;

  // A new zebra connection (replacing any other): new framer, new snapshot.
  void connection_opened(TimePoint now);
  void connection_closed(TimePoint now);
  // Bytes as read from the connection. false: the stream is bad, close the connection.
  [[nodiscard]] bool receive(std::span<const std::uint8_t> bytes, TimePoint now);
  void tick(TimePoint now);
  [[nodiscard]] std::optional<TimePoint> deadline() const { return state_.deadline(); }

  [[nodiscard]] const Counters& counters() const { return counters_; }
  [[nodiscard]] const std::map<RouteKey, Route>& routes() const { return state_.published(); }
  [[nodiscard]] const RouteState& state() const { return state_; }

 private:
  Counters counters_;
  RouteState state_;
  Framer framer_;
  std::vector<Operation> ops_;
  bool open_ = false;
};

}  // namespace causeway::rt::fpm
