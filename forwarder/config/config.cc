// SPDX-License-Identifier: Apache-2.0
// causeway-fwd configuration loader (control path, start-up only; docs/forwarder-config.md).
//
// Flow: YAML text -> yaml-cpp node tree (syntax errors carry line and column) -> one reader
// per section, in schema order. A reader first checks the map's keys against the section's
// schema (typos are errors), then each field's type and range, then rules that span fields
// (MTU vs IPv6, defaults that overflow IFNAMSIZ) and earlier entries (duplicate names,
// devices, addresses). Routes and neighbours are read after every port, so they can be
// checked against the ports' names and connected subnets. The first error ends the parse:
// its message starts with the field path ("ports[1].addresses[0]: ...") and ends with the
// document line. parse_config does no I/O; load_config reads one file.
#include "config/config.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "causeway/common/yaml_text.h"

namespace causeway::fwd {
namespace {

using Status = Result<void>;

// Limits that come from outside Causeway.
constexpr std::size_t kIfNameMax = 15;             // Linux IFNAMSIZ (16) minus the NUL
constexpr std::size_t kUnixPathMax = 107;          // sizeof(sockaddr_un::sun_path) minus the NUL
constexpr std::uint64_t kMinMtu = 576;             // RFC 791: datagram size every host accepts
constexpr std::uint64_t kMinIpv6Mtu = 1280;        // RFC 8200 section 5
constexpr std::uint64_t kMaxTableSize = 1u << 24;  // rte_lpm next-hop ids are 24 bits
constexpr std::uint64_t kMinVlanId = 1;            // IEEE 802.1Q: 0 = priority tag only,
constexpr std::uint64_t kMaxVlanId = 4094;         // 4095 reserved

// Causeway's own limits (documented in docs/forwarder-config.md).
constexpr std::size_t kInstanceNameMax = 32;
constexpr std::size_t kFilePrefixMax = 64;
constexpr std::uint64_t kMaxMtu = 9000;
constexpr std::uint64_t kMaxWorkers = 64;
constexpr std::uint64_t kMaxLcoreId = 1023;
constexpr std::uint64_t kMaxPathGroupId = 1023;
constexpr std::size_t kMaxTunnelCount = 8;
constexpr std::uint64_t kMinMbufs = 1024;
constexpr std::uint64_t kMaxMbufs = 4u << 20;
constexpr std::uint64_t kMinMemoryMb = 64;
constexpr std::uint64_t kMaxMemoryMb = 1u << 20;
constexpr std::uint64_t kMinDesc = 64;
constexpr std::uint64_t kMaxDesc = 8192;
constexpr std::uint64_t kMaxConfigBytes = 16u << 20;

constexpr std::string_view kYamlStrTag = "tag:yaml.org,2002:str";

Status ok() {
  return boost::outcome_v2::success();
}

std::string line_of(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return "";
  return " (line " + std::to_string(mark.line + 1) + ")";
}

// The one way errors are made: "<field path>: <what is wrong> (line N)".
auto error_at(const std::string& path, const YAML::Node& node, const std::string& what) {
  return fail((path.empty() ? std::string("document") : path) + ": " + what + line_of(node),
              EINVAL);
}

std::string field_path(const std::string& parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  return parent + "." + std::string(key);
}

std::string item_path(const std::string& parent, std::size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// One YAML map whose keys have been checked against a schema. A null node (`dpdk:` with
// nothing after it) reads as an empty map.
class Section {
 public:
  // Copied, never assigned: YAML::Node's operator= writes through to the document tree.
  Section(const Section&) = default;
  Section& operator=(const Section&) = delete;

  static Result<Section> open(const YAML::Node& node, std::string path,
                              std::initializer_list<std::string_view> allowed) {
    Section section(node, std::move(path));
    if (node.IsNull()) return section;
    if (!node.IsMap()) {
      return error_at(section.path_, node, "expected a map of settings, got " + describe(node));
    }
    for (const auto& entry : node) {
      const YAML::Node& key_node = entry.first;
      if (!key_node.IsScalar()) {
        return error_at(section.path_, key_node,
                        "keys must be plain names, got " + describe(key_node));
      }
      const std::string& key = key_node.Scalar();
      const std::string path_of_key = field_path(section.path_, key);
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
        std::string what = "unknown key";
        std::string_view closest;
        std::size_t best = std::max<std::size_t>(1, key.size() / 3) + 1;  // near misses only
        for (std::string_view name : allowed) {
          if (const std::size_t d = edit_distance(key, name); d < best) {
            best = d;
            closest = name;
          }
        }
        if (!closest.empty()) what += " (did you mean \"" + std::string(closest) + "\"?)";
        what += "; allowed keys: ";
        const char* separator = "";
        for (std::string_view name : allowed) {
          what += separator + std::string(name);
          separator = ", ";
        }
        return error_at(path_of_key, key_node, what);
      }
      for (const Entry& seen : section.entries_) {
        if (seen.key == key) {
          return error_at(path_of_key, key_node,
                          "duplicate key (first given on line " +
                              std::to_string(seen.key_node.Mark().line + 1) + ")");
        }
      }
      section.entries_.push_back(Entry{key, key_node, entry.second});
    }
    return section;
  }

  [[nodiscard]] const YAML::Node* find(std::string_view key) const {
    for (const Entry& entry : entries_) {
      if (entry.key == key) return &entry.value;
    }
    return nullptr;
  }
  [[nodiscard]] std::string path(std::string_view key) const { return field_path(path_, key); }
  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] const YAML::Node& node() const { return node_; }

  // For a key the document must contain.
  [[nodiscard]] Result<YAML::Node> require(
      std::string_view key, const std::string& why = "required key is missing") const {
    if (const YAML::Node* value = find(key)) return *value;
    return error_at(path(key), node_, why);
  }

 private:
  Section(const YAML::Node& node, std::string path) : path_(std::move(path)), node_(node) {}

  struct Entry {
    std::string key;
    YAML::Node key_node;
    YAML::Node value;
  };
  std::string path_;
  YAML::Node node_;
  std::vector<Entry> entries_;
};

// ---- scalar conversions: the node must have the right YAML type, not just parse -------

bool is_quoted(const YAML::Node& node) {
  return node.Tag() == "!" || node.Tag() == kYamlStrTag;
}

Result<std::string> to_string(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) return error_at(path, node, "expected a string, got " + describe(node));
  return node.Scalar();
}

Result<std::uint64_t> to_uint(const YAML::Node& node, const std::string& path, std::uint64_t lo,
                              std::uint64_t hi) {
  const std::string range = " (" + std::to_string(lo) + ".." + std::to_string(hi) + ")";
  if (!node.IsScalar() || is_quoted(node)) {
    return error_at(path, node, "expected an integer" + range + ", got " + describe(node));
  }
  const std::string& text = node.Scalar();
  std::int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (end != text.data() + text.size() || text.empty()) {
    return error_at(path, node, "expected an integer" + range + ", got " + describe(node));
  }
  // Only result_out_of_range is left: every other failure stops before the end.
  if (ec != std::errc() || value < 0 || static_cast<std::uint64_t>(value) < lo ||
      static_cast<std::uint64_t>(value) > hi) {
    return error_at(path, node, text + " is out of range" + range);
  }
  return static_cast<std::uint64_t>(value);
}

Result<bool> to_bool(const YAML::Node& node, const std::string& path) {
  if (node.IsScalar() && !is_quoted(node)) {
    const std::string& text = node.Scalar();
    if (text == "true" || text == "True" || text == "TRUE") return true;
    if (text == "false" || text == "False" || text == "FALSE") return false;
  }
  return error_at(path, node, "expected true or false, got " + describe(node));
}

// A list; a null node (`routes:` with every entry commented out) is an empty list.
Result<std::vector<YAML::Node>> to_list(const YAML::Node& node, const std::string& path) {
  std::vector<YAML::Node> items;
  if (node.IsNull()) return items;
  if (!node.IsSequence()) return error_at(path, node, "expected a list, got " + describe(node));
  for (const auto& item : node) items.push_back(item);
  return items;
}

template <typename T>
Status read_uint(const Section& section, std::string_view key, std::uint64_t lo, std::uint64_t hi,
                 T& out) {
  static_assert(std::is_unsigned_v<T>);
  const YAML::Node* node = section.find(key);
  if (node == nullptr) return ok();
  auto value = to_uint(*node, section.path(key), lo, hi);
  if (!value) return value.as_failure();
  out = static_cast<T>(value.value());
  return ok();
}

