// SPDX-License-Identifier: Apache-2.0
// Fuzz target: Device::receive with arbitrary datagrams at an initiator that has a handshake in
// flight and an established previous session: every message type, truncations, unknown
// indices, responses and cookie replies naming the pending handshake (the input may carry the
// live sender index), transport data with arbitrary counters. Input: a sequence of datagrams,
// each prefixed by a length byte.
#include "fuzz_common.h"

using namespace causeway::tun;
using namespace causeway::tun::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Pair pair;
  pair.establish();
  Capture c;
  pair.now += kRekeyTimeout + std::chrono::seconds(1);
  pair.a.initiate_handshake(pair.now, pair.pa, c);  // pending handshake on a
  std::uint32_t live_index = 0;
  if (!c.sent.empty() && c.sent[0].size() >= 8) live_index = load_le32(c.sent[0].data() + 4);
  std::size_t off = 0;
  while (off < size) {
    const std::size_t len = std::min<std::size_t>(data[off], size - off - 1);
    std::vector<std::uint8_t> d(data + off + 1, data + off + 1 + len);
    off += 1 + len;
    // Let the fuzzer name the live handshake: receiver field 0xffffffff means "the live one".
    if (d.size() >= 12 && load_le32(d.data() + 8) == 0xffffffffu && d[0] == 2) {
      store_le32(d.data() + 8, live_index);
    }
    if (d.size() >= 8 && load_le32(d.data() + 4) == 0xffffffffu && d[0] == 3) {
      store_le32(d.data() + 4, live_index);
    }
    pair.a.receive(pair.now, pair.eb, d, c);
    pair.now += std::chrono::milliseconds(d.empty() ? 0 : d[0]);
  }
  pair.a.tick(pair.now + std::chrono::seconds(30), c);
  return 0;
}
