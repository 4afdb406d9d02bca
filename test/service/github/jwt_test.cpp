// The app JWT checked by an independent implementation: the `openssl` command-line tool
// verifies the RS256 signature (RFC 7518 §3.3) over header.payload, and the claims are read
// back by decoding, as GitHub would.

#include "service/github/jwt.hpp"

#include <gtest/gtest.h>
#include <openssl/encoder.h>
#include <openssl/rsa.h>

#include <boost/json/parse.hpp>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "test/service/github/test_pki.hpp"

namespace ferry::github {
namespace {

using test::pkey_ptr;

pkey_ptr rsa_key(unsigned bits) {
  pkey_ptr k(EVP_RSA_gen(bits));
  test::check(k != nullptr, "EVP_RSA_gen");
  return k;
}

// PKCS#1 ("BEGIN RSA PRIVATE KEY"), the form GitHub's downloaded App keys take.
std::string pkcs1_pem(EVP_PKEY* k) {
  OSSL_ENCODER_CTX* ctx =
      OSSL_ENCODER_CTX_new_for_pkey(k, EVP_PKEY_KEYPAIR, "PEM", "type-specific", nullptr);
  test::check(ctx != nullptr, "OSSL_ENCODER_CTX_new_for_pkey");
  unsigned char* data = nullptr;
  std::size_t len = 0;
  test::check(OSSL_ENCODER_to_data(ctx, &data, &len) == 1, "OSSL_ENCODER_to_data");
  std::string out(reinterpret_cast<char*>(data), len);
  OPENSSL_free(data);
  OSSL_ENCODER_CTX_free(ctx);
  return out;
}

struct parts {
  std::string header_b64, payload_b64, signature_b64;
};

parts split(const std::string& jwt) {
  auto a = jwt.find('.');
  auto b = jwt.find('.', a + 1);
  EXPECT_NE(a, std::string::npos);
  EXPECT_NE(b, std::string::npos);
  EXPECT_EQ(jwt.find('.', b + 1), std::string::npos);
  return {jwt.substr(0, a), jwt.substr(a + 1, b - a - 1), jwt.substr(b + 1)};
}

// Runs `openssl dgst -sha256 -verify` on the JWT; true when it prints Verified OK.
bool openssl_verifies(const std::string& jwt, EVP_PKEY* key) {
  test::temp_dir dir;
  auto p = split(jwt);
  std::string sig;
  EXPECT_TRUE(base64url_decode(p.signature_b64, sig));
  auto pub = dir.write("pub.pem", test::public_key_pem(key));
  auto sig_file = dir.write("sig.bin", sig);
  auto data = dir.write("data.txt", p.header_b64 + "." + p.payload_b64);
  auto out = (dir.path() / "out.txt").string();
  std::string cmd = "openssl dgst -sha256 -verify '" + pub + "' -signature '" + sig_file + "' '" +
                    data + "' > '" + out + "' 2>&1";
  int rc = std::system(cmd.c_str());
  std::ifstream in(out);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return rc == 0 && text.find("Verified OK") != std::string::npos;
}

boost::json::value decode_json(const std::string& b64) {
  std::string raw;
  EXPECT_TRUE(base64url_decode(b64, raw));
  return boost::json::parse(raw);
}

const auto k_now = std::chrono::system_clock::time_point(std::chrono::seconds(1700000000));

TEST(jwt, pkcs1_key_signature_verified_by_openssl_cli) {
  auto key = rsa_key(2048);
  auto pem = pkcs1_pem(key.get());
  ASSERT_NE(pem.find("BEGIN RSA PRIVATE KEY"), std::string::npos);
  auto jwt = make_app_jwt("123456", pem, k_now);
  ASSERT_TRUE(jwt.ok()) << jwt.error().message;
  EXPECT_TRUE(openssl_verifies(*jwt, key.get()));
}

TEST(jwt, pkcs8_key_signature_verified_by_openssl_cli) {
  auto key = rsa_key(2048);
  auto pem = test::key_pem(key.get());
  ASSERT_NE(pem.find("BEGIN PRIVATE KEY"), std::string::npos);
  auto jwt = make_app_jwt("Iv1.0123456789abcdef", pem, k_now);
  ASSERT_TRUE(jwt.ok()) << jwt.error().message;
  EXPECT_TRUE(openssl_verifies(*jwt, key.get()));
}

TEST(jwt, tampered_token_or_other_key_fails_verification) {
  auto key = rsa_key(2048);
  auto other = rsa_key(2048);
  auto jwt = make_app_jwt("123456", test::key_pem(key.get()), k_now);
  ASSERT_TRUE(jwt.ok());
  EXPECT_FALSE(openssl_verifies(*jwt, other.get()));
  auto p = split(*jwt);
  auto forged = p.header_b64 + "." + base64url_encode(R"({"iat":1,"exp":2,"iss":"x"})") + "." +
                p.signature_b64;
  EXPECT_FALSE(openssl_verifies(forged, key.get()));
}

TEST(jwt, claims_follow_github_rules) {
  auto key = rsa_key(2048);
  auto loaded = load_app_key(test::key_pem(key.get()));
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->bits(), 2048);

