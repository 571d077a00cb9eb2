// SPDX-License-Identifier: Apache-2.0
// What routed exports (Prometheus, its control socket): a copy of the FPM counters, the FIB
// builder's status and counters, and the SLA snapshot, taken together so that one scrape or
// one `causewayctl` answer is consistent. The io_context thread refreshes the board; the
// Prometheus exposer's threads and the control socket read copies.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/collectable.h>
#include <nlohmann/json.hpp>

#include "causeway/rt/fpm.h"
#include "causeway/rt/sla/snapshot.h"
#include "routed/fib_builder.h"

namespace causeway::rt {

struct FpmStatus {
  bool connected = false;
  fpm::Counters counters;
  std::size_t routes = 0;
};

struct Board {
  std::string pop;
  FpmStatus fpm;
  sla::Snapshot sla;
  std::uint64_t reloads = 0;
  std::uint64_t reload_failures = 0;
  std::uint64_t frr_applies = 0;
  std::uint64_t frr_apply_failures = 0;
  std::uint64_t bfd_repairs = 0;  // neighbours whose BFD the watchdog configured again
  // Path programmer and probe feed counters ("programmer_groups_sent", "probes_replies", ...)
  // and the paths without a tunnel peer at the last read of the forwarder's tunnels.
  std::vector<std::pair<std::string, std::uint64_t>> steering_events;
  std::uint64_t missing_members = 0;
};

class StatusBoard {
 public:
  void set(Board board) {
    std::lock_guard lock(mu_);
    board_ = std::move(board);
  }
  [[nodiscard]] Board get() const {
    std::lock_guard lock(mu_);
    return board_;
  }

 private:
  mutable std::mutex mu_;  // protects board_: written by the io_context thread
  Board board_;
};

// `status` on the control socket.
[[nodiscard]] nlohmann::json status_json(const Board& board, const FibStatus& fib,
                                         const FibCounters& counters);

// Prometheus: every series is built at scrape time from the board and the FIB builder.
class RoutedCollector final : public prometheus::Collectable {
 public:
  RoutedCollector(const StatusBoard& board, const FibBuilder& fib) : board_(board), fib_(fib) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const StatusBoard& board_;
  const FibBuilder& fib_;
};

}  // namespace causeway::rt
