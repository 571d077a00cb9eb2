// SPDX-License-Identifier: Apache-2.0
// Test support for the control socket: a fake ControlHandler with canned forwarder answers and
// a fixture that serves it on a temporary socket from an io_context in a background thread.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "control/server.h"

namespace causeway::fwd::ctl::test {

inline nlohmann::json fake_stats() {
  return nlohmann::json::parse(R"({
    "ports": [
      {"index": 0, "name": "lan0", "rx_packets": 1200, "rx_bytes": 98000, "tx_packets": 1100,
       "tx_bytes": 87000, "rx_dropped": 3, "tx_dropped": 0},
      {"index": 1, "name": "wan0", "rx_packets": 5, "rx_bytes": 640, "tx_packets": 7,
       "tx_bytes": 910, "rx_dropped": 0, "tx_dropped": 1}
    ],
    "drops": {"no_route": 3, "tx_full": 1, "blackhole": 0},
    "workers": [{"lcore": 1, "busy_polls": 250, "idle_polls": 750}]
  })");
}

inline nlohmann::json fake_ports() {
  return nlohmann::json::parse(R"({
    "ports": [
      {"index": 0, "name": "lan0", "device": "net_af_packet0", "mac": "02:00:00:00:00:01",
       "mtu": 1500, "mirror": "cw-lan0", "mirror_ifindex": 7, "addresses": ["10.1.0.1/24"],
       "link": "up"},
      {"index": 1, "name": "wan0", "device": "net_af_packet1", "mac": "02:00:00:00:00:02",
       "mtu": 1500, "mirror": "cw-wan0", "mirror_ifindex": 8,
       "addresses": ["192.0.2.1/24", "2001:db8::1/64"], "link": "down"}
    ]
  })");
}

// Two tunnels to one remote PoP; the probe object as the forwarder reports it.
inline nlohmann::json fake_tunnels() {
  return nlohmann::json::parse(R"({"tunnels": [
    {"name": "wg-aws", "listen_port": 51820, "public_key": "t1", "address": ["10.255.0.1/32"],
     "mirror": "wg-aws", "mirror_ifindex": 9, "peers": [
       {"name": "pop-b", "public_key": "k1", "endpoint": "10.9.0.2:51820", "session": true,
        "latest_handshake": 1, "rx_bytes": 1, "tx_bytes": 2, "allowed_ips": ["10.255.0.2/32"],
        "probe": {"interval_ms": 100, "source": "10.255.0.1", "target": "10.255.0.2",
                  "sent": 50, "no_session": 0, "replied": 48, "last_rtt_ns": 20500000,
                  "last_reply_age_ms": 40}},
       {"name": "", "public_key": "k9", "endpoint": "", "session": false, "allowed_ips": []}]},
    {"name": "wg-gcp", "listen_port": 51821, "public_key": "t2", "address": ["10.255.0.1/32"],
     "mirror": "wg-gcp", "mirror_ifindex": 10, "peers": [
       {"name": "pop-b", "public_key": "k2", "endpoint": "10.8.0.2:51820", "session": false,
        "probe": {"interval_ms": 0, "source": "10.255.0.1", "target": "10.255.0.2",
                  "sent": 3, "no_session": 3, "replied": 0, "last_rtt_ns": 0,
                  "last_reply_age_ms": -1}}]}
  ]})");
}

