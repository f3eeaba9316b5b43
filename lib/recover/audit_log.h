// The audit log of forced consensus changes: one JSON line per change,
// appended to <fs_root>/audit/consensus-changes.log of the server whose
// replica was changed, and fsynced before the caller reports success. The
// tablet server appends an online force (UnsafeChangeConfig); the offline
// tools (recover apply --offline, cmeta rewrite-raft-config / set-term)
// append theirs under the data directory's lock. Nothing in kmend reads it
// back to decide anything: it is for people after an incident (who forced
// what, when, and from which term).
//
// Line format (docs/cli/recover.md, "Audit log"):
//   {"time":"2026-12-05T07:30:00.123456+00:00","tablet_id":"…","action":"unsafe_change_config",
//    "caller":"kmend recover apply (root, plan …)","detail":"…"}
//
// Thread safety: appends are single write(2)s of a whole line with O_APPEND,
// serialized in-process by a mutex, so concurrent appenders never interleave.
#ifndef KMEND_LIB_RECOVER_AUDIT_LOG_H_
#define KMEND_LIB_RECOVER_AUDIT_LOG_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kmend::recover {

inline constexpr char kAuditDirName[] = "audit";
inline constexpr char kAuditLogName[] = "consensus-changes.log";

struct AuditRecord {
  std::string tablet_id;
  // "unsafe_change_config", "offline_force", "rewrite_raft_config", "set_term".
  std::string action;
  std::string caller;  // who asked (tool, user, plan)
  std::string detail;  // what changed, one line
};

// <fs_root>/audit/consensus-changes.log
std::string AuditLogPath(const std::string& fs_root);

// Appends one line (the time is now) and fsyncs it; creates the directory
// and file as needed.
absl::Status AppendAudit(const std::string& fs_root, const AuditRecord& record);

// Every line of the log, parsed; a line that does not parse is returned with
// action "unparsed" and the raw text in detail. NotFound when there is none.
absl::StatusOr<std::vector<AuditRecord>> ReadAudit(const std::string& fs_root);

}  // namespace kmend::recover

#endif  // KMEND_LIB_RECOVER_AUDIT_LOG_H_
