// SPDX-License-Identifier: Apache-2.0
// Intent file reader and validator (control path; schema in docs/intent.md).
//
// Flow: YAML text -> yaml-cpp node tree (syntax errors carry line and column) -> one reader
// per section, in dependency order (identity, backbones, segments, ports, SLA classes,
// traffic classes, peers, probes, bgp), so every cross-reference is checked against
// sections already read. Each reader opens its map against the section's key list (unknown
// and duplicate keys are errors), converts each field with its type and range, then checks
// rules that span fields and entries (unique names, addresses, references). The first error
// ends the parse. Inside this file an error travels as an Invalid exception from the reader
// that found it to parse_intent(), the only place that catches it: that keeps each reader a
// straight list of fields. Nothing leaves this file as an exception.
#include "intent/intent.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <map>
#include <set>
#include <sstream>
#include <utility>

#include "causeway/common/yaml_text.h"

namespace causeway::rt::intent {
namespace {

constexpr std::size_t kNameMax = 32;
constexpr std::size_t kIfNameMax = 15;     // Linux IFNAMSIZ minus the NUL
constexpr std::size_t kUnixPathMax = 107;  // sockaddr_un::sun_path minus the NUL
constexpr std::size_t kDescriptionMax = 80;
constexpr std::size_t kMaxIntentBytes = 16u << 20;
constexpr std::uint64_t kMaxSchemaVersion = 1;
constexpr std::string_view kYamlStrTag = "tag:yaml.org,2002:str";

struct Invalid {
  std::string path;
  std::string what;
  YAML::Mark mark;
};

[[noreturn]] void invalid(const std::string& path, const YAML::Node& node, std::string what) {
  throw Invalid{path, std::move(what), node.Mark()};
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

std::string item_path(const std::string& parent, std::size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

// A YAML map checked against its schema's keys. A null node (`probes:` with nothing after
// it) is an empty map, so every key takes its default.
class Map {
 public:
  Map(const YAML::Node& node, std::string path, std::initializer_list<std::string_view> keys)
      : node_(node), path_(std::move(path)) {
    if (node.IsNull()) return;
    if (!node.IsMap()) invalid(path_, node, "expected a map, got " + describe(node));
    for (const auto& entry : node) {
      const YAML::Node& key_node = entry.first;
      if (!key_node.IsScalar()) invalid(path_, key_node, "keys must be plain names");
      const std::string& key = key_node.Scalar();
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        std::vector<std::string> allowed(keys.begin(), keys.end());
        invalid(at(key), key_node, "unknown key; allowed keys: " + join(allowed, ", "));
      }
      if (entries_.count(key) != 0) invalid(at(key), key_node, "duplicate key");
      entries_.emplace(key, entry.second);
    }
  }

  [[nodiscard]] std::string at(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] const YAML::Node& node() const { return node_; }

  [[nodiscard]] std::optional<YAML::Node> get(std::string_view key) const {
    auto it = entries_.find(std::string(key));
    if (it == entries_.end()) return std::nullopt;
    return it->second;
  }
  [[nodiscard]] YAML::Node need(std::string_view key) const {
    if (auto value = get(key)) return *value;
    invalid(at(key), node_, "required key is missing");
  }

 private:
  YAML::Node node_;
  std::string path_;
  std::map<std::string, YAML::Node> entries_;
};

// ---- scalars ------------------------------------------------------------------------------

bool is_quoted(const YAML::Node& node) {
  return node.Tag() == "!" || node.Tag() == kYamlStrTag;
}

std::string to_str(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) invalid(path, node, "expected a string, got " + describe(node));
  return node.Scalar();
}

std::uint64_t to_uint(const YAML::Node& node, const std::string& path, std::uint64_t lo,
                      std::uint64_t hi) {
  const std::string range = " (" + std::to_string(lo) + ".." + std::to_string(hi) + ")";
  if (!node.IsScalar() || is_quoted(node)) {
    invalid(path, node, "expected an integer" + range + ", got " + describe(node));
  }
  const std::string& text = node.Scalar();
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || end != text.data() + text.size()) {
    invalid(path, node, "expected an integer" + range + ", got " + describe(node));
  }
  if (ec != std::errc() || value < lo || value > hi) {
    invalid(path, node, text + " is out of range" + range);
  }
  return value;
}

double to_number(const YAML::Node& node, const std::string& path, double lo, double hi) {
  std::ostringstream range;
  range << " (" << lo << ".." << hi << ")";
  if (!node.IsScalar() || is_quoted(node)) {
    invalid(path, node, "expected a number" + range.str() + ", got " + describe(node));
  }
  const std::string& text = node.Scalar();
  double value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || end != text.data() + text.size() || ec != std::errc() ||
      !std::isfinite(value)) {
    invalid(path, node, "expected a number" + range.str() + ", got " + describe(node));
  }
  if (value < lo || value > hi) invalid(path, node, text + " is out of range" + range.str());
  return value;
}

bool to_bool(const YAML::Node& node, const std::string& path) {
  if (node.IsScalar() && !is_quoted(node)) {
    const std::string& text = node.Scalar();
    if (text == "true") return true;
    if (text == "false") return false;
  }
  invalid(path, node, "expected true or false, got " + describe(node));
}

std::vector<YAML::Node> to_list(const YAML::Node& node, const std::string& path) {
  std::vector<YAML::Node> items;
  if (node.IsNull()) return items;
  if (!node.IsSequence()) invalid(path, node, "expected a list, got " + describe(node));
  for (const auto& item : node) items.push_back(item);
  return items;
}

