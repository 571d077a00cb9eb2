// SPDX-License-Identifier: Apache-2.0
// WireGuard protocol constants, named as in the whitepaper ("WireGuard: Next Generation
// Kernel Network Tunnel", J. A. Donenfeld, revision e2da747), kept apart from the
// implementation constants below them.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace causeway::tun {

using Nanos = std::chrono::nanoseconds;  // monotonic time given by the caller

// ---- Specification (whitepaper section 5.4 and section 6.1 "Timers & Stateless UX") ----
inline constexpr std::string_view kConstruction = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
inline constexpr std::string_view kIdentifier = "WireGuard v1 zx2c4 Jason@zx2c4.com";
inline constexpr std::string_view kLabelMac1 = "mac1----";
inline constexpr std::string_view kLabelCookie = "cookie--";

// Section 5.4: message types.
inline constexpr std::uint8_t kMessageHandshakeInitiation = 1;
inline constexpr std::uint8_t kMessageHandshakeResponse = 2;
inline constexpr std::uint8_t kMessageCookieReply = 3;
inline constexpr std::uint8_t kMessageTransportData = 4;

// Section 6.1 (table of constants).
inline constexpr std::uint64_t kRekeyAfterMessages = 1ull << 60;
inline constexpr std::uint64_t kRejectAfterMessages = ~0ull - (1ull << 13);  // 2^64 - 2^13 - 1
inline constexpr Nanos kRekeyAfterTime = std::chrono::seconds(120);
inline constexpr Nanos kRejectAfterTime = std::chrono::seconds(180);
inline constexpr Nanos kRekeyAttemptTime = std::chrono::seconds(90);
inline constexpr Nanos kRekeyTimeout = std::chrono::seconds(5);
inline constexpr Nanos kKeepaliveTimeout = std::chrono::seconds(10);
// Section 5.4.7: the cookie secret changes every two minutes; a received cookie is used for
// at most that long.
inline constexpr Nanos kCookieSecretMaxAge = std::chrono::seconds(120);
// Section 6.3: handshake retry jitter, up to a third of a second.
inline constexpr Nanos kRekeyTimeoutJitterMax = std::chrono::milliseconds(333);

// ---- Implementation constants (values used by wireguard-go and Linux) ----
// Keys are erased after three times REJECT_AFTER_TIME without a new handshake (section 6.3).
inline constexpr Nanos kZeroKeyMaterialAfter = 3 * kRejectAfterTime;
// Handshake retries before giving up: REKEY_ATTEMPT_TIME / REKEY_TIMEOUT.
inline constexpr int kMaxHandshakeAttempts = 18;
// Minimum spacing of accepted initiations from one peer (wireguard-go HandshakeInitationRate).
inline constexpr Nanos kMinInitiationInterval = std::chrono::milliseconds(20);
// A responder stays in cookie mode this long after the load drops.
inline constexpr Nanos kUnderLoadAfterTime = std::chrono::seconds(1);
// Packets queued per peer while its handshake completes (control-path send only).
inline constexpr std::size_t kMaxStagedPackets = 128;
// Replay window (RFC 6479): ring of 64-bit blocks; window = (blocks - 1) * 64 = 4032 >= 2048.
inline constexpr std::size_t kReplayRingBlocks = 64;
inline constexpr std::uint64_t kReplayWindowSize = (kReplayRingBlocks - 1) * 64;

}  // namespace causeway::tun
