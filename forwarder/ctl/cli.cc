// SPDX-License-Identifier: Apache-2.0
// causewayctl command line (cli.h): parse with CLI11, talk through ControlClient, print with
// render.h or, with --json, the server's JSON as is (pretty-printed).
#include "ctl/cli.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <fstream>
#include <istream>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "causeway/fwd/nexthop_group_codec.h"
#include "causeway/fwd/steering_codec.h"
#include "control/client.h"
#include "ctl/render.h"
#include "ctl/routed_client.h"

namespace causeway::fwd::ctl {

namespace {

struct Settings {
  std::string socket{kDefaultSocketPath};
  std::string routed_socket{"/run/causeway/routed.sock"};
  double timeout_s = 5.0;
};

// Everything one command line can set; CLI11 fills it.
struct Words {
  bool json = false;
  bool stats_all = false;
  unsigned family = 0;      // 0 = both
  std::uint64_t limit = 0;  // 0 = no limit
  std::vector<std::string> route_add;
  std::vector<std::string> route_del;
  std::vector<std::string> neighbor_add;
  std::vector<std::string> neighbor_del;
  unsigned path_id = 0;
  std::vector<std::string> path_members;  // TUNNEL/PEER
  std::vector<std::string> path_active;
  std::uint64_t probe_cursor = 0;
  std::uint32_t probe_interval = 0;
  std::vector<std::string> path_classes;  // C=TUNNEL/PEER,TUNNEL/PEER ("C=" drops class C)
  std::string classes_json;               // the request of message 14
  unsigned nhg_id = 0;
  std::vector<std::string> nhg_members;  // PORT/GATEWAY
  std::string provision_file{kDefaultProvisionStatusPath};
};

struct Commands {
  CLI::App* stats = nullptr;
  CLI::App* routes = nullptr;
  CLI::App* route = nullptr;
  CLI::App* route_add = nullptr;
  CLI::App* route_del = nullptr;
  CLI::App* neighbors = nullptr;
  CLI::App* neighbor = nullptr;
  CLI::App* neighbor_add = nullptr;
  CLI::App* neighbor_del = nullptr;
  CLI::App* ports = nullptr;
  CLI::App* hello = nullptr;
  CLI::App* tunnels = nullptr;
  CLI::App* path_groups = nullptr;
  CLI::App* path_groups_set = nullptr;
  CLI::App* nexthop_groups = nullptr;
  CLI::App* nexthop_groups_set = nullptr;
  CLI::App* nexthop_groups_del = nullptr;
  CLI::App* probes = nullptr;
  CLI::App* probes_events = nullptr;
  CLI::App* probes_interval = nullptr;
  CLI::App* traffic_classes = nullptr;
  CLI::App* traffic_classes_set = nullptr;
  CLI::App* sla = nullptr;
  CLI::App* paths = nullptr;
  CLI::App* routed = nullptr;
  CLI::App* routed_status = nullptr;
  CLI::App* status = nullptr;
};

Commands define_commands(CLI::App& app, Words& w) {
  Commands c;
  app.fallthrough();  // global options may follow the command; subcommands inherit this
  app.add_flag("--json", w.json, "Print the forwarder's JSON reply instead of a table");
  c.stats = app.add_subcommand("stats", "Per-port counters, drop reasons and worker load");
  c.stats->add_flag("-a,--all", w.stats_all, "Also show drop reasons that are zero");
  c.routes = app.add_subcommand("routes", "List the forwarding table");
  c.routes->add_option("--family", w.family, "Only IPv4 or only IPv6 routes")
      ->check(CLI::IsMember({4u, 6u}));
  c.routes->add_option("--limit", w.limit, "Show at most N routes")->check(CLI::PositiveNumber);
  c.route = app.add_subcommand("route", "Add or delete one route");
  c.route->require_subcommand(1);
  c.route_add = c.route->add_subcommand(
      "add", "route add PREFIX [via GW] [port NAME|INDEX] [blackhole|unreachable] [table N]");
  c.route_add->add_option("words", w.route_add, "PREFIX and keywords")->required();
  c.route_del = c.route->add_subcommand("del", "route del PREFIX [table N]");
  c.route_del->add_option("words", w.route_del, "PREFIX and keywords")->required();
  c.neighbors = app.add_subcommand("neighbors", "List the neighbour (ARP/ND) table");
  c.neighbor = app.add_subcommand("neighbor", "Add or delete a static neighbour");
  c.neighbor->require_subcommand(1);
  c.neighbor_add = c.neighbor->add_subcommand("add", "neighbor add ADDR MAC port NAME");
  c.neighbor_add->add_option("words", w.neighbor_add, "ADDR MAC port NAME")->required();
  c.neighbor_del = c.neighbor->add_subcommand("del", "neighbor del ADDR [MAC] port NAME");
  c.neighbor_del->add_option("words", w.neighbor_del, "ADDR [MAC] port NAME")->required();
  c.ports = app.add_subcommand("ports", "List ports, their mirrors and addresses");
  c.hello = app.add_subcommand("hello", "Check that the forwarder answers");
  c.tunnels = app.add_subcommand("tunnels", "WireGuard tunnels and their peers");
  c.path_groups =
      app.add_subcommand("path-groups", "The forwarder's path groups: members and the active set");
  c.path_groups_set = c.path_groups->add_subcommand(
      "set", "path-groups set ID --member TUNNEL/PEER... [--active TUNNEL/PEER...]");
  c.path_groups_set->add_option("id", w.path_id, "Path group id (0..1023)")->required();
  c.path_groups_set->add_option("--member", w.path_members, "TUNNEL/PEER (peer name or key)");
  c.path_groups_set->add_option("--active", w.path_active,
                                "members that carry traffic (default all)");
  c.path_groups_set->add_option(
      "--class", w.path_classes,
      "C=TUNNEL/PEER[,TUNNEL/PEER...]: traffic class C's own active set (C= drops the class)");
  c.nexthop_groups = app.add_subcommand(
      "nexthop-groups", "The forwarder's next-hop groups (ECMP): members, routes, packets");
  c.nexthop_groups_set = c.nexthop_groups->add_subcommand(
      "set", "nexthop-groups set ID --member PORT/GATEWAY...: create or replace a group");
  c.nexthop_groups_set->add_option("id", w.nhg_id, "Next-hop group id (0..4095)")->required();
  c.nexthop_groups_set->add_option("--member", w.nhg_members, "PORT/GATEWAY (port name or index)")
      ->required();
  c.nexthop_groups_del = c.nexthop_groups->add_subcommand(
      "del", "nexthop-groups del ID: delete a group no route uses");
  c.nexthop_groups_del->add_option("id", w.nhg_id, "Next-hop group id")->required();
  c.probes =
      app.add_subcommand("probes", "SLA probes per tunnel peer: sent, replied, last round trip");
  c.probes_events = c.probes->add_subcommand(
      "events", "probes events [--cursor N]: the forwarder's probe event ring from N");
  c.probes_events->add_option("--cursor", w.probe_cursor, "First event (0 = oldest kept)");
  c.probes_interval = c.probes->add_subcommand(
      "interval", "probes interval MS: every probing peer's interval (0 = off, 10..60000)");
  c.probes_interval->add_option("ms", w.probe_interval, "Milliseconds")->required();
  c.traffic_classes = app.add_subcommand(
      "traffic-classes", "The forwarder's traffic classes (which packets of a path group)");
  c.traffic_classes_set = c.traffic_classes->add_subcommand(
      "set", "traffic-classes set JSON: replace the table ('{\"classes\": [...]}')");
  c.traffic_classes_set->add_option("json", w.classes_json, "the table as JSON")->required();
  c.sla = app.add_subcommand("sla", "SLA state per path and per class (causeway-routed)");
  c.paths = app.add_subcommand("paths",
                               "Routes towards remote PoPs and each class's paths "
                               "(causeway-routed)");
  c.routed = app.add_subcommand("routed", "causeway-routed");
  c.routed->require_subcommand(1);
  c.routed_status = c.routed->add_subcommand("status", "FPM, forwarder sync, FIB builder counters");
  c.status = app.add_subcommand(
      "status", "Appliance status: the provisioning result and whether the forwarder answers");
  c.status
      ->add_option("--provision-file", w.provision_file,
                   "Provisioning result written by causeway-provision")
      ->envname("CAUSEWAY_PROVISION_STATUS")
      ->capture_default_str();
  return c;
}

class Session {
 public:
  Session(Settings settings, std::ostream& out, std::ostream& err)
      : settings_(std::move(settings)), out_(out), err_(err) {}

