#include "lib/recover/render.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace kmend::recover {

namespace {
std::string OpIdString(const check::OpId& id) { return absl::StrCat(id.term, ".", id.index); }
}  // namespace

std::string RenderPlanPlain(const RecoveryPlan& plan) {
  std::string out = absl::StrCat("Recovery plan of ", plan.created_at, " (masters ",
                                 absl::StrJoin(plan.masters, ","), "): ", plan.tablets_checked,
                                 " tablets checked, ", plan.entries.size(),
                                 " lost their majority and can be forced, ",
                                 plan.unrecoverable.size(), " cannot be recovered, ",
                                 plan.unknown.size(), " could not be judged\n");
  if (!plan.dead_servers.empty()) {
    absl::StrAppend(&out, "\nTablet servers taken as dead (apply refuses the plan if one returns):\n");
    for (const DeadServer& d : plan.dead_servers) {
      absl::StrAppend(&out, "  ", d.uuid, "  ", d.address.empty() ? "?" : d.address, "  ",
                      d.reason, "\n");
    }
  }
  if (!plan.entries.empty()) absl::StrAppend(&out, "\nForces:\n");
  for (const PlanEntry& e : plan.entries) {
    absl::StrAppend(&out, "  tablet ", e.tablet_id, " (", e.table_name, ", RF ",
                    e.replication_factor, ")\n", "    survivor:   ", e.survivor_uuid, " at ",
                    e.survivor_address, ", last logged ", OpIdString(e.survivor_last_logged),
                    "\n", "    new voters: ", absl::StrJoin(e.new_voters, ", "), "\n",
                    "    dropped:    ", absl::StrJoin(e.dropped, ", "), "\n",
                    "    may lose:   ", e.may_lose, "\n");
    for (const std::string& w : e.warnings) absl::StrAppend(&out, "    WARNING: ", w, "\n");
  }
  if (!plan.unrecoverable.empty()) absl::StrAppend(&out, "\nCannot be recovered:\n");
  for (const TabletNote& n : plan.unrecoverable) {
    absl::StrAppend(&out, "  tablet ", n.tablet_id, " (", n.table_name, "): ", n.reason, "\n");
  }
  if (!plan.unknown.empty()) absl::StrAppend(&out, "\nCould not be judged (not planned):\n");
  for (const TabletNote& n : plan.unknown) {
    absl::StrAppend(&out, "  tablet ", n.tablet_id, " (", n.table_name, "): ", n.reason, "\n");
  }
  if (!plan.entries.empty()) {
    absl::StrAppend(&out,
                    "\nEntries that only the dropped replicas had are lost. Dropped replicas must "
                    "never rejoin with their old data (the master tombstones them).\n");
  }
  return out;
}

std::string RenderApplyPlain(const ApplyReport& report, bool dry_run) {
  std::string out;
  if (!report.match.matches()) {
    absl::StrAppend(&out, "REFUSED: the cluster no longer matches the plan (nothing changed):\n");
    for (const std::string& d : report.match.differences) absl::StrAppend(&out, "  ", d, "\n");
    absl::StrAppend(&out, "Make a new plan (kmend recover plan) and read it before applying.\n");
    return out;
  }
  if (dry_run) absl::StrAppend(&out, "DRY RUN (add --yes to apply)\n");
  int counts[6] = {0, 0, 0, 0, 0, 0};
  for (const EntryResult& e : report.entries) {
    ++counts[static_cast<int>(e.outcome)];
    absl::StrAppend(&out, "  ", e.tablet_id, " (", e.table_name, ") on ", e.survivor_uuid, ": ",
                    OutcomeName(e.outcome), ": ", e.message,
                    e.backup.empty() ? "" : absl::StrCat(" (backup ", e.backup, ")"), "\n");
  }
  absl::StrAppend(&out, report.entries.size(), " tablets: ",
                  counts[static_cast<int>(Outcome::kApplied)], " applied, ",
                  counts[static_cast<int>(Outcome::kAlreadyApplied)], " already applied, ",
                  counts[static_cast<int>(Outcome::kWouldApply)], " would apply, ",
                  counts[static_cast<int>(Outcome::kSkipped)], " skipped, ",
                  counts[static_cast<int>(Outcome::kRefused)], " refused, ",
                  counts[static_cast<int>(Outcome::kFailed)], " failed\n");
  if (!dry_run && counts[static_cast<int>(Outcome::kApplied)] == 0 &&
      counts[static_cast<int>(Outcome::kAlreadyApplied)] ==
          static_cast<int>(report.entries.size())) {
    absl::StrAppend(&out, "nothing to do: every tablet of the plan was forced before\n");
  }
  return out;
}

nlohmann::json RenderApplyJson(const ApplyReport& report, bool dry_run) {
  nlohmann::json tablets = nlohmann::json::array();
  for (const EntryResult& e : report.entries) {
    nlohmann::json t = {{"tablet_id", e.tablet_id},
                        {"table", e.table_name},
                        {"survivor", e.survivor_uuid},
                        {"outcome", OutcomeName(e.outcome)},
                        {"message", e.message},
                        {"elapsed_ms", e.elapsed_ms}};
    if (!e.backup.empty()) t["backup"] = e.backup;
    tablets.push_back(std::move(t));
  }
  return {{"schema", kApplySchema},
          {"schema_version", 1},
          {"dry_run", dry_run},
          {"matches_plan", report.match.matches()},
          {"differences", report.match.differences},
          {"tablets", tablets},
          {"exit_code", report.ExitCode()}};
}

std::string RenderVerifyPlain(const VerifyResult& result) {
  std::string out;
  for (const TabletVerdict& v : result.tablets) {
    absl::StrAppend(&out, "  ", v.tablet_id, " (", v.table_name, "): ", check::HealthName(v.health),
                    v.reason.empty() ? "" : absl::StrCat(": ", v.reason), "\n");
  }
  absl::StrAppend(&out, result.healthy, " of ", result.tablets.size(),
                  " tablets of the plan HEALTHY at their replication factor\n");
  return out;
}

nlohmann::json RenderVerifyJson(const VerifyResult& result, int64_t waited_ms) {
  nlohmann::json tablets = nlohmann::json::array();
  for (const TabletVerdict& v : result.tablets) {
    tablets.push_back({{"tablet_id", v.tablet_id},
                       {"table", v.table_name},
                       {"health", check::HealthName(v.health)},
                       {"reason", v.reason}});
  }
  return {{"schema", kVerifySchema}, {"schema_version", 1},   {"ok", result.ok()},
          {"healthy", result.healthy}, {"waited_ms", waited_ms}, {"tablets", tablets}};
}

}  // namespace kmend::recover
