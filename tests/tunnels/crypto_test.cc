// SPDX-License-Identifier: Apache-2.0
// Known-answer tests for every primitive WireGuard uses, from the published vectors:
// RFC 7748 (X25519), RFC 8439 (ChaCha20-Poly1305), RFC 7693 (BLAKE2s), wireguard-go's KDF
// vectors (HMAC-BLAKE2s/HKDF), draft-irtf-cfrg-xchacha-03 (HChaCha20, XChaCha20-Poly1305).
#include <openssl/core_names.h>
#include <openssl/evp.h>

#include <catch2/catch.hpp>
#include <string>

#include "crypto.h"
#include "test_util.h"

using namespace causeway::tun;
using namespace causeway::tun::test;

namespace {

const std::string kSunscreen =
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the "
    "future, sunscreen would be it.";

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// RFC 7693 reference BLAKE2s (test-only, used to check OpenSSL's keyed MAC at the 16-byte
// output WireGuard uses, which OpenSSL's unkeyed digest cannot produce).
struct RefBlake2s {
  std::uint8_t b[64];
  std::uint32_t h[8];
  std::uint32_t t[2];
  std::size_t c;
  std::size_t outlen;
  static constexpr std::uint32_t kIv[8] = {0x6A09E667, 0xBB67AE85, 0x3C6EF372, 0xA54FF53A,
                                           0x510E527F, 0x9B05688C, 0x1F83D9AB, 0x5BE0CD19};
  static std::uint32_t rotr(std::uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }
  void compress(bool last) {
    static constexpr std::uint8_t sigma[10][16] = {
        {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
        {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
        {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
        {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
        {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
        {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
        {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
        {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
        {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
        {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0}};
    std::uint32_t v[16], m[16];
    for (int i = 0; i < 8; ++i) v[i] = h[i], v[i + 8] = kIv[i];
    v[12] ^= t[0];
    v[13] ^= t[1];
    if (last) v[14] = ~v[14];
    for (int i = 0; i < 16; ++i) m[i] = load_le32(&b[4 * i]);
    auto g = [&](int a, int bb, int cc, int d, std::uint32_t x, std::uint32_t y) {
      v[a] = v[a] + v[bb] + x;
      v[d] = rotr(v[d] ^ v[a], 16);
      v[cc] = v[cc] + v[d];
      v[bb] = rotr(v[bb] ^ v[cc], 12);
      v[a] = v[a] + v[bb] + y;
      v[d] = rotr(v[d] ^ v[a], 8);
      v[cc] = v[cc] + v[d];
      v[bb] = rotr(v[bb] ^ v[cc], 7);
    };
    for (int i = 0; i < 10; ++i) {
      const auto* s = sigma[i];
      g(0, 4, 8, 12, m[s[0]], m[s[1]]);
      g(1, 5, 9, 13, m[s[2]], m[s[3]]);
      g(2, 6, 10, 14, m[s[4]], m[s[5]]);
      g(3, 7, 11, 15, m[s[6]], m[s[7]]);
      g(0, 5, 10, 15, m[s[8]], m[s[9]]);
      g(1, 6, 11, 12, m[s[10]], m[s[11]]);
      g(2, 7, 8, 13, m[s[12]], m[s[13]]);
      g(3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for (int i = 0; i < 8; ++i) h[i] ^= v[i] ^ v[i + 8];
  }
  void update(const std::uint8_t* in, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      if (c == 64) {
        t[0] += static_cast<std::uint32_t>(c);
        if (t[0] < c) t[1]++;
        compress(false);
        c = 0;
      }
      b[c++] = in[i];
    }
  }
  RefBlake2s(std::size_t out, const std::uint8_t* key, std::size_t keylen) : c(0), outlen(out) {
    for (int i = 0; i < 8; ++i) h[i] = kIv[i];
    h[0] ^= 0x01010000 ^ static_cast<std::uint32_t>(keylen << 8) ^ static_cast<std::uint32_t>(out);
    t[0] = t[1] = 0;
    std::memset(b, 0, sizeof(b));
    if (keylen > 0) {
      update(key, keylen);
      c = 64;
    }
  }
  void final(std::uint8_t* out) {
    t[0] += static_cast<std::uint32_t>(c);
    if (t[0] < c) t[1]++;
    while (c < 64) b[c++] = 0;
    compress(true);
    for (std::size_t i = 0; i < outlen; ++i) out[i] = (h[i >> 2] >> (8 * (i & 3))) & 0xff;
  }
};

void selftest_seq(std::uint8_t* out, std::size_t len, std::uint32_t seed) {
  std::uint32_t a = 0xDEAD4BAD * seed, b = 1;
  for (std::size_t i = 0; i < len; ++i) {
    const std::uint32_t t = a + b;
    a = b;
    b = t;
    out[i] = static_cast<std::uint8_t>(t >> 24);
  }
}

}  // namespace

TEST_CASE("X25519 RFC 7748 section 5.2 and 6.1 vectors", "[crypto]") {
  crypto::Key out;
  REQUIRE(crypto::x25519(
      unhex_array<32>("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4"),
      unhex_array<32>("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c"), out));
  CHECK(hex(out) == "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552");
  REQUIRE(crypto::x25519(
      unhex_array<32>("4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d"),
      unhex_array<32>("e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493"), out));
  CHECK(hex(out) == "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957");

  crypto::X25519Private alice, bob;
  REQUIRE(alice.set(
      unhex_array<32>("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")));
  REQUIRE(
      bob.set(unhex_array<32>("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")));
  CHECK(hex(alice.public_key()) ==
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  CHECK(hex(bob.public_key()) ==
        "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  crypto::Key k1, k2;
  REQUIRE(alice.dh(bob.public_key(), k1));
  REQUIRE(bob.dh(alice.public_key(), k2));
  CHECK(hex(k1) == "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  CHECK(k1 == k2);
}

TEST_CASE("X25519 rejects a low-order point (all-zero shared secret)", "[crypto]") {
  crypto::X25519Private a;
  REQUIRE(
      a.set(unhex_array<32>("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")));
  crypto::Key zero{}, out;
  CHECK_FALSE(a.dh(zero, out));
}

TEST_CASE("ChaCha20-Poly1305 RFC 8439 section 2.8.2 vector", "[crypto]") {
  const auto key =
      unhex_array<32>("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
  const auto nonce = unhex("070000004041424344454647");
  const auto aad = unhex("50515253c0c1c2c3c4c5c6c7");
  const std::string expected =
      "d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d63dbea45e8ca9671282fafb69da9"
      "2728b1a71de0a9e060b2905d6a5b67ecd3b3692ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585"
      "808b4831d7bc3ff4def08e4b7a9de576d26586cec64b6116"
      "1ae10b594f09e26a7e902ecbd0600691";
  std::vector<std::uint8_t> sealed(kSunscreen.size() + 16);
  REQUIRE(crypto::chacha20poly1305_seal(key, nonce.data(), bytes_of(kSunscreen), aad, sealed));
  CHECK(hex(sealed) == expected);
  std::vector<std::uint8_t> opened(kSunscreen.size());
  REQUIRE(crypto::chacha20poly1305_open(key, nonce.data(), sealed, aad, opened));
  CHECK(std::string(opened.begin(), opened.end()) == kSunscreen);
  sealed[5] ^= 1;
  CHECK_FALSE(crypto::chacha20poly1305_open(key, nonce.data(), sealed, aad, opened));

  SECTION("the data-path context gives the same bytes in place") {
    // WireGuard nonce = 0^32 || LE64(counter); this vector's nonce is 07000000 || 4041..47,
    // which is not of that form, so check the counter form against the one-shot path.
    crypto::AeadContext enc, dec;
    REQUIRE(enc.init(key, true));
    REQUIRE(dec.init(key, false));
    for (std::uint64_t counter : {0ull, 1ull, 0x0123456789abcdefull}) {
      std::vector<std::uint8_t> buf(kSunscreen.begin(), kSunscreen.end());
      buf.resize(buf.size() + 16);
      REQUIRE(enc.seal(counter, buf.data(), kSunscreen.size()));
      std::vector<std::uint8_t> ref(kSunscreen.size() + 16);
      REQUIRE(crypto::aead_seal(key, counter, bytes_of(kSunscreen), {}, ref));
      CHECK(buf == ref);
      REQUIRE(dec.open(counter, buf.data(), kSunscreen.size()));
      CHECK(std::string(buf.begin(), buf.begin() + kSunscreen.size()) == kSunscreen);
      REQUIRE(enc.seal(counter, buf.data(), kSunscreen.size()));
      buf[buf.size() - 1] ^= 0x80;
      CHECK_FALSE(dec.open(counter, buf.data(), kSunscreen.size()));
    }
  }
}

TEST_CASE("BLAKE2s RFC 7693 vectors", "[crypto]") {
  const std::string abc = "abc";
  CHECK(hex(crypto::hash(bytes_of(abc))) ==
        "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982");
  CHECK(hex(crypto::hash({})) ==
        "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9");
  // hash(a, b, c) is HASH(a || b || c)
  CHECK(crypto::hash(bytes_of(std::string("a")), bytes_of(std::string("b")),
                     bytes_of(std::string("c"))) == crypto::hash(bytes_of(abc)));

  // RFC 7693 Appendix E self-test: grand hash over unkeyed and keyed BLAKE2s at output lengths
  // 16, 20, 28, 32. The reference implementation must reproduce the published grand hash; the
  // keyed outputs (what WireGuard's MAC uses) must then match OpenSSL's BLAKE2SMAC exactly.
  const std::size_t md_len[4] = {16, 20, 28, 32};
  const std::size_t in_len[6] = {0, 3, 64, 65, 255, 1024};
  std::uint8_t in[1024], md[32], key[32], ossl[32];
  RefBlake2s grand(32, nullptr, 0);
  int keyed_compared = 0;
  for (std::size_t outlen : md_len) {
    for (std::size_t inlen : in_len) {
      selftest_seq(in, inlen, static_cast<std::uint32_t>(inlen));
      RefBlake2s u(outlen, nullptr, 0);
      u.update(in, inlen);
      u.final(md);
      grand.update(md, outlen);
      selftest_seq(key, outlen, static_cast<std::uint32_t>(outlen));
      RefBlake2s k(outlen, key, outlen);
      k.update(in, inlen);
      k.final(md);
      grand.update(md, outlen);
      crypto::blake2s_keyed(crypto::Bytes(key, outlen), crypto::Bytes(in, inlen),
                            crypto::MutBytes(ossl, outlen));
      CHECK(hex(crypto::Bytes(ossl, outlen)) == hex(crypto::Bytes(md, outlen)));
      ++keyed_compared;
    }
  }
  std::uint8_t result[32];
  grand.final(result);
  CHECK(hex(result) == "6a411f08ce25adcdfb02aba641451cec53c598b24f4fc787fbdc88797f4c1dfe");
  CHECK(keyed_compared == 24);
}

TEST_CASE("HMAC-BLAKE2s and HKDF: wireguard-go kdf_test.go vectors", "[crypto]") {
  struct V {
    const char *key, *input, *t0, *t1, *t2;
  };
  const V vectors[] = {
      {"746573742d6b6579", "746573742d696e707574",
       "6f0e5ad38daba1bea8a0d213688736f19763239305e0f58aba697f9ffc41c633",
       "df1194df20802a4fe594cde27e92991c8cae66c366e8106aaa937a55fa371e8a",
       "fac6e2745a325f5dc5d11a5b165aad08b0ada28e7b4e666b7c077934a4d76c24"},
      {"776972656775617264", "776972656775617264",
       "491d43bbfdaa8750aaf535e334ecbfe5129967cd64635101c566d4caefda96e8",
       "1e71a379baefd8a79aa4662212fcafe19a23e2b609a3db7d6bcba8f560e3d25f",
       "31e1ae48bddfbe5de38f295e5452b1909a1b4e38e183926af3780b0c1e1f0160"},
      {"", "", "8387b46bf43eccfcf349552a095d8315c4055beb90208fb1be23b894bc2ed5d0",
       "58a0e5f6faefccf4807bff1f05fa8a9217945762040bcec2f4b4a62bdfe0e86e",
       "0ce6ea98ec548f8e281e93e32db65621c45eb18dc6f0a7ad94178610a2f7338e"},
  };
  for (const auto& v : vectors) {
    const auto key = unhex(v.key);
    const auto input = unhex(v.input);
    crypto::Key t0, t1, t2;
    crypto::kdf3(t0, t1, t2, key, input);
    CHECK(hex(t0) == v.t0);
    CHECK(hex(t1) == v.t1);
    CHECK(hex(t2) == v.t2);
    crypto::kdf2(t0, t1, key, input);
    CHECK(hex(t0) == v.t0);
    CHECK(hex(t1) == v.t1);
    crypto::kdf1(t0, key, input);
    CHECK(hex(t0) == v.t0);
  }
}

TEST_CASE("HMAC-BLAKE2s matches OpenSSL's own HMAC over BLAKE2S-256", "[crypto]") {
  EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  REQUIRE(mac != nullptr);
  char digest[] = "BLAKE2S-256";
  for (std::size_t keylen : {0u, 1u, 32u, 64u, 65u, 100u}) {
    for (std::size_t inlen : {0u, 1u, 63u, 64u, 65u, 1000u}) {
      std::vector<std::uint8_t> key(keylen), in(inlen);
      for (std::size_t i = 0; i < keylen; ++i) key[i] = static_cast<std::uint8_t>(i * 7 + 1);
      for (std::size_t i = 0; i < inlen; ++i) in[i] = static_cast<std::uint8_t>(i * 13 + 5);
      EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
      OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                             OSSL_PARAM_construct_end()};
      std::uint8_t zero = 0;
      REQUIRE(EVP_MAC_init(ctx, keylen ? key.data() : &zero, keylen, params) == 1);
      REQUIRE(EVP_MAC_update(ctx, in.data(), in.size()) == 1);
      std::uint8_t out[32];
      std::size_t outlen = 0;
      REQUIRE(EVP_MAC_final(ctx, out, &outlen, sizeof(out)) == 1);
      EVP_MAC_CTX_free(ctx);
      CHECK(hex(crypto::hmac(key, in)) == hex(crypto::Bytes(out, outlen)));
    }
  }
  EVP_MAC_free(mac);
}

TEST_CASE("HChaCha20 draft-irtf-cfrg-xchacha-03 section 2.2.1", "[crypto]") {
  crypto::Key key;
  for (int i = 0; i < 32; ++i) key[i] = static_cast<std::uint8_t>(i);
  const auto nonce = unhex("000000090000004a0000000031415927");
  CHECK(hex(crypto::hchacha20(key, nonce.data())) ==
        "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc");
}

TEST_CASE("XChaCha20-Poly1305 draft-irtf-cfrg-xchacha-03 appendix A.3.1", "[crypto]") {
  const auto key =
      unhex_array<32>("808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f");
  const auto nonce = unhex("404142434445464748494a4b4c4d4e4f5051525354555657");
  const auto aad = unhex("50515253c0c1c2c3c4c5c6c7");
  std::vector<std::uint8_t> sealed(kSunscreen.size() + 16);
  REQUIRE(crypto::xaead_seal(key, nonce.data(), bytes_of(kSunscreen), aad, sealed));
  CHECK(hex(sealed) ==
        "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f"
        "4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f"
        "76b2383565d3fff921f9664c97637da9768812f615c68b13b52e"
        "c0875924c1c7987947deafd8780acf49");
  std::vector<std::uint8_t> opened(kSunscreen.size());
  REQUIRE(crypto::xaead_open(key, nonce.data(), sealed, aad, opened));
  CHECK(std::string(opened.begin(), opened.end()) == kSunscreen);
  auto bad_aad = aad;
  bad_aad[0] ^= 1;
  CHECK_FALSE(crypto::xaead_open(key, nonce.data(), sealed, bad_aad, opened));
}
