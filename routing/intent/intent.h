// SPDX-License-Identifier: Apache-2.0
// The PoP's declarative intent (DESIGN.md section 5; reference: docs/intent.md).
//
// parse_intent() turns one YAML document into an Intent and validates it whole: every key is
// known, every value has its type and range, every name that one section gives to another
// (backbones, segments, SLA classes, traffic classes) exists, names are unique. The first
// error ends the parse; its message starts with the path of the bad field
// ("peers[1].endpoints.backbone-b: ...") and ends with the document line. A valid Intent is
// complete: defaults are filled in, so consumers never look for "unset".
// diff() compares two valid intents section by section, so a reload applies only what changed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "causeway/common/ip.h"
#include "causeway/common/result.h"

namespace causeway::rt::intent {

// Defaults and limits that are part of the schema (documented in docs/intent.md).
constexpr std::uint16_t kDefaultListenPort = 51820;  // WireGuard's customary port
constexpr std::uint16_t kDefaultFpmPort = 2620;      // FRR dplane_fpm_nl default
constexpr std::uint32_t kDefaultProbeIntervalMs = 100;
constexpr std::uint32_t kMinProbeIntervalMs = 10;
constexpr std::uint32_t kMaxProbeIntervalMs = 10000;
constexpr char kDefaultControlSocket[] = "/run/causeway/fwd.sock";

struct Identity {
  std::string pop;            // this PoP's name; FRR hostname
  IpAddress router_id;        // IPv4, BGP router id
  std::string private_key;    // 44-char base64 WireGuard key, or "file:/abs/path"
  IpAddress overlay_address;  // this PoP's address on the overlay (iBGP update-source)
  std::uint16_t listen_port = kDefaultListenPort;
  friend bool operator==(const Identity&, const Identity&) = default;
};

struct ForwarderLink {
  std::string control_socket = kDefaultControlSocket;
  friend bool operator==(const ForwarderLink&, const ForwarderLink&) = default;
};

struct Fpm {
  std::uint16_t port = kDefaultFpmPort;
  bool next_hop_groups = false;  // false renders `no fpm use-next-hop-groups`
  friend bool operator==(const Fpm&, const Fpm&) = default;
};

struct Backbone {
  std::string name;
  std::string description;
  friend bool operator==(const Backbone&, const Backbone&) = default;
};

enum class PortRole : std::uint8_t { kLan, kWan };

struct Port {
  std::string name;  // forwarder port name (also the kernel mirror interface)
  PortRole role = PortRole::kLan;
  std::string backbone;             // WAN ports only: the backbone this port reaches
  std::string segment;              // LAN ports only: the tenant segment; empty = no segment
  std::vector<IpPrefix> addresses;  // interface addresses: host bits kept ("10.0.0.1/24")
  friend bool operator==(const Port&, const Port&) = default;
};

struct Endpoint {
  std::string backbone;
  IpAddress address;
  std::uint16_t port = kDefaultListenPort;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

struct Peer {
  std::string name;                 // the remote PoP's name
  std::string public_key;           // 44-char base64 WireGuard key, or "file:/abs/path"
  std::vector<Endpoint> endpoints;  // one per backbone, sorted by backbone name
  IpAddress overlay_address;        // iBGP neighbour address
  std::vector<IpPrefix> site_prefixes;
  std::uint32_t keepalive_s = 0;  // WireGuard persistent keepalive; 0 = off
  friend bool operator==(const Peer&, const Peer&) = default;
};

struct Segment {
  std::string name;
  std::uint32_t table = 0;  // routing table id (VRF table)
  friend bool operator==(const Segment&, const Segment&) = default;
};

struct SlaClass {
  std::string name;
  double max_loss_pct = 0;
  double max_latency_ms = 0;
  double max_jitter_ms = 0;
  friend bool operator==(const SlaClass&, const SlaClass&) = default;
};

struct PortRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0;
  friend bool operator==(const PortRange&, const PortRange&) = default;
};

struct Match {
  std::vector<std::uint8_t> dscp;        // empty = any
  std::optional<std::uint8_t> protocol;  // IP protocol number; empty = any
  std::vector<PortRange> src_ports;      // empty = any
  std::vector<PortRange> dst_ports;
  std::vector<IpPrefix> src_prefixes;  // empty = any
  std::vector<IpPrefix> dst_prefixes;
  friend bool operator==(const Match&, const Match&) = default;
};

enum class LoadBalance : std::uint8_t { kPreferred, kEcmp };
enum class FallbackMode : std::uint8_t { kBestOfWorst, kBackup, kDrop };

struct Fallback {
  FallbackMode mode = FallbackMode::kBestOfWorst;
  std::string backup_backbone;  // mode backup only
  double variance_pct = 10;     // best_of_worst: paths within this band of the best are equal
  friend bool operator==(const Fallback&, const Fallback&) = default;
};

struct TrafficClass {
  std::string name;
  Match match;
  std::string sla_class;
  std::vector<std::string> backbones;  // preference order
  LoadBalance load_balance = LoadBalance::kPreferred;
  Fallback fallback;
  friend bool operator==(const TrafficClass&, const TrafficClass&) = default;
};

struct Probes {
  std::uint32_t interval_ms = kDefaultProbeIntervalMs;
  std::uint32_t window = 50;           // probes in the sliding loss/jitter window
  std::uint32_t blackout_probes = 3;   // consecutive lost probes that take a path out at once
  std::uint32_t hold_down_ms = 10000;  // sustained compliance before a path returns
  double hysteresis_pct = 10;          // a compliant path leaves only above threshold+band
  friend bool operator==(const Probes&, const Probes&) = default;
};

struct Community {
  bool large = false;  // RFC 8092 large community (a:b:c) instead of RFC 1997 (a:b)
  std::uint32_t global = 0;
  std::uint32_t local1 = 0;
  std::uint32_t local2 = 0;  // large only
  [[nodiscard]] std::string str() const;
  static std::optional<Community> parse(std::string_view text);
  friend bool operator==(const Community&, const Community&) = default;
};

enum class SlaState : std::uint8_t { kCompliant, kDegraded, kDown };
const char* to_string(SlaState state);

// The communities put on prefixes announced to carriers while a traffic class is in a state.
struct SlaCommunities {
  std::string traffic_class;
  std::vector<Community> compliant;
  std::vector<Community> degraded;
  std::vector<Community> down;
  [[nodiscard]] const std::vector<Community>& in(SlaState state) const;
  friend bool operator==(const SlaCommunities&, const SlaCommunities&) = default;
};

struct BgpNeighbor {
  std::string name;
  IpAddress address;
  std::uint32_t asn = 0;
  bool bfd = false;
  std::string description;
  friend bool operator==(const BgpNeighbor&, const BgpNeighbor&) = default;
};

struct BfdTimers {
  std::uint32_t receive_interval_ms = 300;
  std::uint32_t transmit_interval_ms = 300;
  std::uint32_t detect_multiplier = 3;
  friend bool operator==(const BfdTimers&, const BfdTimers&) = default;
};

struct Bgp {
  std::uint32_t asn = 0;
  bool ibgp = true;  // full iBGP mesh to every peer's overlay address
  std::uint32_t keepalive_s = 3;
  std::uint32_t hold_s = 9;
  bool import_check = false;           // false renders `no bgp network import-check`
  std::vector<BgpNeighbor> neighbors;  // eBGP carrier neighbours
  std::vector<IpPrefix> announce;      // originated prefixes (network statements)
  std::vector<SlaCommunities> sla_communities;
  BfdTimers bfd;
  friend bool operator==(const Bgp&, const Bgp&) = default;
};

struct Intent {
  Identity identity;
  ForwarderLink forwarder;
  Fpm fpm;
  std::vector<Backbone> backbones;
  std::vector<Port> ports;
  std::vector<Peer> peers;
  std::vector<Segment> segments;
  std::vector<SlaClass> sla_classes;
  std::vector<TrafficClass> traffic_classes;
  Probes probes;
  Bgp bgp;
  friend bool operator==(const Intent&, const Intent&) = default;
};

// Parses and validates one YAML document; does no I/O (file: keys are not opened).
[[nodiscard]] Result<Intent> parse_intent(std::string_view yaml_text);
// Reads one file (at most 16 MiB) and parses it; errors start with the file name.
[[nodiscard]] Result<Intent> load_intent(const std::string& path);

// ---- diff ---------------------------------------------------------------------------------

enum class Section : std::uint8_t {
  kIdentity,
  kForwarder,
  kFpm,
  kBackbones,
  kPorts,
  kPeers,
  kSegments,
  kSlaClasses,
  kTrafficClasses,
  kProbes,
  kBgp,
};
const char* to_string(Section section);

// What changed in one section. Sections of named items list item names; sections of
// settings (identity, forwarder, fpm, probes) list changed field names in `changed`; bgp lists
// fields and "neighbors.<name>" / "sla_communities.<class>" items.
struct SectionDiff {
  Section section = Section::kIdentity;
  std::vector<std::string> added;
  std::vector<std::string> removed;
  std::vector<std::string> changed;
  friend bool operator==(const SectionDiff&, const SectionDiff&) = default;
};

struct IntentDiff {
  std::vector<SectionDiff> sections;  // only sections that changed, in schema order

  [[nodiscard]] bool empty() const { return sections.empty(); }
  [[nodiscard]] const SectionDiff* find(Section section) const;
  // Whether the rendered FRR configuration can differ (identity, fpm, peers, bgp).
  [[nodiscard]] bool affects_frr() const;
  // Whether the only BGP change is in sla_communities (a route-map re-render suffices).
  [[nodiscard]] bool only_sla_communities() const;
  // One line per section, e.g. "peers: added fra1; changed ams1".
  [[nodiscard]] std::string summary() const;
};

[[nodiscard]] IntentDiff diff(const Intent& before, const Intent& after);

}  // namespace causeway::rt::intent
