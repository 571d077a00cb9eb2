// SPDX-License-Identifier: Apache-2.0
// Two protocol cores talking to each other in memory under a fake clock: handshake, key
// schedule agreement, sessions and rotation, batch data path, every malformed / forged /
// replayed message dropped with its named reason, cookie mode under flood, and the timers.
#include <catch2/catch.hpp>

#include "crypto.h"
#include "device_testing.h"
#include "noise.h"
#include "test_util.h"

using namespace causeway;
using namespace causeway::tun;
using namespace causeway::tun::test;
using namespace std::chrono_literals;

namespace {

struct Node {
  explicit Node(std::uint64_t seed, const char* addr, std::uint16_t port)
      : rng(seed), dev(rng, wall), ep{*IpAddress::parse(addr), port} {}
  FakeRng rng;
  FakeWallClock wall;
  Device dev;
  RecordingSink sink;
  Endpoint ep;
  PeerId peer;  // the other node
};

struct Pair {
  Nanos now = 1000s;
  Node a{1, "192.0.2.1", 51820};
  Node b{2, "192.0.2.2", 51821};

  explicit Pair(std::uint32_t b_under_load = 1000) {
    DeviceConfig ca;
    ca.private_key = key_from(1);
    REQUIRE(a.dev.configure(ca));
    DeviceConfig cb;
    cb.private_key = key_from(2);
    cb.under_load_handshakes_per_second = b_under_load;
    REQUIRE(b.dev.configure(cb));
    PeerConfig pa;
    pa.public_key = b.dev.public_key();
    pa.endpoint = b.ep;
    pa.allowed_ips = {*IpPrefix::parse("10.0.0.2/32"), *IpPrefix::parse("fd00::2/128")};
    a.peer = a.dev.add_peer(pa).value();
    PeerConfig pb;
    pb.public_key = a.dev.public_key();
    pb.allowed_ips = {*IpPrefix::parse("10.0.0.1/32"), *IpPrefix::parse("fd00::1/128")};
    b.peer = b.dev.add_peer(pb).value();  // b learns a's endpoint from the handshake
  }

  // Advances the monotonic clock and both wall clocks (TAI64N must move forward).
  void advance(Nanos d) {
    now += d;
    a.wall.now += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
    b.wall.now += std::chrono::duration_cast<std::chrono::system_clock::duration>(d);
  }

  // Moves every queued datagram to its destination until both sinks are quiet.
  int pump(int max_rounds = 20) {
    int moved = 0;
    for (int round = 0; round < max_rounds; ++round) {
      auto from_a = std::move(a.sink.sent);
      auto from_b = std::move(b.sink.sent);
      a.sink.sent.clear();
      b.sink.sent.clear();
      if (from_a.empty() && from_b.empty()) break;
      for (auto& d : from_a) {
        if (d.to == b.ep) b.dev.receive(now, a.ep, d.bytes, b.sink), ++moved;
      }
      for (auto& d : from_b) {
        if (d.to == a.ep) a.dev.receive(now, b.ep, d.bytes, a.sink), ++moved;
      }
    }
    return moved;
  }

  void establish() {
    a.dev.initiate_handshake(now, a.peer, a.sink);
    pump();
    REQUIRE(a.dev.peer_status(a.peer).value().has_current_keypair);
    REQUIRE(b.dev.peer_status(b.peer).value().has_current_keypair);
    a.sink.clear();
    b.sink.clear();
  }
};

PacketBuf make_buf(std::uint8_t* data, std::uint32_t len, std::uint32_t headroom = 0,
                   std::uint32_t tailroom = 0) {
  PacketBuf pb;
  pb.data = data;
  pb.len = len;
  pb.headroom = headroom;
  pb.tailroom = tailroom;
  return pb;
}

std::vector<std::uint8_t> capture_one(RecordingSink& s) {
  REQUIRE(s.sent.size() == 1);
  auto bytes = s.sent[0].bytes;
  s.sent.clear();
  return bytes;
}

}  // namespace

TEST_CASE("handshake: message sizes, session in both directions, keepalive confirms", "[device]") {
  Pair p;
  auto inner = ipv4_packet("10.0.0.1", "10.0.0.2", 100);
  p.a.dev.send(p.now, inner, p.a.sink);
  // No session yet: the packet is staged (no drop counted) and an initiation goes out.
  CHECK(p.a.dev.counters()[DropReason::kNoKeypair] == 0);
  REQUIRE(p.a.sink.sent.size() == 1);
  CHECK(p.a.sink.sent[0].bytes.size() == HandshakeInitiation::kSize);
  CHECK(p.a.sink.sent[0].bytes[0] == 1);
  auto init = capture_one(p.a.sink);
  p.b.dev.receive(p.now, p.a.ep, init, p.b.sink);
  REQUIRE(p.b.sink.sent.size() == 1);
  CHECK(p.b.sink.sent[0].bytes.size() == HandshakeResponse::kSize);
  CHECK(p.b.sink.sent[0].to == p.a.ep);  // responder learned the endpoint (roaming)
  // Responder keeps the keypair as "next" until the initiator's first data arrives.
  CHECK_FALSE(p.b.dev.peer_status(p.b.peer).value().has_current_keypair);
  auto resp = capture_one(p.b.sink);
  p.a.dev.receive(p.now, p.b.ep, resp, p.a.sink);
  // The initiator sends the staged packet on the fresh session: 16 + pad16(120) + 16.
  REQUIRE(p.a.sink.sent.size() == 1);
  CHECK(p.a.sink.sent[0].bytes.size() == 16 + 128 + 16);
  auto data = capture_one(p.a.sink);
  p.b.dev.receive(p.now, p.a.ep, data, p.b.sink);
  REQUIRE(p.b.sink.delivered.size() == 1);
  CHECK(p.b.sink.delivered[0].bytes == inner);  // padding trimmed by the IP length
  CHECK(p.b.sink.delivered[0].peer == p.b.peer);
  CHECK(p.b.dev.peer_status(p.b.peer).value().has_current_keypair);
  // And back.
  auto reply = ipv6_packet("fd00::2", "fd00::1", 33);
  p.b.dev.send(p.now, reply, p.b.sink);
  p.pump();
  REQUIRE(p.a.sink.delivered.size() == 1);
  CHECK(p.a.sink.delivered[0].bytes == reply);
  CHECK(p.a.dev.counters()[Event::kSessionsDerived] == 1);
  CHECK(p.b.dev.counters()[Event::kSessionsDerived] == 1);
  CHECK(p.a.dev.peer_status(p.a.peer).value().last_handshake.has_value());
}

