// kmend cert (docs/cli/cert.md): `kmend cert init --dir DIR --hosts H,...
// [--users U,...]` writes a CA and per-server and per-user certificates for
// a test or demo cluster (lib/tls/cert_dir.h). Exit: 0 written, 2 refused
// (a file exists, a bad name) or failed.
#include <sys/stat.h>

#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "lib/tls/cert_dir.h"
#include "tools/common/cli.h"

namespace kmend::tools {
namespace {

std::vector<std::string> SplitList(const std::string& s) {
  return absl::StrSplit(s, ',', absl::SkipEmpty());
}

int Run(int argc, char** argv) {
  CLI::App app{"kmend cert: certificates for a test or demo cluster"};
  app.name("kmend cert");
  app.require_subcommand(1);
  CLI::App* init = app.add_subcommand(
      "init", "Write a CA and per-server and per-user certificates into --dir (never overwrites)");
  tls::CertDirOptions o;
  std::string hosts, users = "admin";
  int valid_days = 365;
  OutputFormat format = OutputFormat::kPlain;
  init->add_option("--dir", o.dir, "Directory to write (created if missing)")->required();
  init->add_option("--hosts", hosts,
                   "Hosts servers are reached by, comma-separated (names or IPs; include "
                   "127.0.0.1 for a local cluster): one server certificate each")
      ->required();
  init->add_option("--users", users, "User identities, comma-separated: one certificate each")
      ->capture_default_str();
  init->add_option("--valid_days", valid_days, "Validity of the server and user certificates")
      ->capture_default_str()
      ->check(CLI::Range(1, 36500));
  AddFormatOption(init, &format);
  int rc = ParseArgs(app, argc, argv);
  if (rc >= 0) return rc;
  o.hosts = SplitList(hosts);
  o.users = SplitList(users);
  o.valid_for = absl::Hours(24) * valid_days;
  ::umask(077);  // keys are never readable by others, not even briefly
  absl::StatusOr<std::vector<std::string>> written = tls::InitCertDir(o);
  if (!written.ok()) return ReportError("kmend cert", written.status());
  if (format == OutputFormat::kJson) {
    PrintJson({{"schema_version", 1}, {"dir", o.dir}, {"written", *written}});
  } else {
    for (const std::string& p : *written) std::cout << "wrote " << p << "\n";
    std::cout << "servers: --tls_cert " << o.dir << "/server-<host>.crt --tls_key " << o.dir
              << "/server-<host>.key --tls_ca " << o.dir << "/ca.crt\n"
              << "tools:   --tls_cert " << o.dir << "/user-<name>.crt --tls_key " << o.dir
              << "/user-<name>.key --tls_ca " << o.dir << "/ca.crt" << std::endl;
  }
  return kExitOk;
}

}  // namespace
}  // namespace kmend::tools

int main(int argc, char** argv) { return kmend::tools::Run(argc, argv); }
