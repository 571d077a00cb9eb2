// SPDX-License-Identifier: Apache-2.0
// WireGuard wire messages (whitepaper section 5.4.2-5.4.6). Each message is a struct of
// fixed-size fields; parse() copies out of untrusted bytes with explicit little-endian loads
// (never a cast onto packet memory) and serialize() writes the exact wire layout.
//
//   type 1 initiation  148 B: type|0,0,0|sender|ephemeral 32|static 32+16|timestamp 12+16|mac1|mac2
//   type 2 response     92 B: type|0,0,0|sender|receiver|ephemeral 32|empty 0+16|mac1|mac2
//   type 3 cookie reply 64 B: type|0,0,0|receiver|nonce 24|cookie 16+16
//   type 4 data       >=32 B: type|0,0,0|receiver|counter 8|packet padded to 16 + tag 16
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "causeway/tun/constants.h"

namespace causeway::tun {

inline constexpr std::size_t kKeyLen = 32;
inline constexpr std::size_t kTagLen = 16;
inline constexpr std::size_t kMacLen = 16;
inline constexpr std::size_t kTimestampLen = 12;  // TAI64N
inline constexpr std::size_t kCookieNonceLen = 24;
inline constexpr std::size_t kCookieLen = 16;

using Key32 = std::array<std::uint8_t, kKeyLen>;
using Mac16 = std::array<std::uint8_t, kMacLen>;

inline std::uint32_t load_le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
         (std::uint32_t{p[3]} << 24);
}
inline std::uint64_t load_le64(const std::uint8_t* p) {
  return std::uint64_t{load_le32(p)} | (std::uint64_t{load_le32(p + 4)} << 32);
}
inline void store_le32(std::uint8_t* p, std::uint32_t v) {
  p[0] = static_cast<std::uint8_t>(v);
  p[1] = static_cast<std::uint8_t>(v >> 8);
  p[2] = static_cast<std::uint8_t>(v >> 16);
  p[3] = static_cast<std::uint8_t>(v >> 24);
}
inline void store_le64(std::uint8_t* p, std::uint64_t v) {
  store_le32(p, static_cast<std::uint32_t>(v));
  store_le32(p + 4, static_cast<std::uint32_t>(v >> 32));
}

// The common 4-byte header: message type and three reserved zero bytes, read as one LE word.
inline constexpr std::size_t kHeaderLen = 4;

// Section 5.4.2.
struct HandshakeInitiation {
  static constexpr std::size_t kSize = 148;
  static constexpr std::size_t kMac1Offset = 116;  // mac1 covers bytes [0, 116)
  static constexpr std::size_t kMac2Offset = 132;  // mac2 covers bytes [0, 132)

  std::uint32_t sender = 0;
  Key32 ephemeral{};
  std::array<std::uint8_t, kKeyLen + kTagLen> encrypted_static{};
  std::array<std::uint8_t, kTimestampLen + kTagLen> encrypted_timestamp{};
  Mac16 mac1{};
  Mac16 mac2{};

  static std::optional<HandshakeInitiation> parse(std::span<const std::uint8_t> b) {
    if (b.size() != kSize || load_le32(b.data()) != kMessageHandshakeInitiation) {
      return std::nullopt;
    }
    HandshakeInitiation m;
    const std::uint8_t* p = b.data() + kHeaderLen;
    m.sender = load_le32(p), p += 4;
    std::memcpy(m.ephemeral.data(), p, m.ephemeral.size()), p += m.ephemeral.size();
    std::memcpy(m.encrypted_static.data(), p, m.encrypted_static.size());
    p += m.encrypted_static.size();
    std::memcpy(m.encrypted_timestamp.data(), p, m.encrypted_timestamp.size());
    p += m.encrypted_timestamp.size();
    std::memcpy(m.mac1.data(), p, kMacLen), p += kMacLen;
    std::memcpy(m.mac2.data(), p, kMacLen);
    return m;
  }
  void serialize(std::uint8_t out[kSize]) const {
    store_le32(out, kMessageHandshakeInitiation);
    std::uint8_t* p = out + kHeaderLen;
    store_le32(p, sender), p += 4;
    std::memcpy(p, ephemeral.data(), ephemeral.size()), p += ephemeral.size();
    std::memcpy(p, encrypted_static.data(), encrypted_static.size());
    p += encrypted_static.size();
    std::memcpy(p, encrypted_timestamp.data(), encrypted_timestamp.size());
    p += encrypted_timestamp.size();
    std::memcpy(p, mac1.data(), kMacLen), p += kMacLen;
    std::memcpy(p, mac2.data(), kMacLen);
  }
};
static_assert(kHeaderLen + 4 + kKeyLen + (kKeyLen + kTagLen) + (kTimestampLen + kTagLen) +
                      2 * kMacLen ==
                  HandshakeInitiation::kSize,
              "whitepaper 5.4.2: initiation is 148 bytes");
static_assert(HandshakeInitiation::kMac1Offset + 2 * kMacLen == HandshakeInitiation::kSize);

