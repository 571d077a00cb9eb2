// SPDX-License-Identifier: Apache-2.0
// Control socket server (server.h). Everything here runs on the io_context's thread; the only
// state shared with other threads is ControlServerCounters (atomics, read-only outside).
#include "control/server.h"

#include <sys/stat.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

namespace causeway::fwd::ctl {

namespace asio = boost::asio;
using asio::local::stream_protocol;

namespace {

// Payloads are read in chunks of at most this size, so a header announcing a large length
// costs memory only as the bytes actually arrive.
constexpr std::size_t kReadChunk = 1u << 20;
// A connection keeps a payload buffer up to this capacity between requests.
constexpr std::size_t kKeepCapacity = 1u << 20;
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);
constexpr std::size_t kSunPathMax = sizeof(sockaddr_un{}.sun_path);

void bump(std::atomic<std::uint64_t>& c) {
  c.fetch_add(1, std::memory_order_relaxed);
}

class Connection;

}  // namespace

struct ControlServer::State : std::enable_shared_from_this<ControlServer::State> {
  State(asio::io_context& io_in, ControlHandler& handler_in, ControlServerOptions options_in)
      : io(io_in),
        handler(&handler_in),
        options(std::move(options_in)),
        acceptor(io_in),
        retry_timer(io_in) {}

  void accept();
  void accept_later() noexcept;
  void on_accept(const boost::system::error_code& ec, stream_protocol::socket socket);
  void stop();

  asio::io_context& io;
  ControlHandler* handler;
  ControlServerOptions options;
  ControlServerCounters counters;
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
  Connection(std::shared_ptr<ControlServer::State> state, stream_protocol::socket socket)
      : state_(std::move(state)), socket_(std::move(socket)) {
    state_->connections.insert(this);
    bump(state_->counters.connections_accepted);
    state_->counters.connections_active.fetch_add(1, std::memory_order_relaxed);
  }
  ~Connection() {
    state_->connections.erase(this);
    state_->counters.connections_active.fetch_sub(1, std::memory_order_relaxed);
  }

  void start() { read_header(); }

  // Completion handlers run inside io_context::run(): nothing may escape them. An exception
  // here (allocation failure) costs the connection, never the control thread.
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
    socket_.shutdown(stream_protocol::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

 private:
  void read_header() {
    asio::async_read(
        socket_, asio::buffer(header_bytes_),
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
          self->guarded([&] { self->on_header(ec, n); });
        });
  }

  void on_header(const boost::system::error_code& ec, std::size_t n) {
    if (state_->stopped) return;
    if (ec) {
      if (n > 0) bump(state_->counters.truncated);
      close();
      return;
    }
    header_ = decode_header(header_bytes_);
    if (check_header(header_) != HeaderProblem::kNone) {
      bump(state_->counters.bad_frames);
      close();
      return;
    }
    payload_.clear();
    read_payload();
  }

  void read_payload() {
    if (payload_.size() == header_.length) {
      dispatch();
      return;
    }
    std::size_t have = payload_.size();
    std::size_t chunk = std::min<std::size_t>(kReadChunk, header_.length - have);
    payload_.resize(have + chunk);
    asio::async_read(socket_, asio::buffer(payload_.data() + have, chunk),
                     [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                       self->guarded([&] { self->on_payload(ec); });
                     });
  }

  void on_payload(const boost::system::error_code& ec) {
    if (state_->stopped) return;
    if (ec) {
      bump(state_->counters.truncated);
      close();
      return;
    }
    read_payload();
  }

  Reply handle() {
    auto& c = state_->counters;
    bump(c.requests);
    MsgType type = header_.type;
    if (!is_request_type(type)) {
      bump(c.unsupported);
      return Reply::error(
          EOPNOTSUPP, "unsupported request type " + std::to_string(static_cast<unsigned>(type)));
    }
    if (type != MsgType::kRouteBatch) {
      auto parsed = parse_request_json(payload_);
      if (!parsed) {
        bump(c.malformed);
        return Reply::error(EINVAL, parsed.error().message);
      }
    }
    try {
      return state_->handler->handle(type, payload_);
    } catch (const std::exception& e) {
      bump(c.handler_errors);
      return Reply::error(EIO, std::string("internal error handling ") +
                                   std::string(to_string(type)) + ": " + e.what());
    } catch (...) {
      bump(c.handler_errors);
      return Reply::error(EIO, "internal error handling " + std::string(to_string(type)));
    }
  }

  void dispatch() {
    try {
      Reply reply = handle();
      auto frame = encode_frame(MsgType::kReply, header_.seq, encode_reply(reply));
      if (!frame) {
        frame = encode_frame(
            MsgType::kReply, header_.seq,
            encode_reply(Reply::error(E2BIG, "reply too large: " + frame.error().message)));
      }
      out_ = std::move(frame).value();
    } catch (...) {
      // Out of memory building the reply: the connection cannot be answered reliably.
      bump(state_->counters.internal_errors);
      close();
      return;
    }
    if (payload_.capacity() > kKeepCapacity) {
      std::vector<std::uint8_t>().swap(payload_);
    }
    asio::async_write(
        socket_, asio::buffer(out_),
        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
          self->guarded([&] { self->on_written(ec); });
        });
  }

  void on_written(const boost::system::error_code& ec) {
    if (state_->stopped) return;
    if (out_.capacity() > kKeepCapacity) std::vector<std::uint8_t>().swap(out_);
    if (ec) {
      close();
      return;
    }
    read_header();
  }

  std::shared_ptr<ControlServer::State> state_;
  stream_protocol::socket socket_;
  HeaderBytes header_bytes_{};
  Header header_;
  std::vector<std::uint8_t> payload_;
  std::vector<std::uint8_t> out_;
};

}  // namespace

