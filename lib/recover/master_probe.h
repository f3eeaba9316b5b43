// What each master says about its replica of the sys catalog tablet: the
// facts `kmend master unsafe-change-config` and `kmend master add` decide
// on. A master answers through the same StatusService and ConsensusService
// as a tablet server (server/master/master_consensus_service.h), so the
// catalog is forced by the tablet force of force_config.h.
//
// ProbeMasters does RPCs; the rest is pure and tested on hand-made probes
// (master_probe_test.cc). Thread safety: free functions, no shared state.
#ifndef KMEND_LIB_RECOVER_MASTER_PROBE_H_
#define KMEND_LIB_RECOVER_MASTER_PROBE_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/recover/force_safety.h"
#include "proto/consensus_metadata.pb.h"
#include "proto/opid.pb.h"

namespace kmend::recover {

// The sys catalog's tablet id (server/master/raft_catalog_store.h holds the
// same constant; lib/ cannot include server/).
inline constexpr char kCatalogTabletId[] = "00000000000000000000000000000000";

struct MasterProbe {
  std::string address;  // as given
  std::string uuid;     // empty when the master did not answer
  // It answered with an open catalog replica (cstate, last_logged valid).
  bool catalog_open = false;
  consensus::ConsensusStatePB cstate;
  consensus::OpId last_logged;
  bool leader_lease = false;
  // Its applied catalog (from its status).
  int64_t catalog_version = 0;
  int64_t catalog_applied_index = 0;
  std::string error;  // why it is not catalog_open
};

// One probe per address, in order: GetStatus, then GetConsensusState for
// the catalog tablet, each with `timeout`.
std::vector<MasterProbe> ProbeMasters(const std::vector<std::string>& addresses,
                                      std::chrono::milliseconds timeout);
MasterProbe ProbeMaster(const std::string& address, std::chrono::milliseconds timeout);

// FailedPrecondition naming them when the force would drop a master that
// runs its catalog replica (a voter the plan's probes found running but
// --masters did not list, with five masters): dropped while running, it
// would go on as a member of the old config. `kmend master
// unsafe-change-config` refuses it unless --force.
absl::Status CheckDropsNoRunningMaster(const ForcePlan& plan);

// The addresses where a master answered, its catalog open or not. `master
// rebuild` refuses while any does: a catalog rebuilt beside a running master
// would be a second catalog, both judging the same tablet servers.
std::vector<std::string> AnsweringMasters(const std::vector<MasterProbe>& probes);

// Which master to force and to which voters after the catalog lost its
// majority. The survivor is the open replica with the longest log (last
// logged term, then index; ties: the smaller uuid), the rule ksck and
// `recover plan` use for tablets. Kept: every open replica that is a member
// (voter or non-voter) of the survivor's committed config; the forced
// config makes them all voters. FailedPrecondition when no master's
// catalog replica answers (nothing to force: `kmend master rebuild`).
struct CatalogForceChoice {
  std::string survivor_address;
  std::string survivor_uuid;
  std::vector<std::string> keep_uuids;
};
absl::StatusOr<CatalogForceChoice> ChooseCatalogSurvivor(const std::vector<MasterProbe>& probes);

// True when fewer than a majority of the voters of the newest catalog config
// any open replica reports have an open replica: no master can serve the
// catalog until `kmend master unsafe-change-config` (or the lost masters
// return). False when no replica is open (that is `master rebuild`'s case).
bool CatalogMajorityLost(const std::vector<MasterProbe>& probes);

// The probe of the master that leads the catalog (its cstate names itself
// as leader, with the newest term among those that do); NotFound otherwise.
absl::StatusOr<MasterProbe> FindCatalogLeader(const std::vector<MasterProbe>& probes);

}  // namespace kmend::recover

#endif  // KMEND_LIB_RECOVER_MASTER_PROBE_H_