// Section 5.4.3.
struct HandshakeResponse {
  static constexpr std::size_t kSize = 92;
  static constexpr std::size_t kMac1Offset = 60;
  static constexpr std::size_t kMac2Offset = 76;

  std::uint32_t sender = 0;
  std::uint32_t receiver = 0;
  Key32 ephemeral{};
  std::array<std::uint8_t, kTagLen> encrypted_nothing{};
  Mac16 mac1{};
  Mac16 mac2{};

  static std::optional<HandshakeResponse> parse(std::span<const std::uint8_t> b) {
    if (b.size() != kSize || load_le32(b.data()) != kMessageHandshakeResponse) {
      return std::nullopt;
    }
    HandshakeResponse m;
    const std::uint8_t* p = b.data() + kHeaderLen;
    m.sender = load_le32(p), p += 4;
    m.receiver = load_le32(p), p += 4;
    std::memcpy(m.ephemeral.data(), p, kKeyLen), p += kKeyLen;
    std::memcpy(m.encrypted_nothing.data(), p, kTagLen), p += kTagLen;
    std::memcpy(m.mac1.data(), p, kMacLen), p += kMacLen;
    std::memcpy(m.mac2.data(), p, kMacLen);
    return m;
  }
  void serialize(std::uint8_t out[kSize]) const {
    store_le32(out, kMessageHandshakeResponse);
    std::uint8_t* p = out + kHeaderLen;
    store_le32(p, sender), p += 4;
    store_le32(p, receiver), p += 4;
    std::memcpy(p, ephemeral.data(), kKeyLen), p += kKeyLen;
    std::memcpy(p, encrypted_nothing.data(), kTagLen), p += kTagLen;
    std::memcpy(p, mac1.data(), kMacLen), p += kMacLen;
    std::memcpy(p, mac2.data(), kMacLen);
  }
};
static_assert(kHeaderLen + 4 + 4 + kKeyLen + kTagLen + 2 * kMacLen == HandshakeResponse::kSize,
              "whitepaper 5.4.3: response is 92 bytes");
static_assert(HandshakeResponse::kMac1Offset + 2 * kMacLen == HandshakeResponse::kSize);

// Section 5.4.7.
struct CookieReply {
  static constexpr std::size_t kSize = 64;

  std::uint32_t receiver = 0;
  std::array<std::uint8_t, kCookieNonceLen> nonce{};
  std::array<std::uint8_t, kCookieLen + kTagLen> encrypted_cookie{};

  static std::optional<CookieReply> parse(std::span<const std::uint8_t> b) {
    if (b.size() != kSize || load_le32(b.data()) != kMessageCookieReply) return std::nullopt;
    CookieReply m;
    const std::uint8_t* p = b.data() + kHeaderLen;
    m.receiver = load_le32(p), p += 4;
    std::memcpy(m.nonce.data(), p, kCookieNonceLen), p += kCookieNonceLen;
    std::memcpy(m.encrypted_cookie.data(), p, m.encrypted_cookie.size());
    return m;
  }
  void serialize(std::uint8_t out[kSize]) const {
    store_le32(out, kMessageCookieReply);
    std::uint8_t* p = out + kHeaderLen;
    store_le32(p, receiver), p += 4;
    std::memcpy(p, nonce.data(), kCookieNonceLen), p += kCookieNonceLen;
    std::memcpy(p, encrypted_cookie.data(), encrypted_cookie.size());
  }
};
static_assert(kHeaderLen + 4 + kCookieNonceLen + kCookieLen + kTagLen == CookieReply::kSize,
              "whitepaper 5.4.7: cookie reply is 64 bytes");

// Section 5.4.6: the transport header in front of the sealed packet.
struct TransportHeader {
  static constexpr std::size_t kSize = 16;
  static constexpr std::size_t kMinMessage = kSize + kTagLen;  // a keepalive: 32 bytes

  std::uint32_t receiver = 0;
  std::uint64_t counter = 0;

  static std::optional<TransportHeader> parse(std::span<const std::uint8_t> b) {
    if (b.size() < kMinMessage || load_le32(b.data()) != kMessageTransportData) {
      return std::nullopt;
    }
    return TransportHeader{load_le32(b.data() + 4), load_le64(b.data() + 8)};
  }
  void serialize(std::uint8_t out[kSize]) const {
    store_le32(out, kMessageTransportData);
    store_le32(out + 4, receiver);
    store_le64(out + 8, counter);
  }
};
static_assert(kHeaderLen + 4 + 8 == TransportHeader::kSize);
static_assert(TransportHeader::kMinMessage == 32, "whitepaper 5.4.6: 32 bytes of overhead");

// Padding of the plaintext to a multiple of 16 (section 5.4.6), bounded by the MTU.
inline constexpr std::size_t kPaddingMultiple = 16;
inline constexpr std::size_t padded_length(std::size_t len) {
  return (len + kPaddingMultiple - 1) & ~(kPaddingMultiple - 1);
}
// Most bytes the encrypt path appends after the plaintext: 15 of padding + the tag.
inline constexpr std::size_t kMaxTrailer = kPaddingMultiple - 1 + kTagLen;

}  // namespace causeway::tun
