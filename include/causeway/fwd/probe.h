// SPDX-License-Identifier: Apache-2.0
// SLA probe wire format (DESIGN.md section 4): an in-band, timestamped probe that a PoP's
// forwarder sends to each probing tunnel peer every interval, inside the tunnel, and that the
// peer's forwarder reflects where it decrypts it (never through the kernel).
//
// A probe is an inner IPv4 or IPv6 UDP packet from the sending tunnel's own overlay address to
// the peer's overlay address, UDP source and destination port kPort (7783) both ways. Its UDP
// payload, all fields big-endian:
//
//   0        4     5     6         8        12              20              28          36
//   +--------+-----+-----+---------+--------+---------------+---------------+-----------+
//   | "CWPR" | ver | type| reserved|  seq   | sender tx ns  | reflector rx  | refl. tx  |
//   +--------+-----+-----+---------+--------+---------------+---------------+-----------+
//
// ver = 1; type 1 = request, 2 = reply; reserved = 0 (ignored on receipt). The sender writes
// seq and its transmit time (CLOCK_MONOTONIC ns of its host) and zeros; the reflector turns
// the packet into the reply in place: addresses swapped, type 2, its receive and transmit times
// (its own clock) filled in. The sender's round trip is
//   (reply received - sender tx) - (reflector tx - reflector rx).
// A payload longer than 36 bytes is accepted (the rest is ignored and reflected as is).
//
// Everything here is a pure function over bytes: no allocation, no exceptions, safe on any
// input (untrusted packets are rejected with a ParseError, never read out of bounds).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "causeway/common/byte_order.h"
#include "causeway/common/ip.h"

