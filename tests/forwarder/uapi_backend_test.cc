// SPDX-License-Identifier: Apache-2.0
// DeviceBackend: `wg set` requests applied all or nothing to a real tun::Device, `wg show`
// data read back from it, including handshake time and byte counters after real traffic
// between two Devices in memory.
#include "runtime/uapi_backend.h"

#include <catch2/catch.hpp>
#include <cstring>

using namespace causeway;
using namespace causeway::fwd;
using namespace std::chrono_literals;

namespace {

tun::Key32 key(std::uint8_t seed) {
  tun::Key32 k;
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(seed * 29 + i);
  return k;
}
IpPrefix prefix(const char* text) {
  return *IpPrefix::parse(text);
}

struct Sink final : tun::ActionSink {
  std::vector<std::vector<std::uint8_t>> sent;
  void send_datagram(const tun::Endpoint&, std::span<const std::uint8_t> d) override {
    sent.emplace_back(d.begin(), d.end());
  }
  void deliver(tun::PeerId, std::span<const std::uint8_t>) override {}
};

tun::Key32 public_of(std::uint8_t seed) {
  tun::Device d;
  REQUIRE(d.set_private_key(key(seed)));
  return d.public_key();
}

}  // namespace

TEST_CASE("uapi backend: set creates and updates peers; get reads them back", "[uapi]") {
  tun::Device dev;
  REQUIRE(dev.set_private_key(key(1)));
  int changes = 0;
  DeviceBackend backend(dev, 51820, [&changes] { ++changes; });

  uapi::SetRequest r;
  uapi::PeerChange p;
  p.public_key = public_of(2);
  p.preshared_key = key(9);
  p.endpoint = tun::Endpoint{*IpAddress::parse("192.0.2.2"), 51821};
  p.persistent_keepalive = 25s;
  p.add_allowed_ips = {prefix("10.2.0.0/16"), prefix("fd00:2::/64")};
  r.peers.push_back(p);
  r.fwmark = 7;
  REQUIRE(backend.set(r));
  CHECK(changes == 1);

  uapi::DeviceView v = backend.get();
  REQUIRE(v.private_key);
  CHECK(*v.private_key == key(1));
  CHECK(v.listen_port == 51820);
  CHECK(v.fwmark == 7);
  REQUIRE(v.peers.size() == 1);
  CHECK(v.peers[0].public_key == public_of(2));
  CHECK(v.peers[0].preshared_key == key(9));
  REQUIRE(v.peers[0].endpoint);
  CHECK(v.peers[0].endpoint->port == 51821);
  CHECK(v.peers[0].persistent_keepalive == 25s);
  CHECK(v.peers[0].allowed_ips.size() == 2);
  CHECK_FALSE(v.peers[0].last_handshake);

  // replace_allowed_ips, then a removal of one that is not there (a no-op).
  uapi::SetRequest r2;
  uapi::PeerChange p2;
  p2.public_key = public_of(2);
  p2.replace_allowed_ips = true;
  p2.add_allowed_ips = {prefix("10.3.0.0/16")};
  p2.remove_allowed_ips = {prefix("10.99.0.0/16")};
  r2.peers.push_back(p2);
  REQUIRE(backend.set(r2));
  v = backend.get();
  REQUIRE(v.peers.size() == 1);
  CHECK(v.peers[0].allowed_ips == std::vector<IpPrefix>{prefix("10.3.0.0/16")});
  CHECK(dev.route(*IpAddress::parse("10.2.0.1")) == tun::PeerId::invalid());

  // remove=true, and update_only for an absent peer (no-ops as in wg).
  uapi::SetRequest r3;
  uapi::PeerChange rm;
  rm.public_key = public_of(2);
  rm.remove = true;
  uapi::PeerChange upd;
  upd.public_key = public_of(3);
  upd.update_only = true;
  r3.peers = {rm, upd};
  REQUIRE(backend.set(r3));
  CHECK(backend.get().peers.empty());
}

