// SPDX-License-Identifier: Apache-2.0
// The sender's probe book (forwarder/runtime/probes.h) with a fake clock: schedule per peer,
// reply matching (late, repeated, forged replies are unknown), interval changes, and the
// event ring's cursor / missed semantics of control message 12.
#include <catch2/catch.hpp>

#include <vector>

#include "runtime/probes.h"

using namespace causeway;
using namespace causeway::fwd;

namespace {

constexpr std::uint64_t kMs = 1'000'000;

ProbePeerInfo peer_info(unsigned tunnel, std::uint32_t peer, std::uint32_t interval_ms) {
  ProbePeerInfo i;
  i.tunnel = tunnel;
  i.peer = peer;
  i.tunnel_name = tunnel == 0 ? "wg-a" : "wg-b";
  i.peer_name = "pop-b";
  i.public_key = "key" + std::to_string(tunnel);
  i.source = *IpAddress::parse("10.255.0.1");
  i.destination = *IpAddress::parse("10.255.0.2");
  i.interval_ms = interval_ms;
  return i;
}

struct Sent {
  std::size_t slot;
  probe::Payload payload;
};

// Runs the book at `now` and returns what it sent (parsed back from the packets).
std::vector<Sent> run(ProbeBook& book, std::uint64_t now, bool session = true) {
  std::vector<Sent> out;
  book.run_due(now, [&](std::size_t slot, std::span<const std::uint8_t> pkt) {
    probe::Parsed parsed;
    REQUIRE(probe::parse_packet(pkt, parsed) == probe::ParseError::kNone);
    out.push_back(Sent{slot, parsed.payload});
    return session;
  });
  return out;
}

probe::Payload reply_to(const probe::Payload& req, std::uint64_t held_ns = 0) {
  probe::Payload r = req;
  r.type = probe::Type::kReply;
  r.reflector_rx_ns = 777;
  r.reflector_tx_ns = 777 + held_ns;
  return r;
}

}  // namespace

TEST_CASE("probe book: every peer on its own interval", "[probe]") {
  ProbeBook book;
  book.add_peer(peer_info(0, 3, 100), 0);
  book.add_peer(peer_info(1, 3, 10), 0);
  book.add_peer(peer_info(1, 4, 0), 0);  // not probing
  CHECK(book.next_deadline() == 0);
  auto sent = run(book, 0);
  REQUIRE(sent.size() == 2);
  CHECK(sent[0].payload.seq == 1);
  CHECK(sent[0].payload.sender_tx_ns == 0);
  CHECK(book.next_deadline() == 10 * kMs);
  std::size_t fast = 0, slow = 0;
  for (std::uint64_t t = 1 * kMs; t <= 1000 * kMs; t += 1 * kMs) {
    for (const Sent& s : run(book, t)) (s.slot == 0 ? slow : fast)++;
  }
  CHECK(slow == 10);   // 100, 200, ..., 1000 ms
  CHECK(fast == 100);  // every 10 ms
  CHECK(book.stats(1).sent == 101);
  CHECK(book.stats(2).sent == 0);
  // A stall of 5 intervals restarts the cadence instead of sending the backlog.
  CHECK(run(book, 1050 * kMs).size() == 1);
  CHECK(run(book, 1051 * kMs).empty());
  CHECK(book.next_deadline() == 1060 * kMs);
}

