// SPDX-License-Identifier: Apache-2.0
// Synchronous control socket client (client.h): plain POSIX sockets, poll() for deadlines.
#include "control/client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

namespace causeway::fwd::ctl {

namespace {

using Clock = std::chrono::steady_clock;

std::string connect_hint(int err) {
  switch (err) {
    case ENOENT:
    case ECONNREFUSED:
      return " (is causeway-fwd running?)";
    case EACCES:
    case EPERM:
      return " (run as root or as a member of the socket's group)";
    case EAGAIN:
    case ETIMEDOUT:
      return " (causeway-fwd is not accepting connections)";
    default:
      return "";
  }
}

Error connect_error(std::string_view path, int err, std::string reason = {}) {
  if (reason.empty()) reason = std::strerror(err);
  return Error{"cannot connect to " + std::string(path) + ": " + reason + connect_hint(err), err};
}

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::clamp<std::int64_t>(left.count(), 0, 1 << 30));
}

}  // namespace

Result<ControlClient> ControlClient::connect(std::string_view path, ControlClientOptions options) {
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof(addr.sun_path)) {
    return boost::outcome_v2::failure(connect_error(path, ENAMETOOLONG, "invalid socket path"));
  }
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());

  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return boost::outcome_v2::failure(connect_error(path, errno));
  // Linux bounds a blocking AF_UNIX connect() (full backlog) by SO_SNDTIMEO.
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(options.timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((options.timeout.count() % 1000) * 1000);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  int rc;
  do {
    rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) {
    int err = errno == EINPROGRESS ? ETIMEDOUT : errno;
    ::close(fd);
    return boost::outcome_v2::failure(connect_error(path, err));
  }
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    int err = errno;
    ::close(fd);
    return boost::outcome_v2::failure(connect_error(path, err));
  }
  return ControlClient(fd, std::string(path), options);
}

ControlClient::ControlClient(int fd, std::string path, ControlClientOptions options)
    : fd_(fd), path_(std::move(path)), options_(options) {}

ControlClient::ControlClient(ControlClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      path_(std::move(other.path_)),
      options_(other.options_),
      next_seq_(other.next_seq_) {}

ControlClient& ControlClient::operator=(ControlClient&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = std::exchange(other.fd_, -1);
    path_ = std::move(other.path_);
    options_ = other.options_;
    next_seq_ = other.next_seq_;
  }
  return *this;
}

ControlClient::~ControlClient() {
  close();
}

void ControlClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Error ControlClient::broken(std::string message, int code) {
  close();
  return Error{"control socket " + path_ + ": " + std::move(message), code};
}

Result<void> ControlClient::send_all(std::span<const std::uint8_t> bytes,
                                     Clock::time_point deadline) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes = bytes.subspan(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      pollfd p{fd_, POLLOUT, 0};
      int rc = ::poll(&p, 1, remaining_ms(deadline));
      if (rc == 0) return broken("timed out sending the request", ETIMEDOUT);
      if (rc < 0 && errno != EINTR) return broken(std::strerror(errno), errno);
      continue;
    }
    int err = errno;
    if (err == EPIPE || err == ECONNRESET) {
      return broken("the server closed the connection", err);
    }
    return broken(std::string("send failed: ") + std::strerror(err), err);
  }
  return boost::outcome_v2::success();
}

Result<void> ControlClient::recv_all(std::span<std::uint8_t> bytes, Clock::time_point deadline) {
  while (!bytes.empty()) {
    ssize_t n = ::recv(fd_, bytes.data(), bytes.size(), 0);
    if (n > 0) {
      bytes = bytes.subspan(static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) return broken("the server closed the connection", ECONNRESET);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      pollfd p{fd_, POLLIN, 0};
      int rc = ::poll(&p, 1, remaining_ms(deadline));
      if (rc == 0) {
        return broken("timed out after " + std::to_string(options_.timeout.count()) +
                          " ms waiting for the reply",
                      ETIMEDOUT);
      }
      if (rc < 0 && errno != EINTR) return broken(std::strerror(errno), errno);
      continue;
    }
    int err = errno;
    if (err == ECONNRESET) return broken("the server closed the connection", err);
    return broken(std::string("receive failed: ") + std::strerror(err), err);
  }
  return boost::outcome_v2::success();
}

Result<Reply> ControlClient::request(MsgType type, std::span<const std::uint8_t> payload) {
  if (fd_ < 0) {
    return fail("control socket " + path_ + ": connection closed after an earlier error", ENOTCONN);
  }
  auto deadline = Clock::now() + options_.timeout;
  std::uint32_t seq = next_seq_++;
  auto frame = encode_frame(type, seq, payload);
  if (!frame) return boost::outcome_v2::failure(frame.error());
  if (auto sent = send_all(frame.value(), deadline); !sent) {
    return boost::outcome_v2::failure(sent.error());
  }

  HeaderBytes head_bytes{};
  if (auto got = recv_all(head_bytes, deadline); !got) {
    return boost::outcome_v2::failure(got.error());
  }
  Header head = decode_header(head_bytes);
  if (auto problem = check_header(head); problem != HeaderProblem::kNone) {
    return boost::outcome_v2::failure(
        broken("bad reply header: " + std::string(to_string(problem)), EPROTO));
  }
  if (head.type != MsgType::kReply || head.seq != seq) {
    return boost::outcome_v2::failure(broken("reply out of sequence (expected seq " +
                                                 std::to_string(seq) + ", got " +
                                                 std::to_string(head.seq) + ")",
                                             EPROTO));
  }
  std::vector<std::uint8_t> body(head.length);
  if (auto got = recv_all(body, deadline); !got) return boost::outcome_v2::failure(got.error());
  auto reply = decode_reply(body);
  if (!reply) {
    return boost::outcome_v2::failure(broken(reply.error().message, EPROTO));
  }
  return reply;
}

