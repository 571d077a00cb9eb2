// SPDX-License-Identifier: Apache-2.0
// Encoding and decoding of the control socket's wire format (control_protocol.h): frame
// headers, replies (status + JSON) and route batches. Pure functions, no I/O: the server
// (forwarder/control/server.h), the client (forwarder/control/client.h) and the tests share
// them. Every multi-byte field is stored and loaded byte by byte in big-endian order; nothing
// here casts a buffer to a struct.
//
// Decoding is for untrusted input: it never asserts, and a route batch is validated whole —
// the first bad record makes the whole batch an error that names the record index, and no
// partial result is returned.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "causeway/common/byte_order.h"
#include "causeway/common/ip.h"
#include "causeway/common/result.h"
#include "causeway/fwd/control_protocol.h"

namespace causeway::fwd::ctl {

inline constexpr std::size_t kRouteRecordSize = sizeof(RouteRecord);
inline constexpr std::size_t kRouteBatchPrefixSize = 4;  // big-endian record count
// The most records one kRouteBatch payload can carry without exceeding kMaxPayload.
inline constexpr std::size_t kMaxRouteBatchRecords =
    (kMaxPayload - kRouteBatchPrefixSize) / kRouteRecordSize;

// ---- Byte order helpers: the shared ones (include/causeway/common/byte_order.h) ----
using causeway::load_be16;
using causeway::load_be32;
using causeway::store_be16;
using causeway::store_be32;

// ---- Headers ----
using HeaderBytes = std::array<std::uint8_t, kHeaderSize>;

[[nodiscard]] HeaderBytes encode_header(const Header& header);
// Loads the fields as they are, without judging them.
[[nodiscard]] Header decode_header(std::span<const std::uint8_t, kHeaderSize> bytes);

// Why a header makes a server (or client) drop the connection.
enum class HeaderProblem : std::uint8_t { kNone, kBadMagic, kBadVersion, kTooLarge };
[[nodiscard]] HeaderProblem check_header(const Header& header);
[[nodiscard]] std::string_view to_string(HeaderProblem problem);

// A known request type (kHello..kDeleteNextHopGroup); kReply and unknown values are not requests.
[[nodiscard]] bool is_request_type(MsgType type);
[[nodiscard]] std::string_view to_string(MsgType type);

// One whole frame: header + payload. Fails when the payload exceeds kMaxPayload.
[[nodiscard]] Result<std::vector<std::uint8_t>> encode_frame(MsgType type, std::uint32_t seq,
                                                             std::span<const std::uint8_t> payload);

// ---- Replies ----
// status is 0 or a positive errno value; body is the JSON answer ({"error": "..."} on failure).
struct Reply {
  int status = 0;
  nlohmann::json body = nlohmann::json::object();

  static Reply ok(nlohmann::json body = nlohmann::json::object()) { return {0, std::move(body)}; }
  static Reply error(int status, std::string_view message) {
    return {status, nlohmann::json{{"error", message}}};
  }
  [[nodiscard]] bool is_ok() const { return status == 0; }
  // The server's error text: body["error"] when it is a string, else strerror(status).
  [[nodiscard]] std::string error_message() const;
};

// Non-ASCII text that is not valid UTF-8 is replaced, never thrown on.
[[nodiscard]] std::vector<std::uint8_t> encode_reply(const Reply& reply);
// Fails (EPROTO) on a payload shorter than the status or a body that is not JSON. An empty
// body decodes as an empty object.
[[nodiscard]] Result<Reply> decode_reply(std::span<const std::uint8_t> payload);

// ---- JSON requests ----
// Request payloads other than kRouteBatch are a JSON object; an empty payload is {}.
// Fails with EINVAL and a message naming the parse error.
[[nodiscard]] Result<nlohmann::json> parse_request_json(std::span<const std::uint8_t> payload);
[[nodiscard]] std::vector<std::uint8_t> encode_json(const nlohmann::json& body);

// ---- Route batches ----
// The friendly form of one RouteRecord.
struct RouteUpdate {
  RouteOp op = RouteOp::kAdd;
  IpPrefix prefix;                       // host bits must be zero
  RouteKind kind = RouteKind::kGateway;  // ignored on delete
  std::optional<IpAddress> gateway;      // same family as prefix; required for kGateway adds
  std::uint16_t port = kNoPort;          // port index, kNoPort = none
  std::uint32_t table = 0;               // routing table (segment); 0 = default

  friend bool operator==(const RouteUpdate&, const RouteUpdate&) = default;
};

[[nodiscard]] RouteRecord to_record(const RouteUpdate& update);
// Validates one record: family 4/6, prefix_len in range, host bits zero (and, for IPv4, the
// unused 12 bytes of prefix and gateway zero), op known, reserved zero; on add, kind known, a
// gateway for kGateway and none for the other kinds. The message does not name the index.
[[nodiscard]] Result<RouteUpdate> from_record(const RouteRecord& record);

[[nodiscard]] std::vector<std::uint8_t> encode_route_batch(std::span<const RouteUpdate> updates);
// All or nothing; EINVAL with "record N: ..." for the first bad record, or a framing error.
[[nodiscard]] Result<std::vector<RouteUpdate>> decode_route_batch(
    std::span<const std::uint8_t> payload);

[[nodiscard]] std::string_view to_string(RouteKind kind);
[[nodiscard]] std::optional<RouteKind> route_kind_from_string(std::string_view text);

}  // namespace causeway::fwd::ctl
