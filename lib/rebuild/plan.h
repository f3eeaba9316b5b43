// kmend rebuild-replica's decision (docs/cli/rebuild_replica.md): given what
// every replica of one tablet reported, which peer to copy from, what will
// be replaced, and whether to refuse. Pure: no RPC, no clock; the facts are
// gathered by tools/rebuild_replica and the planner is tested on hand-made
// ones (plan_test.cc), like ksck's checker and the master's
// re-replication policy.
//
// The rules, in the order they are applied:
//   1. The target must be a member of the tablet's config (a copy onto a
//      server outside it would be deleted by the master) and reachable.
//   2. Refuse when the target holds the tablet's only readable copy: no
//      other replica is READY with Raft running.
//   3. The source: the one asked for, else the leader, else the running
//      voter with the highest last logged op id (ties: smallest uuid). It
//      must be RUNNING (READY, Raft running) and caught up: the leader, or
//      its last logged op at or past the leader's commit index; without a
//      leader, no running voter's log ahead of it.
//   4. The target's last logged term must not be ahead of the source's (it
//      may hold entries the source lacks), unless forced.
//   5. A target that looks healthy (READY, running, caught up, in the
//      master's config) or that leads is refused unless forced.
//
// Thread safety: pure functions.
#ifndef KMEND_LIB_REBUILD_PLAN_H_
#define KMEND_LIB_REBUILD_PLAN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/check/cluster_snapshot.h"
#include "proto/consensus_metadata.pb.h"

namespace kmend::rebuild {

// One member of the tablet's config (or the target, when outside it), as
// its tablet server answered.
struct PeerFacts {
  std::string uuid;
  std::string address;  // host:port ("" when unknown)
  bool in_config = false;
  bool voter = false;
  // The server answered its status call.
  bool reachable = false;
  std::string error;  // why not reachable
  // The server hosts a replica of the tablet; its report when it does.
  std::optional<check::ReplicaFacts> replica;
  // The replica is READY and runs Raft (reports a last logged op id).
  bool running = false;
};

struct TabletFacts {
  std::string tablet_id;
  // The config judged against: the master's when --masters was given,
  // else the most recent committed config a running replica reports.
  consensus::RaftConfigPB config;
  std::string config_from;  // "master" or "replica <uuid>"
  std::vector<PeerFacts> peers;
};

struct Request {
  // uuid or host:port, as given on the command line.
  std::string target;
  std::string source;  // empty: choose
  bool force = false;
};

// Why a rebuild is refused (JSON "refusal").
enum class Refusal {
  kNone,
  kTargetUnknown,       // not a member, not found
  kTargetUnreachable,
  kOnlyReadableCopy,
  kNoSource,            // nothing to copy from
  kSourceNotRunning,
  kSourceBehind,
  kSourceIsTarget,
  kTargetTermAhead,     // --force overrides
  kTargetHealthy,       // --force overrides
  // The target's last logged term cannot be learned: its WAL and its
  // consensus metadata are both unreadable (--force overrides).
  kTargetTermUnknown,
  kSourceMismatch,      // the source's server is not the uuid named
  kCopyRunning,         // a copy of the tablet runs on the target already
};
const char* RefusalName(Refusal r);
// The Refusal RefusalName gives `name`; kNone for a name it does not know.
Refusal RefusalFromName(const std::string& name);

struct Plan {
  PeerFacts target;
  PeerFacts source;
  // Why this source: "given", "the leader", "the voter with the highest
  // last logged op id".
  std::string source_reason;
  std::string leader_uuid;  // "" when no leader is known
  check::OpId leader_committed;
  // What is replaced: the target's state ("NONE" when it hosts no replica)
  // and its last logged op id when known.
  std::string replaced_state;
  std::optional<check::OpId> replaced_last_logged;
  // Where it comes from when the target server told (its check-only
  // StartTabletCopy): "raft", "tombstone", "wal", "cmeta term".
  std::string replaced_last_logged_from;
  // The source's replica size on disk as it reported it (an estimate of
  // what will be copied; the tool may refine it).
  int64_t estimated_bytes = 0;
  // Set by the tool when the source sized the copy exactly (a copy session
  // opened and ended at once): blocks + WAL segments it would send.
  std::optional<int64_t> session_bytes;
  int session_blocks = 0;
  int session_wal_segments = 0;
  // Checks that --force overrode, and other things to say.
  std::vector<std::string> warnings;
};

// The plan, or FailedPrecondition/InvalidArgument naming the rule and the
// evidence; *refusal (may be null) says which rule.
absl::StatusOr<Plan> MakePlan(const TabletFacts& facts, const Request& request,
                              Refusal* refusal = nullptr);

// The peer `who` (uuid or host:port) names, or null.
const PeerFacts* FindPeer(const TabletFacts& facts, const std::string& who);

// "READY", "FAILED", ... for a data state ("NONE" for no replica).
std::string StateText(const PeerFacts& peer);

}  // namespace kmend::rebuild

#endif  // KMEND_LIB_REBUILD_PLAN_H_
