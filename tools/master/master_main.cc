// kmend master (docs/cli/master.md): the sys catalog's membership.
//   unsafe-change-config  force the catalog onto the surviving master(s)
//                         after a majority of masters is lost
//   add                   add an empty master to the running catalog
//   remove                drop a master that is gone for good from the config
//   rebuild               a new master data directory whose catalog is
//                         rebuilt from the tablet servers (all masters lost)
// Both are dry runs unless --yes. Exit: 0 done (or the dry run's plan), 2
// refused (the catalog looks alive and no --force, a bad request) or failed.
#include <chrono>
#include <cstdint>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "lib/recover/catalog_rebuild.h"
#include "lib/recover/force_config.h"
#include "lib/recover/force_safety.h"
#include "lib/recover/master_membership.h"
#include "lib/recover/master_probe.h"
#include "tools/common/cli.h"
#include "tools/common/duration_flag.h"

namespace kmend::master_tool {
namespace {

constexpr char kTool[] = "kmend master";

std::vector<std::string> Uuids(const consensus::RaftConfigPB& c) {
  std::vector<std::string> out;
  for (const auto& p : c.peers()) {
    out.push_back(p.member_type() == consensus::RaftPeerPB::VOTER ? p.permanent_uuid()
                                                                   : p.permanent_uuid() + "(non-voter)");
  }
  return out;
}

nlohmann::json ProbesJson(const std::vector<recover::MasterProbe>& probes) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : probes) {
    nlohmann::json j = {{"address", p.address}, {"catalog_open", p.catalog_open}};
    if (!p.uuid.empty()) j["uuid"] = p.uuid;
    if (p.catalog_open) {
      j["term"] = p.cstate.current_term();
      j["last_logged"] = {p.last_logged.term(), p.last_logged.index()};
      j["leader_lease"] = p.leader_lease;
      j["catalog_version"] = p.catalog_version;
    }
    if (!p.error.empty()) j["error"] = p.error;
    out.push_back(j);
  }
  return out;
}

// A request refused before anything changed: the JSON says why, stderr too.
int Refuse(nlohmann::json* doc, const absl::Status& why, tools::OutputFormat format) {
  (*doc)["refused"] = true;
  (*doc)["reason"] = std::string(why.message());
  if (format == tools::OutputFormat::kJson) tools::PrintJson(*doc);
  return tools::ReportError(kTool, why);
}