Status read_bool(const Section& section, std::string_view key, bool& out) {
  const YAML::Node* node = section.find(key);
  if (node == nullptr) return ok();
  auto value = to_bool(*node, section.path(key));
  if (!value) return value.as_failure();
  out = value.value();
  return ok();
}

// ---- names and addresses ----------------------------------------------------------------

bool all_of(std::string_view text, bool (*allowed)(char)) {
  return std::all_of(text.begin(), text.end(), allowed);
}
bool is_port_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}
bool is_vlan_name_char(char c) {
  return is_port_name_char(c) || c == '.';
}
bool is_instance_name_char(char c) {
  return (c >= 'A' && c <= 'Z') || is_port_name_char(c);
}
bool is_file_name_char(char c) {
  return is_instance_name_char(c) || c == '.';
}
bool is_vdev_char(char c) {
  return is_instance_name_char(c) && c != '-';
}

const char* family_name(const IpAddress& a) {
  return a.is_v4() ? "IPv4" : "IPv6";
}

bool is_unspecified(const IpAddress& a) {
  return std::all_of(a.bytes.begin(), a.bytes.begin() + static_cast<long>(a.size()),
                     [](std::uint8_t b) { return b == 0; });
}
bool is_loopback(const IpAddress& a) {
  if (a.is_v4()) return a.bytes[0] == 127;
  return std::all_of(a.bytes.begin(), a.bytes.begin() + 15,
                     [](std::uint8_t b) { return b == 0; }) &&
         a.bytes[15] == 1;
}
bool is_multicast(const IpAddress& a) {
  return a.is_v4() ? (a.bytes[0] & 0xf0) == 0xe0 : a.bytes[0] == 0xff;
}
bool is_v6_link_local(const IpAddress& a) {
  return !a.is_v4() && a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80;
}

// Why an address cannot be an interface address, a gateway or a neighbour; empty if it can.
std::string unusable_reason(const IpAddress& a) {
  if (is_unspecified(a)) return "the unspecified address";
  if (is_loopback(a)) return "a loopback address";
  if (is_multicast(a)) return "a multicast address";
  if (a.is_v4() && a.v4_host_order() == 0xffffffffu) return "the limited broadcast address";
  return {};
}

bool host_bits_all_ones(const IpPrefix& p) {
  for (unsigned bit = p.len; bit < p.max_len(); ++bit) {
    if (((p.addr.bytes[bit / 8] >> (7 - bit % 8)) & 1) == 0) return false;
  }
  return true;
}

bool is_unicast_mac(const MacAddress& m) {
  return (m.bytes[0] & 1) == 0 && m != MacAddress{};
}

Result<MacAddress> to_mac(const YAML::Node& node, const std::string& path) {
  auto text = to_string(node, path);
  if (!text) return text.as_failure();
  const auto mac = MacAddress::parse(text.value());
  if (!mac) {
    return error_at(
        path, node,
        quote(text.value()) + " is not a MAC address (expected e.g. 02:00:00:00:01:01)");
  }
  if (!is_unicast_mac(*mac)) {
    return error_at(path, node, mac->str() + " is not a unicast MAC address");
  }
  return *mac;
}

Result<IpAddress> to_address(const YAML::Node& node, const std::string& path) {
  auto text = to_string(node, path);
  if (!text) return text.as_failure();
  const auto address = IpAddress::parse(text.value());
  if (!address) return error_at(path, node, quote(text.value()) + " is not an IP address");
  if (const std::string why = unusable_reason(*address); !why.empty()) {
    return error_at(path, node, address->str() + " is " + why);
  }
  return *address;
}

// PCI addresses as EAL accepts them ("0000:00:04.0" or "00:04.0"), in canonical form.
std::optional<std::string> canonical_pci(std::string_view text) {
  unsigned domain = 0, bus = 0, device = 0, function = 0;
  auto hex = [&text](std::size_t digits, unsigned& out, char sep) {
    if (text.size() < digits) return false;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + digits, out, 16);
    if (ec != std::errc() || end != text.data() + digits) return false;
    text.remove_prefix(digits);
    if (sep == '\0') return text.empty();
    if (text.empty() || text.front() != sep) return false;
    text.remove_prefix(1);
    return true;
  };
  const bool has_domain = std::count(text.begin(), text.end(), ':') == 2;
  if (has_domain && !hex(4, domain, ':')) return std::nullopt;
  if (!hex(2, bus, ':') || !hex(2, device, '.') || !hex(1, function, '\0')) return std::nullopt;
  if (device > 0x1f || function > 7) return std::nullopt;
  char buf[16];
  std::snprintf(buf, sizeof(buf), "%04x:%02x:%02x.%x", domain, bus, device, function);
  return std::string(buf);
}

// What must be unique across ports: the canonical PCI address, or the vdev name.
Result<std::string> device_identity(const YAML::Node& node, const std::string& path,
                                    std::string_view device) {
  if (device.empty()) return error_at(path, node, "must not be empty");
  if (std::any_of(device.begin(), device.end(),
                  [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; })) {
    return error_at(path, node, quote(device) + " contains whitespace");
  }
  const std::string_view name = device.substr(0, device.find(','));
  if (auto pci = canonical_pci(name)) return *pci;
  const bool vdev = !name.empty() &&
                    ((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z')) &&
                    all_of(name, is_vdev_char);
  if (!vdev) {
    return error_at(path, node,
                    quote(device) +
                        " is neither a PCI address (0000:00:04.0) nor a virtual device "
                        "(net_af_packet0,iface=veth0)");
  }
  return std::string(name);
}

// ---- sections ---------------------------------------------------------------------------

// EAL -l syntax: "0-3,8,10-11". Returns the number of distinct lcores.
std::optional<std::size_t> count_lcores(std::string_view list) {
  std::set<unsigned> ids;
  auto number = [](std::string_view digits, unsigned& out) {
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), out);
    return !digits.empty() && ec == std::errc() && end == digits.data() + digits.size() &&
           out <= kMaxLcoreId;
  };
  while (true) {
    const std::size_t comma = list.find(',');
    const std::string_view part = list.substr(0, comma);
    const std::size_t dash = part.find('-');
    unsigned lo = 0, hi = 0;
    if (!number(part.substr(0, dash), lo)) return std::nullopt;
    hi = lo;
    if (dash != std::string_view::npos && (!number(part.substr(dash + 1), hi) || hi < lo)) {
      return std::nullopt;
    }
    for (unsigned id = lo; id <= hi; ++id) ids.insert(id);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return ids.size();
}

// EAL --lcores syntax, the subset of it Causeway documents: comma-separated elements
// `LCORES[@CPUS]`, where LCORES and CPUS are an id, a range `a-b`, or a parenthesised -l list
// ("0@0,1@1,2@1", "(0-2)@(0-1)", "0,1@1"). Without '@' or '(' it is the -l syntax.
// Returns the number of distinct lcores.
std::optional<std::size_t> count_lcores_or_map(std::string_view text) {
  if (text.find_first_of("@(") == std::string_view::npos) return count_lcores(text);
  auto group = [](std::string_view g) -> std::optional<std::string_view> {
    if (g.empty()) return std::nullopt;
    if (g.front() != '(') return g;
    if (g.size() < 3 || g.back() != ')') return std::nullopt;
    return g.substr(1, g.size() - 2);
  };
  std::string lcore_list;  // the lcore side of every element, as one -l list
  std::size_t start = 0;
  int depth = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    const char c = i < text.size() ? text[i] : ',';
    if (c == '(') ++depth;
    if (c == ')' && --depth < 0) return std::nullopt;
    if (c != ',' || depth != 0) continue;
    const std::string_view element = text.substr(start, i - start);
    start = i + 1;
    const std::size_t at = element.find('@');
    const auto lcores = group(element.substr(0, at));
    if (!lcores || !count_lcores(*lcores)) return std::nullopt;
    if (at != std::string_view::npos) {
      const auto cpus = group(element.substr(at + 1));
      if (!cpus || !count_lcores(*cpus)) return std::nullopt;
    }
    // Appended piecewise: `"," + std::string(...)` trips GCC 12's false -Wrestrict at -O3.
    if (!lcore_list.empty()) lcore_list += ',';
    lcore_list.append(lcores->data(), lcores->size());
  }
  if (depth != 0) return std::nullopt;
  return count_lcores(lcore_list);
}

