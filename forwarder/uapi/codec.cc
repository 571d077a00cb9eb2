// SPDX-License-Identifier: Apache-2.0
// UAPI text codec (codec.h). Written by hand: the protocol is a few dozen lines of key=value
// text with its own value syntax, which no packaged library parses; the rules below follow
// wireguard-go's device/uapi.go (what the `wg` tool has been tested against) with the
// difference that a whole `set` is checked before anything is applied.
#include "uapi/codec.h"

#include <cerrno>
#include <map>
#include <utility>
#include <vector>

namespace causeway::fwd::uapi {

namespace {

constexpr std::string_view kGetLine = "get=1";
constexpr std::string_view kSetLine = "set=1";
constexpr char kHex[] = "0123456789abcdef";

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Text for an error message: bounded, control bytes replaced.
std::string printable(std::string_view s, std::size_t max) {
  std::string out;
  for (char c : s.substr(0, max)) {
    out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
  }
  if (s.size() > max) out += "...";
  return out;
}

// A line quoted for an error message; keys are hidden (the message ends in the log).
std::string quote(std::string_view key, std::string_view value) {
  bool secret = key == "private_key" || key == "preshared_key";
  return "'" + printable(key, 64) + "=" + (secret ? "(hidden)" : printable(value, 64)) + "'";
}

auto invalid(std::string_view key, std::string_view value, std::string_view why) {
  return fail("invalid line " + quote(key, value) + ": " + std::string(why), EINVAL);
}

// "true" is the only value wireguard-go accepts for the boolean keys.
bool is_true(std::string_view value) {
  return value == "true";
}

// Collects one peer block's allowed_ip lines. The last line naming a prefix decides whether
// it is added or removed (the effect of applying the lines in order), so the two lists that
// reach the backend are disjoint and free of duplicates, and their relative order no longer
// matters.
class AllowedIpLines {
 public:
  void add(const IpPrefix& p, bool remove) {
    last_[p] = ops_.size();
    ops_.push_back({p, remove});
  }
  void clear() {
    ops_.clear();
    last_.clear();
  }
  void finish(PeerChange& peer) const {
    for (std::size_t i = 0; i < ops_.size(); ++i) {
      const auto& [prefix, remove] = ops_[i];
      if (last_.at(prefix) != i) continue;
      (remove ? peer.remove_allowed_ips : peer.add_allowed_ips).push_back(prefix);
    }
  }

