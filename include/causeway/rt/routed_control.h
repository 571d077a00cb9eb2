// SPDX-License-Identifier: Apache-2.0
// causeway-routed's control socket (docs/routed.md): JSON lines over a UNIX stream socket.
// A request is one JSON object on one line, {"command": "status" | "sla" | "paths"}; the
// reply is one JSON object on one line: the answer, or {"error": "..."}. Clients:
// `causewayctl routed status`, `causewayctl sla`, `causewayctl paths`.
#pragma once

#include <cstddef>
#include <string_view>

namespace causeway::rt {

inline constexpr std::string_view kRoutedDefaultSocket = "/run/causeway/routed.sock";
inline constexpr std::size_t kRoutedMaxRequest = 64 * 1024;  // a longer line closes the socket

// Every reply to "sla" and "paths" carries "table": the human rendering, so that causewayctl
// prints it without knowing the SLA engine's types.

}  // namespace causeway::rt
