// A small certificate authority for test and demo clusters, made with
// OpenSSL's library (no shell-out): a CA, and leaf certificates it signs for
// servers (subject alternative names = the hosts they are reached by) and
// users (the common name is the identity roles are granted to).
//
// Keys are ECDSA P-256 (cheap handshakes); certificates X.509 v3, SHA-256.
// Leaves carry both serverAuth and clientAuth, since servers are also
// clients of each other (tserver -> master, Raft, copies) and present the
// same certificate both ways.
//
// Thread safety: all functions are safe to call concurrently.
#ifndef KMEND_LIB_TLS_CERT_GEN_H_
#define KMEND_LIB_TLS_CERT_GEN_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kmend::tls {

struct PemPair {
  std::string cert_pem;
  std::string key_pem;
};

struct CertSpec {
  std::string common_name;          // the identity ("kmend-server", "alice")
  std::vector<std::string> hosts;   // SANs: IPs become IP:, others DNS:
  absl::Time not_before = absl::InfinitePast();  // InfinitePast = now - 1 min
  absl::Duration valid_for = absl::Hours(24 * 365);
};

// A self-signed CA certificate and its key.
absl::StatusOr<PemPair> MakeCa(const std::string& common_name,
                               absl::Duration valid_for = absl::Hours(24 * 365 * 10));

// A leaf certificate for `spec`, signed by `ca`.
absl::StatusOr<PemPair> MakeSigned(const PemPair& ca, const CertSpec& spec);

// The subject common name of a PEM certificate (for tests and `cert` output).
absl::StatusOr<std::string> CommonNameOf(const std::string& cert_pem);

}  // namespace kmend::tls

#endif  // KMEND_LIB_TLS_CERT_GEN_H_
