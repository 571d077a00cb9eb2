// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the UAPI request path: arbitrary bytes through parse_request() and
// through a Session over the stateful fake Backend. Besides "no crash, no leak, no UB" it
// checks two properties and traps when one fails:
//  - a set request that parses survives parse(format(parse(x))) unchanged;
//  - a Session gives the same replies and close decision whether the bytes arrive whole or in
//    pieces (the first input byte picks the piece size).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "uapi/codec.h"
#include "uapi/session.h"
#include "uapi_fake_backend.h"

using namespace causeway::fwd::uapi;

namespace {

// Small limits so that the oversize paths are reached too.
constexpr Limits kLimits{.max_request_bytes = 8192, .max_line_bytes = 256};

void check_round_trip(std::string_view text) {
  auto r = parse_request(text, kLimits);
  if (!r || r.value().op != Operation::kSet) return;
  std::string again = format_set_request(r.value().set);
  auto r2 = parse_request(again);
  if (!r2 || format_set_request(r2.value().set) != again) __builtin_trap();
}

struct Outcome {
  std::string replies;
  bool closed = false;
  std::string state;
};

Outcome run_session(std::string_view bytes, std::size_t piece) {
  test::FakeBackend backend;
  backend.refuse_port(1);
  backend.set_max_peers(4);
  UapiCounters counters;
  Session session(backend, kLimits, counters);
  Outcome o;
  for (std::size_t pos = 0; pos < bytes.size(); pos += piece) {
    auto out = session.feed(bytes.substr(pos, piece));
    o.replies += out.reply;
    o.closed = o.closed || out.close;
  }
  o.state = format_get_reply(backend.snapshot());
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  check_round_trip(bytes);
  std::size_t piece = 1 + data[0] % 32;
  auto whole = run_session(bytes, bytes.size() + 1);
  auto pieces = run_session(bytes, piece);
  if (whole.replies != pieces.replies || whole.closed != pieces.closed ||
      whole.state != pieces.state) {
    __builtin_trap();
  }
  return 0;
}
