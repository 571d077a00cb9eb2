// SPDX-License-Identifier: Apache-2.0
#include "ctl/routed_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

namespace causeway::fwd::ctl {

namespace {

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Result<nlohmann::json> routed_request(const std::string& path, const std::string& command,
                                      std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  Fd s;
  s.fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s.fd < 0) return fail(std::string("socket: ") + std::strerror(errno), errno);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) return fail(path + ": path too long", ENAMETOOLONG);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::connect(s.fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int e = errno;
    return fail(
        "cannot connect to " + path + ": " + std::strerror(e) + " (is causeway-routed running?)",
        e);
  }
  const std::string line = nlohmann::json{{"command", command}}.dump() + "\n";
  if (::send(s.fd, line.data(), line.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(line.size())) {
    return fail(std::string("send: ") + std::strerror(errno), errno);
  }
  std::string reply;
  char buf[65536];
  while (reply.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return fail("no reply from " + path + " in time", ETIMEDOUT);
    pollfd p{s.fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    const ssize_t n = ::recv(s.fd, buf, sizeof(buf), 0);
    if (n <= 0) return fail(path + ": connection closed before the reply", EPROTO);
    reply.append(buf, static_cast<std::size_t>(n));
  }
  auto body = nlohmann::json::parse(reply.substr(0, reply.find('\n')), nullptr, false);
  if (body.is_discarded() || !body.is_object()) return fail(path + ": malformed reply", EPROTO);
  if (body.contains("error")) return fail(body["error"].dump(), EINVAL);
  return body;
}

std::string render_routed_status(const nlohmann::json& s) {
  std::ostringstream o;
  auto yes = [](const nlohmann::json& j, const char* k) {
    return j.is_object() && j.value(k, false) ? "yes" : "no";
  };
  const nlohmann::json empty = nlohmann::json::object();
  const nlohmann::json& fpm = s.contains("fpm") ? s["fpm"] : empty;
  const nlohmann::json& fwd = s.contains("forwarder") ? s["forwarder"] : empty;
  const nlohmann::json& fib = s.contains("fib") ? s["fib"] : empty;
  const nlohmann::json& skipped =
      fib.contains("skipped") && fib["skipped"].is_object() ? fib["skipped"] : empty;
  o << "pop                " << s.value("pop", "") << '\n'
    << "zebra (FPM)        " << (fpm.value("connected", false) ? "connected" : "not connected")
    << ", " << fpm.value("routes", 0) << " routes, synced " << yes(fwd, "zebra_synced") << '\n'
    << "forwarder          " << (fwd.value("connected", false) ? "connected" : "not connected")
    << ", " << fwd.value("ports", 0) << " ports, swept " << yes(fwd, "swept") << '\n'
    << "routes installed   " << fib.value("installed", 0) << '\n'
    << "routes to PoPs     " << fib.value("overlay", 0) << " (path groups)\n"
    << "ECMP routes        " << fib.value("ecmp_routes", 0) << " in "
    << fib.value("nexthop_groups", 0) << " next-hop groups, " << fib.value("ecmp_truncated", 0)
    << " with only some next hops\n";
  for (auto it = skipped.begin(); it != skipped.end(); ++it) {
    o << "skipped " << it.key() << "  " << it.value().dump() << '\n';
  }
  o << "queue now / max    " << fib.value("queue_depth", 0) << " / "
    << fib.value("queue_depth_max", 0) << '\n'
    << "forwarder connects " << fib.value("forwarder_connects", 0) << ", sweeps "
    << fib.value("sweeps", 0) << " (" << fib.value("swept", 0) << " stale routes removed)\n"
    << "reloads            " << s.value("reloads", 0) << " (" << s.value("reload_failures", 0)
    << " refused)\n";
  return o.str();
}

}  // namespace causeway::fwd::ctl
