// SPDX-License-Identifier: Apache-2.0
// Control socket server (server.h). Everything here runs on the io_context's thread; the only
// state shared with other threads is ControlServerCounters (atomics, read-only outside).
#include "control/server.h"

#include <cerrno>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include <boost/asio/buffer.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include "ipc/unix_listener.h"

namespace causeway::fwd::ctl {

namespace asio = boost::asio;
using asio::local::stream_protocol;

namespace {

// Payloads are read in chunks of at most this size, so a header announcing a large length
// costs memory only as the bytes actually arrive.
constexpr std::size_t kReadChunk = 1u << 20;
// A connection keeps a payload buffer up to this capacity between requests.
constexpr std::size_t kKeepCapacity = 1u << 20;

void bump(std::atomic<std::uint64_t>& c) {
  c.fetch_add(1, std::memory_order_relaxed);
}

class Connection;

}  // namespace

struct ControlServer::State : std::enable_shared_from_this<ControlServer::State> {
  State(ControlHandler& handler_in, ControlServerOptions options_in,
        std::shared_ptr<ipc::UnixListener> listener_in)
      : handler(&handler_in), options(std::move(options_in)), listener(std::move(listener_in)) {}

  void on_socket(stream_protocol::socket socket);
  void stop();

  ControlHandler* handler;
  ControlServerOptions options;
  std::shared_ptr<ipc::UnixListener> listener;
  ControlServerCounters counters;
  std::unordered_set<Connection*> connections;  // live connections, for stop()
  bool stopped = false;
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

void ControlServer::State::on_socket(stream_protocol::socket socket) {
  if (stopped) return;
  if (connections.size() >= options.max_connections) {
    bump(counters.connections_refused);
    boost::system::error_code ignored;
    socket.close(ignored);
    return;
  }
  std::make_shared<Connection>(shared_from_this(), std::move(socket))->start();
}

void ControlServer::State::stop() {
  if (stopped) return;
  stopped = true;
  listener->stop();
  for (Connection* c : connections) c->close();
}

Result<std::unique_ptr<ControlServer>> ControlServer::start(asio::io_context& io,
                                                            ControlHandler& handler,
                                                            ControlServerOptions options) {
  const std::string path = options.path.string();
  try {
    auto listener = ipc::UnixListener::listen(
        io, {options.path, options.mode, "control socket",
             "another server is listening on it (is causeway-fwd already running?)"});
    if (!listener) return boost::outcome_v2::failure(std::move(listener).error());
    auto state = std::make_shared<State>(handler, std::move(options), std::move(listener).value());
    state->listener->start(
        [weak = std::weak_ptr<State>(state)](stream_protocol::socket socket) {
          if (auto s = weak.lock()) s->on_socket(std::move(socket));
        },
        state->counters.accept_errors);
    return std::unique_ptr<ControlServer>(new ControlServer(std::move(state)));
  } catch (const std::exception& e) {
    return fail("cannot start control socket " + path + ": " + e.what(), EIO);
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