// One value or a list of values of the same kind.
std::vector<YAML::Node> to_one_or_list(const YAML::Node& node, const std::string& path) {
  if (node.IsScalar()) return {node};
  return to_list(node, path);
}

template <typename T>
T one_of(const YAML::Node& node, const std::string& path,
         std::initializer_list<std::pair<std::string_view, T>> choices) {
  std::vector<std::string> names;
  if (node.IsScalar()) {
    for (const auto& [name, value] : choices) {
      if (node.Scalar() == name) return value;
    }
  }
  for (const auto& choice : choices) names.emplace_back(choice.first);
  invalid(path, node, "expected one of " + join(names, ", ") + ", got " + describe(node));
}

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

// Names appear in FRR configuration, metrics labels and file names: a conservative set.
std::string to_name(const YAML::Node& node, const std::string& path, std::size_t max = kNameMax) {
  std::string text = to_str(node, path);
  if (text.empty() || text.size() > max || !std::all_of(text.begin(), text.end(), is_name_char) ||
      text.front() == '-' || text.front() == '.') {
    invalid(path, node,
            "expected a name of 1.." + std::to_string(max) +
                " letters, digits, '-', '_' or '.' (not starting with '-' or '.'), got " +
                describe(node));
  }
  return text;
}

bool is_unspecified(const IpAddress& a) {
  return std::all_of(a.bytes.begin(), a.bytes.begin() + static_cast<long>(a.size()),
                     [](std::uint8_t b) { return b == 0; });
}
bool is_multicast(const IpAddress& a) {
  return a.is_v4() ? (a.bytes[0] & 0xf0) == 0xe0 : a.bytes[0] == 0xff;
}

// A unicast address a router can use as its own or a neighbour's.
IpAddress to_address(const YAML::Node& node, const std::string& path) {
  const std::string text = to_str(node, path);
  auto address = IpAddress::parse(text);
  if (!address || text.find('/') != std::string::npos) {
    invalid(path, node, "expected an IPv4 or IPv6 address, got " + describe(node));
  }
  if (is_unspecified(*address) || is_multicast(*address)) {
    invalid(path, node, text + " is not a unicast address");
  }
  return *address;
}

IpAddress to_ipv4(const YAML::Node& node, const std::string& path) {
  IpAddress address = to_address(node, path);
  if (!address.is_v4()) invalid(path, node, "expected an IPv4 address, got " + describe(node));
  return address;
}

// A route prefix: host bits must be zero ("10.1.0.0/16", not "10.1.2.3/16").
IpPrefix to_prefix(const YAML::Node& node, const std::string& path) {
  const std::string text = to_str(node, path);
  auto prefix = IpPrefix::parse(text);
  if (!prefix) invalid(path, node, "expected a prefix like 10.1.0.0/16, got " + describe(node));
  if (prefix->masked() != *prefix) {
    invalid(path, node, "host bits are set; did you mean " + prefix->masked().str() + "?");
  }
  return *prefix;
}

// An interface address with its subnet length ("10.0.0.1/24"); host bits are kept.
IpPrefix to_interface_address(const YAML::Node& node, const std::string& path) {
  const std::string text = to_str(node, path);
  auto prefix = IpPrefix::parse(text);
  if (!prefix) {
    invalid(path, node,
            "expected an address with prefix length like 10.0.0.1/24, got " + describe(node));
  }
  if (is_unspecified(prefix->addr) || is_multicast(prefix->addr) ||
      (prefix->len < prefix->max_len() && prefix->masked().addr == prefix->addr)) {
    invalid(path, node, text + " is not a usable interface address");
  }
  return *prefix;
}

bool is_base64_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '/';
}

// A WireGuard key as `wg genkey` prints it (32 bytes in base64: 43 characters, '=' last, and
// the 43rd character carries only 4 key bits), or "file:/absolute/path" to read at start.
std::string to_key(const YAML::Node& node, const std::string& path) {
  const std::string text = to_str(node, path);
  if (text.rfind("file:", 0) == 0) {
    const std::string file = text.substr(5);
    if (file.empty() || file.front() != '/' || std::any_of(file.begin(), file.end(), [](char c) {
          return static_cast<unsigned char>(c) < 0x20;
        })) {
      invalid(path, node, "a file: key needs an absolute path, got " + describe(node));
    }
    return text;
  }
  static constexpr std::string_view kLastKeyChar = "AEIMQUYcgkosw048";
  const bool ok = text.size() == 44 && text[43] == '=' &&
                  std::all_of(text.begin(), text.begin() + 43, is_base64_char) &&
                  kLastKeyChar.find(text[42]) != std::string_view::npos;
  if (!ok) {
    invalid(path, node,
            "expected a 44-character base64 WireGuard key (wg genkey / wg pubkey) or "
            "file:/path, got " +
                describe(node));
  }
  return text;
}

std::uint16_t to_port_number(const YAML::Node& node, const std::string& path) {
  return static_cast<std::uint16_t>(to_uint(node, path, 1, 65535));
}

std::string to_description(const YAML::Node& node, const std::string& path) {
  std::string text = to_str(node, path);
  if (text.size() > kDescriptionMax || std::any_of(text.begin(), text.end(), [](char c) {
        return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
      })) {
    invalid(path, node,
            "expected at most " + std::to_string(kDescriptionMax) +
                " printable characters on one line");
  }
  return text;
}

