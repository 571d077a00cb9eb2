// SPDX-License-Identifier: Apache-2.0
// causewayctl's tables (render.h).
#include "ctl/render.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

namespace causeway::fwd::ctl {

using nlohmann::json;

void TextTable::add_row(std::vector<std::string> cells) {
  cells.resize(columns_.size());
  rows_.push_back(std::move(cells));
}

std::string TextTable::str() const {
  std::vector<std::size_t> width(columns_.size());
  for (std::size_t c = 0; c < columns_.size(); ++c) {
    width[c] = columns_[c].title.size();
    for (const auto& row : rows_) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  auto emit = [&](auto cell_of) {
    std::string line;
    for (std::size_t c = 0; c < columns_.size(); ++c) {
      const std::string& cell = cell_of(c);
      std::string pad(width[c] - cell.size(), ' ');
      if (c > 0) line += "  ";
      if (columns_[c].align == Align::kRight) {
        line += pad + cell;
      } else {
        line += cell + pad;
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + '\n';
  };
  emit([&](std::size_t c) -> const std::string& { return columns_[c].title; });
  for (const auto& row : rows_) {
    emit([&](std::size_t c) -> const std::string& { return row[c]; });
  }
  return out;
}

namespace {

std::string scalar_cell(const json& v) {
  switch (v.type()) {
    case json::value_t::string:
      return v.get<std::string>();
    case json::value_t::number_unsigned:
      return std::to_string(v.get<std::uint64_t>());
    case json::value_t::number_integer:
      return std::to_string(v.get<std::int64_t>());
    case json::value_t::number_float: {
      double d = v.get<double>();
      char buf[32];
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 1e15) {
        std::snprintf(buf, sizeof(buf), "%.0f", d);
      } else {
        std::snprintf(buf, sizeof(buf), "%.1f", d);
      }
      return buf;
    }
    case json::value_t::boolean:
      return v.get<bool>() ? "yes" : "no";
    case json::value_t::array: {
      std::string s;
      for (const auto& e : v) {
        if (!s.empty()) s += ',';
        s += scalar_cell(e);
      }
      return s.empty() ? "-" : s;
    }
    default:
      return "-";
  }
}

const json& array_field(const json& j, const char* key) {
  static const json kEmpty = json::array();
  if (!j.is_object()) return kEmpty;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return kEmpty;
  return *it;
}

std::uint64_t count_of(const json& v) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer()) return static_cast<std::uint64_t>(std::max<std::int64_t>(0, v));
  if (v.is_number_float()) return static_cast<std::uint64_t>(std::max(0.0, v.get<double>()));
  return 0;
}

using Align = TextTable::Align;

}  // namespace

std::string json_cell(const json& object, std::string_view key) {
  if (!object.is_object()) return "-";
  auto it = object.find(key);
  if (it == object.end()) return "-";
  std::string s = scalar_cell(*it);
  return s.empty() ? "-" : s;
}

std::string render_stats(const json& stats, bool show_all) {
  std::string out;
  TextTable ports({{"PORT", Align::kRight},
                   {"NAME"},
                   {"RX-PACKETS", Align::kRight},
                   {"RX-BYTES", Align::kRight},
                   {"RX-DROPPED", Align::kRight},
                   {"TX-PACKETS", Align::kRight},
                   {"TX-BYTES", Align::kRight},
                   {"TX-DROPPED", Align::kRight}});
  for (const auto& p : array_field(stats, "ports")) {
    ports.add_row({json_cell(p, "index"), json_cell(p, "name"), json_cell(p, "rx_packets"),
                   json_cell(p, "rx_bytes"), json_cell(p, "rx_dropped"), json_cell(p, "tx_packets"),
                   json_cell(p, "tx_bytes"), json_cell(p, "tx_dropped")});
  }
  out += ports.str();

  std::vector<std::pair<std::string, std::uint64_t>> drops;
  if (stats.is_object() && stats.contains("drops") && stats["drops"].is_object()) {
    for (const auto& [name, value] : stats["drops"].items()) {
      std::uint64_t n = count_of(value);
      if (n > 0 || show_all) drops.emplace_back(name, n);
    }
  }
  std::stable_sort(drops.begin(), drops.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  out += '\n';
  if (drops.empty()) {
    out += "no drops\n";
  } else {
    TextTable table({{"DROP-REASON"}, {"PACKETS", Align::kRight}});
    for (const auto& [name, n] : drops) table.add_row({name, std::to_string(n)});
    out += table.str();
  }

  const json& workers = array_field(stats, "workers");
  if (!workers.empty()) {
    TextTable table({{"LCORE", Align::kRight},
                     {"BUSY-POLLS", Align::kRight},
                     {"IDLE-POLLS", Align::kRight},
                     {"BUSY%", Align::kRight}});
    for (const auto& w : workers) {
      std::uint64_t busy = w.is_object() ? count_of(w.value("busy_polls", json())) : 0;
      std::uint64_t idle = w.is_object() ? count_of(w.value("idle_polls", json())) : 0;
      char pct[16] = "-";
      if (busy + idle > 0) {
        std::snprintf(pct, sizeof(pct), "%.1f",
                      100.0 * static_cast<double>(busy) / static_cast<double>(busy + idle));
      }
      table.add_row(
          {json_cell(w, "lcore"), json_cell(w, "busy_polls"), json_cell(w, "idle_polls"), pct});
    }
    out += '\n' + table.str();
  }
  return out;
}

std::string render_routes(const json& routes) {
  const json& list = array_field(routes, "routes");
  bool any_table = false;
  bool any_source = false;
  for (const auto& r : list) {
    if (!r.is_object()) continue;
    if (r.contains("table") && count_of(r["table"]) != 0) any_table = true;
    if (r.contains("source")) any_source = true;
  }
  std::vector<TextTable::Column> columns{{"PREFIX"}, {"KIND"}, {"VIA"}, {"PORT"}};
  if (any_source) columns.push_back({"SOURCE"});
  if (any_table) columns.push_back({"TABLE", Align::kRight});
  TextTable table(std::move(columns));
  for (const auto& r : list) {
    // A path-group route goes to a group of tunnel peers, not to a gateway: VIA names the group.
    // So does a next-hop group route (ECMP over gateways, `causewayctl nexthop-groups`).
    std::string via = !r.is_object()                ? json_cell(r, "via")
                      : r.contains("path_group")    ? "group " + json_cell(r, "path_group")
                      : r.contains("nexthop_group") ? "nhg " + json_cell(r, "nexthop_group")
                                                    : json_cell(r, "via");
    std::vector<std::string> row{json_cell(r, "prefix"), json_cell(r, "kind"), std::move(via),
                                 json_cell(r, "port")};
    if (any_source) row.push_back(json_cell(r, "source"));
    if (any_table) row.push_back(json_cell(r, "table"));
    table.add_row(std::move(row));
  }
  std::string out = table.str();
  if (routes.is_object() && routes.contains("total") && routes["total"].is_number()) {
    std::uint64_t total = count_of(routes["total"]);
    if (total > list.size()) {
      out +=
          "(" + std::to_string(list.size()) + " of " + std::to_string(total) + " routes shown)\n";
    }
  }
  return out;
}

std::string render_neighbors(const json& neighbors) {
  TextTable table({{"PORT"}, {"ADDRESS"}, {"MAC"}, {"STATE"}, {"AGE(s)", Align::kRight}});
  for (const auto& n : array_field(neighbors, "neighbors")) {
    table.add_row({json_cell(n, "port"), json_cell(n, "address"), json_cell(n, "mac"),
                   json_cell(n, "state"), json_cell(n, "age_s")});
  }
  return table.str();
}

std::string render_ports(const json& ports) {
  TextTable table({{"INDEX", Align::kRight},
                   {"NAME"},
                   {"DEVICE"},
                   {"MAC"},
                   {"MTU", Align::kRight},
                   {"LINK"},
                   {"MIRROR"},
                   {"ADDRESSES"}});
  for (const auto& p : array_field(ports, "ports")) {
    std::string mirror = json_cell(p, "mirror");
    std::string ifindex = json_cell(p, "mirror_ifindex");
    if (mirror != "-" && ifindex != "-") mirror += " (" + ifindex + ")";
    // A VLAN subinterface has no device of its own: say whose tag it is.
    const std::string device =
        p.contains("vlan") ? "vlan " + json_cell(p, "vlan") + " of " + json_cell(p, "parent")
                           : json_cell(p, "device");
    table.add_row({json_cell(p, "index"), json_cell(p, "name"), device, json_cell(p, "mac"),
                   json_cell(p, "mtu"), json_cell(p, "link"), mirror, json_cell(p, "addresses")});
  }
  return table.str();
}

std::string render_tunnels(const json& tunnels) {
  TextTable table({{"TUNNEL"},
                   {"PORT", Align::kRight},
                   {"PEER"},
                   {"ENDPOINT"},
                   {"SESSION"},
                   {"HANDSHAKE", Align::kRight},
                   {"RX BYTES", Align::kRight},
                   {"TX BYTES", Align::kRight},
                   {"ALLOWED IPS"}});
  for (const auto& t : array_field(tunnels, "tunnels")) {
    for (const auto& p : array_field(t, "peers")) {
      std::string name = json_cell(p, "name");
      if (name == "-" || name.empty()) name = json_cell(p, "public_key");
      table.add_row({json_cell(t, "name"), json_cell(t, "listen_port"), name,
                     json_cell(p, "endpoint"), p.value("session", false) ? "up" : "down",
                     json_cell(p, "latest_handshake"), json_cell(p, "rx_bytes"),
                     json_cell(p, "tx_bytes"), json_cell(p, "allowed_ips")});
    }
  }
  return table.str();
}

namespace {

// "wg0/far, wg1/far" from a list of {tunnel, peer}; entries of another shape are skipped.
std::string member_list(const json& list) {
  std::string out;
  if (!list.is_array()) return out;
  for (const auto& m : list) {
    if (!m.is_object()) continue;
    if (!out.empty()) out += ", ";
    const auto t = m.find("tunnel");
    const auto p = m.find("peer");
    out += (t != m.end() && t->is_string() ? t->get<std::string>() : "?") + "/" +
           (p != m.end() && p->is_string() ? p->get<std::string>() : "?");
  }
  return out;
}

// A traffic class entry's number, or -1.
long class_of(const json& c) {
  if (!c.is_object()) return -1;
  const auto it = c.find("class");
  return it != c.end() && it->is_number_integer() ? it->get<long>() : -1;
}

}  // namespace

std::string render_path_groups(const json& groups) {
  // Without traffic classes (every group has class 0 only) the table keeps three columns.
  bool any_class = false;
  for (const auto& g : array_field(groups, "path_groups")) {
    for (const auto& c : array_field(g, "classes")) any_class = any_class || class_of(c) > 0;
  }
  if (!any_class) {
    TextTable plain({{"GROUP", Align::kRight}, {"MEMBERS"}, {"ACTIVE"}});
    for (const auto& g : array_field(groups, "path_groups")) {
      const std::string members = member_list(array_field(g, "members"));
      const std::string active = member_list(array_field(g, "active"));
      plain.add_row(
          {json_cell(g, "id"), members.empty() ? "-" : members, active.empty() ? "-" : active});
    }
    return plain.str();
  }
  TextTable table({{"GROUP", Align::kRight}, {"MEMBERS"}, {"CLASS"}, {"ACTIVE"}});
  for (const auto& g : array_field(groups, "path_groups")) {
    std::string members = member_list(array_field(g, "members"));
    if (members.empty()) members = "-";
    bool first = true;
    // One row per class: "2 voice" and the members its packets use; "drop" for none, and
    // "(default)" where the class has no set of its own.
    for (const auto& c : array_field(g, "classes")) {
      const long number = class_of(c);
      if (number < 0) continue;
      std::string cls = std::to_string(number);
      if (const auto n = c.find("name"); n != c.end() && n->is_string() && !n->empty()) {
        cls += " " + n->get<std::string>();
      }
      std::string active = member_list(array_field(c, "active"));
      if (active.empty()) active = "drop";
      const auto own = c.find("own");
      if (number != 0 && !(own != c.end() && own->is_boolean() && own->get<bool>())) {
        active += " (default)";
      }
      table.add_row({first ? json_cell(g, "id") : "", first ? members : "", cls, active});
      first = false;
    }
    if (first) {  // no classes listed: the group's own active set
      const std::string active = member_list(array_field(g, "active"));
      table.add_row({json_cell(g, "id"), members, "-", active.empty() ? "-" : active});
    }
  }
  return table.str();
}

std::string render_nexthop_groups(const json& groups) {
  TextTable table({{"GROUP", Align::kRight},
                   {"ROUTES", Align::kRight},
                   {"PORT"},
                   {"GATEWAY"},
                   {"NEIGHBOR"},
                   {"PACKETS", Align::kRight}});
  for (const auto& g : array_field(groups, "nexthop_groups")) {
    bool first = true;
    for (const auto& m : array_field(g, "members")) {
      const auto resolved = m.is_object() ? m.find("resolved") : m.end();
      const bool up =
          m.is_object() && resolved != m.end() && resolved->is_boolean() && resolved->get<bool>();
      table.add_row({first ? json_cell(g, "id") : "", first ? json_cell(g, "routes") : "",
                     json_cell(m, "port"), json_cell(m, "gateway"), up ? "resolved" : "unresolved",
                     json_cell(m, "packets")});
      first = false;
    }
  }
  return table.str();
}

json probes_view(const json& tunnels) {
  json out = json::array();
  for (const auto& t : array_field(tunnels, "tunnels")) {
    for (const auto& p : array_field(t, "peers")) {
      if (!p.is_object() || !p.contains("probe") || !p["probe"].is_object()) continue;
      const json& pr = p["probe"];
      std::string name = p.value("name", std::string());
      if (name.empty()) name = p.value("public_key", std::string());
      const auto sent = pr.value("sent", std::uint64_t{0});
      const auto replied = pr.value("replied", std::uint64_t{0});
      out.push_back({{"tunnel", t.value("name", std::string())},
                     {"peer", name},
                     {"public_key", p.value("public_key", std::string())},
                     {"session", p.value("session", false)},
                     {"source", pr.value("source", std::string())},
                     {"target", pr.value("target", std::string())},
                     {"interval_ms", pr.value("interval_ms", 0u)},
                     {"sent", sent},
                     {"replied", replied},
                     {"lost", sent > replied ? sent - replied : 0},
                     {"no_session", pr.value("no_session", std::uint64_t{0})},
                     {"before_session", pr.value("before_session", std::uint64_t{0})},
                     {"last_rtt_ns", pr.value("last_rtt_ns", std::uint64_t{0})},
                     {"last_reply_age_ms", pr.value("last_reply_age_ms", std::int64_t{-1})}});
    }
  }
  return json{{"probes", out}};
}

namespace {

std::string ms_cell(std::uint64_t ns) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ns) / 1e6);
  return buf;
}

}  // namespace

