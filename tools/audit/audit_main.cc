// kmend audit (docs/cli/audit.md): `kmend audit show --fs_root DIR
// [--format=json]` prints a server data directory's audit log
// (lib/audit/audit_log.h): who did which admin action, when, and how it
// ended. Reads only; works on a stopped or a running server's directory.
// Exit: 0 printed (also an empty log), 2 no log or unreadable.
#include <iostream>
#include <string>

#include "absl/strings/str_cat.h"
#include "lib/audit/audit_log.h"
#include "tools/common/cli.h"

namespace kmend::tools {
namespace {

nlohmann::json ToJson(const audit::AuditRecord& r) {
  return {{"time", r.time},       {"action", r.action},   {"identity", r.identity},
          {"caller", r.caller},   {"tablet_id", r.tablet_id}, {"request", r.request},
          {"outcome", r.outcome}, {"detail", r.detail}};
}

int Run(int argc, char** argv) {
  CLI::App app{"kmend audit: print a server's audit log of admin actions"};
  app.name("kmend audit");
  app.require_subcommand(1);
  CLI::App* show = app.add_subcommand("show", "Print <fs_root>/audit/audit.log, oldest first");
  std::string fs_root;
  OutputFormat format = OutputFormat::kPlain;
  show->add_option(FlagWithDashedAlias("fs_root"), fs_root, "The server's data directory")
      ->required();
  AddFormatOption(show, &format);
  int rc = ParseArgs(app, argc, argv);
  if (rc >= 0) return rc;
  absl::StatusOr<std::vector<audit::AuditRecord>> records = audit::ReadAudit(fs_root);
  if (!records.ok()) return ReportError("kmend audit", records.status());
  if (format == OutputFormat::kJson) {
    nlohmann::json list = nlohmann::json::array();
    for (const audit::AuditRecord& r : *records) list.push_back(ToJson(r));
    PrintJson({{"schema_version", 1},
               {"schema", audit::kSchema},
               {"fs_root", fs_root},
               {"log", audit::AuditLogPath(fs_root)},
               {"records", list}});
    return kExitOk;
  }
  for (const audit::AuditRecord& r : *records) {
    std::cout << (r.time.empty() ? "-" : r.time) << "  " << r.action << "  "
              << (r.identity.empty() ? "-" : r.identity) << "  "
              << (r.outcome.empty() ? "-" : r.outcome);
    if (!r.tablet_id.empty()) std::cout << "  tablet " << r.tablet_id;
    if (!r.caller.empty()) std::cout << "  caller \"" << r.caller << "\"";
    std::cout << "\n";
    if (!r.request.empty()) std::cout << "    request: " << r.request << "\n";
    if (!r.detail.empty()) std::cout << "    detail: " << r.detail << "\n";
  }
  std::cout << records->size() << " record(s) in " << audit::AuditLogPath(fs_root) << std::endl;
  return kExitOk;
}

}  // namespace
}  // namespace kmend::tools

int main(int argc, char** argv) { return kmend::tools::Run(argc, argv); }