TEST_CASE("handshake without staged data: initiator confirms with a 32-byte keepalive",
          "[device]") {
  Pair p;
  p.a.dev.initiate_handshake(p.now, p.a.peer, p.a.sink);
  auto init = capture_one(p.a.sink);
  p.b.dev.receive(p.now, p.a.ep, init, p.b.sink);
  auto resp = capture_one(p.b.sink);
  p.a.dev.receive(p.now, p.b.ep, resp, p.a.sink);
  auto ka = capture_one(p.a.sink);
  CHECK(ka.size() == TransportHeader::kMinMessage);
  CHECK(ka[0] == 4);
  p.b.dev.receive(p.now, p.a.ep, ka, p.b.sink);
  CHECK(p.b.dev.counters()[Event::kRxKeepalive] == 1);
  CHECK(p.b.sink.delivered.empty());
  CHECK(p.b.dev.peer_status(p.b.peer).value().has_current_keypair);
}

TEST_CASE("Noise key schedule: both roles derive the same transport keys", "[noise]") {
  crypto::X25519Private si, sr;
  REQUIRE(si.set(key_from(7)));
  REQUIRE(sr.set(key_from(8)));
  NoisePeerKeys i_view, r_view;  // initiator's view of responder and vice versa
  i_view.remote_static = sr.public_key();
  r_view.remote_static = si.public_key();
  i_view.preshared = r_view.preshared = key_from(9);
  REQUIRE(noise_prepare_peer(si, i_view));
  REQUIRE(noise_prepare_peer(sr, r_view));
  CHECK(i_view.static_static == r_view.static_static);

  NoiseHandshake hi, hr;
  HandshakeInitiation init;
  const Tai64n ts = tai64n(std::chrono::system_clock::time_point(1700000000s));
  REQUIRE(noise_create_initiation(si, i_view, hi, key_from(10), ts, 0x11223344, init));
  InitiationInProgress st;
  REQUIRE(noise_consume_initiation_static(sr, noise_initial_hash(sr.public_key()), init, st) ==
          NoiseError::kOk);
  CHECK(st.remote_static == si.public_key());
  Tai64n got;
  REQUIRE(noise_consume_initiation_timestamp(r_view, init, st, got) == NoiseError::kOk);
  CHECK(got == ts);
  CHECK(st.hash == hi.hash);  // both sides hold the same transcript hash
  hr.hash = st.hash;
  hr.chaining_key = st.chaining_key;
  hr.remote_ephemeral = st.remote_ephemeral;
  hr.remote_index = st.remote_index;
  hr.state = NoiseHandshake::State::kInitiationConsumed;
  HandshakeResponse resp;
  REQUIRE(noise_create_response(r_view, hr, key_from(11), 0x55667788, resp));
  CHECK(resp.receiver == 0x11223344);
  crypto::Hash h;
  crypto::Key c;
  REQUIRE(noise_consume_response(si, i_view, hi, resp, h, c) == NoiseError::kOk);
  CHECK(h == hr.hash);
  CHECK(c == hr.chaining_key);
  crypto::Key is, ir, rs, rr;
  noise_derive_keys(c, true, is, ir);
  noise_derive_keys(hr.chaining_key, false, rs, rr);
  CHECK(is == rr);
  CHECK(ir == rs);
  CHECK(is != ir);

  SECTION("a wrong preshared key fails the response, not the initiation") {
    NoisePeerKeys wrong = i_view;
    wrong.preshared = key_from(12);
    CHECK(noise_consume_response(si, wrong, hi, resp, h, c) == NoiseError::kDecrypt);
  }
  SECTION("TAI64N layout: 2^62 + 10 + seconds, big endian, nanoseconds whitened") {
    const auto t = tai64n(std::chrono::system_clock::time_point(1700000000s + 123456789ns));
    CHECK(hex(t) == "400000006553f10a" + hex(std::array<std::uint8_t, 4>{0x07, 0x00, 0x00, 0x00}));
  }
}