TEST_CASE("uapi backend: a refused request changes nothing", "[uapi]") {
  tun::Device dev;
  REQUIRE(dev.set_private_key(key(1)));
  DeviceBackend backend(dev, 51820);
  uapi::SetRequest seed;
  uapi::PeerChange keep;
  keep.public_key = public_of(2);
  keep.add_allowed_ips = {prefix("10.2.0.0/16")};
  seed.peers.push_back(keep);
  REQUIRE(backend.set(seed));

  SECTION("low-order public key in the last peer") {
    uapi::SetRequest r;
    r.replace_peers = true;
    uapi::PeerChange good;
    good.public_key = public_of(4);
    uapi::PeerChange bad;
    bad.public_key = tun::Key32{};  // the all-zero point has order 1: DH gives zero
    r.peers = {good, bad};
    auto res = backend.set(r);
    REQUIRE_FALSE(res);
    CHECK(res.error().code == EINVAL);
  }
  SECTION("listen port change") {
    uapi::SetRequest r;
    r.listen_port = 51999;
    uapi::PeerChange rm;
    rm.public_key = public_of(2);
    rm.remove = true;
    r.peers = {rm};
    auto res = backend.set(r);
    REQUIRE_FALSE(res);
    CHECK(res.error().code == EOPNOTSUPP);
  }
  SECTION("private key removal") {
    uapi::SetRequest r;
    r.private_key = tun::Key32{};
    r.replace_peers = true;
    auto res = backend.set(r);
    REQUIRE_FALSE(res);
    CHECK(res.error().code == EINVAL);
  }
  uapi::DeviceView v = backend.get();
  REQUIRE(v.peers.size() == 1);
  CHECK(v.peers[0].public_key == public_of(2));
  CHECK(v.peers[0].allowed_ips == std::vector<IpPrefix>{prefix("10.2.0.0/16")});
  CHECK(*v.private_key == key(1));
}

TEST_CASE("uapi backend: handshake time and byte counters are real", "[uapi]") {
  tun::Device a, b;
  REQUIRE(a.set_private_key(key(1)));
  REQUIRE(b.set_private_key(key(2)));
  DeviceBackend backend(a, 51820);
  uapi::SetRequest r;
  uapi::PeerChange p;
  p.public_key = b.public_key();
  p.endpoint = tun::Endpoint{*IpAddress::parse("192.0.2.2"), 51821};
  p.add_allowed_ips = {prefix("10.2.0.0/16")};
  r.peers.push_back(p);
  REQUIRE(backend.set(r));
  tun::PeerConfig pb;
  pb.public_key = a.public_key();
  pb.allowed_ips = {prefix("10.1.0.0/16")};
  REQUIRE(b.add_peer(pb));

  const tun::Nanos now = 1000s;
  const tun::Endpoint ea{*IpAddress::parse("192.0.2.1"), 51820};
  Sink sa, sb;
  std::vector<std::uint8_t> inner(60, 0);
  inner[0] = 0x45;
  inner[3] = 60;
  const std::uint8_t src[4] = {10, 1, 0, 1}, dst[4] = {10, 2, 0, 2};
  std::memcpy(&inner[12], src, 4);
  std::memcpy(&inner[16], dst, 4);
  a.send(now, inner, sa);  // staged; initiation sent
  REQUIRE(sa.sent.size() == 1);
  b.receive(now, ea, sa.sent[0], sb);
  REQUIRE(sb.sent.size() == 1);
  sa.sent.clear();
  a.receive(now, tun::Endpoint{*IpAddress::parse("192.0.2.2"), 51821}, sb.sent[0], sa);
  REQUIRE(sa.sent.size() == 1);  // the staged packet on the new session

  uapi::DeviceView v = backend.get();
  REQUIRE(v.peers.size() == 1);
  CHECK(v.peers[0].last_handshake.has_value());
  CHECK(v.peers[0].tx_bytes == sa.sent[0].size());
  CHECK(v.peers[0].rx_bytes == 0);
}
