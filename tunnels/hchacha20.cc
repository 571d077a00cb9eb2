// SPDX-License-Identifier: Apache-2.0
// HChaCha20 (draft-irtf-cfrg-xchacha-03 section 2.2), the one primitive of WireGuard's cookie
// XAEAD that libcrypto does not expose: the ChaCha20 block function (RFC 8439 section 2.3)
// over key and a 16-byte nonce, without the final addition, keeping words 0..3 and 12..15.
#include <cstdint>

#include "crypto.h"

namespace causeway::tun::crypto {
namespace {

inline std::uint32_t load32_le(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
         (std::uint32_t{p[3]} << 24);
}
inline void store32_le(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
  p[2] = static_cast<std::uint8_t>(v >> 16);
  p[3] = static_cast<std::uint8_t>(v >> 24);
}
inline std::uint32_t rotl(std::uint32_t v, int n) {
  return (v << n) | (v >> (32 - n));
}
inline void quarter_round(std::uint32_t& a, std::uint32_t& b, std::uint32_t& c, std::uint32_t& d) {
  a += b;
  d = rotl(d ^ a, 16);
  c += d;
  b = rotl(b ^ c, 12);
  a += b;
  d = rotl(d ^ a, 8);
  c += d;
  b = rotl(b ^ c, 7);
}

}  // namespace

Key hchacha20(const Key& key, const std::uint8_t nonce[16]) noexcept {
  std::uint32_t x[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};  // "expand 32-byte k"
  for (int i = 0; i < 8; ++i) x[4 + i] = load32_le(key.data() + 4 * i);
  for (int i = 0; i < 4; ++i) x[12 + i] = load32_le(nonce + 4 * i);
  for (int round = 0; round < 10; ++round) {
    quarter_round(x[0], x[4], x[8], x[12]);
    quarter_round(x[1], x[5], x[9], x[13]);
    quarter_round(x[2], x[6], x[10], x[14]);
    quarter_round(x[3], x[7], x[11], x[15]);
    quarter_round(x[0], x[5], x[10], x[15]);
    quarter_round(x[1], x[6], x[11], x[12]);
    quarter_round(x[2], x[7], x[8], x[13]);
    quarter_round(x[3], x[4], x[9], x[14]);
  }
  Key out;
  for (int i = 0; i < 4; ++i) store32_le(out.data() + 4 * i, x[i]);
  for (int i = 0; i < 4; ++i) store32_le(out.data() + 16 + 4 * i, x[12 + i]);
  wipe(x, sizeof(x));
  return out;
}

}  // namespace causeway::tun::crypto
