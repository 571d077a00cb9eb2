// SPDX-License-Identifier: Apache-2.0
// Sliding replay window for transport counters (whitepaper section 5.4.6, RFC 6479): a ring of
// 64-bit blocks; moving the window forward clears whole blocks, so the cost is O(1) amortised
// with no bit shifting of the whole window. Called only after the packet authenticated, so a
// forged counter can never move the window.
#pragma once

#include <array>
#include <cstdint>

#include "causeway/tun/constants.h"

namespace causeway::tun {

class ReplayWindow {
 public:
  // True if counter is fresh (and records it), false if replayed, too old or out of range.
  [[nodiscard]] bool check_and_update(std::uint64_t counter) noexcept {
    if (counter >= kRejectAfterMessages) return false;
    constexpr std::uint64_t kBlockBits = 64;
    const std::uint64_t block = counter / kBlockBits;
    if (counter > greatest_ || !any_) {
      const std::uint64_t current = greatest_ / kBlockBits;
      std::uint64_t diff = any_ ? block - current : kReplayRingBlocks;
      if (diff > kReplayRingBlocks) diff = kReplayRingBlocks;
      for (std::uint64_t i = 1; i <= diff; ++i) {
        blocks_[(current + i) % kReplayRingBlocks] = 0;
      }
      if (!any_) blocks_[block % kReplayRingBlocks] = 0;
      greatest_ = counter;
      any_ = true;
    } else if (greatest_ - counter > kReplayWindowSize) {
      return false;
    }
    std::uint64_t& word = blocks_[block % kReplayRingBlocks];
    const std::uint64_t bit = 1ull << (counter % kBlockBits);
    if (word & bit) return false;
    word |= bit;
    return true;
  }
  void reset() noexcept {
    blocks_ = {};
    greatest_ = 0;
    any_ = false;
  }

 private:
  std::array<std::uint64_t, kReplayRingBlocks> blocks_{};
  std::uint64_t greatest_ = 0;
  bool any_ = false;
};

}  // namespace causeway::tun