TEST_CASE("batch API: encrypt and decrypt a burst in place", "[device][batch]") {
  Pair p;
  p.establish();
  constexpr std::size_t kBurst = 32;
  std::vector<std::vector<std::uint8_t>> storage(kBurst);
  std::vector<std::vector<std::uint8_t>> originals(kBurst);
  std::vector<PacketBuf> bufs(kBurst);
  for (std::size_t i = 0; i < kBurst; ++i) {
    originals[i] = ipv4_packet("10.0.0.1", "10.0.0.2", i * 37 % 1400, static_cast<std::uint8_t>(i));
    storage[i].assign(64 + originals[i].size() + 64, 0xee);
    std::memcpy(storage[i].data() + 64, originals[i].data(), originals[i].size());
    bufs[i].data = storage[i].data() + 64;
    bufs[i].len = static_cast<std::uint32_t>(originals[i].size());
    bufs[i].headroom = 64;
    bufs[i].tailroom = 64;
  }
  REQUIRE(p.a.dev.encrypt_burst(p.now, p.a.peer, bufs) == kBurst);
  for (std::size_t i = 0; i < kBurst; ++i) {
    CHECK(bufs[i].result == DropReason::kNone);
    CHECK(bufs[i].data == storage[i].data() + 64 - 16);
    CHECK(bufs[i].len == 16 + padded_length(originals[i].size()) + 16);
    CHECK(load_le64(bufs[i].data + 8) == i + 1);  // counter 0 was the confirming keepalive
    bufs[i].from = p.a.ep;
  }
  REQUIRE(p.b.dev.decrypt_burst(p.now, bufs) == kBurst);
  for (std::size_t i = 0; i < kBurst; ++i) {
    REQUIRE(bufs[i].result == DropReason::kNone);
    CHECK(bufs[i].peer == p.b.peer);
    CHECK(bufs[i].data == storage[i].data() + 64);  // plaintext where it started
    CHECK(std::vector<std::uint8_t>(bufs[i].data, bufs[i].data + bufs[i].len) == originals[i]);
  }
  CHECK(p.b.dev.counters()[Event::kRxData] == kBurst);

  SECTION("headroom/tailroom contract: 16 before, 15 padding + 16 tag after") {
    std::vector<std::uint8_t> buf(200, 0);
    auto pkt = ipv4_packet("10.0.0.1", "10.0.0.2", 1);  // 21 bytes -> 11 bytes of padding
    std::memcpy(buf.data() + 16, pkt.data(), pkt.size());
    PacketBuf pb = make_buf(buf.data() + 16, 21, 15, 27);
    CHECK(p.a.dev.encrypt_burst(p.now, p.a.peer, std::span(&pb, 1)) == 0);
    CHECK(pb.result == DropReason::kNoRoom);
    pb = make_buf(buf.data() + 16, 21, 16, 26);
    CHECK(p.a.dev.encrypt_burst(p.now, p.a.peer, std::span(&pb, 1)) == 0);
    CHECK(pb.result == DropReason::kNoRoom);
    pb = make_buf(buf.data() + 16, 21, 16, 27);
    CHECK(p.a.dev.encrypt_burst(p.now, p.a.peer, std::span(&pb, 1)) == 1);
    CHECK(pb.len == 16 + 32 + 16);
    CHECK(p.a.dev.counters()[DropReason::kNoRoom] == 2);
  }
  SECTION("mixed burst: survivors and named reasons side by side") {
    std::vector<PacketBuf> mixed(3);
    auto good = ipv4_packet("10.0.0.1", "10.0.0.2", 10);
    std::vector<std::uint8_t> s0(200), s1(200);
    std::memcpy(s0.data() + 32, good.data(), good.size());
    std::memcpy(s1.data() + 32, good.data(), good.size());
    mixed[0] = make_buf(s0.data() + 32, static_cast<std::uint32_t>(good.size()), 32, 100);
    mixed[1] = make_buf(s1.data() + 32, static_cast<std::uint32_t>(good.size()), 32, 100);
    REQUIRE(p.a.dev.encrypt_burst(p.now, p.a.peer, std::span(mixed.data(), 2)) == 2);
    mixed[1].data[20] ^= 1;  // corrupt one
    std::vector<std::uint8_t> s2(10, 4);
    mixed[2] = make_buf(s2.data(), 10);
    CHECK(p.b.dev.decrypt_burst(p.now, mixed) == 1);
    CHECK(mixed[0].result == DropReason::kNone);
    CHECK(mixed[1].result == DropReason::kAuthFailed);
    CHECK(mixed[2].result == DropReason::kTruncated);
  }
}

