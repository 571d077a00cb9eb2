// SPDX-License-Identifier: Apache-2.0
// Client of causeway-routed's control socket (include/causeway/rt/routed_control.h): one JSON
// line out, one JSON line back, with a deadline. For `causewayctl sla`, `paths` and
// `routed status`.
#pragma once

#include <chrono>
#include <string>

#include <nlohmann/json.hpp>

#include "causeway/common/result.h"

namespace causeway::fwd::ctl {

// "cannot connect to PATH: REASON (is causeway-routed running?)" when it cannot connect;
// a reply {"error": ...} becomes an error with that message.
[[nodiscard]] Result<nlohmann::json> routed_request(const std::string& socket_path,
                                                    const std::string& command,
                                                    std::chrono::milliseconds timeout);

// `causewayctl routed status` as a table.
[[nodiscard]] std::string render_routed_status(const nlohmann::json& status);

}  // namespace causeway::fwd::ctl