std::string render_probes(const json& view) {
  TextTable table({{"TUNNEL"},
                   {"PEER"},
                   {"TARGET"},
                   {"INTERVAL", Align::kRight},
                   {"SENT", Align::kRight},
                   {"REPLIED", Align::kRight},
                   {"LOST", Align::kRight},
                   {"LAST RTT MS", Align::kRight},
                   {"LAST REPLY", Align::kRight}});
  for (const auto& p : array_field(view, "probes")) {
    const auto interval = p.value("interval_ms", 0u);
    const auto age = p.value("last_reply_age_ms", std::int64_t{-1});
    table.add_row({json_cell(p, "tunnel"), json_cell(p, "peer"), json_cell(p, "target"),
                   interval ? std::to_string(interval) + " ms" : "off", json_cell(p, "sent"),
                   json_cell(p, "replied"), json_cell(p, "lost"),
                   p.value("replied", std::uint64_t{0})
                       ? ms_cell(p.value("last_rtt_ns", std::uint64_t{0}))
                       : "-",
                   age < 0 ? "never" : std::to_string(age) + " ms ago"});
  }
  return table.str();
}

std::string render_probe_events(const json& events) {
  TextTable table({{"KIND"},
                   {"TUNNEL"},
                   {"PEER"},
                   {"SEQ", Align::kRight},
                   {"NS", Align::kRight},
                   {"RTT MS", Align::kRight}});
  for (const auto& e : array_field(events, "events")) {
    const bool reply = e.value("kind", std::string()) == "reply";
    table.add_row({json_cell(e, "kind"), json_cell(e, "tunnel"), json_cell(e, "peer"),
                   json_cell(e, "seq"), json_cell(e, "ns"),
                   reply ? ms_cell(e.value("rtt_ns", std::uint64_t{0})) : ""});
  }
  return table.str() + "cursor " + json_cell(events, "cursor") + ", missed " +
         json_cell(events, "missed") + "\n";
}

