// SPDX-License-Identifier: Apache-2.0
// One UAPI connection as a state machine: bytes in, reply bytes out, Backend called in between.
// No sockets and no clocks (the server owns the socket and the read timeout), so tests and the
// fuzzer drive exactly the code that serves `wg`.
//
// Flow: feed() appends bytes -> RequestFramer finds the end of a request -> get: Backend::get()
// -> format_get_reply; set: parse_set_body (whole request, nothing applied on error) ->
// Backend::set() -> errno reply. A framing error (unknown operation, oversize) is answered and
// the connection closed, since the rest of the stream cannot be trusted; a bad set line is
// answered and the connection stays usable (the request was framed whole).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "uapi/backend.h"
#include "uapi/codec.h"

namespace causeway::fwd::uapi {

// Counters, written by the io_context thread only (relaxed); anyone may read them.
struct UapiCounters {
  std::atomic<std::uint64_t> connections_accepted{0};
  std::atomic<std::uint64_t> connections_active{0};
  std::atomic<std::uint64_t> connections_refused{0};  // over max_connections: closed at once
  std::atomic<std::uint64_t> accept_errors{0};
  std::atomic<std::uint64_t> get_requests{0};
  std::atomic<std::uint64_t> set_requests{0};
  std::atomic<std::uint64_t> sets_applied{0};
  // Rejected requests, by cause.
  std::atomic<std::uint64_t> rejected_malformed{0};  // bad key, value or line: -EINVAL/-EPROTO
  std::atomic<std::uint64_t> rejected_operation{0};  // not get=1/set=1, or junk after get=1
  std::atomic<std::uint64_t> rejected_oversize{0};   // line or request over Limits: -EMSGSIZE
  std::atomic<std::uint64_t> rejected_backend{0};    // Backend::set refused: its errno
  std::atomic<std::uint64_t> backend_exceptions{0};  // Backend threw: -EIO
  std::atomic<std::uint64_t> timeouts{0};            // no complete request within the read timeout
  std::atomic<std::uint64_t> truncated{0};           // client left in the middle of a request
  std::atomic<std::uint64_t> internal_errors{0};
};

class Session {
 public:
  Session(Backend& backend, Limits limits, UapiCounters& counters)
      : backend_(&backend), limits_(limits), framer_(limits), counters_(&counters) {}

  struct Output {
    std::string reply;                // bytes to write back, possibly several replies
    bool close = false;               // close the connection once `reply` is written
    std::vector<std::string> errors;  // why requests were refused, for the log
  };

  // Consumes `bytes` and answers every request they complete. Once an Output said close, the
  // session takes no more input (further bytes are ignored).
  [[nodiscard]] Output feed(std::string_view bytes);
  // True when part of a request has arrived but not its end (a disconnect now is "truncated").
  [[nodiscard]] bool in_request() const { return !buffer_.empty(); }
  [[nodiscard]] bool closed() const { return closed_; }

 private:
  void answer(std::string_view request, Output& out);
  [[nodiscard]] std::string apply_set(std::string_view body, Output& out);

  Backend* backend_;
  Limits limits_;
  RequestFramer framer_;
  UapiCounters* counters_;
  std::string buffer_;  // bytes of the request being received
  bool closed_ = false;
};

}  // namespace causeway::fwd::uapi
