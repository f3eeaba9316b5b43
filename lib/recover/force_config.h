// Forcing one tablet replica's Raft config to a subset of its committed
// config (Kudu's UnsafeChangeConfig), the repair for a tablet that lost its
// majority: the probes and the RPC. `kmend unsafe-change-config` (one tablet)
// and `kmend recover apply` (every tablet of a plan) are fronts over it.
//
// Safety: MakeForcePlan() only reads: the replica's consensus state and that
// of every other voter of its committed config. JudgeSafety()
// (force_safety.h) refuses while the group looks alive. ApplyForce() first
// writes a backup of the consensus state it replaces (JSON, in backup_dir),
// then asks the server, which checks its own leader lease again (defence in
// depth) and answers once the forced entry is durable. The server appends a
// CHANGE_CONFIG entry at term + 1 (docs/design/raft.md): no entry is
// truncated, but committed entries that only the lost replicas had are lost.
//
// Thread safety: free functions without shared state; calls for different
// tablets may run concurrently.
#ifndef KMEND_LIB_RECOVER_FORCE_CONFIG_H_
#define KMEND_LIB_RECOVER_FORCE_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "lib/recover/force_safety.h"
#include "proto/consensus_metadata.pb.h"

namespace kmend::recover {

struct ForceRequest {
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
  // Who asks, written in the server's log.
  std::string caller_id = "kmend unsafe-change-config";
};

// Reads the replica's state and every voter's, and checks the request: every
// uuid to keep is a member of the committed config, the survivor itself is
// kept. Kept NON_VOTERs become VOTERs in the forced config. Changes nothing.
absl::StatusOr<ForcePlan> MakeForcePlan(const ForceRequest& req);

// MakeForcePlan, then, while the majority is lost but JudgeSafety still refuses
// for a lease, MakeForcePlan again every 100 ms for up to req.lease_wait.
// `on_wait` (may be empty) is told each time it waits.
absl::StatusOr<ForcePlan> MakeForcePlanWaitingForLeases(
    const ForceRequest& req, const std::function<void(const ForcePlan&)>& on_wait);

// Writes `<backup_dir>/cstate-<tablet>-<unix micros>.json` with plan.current
// and returns its path; then forces the config (req.force is passed on).
// Returns the new config once it is durable on the replica.
absl::StatusOr<consensus::RaftConfigPB> ApplyForce(const ForceRequest& req, const ForcePlan& plan,
                                                   const std::string& backup_dir,
                                                   std::string* backup_path);

}  // namespace kmend::recover

#endif  // KMEND_LIB_RECOVER_FORCE_CONFIG_H_
