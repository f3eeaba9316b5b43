// kmend unsafe-change-config: force a tablet replica's Raft config to a subset
// of its committed config (Kudu's UnsafeChangeConfig), the repair for a tablet
// that lost its majority. ksck names the survivor and the voters to keep.
//
// Safety: MakePlan() only reads: the replica's consensus state and that of
// every other voter of its committed config. JudgeSafety() refuses while the
// group looks alive (a leader heard within an election timeout, or a
// majority of voters still running): forcing then makes a second leader and
// the master later discards what the real majority committed. Apply() first
// writes a backup of the consensus state it replaces (JSON, in backup_dir),
// then asks the server, which checks its own leader lease again (defence in
// depth) and answers once the forced entry is durable. The server appends a
// CHANGE_CONFIG entry at term + 1 (docs/design/raft.md): no entry is
// truncated, but committed entries that only the lost replicas had are lost.
#ifndef KMEND_TOOLS_UNSAFE_CHANGE_CONFIG_UNSAFE_CHANGE_CONFIG_H_
#define KMEND_TOOLS_UNSAFE_CHANGE_CONFIG_UNSAFE_CHANGE_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/consensus_metadata.pb.h"

namespace kmend::unsafe_config {

struct Request {
  std::string tserver;  // host:port of the survivor
  std::string tablet_id;
  std::vector<std::string> voters;  // uuids to keep; must include the survivor
  std::chrono::milliseconds timeout{10000};
  // Each other voter is asked for its state with this deadline (a dead
  // server refuses at once; a partitioned one costs the whole deadline).
  std::chrono::milliseconds peer_timeout{3000};
  // Apply even though the group looks alive (the server is told too).
  bool force = false;
  // When a majority is gone but a survivor still holds its leader lease (it
  // heard from the dead leader a moment ago, or leads without a majority
  // until check-quorum deposes it: at most two election timeouts), probe
  // again for this long before refusing.
  std::chrono::milliseconds lease_wait{6000};
};

// What one voter of the committed config said when asked.
struct VoterProbe {
  std::string uuid;
  std::string address;  // last known; "" if the config has none
  // It answered with a running replica of the tablet.
  bool running = false;
  // It leads (with its read lease) or heard from its leader within an
  // election timeout.
  bool leader_lease = false;
  std::string leader_uuid;           // the leader it names, if any
  int64_t ms_since_leader_contact = -1;
  std::string error;  // why it is not counted as running
};

struct Plan {
  std::string server_uuid;
  consensus::ConsensusStatePB current;  // as the replica reports it now
  consensus::RaftConfigPB forced;       // what it will be forced to
  std::vector<std::string> dropped;     // uuids removed from the config
  // Every voter of the committed config, the survivor first.
  std::vector<VoterProbe> voters;
};

// Reads the replica's state and every voter's, and checks the request: every
// uuid to keep is a member of the committed config, the survivor itself is
// kept. Kept NON_VOTERs become VOTERs in the forced config. Changes nothing.
absl::StatusOr<Plan> MakePlan(const Request& req);

// FailedPrecondition naming the evidence when the tablet's group looks
// alive: a voter that leads or heard from a leader within an election
// timeout, or a majority of the committed config's voters running. OK when
// the majority is lost. Pure: tests call it on hand-made plans.
absl::Status JudgeSafety(const Plan& plan);

// True when fewer than a majority of the committed config's voters run: the
// only thing that can make JudgeSafety refuse is a survivor's lease, which
// lapses by itself within two election timeouts.
bool MajorityLost(const Plan& plan);

// MakePlan, then, while the majority is lost but JudgeSafety still refuses
// for a lease, MakePlan again every 500 ms for up to req.lease_wait.
// `on_wait` (may be empty) is told each time it waits.
absl::StatusOr<Plan> MakePlanWaitingForLeases(const Request& req,
                                              const std::function<void(const Plan&)>& on_wait);

// Writes `<backup_dir>/cstate-<tablet>-<unix micros>.json` with plan.current
// and returns its path; then forces the config (req.force is passed on).
// Returns the new config once it is durable on the replica.
absl::StatusOr<consensus::RaftConfigPB> Apply(const Request& req, const Plan& plan,
                                              const std::string& backup_dir,
                                              std::string* backup_path);

}  // namespace kmend::unsafe_config

#endif  // KMEND_TOOLS_UNSAFE_CHANGE_CONFIG_UNSAFE_CHANGE_CONFIG_H_