  // nullptr after printing why it could not connect.
  ControlClient* client() {
    if (client_ && client_->usable()) return &*client_;
    auto c = ControlClient::connect(settings_.socket, client_options());
    if (!c) {
      err_ << "causewayctl: " << c.error().message << '\n';
      return nullptr;
    }
    client_.emplace(std::move(c).value());
    return &*client_;
  }

  std::ostream& out() { return out_; }
  const Settings& settings() const { return settings_; }
  ControlClientOptions client_options() const {
    ControlClientOptions options;
    options.timeout = std::chrono::milliseconds(static_cast<long>(settings_.timeout_s * 1000));
    return options;
  }
  std::ostream& err() { return err_; }

  int failed(const Error& e) {
    err_ << "causewayctl: " << e.message << '\n';
    return kExitFailed;
  }
  int usage(const std::string& message) {
    err_ << "causewayctl: " << message << '\n';
    return kExitUsage;
  }

 private:
  Settings settings_;
  std::ostream& out_;
  std::ostream& err_;
  std::optional<ControlClient> client_;
};

std::optional<std::uint64_t> parse_number(const std::string& text) {
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

// A port given by name or index, resolved to an index through the forwarder's port list.
int resolve_port(Session& s, ControlClient& client, const std::string& text, std::uint16_t& index) {
  if (auto n = parse_number(text)) {
    if (*n >= kNoPort) return s.usage("port index " + text + " out of range");
    index = static_cast<std::uint16_t>(*n);
    return kExitOk;
  }
  auto ports = client.get_ports();
  if (!ports) return s.failed(ports.error());
  const auto& body = ports.value();
  if (body.is_object() && body.contains("ports") && body["ports"].is_array()) {
    for (const auto& p : body["ports"]) {
      if (p.is_object() && p.value("name", std::string()) == text && p.contains("index") &&
          p["index"].is_number_unsigned() && p["index"].get<std::uint64_t>() < kNoPort) {
        index = static_cast<std::uint16_t>(p["index"].get<std::uint64_t>());
        return kExitOk;
      }
    }
  }
  s.err() << "causewayctl: no port named " << text << " (see `causewayctl ports`)\n";
  return kExitFailed;
}

void print_json(Session& s, const nlohmann::json& body) {
  s.out() << body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << '\n';
}

int do_route(Session& s, const std::vector<std::string>& words, bool add, bool json) {
  const char* usage =
      add ? "usage: route add PREFIX [via GW] [port NAME|INDEX] [blackhole|unreachable] "
            "[table N]"
          : "usage: route del PREFIX [table N]";
  auto prefix = IpPrefix::parse(words.at(0), /*allow_host=*/true);
  if (!prefix) return s.usage("invalid prefix '" + words[0] + "'; " + usage);
  if (prefix->masked() != *prefix) {
    return s.usage("prefix " + words[0] + " has host bits set (did you mean " +
                   prefix->masked().str() + "?)");
  }
  RouteUpdate u;
  u.op = add ? RouteOp::kAdd : RouteOp::kDelete;
  u.prefix = *prefix;
  std::optional<RouteKind> kind;
  std::optional<std::string> port;
  for (std::size_t i = 1; i < words.size(); ++i) {
    const std::string& w = words[i];
    bool has_arg = i + 1 < words.size();
    if (w == "table" && has_arg) {
      auto n = parse_number(words[++i]);
      if (!n || *n > 0xffffffffu) return s.usage("invalid table '" + words[i] + "'");
      u.table = static_cast<std::uint32_t>(*n);
    } else if (add && w == "via" && has_arg) {
      auto gw = IpAddress::parse(words[++i]);
      if (!gw) return s.usage("invalid gateway address '" + words[i] + "'");
      if (gw->family != u.prefix.addr.family) {
        return s.usage("gateway " + words[i] + " is not of the prefix's address family");
      }
      u.gateway = *gw;
    } else if (add && w == "port" && has_arg) {
      port = words[++i];
    } else if (add && (w == "blackhole" || w == "unreachable" || w == "local")) {
      kind = *route_kind_from_string(w);
    } else {
      return s.usage("unexpected '" + w + "'; " + usage);
    }
  }
  if (add) {
    if (kind && u.gateway) {
      return s.usage(std::string(to_string(*kind)) + " route cannot have a gateway");
    }
    if (!kind) {
      if (u.gateway) {
        kind = RouteKind::kGateway;
      } else if (port) {
        kind = RouteKind::kConnected;
      } else {
        return s.usage("route add needs 'via GW', 'port NAME', 'blackhole' or 'unreachable'");
      }
    }
    u.kind = *kind;
  }
  ControlClient* client = s.client();
  if (!client) return kExitNoConnect;
  if (port) {
    if (int rc = resolve_port(s, *client, *port, u.port); rc != kExitOk) return rc;
  }
  auto payload = encode_route_batch(std::span(&u, 1));
  auto reply = client->request(MsgType::kRouteBatch, payload);
  if (!reply) return s.failed(reply.error());
  if (!reply.value().is_ok()) {
    return s.failed(Error{reply.value().error_message(), reply.value().status});
  }
  if (json) print_json(s, reply.value().body);
  return kExitOk;
}

int do_neighbor(Session& s, const std::vector<std::string>& words, bool add, bool json) {
  const char* usage =
      add ? "usage: neighbor add ADDR MAC port NAME" : "usage: neighbor del ADDR [MAC] port NAME";
  auto addr = IpAddress::parse(words.at(0));
  if (!addr) return s.usage("invalid address '" + words[0] + "'; " + usage);
  std::optional<MacAddress> mac;
  std::optional<std::string> port;
  for (std::size_t i = 1; i < words.size(); ++i) {
    const std::string& w = words[i];
    if (w == "port" && i + 1 < words.size()) {
      port = words[++i];
    } else if (!mac && MacAddress::parse(w)) {
      mac = MacAddress::parse(w);
    } else {
      return s.usage("unexpected '" + w + "'; " + usage);
    }
  }
  if (add && !mac) return s.usage(std::string("missing MAC address; ") + usage);
  if (!port) return s.usage(std::string("missing 'port NAME'; ") + usage);
  ControlClient* client = s.client();
  if (!client) return kExitNoConnect;
  auto body = client->set_neighbor(add ? "add" : "del", *port, *addr, mac);
  if (!body) return s.failed(body.error());
  if (json) print_json(s, body.value());
  return kExitOk;
}

// "wg0/pop-b" -> {"tunnel": "wg0", "peer": "pop-b"}; the peer may be a base64 key ('/' inside).
std::optional<nlohmann::json> member_ref(const std::string& text) {
  const auto slash = text.find('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == text.size()) return std::nullopt;
  return nlohmann::json{{"tunnel", text.substr(0, slash)}, {"peer", text.substr(slash + 1)}};
}

int do_path_groups_set(Session& s, const Words& w) {
  nlohmann::json req{
      {"id", w.path_id}, {"members", nlohmann::json::array()}, {"active", nlohmann::json::array()}};
  for (const auto& [words, key] :
       {std::pair{&w.path_members, "members"}, std::pair{&w.path_active, "active"}}) {
    for (const std::string& m : *words) {
      auto ref = member_ref(m);
      if (!ref) return s.usage("expected TUNNEL/PEER, got \"" + m + "\"");
      req[key].push_back(*ref);
    }
  }
  for (const std::string& text : w.path_classes) {
    const auto eq = text.find('=');
    unsigned cls = 0;
    const auto [end, ec] =
        std::from_chars(text.data(), text.data() + (eq == std::string::npos ? 0 : eq), cls);
    if (eq == std::string::npos || ec != std::errc() || end != text.data() + eq || cls > 15) {
      return s.usage("expected --class C=TUNNEL/PEER,... with C in 0..15, got \"" + text + "\"");
    }
    nlohmann::json entry{{"class", cls}, {"active", nlohmann::json::array()}};
    std::size_t at = eq + 1;
    while (at < text.size()) {
      const auto comma = std::min(text.find(',', at), text.size());
      auto ref = member_ref(text.substr(at, comma - at));
      if (!ref) return s.usage("expected TUNNEL/PEER in \"" + text + "\"");
      entry["active"].push_back(*ref);
      at = comma + 1;
    }
    if (!req.contains("classes")) req["classes"] = nlohmann::json::array();
    req["classes"].push_back(entry);
  }
  ControlClient* client = s.client();
  if (!client) return kExitNoConnect;
  auto body = client->set_path_group(req);
  if (!body) return s.failed(body.error());
  if (w.json) print_json(s, body.value());
  return kExitOk;
}

// "wan0/10.9.0.2" or "1/10.9.0.2" -> {"port": "wan0" | 1, "gateway": "10.9.0.2"}; checked with
// the forwarder's own codec before sending.
int do_nexthop_groups_set(Session& s, const Words& w) {
  nlohmann::json req{{"id", w.nhg_id}, {"members", nlohmann::json::array()}};
  for (const std::string& m : w.nhg_members) {
    const auto slash = m.find('/');
    if (slash == std::string::npos || slash == 0 || slash + 1 == m.size()) {
      return s.usage("expected PORT/GATEWAY, got \"" + m + "\"");
    }
    const std::string port = m.substr(0, slash);
    unsigned index = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), index);
    nlohmann::json member{{"gateway", m.substr(slash + 1)}};
    if (ec == std::errc() && end == port.data() + port.size()) {
      member["port"] = index;
    } else {
      member["port"] = port;
    }
    req["members"].push_back(member);
  }
  if (auto checked = parse_nexthop_group(req); !checked) {
    return s.usage("next-hop group: " + checked.error().message);
  }
  ControlClient* client = s.client();
  if (!client) return kExitNoConnect;
  auto body = client->set_nexthop_group(req);
  if (!body) return s.failed(body.error());
  if (w.json) print_json(s, body.value());
  return kExitOk;
}

int do_nexthop_groups_del(Session& s, const Words& w) {
  if (w.nhg_id >= kMaxNextHopGroups) return s.usage("next-hop group id out of range (0..4095)");
  ControlClient* client = s.client();
  if (!client) return kExitNoConnect;
  auto body = client->delete_nexthop_group(static_cast<std::uint16_t>(w.nhg_id));
  if (!body) return s.failed(body.error());
  if (w.json) print_json(s, body.value());
  return kExitOk;
}

// The table is checked here with the forwarder's own codec, so a typo is named before sending.
int do_traffic_classes_set(Session& s, const Words& w) {
  nlohmann::json req;
  try {
    req = nlohmann::json::parse(w.classes_json);
  } catch (const nlohmann::json::parse_error& e) {
    return s.usage(std::string("traffic classes: not JSON: ") + e.what());
  }
  if (auto checked = parse_traffic_classes(req); !checked) {
    return s.usage("traffic classes: " + checked.error().message);
  }
  ControlClient* client = s.client();
  if (!client) return kExitNoConnect;
  auto body = client->set_traffic_classes(req);
  if (!body) return s.failed(body.error());
  if (w.json) print_json(s, body.value());
  return kExitOk;
}

// sla, paths, routed status: causeway-routed's control socket.
int do_routed(Session& s, const std::string& command, bool json) {
  const auto timeout = std::chrono::milliseconds(static_cast<long>(s.settings().timeout_s * 1000));
  auto reply = routed_request(s.settings().routed_socket, command, timeout);
  if (!reply) {
    s.err() << "causewayctl: " << reply.error().message << '\n';
    return reply.error().message.rfind("cannot connect", 0) == 0 ? kExitNoConnect : kExitFailed;
  }
  const nlohmann::json& body = reply.value();
  if (json) {
    nlohmann::json out = body;
    if (command == "sla" && body.contains("sla")) out = body["sla"];
    if (out.is_object()) out.erase("table");
    print_json(s, out);
  } else if (command == "status") {
    s.out() << render_routed_status(body);
  } else {
    s.out() << body.value("table", std::string());
  }
  return kExitOk;
}

// The provisioning record (JSON written by images/libexec/causeway-provision): null when the
// file does not exist, {"state": "unreadable", ...} when it cannot be parsed.
nlohmann::json read_provision_status(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return nullptr;
  }
  auto doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    return {{"state", "unreadable"}, {"message", path + " is not a JSON object"}};
  }
  return doc;
}

