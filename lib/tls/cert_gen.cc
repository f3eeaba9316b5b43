#include "lib/tls/cert_gen.h"

#include <arpa/inet.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kmend::tls {
namespace {

template <typename T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using PKey = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using Cert = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using Bio = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;

// The queued OpenSSL errors, for the message (and clears the queue).
std::string OpenSslErrors() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    absl::StrAppend(&out, out.empty() ? "" : "; ", buf);
  }
  return out.empty() ? "unknown OpenSSL error" : out;
}

absl::Status Fail(const std::string& what) {
  return absl::InternalError(absl::StrCat(what, ": ", OpenSslErrors()));
}

std::string BioString(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

absl::StatusOr<std::string> KeyPem(EVP_PKEY* key) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr)) {
    return Fail("writing private key");
  }
  return BioString(bio.get());
}

absl::StatusOr<std::string> CertPem(X509* cert) {
  Bio bio(BIO_new(BIO_s_mem()));
  if (!PEM_write_bio_X509(bio.get(), cert)) return Fail("writing certificate");
  return BioString(bio.get());
}

absl::StatusOr<Cert> ParseCert(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  Cert cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) return Fail("parsing certificate PEM");
  return cert;
}

absl::StatusOr<PKey> ParseKey(const std::string& pem) {
  Bio bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  PKey key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) return Fail("parsing private key PEM");
  return key;
}

bool IsIp(const std::string& host) {
  unsigned char buf[16];
  return ::inet_pton(AF_INET, host.c_str(), buf) == 1 || ::inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

absl::Status AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return Fail(absl::StrCat("extension ", OBJ_nid2sn(nid), "=", value));
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok ? absl::OkStatus() : Fail("adding extension");
}

// A certificate for `key` named `cn`, valid [not_before, not_before+valid_for).
absl::StatusOr<Cert> NewCert(EVP_PKEY* key, const std::string& cn, absl::Time not_before,
                             absl::Duration valid_for) {
  Cert cert(X509_new());
  if (cert == nullptr) return Fail("X509_new");
  X509_set_version(cert.get(), 2);  // v3
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof(serial)) != 1) return Fail("random serial");
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  if (not_before == absl::InfinitePast()) not_before = absl::Now() - absl::Minutes(1);
  const time_t from = absl::ToTimeT(not_before);
  const time_t to = absl::ToTimeT(not_before + valid_for);
  if (ASN1_TIME_set(X509_getm_notBefore(cert.get()), from) == nullptr ||
      ASN1_TIME_set(X509_getm_notAfter(cert.get()), to) == nullptr) {
    return Fail("validity");
  }
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("kmend"), -1, -1, 0);
  if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                                  reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                  0)) {
    return Fail(absl::StrCat("common name \"", cn, "\""));
  }
  if (!X509_set_pubkey(cert.get(), key)) return Fail("X509_set_pubkey");
  return cert;
}

absl::StatusOr<PKey> NewKey() {
  PKey key(EVP_EC_gen("P-256"));
  if (key == nullptr) return Fail("generating a P-256 key");
  return key;
}

// A signed certificate and its key as PEM.
absl::StatusOr<PemPair> ToPemPair(X509* cert, EVP_PKEY* key) {
  absl::StatusOr<std::string> cp = CertPem(cert);
  if (!cp.ok()) return cp.status();
  absl::StatusOr<std::string> kp = KeyPem(key);
  if (!kp.ok()) return kp.status();
  PemPair out;
  out.cert_pem = std::move(*cp);
  out.key_pem = std::move(*kp);
  return out;
}

}  // namespace

absl::StatusOr<PemPair> MakeCa(const std::string& common_name, absl::Duration valid_for) {
  absl::StatusOr<PKey> key = NewKey();
  if (!key.ok()) return key.status();
  absl::StatusOr<Cert> cert = NewCert(key->get(), common_name, absl::InfinitePast(), valid_for);
  if (!cert.ok()) return cert.status();
  X509* c = cert->get();
  if (!X509_set_issuer_name(c, X509_get_subject_name(c))) return Fail("issuer");
  for (auto [nid, value] : {std::pair<int, const char*>{NID_basic_constraints, "critical,CA:TRUE"},
                            {NID_key_usage, "critical,keyCertSign,cRLSign"},
                            {NID_subject_key_identifier, "hash"}}) {
    absl::Status s = AddExt(c, c, nid, value);
    if (!s.ok()) return s;
  }
  if (!X509_sign(c, key->get(), EVP_sha256())) return Fail("signing the CA");
  return ToPemPair(c, key->get());
}

absl::StatusOr<PemPair> MakeSigned(const PemPair& ca, const CertSpec& spec) {
  absl::StatusOr<Cert> ca_cert = ParseCert(ca.cert_pem);
  if (!ca_cert.ok()) return ca_cert.status();
  absl::StatusOr<PKey> ca_key = ParseKey(ca.key_pem);
  if (!ca_key.ok()) return ca_key.status();
  absl::StatusOr<PKey> key = NewKey();
  if (!key.ok()) return key.status();
  absl::StatusOr<Cert> cert =
      NewCert(key->get(), spec.common_name, spec.not_before, spec.valid_for);
  if (!cert.ok()) return cert.status();
  X509* c = cert->get();
  if (!X509_set_issuer_name(c, X509_get_subject_name(ca_cert->get()))) return Fail("issuer");
  std::vector<std::string> sans;
  for (const std::string& h : spec.hosts) sans.push_back(absl::StrCat(IsIp(h) ? "IP:" : "DNS:", h));
  std::vector<std::pair<int, std::string>> exts = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature,keyAgreement"},
      {NID_ext_key_usage, "serverAuth,clientAuth"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid"},
  };
  if (!sans.empty()) exts.push_back({NID_subject_alt_name, absl::StrJoin(sans, ",")});
  for (const auto& [nid, value] : exts) {
    absl::Status s = AddExt(c, ca_cert->get(), nid, value);
    if (!s.ok()) return s;
  }
  if (!X509_sign(c, ca_key->get(), EVP_sha256())) return Fail("signing the certificate");
  return ToPemPair(c, key->get());
}

absl::StatusOr<std::string> CommonNameOf(const std::string& cert_pem) {
  absl::StatusOr<Cert> cert = ParseCert(cert_pem);
  if (!cert.ok()) return cert.status();
  char buf[256];
  int n = X509_NAME_get_text_by_NID(X509_get_subject_name(cert->get()), NID_commonName, buf,
                                    sizeof(buf));
  if (n < 0) return absl::NotFoundError("certificate has no common name");
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace kmend::tls