// Remembers names (or other keys) seen in one list and reports the first repeat.
class Unique {
 public:
  explicit Unique(std::string what) : what_(std::move(what)) {}
  void add(const std::string& key, const std::string& path, const YAML::Node& node) {
    auto [it, inserted] = seen_.emplace(key, path);
    if (!inserted) invalid(path, node, what_ + " " + key + " is already used by " + it->second);
  }
  [[nodiscard]] bool has(const std::string& key) const { return seen_.count(key) != 0; }

 private:
  std::string what_;
  std::map<std::string, std::string> seen_;
};

// A list of route prefixes; each must be new to `seen`.
std::vector<IpPrefix> to_prefixes(const YAML::Node& node, const std::string& path, Unique& seen) {
  std::vector<IpPrefix> out;
  auto list = to_list(node, path);
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string at = item_path(path, i);
    IpPrefix prefix = to_prefix(list[i], at);
    seen.add(prefix.str(), at, list[i]);
    out.push_back(prefix);
  }
  return out;
}

template <typename T>
const T* find_named(const std::vector<T>& items, std::string_view name) {
  for (const T& item : items) {
    if (item.name == name) return &item;
  }
  return nullptr;
}

template <typename T>
void need_named(const std::vector<T>& items, const std::string& name, const char* section,
                const std::string& path, const YAML::Node& node) {
  if (find_named(items, name) != nullptr) return;
  std::vector<std::string> names;
  for (const T& item : items) names.push_back(item.name);
  invalid(path, node,
          std::string("no ") + section + " named " + quote(name) +
              (names.empty() ? std::string(" (none defined)")
                             : " (defined: " + join(names, ", ") + ")"));
}

// ---- sections -------------------------------------------------------------------------------

class Reader {
 public:
  Intent read(const YAML::Node& root) {
    Map top(root, "",
            {"version", "identity", "forwarder", "fpm", "backbones", "ports", "peers", "segments",
             "sla_classes", "traffic_classes", "probes", "bgp"});
    if (root.IsNull()) invalid("", root, "the document is empty");
    to_uint(top.need("version"), "version", 1, kMaxSchemaVersion);
    read_identity(Map(top.need("identity"), "identity",
                      {"pop", "router_id", "private_key", "overlay_address", "listen_port"}));
    if (auto node = top.get("forwarder"))
      read_forwarder(Map(*node, "forwarder", {"control_socket"}));
    if (auto node = top.get("fpm")) read_fpm(Map(*node, "fpm", {"port", "next_hop_groups"}));
    read_backbones(top.need("backbones"), "backbones");
    if (auto node = top.get("segments")) read_segments(*node, "segments");
    read_ports(top.need("ports"), "ports");
    check_backbones_reached(top.need("backbones"));
    if (auto node = top.get("sla_classes")) read_sla_classes(*node, "sla_classes");
    if (auto node = top.get("traffic_classes")) read_traffic_classes(*node, "traffic_classes");
    if (auto node = top.get("peers")) read_peers(*node, "peers");
    if (auto node = top.get("probes")) {
      read_probes(
          Map(*node, "probes",
              {"interval_ms", "window", "blackout_probes", "hold_down_ms", "hysteresis_pct"}));
    }
    read_bgp(Map(top.need("bgp"), "bgp",
                 {"asn", "ibgp", "keepalive_s", "hold_s", "import_check", "neighbors", "announce",
                  "sla_communities", "bfd"}));
    return std::move(intent_);
  }

 private:
  void read_identity(const Map& m) {
    Identity& id = intent_.identity;
    id.pop = to_name(m.need("pop"), m.at("pop"));
    id.router_id = to_ipv4(m.need("router_id"), m.at("router_id"));
    id.private_key = to_key(m.need("private_key"), m.at("private_key"));
    id.overlay_address = to_address(m.need("overlay_address"), m.at("overlay_address"));
    if (auto n = m.get("listen_port")) id.listen_port = to_port_number(*n, m.at("listen_port"));
  }

  void read_forwarder(const Map& m) {
    if (auto n = m.get("control_socket")) {
      std::string path = to_str(*n, m.at("control_socket"));
      if (path.empty() || path.front() != '/' || path.size() > kUnixPathMax) {
        invalid(m.at("control_socket"), *n,
                "expected an absolute path of at most " + std::to_string(kUnixPathMax) +
                    " characters (a UNIX socket address)");
      }
      intent_.forwarder.control_socket = path;
    }
  }

  void read_fpm(const Map& m) {
    if (auto n = m.get("port")) intent_.fpm.port = to_port_number(*n, m.at("port"));
    if (auto n = m.get("next_hop_groups")) {
      intent_.fpm.next_hop_groups = to_bool(*n, m.at("next_hop_groups"));
    }
  }

  void read_backbones(const YAML::Node& node, const std::string& path) {
    auto items = to_list(node, path);
    if (items.empty()) invalid(path, node, "at least one backbone is required");
    Unique names("backbone");
    for (std::size_t i = 0; i < items.size(); ++i) {
      Map m(items[i], item_path(path, i), {"name", "description"});
      Backbone b;
      b.name = to_name(m.need("name"), m.at("name"));
      names.add(b.name, m.at("name"), m.need("name"));
      if (auto n = m.get("description")) b.description = to_description(*n, m.at("description"));
      intent_.backbones.push_back(std::move(b));
    }
  }

