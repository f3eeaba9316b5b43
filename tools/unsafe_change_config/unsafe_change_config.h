// kmend unsafe-change-config: force a tablet replica's Raft config to a subset
// of its committed config (Kudu's UnsafeChangeConfig), the repair for a tablet
// that lost its majority. ksck names the survivor and the voters to keep.
//
// Safety: Plan() only reads (the replica's consensus state) and says what
// would change; Apply() first writes a backup of the consensus state it
// replaces (JSON, in backup_dir), then asks the server. The server appends a
// CHANGE_CONFIG entry at term + 1 (docs/design/raft.md): no entry is
// truncated, but committed entries that only the lost replicas had are lost.
#ifndef KMEND_TOOLS_UNSAFE_CHANGE_CONFIG_UNSAFE_CHANGE_CONFIG_H_
#define KMEND_TOOLS_UNSAFE_CHANGE_CONFIG_UNSAFE_CHANGE_CONFIG_H_

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/consensus_metadata.pb.h"

namespace kmend::unsafe_config {

struct Request {
  std::string tserver;  // host:port of the survivor
  std::string tablet_id;
  std::vector<std::string> voters;  // uuids to keep; must include the survivor
  std::chrono::milliseconds timeout{10000};
};

struct Plan {
  std::string server_uuid;
  consensus::ConsensusStatePB current;  // as the replica reports it now
  consensus::RaftConfigPB forced;       // what it will be forced to
  std::vector<std::string> dropped;     // uuids removed from the config
};

// Reads the replica's state and checks the request: every voter to keep is a
// member of the committed config, the survivor itself is kept. Changes nothing.
absl::StatusOr<Plan> MakePlan(const Request& req);

// Writes `<backup_dir>/cstate-<tablet>-<unix micros>.json` with plan.current
// and returns its path; then forces the config. Returns the new config.
absl::StatusOr<consensus::RaftConfigPB> Apply(const Request& req, const Plan& plan,
                                              const std::string& backup_dir,
                                              std::string* backup_path);

}  // namespace kmend::unsafe_config

#endif  // KMEND_TOOLS_UNSAFE_CHANGE_CONFIG_UNSAFE_CHANGE_CONFIG_H_
