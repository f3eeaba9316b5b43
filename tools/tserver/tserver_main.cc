// kmend tserver unregister: forget a tablet server that is gone for good
// (docs/cli/tserver.md). A thin front over lib/recover/unregister.h: collect
// the cluster as ksck does, refuse a live server or one that may hold the only
// copy of a tablet, then ask every master. Dry run unless --yes.
// Exit: 0 done (or would be), 2 refused or could not run.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "lib/check/remote_collector.h"
#include "lib/recover/unregister.h"
#include "tools/common/cli.h"
#include "tools/common/duration_flag.h"

namespace kmend::tserver_tool {
namespace {

constexpr char kTool[] = "kmend tserver";

int Unregister(const std::string& masters_text, const std::string& uuid, bool yes,
               int64_t timeout_ms, tools::OutputFormat format) {
  check::CollectOptions opt;
  opt.masters = absl::StrSplit(masters_text, ',', absl::SkipWhitespace());
  opt.timeout = std::chrono::milliseconds(timeout_ms);
  absl::StatusOr<check::ClusterSnapshot> snap = check::CollectRemote(opt);
  if (!snap.ok()) return tools::ReportError(kTool, snap.status());
  absl::Status judged = recover::JudgeUnregister(*snap, uuid);
  nlohmann::json doc = {{"schema", "kmend.tserver.unregister/1"},
                        {"schema_version", 1},
                        {"uuid", uuid},
                        {"dry_run", !yes},
                        {"refused", !judged.ok()},
                        {"masters", nlohmann::json::array()}};
  if (!judged.ok()) {
    doc["reason"] = std::string(judged.message());
    if (format == tools::OutputFormat::kJson) tools::PrintJson(doc);
    return tools::ReportError(kTool, judged);
  }
  if (!yes) {
    if (format == tools::OutputFormat::kJson) {
      tools::PrintJson(doc);
    } else {
      std::cout << "DRY RUN (add --yes): would unregister tablet server " << uuid << " from "
                << opt.masters.size() << " master(s)\n";
    }
    return tools::kExitOk;
  }
  bool all_ok = true;
  for (const recover::MasterAnswer& a :
       recover::UnregisterFromMasters(opt.masters, uuid, opt.timeout)) {
    // A master that never heard of it has nothing to forget.
    const bool ok = a.status.ok() || a.status.code() == absl::StatusCode::kNotFound;
    all_ok &= ok;
    doc["masters"].push_back(
        {{"master", a.master}, {"ok", ok}, {"message", std::string(a.status.message())}});
    if (format != tools::OutputFormat::kJson) {
      std::cout << a.master << ": " << (a.status.ok() ? "unregistered" : a.status.ToString())
                << "\n";
    }
  }
  if (format == tools::OutputFormat::kJson) tools::PrintJson(doc);
  if (!all_ok) return tools::kExitError;
  if (format != tools::OutputFormat::kJson) {
    std::cout << "tablet server " << uuid
              << " unregistered; if it ever comes back it registers again\n";
  }
  return tools::kExitOk;
}

int Maintenance(const std::string& masters_text, const std::string& uuid, bool enter,
                int64_t timeout_ms, tools::OutputFormat format) {
  std::vector<std::string> masters = absl::StrSplit(masters_text, ',', absl::SkipWhitespace());
  nlohmann::json doc = {{"schema", "kmend.tserver.maintenance/1"},
                        {"schema_version", 1},
                        {"uuid", uuid},
                        {"enter", enter},
                        {"masters", nlohmann::json::array()}};
  // The catalog leader records the mode in the catalog; the others answer
  // that they do not lead. Done when one master (the leader) took it.
  std::vector<recover::MasterAnswer> answers =
      recover::SetMaintenanceOnMasters(masters, uuid, enter, std::chrono::milliseconds(timeout_ms));
  bool recorded = false;
  for (const recover::MasterAnswer& a : answers) {
    recorded |= a.status.ok();
    doc["masters"].push_back(
        {{"master", a.master}, {"ok", a.status.ok()}, {"message", std::string(a.status.message())}});
  }
  doc["recorded"] = recorded;
  if (format == tools::OutputFormat::kJson) tools::PrintJson(doc);
  if (format != tools::OutputFormat::kJson) {
    for (const recover::MasterAnswer& a : answers) {
      if (a.status.ok()) {
        std::cout << a.master << ": recorded in the catalog\n";
      } else if (!recorded) {
        std::cout << a.master << ": " << a.status.ToString() << "\n";
      }
    }
  }
  if (!recorded) return tools::kExitError;
  if (format != tools::OutputFormat::kJson) {
    std::cout << "tablet server " << uuid
              << (enter ? " is in maintenance mode: its replicas are not re-replicated while it "
                          "is down; run `kmend tserver maintenance exit` when it is back"
                        : " left maintenance mode")
              << "\n";
  }
  return tools::kExitOk;
}

int Run(int argc, char** argv) {
  CLI::App app{"kmend tserver: administer tablet servers as the master sees them"};
  app.name("kmend tserver");
  app.require_subcommand(1);
  std::string masters, uuid;
  bool yes = false;
  int64_t timeout_ms = 5000;
  tools::OutputFormat format = tools::OutputFormat::kPlain;
  CLI::App* unregister = app.add_subcommand(
      "unregister",
      "Forget a tablet server that is gone for good (refused while it runs or may hold the only "
      "copy of a tablet)");
  unregister->add_option("--masters", masters, "Master addresses, HOST:PORT[,HOST:PORT...]")
      ->required();
  unregister->add_option("uuid", uuid, "The tablet server's uuid")->required();
  unregister->add_flag("--yes", yes, "Do it (default: only check)");
  unregister->add_option("--timeout", timeout_ms, "Deadline of each call, e.g. 5s (bare: ms)")
      ->default_str("5s")
      ->transform(tools::MillisecondsDuration())
      ->check(CLI::PositiveNumber);
  tools::AddFormatOption(unregister, &format);
  CLI::App* maintenance = app.add_subcommand(
      "maintenance",
      "Enter or exit maintenance mode: while in it, a down server's replicas are not "
      "re-replicated (a planned restart)");
  maintenance->require_subcommand(1);
  CLI::App* enter = maintenance->add_subcommand("enter", "Put the server in maintenance mode");
  CLI::App* exit_cmd = maintenance->add_subcommand("exit", "Take it out of maintenance mode");
  for (CLI::App* cmd : {enter, exit_cmd}) {
    cmd->add_option("--masters", masters, "Every master's address, HOST:PORT[,HOST:PORT...]")
        ->required();
    cmd->add_option("uuid", uuid, "The tablet server's uuid")->required();
    cmd->add_option("--timeout", timeout_ms, "Deadline of each call, e.g. 5s (bare: ms)")
        ->default_str("5s")
        ->transform(tools::MillisecondsDuration())
        ->check(CLI::PositiveNumber);
    tools::AddFormatOption(cmd, &format);
  }
  int rc = tools::ParseArgs(app, argc, argv);
  if (rc >= 0) return rc;
  if (maintenance->parsed()) {
    return Maintenance(masters, uuid, enter->parsed(), timeout_ms, format);
  }
  return Unregister(masters, uuid, yes, timeout_ms, format);
}

}  // namespace
}  // namespace kmend::tserver_tool

int main(int argc, char** argv) { return kmend::tserver_tool::Run(argc, argv); }
