#include "lib/recover/cmeta_edit.h"

#include "absl/strings/str_cat.h"
#include "lib/net/host_port.h"
#include "lib/raft/config.h"

namespace kmend::recover {

using consensus::ConsensusMetadataPB;
using consensus::RaftPeerPB;

absl::StatusOr<RaftPeerPB> ParsePeerSpec(absl::string_view text) {
  const size_t colon = text.find(':');
  if (colon == absl::string_view::npos || colon == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\": expected UUID:HOST:PORT"));
  }
  absl::StatusOr<HostPortPB> hp = net::ParseHostPort(text.substr(colon + 1));
  if (!hp.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", text, "\": expected UUID:HOST:PORT: ", hp.status().message()));
  }
  RaftPeerPB p;
  p.set_permanent_uuid(std::string(text.substr(0, colon)));
  p.set_member_type(RaftPeerPB::VOTER);
  *p.mutable_last_known_addr() = *hp;
  return p;
}

absl::StatusOr<ConsensusMetadataPB> RewriteRaftConfig(const ConsensusMetadataPB& cmeta,
                                                      const std::vector<RaftPeerPB>& peers) {
  ConsensusMetadataPB out = cmeta;
  out.mutable_committed_config()->clear_peers();
  for (const RaftPeerPB& p : peers) *out.mutable_committed_config()->add_peers() = p;
  absl::Status s = raft::ValidateConfig(out.committed_config());
  if (!s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("new config: ", s.message()));
  }
  return out;
}

absl::StatusOr<ConsensusMetadataPB> SetTerm(const ConsensusMetadataPB& cmeta, int64_t term) {
  if (term <= cmeta.current_term()) {
    return absl::FailedPreconditionError(
        absl::StrCat("new term ", term, " is not above the current term ", cmeta.current_term(),
                     ": a replica must never go back to a term it may have voted in"));
  }
  ConsensusMetadataPB out = cmeta;
  out.set_current_term(term);
  out.clear_voted_for();
  return out;
}

bool CarriesForce(const ConsensusMetadataPB& cmeta, const PlanEntry& entry) {
  return cmeta.committed_config().opid_term() > entry.forced_term_floor &&
         raft::IsMember(cmeta.committed_config(), entry.survivor_uuid);
}

absl::StatusOr<ConsensusMetadataPB> OfflineForce(const ConsensusMetadataPB& cmeta,
                                                 const PlanEntry& entry,
                                                 int64_t last_logged_index) {
  if (cmeta.current_term() > entry.forced_term_floor) {
    return absl::FailedPreconditionError(
        absl::StrCat("the replica's term is ", cmeta.current_term(), ", above the plan's ",
                     entry.forced_term_floor, ": it moved on since the plan"));
  }
  absl::StatusOr<consensus::RaftConfigPB> forced =
      raft::MakeForcedConfig(cmeta.committed_config(), entry.new_voters);
  if (!forced.ok()) return forced.status();
  const int64_t term = entry.forced_term_floor + 1;
  forced->set_opid_index(last_logged_index);
  forced->set_opid_term(term);
  forced->set_unsafe_config_change(true);
  ConsensusMetadataPB out = cmeta;
  out.set_current_term(term);
  out.clear_voted_for();
  *out.mutable_committed_config() = *forced;
  return out;
}

}  // namespace kmend::recover
