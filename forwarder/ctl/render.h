// SPDX-License-Identifier: Apache-2.0
// Human output of causewayctl: the forwarder's JSON replies (docs/control-socket.md) as
// aligned tables, in the manner of `ip -s link` and grout. Pure functions of the JSON: they
// never throw on missing or mistyped fields (shown as "-"), so a newer forwarder with extra
// fields still renders.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace causeway::fwd::ctl {

// Columns separated by two spaces; numeric columns right-aligned; no trailing blanks.
class TextTable {
 public:
  enum class Align { kLeft, kRight };
  struct Column {
    std::string title;
    Align align = Align::kLeft;
  };

  explicit TextTable(std::vector<Column> columns) : columns_(std::move(columns)) {}
  void add_row(std::vector<std::string> cells);
  [[nodiscard]] std::size_t rows() const { return rows_.size(); }
  [[nodiscard]] std::string str() const;

 private:
  std::vector<Column> columns_;
  std::vector<std::vector<std::string>> rows_;
};

// One JSON value as a table cell: strings as is, integers in decimal, arrays comma-joined,
// missing/null as "-".
[[nodiscard]] std::string json_cell(const nlohmann::json& object, std::string_view key);

// show_all: also print zero drop counters.
[[nodiscard]] std::string render_stats(const nlohmann::json& stats, bool show_all);
[[nodiscard]] std::string render_routes(const nlohmann::json& routes);
[[nodiscard]] std::string render_neighbors(const nlohmann::json& neighbors);
[[nodiscard]] std::string render_ports(const nlohmann::json& ports);
[[nodiscard]] std::string render_hello(const nlohmann::json& hello);
[[nodiscard]] std::string render_tunnels(const nlohmann::json& tunnels);
[[nodiscard]] std::string render_path_groups(const nlohmann::json& groups);
// {"nexthop_groups": [...]} (from kGetRoutes): one row per member.
[[nodiscard]] std::string render_nexthop_groups(const nlohmann::json& groups);
// `causewayctl probes`: the probing peers of a GetTunnels reply as {"probes": [{"tunnel",
// "peer", "public_key", "target", "interval_ms", "sent", "replied", "lost", "no_session",
// "before_session", "last_rtt_ns", "last_reply_age_ms", "session"}]} (what --json prints), and its
// table.
[[nodiscard]] nlohmann::json probes_view(const nlohmann::json& tunnels);
[[nodiscard]] std::string render_probes(const nlohmann::json& view);
// `causewayctl probes events`: a GetProbeEvents reply.
[[nodiscard]] std::string render_probe_events(const nlohmann::json& events);
// {"classes": [...]} as message 14 carries them: one row per class, first match first.
[[nodiscard]] std::string render_traffic_classes(const nlohmann::json& classes);

// `causewayctl status`: provisioning (the JSON record of causeway-provision, or null when
// `provision_path` does not exist) and forwarder ({"up": bool, "hello": {...}, "error": "..."}).
[[nodiscard]] std::string render_status(const nlohmann::json& provisioning,
                                        const nlohmann::json& forwarder,
                                        std::string_view provision_path);

}  // namespace causeway::fwd::ctl
