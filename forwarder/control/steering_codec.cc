// SPDX-License-Identifier: Apache-2.0
// Steering messages of the control socket (include/causeway/fwd/steering_codec.h): JSON in,
// validated values out, and back. Untrusted input: every type is checked before it is read.
#include "causeway/fwd/steering_codec.h"

#include <cerrno>
#include <charconv>
#include <set>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "control/json_fields.h"

namespace causeway::fwd::ctl {
namespace {

using nlohmann::json;

constexpr std::pair<std::string_view, std::uint8_t> kProtocols[] = {
    {"icmp", 1}, {"tcp", 6}, {"udp", 17}, {"gre", 47}, {"esp", 50}, {"icmpv6", 58}, {"sctp", 132}};

using json_fields::as_uint;
using json_fields::invalid;

std::optional<std::uint64_t> to_number(std::string_view text) {
  std::uint64_t v = 0;
  if (text.empty() || text.size() > 10) return std::nullopt;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size()) return std::nullopt;
  return v;
}

std::optional<ClassPortRange> parse_port_range(const json& v) {
  if (auto n = as_uint(v)) {
    if (*n > 65535) return std::nullopt;
    return ClassPortRange{static_cast<std::uint16_t>(*n), static_cast<std::uint16_t>(*n)};
  }
  if (!v.is_string()) return std::nullopt;
  const std::string& s = v.get_ref<const std::string&>();
  const auto dash = s.find('-');
  auto first = to_number(std::string_view(s).substr(0, dash));
  auto last = dash == std::string::npos ? first : to_number(std::string_view(s).substr(dash + 1));
  if (!first || !last || *first > 65535 || *last > 65535 || *first > *last) return std::nullopt;
  return ClassPortRange{static_cast<std::uint16_t>(*first), static_cast<std::uint16_t>(*last)};
}

// Optional list `key` of `obj`: each element through `one`, at most `max` of them.
template <typename T, typename F>
Result<void> read_list(const json& obj, const char* key, const std::string& at, std::size_t max,
                       std::vector<T>& out, F one) {
  auto it = obj.find(key);
  if (it == obj.end()) return boost::outcome_v2::success();
  const std::string where = at + "." + key;
  if (!it->is_array()) return invalid(where, "expected a list");
  if (it->size() > max)
    return invalid(where, fmt::format("{} entries; at most {}", it->size(), max));
  for (std::size_t i = 0; i < it->size(); ++i) {
    auto v = one((*it)[i], fmt::format("{}[{}]", where, i));
    if (!v) return v.error();
    out.push_back(std::move(v).value());
  }
  return boost::outcome_v2::success();
}

Result<TrafficClassSpec> parse_class(const json& c, const std::string& at) {
  static const std::set<std::string_view> kKeys = {
      "id",        "name",      "dscp",     "protocol",     "ports",
      "src_ports", "dst_ports", "prefixes", "src_prefixes", "dst_prefixes"};
  if (!c.is_object()) return invalid(at, "expected an object");
  for (const auto& [key, value] : c.items()) {
    if (!kKeys.contains(key)) return invalid(at + "." + key, "unknown key");
  }
  TrafficClassSpec s;
  auto id = c.find("id");
  const auto n = id == c.end() ? std::nullopt : as_uint(*id);
  if (!n || *n < 1 || *n > kMaxTrafficClassId) {
    return invalid(at + ".id", fmt::format("expected a class number 1..{}", kMaxTrafficClassId));
  }
  s.id = static_cast<std::uint8_t>(*n);
  if (auto n = c.find("name"); n != c.end()) {
    if (!n->is_string() || n->get_ref<const std::string&>().size() > kMaxClassNameLength) {
      return invalid(at + ".name", fmt::format("expected a string of at most {} characters",
                                               kMaxClassNameLength));
    }
    s.name = n->get<std::string>();
  }
  if (auto r = read_list(c, "dscp", at, 64, s.dscp,
                         [](const json& v, const std::string& where) -> Result<std::uint8_t> {
                           const auto d = as_uint(v);
                           if (!d || *d > 63) return invalid(where, "expected a DSCP value 0..63");
                           return static_cast<std::uint8_t>(*d);
                         });
      !r) {
    return r.error();
  }
  for (std::size_t i = 0; i < s.dscp.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (s.dscp[i] == s.dscp[j]) {
        return invalid(fmt::format("{}.dscp[{}]", at, i), "listed twice");
      }
    }
  }
  if (auto p = c.find("protocol"); p != c.end()) {
    s.protocol = parse_ip_protocol(*p);
    if (!s.protocol) {
      return invalid(at + ".protocol", "expected tcp, udp, sctp, icmp, icmpv6, gre, esp or 0..255");
    }
  }
  auto range = [](const json& v, const std::string& where) -> Result<ClassPortRange> {
    auto r = parse_port_range(v);
    if (!r) return invalid(where, "expected a port or \"first-last\" (0..65535, first <= last)");
    return *r;
  };
  for (auto [key, list] : {std::pair{"ports", &s.ports}, std::pair{"src_ports", &s.src_ports},
                           std::pair{"dst_ports", &s.dst_ports}}) {
    if (auto r = read_list(c, key, at, kMaxClassPortRanges, *list, range); !r) return r.error();
  }
  const bool has_ports = !s.ports.empty() || !s.src_ports.empty() || !s.dst_ports.empty();
  if (has_ports && s.protocol && *s.protocol != 6 && *s.protocol != 17 && *s.protocol != 132) {
    return invalid(at + ".protocol", "ports need protocol tcp, udp or sctp");
  }
  auto prefix = [](const json& v, const std::string& where) -> Result<IpPrefix> {
    auto p = v.is_string() ? IpPrefix::parse(v.get_ref<const std::string&>()) : std::nullopt;
    if (!p || !(p->masked() == *p)) {
      return invalid(where, "expected a prefix with zero host bits (10.1.0.0/16)");
    }
    return *p;
  };
  for (auto [key, list] :
       {std::pair{"prefixes", &s.prefixes}, std::pair{"src_prefixes", &s.src_prefixes},
        std::pair{"dst_prefixes", &s.dst_prefixes}}) {
    if (auto r = read_list(c, key, at, kMaxClassPrefixes, *list, prefix); !r) return r.error();
  }
  return s;
}