TEST_CASE("transport: forged, replayed, out-of-window and misrouted packets are dropped",
          "[device][drops]") {
  Pair p;
  p.establish();
  auto send_capture = [&](std::vector<std::uint8_t> inner) {
    p.a.dev.send(p.now, inner, p.a.sink);
    return capture_one(p.a.sink);
  };
  auto msg = send_capture(ipv4_packet("10.0.0.1", "10.0.0.2", 50));
  auto copy = msg;
  p.b.dev.receive(p.now, p.a.ep, copy, p.b.sink);
  REQUIRE(p.b.sink.delivered.size() == 1);

  SECTION("replayed datagram") {
    copy = msg;
    p.b.dev.receive(p.now, p.a.ep, copy, p.b.sink);
    CHECK(p.b.dev.counters()[DropReason::kReplayed] == 1);
    CHECK(p.b.sink.delivered.size() == 1);
  }
  SECTION("forged: every single-bit flip in the sealed part fails authentication") {
    for (std::size_t i = 16; i < msg.size(); i += 7) {
      copy = msg;
      copy[i] ^= 0x10;
      p.b.dev.receive(p.now, p.a.ep, copy, p.b.sink);
    }
    CHECK(p.b.dev.counters()[DropReason::kAuthFailed] == (msg.size() - 16 + 6) / 7);
    CHECK(p.b.sink.delivered.size() == 1);
  }
  SECTION("forged counter cannot move the window") {
    copy = msg;
    store_le64(copy.data() + 8, 1'000'000);
    p.b.dev.receive(p.now, p.a.ep, copy, p.b.sink);
    CHECK(p.b.dev.counters()[DropReason::kAuthFailed] == 1);
    auto next = send_capture(ipv4_packet("10.0.0.1", "10.0.0.2", 5));
    p.b.dev.receive(p.now, p.a.ep, next, p.b.sink);
    CHECK(p.b.sink.delivered.size() == 2);
  }
  SECTION("out of window") {
    std::vector<std::vector<std::uint8_t>> msgs;
    for (std::uint64_t i = 0; i < kReplayWindowSize + 2; ++i) {
      msgs.push_back(send_capture(ipv4_packet("10.0.0.1", "10.0.0.2", 1)));
    }
    auto last = msgs.back();
    p.b.dev.receive(p.now, p.a.ep, last, p.b.sink);
    auto old = msgs.front();
    p.b.dev.receive(p.now, p.a.ep, old, p.b.sink);
    CHECK(p.b.dev.counters()[DropReason::kReplayed] == 1);
    auto in_window = msgs[msgs.size() - 100];
    p.b.dev.receive(p.now, p.a.ep, in_window, p.b.sink);
    CHECK(p.b.sink.delivered.size() == 3);
  }
  SECTION("unknown receiver index") {
    copy = msg;
    store_le32(copy.data() + 4, load_le32(copy.data() + 4) ^ 0xffff);
    p.b.dev.receive(p.now, p.a.ep, copy, p.b.sink);
    CHECK(p.b.dev.counters()[DropReason::kUnknownIndex] == 1);
  }
  SECTION("inner source outside the sender's allowed IPs") {
    auto spoof = send_capture(ipv4_packet("10.0.0.99", "10.0.0.2", 50));
    p.b.dev.receive(p.now, p.a.ep, spoof, p.b.sink);
    CHECK(p.b.dev.counters()[DropReason::kInnerSourceNotAllowed] == 1);
    CHECK(p.b.sink.delivered.size() == 1);
  }
  SECTION("authenticated garbage that is not an IP packet") {
    std::vector<std::uint8_t> junk(30, 0x00);  // version nibble 0
    p.a.dev.send_to_peer(p.now, p.a.peer, junk, p.a.sink);
    auto m = capture_one(p.a.sink);
    p.b.dev.receive(p.now, p.a.ep, m, p.b.sink);
    auto bad_len = ipv4_packet("10.0.0.1", "10.0.0.2", 10);
    bad_len[3] = 200;  // IP total length beyond the payload
    p.a.dev.send_to_peer(p.now, p.a.peer, bad_len, p.a.sink);
    m = capture_one(p.a.sink);
    p.b.dev.receive(p.now, p.a.ep, m, p.b.sink);
    CHECK(p.b.dev.counters()[DropReason::kBadInnerPacket] == 2);
  }
  SECTION("no route for the destination") {
    p.a.dev.send(p.now, ipv4_packet("10.0.0.1", "10.9.9.9", 10), p.a.sink);
    CHECK(p.a.dev.counters()[DropReason::kNoRoute] == 1);
    CHECK(p.a.sink.sent.empty());
  }
  SECTION("keypair expired after REJECT_AFTER_TIME") {
    p.advance(kRejectAfterTime);
    copy = send_capture(ipv4_packet("10.0.0.1", "10.0.0.2", 5));
    // The old keypair is refused for sending: the packet is staged (not dropped, not counted
    // as a drop) and a handshake starts.
    CHECK(copy.size() == HandshakeInitiation::kSize);
    CHECK(p.a.dev.counters()[DropReason::kKeypairExpired] == 0);
    copy = msg;
    p.b.dev.receive(p.now, p.a.ep, copy, p.b.sink);
    CHECK(p.b.dev.counters()[DropReason::kKeypairExpired] == 1);
  }
}

