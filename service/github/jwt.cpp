#include "service/github/jwt.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <cstdint>
#include <memory>

#include "service/limits.hpp"

namespace ferry::github {

namespace {

constexpr std::string_view k_alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

struct bio_free {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
struct md_ctx_free {
  void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
};

// OpenSSL asks for a pass phrase when the PEM is encrypted; answering "none" (0 bytes, an
// error) makes PEM_read_bio_PrivateKey fail instead of prompting on a terminal.
int refuse_pass_phrase(char*, int, int, void*) {
  return -1;
}

bool all_digits(std::string_view s) {
  if (s.empty()) {
    return false;
  }
  for (char c : s) {
    if (c < '0' || c > '9') {
      return false;
    }
  }
  return true;
}

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      static constexpr char k_hex[] = "0123456789abcdef";
      out += "\\u00";
      out.push_back(k_hex[u >> 4]);
      out.push_back(k_hex[u & 0xf]);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

}  // namespace

void app_key::deleter::operator()(evp_pkey_st* k) const noexcept {
  EVP_PKEY_free(k);
}

std::string base64url_encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  auto byte = [&](std::size_t at) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at]));
  };
  for (; i + 3 <= bytes.size(); i += 3) {
    std::uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
    out.push_back(k_alphabet[(v >> 18) & 63]);
    out.push_back(k_alphabet[(v >> 12) & 63]);
    out.push_back(k_alphabet[(v >> 6) & 63]);
    out.push_back(k_alphabet[v & 63]);
  }
  std::size_t rest = bytes.size() - i;
  if (rest == 1) {
    std::uint32_t v = byte(i) << 16;
    out.push_back(k_alphabet[(v >> 18) & 63]);
    out.push_back(k_alphabet[(v >> 12) & 63]);
  } else if (rest == 2) {
    std::uint32_t v = (byte(i) << 16) | (byte(i + 1) << 8);
    out.push_back(k_alphabet[(v >> 18) & 63]);
    out.push_back(k_alphabet[(v >> 12) & 63]);
    out.push_back(k_alphabet[(v >> 6) & 63]);
  }
  return out;
}

bool base64url_decode(std::string_view text, std::string& out) {
  out.clear();
  std::uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    auto pos = k_alphabet.find(c);
    if (pos == std::string_view::npos) {
      return false;
    }
    acc = (acc << 6) | static_cast<std::uint32_t>(pos);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // A single leftover character (6 bits) cannot come from any byte string.
  return bits < 6;
}

result<app_key> load_app_key(std::string_view private_key_pem) {
  if (private_key_pem.empty()) {
    return make_error(error_kind::invalid_input, "GitHub App private key: empty");
  }
  std::unique_ptr<BIO, bio_free> bio(
      BIO_new_mem_buf(private_key_pem.data(), static_cast<int>(private_key_pem.size())));
  if (!bio) {
    return make_error(error_kind::internal, "GitHub App private key: out of memory");
  }
  // PEM_read_bio_PrivateKey reads both the traditional PKCS#1 form and PKCS#8 in OpenSSL 3.
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio.get(), nullptr, refuse_pass_phrase, nullptr);
  if (raw == nullptr) {
    return make_error(error_kind::invalid_input,
                      "GitHub App private key: not a PEM private key (PKCS#1 or PKCS#8, "
                      "unencrypted)");
  }
  app_key key;
  key.key_.reset(raw);
  if (EVP_PKEY_is_a(raw, "RSA") != 1) {
    return make_error(error_kind::invalid_input,
                      "GitHub App private key: not an RSA key (GitHub Apps sign RS256)");
  }
  key.bits_ = EVP_PKEY_get_bits(raw);
  if (key.bits_ < 2048) {
    return make_error(error_kind::invalid_input, "GitHub App private key: RSA key of " +
                                                     std::to_string(key.bits_) +
                                                     " bits; at least 2048 required");
  }
  return key;
}

result<std::string> make_app_jwt(std::string_view app_id, const app_key& key,
                                 std::chrono::system_clock::time_point now) {
  if (!key.loaded()) {
    return make_error(error_kind::internal, "GitHub App JWT: no key loaded");
  }
  if (app_id.empty()) {
    return make_error(error_kind::invalid_input, "GitHub App JWT: empty app id");
  }
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  const auto iat = duration_cast<seconds>(now.time_since_epoch() - limits::k_jwt_backdate).count();
  const auto exp = iat + duration_cast<seconds>(limits::k_jwt_lifetime).count();

  std::string payload =
      "{\"iat\":" + std::to_string(iat) + ",\"exp\":" + std::to_string(exp) + ",\"iss\":";
  if (all_digits(app_id) && app_id.size() <= 18) {
    payload.append(app_id);
  } else {
    append_json_string(payload, app_id);
  }
  payload.push_back('}');

  std::string signing_input = base64url_encode(R"({"alg":"RS256","typ":"JWT"})");
  signing_input.push_back('.');
  signing_input += base64url_encode(payload);

  std::unique_ptr<EVP_MD_CTX, md_ctx_free> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.get()) != 1 ||
      EVP_DigestSignUpdate(ctx.get(), signing_input.data(), signing_input.size()) != 1) {
    return make_error(error_kind::internal, "GitHub App JWT: signing failed");
  }
  std::size_t sig_len = 0;
  if (EVP_DigestSignFinal(ctx.get(), nullptr, &sig_len) != 1) {
    return make_error(error_kind::internal, "GitHub App JWT: signing failed");
  }
  std::string sig(sig_len, '\0');
  if (EVP_DigestSignFinal(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len) != 1) {
    return make_error(error_kind::internal, "GitHub App JWT: signing failed");
  }
  sig.resize(sig_len);
  signing_input.push_back('.');
  signing_input += base64url_encode(sig);
  return signing_input;
}

result<std::string> make_app_jwt(std::string_view app_id, std::string_view private_key_pem,
                                 std::chrono::system_clock::time_point now) {
  auto key = load_app_key(private_key_pem);
  if (!key) {
    return std::move(key).error();
  }
  return make_app_jwt(app_id, *key, now);
}

}  // namespace ferry::github
