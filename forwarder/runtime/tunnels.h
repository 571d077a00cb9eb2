// SPDX-License-Identifier: Apache-2.0
// The control side of the forwarder's WireGuard tunnels (DESIGN.md sections 2-3). Runs on the
// control thread only:
//  - one tun::Device per configured tunnel (identity, peers, handshakes, cookies, timers); its
//    DataPath is what the workers use (tunnel_stages.h), published through an rte_rcu_qsbr
//    reclaimer;
//  - handshake and cookie messages from the workers (their own ring, TunnelShared::handshake_ring,
//    owned here and read a bounded number per turn by poll_handshakes) go to the Device; what it
//    sends (responses, initiations, cookie replies, keepalives, staged packets) leaves with outer
//    IPv4/IPv6 + UDP headers through the exception path (route lookup, neighbour resolution,
//    inject ring);
//  - inner packets for a peer without a session are staged by the Device (bounded) while it
//    completes a handshake;
//  - path groups: members (tunnel peers) and the active set, published to workers as one
//    immutable table per change;
//  - the overlay (docs/tunnels.md "Tunnel mirror"): a tunnel with an `address` has an L3 kernel
//    mirror named like it; inner packets the workers punt for the PoP itself are written to it,
//    and what the kernel writes into it is routed by the FIB (path group) or the tunnel's
//    allowed IPs and encrypted here (the control thread's cipher context, docs/tunnels.md);
//  - SLA probes: the probe book (probes.h) decides when each probing peer gets a request; this
//    class sends them through the peer's Device and feeds the replies the workers punt back.
#pragma once

#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "causeway/common/result.h"
#include "causeway/fwd/steering_codec.h"
#include "causeway/tun/device.h"
#include "config/config.h"
#include "dataplane/counters.h"
#include "dataplane/tunnel_stages.h"
#include "mirror.h"
#include "port.h"
#include "probes.h"
#include "route_table.h"
#include "uapi/backend.h"

struct rte_mbuf;

namespace causeway::fwd {

class ExceptionPath;

// tun::Reclaimer over rte_rcu_qsbr: retire() takes a token, poll() frees what every online
// worker has passed since. Control thread only.
class QsbrReclaimer final : public tun::Reclaimer {
 public:
  explicit QsbrReclaimer(rte_rcu_qsbr* qsbr) : qsbr_(qsbr) {}
  ~QsbrReclaimer() override;  // frees the rest: call after the workers stopped
  void retire(std::function<void()> free) override;
  void poll();
  [[nodiscard]] std::size_t pending() const { return pending_.size(); }

 private:
  rte_rcu_qsbr* qsbr_;
  std::deque<std::pair<std::uint64_t, std::function<void()>>> pending_;
};

// A member as the control socket names it: tunnel name, peer name or base64 public key.
using PathMemberRef = ctl::PathMemberName;

class TunnelRuntime {
 public:
  [[nodiscard]] static Result<std::unique_ptr<TunnelRuntime>> create(
      const FwdConfig& config, std::vector<PortRuntime>& ports, RouteTable& routes,
      ExceptionPath& exception, rte_mempool* pool, rte_rcu_qsbr* qsbr, WorkerCounters& counters);
  ~TunnelRuntime();
  TunnelRuntime(const TunnelRuntime&) = delete;
  TunnelRuntime& operator=(const TunnelRuntime&) = delete;

  // What the workers read (DataplaneShared::tunnels).
  [[nodiscard]] const TunnelShared* shared() const { return shared_.get(); }
  // A punt with PuntReason::kTunnelHandshake, kTunnelNoSession, kTunnelLocal or kProbeReply.
  // Takes ownership.
  void handle_punt(rte_mbuf* m);
  // Tunnel mirrors: (tunnel index, TUN file descriptor) of every tunnel that has one.
  [[nodiscard]] std::vector<std::pair<unsigned, int>> mirror_fds() const;
  // Makes every tunnel mirror outlive this process (Mirror::persist; once the forwarder runs,
  // as its port mirrors). A failure is logged: the mirror still works, only not across restarts.
  void persist_mirrors();
  // An IP packet the kernel wrote into tunnel `tunnel`'s mirror, at kEthHeaderLen in m (the
  // room in front is unused). Takes ownership.
  void handle_mirror_packet(unsigned tunnel, rte_mbuf* m);
  // SLA probes: when the next one is due (steady clock ns; ProbeBook::kNever if none), and
  // sending those that are due.
  [[nodiscard]] std::uint64_t next_probe_ns() const { return probes_.next_deadline(); }
  void on_probe_timer();
  // Handles at most `budget` messages from the workers' handshake ring (TunnelShared::
  // handshake_ring); true if more are waiting. The budget keeps a flood from monopolising the
  // control thread: the caller comes back after the other ready work.
  [[nodiscard]] bool poll_handshakes(unsigned budget);
  [[nodiscard]] bool handshakes_waiting() const;
  // Timers of every Device, path group and snapshot reclamation. Call every ~100 ms.
  void on_timer();