Status parse_dpdk(const YAML::Node& node, DpdkConfig& dpdk) {
  auto opened = Section::open(
      node, "dpdk",
      {"workers", "lcores", "mbufs", "memory_mb", "no_huge", "file_prefix", "extra_args"});
  if (!opened) return opened.as_failure();
  const Section& s = opened.value();

  if (auto r = read_uint(s, "workers", 1, kMaxWorkers, dpdk.workers); !r) return r;
  if (const YAML::Node* lcores = s.find("lcores")) {
    auto text = to_string(*lcores, s.path("lcores"));
    if (!text) return text.as_failure();
    const auto count = count_lcores_or_map(text.value());
    if (!count) {
      return error_at(s.path("lcores"), *lcores,
                      quote(text.value()) +
                          " is not an lcore list (e.g. \"0-3\" or \"0,2-4\") or an lcore-to-CPU "
                          "map (e.g. \"0@0,1@1,2@1\"); ids 0.." +
                          std::to_string(kMaxLcoreId));
    }
    if (*count < std::size_t{dpdk.workers} + 1) {
      return error_at(s.path("lcores"), *lcores,
                      quote(text.value()) + " names " + std::to_string(*count) + " lcore(s); " +
                          std::to_string(dpdk.workers) + " worker(s) need " +
                          std::to_string(dpdk.workers + 1) +
                          " (one main lcore plus one per worker)");
    }
    dpdk.lcores = text.value();
  }
  if (auto r = read_uint(s, "mbufs", kMinMbufs, kMaxMbufs, dpdk.mbufs); !r) return r;
  if (auto r = read_uint(s, "memory_mb", kMinMemoryMb, kMaxMemoryMb, dpdk.memory_mb); !r) {
    return r;
  }
  if (auto r = read_bool(s, "no_huge", dpdk.no_huge); !r) return r;
  if (const YAML::Node* prefix = s.find("file_prefix")) {
    auto text = to_string(*prefix, s.path("file_prefix"));
    if (!text) return text.as_failure();
    const std::string& value = text.value();
    if (value.empty() || value.size() > kFilePrefixMax || !all_of(value, is_file_name_char) ||
        value == "." || value == "..") {
      return error_at(s.path("file_prefix"), *prefix,
                      quote(value) + " must be 1.." + std::to_string(kFilePrefixMax) +
                          " characters of [A-Za-z0-9_.-]");
    }
    dpdk.file_prefix = value;
  }
  if (const YAML::Node* args = s.find("extra_args")) {
    auto items = to_list(*args, s.path("extra_args"));
    if (!items) return items.as_failure();
    for (std::size_t i = 0; i < items.value().size(); ++i) {
      const YAML::Node& arg = items.value()[i];
      auto text = to_string(arg, item_path(s.path("extra_args"), i));
      if (!text) return text.as_failure();
      if (text.value().empty()) {
        return error_at(item_path(s.path("extra_args"), i), arg, "must not be empty");
      }
      dpdk.extra_args.push_back(text.value());
    }
  }
  return ok();
}

// What is remembered about each port while later ports are read: where things came from.
struct PortOrigin {
  std::string path;       // "ports[i]" or "ports[i].vlans[j]"
  std::string device_id;  // canonical PCI address or vdev name; empty for a subinterface
  YAML::Node vlans;       // the port's `vlans` list, read once every port is known
};

// An address of this appliance with its prefix length (`10.1.0.1/24`): not /0, not an unusable
// address, not the network or (IPv4) broadcast address of its subnet. `what` names it in the
// errors ("an interface address"), `network_hint` says what to write instead of a network.
Result<IpPrefix> to_own_prefix(const YAML::Node& item, const std::string& path,
                               std::string_view example, std::string_view what,
                               std::string_view network_hint) {
  auto text = to_string(item, path);
  if (!text) return text.as_failure();
  const auto prefix = IpPrefix::parse(text.value());
  if (!prefix) {
    return error_at(path, item,
                    quote(text.value()) + " is not an IP prefix (expected address/length, e.g. " +
                        std::string(example) + ")");
  }
  const IpAddress& a = prefix->addr;
  if (prefix->len == 0) {
    return error_at(path, item, prefix->str() + ": a /0 prefix cannot be " + std::string(what));
  }
  if (const std::string why = unusable_reason(a); !why.empty()) {
    return error_at(path, item, a.str() + " is " + why);
  }
  // /31 and /127 (RFC 3021, RFC 6164) and host prefixes have no network address.
  if (prefix->len + 1 < prefix->max_len()) {
    if (prefix->masked() == *prefix) {
      return error_at(path, item,
                      prefix->str() + " is a network, not " + std::string(what) + " (" +
                          std::string(network_hint) + ")");
    }
    if (a.is_v4() && host_bits_all_ones(*prefix)) {
      return error_at(path, item, prefix->str() + " is the broadcast address of its subnet");
    }
  }
  return *prefix;
}

Status parse_addresses(const Section& s, PortConfig& port, const std::vector<PortConfig>& ports,
                       const std::vector<PortOrigin>& origins) {
  const YAML::Node* node = s.find("addresses");
  if (node == nullptr) return ok();
  const std::string list_path = s.path("addresses");
  auto items = to_list(*node, list_path);
  if (!items) return items.as_failure();
  for (std::size_t i = 0; i < items.value().size(); ++i) {
    const YAML::Node& item = items.value()[i];
    const std::string path = item_path(list_path, i);
    auto parsed = to_own_prefix(item, path, "10.1.0.1/24", "an interface address",
                                "the host part is zero; write the port's own address in the "
                                "subnet");
    if (!parsed) return parsed.as_failure();
    const auto prefix = std::optional<IpPrefix>(parsed.value());
    const IpAddress& a = prefix->addr;
    for (std::size_t k = 0; k < port.addresses.size(); ++k) {
      if (port.addresses[k].addr == a) {
        return error_at(path, item, a.str() + " is already " + item_path(list_path, k));
      }
    }
    for (std::size_t j = 0; j < ports.size(); ++j) {
      for (std::size_t k = 0; k < ports[j].addresses.size(); ++k) {
        const IpPrefix& other = ports[j].addresses[k];
        const std::string other_path = item_path(origins[j].path + ".addresses", k);
        if (other.addr == a) {
          return error_at(path, item,
                          a.str() + " is already an address of port " + quote(ports[j].name) +
                              " (" + other_path + ")");
        }
        if (other.masked() == prefix->masked()) {
          return error_at(path, item,
                          "subnet " + prefix->masked().str() + " is already connected to port " +
                              quote(ports[j].name) + " (" + other_path + ")");
        }
      }
    }
    port.addresses.push_back(*prefix);
  }
  return ok();
}

// `mirror`: explicit, or `default_name` (which must fit IFNAMSIZ; reported at `name_path`,
// the key the default is made from).
Status read_mirror(const Section& s, const std::string& name_path, const YAML::Node& name_node,
                   const std::string& default_name, PortConfig& port) {
  if (const YAML::Node* mirror = s.find("mirror")) {
    auto value = to_string(*mirror, s.path("mirror"));
    if (!value) return value.as_failure();
    port.mirror = value.value();
    if (port.mirror.empty() || port.mirror.size() > kIfNameMax ||
        !all_of(port.mirror, is_file_name_char) || port.mirror == "." || port.mirror == "..") {
      return error_at(s.path("mirror"), *mirror,
                      quote(port.mirror) + " must be 1.." + std::to_string(kIfNameMax) +
                          " characters of [A-Za-z0-9_.-] (a Linux interface name)");
    }
    return ok();
  }
  port.mirror = default_name;
  if (port.mirror.size() > kIfNameMax) {
    return error_at(name_path, name_node,
                    "the default mirror name " + quote(port.mirror) + " is longer than " +
                        std::to_string(kIfNameMax) +
                        " characters (IFNAMSIZ); shorten the name or set mirror");
  }
  return ok();
}

Status check_mirror_unique(const Section& s, const YAML::Node& name_node, const PortConfig& port,
                           const std::vector<PortConfig>& ports,
                           const std::vector<PortOrigin>& origins) {
  for (std::size_t j = 0; j < ports.size(); ++j) {
    if (ports[j].mirror == port.mirror) {
      const bool explicit_mirror = s.find("mirror") != nullptr;
      return error_at(explicit_mirror ? s.path("mirror") : s.path("name"),
                      explicit_mirror ? *s.find("mirror") : name_node,
                      "mirror interface " + quote(port.mirror) + " is already the mirror of " +
                          origins[j].path + " (" + quote(ports[j].name) + ")");
    }
  }
  return ok();
}

