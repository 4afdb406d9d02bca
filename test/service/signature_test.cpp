#include "service/signature.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace ferry::service {
namespace {

std::string unhex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  }
  return out;
}

// GitHub's published example (docs.github.com, "Validating webhook deliveries", "Testing the
// webhook payload validation").
constexpr std::string_view k_github_secret = "It's a Secret to Everybody";
constexpr std::string_view k_github_body = "Hello, World!";
constexpr std::string_view k_github_signature =
    "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

TEST(signature, github_documented_example) {
  EXPECT_EQ(sign_sha256(k_github_secret, k_github_body), k_github_signature);
  EXPECT_TRUE(verify_sha256(k_github_secret, k_github_body, k_github_signature));
  const webhook_verifier verifier(k_github_secret);
  EXPECT_TRUE(verifier.verify(k_github_body, k_github_signature));
}

// RFC 4231 section 4, HMAC-SHA-256 rows of test cases 1-7, transcribed as data. Test case 5
// specifies only the first 128 bits of the output.
struct rfc4231_case {
  const char* name;
  std::string key;
  std::string data;
  std::string_view hmac_hex;
};

std::vector<rfc4231_case> rfc4231_cases() {
  return {
      {"case1", std::string(20, '\x0b'), "Hi There",
       "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"},
      {"case2", "Jefe", "what do ya want for nothing?",
       "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"},
      {"case3", std::string(20, '\xaa'), std::string(50, '\xdd'),
       "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"},
      {"case4", unhex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
       std::string(50, '\xcd'), "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"},
      {"case5", std::string(20, '\x0c'), "Test With Truncation",
       "a3b6167473100ee06e0c796c2955552b"},
      {"case6", std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First",
       "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"},
      {"case7", std::string(131, '\xaa'),
       "This is a test using a larger than block-size key and a larger than block-size data. The "
       "key needs to be hashed before being used by the HMAC algorithm.",
       "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"},
  };
}

TEST(signature, rfc4231_vectors) {
  for (const auto& c : rfc4231_cases()) {
    SCOPED_TRACE(c.name);
    const std::string signed_value = sign_sha256(c.key, c.data);
    ASSERT_EQ(signed_value.substr(0, 7), "sha256=");
    EXPECT_EQ(signed_value.substr(7, c.hmac_hex.size()), c.hmac_hex);
    if (c.hmac_hex.size() == 64) {
      const std::string header = "sha256=" + std::string(c.hmac_hex);
      EXPECT_TRUE(verify_sha256(c.key, c.data, header));
      const webhook_verifier verifier(c.key);
      EXPECT_TRUE(verifier.verify(c.data, header));
      // The verifier's context is reused: a second message must verify as well.
      EXPECT_TRUE(verifier.verify(c.data, header));
      EXPECT_FALSE(verifier.verify(c.data + "x", header));
    }
  }
}

TEST(signature, rejects_malformed_and_wrong_headers) {
  const std::string good(k_github_signature);
  const std::string hex = good.substr(7);
  std::string flipped = good;
  flipped.back() = flipped.back() == '7' ? '8' : '7';
  std::string upper = good;
  for (std::size_t i = 7; i < upper.size(); ++i) {
    upper[i] = static_cast<char>(std::toupper(static_cast<unsigned char>(upper[i])));
  }
  struct row {
    const char* name;
    std::string header;
    bool ok;
  };
  const std::vector<row> rows = {
      {"good", good, true},
      {"upper_case_hex", upper, true},
      {"empty", "", false},
      {"sha1_prefix", "sha1=" + hex, false},
      {"no_prefix", hex, false},
      {"prefix_only", "sha256=", false},
      {"short", good.substr(0, good.size() - 2), false},
      {"long", good + "00", false},
      {"non_hex", good.substr(0, good.size() - 1) + "g", false},
      {"space_padded", " " + good.substr(0, good.size() - 1), false},
      {"one_bit_off", flipped, false},
  };
  const webhook_verifier verifier(k_github_secret);
  for (const auto& r : rows) {
    SCOPED_TRACE(r.name);
    EXPECT_EQ(verify_sha256(k_github_secret, k_github_body, r.header), r.ok);
    EXPECT_EQ(verifier.verify(k_github_body, r.header), r.ok);
  }
  EXPECT_FALSE(verify_sha256("another secret", k_github_body, good));
  EXPECT_FALSE(webhook_verifier("another secret").verify(k_github_body, good));
  EXPECT_FALSE(verifier.verify("Hello, World?", good));
}

TEST(signature, empty_secret_and_body_are_well_defined) {
  const std::string s = sign_sha256("", "");
  // HMAC-SHA256 with an empty key over an empty message (same value from any implementation,
  // e.g. `printf '' | openssl dgst -sha256 -hmac ''`).
  EXPECT_EQ(s, "sha256=b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  EXPECT_TRUE(webhook_verifier("").verify("", s));
}

}  // namespace
}  // namespace ferry::service