int UnsafeChangeConfig(const std::vector<std::string>& masters, const std::string& backup_dir,
                       bool yes, bool force, int64_t timeout_ms, tools::OutputFormat format) {
  const auto timeout = std::chrono::milliseconds(timeout_ms);
  std::vector<recover::MasterProbe> probes = recover::ProbeMasters(masters, timeout);
  nlohmann::json doc = {{"schema", "kmend.master.unsafe_change_config/1"},
                        {"schema_version", 1},
                        {"masters", ProbesJson(probes)},
                        {"dry_run", !yes},
                        {"applied", false}};
  absl::StatusOr<recover::CatalogForceChoice> choice = recover::ChooseCatalogSurvivor(probes);
  if (!choice.ok()) {
    return Refuse(&doc, choice.status(), format);
  }
  recover::ForceRequest req;
  req.tserver = choice->survivor_address;
  req.tablet_id = recover::kCatalogTabletId;
  req.voters = choice->keep_uuids;
  req.timeout = timeout;
  req.force = force;
  req.caller_id = "kmend master unsafe-change-config";
  bool told = false;
  absl::StatusOr<recover::ForcePlan> plan =
      recover::MakeForcePlanWaitingForLeases(req, [&](const recover::ForcePlan&) {
        if (told || format == tools::OutputFormat::kJson) return;
        told = true;
        std::cerr << "kmend master: a majority of masters is lost but the survivor still holds "
                     "its leader lease; waiting for it to lapse (up to a few seconds)\n";
      });
  if (!plan.ok()) {
    return Refuse(&doc, plan.status(), format);
  }
  doc["survivor"] = {{"uuid", plan->server_uuid}, {"address", req.tserver}};
  doc["current_term"] = plan->current.current_term();
  doc["current_voters"] = Uuids(plan->current.committed_config());
  doc["forced_voters"] = Uuids(plan->forced);
  doc["dropped"] = plan->dropped;
  absl::Status safety = recover::JudgeSafety(*plan);
  if (safety.ok()) safety = recover::CheckDropsNoRunningMaster(*plan);
  doc["safety"] = safety.ok() ? "majority_lost" : (force ? "forced" : "refused");
  if (!safety.ok()) doc["safety_reason"] = std::string(safety.message());
  auto print_plan = [&](const std::string& header) {
    std::cout << header << "\n"
              << "sys catalog on master " << plan->server_uuid << " (" << req.tserver
              << "), term " << plan->current.current_term() << ", last logged "
              << plan->last_logged.term() << "." << plan->last_logged.index() << "\n"
              << "  committed config: "
              << absl::StrJoin(Uuids(plan->current.committed_config()), ", ")
              << "\n  would force:      " << absl::StrJoin(Uuids(plan->forced), ", ")
              << "\n  dropping:         " << absl::StrJoin(plan->dropped, ", ");
    for (const recover::VoterProbe& v : plan->voters) {
      std::cout << "\n  master " << v.uuid << " (" << (v.address.empty() ? "?" : v.address)
                << "): "
                << (v.running ? (v.leader_lease ? "running, leader alive" : "running, no leader")
                              : "not running: " + v.error);
    }
    std::cout << "\nCatalog changes only the dropped masters had are lost. The dropped masters "
                 "must never start again on their data: empty their --fs_root and re-add them "
                 "with `kmend master add`.\n";
  };
  if (!safety.ok() && !force) {
    doc["refused"] = true;
    if (format == tools::OutputFormat::kJson) {
      tools::PrintJson(doc);
    } else {
      print_plan("REFUSED (nothing changed)");
    }
    return tools::ReportError(kTool, safety);
  }
  doc["refused"] = false;
  if (!safety.ok()) {
    std::cerr << "WARNING: --force: " << safety.message()
              << "\nWARNING: proceeding anyway; the dropped masters must never serve again\n";
  }
  if (!yes) {
    if (format == tools::OutputFormat::kJson) {
      tools::PrintJson(doc);
    } else {
      print_plan("DRY RUN (add --yes to apply)");
    }
    return tools::kExitOk;
  }
  std::string backup;
  absl::StatusOr<consensus::RaftConfigPB> forced =
      recover::ApplyForce(req, *plan, backup_dir, &backup);
  if (!forced.ok()) return tools::ReportError(kTool, forced.status());
  doc["applied"] = true;
  doc["backup"] = backup;
  if (format == tools::OutputFormat::kJson) {
    tools::PrintJson(doc);
  } else {
    std::cout << "forced the sys catalog on master " << plan->server_uuid << " to voters "
              << absl::StrJoin(Uuids(*forced), ", ") << "\n"
              << "previous consensus state saved in " << backup << "\n"
              << "the master now elects itself and serves the catalog; empty the dropped "
                 "masters' --fs_root and re-add them with `kmend master add`\n";
  }
  return tools::kExitOk;
}

int Add(const recover::AddMasterRequest& req, bool yes, tools::OutputFormat format) {
  absl::StatusOr<recover::AddMasterPlan> plan = recover::PlanAddMaster(req);
  nlohmann::json doc = {{"schema", "kmend.master.add/1"},
                        {"schema_version", 1},
                        {"new_master", req.new_master},
                        {"dry_run", !yes},
                        {"applied", false}};
  if (!plan.ok()) {
    return Refuse(&doc, plan.status(), format);
  }
  doc["refused"] = false;
  doc["new_master_uuid"] = plan->candidate.uuid;
  doc["leader"] = {{"uuid", plan->leader.uuid}, {"address", plan->leader.address}};
  doc["config_before"] = Uuids(plan->leader.cstate.committed_config());
  doc["step"] = recover::AddMasterStepName(plan->step);
  if (!yes || plan->step == recover::AddMasterStep::kNothing) {
    if (format == tools::OutputFormat::kJson) {
      tools::PrintJson(doc);
    } else if (plan->step == recover::AddMasterStep::kNothing) {
      std::cout << "master " << plan->candidate.uuid << " (" << req.new_master
                << ") is a voter of the catalog already: nothing to do\n";
    } else {
      std::cout << "DRY RUN (add --yes to apply)\n"
                << "catalog leader " << plan->leader.uuid << " (" << plan->leader.address
                << "), config " << absl::StrJoin(Uuids(plan->leader.cstate.committed_config()), ", ")
                << "\nwould "
                << (plan->step == recover::AddMasterStep::kPromote ? "promote" : "add, then promote")
                << " master " << plan->candidate.uuid << " (" << req.new_master << ")\n";
    }
    return tools::kExitOk;
  }
  absl::StatusOr<consensus::RaftConfigPB> after =
      recover::ApplyAddMaster(req, *plan, [format](const std::string& line) {
        if (format != tools::OutputFormat::kJson) std::cout << line << "\n" << std::flush;
      });
  if (!after.ok()) return tools::ReportError(kTool, after.status());
  doc["applied"] = true;
  doc["config_after"] = Uuids(*after);
  if (format == tools::OutputFormat::kJson) {
    tools::PrintJson(doc);
  } else {
    std::cout << "catalog config now " << absl::StrJoin(Uuids(*after), ", ") << "\n";
  }
  return tools::kExitOk;
}

