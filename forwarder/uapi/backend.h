// SPDX-License-Identifier: Apache-2.0
// The seam between the WireGuard UAPI server (forwarder/uapi, which speaks the text protocol
// of `wg` on /var/run/wireguard/<ifname>.sock; DESIGN.md section 3) and whatever owns the
// tunnel interface (the forwarder's control lcore in production, a fake in tests).
//
// The server parses and validates a whole `set=1` request into one UapiSet before calling
// the backend; the backend applies it all or nothing (it checks everything it can refuse
// before changing anything) and reports a positive errno value in Error::code on failure,
// which the server sends back as errno=-N. `get` reads one consistent snapshot.
//
// Threading: the server calls the backend from the thread that runs its io_context (the
// forwarder's control thread); a backend needs no locking of its own for these calls.
// Exceptions: a backend should not throw; if it does, the server answers errno=-EIO on a set
// (errno=5 on a get, which `wg` reads as unsigned) and keeps the connection.
//
// What a backend must accept so that `wg setconf` of any valid configuration works: fwmark is
// meaningless in a DPDK forwarder but is stored and echoed back, not refused; a peer block
// with the interface's own public key is ignored, as wireguard-go does.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "causeway/common/ip.h"
#include "causeway/common/result.h"
#include "causeway/tun/device.h"
#include "causeway/tun/messages.h"

namespace causeway::fwd::uapi {

using tun::Endpoint;
using tun::Key32;

// One peer as `wg show` / `wg showconf` sees it.
struct PeerView {
  Key32 public_key{};
  Key32 preshared_key{};  // all zeros = none
  std::optional<Endpoint> endpoint;
  std::vector<IpPrefix> allowed_ips;
  std::chrono::seconds persistent_keepalive{0};  // 0 = off
  std::optional<std::chrono::system_clock::time_point> last_handshake;
  std::uint64_t rx_bytes = 0;
  std::uint64_t tx_bytes = 0;
};

// The interface as a whole (`get=1`).
struct DeviceView {
  std::optional<Key32> private_key;  // absent = not configured
  std::uint16_t listen_port = 0;
  std::uint32_t fwmark = 0;
  std::vector<PeerView> peers;
};

// One `public_key=` block of a `set=1` request, in request order. The server guarantees:
// add_allowed_ips and remove_allowed_ips are masked to their prefix length, have no
// duplicates and do not overlap (the last line about a prefix wins), and a
// replace_allowed_ips=true has already discarded the lines before it; so the backend may
// apply the replacement, the removals and the additions in any order.
struct PeerChange {
  Key32 public_key{};
  bool remove = false;                 // remove=true
  bool update_only = false;            // update_only=true: do not create the peer
  std::optional<Key32> preshared_key;  // all zeros clears it
  std::optional<Endpoint> endpoint;
  std::optional<std::chrono::seconds> persistent_keepalive;
  bool replace_allowed_ips = false;  // applied before the additions/removals below
  std::vector<IpPrefix> add_allowed_ips;
  std::vector<IpPrefix> remove_allowed_ips;  // allowed_ip=-<prefix>
};

// A whole validated `set=1` request.
struct SetRequest {
  std::optional<Key32> private_key;  // all zeros removes the key
  std::optional<std::uint16_t> listen_port;
  std::optional<std::uint32_t> fwmark;
  bool replace_peers = false;  // applied before the peer changes
  std::vector<PeerChange> peers;
};

class Backend {
 public:
  virtual ~Backend() = default;
  [[nodiscard]] virtual DeviceView get() = 0;
  // All or nothing. On failure Error::code is a positive errno value (EINVAL, EADDRINUSE,
  // ENOMEM, ...), Error::message says why (logged by the server, not sent to `wg`).
  [[nodiscard]] virtual Result<void> set(const SetRequest& request) = 0;
};

}  // namespace causeway::fwd::uapi
