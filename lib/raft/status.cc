#include "lib/raft/status.h"

#include "absl/strings/str_cat.h"
#include "lib/raft/config.h"

namespace kmend::raft {

const char* PeerStateName(PeerStatus::State state) {
  switch (state) {
    case PeerStatus::State::kProbe: return "PROBE";
    case PeerStatus::State::kReplicate: return "REPLICATE";
    case PeerStatus::State::kNeedsTabletCopy: return "NEEDS_TABLET_COPY";
  }
  return "UNKNOWN";
}

std::string RaftStatus::ToString() const {
  std::string out = absl::StrCat(
      uuid, ": ", RoleName(role), " term ", term, " leader ",
      leader_uuid.empty() ? "-" : leader_uuid, " voted_for ",
      voted_for.empty() ? "-" : voted_for, "\n  last_logged ", last_logged.term(), ".",
      last_logged.index(), " committed ", committed.term(), ".", committed.index(),
      " applied ", applied_index, "\n  committed_config ", ConfigSummary(committed_config),
      "\n  pending_config ", pending_config ? ConfigSummary(*pending_config) : "-", "\n");
  if (quiesced) absl::StrAppend(&out, "  quiesced\n");
  if (!transferring_to.empty()) absl::StrAppend(&out, "  transferring_to ", transferring_to, "\n");
  for (const PeerStatus& p : peers) {
    absl::StrAppend(&out, "  peer ", p.uuid, p.voter ? " VOTER " : " NON_VOTER ",
                    PeerStateName(p.state), " match ", p.match_index, " next ", p.next_index,
                    " last_contact_ticks ", p.ticks_since_contact, " health ",
                    consensus::HealthReportPB::HealthStatus_Name(p.health), "\n");
  }
  return out;
}

consensus::ConsensusStatePB RaftStatus::ToConsensusStatePB() const {
  consensus::ConsensusStatePB pb;
  pb.set_current_term(term);
  if (!leader_uuid.empty()) pb.set_leader_uuid(leader_uuid);
  *pb.mutable_committed_config() = committed_config;
  if (pending_config) *pb.mutable_pending_config() = *pending_config;
  consensus::RaftConfigPB* active =
      pending_config ? pb.mutable_pending_config() : pb.mutable_committed_config();
  for (const PeerStatus& p : peers) {
    for (consensus::RaftPeerPB& peer : *active->mutable_peers()) {
      if (peer.permanent_uuid() == p.uuid) {
        peer.mutable_health_report()->set_overall_health(p.health);
      }
    }
  }
  return pb;
}

}  // namespace kmend::raft
