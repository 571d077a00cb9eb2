// SPDX-License-Identifier: Apache-2.0
// Every reason the forwarder does not forward a packet, declared once with its help text
// (STYLE.md 4). Workers count them per reason; the control socket exports them by name.
#pragma once

#include <cstdint>
#include <string_view>

// X(name, help)
#define CAUSEWAY_FWD_DROP_REASONS(X)                                                     \
  X(eth_truncated, "frame shorter than its Ethernet header")                             \
  X(not_for_us, "destination MAC is not the port's, broadcast or multicast")             \
  X(vlan_unknown, "802.1Q tag with a VLAN id not configured on the port")                \
  X(vlan_stacked, "802.1ad outer tag or stacked 802.1Q tags (QinQ is not supported)")    \
  X(unknown_ethertype, "ethertype other than IPv4, IPv6 or ARP")                         \
  X(oversize, "frame longer than the port MTU allows")                                   \
  X(multi_segment, "frame spread over several mbufs")                                    \
  X(ip4_truncated, "IPv4 header or total length beyond the frame")                       \
  X(ip4_bad_version, "IPv4 ethertype with IP version other than 4")                      \
  X(ip4_bad_ihl, "IPv4 header length below 20 bytes")                                    \
  X(ip4_bad_length, "IPv4 total length shorter than its header")                         \
  X(ip4_bad_checksum, "IPv4 header checksum does not verify")                            \
  X(ip4_martian_source, "IPv4 source is 0/8, 127/8, multicast or class E")               \
  X(ip4_martian_destination, "IPv4 destination is 0/8 or 127/8")                         \
  X(ip4_ttl_expired, "IPv4 TTL would reach 0 (ICMP time exceeded sent)")                 \
  X(ip6_truncated, "IPv6 header or payload length beyond the frame")                     \
  X(ip6_bad_version, "IPv6 ethertype with IP version other than 6")                      \
  X(ip6_martian_source, "IPv6 source is unspecified, loopback or multicast")             \
  X(ip6_martian_destination, "IPv6 destination is unspecified or loopback")              \
  X(ip6_hop_limit_expired, "IPv6 hop limit would reach 0 (ICMPv6 time exceeded sent)")   \
  X(no_route, "no FIB entry for the destination (ICMP unreachable sent)")                \
  X(blackhole, "route is a blackhole")                                                   \
  X(unreachable, "route is unreachable (ICMP unreachable sent)")                         \
  X(nexthop_group_empty, "route's next-hop group has no members")                        \
  X(mtu_exceeded, "packet larger than the output port MTU (ICMP sent if DF/IPv6)")       \
  X(punt_queue_full, "exception queue to the control thread full")                       \
  X(tx_full, "output queue full")                                                        \
  X(neighbor_unresolved, "next hop did not answer ARP/ND (ICMP unreachable sent)")       \
  X(neighbor_queue_full, "too many packets waiting for one neighbour")                   \
  X(arp_malformed, "ARP packet that is not Ethernet/IPv4 or truncated")                  \
  X(nd_malformed, "neighbour discovery packet failing RFC 4861 validity checks")         \
  X(arp_ignored, "ARP not for one of our addresses")                                     \
  X(mirror_write_failed, "kernel mirror interface refused a packet")                     \
  X(icmp_rate_limited, "ICMP error suppressed by the rate limit")                        \
  X(inject_queue_full, "control-to-worker queue full")                                   \
  X(no_buffer, "no mbuf available")                                                      \
  X(tunnel_malformed, "UDP to a tunnel listen port that is no WireGuard message")        \
  X(tunnel_unknown_index, "WireGuard data for no current session (receiver index)")      \
  X(tunnel_auth_failed, "WireGuard data failed authentication (forged or corrupt)")      \
  X(tunnel_replayed, "WireGuard data counter replayed or left of the window")            \
  X(tunnel_keypair_expired, "WireGuard session older than REJECT_AFTER_TIME")            \
  X(tunnel_inner_rejected, "decrypted packet invalid or its source not allowed")         \
  X(tunnel_keepalive, "WireGuard keepalive consumed (authenticated, nothing inside)")    \
  X(tunnel_no_path, "path group has no active member")                                   \
  X(tunnel_no_endpoint, "tunnel peer has no endpoint yet")                               \
  X(tunnel_no_outer_route, "no route (or no local address) toward the peer endpoint")    \
  X(tunnel_too_big, "encrypted packet larger than the WAN port MTU")                     \
  X(tunnel_encrypt_failed, "encryption refused (no room, counter exhausted)")            \
  X(tunnel_queue_full, "too many packets waiting for one peer's handshake")              \
  X(tunnel_handshake_rate_limited, "handshake message above its source's rate")          \
  X(tunnel_handshake_queue_full, "handshake queue to the control thread full")           \
  X(tunnel_handshake_dropped, "handshake or cookie message refused by the control side") \
  X(probe_malformed, "SLA probe to our overlay address failing its format checks")       \
  X(probe_unknown, "SLA probe reply matching no probe we sent (late, repeated, forged)") \
  X(tunnel_mirror_no_peer, "packet from a tunnel mirror with no path group and no peer") \
  X(tunnel_handoff_full, "hand-off queue to the worker owning the tunnel peer full")

namespace causeway::fwd {

enum class DropReason : std::uint16_t {
#define CAUSEWAY_X(name, help) name,
  CAUSEWAY_FWD_DROP_REASONS(CAUSEWAY_X)
#undef CAUSEWAY_X
      kCount
};
inline constexpr std::size_t kDropReasonCount = static_cast<std::size_t>(DropReason::kCount);

struct DropReasonInfo {
  std::string_view name;
  std::string_view help;
};
inline constexpr DropReasonInfo kDropReasonInfo[] = {
#define CAUSEWAY_X(name, help) {#name, help},
    CAUSEWAY_FWD_DROP_REASONS(CAUSEWAY_X)
#undef CAUSEWAY_X
};
static_assert(std::size(kDropReasonInfo) == kDropReasonCount);

// Why a worker hands a packet to the control thread instead of forwarding it.
enum class PuntReason : std::uint8_t {
  kToKernel,      // local delivery, multicast, link-local: write to the port's mirror
  kArp,           // ARP: answer, learn, pass replies to the kernel
  kNd,            // IPv6 neighbour discovery: answer, learn, pass on to the kernel
  kResolve,       // next hop or on-link destination without a MAC: resolve, hold, send
  kTimeExceeded,  // TTL/hop limit expired: send ICMP time exceeded
  kUnreachable,   // no route / unreachable route: send ICMP destination unreachable
  kTooBig,        // larger than the output MTU: ICMP fragmentation needed / packet too big
  // WireGuard handshake/cookie message: to the tunnel's control-side Device.
  kTunnelHandshake,
  // Inner packet for a peer without a session: staged, handshake started.
  kTunnelNoSession,
  // Decrypted inner packet to the tunnel's own overlay address (not a probe): write to the
  // tunnel's mirror (PacketMeta::tunnel).
  kTunnelLocal,
  // SLA probe reply to our overlay address: to the control thread's probe book, with the
  // worker's receive time in the mbuf's probe timestamp field (TunnelShared).
  kProbeReply,
};

}  // namespace causeway::fwd
