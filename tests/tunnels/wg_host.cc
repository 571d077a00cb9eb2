// SPDX-License-Identifier: Apache-2.0
// Test host for the interop test: drives the sans-I/O WireGuard core over a real UDP socket and
// a TUN device, in one thread with poll(). This is the I/O the core leaves to its host:
//   TUN read  -> Device::send()     -> ActionSink::send_datagram -> sendto()
//   UDP read  -> Device::receive()  -> ActionSink::deliver      -> TUN write
//   poll timeout = Device::next_deadline() -> Device::tick()
// Counters are written to --stats FILE (name value lines) whenever they change, so the test
// script can poll for states (handshake done, drops counted).
//
// Usage: tun_wg_host --ifname NAME --listen-port P --private-key B64 --peer B64
//                    [--endpoint IP:PORT] --allowed-ip PREFIX... --stats FILE
//                    [--under-load-threshold N]   (handshakes/s before cookie mode; 0 = always)
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "causeway/tun/device.h"

using namespace causeway;
using namespace causeway::tun;

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

std::optional<Key32> base64_key(const std::string& s) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  if (s.size() != 44 || s[43] != '=') return std::nullopt;
  std::vector<std::uint8_t> out;
  std::uint32_t acc = 0;
  int bits = 0;
  for (std::size_t i = 0; i < 43; ++i) {
    const int v = val(s[i]);
    if (v < 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<std::uint8_t>(acc >> bits));
    }
  }
  if (out.size() != 32) return std::nullopt;
  Key32 k;
  std::memcpy(k.data(), out.data(), 32);
  return k;
}

Nanos mono_now() {
  return std::chrono::duration_cast<Nanos>(std::chrono::steady_clock::now().time_since_epoch());
}

class Host final : public ActionSink {
 public:
  int udp = -1;
  int tun = -1;
  std::uint64_t tx_errors = 0;

  void send_datagram(const Endpoint& to, std::span<const std::uint8_t> d) override {
    if (!to.addr.is_v4()) return;
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(to.port);
    std::memcpy(&sa.sin_addr, to.addr.bytes.data(), 4);
    if (sendto(udp, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) < 0) {
      ++tx_errors;
    }
  }
  void deliver(PeerId, std::span<const std::uint8_t> p) override {
    if (write(tun, p.data(), p.size()) < 0) ++tx_errors;
  }
};

int open_tun(const std::string& name) {
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return -1;
  ifreq ifr{};
  ifr.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name.c_str());
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::string stats_text(const Device& dev, PeerId peer, const Host& host) {
  std::string s;
  const Counters& c = dev.counters();
  for (std::size_t i = 0; i < kDropReasonCount; ++i) {
    s += "drop_" + std::string(kDropReasonInfo[i].name) + " " + std::to_string(c.drops[i]) + "\n";
  }
  for (std::size_t i = 0; i < kEventCount; ++i) {
    s += std::string(kEventInfo[i].name) + " " + std::to_string(c.events[i]) + "\n";
  }
  auto st = dev.peer_status(peer);
  if (st) {
    s += "peer_has_keypair " + std::to_string(st.value().has_current_keypair ? 1 : 0) + "\n";
    s += "peer_rx_bytes " + std::to_string(st.value().rx_bytes) + "\n";
    s += "peer_tx_bytes " + std::to_string(st.value().tx_bytes) + "\n";
    if (st.value().endpoint) {
      s += "peer_endpoint " + st.value().endpoint->addr.str() + ":" +
           std::to_string(st.value().endpoint->port) + "\n";
    }
  }
  s += "host_tx_errors " + std::to_string(host.tx_errors) + "\n";
  return s;
}

void write_stats(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << text;
  }
  std::rename(tmp.c_str(), path.c_str());
}

