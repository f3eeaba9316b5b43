// RaftStatus: a snapshot of one replica's consensus state, for status
// queries, tools and tests. A plain value; copying it is cheap enough.
#ifndef KMEND_LIB_RAFT_STATUS_H_
#define KMEND_LIB_RAFT_STATUS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lib/raft/ready.h"
#include "proto/consensus_metadata.pb.h"
#include "proto/opid.pb.h"

namespace kmend::raft {

// How a leader sees one peer.
struct PeerStatus {
  enum class State { kProbe, kReplicate, kNeedsTabletCopy };
  std::string uuid;
  bool voter = false;
  State state = State::kProbe;
  int64_t match_index = 0;  // highest index known replicated there
  int64_t next_index = 0;   // next index to send
  // Ticks since the last response from the peer (0 for the leader itself).
  int64_t ticks_since_contact = 0;
  consensus::HealthReportPB::HealthStatus health = consensus::HealthReportPB::UNKNOWN;
};
const char* PeerStateName(PeerStatus::State state);

struct RaftStatus {
  std::string uuid;
  Role role = Role::kFollower;
  int64_t term = 0;
  std::string voted_for;
  std::string leader_uuid;
  consensus::RaftConfigPB committed_config;
  std::optional<consensus::RaftConfigPB> pending_config;
  consensus::OpId last_logged;
  consensus::OpId committed;
  int64_t applied_index = 0;
  std::string transferring_to;
  // Leader: it holds its read lease (RaftCore::CheckLeaderRead). Follower: it
  // heard from the leader it names within an election timeout. Either way
  // the group is alive and an unsafe config change here would split it.
  bool leader_lease = false;
  // Ticks since this replica heard from the leader it names; 0 on the
  // leader, -1 when no leader is known.
  int64_t ticks_since_leader_contact = -1;
  // Quiesced (RaftCore::quiesced): an idle group's leader stopped
  // heartbeating, or this follower stopped its election timer.
  bool quiesced = false;
  std::vector<PeerStatus> peers;  // filled on the leader only

  // Multi-line human-readable rendering.
  std::string ToString() const;
  // Kudu's ConsensusStatePB (with per-peer health reports on the leader).
  consensus::ConsensusStatePB ToConsensusStatePB() const;
};

}  // namespace kmend::raft

#endif  // KMEND_LIB_RAFT_STATUS_H_
