// SPDX-License-Identifier: Apache-2.0
// Strong index handles (PortId, PeerId, NextHopId, ...): a plain integer that cannot be mixed
// up with another kind of index or with a count (STYLE.md 9).
#pragma once

#include <compare>
#include <cstdint>
#include <functional>
#include <limits>

namespace causeway {

template <typename Tag, typename Rep = std::uint32_t>
class StrongId {
 public:
  using rep_type = Rep;
  static constexpr Rep kInvalidValue = std::numeric_limits<Rep>::max();

  constexpr StrongId() = default;
  constexpr explicit StrongId(Rep v) : value_(v) {}

  [[nodiscard]] constexpr Rep value() const { return value_; }
  [[nodiscard]] constexpr bool valid() const { return value_ != kInvalidValue; }
  static constexpr StrongId invalid() { return StrongId(); }

  friend constexpr auto operator<=>(StrongId, StrongId) = default;

 private:
  Rep value_ = kInvalidValue;
};

}  // namespace causeway

template <typename Tag, typename Rep>
struct std::hash<causeway::StrongId<Tag, Rep>> {
  std::size_t operator()(causeway::StrongId<Tag, Rep> id) const noexcept {
    return std::hash<Rep>{}(id.value());
  }
};
