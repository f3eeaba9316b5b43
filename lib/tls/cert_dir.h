// `kmend cert init`: a directory of PEM files for a test or demo cluster.
//
//   DIR/ca.crt, ca.key                 the CA (keep ca.key offline in real use)
//   DIR/server-<host>.crt, .key        one per host; SANs: that host; CN
//                                      "kmend-server" (the `service` identity)
//   DIR/user-<name>.crt, .key          one per user; CN <name>
//
// Keys are written mode 0600, every file atomically (temp, fsync, rename,
// fsync dir). Existing files are never overwritten: AlreadyExists names the
// first one, and nothing is written.
#ifndef KMEND_LIB_TLS_CERT_DIR_H_
#define KMEND_LIB_TLS_CERT_DIR_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace kmend::tls {

inline constexpr char kServiceCommonName[] = "kmend-server";

struct CertDirOptions {
  std::string dir;
  std::vector<std::string> hosts;  // at least one
  std::vector<std::string> users;  // may be empty
  absl::Duration valid_for = absl::Hours(24 * 365);
};

// The paths written, in order.
absl::StatusOr<std::vector<std::string>> InitCertDir(const CertDirOptions& options);

}  // namespace kmend::tls

#endif  // KMEND_LIB_TLS_CERT_DIR_H_