  void read_segments(const YAML::Node& node, const std::string& path) {
    auto items = to_list(node, path);
    Unique names("segment");
    Unique tables("table");
    for (std::size_t i = 0; i < items.size(); ++i) {
      Map m(items[i], item_path(path, i), {"name", "table"});
      Segment s;
      s.name = to_name(m.need("name"), m.at("name"));
      names.add(s.name, m.at("name"), m.need("name"));
      // 0 is "unspecified"; 253..255 are the kernel's default, main and local tables.
      const YAML::Node table = m.need("table");
      s.table = static_cast<std::uint32_t>(to_uint(table, m.at("table"), 1, 0xffffffffu));
      if (s.table >= 253 && s.table <= 255) {
        invalid(m.at("table"), table, "tables 253..255 are reserved by the kernel");
      }
      tables.add(std::to_string(s.table), m.at("table"), table);
      intent_.segments.push_back(std::move(s));
    }
  }

  void read_ports(const YAML::Node& node, const std::string& path) {
    auto items = to_list(node, path);
    if (items.empty()) invalid(path, node, "at least one port is required");
    Unique names("port name");
    Unique addresses("address");
    for (std::size_t i = 0; i < items.size(); ++i) {
      Map m(items[i], item_path(path, i), {"name", "role", "backbone", "segment", "addresses"});
      Port p;
      p.name = to_name(m.need("name"), m.at("name"), kIfNameMax);
      names.add(p.name, m.at("name"), m.need("name"));
      p.role = one_of<PortRole>(m.need("role"), m.at("role"),
                                {{"lan", PortRole::kLan}, {"wan", PortRole::kWan}});
      if (auto n = m.get("backbone")) {
        if (p.role != PortRole::kWan)
          invalid(m.at("backbone"), *n, "only WAN ports have a backbone");
        p.backbone = to_name(*n, m.at("backbone"));
        need_named(intent_.backbones, p.backbone, "backbone", m.at("backbone"), *n);
      } else if (p.role == PortRole::kWan) {
        invalid(m.at("backbone"), m.node(),
                "required key is missing (WAN ports name their backbone)");
      }
      if (auto n = m.get("segment")) {
        if (p.role != PortRole::kLan) invalid(m.at("segment"), *n, "only LAN ports have a segment");
        p.segment = to_name(*n, m.at("segment"));
        need_named(intent_.segments, p.segment, "segment", m.at("segment"), *n);
      }
      if (auto n = m.get("addresses")) {
        auto list = to_list(*n, m.at("addresses"));
        for (std::size_t j = 0; j < list.size(); ++j) {
          const std::string at = item_path(m.at("addresses"), j);
          IpPrefix a = to_interface_address(list[j], at);
          addresses.add(a.addr.str(), at, list[j]);
          p.addresses.push_back(a);
        }
      }
      intent_.ports.push_back(std::move(p));
    }
  }

  void check_backbones_reached(const YAML::Node& node) {
    auto items = to_list(node, "backbones");
    for (std::size_t i = 0; i < intent_.backbones.size(); ++i) {
      const std::string& name = intent_.backbones[i].name;
      const bool reached = std::any_of(intent_.ports.begin(), intent_.ports.end(),
                                       [&](const Port& p) { return p.backbone == name; });
      if (!reached) {
        invalid(item_path("backbones", i) + ".name", items[i],
                "no WAN port reaches backbone " + name);
      }
    }
  }

  void read_sla_classes(const YAML::Node& node, const std::string& path) {
    auto items = to_list(node, path);
    Unique names("SLA class");
    for (std::size_t i = 0; i < items.size(); ++i) {
      Map m(items[i], item_path(path, i),
            {"name", "max_loss_pct", "max_latency_ms", "max_jitter_ms"});
      SlaClass c;
      c.name = to_name(m.need("name"), m.at("name"));
      names.add(c.name, m.at("name"), m.need("name"));
      c.max_loss_pct = to_number(m.need("max_loss_pct"), m.at("max_loss_pct"), 0, 100);
      c.max_latency_ms = to_number(m.need("max_latency_ms"), m.at("max_latency_ms"), 0.01, 60000);
      c.max_jitter_ms = to_number(m.need("max_jitter_ms"), m.at("max_jitter_ms"), 0, 60000);
      intent_.sla_classes.push_back(std::move(c));
    }
  }

  static std::uint8_t to_dscp(const YAML::Node& node, const std::string& path) {
    // RFC 2474 class selectors, RFC 2597 assured forwarding, RFC 3246 expedited forwarding.
    static const std::map<std::string, std::uint8_t, std::less<>> kNames = {
        {"be", 0},    {"cs0", 0},   {"cs1", 8},   {"cs2", 16},  {"cs3", 24},  {"cs4", 32},
        {"cs5", 40},  {"cs6", 48},  {"cs7", 56},  {"af11", 10}, {"af12", 12}, {"af13", 14},
        {"af21", 18}, {"af22", 20}, {"af23", 22}, {"af31", 26}, {"af32", 28}, {"af33", 30},
        {"af41", 34}, {"af42", 36}, {"af43", 38}, {"ef", 46},   {"va", 44}};
    if (node.IsScalar() && !node.Scalar().empty() &&
        !std::isdigit(static_cast<unsigned char>(node.Scalar()[0]))) {
      auto it = kNames.find(node.Scalar());
      if (it == kNames.end()) {
        invalid(path, node,
                "expected a DSCP value 0..63 or a name (ef, af11..af43, cs0..cs7, be, va), got " +
                    describe(node));
      }
      return it->second;
    }
    return static_cast<std::uint8_t>(to_uint(node, path, 0, 63));
  }