TEST_CASE("malformed handshake messages are dropped with their reason", "[device][drops]") {
  Pair p;
  auto recv = [&](std::vector<std::uint8_t> d, Endpoint from) {
    p.b.dev.receive(p.now, from, d, p.b.sink);
  };
  const Endpoint a = p.a.ep;
  recv({}, a);
  recv({1, 0, 0}, a);
  CHECK(p.b.dev.counters()[DropReason::kTruncated] == 2);
  recv({5, 0, 0, 0, 1, 2, 3}, a);
  recv({0, 0, 0, 0}, a);
  CHECK(p.b.dev.counters()[DropReason::kUnknownType] == 2);
  recv({1, 1, 0, 0}, a);
  CHECK(p.b.dev.counters()[DropReason::kReservedNonZero] == 1);

  p.a.dev.initiate_handshake(p.now, p.a.peer, p.a.sink);
  const auto init = capture_one(p.a.sink);
  auto shorter = init;
  shorter.pop_back();
  recv(shorter, a);
  auto longer = init;
  longer.push_back(0);
  recv(longer, a);
  CHECK(p.b.dev.counters()[DropReason::kBadSize] == 2);
  auto bad_mac1 = init;
  bad_mac1[HandshakeInitiation::kMac1Offset] ^= 1;
  recv(bad_mac1, a);
  CHECK(p.b.dev.counters()[DropReason::kBadMac1] == 1);

  // Valid mac1 over a corrupted body: the AEAD must catch it.
  const crypto::Key mac1_key = mac1_key_for(p.b.dev.public_key());
  auto remac = [&](std::vector<std::uint8_t> m, std::size_t off) {
    auto mac = crypto::mac(mac1_key, crypto::Bytes(m.data(), off));
    std::memcpy(m.data() + off, mac.data(), 16);
    return m;
  };
  auto forged = init;
  forged[60] ^= 1;  // inside encrypted_static
  recv(remac(forged, HandshakeInitiation::kMac1Offset), a);
  forged = init;
  forged[100] ^= 1;  // inside encrypted_timestamp
  recv(remac(forged, HandshakeInitiation::kMac1Offset), a);
  CHECK(p.b.dev.counters()[DropReason::kHandshakeDecrypt] == 2);
  forged = init;
  std::memset(forged.data() + 8, 0, 32);  // all-zero ephemeral: low-order point
  recv(remac(forged, HandshakeInitiation::kMac1Offset), a);
  CHECK(p.b.dev.counters()[DropReason::kBadPublicKey] == 1);

  // The genuine one works once; its replay is refused by the TAI64N check.
  recv(init, a);
  CHECK(p.b.dev.counters()[Event::kRxInitiation] == 1);
  auto resp = capture_one(p.b.sink);
  recv(init, a);
  CHECK(p.b.dev.counters()[DropReason::kReplayedTimestamp] == 1);

  // An initiation from a stranger (valid mac1, unknown static key).
  FakeRng rng(99);
  FakeWallClock wall;
  Device stranger(rng, wall);
  REQUIRE(stranger.set_private_key(key_from(42)));
  PeerConfig pc;
  pc.public_key = p.b.dev.public_key();
  pc.endpoint = p.b.ep;
  auto sid = stranger.add_peer(pc).value();
  RecordingSink ss;
  stranger.initiate_handshake(p.now, sid, ss);
  recv(capture_one(ss), a);
  CHECK(p.b.dev.counters()[DropReason::kUnknownPeer] == 1);

  // Responses: to a stranger index, replayed to a completed handshake, corrupted.
  auto resp_copy = resp;
  p.a.dev.receive(p.now, p.b.ep, resp_copy, p.a.sink);
  CHECK(p.a.dev.counters()[Event::kRxResponse] == 1);
  resp_copy = resp;
  p.a.dev.receive(p.now, p.b.ep, resp_copy, p.a.sink);  // index now names a keypair
  CHECK(p.a.dev.counters()[DropReason::kUnexpectedResponse] == 1);
  auto bad_index = resp;
  store_le32(bad_index.data() + 8, 0xdeadbeef);
  const crypto::Key a_mac1 = mac1_key_for(p.a.dev.public_key());
  {
    auto m = crypto::mac(a_mac1, crypto::Bytes(bad_index.data(), HandshakeResponse::kMac1Offset));
    std::memcpy(bad_index.data() + HandshakeResponse::kMac1Offset, m.data(), 16);
  }
  p.a.dev.receive(p.now, p.b.ep, bad_index, p.a.sink);
  CHECK(p.a.dev.counters()[DropReason::kUnknownIndex] == 1);

  // Cookie replies: unknown index, wrong size, forged.
  std::vector<std::uint8_t> cookie(CookieReply::kSize, 0);
  cookie[0] = 3;
  store_le32(cookie.data() + 4, 0x12345678);
  auto c1 = cookie;
  p.a.dev.receive(p.now, p.b.ep, c1, p.a.sink);
  CHECK(p.a.dev.counters()[DropReason::kUnknownIndex] == 2);
  c1 = cookie;
  c1.pop_back();
  p.a.dev.receive(p.now, p.b.ep, c1, p.a.sink);
  CHECK(p.a.dev.counters()[DropReason::kBadSize] == 1);
}

