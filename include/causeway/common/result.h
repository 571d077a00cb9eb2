// SPDX-License-Identifier: Apache-2.0
// Result type for runtime control operations (STYLE.md 5): Boost.Outcome's result<T> with a
// human-readable error that names the cause. Data-path code never uses it.
#pragma once

#include <string>
#include <system_error>
#include <utility>

#include <boost/outcome/result.hpp>
#include <boost/outcome/try.hpp>

namespace causeway {

// An error for an operator: a message naming what failed and why, and an errno-style code
// for machine consumers (control socket replies, UAPI errno=).
struct Error {
  std::string message;
  int code = 0;  // positive errno value, 0 if none applies
};

template <typename T>
using Result = boost::outcome_v2::basic_result<T, Error, boost::outcome_v2::policy::terminate>;

inline auto fail(std::string message, int code = 0) {
  return boost::outcome_v2::failure(Error{std::move(message), code});
}

}  // namespace causeway
