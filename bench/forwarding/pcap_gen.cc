// SPDX-License-Identifier: Apache-2.0
// cw_pcap_gen: writes the forwarding benchmark's input (bench/run-forwarding.sh): a pcap of
// N 64-byte Ethernet/IPv4/UDP frames (64 bytes as DPDK counts them: pkt_len 64, no FCS) to
// random destinations inside the benchmark's routes (route_set.h, same seed as
// cw_route_loader), addressed to the forwarder's port-0 MAC, TTL 64, valid IPv4 header and
// UDP checksums. net_pcap with infinite_rx=1 replays the file in a loop, copying each frame
// into a fresh mbuf, so every received packet is pristine (TTL 64) no matter how often the
// file wraps.
#include <pcap/pcap.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "causeway/common/ip.h"
#include "route_set.h"

#include "causeway/common/byte_order.h"

namespace {

using causeway::IpAddress;
using causeway::MacAddress;
using causeway::bench::BenchRoute;
using causeway::bench::SplitMix64;

constexpr std::size_t kFrameLen = 64;
constexpr std::size_t kEthLen = 14;
constexpr std::size_t kIpLen = 20;
constexpr std::size_t kUdpLen = 8;
constexpr std::size_t kPayloadLen = kFrameLen - kEthLen - kIpLen - kUdpLen;  // 22
constexpr std::uint8_t kTtl = 64;
constexpr std::uint8_t kIpProtoUdp = 17;

using causeway::store_be16;
using causeway::store_be32;

// RFC 1071 one's-complement sum of big-endian 16-bit words.
std::uint32_t sum16(const std::uint8_t* p, std::size_t n, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < n; i += 2) sum += (std::uint32_t{p[i]} << 8) | p[i + 1];
  if (n & 1) sum += std::uint32_t{p[n - 1]} << 8;
  return sum;
}
std::uint16_t fold(std::uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum);
}

std::array<std::uint8_t, kFrameLen> build_frame(const MacAddress& dst_mac,
                                                const MacAddress& src_mac, std::uint32_t src_ip,
                                                std::uint32_t dst_ip, std::uint16_t src_port,
                                                std::uint16_t dst_port, std::uint16_t ip_id) {
  std::array<std::uint8_t, kFrameLen> f{};
  std::copy(dst_mac.bytes.begin(), dst_mac.bytes.end(), f.begin());
  std::copy(src_mac.bytes.begin(), src_mac.bytes.end(), f.begin() + 6);
  store_be16(&f[12], 0x0800);

  std::uint8_t* ip = &f[kEthLen];
  ip[0] = 0x45;  // version 4, IHL 5
  store_be16(ip + 2, static_cast<std::uint16_t>(kIpLen + kUdpLen + kPayloadLen));
  store_be16(ip + 4, ip_id);
  ip[8] = kTtl;
  ip[9] = kIpProtoUdp;
  store_be32(ip + 12, src_ip);
  store_be32(ip + 16, dst_ip);
  store_be16(ip + 10, fold(sum16(ip, kIpLen)));

  std::uint8_t* udp = ip + kIpLen;
  store_be16(udp, src_port);
  store_be16(udp + 2, dst_port);
  store_be16(udp + 4, static_cast<std::uint16_t>(kUdpLen + kPayloadLen));
  std::uint8_t* payload = udp + kUdpLen;
  for (std::size_t i = 0; i < kPayloadLen; ++i) payload[i] = static_cast<std::uint8_t>(i);
  // RFC 768 checksum over the pseudo-header, header and payload; 0 is sent as 0xffff.
  std::uint32_t pseudo = sum16(ip + 12, 8) + kIpProtoUdp + kUdpLen + kPayloadLen;
  std::uint16_t ck = fold(sum16(udp, kUdpLen + kPayloadLen, pseudo));
  store_be16(udp + 6, ck == 0 ? 0xffff : ck);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"cw_pcap_gen: 64-byte IPv4/UDP frames to random routed destinations (pcap)"};
  std::string out_path;
  std::size_t count = 4096;
  std::size_t routes = 1000000;
  std::uint64_t seed = causeway::bench::kDefaultRouteSeed;
  std::string dst_mac_text, src_mac_text = "02:00:00:00:00:02", src_ip_text = "10.99.0.2";
  app.add_option("-o,--out", out_path, "pcap file to write")->required();
  app.add_option("-n,--count", count, "number of frames")->check(CLI::Range(1, 1 << 22));
  app.add_option("--routes", routes, "size of the route set the destinations come from")
      ->check(CLI::Range(1, 1 << 24));
  app.add_option("--seed", seed, "route set seed (must match cw_route_loader's)");
  app.add_option("--dst-mac", dst_mac_text, "the forwarder's port-0 MAC")->required();
  app.add_option("--src-mac", src_mac_text, "source MAC");
  app.add_option("--src-ip", src_ip_text, "source IPv4 address (on port 0's subnet)");
  CLI11_PARSE(app, argc, argv);

  const auto dst_mac = MacAddress::parse(dst_mac_text);
  const auto src_mac = MacAddress::parse(src_mac_text);
  const auto src_ip = IpAddress::parse(src_ip_text);
  if (!dst_mac || !src_mac || !src_ip || !src_ip->is_v4()) {
    std::fprintf(stderr, "cw_pcap_gen: bad --dst-mac, --src-mac or --src-ip\n");
    return 2;
  }

  const std::vector<BenchRoute> set = causeway::bench::make_bench_routes(routes, seed);
  SplitMix64 rng(seed ^ 0x7061636b657473ull);  // "packets": independent of the route draw

  pcap_t* dead = pcap_open_dead(DLT_EN10MB, 65535);
  if (!dead) {
    std::fprintf(stderr, "cw_pcap_gen: pcap_open_dead failed\n");
    return 1;
  }
  pcap_dumper_t* dumper = pcap_dump_open(dead, out_path.c_str());
  if (!dumper) {
    std::fprintf(stderr, "cw_pcap_gen: %s: %s\n", out_path.c_str(), pcap_geterr(dead));
    pcap_close(dead);
    return 1;
  }
  for (std::size_t i = 0; i < count; ++i) {
    const BenchRoute& r = set[rng.below(set.size())];
    const std::uint32_t host =
        static_cast<std::uint32_t>(rng.next()) & ~causeway::bench::prefix_mask(r.length);
    const auto frame = build_frame(*dst_mac, *src_mac, src_ip->v4_host_order(), r.network | host,
                                   static_cast<std::uint16_t>(1024 + rng.below(60000)),
                                   static_cast<std::uint16_t>(1024 + rng.below(60000)),
                                   static_cast<std::uint16_t>(i));
    pcap_pkthdr h{};
    h.ts.tv_sec = 1;
    h.ts.tv_usec = static_cast<suseconds_t>(i % 1000000);
    h.caplen = h.len = static_cast<bpf_u_int32>(frame.size());
    pcap_dump(reinterpret_cast<u_char*>(dumper), &h, frame.data());
  }
  const bool flushed = pcap_dump_flush(dumper) == 0;
  pcap_dump_close(dumper);
  pcap_close(dead);
  if (!flushed) {
    std::fprintf(stderr, "cw_pcap_gen: %s: write failed\n", out_path.c_str());
    return 1;
  }
  std::printf("pcap: %s frames=%zu bytes_per_frame=%zu routes=%zu seed=%llu\n", out_path.c_str(),
              count, kFrameLen, routes, static_cast<unsigned long long>(seed));
  return 0;
}
