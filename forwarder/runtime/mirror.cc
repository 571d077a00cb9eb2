// SPDX-License-Identifier: Apache-2.0
#include "mirror.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <net/if_arp.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>

#include <fmt/format.h>

namespace causeway::fwd {
namespace {

std::string errno_text(int e) {
  return std::strerror(e);
}

// Writes a per-interface sysctl; a missing knob (IPv6 disabled) is not an error.
void write_sysctl(const std::string& path, const char* value) {
  std::ofstream f(path);
  if (f) f << value;
}

using NlSocket = std::unique_ptr<nl_sock, decltype(&nl_socket_free)>;

Result<void> add_addresses(nl_sock* sk, int ifindex, const std::string& name,
                           const std::vector<IpPrefix>& addrs) {
  for (const IpPrefix& p : addrs) {
    rtnl_addr* a = rtnl_addr_alloc();
    nl_addr* local = nl_addr_build(p.addr.is_v4() ? AF_INET : AF_INET6,
                                   const_cast<std::uint8_t*>(p.addr.bytes.data()), p.addr.size());
    nl_addr_set_prefixlen(local, p.len);
    rtnl_addr_set_ifindex(a, ifindex);
    rtnl_addr_set_local(a, local);
    if (!p.addr.is_v4()) rtnl_addr_set_flags(a, IFA_F_NODAD);
    int rc = rtnl_addr_add(sk, a, NLM_F_REPLACE);
    nl_addr_put(local);
    rtnl_addr_put(a);
    if (rc < 0) {
      return fail(
          fmt::format("mirror {}: cannot add address {}: {}", name, p.str(), nl_geterror(rc)), EIO);
    }
  }
  return boost::outcome_v2::success();
}

bool ipv6_link_local(nl_addr* a) {
  if (nl_addr_get_family(a) != AF_INET6 || nl_addr_get_len(a) != 16) return false;
  const auto* b = static_cast<const std::uint8_t*>(nl_addr_get_binary_addr(a));
  return b[0] == 0xfe && (b[1] & 0xc0) == 0x80;
}

// A mirror that outlived an earlier forwarder keeps that forwarder's addresses: remove the
// ones the configuration no longer has (IPv6 link-local addresses belong to the kernel).
Result<void> remove_stale_addresses(nl_sock* sk, int ifindex, const std::string& name,
                                    const std::vector<IpPrefix>& keep) {
  nl_cache* cache = nullptr;
  if (int rc = rtnl_addr_alloc_cache(sk, &cache); rc < 0) {
    return fail(fmt::format("mirror {}: cannot list addresses: {}", name, nl_geterror(rc)), EIO);
  }
  std::vector<rtnl_addr*> stale;
  for (nl_object* o = nl_cache_get_first(cache); o != nullptr; o = nl_cache_get_next(o)) {
    auto* a = reinterpret_cast<rtnl_addr*>(o);
    if (rtnl_addr_get_ifindex(a) != ifindex) continue;
    nl_addr* local = rtnl_addr_get_local(a);
    if (local == nullptr || ipv6_link_local(local)) continue;
    const bool configured = std::any_of(keep.begin(), keep.end(), [&](const IpPrefix& p) {
      return nl_addr_get_family(local) == (p.addr.is_v4() ? AF_INET : AF_INET6) &&
             nl_addr_get_len(local) == p.addr.size() &&
             std::memcmp(nl_addr_get_binary_addr(local), p.addr.bytes.data(), p.addr.size()) == 0 &&
             static_cast<unsigned>(rtnl_addr_get_prefixlen(a)) == p.len;
    });
    if (!configured) stale.push_back(a);
  }
  Result<void> result = boost::outcome_v2::success();
  for (rtnl_addr* a : stale) {
    if (int rc = rtnl_addr_delete(sk, a, 0); rc < 0 && rc != -NLE_NOADDR) {
      result = fail(
          fmt::format("mirror {}: cannot remove a stale address: {}", name, nl_geterror(rc)), EIO);
      break;
    }
  }
  nl_cache_free(cache);
  return result;
}

// Makes the interface's addresses exactly `addrs` (besides IPv6 link-local) over one rtnetlink
// socket. libnl rather than shelling out to ip(8): errors come back as codes.
Result<void> sync_addresses(int ifindex, const std::string& name,
                            const std::vector<IpPrefix>& addrs) {
  NlSocket sk(nl_socket_alloc(), &nl_socket_free);
  if (!sk) return fail("cannot allocate a netlink socket", ENOMEM);
  if (int rc = nl_connect(sk.get(), NETLINK_ROUTE); rc < 0) {
    return fail(fmt::format("netlink connect: {}", nl_geterror(rc)), EIO);
  }
  if (auto r = remove_stale_addresses(sk.get(), ifindex, name, addrs); !r) return r.error();
  return add_addresses(sk.get(), ifindex, name, addrs);
}

}  // namespace

Result<std::unique_ptr<Mirror>> Mirror::create(const std::string& name, const MacAddress& mac,
                                               unsigned mtu, const std::vector<IpPrefix>& addrs) {
  return open_device(name, &mac, mtu, addrs);
}

Result<std::unique_ptr<Mirror>> Mirror::create_l3(const std::string& name, unsigned mtu,
                                                  const std::vector<IpPrefix>& addrs) {
  return open_device(name, nullptr, mtu, addrs);
}

// A TAP with `mac`, or (mac == nullptr) a TUN.
Result<std::unique_ptr<Mirror>> Mirror::open_device(const std::string& name, const MacAddress* mac,
                                                    unsigned mtu,
                                                    const std::vector<IpPrefix>& addrs) {
  std::unique_ptr<Mirror> m(new Mirror());
  m->name_ = name;
  m->fd_ = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (m->fd_ < 0) return fail("cannot open /dev/net/tun: " + errno_text(errno), errno);

  ifreq ifr{};
  ifr.ifr_flags = static_cast<short>((mac ? IFF_TAP : IFF_TUN) | IFF_NO_PI);
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(m->fd_, TUNSETIFF, &ifr) < 0) {
    return fail(fmt::format("cannot create mirror TAP {}: {}", name, errno_text(errno)), errno);
  }

  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return fail("socket: " + errno_text(errno), errno);
  auto close_sock = [&] { close(sock); };

