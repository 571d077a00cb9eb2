// SPDX-License-Identifier: Apache-2.0
// Cryptographic primitives of WireGuard (whitepaper section 5.4 "Protocol & Cryptography"):
// HASH = BLAKE2s-256, MAC = keyed BLAKE2s-128, HMAC = HMAC-BLAKE2s, HKDF on top of it, AEAD =
// ChaCha20-Poly1305 (RFC 8439), XAEAD = XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha), DH =
// X25519 (RFC 7748). Everything comes from OpenSSL 3 libcrypto except HChaCha20, which
// libcrypto does not expose (hchacha20.cc).
//
// Flow: handshake code (noise.cc, cookie.cc) calls the one-shot functions on the control
// thread; the data path uses AeadContext, whose EVP context is keyed once per keypair and
// reused for every packet with only the nonce changing.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

#include <openssl/evp.h>

namespace causeway::tun::crypto {

inline constexpr std::size_t kKeyLen = 32;
inline constexpr std::size_t kHashLen = 32;
inline constexpr std::size_t kTagLen = 16;
inline constexpr std::size_t kMacLen = 16;
inline constexpr std::size_t kXNonceLen = 24;

using Key = std::array<std::uint8_t, kKeyLen>;
using Hash = std::array<std::uint8_t, kHashLen>;
using Mac = std::array<std::uint8_t, kMacLen>;
using Bytes = std::span<const std::uint8_t>;
using MutBytes = std::span<std::uint8_t>;

// Best-effort zeroing that the compiler may not elide.
void wipe(void* p, std::size_t n) noexcept;
template <typename T, std::size_t N>
void wipe(std::array<T, N>& a) noexcept {
  wipe(a.data(), sizeof(T) * N);
}

// Constant-time comparison.
[[nodiscard]] bool equal(Bytes a, Bytes b) noexcept;

// HASH(a || b || ...) with BLAKE2s-256.
Hash hash(Bytes a, Bytes b = {}, Bytes c = {}) noexcept;
// MAC(key, input): keyed BLAKE2s with a 16-byte output (mac1, mac2, cookie).
Mac mac(Bytes key, Bytes input) noexcept;
// Keyed BLAKE2s with an arbitrary output length 1..32 (exposed for the RFC 7693 self-test).
void blake2s_keyed(Bytes key, Bytes input, MutBytes out) noexcept;
// HMAC(key, a || b) with BLAKE2s-256 (RFC 2104, block size 64).
Hash hmac(Bytes key, Bytes a, Bytes b = {}) noexcept;
// HKDF as the whitepaper defines KDF_n (section 5.4): tau0 = HMAC(key, input),
// tau1 = HMAC(tau0, 0x1), tau_i = HMAC(tau0, tau_{i-1} || i). Writes out.size() outputs (1..3).
void kdf(Bytes key, Bytes input, std::span<Key*> out) noexcept;
void kdf1(Key& out1, Bytes key, Bytes input) noexcept;
void kdf2(Key& out1, Key& out2, Bytes key, Bytes input) noexcept;
void kdf3(Key& out1, Key& out2, Key& out3, Bytes key, Bytes input) noexcept;

// AEAD(key, counter, plain, aad): ChaCha20-Poly1305 with nonce 0^32 || LE64(counter).
// out must hold plain.size() + 16 bytes. Returns false only if libcrypto fails.
bool aead_seal(const Key& key, std::uint64_t counter, Bytes plain, Bytes aad,
               MutBytes out) noexcept;
// out must hold sealed.size() - 16 bytes; false on authentication failure.
[[nodiscard]] bool aead_open(const Key& key, std::uint64_t counter, Bytes sealed, Bytes aad,
                             MutBytes out) noexcept;
// Raw RFC 8439 AEAD with an explicit 12-byte nonce (for the known-answer tests and XAEAD).
bool chacha20poly1305_seal(const Key& key, const std::uint8_t nonce[12], Bytes plain, Bytes aad,
                           MutBytes out) noexcept;
[[nodiscard]] bool chacha20poly1305_open(const Key& key, const std::uint8_t nonce[12], Bytes sealed,
                                         Bytes aad, MutBytes out) noexcept;

// HChaCha20 (draft-irtf-cfrg-xchacha section 2.2): 32-byte key, 16-byte nonce -> subkey.
Key hchacha20(const Key& key, const std::uint8_t nonce[16]) noexcept;
// XAEAD (draft-irtf-cfrg-xchacha section 2.3), 24-byte nonce.
bool xaead_seal(const Key& key, const std::uint8_t nonce[kXNonceLen], Bytes plain, Bytes aad,
                MutBytes out) noexcept;
[[nodiscard]] bool xaead_open(const Key& key, const std::uint8_t nonce[kXNonceLen], Bytes sealed,
                              Bytes aad, MutBytes out) noexcept;

// X25519 (RFC 7748). A private key object keeps its EVP_PKEY and a derive context prepared once,
// so each DH costs one libcrypto scalar multiplication plus a public-key update (no import, no
// context allocation). Not thread-safe: one object is used by one thread at a time.
class X25519Private {
 public:
  X25519Private() = default;
  ~X25519Private();
  X25519Private(const X25519Private&) = delete;
  X25519Private& operator=(const X25519Private&) = delete;
  X25519Private(X25519Private&& o) noexcept;
  X25519Private& operator=(X25519Private&& o) noexcept;

  // Imports a raw private scalar (clamped by X25519 itself) and computes its public key.
  [[nodiscard]] bool set(const Key& raw) noexcept;
  [[nodiscard]] bool valid() const noexcept { return pkey_ != nullptr; }
  [[nodiscard]] const Key& public_key() const noexcept { return public_; }
  [[nodiscard]] const Key& private_key() const noexcept { return private_; }
  // DH(private, peer_public); false if the peer key is invalid or the result is all zeros.
  [[nodiscard]] bool dh(const Key& peer_public, Key& out) const noexcept;
  void clear() noexcept;

 private:
  [[nodiscard]] bool derive(EVP_PKEY* peer, Key& out) const noexcept;

  EVP_PKEY* pkey_ = nullptr;
  EVP_PKEY_CTX* ctx_ = nullptr;  // derive context of pkey_, peer reset per call
  Key private_{};
  Key public_{};
};

// Raw scalar multiplication helper for the RFC 7748 vectors: out = X25519(scalar, u).
[[nodiscard]] bool x25519(const Key& scalar, const Key& u, Key& out) noexcept;

// Data-path AEAD: one EVP context keyed once, then one call per packet in place.
class AeadContext {
 public:
  AeadContext() = default;
  ~AeadContext();
  AeadContext(const AeadContext&) = delete;
  AeadContext& operator=(const AeadContext&) = delete;

  [[nodiscard]] bool init(const Key& key, bool encrypt) noexcept;
  [[nodiscard]] bool ready() const noexcept { return ctx_ != nullptr; }
  // Encrypts data[0..len) in place and writes the 16-byte tag at data + len.
  [[nodiscard]] bool seal(std::uint64_t counter, std::uint8_t* data, std::size_t len) noexcept;
  // Decrypts data[0..len) in place, checking the tag at data + len; false if forged.
  [[nodiscard]] bool open(std::uint64_t counter, std::uint8_t* data, std::size_t len) noexcept;
  void reset() noexcept;

 private:
  EVP_CIPHER_CTX* ctx_ = nullptr;
};

// Fetched algorithm handles, created once per process.
const EVP_CIPHER* chacha20poly1305_cipher() noexcept;

}  // namespace causeway::tun::crypto
