// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the transport data path in both directions over an established session. The
// input is an inner packet; it is encrypted by one side with encrypt_burst and decrypted by the
// other with decrypt_burst, so the receive-side inner IPv4/IPv6 parsing and the allowed-IPs
// source check see arbitrary authenticated plaintext. A corrupted copy must be refused.
#include <cstdlib>

#include "fuzz_common.h"

using namespace causeway::tun;
using namespace causeway::tun::fuzz;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Pair* pair = [] {
    auto* p = new Pair();
    p->establish();
    return p;
  }();
  if (size > 1500) return 0;
  std::vector<std::uint8_t> buf(16 + size + 64);
  std::memcpy(buf.data() + 16, data, size);
  PacketBuf pb;
  pb.data = buf.data() + 16;
  pb.len = static_cast<std::uint32_t>(size);
  pb.headroom = 16;
  pb.tailroom = 64;
  if (pair->a.encrypt_burst(pair->now, pair->pa, std::span(&pb, 1)) != 1) std::abort();
  std::vector<std::uint8_t> forged(pb.data, pb.data + pb.len);
  forged[16 + (size % (forged.size() - 16))] ^= 0x20;
  pb.from = pair->ea;
  const std::size_t ok = pair->b.decrypt_burst(pair->now, std::span(&pb, 1));
  // Delivered bytes are what was sent followed by the zero padding (the inner IP length may
  // claim padding bytes, as in wireguard-go), never more than the padded length.
  if (ok == 1) {
    std::vector<std::uint8_t> expect(data, data + size);
    expect.resize(padded_length(size), 0);
    if (pb.len > expect.size() || std::memcmp(pb.data, expect.data(), pb.len) != 0) std::abort();
  }
  PacketBuf fb;
  fb.data = forged.data();
  fb.len = static_cast<std::uint32_t>(forged.size());
  if (pair->b.decrypt_burst(pair->now, std::span(&fb, 1)) != 0) std::abort();
  return 0;
}
