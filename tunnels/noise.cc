// SPDX-License-Identifier: Apache-2.0
// Noise_IKpsk2 message processing (whitepaper section 5.4). Variable names follow the paper:
// C = chaining key, H = hash, k = AEAD key; each step carries the paper's formula as comment.
#include "noise.h"

#include <cstring>

namespace causeway::tun {
namespace {

using crypto::Bytes;

Bytes as_bytes(std::string_view s) {
  return Bytes(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

struct InitialState {
  crypto::Key chaining_key;
  crypto::Hash hash;
  InitialState() {
    chaining_key = crypto::hash(as_bytes(kConstruction));      // Ci = HASH(CONSTRUCTION)
    hash = crypto::hash(chaining_key, as_bytes(kIdentifier));  // Hi = HASH(Ci || IDENTIFIER)
  }
};
const InitialState& initial() {
  static const InitialState s;
  return s;
}

}  // namespace

Tai64n tai64n(std::chrono::system_clock::time_point wall) {
  using namespace std::chrono;
  const auto since = wall.time_since_epoch();
  const auto secs = duration_cast<seconds>(since);
  auto nanos = static_cast<std::uint32_t>(duration_cast<nanoseconds>(since - secs).count());
  nanos -= nanos % (1u << 24);  // whitening as in wireguard-go tai64n.go
  const std::uint64_t label = (1ull << 62) + 10 + static_cast<std::uint64_t>(secs.count());
  Tai64n t;
  for (int i = 0; i < 8; ++i) t[i] = static_cast<std::uint8_t>(label >> (56 - 8 * i));
  for (int i = 0; i < 4; ++i) t[8 + i] = static_cast<std::uint8_t>(nanos >> (24 - 8 * i));
  return t;
}

void NoiseHandshake::clear() noexcept {
  state = State::kZeroed;
  crypto::wipe(hash);
  crypto::wipe(chaining_key);
  local_ephemeral.clear();
  remote_ephemeral = {};
  local_index = 0;
  remote_index = 0;
}

crypto::Hash noise_initial_hash(const crypto::Key& responder_static) {
  return crypto::hash(initial().hash, responder_static);
}

bool noise_prepare_peer(const crypto::X25519Private& local_static, NoisePeerKeys& peer) {
  peer.initial_hash = noise_initial_hash(peer.remote_static);
  peer.static_static_valid = local_static.dh(peer.remote_static, peer.static_static);
  if (!peer.static_static_valid) crypto::wipe(peer.static_static);
  return peer.static_static_valid;
}

bool noise_create_initiation(const crypto::X25519Private& local_static, const NoisePeerKeys& peer,
                             NoiseHandshake& hs, const crypto::Key& ephemeral_private,
                             const Tai64n& timestamp, std::uint32_t sender_index,
                             HandshakeInitiation& out) {
  if (!peer.static_static_valid) return false;
  hs.clear();
  crypto::Key c = initial().chaining_key;
  crypto::Hash h = peer.initial_hash;  // Hi = HASH(Hi || Spub_r), precomputed
  if (!hs.local_ephemeral.set(ephemeral_private)) return false;  // (Epriv_i, Epub_i)
  out.sender = sender_index;
  out.ephemeral = hs.local_ephemeral.public_key();
  crypto::kdf1(c, c, out.ephemeral);   // Ci = KDF1(Ci, Epub_i)
  h = crypto::hash(h, out.ephemeral);  // Hi = HASH(Hi || Epub_i)
  crypto::Key es, k;
  if (!hs.local_ephemeral.dh(peer.remote_static, es)) return false;
  crypto::kdf2(c, k, c, es);  // (Ci, k) = KDF2(Ci, DH(Epriv_i, Spub_r))
  crypto::aead_seal(k, 0, local_static.public_key(), h, out.encrypted_static);
  h = crypto::hash(h, out.encrypted_static);  // Hi = HASH(Hi || static)
  crypto::kdf2(c, k, c, peer.static_static);  // (Ci, k) = KDF2(Ci, DH(Spriv_i, Spub_r))
  crypto::aead_seal(k, 0, timestamp, h, out.encrypted_timestamp);
  h = crypto::hash(h, out.encrypted_timestamp);  // Hi = HASH(Hi || timestamp)
  hs.hash = h;
  hs.chaining_key = c;
  hs.local_index = sender_index;
  hs.state = NoiseHandshake::State::kInitiationCreated;
  crypto::wipe(es);
  crypto::wipe(k);
  return true;
}

NoiseError noise_consume_initiation_static(const crypto::X25519Private& local_static,
                                           const crypto::Hash& initial_hash,
                                           const HandshakeInitiation& msg,
                                           InitiationInProgress& st) {
  crypto::Key c = initial().chaining_key;
  crypto::Hash h = initial_hash;
  crypto::kdf1(c, c, msg.ephemeral);
  h = crypto::hash(h, msg.ephemeral);
  crypto::Key es, k;
  if (!local_static.dh(msg.ephemeral, es)) return NoiseError::kBadPublicKey;
  crypto::kdf2(c, k, c, es);
  bool ok = crypto::aead_open(k, 0, msg.encrypted_static, h, st.remote_static);
  crypto::wipe(es);
  crypto::wipe(k);
  if (!ok) return NoiseError::kDecrypt;
  h = crypto::hash(h, msg.encrypted_static);
  st.hash = h;
  st.chaining_key = c;
  st.remote_ephemeral = msg.ephemeral;
  st.remote_index = msg.sender;
  return NoiseError::kOk;
}

NoiseError noise_consume_initiation_timestamp(const NoisePeerKeys& peer,
                                              const HandshakeInitiation& msg,
                                              InitiationInProgress& st, Tai64n& timestamp) {
  if (!peer.static_static_valid) return NoiseError::kBadPublicKey;
  crypto::Key k;
  crypto::kdf2(st.chaining_key, k, st.chaining_key, peer.static_static);
  bool ok = crypto::aead_open(k, 0, msg.encrypted_timestamp, st.hash, timestamp);
  crypto::wipe(k);
  if (!ok) return NoiseError::kDecrypt;
  st.hash = crypto::hash(st.hash, msg.encrypted_timestamp);
  return NoiseError::kOk;
}

bool noise_create_response(const NoisePeerKeys& peer, NoiseHandshake& hs,
                           const crypto::Key& ephemeral_private, std::uint32_t sender_index,
                           HandshakeResponse& out) {
  if (hs.state != NoiseHandshake::State::kInitiationConsumed) return false;
  crypto::Key c = hs.chaining_key;
  crypto::Hash h = hs.hash;
  if (!hs.local_ephemeral.set(ephemeral_private)) return false;  // (Epriv_r, Epub_r)
  out.sender = sender_index;
  out.receiver = hs.remote_index;
  out.ephemeral = hs.local_ephemeral.public_key();
  crypto::kdf1(c, c, out.ephemeral);   // Cr = KDF1(Cr, Epub_r)
  h = crypto::hash(h, out.ephemeral);  // Hr = HASH(Hr || Epub_r)
  crypto::Key dh;
  if (!hs.local_ephemeral.dh(hs.remote_ephemeral, dh)) return false;
  crypto::kdf1(c, c, dh);  // Cr = KDF1(Cr, DH(Epriv_r, Epub_i))
  if (!hs.local_ephemeral.dh(peer.remote_static, dh)) return false;
  crypto::kdf1(c, c, dh);  // Cr = KDF1(Cr, DH(Epriv_r, Spub_i))
  crypto::Key tau, k;
  crypto::kdf3(c, tau, k, c, peer.preshared);             // (Cr, tau, k) = KDF3(Cr, Q)
  h = crypto::hash(h, tau);                               // Hr = HASH(Hr || tau)
  crypto::aead_seal(k, 0, {}, h, out.encrypted_nothing);  // empty = AEAD(k, 0, e, Hr)
  h = crypto::hash(h, out.encrypted_nothing);
  hs.hash = h;
  hs.chaining_key = c;
  hs.local_index = sender_index;
  hs.state = NoiseHandshake::State::kResponseCreated;
  crypto::wipe(dh);
  crypto::wipe(tau);
  crypto::wipe(k);
  return true;
}

NoiseError noise_consume_response(const crypto::X25519Private& local_static,
                                  const NoisePeerKeys& peer, const NoiseHandshake& hs,
                                  const HandshakeResponse& msg, crypto::Hash& hash_out,
                                  crypto::Key& chaining_key_out) {
  crypto::Key c = hs.chaining_key;
  crypto::Hash h = hs.hash;
  crypto::kdf1(c, c, msg.ephemeral);
  h = crypto::hash(h, msg.ephemeral);
  crypto::Key dh;
  if (!hs.local_ephemeral.dh(msg.ephemeral, dh)) return NoiseError::kBadPublicKey;
  crypto::kdf1(c, c, dh);  // DH(Epriv_i, Epub_r)
  if (!local_static.dh(msg.ephemeral, dh)) return NoiseError::kBadPublicKey;
  crypto::kdf1(c, c, dh);  // DH(Spriv_i, Epub_r)
  crypto::Key tau, k;
  crypto::kdf3(c, tau, k, c, peer.preshared);
  h = crypto::hash(h, tau);
  std::uint8_t nothing[1];
  bool ok = crypto::aead_open(k, 0, msg.encrypted_nothing, h, crypto::MutBytes(nothing, 0));
  crypto::wipe(dh);
  crypto::wipe(tau);
  crypto::wipe(k);
  if (!ok) return NoiseError::kDecrypt;
  hash_out = crypto::hash(h, msg.encrypted_nothing);
  chaining_key_out = c;
  return NoiseError::kOk;
}

void noise_derive_keys(const crypto::Key& chaining_key, bool initiator, crypto::Key& send,
                       crypto::Key& recv) {
  crypto::Key t1, t2;
  crypto::kdf2(t1, t2, chaining_key, {});  // (T_i->r, T_r->i) = KDF2(C, e)
  send = initiator ? t1 : t2;
  recv = initiator ? t2 : t1;
  crypto::wipe(t1);
  crypto::wipe(t2);
}

crypto::Key mac1_key_for(const crypto::Key& static_public) {
  return crypto::hash(as_bytes(kLabelMac1), static_public);
}
crypto::Key cookie_key_for(const crypto::Key& static_public) {
  return crypto::hash(as_bytes(kLabelCookie), static_public);
}

}  // namespace causeway::tun
