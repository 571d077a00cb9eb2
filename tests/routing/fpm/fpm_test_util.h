// SPDX-License-Identifier: Apache-2.0
// Helpers of the FPM tests: recorded fixtures, a sink that keeps every batch, a text form of
// routes for exact comparisons, and a builder of netlink messages and FPM frames.
#pragma once

#include <linux/netlink.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "causeway/rt/fpm.h"
#include "fpm/core.h"

namespace causeway::rt::fpm::test {

#ifdef CAUSEWAY_FPM_FIXTURE_DIR
inline std::vector<std::uint8_t> load_fixture(const std::string& name) {
  std::string path = std::string(CAUSEWAY_FPM_FIXTURE_DIR) + "/" + name + ".bin";
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("missing fixture " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}
#endif

// "t254 198.51.100.0/24 unicast p196 m20 [10.0.1.2@3 10.0.2.2@5]"; "@3" is a connected hop,
// "*2" a weight other than 1.
inline std::string describe(const Route& r) {
  std::string s = "t" + std::to_string(r.key.table) + " " + r.key.prefix.str() + " " +
                  std::string(to_string(r.type)) + " p" + std::to_string(r.protocol) + " m" +
                  std::to_string(r.metric);
  if (r.type != RouteType::kUnicast) return s;
  s += " [";
  for (std::size_t i = 0; i < r.next_hops.size(); ++i) {
    const NextHop& h = r.next_hops[i];
    if (i) s += ' ';
    if (h.gateway) s += h.gateway->str();
    s += "@" + std::to_string(h.ifindex);
    if (h.weight != 1) s += "*" + std::to_string(h.weight);
  }
  return s + "]";
}

inline std::vector<std::string> describe(const std::map<RouteKey, Route>& table) {
  std::vector<std::string> out;
  for (const auto& [key, route] : table) out.push_back(describe(route));
  return out;
}

// Keeps every batch as text ("add t254 ...") and mirrors the table it is told about, so
// tests can check that the sink's view equals the core's.
class RecordingSink final : public RouteSink {
 public:
  void apply(std::span<const RouteChange> changes) override {
    std::vector<std::string> batch;
    for (const auto& c : changes) {
      batch.push_back(std::string(to_string(c.kind)) + " " + describe(c.route));
      if (c.kind == ChangeKind::kDelete) {
        if (table.erase(c.route.key) != 1) ++inconsistent;
      } else {
        bool had = table.count(c.route.key) != 0;
        if (had != (c.kind == ChangeKind::kReplace)) ++inconsistent;
        table[c.route.key] = c.route;
      }
    }
    batches.push_back(std::move(batch));
  }
  std::vector<std::vector<std::string>> batches;
  std::map<RouteKey, Route> table;
  int inconsistent = 0;  // add of a present key, replace/delete of an absent one
};

// Builds rtnetlink messages (host byte order, 4-byte aligned) and FPM frames around them.
class NlBuilder {
 public:
  std::size_t begin(std::uint16_t type, std::uint16_t flags = NLM_F_REQUEST | NLM_F_CREATE) {
    std::size_t off = msg_.size();
    nlmsghdr h{};
    h.nlmsg_type = type;
    h.nlmsg_flags = flags;
    put(&h, sizeof h);
    open_.push_back(off);
    return off;
  }
  void rtmsg_(std::uint8_t family, std::uint8_t dst_len, std::uint8_t type = RTN_UNICAST,
              std::uint8_t table = RT_TABLE_MAIN, std::uint8_t protocol = 196) {
    rtmsg r{};
    r.rtm_family = family;
    r.rtm_dst_len = dst_len;
    r.rtm_table = table;
    r.rtm_protocol = protocol;
    r.rtm_scope = RT_SCOPE_UNIVERSE;
    r.rtm_type = type;
    put(&r, sizeof r);
  }
  void nhmsg_(std::uint8_t family) {
    nhmsg n{};
    n.nh_family = family;
    n.nh_protocol = 11;
    put(&n, sizeof n);
  }
  void attr(std::uint16_t type, const void* data, std::size_t len) {
    nlattr a{static_cast<std::uint16_t>(NLA_HDRLEN + len), type};
    put(&a, sizeof a);
    put(data, len);
    pad();
  }
  void u32(std::uint16_t type, std::uint32_t v) { attr(type, &v, 4); }
  void addr(std::uint16_t type, const char* text) {
    auto a = IpAddress::parse(text).value();
    attr(type, a.bytes.data(), a.size());
  }
  std::size_t begin_nest(std::uint16_t type) {
    std::size_t off = msg_.size();
    nlattr a{0, type};
    put(&a, sizeof a);
    return off;
  }
  void end_nest(std::size_t off) { set16(off, static_cast<std::uint16_t>(msg_.size() - off)); }
  // struct rtnexthop + RTA_GATEWAY inside RTA_MULTIPATH; hops = weight - 1 on the wire.
  void rtnh(const char* gw, int ifindex, std::uint8_t hops = 0) {
    std::size_t off = msg_.size();
    rtnexthop r{};
    r.rtnh_hops = hops;
    r.rtnh_ifindex = ifindex;
    put(&r, sizeof r);
    addr(RTA_GATEWAY, gw);
    set16(off, static_cast<std::uint16_t>(msg_.size() - off));
  }
  void end() {
    std::size_t off = open_.back();
    open_.pop_back();
    std::uint32_t len = static_cast<std::uint32_t>(msg_.size() - off);
    std::memcpy(msg_.data() + off, &len, 4);
  }
  void raw(std::initializer_list<std::uint8_t> bytes) { msg_.insert(msg_.end(), bytes); }
  std::vector<std::uint8_t>& bytes() { return msg_; }
  // The messages built so far in one FPM frame; clears the builder.
  std::vector<std::uint8_t> frame() {
    // (Sized up front: GCC 12 warns falsely on inserting into a 4-byte vector.)
    std::vector<std::uint8_t> f(4 + msg_.size());
    f[0] = 1;
    f[1] = 1;
    if (!msg_.empty()) std::memcpy(f.data() + 4, msg_.data(), msg_.size());
    f[2] = static_cast<std::uint8_t>(f.size() >> 8);
    f[3] = static_cast<std::uint8_t>(f.size());
    msg_.clear();
    return f;
  }

 private:
  void put(const void* p, std::size_t n) {
    auto b = static_cast<const std::uint8_t*>(p);
    msg_.insert(msg_.end(), b, b + n);
  }
  void pad() { msg_.resize((msg_.size() + 3) & ~std::size_t{3}); }
  void set16(std::size_t off, std::uint16_t v) { std::memcpy(msg_.data() + off, &v, 2); }
  std::vector<std::uint8_t> msg_;
  std::vector<std::size_t> open_;
};

// A frame with one IPv4 unicast route through `gw`@ifindex (RTA_GATEWAY + RTA_OIF).
inline std::vector<std::uint8_t> v4_route_frame(const char* dst, std::uint8_t len, const char* gw,
                                                std::uint32_t ifindex) {
  NlBuilder b;
  b.begin(RTM_NEWROUTE);
  b.rtmsg_(AF_INET, len);
  b.addr(RTA_DST, dst);
  b.u32(RTA_PRIORITY, 20);
  b.addr(RTA_GATEWAY, gw);
  b.u32(RTA_OIF, ifindex);
  b.end();
  return b.frame();
}

}  // namespace causeway::rt::fpm::test
