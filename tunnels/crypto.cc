// SPDX-License-Identifier: Apache-2.0
// OpenSSL 3 back-end of the WireGuard primitives (see crypto.h). Algorithm handles are fetched
// once per process; per-thread scratch contexts avoid an allocation per handshake step.
#include "crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/params.h>

#include <cstring>

namespace causeway::tun::crypto {
namespace {

constexpr std::size_t kBlake2sBlockLen = 64;  // HMAC block size (RFC 2104 "B")

struct Algorithms {
  EVP_MD* blake2s = EVP_MD_fetch(nullptr, "BLAKE2S-256", nullptr);
  EVP_MAC* blake2s_mac = EVP_MAC_fetch(nullptr, "BLAKE2SMAC", nullptr);
  EVP_CIPHER* chacha = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
};

const Algorithms& algorithms() noexcept {
  static const Algorithms a;
  return a;
}

// Per-thread scratch contexts (each thread runs its own handshakes).
struct Scratch {
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  EVP_MAC_CTX* mac = EVP_MAC_CTX_new(algorithms().blake2s_mac);
  EVP_CIPHER_CTX* cipher = EVP_CIPHER_CTX_new();
  // The one-shot AEAD context keeps its cipher bound; calls only re-key it (no re-fetch).
  Scratch() { EVP_CipherInit_ex2(cipher, algorithms().chacha, nullptr, nullptr, 1, nullptr); }
  ~Scratch() {
    EVP_MD_CTX_free(md);
    EVP_MAC_CTX_free(mac);
    EVP_CIPHER_CTX_free(cipher);
  }
};

Scratch& scratch() noexcept {
  thread_local Scratch s;
  return s;
}

void digest(std::initializer_list<Bytes> parts, std::uint8_t out[kHashLen]) noexcept {
  EVP_MD_CTX* ctx = scratch().md;
  EVP_DigestInit_ex2(ctx, algorithms().blake2s, nullptr);
  for (Bytes p : parts) {
    if (!p.empty()) EVP_DigestUpdate(ctx, p.data(), p.size());
  }
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, out, &len);
}

bool aead_raw(bool encrypt, const Key& key, const std::uint8_t nonce[12], Bytes in, Bytes aad,
              MutBytes out) noexcept {
  const std::size_t plain_len = encrypt ? in.size() : in.size() - kTagLen;
  if (!encrypt && in.size() < kTagLen) return false;
  if (out.size() < (encrypt ? in.size() + kTagLen : plain_len)) return false;
  EVP_CIPHER_CTX* ctx = scratch().cipher;
  if (EVP_CipherInit_ex2(ctx, algorithms().chacha, key.data(), nonce, encrypt ? 1 : 0, nullptr) !=
      1) {
    return false;
  }
  int outl = 0;
  if (!aad.empty() &&
      EVP_CipherUpdate(ctx, nullptr, &outl, aad.data(), static_cast<int>(aad.size())) != 1) {
    return false;
  }
  if (plain_len > 0 &&
      EVP_CipherUpdate(ctx, out.data(), &outl, in.data(), static_cast<int>(plain_len)) != 1) {
    return false;
  }
  if (!encrypt) {
    std::uint8_t tag[kTagLen];
    std::memcpy(tag, in.data() + plain_len, kTagLen);
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, kTagLen, tag) != 1) return false;
  }
  int fin = 0;
  if (EVP_CipherFinal_ex(ctx, out.data() + plain_len, &fin) != 1) return false;
  if (encrypt &&
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, kTagLen, out.data() + plain_len) != 1) {
    return false;
  }
  return true;
}

void counter_nonce(std::uint64_t counter, std::uint8_t nonce[12]) noexcept {
  std::memset(nonce, 0, 4);
  for (int i = 0; i < 8; ++i) nonce[4 + i] = static_cast<std::uint8_t>(counter >> (8 * i));
}

}  // namespace

void wipe(void* p, std::size_t n) noexcept {
  OPENSSL_cleanse(p, n);
}

bool equal(Bytes a, Bytes b) noexcept {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

Hash hash(Bytes a, Bytes b, Bytes c) noexcept {
  Hash h;
  digest({a, b, c}, h.data());
  return h;
}

void blake2s_keyed(Bytes key, Bytes input, MutBytes out) noexcept {
  EVP_MAC_CTX* ctx = scratch().mac;
  std::size_t size = out.size();
  OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
                         OSSL_PARAM_construct_end()};
  EVP_MAC_init(ctx, key.data(), key.size(), params);
  if (!input.empty()) EVP_MAC_update(ctx, input.data(), input.size());
  std::size_t len = 0;
  EVP_MAC_final(ctx, out.data(), &len, out.size());
}

Mac mac(Bytes key, Bytes input) noexcept {
  Mac m;
  blake2s_keyed(key, input, m);
  return m;
}