  static std::uint8_t to_protocol(const YAML::Node& node, const std::string& path) {
    if (node.IsScalar() && !is_quoted(node) && !node.Scalar().empty() &&
        std::isdigit(static_cast<unsigned char>(node.Scalar()[0]))) {
      return static_cast<std::uint8_t>(to_uint(node, path, 0, 255));
    }
    return one_of<std::uint8_t>(node, path,
                                {{"icmp", 1},
                                 {"tcp", 6},
                                 {"udp", 17},
                                 {"gre", 47},
                                 {"esp", 50},
                                 {"icmpv6", 58},
                                 {"sctp", 132}});
  }

  static PortRange to_port_range(const YAML::Node& node, const std::string& path) {
    if (node.IsScalar() && !is_quoted(node) && node.Scalar().find('-') == std::string::npos) {
      auto port = static_cast<std::uint16_t>(to_uint(node, path, 1, 65535));
      return {port, port};
    }
    const std::string text = to_str(node, path);
    const auto dash = text.find('-');
    std::uint16_t first = 0;
    std::uint16_t last = 0;
    const char* end = text.data() + text.size();
    bool ok = dash != std::string::npos;
    if (ok) {
      auto a = std::from_chars(text.data(), text.data() + dash, first);
      auto b = std::from_chars(text.data() + dash + 1, end, last);
      ok = a.ec == std::errc() && a.ptr == text.data() + dash && b.ec == std::errc() &&
           b.ptr == end && first >= 1 && first <= last;
    }
    if (!ok) {
      invalid(path, node,
              "expected a port 1..65535 or a range like \"8000-8100\", got " + describe(node));
    }
    return {first, last};
  }

  Match read_match(const Map& m) {
    Match match;
    if (auto n = m.get("dscp")) {
      auto list = to_list(*n, m.at("dscp"));
      std::set<std::uint8_t> seen;
      for (std::size_t i = 0; i < list.size(); ++i) {
        const std::uint8_t d = to_dscp(list[i], item_path(m.at("dscp"), i));
        if (!seen.insert(d).second)
          invalid(item_path(m.at("dscp"), i), list[i],
                  "DSCP " + std::to_string(d) + " is listed twice");
        match.dscp.push_back(d);
      }
    }
    if (auto n = m.get("protocol")) match.protocol = to_protocol(*n, m.at("protocol"));
    for (const char* key : {"src_ports", "dst_ports"}) {
      auto n = m.get(key);
      if (!n) continue;
      if (!match.protocol ||
          (*match.protocol != 6 && *match.protocol != 17 && *match.protocol != 132)) {
        invalid(m.at(key), *n, "ports need protocol tcp, udp or sctp");
      }
      auto list = to_list(*n, m.at(key));
      auto& out = std::string_view(key) == "src_ports" ? match.src_ports : match.dst_ports;
      for (std::size_t i = 0; i < list.size(); ++i)
        out.push_back(to_port_range(list[i], item_path(m.at(key), i)));
    }
    for (const char* key : {"src_prefixes", "dst_prefixes"}) {
      auto n = m.get(key);
      if (!n) continue;
      Unique seen("prefix");
      auto& out = std::string_view(key) == "src_prefixes" ? match.src_prefixes : match.dst_prefixes;
      out = to_prefixes(*n, m.at(key), seen);
    }
    return match;
  }

  void read_traffic_classes(const YAML::Node& node, const std::string& path) {
    auto items = to_list(node, path);
    Unique names("traffic class");
    for (std::size_t i = 0; i < items.size(); ++i) {
      Map m(items[i], item_path(path, i),
            {"name", "match", "sla_class", "backbones", "load_balance", "fallback"});
      TrafficClass t;
      t.name = to_name(m.need("name"), m.at("name"));
      names.add(t.name, m.at("name"), m.need("name"));
      if (auto n = m.get("match")) {
        t.match = read_match(
            Map(*n, m.at("match"),
                {"dscp", "protocol", "src_ports", "dst_ports", "src_prefixes", "dst_prefixes"}));
      }
      const YAML::Node sla = m.need("sla_class");
      t.sla_class = to_name(sla, m.at("sla_class"));
      need_named(intent_.sla_classes, t.sla_class, "SLA class", m.at("sla_class"), sla);
      const YAML::Node backbones = m.need("backbones");
      auto list = to_list(backbones, m.at("backbones"));
      if (list.empty()) invalid(m.at("backbones"), backbones, "at least one backbone is required");
      for (std::size_t j = 0; j < list.size(); ++j) {
        const std::string at = item_path(m.at("backbones"), j);
        std::string name = to_name(list[j], at);
        need_named(intent_.backbones, name, "backbone", at, list[j]);
        if (std::find(t.backbones.begin(), t.backbones.end(), name) != t.backbones.end()) {
          invalid(at, list[j], "backbone " + name + " is listed twice");
        }
        t.backbones.push_back(std::move(name));
      }
      if (auto n = m.get("load_balance")) {
        t.load_balance = one_of<LoadBalance>(
            *n, m.at("load_balance"),
            {{"preferred", LoadBalance::kPreferred}, {"ecmp", LoadBalance::kEcmp}});
      }
      if (auto n = m.get("fallback")) {
        Map f(*n, m.at("fallback"), {"mode", "backup_backbone", "variance_pct"});
        if (auto mode = f.get("mode")) {
          t.fallback.mode = one_of<FallbackMode>(*mode, f.at("mode"),
                                                 {{"best_of_worst", FallbackMode::kBestOfWorst},
                                                  {"backup", FallbackMode::kBackup},
                                                  {"drop", FallbackMode::kDrop}});
        }
        if (auto b = f.get("backup_backbone")) {
          if (t.fallback.mode != FallbackMode::kBackup) {
            invalid(f.at("backup_backbone"), *b,
                    "only fallback mode backup takes a backup_backbone");
          }
          t.fallback.backup_backbone = to_name(*b, f.at("backup_backbone"));
          need_named(intent_.backbones, t.fallback.backup_backbone, "backbone",
                     f.at("backup_backbone"), *b);
        } else if (t.fallback.mode == FallbackMode::kBackup) {
          invalid(f.at("backup_backbone"), f.node(),
                  "required key is missing (fallback mode backup)");
        }
        if (auto v = f.get("variance_pct")) {
          t.fallback.variance_pct = to_number(*v, f.at("variance_pct"), 0, 100);
        }
      }
      intent_.traffic_classes.push_back(std::move(t));
    }
  }

