#include "lib/recover/master_probe.h"

#include <algorithm>

#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/rpc/grpc_util.h"
#include "proto/status.grpc.pb.h"
#include "proto/tserver.grpc.pb.h"

namespace kmend::recover {

MasterProbe ProbeMaster(const std::string& address, std::chrono::milliseconds timeout) {
  MasterProbe p;
  p.address = address;
  auto channel = rpc::NewChannel(address);
  {
    auto stub = server::StatusService::NewStub(channel);
    grpc::ClientContext ctx;
    rpc::SetDeadline(&ctx, timeout);
    server::GetStatusRequestPB req;
    req.set_include_replicas(false);
    server::GetStatusResponsePB resp;
    absl::Status s = rpc::FromGrpcStatus(stub->GetStatus(&ctx, req, &resp),
                                         absl::StrCat(address, ": GetStatus"));
    if (!s.ok()) {
      p.error = std::string(s.message());
      return p;
    }
    if (resp.server().role() != server::MASTER) {
      p.error = absl::StrCat(address, " is a ", server::ServerRole_Name(resp.server().role()),
                             ", not a master");
      return p;
    }
    p.uuid = resp.server().uuid();
    p.catalog_version = resp.master().catalog_version();
    p.catalog_applied_index = resp.master().catalog_applied_index();
  }
  auto stub = tserver::ConsensusService::NewStub(channel);
  grpc::ClientContext ctx;
  rpc::SetDeadline(&ctx, timeout);
  tserver::GetConsensusStateRequestPB req;
  req.add_tablet_ids(kCatalogTabletId);
  tserver::GetConsensusStateResponsePB resp;
  absl::Status s = rpc::FromGrpcStatus(stub->GetConsensusState(&ctx, req, &resp),
                                       absl::StrCat(address, ": GetConsensusState"));
  if (s.ok() && resp.replicas_size() != 1) {
    s = absl::NotFoundError(absl::StrCat(address, ": no sys catalog replica"));
  }
  if (!s.ok()) {
    p.error = std::string(s.message());
    return p;
  }
  p.catalog_open = true;
  p.cstate = resp.replicas(0).cstate();
  p.last_logged = resp.replicas(0).last_logged_opid();
  p.leader_lease = resp.replicas(0).leader_lease_active();
  return p;
}

std::vector<MasterProbe> ProbeMasters(const std::vector<std::string>& addresses,
                                      std::chrono::milliseconds timeout) {
  std::vector<MasterProbe> out;
  for (const std::string& a : addresses) out.push_back(ProbeMaster(a, timeout));
  return out;
}

absl::StatusOr<CatalogForceChoice> ChooseCatalogSurvivor(const std::vector<MasterProbe>& probes) {
  const MasterProbe* best = nullptr;
  std::vector<std::string> errors;
  for (const MasterProbe& p : probes) {
    if (!p.catalog_open) {
      errors.push_back(p.error);
      continue;
    }
    if (best == nullptr ||
        std::make_tuple(p.last_logged.term(), p.last_logged.index(), best->uuid) >
            std::make_tuple(best->last_logged.term(), best->last_logged.index(), p.uuid)) {
      best = &p;
    }
  }
  if (best == nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no master's sys catalog replica answered (", absl::StrJoin(errors, "; "),
        "): nothing to force; with every master's data gone, see `kmend master rebuild`"));
  }
  CatalogForceChoice c;
  c.survivor_address = best->address;
  c.survivor_uuid = best->uuid;
  // Kept: every open replica that is a member of the survivor's committed
  // config, non-voters included (the force makes them voters), as ksck does
  // for tablets: a caught-up non-voter may hold committed entries no
  // surviving voter has, and with the longest log it is the survivor.
  for (const auto& peer : best->cstate.committed_config().peers()) {
    for (const MasterProbe& p : probes) {
      if (p.catalog_open && p.uuid == peer.permanent_uuid()) {
        c.keep_uuids.push_back(p.uuid);
        break;
      }
    }
  }
  // A master that joined as a non-member and was never added is not in its
  // own config: the force keeps only members, so refuse.
  bool self_kept = false;
  for (const std::string& u : c.keep_uuids) self_kept |= u == c.survivor_uuid;
  if (!self_kept) {
    return absl::FailedPreconditionError(absl::StrCat(
        "the master with the longest catalog log, ", best->uuid, " at ", best->address,
        ", is not a member of its own committed config: it cannot be forced"));
  }
  return c;
}

absl::Status CheckDropsNoRunningMaster(const ForcePlan& plan) {
  std::vector<std::string> running_dropped;
  for (const VoterProbe& v : plan.voters) {
    if (!v.running) continue;
    if (std::find(plan.dropped.begin(), plan.dropped.end(), v.uuid) == plan.dropped.end()) {
      continue;
    }
    running_dropped.push_back(absl::StrCat(v.uuid, " at ", v.address.empty() ? "?" : v.address));
  }
  if (running_dropped.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "the force would drop master(s) that run their catalog replica: ",
      absl::StrJoin(running_dropped, ", "),
      "; list every master in --masters so they are kept (or stop them first)"));
}

std::vector<std::string> AnsweringMasters(const std::vector<MasterProbe>& probes) {
  std::vector<std::string> out;
  for (const MasterProbe& p : probes) {
    if (!p.uuid.empty()) out.push_back(absl::StrCat(p.address, " (", p.uuid, ")"));
  }
  return out;
}

bool CatalogMajorityLost(const std::vector<MasterProbe>& probes) {
  const consensus::RaftConfigPB* newest = nullptr;
  for (const MasterProbe& p : probes) {
    if (!p.catalog_open) continue;
    const auto& c = p.cstate.committed_config();
    if (newest == nullptr ||
        std::make_pair(c.opid_term(), c.opid_index()) >
            std::make_pair(newest->opid_term(), newest->opid_index())) {
      newest = &c;
    }
  }
  if (newest == nullptr) return false;
  int voters = 0, running = 0;
  for (const auto& peer : newest->peers()) {
    if (peer.member_type() != consensus::RaftPeerPB::VOTER) continue;
    ++voters;
    for (const MasterProbe& p : probes) {
      if (p.catalog_open && p.uuid == peer.permanent_uuid()) {
        ++running;
        break;
      }
    }
  }
  return 2 * running <= voters;
}

absl::StatusOr<MasterProbe> FindCatalogLeader(const std::vector<MasterProbe>& probes) {
  const MasterProbe* leader = nullptr;
  for (const MasterProbe& p : probes) {
    if (!p.catalog_open || p.cstate.leader_uuid() != p.uuid) continue;
    if (leader == nullptr || p.cstate.current_term() > leader->cstate.current_term()) leader = &p;
  }
  if (leader == nullptr) {
    return absl::NotFoundError("no master leads the sys catalog (an election may be under way)");
  }
  return *leader;
}

}  // namespace kmend::recover
