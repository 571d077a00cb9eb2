// SPDX-License-Identifier: Apache-2.0
// Per-worker counters. Each worker owns one cache-aligned WorkerCounters and is its only
// writer; the control thread reads them (relaxed) to answer `causewayctl stats`. A Counter is
// an atomic so the reads are well defined, but it is bumped with a relaxed load + store:
// single writer, no locked instruction on the data path.
#pragma once

#include <atomic>
#include <cstdint>

#include "drop_reasons.h"

namespace causeway::fwd {

inline constexpr unsigned kMaxPorts = 32;

class Counter {
 public:
  void add(std::uint64_t n = 1) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t get() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

struct PortCounters {
  Counter rx_packets, rx_bytes, tx_packets, tx_bytes, tx_dropped;
};

struct alignas(64) WorkerCounters {
  PortCounters port[kMaxPorts];
  Counter drop[kDropReasonCount];
  Counter punted;            // packets handed to the control thread
  Counter busy_polls;        // poll rounds that received packets
  Counter idle_polls;        // poll rounds that received nothing
  Counter busy_cycles;       // TSC cycles spent in poll rounds that received packets
  Counter sleeps;            // adaptive back-off sleeps
  Counter probes_reflected;  // SLA probe requests answered in the data path
  Counter handoff_sent;      // tunnel packets handed to their peer's owner worker
  Counter handoff_received;  // tunnel packets taken from this worker's hand-off rings

  void count_drop(DropReason r, std::uint64_t n = 1) noexcept {
    drop[static_cast<std::size_t>(r)].add(n);
  }
};

}  // namespace causeway::fwd
