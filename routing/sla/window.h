// SPDX-License-Identifier: Apache-2.0
// Sliding windows of one path's probe outcomes (docs/sla.md "Metrics"). Fixed capacity, O(1)
// per sample, integer nanoseconds with running sums, so metrics are exact and the same inputs
// give bit-identical decisions (no floating-point drift from incremental updates).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <vector>

namespace causeway::rt::sla {

// The last `capacity` RTT samples, with their sum and the sum of absolute differences of
// consecutive samples (jitter as mean |D(i-1,i)|; RFC 3550 §6.4.1 smooths the same quantity
// with a 1/16 gain, we average it over the window instead).
class RttWindow {
 public:
  explicit RttWindow(std::uint32_t capacity) : ring_(capacity) {}

  void push(std::int64_t rtt_ns) {
    if (n_ > 0) sum_absdiff_ += std::llabs(rtt_ns - at(n_ - 1));
    if (n_ == ring_.size()) {
      const std::int64_t oldest = at(0);
      sum_ -= oldest;
      sum_absdiff_ -= std::llabs(at(1) - oldest);
      head_ = (head_ + 1) % ring_.size();
      --n_;
    }
    ring_[(head_ + n_) % ring_.size()] = rtt_ns;
    ++n_;
    sum_ += rtt_ns;
  }

  [[nodiscard]] std::uint32_t size() const { return n_; }
  [[nodiscard]] std::int64_t at(std::uint32_t i) const { return ring_[(head_ + i) % ring_.size()]; }
  [[nodiscard]] double mean_ns() const { return n_ ? static_cast<double>(sum_) / n_ : 0.0; }
  [[nodiscard]] double jitter_ns() const {
    return n_ > 1 ? static_cast<double>(sum_absdiff_) / (n_ - 1) : 0.0;
  }
  [[nodiscard]] std::vector<std::int64_t> samples() const {
    std::vector<std::int64_t> out(n_);
    for (std::uint32_t i = 0; i < n_; ++i) out[i] = at(i);
    return out;
  }

 private:
  std::vector<std::int64_t> ring_;
  std::uint32_t head_ = 0;  // index of the oldest sample
  std::uint32_t n_ = 0;
  std::int64_t sum_ = 0;
  std::int64_t sum_absdiff_ = 0;
};

// The last `capacity` probe outcomes (received or lost), with the count of lost ones.
class LossWindow {
 public:
  explicit LossWindow(std::uint32_t capacity) : ring_(capacity) {}

  void push(bool lost) {
    if (n_ == ring_.size()) {
      lost_ -= ring_[head_];
      head_ = (head_ + 1) % ring_.size();
      --n_;
    }
    ring_[(head_ + n_) % ring_.size()] = lost ? 1 : 0;
    ++n_;
    lost_ += lost ? 1 : 0;
  }

  [[nodiscard]] std::uint32_t size() const { return n_; }
  [[nodiscard]] std::uint32_t lost() const { return lost_; }
  [[nodiscard]] double loss_pct() const { return n_ ? 100.0 * lost_ / n_ : 0.0; }
  [[nodiscard]] std::vector<bool> outcomes() const {
    std::vector<bool> out(n_);
    for (std::uint32_t i = 0; i < n_; ++i) out[i] = ring_[(head_ + i) % ring_.size()] != 0;
    return out;
  }

 private:
  std::vector<std::uint8_t> ring_;
  std::uint32_t head_ = 0;
  std::uint32_t n_ = 0;
  std::uint32_t lost_ = 0;
};

}  // namespace causeway::rt::sla