int usage() {
  std::fprintf(stderr,
               "usage: tun_wg_host --ifname NAME --listen-port P --private-key B64 --peer B64 "
               "[--endpoint IPv4:PORT] --allowed-ip PREFIX... --stats FILE\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::string ifname, stats, priv_b64, peer_b64;
  std::optional<Endpoint> endpoint;
  std::vector<IpPrefix> allowed;
  int port = 0;
  long under_load = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage();
    const std::string v = argv[++i];
    if (a == "--ifname") {
      ifname = v;
    } else if (a == "--listen-port") {
      port = std::stoi(v);
    } else if (a == "--private-key") {
      priv_b64 = v;
    } else if (a == "--peer") {
      peer_b64 = v;
    } else if (a == "--endpoint") {
      const auto colon = v.rfind(':');
      auto addr = IpAddress::parse(v.substr(0, colon));
      if (colon == std::string::npos || !addr) return usage();
      endpoint = Endpoint{*addr, static_cast<std::uint16_t>(std::stoi(v.substr(colon + 1)))};
    } else if (a == "--allowed-ip") {
      auto p = IpPrefix::parse(v, true);
      if (!p) return usage();
      allowed.push_back(*p);
    } else if (a == "--stats") {
      stats = v;
    } else if (a == "--under-load-threshold") {
      under_load = std::stol(v);
    } else {
      return usage();
    }
  }
  auto priv = base64_key(priv_b64);
  auto peer_key = base64_key(peer_b64);
  if (ifname.empty() || stats.empty() || port <= 0 || !priv || !peer_key) return usage();

  Device dev;
  DeviceConfig config;
  config.private_key = *priv;
  if (under_load >= 0)
    config.under_load_handshakes_per_second = static_cast<std::uint32_t>(under_load);
  if (auto r = dev.configure(config); !r) {
    std::fprintf(stderr, "wg_host: %s\n", r.error().message.c_str());
    return 1;
  }
  PeerConfig pc;
  pc.public_key = *peer_key;
  pc.endpoint = endpoint;
  pc.allowed_ips = allowed;
  auto peer = dev.add_peer(pc);
  if (!peer) {
    std::fprintf(stderr, "wg_host: %s\n", peer.error().message.c_str());
    return 1;
  }

  Host host;
  host.tun = open_tun(ifname);
  if (host.tun < 0) {
    std::perror("wg_host: tun");
    return 1;
  }
  host.udp = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<std::uint16_t>(port));
  if (host.udp < 0 || bind(host.udp, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) < 0) {
    std::perror("wg_host: udp");
    return 1;
  }
  signal(SIGTERM, on_signal);
  signal(SIGINT, on_signal);

  std::vector<std::uint8_t> buf(65536 + 64);
  std::string last_stats;
  Nanos last_flush{};
  auto flush_stats = [&] {
    if (mono_now() - last_flush < std::chrono::milliseconds(20)) return;
    last_flush = mono_now();
    std::string s = stats_text(dev, peer.value(), host);
    if (s != last_stats) {
      write_stats(stats, s);
      last_stats = std::move(s);
    }
  };
  flush_stats();
  while (!g_stop) {
    const Nanos now = mono_now();
    const Nanos deadline = dev.next_deadline();
    int timeout_ms = 100;
    if (deadline <= now) {
      timeout_ms = 0;
    } else if (deadline - now < std::chrono::milliseconds(100)) {
      timeout_ms = static_cast<int>(
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1);
    }
    pollfd fds[2] = {{host.udp, POLLIN, 0}, {host.tun, POLLIN, 0}};
    const int n = poll(fds, 2, timeout_ms);
    if (n < 0 && errno != EINTR) {
      std::perror("wg_host: poll");
      return 1;
    }
    if (fds[0].revents & POLLIN) {
      for (int burst = 0; burst < 64; ++burst) {
        sockaddr_in from{};
        socklen_t fl = sizeof(from);
        const ssize_t r =
            recvfrom(host.udp, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &fl);
        if (r < 0) break;
        Endpoint ep{IpAddress::v4(ntohl(from.sin_addr.s_addr)), ntohs(from.sin_port)};
        dev.receive(mono_now(), ep, std::span(buf.data(), static_cast<std::size_t>(r)), host);
      }
    }
    if (fds[1].revents & POLLIN) {
      for (int burst = 0; burst < 64; ++burst) {
        const ssize_t r = read(host.tun, buf.data(), buf.size());
        if (r <= 0) break;
        dev.send(mono_now(), std::span(buf.data(), static_cast<std::size_t>(r)), host);
      }
    }
    if (dev.next_deadline() <= mono_now()) dev.tick(mono_now(), host);
    flush_stats();
  }
  last_flush = {};
  flush_stats();
  close(host.udp);
  close(host.tun);
  return 0;
}
