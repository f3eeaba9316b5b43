#include "lib/rebuild/render.h"

#include "absl/strings/str_cat.h"

namespace kmend::rebuild {
namespace {

std::string Text(const check::OpId& id) { return absl::StrCat(id.term, ".", id.index); }

nlohmann::json PeerJson(const PeerFacts& p) {
  nlohmann::json j = {{"uuid", p.uuid}, {"address", p.address}, {"state", StateText(p)}};
  if (p.replica) {
    j["role"] = check::RoleName(p.replica->role);
    if (p.running) j["last_logged"] = Text(p.replica->last_logged);
  }
  return j;
}

int64_t Bytes(const Plan& plan) { return plan.session_bytes.value_or(plan.estimated_bytes); }

}  // namespace

std::string RenderPlanPlain(const std::string& tablet_id, const Plan& plan, bool applying) {
  std::string out = absl::StrCat(applying ? "Rebuilding" : "Would rebuild", " the replica of tablet ",
                                 tablet_id, "\n");
  absl::StrAppend(&out, "  target:  ", plan.target.uuid, " (", plan.target.address, "), replica ",
                  plan.replaced_state,
                  plan.replaced_last_logged
                      ? absl::StrCat(", last logged ", Text(*plan.replaced_last_logged),
                                     plan.replaced_last_logged_from.empty()
                                         ? ""
                                         : absl::StrCat(" (from its ",
                                                        plan.replaced_last_logged_from, ")"))
                      : "",
                  "\n");
  absl::StrAppend(&out, "  source:  ", plan.source.uuid, " (", plan.source.address, "), ",
                  plan.source_reason, ", last logged ", Text(plan.source.replica->last_logged),
                  "\n");
  if (plan.session_bytes) {
    absl::StrAppend(&out, "  to copy: ", HumanBytes(*plan.session_bytes), " (",
                    *plan.session_bytes, " bytes: ", plan.session_blocks, " blocks, ",
                    plan.session_wal_segments, " WAL segments)\n");
  } else {
    absl::StrAppend(&out, "  to copy: about ", HumanBytes(plan.estimated_bytes),
                    " (the source's size on disk)\n");
  }
  absl::StrAppend(&out, "  replaces: the target's ", plan.replaced_state,
                  " replica (its data, WAL and superblock; the consensus metadata keeps the "
                  "higher term and its vote)",
                  plan.replaced_state == "READY" ? ", tombstoned first" : "",
                  plan.replaced_state == "COPYING"
                      ? " (an interrupted copy: resumed if the source still holds the same blocks)"
                      : "",
                  "\n");
  for (const std::string& w : plan.warnings) absl::StrAppend(&out, "  WARNING: ", w, "\n");
  if (!applying) absl::StrAppend(&out, "Dry run: nothing changed. Add --yes to rebuild.\n");
  return out;
}

nlohmann::json PlanJson(const std::string& tablet_id, const Plan& plan, bool applying) {
  nlohmann::json j = {{"schema", kSchema},
                      {"schema_version", kSchemaVersion},
          {"schema_version", kSchemaVersion},
                      {"event", "plan"},
                      {"mode", "online"},
                      {"tablet_id", tablet_id},
                      {"applying", applying},
                      {"target", PeerJson(plan.target)},
                      {"source", PeerJson(plan.source)},
                      {"source_reason", plan.source_reason},
                      {"leader_uuid", plan.leader_uuid},
                      {"bytes_to_copy", Bytes(plan)},
                      {"bytes_exact", plan.session_bytes.has_value()},
                      {"replaced_state", plan.replaced_state},
                      {"warnings", plan.warnings}};
  if (plan.replaced_last_logged) j["replaced_last_logged"] = Text(*plan.replaced_last_logged);
  if (!plan.replaced_last_logged_from.empty()) {
    j["replaced_last_logged_from"] = plan.replaced_last_logged_from;
  }
  if (plan.session_bytes) {
    j["blocks"] = plan.session_blocks;
    j["wal_segments"] = plan.session_wal_segments;
  }
  return j;
}

nlohmann::json RefusedJson(const std::string& tablet_id, Refusal refusal,
                           const std::string& reason, const std::string& by,
                           const std::vector<RefusalFact>& all) {
  nlohmann::json j = {{"schema", kSchema},
                      {"schema_version", kSchemaVersion},
                      {"event", "refused"},
                      {"tablet_id", tablet_id},
                      {"refusal", RefusalName(refusal)},
                      {"reason", reason},
                      {"by", by}};
  if (!all.empty()) {
    nlohmann::json list = nlohmann::json::array();
    for (const RefusalFact& r : all) list.push_back({{"refusal", r.name}, {"reason", r.reason}});
    j["refusals"] = list;
  }
  return j;
}

nlohmann::json ProgressJson(const std::string& tablet_id, const ProgressEvent& e) {
  nlohmann::json j = {{"schema", kSchema},
                      {"schema_version", kSchemaVersion},
          {"schema_version", kSchemaVersion},
                      {"event", "progress"},
                      {"tablet_id", tablet_id},
                      {"phase", PhaseName(e.verdict.phase)},
                      {"detail", e.verdict.detail},
                      {"bytes_done", e.bytes_done},
                      {"bytes_total", e.bytes_total},
                      {"bytes_reused", e.bytes_reused},
                      {"bytes_per_second", static_cast<int64_t>(e.bytes_per_second)},
                      {"elapsed_seconds", e.elapsed_seconds}};
  if (e.eta_seconds) j["eta_seconds"] = *e.eta_seconds;
  if (e.copy_elapsed_ms >= 0) j["copy_elapsed_ms"] = e.copy_elapsed_ms;
  if (!e.resume_note.empty()) j["resume_note"] = e.resume_note;
  if (e.verdict.ops_behind >= 0) j["ops_behind"] = e.verdict.ops_behind;
  return j;
}

std::string TimingText(const ProgressEvent& e) {
  std::string out;
  auto add = [&](const char* what, int64_t ms) {
    if (ms < 0) return;
    absl::StrAppend(&out, out.empty() ? "" : ", ", what, " ", ms, " ms");
  };
  add("copy", e.fetch_ms);
  add("replica start", e.replica_start_ms);
  add("tombstone", e.tombstone_ms);
  return out;
}

nlohmann::json ResultJson(const std::string& tablet_id, const std::string& outcome,
                          const std::string& detail, const ProgressEvent& last) {
  nlohmann::json j = {{"schema", kSchema},
          {"schema_version", kSchemaVersion},
          {"event", "result"},
          {"tablet_id", tablet_id},
          {"outcome", outcome},
          {"detail", detail},
          {"bytes_copied", last.bytes_done},
          {"bytes_reused", last.bytes_reused},
          {"elapsed_seconds", last.elapsed_seconds},
          {"copy_elapsed_ms", last.copy_elapsed_ms},
          {"resume_note", last.resume_note}};
  if (last.fetch_ms >= 0) j["fetch_ms"] = last.fetch_ms;
  if (last.replica_start_ms >= 0) j["replica_start_ms"] = last.replica_start_ms;
  if (last.tombstone_ms >= 0) j["tombstone_ms"] = last.tombstone_ms;
  return j;
}

}  // namespace kmend::rebuild
