#pragma once
// Throwaway keys and certificates made with the OpenSSL API for the TLS tests: a CA, and
// server certificates it signs for whatever names and addresses a test wants.

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace ferry::github::test {

struct pkey_free {
  void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};
struct x509_free {
  void operator()(X509* x) const noexcept { X509_free(x); }
};
struct bio_free {
  void operator()(BIO* b) const noexcept { BIO_free(b); }
};
using pkey_ptr = std::unique_ptr<EVP_PKEY, pkey_free>;
using x509_ptr = std::unique_ptr<X509, x509_free>;

inline void check(bool ok, const char* what) {
  if (!ok) {
    throw std::runtime_error(std::string("OpenSSL: ") + what);
  }
}

inline std::string bio_string(BIO* b) {
  char* data = nullptr;
  long n = BIO_get_mem_data(b, &data);
  return std::string(data, static_cast<std::size_t>(n));
}

inline std::string cert_pem(X509* x) {
  std::unique_ptr<BIO, bio_free> b(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_X509(b.get(), x) == 1, "PEM_write_bio_X509");
  return bio_string(b.get());
}

// PKCS#8 "BEGIN PRIVATE KEY".
inline std::string key_pem(EVP_PKEY* k) {
  std::unique_ptr<BIO, bio_free> b(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_PrivateKey(b.get(), k, nullptr, nullptr, 0, nullptr, nullptr) == 1,
        "PEM_write_bio_PrivateKey");
  return bio_string(b.get());
}

inline std::string public_key_pem(EVP_PKEY* k) {
  std::unique_ptr<BIO, bio_free> b(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_PUBKEY(b.get(), k) == 1, "PEM_write_bio_PUBKEY");
  return bio_string(b.get());
}

struct identity {
  pkey_ptr key;
  x509_ptr cert;
  std::string cert_pem() const { return test::cert_pem(cert.get()); }
  std::string key_pem() const { return test::key_pem(key.get()); }
};

inline void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  check(ext != nullptr, "X509V3_EXT_conf_nid");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

inline x509_ptr new_cert(EVP_PKEY* key, const std::string& cn) {
  x509_ptr x(X509_new());
  check(x != nullptr, "X509_new");
  X509_set_version(x.get(), 2);
  std::random_device rd;
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), static_cast<long>(rd() & 0x7fffffff));
  X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 86400);
  X509_set_pubkey(x.get(), key);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  return x;
}

inline identity make_ca(const std::string& cn) {
  identity ca;
  ca.key.reset(EVP_EC_gen("P-256"));
  check(ca.key != nullptr, "EVP_EC_gen");
  ca.cert = new_cert(ca.key.get(), cn);
  X509_set_issuer_name(ca.cert.get(), X509_get_subject_name(ca.cert.get()));
  add_ext(ca.cert.get(), ca.cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  add_ext(ca.cert.get(), ca.cert.get(), NID_key_usage, "critical,keyCertSign,cRLSign");
  add_ext(ca.cert.get(), ca.cert.get(), NID_subject_key_identifier, "hash");
  check(X509_sign(ca.cert.get(), ca.key.get(), EVP_sha256()) > 0, "X509_sign");
  return ca;
}

// subject_alt_names like "DNS:localhost,IP:127.0.0.1".
inline identity make_server_cert(const identity& ca, const std::string& cn,
                                 const std::string& subject_alt_names) {
  identity leaf;
  leaf.key.reset(EVP_EC_gen("P-256"));
  check(leaf.key != nullptr, "EVP_EC_gen");
  leaf.cert = new_cert(leaf.key.get(), cn);
  X509_set_issuer_name(leaf.cert.get(), X509_get_subject_name(ca.cert.get()));
  add_ext(leaf.cert.get(), ca.cert.get(), NID_basic_constraints, "critical,CA:FALSE");
  add_ext(leaf.cert.get(), ca.cert.get(), NID_ext_key_usage, "serverAuth");
  add_ext(leaf.cert.get(), ca.cert.get(), NID_subject_alt_name, subject_alt_names.c_str());
  check(X509_sign(leaf.cert.get(), ca.key.get(), EVP_sha256()) > 0, "X509_sign");
  return leaf;
}

// A directory under the system temp dir, removed with the object.
class temp_dir {
 public:
  temp_dir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() /
            ("ferry-github-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string write(const std::string& name, const std::string& content) const {
    auto p = path_ / name;
    std::ofstream(p, std::ios::binary) << content;
    return p.string();
  }

 private:
  std::filesystem::path path_;
};

}  // namespace ferry::github::test
