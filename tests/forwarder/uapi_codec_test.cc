// SPDX-License-Identifier: Apache-2.0
// UAPI codec: golden request and reply texts (as `wg` and wireguard-go write them), every error
// path with its errno, framing across arbitrary chunking, and randomised inputs.
#include <catch2/catch.hpp>

#include <cerrno>
#include <random>
#include <string>

#include "uapi/codec.h"

using namespace causeway;
using namespace causeway::fwd::uapi;
using namespace std::chrono_literals;

namespace {

Key32 key(std::uint8_t seed) {
  Key32 k{};
  for (std::size_t i = 0; i < k.size(); ++i) k[i] = static_cast<std::uint8_t>(seed + i);
  return k;
}
IpPrefix prefix(const char* text) {
  auto p = IpPrefix::parse(text);
  REQUIRE(p);
  return *p;
}
Endpoint endpoint(const char* addr, std::uint16_t port) {
  auto a = IpAddress::parse(addr);
  REQUIRE(a);
  return Endpoint{*a, port};
}

const std::string kHex01 = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20";
const std::string kHexA0 = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf";
const std::string kHex40 = "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f";

// The error code of parsing `set=1\n<lines>\n`.
int set_errno(const std::string& lines) {
  auto r = parse_request("set=1\n" + lines + "\n\n");
  return r ? 0 : r.error().code;
}

}  // namespace

TEST_CASE("keys are 64 hex digits, either case in, lowercase out", "[uapi][codec]") {
  REQUIRE(key_to_hex(key(1)) == kHex01);
  REQUIRE(parse_key_hex(kHex01) == key(1));
  std::string upper = kHexA0;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  REQUIRE(parse_key_hex(upper) == key(0xa0));
  REQUIRE_FALSE(parse_key_hex(kHex01.substr(1)));
  REQUIRE_FALSE(parse_key_hex(kHex01 + "0"));
  REQUIRE_FALSE(parse_key_hex("g" + kHex01.substr(1)));
  REQUIRE_FALSE(parse_key_hex(""));
}

TEST_CASE("endpoints: a.b.c.d:port and [v6]:port only", "[uapi][codec]") {
  REQUIRE(parse_endpoint("192.0.2.1:51820") == endpoint("192.0.2.1", 51820));
  REQUIRE(parse_endpoint("[2001:db8::1]:443") == endpoint("2001:db8::1", 443));
  REQUIRE(parse_endpoint("[::ffff:192.0.2.1]:1") == endpoint("::ffff:192.0.2.1", 1));
  REQUIRE(endpoint_to_string(endpoint("2001:db8::1", 443)) == "[2001:db8::1]:443");
  REQUIRE(endpoint_to_string(endpoint("192.0.2.1", 7)) == "192.0.2.1:7");
  for (const char* bad :
       {"192.0.2.1", "192.0.2.1:", "192.0.2.1:65536", "192.0.2.1:-1", "192.0.2.1:+5",
        "192.0.2.1: 5", "2001:db8::1:443", "[2001:db8::1]", "[2001:db8::1]443", "[2001:db8::1:443",
        "[192.0.2.1]:5", "[fe80::1%eth0]:5", "example.com:53", ":53", "", "[]:1", "192.0.2.256:1",
        "01.2.3.4:1"}) {
    INFO(bad);
    REQUIRE_FALSE(parse_endpoint(bad));
  }
}

