// `kmend master add`: growing the sys catalog's Raft config by one master
// on a running catalog (after `kmend master unsafe-change-config` left one
// master, or to go from one master to three).
//
// The new master is started empty with --master_addrs listing the running
// masters and itself: finding a running catalog whose config lacks it, it
// waits as a non-member (server/master/master_bootstrap.cc). Then, through
// the catalog leader: ADD_PEER as NON_VOTER (the leader sends it its log,
// or a catalog copy when the log it needs was collected), wait until its
// applied catalog reaches the leader's committed index at the add, and
// MODIFY_PEER to VOTER. A voter that cannot catch up never joins the
// majority: promotion comes last.
//
// JudgeAddMaster is pure (master_probe_test.cc); PlanAddMaster and
// ApplyAddMaster do RPCs. Thread safety: free functions, no shared state.
#ifndef KMEND_LIB_RECOVER_MASTER_MEMBERSHIP_H_
#define KMEND_LIB_RECOVER_MASTER_MEMBERSHIP_H_

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "lib/recover/master_probe.h"

namespace kmend::recover {

enum class AddMasterStep {
  kAddAndPromote,  // not in the config yet
  kPromote,        // a NON_VOTER already (a previous run stopped half-way)
  kNothing,        // a VOTER already
};
const char* AddMasterStepName(AddMasterStep s);

// What to do to make `candidate` a voter of `leader`'s catalog config.
// FailedPrecondition when the candidate holds a catalog of its own (it ran
// an election or applied catalog entries while not a member: its data
// directory must be emptied first) or is the leader's own address.
absl::StatusOr<AddMasterStep> JudgeAddMaster(const MasterProbe& leader,
                                             const MasterProbe& candidate);

struct AddMasterRequest {
  std::vector<std::string> masters;  // the running catalog's masters
  std::string new_master;            // host:port of the master to add
  std::chrono::milliseconds timeout{5000};       // per RPC
  std::chrono::milliseconds catch_up_wait{60000};  // for the copy/replay
};

struct AddMasterPlan {
  MasterProbe leader;
  MasterProbe candidate;
  AddMasterStep step = AddMasterStep::kNothing;
};

absl::StatusOr<AddMasterPlan> PlanAddMaster(const AddMasterRequest& req);

// Runs plan.step. `progress` (may be empty) gets one line per stage.
// Returns the leader's committed config at the end.
absl::StatusOr<consensus::RaftConfigPB> ApplyAddMaster(
    const AddMasterRequest& req, const AddMasterPlan& plan,
    const std::function<void(const std::string&)>& progress);

// `kmend master remove`: drop a master that is gone for good from the
// catalog's config (one of three dead with its data lost: remove it, then
// add its replacement). Pure check: FailedPrecondition when `uuid` is the
// leader (it cannot remove itself here) or answers at its config address
// (`answering`: the caller probed it); NotFound when not a member.
absl::Status JudgeRemoveMaster(const MasterProbe& leader, const std::string& uuid,
                               bool answering);

// Probes the leader and the member at its config address; returns the
// leader probe and whether the member answers. A uuid the committed config
// no longer lists gives `already_removed` (nothing to do: a re-run is
// idempotent), not an error.
struct RemoveMasterPlan {
  MasterProbe leader;
  bool already_removed = false;
  std::string address;  // the member's last known address
  bool answering = false;
};
absl::StatusOr<RemoveMasterPlan> PlanRemoveMaster(const std::vector<std::string>& masters,
                                                  const std::string& uuid,
                                                  std::chrono::milliseconds timeout);

// REMOVE_PEER through the leader (compare-and-set on its config index).
// Returns the committed config after.
absl::StatusOr<consensus::RaftConfigPB> ApplyRemoveMaster(const RemoveMasterPlan& plan,
                                                          const std::string& uuid,
                                                          std::chrono::milliseconds timeout);

}  // namespace kmend::recover

#endif  // KMEND_LIB_RECOVER_MASTER_MEMBERSHIP_H_