TEST_CASE("cookie mode: a flood switches to cookies and a legitimate peer still completes",
          "[device][cookie]") {
  Pair p(/*b_under_load=*/10);
  // Attacker: replays one genuine-looking initiation (valid mac1) from many source ports.
  FakeRng rng(77);
  FakeWallClock wall;
  Device attacker(rng, wall);
  REQUIRE(attacker.set_private_key(key_from(66)));
  PeerConfig pc;
  pc.public_key = p.b.dev.public_key();
  pc.endpoint = p.b.ep;
  auto aid = attacker.add_peer(pc).value();
  RecordingSink as;
  attacker.initiate_handshake(p.now, aid, as);
  const auto flood = capture_one(as);
  const Endpoint evil{*IpAddress::parse("198.51.100.7"), 0};
  auto flood_b = [&](int n, int port_base) {
    for (int i = 0; i < n; ++i) {
      auto m = flood;
      p.b.dev.receive(p.now, Endpoint{evil.addr, static_cast<std::uint16_t>(port_base + i)}, m,
                      p.b.sink);
    }
    p.b.sink.clear();
  };
  for (std::uint16_t i = 0; i < 200; ++i) {
    auto m = flood;
    Endpoint src = evil;
    src.port = static_cast<std::uint16_t>(1000 + i);
    p.b.dev.receive(p.now + std::chrono::microseconds(i), src, m, p.b.sink);
  }
  CHECK(p.b.dev.under_load(p.now));
  CHECK(p.b.dev.counters()[Event::kUnderLoadEntered] == 1);
  CHECK(p.b.dev.counters()[DropReason::kUnknownPeer] == 10);  // before cookie mode
  CHECK(p.b.dev.counters()[DropReason::kBadMac2] == 190);
  CHECK(p.b.dev.counters()[Event::kTxCookie] == 190);
  p.b.sink.clear();

  // The legitimate initiator gets a cookie reply, stores it, and its retry carries mac2.
  p.advance(1ms);
  p.a.dev.initiate_handshake(p.now, p.a.peer, p.a.sink);
  p.pump();
  CHECK(p.a.dev.counters()[Event::kRxCookie] == 1);
  CHECK_FALSE(p.a.dev.peer_status(p.a.peer).value().has_current_keypair);
  p.advance(kRekeyTimeout + kRekeyTimeoutJitterMax);
  p.a.dev.tick(p.now, p.a.sink);  // retransmit timer: the retry carries mac2
  CHECK(p.a.dev.counters()[Event::kHandshakeRetries] == 1);
  flood_b(50, 3000);  // keep the responder under load
  REQUIRE(p.b.dev.under_load(p.now));
  p.pump();
  CHECK(p.a.dev.peer_status(p.a.peer).value().has_current_keypair);
  CHECK(p.b.dev.peer_status(p.b.peer).value().has_current_keypair);
  CHECK(p.b.dev.counters()[Event::kRxInitiation] == 1);

  SECTION("under load, a valid mac2 from a source above its rate is refused") {
    const std::uint64_t before = p.b.dev.counters()[DropReason::kRateLimited];
    // The attacker obtains a cookie for one source and replays with a valid mac2.
    const Endpoint src{evil.addr, 4444};
    auto m = flood;
    p.b.dev.receive(p.now, src, m, p.b.sink);
    auto reply = capture_one(p.b.sink);
    attacker.receive(p.now, p.b.ep, reply, as);
    REQUIRE(attacker.counters()[Event::kRxCookie] == 1);
    p.advance(kRekeyTimeout);
    attacker.initiate_handshake(p.now, aid, as);
    const auto with_mac2 = capture_one(as);
    flood_b(50, 5000);
    REQUIRE(p.b.dev.under_load(p.now));
    for (int i = 0; i < 20; ++i) {
      auto x = with_mac2;
      p.b.dev.receive(p.now, src, x, p.b.sink);
    }
    CHECK(p.b.dev.counters()[DropReason::kRateLimited] - before >= 14);
  }
}

TEST_CASE("timers: retransmit with jitter, give up after REKEY_ATTEMPT_TIME", "[device][timers]") {
  Pair p;
  p.a.dev.initiate_handshake(p.now, p.a.peer, p.a.sink);
  CHECK(p.a.sink.sent.size() == 1);
  const Nanos deadline = p.a.dev.next_deadline();
  CHECK(deadline >= p.now + kRekeyTimeout);
  CHECK(deadline <= p.now + kRekeyTimeout + kRekeyTimeoutJitterMax);
  p.a.dev.tick(deadline - 1ns, p.a.sink);
  CHECK(p.a.sink.sent.size() == 1);  // not yet
  int sent = 1;
  for (int i = 0; i < 40 && p.a.dev.next_deadline() != Nanos::max(); ++i) {
    p.now = p.a.dev.next_deadline();
    p.a.dev.tick(p.now, p.a.sink);
    if (p.a.dev.counters()[Event::kHandshakeGiveUp] > 0) break;
  }
  for (auto& d : p.a.sink.sent) sent += d.bytes.size() == HandshakeInitiation::kSize ? 1 : 0;
  CHECK(p.a.dev.counters()[Event::kHandshakeRetries] == kMaxHandshakeAttempts);
  CHECK(p.a.dev.counters()[Event::kHandshakeGiveUp] == 1);
  CHECK(p.a.sink.sent.size() == kMaxHandshakeAttempts + 1);
}

