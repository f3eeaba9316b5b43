#include "lib/recover/offline.h"

#include <pwd.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "lib/audit/audit_log.h"
#include "lib/fs/fs_manager.h"
#include "lib/fs/layout.h"
#include "lib/fs/safe_name.h"
#include "lib/io/dir_lock.h"
#include "lib/io/file.h"
#include "lib/meta/cmeta.h"
#include "lib/raft/config.h"
#include "lib/recover/cmeta_edit.h"
#include "lib/util/status_macros.h"
#include "lib/wal/log_reader.h"

namespace kmend::recover {

namespace {

// Who runs an offline change, for the audit log: "local:<user>" (the
// process's user; no server authenticated anyone).
std::string LocalIdentity() {
  const passwd* pw = ::getpwuid(::geteuid());
  return absl::StrCat("local:", pw != nullptr ? pw->pw_name : std::to_string(::geteuid()));
}

std::string Describe(const consensus::ConsensusMetadataPB& c) {
  return absl::StrCat("term ", c.current_term(), ", config ",
                      raft::ConfigSummary(c.committed_config()),
                      c.committed_config().unsafe_config_change() ? " (unsafe)" : "");
}

// Under the caller's lock.
absl::StatusOr<CmetaChange> EditLocked(const std::string& fs_root, const std::string& tablet_id,
                                       bool dry_run, const std::string& backup_dir,
                                       const CmetaEditFn& edit, const std::string& action,
                                       const std::string& caller) {
  CmetaChange c;
  c.path = meta::ConsensusMetaPath(fs_root, tablet_id);
  absl::StatusOr<consensus::ConsensusMetadataPB> before = meta::LoadConsensusMeta(c.path);
  if (!before.ok()) return before.status();
  c.before = *before;
  absl::StatusOr<consensus::ConsensusMetadataPB> after = edit(c.before);
  if (!after.ok()) {
    return absl::Status(after.status().code(), absl::StrCat(c.path, ": ", after.status().message()));
  }
  c.after = *after;
  if (dry_run) return c;
  absl::StatusOr<std::string> bytes = io::ReadFileToString(c.path);
  if (!bytes.ok()) return bytes.status();
  absl::Status s = io::CreateDirs(backup_dir);
  if (!s.ok()) return s;
  c.backup = io::JoinPath(backup_dir, absl::StrCat("cmeta-", tablet_id, "-",
                                                   absl::ToUnixMicros(absl::Now())));
  s = io::WriteFileAtomically(c.backup, *bytes);
  if (!s.ok()) return s;
  s = meta::StoreConsensusMeta(c.path, c.after);
  if (!s.ok()) return s;
  audit::AuditRecord record;
  record.action = action;
  record.identity = LocalIdentity();
  record.caller = caller;
  record.tablet_id = tablet_id;
  record.outcome = "OK";
  record.detail =
      absl::StrCat(Describe(c.before), " -> ", Describe(c.after), "; backup ", c.backup);
  s = audit::AppendAudit(fs_root, record);
  if (!s.ok()) {
    return absl::Status(s.code(), absl::StrCat("the change was written (backup ", c.backup,
                                               ") but the audit log was not: ", s.message()));
  }
  return c;
}

}  // namespace

absl::StatusOr<CmetaChange> EditConsensusMeta(const std::string& fs_root,
                                              const std::string& tablet_id, bool dry_run,
                                              const std::string& backup_dir,
                                              const CmetaEditFn& edit, const std::string& action,
                                              const std::string& caller) {
  RETURN_IF_ERROR(fs::ValidateFileName(tablet_id, "--tablet"));
  absl::StatusOr<std::unique_ptr<io::DirLock>> lock = io::DirLock::Acquire(fs_root);
  if (!lock.ok()) return lock.status();
  return EditLocked(fs_root, tablet_id, dry_run, backup_dir, edit, action, caller);
}

int OfflineReport::ExitCode() const {
  for (const EntryResult& e : entries) {
    if (e.outcome == Outcome::kSkipped || e.outcome == Outcome::kRefused ||
        e.outcome == Outcome::kFailed) {
      return 1;
    }
  }
  return 0;
}

absl::StatusOr<OfflineReport> ApplyPlanOffline(const RecoveryPlan& plan, const std::string& fs_root,
                                               bool yes, bool accept_warnings,
                                               const std::string& backup_dir,
                                               const std::string& caller) {
  // The plan is a file from outside: its tablet ids become paths below.
  for (const PlanEntry& e : plan.entries) {
    RETURN_IF_ERROR(fs::ValidateId(e.tablet_id, "plan entry tablet_id"));
  }
  absl::StatusOr<fs::InstanceInfo> instance = fs::Open(fs_root);
  if (!instance.ok()) return instance.status();
  absl::StatusOr<std::unique_ptr<io::DirLock>> lock = io::DirLock::Acquire(fs_root);
  if (!lock.ok()) return lock.status();
  const fs::Layout layout(fs_root);
  OfflineReport report;
  report.server_uuid = instance->uuid;
  for (const PlanEntry& e : plan.entries) {
    if (e.survivor_uuid != report.server_uuid) {
      ++report.other_entries;
      continue;
    }
    EntryResult r{e.tablet_id, e.table_name, e.survivor_uuid};
    auto finish = [&](Outcome o, std::string message) {
      r.outcome = o;
      r.message = std::move(message);
      report.entries.push_back(r);
    };
    absl::StatusOr<consensus::ConsensusMetadataPB> cmeta =
        meta::LoadConsensusMeta(layout.ConsensusMetaPath(e.tablet_id));
    if (!cmeta.ok()) {
      finish(Outcome::kFailed, std::string(cmeta.status().message()));
      continue;
    }
    if (CarriesForce(*cmeta, e)) {
      finish(Outcome::kAlreadyApplied, "forced before; nothing to do");
      continue;
    }
    wal::ReadLogOptions read_options;
    read_options.continue_after_problem = true;
    absl::StatusOr<wal::LogSummary> log = wal::ReadLog(layout.WalDir(e.tablet_id), read_options, nullptr);
    if (!log.ok()) {
      finish(Outcome::kFailed, std::string(log.status().message()));
      continue;
    }
    if (!log->problems.empty()) {
      finish(Outcome::kRefused,
             absl::StrCat(layout.WalDir(e.tablet_id), ": the WAL is damaged (",
                          log->problems[0].status.message(), "); run kmend wal verify"));
      continue;
    }
    const check::OpId logged{log->last_replicate.term(), log->last_replicate.index()};
    if (!(logged == e.survivor_last_logged)) {
      finish(Outcome::kRefused,
             absl::StrCat("the survivor moved on: last logged ", e.survivor_last_logged.term, ".",
                          e.survivor_last_logged.index, " when planned, ", logged.term, ".",
                          logged.index, " in ", layout.WalDir(e.tablet_id)));
      continue;
    }
    if (!e.warnings.empty() && !accept_warnings) {
      finish(Outcome::kSkipped, absl::StrCat("has warnings (", absl::StrJoin(e.warnings, "; "),
                                             "); --accept_warnings to force it anyway"));
      continue;
    }
    absl::StatusOr<CmetaChange> change =
        EditLocked(fs_root, e.tablet_id, !yes, backup_dir,
                   [&](const consensus::ConsensusMetadataPB& c) {
                     return OfflineForce(c, e, logged.index);
                   },
                   "offline_force", caller);
    if (!change.ok()) {
      finish(change.status().code() == absl::StatusCode::kFailedPrecondition ? Outcome::kRefused
                                                                            : Outcome::kFailed,
             std::string(change.status().message()));
      continue;
    }
    r.backup = change->backup;
    finish(yes ? Outcome::kApplied : Outcome::kWouldApply,
           absl::StrCat(yes ? "wrote " : "would write ", change->path, ": term ",
                        change->after.current_term(), ", voters ",
                        absl::StrJoin(e.new_voters, ", "), " at index ",
                        change->after.committed_config().opid_index()));
  }
  return report;
}

}  // namespace kmend::recover