json range_json(const ClassPortRange& r) {
  return r.first == r.last ? fmt::format("{}", r.first) : fmt::format("{}-{}", r.first, r.last);
}

Result<PathMemberName> parse_member(const json& m, const std::string& where) {
  if (!m.is_object() || !m.contains("tunnel") || !m["tunnel"].is_string() || !m.contains("peer") ||
      !m["peer"].is_string()) {
    return invalid(where, "expected {\"tunnel\": name, \"peer\": name or key}");
  }
  return PathMemberName{m["tunnel"].get<std::string>(), m["peer"].get<std::string>()};
}

json members_json(const std::vector<PathMemberName>& members) {
  json out = json::array();
  for (const auto& m : members) out.push_back({{"tunnel", m.tunnel}, {"peer", m.peer}});
  return out;
}

}  // namespace

std::optional<std::uint8_t> parse_ip_protocol(const json& value) {
  if (value.is_number_integer()) {
    const auto n = as_uint(value);
    if (!n || *n > 255) return std::nullopt;
    return static_cast<std::uint8_t>(*n);
  }
  if (!value.is_string()) return std::nullopt;
  const std::string& s = value.get_ref<const std::string&>();
  for (const auto& [name, number] : kProtocols) {
    if (s == name) return number;
  }
  if (auto n = to_number(s); n && *n <= 255) return static_cast<std::uint8_t>(*n);
  return std::nullopt;
}

Result<std::vector<TrafficClassSpec>> parse_traffic_classes(const json& request) {
  if (!request.is_object()) return invalid("request", "expected an object");
  auto it = request.find("classes");
  if (it == request.end() || !it->is_array()) return invalid("classes", "expected a list");
  if (it->size() > kMaxTrafficClassId) {
    return invalid("classes",
                   fmt::format("{} classes; at most {}", it->size(), kMaxTrafficClassId));
  }
  std::vector<TrafficClassSpec> out;
  for (std::size_t i = 0; i < it->size(); ++i) {
    auto c = parse_class((*it)[i], fmt::format("classes[{}]", i));
    if (!c) return c.error();
    for (const auto& before : out) {
      if (before.id == c.value().id) {
        return invalid(fmt::format("classes[{}].id", i),
                       fmt::format("class {} is listed twice", c.value().id));
      }
    }
    out.push_back(std::move(c).value());
  }
  return out;
}