std::string render_traffic_classes(const json& classes) {
  TextTable table({{"CLASS", Align::kRight}, {"NAME"}, {"MATCH"}});
  for (const auto& c : array_field(classes, "classes")) {
    std::string match;
    for (const char* key : {"dscp", "protocol", "ports", "src_ports", "dst_ports", "prefixes",
                            "src_prefixes", "dst_prefixes"}) {
      if (!c.is_object() || !c.contains(key)) continue;
      if (!match.empty()) match += " ";
      match += std::string(key) + "=" + json_cell(c, key);
    }
    table.add_row({json_cell(c, "id"), json_cell(c, "name"), match.empty() ? "any" : match});
  }
  return table.str() + "(first match wins; other packets are class 0)\n";
}

std::string render_hello(const json& hello) {
  return "causeway-fwd " + json_cell(hello, "name") + ", pid " + json_cell(hello, "pid") +
         ", protocol version " + json_cell(hello, "version") + "\n";
}

std::string render_status(const json& provisioning, const json& forwarder,
                          std::string_view provision_path) {
  std::string out = "provisioning  ";
  if (!provisioning.is_object()) {
    out += "none (no " + std::string(provision_path) + ")\n";
  } else {
    out += json_cell(provisioning, "state") + " (instance " +
           json_cell(provisioning, "instance_id") + ", " + json_cell(provisioning, "time") + ")\n";
    out += "              " + json_cell(provisioning, "message") + "\n";
  }
  out += "forwarder     ";
  if (forwarder.is_object() && forwarder.value("up", false) && forwarder.contains("hello")) {
    out += "up: " + render_hello(forwarder["hello"]);
  } else {
    out += "not answering: " + json_cell(forwarder, "error") + "\n";
  }
  return out;
}

}  // namespace causeway::fwd::ctl