  // ---- control socket ----
  [[nodiscard]] nlohmann::json tunnels_json() const;
  [[nodiscard]] nlohmann::json path_groups_json() const;
  // Control messages 12 and 13 (docs/control-socket.md).
  [[nodiscard]] nlohmann::json probe_events_json(std::uint64_t cursor) const {
    return probes_.events_json(cursor);
  }
  std::size_t set_probe_interval(std::uint32_t interval_ms);
  [[nodiscard]] nlohmann::json traffic_classes_json() const;
  // Replaces group `id`: members, the default active subset (all members when active is empty
  // and members is not; an empty members list deletes the group) and the active subsets of
  // traffic classes (a class without one uses the default; an empty one drops the class).
  // All or nothing.
  [[nodiscard]] Result<void> set_path_group(const ctl::PathGroupRequest& request);
  // Replaces the traffic class table whole (control message 14). All or nothing.
  [[nodiscard]] Result<void> set_traffic_classes(std::vector<ctl::TrafficClassSpec> classes);

  // The control-side Device of tunnel `name`, or nullptr.
  [[nodiscard]] tun::Device* device(const std::string& name);
  // The UAPI backend of tunnel `name` (for the server on /var/run/wireguard/<name>.sock), or
  // nullptr; changes it applies republish the path groups.
  [[nodiscard]] std::unique_ptr<uapi::Backend> make_uapi_backend(const std::string& name);
  // After a Device change (peer removed or added again): probe slots follow their peers' ids,
  // and what workers read about path groups is republished.
  void refresh_path_groups();

 private:
  struct Tunnel;
  struct Group {
    std::vector<PathMemberRef> members;
    std::vector<bool> active;
    std::map<std::uint8_t, std::vector<bool>> class_active;  // traffic class -> its own set
  };
  TunnelRuntime(std::vector<PortRuntime>& ports, RouteTable& routes, ExceptionPath& exception,
                rte_mempool* pool, rte_rcu_qsbr* qsbr, WorkerCounters& counters);
  void send_datagram(unsigned tunnel, const tun::Endpoint& to, std::span<const std::uint8_t> b);
  // Encrypts an inner packet for one peer on the control thread (staged while a handshake
  // runs), counting what the Device refused.
  void send_inner(Tunnel& t, tun::PeerId peer, std::span<const std::uint8_t> packet,
                  tun::Nanos now);
  void handle_probe_reply(rte_mbuf* m);
  // The current PeerId of probe slot `slot`'s peer (found by public key; invalid if the UAPI
  // removed it), updating the probe book when it changed.
  tun::PeerId probe_peer(const Tunnel& t, std::size_t slot);
  [[nodiscard]] std::optional<PathMember> resolve(const PathMemberRef& ref) const;
  void publish_path_groups();

  std::vector<PortRuntime>& ports_;
  RouteTable& routes_;
  ExceptionPath& exception_;
  rte_mempool* pool_;
  WorkerCounters& counters_;  // the control thread's block
  QsbrReclaimer reclaimer_;
  std::vector<std::unique_ptr<Tunnel>> tunnels_;
  std::map<std::uint16_t, Group> groups_;
  rte_ring* handshake_ring_ = nullptr;          // owned; see TunnelShared::handshake_ring
  std::vector<ctl::TrafficClassSpec> classes_;  // as set by message 14
  TrafficClassifier classifier_;                // classes_ compiled
  bool started_ = false;  // first on_timer(): peers with a persistent keepalive handshake at once
  ProbeBook probes_;
  std::vector<tun::Key32> probe_keys_;  // by probe slot: the peer's public key
  std::unique_ptr<TunnelShared> shared_;
};

}  // namespace causeway::fwd