Status parse_port(const YAML::Node& node, const std::string& path, std::vector<PortConfig>& ports,
                  std::vector<PortOrigin>& origins) {
  if (node.IsNull()) return error_at(path, node, "expected a map of port settings, got nothing");
  auto opened = Section::open(
      node, path,
      {"name", "device", "mac", "addresses", "mtu", "mirror", "rx_desc", "tx_desc", "vlans"});
  if (!opened) return opened.as_failure();
  const Section& s = opened.value();
  PortConfig port;
  PortOrigin origin{path, {}, {}};

  auto name_node = s.require("name");
  if (!name_node) return name_node.as_failure();
  auto name = to_string(name_node.value(), s.path("name"));
  if (!name) return name.as_failure();
  port.name = name.value();
  if (port.name.empty() || port.name.size() > kIfNameMax || !all_of(port.name, is_port_name_char)) {
    return error_at(s.path("name"), name_node.value(),
                    quote(port.name) + " must be 1.." + std::to_string(kIfNameMax) +
                        " characters of [a-z0-9_-]");
  }
  for (std::size_t j = 0; j < ports.size(); ++j) {
    if (ports[j].name == port.name) {
      return error_at(s.path("name"), name_node.value(),
                      quote(port.name) + " is already the name of " + origins[j].path);
    }
  }

  auto device_node = s.require("device");
  if (!device_node) return device_node.as_failure();
  auto device = to_string(device_node.value(), s.path("device"));
  if (!device) return device.as_failure();
  port.device = device.value();
  auto identity = device_identity(device_node.value(), s.path("device"), port.device);
  if (!identity) return identity.as_failure();
  origin.device_id = identity.value();
  for (std::size_t j = 0; j < ports.size(); ++j) {
    if (origins[j].device_id == origin.device_id) {
      return error_at(s.path("device"), device_node.value(),
                      quote(port.device) + " is the same device as " + origins[j].path +
                          ".device (" + quote(origin.device_id) + ")");
    }
  }

  if (const YAML::Node* mac = s.find("mac")) {
    auto value = to_mac(*mac, s.path("mac"));
    if (!value) return value.as_failure();
    port.mac = value.value();
  }

  if (auto r = parse_addresses(s, port, ports, origins); !r) return r;

  if (auto r = read_uint(s, "mtu", kMinMtu, kMaxMtu, port.mtu); !r) return r;
  const auto v6 = std::find_if(port.addresses.begin(), port.addresses.end(),
                               [](const IpPrefix& p) { return !p.addr.is_v4(); });
  if (v6 != port.addresses.end() && port.mtu < kMinIpv6Mtu) {
    return error_at(s.path("mtu"), s.find("mtu") != nullptr ? *s.find("mtu") : s.node(),
                    std::to_string(port.mtu) + " is below " + std::to_string(kMinIpv6Mtu) +
                        ", the IPv6 minimum (the port has " + v6->str() + ")");
  }

  if (auto r = read_mirror(s, s.path("name"), name_node.value(), "cw-" + port.name, port); !r)
    return r;
  if (auto r = check_mirror_unique(s, name_node.value(), port, ports, origins); !r) return r;

  for (const char* key : {"rx_desc", "tx_desc"}) {
    std::uint16_t& desc = std::string_view(key) == "rx_desc" ? port.rx_desc : port.tx_desc;
    const YAML::Node* desc_node = s.find(key);
    if (desc_node == nullptr) continue;
    if (auto r = read_uint(s, key, kMinDesc, kMaxDesc, desc); !r) return r;
    if ((desc & (desc - 1)) != 0) {
      return error_at(s.path(key), *desc_node, std::to_string(desc) + " is not a power of two");
    }
  }

  if (const YAML::Node* vlans = s.find("vlans")) origin.vlans = *vlans;
  ports.push_back(std::move(port));
  origins.push_back(std::move(origin));
  return ok();
}

// ports[p].vlans[i]: an 802.1Q subinterface of physical port `p`, appended to `ports`.
Status parse_vlan(const YAML::Node& node, const std::string& path, std::uint16_t parent,
                  std::vector<PortConfig>& ports, std::vector<PortOrigin>& origins) {
  if (node.IsNull()) return error_at(path, node, "expected a map of VLAN settings, got nothing");
  auto opened = Section::open(node, path, {"id", "name", "addresses", "mtu", "mirror"});
  if (!opened) return opened.as_failure();
  const Section& s = opened.value();
  const PortConfig& base = ports[parent];
  PortConfig vlan;
  vlan.parent = parent;
  vlan.mac = base.mac;
  vlan.mtu = base.mtu;
  PortOrigin origin{path, {}, {}};

  auto id_node = s.require("id");
  if (!id_node) return id_node.as_failure();
  if (auto r = read_uint(s, "id", kMinVlanId, kMaxVlanId, vlan.vlan_id); !r) return r;
  for (std::size_t j = 0; j < ports.size(); ++j) {
    if (ports[j].is_vlan() && ports[j].parent == parent && ports[j].vlan_id == vlan.vlan_id) {
      return error_at(s.path("id"), id_node.value(),
                      "VLAN " + std::to_string(vlan.vlan_id) + " is already " + origins[j].path +
                          " of port " + quote(base.name));
    }
  }

  const YAML::Node name_node = s.find("name") != nullptr ? *s.find("name") : id_node.value();
  if (const YAML::Node* name = s.find("name")) {
    auto value = to_string(*name, s.path("name"));
    if (!value) return value.as_failure();
    vlan.name = value.value();
    if (vlan.name.empty() || vlan.name.size() > kIfNameMax ||
        !all_of(vlan.name, is_vlan_name_char)) {
      return error_at(s.path("name"), *name,
                      quote(vlan.name) + " must be 1.." + std::to_string(kIfNameMax) +
                          " characters of [a-z0-9_.-]");
    }
  } else {
    vlan.name = base.name + "." + std::to_string(vlan.vlan_id);
    if (vlan.name.size() > kIfNameMax) {
      return error_at(s.path("id"), id_node.value(),
                      "the default name " + quote(vlan.name) + " is longer than " +
                          std::to_string(kIfNameMax) + " characters; set name");
    }
  }
  for (std::size_t j = 0; j < ports.size(); ++j) {
    if (ports[j].name == vlan.name) {
      return error_at(s.find("name") ? s.path("name") : s.path("id"), name_node,
                      quote(vlan.name) + " is already the name of " + origins[j].path);
    }
  }

  if (auto r = parse_addresses(s, vlan, ports, origins); !r) return r;

  if (auto r = read_uint(s, "mtu", kMinMtu, base.mtu, vlan.mtu); !r) return r;
  const auto v6 = std::find_if(vlan.addresses.begin(), vlan.addresses.end(),
                               [](const IpPrefix& p) { return !p.addr.is_v4(); });
  if (v6 != vlan.addresses.end() && vlan.mtu < kMinIpv6Mtu) {
    return error_at(s.path("mtu"), s.find("mtu") != nullptr ? *s.find("mtu") : s.node(),
                    std::to_string(vlan.mtu) + " is below " + std::to_string(kMinIpv6Mtu) +
                        ", the IPv6 minimum (the subinterface has " + v6->str() + ")");
  }

  const std::string name_path = s.find("name") != nullptr ? s.path("name") : s.path("id");
  if (auto r = read_mirror(s, name_path, name_node,
                           base.mirror + "." + std::to_string(vlan.vlan_id), vlan);
      !r) {
    return r;
  }
  if (auto r = check_mirror_unique(s, name_node, vlan, ports, origins); !r) return r;

  ports.push_back(std::move(vlan));
  origins.push_back(std::move(origin));
  return ok();
}

// A port by name; nullptr if there is none.
const PortConfig* find_port(const std::vector<PortConfig>& ports, std::string_view name) {
  for (const PortConfig& port : ports) {
    if (port.name == name) return &port;
  }
  return nullptr;
}

bool has_family(const PortConfig& port, Family family) {
  return std::any_of(port.addresses.begin(), port.addresses.end(),
                     [family](const IpPrefix& p) { return p.addr.family == family; });
}

// The port named by the section's `port` key, which must exist and have an address of
// `family` (`use` names what needs it, for the message).
Result<const PortConfig*> to_port(const Section& s, const std::vector<PortConfig>& ports,
                                  Family family, const std::string& use) {
  const YAML::Node& node = *s.find("port");
  auto name = to_string(node, s.path("port"));
  if (!name) return name.as_failure();
  const PortConfig* port = find_port(ports, name.value());
  if (port == nullptr) {
    std::string known;
    for (const PortConfig& p : ports) known += (known.empty() ? "" : ", ") + p.name;
    return error_at(s.path("port"), node,
                    "no port named " + quote(name.value()) + " (ports: " + known + ")");
  }
  if (!has_family(*port, family)) {
    return error_at(s.path("port"), node,
                    "port " + quote(port->name) + " has no " +
                        (family == Family::kV4 ? "IPv4" : "IPv6") + " address for " + use);
  }
  return port;
}

