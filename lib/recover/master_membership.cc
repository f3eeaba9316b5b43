#include "lib/recover/master_membership.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "lib/net/host_port.h"
#include "lib/rpc/grpc_util.h"
#include "lib/util/status_macros.h"
#include "proto/tserver.grpc.pb.h"

namespace kmend::recover {

const char* AddMasterStepName(AddMasterStep s) {
  switch (s) {
    case AddMasterStep::kAddAndPromote:
      return "add_and_promote";
    case AddMasterStep::kPromote:
      return "promote";
    case AddMasterStep::kNothing:
      return "nothing";
  }
  return "?";
}

absl::StatusOr<AddMasterStep> JudgeAddMaster(const MasterProbe& leader,
                                             const MasterProbe& candidate) {
  if (candidate.uuid.empty()) {
    return absl::UnavailableError(
        absl::StrCat("the new master ", candidate.address, " did not answer: ", candidate.error));
  }
  if (candidate.uuid == leader.uuid) {
    return absl::InvalidArgumentError(
        absl::StrCat(candidate.address, " is the catalog leader itself (", leader.uuid, ")"));
  }
  for (const auto& p : leader.cstate.committed_config().peers()) {
    if (p.permanent_uuid() != candidate.uuid) continue;
    return p.member_type() == consensus::RaftPeerPB::VOTER ? AddMasterStep::kNothing
                                                           : AddMasterStep::kPromote;
  }
  // Not a member: it must be empty, or its own catalog would be overwritten
  // by the leader's log (and its entries would mean it once ran alone).
  if (candidate.catalog_open && candidate.cstate.current_term() > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "master ", candidate.uuid, " at ", candidate.address, " has a catalog replica of its own (term ",
        candidate.cstate.current_term(), ", last logged ", candidate.last_logged.term(), ".",
        candidate.last_logged.index(), "): stop it, empty its --fs_root, start it again with "
        "--master_addrs naming the running masters and itself"));
  }
  if (candidate.catalog_version > 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "master ", candidate.uuid, " at ", candidate.address, " holds catalog version ",
        candidate.catalog_version, " but is not a member of the catalog: empty its --fs_root"));
  }
  return AddMasterStep::kAddAndPromote;
}

absl::StatusOr<AddMasterPlan> PlanAddMaster(const AddMasterRequest& req) {
  AddMasterPlan plan;
  std::vector<MasterProbe> probes = ProbeMasters(req.masters, req.timeout);
  ASSIGN_OR_RETURN(plan.leader, FindCatalogLeader(probes));
  plan.candidate = ProbeMaster(req.new_master, req.timeout);
  ASSIGN_OR_RETURN(plan.step, JudgeAddMaster(plan.leader, plan.candidate));
  return plan;
}

namespace {

absl::StatusOr<consensus::OpId> ChangeConfigAt(const std::string& leader_address,
                                               const tserver::ChangeConfigRequestPB& req,
                                               std::chrono::milliseconds timeout) {
  auto stub = tserver::ConsensusService::NewStub(rpc::NewChannel(leader_address));
  grpc::ClientContext ctx;
  // The leader answers once the change is committed: allow for that.
  rpc::SetDeadline(&ctx, timeout + std::chrono::seconds(10));
  tserver::ChangeConfigResponsePB resp;
  RETURN_IF_ERROR(rpc::FromGrpcStatus(
      stub->ChangeConfig(&ctx, req, &resp),
      absl::StrCat(leader_address, ": ChangeConfig ", tserver::ChangeConfigType_Name(req.type()))));
  return resp.op_id();
}

}  // namespace