json traffic_classes_json(const std::vector<TrafficClassSpec>& classes) {
  json out = json::array();
  for (const auto& c : classes) {
    json j = {{"id", c.id}, {"name", c.name}};
    if (!c.dscp.empty()) j["dscp"] = c.dscp;
    if (c.protocol) j["protocol"] = *c.protocol;
    for (auto [key, list] : {std::pair{"ports", &c.ports}, std::pair{"src_ports", &c.src_ports},
                             std::pair{"dst_ports", &c.dst_ports}}) {
      if (list->empty()) continue;
      json l = json::array();
      for (const auto& r : *list) l.push_back(range_json(r));
      j[key] = l;
    }
    for (auto [key, list] :
         {std::pair{"prefixes", &c.prefixes}, std::pair{"src_prefixes", &c.src_prefixes},
          std::pair{"dst_prefixes", &c.dst_prefixes}}) {
      if (list->empty()) continue;
      json l = json::array();
      for (const auto& p : *list) l.push_back(p.str());
      j[key] = l;
    }
    out.push_back(std::move(j));
  }
  return json{{"classes", out}};
}

Result<PathGroupRequest> parse_path_group(const json& request, unsigned max_groups) {
  if (!request.is_object()) return invalid("request", "expected an object");
  PathGroupRequest g;
  auto id = request.find("id");
  const auto n = id == request.end() ? std::nullopt : as_uint(*id);
  if (!n) return invalid("id", "expected a path group number");
  if (*n >= max_groups) {
    return invalid("id", fmt::format("{} out of range (0..{})", *n, max_groups - 1));
  }
  g.id = static_cast<std::uint16_t>(*n);
  const std::string root = "";
  auto members = [&](const json& obj, const char* key, const std::string& at,
                     std::vector<PathMemberName>& out) -> Result<void> {
    auto it = obj.find(key);
    if (it == obj.end()) return boost::outcome_v2::success();
    const std::string where = at.empty() ? key : at + "." + key;
    if (!it->is_array()) return invalid(where, "expected a list");
    for (std::size_t i = 0; i < it->size(); ++i) {
      auto m = parse_member((*it)[i], fmt::format("{}[{}]", where, i));
      if (!m) return m.error();
      out.push_back(std::move(m).value());
    }
    return boost::outcome_v2::success();
  };
  if (auto r = members(request, "members", root, g.members); !r) return r.error();
  if (auto r = members(request, "active", root, g.active); !r) return r.error();
  auto classes = request.find("classes");
  if (classes == request.end()) return g;
  if (!classes->is_array()) return invalid("classes", "expected a list");
  for (std::size_t i = 0; i < classes->size(); ++i) {
    const json& c = (*classes)[i];
    const std::string at = fmt::format("classes[{}]", i);
    if (!c.is_object()) return invalid(at, "expected {\"class\": N, \"active\": [...]}");
    auto cls = c.find("class");
    const auto cn = cls == c.end() ? std::nullopt : as_uint(*cls);
    if (!cn || *cn > kMaxTrafficClassId) {
      return invalid(at + ".class",
                     fmt::format("expected a class number 0..{}", kMaxTrafficClassId));
    }
    if (!c.contains("active")) return invalid(at + ".active", "missing (an empty list drops)");
    ClassActive ca;
    ca.traffic_class = static_cast<std::uint8_t>(*cn);
    for (const auto& before : g.classes) {
      if (before.traffic_class == ca.traffic_class) {
        return invalid(at + ".class", fmt::format("class {} is listed twice", ca.traffic_class));
      }
    }
    if (auto r = members(c, "active", at, ca.active); !r) return r.error();
    g.classes.push_back(std::move(ca));
  }
  return g;
}

json path_group_json(const PathGroupRequest& request) {
  json j = {{"id", request.id},
            {"members", members_json(request.members)},
            {"active", members_json(request.active)}};
  if (!request.classes.empty()) {
    json cl = json::array();
    for (const auto& c : request.classes) {
      cl.push_back({{"class", c.traffic_class}, {"active", members_json(c.active)}});
    }
    j["classes"] = cl;
  }
  return j;
}

}  // namespace causeway::fwd::ctl