int Remove(const std::vector<std::string>& masters, const std::string& uuid, bool yes,
           int64_t timeout_ms, tools::OutputFormat format) {
  const auto timeout = std::chrono::milliseconds(timeout_ms);
  absl::StatusOr<recover::RemoveMasterPlan> plan = recover::PlanRemoveMaster(masters, uuid, timeout);
  nlohmann::json doc = {{"schema", "kmend.master.remove/1"},
                        {"schema_version", 1},
                        {"uuid", uuid},
                        {"dry_run", !yes},
                        {"applied", false}};
  if (!plan.ok()) {
    return Refuse(&doc, plan.status(), format);
  }
  doc["refused"] = false;
  doc["leader"] = {{"uuid", plan->leader.uuid}, {"address", plan->leader.address}};
  doc["config_before"] = Uuids(plan->leader.cstate.committed_config());
  doc["step"] = plan->already_removed ? "nothing" : "remove";
  if (plan->already_removed) {
    if (format == tools::OutputFormat::kJson) {
      tools::PrintJson(doc);
    } else {
      std::cout << "master " << uuid << " is not a member of the catalog config "
                << absl::StrJoin(Uuids(plan->leader.cstate.committed_config()), ", ")
                << ": nothing to do\n";
    }
    return tools::kExitOk;
  }
  if (!yes) {
    if (format == tools::OutputFormat::kJson) {
      tools::PrintJson(doc);
    } else {
      std::cout << "DRY RUN (add --yes): would remove master " << uuid << " (last at "
                << plan->address << ", not answering) from the catalog config "
                << absl::StrJoin(Uuids(plan->leader.cstate.committed_config()), ", ") << "\n";
    }
    return tools::kExitOk;
  }
  absl::StatusOr<consensus::RaftConfigPB> after = recover::ApplyRemoveMaster(*plan, uuid, timeout);
  if (!after.ok()) return tools::ReportError(kTool, after.status());
  doc["applied"] = true;
  doc["config_after"] = Uuids(*after);
  if (format == tools::OutputFormat::kJson) {
    tools::PrintJson(doc);
  } else {
    std::cout << "removed master " << uuid << "; catalog config now "
              << absl::StrJoin(Uuids(*after), ", ") << "\n";
  }
  return tools::kExitOk;
}

