// kmend unsafe-change-config (docs/cli/unsafe_change_config.md). Dry run
// unless --yes. Exit: 0 done (or dry run planned), 2 refused (the group looks
// alive and no --force, or a bad request) or failed.
#include <chrono>
#include <cstdint>
#include <iostream>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "tools/common/cli.h"
#include "tools/common/duration_flag.h"
#include "lib/recover/force_config.h"
#include "lib/recover/force_safety.h"

namespace kmend::unsafe_config {

using recover::ForcePlan;
using recover::ForceRequest;
using recover::VoterProbe;
namespace {

std::vector<std::string> Uuids(const consensus::RaftConfigPB& c) {
  std::vector<std::string> out;
  for (const auto& p : c.peers()) out.push_back(p.permanent_uuid());
  return out;
}

// The plan for people: what is forced, what is dropped, how each voter
// answered.
void PrintPlan(const std::string& header, const ForceRequest& req, const ForcePlan& plan) {
  std::cout << header << "\n"
            << "tablet " << req.tablet_id << " on " << plan.server_uuid << " (" << req.tserver
            << "), term " << plan.current.current_term() << "\n"
            << "  committed config: " << absl::StrJoin(Uuids(plan.current.committed_config()), ", ")
            << "\n  would force:      " << absl::StrJoin(Uuids(plan.forced), ", ")
            << "\n  dropping:         " << absl::StrJoin(plan.dropped, ", ");
  for (const VoterProbe& v : plan.voters) {
    std::cout << "\n  voter " << v.uuid << " (" << (v.address.empty() ? "?" : v.address) << "): "
              << (v.running ? (v.leader_lease ? "running, leader alive" : "running, no leader")
                            : "not running: " + v.error);
  }
  std::cout << "\nEntries that only the dropped replicas had are lost.\n";
}

int Run(int argc, char** argv) {
  CLI::App app{
      "kmend unsafe-change-config: force a tablet replica's Raft config to the survivors "
      "(loses entries only the lost replicas had)"};
  app.name("kmend unsafe-change-config");
  ForceRequest req;
  std::string voters, backup_dir = ".";
  bool yes = false;
  int64_t timeout_ms = 10000;
  tools::OutputFormat format = tools::OutputFormat::kPlain;
  app.add_option("--tserver", req.tserver, "HOST:PORT of the surviving replica's server")
      ->required();
  app.add_option("--tablet", req.tablet_id, "Tablet id")->required();
  app.add_option("--voters", voters, "UUIDs to keep, comma-separated (include the survivor)")
      ->required();
  app.add_flag("--yes", yes, "Do it (default: only show the plan)");
  app.add_flag("--force", req.force,
               "Force even though the tablet's group looks alive (a live leader, or a majority "
               "of voters running): can split the brain; only when those replicas are gone");
  app.add_option(tools::FlagWithDashedAlias("backup_dir"), backup_dir, "Where the replaced consensus state is saved");
  app.add_option("--timeout,--timeout_ms", timeout_ms,
                 "Deadline of each RPC, e.g. 10s, 500ms (bare number: ms)")
      ->capture_default_str()
      ->transform(tools::MillisecondsDuration())
      ->check(CLI::PositiveNumber);
  tools::AddFormatOption(&app, &format);
  int rc = tools::ParseArgs(app, argc, argv);
  if (rc >= 0) return rc;
  req.voters = absl::StrSplit(voters, ',', absl::SkipWhitespace());
  req.timeout = std::chrono::milliseconds(timeout_ms);

  bool told = false;
  absl::StatusOr<ForcePlan> plan = recover::MakeForcePlanWaitingForLeases(req, [&told](const ForcePlan&) {
    if (told) return;
    told = true;
    std::cerr << "kmend unsafe-change-config: a majority is lost but a survivor still holds "
                 "its leader lease; waiting for it to lapse (up to a few seconds)\n";
  });
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
  nlohmann::json probes = nlohmann::json::array();
  for (const VoterProbe& v : plan->voters) {
    nlohmann::json p = {{"uuid", v.uuid},
                        {"address", v.address},
                        {"running", v.running},
                        {"leader_lease", v.leader_lease}};
    if (!v.leader_uuid.empty()) p["leader_uuid"] = v.leader_uuid;
    if (v.ms_since_leader_contact >= 0) p["ms_since_leader_contact"] = v.ms_since_leader_contact;
    if (!v.error.empty()) p["error"] = v.error;
    probes.push_back(p);
  }
  doc["voters_probed"] = probes;
  // The group looks alive: refuse, unless --force (then warn loudly).
  const absl::Status safety = recover::JudgeSafety(*plan);
  doc["safety"] = safety.ok() ? "majority_lost" : (req.force ? "forced" : "refused");
  if (!safety.ok()) doc["safety_reason"] = std::string(safety.message());
  if (!safety.ok() && !req.force) {
    if (format == tools::OutputFormat::kJson) {
      tools::PrintJson(doc);
    } else {
      PrintPlan("REFUSED (nothing changed)", req, *plan);
    }
    return tools::ReportError("kmend unsafe-change-config", safety);
  }
  if (!safety.ok()) {
    std::cerr << "WARNING: --force: " << safety.message()
              << "\nWARNING: proceeding anyway; the old majority's replicas must never serve "
                 "again (stop them, and delete or tombstone their copies of this tablet)\n";
  }
  if (!yes) {
    if (format == tools::OutputFormat::kJson) {
      tools::PrintJson(doc);
    } else {
      PrintPlan("DRY RUN (add --yes to apply)", req, *plan);
    }
    return tools::kExitOk;
  }
  std::string backup;
  absl::StatusOr<consensus::RaftConfigPB> forced =
      recover::ApplyForce(req, *plan, backup_dir, &backup);
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
