#include "server/common/config_change_request.h"

#include "absl/status/status.h"

namespace kmend::server {

absl::StatusOr<raft::ConfigChange> ConfigChangeFromRequest(
    const tserver::ChangeConfigRequestPB& req, PeerAddress address) {
  raft::ConfigChange change;
  change.uuid = req.peer().permanent_uuid();
  change.peer_template = req.peer();
  if (req.has_cas_config_opid_index()) change.cas_config_opid_index = req.cas_config_opid_index();
  switch (req.type()) {
    case tserver::ADD_PEER:
      if (address == PeerAddress::kRequired && !req.peer().has_last_known_addr()) {
        return absl::InvalidArgumentError(
            "ChangeConfig ADD_PEER of a master: peer.last_known_addr is required");
      }
      change.type = req.peer().member_type() == consensus::RaftPeerPB::NON_VOTER
                        ? raft::ChangeType::kAddNonVoter
                        : raft::ChangeType::kAddVoter;
      break;
    case tserver::REMOVE_PEER:
      change.type = raft::ChangeType::kRemovePeer;
      break;
    case tserver::MODIFY_PEER:
      if (req.peer().member_type() != consensus::RaftPeerPB::VOTER) {
        return absl::InvalidArgumentError(
            "ChangeConfig MODIFY_PEER: only promotion to VOTER is supported");
      }
      change.type = raft::ChangeType::kPromote;
      break;
    default:
      return absl::InvalidArgumentError("ChangeConfig: type is required");
  }
  if (change.uuid.empty()) {
    return absl::InvalidArgumentError("ChangeConfig: peer.permanent_uuid is required");
  }
  return change;
}

}  // namespace kmend::server
