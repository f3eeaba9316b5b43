#include "lib/check/status_facts.h"

namespace kmend::check {

DataState ToDataState(server::ReplicaDataState s) {
  switch (s) {
    case server::TABLET_DATA_READY:
      return DataState::kReady;
    case server::TABLET_DATA_COPYING:
      return DataState::kCopying;
    case server::TABLET_DATA_TOMBSTONED:
      return DataState::kTombstoned;
    case server::TABLET_DATA_DELETED:
      return DataState::kDeleted;
    case server::TABLET_DATA_FAILED:
      return DataState::kFailed;
    default:
      return DataState::kUnknown;
  }
}

Role ToRole(consensus::RaftPeerPB::Role r) {
  switch (r) {
    case consensus::RaftPeerPB::LEADER:
      return Role::kLeader;
    case consensus::RaftPeerPB::FOLLOWER:
      return Role::kFollower;
    case consensus::RaftPeerPB::LEARNER:
      return Role::kLearner;
    case consensus::RaftPeerPB::NON_PARTICIPANT:
      return Role::kNonParticipant;
    default:
      return Role::kUnknown;
  }
}

DataDirFacts ToDataDirFacts(const server::DataDirSpacePB& d) {
  DataDirFacts f;
  f.dir = d.dir();
  f.capacity_bytes = d.capacity_bytes();
  f.available_bytes = d.available_bytes();
  f.reserved_bytes = d.reserved_bytes();
  f.full = d.full();
  return f;
}

OpId ToOpId(const consensus::OpId& id) { return {id.term(), id.index()}; }

ReplicaFacts ToReplicaFacts(const server::ReplicaStatusPB& r) {
  ReplicaFacts f;
  f.data_state = ToDataState(r.data_state());
  f.data_state_reason = r.data_state_reason();
  f.role = ToRole(r.role());
  if (r.has_consensus_state()) {
    f.term = r.consensus_state().current_term();
    f.leader_uuid = r.consensus_state().leader_uuid();
    f.committed_config = r.consensus_state().committed_config();
    if (r.consensus_state().has_pending_config())
      f.pending_config = r.consensus_state().pending_config();
  }
  f.last_logged = ToOpId(r.last_logged_opid());
  f.last_committed = ToOpId(r.last_committed_opid());
  f.last_applied = ToOpId(r.last_applied_opid());
  f.on_disk_bytes = r.on_disk_size_bytes();
  f.write_refusal = r.write_refusal();
  return f;
}

}  // namespace kmend::check
