// SPDX-License-Identifier: Apache-2.0
// causeway-fwd configuration: the YAML file given with --config, parsed and validated whole
// before any DPDK or kernel resource is touched. A bad file yields one error whose message
// starts with the path of the offending field (e.g. "ports[1].addresses[0]: ...").
// docs/forwarder-config.md documents every key.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "causeway/common/ip.h"
#include "causeway/common/result.h"

namespace causeway::fwd {

// Ports and VLAN subinterfaces together (the data path's interface table size).
inline constexpr std::size_t kMaxInterfaces = 32;

struct DpdkConfig {
  std::uint16_t workers = 1;            // worker lcores (RSS queues per port)
  std::string lcores;                   // EAL -l list; empty = "0-<workers>"
  std::uint32_t mbufs = 16384;          // mbufs in the packet pool
  std::uint32_t memory_mb = 1024;       // EAL -m; default FIB sizes need > 384 (two rte_fib6)
  bool no_huge = true;                  // --no-huge (labs, CI); false on production hosts
  std::string file_prefix;              // EAL --file-prefix; empty = "causeway-<name>"
  std::vector<std::string> extra_args;  // appended to the EAL arguments verbatim
};

// One L3 interface: a physical port, or an 802.1Q VLAN subinterface of one (`vlan_id` != 0).
// FwdConfig::ports lists the physical ports in file order, then every subinterface (YAML
// `ports[i].vlans[j]`) in file order; an entry's position is its interface index.
struct PortConfig {
  std::string name;                 // operator name, e.g. "lan0" (1..15 chars, [a-z0-9_-]);
                                    // a subinterface: default "<port>.<id>", e.g. "lan0.100"
  std::string device;               // PCI address "0000:00:04.0" or vdev "net_af_packet0,iface=v0";
                                    // empty for a subinterface
  std::optional<MacAddress> mac;    // default: the device's own MAC
  std::vector<IpPrefix> addresses;  // interface addresses, e.g. 10.0.1.1/24 (host bits kept)
  std::uint16_t mtu = 1500;         // 576..9000 (IPv6 ports: >= 1280)
  std::string mirror;               // kernel TAP name; default "cw-<name>" (max 15 chars)
  std::uint16_t rx_desc = 1024;
  std::uint16_t tx_desc = 1024;
  std::uint16_t vlan_id = 0;  // 1..4094 for a subinterface; 0 for a physical port
  std::uint16_t parent = 0;   // subinterface: index of its physical port in FwdConfig::ports