Hash hmac(Bytes key, Bytes a, Bytes b) noexcept {
  std::uint8_t k[kBlake2sBlockLen] = {};
  if (key.size() > kBlake2sBlockLen) {
    digest({key}, k);
  } else if (!key.empty()) {
    std::memcpy(k, key.data(), key.size());
  }
  std::uint8_t pad[kBlake2sBlockLen];
  for (std::size_t i = 0; i < kBlake2sBlockLen; ++i) pad[i] = k[i] ^ 0x36;
  std::uint8_t inner[kHashLen];
  digest({Bytes(pad, sizeof(pad)), a, b}, inner);
  for (std::size_t i = 0; i < kBlake2sBlockLen; ++i) pad[i] = k[i] ^ 0x5c;
  Hash h;
  digest({Bytes(pad, sizeof(pad)), Bytes(inner, sizeof(inner))}, h.data());
  wipe(k, sizeof(k));
  wipe(pad, sizeof(pad));
  wipe(inner, sizeof(inner));
  return h;
}

void kdf(Bytes key, Bytes input, std::span<Key*> out) noexcept {
  Hash t0 = hmac(key, input);
  Hash prev{};
  for (std::size_t i = 0; i < out.size(); ++i) {
    const std::uint8_t idx = static_cast<std::uint8_t>(i + 1);
    prev = i == 0 ? hmac(t0, Bytes(&idx, 1)) : hmac(t0, prev, Bytes(&idx, 1));
    *out[i] = prev;
  }
  wipe(t0);
  wipe(prev);
}

void kdf1(Key& out1, Bytes key, Bytes input) noexcept {
  Key* o[] = {&out1};
  kdf(key, input, o);
}
void kdf2(Key& out1, Key& out2, Bytes key, Bytes input) noexcept {
  Key* o[] = {&out1, &out2};
  kdf(key, input, o);
}
void kdf3(Key& out1, Key& out2, Key& out3, Bytes key, Bytes input) noexcept {
  Key* o[] = {&out1, &out2, &out3};
  kdf(key, input, o);
}

bool chacha20poly1305_seal(const Key& key, const std::uint8_t nonce[12], Bytes plain, Bytes aad,
                           MutBytes out) noexcept {
  return aead_raw(true, key, nonce, plain, aad, out);
}
bool chacha20poly1305_open(const Key& key, const std::uint8_t nonce[12], Bytes sealed, Bytes aad,
                           MutBytes out) noexcept {
  return aead_raw(false, key, nonce, sealed, aad, out);
}

bool aead_seal(const Key& key, std::uint64_t counter, Bytes plain, Bytes aad,
               MutBytes out) noexcept {
  std::uint8_t nonce[12];
  counter_nonce(counter, nonce);
  return aead_raw(true, key, nonce, plain, aad, out);
}
bool aead_open(const Key& key, std::uint64_t counter, Bytes sealed, Bytes aad,
               MutBytes out) noexcept {
  std::uint8_t nonce[12];
  counter_nonce(counter, nonce);
  return aead_raw(false, key, nonce, sealed, aad, out);
}

bool xaead_seal(const Key& key, const std::uint8_t nonce[kXNonceLen], Bytes plain, Bytes aad,
                MutBytes out) noexcept {
  Key sub = hchacha20(key, nonce);
  std::uint8_t n[12] = {};
  std::memcpy(n + 4, nonce + 16, 8);
  bool ok = aead_raw(true, sub, n, plain, aad, out);
  wipe(sub);
  return ok;
}
bool xaead_open(const Key& key, const std::uint8_t nonce[kXNonceLen], Bytes sealed, Bytes aad,
                MutBytes out) noexcept {
  Key sub = hchacha20(key, nonce);
  std::uint8_t n[12] = {};
  std::memcpy(n + 4, nonce + 16, 8);
  bool ok = aead_raw(false, sub, n, sealed, aad, out);
  wipe(sub);
  return ok;
}

// ---- X25519 ----
//
// libcrypto computes X25519 public keys on import with a slower generic fixed-base routine,
// while EVP_PKEY_derive uses its optimised ladder. set() therefore imports the private scalar
// together with a placeholder public key (no computation) and obtains the real public key as
// DH(k, 9) (RFC 7748 section 6.1: the public key is X25519(k, 9)). The placeholder is never
// read: derive uses only the private half of our key and the peer's public key.

namespace {
struct X25519Scratch {
  EVP_PKEY_CTX* fromdata = EVP_PKEY_CTX_new_from_name(nullptr, "X25519", nullptr);
  EVP_PKEY* base_point = nullptr;  // u = 9
  EVP_PKEY* peer = nullptr;        // reused for every peer public key (set1_encoded)
  X25519Scratch() {
    EVP_PKEY_fromdata_init(fromdata);
    const std::uint8_t nine[32] = {9};
    base_point = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, nine, 32);
    peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, nine, 32);
  }
  ~X25519Scratch() {
    EVP_PKEY_CTX_free(fromdata);
    EVP_PKEY_free(base_point);
    EVP_PKEY_free(peer);
  }
};
X25519Scratch& x25519_scratch() noexcept {
  thread_local X25519Scratch s;
  return s;
}
}  // namespace