  Endpoint to_endpoint(const YAML::Node& node, const std::string& path) {
    const std::string text = to_str(node, path);
    std::string host = text;
    std::string port;
    if (!text.empty() && text.front() == '[') {  // [2001:db8::1]:51820
      const auto close = text.find(']');
      if (close == std::string::npos || (close + 1 < text.size() && text[close + 1] != ':')) {
        host.clear();
      } else {
        host = text.substr(1, close - 1);
        if (close + 1 < text.size()) port = text.substr(close + 2);
      }
    } else if (std::count(text.begin(), text.end(), ':') == 1) {  // 203.0.113.1:51820
      host = text.substr(0, text.find(':'));
      port = text.substr(text.find(':') + 1);
    }
    Endpoint e;
    auto address = IpAddress::parse(host);
    bool ok = address.has_value();
    if (ok && text.find(':') != std::string::npos && text.front() != '[' && !address->is_v4()) {
      ok = false;  // a bare IPv6 address needs brackets when a port follows; without one too
    }
    if (ok && !port.empty()) {
      unsigned value = 0;
      auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
      ok = ec == std::errc() && end == port.data() + port.size() && value >= 1 && value <= 65535;
      e.port = static_cast<std::uint16_t>(value);
    } else if (ok && text.back() == ':') {
      ok = false;
    }
    if (!ok) {
      invalid(path, node,
              "expected ADDRESS[:PORT] like 203.0.113.7:51820 or [2001:db8::7]:51820, got " +
                  describe(node));
    }
    if (is_unspecified(*address) || is_multicast(*address)) {
      invalid(path, node, host + " is not a unicast address");
    }
    e.address = *address;
    return e;
  }

  // The WAN ports of the endpoint's backbone must have an address of the endpoint's family
  // (a port without addresses, e.g. configured later by DHCP, is not held against it).
  void check_reachable(const Endpoint& ep, const std::string& path, const YAML::Node& node) {
    bool any_address = false;
    for (const Port& port : intent_.ports) {
      if (port.backbone != ep.backbone) continue;
      for (const IpPrefix& a : port.addresses) {
        if (a.addr.family == ep.address.family) return;
        any_address = true;
      }
    }
    if (any_address) {
      invalid(path, node,
              std::string("no WAN port on backbone ") + ep.backbone + " has an " +
                  (ep.address.is_v4() ? "IPv4" : "IPv6") + " address to reach " + ep.address.str() +
                  " from");
    }
  }

  void read_peers(const YAML::Node& node, const std::string& path) {
    auto items = to_list(node, path);
    Unique names("peer name");
    Unique keys("public key");
    Unique overlay("overlay address");
    Unique sites("site prefix");
    overlay.add(intent_.identity.overlay_address.str(), "identity.overlay_address", node);
    for (std::size_t i = 0; i < items.size(); ++i) {
      Map m(items[i], item_path(path, i),
            {"name", "public_key", "endpoints", "overlay_address", "site_prefixes", "keepalive_s"});
      Peer p;
      const YAML::Node name = m.need("name");
      p.name = to_name(name, m.at("name"));
      if (p.name == intent_.identity.pop)
        invalid(m.at("name"), name, "a peer cannot be this PoP (identity.pop)");
      names.add(p.name, m.at("name"), name);
      const YAML::Node key = m.need("public_key");
      p.public_key = to_key(key, m.at("public_key"));
      keys.add(p.public_key, m.at("public_key"), key);
      const YAML::Node endpoints = m.need("endpoints");
      if (!endpoints.IsMap() || endpoints.size() == 0) {
        invalid(m.at("endpoints"), endpoints,
                "expected a map of backbone name to ADDRESS[:PORT] with at least one entry");
      }
      for (const auto& entry : endpoints) {
        const std::string backbone = to_str(entry.first, m.at("endpoints"));
        const std::string at = m.at("endpoints") + "." + backbone;
        need_named(intent_.backbones, backbone, "backbone", at, entry.first);
        if (std::any_of(p.endpoints.begin(), p.endpoints.end(),
                        [&](const Endpoint& x) { return x.backbone == backbone; })) {
          invalid(at, entry.first, "duplicate key");
        }
        Endpoint ep = to_endpoint(entry.second, at);
        ep.backbone = backbone;
        check_reachable(ep, at, entry.second);
        p.endpoints.push_back(std::move(ep));
      }
      std::sort(p.endpoints.begin(), p.endpoints.end(),
                [](const Endpoint& a, const Endpoint& b) { return a.backbone < b.backbone; });
      const YAML::Node ov = m.need("overlay_address");
      p.overlay_address = to_address(ov, m.at("overlay_address"));
      if (p.overlay_address.family != intent_.identity.overlay_address.family) {
        invalid(m.at("overlay_address"), ov,
                "must be of the same family as identity.overlay_address (" +
                    intent_.identity.overlay_address.str() + ")");
      }
      overlay.add(p.overlay_address.str(), m.at("overlay_address"), ov);
      if (auto n = m.get("site_prefixes")) {
        p.site_prefixes = to_prefixes(*n, m.at("site_prefixes"), sites);
      }
      if (auto n = m.get("keepalive_s")) {
        p.keepalive_s = static_cast<std::uint32_t>(to_uint(*n, m.at("keepalive_s"), 0, 65535));
      }
      intent_.peers.push_back(std::move(p));
    }
  }