 private:
  std::vector<std::pair<IpPrefix, bool>> ops_;
  std::map<IpPrefix, std::size_t> last_;
};

Result<void> parse_device_line(std::string_view key, std::string_view value, SetRequest& out) {
  if (key == "private_key") {
    auto k = parse_key_hex(value);
    if (!k) return invalid(key, value, "expected 64 hex digits");
    out.private_key = *k;
  } else if (key == "listen_port") {
    auto v = parse_decimal(value, 0xffff);
    if (!v) return invalid(key, value, "expected a port number 0-65535");
    out.listen_port = static_cast<std::uint16_t>(*v);
  } else if (key == "fwmark") {
    auto v = parse_decimal(value, 0xffffffff);
    if (!v) return invalid(key, value, "expected a number 0-4294967295");
    out.fwmark = static_cast<std::uint32_t>(*v);
  } else if (key == "replace_peers") {
    if (!is_true(value)) return invalid(key, value, "the only value is 'true'");
    out.replace_peers = true;
  } else {
    return invalid(key, value, "unknown device key (device keys come before the first public_key)");
  }
  return boost::outcome_v2::success();
}

Result<void> parse_peer_line(std::string_view key, std::string_view value, PeerChange& peer,
                             AllowedIpLines& allowed) {
  if (key == "update_only") {
    if (!is_true(value)) return invalid(key, value, "the only value is 'true'");
    peer.update_only = true;
  } else if (key == "remove") {
    if (!is_true(value)) return invalid(key, value, "the only value is 'true'");
    peer.remove = true;
  } else if (key == "preshared_key") {
    auto k = parse_key_hex(value);
    if (!k) return invalid(key, value, "expected 64 hex digits");
    peer.preshared_key = *k;
  } else if (key == "endpoint") {
    auto e = parse_endpoint(value);
    if (!e) return invalid(key, value, "expected a.b.c.d:port or [ipv6]:port");
    peer.endpoint = *e;
  } else if (key == "persistent_keepalive_interval") {
    auto v = parse_decimal(value, 0xffff);
    if (!v) return invalid(key, value, "expected seconds 0-65535");
    peer.persistent_keepalive = std::chrono::seconds(*v);
  } else if (key == "replace_allowed_ips") {
    if (!is_true(value)) return invalid(key, value, "the only value is 'true'");
    // Replacing drops what earlier lines of this block added or removed.
    peer.replace_allowed_ips = true;
    allowed.clear();
  } else if (key == "allowed_ip") {
    bool remove = !value.empty() && value.front() == '-';
    std::string_view text = remove ? value.substr(1) : value;
    // A prefix length is required, in plain decimal (as netip.ParsePrefix in wireguard-go);
    // host bits are cleared, as the kernel and wireguard-go do when inserting.
    auto slash = text.find('/');
    std::optional<IpAddress> addr;
    std::optional<std::uint64_t> len;
    if (slash != std::string_view::npos) {
      addr = IpAddress::parse(text.substr(0, slash));
      auto digits = text.substr(slash + 1);
      if (digits.size() < 2 || digits.front() != '0') len = parse_decimal(digits, 128);
    }
    if (!addr || !len || *len > (addr->is_v4() ? 32u : 128u)) {
      return invalid(key, value, "expected [-]address/length");
    }
    auto p = IpPrefix{*addr, static_cast<std::uint8_t>(*len)};
    allowed.add(p.masked(), remove);
  } else if (key == "protocol_version") {
    if (value != "1") return invalid(key, value, "the only protocol version is 1");
  } else {
    return invalid(key, value, "unknown peer key");
  }
  return boost::outcome_v2::success();
}

}  // namespace

// ---- values -------------------------------------------------------------------------------

std::optional<Key32> parse_key_hex(std::string_view text) {
  Key32 key{};
  if (text.size() != key.size() * 2) return std::nullopt;
  for (std::size_t i = 0; i < key.size(); ++i) {
    int hi = hex_digit(text[2 * i]);
    int lo = hex_digit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    key[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return key;
}

std::string key_to_hex(const Key32& key) {
  std::string out;
  out.reserve(key.size() * 2);
  for (std::uint8_t b : key) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

std::optional<std::uint64_t> parse_decimal(std::string_view text, std::uint64_t max) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    unsigned d = static_cast<unsigned>(c - '0');
    if (v > (max - d) / 10) return std::nullopt;  // v * 10 + d > max
    v = v * 10 + d;
  }
  return v;
}

std::optional<Endpoint> parse_endpoint(std::string_view text) {
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return std::nullopt;
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (host.find(':') == std::string_view::npos) return std::nullopt;  // [1.2.3.4]:5 is not v6
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;  // v6 needs brackets
  }
  auto addr = IpAddress::parse(host);
  auto number = parse_decimal(port, 0xffff);
  if (!addr || !number) return std::nullopt;
  return Endpoint{*addr, static_cast<std::uint16_t>(*number)};
}

std::string endpoint_to_string(const Endpoint& endpoint) {
  std::string port = ":" + std::to_string(endpoint.port);
  if (endpoint.addr.is_v4()) return endpoint.addr.str() + port;
  return "[" + endpoint.addr.str() + "]" + port;
}

// ---- framing ------------------------------------------------------------------------------

RequestFramer::Frame RequestFramer::scan(std::string_view buffered) {
  using Status = Frame::Status;
  auto error = [](std::string message, int code) {
    return Frame{Status::kError, 0, Error{std::move(message), code}};
  };
  for (; scanned_ < buffered.size(); ++scanned_) {
    if (scanned_ + 1 > limits_.max_request_bytes) {
      return error("request longer than " + std::to_string(limits_.max_request_bytes) + " bytes",
                   EMSGSIZE);
    }
    if (buffered[scanned_] != '\n') {
      if (scanned_ - line_start_ + 1 > limits_.max_line_bytes) {
        return error("line longer than " + std::to_string(limits_.max_line_bytes) + " bytes",
                     EMSGSIZE);
      }
      // wireguard-go reads the byte after `get=1\n` and refuses anything but the empty line.
      if (is_get_ && lines_ == 1) return error("trailing bytes after get=1", EINVAL);
      continue;
    }
    std::string_view line = buffered.substr(line_start_, scanned_ - line_start_);
    line_start_ = scanned_ + 1;
    ++lines_;
    if (lines_ == 1) {
      if (line == kGetLine) {
        is_get_ = true;
      } else if (line != kSetLine) {
        return error("unknown operation (expected get=1 or set=1)", EPROTO);
      }
    } else if (line.empty()) {
      ++scanned_;
      return Frame{Status::kComplete, scanned_, {}};
    }
  }
  return Frame{};
}

void RequestFramer::reset() {
  scanned_ = 0;
  line_start_ = 0;
  lines_ = 0;
  is_get_ = false;
}

// ---- parsing ------------------------------------------------------------------------------

Result<SetRequest> parse_set_body(std::string_view body) {
  SetRequest out;
  PeerChange* peer = nullptr;
  AllowedIpLines allowed;
  auto finish_peer = [&] {
    if (peer) allowed.finish(*peer);
    allowed.clear();
  };
  while (!body.empty()) {
    auto nl = body.find('\n');
    if (nl == std::string_view::npos) return fail("line without a newline", EPROTO);
    std::string_view line = body.substr(0, nl);
    body.remove_prefix(nl + 1);
    auto eq = line.find('=');
    if (eq == std::string_view::npos) {
      return fail("line without '=': '" + printable(line, 16) + "'", EPROTO);
    }
    std::string_view key = line.substr(0, eq);
    std::string_view value = line.substr(eq + 1);
    if (key == "public_key") {
      auto k = parse_key_hex(value);
      if (!k) return invalid(key, value, "expected 64 hex digits");
      finish_peer();
      peer = &out.peers.emplace_back();
      peer->public_key = *k;
      continue;
    }
    auto r =
        peer ? parse_peer_line(key, value, *peer, allowed) : parse_device_line(key, value, out);
    if (!r) return boost::outcome_v2::failure(std::move(r).error());
  }
  finish_peer();
  return out;
}

Result<Request> parse_request(std::string_view request, const Limits& limits) {
  RequestFramer framer(limits);
  auto frame = framer.scan(request);
  using Status = RequestFramer::Frame::Status;
  if (frame.status == Status::kError) return boost::outcome_v2::failure(frame.error);
  if (frame.status == Status::kNeedMore) {
    return fail("incomplete request (no empty line at the end)", EPROTO);
  }
  if (frame.length != request.size()) return fail("bytes after the end of the request", EPROTO);
  Request out;
  if (request.substr(0, kGetLine.size()) == kGetLine) return out;
  out.op = Operation::kSet;
  // Between "set=1\n" and the final empty line.
  std::string_view body = request.substr(kSetLine.size() + 1);
  body.remove_suffix(1);
  auto set = parse_set_body(body);
  if (!set) return boost::outcome_v2::failure(std::move(set).error());
  out.set = std::move(set).value();
  return out;
}

// ---- replies ------------------------------------------------------------------------------

namespace {

void line(std::string& out, std::string_view key, std::string_view value) {
  out.append(key).append("=").append(value).append("\n");
}
void line(std::string& out, std::string_view key, std::uint64_t value) {
  line(out, key, std::to_string(value));
}

}  // namespace

std::string format_get_reply(const DeviceView& view) {
  std::string out;
  // Fields are left out when zero, as wireguard-go does; `wg` reads an absent field as zero.
  if (view.private_key) line(out, "private_key", key_to_hex(*view.private_key));
  if (view.listen_port != 0) line(out, "listen_port", view.listen_port);
  if (view.fwmark != 0) line(out, "fwmark", view.fwmark);
  for (const PeerView& p : view.peers) {
    line(out, "public_key", key_to_hex(p.public_key));
    line(out, "preshared_key", key_to_hex(p.preshared_key));
    line(out, "protocol_version", 1);
    if (p.endpoint) line(out, "endpoint", endpoint_to_string(*p.endpoint));
    std::uint64_t sec = 0;
    std::uint64_t nsec = 0;
    if (p.last_handshake) {
      auto ns =
          std::chrono::duration_cast<std::chrono::nanoseconds>(p.last_handshake->time_since_epoch())
              .count();
      if (ns > 0) {
        sec = static_cast<std::uint64_t>(ns / 1'000'000'000);
        nsec = static_cast<std::uint64_t>(ns % 1'000'000'000);
      }
    }
    line(out, "last_handshake_time_sec", sec);
    line(out, "last_handshake_time_nsec", nsec);
    line(out, "tx_bytes", p.tx_bytes);
    line(out, "rx_bytes", p.rx_bytes);
    auto keepalive = p.persistent_keepalive.count();
    line(out, "persistent_keepalive_interval",
         static_cast<std::uint64_t>(keepalive < 0 ? 0 : keepalive));
    for (const IpPrefix& a : p.allowed_ips) line(out, "allowed_ip", a.str());
  }
  out += "errno=0\n\n";
  return out;
}

std::string format_errno_reply(int errno_value) {
  if (errno_value == 0) return "errno=0\n\n";
  return "errno=-" + std::to_string(errno_value < 0 ? -errno_value : errno_value) + "\n\n";
}

std::string format_get_error_reply(int errno_value) {
  int n = errno_value < 0 ? -errno_value : errno_value;
  return "errno=" + std::to_string(n == 0 ? EIO : n) + "\n\n";
}

std::string format_set_request(const SetRequest& request) {
  std::string out = "set=1\n";
  if (request.private_key) line(out, "private_key", key_to_hex(*request.private_key));
  if (request.listen_port) line(out, "listen_port", *request.listen_port);
  if (request.fwmark) line(out, "fwmark", *request.fwmark);
  if (request.replace_peers) line(out, "replace_peers", "true");
  for (const PeerChange& p : request.peers) {
    line(out, "public_key", key_to_hex(p.public_key));
    if (p.remove) line(out, "remove", "true");
    if (p.update_only) line(out, "update_only", "true");
    if (p.preshared_key) line(out, "preshared_key", key_to_hex(*p.preshared_key));
    if (p.endpoint) line(out, "endpoint", endpoint_to_string(*p.endpoint));
    if (p.persistent_keepalive) {
      line(out, "persistent_keepalive_interval",
           static_cast<std::uint64_t>(p.persistent_keepalive->count()));
    }
    if (p.replace_allowed_ips) line(out, "replace_allowed_ips", "true");
    for (const IpPrefix& a : p.add_allowed_ips) line(out, "allowed_ip", a.str());
    for (const IpPrefix& a : p.remove_allowed_ips) {
      // Appended piecewise: `"-" + a.str()` trips GCC 12's false -Wrestrict at -O3.
      std::string removed = "-";
      removed += a.str();
      line(out, "allowed_ip", removed);
    }
  }
  out += "\n";
  return out;
}

}  // namespace causeway::fwd::uapi
