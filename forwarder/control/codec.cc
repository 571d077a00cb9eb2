// SPDX-License-Identifier: Apache-2.0
// Control socket codec (include/causeway/fwd/control_codec.h): bytes in, values out, and back.
#include "causeway/fwd/control_codec.h"

#include <cerrno>
#include <cstring>

namespace causeway::fwd::ctl {

HeaderBytes encode_header(const Header& header) {
  HeaderBytes out{};
  store_be32(out.data() + 0, header.magic);
  store_be16(out.data() + 4, header.version);
  store_be16(out.data() + 6, static_cast<std::uint16_t>(header.type));
  store_be32(out.data() + 8, header.seq);
  store_be32(out.data() + 12, header.length);
  return out;
}

Header decode_header(std::span<const std::uint8_t, kHeaderSize> bytes) {
  Header h;
  h.magic = load_be32(bytes.data() + 0);
  h.version = load_be16(bytes.data() + 4);
  h.type = static_cast<MsgType>(load_be16(bytes.data() + 6));
  h.seq = load_be32(bytes.data() + 8);
  h.length = load_be32(bytes.data() + 12);
  return h;
}

HeaderProblem check_header(const Header& header) {
  if (header.magic != kMagic) return HeaderProblem::kBadMagic;
  if (header.version != kVersion) return HeaderProblem::kBadVersion;
  if (header.length > kMaxPayload) return HeaderProblem::kTooLarge;
  return HeaderProblem::kNone;
}

std::string_view to_string(HeaderProblem problem) {
  switch (problem) {
    case HeaderProblem::kNone:
      return "ok";
    case HeaderProblem::kBadMagic:
      return "bad magic";
    case HeaderProblem::kBadVersion:
      return "unsupported protocol version";
    case HeaderProblem::kTooLarge:
      return "payload larger than the maximum";
  }
  return "unknown";
}

bool is_request_type(MsgType type) {
  auto v = static_cast<std::uint16_t>(type);
  return v >= static_cast<std::uint16_t>(MsgType::kHello) &&
         v <= static_cast<std::uint16_t>(MsgType::kDeleteNextHopGroup);
}

std::string_view to_string(MsgType type) {
  switch (type) {
    case MsgType::kReply:
      return "reply";
    case MsgType::kHello:
      return "hello";
    case MsgType::kRouteBatch:
      return "route-batch";
    case MsgType::kGetStats:
      return "get-stats";
    case MsgType::kGetRoutes:
      return "get-routes";
    case MsgType::kGetNeighbors:
      return "get-neighbors";
    case MsgType::kSetNeighbor:
      return "set-neighbor";
    case MsgType::kGetPorts:
      return "get-ports";
    case MsgType::kFlushRoutes:
      return "flush-routes";
    case MsgType::kGetTunnels:
      return "get-tunnels";
    case MsgType::kGetPathGroups:
      return "get-path-groups";
    case MsgType::kSetPathGroup:
      return "set-path-group";
    case MsgType::kGetProbeEvents:
      return "get-probe-events";
    case MsgType::kSetProbeInterval:
      return "set-probe-interval";
    case MsgType::kSetTrafficClasses:
      return "set-traffic-classes";
    case MsgType::kSetNextHopGroup:
      return "set-nexthop-group";
    case MsgType::kDeleteNextHopGroup:
      return "delete-nexthop-group";
  }
  return "unknown";
}

Result<std::vector<std::uint8_t>> encode_frame(MsgType type, std::uint32_t seq,
                                               std::span<const std::uint8_t> payload) {
  if (payload.size() > kMaxPayload) {
    return fail("control message of " + std::to_string(payload.size()) +
                    " bytes exceeds the maximum of " + std::to_string(kMaxPayload),
                EMSGSIZE);
  }
  Header h;
  h.type = type;
  h.seq = seq;
  h.length = static_cast<std::uint32_t>(payload.size());
  auto head = encode_header(h);
  std::vector<std::uint8_t> out;
  out.reserve(kHeaderSize + payload.size());
  out.insert(out.end(), head.begin(), head.end());
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

// ---- Replies and JSON ----

std::string Reply::error_message() const {
  if (body.is_object()) {
    auto it = body.find("error");
    if (it != body.end() && it->is_string()) return it->get<std::string>();
  }
  if (status == 0) return {};
  return std::strerror(status);
}

std::vector<std::uint8_t> encode_json(const nlohmann::json& body) {
  std::string text = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return {text.begin(), text.end()};
}

std::vector<std::uint8_t> encode_reply(const Reply& reply) {
  std::string text = reply.body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::vector<std::uint8_t> out(4 + text.size());
  int status = reply.status < 0 ? -reply.status : reply.status;
  store_be32(out.data(), static_cast<std::uint32_t>(status));
  std::memcpy(out.data() + 4, text.data(), text.size());
  return out;
}

namespace {

bool all_blank(std::span<const std::uint8_t> bytes) {
  for (auto b : bytes) {
    if (b != ' ' && b != '\t' && b != '\n' && b != '\r') return false;
  }
  return true;
}

}  // namespace

Result<Reply> decode_reply(std::span<const std::uint8_t> payload) {
  if (payload.size() < 4) {
    return fail("reply of " + std::to_string(payload.size()) + " bytes has no status", EPROTO);
  }
  Reply r;
  std::uint32_t status = load_be32(payload.data());
  if (status > 0x7fffffffu) return fail("reply status out of range", EPROTO);
  r.status = static_cast<int>(status);
  auto text = payload.subspan(4);
  if (all_blank(text)) return r;
  r.body = nlohmann::json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (r.body.is_discarded()) return fail("reply body is not valid JSON", EPROTO);
  return r;
}

Result<nlohmann::json> parse_request_json(std::span<const std::uint8_t> payload) {
  if (all_blank(payload)) return nlohmann::json::object();
  try {
    auto j = nlohmann::json::parse(payload.begin(), payload.end());
    if (!j.is_object()) {
      return fail(std::string("malformed request: expected a JSON object, got ") + j.type_name(),
                  EINVAL);
    }
    return j;
  } catch (const nlohmann::json::parse_error& e) {
    return fail(std::string("malformed JSON in request: ") + e.what(), EINVAL);
  }
}

// ---- Route batches ----

std::string_view to_string(RouteKind kind) {
  switch (kind) {
    case RouteKind::kGateway:
      return "gateway";
    case RouteKind::kConnected:
      return "connected";
    case RouteKind::kLocal:
      return "local";
    case RouteKind::kBlackhole:
      return "blackhole";
    case RouteKind::kUnreachable:
      return "unreachable";
    case RouteKind::kPathGroup:
      return "path_group";
    case RouteKind::kNextHopGroup:
      return "nexthop_group";
  }
  return "unknown";
}

std::optional<RouteKind> route_kind_from_string(std::string_view text) {
  for (auto k :
       {RouteKind::kGateway, RouteKind::kConnected, RouteKind::kLocal, RouteKind::kBlackhole,
        RouteKind::kUnreachable, RouteKind::kPathGroup, RouteKind::kNextHopGroup}) {
    if (to_string(k) == text) return k;
  }
  return std::nullopt;
}

RouteRecord to_record(const RouteUpdate& update) {
  RouteRecord r{};
  r.op = static_cast<std::uint8_t>(update.op);
  r.family = static_cast<std::uint8_t>(update.prefix.addr.family);
  r.prefix_len = update.prefix.len;
  r.kind = static_cast<std::uint8_t>(update.kind);
  store_be16(r.port, update.port);
  store_be32(r.table, update.table);
  r.prefix = update.prefix.addr.bytes;
  if (update.gateway) r.gateway = update.gateway->bytes;
  return r;
}

namespace {

bool is_zero(std::span<const std::uint8_t> bytes) {
  for (auto b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

}  // namespace

Result<RouteUpdate> from_record(const RouteRecord& r) {
  RouteUpdate u;
  if (r.op != static_cast<std::uint8_t>(RouteOp::kAdd) &&
      r.op != static_cast<std::uint8_t>(RouteOp::kDelete)) {
    return fail("unknown op " + std::to_string(r.op), EINVAL);
  }
  u.op = static_cast<RouteOp>(r.op);
  if (r.family != 4 && r.family != 6) {
    return fail("unknown address family " + std::to_string(r.family), EINVAL);
  }
  Family family = r.family == 4 ? Family::kV4 : Family::kV6;
  unsigned addr_size = r.family == 4 ? 4 : 16;
  unsigned max_len = r.family == 4 ? 32 : 128;
  if (r.prefix_len > max_len) {
    return fail("prefix length " + std::to_string(r.prefix_len) + " out of range for IPv" +
                    std::to_string(r.family),
                EINVAL);
  }
  if (r.reserved[0] != 0 || r.reserved[1] != 0) return fail("reserved bytes not zero", EINVAL);
  if (!is_zero(std::span(r.prefix).subspan(addr_size))) {
    return fail("IPv4 prefix has non-zero bytes beyond its 4 address bytes", EINVAL);
  }
  u.prefix.addr.family = family;
  u.prefix.addr.bytes = r.prefix;
  u.prefix.len = r.prefix_len;
  if (u.prefix.masked() != u.prefix) {
    return fail("prefix " + u.prefix.str() + " has host bits set (expected " +
                    u.prefix.masked().str() + ")",
                EINVAL);
  }
  u.port = load_be16(r.port);
  u.table = load_be32(r.table);
  if (u.op == RouteOp::kDelete) {
    // Kind and gateway are ignored on delete: a delete names (table, prefix).
    return u;
  }
  if (r.kind > static_cast<std::uint8_t>(RouteKind::kNextHopGroup)) {
    return fail("unknown route kind " + std::to_string(r.kind), EINVAL);
  }
  u.kind = static_cast<RouteKind>(r.kind);
  if (!is_zero(std::span(r.gateway).subspan(addr_size))) {
    return fail("gateway of an IPv4 route is not an IPv4 address", EINVAL);
  }
  bool has_gateway = !is_zero(r.gateway);
  if (u.kind == RouteKind::kGateway) {
    if (!has_gateway) return fail("gateway route " + u.prefix.str() + " has no gateway", EINVAL);
    IpAddress gw;
    gw.family = family;
    gw.bytes = r.gateway;
    u.gateway = gw;
  } else if (has_gateway) {
    return fail(
        std::string(to_string(u.kind)) + " route " + u.prefix.str() + " must not have a gateway",
        EINVAL);
  }
  return u;
}

std::vector<std::uint8_t> encode_route_batch(std::span<const RouteUpdate> updates) {
  std::vector<std::uint8_t> out(kRouteBatchPrefixSize + updates.size() * kRouteRecordSize);
  store_be32(out.data(), static_cast<std::uint32_t>(updates.size()));
  std::uint8_t* p = out.data() + kRouteBatchPrefixSize;
  for (const auto& u : updates) {
    RouteRecord r = to_record(u);
    std::memcpy(p, &r, kRouteRecordSize);  // RouteRecord is bytes only: no padding, no order
    p += kRouteRecordSize;
  }
  return out;
}

Result<std::vector<RouteUpdate>> decode_route_batch(std::span<const std::uint8_t> payload) {
  if (payload.size() < kRouteBatchPrefixSize) {
    return fail("route batch of " + std::to_string(payload.size()) +
                    " bytes is shorter than its record count",
                EINVAL);
  }
  std::uint64_t count = load_be32(payload.data());
  std::uint64_t expected = kRouteBatchPrefixSize + count * kRouteRecordSize;
  if (expected != payload.size()) {
    return fail("route batch announces " + std::to_string(count) + " records (" +
                    std::to_string(expected) + " bytes) but carries " +
                    std::to_string(payload.size()) + " bytes",
                EINVAL);
  }
  std::vector<RouteUpdate> out;
  out.reserve(count);
  const std::uint8_t* p = payload.data() + kRouteBatchPrefixSize;
  for (std::uint64_t i = 0; i < count; ++i, p += kRouteRecordSize) {
    RouteRecord r;
    std::memcpy(&r, p, kRouteRecordSize);
    auto u = from_record(r);
    if (!u) return fail("record " + std::to_string(i) + ": " + u.error().message, EINVAL);
    out.push_back(std::move(u).value());
  }
  return out;
}

}  // namespace causeway::fwd::ctl