// `status`: what an operator (or a smoke test) looks at first on an appliance. Exit 1 when
// provisioning failed, else 3 when the forwarder does not answer, else 0.
int do_status(Session& s, const Words& w) {
  nlohmann::json prov = read_provision_status(w.provision_file);
  nlohmann::json fwd{{"up", false}};
  if (auto c = ControlClient::connect(s.settings().socket, s.client_options())) {
    if (auto hello = c.value().hello("causewayctl")) {
      fwd = {{"up", true}, {"hello", hello.value().raw}};
    } else {
      fwd["error"] = hello.error().message;
    }
  } else {
    fwd["error"] = c.error().message;
  }
  const std::string state = prov.is_object() ? prov.value("state", std::string("unknown")) : "";
  if (w.json) {
    print_json(s, {{"provisioning", prov}, {"forwarder", fwd}});
  } else {
    s.out() << render_status(prov, fwd, w.provision_file);
  }
  if (state == "failed" || state == "unreadable") return kExitFailed;
  return fwd["up"].get<bool>() ? kExitOk : kExitNoConnect;
}

// Runs the command that `app` parsed into `w`.
int execute(Session& s, const Commands& c, const Words& w) {
  if (c.path_groups_set->parsed()) return do_path_groups_set(s, w);
  if (c.traffic_classes_set->parsed()) return do_traffic_classes_set(s, w);
  if (c.nexthop_groups_set->parsed()) return do_nexthop_groups_set(s, w);
  if (c.nexthop_groups_del->parsed()) return do_nexthop_groups_del(s, w);
  if (c.route_add->parsed()) return do_route(s, w.route_add, true, w.json);
  if (c.route_del->parsed()) return do_route(s, w.route_del, false, w.json);
  if (c.neighbor_add->parsed()) return do_neighbor(s, w.neighbor_add, true, w.json);
  if (c.neighbor_del->parsed()) return do_neighbor(s, w.neighbor_del, false, w.json);
  if (c.status->parsed()) return do_status(s, w);

  if (c.sla->parsed() || c.paths->parsed() || c.routed_status->parsed()) {
    return do_routed(s, c.sla->parsed() ? "sla" : c.paths->parsed() ? "paths" : "status", w.json);
  }

  ControlClient* client = s.client();
  if (!client) return kExitNoConnect;
  Result<nlohmann::json> body = fail("no command", EINVAL);
  std::string (*render)(const nlohmann::json&) = nullptr;
  bool stats = false;
  if (c.stats->parsed()) {
    body = client->get_stats();
    stats = true;
  } else if (c.routes->parsed()) {
    body = client->get_routes(w.family ? std::optional<unsigned>(w.family) : std::nullopt,
                              w.limit ? std::optional<std::uint64_t>(w.limit) : std::nullopt);
    render = render_routes;
  } else if (c.neighbors->parsed()) {
    body = client->get_neighbors();
    render = render_neighbors;
  } else if (c.ports->parsed()) {
    body = client->get_ports();
    render = render_ports;
  } else if (c.tunnels->parsed()) {
    body = client->get_tunnels();
    render = render_tunnels;
  } else if (c.path_groups->parsed()) {
    body = client->get_path_groups();
    render = render_path_groups;
  } else if (c.nexthop_groups->parsed()) {
    body = client->get_routes(std::nullopt, std::uint64_t{0});  // the groups, no routes
    if (body) {
      body = nlohmann::json{
          {"nexthop_groups", body.value().value("nexthop_groups", nlohmann::json::array())}};
    }
    render = render_nexthop_groups;
  } else if (c.probes_events->parsed()) {
    body = client->get_probe_events(w.probe_cursor);
    render = render_probe_events;
  } else if (c.probes_interval->parsed()) {
    body = client->set_probe_interval(w.probe_interval);
    render = [](const nlohmann::json& b) {
      return "probe interval set on " + json_cell(b, "peers") + " peers\n";
    };
  } else if (c.probes->parsed()) {
    body = client->get_tunnels();
    if (body) body = probes_view(body.value());
    render = render_probes;
  } else if (c.traffic_classes->parsed()) {
    body = client->get_path_groups();
    if (body)
      body = nlohmann::json{
          {"classes", body.value().value("traffic_classes", nlohmann::json::array())}};
    render = render_traffic_classes;
  } else if (c.hello->parsed()) {
    auto hello = client->hello("causewayctl");
    if (!hello) return s.failed(hello.error());
    body = std::move(hello.value().raw);
    render = render_hello;
  } else {
    return s.usage("no command given (try --help)");
  }
  if (!body) return s.failed(body.error());
  if (w.json) {
    print_json(s, body.value());
  } else if (stats) {
    s.out() << render_stats(body.value(), w.stats_all);
  } else {
    s.out() << render(body.value());
  }
  return kExitOk;
}

