// SPDX-License-Identifier: Apache-2.0
// Helpers for the UAPI socket tests: a UapiServer on its own io thread, a blocking client with
// deadlines, and polling with a deadline (no sleep-and-hope).
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "uapi/server.h"

namespace causeway::fwd::uapi::test {

inline bool wait_until(const std::function<bool()>& done,
                       std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

// A fresh directory under /tmp, removed with its contents.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/cw-uapi-XXXXXX";
    if (::mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Runs a server on a thread of its own; stop() (or the destructor) stops it on that thread.
class ServerThread {
 public:
  ServerThread(Backend& backend, UapiServerOptions options) {
    auto r = UapiServer::start(io_, backend, std::move(options));
    if (!r) {
      error_ = r.error();
      return;
    }
    server_ = std::move(r).value();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ServerThread() { stop(); }

  void stop() {
    if (!thread_.joinable()) return;
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      server_->stop();
      done.set_value();
    });
    done.get_future().wait();
    io_.stop();
    thread_.join();
  }
  [[nodiscard]] UapiServer* server() { return server_.get(); }
  [[nodiscard]] const std::optional<Error>& error() const { return error_; }

 private:
  boost::asio::io_context io_;
  std::unique_ptr<UapiServer> server_;
  std::optional<Error> error_;
  std::thread thread_;
};

// A blocking client connection with a deadline on every read.
class Client {
 public:
  explicit Client(const std::filesystem::path& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~Client() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] bool connected() const { return fd_ >= 0; }
  bool send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  // Reads until a whole reply (an errno= line and the empty line after it) or EOF.
  std::string read_reply(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    std::string got;
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!reply_complete(got)) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        eof_ = true;
        break;
      }
      got.append(buf, static_cast<std::size_t>(n));
    }
    return got;
  }
  std::string call(std::string_view request) {
    if (!send(request)) return "";
    return read_reply();
  }
  // True once the server has closed the connection (EOF within the limit).
  bool closed_by_server(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    if (eof_) return true;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(limit.count())) <= 0) return false;
    char c;
    return ::recv(fd_, &c, 1, 0) <= 0;
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  static bool reply_complete(const std::string& s) {
    auto at = s.rfind("errno=");
    return at != std::string::npos && (at == 0 || s[at - 1] == '\n') && s.size() >= 2 &&
           s.compare(s.size() - 2, 2, "\n\n") == 0 && s.find('\n', at) == s.size() - 2;
  }
  int fd_ = -1;
  bool eof_ = false;
};

}  // namespace causeway::fwd::uapi::test