TEST_CASE("golden get reply in wireguard-go's order", "[uapi][codec]") {
  DeviceView v;
  v.private_key = key(1);
  v.listen_port = 51820;
  v.fwmark = 0x10;
  PeerView a;
  a.public_key = key(0xa0);
  a.preshared_key = key(0x40);
  a.endpoint = endpoint("192.0.2.1", 51821);
  a.allowed_ips = {prefix("10.0.0.0/24"), prefix("fd00::/64")};
  a.persistent_keepalive = 25s;
  a.last_handshake = std::chrono::system_clock::time_point(1700000000s + 123456789ns);
  a.rx_bytes = 1000;
  a.tx_bytes = 2000;
  PeerView b;
  b.public_key = key(0x40);
  b.endpoint = endpoint("2001:db8::2", 4500);
  v.peers = {a, b};
  const std::string golden = "private_key=" + kHex01 +
                             "\n"
                             "listen_port=51820\n"
                             "fwmark=16\n"
                             "public_key=" +
                             kHexA0 +
                             "\n"
                             "preshared_key=" +
                             kHex40 +
                             "\n"
                             "protocol_version=1\n"
                             "endpoint=192.0.2.1:51821\n"
                             "last_handshake_time_sec=1700000000\n"
                             "last_handshake_time_nsec=123456789\n"
                             "tx_bytes=2000\n"
                             "rx_bytes=1000\n"
                             "persistent_keepalive_interval=25\n"
                             "allowed_ip=10.0.0.0/24\n"
                             "allowed_ip=fd00::/64\n"
                             "public_key=" +
                             kHex40 +
                             "\n"
                             "preshared_key=" +
                             std::string(64, '0') +
                             "\n"
                             "protocol_version=1\n"
                             "endpoint=[2001:db8::2]:4500\n"
                             "last_handshake_time_sec=0\n"
                             "last_handshake_time_nsec=0\n"
                             "tx_bytes=0\n"
                             "rx_bytes=0\n"
                             "persistent_keepalive_interval=0\n"
                             "errno=0\n"
                             "\n";
  REQUIRE(format_get_reply(v) == golden);
}

TEST_CASE("an unconfigured device replies errno=0 only", "[uapi][codec]") {
  REQUIRE(format_get_reply(DeviceView{}) == "errno=0\n\n");
  REQUIRE(format_errno_reply(EINVAL) == "errno=-22\n\n");
  REQUIRE(format_errno_reply(-EADDRINUSE) == "errno=-98\n\n");
  REQUIRE(format_errno_reply(0) == "errno=0\n\n");
  REQUIRE(format_get_error_reply(EIO) == "errno=5\n\n");
  REQUIRE(format_get_error_reply(-ENOMEM) == "errno=12\n\n");
}

TEST_CASE("golden set request as `wg set` writes it", "[uapi][codec]") {
  // wg set wg0 private-key K listen-port 51820 fwmark 7 peer P preshared-key S
  //   endpoint [2001:db8::1]:51820 persistent-keepalive 25 allowed-ips 10.0.0.0/24,fd00::/64
  const std::string text = "set=1\nprivate_key=" + kHex01 +
                           "\nlisten_port=51820\nfwmark=7\n"
                           "public_key=" +
                           kHexA0 + "\npreshared_key=" + kHex40 +
                           "\nendpoint=[2001:db8::1]:51820\n"
                           "persistent_keepalive_interval=25\nreplace_allowed_ips=true\n"
                           "allowed_ip=10.0.0.0/24\nallowed_ip=fd00::/64\n\n";
  auto r = parse_request(text);
  REQUIRE(r);
  REQUIRE(r.value().op == Operation::kSet);
  const SetRequest& s = r.value().set;
  REQUIRE(s.private_key == key(1));
  REQUIRE(s.listen_port == 51820);
  REQUIRE(s.fwmark == 7u);
  REQUIRE_FALSE(s.replace_peers);
  REQUIRE(s.peers.size() == 1);
  const PeerChange& p = s.peers[0];
  REQUIRE(p.public_key == key(0xa0));
  REQUIRE(p.preshared_key == key(0x40));
  REQUIRE(p.endpoint == endpoint("2001:db8::1", 51820));
  REQUIRE(p.persistent_keepalive == 25s);
  REQUIRE(p.replace_allowed_ips);
  REQUIRE(p.add_allowed_ips == std::vector{prefix("10.0.0.0/24"), prefix("fd00::/64")});
  REQUIRE(p.remove_allowed_ips.empty());
  REQUIRE_FALSE(p.remove);
  REQUIRE_FALSE(p.update_only);
  // And back: our client text parses to the same request.
  auto again = parse_request(format_set_request(s));
  REQUIRE(again);
  REQUIRE(format_set_request(again.value().set) == format_set_request(s));
}