Status parse_route(const YAML::Node& node, const std::string& path,
                   const std::vector<PortConfig>& ports, const std::vector<PortOrigin>& origins,
                   std::vector<RouteConfig>& routes) {
  if (node.IsNull()) return error_at(path, node, "expected a map of route settings, got nothing");
  auto opened = Section::open(node, path, {"prefix", "via", "port", "blackhole", "path_group"});
  if (!opened) return opened.as_failure();
  const Section& s = opened.value();
  RouteConfig route;

  auto prefix_node = s.require("prefix");
  if (!prefix_node) return prefix_node.as_failure();
  auto text = to_string(prefix_node.value(), s.path("prefix"));
  if (!text) return text.as_failure();
  const auto prefix = IpPrefix::parse(text.value());
  if (!prefix) {
    return error_at(
        s.path("prefix"), prefix_node.value(),
        quote(text.value()) + " is not an IP prefix (expected network/length, e.g. 10.2.0.0/16)");
  }
  if (prefix->masked() != *prefix) {
    return error_at(s.path("prefix"), prefix_node.value(),
                    quote(text.value()) +
                        " has host bits set (invalid prefix for given prefix length); write " +
                        prefix->masked().str());
  }
  route.prefix = *prefix;
  for (std::size_t i = 0; i < routes.size(); ++i) {
    if (routes[i].prefix == route.prefix) {
      return error_at(s.path("prefix"), prefix_node.value(),
                      route.prefix.str() + " duplicates " + item_path("routes", i));
    }
  }
  for (std::size_t j = 0; j < ports.size(); ++j) {
    for (std::size_t k = 0; k < ports[j].addresses.size(); ++k) {
      if (ports[j].addresses[k].masked() == route.prefix) {
        return error_at(s.path("prefix"), prefix_node.value(),
                        route.prefix.str() + " is the connected subnet of port " +
                            quote(ports[j].name) + " (" +
                            item_path(origins[j].path + ".addresses", k) + ")");
      }
    }
  }

  if (const YAML::Node* group = s.find("path_group")) {
    for (const char* key : {"via", "port", "blackhole"}) {
      if (const YAML::Node* extra = s.find(key)) {
        return error_at(s.path(key), *extra,
                        std::string("a path_group route takes no ") + key +
                            " (its traffic goes into the group's tunnels)");
      }
    }
    auto id = to_uint(*group, s.path("path_group"), 0, kMaxPathGroupId);
    if (!id) return id.as_failure();
    route.path_group = static_cast<std::uint16_t>(id.value());
    routes.push_back(std::move(route));
    return ok();
  }
  if (auto r = read_bool(s, "blackhole", route.blackhole); !r) return r;
  if (route.blackhole) {
    for (const char* key : {"via", "port"}) {
      if (const YAML::Node* extra = s.find(key)) {
        return error_at(s.path(key), *extra,
                        std::string("a blackhole route takes no ") + key +
                            " (remove it or set blackhole: false)");
      }
    }
    routes.push_back(std::move(route));
    return ok();
  }

  if (const YAML::Node* via = s.find("via")) {
    auto gateway = to_address(*via, s.path("via"));
    if (!gateway) return gateway.as_failure();
    if (gateway.value().family != route.prefix.addr.family) {
      return error_at(s.path("via"), *via,
                      gateway.value().str() + " is " + family_name(gateway.value()) +
                          " but the prefix " + route.prefix.str() + " is " +
                          family_name(route.prefix.addr));
    }
    route.via = gateway.value();
  }
  if (s.find("port") == nullptr) {
    return error_at(s.path("port"), s.node(),
                    "required key is missing (every route but a blackhole names its port)");
  }
  auto port = to_port(s, ports, route.prefix.addr.family, route.prefix.str());
  if (!port) return port.as_failure();
  route.port = port.value()->name;

  if (route.via && !is_v6_link_local(*route.via)) {
    const PortConfig& out = *port.value();
    const YAML::Node& via = *s.find("via");
    std::string subnets;
    bool connected = false;
    for (const IpPrefix& own : out.addresses) {
      if (own.addr == *route.via) {
        return error_at(s.path("via"), via,
                        route.via->str() + " is an address of port " + quote(out.name) + " itself");
      }
      if (own.contains(*route.via)) connected = true;
      if (own.addr.family == route.via->family) {
        subnets += (subnets.empty() ? "" : ", ") + own.masked().str();
      }
    }
    if (!connected) {
      return error_at(s.path("via"), via,
                      route.via->str() + " is not on a connected subnet of port " +
                          quote(out.name) + " (" + subnets + ")");
    }
  }
  routes.push_back(std::move(route));
  return ok();
}

Status parse_neighbor(const YAML::Node& node, const std::string& path,
                      const std::vector<PortConfig>& ports,
                      std::vector<NeighborConfig>& neighbors) {
  if (node.IsNull()) {
    return error_at(path, node, "expected a map of neighbour settings, got nothing");
  }
  auto opened = Section::open(node, path, {"address", "mac", "port"});
  if (!opened) return opened.as_failure();
  const Section& s = opened.value();
  NeighborConfig neighbor;

  auto address_node = s.require("address");
  if (!address_node) return address_node.as_failure();
  auto address = to_address(address_node.value(), s.path("address"));
  if (!address) return address.as_failure();
  neighbor.address = address.value();

  auto mac_node = s.require("mac");
  if (!mac_node) return mac_node.as_failure();
  auto mac = to_mac(mac_node.value(), s.path("mac"));
  if (!mac) return mac.as_failure();
  neighbor.mac = mac.value();

  if (auto r = s.require("port"); !r) return r.as_failure();
  auto port = to_port(s, ports, neighbor.address.family, neighbor.address.str());
  if (!port) return port.as_failure();
  neighbor.port = port.value()->name;
  for (const IpPrefix& own : port.value()->addresses) {
    if (own.addr == neighbor.address) {
      return error_at(
          s.path("address"), address_node.value(),
          neighbor.address.str() + " is an address of port " + quote(neighbor.port) + " itself");
    }
  }
  for (std::size_t i = 0; i < neighbors.size(); ++i) {
    if (neighbors[i].address == neighbor.address && neighbors[i].port == neighbor.port) {
      return error_at(s.path("address"), address_node.value(),
                      neighbor.address.str() + " on port " + quote(neighbor.port) + " duplicates " +
                          item_path("neighbors", i));
    }
  }
  neighbors.push_back(std::move(neighbor));
  return ok();
}

Status parse_fib(const YAML::Node& node, FibConfig& fib) {
  auto opened = Section::open(
      node, "fib",
      {"v4_max_routes", "v4_tbl8_groups", "v6_max_routes", "v6_tbl8_groups", "max_next_hops"});
  if (!opened) return opened.as_failure();
  const Section& s = opened.value();
  if (auto r = read_uint(s, "v4_max_routes", 1024, kMaxTableSize, fib.v4_max_routes); !r) return r;
  if (auto r = read_uint(s, "v4_tbl8_groups", 256, kMaxTableSize, fib.v4_tbl8_groups); !r) return r;
  if (auto r = read_uint(s, "v6_max_routes", 1024, kMaxTableSize, fib.v6_max_routes); !r) return r;
  if (auto r = read_uint(s, "v6_tbl8_groups", 256, kMaxTableSize, fib.v6_tbl8_groups); !r) return r;
  if (auto r = read_uint(s, "max_next_hops", 256, kMaxTableSize, fib.max_next_hops); !r) return r;
  return ok();
}

Status parse_neighbor_timers(const YAML::Node& node, NeighborTimers& timers) {
  auto opened = Section::open(node, "neighbor",
                              {"reachable_s", "probe_interval_ms", "probes", "queue_per_neighbor"});
  if (!opened) return opened.as_failure();
  const Section& s = opened.value();
  if (auto r = read_uint(s, "reachable_s", 1, 86400, timers.reachable_s); !r) return r;
  if (auto r = read_uint(s, "probe_interval_ms", 10, 60000, timers.probe_interval_ms); !r) {
    return r;
  }
  if (auto r = read_uint(s, "probes", 1, 100, timers.probes); !r) return r;
  if (auto r = read_uint(s, "queue_per_neighbor", 0, 1024, timers.queue_per_neighbor); !r) {
    return r;
  }
  return ok();
}

// ---- tunnels ------------------------------------------------------------------------------

Result<WgKey> to_wg_key(const YAML::Node& node, const std::string& path) {
  auto text = to_string(node, path);
  if (!text) return text.as_failure();
  const auto key = parse_wg_key(text.value());
  if (!key) {
    return error_at(path, node,
                    "not a WireGuard key (expected 44 characters of base64, as `wg genkey` "
                    "prints)");
  }
  return *key;
}