namespace causeway::fwd::probe {

inline constexpr std::uint16_t kPort = 7783;
inline constexpr std::uint8_t kMagic[4] = {'C', 'W', 'P', 'R'};
inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::size_t kPayloadSize = 36;
inline constexpr std::uint8_t kTtl = 64;

enum class Type : std::uint8_t { kRequest = 1, kReply = 2 };

struct Payload {
  Type type = Type::kRequest;
  std::uint32_t seq = 0;
  std::uint64_t sender_tx_ns = 0;
  std::uint64_t reflector_rx_ns = 0;
  std::uint64_t reflector_tx_ns = 0;
};

enum class ParseError : std::uint8_t {
  kNone = 0,
  kNotProbe,     // not UDP to kPort (or an IPv4 fragment): not a probe at all
  kTruncated,    // IP/UDP lengths inconsistent, or a payload shorter than kPayloadSize
  kBadChecksum,  // UDP checksum does not verify (or is zero over IPv6)
  kBadMagic,
  kBadVersion,
  kBadType,
};

[[nodiscard]] constexpr const char* parse_error_name(ParseError e) noexcept {
  switch (e) {
    case ParseError::kNone:
      return "ok";
    case ParseError::kNotProbe:
      return "not_probe";
    case ParseError::kTruncated:
      return "truncated";
    case ParseError::kBadChecksum:
      return "bad_checksum";
    case ParseError::kBadMagic:
      return "bad_magic";
    case ParseError::kBadVersion:
      return "bad_version";
    case ParseError::kBadType:
      return "bad_type";
  }
  return "?";
}

// IPv4 (20-byte header) or IPv6 packet size of a probe.
[[nodiscard]] constexpr std::size_t packet_size(bool v4) noexcept {
  return (v4 ? 20 : 40) + 8 + kPayloadSize;
}

namespace detail {

inline constexpr std::size_t kIp4Src = 12, kIp4Dst = 16, kIp6Src = 8, kIp6Dst = 24;

constexpr std::uint64_t load_be64(const std::uint8_t* p) noexcept {
  return (std::uint64_t{load_be32(p)} << 32) | load_be32(p + 4);
}
constexpr void store_be64(std::uint8_t* p, std::uint64_t v) noexcept {
  store_be32(p, static_cast<std::uint32_t>(v >> 32));
  store_be32(p + 4, static_cast<std::uint32_t>(v));
}
// RFC 1071 one's-complement sum (unfolded).
constexpr std::uint32_t sum16(std::uint32_t sum, const std::uint8_t* p, std::size_t n) noexcept {
  for (; n > 1; n -= 2, p += 2) sum += load_be16(p);
  if (n) sum += std::uint32_t{p[0]} << 8;
  return sum;
}
constexpr std::uint16_t fold(std::uint32_t sum) noexcept {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}
// UDP checksum over the pseudo-header (RFC 768 / RFC 8200 8.1) with the checksum field as is:
// 0 when the stored checksum verifies, or the value to store when the field is zero.
constexpr std::uint16_t udp_checksum(const std::uint8_t* ip, bool v4, const std::uint8_t* udp,
                                     std::size_t udp_len) noexcept {
  std::uint32_t sum = v4 ? sum16(0, ip + kIp4Src, 8) : sum16(0, ip + kIp6Src, 32);
  sum += 17;
  sum += static_cast<std::uint32_t>(udp_len);
  return fold(sum16(sum, udp, udp_len));
}

}  // namespace detail

// The 36 payload bytes.
constexpr void encode(const Payload& p, std::uint8_t* out) noexcept {
  out[0] = kMagic[0];
  out[1] = kMagic[1];
  out[2] = kMagic[2];
  out[3] = kMagic[3];
  out[4] = kVersion;
  out[5] = static_cast<std::uint8_t>(p.type);
  out[6] = 0;
  out[7] = 0;
  store_be32(out + 8, p.seq);
  detail::store_be64(out + 12, p.sender_tx_ns);
  detail::store_be64(out + 20, p.reflector_rx_ns);
  detail::store_be64(out + 28, p.reflector_tx_ns);
}

[[nodiscard]] constexpr ParseError decode(std::span<const std::uint8_t> in, Payload& out) noexcept {
  if (in.size() < kPayloadSize) return ParseError::kTruncated;
  if (in[0] != kMagic[0] || in[1] != kMagic[1] || in[2] != kMagic[2] || in[3] != kMagic[3]) {
    return ParseError::kBadMagic;
  }
  if (in[4] != kVersion) return ParseError::kBadVersion;
  if (in[5] != static_cast<std::uint8_t>(Type::kRequest) &&
      in[5] != static_cast<std::uint8_t>(Type::kReply)) {
    return ParseError::kBadType;
  }
  out.type = static_cast<Type>(in[5]);
  out.seq = load_be32(&in[8]);
  out.sender_tx_ns = detail::load_be64(&in[12]);
  out.reflector_rx_ns = detail::load_be64(&in[20]);
  out.reflector_tx_ns = detail::load_be64(&in[28]);
  return ParseError::kNone;
}

// Writes a whole probe packet (IP header, UDP header, payload; checksums filled in) from src to
// dst (same family) into out. Returns its size, or 0 if out is too small or the families differ.
inline std::size_t build_packet(const IpAddress& src, const IpAddress& dst, const Payload& p,
                                std::span<std::uint8_t> out) noexcept {
  const bool v4 = dst.is_v4();
  const std::size_t size = packet_size(v4);
  if (out.size() < size || src.family != dst.family) return 0;
  std::uint8_t* ip = out.data();
  const std::size_t l3 = v4 ? 20 : 40;
  std::uint8_t* udp = ip + l3;
  const auto udp_len = static_cast<std::uint16_t>(8 + kPayloadSize);
  if (v4) {
    ip[0] = 0x45;
    ip[1] = 0;
    store_be16(ip + 2, static_cast<std::uint16_t>(size));
    store_be16(ip + 4, 0);
    store_be16(ip + 6, 0x4000);  // DF: a probe is never fragmented
    ip[8] = kTtl;
    ip[9] = 17;
    store_be16(ip + 10, 0);
    for (unsigned i = 0; i < 4; ++i) {
      ip[detail::kIp4Src + i] = src.bytes[i];
      ip[detail::kIp4Dst + i] = dst.bytes[i];
    }
    store_be16(ip + 10, detail::fold(detail::sum16(0, ip, 20)));
  } else {
    store_be32(ip, 0x60000000u);
    store_be16(ip + 4, udp_len);
    ip[6] = 17;
    ip[7] = kTtl;
    for (unsigned i = 0; i < 16; ++i) {
      ip[detail::kIp6Src + i] = src.bytes[i];
      ip[detail::kIp6Dst + i] = dst.bytes[i];
    }
  }
  store_be16(udp, kPort);
  store_be16(udp + 2, kPort);
  store_be16(udp + 4, udp_len);
  store_be16(udp + 6, 0);
  encode(p, udp + 8);
  const std::uint16_t c = detail::udp_checksum(ip, v4, udp, udp_len);
  store_be16(udp + 6, c == 0 ? 0xffff : c);
  return size;
}

// Where a received inner packet's probe payload is, if it is a well-formed probe.
struct Parsed {
  Payload payload;
  std::size_t udp_offset = 0;  // from the IP header
  std::size_t udp_len = 0;     // UDP header + payload
};

// Cheap first test on a decrypted inner packet to one of our overlay addresses (`len` bytes of
// IP packet, its version already checked by the tunnel core): UDP to kPort, not a fragment.
[[nodiscard]] constexpr bool is_probe_port(const std::uint8_t* ip, std::size_t len) noexcept {
  if (len < 1) return false;
  std::size_t l4;
  if ((ip[0] >> 4) == 4) {
    if (len < 20) return false;
    l4 = std::size_t{ip[0] & 0x0fu} * 4;
    if (l4 < 20 || ip[9] != 17 || (load_be16(ip + 6) & 0x3fff) != 0) return false;
  } else {
    if (len < 40 || ip[6] != 17) return false;
    l4 = 40;
  }
  return l4 + 8 <= len && load_be16(ip + l4 + 2) == kPort;
}

// Validates an inner probe packet whole (lengths, UDP checksum, payload).
[[nodiscard]] inline ParseError parse_packet(std::span<const std::uint8_t> pkt,
                                             Parsed& out) noexcept {
  const std::uint8_t* ip = pkt.data();
  if (!is_probe_port(ip, pkt.size())) return ParseError::kNotProbe;
  const bool v4 = (ip[0] >> 4) == 4;
  std::size_t total, l4;
  if (v4) {
    l4 = std::size_t{ip[0] & 0x0fu} * 4;
    total = load_be16(ip + 2);
  } else {
    l4 = 40;
    total = 40 + std::size_t{load_be16(ip + 4)};
  }
  if (total > pkt.size() || total < l4 + 8) return ParseError::kTruncated;
  const std::uint8_t* udp = ip + l4;
  const std::size_t udp_len = load_be16(udp + 4);
  if (udp_len < 8 || l4 + udp_len > total) return ParseError::kTruncated;
  if (udp_len < 8 + kPayloadSize) return ParseError::kTruncated;
  const std::uint16_t stored = load_be16(udp + 6);
  if (stored == 0 ? !v4 : detail::udp_checksum(ip, v4, udp, udp_len) != 0) {
    return ParseError::kBadChecksum;
  }
  if (const ParseError e = decode(std::span(udp + 8, udp_len - 8), out.payload);
      e != ParseError::kNone) {
    return e;
  }
  out.udp_offset = l4;
  out.udp_len = udp_len;
  return ParseError::kNone;
}

// Turns a parsed request (parse_packet succeeded on pkt) into its reply in place: addresses
// swapped, TTL/hop limit reset, type reply, the reflector's receive and transmit times written,
// checksums recomputed. The packet keeps its size.
inline void make_reply(std::span<std::uint8_t> pkt, const Parsed& parsed, std::uint64_t rx_ns,
                       std::uint64_t tx_ns) noexcept {
  std::uint8_t* ip = pkt.data();
  const bool v4 = (ip[0] >> 4) == 4;
  const std::size_t src = v4 ? detail::kIp4Src : detail::kIp6Src;
  const std::size_t alen = v4 ? 4 : 16;
  for (std::size_t i = 0; i < alen; ++i) {
    const std::uint8_t t = ip[src + i];
    ip[src + i] = ip[src + alen + i];
    ip[src + alen + i] = t;
  }
  if (v4) {
    ip[8] = kTtl;
    store_be16(ip + 10, 0);
    store_be16(ip + 10, detail::fold(detail::sum16(0, ip, parsed.udp_offset)));
  } else {
    ip[7] = kTtl;
  }
  std::uint8_t* udp = ip + parsed.udp_offset;
  std::uint8_t* payload = udp + 8;
  payload[5] = static_cast<std::uint8_t>(Type::kReply);
  detail::store_be64(payload + 20, rx_ns);
  detail::store_be64(payload + 28, tx_ns);
  store_be16(udp + 6, 0);
  const std::uint16_t c = detail::udp_checksum(ip, v4, udp, parsed.udp_len);
  store_be16(udp + 6, c == 0 ? 0xffff : c);
}

// The sender's round trip of a reply received at rx_ns, without the time the reflector held
// the probe (when its two stamps are consistent: 0 <= held <= the raw round trip).
[[nodiscard]] constexpr std::uint64_t round_trip_ns(const Payload& reply,
                                                    std::uint64_t rx_ns) noexcept {
  if (rx_ns < reply.sender_tx_ns) return 0;
  const std::uint64_t raw = rx_ns - reply.sender_tx_ns;
  if (reply.reflector_tx_ns < reply.reflector_rx_ns) return raw;
  const std::uint64_t held = reply.reflector_tx_ns - reply.reflector_rx_ns;
  return held <= raw ? raw - held : raw;
}

}  // namespace causeway::fwd::probe
