// SPDX-License-Identifier: Apache-2.0
// Wire constants of the headers the data path parses, the big-endian load/store helpers
// (include/causeway/common/byte_order.h) and RFC 1071 checksum helpers.
#pragma once

#include <cstddef>
#include <cstdint>

#include "causeway/common/byte_order.h"

namespace causeway::fwd::wire {

using causeway::load_be16;
using causeway::load_be32;
using causeway::store_be16;
using causeway::store_be32;

// Ethernet (IEEE 802.3) and the network headers we parse.
inline constexpr unsigned kEthHeaderLen = 14;
inline constexpr unsigned kVlanTagLen = 4;
inline constexpr std::uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr std::uint16_t kEtherTypeArp = 0x0806;
inline constexpr std::uint16_t kEtherTypeVlan = 0x8100;
inline constexpr std::uint16_t kEtherTypeQinQ = 0x88a8;
inline constexpr std::uint16_t kEtherTypeIpv6 = 0x86dd;

// IPv4 (RFC 791) field offsets.
inline constexpr unsigned kIp4MinHeaderLen = 20;
inline constexpr unsigned kIp4OffTotalLen = 2;
inline constexpr unsigned kIp4OffFlagsFrag = 6;
inline constexpr unsigned kIp4OffTtl = 8;
inline constexpr unsigned kIp4OffProto = 9;
inline constexpr unsigned kIp4OffChecksum = 10;
inline constexpr unsigned kIp4OffSrc = 12;
inline constexpr unsigned kIp4OffDst = 16;
inline constexpr std::uint16_t kIp4FlagDf = 0x4000;

// IPv6 (RFC 8200) field offsets.
inline constexpr unsigned kIp6HeaderLen = 40;
inline constexpr unsigned kIp6OffPayloadLen = 4;
inline constexpr unsigned kIp6OffNextHeader = 6;
inline constexpr unsigned kIp6OffHopLimit = 7;
inline constexpr unsigned kIp6OffSrc = 8;
inline constexpr unsigned kIp6OffDst = 24;
inline constexpr std::uint8_t kIpProtoIcmp = 1;
inline constexpr std::uint8_t kIpProtoIcmpv6 = 58;
inline constexpr std::uint8_t kIpProtoUdp = 17;
inline constexpr unsigned kUdpHeaderLen = 8;  // RFC 768

// ICMPv6 neighbour discovery message types (RFC 4861 section 4).
inline constexpr std::uint8_t kNdRouterSolicit = 133;
inline constexpr std::uint8_t kNdRedirect = 137;

// Ones'-complement sum helpers (RFC 1071) for code that builds packets.
inline std::uint32_t csum_add(std::uint32_t sum, const std::uint8_t* p, std::size_t len) noexcept {
  for (; len > 1; len -= 2, p += 2) sum += load_be16(p);
  if (len) sum += static_cast<std::uint32_t>(p[0]) << 8;
  return sum;
}
inline std::uint16_t csum_fold(std::uint32_t sum) noexcept {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

}  // namespace causeway::fwd::wire
