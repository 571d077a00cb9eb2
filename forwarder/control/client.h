// SPDX-License-Identifier: Apache-2.0
// Synchronous control socket client, for causewayctl and causeway-routed. One blocking UNIX
// stream connection; every request waits for its reply (same seq) with a deadline. After a
// transport error or a timeout the connection is unusable (a late reply could still arrive)
// and every further request fails until the caller connects again.
//
// Errors: Error::code is an errno value. A failure of connect() means "cannot connect"; any
// later failure is either a transport error (request() fails) or a reply whose status is not
// 0 (request() succeeds with that Reply; call() and the typed helpers turn it into an error
// carrying the server's message and status).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "causeway/common/result.h"
#include "causeway/fwd/control_codec.h"

namespace causeway::fwd::ctl {

inline constexpr std::string_view kDefaultSocketPath = "/run/causeway/fwd.sock";

struct ControlClientOptions {
  std::chrono::milliseconds timeout{5000};  // per request: send + wait for the whole reply
  // send_routes() splits larger inputs into batches of at most this many records (further
  // capped at kMaxRouteBatchRecords). Keeps each batch short for the forwarder's control
  // thread; every batch is applied atomically on its own.
  std::size_t max_batch_records = 16384;
};

struct HelloInfo {
  unsigned version = 0;
  std::string name;
  long pid = 0;
  nlohmann::json raw;
};

struct RouteBatchResult {
  std::uint64_t added = 0;
  std::uint64_t deleted = 0;
  std::size_t batches = 0;
};

class ControlClient {
 public:
  // "cannot connect to PATH: REASON (is causeway-fwd running?)" on failure.
  [[nodiscard]] static Result<ControlClient> connect(std::string_view path,
                                                     ControlClientOptions options = {});

  ControlClient(ControlClient&& other) noexcept;
  ControlClient& operator=(ControlClient&& other) noexcept;
  ControlClient(const ControlClient&) = delete;
  ControlClient& operator=(const ControlClient&) = delete;
  ~ControlClient();

  // One request, one reply. Fails only on transport/protocol errors; a reply with a non-zero
  // status is returned as is.
  [[nodiscard]] Result<Reply> request(MsgType type, std::span<const std::uint8_t> payload);
  [[nodiscard]] Result<Reply> request_json(MsgType type, const nlohmann::json& body);
  // request() + a non-zero status becomes an error (the server's message, code = status).
  [[nodiscard]] Result<nlohmann::json> call(MsgType type,
                                            const nlohmann::json& body = nlohmann::json::object());

  [[nodiscard]] Result<HelloInfo> hello(std::string_view client_name = "causewayctl");
  // Splits into batches of at most options.max_batch_records; stops at the first batch the
  // server rejects (earlier batches stay applied) with an error naming the global record index
  // range of that batch.
  [[nodiscard]] Result<RouteBatchResult> send_routes(std::span<const RouteUpdate> updates);
  [[nodiscard]] Result<nlohmann::json> get_stats();
  [[nodiscard]] Result<nlohmann::json> get_routes(std::optional<unsigned> family = std::nullopt,
                                                  std::optional<std::uint64_t> limit = {});
  [[nodiscard]] Result<nlohmann::json> get_neighbors();
  [[nodiscard]] Result<nlohmann::json> get_ports();
  // op: "add" or "del"; mac may be empty on del.
  [[nodiscard]] Result<nlohmann::json> set_neighbor(std::string_view op, std::string_view port,
                                                    const IpAddress& address,
                                                    std::optional<MacAddress> mac);
  [[nodiscard]] Result<std::uint64_t> flush_routes(std::string_view source);
  [[nodiscard]] Result<nlohmann::json> get_tunnels();
  [[nodiscard]] Result<nlohmann::json> get_path_groups();
  [[nodiscard]] Result<nlohmann::json> set_path_group(const nlohmann::json& request);
  // SLA probes: the event ring from `cursor` (message 12); every probing peer's interval
  // (message 13, 0 = off or 10..60000 ms).
  [[nodiscard]] Result<nlohmann::json> get_probe_events(std::uint64_t cursor);
  [[nodiscard]] Result<nlohmann::json> set_probe_interval(std::uint32_t interval_ms);
  [[nodiscard]] Result<nlohmann::json> set_traffic_classes(const nlohmann::json& request);
  // Next-hop groups (include/causeway/fwd/nexthop_group_codec.h); kGetRoutes lists them.
  [[nodiscard]] Result<nlohmann::json> set_nexthop_group(const nlohmann::json& request);
  [[nodiscard]] Result<nlohmann::json> delete_nexthop_group(std::uint16_t id);

  [[nodiscard]] const std::string& path() const { return path_; }
  [[nodiscard]] bool usable() const { return fd_ >= 0; }
  void close();

 private:
  ControlClient(int fd, std::string path, ControlClientOptions options);
  Result<void> send_all(std::span<const std::uint8_t> bytes,
                        std::chrono::steady_clock::time_point deadline);
  Result<void> recv_all(std::span<std::uint8_t> bytes,
                        std::chrono::steady_clock::time_point deadline);
  Error broken(std::string message, int code);

  int fd_ = -1;
  std::string path_;
  ControlClientOptions options_;
  std::uint32_t next_seq_ = 1;
};

}  // namespace causeway::fwd::ctl