absl::StatusOr<consensus::RaftConfigPB> ApplyAddMaster(
    const AddMasterRequest& req, const AddMasterPlan& plan,
    const std::function<void(const std::string&)>& progress) {
  auto say = [&progress](const std::string& s) {
    if (progress) progress(s);
  };
  if (plan.step == AddMasterStep::kNothing) return plan.leader.cstate.committed_config();
  int64_t target_index = plan.leader.cstate.committed_config().opid_index();
  if (plan.step == AddMasterStep::kAddAndPromote) {
    tserver::ChangeConfigRequestPB add;
    add.set_tablet_id(kCatalogTabletId);
    add.set_type(tserver::ADD_PEER);
    add.mutable_peer()->set_permanent_uuid(plan.candidate.uuid);
    add.mutable_peer()->set_member_type(consensus::RaftPeerPB::NON_VOTER);
    ASSIGN_OR_RETURN(*add.mutable_peer()->mutable_last_known_addr(),
                     net::ParseHostPort(req.new_master));
    add.set_cas_config_opid_index(plan.leader.cstate.committed_config().opid_index());
    ASSIGN_OR_RETURN(consensus::OpId id, ChangeConfigAt(plan.leader.address, add, req.timeout));
    target_index = id.index();
    say(absl::StrCat("added ", plan.candidate.uuid, " as a non-voter at op ", id.term(), ".",
                     id.index()));
  }
  // Caught up: its applied catalog covers the add (or, for a resumed
  // promotion, the config change that made it a non-voter).
  const absl::Time give_up = absl::Now() + absl::FromChrono(req.catch_up_wait);
  MasterProbe now;
  while (true) {
    now = ProbeMaster(req.new_master, req.timeout);
    // Another master at the new master's address (restarted with an emptied
    // --fs_root: a new uuid) is not the non-voter the leader is feeding.
    if (!now.uuid.empty() && now.uuid != plan.candidate.uuid) {
      return absl::FailedPreconditionError(absl::StrCat(
          "master ", now.uuid, " now answers at ", req.new_master, " in place of ",
          plan.candidate.uuid, " (added as a non-voter): remove ", plan.candidate.uuid,
          " with `kmend master remove`, then add the new one"));
    }
    if (now.catalog_open && now.catalog_applied_index >= target_index) break;
    if (absl::Now() > give_up) {
      return absl::DeadlineExceededError(absl::StrCat(
          "master ", plan.candidate.uuid, " did not catch up to catalog index ", target_index,
          " within ", absl::FormatDuration(absl::FromChrono(req.catch_up_wait)), " (applied ",
          now.catalog_applied_index, now.error.empty() ? "" : "; " + now.error,
          "); it stays a non-voter: run `kmend master add` again to promote it"));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
  say(absl::StrCat("caught up: applied catalog index ", now.catalog_applied_index,
                   ", catalog version ", now.catalog_version));
  // The leader may have changed meanwhile: ask again, and promote only from
  // the config just read (compare-and-set on its index), in which the
  // candidate must still be a non-voter: a concurrent remove, or another
  // run's promotion, must not be overwritten.
  ASSIGN_OR_RETURN(MasterProbe leader, FindCatalogLeader(ProbeMasters(req.masters, req.timeout)));
  const consensus::RaftConfigPB& config = leader.cstate.committed_config();
  const consensus::RaftPeerPB* member = nullptr;
  for (const auto& p : config.peers()) {
    if (p.permanent_uuid() == plan.candidate.uuid) member = &p;
  }
  if (member == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "master ", plan.candidate.uuid, " left the catalog config while catching up (config at index ",
        config.opid_index(), "): not promoted"));
  }
  if (member->member_type() == consensus::RaftPeerPB::VOTER) {
    say(absl::StrCat("master ", plan.candidate.uuid, " is a voter already"));
    return config;
  }
  tserver::ChangeConfigRequestPB promote;
  promote.set_tablet_id(kCatalogTabletId);
  promote.set_type(tserver::MODIFY_PEER);
  promote.mutable_peer()->set_permanent_uuid(plan.candidate.uuid);
  promote.mutable_peer()->set_member_type(consensus::RaftPeerPB::VOTER);
  promote.set_cas_config_opid_index(config.opid_index());
  ASSIGN_OR_RETURN(consensus::OpId id, ChangeConfigAt(leader.address, promote, req.timeout));
  say(absl::StrCat("promoted ", plan.candidate.uuid, " to voter at op ", id.term(), ".",
                   id.index()));
  MasterProbe after = ProbeMaster(leader.address, req.timeout);
  return after.cstate.committed_config();
}

namespace {
bool IsMember(const consensus::RaftConfigPB& config, const std::string& uuid) {
  for (const auto& p : config.peers()) {
    if (p.permanent_uuid() == uuid) return true;
  }
  return false;
}
}  // namespace

absl::Status JudgeRemoveMaster(const MasterProbe& leader, const std::string& uuid,
                               bool answering) {
  if (!IsMember(leader.cstate.committed_config(), uuid)) {
    return absl::NotFoundError(absl::StrCat("master ", uuid, " is not a member of the catalog's config"));
  }
  if (uuid == leader.uuid) {
    return absl::FailedPreconditionError(
        absl::StrCat("master ", uuid, " leads the catalog: only a master that is gone can be removed"));
  }
  if (answering) {
    return absl::FailedPreconditionError(absl::StrCat(
        "master ", uuid, " answers at its address: only a master that is gone can be removed "
        "(stop it first)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<RemoveMasterPlan> PlanRemoveMaster(const std::vector<std::string>& masters,
                                                  const std::string& uuid,
                                                  std::chrono::milliseconds timeout) {
  RemoveMasterPlan plan;
  ASSIGN_OR_RETURN(plan.leader, FindCatalogLeader(ProbeMasters(masters, timeout)));
  if (!IsMember(plan.leader.cstate.committed_config(), uuid)) {
    // The goal holds already: a re-run after a remove whose answer was lost
    // (the RPC timed out after the commit) ends here, not in an error.
    plan.already_removed = true;
    return plan;
  }
  for (const auto& p : plan.leader.cstate.committed_config().peers()) {
    if (p.permanent_uuid() == uuid && p.has_last_known_addr()) {
      plan.address = net::HostPortToString(p.last_known_addr());
    }
  }
  if (!plan.address.empty()) {
    MasterProbe probe = ProbeMaster(plan.address, timeout);
    // Another master at the same address (a replacement with a new uuid)
    // does not make this one alive.
    plan.answering = probe.uuid == uuid;
  }
  RETURN_IF_ERROR(JudgeRemoveMaster(plan.leader, uuid, plan.answering));
  return plan;
}

absl::StatusOr<consensus::RaftConfigPB> ApplyRemoveMaster(const RemoveMasterPlan& plan,
                                                          const std::string& uuid,
                                                          std::chrono::milliseconds timeout) {
  tserver::ChangeConfigRequestPB req;
  req.set_tablet_id(kCatalogTabletId);
  req.set_type(tserver::REMOVE_PEER);
  req.mutable_peer()->set_permanent_uuid(uuid);
  req.set_cas_config_opid_index(plan.leader.cstate.committed_config().opid_index());
  RETURN_IF_ERROR(ChangeConfigAt(plan.leader.address, req, timeout).status());
  return ProbeMaster(plan.leader.address, timeout).cstate.committed_config();
}

}  // namespace kmend::recover
