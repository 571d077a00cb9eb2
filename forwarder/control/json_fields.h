// SPDX-License-Identifier: Apache-2.0
// Reading untrusted JSON requests of the control socket: the helpers the message codecs share
// (steering_codec.cc, nexthop_group_codec.cc).
#pragma once

#include <cerrno>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "causeway/common/result.h"

namespace causeway::fwd::ctl::json_fields {

// A non-negative JSON integer (parsed text gives unsigned numbers, JSON built in code signed).
inline std::optional<std::uint64_t> as_uint(const nlohmann::json& v) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer() && v.get<std::int64_t>() >= 0) {
    return static_cast<std::uint64_t>(v.get<std::int64_t>());
  }
  return std::nullopt;
}

// EINVAL naming the field: "members[2].port: missing".
inline Error invalid(const std::string& where, std::string_view what) {
  return Error{where + ": " + std::string(what), EINVAL};
}

}  // namespace causeway::fwd::ctl::json_fields
