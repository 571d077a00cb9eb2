// SPDX-License-Identifier: Apache-2.0
// The part every UNIX-socket server of the forwarder shares (the control socket, the WireGuard
// UAPI sockets): the socket file's life cycle and a robust accept loop, on the caller's
// io_context. Control path only.
//
// Socket file: the parent directory is created, a stale socket left by a dead server is
// replaced, a live one (somebody answers) or a path that is not a socket is refused, the mode
// is set before listen() so nobody connects while the file has the umask's mode, and on
// shutdown the file is removed only if it is still the one bound here (device and inode).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include "causeway/common/result.h"

namespace causeway::fwd::ipc {

using boost::asio::local::stream_protocol;

struct SocketFile {
  std::filesystem::path path;
  dev_t dev = 0;  // identity of the file bound, so that removal touches only ours
  ino_t ino = 0;
};

struct ListenOptions {
  std::filesystem::path path;
  mode_t mode = 0600;
  std::string what = "socket";  // for messages: "control socket", "UAPI socket"
  std::string in_use_hint = "another server is listening on it";
};

// Accepts connections on a UNIX stream socket until stop(). An accept error (EMFILE and
// friends) is counted and retried 100 ms later instead of spinning. Nothing thrown inside a
// completion handler escapes into io_context::run().
class UnixListener : public std::enable_shared_from_this<UnixListener> {
 public:
  using OnSocket = std::function<void(stream_protocol::socket)>;

  // Binds and listens (see the file comment); does not accept yet. ENAMETOOLONG, EEXIST,
  // EADDRINUSE or the system's errno on failure.
  [[nodiscard]] static Result<std::shared_ptr<UnixListener>> listen(boost::asio::io_context& io,
                                                                    ListenOptions options);

  // Calls on_socket for every accepted connection, on the io_context's thread; bumps
  // accept_errors (which must outlive the listener) on every failed accept. The listener keeps
  // on_socket until it is destroyed: capture the owning server weakly.
  void start(OnSocket on_socket, std::atomic<std::uint64_t>& accept_errors);
  // Stops accepting and removes the socket file if it is still ours. Idempotent.
  void stop();

  [[nodiscard]] const SocketFile& file() const { return file_; }

 private:
  explicit UnixListener(boost::asio::io_context& io);
  void accept();
  void accept_later() noexcept;
  void on_accept(const boost::system::error_code& ec, stream_protocol::socket socket);

  stream_protocol::acceptor acceptor_;
  boost::asio::steady_timer retry_timer_;
  SocketFile file_;
  OnSocket on_socket_;
  std::atomic<std::uint64_t>* accept_errors_ = nullptr;
  bool stopped_ = false;
};

}  // namespace causeway::fwd::ipc