void ControlServer::State::accept() {
  acceptor.async_accept([self = shared_from_this()](const boost::system::error_code& ec,
                                                    stream_protocol::socket socket) {
    try {
      self->on_accept(ec, std::move(socket));
    } catch (...) {
      // Allocation failure inside the completion handler: nothing may escape into run().
      bump(self->counters.accept_errors);
      self->accept_later();
    }
  });
}

void ControlServer::State::accept_later() noexcept {
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

void ControlServer::State::on_accept(const boost::system::error_code& ec,
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

void ControlServer::State::stop() {
  if (stopped) return;
  stopped = true;
  boost::system::error_code ignored;
  retry_timer.cancel();
  acceptor.close(ignored);
  for (Connection* c : connections) c->close();
  struct stat st {};
  const auto& path = options.path;
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == socket_dev &&
      st.st_ino == socket_ino) {
    ::unlink(path.c_str());
  }
}

namespace {

std::string errno_text(const boost::system::error_code& ec) {
  return ec.message();
}

// Removes a socket file left by a dead server. Refuses to touch anything else.
Result<void> remove_stale_socket(asio::io_context& io, const std::filesystem::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return boost::outcome_v2::success();
    int err = errno;
    return fail("cannot inspect " + path.string() + ": " + std::strerror(err), err);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return fail(
        "cannot create control socket " + path.string() + ": the path exists and is not a socket",
        EEXIST);
  }
  stream_protocol::socket probe(io);
  boost::system::error_code ec;
  probe.connect(stream_protocol::endpoint(path.string()), ec);
  if (!ec) {
    return fail("cannot create control socket " + path.string() +
                    ": another server is listening on it (is causeway-fwd already running?)",
                EADDRINUSE);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    int err = errno;
    return fail("cannot remove stale control socket " + path.string() + ": " + std::strerror(err),
                err);
  }
  return boost::outcome_v2::success();
}

}  // namespace

Result<std::unique_ptr<ControlServer>> ControlServer::start(asio::io_context& io,
                                                            ControlHandler& handler,
                                                            ControlServerOptions options) {
  const std::filesystem::path path = options.path;
  const std::string where = "control socket " + path.string();
  if (path.empty()) return fail("control socket path is empty", EINVAL);
  if (path.string().size() >= kSunPathMax) {
    return fail(where + ": path longer than " + std::to_string(kSunPathMax - 1) + " bytes",
                ENAMETOOLONG);
  }
  if (path.has_parent_path()) {
    std::error_code fec;
    std::filesystem::create_directories(path.parent_path(), fec);
    if (fec) {
      return fail("cannot create directory " + path.parent_path().string() + " for " + where +
                      ": " + fec.message(),
                  fec.value());
    }
  }
  try {
    if (auto r = remove_stale_socket(io, path); !r) return boost::outcome_v2::failure(r.error());

    auto state = std::make_shared<State>(io, handler, std::move(options));
    boost::system::error_code ec;
    stream_protocol::endpoint endpoint(path.string());
    state->acceptor.open(endpoint.protocol(), ec);
    if (!ec) state->acceptor.bind(endpoint, ec);
    if (ec) return fail("cannot bind " + where + ": " + errno_text(ec), ec.value());
    // Permissions are set before listen(), so nobody can connect while the socket still has
    // the umask's mode.
    struct stat st {};
    if (::chmod(path.c_str(), state->options.mode) != 0 || ::lstat(path.c_str(), &st) != 0) {
      int err = errno;
      ::unlink(path.c_str());
      return fail("cannot set the mode of " + where + ": " + std::strerror(err), err);
    }
    state->socket_dev = st.st_dev;
    state->socket_ino = st.st_ino;
    state->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      ::unlink(path.c_str());
      return fail("cannot listen on " + where + ": " + errno_text(ec), ec.value());
    }
    state->accept();
    return std::unique_ptr<ControlServer>(new ControlServer(std::move(state)));
  } catch (const std::exception& e) {
    return fail("cannot start " + where + ": " + e.what(), EIO);
  }
}

ControlServer::ControlServer(std::shared_ptr<State> state) : state_(std::move(state)) {}

ControlServer::~ControlServer() {
  stop();
}

void ControlServer::stop() {
  state_->stop();
}

const std::filesystem::path& ControlServer::path() const {
  return state_->options.path;
}

const ControlServerCounters& ControlServer::counters() const {
  return state_->counters;
}

}  // namespace causeway::fwd::ctl