Result<Reply> ControlClient::request_json(MsgType type, const nlohmann::json& body) {
  auto bytes = encode_json(body);
  return request(type, bytes);
}

Result<nlohmann::json> ControlClient::call(MsgType type, const nlohmann::json& body) {
  auto reply = request_json(type, body);
  if (!reply) return boost::outcome_v2::failure(reply.error());
  if (!reply.value().is_ok()) return fail(reply.value().error_message(), reply.value().status);
  return std::move(reply.value().body);
}

namespace {

template <typename T>
T number_or(const nlohmann::json& j, const char* key, T fallback) {
  if (!j.is_object()) return fallback;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return fallback;
  return it->get<T>();
}

}  // namespace

Result<HelloInfo> ControlClient::hello(std::string_view client_name) {
  auto called = call(MsgType::kHello, {{"client", client_name}});
  if (!called) return boost::outcome_v2::failure(called.error());
  nlohmann::json body = std::move(called).value();
  HelloInfo info;
  info.version = number_or<unsigned>(body, "version", 0);
  if (body.is_object() && body.contains("name") && body["name"].is_string()) {
    info.name = body["name"].get<std::string>();
  }
  info.pid = number_or<long>(body, "pid", 0);
  info.raw = std::move(body);
  return info;
}

Result<RouteBatchResult> ControlClient::send_routes(std::span<const RouteUpdate> updates) {
  RouteBatchResult total;
  std::size_t per_batch =
      std::clamp<std::size_t>(options_.max_batch_records, 1, kMaxRouteBatchRecords);
  for (std::size_t first = 0; first < updates.size(); first += per_batch) {
    std::size_t n = std::min(per_batch, updates.size() - first);
    auto payload = encode_route_batch(updates.subspan(first, n));
    auto sent = request(MsgType::kRouteBatch, payload);
    if (!sent) return boost::outcome_v2::failure(sent.error());
    const Reply& reply = sent.value();
    if (!reply.is_ok()) {
      return fail("route batch " + std::to_string(total.batches) + " (records " +
                      std::to_string(first) + ".." + std::to_string(first + n - 1) +
                      ") rejected: " + reply.error_message(),
                  reply.status);
    }
    total.added += number_or<std::uint64_t>(reply.body, "added", 0);
    total.deleted += number_or<std::uint64_t>(reply.body, "deleted", 0);
    ++total.batches;
  }
  return total;
}

Result<nlohmann::json> ControlClient::get_stats() {
  return call(MsgType::kGetStats);
}

Result<nlohmann::json> ControlClient::get_routes(std::optional<unsigned> family,
                                                 std::optional<std::uint64_t> limit) {
  nlohmann::json body = nlohmann::json::object();
  if (family) body["family"] = *family;
  if (limit) body["limit"] = *limit;
  return call(MsgType::kGetRoutes, body);
}

Result<nlohmann::json> ControlClient::get_neighbors() {
  return call(MsgType::kGetNeighbors);
}

Result<nlohmann::json> ControlClient::get_ports() {
  return call(MsgType::kGetPorts);
}

Result<nlohmann::json> ControlClient::get_tunnels() {
  return call(MsgType::kGetTunnels);
}

Result<nlohmann::json> ControlClient::get_path_groups() {
  return call(MsgType::kGetPathGroups);
}

Result<nlohmann::json> ControlClient::set_path_group(const nlohmann::json& request) {
  return call(MsgType::kSetPathGroup, request);
}

Result<nlohmann::json> ControlClient::get_probe_events(std::uint64_t cursor) {
  return call(MsgType::kGetProbeEvents, nlohmann::json{{"cursor", cursor}});
}

Result<nlohmann::json> ControlClient::set_probe_interval(std::uint32_t interval_ms) {
  return call(MsgType::kSetProbeInterval, nlohmann::json{{"interval_ms", interval_ms}});
}

Result<nlohmann::json> ControlClient::set_traffic_classes(const nlohmann::json& request) {
  return call(MsgType::kSetTrafficClasses, request);
}

Result<nlohmann::json> ControlClient::set_nexthop_group(const nlohmann::json& request) {
  return call(MsgType::kSetNextHopGroup, request);
}

Result<nlohmann::json> ControlClient::delete_nexthop_group(std::uint16_t id) {
  return call(MsgType::kDeleteNextHopGroup, nlohmann::json{{"id", id}});
}

Result<nlohmann::json> ControlClient::set_neighbor(std::string_view op, std::string_view port,
                                                   const IpAddress& address,
                                                   std::optional<MacAddress> mac) {
  nlohmann::json body{{"op", op}, {"port", port}, {"address", address.str()}};
  if (mac) body["mac"] = mac->str();
  return call(MsgType::kSetNeighbor, body);
}

Result<std::uint64_t> ControlClient::flush_routes(std::string_view source) {
  auto body = call(MsgType::kFlushRoutes, {{"source", source}});
  if (!body) return boost::outcome_v2::failure(body.error());
  return number_or<std::uint64_t>(body.value(), "deleted", 0);
}

}  // namespace causeway::fwd::ctl
