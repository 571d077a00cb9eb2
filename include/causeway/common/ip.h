// SPDX-License-Identifier: Apache-2.0
// Plain IPv4/IPv6 address and prefix types shared by every module. Addresses are kept in
// network byte order (as on the wire); parse/format go through inet_pton/inet_ntop.
#pragma once

#include <arpa/inet.h>

#include <array>
#include <charconv>
#include <compare>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace causeway {

enum class Family : std::uint8_t { kV4 = 4, kV6 = 6 };

struct IpAddress {
  Family family = Family::kV4;
  std::array<std::uint8_t, 16> bytes{};  // IPv4 uses the first 4 bytes; the rest stay zero

  static IpAddress v4(std::uint32_t host_order) {
    IpAddress a;
    a.family = Family::kV4;
    a.bytes[0] = static_cast<std::uint8_t>(host_order >> 24);
    a.bytes[1] = static_cast<std::uint8_t>(host_order >> 16);
    a.bytes[2] = static_cast<std::uint8_t>(host_order >> 8);
    a.bytes[3] = static_cast<std::uint8_t>(host_order);
    return a;
  }
  [[nodiscard]] bool is_v4() const { return family == Family::kV4; }
  [[nodiscard]] std::uint32_t v4_host_order() const {
    return (std::uint32_t{bytes[0]} << 24) | (std::uint32_t{bytes[1]} << 16) |
           (std::uint32_t{bytes[2]} << 8) | std::uint32_t{bytes[3]};
  }
  [[nodiscard]] std::size_t size() const { return is_v4() ? 4 : 16; }

  static std::optional<IpAddress> parse(std::string_view text) {
    char buf[INET6_ADDRSTRLEN + 1];
    if (text.empty() || text.size() >= sizeof(buf)) return std::nullopt;
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    IpAddress a;
    if (inet_pton(AF_INET, buf, a.bytes.data()) == 1) {
      a.family = Family::kV4;
      return a;
    }
    if (inet_pton(AF_INET6, buf, a.bytes.data()) == 1) {
      a.family = Family::kV6;
      return a;
    }
    return std::nullopt;
  }
  [[nodiscard]] std::string str() const {
    char buf[INET6_ADDRSTRLEN];
    inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes.data(), buf, sizeof(buf));
    return buf;
  }
  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;
};

struct IpPrefix {
  IpAddress addr;  // host bits are zero after parse(..., true) / masked()
  std::uint8_t len = 0;

  [[nodiscard]] std::uint8_t max_len() const { return addr.is_v4() ? 32 : 128; }
  [[nodiscard]] IpPrefix masked() const {
    IpPrefix p = *this;
    for (unsigned i = 0; i < 16; ++i) {
      unsigned bit = i * 8;
      if (bit >= len) {
        p.addr.bytes[i] = 0;
      } else if (bit + 8 > len) {
        p.addr.bytes[i] &= static_cast<std::uint8_t>(0xff00u >> (len - bit));
      }
    }
    return p;
  }
  [[nodiscard]] bool contains(const IpAddress& a) const {
    if (a.family != addr.family) return false;
    IpPrefix probe{a, len};
    return probe.masked().addr == masked().addr;
  }
  // "10.0.0.0/8", "2001:db8::/32"; a bare address is a host prefix when allow_host is set.
  static std::optional<IpPrefix> parse(std::string_view text, bool allow_host = false) {
    auto slash = text.find('/');
    auto addr = IpAddress::parse(text.substr(0, slash));
    if (!addr) return std::nullopt;
    IpPrefix p{*addr, static_cast<std::uint8_t>(addr->is_v4() ? 32 : 128)};
    if (slash == std::string_view::npos) {
      if (!allow_host) return std::nullopt;
      return p;
    }
    auto digits = text.substr(slash + 1);
    unsigned len = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), len);
    if (ec != std::errc() || ptr != digits.data() + digits.size() || digits.empty() ||
        len > p.max_len()) {
      return std::nullopt;
    }
    p.len = static_cast<std::uint8_t>(len);
    return p;
  }
  [[nodiscard]] std::string str() const { return addr.str() + "/" + std::to_string(len); }
  friend auto operator<=>(const IpPrefix&, const IpPrefix&) = default;
};

struct MacAddress {
  std::array<std::uint8_t, 6> bytes{};

  static std::optional<MacAddress> parse(std::string_view text) {
    MacAddress m;
    if (text.size() != 17) return std::nullopt;
    for (unsigned i = 0; i < 6; ++i) {
      if (i > 0 && text[i * 3 - 1] != ':') return std::nullopt;
      auto part = text.substr(i * 3, 2);
      auto [ptr, ec] = std::from_chars(part.data(), part.data() + 2, m.bytes[i], 16);
      if (ec != std::errc() || ptr != part.data() + 2) return std::nullopt;
    }
    return m;
  }
  [[nodiscard]] std::string str() const {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string s;
    for (unsigned i = 0; i < 6; ++i) {
      if (i) s += ':';
      s += kHex[bytes[i] >> 4];
      s += kHex[bytes[i] & 15];
    }
    return s;
  }
  friend auto operator<=>(const MacAddress&, const MacAddress&) = default;
};

}  // namespace causeway