// "192.0.2.1:51820" or "[2001:db8::1]:51820".
Result<TunnelEndpoint> to_endpoint(const YAML::Node& node, const std::string& path) {
  auto text = to_string(node, path);
  if (!text) return text.as_failure();
  const std::string& t = text.value();
  const auto bad = [&] {
    return error_at(path, node,
                    quote(t) +
                        " is not an endpoint (expected 192.0.2.1:51820 or "
                        "[2001:db8::1]:51820)");
  };
  std::string host, port;
  if (!t.empty() && t.front() == '[') {
    const auto close = t.find("]:");
    if (close == std::string::npos) return bad();
    host = t.substr(1, close - 1);
    port = t.substr(close + 2);
  } else {
    const auto colon = t.rfind(':');
    if (colon == std::string::npos || t.find(':') != colon) return bad();
    host = t.substr(0, colon);
    port = t.substr(colon + 1);
  }
  const auto addr = IpAddress::parse(host);
  unsigned value = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (!addr || port.empty() || ec != std::errc() || end != port.data() + port.size() ||
      value == 0 || value > 65535) {
    return bad();
  }
  if (const std::string why = unusable_reason(*addr); !why.empty()) {
    return error_at(path, node, addr->str() + " is " + why);
  }
  return TunnelEndpoint{*addr, static_cast<std::uint16_t>(value)};
}

Status parse_tunnel_peer(const YAML::Node& node, const std::string& path, TunnelConfig& tunnel) {
  if (node.IsNull()) return error_at(path, node, "expected a map of peer settings, got nothing");
  auto opened = Section::open(node, path,
                              {"name", "public_key", "preshared_key", "endpoint", "allowed_ips",
                               "persistent_keepalive", "path_group", "probe_interval_ms"});
  if (!opened) return opened.as_failure();
  const Section& s = opened.value();
  TunnelPeerConfig peer;
  if (const YAML::Node* name = s.find("name")) {
    auto value = to_string(*name, s.path("name"));
    if (!value) return value.as_failure();
    if (value.value().empty() || value.value().size() > kInstanceNameMax ||
        !all_of(value.value(), is_instance_name_char)) {
      return error_at(s.path("name"), *name,
                      quote(value.value()) + " must be 1.." + std::to_string(kInstanceNameMax) +
                          " characters of [A-Za-z0-9_-]");
    }
    peer.name = value.value();
  }
  auto key_node = s.require("public_key");
  if (!key_node) return key_node.as_failure();
  auto key = to_wg_key(key_node.value(), s.path("public_key"));
  if (!key) return key.as_failure();
  peer.public_key = key.value();
  if (const YAML::Node* psk = s.find("preshared_key")) {
    auto value = to_wg_key(*psk, s.path("preshared_key"));
    if (!value) return value.as_failure();
    peer.preshared_key = value.value();
  }
  if (const YAML::Node* ep = s.find("endpoint")) {
    auto value = to_endpoint(*ep, s.path("endpoint"));
    if (!value) return value.as_failure();
    peer.endpoint = value.value();
  }
  if (const YAML::Node* list = s.find("allowed_ips")) {
    auto items = to_list(*list, s.path("allowed_ips"));
    if (!items) return items.as_failure();
    for (std::size_t k = 0; k < items.value().size(); ++k) {
      const std::string at = item_path(s.path("allowed_ips"), k);
      auto text = to_string(items.value()[k], at);
      if (!text) return text.as_failure();
      const auto prefix = IpPrefix::parse(text.value());
      if (!prefix) {
        return error_at(at, items.value()[k],
                        quote(text.value()) + " is not an IP prefix (e.g. 10.2.0.0/16)");
      }
      const IpPrefix masked = prefix->masked();
      for (std::size_t j = 0; j < tunnel.peers.size(); ++j) {
        const auto& other = tunnel.peers[j].allowed_ips;
        if (std::find(other.begin(), other.end(), masked) != other.end()) {
          return error_at(at, items.value()[k],
                          masked.str() + " is already allowed for " +
                              item_path(path.substr(0, path.rfind('[')), j));
        }
      }
      if (std::find(peer.allowed_ips.begin(), peer.allowed_ips.end(), masked) !=
          peer.allowed_ips.end()) {
        return error_at(at, items.value()[k], masked.str() + " is listed twice");
      }
      peer.allowed_ips.push_back(masked);
    }
  }
  if (auto r = read_uint(s, "persistent_keepalive", 0, 65535, peer.persistent_keepalive_s); !r) {
    return r;
  }
  if (const YAML::Node* group = s.find("path_group")) {
    auto id = to_uint(*group, s.path("path_group"), 0, kMaxPathGroupId);
    if (!id) return id.as_failure();
    peer.path_group = static_cast<std::uint16_t>(id.value());
  }
  const bool can_probe = probe_target(tunnel, peer).has_value();
  if (const YAML::Node* interval = s.find("probe_interval_ms")) {
    const std::string at = s.path("probe_interval_ms");
    auto value = to_uint(*interval, at, 0, kMaxProbeIntervalMs);
    if (!value) return value.as_failure();
    if (value.value() != 0 && value.value() < kMinProbeIntervalMs) {
      return error_at(at, *interval,
                      std::to_string(value.value()) + " is out of range (0 = off, or " +
                          std::to_string(kMinProbeIntervalMs) + ".." +
                          std::to_string(kMaxProbeIntervalMs) + ")");
    }
    if (value.value() != 0 && !can_probe) {
      return error_at(at, *interval,
                      "probes need the tunnel's `address` and a host allowed IP of the peer "
                      "(/32 or /128, its overlay address) of the same family");
    }
    peer.probe_interval_ms = static_cast<std::uint32_t>(value.value());
  } else {
    peer.probe_interval_ms = can_probe ? kDefaultProbeIntervalMs : 0;
  }
  for (std::size_t j = 0; j < tunnel.peers.size(); ++j) {
    if (tunnel.peers[j].public_key == peer.public_key) {
      return error_at(s.path("public_key"), key_node.value(),
                      "the same public key as peer " + std::to_string(j) + " of this tunnel");
    }
    if (!peer.name.empty() && tunnel.peers[j].name == peer.name) {
      return error_at(s.path("name"), node,
                      quote(peer.name) + " names peer " + std::to_string(j) + " already");
    }
  }
  tunnel.peers.push_back(std::move(peer));
  return ok();
}

// `address`: the PoP's own overlay addresses on the tunnel. The same address may be on several
// tunnels (one per backbone) but not on a port; the mirror named like the tunnel may not take
// a port mirror's name.
Status parse_tunnel_address(const Section& s, const YAML::Node& name_node,
                            const std::vector<PortConfig>& ports, TunnelConfig& tunnel) {
  const YAML::Node* node = s.find("address");
  if (node == nullptr) return ok();
  const std::string list_path = s.path("address");
  auto items = to_list(*node, list_path);
  if (!items) return items.as_failure();
  if (items.value().size() > kMaxTunnelAddresses) {
    return error_at(list_path, *node,
                    std::to_string(items.value().size()) + " addresses; at most " +
                        std::to_string(kMaxTunnelAddresses));
  }
  for (std::size_t i = 0; i < items.value().size(); ++i) {
    const YAML::Node& item = items.value()[i];
    const std::string at = item_path(list_path, i);
    auto parsed = to_own_prefix(item, at, "10.255.0.1/32", "an address",
                                "write the PoP's own address, e.g. 10.255.0.1/32");
    if (!parsed) return parsed.as_failure();
    const auto prefix = std::optional<IpPrefix>(parsed.value());
    for (std::size_t k = 0; k < tunnel.address.size(); ++k) {
      if (tunnel.address[k].addr == prefix->addr) {
        return error_at(at, item, prefix->addr.str() + " is already " + item_path(list_path, k));
      }
    }
    for (const PortConfig& port : ports) {
      for (const IpPrefix& a : port.addresses) {
        if (a.addr == prefix->addr) {
          return error_at(at, item,
                          prefix->addr.str() + " is an address of port " + quote(port.name) +
                              " (an overlay address belongs to the tunnels only)");
        }
      }
    }
    tunnel.address.push_back(*prefix);
  }
  for (const PortConfig& port : ports) {
    if (!tunnel.address.empty() && port.mirror == tunnel.name) {
      return error_at(s.path("name"), name_node,
                      quote(tunnel.name) + " is the mirror of port " + quote(port.name) +
                          "; a tunnel with an address needs a kernel interface of its own name");
    }
  }
  return ok();
}