TEST_CASE("timers: passive keepalive, rekey after time, new handshake, zeroing",
          "[device][timers]") {
  Pair p;
  p.establish();
  SECTION("receiver of data answers with a keepalive after KEEPALIVE_TIMEOUT") {
    p.a.dev.send(p.now, ipv4_packet("10.0.0.1", "10.0.0.2", 10), p.a.sink);
    p.pump();
    p.b.dev.tick(p.now + kKeepaliveTimeout - 1ms, p.b.sink);
    CHECK(p.b.sink.sent.empty());
    p.b.dev.tick(p.now + kKeepaliveTimeout, p.b.sink);
    REQUIRE(p.b.sink.sent.size() == 1);
    CHECK(p.b.sink.sent[0].bytes.size() == 32);
    CHECK(p.b.dev.counters()[Event::kTxKeepalive] == 1);
  }
  SECTION("sender that hears nothing starts a new handshake after KEEPALIVE+REKEY_TIMEOUT") {
    p.a.dev.send(p.now, ipv4_packet("10.0.0.1", "10.0.0.2", 10), p.a.sink);
    p.a.sink.clear();
    p.a.dev.tick(p.now + kKeepaliveTimeout + kRekeyTimeout - 1ms, p.a.sink);
    CHECK(p.a.sink.sent.empty());
    p.a.dev.tick(p.now + kKeepaliveTimeout + kRekeyTimeout + kRekeyTimeoutJitterMax, p.a.sink);
    REQUIRE(p.a.sink.sent.size() == 1);
    CHECK(p.a.sink.sent[0].bytes.size() == HandshakeInitiation::kSize);
  }
  SECTION("initiator rekeys after REKEY_AFTER_TIME when sending; old keypair kept as previous") {
    p.advance(kRekeyAfterTime);
    p.a.dev.send(p.now, ipv4_packet("10.0.0.1", "10.0.0.2", 10), p.a.sink);
    REQUIRE(p.a.sink.sent.size() == 2);  // data on the old keypair, then an initiation
    CHECK(p.a.sink.sent[1].bytes.size() == HandshakeInitiation::kSize);
    auto old_data = p.a.sink.sent[0].bytes;
    p.pump();
    CHECK(p.a.dev.counters()[Event::kSessionsDerived] == 2);
    // A packet sealed with the previous keypair still decrypts after the rotation.
    p.b.dev.receive(p.now, p.a.ep, old_data, p.b.sink);
    CHECK(p.b.dev.counters()[DropReason::kReplayed] == 1);  // already delivered by the pump
    p.a.dev.send(p.now, ipv4_packet("10.0.0.1", "10.0.0.2", 10), p.a.sink);
    p.pump();
    CHECK(p.b.sink.delivered.size() == 2);
  }
  SECTION("responder does not rekey on time; initiator rekeys on receive near REJECT") {
    p.advance(kRejectAfterTime - kKeepaliveTimeout - kRekeyTimeout);
    p.b.dev.send(p.now, ipv4_packet("10.0.0.2", "10.0.0.1", 10), p.b.sink);
    REQUIRE(p.b.sink.sent.size() == 1);  // just data
    p.pump();
    CHECK(p.a.dev.counters()[Event::kTxInitiation] == 2);
  }
  SECTION("keys are zeroed after 3 * REJECT_AFTER_TIME") {
    p.a.dev.tick(p.now + kZeroKeyMaterialAfter, p.a.sink);
    CHECK(p.a.dev.counters()[Event::kKeysZeroed] == 1);
    CHECK_FALSE(p.a.dev.peer_status(p.a.peer).value().has_current_keypair);
  }
  SECTION("persistent keepalive") {
    REQUIRE(p.a.dev.set_persistent_keepalive(p.a.peer, 5s));
    p.a.dev.send(p.now, ipv4_packet("10.0.0.1", "10.0.0.2", 10), p.a.sink);
    p.pump();
    p.a.dev.tick(p.now + 5s - 1ms, p.a.sink);
    CHECK(p.a.sink.sent.empty());
    p.a.dev.tick(p.now + 5s, p.a.sink);
    REQUIRE_FALSE(p.a.sink.sent.empty());
    CHECK(p.a.sink.sent.back().bytes.size() == 32);
  }
}

TEST_CASE("roaming: the responder follows the initiator's new endpoint", "[device]") {
  Pair p;
  p.establish();
  const Endpoint moved{*IpAddress::parse("203.0.113.9"), 40000};
  p.a.dev.send(p.now, ipv4_packet("10.0.0.1", "10.0.0.2", 10), p.a.sink);
  auto m = capture_one(p.a.sink);
  p.b.dev.receive(p.now, moved, m, p.b.sink);
  CHECK(p.b.dev.peer_status(p.b.peer).value().endpoint == moved);
  p.b.dev.send(p.now, ipv4_packet("10.0.0.2", "10.0.0.1", 10), p.b.sink);
  REQUIRE(p.b.sink.sent.size() == 1);
  CHECK(p.b.sink.sent[0].to == moved);
  // A forged packet from yet another address does not move it.
  auto f = m;
  f[20] ^= 1;
  p.b.dev.receive(p.now, Endpoint{*IpAddress::parse("203.0.113.66"), 1}, f, p.b.sink);
  CHECK(p.b.dev.peer_status(p.b.peer).value().endpoint == moved);
}

TEST_CASE("counters are declared once with names and help text", "[counters]") {
  CHECK(name_of(DropReason::kReplayed) == "replayed");
  CHECK(name_of(Event::kTxCookie) == "tx_cookie");
  for (const auto& info : kDropReasonInfo) {
    CHECK_FALSE(info.name.empty());
    CHECK_FALSE(info.help.empty());
  }
  CHECK(kEventInfo.size() == kEventCount);
}

