// SPDX-License-Identifier: Apache-2.0
// UNIX socket file life cycle and accept loop (unix_listener.h). Runs on the io_context's
// thread.
#include "ipc/unix_listener.h"

#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace causeway::fwd::ipc {

namespace asio = boost::asio;

namespace {

constexpr auto kAcceptRetry = std::chrono::milliseconds(100);
constexpr std::size_t kSunPathMax = sizeof(sockaddr_un{}.sun_path);

void bump(std::atomic<std::uint64_t>* c) {
  if (c) c->fetch_add(1, std::memory_order_relaxed);
}

// Removes a socket file left by a dead server. Refuses to touch anything else.
Result<void> remove_stale_socket(asio::io_context& io, const ListenOptions& o) {
  const auto& path = o.path;
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return boost::outcome_v2::success();
    int err = errno;
    return fail("cannot inspect " + path.string() + ": " + std::strerror(err), err);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return fail(
        "cannot create " + o.what + " " + path.string() + ": the path exists and is not a socket",
        EEXIST);
  }
  stream_protocol::socket probe(io);
  boost::system::error_code ec;
  probe.connect(stream_protocol::endpoint(path.string()), ec);
  if (!ec) {
    return fail("cannot create " + o.what + " " + path.string() + ": " + o.in_use_hint, EADDRINUSE);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    int err = errno;
    return fail("cannot remove stale " + o.what + " " + path.string() + ": " + std::strerror(err),
                err);
  }
  return boost::outcome_v2::success();
}

}  // namespace

UnixListener::UnixListener(asio::io_context& io) : acceptor_(io), retry_timer_(io) {}

Result<std::shared_ptr<UnixListener>> UnixListener::listen(asio::io_context& io,
                                                           ListenOptions options) {
  const auto& path = options.path;
  const std::string where = options.what + " " + path.string();
  if (path.empty()) return fail(options.what + " path is empty", EINVAL);
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
    BOOST_OUTCOME_TRY(remove_stale_socket(io, options));
    std::shared_ptr<UnixListener> l(new UnixListener(io));
    boost::system::error_code ec;
    stream_protocol::endpoint endpoint(path.string());
    l->acceptor_.open(endpoint.protocol(), ec);
    if (!ec) l->acceptor_.bind(endpoint, ec);
    if (ec) return fail("cannot bind " + where + ": " + ec.message(), ec.value());
    struct stat st {};
    if (::chmod(path.c_str(), options.mode) != 0 || ::lstat(path.c_str(), &st) != 0) {
      int err = errno;
      ::unlink(path.c_str());
      return fail("cannot set the mode of " + where + ": " + std::strerror(err), err);
    }
    l->file_ = SocketFile{path, st.st_dev, st.st_ino};
    l->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      ::unlink(path.c_str());
      return fail("cannot listen on " + where + ": " + ec.message(), ec.value());
    }
    return l;
  } catch (const std::exception& e) {
    return fail("cannot start " + where + ": " + e.what(), EIO);
  }
}

void UnixListener::start(OnSocket on_socket, std::atomic<std::uint64_t>& accept_errors) {
  on_socket_ = std::move(on_socket);
  accept_errors_ = &accept_errors;
  accept();
}

void UnixListener::accept() {
  acceptor_.async_accept([self = shared_from_this()](const boost::system::error_code& ec,
                                                     stream_protocol::socket socket) {
    try {
      self->on_accept(ec, std::move(socket));
    } catch (...) {
      // Allocation failure inside the completion handler: nothing may escape into run().
      bump(self->accept_errors_);
      self->accept_later();
    }
  });
}

void UnixListener::accept_later() noexcept {
  try {
    retry_timer_.expires_after(kAcceptRetry);
    retry_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->stopped_) return;
      try {
        self->accept();
      } catch (...) {
        bump(self->accept_errors_);
        self->accept_later();
      }
    });
  } catch (...) {
    bump(accept_errors_);  // cannot even arm a timer: accepting stops
  }
}

void UnixListener::on_accept(const boost::system::error_code& ec, stream_protocol::socket socket) {
  if (stopped_ || ec == asio::error::operation_aborted) return;
  if (ec) {
    bump(accept_errors_);
    accept_later();
    return;
  }
  on_socket_(std::move(socket));
  if (!stopped_) accept();
}

void UnixListener::stop() {
  if (stopped_) return;
  stopped_ = true;
  boost::system::error_code ignored;
  retry_timer_.cancel();
  acceptor_.close(ignored);
  struct stat st {};
  if (::lstat(file_.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode) && st.st_dev == file_.dev &&
      st.st_ino == file_.ino) {
    ::unlink(file_.path.c_str());
  }
}

}  // namespace causeway::fwd::ipc
