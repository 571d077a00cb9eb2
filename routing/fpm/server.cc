// SPDX-License-Identifier: Apache-2.0
#include "server.h"

#include <boost/asio/ip/address.hpp>

namespace causeway::rt::fpm {

namespace asio = boost::asio;
using asio::ip::tcp;

Server::Server(asio::io_context& io, RouteSink& sink, ServerOptions options)
    : options_(std::move(options)), core_(sink, options_.core), acceptor_(io), timer_(io) {}

Result<std::unique_ptr<Server>> Server::start(asio::io_context& io, RouteSink& sink,
                                              ServerOptions options) {
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(options.address, ec);
  if (ec) return fail("fpm: bad listen address '" + options.address + "'", EINVAL);
  tcp::endpoint ep(addr, options.port);
  std::unique_ptr<Server> s(new Server(io, sink, std::move(options)));
  std::string where = ep.address().to_string() + " port " + std::to_string(ep.port());
  if (s->acceptor_.open(ep.protocol(), ec); ec)
    return fail("fpm: socket: " + ec.message(), ec.value());
  s->acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (s->acceptor_.bind(ep, ec); ec)
    return fail("fpm: bind " + where + ": " + ec.message(), ec.value());
  if (s->acceptor_.listen(4, ec); ec)
    return fail("fpm: listen " + where + ": " + ec.message(), ec.value());
  s->port_ = s->acceptor_.local_endpoint(ec).port();
  s->accept();
  return s;
}

Server::~Server() {
  stop();
}

void Server::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
  timer_.cancel();
  close_connection();
}

void Server::accept() {
  acceptor_.async_accept([this, alive = std::weak_ptr<int>(alive_)](
                             const boost::system::error_code& ec, tcp::socket socket) {
    if (alive.expired() || stopped_) return;
    if (ec) {
      if (ec == asio::error::operation_aborted) return;
      ++counters_.accept_errors;
    } else {
      if (conn_) {
        ++counters_.connections_replaced;
        close_connection();
      }
      conn_.emplace(std::move(socket));
      ++conn_id_;
      core_.connection_opened(Clock::now());
      read();
      arm_timer();
    }
    accept();
  });
}

void Server::read() {
  conn_->async_read_some(
      asio::buffer(buf_), [this, id = conn_id_, alive = std::weak_ptr<int>(alive_)](
                              const boost::system::error_code& ec, std::size_t n) {
        if (alive.expired() || stopped_ || id != conn_id_ || !conn_)
          return;  // a replaced connection's last read
        if (ec) {
          ++counters_.connections_lost;
          close_connection();
          return;
        }
        if (!core_.receive(std::span<const std::uint8_t>(buf_.data(), n), Clock::now())) {
          ++counters_.connections_bad_stream;
          close_connection();
          return;
        }
        arm_timer();
        read();
      });
}

void Server::close_connection() {
  if (!conn_) return;
  boost::system::error_code ec;
  conn_->shutdown(tcp::socket::shutdown_both, ec);
  conn_->close(ec);
  conn_.reset();
  ++conn_id_;
  core_.connection_closed(Clock::now());
}

void Server::arm_timer() {
  auto deadline = core_.deadline();
  if (!deadline) return;
  timer_.expires_at(*deadline);
  timer_.async_wait(
      [this, alive = std::weak_ptr<int>(alive_)](const boost::system::error_code& ec) {
        if (alive.expired() || ec || stopped_) return;
        core_.tick(Clock::now());
        arm_timer();
      });
}

}  // namespace causeway::rt::fpm