X25519Private::~X25519Private() {
  clear();
}

X25519Private::X25519Private(X25519Private&& o) noexcept
    : pkey_(o.pkey_), ctx_(o.ctx_), private_(o.private_), public_(o.public_) {
  o.pkey_ = nullptr;
  o.ctx_ = nullptr;
  wipe(o.private_);
}

X25519Private& X25519Private::operator=(X25519Private&& o) noexcept {
  if (this != &o) {
    clear();
    pkey_ = o.pkey_;
    ctx_ = o.ctx_;
    private_ = o.private_;
    public_ = o.public_;
    o.pkey_ = nullptr;
    o.ctx_ = nullptr;
    wipe(o.private_);
  }
  return *this;
}

void X25519Private::clear() noexcept {
  EVP_PKEY_CTX_free(ctx_);
  ctx_ = nullptr;
  EVP_PKEY_free(pkey_);  // libcrypto cleanses the key material
  pkey_ = nullptr;
  wipe(private_);
  public_ = {};
}

bool X25519Private::set(const Key& raw) noexcept {
  clear();
  X25519Scratch& s = x25519_scratch();
  Key scalar = raw;
  std::uint8_t placeholder[32] = {9};
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, scalar.data(), scalar.size()),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, placeholder, 32),
      OSSL_PARAM_construct_end()};
  const bool imported = EVP_PKEY_fromdata(s.fromdata, &pkey_, EVP_PKEY_KEYPAIR, params) == 1;
  wipe(scalar);
  if (!imported) {
    pkey_ = nullptr;
    return false;
  }
  ctx_ = EVP_PKEY_CTX_new(pkey_, nullptr);
  if (ctx_ == nullptr || EVP_PKEY_derive_init(ctx_) != 1 || !derive(s.base_point, public_)) {
    clear();
    return false;
  }
  private_ = raw;
  return true;
}

bool X25519Private::derive(EVP_PKEY* peer, Key& out) const noexcept {
  std::size_t len = out.size();
  if (EVP_PKEY_derive_set_peer_ex(ctx_, peer, 0) != 1 ||
      EVP_PKEY_derive(ctx_, out.data(), &len) != 1 || len != out.size()) {
    return false;
  }
  std::uint8_t acc = 0;
  for (auto b : out) acc |= b;
  return acc != 0;  // RFC 7748 section 6.1: reject the all-zero shared secret
}

bool X25519Private::dh(const Key& peer_public, Key& out) const noexcept {
  if (ctx_ == nullptr) return false;
  EVP_PKEY* peer = x25519_scratch().peer;
  if (EVP_PKEY_set1_encoded_public_key(peer, peer_public.data(), peer_public.size()) != 1) {
    return false;
  }
  return derive(peer, out);
}

bool x25519(const Key& scalar, const Key& u, Key& out) noexcept {
  X25519Private k;
  if (!k.set(scalar)) return false;
  return k.dh(u, out);
}

// ---- data-path AEAD ----

const EVP_CIPHER* chacha20poly1305_cipher() noexcept {
  return algorithms().chacha;
}

AeadContext::~AeadContext() {
  reset();
}

void AeadContext::reset() noexcept {
  EVP_CIPHER_CTX_free(ctx_);  // also cleanses the key schedule
  ctx_ = nullptr;
}

bool AeadContext::init(const Key& key, bool encrypt) noexcept {
  reset();
  ctx_ = EVP_CIPHER_CTX_new();
  if (ctx_ == nullptr) return false;
  if (EVP_CipherInit_ex2(ctx_, algorithms().chacha, key.data(), nullptr, encrypt ? 1 : 0,
                         nullptr) != 1) {
    reset();
    return false;
  }
  return true;
}

bool AeadContext::seal(std::uint64_t counter, std::uint8_t* data, std::size_t len) noexcept {
  std::uint8_t nonce[12];
  counter_nonce(counter, nonce);
  int outl = 0;
  if (EVP_CipherInit_ex2(ctx_, nullptr, nullptr, nonce, -1, nullptr) != 1) return false;
  if (len > 0 && EVP_CipherUpdate(ctx_, data, &outl, data, static_cast<int>(len)) != 1) {
    return false;
  }
  if (EVP_CipherFinal_ex(ctx_, data + len, &outl) != 1) return false;
  return EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_GET_TAG, kTagLen, data + len) == 1;
}

bool AeadContext::open(std::uint64_t counter, std::uint8_t* data, std::size_t len) noexcept {
  std::uint8_t nonce[12];
  counter_nonce(counter, nonce);
  int outl = 0;
  if (EVP_CipherInit_ex2(ctx_, nullptr, nullptr, nonce, -1, nullptr) != 1) return false;
  if (EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_SET_TAG, kTagLen, data + len) != 1) return false;
  if (len > 0 && EVP_CipherUpdate(ctx_, data, &outl, data, static_cast<int>(len)) != 1) {
    return false;
  }
  return EVP_CipherFinal_ex(ctx_, data + len, &outl) == 1;
}

}  // namespace causeway::tun::crypto