  auto numeric = make_app_jwt("123456", *loaded, k_now);
  ASSERT_TRUE(numeric.ok());
  auto p = split(*numeric);
  auto header = decode_json(p.header_b64).as_object();
  EXPECT_EQ(header.at("alg").as_string(), "RS256");
  EXPECT_EQ(header.at("typ").as_string(), "JWT");
  auto claims = decode_json(p.payload_b64).as_object();
  EXPECT_EQ(claims.at("iat").as_int64(), 1700000000 - 60);
  EXPECT_EQ(claims.at("exp").as_int64(), claims.at("iat").as_int64() + 600);
  EXPECT_EQ(claims.at("iss").as_int64(), 123456);  // numeric app id: a JSON number

  auto client_id = make_app_jwt("Iv1.\"quoted\"", *loaded, k_now + std::chrono::seconds(5));
  ASSERT_TRUE(client_id.ok());
  auto claims2 = decode_json(split(*client_id).payload_b64).as_object();
  EXPECT_EQ(claims2.at("iss").as_string(), "Iv1.\"quoted\"");  // client ID: a JSON string
  EXPECT_EQ(claims2.at("iat").as_int64(), 1700000005 - 60);
  // base64url without padding or the '+' and '/' of plain base64 (RFC 7515 §2).
  EXPECT_EQ(client_id->find_first_of("=+/"), std::string::npos);
}

TEST(jwt, refuses_keys_github_would_not_accept) {
  auto small = load_app_key(test::key_pem(rsa_key(1024).get()));
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.error().kind, error_kind::invalid_input);
  EXPECT_NE(small.error().message.find("1024"), std::string::npos);

  pkey_ptr ec(EVP_EC_gen("P-256"));
  auto ec_key = load_app_key(test::key_pem(ec.get()));
  ASSERT_FALSE(ec_key.ok());
  EXPECT_NE(ec_key.error().message.find("not an RSA key"), std::string::npos);

  EXPECT_FALSE(load_app_key("").ok());
  const std::string garbage =
      "-----BEGIN RSA PRIVATE KEY-----\nnot base64\n"
      "-----END RSA PRIVATE KEY-----\n";
  auto bad = load_app_key(garbage);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message.find("not base64"), std::string::npos);  // never quotes the key

  // An encrypted key is refused instead of prompting for a pass phrase.
  auto key = rsa_key(2048);
  std::unique_ptr<BIO, test::bio_free> b(BIO_new(BIO_s_mem()));
  std::string pass = "secret";
  ASSERT_EQ(PEM_write_bio_PrivateKey(b.get(), key.get(), EVP_aes_256_cbc(), nullptr, 0, nullptr,
                                     pass.data()),
            1);
  EXPECT_FALSE(load_app_key(test::bio_string(b.get())).ok());

  EXPECT_FALSE(make_app_jwt("", test::key_pem(key.get()), k_now).ok());
}

TEST(jwt, base64url_round_trips) {
  const std::vector<std::string> inputs = {
      "", "f", "fo", "foo", "foob", "fooba", "foobar", std::string("\xff\xfe\x00\x01", 4)};
  for (const auto& s : inputs) {
    std::string back;
    ASSERT_TRUE(base64url_decode(base64url_encode(s), back));
    EXPECT_EQ(back, s);
  }
  // RFC 4648 §10 vectors, without padding and in the URL alphabet.
  EXPECT_EQ(base64url_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("\xfb\xff"), "-_8");
  std::string out;
  EXPECT_FALSE(base64url_decode("Zm9v+", out));
  EXPECT_FALSE(base64url_decode("Z", out));
}

}  // namespace
}  // namespace ferry::github
