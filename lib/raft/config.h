// Helpers over RaftConfigPB: membership questions, quorum arithmetic, and
// the single-server changes that ProposeConfigChange builds (Kudu's
// ChangeConfig), plus the checks of UnsafeChangeConfig. Pure functions.
#ifndef KMEND_LIB_RAFT_CONFIG_H_
#define KMEND_LIB_RAFT_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/consensus_metadata.pb.h"

namespace kmend::raft {

enum class ChangeType {
  kAddVoter,     // add a new peer as VOTER
  kAddNonVoter,  // add a new peer as NON_VOTER (receives entries, never votes)
  kRemovePeer,   // remove a peer (voter or not); never the leader itself
  kPromote,      // NON_VOTER -> VOTER
};

const char* ChangeTypeName(ChangeType type);

struct ConfigChange {
  ChangeType type = ChangeType::kAddVoter;
  std::string uuid;
  // Copied into the new peer's RaftPeerPB for additions.
  consensus::RaftPeerPB peer_template;
  // Compare-and-set (Kudu's cas_config_opid_index): unless kNoCas, the change is
  // rejected unless the committed config's opid_index equals it.
  int64_t cas_config_opid_index = kNoCas;
  static constexpr int64_t kNoCas = INT64_MIN;
};

const consensus::RaftPeerPB* FindPeer(const consensus::RaftConfigPB& config,
                                      const std::string& uuid);
bool IsMember(const consensus::RaftConfigPB& config, const std::string& uuid);
bool IsVoter(const consensus::RaftConfigPB& config, const std::string& uuid);
std::vector<std::string> VoterUuids(const consensus::RaftConfigPB& config);
int VoterCount(const consensus::RaftConfigPB& config);
// Votes needed for a majority of the voters: floor(n/2) + 1.
int MajoritySize(int voters);

// Structural checks: unique non-empty uuids, member types VOTER/NON_VOTER,
// at least one voter. InvalidArgument naming the offending peer.
absl::Status ValidateConfig(const consensus::RaftConfigPB& config);

// The config `change` produces from `active` (opid_index left to the caller).
// InvalidArgument/AlreadyExists/NotFound/FailedPrecondition by cause.
absl::StatusOr<consensus::RaftConfigPB> ApplyChange(const consensus::RaftConfigPB& active,
                                                    const ConfigChange& change);

// Checks of UnsafeChangeConfig: `new_config` is valid, every peer of it is
// in `committed` and `self_uuid` is a VOTER in it.
absl::Status CheckUnsafeConfig(const consensus::RaftConfigPB& committed,
                               const consensus::RaftConfigPB& new_config,
                               const std::string& self_uuid);

// The config an unsafe config change forces: the peers of `committed`
// named in `keep` (in committed order), each a VOTER with no attrs or health
// report: a caught-up NON_VOTER may be the best survivor, and the group needs
// every survivor it keeps as a voter. InvalidArgument naming a uuid of
// `keep` that is not a member of `committed`.
absl::StatusOr<consensus::RaftConfigPB> MakeForcedConfig(const consensus::RaftConfigPB& committed,
                                                         const std::vector<std::string>& keep);

// Where a committed config stands in its tablet's history. Raft orders
// configs as it orders logs: by the term of the config's entry, then by its
// index. An unsafe config change reuses indexes of the lost history at a
// higher term, so opid_index alone misorders it. A config without opid_term
// (written before the field existed, its entry since collected) counts as
// term 0: older than any config that carries a term.
struct ConfigVersion {
  int64_t term = 0;
  int64_t index = -1;
  bool operator<(const ConfigVersion& o) const {
    return term != o.term ? term < o.term : index < o.index;
  }
  bool operator==(const ConfigVersion& o) const { return term == o.term && index == o.index; }
  bool operator>=(const ConfigVersion& o) const { return !(*this < o); }
};
ConfigVersion ConfigVersionOf(const consensus::RaftConfigPB& config);

// "A:V,B:V,C:N@12" style one-liner for logs and tests.
std::string ConfigSummary(const consensus::RaftConfigPB& config);

}  // namespace kmend::raft

#endif  // KMEND_LIB_RAFT_CONFIG_H_
