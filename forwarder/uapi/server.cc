// SPDX-License-Identifier: Apache-2.0
// UAPI socket server (server.h). Everything here runs on the io_context's thread; the only state
// shared with other threads is UapiCounters (atomics, read-only outside).
#include "uapi/server.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <array>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <unordered_set>
#include <utility>

#include <spdlog/spdlog.h>
#include <boost/asio/buffer.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace causeway::fwd::uapi {

namespace asio = boost::asio;
using asio::local::stream_protocol;

namespace {

constexpr std::size_t kReadChunk = 4096;
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);
constexpr std::size_t kSunPathMax = sizeof(sockaddr_un{}.sun_path);
constexpr std::size_t kIfNameMax = 15;  // IFNAMSIZ - 1

void bump(std::atomic<std::uint64_t>& c) {
  c.fetch_add(1, std::memory_order_relaxed);
}

class Connection;

}  // namespace

struct UapiServer::State : std::enable_shared_from_this<UapiServer::State> {
  State(asio::io_context& io_in, Backend& backend_in, UapiServerOptions options_in,
        std::filesystem::path path_in)
      : io(io_in),
        backend(&backend_in),
        options(std::move(options_in)),
        path(std::move(path_in)),
        acceptor(io_in),
        retry_timer(io_in) {}

  void accept();
  void accept_later() noexcept;
  void on_accept(const boost::system::error_code& ec, stream_protocol::socket socket);
  void stop();

  asio::io_context& io;
  Backend* backend;
  UapiServerOptions options;
  std::filesystem::path path;
  UapiCounters counters;
  stream_protocol::acceptor acceptor;
  asio::steady_timer retry_timer;
  std::unordered_set<Connection*> connections;  // live connections, for stop()
  bool stopped = false;
  dev_t socket_dev = 0;  // identity of the socket file we bound, so stop() removes only ours
  ino_t socket_ino = 0;
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

void UapiServer::State::accept() {
  acceptor.async_accept([self = shared_from_this()](const boost::system::error_code& ec,
                                                    stream_protocol::socket socket) {
    try {
      self->on_accept(ec, std::move(socket));
    } catch (...) {
      bump(self->counters.accept_errors);
      self->accept_later();
    }
  });
}

void UapiServer::State::accept_later() noexcept {
  try {
    retry_timer.expires_after(kAcceptRetry);
    retry_timer.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->stopped) return;
      try {
        self->accept();
      } catch (...) {
        bump(self->counters.accept_errors);
        self->accept_later();
      }
    });
  } catch (...) {
    bump(counters.accept_errors);  // cannot even arm a timer: accepting stops
  }
}

void UapiServer::State::on_accept(const boost::system::error_code& ec,
                                  stream_protocol::socket socket) {
  if (stopped || ec == asio::error::operation_aborted) return;
  if (ec) {
    // EMFILE and friends: try again a little later instead of spinning.
    bump(counters.accept_errors);
    accept_later();
    return;
  }
  if (connections.size() >= options.max_connections) {
    bump(counters.connections_refused);
    boost::system::error_code ignored;
    socket.close(ignored);
  } else {
    std::make_shared<Connection>(shared_from_this(), std::move(socket))->start();
  }
  accept();
}

void UapiServer::State::stop() {
  if (stopped) return;
  stopped = true;
  boost::system::error_code ignored;
  retry_timer.cancel();
  acceptor.close(ignored);
  for (Connection* c : connections) c->close();
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == socket_dev &&
      st.st_ino == socket_ino) {
    ::unlink(path.c_str());
  }
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

namespace {

// Removes a socket file left by a dead server. Refuses to touch anything else, or a socket on
// which a server (another causeway-fwd, wireguard-go) still answers.
Result<void> remove_stale_socket(asio::io_context& io, const std::filesystem::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return boost::outcome_v2::success();
    int err = errno;
    return fail("cannot inspect " + path.string() + ": " + std::strerror(err), err);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return fail("cannot create UAPI socket " + path.string() + ": the path is not a socket",
                EEXIST);
  }
  stream_protocol::socket probe(io);
  boost::system::error_code ec;
  probe.connect(stream_protocol::endpoint(path.string()), ec);
  if (!ec) {
    return fail("cannot create UAPI socket " + path.string() +
                    ": another WireGuard implementation serves this interface",
                EADDRINUSE);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    int err = errno;
    return fail("cannot remove stale UAPI socket " + path.string() + ": " + std::strerror(err),
                err);
  }
  return boost::outcome_v2::success();
}

}  // namespace

Result<std::unique_ptr<UapiServer>> UapiServer::start(asio::io_context& io, Backend& backend,
                                                      UapiServerOptions options) {
  BOOST_OUTCOME_TRY(check_interface_name(options.interface_name));
  const std::filesystem::path path = options.socket_dir / (options.interface_name + ".sock");
  const std::string where = "UAPI socket " + path.string();
  if (path.string().size() >= kSunPathMax) {
    return fail(where + ": path longer than " + std::to_string(kSunPathMax - 1) + " bytes",
                ENAMETOOLONG);
  }
  if (options.limits.max_request_bytes == 0 || options.limits.max_line_bytes == 0 ||
      options.read_timeout.count() <= 0 || options.max_connections == 0) {
    return fail(where + ": limits, read timeout and max_connections must be positive", EINVAL);
  }
  std::error_code fec;
  std::filesystem::create_directories(options.socket_dir, fec);
  if (fec) {
    return fail("cannot create directory " + options.socket_dir.string() + " for " + where + ": " +
                    fec.message(),
                fec.value());
  }
  try {
    BOOST_OUTCOME_TRY(remove_stale_socket(io, path));
    auto state = std::make_shared<State>(io, backend, std::move(options), path);
    boost::system::error_code ec;
    stream_protocol::endpoint endpoint(path.string());
    state->acceptor.open(endpoint.protocol(), ec);
    if (!ec) state->acceptor.bind(endpoint, ec);
    if (ec) return fail("cannot bind " + where + ": " + ec.message(), ec.value());
    // The mode is set before listen(), so nobody can connect while the socket still has the
    // umask's mode.
    struct stat st {};
    if (::chmod(path.c_str(), kSocketMode) != 0 || ::lstat(path.c_str(), &st) != 0) {
      int err = errno;
      ::unlink(path.c_str());
      return fail("cannot set the mode of " + where + ": " + std::strerror(err), err);
    }
    state->socket_dev = st.st_dev;
    state->socket_ino = st.st_ino;
    state->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      ::unlink(path.c_str());
      return fail("cannot listen on " + where + ": " + ec.message(), ec.value());
    }
    state->accept();
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
  return state_->path;
}

const UapiCounters& UapiServer::counters() const {
  return state_->counters;
}

}  // namespace causeway::fwd::uapi