TEST_CASE("get=1 and the smallest set", "[uapi][codec]") {
  auto g = parse_request("get=1\n\n");
  REQUIRE(g);
  REQUIRE(g.value().op == Operation::kGet);
  auto s = parse_request("set=1\n\n");
  REQUIRE(s);
  REQUIRE(s.value().op == Operation::kSet);
  REQUIRE(s.value().set.peers.empty());
  REQUIRE_FALSE(s.value().set.private_key);
}

TEST_CASE("peer blocks: remove, update_only, replace_peers, several peers", "[uapi][codec]") {
  auto r = parse_request("set=1\nreplace_peers=true\npublic_key=" + kHexA0 +
                         "\nremove=true\npublic_key=" + kHex40 +
                         "\nupdate_only=true\nprotocol_version=1\npersistent_keepalive_interval="
                         "0\npublic_key=" +
                         kHexA0 + "\n\n");
  REQUIRE(r);
  const auto& s = r.value().set;
  REQUIRE(s.replace_peers);
  REQUIRE(s.peers.size() == 3);
  REQUIRE(s.peers[0].remove);
  REQUIRE(s.peers[1].update_only);
  REQUIRE(s.peers[1].persistent_keepalive == 0s);
  REQUIRE(s.peers[2].public_key == key(0xa0));
  REQUIRE_FALSE(s.peers[2].remove);
}

TEST_CASE("allowed_ip lines: removal, masking, last line wins, replace drops earlier lines",
          "[uapi][codec]") {
  auto r = parse_request("set=1\npublic_key=" + kHexA0 +
                         "\nallowed_ip=10.1.2.3/8\n"    // host bits cleared -> 10.0.0.0/8
                         "allowed_ip=-192.0.2.0/24\n"   // removal
                         "allowed_ip=172.16.0.0/12\n"   // added, then removed below
                         "allowed_ip=-172.16.0.0/12\n"  //
                         "allowed_ip=-fd00::/64\n"      // removed, then added below
                         "allowed_ip=fd00::/64\n"       //
                         "allowed_ip=10.0.0.0/8\n"      // duplicate of the first
                         "\n");
  REQUIRE(r);
  const auto& p = r.value().set.peers.at(0);
  REQUIRE(p.add_allowed_ips == std::vector{prefix("fd00::/64"), prefix("10.0.0.0/8")});
  REQUIRE(p.remove_allowed_ips == std::vector{prefix("192.0.2.0/24"), prefix("172.16.0.0/12")});
  REQUIRE_FALSE(p.replace_allowed_ips);

  auto replaced = parse_request("set=1\npublic_key=" + kHexA0 +
                                "\nallowed_ip=10.0.0.0/8\nallowed_ip=-10.9.0.0/16\n"
                                "replace_allowed_ips=true\nallowed_ip=192.0.2.0/24\n\n");
  REQUIRE(replaced);
  const auto& q = replaced.value().set.peers.at(0);
  REQUIRE(q.replace_allowed_ips);
  REQUIRE(q.add_allowed_ips == std::vector{prefix("192.0.2.0/24")});
  REQUIRE(q.remove_allowed_ips.empty());
}