// Parses and runs one line of a batch. Returns the command's exit code.
int run_line(Session& s, const std::string& line, bool json_default) {
  CLI::App app("causewayctl command", "");
  Words w;
  Commands c = define_commands(app, w);
  app.require_subcommand(1);
  try {
    app.parse(line, /*program_name_included=*/false);
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e, s.out(), s.err());
    return code == 0 ? kExitOk : kExitUsage;
  }
  w.json = w.json || json_default;
  return execute(s, c, w);
}

std::string trim(const std::string& text) {
  auto hash = text.find('#');
  std::string s = text.substr(0, hash);
  auto first = s.find_first_not_of(" \t\r");
  if (first == std::string::npos) return {};
  auto last = s.find_last_not_of(" \t\r");
  return s.substr(first, last - first + 1);
}

int run_batch(Session& s, std::istream& in, const std::string& name, bool json, bool interactive) {
  std::string line;
  unsigned lineno = 0;
  int last = kExitOk;
  while (true) {
    if (interactive) s.out() << "causeway> " << std::flush;
    if (!std::getline(in, line)) break;
    ++lineno;
    std::string cmd = trim(line);
    if (cmd.empty()) continue;
    if (interactive && (cmd == "quit" || cmd == "exit")) break;
    int rc = run_line(s, cmd, json);
    if (rc != kExitOk) {
      if (!interactive) {
        s.err() << "causewayctl: " << name << ":" << lineno << ": command failed: " << cmd << '\n';
        return rc;
      }
      last = rc;
    }
  }
  if (interactive) s.out() << '\n';
  return interactive ? last : kExitOk;
}

}  // namespace

