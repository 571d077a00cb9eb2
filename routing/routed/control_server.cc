// SPDX-License-Identifier: Apache-2.0
#include "routed/control_server.h"

#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include "causeway/rt/routed_control.h"
#include "ipc/unix_listener.h"

namespace causeway::rt {

using boost::asio::local::stream_protocol;

std::string answer_line(const std::string& line, const ControlHandler& handler) {
  nlohmann::json reply;
  try {
    nlohmann::json request = nlohmann::json::parse(line);
    if (!request.is_object()) {
      reply = {{"error", "request is not a JSON object"}};
    } else {
      reply = handler(request);
    }
  } catch (const std::exception& e) {
    reply = {{"error", e.what()}};
  }
  return reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

struct RoutedControlServer::State {
  ControlHandler handler;
  std::shared_ptr<fwd::ipc::UnixListener> listener;
  std::atomic<std::uint64_t> accept_errors{0};
};

namespace {

struct Session : std::enable_shared_from_this<Session> {
  Session(stream_protocol::socket s, std::weak_ptr<RoutedControlServer::State> st)
      : socket(std::move(s)), buf(kRoutedMaxRequest), state(std::move(st)) {}

  void read() {
    auto self = shared_from_this();
    boost::asio::async_read_until(
        socket, buf, '\n', [self](const boost::system::error_code& ec, std::size_t n) {
          if (ec) return;  // closed, or a line over the limit
          auto st = self->state.lock();
          if (!st) return;
          std::string line(boost::asio::buffers_begin(self->buf.data()),
                           boost::asio::buffers_begin(self->buf.data()) + n);
          self->buf.consume(n);
          self->out = answer_line(line, st->handler);
          self->write();
        });
  }
  void write() {
    auto self = shared_from_this();
    boost::asio::async_write(socket, boost::asio::buffer(out),
                             [self](const boost::system::error_code& ec, std::size_t) {
                               if (!ec) self->read();
                             });
  }

  stream_protocol::socket socket;
  boost::asio::streambuf buf;
  std::string out;
  std::weak_ptr<RoutedControlServer::State> state;
};

}  // namespace

Result<std::unique_ptr<RoutedControlServer>> RoutedControlServer::start(boost::asio::io_context& io,
                                                                        std::string path,
                                                                        ControlHandler handler) {
  fwd::ipc::ListenOptions options;
  options.path = path;
  options.mode = 0660;
  options.what = "routed control socket";
  auto listener = fwd::ipc::UnixListener::listen(io, options);
  if (!listener) return listener.error();
  auto state = std::make_shared<State>();
  state->handler = std::move(handler);
  state->listener = listener.value();
  std::weak_ptr<State> weak = state;
  state->listener->start(
      [weak](stream_protocol::socket s) {
        if (weak.expired()) return;
        std::make_shared<Session>(std::move(s), weak)->read();
      },
      state->accept_errors);
  return std::unique_ptr<RoutedControlServer>(new RoutedControlServer(std::move(state)));
}

void RoutedControlServer::stop() {
  if (state_ && state_->listener) state_->listener->stop();
}

RoutedControlServer::~RoutedControlServer() {
  stop();
}

}  // namespace causeway::rt
