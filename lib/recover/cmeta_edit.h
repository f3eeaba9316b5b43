// Edits of one replica's consensus metadata for a server that is stopped
// (Kudu's `local_replica cmeta rewrite_raft_config` and `set_term`), and the
// offline form of a recovery plan's force. Pure: they turn one
// ConsensusMetadataPB into another; offline.h reads, locks, backs up and
// writes.
//
// The offline force is what an online force leaves behind, written straight
// into the metadata: current_term = forced_term_floor + 1 with no vote, and a
// committed config of the new voters (every one a VOTER) marked
// unsafe_config_change, at (forced_term_floor + 1, last logged index). On
// start the replica takes every entry of its log as committed (it is the
// most up-to-date survivor: an online force would commit them with its new
// leader's NO_OP), elects itself among the new voters, and the master, which
// orders configs by (term, index), adopts the config and tombstones the
// dropped replicas when they return.
#ifndef KMEND_LIB_RECOVER_CMETA_EDIT_H_
#define KMEND_LIB_RECOVER_CMETA_EDIT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "lib/recover/plan.h"
#include "proto/consensus_metadata.pb.h"

namespace kmend::recover {

// "UUID:HOST:PORT" (HOST may be "[ipv6]") -> a VOTER peer with that address.
// InvalidArgument quoting the text.
absl::StatusOr<consensus::RaftPeerPB> ParsePeerSpec(absl::string_view text);

// The committed config's peers replaced by `peers` (opid_index and opid_term
// kept, as Kudu's rewrite_raft_config does). InvalidArgument when the new
// config is not valid (no voter, duplicate uuids).
absl::StatusOr<consensus::ConsensusMetadataPB> RewriteRaftConfig(
    const consensus::ConsensusMetadataPB& cmeta, const std::vector<consensus::RaftPeerPB>& peers);

// current_term = term and no vote. FailedPrecondition when term is not above
// the current one: lowering a term would let the replica vote twice in it.
absl::StatusOr<consensus::ConsensusMetadataPB> SetTerm(const consensus::ConsensusMetadataPB& cmeta,
                                                       int64_t term);

// The offline force of `entry` on a replica whose WAL's last entry has index
// `last_logged_index`. FailedPrecondition when the metadata's term is above
// the plan's floor (the replica moved on since the plan); InvalidArgument
// when a new voter is not in the committed config.
absl::StatusOr<consensus::ConsensusMetadataPB> OfflineForce(
    const consensus::ConsensusMetadataPB& cmeta, const PlanEntry& entry, int64_t last_logged_index);

// Whether `cmeta` already carries `entry`'s force (online or offline): its
// committed config is from a term above the floor and has the survivor.
bool CarriesForce(const consensus::ConsensusMetadataPB& cmeta, const PlanEntry& entry);

}  // namespace kmend::recover

#endif  // KMEND_LIB_RECOVER_CMETA_EDIT_H_