int run_ctl(int argc, const char* const* argv, std::istream& in, std::ostream& out,
            std::ostream& err, bool interactive) {
  // A lone "-" means: commands from stdin. CLI11 would take it for a stray positional.
  std::vector<const char*> args;
  bool from_stdin = false;
  for (int i = 0; i < argc; ++i) {
    if (i > 0 && std::string_view(argv[i]) == "-") {
      from_stdin = true;
    } else {
      args.push_back(argv[i]);
    }
  }

  CLI::App app("causewayctl: operator CLI of the causeway-fwd forwarder", "causewayctl");
  Settings settings;
  std::string file;
  app.add_option("-s,--socket", settings.socket, "Control socket of causeway-fwd")
      ->envname("CAUSEWAY_FWD_SOCKET")
      ->capture_default_str();
  app.add_option("--routed-socket", settings.routed_socket,
                 "Control socket of causeway-routed (sla, paths, routed status)")
      ->envname("CAUSEWAY_ROUTED_SOCKET")
      ->capture_default_str();
  app.add_option("--timeout", settings.timeout_s, "Seconds to wait for each reply")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("-f,--file", file, "Run the commands in FILE, one per line");
  Words w;
  Commands c = define_commands(app, w);
  app.require_subcommand(0, 1);
  app.footer(
      "Batch: causewayctl -f FILE, or causewayctl - to read commands from stdin.\n"
      "Exit status: 0 ok, 1 request failed, 2 usage, 3 cannot connect.");
  try {
    app.parse(static_cast<int>(args.size()), args.data());
  } catch (const CLI::ParseError& e) {
    int code = app.exit(e, out, err);
    return code == 0 ? kExitOk : kExitUsage;
  }

  Session session(settings, out, err);
  bool has_command = !app.get_subcommands().empty();
  if (!file.empty() || from_stdin) {
    if (has_command || (!file.empty() && from_stdin)) {
      return session.usage("give either a command, -f FILE or -, not several");
    }
    if (from_stdin) return run_batch(session, in, "<stdin>", w.json, interactive);
    std::ifstream stream(file);
    if (!stream) return session.usage("cannot open " + file);
    return run_batch(session, stream, file, w.json, false);
  }
  if (!has_command) {
    err << app.help();
    return kExitUsage;
  }
  return execute(session, c, w);
}

}  // namespace causeway::fwd::ctl
