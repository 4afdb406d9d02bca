#pragma once
// GitHub webhook signatures: X-Hub-Signature-256 is "sha256=" followed by the lower-case hex
// HMAC-SHA256 of the raw request body, keyed with the webhook secret
// (docs.github.com: "Validating webhook deliveries"). Verification runs over the raw bytes,
// before anything parses them, and compares in constant time.

#include <openssl/types.h>

#include <array>
#include <string>
#include <string_view>

namespace ferry::service {

inline constexpr std::string_view k_signature_prefix = "sha256=";
inline constexpr std::size_t k_sha256_size = 32;

// "sha256=<64 lower-case hex>" for body under secret (what `ferry replay` sends).
std::string sign_sha256(std::string_view secret, std::string_view body);

// True when header_value is exactly "sha256=" plus 64 hex digits (either case) equal to the
// HMAC of body under secret. A wrong prefix, a wrong length or a non-hex digit is false.
bool verify_sha256(std::string_view secret, std::string_view body, std::string_view header_value);

// The ingress's verifier: the key schedule is set up once, so a delivery costs one HMAC pass
// over the body and no algorithm look-up. Not thread-safe: one per thread that verifies.
class webhook_verifier {
 public:
  explicit webhook_verifier(std::string_view secret);
  ~webhook_verifier();
  webhook_verifier(const webhook_verifier&) = delete;
  webhook_verifier& operator=(const webhook_verifier&) = delete;

  // False also when OpenSSL fails (it never should): failing closed is the only safe answer.
  bool verify(std::string_view body, std::string_view header_value) const;

 private:
  EVP_MAC* mac_ = nullptr;
  EVP_MAC_CTX* keyed_ = nullptr;  // initialised with the key; duplicated for each message
};

}  // namespace ferry::service
