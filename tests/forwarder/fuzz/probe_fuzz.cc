// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the SLA probe wire format (include/causeway/fwd/probe.h): arbitrary
// bytes as a decrypted inner packet. Besides "no crash, no out-of-bounds read, no UB" it traps
// when a property fails: a request that parses, reflected in place (make_reply), parses again
// as the reply with the same seq and sender time, the two addresses swapped and the size kept.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "causeway/fwd/probe.h"

using namespace causeway::fwd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::uint8_t> in(data, data + size);  // exact size: ASan sees overreads
  probe::Parsed parsed;
  if (probe::parse_packet(in, parsed) != probe::ParseError::kNone) return 0;
  (void)probe::round_trip_ns(parsed.payload, parsed.payload.sender_tx_ns + 1);
  if (parsed.payload.type != probe::Type::kRequest) return 0;
  std::vector<std::uint8_t> out = in;
  probe::make_reply(out, parsed, 11, 22);
  probe::Parsed reply;
  if (probe::parse_packet(out, reply) != probe::ParseError::kNone) __builtin_trap();
  if (reply.payload.type != probe::Type::kReply || reply.payload.seq != parsed.payload.seq ||
      reply.payload.sender_tx_ns != parsed.payload.sender_tx_ns ||
      reply.payload.reflector_rx_ns != 11 || reply.payload.reflector_tx_ns != 22) {
    __builtin_trap();
  }
  const bool v4 = (in[0] >> 4) == 4;
  const std::size_t src = v4 ? 12 : 8, n = v4 ? 4 : 16;
  if (std::memcmp(out.data() + src, in.data() + src + n, n) != 0 ||
      std::memcmp(out.data() + src + n, in.data() + src, n) != 0) {
    __builtin_trap();
  }
  return 0;
}
