// SPDX-License-Identifier: Apache-2.0
// The WireGuard cross-platform configuration protocol ("UAPI",
// https://www.wireguard.com/xplatform/) as text in, values out: no sockets, no clocks (STYLE.md 6).
//
// A request is `get=1` or `set=1` followed by `key=value` lines and ended by an empty line;
// every line ends in '\n'. A reply is `key=value` lines, then `errno=N`, then an empty line.
// Keys, values and error numbers follow wireguard-go (device/uapi.go) and the `wg` client
// (wireguard-tools src/ipc-uapi.h): a line without '=' is -EPROTO, an unknown key or a bad
// value is -EINVAL. Our additions: a request or line above Limits is -EMSGSIZE, and a `set`
// is validated whole before anything is applied (wireguard-go applies line by line).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "causeway/common/result.h"
#include "uapi/backend.h"

namespace causeway::fwd::uapi {

struct Limits {
  // A whole request, first line to the empty line. 4 MiB holds about 60 000 allowed_ip lines.
  std::size_t max_request_bytes = std::size_t{4} << 20;
  // One line without its '\n'. The longest valid line is about 80 bytes
  // (`allowed_ip=-` + an IPv6 address + `/128`, or a 64-character key).
  std::size_t max_line_bytes = 1024;
};

enum class Operation : std::uint8_t { kGet, kSet };

struct Request {
  Operation op = Operation::kGet;
  SetRequest set;  // meaningful for kSet only
};

// ---- values -------------------------------------------------------------------------------

// 64 hex digits (either case, as wireguard-go and `wg` accept), to a key.
[[nodiscard]] std::optional<Key32> parse_key_hex(std::string_view text);
// 64 lowercase hex digits.
[[nodiscard]] std::string key_to_hex(const Key32& key);
// `a.b.c.d:port` or `[v6]:port` (numeric only: `wg` resolves names before it sends them;
// scoped addresses such as `[fe80::1%eth0]` are refused, Endpoint has no scope).
[[nodiscard]] std::optional<Endpoint> parse_endpoint(std::string_view text);
[[nodiscard]] std::string endpoint_to_string(const Endpoint& endpoint);
// Decimal digits only (no sign, no spaces), at most `max`.
[[nodiscard]] std::optional<std::uint64_t> parse_decimal(std::string_view text, std::uint64_t max);

// ---- requests -----------------------------------------------------------------------------

// Finds where the first request in a byte stream ends, looking at each byte once across calls.
// Errors it reports make the stream unusable (the server replies and closes the connection):
// an unknown operation (EPROTO), bytes after `get=1` other than the empty line (EINVAL),
// a line or request over the limits (EMSGSIZE).
class RequestFramer {
 public:
  explicit RequestFramer(Limits limits = {}) : limits_(limits) {}

  struct Frame {
    enum class Status : std::uint8_t { kNeedMore, kComplete, kError };
    Status status = Status::kNeedMore;
    std::size_t length = 0;  // kComplete: bytes of the request, its empty line included
    Error error;             // kError
  };

  // `buffered` is every byte received since the last reset(), earlier bytes unchanged.
  [[nodiscard]] Frame scan(std::string_view buffered);
  // Call after consuming a complete request (the next one starts at offset 0 again).
  void reset();

 private:
  Limits limits_;
  std::size_t scanned_ = 0;     // bytes already examined
  std::size_t line_start_ = 0;  // offset of the line being read
  std::size_t lines_ = 0;       // complete lines so far
  bool is_get_ = false;
};

// Parses one complete request (as framed by RequestFramer: lines ending in '\n', the last line
// empty). Error::code is a positive errno value; Error::message names the offending line.
[[nodiscard]] Result<Request> parse_request(std::string_view request, const Limits& limits = {});

// The `key=value` lines of a set request, after `set=1` and before the empty line
// (each line ends in '\n'). All or nothing: the first bad line fails the whole body.
[[nodiscard]] Result<SetRequest> parse_set_body(std::string_view body);

// ---- replies and the client side ----------------------------------------------------------

// `get=1` reply: device keys, then per peer its keys, statistics and allowed IPs, in
// wireguard-go's order, then `errno=0` and the empty line.
[[nodiscard]] std::string format_get_reply(const DeviceView& view);
// `errno=-N` + empty line for a positive errno value N; `errno=0` for 0. The reply to a set.
[[nodiscard]] std::string format_errno_reply(int errno_value);
// `errno=N` (positive) + empty line: the reply to a get that failed. `wg` reads the errno of a
// get as an unsigned number (a negative one becomes EPROTO), and reports N as the error.
[[nodiscard]] std::string format_get_error_reply(int errno_value);
// The text of a `set=1` request (what `wg set` sends); parse_request() reads it back to an
// equal SetRequest. Used by tests, the fuzzer and any in-tree client.
[[nodiscard]] std::string format_set_request(const SetRequest& request);

}  // namespace causeway::fwd::uapi