  if (mac) {
    ifr = {};
    std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
    ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    std::memcpy(ifr.ifr_hwaddr.sa_data, mac->bytes.data(), 6);
    if (ioctl(sock, SIOCSIFHWADDR, &ifr) < 0) {
      int e = errno;
      close_sock();
      return fail(fmt::format("mirror {}: cannot set MAC {}: {}", name, mac->str(), errno_text(e)),
                  e);
    }
  } else {
    // The same overlay subnet may be on several tunnel mirrors (one per backbone): a packet
    // may come in on one while the kernel's route back names another.
    write_sysctl("/proc/sys/net/ipv4/conf/" + name + "/rp_filter", "0");
  }
  ifr = {};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  ifr.ifr_mtu = static_cast<int>(mtu);
  if (ioctl(sock, SIOCSIFMTU, &ifr) < 0) {
    int e = errno;
    close_sock();
    return fail(fmt::format("mirror {}: cannot set MTU {}: {}", name, mtu, errno_text(e)), e);
  }
  // Our data path answers DAD-free: the addresses are ours by configuration.
  write_sysctl("/proc/sys/net/ipv6/conf/" + name + "/accept_dad", "0");
  // ARP from the address on the target's subnet (RFC 826 leaves it open; routers want this).
  write_sysctl("/proc/sys/net/ipv4/conf/" + name + "/arp_announce", "2");
  ifr = {};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) == 0) {
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) {
      int e = errno;
      close_sock();
      return fail(fmt::format("mirror {}: cannot bring up: {}", name, errno_text(e)), e);
    }
  }
  ifr = {};
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (ioctl(sock, SIOCGIFINDEX, &ifr) < 0) {
    int e = errno;
    close_sock();
    return fail(fmt::format("mirror {}: no ifindex: {}", name, errno_text(e)), e);
  }
  m->ifindex_ = ifr.ifr_ifindex;
  close_sock();
  if (auto r = sync_addresses(m->ifindex_, name, addrs); !r) return r.error();
  return m;
}

Result<void> Mirror::persist() {
  if (ioctl(fd_, TUNSETPERSIST, 1) < 0) {
    return fail(fmt::format("mirror {}: cannot make it persistent: {}", name_, errno_text(errno)),
                errno);
  }
  return boost::outcome_v2::success();
}

Mirror::~Mirror() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace causeway::fwd
