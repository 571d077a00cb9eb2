// SPDX-License-Identifier: Apache-2.0
// The probe feed of causeway-routed: the forwarder's probe events (control message 12,
// kGetProbeEvents) -> the SLA engine's inputs (docs/routed.md, "Probe feed").
//
//  - poll() reads the events since its cursor and maps each (tunnel, peer) to the engine's
//    PathId through the SteeringPlan (tunnel `wg-<backbone>`, peer by public key or PoP name);
//    the event's `ns` (CLOCK_MONOTONIC of this host) is the engine's TimePoint as it is. Events
//    of tunnels or peers that are not paths of the intent are counted (`unmapped`), events the
//    forwarder overwrote before they were read are counted (`missed`, the forwarder's figure).
//  - The intent's probes.interval_ms goes to the forwarder (message 13, kSetProbeInterval) at
//    each connection and whenever configure() changes it.
//  - A new forwarder process (another pid in its hello) starts the cursor at 0 again.
//
// Threads: configure() from routed's io_context thread; poll() on the steering thread (or a
// test). The caller hands the returned events to the engine on the engine's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "control/client.h"
#include "routed/forwarder_session.h"
#include "routed/steering_plan.h"

namespace causeway::rt {

struct ProbeEvent {
  sla::PathId path;
  bool reply = false;  // false: probe sent
  std::uint32_t seq = 0;
  sla::TimePoint at{};  // the forwarder's CLOCK_MONOTONIC ns
  friend bool operator==(const ProbeEvent&, const ProbeEvent&) = default;
};

struct ProbeFeedCounters {
  std::atomic<std::uint64_t> polls{0};
  std::atomic<std::uint64_t> sent{0};       // probe-sent events fed
  std::atomic<std::uint64_t> replies{0};    // probe-reply events fed
  std::atomic<std::uint64_t> unmapped{0};   // events of no path of the intent
  std::atomic<std::uint64_t> malformed{0};  // events without the fields the contract names
  std::atomic<std::uint64_t> missed{0};     // events the forwarder overwrote before we read
  std::atomic<std::uint64_t> errors{0};     // transport errors and refused requests
  std::atomic<std::uint64_t> connects{0};
  std::atomic<std::uint64_t> interval_sets{0};  // kSetProbeInterval accepted
};

class ProbeFeed {
 public:
  explicit ProbeFeed(std::string socket_path, std::chrono::milliseconds reconnect_interval =
                                                  std::chrono::milliseconds(1000));

  void configure(SteeringPlan plan);
  // Connects when due, sends the interval when due, reads and maps the new events.
  [[nodiscard]] std::vector<ProbeEvent> poll(
      std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());
  // How often poll() should run: the probe interval / 2, within 5..20 ms.
  [[nodiscard]] std::chrono::milliseconds poll_period() const;

  [[nodiscard]] const ProbeFeedCounters& counters() const { return counters_; }
  [[nodiscard]] bool connected() const;

 private:
  void lost(const Error& error);

  ProbeFeedCounters counters_;

  mutable std::mutex mu_;  // protects plan_, interval_due_ and connected_
  SteeringPlan plan_;
  bool interval_due_ = true;
  bool connected_ = false;

  // poll() only.
  ForwarderSession session_;
  std::chrono::steady_clock::time_point next_read_{};  // after a refused read: back off
  long forwarder_pid_ = -1;
  std::uint64_t cursor_ = 0;
  bool refusal_logged_ = false;
};

}  // namespace causeway::rt