  void read_probes(const Map& m) {
    Probes& p = intent_.probes;
    auto uint_field = [&](const char* key, std::uint32_t& out, std::uint64_t lo, std::uint64_t hi) {
      if (auto n = m.get(key)) out = static_cast<std::uint32_t>(to_uint(*n, m.at(key), lo, hi));
    };
    uint_field("interval_ms", p.interval_ms, kMinProbeIntervalMs, kMaxProbeIntervalMs);
    uint_field("window", p.window, 4, 10000);
    uint_field("blackout_probes", p.blackout_probes, 1, 100);
    uint_field("hold_down_ms", p.hold_down_ms, 0, 3600000);
    if (auto n = m.get("hysteresis_pct"))
      p.hysteresis_pct = to_number(*n, m.at("hysteresis_pct"), 0, 100);
    if (p.blackout_probes > p.window) {
      invalid(m.at("blackout_probes"), *m.get("blackout_probes"),
              "must not exceed probes.window (" + std::to_string(p.window) + ")");
    }
  }

  static std::vector<Community> to_communities(const YAML::Node& node, const std::string& path) {
    std::vector<Community> out;
    auto list = to_one_or_list(node, path);
    for (std::size_t i = 0; i < list.size(); ++i) {
      const std::string at = node.IsScalar() ? path : item_path(path, i);
      const std::string text = to_str(list[i], at);
      auto c = Community::parse(text);
      if (!c) {
        invalid(at, list[i],
                "expected a community ASN:VALUE (0..65535 each) or a large community "
                "ASN:FUNCTION:VALUE (0..4294967295 each), got " +
                    describe(list[i]));
      }
      if (std::find(out.begin(), out.end(), *c) != out.end())
        invalid(at, list[i], "community " + text + " is listed twice");
      out.push_back(*c);
    }
    return out;
  }

