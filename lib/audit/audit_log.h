// The audit log: one JSON line per admin action on a server's data
// directory, appended to <fs_root>/audit/audit.log and fsynced before the
// action is reported done. Who appends:
//   - the servers, for every admin RPC they serve (config changes, unsafe
//     config change, tablet copy start, tombstone/delete, catalog changes,
//     master surgery, maintenance): server/common/audit_interceptor.h, one
//     line per call with the caller's authenticated identity, the request,
//     and the outcome; refused calls too;
//   - the offline tools (recover apply --offline, cmeta rewrite-raft-config
//     / set-term), under the data directory's lock.
// Nothing in kmend reads it back to decide anything: it is for people after
// an incident (who did what, when, and how it ended). `kmend audit show`
// prints it.
//
// Line format, schema "kmend.audit/1" (docs/cli/audit.md):
//   {"schema":"kmend.audit/1","time":"2026-12-05T07:30:00.123456+00:00",
//    "action":"unsafe_change_config","identity":"cert:admin","caller":"kmend recover apply (…)",
//    "tablet_id":"…","request":"tablet_id: \"…\" keep_uuids: …","outcome":"OK","detail":"…"}
// Readers accept lines without "schema" (kmend before the schema: the log
// was <fs_root>/audit/consensus-changes.log, read too when present).
//
// Thread safety: appends are single write(2)s of a whole line with O_APPEND,
// serialized in-process by a mutex, so concurrent appenders never interleave.
#ifndef KMEND_LIB_AUDIT_AUDIT_LOG_H_
#define KMEND_LIB_AUDIT_AUDIT_LOG_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace kmend::audit {

inline constexpr char kSchema[] = "kmend.audit/1";
inline constexpr char kAuditDirName[] = "audit";
inline constexpr char kAuditLogName[] = "audit.log";
// The log's name before it held every admin action (forced changes only).
inline constexpr char kLegacyAuditLogName[] = "consensus-changes.log";

struct AuditRecord {
  std::string time;  // set by AppendAudit (now); as stored when read
  // What was done: an RPC's method in snake case ("unsafe_change_config",
  // "delete_tablet", "start_tablet_copy", "set_tserver_maintenance") or an
  // offline tool's action ("offline_force", "rewrite_raft_config",
  // "set_term").
  std::string action;
  // Who, as authenticated: "cert:<common name>", "token:<name>",
  // "anonymous (<peer>)" on a server without TLS, "local:<user>" for an
  // offline tool.
  std::string identity;
  std::string caller;     // what the caller says it is (a request's caller_id)
  std::string tablet_id;  // the tablet acted on, when there is one
  std::string request;    // the request, one line, truncated
  // "OK", or the refusal/error: "PERMISSION_DENIED: not authorized: …".
  std::string outcome;
  std::string detail;  // what changed, one line (a successful call's answer)
};

// <fs_root>/audit/audit.log
std::string AuditLogPath(const std::string& fs_root);

// Appends one line (the time is now) and fsyncs it; creates the directory
// and file as needed.
absl::Status AppendAudit(const std::string& fs_root, const AuditRecord& record);

// Every line of the log (the legacy file's first), parsed; a line that does
// not parse is returned with action "unparsed" and the raw text in detail.
// NotFound when there is no log.
absl::StatusOr<std::vector<AuditRecord>> ReadAudit(const std::string& fs_root);

// "UnsafeChangeConfig" -> "unsafe_change_config".
std::string SnakeCase(const std::string& method);

}  // namespace kmend::audit

#endif  // KMEND_LIB_AUDIT_AUDIT_LOG_H_
