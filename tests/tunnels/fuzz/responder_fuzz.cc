// SPDX-License-Identifier: Apache-2.0
// Fuzz target: the responder's handshake path. The input is XORed onto a genuine initiation
// (so mutations stay close to valid messages), mac1 is recomputed unless the first input byte
// says not to, and the result goes through Device::receive: mac1, load/cookie logic, Noise
// consumption with arbitrary ephemeral keys and ciphertexts, timestamp and flood checks,
// response creation. A second datagram from the input tail exercises whatever state the first
// one left (e.g. cookie mode: the responder is configured with a low load threshold).
#include <cstring>

#include "crypto.h"
#include "fuzz_common.h"
#include "noise.h"

using namespace causeway::tun;
using namespace causeway::tun::fuzz;

namespace {
struct Seed {
  Pair pair{/*under_load=*/4};
  std::vector<std::uint8_t> initiation;
  crypto::Key mac1_key;
  Seed() {
    Capture c;
    pair.a.initiate_handshake(pair.now, pair.pa, c);
    initiation = c.sent.at(0);
    mac1_key = mac1_key_for(pair.b.public_key());
  }
};
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Seed seed;
  if (size == 0) return 0;
  Pair pair(/*under_load=*/4);
  const bool fix_mac1 = (data[0] & 1) == 0;
  const std::size_t repeats = 1 + (data[0] >> 5);  // 1..8 receptions (drives cookie mode)
  std::vector<std::uint8_t> msg = seed.initiation;
  const std::size_t n = std::min(size - 1, msg.size());
  for (std::size_t i = 0; i < n; ++i) msg[i] ^= data[1 + i];
  if (size - 1 > msg.size() + 1 && (data[0] & 2)) msg.resize(msg.size() - (data[0] >> 2 & 7));
  if (fix_mac1 && msg.size() == HandshakeInitiation::kSize) {
    const auto mac = crypto::mac(seed.mac1_key, crypto::Bytes(msg.data(), 116));
    std::memcpy(msg.data() + 116, mac.data(), mac.size());
  }
  Capture out;
  for (std::size_t r = 0; r < repeats; ++r) {
    std::vector<std::uint8_t> copy = msg;
    pair.b.receive(pair.now, pair.ea, copy, out);
  }
  // Whatever the responder answered goes back to the initiator.
  for (auto& d : out.sent) {
    Capture back;
    pair.a.receive(pair.now, pair.eb, d, back);
  }
  if (size > 1 + msg.size()) {
    std::vector<std::uint8_t> tail(data + 1 + msg.size(), data + size);
    pair.b.receive(pair.now, pair.ea, tail, out);
  }
  Capture t;
  pair.b.tick(pair.now + std::chrono::seconds(200), t);
  return 0;
}
