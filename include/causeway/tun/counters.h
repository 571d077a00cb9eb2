// SPDX-License-Identifier: Apache-2.0
// Drop reasons and events of the WireGuard core, declared once (name + help text) and exported
// as counters (STYLE.md 4). Every packet the core refuses is counted under exactly one drop
// reason; data-path calls also return the reason per packet.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace causeway::tun {

// X(enumerator, exported name, help text)
#define CAUSEWAY_TUN_DROP_REASONS(X)                                                            \
  X(kNone, "none", "not dropped")                                                               \
  X(kTruncated, "truncated", "datagram shorter than its message type requires")                 \
  X(kUnknownType, "unknown_type", "first byte is not a WireGuard message type 1-4")             \
  X(kBadSize, "bad_size", "handshake or cookie message of the wrong length")                    \
  X(kReservedNonZero, "reserved_nonzero", "reserved header bytes are not zero")                 \
  X(kBadMac1, "bad_mac1", "mac1 does not authenticate the message for our static key")          \
  X(kBadMac2, "bad_mac2", "under load and mac2 is missing or invalid: cookie reply sent")       \
  X(kRateLimited, "rate_limited", "handshake from a source above its rate while under load")    \
  X(kHandshakeDecrypt, "handshake_decrypt", "handshake AEAD failed (forged or wrong keys)")     \
  X(kUnknownPeer, "unknown_peer", "initiation's static key is not a configured peer")           \
  X(kBadPublicKey, "bad_public_key", "ephemeral or static key gives an invalid DH result")      \
  X(kReplayedTimestamp, "replayed_timestamp", "initiation TAI64N not newer than the last")      \
  X(kInitiationFlood, "initiation_flood", "initiations from one peer faster than 50/s")         \
  X(kUnknownIndex, "unknown_index", "receiver index matches no session or handshake")           \
  X(kUnexpectedResponse, "unexpected_response", "response or cookie for no pending initiation") \
  X(kCookieDecrypt, "cookie_decrypt", "cookie reply failed to authenticate")                    \
  X(kNoKeypair, "no_keypair", "no valid session to encrypt with (handshake requested)")         \
  X(kKeypairExpired, "keypair_expired", "session older than REJECT_AFTER_TIME")                 \
  X(kCounterExhausted, "counter_exhausted", "nonce counter reached REJECT_AFTER_MESSAGES")      \
  X(kNoRoom, "no_room", "caller buffer lacks the headroom/tailroom the contract requires")      \
  X(kAuthFailed, "auth_failed", "transport data failed authentication (forged/corrupt)")        \
  X(kReplayed, "replayed", "authenticated counter already seen or left of the window")          \
  X(kBadInnerPacket, "bad_inner_packet", "decrypted payload is not a valid IPv4/IPv6 packet")   \
  X(kInnerSourceNotAllowed, "inner_source_not_allowed", "inner source outside allowed IPs")     \
  X(kNoRoute, "no_route", "no peer's allowed IPs cover the inner destination")                  \
  X(kStagedOverflow, "staged_overflow", "staged queue full while waiting for a handshake")      \
  X(kNoEndpoint, "no_endpoint", "peer has no known endpoint to send to")                        \
  X(kNotConfigured, "not_configured", "device has no private key")

#define CAUSEWAY_TUN_EVENTS(X)                                                               \
  X(kRxData, "rx_data", "transport data messages authenticated and accepted")                \
  X(kRxKeepalive, "rx_keepalive", "authenticated keepalives received")                       \
  X(kTxData, "tx_data", "transport data messages encrypted")                                 \
  X(kTxKeepalive, "tx_keepalive", "keepalives sent")                                         \
  X(kRxInitiation, "rx_initiation", "handshake initiations consumed")                        \
  X(kRxResponse, "rx_response", "handshake responses consumed")                              \
  X(kRxCookie, "rx_cookie", "cookie replies consumed")                                       \
  X(kTxInitiation, "tx_initiation", "handshake initiations sent")                            \
  X(kTxResponse, "tx_response", "handshake responses sent")                                  \
  X(kTxCookie, "tx_cookie", "cookie replies sent (under load)")                              \
  X(kUnderLoadEntered, "under_load_entered", "times the responder switched to cookie mode")  \
  X(kSessionsDerived, "sessions_derived", "transport keypairs derived")                      \
  X(kHandshakeRetries, "handshake_retries", "initiations retransmitted after REKEY_TIMEOUT") \
  X(kHandshakeGiveUp, "handshake_give_up", "handshakes abandoned after REKEY_ATTEMPT_TIME")  \
  X(kKeysZeroed, "keys_zeroed", "peers whose keys were erased after 3*REJECT_AFTER_TIME")    \
  X(kRoamed, "roamed", "peer endpoints updated from authenticated packets")

enum class DropReason : std::uint8_t {
#define CAUSEWAY_X(e, name, help) e,
  CAUSEWAY_TUN_DROP_REASONS(CAUSEWAY_X)
#undef CAUSEWAY_X
};

enum class Event : std::uint8_t {
#define CAUSEWAY_X(e, name, help) e,
  CAUSEWAY_TUN_EVENTS(CAUSEWAY_X)
#undef CAUSEWAY_X
};

inline constexpr std::size_t kDropReasonCount = 0
#define CAUSEWAY_X(e, name, help) +1
    CAUSEWAY_TUN_DROP_REASONS(CAUSEWAY_X)
#undef CAUSEWAY_X
    ;
inline constexpr std::size_t kEventCount = 0
#define CAUSEWAY_X(e, name, help) +1
    CAUSEWAY_TUN_EVENTS(CAUSEWAY_X)
#undef CAUSEWAY_X
    ;

struct CounterInfo {
  std::string_view name;
  std::string_view help;
};

inline constexpr std::array<CounterInfo, kDropReasonCount> kDropReasonInfo = {{
#define CAUSEWAY_X(e, name, help) {name, help},
    CAUSEWAY_TUN_DROP_REASONS(CAUSEWAY_X)
#undef CAUSEWAY_X
}};
inline constexpr std::array<CounterInfo, kEventCount> kEventInfo = {{
#define CAUSEWAY_X(e, name, help) {name, help},
    CAUSEWAY_TUN_EVENTS(CAUSEWAY_X)
#undef CAUSEWAY_X
}};

inline constexpr std::string_view name_of(DropReason r) {
  return kDropReasonInfo[static_cast<std::size_t>(r)].name;
}
inline constexpr std::string_view name_of(Event e) {
  return kEventInfo[static_cast<std::size_t>(e)].name;
}

// Counter block of one thread: plain integers, so the control side and every worker count into
// their own block (see device.h) and a reader sums them.
struct Counters {
  std::array<std::uint64_t, kDropReasonCount> drops{};
  std::array<std::uint64_t, kEventCount> events{};

  void count(DropReason r, std::uint64_t n = 1) { drops[static_cast<std::size_t>(r)] += n; }
  void count(Event e, std::uint64_t n = 1) { events[static_cast<std::size_t>(e)] += n; }
  Counters& operator+=(const Counters& o) {
    for (std::size_t i = 0; i < drops.size(); ++i) drops[i] += o.drops[i];
    for (std::size_t i = 0; i < events.size(); ++i) events[i] += o.events[i];
    return *this;
  }
  [[nodiscard]] std::uint64_t operator[](DropReason r) const {
    return drops[static_cast<std::size_t>(r)];
  }
  [[nodiscard]] std::uint64_t operator[](Event e) const {
    return events[static_cast<std::size_t>(e)];
  }
};

}  // namespace causeway::tun
