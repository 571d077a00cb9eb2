// SPDX-License-Identifier: Apache-2.0
#include "core.h"

namespace causeway::rt::fpm {

Core::Core(RouteSink& sink, CoreOptions options)
    : state_(sink, counters_, StateOptions{options.quiet_period}) {}

void Core::connection_opened(TimePoint now) {
  counters_.add(Counter::kConnections);
  framer_ = Framer{};
  open_ = true;
  state_.begin_snapshot(now);
}

void Core::connection_closed(TimePoint) {
  if (!open_) return;
  open_ = false;
  framer_ = Framer{};
  state_.connection_lost();
}

bool Core::receive(std::span<const std::uint8_t> bytes, TimePoint now) {
  if (!open_) return false;
  bool ok = framer_.push(bytes, counters_, [&](std::span<const std::uint8_t> payload) {
    ops_.clear();
    parse_frame(payload, ops_, counters_);
    state_.apply(ops_, now);
  });
  if (!ok) connection_closed(now);
  return ok;
}

void Core::tick(TimePoint now) {
  state_.tick(now);
}

}  // namespace causeway::rt::fpm
