// SPDX-License-Identifier: Apache-2.0
// Intent -> FRR integrated frr.conf (deterministic text in FRR 8.4's running-config form).
//
// The text follows what `show running-config` prints for the same configuration: values
// equal to FRR's defaults are left out (fpm port 2620, bfd 300/300/3, bgp timers 60/180) and
// sections come in FRR's order. frr-reload.py then finds nothing to change after an apply,
// and a reload touches only lines that really changed, so unchanged BGP sessions stay up.
#include <algorithm>
#include <sstream>

#include "frr/frr_config.h"

namespace causeway::rt::frr {
namespace {

using intent::Community;
using intent::Intent;

constexpr std::uint16_t kFrrDefaultFpmPort = 2620;
constexpr std::uint32_t kFrrDefaultBfdIntervalMs = 300;
constexpr std::uint32_t kFrrDefaultBfdMultiplier = 3;
constexpr std::uint32_t kFrrDefaultKeepaliveS = 60;
constexpr std::uint32_t kFrrDefaultHoldS = 180;

bool any_bfd(const Intent& intent) {
  return std::any_of(intent.bgp.neighbors.begin(), intent.bgp.neighbors.end(),
                     [](const intent::BgpNeighbor& n) { return n.bfd; });
}

std::vector<IpPrefix> announced(const Intent& intent, Family family) {
  std::vector<IpPrefix> out;
  for (const IpPrefix& p : intent.bgp.announce) {
    if (p.addr.family == family) out.push_back(p);
  }
  return out;
}

std::string join_communities(const std::vector<Community>& list, bool large) {
  std::string out;
  for (const Community& c : list) {
    if (c.large != large) continue;
    if (!out.empty()) out += ' ';
    out += c.str();
  }
  return out;
}

// One address family of `router bgp`: networks and the neighbours of that family.
void render_address_family(const Intent& intent, Family family, std::ostringstream& out) {
  const auto networks = announced(intent, family);
  const bool ibgp =
      intent.bgp.ibgp && intent.identity.overlay_address.family == family && !intent.peers.empty();
  const bool carriers = std::any_of(intent.bgp.neighbors.begin(), intent.bgp.neighbors.end(),
                                    [&](const auto& n) { return n.address.family == family; });
  if (networks.empty() && !ibgp && !carriers) return;
  out << " !\n address-family " << (family == Family::kV4 ? "ipv4" : "ipv6") << " unicast\n";
  for (const IpPrefix& p : networks) out << "  network " << p.str() << "\n";
  if (ibgp) {
    for (const auto& peer : intent.peers) {
      const std::string a = peer.overlay_address.str();
      out << "  neighbor " << a << " activate\n";
      out << "  neighbor " << a << " next-hop-self\n";
    }
  }
  for (const auto& n : intent.bgp.neighbors) {
    if (n.address.family != family) continue;
    const std::string a = n.address.str();
    out << "  neighbor " << a << " activate\n";
    out << "  neighbor " << a << " route-map " << kCarrierInRouteMap << " in\n";
    out << "  neighbor " << a << " route-map " << kCarrierOutRouteMap << " out\n";
  }
  out << " exit-address-family\n";
}

void render_router_bgp(const Intent& intent, std::ostringstream& out) {
  const intent::Bgp& bgp = intent.bgp;
  out << "router bgp " << bgp.asn << "\n";
  out << " bgp router-id " << intent.identity.router_id.str() << "\n";
  // Every neighbour is activated explicitly in its own address family.
  out << " no bgp default ipv4-unicast\n";
  if (!bgp.import_check) out << " no bgp network import-check\n";
  if (bgp.keepalive_s != kFrrDefaultKeepaliveS || bgp.hold_s != kFrrDefaultHoldS) {
    out << " timers bgp " << bgp.keepalive_s << " " << bgp.hold_s << "\n";
  }
  if (bgp.ibgp) {
    for (const auto& peer : intent.peers) {
      const std::string a = peer.overlay_address.str();
      out << " neighbor " << a << " remote-as " << bgp.asn << "\n";
      out << " neighbor " << a << " description pop:" << peer.name << "\n";
      out << " neighbor " << a << " update-source " << intent.identity.overlay_address.str()
          << "\n";
    }
  }
  for (const auto& n : bgp.neighbors) {
    const std::string a = n.address.str();
    out << " neighbor " << a << " remote-as " << n.asn << "\n";
    out << " neighbor " << a << " description "
        << (n.description.empty() ? "carrier:" + n.name : n.description) << "\n";
    if (n.bfd) {
      out << " neighbor " << a << " bfd\n";
      out << " neighbor " << a << " bfd profile " << kBfdProfile << "\n";
    }
  }
  render_address_family(intent, Family::kV4, out);
  render_address_family(intent, Family::kV6, out);
  out << "exit\n!\n";
}

void render_prefix_lists(const Intent& intent, std::ostringstream& out) {
  for (Family family : {Family::kV4, Family::kV6}) {
    const auto prefixes = announced(intent, family);
    if (prefixes.empty()) continue;
    unsigned seq = 5;
    for (const IpPrefix& p : prefixes) {
      out << (family == Family::kV4 ? "ip" : "ipv6") << " prefix-list "
          << (family == Family::kV4 ? kAnnounceV4PrefixList : kAnnounceV6PrefixList) << " seq "
          << seq << " permit " << p.str() << "\n";
      seq += 5;
    }
    out << "!\n";
  }
}

// Carriers get exactly the announced prefixes, tagged with the SLA communities; the rest is
// denied explicitly (FRR treats a missing route-map as deny-all too, but say it).
void render_carrier_route_maps(const Intent& intent, const SlaStates& states,
                               std::ostringstream& out) {
  const auto communities = carrier_communities(intent, states);
  const std::string standard = join_communities(communities, false);
  const std::string large = join_communities(communities, true);
  unsigned seq = 10;
  for (Family family : {Family::kV4, Family::kV6}) {
    if (!announced(intent, family).empty()) {
      out << "route-map " << kCarrierOutRouteMap << " permit " << seq << "\n";
      if (family == Family::kV4) {
        out << " match ip address prefix-list " << kAnnounceV4PrefixList << "\n";
      } else {
        out << " match ipv6 address prefix-list " << kAnnounceV6PrefixList << "\n";
      }
      if (!standard.empty()) out << " set community " << standard << " additive\n";
      if (!large.empty()) out << " set large-community " << large << " additive\n";
      out << "exit\n!\n";
    }
    seq += 10;
  }
  out << "route-map " << kCarrierOutRouteMap << " deny 100\nexit\n!\n";
  out << "route-map " << kCarrierInRouteMap << " permit 10\nexit\n!\n";
}

void render_bfd(const Intent& intent, std::ostringstream& out) {
  if (!any_bfd(intent)) return;
  const intent::BfdTimers& t = intent.bgp.bfd;
  out << "bfd\n profile " << kBfdProfile << "\n";
  if (t.detect_multiplier != kFrrDefaultBfdMultiplier) {
    out << "  detect-multiplier " << t.detect_multiplier << "\n";
  }
  if (t.receive_interval_ms != kFrrDefaultBfdIntervalMs) {
    out << "  receive-interval " << t.receive_interval_ms << "\n";
  }
  if (t.transmit_interval_ms != kFrrDefaultBfdIntervalMs) {
    out << "  transmit-interval " << t.transmit_interval_ms << "\n";
  }
  out << " exit\n !\nexit\n!\n";
}

}  // namespace

std::vector<Community> carrier_communities(const Intent& intent, const SlaStates& states) {
  std::vector<Community> out;
  for (const auto& sla : intent.bgp.sla_communities) {
    auto it = states.find(sla.traffic_class);
    const auto state = it == states.end() ? intent::SlaState::kCompliant : it->second;
    for (const Community& c : sla.in(state)) {
      if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
    }
  }
  return out;
}

std::string render_frr_conf(const Intent& intent, const SlaStates& states) {
  std::ostringstream out;
  out << "! frr.conf of Causeway PoP " << intent.identity.pop
      << ", rendered by causeway-routed from its intent.\n"
         "! Edits are replaced on the next apply: change the intent instead.\n"
         "frr defaults traditional\n"
         "service integrated-vtysh-config\n"
         "!\n";
  out << "fpm address 127.0.0.1";
  if (intent.fpm.port != kFrrDefaultFpmPort) out << " port " << intent.fpm.port;
  out << "\n";
  if (!intent.fpm.next_hop_groups) out << "no fpm use-next-hop-groups\n";
  out << "!\n";
  render_router_bgp(intent, out);
  render_prefix_lists(intent, out);
  render_carrier_route_maps(intent, states, out);
  render_bfd(intent, out);
  out << "end\n";
  return out.str();
}

std::string render_sla_update(const Intent& intent, const SlaStates& states) {
  const auto communities = carrier_communities(intent, states);
  const std::string standard = join_communities(communities, false);
  const std::string large = join_communities(communities, true);
  std::ostringstream out;
  unsigned seq = 10;
  for (Family family : {Family::kV4, Family::kV6}) {
    if (!announced(intent, family).empty()) {
      out << "route-map " << kCarrierOutRouteMap << " permit " << seq << "\n";
      out << (standard.empty() ? " no set community\n"
                               : " set community " + standard + " additive\n");
      out << (large.empty() ? " no set large-community\n"
                            : " set large-community " + large + " additive\n");
      out << "exit\n";
    }
    seq += 10;
  }
  return out.str();
}

}  // namespace causeway::rt::frr
