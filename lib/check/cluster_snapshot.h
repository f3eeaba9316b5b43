// What ksck knows about a cluster: the facts a collector gathered, before any
// judgement. Checks (checker.h) read only this, so they are tested against
// hand-built snapshots; the remote collector fills it over gRPC.
//
// Every fact that may be missing carries why: an unreachable server's replicas
// are "unknown", not "down" and not "healthy".
#ifndef KMEND_LIB_CHECK_CLUSTER_SNAPSHOT_H_
#define KMEND_LIB_CHECK_CLUSTER_SNAPSHOT_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "proto/consensus_metadata.pb.h"

namespace kmend::check {

// An op id; {0, 0} before any entry. Ordered as Raft compares logs: by term,
// then by index (the "at least as up-to-date" rule, Raft paper 5.4.1).
struct OpId {
  int64_t term = 0;
  int64_t index = 0;
  friend bool operator==(const OpId& a, const OpId& b) {
    return a.term == b.term && a.index == b.index;
  }
  friend bool operator<(const OpId& a, const OpId& b) {
    return a.term != b.term ? a.term < b.term : a.index < b.index;
  }
};

struct MasterFacts {
  std::string address;  // as given on the command line
  bool reachable = false;
  std::string unreachable_reason;  // set when !reachable
  // The master answered but refused ksck's identity (PERMISSION_DENIED or
  // UNAUTHENTICATED: lib/rpc/authz.h); reachable is false and the reason
  // says "not authorized". What it would have told is unknown, not broken.
  bool unauthorized = false;
  std::string uuid;
  std::string version;
  bool is_leader = false;
  // The master catalog's Raft config as this master reports it (multi-master).
  std::optional<consensus::RaftConfigPB> catalog_config;
  int64_t catalog_term = 0;
  std::string catalog_leader_uuid;
  // The catalog version this master has applied (SysCatalogPB.version);
  // unset when the master does not report it.
  std::optional<int64_t> catalog_version;
};

// A data directory's space as its tablet server measured it (DataDirSpacePB).
struct DataDirFacts {
  std::string dir;
  int64_t capacity_bytes = 0;
  int64_t available_bytes = 0;
  int64_t reserved_bytes = 0;
  bool full = false;  // below the reserve: writes and new replicas refused
};

struct TabletServerFacts {
  std::string uuid;                // as registered with the master
  std::string address;             // host:port registered with the master
  bool live_per_master = false;    // heartbeating within the master's timeout
  bool reachable = false;          // ksck's own status call succeeded
  std::string unreachable_reason;  // set when !reachable ("deadline exceeded", ...)
  // The server refused ksck's identity (see MasterFacts::unauthorized): its
  // replicas are UNKNOWN ("not authorized"), never DOWN.
  bool unauthorized = false;
  std::string reported_uuid;       // uuid in the server's own status answer
  std::string version;
  std::vector<DataDirFacts> data_dirs;  // from the server's status answer
  // In maintenance mode per the master (`kmend tserver maintenance`): its
  // replicas are not re-replicated while it is down.
  bool in_maintenance = false;
};

enum class DataState { kUnknown, kReady, kCopying, kTombstoned, kDeleted, kFailed };

enum class Role { kUnknown, kLeader, kFollower, kLearner, kNonParticipant };

// One replica as its own tablet server reports it.
struct ReplicaFacts {
  DataState data_state = DataState::kUnknown;
  std::string data_state_reason;  // e.g. the checksum error of a FAILED replica
  Role role = Role::kUnknown;
  int64_t term = 0;
  std::string leader_uuid;
  consensus::RaftConfigPB committed_config;
  std::optional<consensus::RaftConfigPB> pending_config;
  OpId last_logged;
  OpId last_committed;
  OpId last_applied;
  int64_t on_disk_bytes = 0;
  // Set while the replica runs but refuses client writes (its data directory
  // is below its reserved space), with the server's reason.
  std::string write_refusal;
};

struct TabletFacts {
  std::string tablet_id;
  std::string table_name;
  // The tablet's Raft config as the master's catalog records it.
  consensus::RaftConfigPB master_config;
};

struct TableFacts {
  std::string name;
  std::string id;
  int replication_factor = 0;
  std::vector<TabletFacts> tablets;
};

// A replica checksum from --checksum-scan.
struct ChecksumFacts {
  bool ok = false;  // false: could not be computed (reason set)
  std::string reason;
  uint64_t digest = 0;
  int64_t op_index = 0;
  int64_t row_count = 0;
};

struct ClusterSnapshot {
  std::vector<MasterFacts> masters;
  // Whether the tables and tablets below came from a master at all.
  bool catalog_read = false;
  std::string catalog_error;
  // The catalog was not read because the masters refused ksck's identity.
  bool catalog_unauthorized = false;
  std::vector<TabletServerFacts> tablet_servers;
  std::vector<TableFacts> tables;
  // Replica reports by tablet server uuid, then tablet id. A reachable
  // server that does not list a tablet has no replica of it.
  std::map<std::string, std::map<std::string, ReplicaFacts>> replicas;
  // --checksum-scan results by tablet id, then tablet server uuid.
  std::map<std::string, std::map<std::string, ChecksumFacts>> checksums;
};

const char* DataStateName(DataState s);
const char* RoleName(Role r);

}  // namespace kmend::check

#endif  // KMEND_LIB_CHECK_CLUSTER_SNAPSHOT_H_
