// SPDX-License-Identifier: Apache-2.0
// The sender's side of the SLA probes (DESIGN.md section 4; wire format in
// include/causeway/fwd/probe.h), on the control thread:
//  - one schedule per probing peer (tunnel peer with a probe target and a non-zero interval):
//    due() builds the next request (seq, transmit time) for each peer whose time has come;
//  - replies (punted by the worker that decrypted them, with its receive time) are matched
//    against a window of the last kWindow requests of that peer (seq and transmit time must
//    both match, each answered once), so late, repeated or forged replies are counted as
//    unknown and never produce a round trip;
//  - every request sent and every reply matched is an event in one bounded ring, read with a
//    cursor (control message 12, causeway-routed's SLA engine): events are numbered from 0 in
//    order; a reader that falls more than the ring's capacity behind is told how many it
//    missed.
// Sans-I/O: the caller passes the time (steady clock ns, CLOCK_MONOTONIC) and sends the bytes.
// Not thread-safe: the control thread owns it.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "causeway/common/ip.h"
#include "causeway/fwd/probe.h"

namespace causeway::fwd {

struct ProbePeerInfo {
  unsigned tunnel = 0;        // tunnel index
  std::uint32_t peer = 0;     // tun::PeerId value in that tunnel
  std::string tunnel_name;    // e.g. "wg-aws"
  std::string peer_name;      // configured name, else the public key
  std::string public_key;     // base64
  IpAddress source;           // the tunnel's own overlay address
  IpAddress destination;      // the peer's overlay address
  std::uint32_t interval_ms;  // 0 = not probing now
};

struct ProbePeerStats {
  std::uint64_t sent = 0;            // requests (including those that found no session)
  std::uint64_t no_session = 0;      // requests not sent: the session was gone (count as lost)
  std::uint64_t before_session = 0;  // not sent and not counted: no session yet, ever
  std::uint64_t replied = 0;         // matched replies
  std::uint64_t last_rtt_ns = 0;
  std::uint64_t last_reply_ns = 0;  // when the last matched reply arrived
};

struct ProbeEvent {
  std::uint32_t slot = 0;  // ProbeBook peer slot
  bool reply = false;
  std::uint32_t seq = 0;
  std::uint64_t ns = 0;      // sent: transmit time; reply: receive time
  std::uint64_t rtt_ns = 0;  // reply only
};

class ProbeBook {
 public:
  static constexpr std::size_t kDefaultRingCapacity = 32768;
  static constexpr std::size_t kWindow = 256;  // requests a reply may still answer
  static constexpr std::size_t kMaxEventsPerRead = 8192;
  static constexpr std::uint64_t kNever = ~std::uint64_t{0};
  static constexpr std::uint32_t kNoPeer = ~std::uint32_t{0};  // ProbePeerInfo::peer of none

  explicit ProbeBook(std::size_t ring_capacity = kDefaultRingCapacity);

  // Adds a peer; the first probe is due at now_ns. Returns its slot.
  std::size_t add_peer(ProbePeerInfo info, std::uint64_t now_ns);
  [[nodiscard]] std::size_t size() const { return peers_.size(); }
  [[nodiscard]] const ProbePeerInfo& info(std::size_t slot) const { return peers_[slot].info; }
  [[nodiscard]] const ProbePeerStats& stats(std::size_t slot) const { return peers_[slot].stats; }
  // The slot of (tunnel, peer), or -1.
  [[nodiscard]] long slot_of(unsigned tunnel, std::uint32_t peer) const;
  // The peer of `slot` has a new PeerId value (removed and added again through the UAPI), or
  // none (removed): replies are matched under the new one; the schedule and stats stay.
  void set_peer(std::size_t slot, std::optional<std::uint32_t> peer);

  // Earliest time a probe is due (kNever when no peer is probing).
  [[nodiscard]] std::uint64_t next_deadline() const;
  // For every peer due at now_ns: builds its request stamped now_ns and calls
  // send(slot, packet), which returns false if the peer had no session: once the peer has had
  // one, the request still counts as sent (it is lost); before its first session it is not
  // counted at all (`before_session`). Records a "sent" event for each request counted.
  using SendFn = std::function<bool(std::size_t slot, std::span<const std::uint8_t> packet)>;
  void run_due(std::uint64_t now_ns, const SendFn& send);

  enum class ReplyResult { kMatched, kUnknown };
  // A reply from (tunnel, peer) received at rx_ns.
  ReplyResult on_reply(unsigned tunnel, std::uint32_t peer, const probe::Payload& reply,
                       std::uint64_t rx_ns);
  [[nodiscard]] std::uint64_t unknown_replies() const { return unknown_; }

  // Every peer probing by configuration (a non-zero configured interval) gets `interval_ms`
  // (0 stops it); the next probe is due at now_ns. Returns how many peers.
  std::size_t set_interval(std::uint32_t interval_ms, std::uint64_t now_ns);

  // Events from `cursor` (0 = the oldest kept): at most max_events of them, the cursor to
  // ask with next time, and how many events between `cursor` and the oldest kept were
  // overwritten before they were read.
  struct Page {
    std::uint64_t next_cursor = 0;
    std::uint64_t missed = 0;
    std::vector<ProbeEvent> events;
  };
  [[nodiscard]] Page read(std::uint64_t cursor, std::size_t max_events = kMaxEventsPerRead) const;
  // Control message 12's reply: {"cursor", "missed", "events": [...]} (docs/control-socket.md).
  [[nodiscard]] nlohmann::json events_json(std::uint64_t cursor) const;
  // Per-peer view for GetTunnels: {interval_ms, source, target, sent, replied, ...}.
  [[nodiscard]] nlohmann::json peer_json(std::size_t slot, std::uint64_t now_ns) const;
  [[nodiscard]] std::uint64_t total_events() const { return total_; }

 private:
  struct Sent {
    std::uint32_t seq = 0;
    std::uint64_t tx_ns = 0;
    bool valid = false;
    bool replied = false;
  };
  struct Peer {
    ProbePeerInfo info;
    std::uint32_t configured_ms = 0;
    std::uint64_t next_ns = 0;
    std::uint32_t next_seq = 1;
    bool had_session = false;  // a request was ever handed to a session
    ProbePeerStats stats;
    std::array<Sent, kWindow> window{};
  };
  void record(const ProbeEvent& e);

  std::vector<Peer> peers_;
  std::map<std::pair<unsigned, std::uint32_t>, std::size_t> by_peer_;
  std::vector<ProbeEvent> ring_;
  std::uint64_t total_ = 0;  // events recorded since start; event i is ring_[i % capacity]
  std::uint64_t unknown_ = 0;
};

}  // namespace causeway::fwd
