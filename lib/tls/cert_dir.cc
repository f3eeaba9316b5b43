#include "lib/tls/cert_dir.h"

#include <sys/stat.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "lib/fs/safe_name.h"
#include "lib/io/file.h"
#include "lib/tls/cert_gen.h"

namespace kmend::tls {

absl::StatusOr<std::vector<std::string>> InitCertDir(const CertDirOptions& o) {
  if (o.dir.empty()) return absl::InvalidArgumentError("--dir: empty");
  if (o.hosts.empty()) return absl::InvalidArgumentError("--hosts: at least one host");
  // Host and user names become file names.
  for (const std::string& h : o.hosts) {
    if (absl::Status s = fs::ValidateFileName(h, "--hosts entry"); !s.ok()) return s;
  }
  for (const std::string& u : o.users) {
    if (absl::Status s = fs::ValidateFileName(u, "--users entry"); !s.ok()) return s;
  }
  // name -> (pem, is_key); built completely before anything is written.
  std::vector<std::pair<std::string, std::pair<std::string, bool>>> files;
  absl::StatusOr<PemPair> ca = MakeCa("kmend CA", o.valid_for * 10);
  if (!ca.ok()) return ca.status();
  files.push_back({"ca.crt", {ca->cert_pem, false}});
  files.push_back({"ca.key", {ca->key_pem, true}});
  auto add = [&](const std::string& base, const CertSpec& spec) -> absl::Status {
    absl::StatusOr<PemPair> p = MakeSigned(*ca, spec);
    if (!p.ok()) return p.status();
    files.push_back({base + ".crt", {p->cert_pem, false}});
    files.push_back({base + ".key", {p->key_pem, true}});
    return absl::OkStatus();
  };
  for (const std::string& h : o.hosts) {
    CertSpec spec;
    spec.common_name = kServiceCommonName;
    spec.hosts = {h};
    spec.valid_for = o.valid_for;
    if (absl::Status s = add(absl::StrCat("server-", h), spec); !s.ok()) return s;
  }
  for (const std::string& u : o.users) {
    CertSpec spec;
    spec.common_name = u;
    spec.valid_for = o.valid_for;
    if (absl::Status s = add(absl::StrCat("user-", u), spec); !s.ok()) return s;
  }
  ::mkdir(o.dir.c_str(), 0700);
  for (const auto& [name, content] : files) {
    const std::string path = io::JoinPath(o.dir, name);
    if (io::FileExists(path)) {
      return absl::AlreadyExistsError(
          absl::StrCat(path, ": exists; kmend cert init never overwrites (nothing written)"));
    }
  }
  std::vector<std::string> written;
  for (const auto& [name, content] : files) {
    const std::string path = io::JoinPath(o.dir, name);
    if (absl::Status s = io::WriteFileAtomically(path, content.first); !s.ok()) return s;
    if (::chmod(path.c_str(), content.second ? 0600 : 0644) != 0) {
      return io::ErrnoError("chmod", path, errno);
    }
    written.push_back(path);
  }
  return written;
}

}  // namespace kmend::tls
