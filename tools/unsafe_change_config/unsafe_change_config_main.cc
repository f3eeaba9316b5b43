// kmend unsafe-change-config (docs/cli/unsafe_change_config.md). Dry run
// unless --yes. Exit: 0 done (or dry run planned), 2 refused or failed.
#include <iostream>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tools/common/cli.h"
#include "tools/unsafe_change_config/unsafe_change_config.h"

namespace kmend::unsafe_config {
namespace {

std::vector<std::string> Uuids(const consensus::RaftConfigPB& c) {
  std::vector<std::string> out;
  for (const auto& p : c.peers()) out.push_back(p.permanent_uuid());
  return out;
}

int Run(int argc, char** argv) {
  CLI::App app{
      "kmend unsafe-change-config: force a tablet replica's Raft config to the survivors "
      "(loses entries only the lost replicas had)"};
  app.name("kmend unsafe-change-config");
  Request req;
  std::string voters, backup_dir = ".";
  bool yes = false;
  int timeout_ms = 10000;
  tools::OutputFormat format = tools::OutputFormat::kPlain;
  app.add_option("--tserver", req.tserver, "HOST:PORT of the surviving replica's server")
      ->required();
  app.add_option("--tablet", req.tablet_id, "Tablet id")->required();
  app.add_option("--voters", voters, "UUIDs to keep, comma-separated (include the survivor)")
      ->required();
  app.add_flag("--yes", yes, "Do it (default: only show the plan)");
  app.add_option("--backup-dir", backup_dir, "Where the replaced consensus state is saved");
  app.add_option("--timeout_ms", timeout_ms, "Deadline of each RPC");
  tools::AddFormatOption(&app, &format);
  int rc = tools::ParseArgs(app, argc, argv);
  if (rc >= 0) return rc;
  req.voters = absl::StrSplit(voters, ',', absl::SkipWhitespace());
  req.timeout = std::chrono::milliseconds(timeout_ms);

  absl::StatusOr<Plan> plan = MakePlan(req);
  if (!plan.ok()) return tools::ReportError("kmend unsafe-change-config", plan.status());
  nlohmann::json doc = {{"schema_version", 1},
                        {"tablet_id", req.tablet_id},
                        {"tserver", req.tserver},
                        {"server_uuid", plan->server_uuid},
                        {"current_term", plan->current.current_term()},
                        {"current_voters", Uuids(plan->current.committed_config())},
                        {"forced_voters", Uuids(plan->forced)},
                        {"dropped", plan->dropped},
                        {"applied", false}};
  if (!yes) {
    if (format == tools::OutputFormat::kJson) {
      tools::PrintJson(doc);
    } else {
      std::cout << "DRY RUN (add --yes to apply)\n"
                << "tablet " << req.tablet_id << " on " << plan->server_uuid << " (" << req.tserver
                << "), term " << plan->current.current_term() << "\n"
                << "  committed config: "
                << absl::StrJoin(Uuids(plan->current.committed_config()), ", ")
                << "\n  would force:      " << absl::StrJoin(Uuids(plan->forced), ", ")
                << "\n  dropping:         " << absl::StrJoin(plan->dropped, ", ")
                << "\nEntries that only the dropped replicas had are lost.\n";
    }
    return tools::kExitOk;
  }
  std::string backup;
  absl::StatusOr<consensus::RaftConfigPB> forced = Apply(req, *plan, backup_dir, &backup);
  if (!forced.ok()) return tools::ReportError("kmend unsafe-change-config", forced.status());
  doc["applied"] = true;
  doc["backup"] = backup;
  if (format == tools::OutputFormat::kJson) {
    tools::PrintJson(doc);
  } else {
    std::cout << "forced tablet " << req.tablet_id << " on " << plan->server_uuid << " to voters "
              << absl::StrJoin(Uuids(*forced), ", ") << "\n"
              << "previous consensus state saved in " << backup << "\n"
              << "the replica can now elect itself; the master re-replicates to the table's "
                 "replication factor\n";
  }
  return tools::kExitOk;
}

}  // namespace
}  // namespace kmend::unsafe_config

int main(int argc, char** argv) { return kmend::unsafe_config::Run(argc, argv); }
