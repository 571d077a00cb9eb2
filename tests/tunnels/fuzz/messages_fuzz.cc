// SPDX-License-Identifier: Apache-2.0
// Fuzz target: every wire-message parser (types 1-4). A parse that succeeds must serialize back
// to the same bytes.
#include <cstdlib>
#include <cstring>
#include <span>

#include "causeway/tun/messages.h"

using namespace causeway::tun;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> in(data, size);
  if (auto m = HandshakeInitiation::parse(in)) {
    std::uint8_t out[HandshakeInitiation::kSize];
    m->serialize(out);
    if (std::memcmp(out, data, sizeof(out)) != 0) std::abort();
  }
  if (auto m = HandshakeResponse::parse(in)) {
    std::uint8_t out[HandshakeResponse::kSize];
    m->serialize(out);
    if (std::memcmp(out, data, sizeof(out)) != 0) std::abort();
  }
  if (auto m = CookieReply::parse(in)) {
    std::uint8_t out[CookieReply::kSize];
    m->serialize(out);
    if (std::memcmp(out, data, sizeof(out)) != 0) std::abort();
  }
  if (auto m = TransportHeader::parse(in)) {
    std::uint8_t out[TransportHeader::kSize];
    m->serialize(out);
    if (std::memcmp(out, data, sizeof(out)) != 0) std::abort();
  }
  return 0;
}
