// SPDX-License-Identifier: Apache-2.0
// How configuration errors show the values they refuse. Shared by the forwarder's config and
// routed's intent, so that both say the same thing about the same YAML. For messages only.
#pragma once

#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>

namespace causeway {

// "value" with quotes and escapes (control characters as \xNN), cut after 64 characters.
inline std::string quote(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  std::size_t shown = 0;
  for (char c : text) {
    if (++shown > 64) {
      out += "...";
      break;
    }
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u == 0x7f) {
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 15];
    } else {
      out += c;
    }
  }
  return out + '"';
}

// What a node is, for "expected X, got Y": the scalar itself (saying so when it was quoted in
// the file, which is why a number in quotes is refused), or its kind.
inline std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "nothing (null)";
    case YAML::NodeType::Scalar:
      if (node.Tag() == "!") return "the quoted string " + quote(node.Scalar());
      return quote(node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Undefined:
      break;
  }
  return "an undefined value";
}

}  // namespace causeway
