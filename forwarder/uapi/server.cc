// SPDX-License-Identifier: Apache-2.0
// UAPI socket server (server.h). Everything here runs on the io_context's thread; the only state
// shared with other threads is UapiCounters (atomics, read-only outside).
#include "uapi/server.h"

#include <sys/socket.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <unordered_set>
#include <utility>

#include <spdlog/spdlog.h>
#include <boost/asio/buffer.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "ipc/unix_listener.h"

namespace causeway::fwd::uapi {

namespace asio = boost::asio;
using asio::local::stream_protocol;

namespace {

constexpr std::size_t kReadChunk = 4096;
constexpr std::size_t kIfNameMax = 15;  // IFNAMSIZ - 1

void bump(std::atomic<std::uint64_t>& c) {
  c.fetch_add(1, std::memory_order_relaxed);
}

class Connection;

}  // namespace

struct UapiServer::State : std::enable_shared_from_this<UapiServer::State> {
  State(asio::io_context& io_in, Backend& backend_in, UapiServerOptions options_in,
        std::shared_ptr<ipc::UnixListener> listener_in)
      : io(io_in),
        backend(&backend_in),
        options(std::move(options_in)),
        listener(std::move(listener_in)) {}

  void on_socket(stream_protocol::socket socket);
  void stop();

  asio::io_context& io;
  Backend* backend;
  UapiServerOptions options;
  std::shared_ptr<ipc::UnixListener> listener;
  UapiCounters counters;
  std::unordered_set<Connection*> connections;  // live connections, for stop()
  bool stopped = false;
};

namespace {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<UapiServer::State> state, stream_protocol::socket socket)
      : state_(std::move(state)),
        socket_(std::move(socket)),
        timer_(state_->io),
        session_(*state_->backend, state_->options.limits, state_->counters) {
    state_->connections.insert(this);
    bump(state_->counters.connections_accepted);
    state_->counters.connections_active.fetch_add(1, std::memory_order_relaxed);
  }
  ~Connection() {
    state_->connections.erase(this);
    state_->counters.connections_active.fetch_sub(1, std::memory_order_relaxed);
  }

  void start() {
    arm_timer();
    read();
  }

  // Completion handlers run inside io_context::run(): nothing may escape them.
  template <typename F>
  void guarded(F&& f) noexcept {
    try {
      f();
    } catch (...) {
      bump(state_->counters.internal_errors);
      close();
    }
  }
  void close() {
    boost::system::error_code ignored;
    timer_.cancel();
    socket_.shutdown(stream_protocol::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  // The deadline for the next request to arrive whole.
  void arm_timer() {
    timer_.expires_after(state_->options.read_timeout);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->state_->stopped || !self->socket_.is_open()) return;
      self->timed_out_ = true;
      bump(self->state_->counters.timeouts);
      self->close();
    });
  }

  void read() {
    socket_.async_read_some(
        asio::buffer(chunk_),
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
          self->guarded([&] { self->on_read(ec, n); });
        });
  }

  void on_read(const boost::system::error_code& ec, std::size_t n) {
    if (state_->stopped) return;
    if (ec) {
      // EOF or error: a partial request is dropped unapplied.
      if (!timed_out_ && session_.in_request()) bump(state_->counters.truncated);
      close();
      return;
    }
    auto out = session_.feed(std::string_view(chunk_.data(), n));
    for (const auto& e : out.errors) {
      spdlog::warn("wireguard uapi {}: {}", state_->options.interface_name, e);
    }
    if (out.reply.empty()) {
      read();
      return;
    }
    close_after_write_ = out.close;
    out_ = std::move(out.reply);
    asio::async_write(
        socket_, asio::buffer(out_),
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
          self->guarded([&] { self->on_written(ec); });
        });
  }

  void on_written(const boost::system::error_code& ec) {
    if (state_->stopped) return;
    if (ec || close_after_write_) {
      close();
      return;
    }
    // A request was answered: the next one gets a fresh deadline.
    arm_timer();
    read();
  }

  std::shared_ptr<UapiServer::State> state_;
  stream_protocol::socket socket_;
  asio::steady_timer timer_;
  Session session_;
  std::array<char, kReadChunk> chunk_{};
  std::string out_;
  bool close_after_write_ = false;
  bool timed_out_ = false;
};

}  // namespace

void UapiServer::State::on_socket(stream_protocol::socket socket) {
  if (stopped) return;
  if (connections.size() >= options.max_connections) {
    bump(counters.connections_refused);
    boost::system::error_code ignored;
    socket.close(ignored);
    return;
  }
  std::make_shared<Connection>(shared_from_this(), std::move(socket))->start();
}

void UapiServer::State::stop() {
  if (stopped) return;
  stopped = true;
  listener->stop();
  for (Connection* c : connections) c->close();
}

Result<void> check_interface_name(std::string_view name) {
  if (name.empty() || name.size() > kIfNameMax) {
    return fail("interface name '" + std::string(name) + "' must be 1-" +
                    std::to_string(kIfNameMax) + " bytes",
                EINVAL);
  }
  if (name == "." || name == "..") return fail("interface name cannot be . or ..", EINVAL);
  for (char c : name) {
    if (c == '/' || c == ':' || c == '\0' || std::isspace(static_cast<unsigned char>(c))) {
      return fail("interface name '" + std::string(name) + "' contains '/', ':' or whitespace",
                  EINVAL);
    }
  }
  return boost::outcome_v2::success();
}

Result<std::unique_ptr<UapiServer>> UapiServer::start(asio::io_context& io, Backend& backend,
                                                      UapiServerOptions options) {
  BOOST_OUTCOME_TRY(check_interface_name(options.interface_name));
  const std::filesystem::path path = options.socket_dir / (options.interface_name + ".sock");
  const std::string where = "UAPI socket " + path.string();
  if (options.limits.max_request_bytes == 0 || options.limits.max_line_bytes == 0 ||
      options.read_timeout.count() <= 0 || options.max_connections == 0) {
    return fail(where + ": limits, read timeout and max_connections must be positive", EINVAL);
  }
  try {
    auto listener =
        ipc::UnixListener::listen(io, {path, kSocketMode, "UAPI socket",
                                       "another WireGuard implementation serves this interface"});
    if (!listener) return boost::outcome_v2::failure(std::move(listener).error());
    auto state =
        std::make_shared<State>(io, backend, std::move(options), std::move(listener).value());
    state->listener->start(
        [weak = std::weak_ptr<State>(state)](stream_protocol::socket socket) {
          if (auto s = weak.lock()) s->on_socket(std::move(socket));
        },
        state->counters.accept_errors);
    return std::unique_ptr<UapiServer>(new UapiServer(std::move(state)));
  } catch (const std::exception& e) {
    return fail("cannot start " + where + ": " + e.what(), EIO);
  }
}

UapiServer::UapiServer(std::shared_ptr<State> state) : state_(std::move(state)) {}

UapiServer::~UapiServer() {
  stop();
}

void UapiServer::stop() {
  state_->stop();
}

const std::filesystem::path& UapiServer::path() const {
  return state_->listener->file().path;
}

const UapiCounters& UapiServer::counters() const {
  return state_->counters;
}

}  // namespace causeway::fwd::uapi