TEST_CASE("every malformed set line is refused with wireguard-go's errno", "[uapi][codec]") {
  const std::string pk = "public_key=" + kHexA0 + "\n";
  struct Case {
    std::string lines;
    int code;
  };
  const std::vector<Case> cases = {
      {"no_equals_sign", EPROTO},
      {pk + "endpoint", EPROTO},
      {"=1", EINVAL},
      {"bogus=1", EINVAL},
      {"get=1", EINVAL},
      {"private_key=" + kHex01.substr(2), EINVAL},
      {"private_key=" + kHex01 + "00", EINVAL},
      {"private_key=" + kHex01.substr(1) + "x", EINVAL},
      {"private_key=", EINVAL},
      {"listen_port=65536", EINVAL},
      {"listen_port=-1", EINVAL},
      {"listen_port=", EINVAL},
      {"listen_port= 1", EINVAL},
      {"listen_port=+1", EINVAL},
      {"listen_port=0x10", EINVAL},
      {"listen_port=99999999999999999999999", EINVAL},
      {"fwmark=4294967296", EINVAL},
      {"fwmark=1.5", EINVAL},
      {"replace_peers=false", EINVAL},
      {"replace_peers=", EINVAL},
      {"public_key=" + kHexA0.substr(1), EINVAL},
      {"public_key=", EINVAL},
      {pk + "listen_port=1", EINVAL},  // device key after the first peer
      {pk + "private_key=" + kHex01, EINVAL},
      {pk + "replace_peers=true", EINVAL},
      {pk + "bogus=1", EINVAL},
      {pk + "update_only=false", EINVAL},
      {pk + "remove=1", EINVAL},
      {pk + "replace_allowed_ips=yes", EINVAL},
      {pk + "preshared_key=" + kHex40.substr(2), EINVAL},
      {pk + "endpoint=example.com:51820", EINVAL},
      {pk + "endpoint=2001:db8::1:51820", EINVAL},
      {pk + "endpoint=192.0.2.1:70000", EINVAL},
      {pk + "persistent_keepalive_interval=65536", EINVAL},
      {pk + "persistent_keepalive_interval=-5", EINVAL},
      {pk + "allowed_ip=10.0.0.1", EINVAL},
      {pk + "allowed_ip=10.0.0.0/33", EINVAL},
      {pk + "allowed_ip=fd00::/129", EINVAL},
      {pk + "allowed_ip=10.0.0.0/", EINVAL},
      {pk + "allowed_ip=10.0.0.0/08", EINVAL},
      {pk + "allowed_ip=10.0.0.0/+8", EINVAL},
      {pk + "allowed_ip=/8", EINVAL},
      {pk + "allowed_ip=-", EINVAL},
      {pk + "allowed_ip=--10.0.0.0/8", EINVAL},
      {pk + "allowed_ip=", EINVAL},
      {pk + "allowed_ip=10.0.0.0/8 ", EINVAL},
      {pk + "protocol_version=2", EINVAL},
      {pk + "protocol_version=", EINVAL},
      {pk + std::string("remove=true\0", 12), EINVAL},
      {pk + "remove=true\r", EINVAL},
      {pk + "last_handshake_time_sec=1", EINVAL},  // a reply key, not a set key
  };
  for (const auto& c : cases) {
    INFO(c.lines);
    REQUIRE(set_errno(c.lines) == c.code);
  }
  // One bad line anywhere refuses the whole request: nothing of it reaches the backend.
  REQUIRE(set_errno("listen_port=1\n" + pk + "allowed_ip=10.0.0.0/8\nbogus=2") == EINVAL);
}

TEST_CASE("error messages hide keys", "[uapi][codec]") {
  auto r = parse_request("set=1\nprivate_key=" + kHex01.substr(1) + "\n\n");
  REQUIRE_FALSE(r);
  REQUIRE(r.error().message.find(kHex01.substr(1)) == std::string::npos);
  REQUIRE(r.error().message.find("private_key") != std::string::npos);
}

TEST_CASE("framing: operations, limits and where a request ends", "[uapi][codec]") {
  using Status = RequestFramer::Frame::Status;
  auto frame = [](std::string_view bytes, Limits limits = {}) {
    RequestFramer f(limits);
    return f.scan(bytes);
  };
  REQUIRE(frame("get=1\n\n").status == Status::kComplete);
  REQUIRE(frame("get=1\n\n").length == 7);
  REQUIRE(frame("get=1\n").status == Status::kNeedMore);
  REQUIRE(frame("set=1\nlisten_port=1\n").status == Status::kNeedMore);
  REQUIRE(frame("set=1\nlisten_port=1\n\nget=1\n\n").length == 21);
  REQUIRE(frame("").status == Status::kNeedMore);

  auto op = frame("put=1\n");
  REQUIRE(op.status == Status::kError);
  REQUIRE(op.error.code == EPROTO);
  REQUIRE(frame("\n").error.code == EPROTO);
  REQUIRE(frame("get=2\n\n").error.code == EPROTO);
  REQUIRE(frame("set=1 \n\n").error.code == EPROTO);
  REQUIRE(frame("get=1\nx").error.code == EINVAL);  // as wireguard-go: junk after get=1
  REQUIRE(frame("get=1\nlisten_port=1\n\n").error.code == EINVAL);

  Limits small{.max_request_bytes = 64, .max_line_bytes = 16};
  REQUIRE(frame("set=1\n" + std::string(16, 'a') + "\n\n", small).status == Status::kComplete);
  REQUIRE(frame("set=1\n" + std::string(17, 'a'), small).error.code == EMSGSIZE);
  std::string many = "set=1\n";
  while (many.size() < 64) many += "a=1\n";
  REQUIRE(frame(many, small).error.code == EMSGSIZE);
  REQUIRE(frame(std::string(64, 'x'), small).error.code == EMSGSIZE);
  // parse_request applies the same limits.
  REQUIRE(parse_request(many + "\n", small).error().code == EMSGSIZE);
  REQUIRE(parse_request("set=1\nlisten_port=1\n").error().code == EPROTO);  // no end
  REQUIRE(parse_request("get=1\n\nget=1\n\n").error().code == EPROTO);      // two requests
}

