// Consensus surgery on a stopped server's data directory: `kmend cmeta
// rewrite-raft-config` / `set-term` and `kmend recover apply --offline`.
//
// Every write follows the toolkit's rules: the data directory's lock is
// taken first (a directory a running server holds is refused, naming its
// pid) and held until the last write; the file being replaced is copied,
// byte for byte, to `<backup_dir>/cmeta-<tablet>-<unix micros>` (readable by
// `kmend cmeta print`) before it is replaced atomically (temp file, fsync,
// rename, fsync dir). A dry run takes the lock and reads, and writes nothing.
#ifndef KMEND_LIB_RECOVER_OFFLINE_H_
#define KMEND_LIB_RECOVER_OFFLINE_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/recover/apply.h"
#include "lib/recover/plan.h"
#include "proto/consensus_metadata.pb.h"

namespace kmend::recover {

struct CmetaChange {
  std::string path;
  consensus::ConsensusMetadataPB before;
  consensus::ConsensusMetadataPB after;
  std::string backup;  // written backup; empty on a dry run
};

using CmetaEditFn = std::function<absl::StatusOr<consensus::ConsensusMetadataPB>(
    const consensus::ConsensusMetadataPB&)>;

// Locks `fs_root`, loads consensus-meta/<tablet_id>, applies `edit`, and
// unless `dry_run` backs up and replaces the file, then appends `action` by
// `caller` to the audit log (lib/audit/audit_log.h). Errors name the file.
absl::StatusOr<CmetaChange> EditConsensusMeta(const std::string& fs_root,
                                              const std::string& tablet_id, bool dry_run,
                                              const std::string& backup_dir,
                                              const CmetaEditFn& edit, const std::string& action,
                                              const std::string& caller);

struct OfflineReport {
  std::string server_uuid;            // from <fs_root>/instance
  std::vector<EntryResult> entries;   // the plan's entries whose survivor is this server
  int other_entries = 0;              // entries for other servers (not touched)
  int ExitCode() const;               // as ApplyReport's
};

// `recover apply --offline`: the plan's forces for the tablets whose
// survivor is the server of `fs_root`, written into their consensus
// metadata. There is no network here, so the fingerprint is checked on what
// the directory holds: the WAL's last entry must be the plan's
// survivor_last_logged and the metadata's term not above the plan's floor
// (else `refused`: the replica moved on). A replica already carrying the
// force is `already_applied`. Entries with warnings are `skipped` unless
// accept_warnings. Errors: the directory is not a data root, or is locked.
// Each force is appended to the audit log as "offline_force" by `caller`.
absl::StatusOr<OfflineReport> ApplyPlanOffline(const RecoveryPlan& plan, const std::string& fs_root,
                                               bool yes, bool accept_warnings,
                                               const std::string& backup_dir,
                                               const std::string& caller);

}  // namespace kmend::recover

#endif  // KMEND_LIB_RECOVER_OFFLINE_H_