int Rebuild(const std::string& fs_root, const std::vector<std::string>& masters,
            const std::vector<std::string>& tservers, const std::set<std::string>& exclude,
            bool yes, bool force, int64_t timeout_ms, tools::OutputFormat format) {
  const std::vector<std::string> running =
      recover::AnsweringMasters(recover::ProbeMasters(masters, std::chrono::milliseconds(timeout_ms)));
  std::vector<recover::ServerReport> reports =
      recover::CollectServerReports(tservers, std::chrono::milliseconds(timeout_ms));
  int answered = 0;
  for (const auto& r : reports) answered += !r.uuid.empty();
  nlohmann::json doc = {{"schema", "kmend.master.rebuild/1"},
                        {"schema_version", 1},
                        {"fs_root", fs_root},
                        {"dry_run", !yes},
                        {"written", false},
                        {"running_masters", running}};
  if (!running.empty() && !force) {
    return Refuse(&doc,
                  absl::FailedPreconditionError(absl::StrCat(
                      "master(s) still answer: ", absl::StrJoin(running, ", "),
                      ". A catalog rebuilt beside a running master would be a second catalog "
                      "judging the same tablet servers; rebuild only when every master's data is "
                      "lost (stop them), or use `kmend master unsafe-change-config` while one "
                      "survives. --force rebuilds anyway")),
                  format);
  }
  doc["refused"] = false;
  if (answered == 0) {
    absl::Status s = absl::UnavailableError("no tablet server answered: nothing to rebuild from");
    doc["reason"] = std::string(s.message());
    if (format == tools::OutputFormat::kJson) tools::PrintJson(doc);
    return tools::ReportError(kTool, s);
  }
  recover::RebuildResult result =
      recover::BuildCatalog(reports, absl::ToUnixMicros(absl::Now()), exclude);
  doc["tables"] = nlohmann::json::array();
  for (const auto& t : result.tables) {
    doc["tables"].push_back({{"table_id", t.table_id},
                             {"name", t.name},
                             {"num_tablets", t.num_tablets},
                             {"num_replicas", t.num_replicas}});
  }
  doc["lost"] = nlohmann::json::array();
  for (const auto& t : result.lost) {
    doc["lost"].push_back({{"table_id", t.table_id}, {"name", t.name}, {"reason", t.reason}});
  }
  doc["warnings"] = result.warnings;
  doc["not_recoverable"] = {"tables with no surviving replica", "creation times (set to now)",
                            "the catalog's version history",
                            "the tablet server registry (rebuilt from heartbeats)"};
  const bool complete = result.lost.empty() && result.warnings.empty();
  if (format != tools::OutputFormat::kJson) {
    std::cout << (yes ? "REBUILDING" : "DRY RUN (add --yes to write)") << ": catalog from "
              << answered << " of " << reports.size() << " tablet server(s) into " << fs_root
              << "\n";
    for (const auto& t : result.tables) {
      std::cout << "  table " << t.name << " (" << t.table_id << "): " << t.num_tablets
                << " tablet(s), RF " << t.num_replicas << "\n";
    }
    for (const auto& t : result.lost) {
      std::cout << "  NOT RECOVERED: table " << t.name << " (" << t.table_id << "): " << t.reason
                << "\n";
    }
    for (const auto& w : result.warnings) std::cout << "  WARNING: " << w << "\n";
    std::cout << "Never recoverable from tablet servers: tables with no surviving replica, creation "
                 "times, the catalog's history. A table deleted while a server holding its "
                 "replicas was down comes back: check the list, delete it again.\n";
  }
  if (!yes) {
    if (format == tools::OutputFormat::kJson) tools::PrintJson(doc);
    return complete ? tools::kExitOk : tools::kExitProblems;
  }
  absl::StatusOr<std::string> uuid = recover::WriteRebuiltCatalog(fs_root, result.catalog);
  if (!uuid.ok()) {
    doc["reason"] = std::string(uuid.status().message());
    if (format == tools::OutputFormat::kJson) tools::PrintJson(doc);
    return tools::ReportError(kTool, uuid.status());
  }
  doc["written"] = true;
  doc["master_uuid"] = *uuid;
  if (format == tools::OutputFormat::kJson) {
    tools::PrintJson(doc);
  } else {
    std::cout << "wrote " << result.catalog.tables_size() << " table(s), "
              << result.catalog.tablets_size() << " tablet(s) for new master " << *uuid
              << "\nstart ONE master on " << fs_root
              << " (no --master_addrs) at an address the tablet servers' --master_addrs lists; "
                 "then add the others with `kmend master add`\n";
  }
  return complete ? tools::kExitOk : tools::kExitProblems;
}

void AddTimeout(CLI::App* cmd, int64_t* timeout_ms) {
  cmd->add_option("--timeout", *timeout_ms, "Deadline of each call, e.g. 5s (bare: ms)")
      ->default_str("5s")
      ->transform(tools::MillisecondsDuration())
      ->check(CLI::PositiveNumber);
}

