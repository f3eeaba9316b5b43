// What ksck concluded: per-section results, problems, and for each unhealthy
// tablet the commands that would mend it. Produced by checker.h from a
// ClusterSnapshot, rendered by render.h. Plain data, no behaviour.
#ifndef KMEND_LIB_CHECK_RESULTS_H_
#define KMEND_LIB_CHECK_RESULTS_H_

#include <optional>
#include <string>
#include <vector>

#include "lib/check/cluster_snapshot.h"

namespace kmend::check {

// Version of the JSON document (docs/cli.md#ksck). Bump on any incompatible
// change; adding fields is compatible.
inline constexpr int kResultsSchemaVersion = 1;

// Tablet and table verdicts, least to most severe: a table takes the worst
// verdict of its tablets. UNKNOWN (could not be checked) ranks above HEALTHY
// and below every proven problem, so a known problem is never hidden by an
// unknown part.
enum class Health {
  kHealthy,
  kUnknown,
  kRecovering,
  kUnderReplicated,
  kConsensusMismatch,
  kUnavailable,
};
const char* HealthName(Health h);

enum class Severity { kError, kWarning, kUnknown };
const char* SeverityName(Severity s);

struct Problem {
  Severity severity;
  std::string section;  // "masters", "tablet_servers", "tablets", "checksums"
  std::string subject;  // the server address, tablet id, ...
  std::string message;
};

struct MasterResult {
  MasterFacts facts;
  bool ok = false;
};

struct TabletServerResult {
  TabletServerFacts facts;
  // "HEALTHY", "UNREACHABLE" (ksck could not reach it; state unknown),
  // "DEAD" (unreachable and missing heartbeats), "WRONG_UUID", "UNKNOWN"
  // (it refused ksck's identity: not authorized), "DISK_FULL".
  std::string state;
};

// How ksck sees one replica of a tablet.
enum class ReplicaState { kRunning, kCopying, kDown, kUnknown };
const char* ReplicaStateName(ReplicaState s);

struct ReplicaResult {
  std::string ts_uuid;
  std::string ts_address;         // empty when the server is not registered
  bool server_reachable = false;  // ksck's status call to the server succeeded
  bool in_master_config = false;
  bool voter = false;  // a VOTER in the master's config
  ReplicaState state = ReplicaState::kUnknown;
  std::string reason;                 // why DOWN or UNKNOWN
  std::optional<ReplicaFacts> facts;  // the replica's own report, when reachable
};

// A command an operator can run, and why.
struct FixCommand {
  std::string command;
  std::string why;
  // What makes this command riskier than its kind usually is, one sentence
  // each (also stated in `why`). Scripts that apply fixes unattended should
  // stop when this is not empty. E.g. an unsafe-change-config whose survivor
  // lacks entries another survivor reports committed.
  std::vector<std::string> warnings;
};

struct TabletResult {
  std::string tablet_id;
  std::string table_name;
  Health health = Health::kHealthy;
  std::string reason;
  consensus::RaftConfigPB master_config;
  std::vector<ReplicaResult> replicas;
  std::vector<FixCommand> fixes;
  // Set when no command can help (e.g. every replica is lost).
  std::string fix_note;
};

struct TableResult {
  std::string name;
  int replication_factor = 0;
  Health health = Health::kHealthy;
  int tablets = 0;
  // Count of tablets per Health value, indexed by static_cast<int>(Health).
  int by_health[6] = {0, 0, 0, 0, 0, 0};
};

struct ChecksumResult {
  std::string tablet_id;
  bool match = false;    // every replica computed and all digests agree
  bool unknown = false;  // some replica's checksum could not be computed
  std::map<std::string, ChecksumFacts> by_replica;
};

// Something an operator should know that is not a problem: e.g. a tablet
// whose config was forced by an unsafe change (Raft's unsafe flag on the
// config a replica reports), the trace of a recovery to look up in the
// servers' audit logs (<fs_root>/audit/audit.log, `kmend audit show`).
struct Note {
  std::string tablet_id;
  std::string message;
};

struct KsckResults {
  std::vector<MasterResult> masters;
  std::vector<TabletServerResult> tablet_servers;
  std::vector<TableResult> tables;
  std::vector<TabletResult> tablets;
  std::vector<ChecksumResult> checksums;  // only with --checksum-scan
  std::vector<Problem> problems;
  std::vector<Note> notes;  // never make the result unhealthy

  // True when nothing is wrong and nothing is unknown.
  bool healthy() const { return problems.empty(); }
};

}  // namespace kmend::check

#endif  // KMEND_LIB_CHECK_RESULTS_H_
