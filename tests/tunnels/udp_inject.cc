// SPDX-License-Identifier: Apache-2.0
// Interop-test helper: takes the first WireGuard datagram of message type TYPE (1-4) from a
// pcap capture (Ethernet + IPv4 + UDP, as tcpdump -w writes on a veth) and sends its UDP
// payload again to IP:PORT, optionally with one byte flipped. Replays and forgeries on the wire.
//
// Usage: tun_udp_inject CAPTURE.pcap DST_IPV4 DST_PORT TYPE [FLIP_OFFSET]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

namespace {
std::uint32_t le32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} | (std::uint32_t{p[1]} << 8) | (std::uint32_t{p[2]} << 16) |
         (std::uint32_t{p[3]} << 24);
}
}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr,
                 "usage: tun_udp_inject CAPTURE.pcap DST_IPV4 DST_PORT TYPE [FLIP_OFFSET]\n");
    return 2;
  }
  const auto type = static_cast<std::uint32_t>(std::strtoul(argv[4], nullptr, 10));
  std::ifstream f(argv[1], std::ios::binary);
  std::vector<std::uint8_t> pcap((std::istreambuf_iterator<char>(f)),
                                 std::istreambuf_iterator<char>());
  if (pcap.size() < 24 || le32(pcap.data()) != 0xa1b2c3d4 || le32(pcap.data() + 20) != 1) {
    std::fprintf(stderr, "udp_inject: not a little-endian Ethernet pcap\n");
    return 1;
  }
  std::size_t off = 24;
  while (off + 16 <= pcap.size()) {
    const std::uint32_t caplen = le32(pcap.data() + off + 8);
    const std::uint8_t* pkt = pcap.data() + off + 16;
    off += 16 + caplen;
    if (off > pcap.size() || caplen < 14 + 20 + 8) continue;
    if (pkt[12] != 0x08 || pkt[13] != 0x00) continue;  // IPv4
    const std::uint8_t* ip = pkt + 14;
    const std::size_t ihl = (ip[0] & 0x0f) * 4u;
    if (ip[9] != 17 || caplen < 14 + ihl + 8) continue;
    const std::uint8_t* udp = ip + ihl;
    const std::size_t udp_len = (std::size_t{udp[4]} << 8) | udp[5];
    if (udp_len < 8 + 4 || 14 + ihl + udp_len > caplen) continue;
    std::vector<std::uint8_t> payload(udp + 8, udp + udp_len);
    if (le32(payload.data()) != type) continue;
    if (argc > 5) {
      const std::size_t flip = std::strtoul(argv[5], nullptr, 10);
      if (flip >= payload.size()) return 1;
      payload[flip] ^= 0x01;
    }
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<std::uint16_t>(std::atoi(argv[3])));
    if (inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1) return 2;
    const int s = socket(AF_INET, SOCK_DGRAM, 0);
    const ssize_t n =
        sendto(s, payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
    close(s);
    if (n != static_cast<ssize_t>(payload.size())) {
      std::perror("udp_inject: sendto");
      return 1;
    }
    std::printf("injected %zu bytes of type %u\n", payload.size(), type);
    return 0;
  }
  std::fprintf(stderr, "udp_inject: no datagram of type %u in capture\n", type);
  return 1;
}