Status parse_tunnel(const YAML::Node& node, const std::string& path,
                    const std::vector<PortConfig>& ports, std::vector<TunnelConfig>& tunnels) {
  if (node.IsNull()) return error_at(path, node, "expected a map of tunnel settings, got nothing");
  auto opened = Section::open(
      node, path,
      {"name", "private_key", "private_key_file", "listen_port", "ports", "address", "peers"});
  if (!opened) return opened.as_failure();
  const Section& s = opened.value();
  TunnelConfig tunnel;

  auto name_node = s.require("name");
  if (!name_node) return name_node.as_failure();
  auto name = to_string(name_node.value(), s.path("name"));
  if (!name) return name.as_failure();
  if (name.value().empty() || name.value().size() > kIfNameMax ||
      !all_of(name.value(), is_port_name_char)) {
    return error_at(s.path("name"), name_node.value(),
                    quote(name.value()) + " must be 1.." + std::to_string(kIfNameMax) +
                        " characters of [a-z0-9_-] (it names the UAPI socket)");
  }
  tunnel.name = name.value();
  for (std::size_t j = 0; j < tunnels.size(); ++j) {
    if (tunnels[j].name == tunnel.name) {
      return error_at(s.path("name"), name_node.value(),
                      quote(tunnel.name) + " names " + item_path("tunnels", j) + " already");
    }
  }

  const YAML::Node* key = s.find("private_key");
  const YAML::Node* key_file = s.find("private_key_file");
  if ((key == nullptr) == (key_file == nullptr)) {
    return error_at(path, node, "give exactly one of private_key and private_key_file");
  }
  if (key != nullptr) {
    auto value = to_wg_key(*key, s.path("private_key"));
    if (!value) return value.as_failure();
    tunnel.private_key = value.value();
  } else {
    auto value = to_string(*key_file, s.path("private_key_file"));
    if (!value) return value.as_failure();
    if (value.value().empty() || value.value().front() != '/') {
      return error_at(s.path("private_key_file"), *key_file,
                      quote(value.value()) + " is not an absolute path");
    }
    tunnel.private_key_file = value.value();
  }

  if (auto r = s.require("listen_port"); !r) return r.as_failure();
  if (auto r = read_uint(s, "listen_port", 1, 65535, tunnel.listen_port); !r) return r;

  auto ports_node = s.require("ports", "required key is missing (the WAN ports to listen on)");
  if (!ports_node) return ports_node.as_failure();
  auto items = to_list(ports_node.value(), s.path("ports"));
  if (!items) return items.as_failure();
  if (items.value().empty()) {
    return error_at(s.path("ports"), ports_node.value(), "at least one port is needed");
  }
  for (std::size_t k = 0; k < items.value().size(); ++k) {
    const std::string at = item_path(s.path("ports"), k);
    auto port_name = to_string(items.value()[k], at);
    if (!port_name) return port_name.as_failure();
    const PortConfig* port = find_port(ports, port_name.value());
    if (port == nullptr) {
      return error_at(at, items.value()[k], "no port named " + quote(port_name.value()));
    }
    if (port->addresses.empty()) {
      return error_at(at, items.value()[k],
                      "port " + quote(port->name) + " has no address to listen on");
    }
    if (std::find(tunnel.ports.begin(), tunnel.ports.end(), port->name) != tunnel.ports.end()) {
      return error_at(at, items.value()[k], quote(port->name) + " is listed twice");
    }
    for (std::size_t j = 0; j < tunnels.size(); ++j) {
      const auto& other = tunnels[j].ports;
      if (tunnels[j].listen_port == tunnel.listen_port &&
          std::find(other.begin(), other.end(), port->name) != other.end()) {
        return error_at(at, items.value()[k],
                        "UDP port " + std::to_string(tunnel.listen_port) + " on " +
                            quote(port->name) + " is used by " + item_path("tunnels", j));
      }
    }
    tunnel.ports.push_back(port->name);
  }

  if (auto r = parse_tunnel_address(s, name_node.value(), ports, tunnel); !r) return r;

  if (const YAML::Node* peers = s.find("peers")) {
    auto peer_items = to_list(*peers, s.path("peers"));
    if (!peer_items) return peer_items.as_failure();
    for (std::size_t k = 0; k < peer_items.value().size(); ++k) {
      if (auto r = parse_tunnel_peer(peer_items.value()[k], item_path(s.path("peers"), k), tunnel);
          !r) {
        return r;
      }
    }
  }
  tunnels.push_back(std::move(tunnel));
  return ok();
}

// ---- uapi ---------------------------------------------------------------------------------

Status parse_uapi(const YAML::Node& node, UapiConfig& uapi) {
  if (node.IsNull()) return ok();
  auto opened = Section::open(node, "uapi", {"enabled", "socket_dir"});
  if (!opened) return opened.as_failure();
  const Section& s = opened.value();
  if (auto r = read_bool(s, "enabled", uapi.enabled); !r) return r;
  if (const YAML::Node* dir = s.find("socket_dir")) {
    auto value = to_string(*dir, s.path("socket_dir"));
    if (!value) return value.as_failure();
    if (auto bad = check_uapi_socket_dir(value.value()); !bad.empty()) {
      return error_at(s.path("socket_dir"), *dir, bad);
    }
    uapi.socket_dir = value.value();
  }
  return ok();
}

Result<FwdConfig> parse_document(const YAML::Node& root) {
  auto opened = Section::open(root, "",
                              {"name", "dpdk", "ports", "routes", "neighbors", "fib", "neighbor",
                               "tunnels", "control_socket", "idle_sleep_max_us", "uapi"});
  if (!opened) return opened.as_failure();
  const Section& s = opened.value();
  FwdConfig config;

  if (const YAML::Node* name = s.find("name")) {
    auto value = to_string(*name, "name");
    if (!value) return value.as_failure();
    if (value.value().empty() || value.value().size() > kInstanceNameMax ||
        !all_of(value.value(), is_instance_name_char)) {
      return error_at("name", *name,
                      quote(value.value()) + " must be 1.." + std::to_string(kInstanceNameMax) +
                          " characters of [A-Za-z0-9_-]");
    }
    config.name = value.value();
  }

  if (const YAML::Node* dpdk = s.find("dpdk")) {
    if (auto r = parse_dpdk(*dpdk, config.dpdk); !r) return r.as_failure();
  }

  auto ports_node = s.require("ports", "required key is missing (at least one port is needed)");
  if (!ports_node) return ports_node.as_failure();
  auto port_items = to_list(ports_node.value(), "ports");
  if (!port_items) return port_items.as_failure();
  if (port_items.value().empty()) {
    return error_at("ports", ports_node.value(), "at least one port is needed");
  }
  if (port_items.value().size() > kMaxInterfaces) {
    return error_at("ports", ports_node.value(),
                    std::to_string(port_items.value().size()) + " ports; at most " +
                        std::to_string(kMaxInterfaces));
  }
  std::vector<PortOrigin> origins;
  for (std::size_t i = 0; i < port_items.value().size(); ++i) {
    if (auto r = parse_port(port_items.value()[i], item_path("ports", i), config.ports, origins);
        !r) {
      return r.as_failure();
    }
  }

  const std::size_t n_physical = config.ports.size();
  for (std::size_t p = 0; p < n_physical; ++p) {
    const YAML::Node vlans = origins[p].vlans;
    if (!vlans.IsDefined()) continue;
    const std::string list_path = origins[p].path + ".vlans";
    auto items = to_list(vlans, list_path);
    if (!items) return items.as_failure();
    for (std::size_t i = 0; i < items.value().size(); ++i) {
      if (config.ports.size() == kMaxInterfaces) {
        return error_at(item_path(list_path, i), items.value()[i],
                        "more than " + std::to_string(kMaxInterfaces) +
                            " interfaces (ports and VLAN subinterfaces together)");
      }
      if (auto r = parse_vlan(items.value()[i], item_path(list_path, i),
                              static_cast<std::uint16_t>(p), config.ports, origins);
          !r) {
        return r.as_failure();
      }
    }
  }

  // The RX rings are filled when the ports start: a smaller pool cannot start them.
  std::uint64_t rx_ring_mbufs = 0;
  for (const PortConfig& port : config.ports) {
    if (port.is_vlan()) continue;
    rx_ring_mbufs += std::uint64_t{config.dpdk.workers} * port.rx_desc;
  }
  if (config.dpdk.mbufs <= rx_ring_mbufs) {
    // Emplaced, not assigned: YAML::Node's operator= writes through to the tree.
    std::optional<YAML::Node> mbufs_node;
    if (const YAML::Node* dpdk = s.find("dpdk"); dpdk != nullptr && dpdk->IsMap()) {
      for (const auto& entry : *dpdk) {
        if (entry.first.Scalar() == "mbufs") mbufs_node.emplace(entry.second);
      }
    }
    return error_at("dpdk.mbufs", mbufs_node ? *mbufs_node : root,
                    std::to_string(config.dpdk.mbufs) + " mbufs cannot fill the RX rings: " +
                        std::to_string(config.dpdk.workers) + " worker(s) x rx_desc summed over " +
                        std::to_string(n_physical) + " port(s) = " + std::to_string(rx_ring_mbufs) +
                        ", and packets in flight need more");
  }

  if (const YAML::Node* routes = s.find("routes")) {
    auto items = to_list(*routes, "routes");
    if (!items) return items.as_failure();
    for (std::size_t i = 0; i < items.value().size(); ++i) {
      if (auto r = parse_route(items.value()[i], item_path("routes", i), config.ports, origins,
                               config.routes);
          !r) {
        return r.as_failure();
      }
    }
  }

  if (const YAML::Node* neighbors = s.find("neighbors")) {
    auto items = to_list(*neighbors, "neighbors");
    if (!items) return items.as_failure();
    for (std::size_t i = 0; i < items.value().size(); ++i) {
      if (auto r = parse_neighbor(items.value()[i], item_path("neighbors", i), config.ports,
                                  config.neighbors);
          !r) {
        return r.as_failure();
      }
    }
  }

  if (const YAML::Node* fib = s.find("fib")) {
    if (auto r = parse_fib(*fib, config.fib); !r) return r.as_failure();
  }
  if (const YAML::Node* neighbor = s.find("neighbor")) {
    if (auto r = parse_neighbor_timers(*neighbor, config.neighbor); !r) return r.as_failure();
  }

  if (const YAML::Node* tunnels = s.find("tunnels")) {
    auto items = to_list(*tunnels, "tunnels");
    if (!items) return items.as_failure();
    if (items.value().size() > kMaxTunnelCount) {
      return error_at("tunnels", *tunnels,
                      std::to_string(items.value().size()) + " tunnels; at most " +
                          std::to_string(kMaxTunnelCount));
    }
    for (std::size_t i = 0; i < items.value().size(); ++i) {
      if (auto r =
              parse_tunnel(items.value()[i], item_path("tunnels", i), config.ports, config.tunnels);
          !r) {
        return r.as_failure();
      }
    }
  }

  if (const YAML::Node* uapi = s.find("uapi")) {
    if (auto r = parse_uapi(*uapi, config.uapi); !r) return r.as_failure();
  }

  if (const YAML::Node* socket = s.find("control_socket")) {
    auto value = to_string(*socket, "control_socket");
    if (!value) return value.as_failure();
    const std::string& path = value.value();
    if (path.empty() || path.front() != '/') {
      return error_at("control_socket", *socket, quote(path) + " is not an absolute path");
    }
    if (path.size() > kUnixPathMax || path.find('\0') != std::string::npos) {
      return error_at("control_socket", *socket,
                      quote(path) + " is longer than " + std::to_string(kUnixPathMax) +
                          " bytes, the limit of a UNIX socket path");
    }
    config.control_socket = path;
  }
  if (auto r = read_uint(s, "idle_sleep_max_us", 0, 100000, config.idle_sleep_max_us); !r) {
    return r.as_failure();
  }
  return config;
}

}  // namespace