  void read_bgp(const Map& m) {
    Bgp& bgp = intent_.bgp;
    bgp.asn = static_cast<std::uint32_t>(to_uint(m.need("asn"), m.at("asn"), 1, 4294967295u));
    if (auto n = m.get("ibgp")) bgp.ibgp = to_bool(*n, m.at("ibgp"));
    if (auto n = m.get("keepalive_s"))
      bgp.keepalive_s = static_cast<std::uint32_t>(to_uint(*n, m.at("keepalive_s"), 1, 21845));
    if (auto n = m.get("hold_s"))
      bgp.hold_s = static_cast<std::uint32_t>(to_uint(*n, m.at("hold_s"), 3, 65535));
    if (bgp.hold_s < 3 * bgp.keepalive_s) {
      const YAML::Node at = m.get("hold_s") ? *m.get("hold_s") : *m.get("keepalive_s");
      invalid(m.at("hold_s"), at,
              "must be at least 3 x keepalive_s (" + std::to_string(3 * bgp.keepalive_s) + ")");
    }
    if (auto n = m.get("import_check")) bgp.import_check = to_bool(*n, m.at("import_check"));
    if (auto n = m.get("bfd")) {
      Map b(*n, m.at("bfd"), {"receive_interval_ms", "transmit_interval_ms", "detect_multiplier"});
      // bfdd's CLI ranges (FRR doc/user/bfd.rst).
      if (auto v = b.get("receive_interval_ms"))
        bgp.bfd.receive_interval_ms =
            static_cast<std::uint32_t>(to_uint(*v, b.at("receive_interval_ms"), 10, 60000));
      if (auto v = b.get("transmit_interval_ms"))
        bgp.bfd.transmit_interval_ms =
            static_cast<std::uint32_t>(to_uint(*v, b.at("transmit_interval_ms"), 10, 60000));
      if (auto v = b.get("detect_multiplier"))
        bgp.bfd.detect_multiplier =
            static_cast<std::uint32_t>(to_uint(*v, b.at("detect_multiplier"), 2, 255));
    }
    if (auto n = m.get("neighbors")) {
      auto list = to_list(*n, m.at("neighbors"));
      Unique names("neighbor name");
      Unique addresses("neighbor address");
      for (const Peer& p : intent_.peers)
        addresses.add(p.overlay_address.str(), "the overlay address of peer " + p.name, *n);
      for (std::size_t i = 0; i < list.size(); ++i) {
        Map nb(list[i], item_path(m.at("neighbors"), i),
               {"name", "address", "asn", "bfd", "description"});
        BgpNeighbor x;
        x.name = to_name(nb.need("name"), nb.at("name"));
        names.add(x.name, nb.at("name"), nb.need("name"));
        x.address = to_address(nb.need("address"), nb.at("address"));
        addresses.add(x.address.str(), nb.at("address"), nb.need("address"));
        const YAML::Node asn = nb.need("asn");
        x.asn = static_cast<std::uint32_t>(to_uint(asn, nb.at("asn"), 1, 4294967295u));
        if (x.asn == bgp.asn)
          invalid(nb.at("asn"), asn,
                  "carrier neighbours are eBGP: the ASN must differ from bgp.asn");
        if (auto v = nb.get("bfd")) x.bfd = to_bool(*v, nb.at("bfd"));
        if (auto v = nb.get("description"))
          x.description = to_description(*v, nb.at("description"));
        bgp.neighbors.push_back(std::move(x));
      }
    }
    if (auto n = m.get("announce")) {
      Unique prefixes("prefix");
      bgp.announce = to_prefixes(*n, m.at("announce"), prefixes);
    }
    if (auto n = m.get("sla_communities")) {
      auto list = to_list(*n, m.at("sla_communities"));
      Unique classes("traffic class");
      for (std::size_t i = 0; i < list.size(); ++i) {
        Map s(list[i], item_path(m.at("sla_communities"), i),
              {"traffic_class", "compliant", "degraded", "down"});
        SlaCommunities c;
        const YAML::Node tc = s.need("traffic_class");
        c.traffic_class = to_name(tc, s.at("traffic_class"));
        need_named(intent_.traffic_classes, c.traffic_class, "traffic class", s.at("traffic_class"),
                   tc);
        classes.add(c.traffic_class, s.at("traffic_class"), tc);
        if (auto v = s.get("compliant")) c.compliant = to_communities(*v, s.at("compliant"));
        if (auto v = s.get("degraded")) c.degraded = to_communities(*v, s.at("degraded"));
        if (auto v = s.get("down")) c.down = to_communities(*v, s.at("down"));
        bgp.sla_communities.push_back(std::move(c));
      }
    }
  }

  Intent intent_;
};

std::string with_line(const Invalid& e) {
  std::string out = (e.path.empty() ? std::string("document") : e.path) + ": " + e.what;
  if (!e.mark.is_null()) out += " (line " + std::to_string(e.mark.line + 1) + ")";
  return out;
}

}  // namespace

// ---- communities ------------------------------------------------------------------------------

std::string Community::str() const {
  std::string out = std::to_string(global) + ":" + std::to_string(local1);
  if (large) out += ":" + std::to_string(local2);
  return out;
}

std::optional<Community> Community::parse(std::string_view text) {
  std::uint32_t parts[3] = {};
  std::size_t count = 0;
  std::size_t start = 0;
  while (true) {
    const std::size_t colon = text.find(':', start);
    const std::string_view part = text.substr(
        start, colon == std::string_view::npos ? std::string_view::npos : colon - start);
    if (count == 3 || part.empty()) return std::nullopt;
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), parts[count]);
    if (ec != std::errc() || end != part.data() + part.size()) return std::nullopt;
    ++count;
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  if (count == 2) {
    if (parts[0] > 0xffff || parts[1] > 0xffff) return std::nullopt;
    return Community{false, parts[0], parts[1], 0};
  }
  if (count == 3) return Community{true, parts[0], parts[1], parts[2]};
  return std::nullopt;
}

const char* to_string(SlaState state) {
  switch (state) {
    case SlaState::kCompliant:
      return "compliant";
    case SlaState::kDegraded:
      return "degraded";
    case SlaState::kDown:
      return "down";
  }
  return "unknown";
}

const std::vector<Community>& SlaCommunities::in(SlaState state) const {
  switch (state) {
    case SlaState::kDegraded:
      return degraded;
    case SlaState::kDown:
      return down;
    case SlaState::kCompliant:
      break;
  }
  return compliant;
}

// ---- parse / load ------------------------------------------------------------------------------

Result<Intent> parse_intent(std::string_view yaml_text) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return fail("document: YAML syntax error: " + e.msg + " (line " +
                    std::to_string(e.mark.line + 1) + ", column " +
                    std::to_string(e.mark.column + 1) + ")",
                EINVAL);
  }
  try {
    return Reader().read(root);
  } catch (const Invalid& e) {
    return fail(with_line(e), EINVAL);
  } catch (const YAML::Exception& e) {
    return fail("document: " + e.msg, EINVAL);
  } catch (const std::exception& e) {  // e.g. bad_alloc on a hostile document
    return fail(std::string("document: cannot be read: ") + e.what(), EINVAL);
  }
}

Result<Intent> load_intent(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(path + ": cannot open: " + std::strerror(errno), errno);
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxIntentBytes) {
      return fail(path + ": larger than " + std::to_string(kMaxIntentBytes) + " bytes", EFBIG);
    }
  }
  if (in.bad()) return fail(path + ": read error", EIO);
  auto intent = parse_intent(text);
  if (!intent) return fail(path + ": " + intent.error().message, intent.error().code);
  return intent;
}

}  // namespace causeway::rt::intent