  [[nodiscard]] bool is_vlan() const { return vlan_id != 0; }
};

struct RouteConfig {
  IpPrefix prefix;               // masked to its length
  std::optional<IpAddress> via;  // gateway; absent = on-link (connected) or blackhole
  std::string port;              // output port name; required unless blackhole
  bool blackhole = false;
  std::optional<std::uint16_t> path_group;  // into the tunnels of this path group (0..1023)
};

struct NeighborConfig {  // a static neighbour entry: never ages
  IpAddress address;
  MacAddress mac;
  std::string port;
};

struct FibConfig {
  std::uint32_t v4_max_routes = 1u << 21;
  std::uint32_t v4_tbl8_groups = 1u << 15;
  std::uint32_t v6_max_routes = 1u << 17;
  std::uint32_t v6_tbl8_groups = 1u << 16;
  std::uint32_t max_next_hops = 1u << 16;
};

struct NeighborTimers {
  std::uint32_t reachable_s = 60;  // dynamic entries are re-probed after this long
  std::uint32_t probe_interval_ms = 1000;
  std::uint32_t probes = 3;               // unanswered probes before an entry is removed
  std::uint32_t queue_per_neighbor = 16;  // packets held while a neighbour is resolved
};

using WgKey = std::array<std::uint8_t, 32>;  // a WireGuard key (base64 in the file)

struct TunnelEndpoint {
  IpAddress addr;
  std::uint16_t port = 0;
};

struct TunnelPeerConfig {
  std::string name;  // optional label (path groups, causewayctl)
  WgKey public_key{};
  std::optional<WgKey> preshared_key;        // absent = none
  std::optional<TunnelEndpoint> endpoint;    // absent = learnt from its first handshake
  std::vector<IpPrefix> allowed_ips;         // masked; unique within the tunnel
  std::uint16_t persistent_keepalive_s = 0;  // 0 = off
  std::optional<std::uint16_t> path_group;   // member (active) of this path group, 0..1023
  // SLA probes to this peer (DESIGN.md section 4): 0 = off, else 10..60000 ms. Default 100
  // when the tunnel has an `address` and the peer a probe target (probe_target()), else 0.
  std::uint32_t probe_interval_ms = 0;
};

struct TunnelConfig {
  std::string name;  // the WireGuard interface name (UAPI socket), 1..15 chars
  std::optional<WgKey> private_key;
  std::string private_key_file;  // absolute path; read by load_config into private_key
  std::uint16_t listen_port = 0;
  std::vector<std::string> ports;  // WAN ports whose addresses it listens on
  // The PoP's own overlay address(es) on this tunnel (host bits kept, e.g. 10.255.0.1/32):
  // carried by the tunnel's kernel mirror (named like the tunnel); inner packets decrypted
  // from this tunnel to one of them are for the PoP itself (probes are answered in the
  // forwarder, the rest goes to the kernel). At most kMaxTunnelAddresses.
  std::vector<IpPrefix> address;
  std::vector<TunnelPeerConfig> peers;
};

inline constexpr std::size_t kMaxTunnelAddresses = 4;
inline constexpr std::uint32_t kDefaultProbeIntervalMs = 100;
inline constexpr std::uint32_t kMinProbeIntervalMs = 10;
inline constexpr std::uint32_t kMaxProbeIntervalMs = 60000;

// Where a peer's probes go: from the tunnel's first address of a family to the peer's first
// host allowed IP (/32 or /128) of that family that is not one of the tunnel's own addresses
// (the remote PoP's overlay address). IPv4 first. None without both.
struct ProbeTarget {
  IpAddress source;
  IpAddress destination;
};
[[nodiscard]] std::optional<ProbeTarget> probe_target(const TunnelConfig& tunnel,
                                                      const TunnelPeerConfig& peer);

// The WireGuard UAPI sockets (docs/uapi.md): one per tunnel, <socket_dir>/<tunnel>.sock.
struct UapiConfig {
  bool enabled = true;
  std::string socket_dir = "/var/run/wireguard";  // where `wg` looks; absolute, <= 86 bytes
};

struct FwdConfig {
  std::string name = "causeway";  // PoP / instance name (1..32 chars, [A-Za-z0-9_-])
  DpdkConfig dpdk;
  std::vector<PortConfig> ports;  // at least one physical port; then the VLAN subinterfaces
  std::vector<RouteConfig> routes;
  std::vector<NeighborConfig> neighbors;
  FibConfig fib;
  NeighborTimers neighbor;
  std::vector<TunnelConfig> tunnels;
  UapiConfig uapi;
  std::string control_socket = "/run/causeway/fwd.sock";
  std::uint32_t idle_sleep_max_us =
      1000;  // adaptive polling: longest sleep of an idle worker; 0 = busy-poll
};

// Parse and validate a whole configuration document. Errors name the field path.
[[nodiscard]] Result<FwdConfig> parse_config(std::string_view yaml_text);
// Read a file and parse it, then read every tunnel's private_key_file; errors name the file,
// then the field.
[[nodiscard]] Result<FwdConfig> load_config(const std::string& path);
// Reads tunnels[i].private_key_file into private_key (load_config calls it).
[[nodiscard]] Result<void> load_tunnel_keys(FwdConfig& config);
// Why `dir` cannot hold the UAPI sockets (not absolute, too long for <dir>/<tunnel>.sock), or
// empty. For uapi.socket_dir and the command-line override.
[[nodiscard]] std::string check_uapi_socket_dir(std::string_view dir);
// WireGuard's key text form: 44 characters of base64 for 32 bytes.
[[nodiscard]] std::optional<WgKey> parse_wg_key(std::string_view base64);
[[nodiscard]] std::string wg_key_str(const WgKey& key);

}  // namespace causeway::fwd
