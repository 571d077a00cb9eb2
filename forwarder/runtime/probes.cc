// SPDX-License-Identifier: Apache-2.0
// The sender's probe book (see probes.h): schedules, reply matching, the event ring.
#include "probes.h"

#include <algorithm>

namespace causeway::fwd {

using nlohmann::json;

ProbeBook::ProbeBook(std::size_t ring_capacity) : ring_(std::max<std::size_t>(ring_capacity, 1)) {}

std::size_t ProbeBook::add_peer(ProbePeerInfo info, std::uint64_t now_ns) {
  Peer p;
  p.configured_ms = info.interval_ms;
  p.info = std::move(info);
  p.next_ns = now_ns;
  const std::size_t slot = peers_.size();
  by_peer_[{p.info.tunnel, p.info.peer}] = slot;
  peers_.push_back(std::move(p));
  return slot;
}

long ProbeBook::slot_of(unsigned tunnel, std::uint32_t peer) const {
  auto it = by_peer_.find({tunnel, peer});
  return it == by_peer_.end() ? -1 : static_cast<long>(it->second);
}

void ProbeBook::set_peer(std::size_t slot, std::optional<std::uint32_t> peer) {
  ProbePeerInfo& info = peers_[slot].info;
  auto it = by_peer_.find({info.tunnel, info.peer});
  if (it != by_peer_.end() && it->second == slot) by_peer_.erase(it);
  info.peer = peer.value_or(kNoPeer);
  if (peer) by_peer_[{info.tunnel, *peer}] = slot;
}

std::uint64_t ProbeBook::next_deadline() const {
  std::uint64_t next = kNever;
  for (const Peer& p : peers_) {
    if (p.info.interval_ms != 0) next = std::min(next, p.next_ns);
  }
  return next;
}

void ProbeBook::record(const ProbeEvent& e) {
  ring_[total_ % ring_.size()] = e;
  ++total_;
}

void ProbeBook::run_due(std::uint64_t now_ns, const SendFn& send) {
  for (std::size_t slot = 0; slot < peers_.size(); ++slot) {
    Peer& p = peers_[slot];
    if (p.info.interval_ms == 0 || p.next_ns > now_ns) continue;
    const std::uint64_t interval = std::uint64_t{p.info.interval_ms} * 1'000'000;
    // Keep the cadence; after a stall (more than an interval late) restart from now rather
    // than sending a burst of overdue probes.
    p.next_ns = now_ns - p.next_ns >= interval ? now_ns + interval : p.next_ns + interval;
    probe::Payload req;
    req.type = probe::Type::kRequest;
    req.seq = p.next_seq++;
    req.sender_tx_ns = now_ns;
    std::uint8_t pkt[probe::packet_size(false)];
    const std::size_t len = probe::build_packet(p.info.source, p.info.destination, req, pkt);
    if (len == 0) continue;  // families checked when the peer was added
    if (send(slot, std::span<const std::uint8_t>(pkt, len))) {
      p.had_session = true;
    } else if (!p.had_session) {
      // The path never had a session: nothing was ever carried on it, so nothing is lost
      // either. No event: the SLA engine keeps the path unmeasured (pending) instead of
      // judging it on losses that only say the first handshake has not happened yet.
      --p.next_seq;
      ++p.stats.before_session;
      continue;
    } else {
      // Once it had one, a probe without a session is lost like any other: that is how a
      // path whose remote end went away is seen.
      ++p.stats.no_session;
    }
    Sent& s = p.window[req.seq % kWindow];
    s = Sent{req.seq, now_ns, true, false};
    ++p.stats.sent;
    record(ProbeEvent{static_cast<std::uint32_t>(slot), false, req.seq, now_ns, 0});
  }
}

ProbeBook::ReplyResult ProbeBook::on_reply(unsigned tunnel, std::uint32_t peer,
                                           const probe::Payload& reply, std::uint64_t rx_ns) {
  auto it = by_peer_.find({tunnel, peer});
  if (it == by_peer_.end() || reply.type != probe::Type::kReply) {
    ++unknown_;
    return ReplyResult::kUnknown;
  }
  Peer& p = peers_[it->second];
  Sent& s = p.window[reply.seq % kWindow];
  if (!s.valid || s.replied || s.seq != reply.seq || s.tx_ns != reply.sender_tx_ns) {
    ++unknown_;
    return ReplyResult::kUnknown;
  }
  s.replied = true;
  const std::uint64_t rtt = probe::round_trip_ns(reply, rx_ns);
  ++p.stats.replied;
  p.stats.last_rtt_ns = rtt;
  p.stats.last_reply_ns = rx_ns;
  record(ProbeEvent{static_cast<std::uint32_t>(it->second), true, reply.seq, rx_ns, rtt});
  return ReplyResult::kMatched;
}

std::size_t ProbeBook::set_interval(std::uint32_t interval_ms, std::uint64_t now_ns) {
  std::size_t n = 0;
  for (Peer& p : peers_) {
    if (p.configured_ms == 0) continue;
    p.info.interval_ms = interval_ms;
    p.next_ns = now_ns;
    ++n;
  }
  return n;
}

ProbeBook::Page ProbeBook::read(std::uint64_t cursor, std::size_t max_events) const {
  Page page;
  const std::uint64_t oldest = total_ > ring_.size() ? total_ - ring_.size() : 0;
  std::uint64_t start = std::min(cursor, total_);
  if (start < oldest) {
    page.missed = oldest - start;
    start = oldest;
  }
  const std::uint64_t end = std::min<std::uint64_t>(total_, start + max_events);
  page.events.reserve(end - start);
  for (std::uint64_t i = start; i < end; ++i) page.events.push_back(ring_[i % ring_.size()]);
  page.next_cursor = end;
  return page;
}

json ProbeBook::events_json(std::uint64_t cursor) const {
  const Page page = read(cursor);
  json events = json::array();
  for (const ProbeEvent& e : page.events) {
    const ProbePeerInfo& info = peers_[e.slot].info;
    json j{{"tunnel", info.tunnel_name},
           {"peer", info.peer_name},
           {"public_key", info.public_key},
           {"kind", e.reply ? "reply" : "sent"},
           {"seq", e.seq},
           {"ns", e.ns}};
    if (e.reply) j["rtt_ns"] = e.rtt_ns;
    events.push_back(std::move(j));
  }
  return json{{"cursor", page.next_cursor}, {"missed", page.missed}, {"events", events}};
}

json ProbeBook::peer_json(std::size_t slot, std::uint64_t now_ns) const {
  const Peer& p = peers_[slot];
  return json{{"interval_ms", p.info.interval_ms},
              {"source", p.info.source.str()},
              {"target", p.info.destination.str()},
              {"sent", p.stats.sent},
              {"no_session", p.stats.no_session},
              {"before_session", p.stats.before_session},
              {"replied", p.stats.replied},
              {"last_rtt_ns", p.stats.last_rtt_ns},
              {"last_reply_age_ms",
               p.stats.last_reply_ns != 0 && now_ns >= p.stats.last_reply_ns
                   ? static_cast<std::int64_t>((now_ns - p.stats.last_reply_ns) / 1'000'000)
                   : -1}};
}

}  // namespace causeway::fwd
