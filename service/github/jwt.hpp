#pragma once
// GitHub App authentication, step one: the app's JSON Web Token (RFC 7519), signed RS256
// (RFC 7518 §3.3: RSASSA-PKCS1-v1_5 with SHA-256) with the App's private key.
// Claims per docs.github.com "Generating a JSON Web Token (JWT) for a GitHub App":
//   iss = the App's client ID or numeric app id, iat = now - 60 s (clock drift),
//   exp = iat + 600 s (GitHub refuses a JWT that lives longer than 10 minutes).

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "service/result.hpp"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header

namespace ferry::github {

// The App's RSA private key, parsed once at start. Move-only; never printed or logged.
class app_key {
 public:
  app_key() = default;
  bool loaded() const noexcept { return key_ != nullptr; }
  evp_pkey_st* get() const noexcept { return key_.get(); }
  int bits() const noexcept { return bits_; }

 private:
  friend result<app_key> load_app_key(std::string_view private_key_pem);
  struct deleter {
    void operator()(evp_pkey_st* k) const noexcept;
  };
  std::unique_ptr<evp_pkey_st, deleter> key_;
  int bits_ = 0;
};

// Parses a PEM private key: PKCS#1 ("BEGIN RSA PRIVATE KEY", what GitHub hands out) or PKCS#8
// ("BEGIN PRIVATE KEY"). Refuses encrypted keys, non-RSA keys and RSA keys under 2048 bits
// (GitHub's generated keys are 2048-bit; NIST SP 800-57 part 1 table 2 puts the floor there).
// Errors are invalid_input and never quote the key.
result<app_key> load_app_key(std::string_view private_key_pem);

// header.payload.signature, base64url without padding (RFC 7515 §2).
// `app_id` made only of digits is written as a JSON number (a numeric app id), anything else
// as a JSON string (a client ID such as "Iv1.abc..."): GitHub accepts both as `iss`.
result<std::string> make_app_jwt(std::string_view app_id, const app_key& key,
                                 std::chrono::system_clock::time_point now);
// Convenience for one-off use: parses the key, then signs. Services load the key once.
result<std::string> make_app_jwt(std::string_view app_id, std::string_view private_key_pem,
                                 std::chrono::system_clock::time_point now);

// RFC 4648 §5 base64url without padding; exposed for the tests' independent checks.
std::string base64url_encode(std::string_view bytes);
// Accepts input without padding; false on a character outside the alphabet.
bool base64url_decode(std::string_view text, std::string& out);

}  // namespace ferry::github
