// SPDX-License-Identifier: Apache-2.0
// Noise_IKpsk2 as WireGuard instantiates it (whitepaper section 5.4.2-5.4.5), with no state
// beyond what the caller passes in: the device's static key, one peer's keys and that peer's
// handshake state. Randomness (the ephemeral scalar) and the TAI64N timestamp are inputs, so
// the key schedule is deterministic under test.
//
// Flow: initiator  create_initiation ------(type 1)------> responder consume_initiation
//                  consume_response <------(type 2)------- create_response
//       both       derive_keys -> (send key, receive key) for the new keypair.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>

#include "causeway/tun/messages.h"
#include "crypto.h"

namespace causeway::tun {

using Tai64n = std::array<std::uint8_t, kTimestampLen>;

// TAI64N label of a wall-clock time (big endian seconds + 2^62 + 10, then nanoseconds rounded
// down to 2^24 ns as wireguard-go does, so the timestamp leaks less about the clock).
Tai64n tai64n(std::chrono::system_clock::time_point wall);

struct NoisePeerKeys {
  crypto::Key remote_static{};
  crypto::Hash initial_hash{};  // HASH(HASH(C || IDENTIFIER) || S_pub_r), fixed per peer
  crypto::Key preshared{};
  crypto::Key static_static{};  // DH(S_priv_local, S_pub_remote), precomputed
  bool static_static_valid = false;
};

struct NoiseHandshake {
  enum class State : std::uint8_t {
    kZeroed,
    kInitiationCreated,
    kInitiationConsumed,
    kResponseCreated,
    kResponseConsumed,
  };
  State state = State::kZeroed;
  crypto::Hash hash{};
  crypto::Key chaining_key{};
  crypto::X25519Private local_ephemeral;
  crypto::Key remote_ephemeral{};
  std::uint32_t local_index = 0;
  std::uint32_t remote_index = 0;

  void clear() noexcept;
};

// Precomputes the static-static DH and checks the remote key is usable.
[[nodiscard]] bool noise_prepare_peer(const crypto::X25519Private& local_static,
                                      NoisePeerKeys& peer);

// Initiator, section 5.4.2. Fills every field but mac1/mac2.
[[nodiscard]] bool noise_create_initiation(const crypto::X25519Private& local_static,
                                           const NoisePeerKeys& peer, NoiseHandshake& hs,
                                           const crypto::Key& ephemeral_private,
                                           const Tai64n& timestamp, std::uint32_t sender_index,
                                           HandshakeInitiation& out);

// HASH(HASH(HASH(CONSTRUCTION) || IDENTIFIER) || responder_static): the initial transcript
// hash, constant per responder key (precomputed by both sides).
crypto::Hash noise_initial_hash(const crypto::Key& responder_static);

// Responder, section 5.4.2 first half: decrypts the initiator's static key. initial_hash is
// noise_initial_hash(local static public key).
struct InitiationInProgress {
  crypto::Hash hash{};
  crypto::Key chaining_key{};
  crypto::Key remote_ephemeral{};
  crypto::Key remote_static{};
  std::uint32_t remote_index = 0;
};
enum class NoiseError : std::uint8_t { kOk, kBadPublicKey, kDecrypt };
[[nodiscard]] NoiseError noise_consume_initiation_static(const crypto::X25519Private& local_static,
                                                         const crypto::Hash& initial_hash,
                                                         const HandshakeInitiation& msg,
                                                         InitiationInProgress& st);
// Second half, once the peer is known: decrypts the timestamp.
[[nodiscard]] NoiseError noise_consume_initiation_timestamp(const NoisePeerKeys& peer,
                                                            const HandshakeInitiation& msg,
                                                            InitiationInProgress& st,
                                                            Tai64n& timestamp);

// Responder, section 5.4.3. hs must hold the consumed initiation (state kInitiationConsumed).
[[nodiscard]] bool noise_create_response(const NoisePeerKeys& peer, NoiseHandshake& hs,
                                         const crypto::Key& ephemeral_private,
                                         std::uint32_t sender_index, HandshakeResponse& out);

// Initiator, section 5.4.3, for hs in state kInitiationCreated.
[[nodiscard]] NoiseError noise_consume_response(const crypto::X25519Private& local_static,
                                                const NoisePeerKeys& peer, const NoiseHandshake& hs,
                                                const HandshakeResponse& msg,
                                                crypto::Hash& hash_out,
                                                crypto::Key& chaining_key_out);

// Section 5.4.5: (T_send, T_recv) from the final chaining key, oriented for our role.
void noise_derive_keys(const crypto::Key& chaining_key, bool initiator, crypto::Key& send,
                       crypto::Key& recv);

// Section 5.4.4: mac1 key = HASH(LABEL_MAC1 || S_pub), cookie key = HASH(LABEL_COOKIE || S_pub).
crypto::Key mac1_key_for(const crypto::Key& static_public);
crypto::Key cookie_key_for(const crypto::Key& static_public);

}  // namespace causeway::tun