TEST_CASE("more named drops: forged cookie, initiation flood, unconfigured, staging, endpoint",
          "[device][drops]") {
  Pair p;
  SECTION("cookie reply that does not authenticate") {
    p.a.dev.initiate_handshake(p.now, p.a.peer, p.a.sink);
    const auto init = capture_one(p.a.sink);
    std::vector<std::uint8_t> cookie(CookieReply::kSize, 0x5a);
    store_le32(cookie.data(), kMessageCookieReply);
    store_le32(cookie.data() + 4, load_le32(init.data() + 4));  // names the pending handshake
    p.a.dev.receive(p.now, p.b.ep, cookie, p.a.sink);
    CHECK(p.a.dev.counters()[DropReason::kCookieDecrypt] == 1);
    CHECK(p.a.dev.counters()[Event::kRxCookie] == 0);
  }
  SECTION("initiations from one peer faster than one per 20 ms") {
    p.a.dev.initiate_handshake(p.now, p.a.peer, p.a.sink);
    auto first = capture_one(p.a.sink);
    p.advance(kRekeyTimeout + 1s);  // lets a build a second, newer initiation
    p.a.dev.initiate_handshake(p.now, p.a.peer, p.a.sink);
    auto second = capture_one(p.a.sink);
    p.b.dev.receive(p.now, p.a.ep, first, p.b.sink);
    p.b.dev.receive(p.now + 10ms, p.a.ep, second, p.b.sink);
    CHECK(p.b.dev.counters()[Event::kRxInitiation] == 1);
    CHECK(p.b.dev.counters()[DropReason::kInitiationFlood] == 1);
    auto again = second;  // the same message later is fine (newer timestamp, 20 ms passed)
    p.b.dev.receive(p.now + 30ms, p.a.ep, again, p.b.sink);
    CHECK(p.b.dev.counters()[Event::kRxInitiation] == 2);
  }
  SECTION("handshake to a device without a private key") {
    p.a.dev.initiate_handshake(p.now, p.a.peer, p.a.sink);
    auto init = capture_one(p.a.sink);
    FakeRng rng(5);
    FakeWallClock wall;
    Device bare(rng, wall);
    RecordingSink s;
    bare.receive(p.now, p.a.ep, init, s);
    CHECK(bare.counters()[DropReason::kNotConfigured] == 1);
    CHECK(s.sent.empty());
  }
  SECTION("staged queue is bounded while the handshake is pending") {
    for (std::size_t i = 0; i < kMaxStagedPackets + 3; ++i) {
      p.a.dev.send(p.now, ipv4_packet("10.0.0.1", "10.0.0.2", 10), p.a.sink);
    }
    CHECK(p.a.dev.counters()[DropReason::kStagedOverflow] == 3);
    CHECK(p.a.sink.sent.size() == 1);  // one initiation, not one per packet
    p.pump();                          // handshake completes, the 128 staged packets flow
    CHECK(p.b.sink.delivered.size() == kMaxStagedPackets);
  }
  SECTION("responder without an endpoint cannot send first") {
    p.b.dev.send(p.now, ipv4_packet("10.0.0.2", "10.0.0.1", 10), p.b.sink);
    CHECK(p.b.dev.counters()[DropReason::kNoEndpoint] == 1);
    CHECK(p.b.sink.sent.empty());
  }
}

TEST_CASE("message limits: REKEY_AFTER_MESSAGES and REJECT_AFTER_MESSAGES", "[device][timers]") {
  Pair p;
  p.establish();
  SECTION("any side rekeys after REKEY_AFTER_MESSAGES (here the responder)") {
    REQUIRE(testing::set_send_counter(p.b.dev, p.b.peer, kRekeyAfterMessages));
    p.b.dev.send(p.now, ipv4_packet("10.0.0.2", "10.0.0.1", 10), p.b.sink);
    REQUIRE(p.b.sink.sent.size() == 2);  // the data, then an initiation
    CHECK(load_le64(p.b.sink.sent[0].bytes.data() + 8) == kRekeyAfterMessages);
    CHECK(p.b.sink.sent[1].bytes.size() == HandshakeInitiation::kSize);
  }
  SECTION("no nonce at or beyond REJECT_AFTER_MESSAGES is ever used") {
    p.advance(kRekeyTimeout + 1s);  // past the spacing of initiations
    REQUIRE(testing::set_send_counter(p.a.dev, p.a.peer, kRejectAfterMessages - 1));
    auto first = ipv4_packet("10.0.0.1", "10.0.0.2", 10);
    p.a.dev.send(p.now, first, p.a.sink);
    REQUIRE(p.a.sink.sent.size() == 2);  // the last usable nonce, then a (rekey) initiation
    CHECK(load_le64(p.a.sink.sent[0].bytes.data() + 8) == kRejectAfterMessages - 1);
    CHECK(p.a.sink.sent[1].bytes.size() == HandshakeInitiation::kSize);
    // The receiver refuses counters at the limit even if authentic (window check).
    auto last = p.a.sink.sent[0].bytes;
    p.b.dev.receive(p.now, p.a.ep, last, p.b.sink);
    CHECK(p.b.sink.delivered.size() == 1);
    p.a.sink.sent.erase(p.a.sink.sent.begin());  // keep the initiation for the pump below
    std::vector<std::uint8_t> buf(200);
    PacketBuf pb = make_buf(buf.data() + 16, 20, 16, 100);
    CHECK(p.a.dev.encrypt_burst(p.now, p.a.peer, std::span(&pb, 1)) == 0);
    CHECK(pb.result == DropReason::kCounterExhausted);
    CHECK(p.a.dev.counters()[DropReason::kCounterExhausted] == 1);
    // Once the new session exists, traffic flows again on fresh nonces.
    p.pump();
    p.a.dev.send(p.now, ipv4_packet("10.0.0.1", "10.0.0.2", 10), p.a.sink);
    p.pump();
    CHECK(p.b.sink.delivered.size() == 2);
  }
}
