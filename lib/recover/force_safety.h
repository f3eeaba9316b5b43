// The facts and the judgement behind forcing one tablet replica's Raft config
// (Kudu's UnsafeChangeConfig): what every voter of the committed config said
// when asked, and whether the tablet's group still looks alive. Pure: no I/O,
// so the rules are tested on hand-made plans (force_safety_test.cc). The
// probing and the force itself are force_config.h; `kmend
// unsafe-change-config` and `kmend recover apply` both use them.
//
// Why refuse at all: forcing a replica whose group still has a leader makes a
// second leader at a higher term; the old majority may re-elect at that term,
// and the master then adopts the forced config and tombstones the majority,
// losing what it committed (docs/design/raft.md, section 4).
#ifndef KMEND_LIB_RECOVER_FORCE_SAFETY_H_
#define KMEND_LIB_RECOVER_FORCE_SAFETY_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "proto/consensus_metadata.pb.h"
#include "proto/opid.pb.h"

namespace kmend::recover {

// What one voter of the committed config said when asked.
struct VoterProbe {
  std::string uuid;
  std::string address;  // last known; "" if the config has none
  // It answered with a running replica of the tablet.
  bool running = false;
  // It leads with its read lease, or heard from its leader within an
  // election timeout. (A leader whose lease lapsed is leader_uuid == uuid:
  // JudgeSafety refuses it too, as the server does.)
  bool leader_lease = false;
  std::string leader_uuid;  // the leader it names, if any
  int64_t ms_since_leader_contact = -1;
  std::string error;  // why it is not counted as running
};

// One tablet's force, before it is applied.
struct ForcePlan {
  std::string server_uuid;              // the survivor's server
  consensus::ConsensusStatePB current;  // as the replica reports it now
  consensus::OpId last_logged;          // the survivor's last logged op id
  consensus::RaftConfigPB forced;       // what it will be forced to
  std::vector<std::string> dropped;     // uuids removed from the config
  // Every voter of the committed config, the survivor first.
  std::vector<VoterProbe> voters;
};

// FailedPrecondition naming the evidence when the tablet's group looks
// alive: a voter that leads or heard from a leader within an election
// timeout, or a majority of the committed config's voters running. OK when
// the majority is lost.
absl::Status JudgeSafety(const ForcePlan& plan);

// True when fewer than a majority of the committed config's voters run: the
// only thing that can make JudgeSafety refuse is a survivor's lease, which
// lapses by itself within two election timeouts.
bool MajorityLost(const ForcePlan& plan);

}  // namespace kmend::recover

#endif  // KMEND_LIB_RECOVER_FORCE_SAFETY_H_
