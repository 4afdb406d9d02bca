#include "service/signature.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include <optional>

namespace ferry::service {
namespace {

using digest = std::array<unsigned char, k_sha256_size>;

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

// The digest a header claims, or nothing when the header is not "sha256=" + 64 hex digits.
// Decoding branches on the attacker's own bytes only; the secret-dependent comparison is
// CRYPTO_memcmp below.
std::optional<digest> parse_header(std::string_view header_value) noexcept {
  if (header_value.size() != k_signature_prefix.size() + 2 * k_sha256_size ||
      header_value.substr(0, k_signature_prefix.size()) != k_signature_prefix) {
    return std::nullopt;
  }
  const std::string_view hex = header_value.substr(k_signature_prefix.size());
  digest out{};
  for (std::size_t i = 0; i < k_sha256_size; ++i) {
    const int hi = hex_value(hex[2 * i]);
    const int lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      return std::nullopt;
    }
    out[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  return out;
}

std::optional<digest> one_shot_hmac(std::string_view secret, std::string_view body) noexcept {
  digest out{};
  unsigned int size = 0;
  // HMAC() with a zero-length key is valid (RFC 2104 pads the key with zeros); OpenSSL wants a
  // non-null pointer even then.
  static constexpr unsigned char k_empty = 0;
  const void* key = secret.empty() ? static_cast<const void*>(&k_empty) : secret.data();
  if (HMAC(EVP_sha256(), key, static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(body.data()), body.size(), out.data(),
           &size) == nullptr ||
      size != k_sha256_size) {
    return std::nullopt;
  }
  return out;
}

bool equal_constant_time(const digest& a, const digest& b) noexcept {
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace

std::string sign_sha256(std::string_view secret, std::string_view body) {
  static constexpr char k_hex[] = "0123456789abcdef";
  const auto mac = one_shot_hmac(secret, body);
  if (!mac) {
    return {};  // unreachable with a working libcrypto; an empty header never verifies
  }
  std::string out(k_signature_prefix);
  out.reserve(k_signature_prefix.size() + 2 * k_sha256_size);
  for (const unsigned char b : *mac) {
    out += k_hex[b >> 4];
    out += k_hex[b & 0xf];
  }
  return out;
}

bool verify_sha256(std::string_view secret, std::string_view body, std::string_view header_value) {
  const auto claimed = parse_header(header_value);
  if (!claimed) {
    return false;
  }
  const auto mac = one_shot_hmac(secret, body);
  return mac && equal_constant_time(*mac, *claimed);
}

webhook_verifier::webhook_verifier(std::string_view secret) {
  mac_ = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (mac_ == nullptr) {
    return;
  }
  keyed_ = EVP_MAC_CTX_new(mac_);
  if (keyed_ == nullptr) {
    return;
  }
  char digest_name[] = "SHA256";
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
      OSSL_PARAM_construct_end(),
  };
  static constexpr unsigned char k_empty = 0;
  const auto* key =
      secret.empty() ? &k_empty : reinterpret_cast<const unsigned char*>(secret.data());
  if (EVP_MAC_init(keyed_, key, secret.size(), params) != 1) {
    EVP_MAC_CTX_free(keyed_);
    keyed_ = nullptr;
  }
}

webhook_verifier::~webhook_verifier() {
  EVP_MAC_CTX_free(keyed_);
  EVP_MAC_free(mac_);
}

bool webhook_verifier::verify(std::string_view body, std::string_view header_value) const {
  const auto claimed = parse_header(header_value);
  if (!claimed || keyed_ == nullptr) {
    return false;
  }
  // A copy of the keyed context carries the precomputed inner and outer pads, so the key
  // schedule is not redone per delivery.
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_dup(keyed_);
  if (ctx == nullptr) {
    return false;
  }
  digest mac{};
  std::size_t size = 0;
  const bool ok =
      EVP_MAC_update(ctx, reinterpret_cast<const unsigned char*>(body.data()), body.size()) == 1 &&
      EVP_MAC_final(ctx, mac.data(), &size, mac.size()) == 1 && size == k_sha256_size;
  EVP_MAC_CTX_free(ctx);
  return ok && equal_constant_time(mac, *claimed);
}

}  // namespace ferry::service