// Records what it was asked; answers like a small forwarder. Runs on the io thread; the test
// thread reads the records under mu.
class FakeHandler : public ControlHandler {
 public:
  Reply handle(MsgType type, std::span<const std::uint8_t> payload) override {
    std::lock_guard lock(mu);
    ++calls;
    if (delay.count() > 0) std::this_thread::sleep_for(delay);
    switch (type) {
      case MsgType::kHello:
        return Reply::ok({{"version", kVersion}, {"name", "pop-test"}, {"pid", ::getpid()}});
      case MsgType::kRouteBatch: {
        auto batch = decode_route_batch(payload);
        if (!batch) return Reply::error(EINVAL, batch.error().message);
        std::uint64_t added = 0, deleted = 0;
        for (auto& u : batch.value()) (u.op == RouteOp::kAdd ? added : deleted)++;
        batch_sizes.push_back(batch.value().size());
        routes.insert(routes.end(), batch.value().begin(), batch.value().end());
        return Reply::ok({{"added", added}, {"deleted", deleted}});
      }
      case MsgType::kGetStats:
        return Reply::ok(fake_stats());
      case MsgType::kGetRoutes: {
        last_request = parse_request_json(payload).value();
        return Reply::ok(nlohmann::json::parse(R"({"routes": [
          {"prefix": "10.0.0.0/8", "kind": "gateway", "via": "10.9.0.2", "port": "wan0",
           "table": 0},
          {"prefix": "192.0.2.0/24", "kind": "connected", "port": "wan0", "table": 0},
          {"prefix": "203.0.113.0/24", "kind": "blackhole", "table": 0}
        ], "total": 5})"));
      }
      case MsgType::kGetNeighbors:
        return Reply::ok(nlohmann::json::parse(R"({"neighbors": [
          {"port": "wan0", "address": "10.9.0.2", "mac": "02:00:00:00:00:09",
           "state": "reachable", "age_s": 12}]})"));
      case MsgType::kSetNeighbor: {
        last_request = parse_request_json(payload).value();
        if (last_request.value("port", "") != "wan0") {
          return Reply::error(ENODEV, "no port named " + last_request.value("port", ""));
        }
        return Reply::ok();
      }
      case MsgType::kGetPorts:
        return Reply::ok(fake_ports());
      case MsgType::kFlushRoutes:
        throw std::runtime_error("flush exploded");
      case MsgType::kGetTunnels:
        return Reply::ok(fake_tunnels());
      case MsgType::kGetProbeEvents:
        last_request = parse_request_json(payload).value();
        return Reply::ok(nlohmann::json::parse(R"({"cursor": 7, "missed": 2, "events": [
          {"tunnel": "wg-aws", "peer": "pop-b", "public_key": "k1", "kind": "sent", "seq": 4,
           "ns": 1000},
          {"tunnel": "wg-aws", "peer": "pop-b", "public_key": "k1", "kind": "reply", "seq": 4,
           "ns": 21001000, "rtt_ns": 21000000}]})"));
      case MsgType::kSetProbeInterval:
        last_request = parse_request_json(payload).value();
        if (last_request.value("interval_ms", 0u) == 5) {
          return Reply::error(EINVAL, "interval_ms: 5 is out of range (0 = off, or 10..60000)");
        }
        return Reply::ok({{"peers", 2}});
      case MsgType::kSetPathGroup:
      case MsgType::kSetTrafficClasses:
        last_request = parse_request_json(payload).value();
        return Reply::ok();
      default:
        return Reply::error(EOPNOTSUPP, "fake does not implement this");
    }
  }

  std::mutex mu;  // protects everything below
  std::uint64_t calls = 0;
  std::vector<std::size_t> batch_sizes;
  std::vector<RouteUpdate> routes;
  nlohmann::json last_request;
  std::chrono::milliseconds delay{0};
};

// A fresh temporary directory, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "cw-ctl-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// The server on its own io_context thread, as in the forwarder's control thread.
class ServerFixture {
 public:
  ServerFixture() : work_(boost::asio::make_work_guard(io)) {
    socket_path = dir.path() / "run" / "fwd.sock";  // "run/" does not exist yet
    auto started = ControlServer::start(io, handler, {socket_path, 0660, 64});
    if (!started) throw std::runtime_error(started.error().message);
    server = std::move(started).value();
    thread_ = std::thread([this] { io.run(); });
  }
  ~ServerFixture() {
    boost::asio::post(io, [this] {
      server->stop();
      io.stop();
    });
    thread_.join();
    server.reset();
  }

  TempDir dir;
  std::filesystem::path socket_path;
  boost::asio::io_context io;
  FakeHandler handler;
  std::unique_ptr<ControlServer> server;

 private:
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

// Polls `done` until it holds or the deadline passes (no sleeping for a state).
inline bool wait_until(const std::function<bool()>& done,
                       std::chrono::milliseconds limit = std::chrono::seconds(5)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::yield();
  }
  return done();
}

// A raw connection for sending broken frames.
class RawSocket {
 public:
  explicit RawSocket(const std::filesystem::path& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string p = path.string();
    std::copy(p.begin(), p.end(), addr.sun_path);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      throw std::runtime_error("raw connect failed");
    }
  }
  ~RawSocket() { close(); }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  bool send(std::span<const std::uint8_t> bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }
  // Reads exactly n bytes; empty on close or timeout.
  std::vector<std::uint8_t> recv(std::size_t n, int timeout_ms = 5000) {
    std::vector<std::uint8_t> out(n);
    std::size_t have = 0;
    while (have < n) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, timeout_ms) <= 0) return {};
      ssize_t got = ::recv(fd_, out.data() + have, n - have, 0);
      if (got <= 0) return {};
      have += static_cast<std::size_t>(got);
    }
    return out;
  }
  // True when the peer closed the connection (EOF or reset) within the timeout.
  bool closed_by_peer(int timeout_ms = 5000) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return false;
    std::uint8_t b;
    return ::recv(fd_, &b, 1, 0) <= 0;
  }

 private:
  int fd_ = -1;
};

}  // namespace causeway::fwd::ctl::test