int Run(int argc, char** argv) {
  CLI::App app{
      "kmend master: the masters' sys catalog (force after a lost majority, add a master, "
      "rebuild from the tablet servers)"};
  app.name("kmend master");
  app.require_subcommand(1);
  std::string masters, backup_dir = ".", new_master;
  bool yes = false, force = false;
  int64_t timeout_ms = 5000, wait_ms = 60000;
  tools::OutputFormat format = tools::OutputFormat::kPlain;

  CLI::App* ucc = app.add_subcommand(
      "unsafe-change-config",
      "Force the sys catalog's Raft config onto the surviving master(s) after a majority of "
      "masters is lost (loses catalog changes only the lost masters had)");
  ucc->add_option("--masters", masters, "Every master's address, HOST:PORT[,HOST:PORT...]")
      ->required();
  ucc->add_flag("--yes", yes, "Do it (default: only show the plan)");
  ucc->add_flag("--force", force,
                "Force even though the catalog looks alive (a leader, or a majority of masters "
                "running): can split the brain");
  ucc->add_option(tools::FlagWithDashedAlias("backup_dir"), backup_dir,
                  "Where the replaced consensus state is saved");
  AddTimeout(ucc, &timeout_ms);
  tools::AddFormatOption(ucc, &format);

  CLI::App* add = app.add_subcommand(
      "add", "Add an empty, running master to the catalog (non-voter, catch up, promote)");
  add->add_option("--masters", masters, "The running catalog's masters, HOST:PORT[,...]")
      ->required();
  add->add_option("new_master", new_master, "HOST:PORT of the master to add")->required();
  add->add_flag("--yes", yes, "Do it (default: only show the plan)");
  add->add_option("--wait", wait_ms, "How long the new master may take to catch up, e.g. 2m")
      ->default_str("60s")
      ->transform(tools::MillisecondsDuration())
      ->check(CLI::PositiveNumber);
  AddTimeout(add, &timeout_ms);
  tools::AddFormatOption(add, &format);

  std::string remove_uuid;
  CLI::App* remove = app.add_subcommand(
      "remove", "Drop a master that is gone for good from the catalog config (refused while it answers)");
  remove->add_option("--masters", masters, "The running catalog's masters, HOST:PORT[,...]")
      ->required();
  remove->add_option("uuid", remove_uuid, "The gone master's uuid")->required();
  remove->add_flag("--yes", yes, "Do it (default: only check)");
  AddTimeout(remove, &timeout_ms);
  tools::AddFormatOption(remove, &format);

  std::string fs_root, tservers;
  CLI::App* rebuild = app.add_subcommand(
      "rebuild",
      "Write a new master data directory whose catalog is rebuilt from the tablet servers' "
      "replicas (every master's data lost)");
  rebuild->add_option(tools::FlagWithDashedAlias("fs_root"), fs_root,
                      "The new master's data directory (must be empty)")
      ->required();
  rebuild->add_option("--tservers", tservers, "Every tablet server, HOST:PORT[,HOST:PORT...]")
      ->required();
  rebuild
      ->add_option("--masters", masters,
                   "Every master's address, HOST:PORT[,HOST:PORT...]: refused while any answers")
      ->required();
  std::string exclude_table_ids;
  rebuild->add_option(tools::FlagWithDashedAlias("exclude_table_ids"), exclude_table_ids,
                      "Table ids not to rebuild, ID[,ID...] (stale tables sharing a name)");
  rebuild->add_flag("--force", force, "Rebuild even though a master answers");
  rebuild->add_flag("--yes", yes, "Write it (default: only show what would be rebuilt)");
  AddTimeout(rebuild, &timeout_ms);
  tools::AddFormatOption(rebuild, &format);

  int rc = tools::ParseArgs(app, argc, argv);
  if (rc >= 0) return rc;
  if (rebuild->parsed()) {
    return Rebuild(fs_root, absl::StrSplit(masters, ',', absl::SkipWhitespace()),
                   absl::StrSplit(tservers, ',', absl::SkipWhitespace()),
                   absl::StrSplit(exclude_table_ids, ',', absl::SkipWhitespace()), yes, force,
                   timeout_ms, format);
  }
  std::vector<std::string> list = absl::StrSplit(masters, ',', absl::SkipWhitespace());
  if (remove->parsed()) return Remove(list, remove_uuid, yes, timeout_ms, format);
  if (ucc->parsed()) return UnsafeChangeConfig(list, backup_dir, yes, force, timeout_ms, format);
  recover::AddMasterRequest req;
  req.masters = list;
  req.new_master = new_master;
  req.timeout = std::chrono::milliseconds(timeout_ms);
  req.catch_up_wait = std::chrono::milliseconds(wait_ms);
  return Add(req, yes, format);
}

}  // namespace
}  // namespace kmend::master_tool

int main(int argc, char** argv) { return kmend::master_tool::Run(argc, argv); }