TEST_CASE("framing does not depend on how the bytes are chunked", "[uapi][codec]") {
  using Status = RequestFramer::Frame::Status;
  const std::string stream =
      "set=1\nlisten_port=1\npublic_key=" + kHexA0 + "\nallowed_ip=10.0.0.0/8\n\nget=1\n\n";
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    RequestFramer f;
    std::string buffered;
    std::size_t pos = 0;
    std::vector<std::size_t> lengths;
    while (pos < stream.size()) {
      std::size_t n = 1 + rng() % 9;
      buffered += stream.substr(pos, n);
      pos += n;
      for (;;) {
        auto fr = f.scan(buffered);
        REQUIRE(fr.status != Status::kError);
        if (fr.status == Status::kNeedMore) break;
        lengths.push_back(fr.length);
        buffered.erase(0, fr.length);
        f.reset();
      }
    }
    REQUIRE(lengths == std::vector<std::size_t>{stream.size() - 7, 7});
  }
}

TEST_CASE("randomised requests: no crash, parse(format(parse(x))) == parse(x)", "[uapi][codec]") {
  // Mutations of a valid request (byte flips, deletions, duplications of lines) and random
  // byte strings. Whatever parses must survive a round trip through format_set_request.
  const std::string seed = "set=1\nprivate_key=" + kHex01 +
                           "\nlisten_port=51820\nreplace_peers=true\npublic_key=" + kHexA0 +
                           "\npreshared_key=" + kHex40 +
                           "\nendpoint=[2001:db8::1]:51820\npersistent_keepalive_interval=25\n"
                           "replace_allowed_ips=true\nallowed_ip=10.0.0.0/24\nallowed_ip=-fd00::/"
                           "64\npublic_key=" +
                           kHex40 + "\nremove=true\n\n";
  std::mt19937 rng(12345);
  const std::string alphabet = "=\n-/:[]0123456789abcdefx._";
  int parsed = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string text = seed;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      std::size_t at = rng() % text.size();
      switch (rng() % 4) {
        case 0:
          text[at] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          text.erase(at, 1 + rng() % 8);
          break;
        case 2:
          text.insert(at, 1, alphabet[rng() % alphabet.size()]);
          break;
        default: {
          auto start = text.rfind('\n', at);
          auto end = text.find('\n', at);
          if (start != std::string::npos && end != std::string::npos) {
            text.insert(end + 1, text.substr(start + 1, end - start));
          }
        }
      }
    }
    if (i % 5 == 0) {  // pure noise
      text.resize(rng() % 64);
      for (char& c : text) c = static_cast<char>(rng());
    }
    auto r = parse_request(text);
    if (!r) {
      REQUIRE((r.error().code == EINVAL || r.error().code == EPROTO));
      continue;
    }
    ++parsed;
    if (r.value().op != Operation::kSet) continue;
    auto text2 = format_set_request(r.value().set);
    auto r2 = parse_request(text2);
    REQUIRE(r2);
    REQUIRE(format_set_request(r2.value().set) == text2);
  }
  REQUIRE(parsed > 100);  // the mutations do reach the parser's success path
}