TEST_CASE("probe book: replies match their request once; others are unknown", "[probe]") {
  ProbeBook book;
  book.add_peer(peer_info(0, 3, 100), 0);
  auto sent = run(book, 1000);
  REQUIRE(sent.size() == 1);
  const probe::Payload req = sent[0].payload;
  // A reply from another peer or tunnel, or a request, is unknown.
  CHECK(book.on_reply(0, 4, reply_to(req), 2000) == ProbeBook::ReplyResult::kUnknown);
  CHECK(book.on_reply(1, 3, reply_to(req), 2000) == ProbeBook::ReplyResult::kUnknown);
  CHECK(book.on_reply(0, 3, req, 2000) == ProbeBook::ReplyResult::kUnknown);
  // A forged transmit time or an unsent seq.
  probe::Payload forged = reply_to(req);
  forged.sender_tx_ns = 999;
  CHECK(book.on_reply(0, 3, forged, 2000) == ProbeBook::ReplyResult::kUnknown);
  forged = reply_to(req);
  forged.seq = 2;
  CHECK(book.on_reply(0, 3, forged, 2000) == ProbeBook::ReplyResult::kUnknown);
  // The genuine reply: 20 ms, the reflector held it 50 us.
  CHECK(book.on_reply(0, 3, reply_to(req, 50'000), 1000 + 20 * kMs) ==
        ProbeBook::ReplyResult::kMatched);
  CHECK(book.stats(0).replied == 1);
  CHECK(book.stats(0).last_rtt_ns == 20 * kMs - 50'000);
  // Repeated: unknown.
  CHECK(book.on_reply(0, 3, reply_to(req), 1000 + 21 * kMs) == ProbeBook::ReplyResult::kUnknown);
  CHECK(book.unknown_replies() == 6);
  // A reply older than the window (kWindow requests later) is unknown too.
  std::uint64_t t = 1000;
  for (std::size_t i = 0; i < ProbeBook::kWindow; ++i) run(book, t += 100 * kMs);
  probe::Payload late = req;
  late.seq = 2;  // overwritten by seq 2 + kWindow
  CHECK(book.on_reply(0, 3, reply_to(late), t) == ProbeBook::ReplyResult::kUnknown);
}

TEST_CASE("probe book: before the first session nothing counts; after it, no session is a loss",
          "[probe]") {
  ProbeBook book;
  book.add_peer(peer_info(0, 3, 100), 0);
  // No session yet: the request is built and offered, but neither counted nor recorded, and
  // it does not use up a sequence number.
  CHECK(run(book, 0, false).size() == 1);
  CHECK(run(book, 100 * kMs, false).size() == 1);
  CHECK(book.stats(0).sent == 0);
  CHECK(book.stats(0).no_session == 0);
  CHECK(book.stats(0).before_session == 2);
  CHECK(book.read(0).events.empty());
  // The first session: sequence 1 goes out and is recorded.
  auto sent = run(book, 200 * kMs);
  REQUIRE(sent.size() == 1);
  CHECK(sent[0].payload.seq == 1);
  CHECK(book.stats(0).sent == 1);
  // The session goes away: now each request counts as sent and lost.
  CHECK(run(book, 300 * kMs, false).size() == 1);
  CHECK(book.stats(0).sent == 2);
  CHECK(book.stats(0).no_session == 1);
  CHECK(book.stats(0).before_session == 2);
  const auto events = book.read(0).events;
  REQUIRE(events.size() == 2);
  CHECK(events[1].seq == 2);
  CHECK_FALSE(events[1].reply);
}

TEST_CASE("probe book: a peer that gets a new id (UAPI remove and add) keeps its slot", "[probe]") {
  ProbeBook book;
  book.add_peer(peer_info(0, 3, 100), 0);
  book.add_peer(peer_info(0, 5, 100), 0);
  auto sent = run(book, 0);
  REQUIRE(sent.size() == 2);
  // Removed: no (tunnel, peer) finds the slot; its old id and the other peer's are untouched.
  book.set_peer(0, std::nullopt);
  CHECK(book.slot_of(0, 3) == -1);
  CHECK(book.info(0).peer == ProbeBook::kNoPeer);
  CHECK(book.slot_of(0, 5) == 1);
  CHECK(book.on_reply(0, 3, reply_to(sent[0].payload), 10 * kMs) ==
        ProbeBook::ReplyResult::kUnknown);
  // Added again as peer 7: the next request goes out under the same schedule and sequence and
  // its reply, from peer 7, matches.
  book.set_peer(0, 7);
  CHECK(book.slot_of(0, 7) == 0);
  CHECK(book.info(0).peer == 7);
  sent = run(book, 100 * kMs);
  REQUIRE(sent.size() == 2);
  REQUIRE(sent[0].slot == 0);
  CHECK(sent[0].payload.seq == 2);
  CHECK(book.on_reply(0, 7, reply_to(sent[0].payload), 101 * kMs) ==
        ProbeBook::ReplyResult::kMatched);
  CHECK(book.stats(0).replied == 1);
  CHECK(book.on_reply(0, 5, reply_to(sent[1].payload), 101 * kMs) ==
        ProbeBook::ReplyResult::kMatched);
}

TEST_CASE("probe book: set_interval changes every configured peer", "[probe]") {
  ProbeBook book;
  book.add_peer(peer_info(0, 3, 100), 0);
  book.add_peer(peer_info(1, 3, 100), 0);
  book.add_peer(peer_info(1, 4, 0), 0);  // off by configuration: stays off
  run(book, 0);
  CHECK(book.set_interval(0, 5 * kMs) == 2);
  CHECK(book.next_deadline() == ProbeBook::kNever);
  CHECK(run(book, 500 * kMs).empty());
  CHECK(book.set_interval(20, 600 * kMs) == 2);
  CHECK(run(book, 600 * kMs).size() == 2);
  CHECK(book.next_deadline() == 620 * kMs);
  CHECK(book.info(2).interval_ms == 0);
}

TEST_CASE("probe book: event ring cursor and missed", "[probe]") {
  ProbeBook book(8);
  book.add_peer(peer_info(0, 3, 10), 0);
  std::vector<probe::Payload> reqs;
  for (std::uint64_t t = 0; t < 5; ++t) {
    for (const Sent& s : run(book, t * 10 * kMs)) reqs.push_back(s.payload);
  }
  REQUIRE(reqs.size() == 5);
  CHECK(book.on_reply(0, 3, reply_to(reqs[4]), 45 * kMs) == ProbeBook::ReplyResult::kMatched);
  auto page = book.read(0);
  CHECK(page.missed == 0);
  CHECK(page.next_cursor == 6);
  REQUIRE(page.events.size() == 6);
  CHECK(page.events[5].reply);
  CHECK(page.events[5].seq == 5);
  CHECK(page.events[5].rtt_ns == 5 * kMs);
  // Nothing new.
  CHECK(book.read(6).events.empty());
  CHECK(book.read(6).next_cursor == 6);
  // A cursor beyond the end reads nothing and comes back as the end.
  CHECK(book.read(100).next_cursor == 6);
  // Overwrite: 10 more events in a ring of 8 (oldest kept: 8); a reader at 6 missed 6 and 7.
  for (std::uint64_t t = 5; t < 15; ++t) run(book, t * 10 * kMs);
  CHECK(book.total_events() == 16);
  page = book.read(6);
  CHECK(page.missed == 2);
  CHECK(page.events.size() == 8);
  CHECK(page.next_cursor == 16);
  page = book.read(0, 3);  // bounded read
  CHECK(page.missed == 8);
  CHECK(page.events.size() == 3);
  CHECK(page.next_cursor == 11);

  const auto j = book.events_json(15);
  CHECK(j["cursor"] == 16);
  CHECK(j["missed"] == 0);
  REQUIRE(j["events"].size() == 1);
  const auto& e = j["events"][0];
  CHECK(e["tunnel"] == "wg-a");
  CHECK(e["peer"] == "pop-b");
  CHECK(e["public_key"] == "key0");
  CHECK(e["kind"] == "sent");
  CHECK(e["seq"] == 15);
  CHECK(e["ns"] == 140 * kMs);
  CHECK_FALSE(e.contains("rtt_ns"));
}