std::string check_uapi_socket_dir(std::string_view dir) {
  const std::string q = quote(std::string(dir));
  if (dir.empty() || dir.front() != '/') return q + " is not an absolute path";
  // "<dir>/<tunnel name of up to 15 bytes>.sock" must fit a UNIX socket path.
  if (dir.size() + 1 + kIfNameMax + 5 > kUnixPathMax || dir.find('\0') != std::string::npos) {
    return q + " is longer than " + std::to_string(kUnixPathMax - 1 - kIfNameMax - 5) +
           " bytes (the socket path <dir>/<tunnel>.sock must fit in " +
           std::to_string(kUnixPathMax) + " bytes)";
  }
  return {};
}

Result<FwdConfig> parse_config(std::string_view yaml_text) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    std::string where;
    if (!e.mark.is_null()) {
      where = "line " + std::to_string(e.mark.line + 1) + ", column " +
              std::to_string(e.mark.column + 1) + ": ";
    }
    return fail(where + "YAML syntax error: " + e.msg, EINVAL);
  }
  if (documents.size() > 1) {
    return error_at("document", documents[1],
                    "the file holds " + std::to_string(documents.size()) +
                        " YAML documents; write exactly one");
  }
  try {
    return parse_document(documents.empty() ? YAML::Node() : documents.front());
  } catch (const YAML::Exception& e) {
    // Node access does not throw on a tree LoadAll accepted; this keeps the promise anyway.
    return fail("document: " + e.msg, EINVAL);
  }
}

std::optional<WgKey> parse_wg_key(std::string_view base64) {
  // 44 characters = 32 bytes + one "=" of padding; EVP_DecodeBlock returns 33 (it does not
  // subtract the padding), and rejects characters outside the alphabet.
  if (base64.size() != 44 || base64[43] != '=' || base64[42] == '=') return std::nullopt;
  std::uint8_t out[33];
  const int n = EVP_DecodeBlock(out, reinterpret_cast<const unsigned char*>(base64.data()), 44);
  if (n != 33) return std::nullopt;
  WgKey key;
  std::memcpy(key.data(), out, key.size());
  // Canonical form only: the unused low bits of the last character must be zero.
  if (wg_key_str(key) != base64) return std::nullopt;
  return key;
}

std::string wg_key_str(const WgKey& key) {
  char out[45];
  EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out), key.data(), static_cast<int>(key.size()));
  return std::string(out, 44);
}

std::optional<ProbeTarget> probe_target(const TunnelConfig& tunnel, const TunnelPeerConfig& peer) {
  for (const Family family : {Family::kV4, Family::kV6}) {
    const IpPrefix* own = nullptr;
    for (const IpPrefix& a : tunnel.address) {
      if (a.addr.family == family) {
        own = &a;
        break;
      }
    }
    if (own == nullptr) continue;
    for (const IpPrefix& allowed : peer.allowed_ips) {
      if (allowed.addr.family != family || allowed.len != allowed.max_len()) continue;
      bool ours = false;
      for (const IpPrefix& a : tunnel.address) ours = ours || a.addr == allowed.addr;
      if (!ours) return ProbeTarget{own->addr, allowed.addr};
    }
  }
  return std::nullopt;
}

Result<void> load_tunnel_keys(FwdConfig& config) {
  for (std::size_t i = 0; i < config.tunnels.size(); ++i) {
    TunnelConfig& t = config.tunnels[i];
    if (t.private_key || t.private_key_file.empty()) continue;
    const std::string field = item_path("tunnels", i) + ".private_key_file";
    std::FILE* f = std::fopen(t.private_key_file.c_str(), "re");
    if (f == nullptr) {
      const int err = errno;
      return fail(field + ": cannot open " + t.private_key_file + ": " + std::strerror(err), err);
    }
    char buf[128] = {};
    const std::size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
    std::fclose(f);
    std::string_view text(buf, n);
    while (!text.empty() && (text.back() == '\n' || text.back() == ' ' || text.back() == '\r')) {
      text.remove_suffix(1);
    }
    const auto key = parse_wg_key(text);
    if (!key) {
      return fail(field + ": " + t.private_key_file +
                      " does not hold a WireGuard key (44 characters of base64)",
                  EINVAL);
    }
    t.private_key = *key;
  }
  return ok();
}

Result<FwdConfig> load_config(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    return fail(path + ": cannot open: " + std::strerror(err), err);
  }
  std::string text;
  int err = 0;
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    err = errno;
  } else if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    return fail(path + ": not a regular file", EINVAL);
  } else if (static_cast<std::uint64_t>(st.st_size) > kMaxConfigBytes) {
    ::close(fd);
    return fail(path + ": larger than " + std::to_string(kMaxConfigBytes >> 20) +
                    " MiB; not a configuration file",
                EFBIG);
  } else {
    char buf[65536];
    while (true) {
      const ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) err = errno;
      if (n <= 0) break;
      text.append(buf, static_cast<std::size_t>(n));
      if (text.size() > kMaxConfigBytes) {
        err = EFBIG;
        break;
      }
    }
  }
  ::close(fd);
  if (err != 0) return fail(path + ": cannot read: " + std::strerror(err), err);
  auto config = parse_config(text);
  if (!config) return fail(path + ": " + config.error().message, config.error().code);
  if (auto r = load_tunnel_keys(config.value()); !r) {
    return fail(path + ": " + r.error().message, r.error().code);
  }
  return config;
}

}  // namespace causeway::fwd
