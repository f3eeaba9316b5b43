#include "tools/unsafe_change_config/unsafe_change_config.h"

#include <set>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "lib/io/file.h"
#include "lib/net/host_port.h"
#include "lib/raft/config.h"
#include "lib/rpc/grpc_util.h"
#include "lib/util/status_macros.h"
#include "proto/status.grpc.pb.h"
#include "proto/tserver.grpc.pb.h"

namespace kmend::unsafe_config {

namespace {

// The tablet's consensus state as the server at `address` reports it.
absl::StatusOr<tserver::ReplicaConsensusStatePB> GetReplicaState(
    const std::string& address, const std::string& tablet_id, std::chrono::milliseconds timeout) {
  auto stub = tserver::ConsensusService::NewStub(rpc::NewChannel(address));
  grpc::ClientContext ctx;
  rpc::SetDeadline(&ctx, timeout);
  tserver::GetConsensusStateRequestPB creq;
  creq.add_tablet_ids(tablet_id);
  tserver::GetConsensusStateResponsePB cresp;
  RETURN_IF_ERROR(rpc::FromGrpcStatus(stub->GetConsensusState(&ctx, creq, &cresp),
                                         absl::StrCat(address, ": GetConsensusState")));
  if (cresp.replicas_size() != 1) {
    return absl::NotFoundError(
        absl::StrCat(address, " has no running replica of tablet ", tablet_id));
  }
  return cresp.replicas(0);
}

VoterProbe ProbeFrom(const std::string& uuid, const std::string& address,
                     const tserver::ReplicaConsensusStatePB& r) {
  VoterProbe p;
  p.uuid = uuid;
  p.address = address;
  p.running = true;
  p.leader_lease = r.leader_lease_active();
  p.leader_uuid = r.cstate().leader_uuid();
  if (r.has_ms_since_leader_contact()) p.ms_since_leader_contact = r.ms_since_leader_contact();
  return p;
}

}  // namespace

absl::StatusOr<Plan> MakePlan(const Request& req) {
  if (req.voters.empty()) return absl::InvalidArgumentError("--voters: at least one uuid");
  Plan plan;
  {
    auto stub = server::StatusService::NewStub(rpc::NewChannel(req.tserver));
    grpc::ClientContext ctx;
    rpc::SetDeadline(&ctx, req.timeout);
    server::GetStatusRequestPB sreq;
    sreq.add_tablet_ids(req.tablet_id);
    server::GetStatusResponsePB sresp;
    RETURN_IF_ERROR(rpc::FromGrpcStatus(stub->GetStatus(&ctx, sreq, &sresp),
                                           absl::StrCat(req.tserver, ": GetStatus")));
    plan.server_uuid = sresp.server().uuid();
  }
  ASSIGN_OR_RETURN(tserver::ReplicaConsensusStatePB self,
                   GetReplicaState(req.tserver, req.tablet_id, req.timeout));
  plan.current = self.cstate();
  std::set<std::string> keep(req.voters.begin(), req.voters.end());
  if (!keep.count(plan.server_uuid)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--voters must include the server being forced (", plan.server_uuid, " at ",
                     req.tserver, ")"));
  }
  ASSIGN_OR_RETURN(plan.forced, raft::MakeForcedConfig(plan.current.committed_config(),
                                                        std::vector<std::string>(keep.begin(), keep.end())));
  for (const auto& p : plan.current.committed_config().peers()) {
    if (!keep.count(p.permanent_uuid())) plan.dropped.push_back(p.permanent_uuid());
  }
  if (plan.dropped.empty()) {
    return absl::FailedPreconditionError(
        "--voters keeps every member of the committed config: nothing to force");
  }
  // Every voter of the committed config, as it answers now.
  plan.voters.push_back(ProbeFrom(plan.server_uuid, req.tserver, self));
  for (const auto& p : plan.current.committed_config().peers()) {
    if (p.member_type() != consensus::RaftPeerPB::VOTER || p.permanent_uuid() == plan.server_uuid) {
      continue;
    }
    const std::string address =
        p.has_last_known_addr() ? net::HostPortToString(p.last_known_addr()) : "";
    if (address.empty()) {
      VoterProbe probe;
      probe.uuid = p.permanent_uuid();
      probe.error = "no known address in the config";
      plan.voters.push_back(probe);
      continue;
    }
    absl::StatusOr<tserver::ReplicaConsensusStatePB> r =
        GetReplicaState(address, req.tablet_id, req.peer_timeout);
    if (r.ok()) {
      plan.voters.push_back(ProbeFrom(p.permanent_uuid(), address, *r));
    } else {
      VoterProbe probe;
      probe.uuid = p.permanent_uuid();
      probe.address = address;
      probe.error = std::string(r.status().message());
      plan.voters.push_back(probe);
    }
  }
  return plan;
}

namespace {
int VoterCount(const Plan& plan) {
  int voters = 0;
  for (const auto& p : plan.current.committed_config().peers()) {
    voters += p.member_type() == consensus::RaftPeerPB::VOTER ? 1 : 0;
  }
  return voters;
}
}  // namespace

bool MajorityLost(const Plan& plan) {
  int running = 0;
  for (const VoterProbe& v : plan.voters) running += v.running ? 1 : 0;
  return running < VoterCount(plan) / 2 + 1;
}

absl::StatusOr<Plan> MakePlanWaitingForLeases(const Request& req,
                                              const std::function<void(const Plan&)>& on_wait) {
  const absl::Time give_up = absl::Now() + absl::FromChrono(req.lease_wait);
  while (true) {
    absl::StatusOr<Plan> plan = MakePlan(req);
    if (!plan.ok() || req.force || JudgeSafety(*plan).ok() || !MajorityLost(*plan) ||
        absl::Now() >= give_up) {
      return plan;
    }
    if (on_wait) on_wait(*plan);
    absl::SleepFor(absl::Milliseconds(500));
  }
}

absl::Status JudgeSafety(const Plan& plan) {
  const int voters = VoterCount(plan);
  std::vector<std::string> running, with_leader;
  for (const VoterProbe& v : plan.voters) {
    if (!v.running) continue;
    running.push_back(v.uuid);
    // A leader that lost its majority keeps its role until check-quorum
    // steps it down, a couple of ticks after its lease lapsed; the server
    // refuses to force a leader, so wait for the step-down too.
    const bool still_leader = v.leader_uuid == v.uuid;
    if (v.leader_lease || still_leader) {
      with_leader.push_back(
          v.leader_uuid == v.uuid
              ? absl::StrCat(v.uuid, " is the leader")
              : absl::StrCat(v.uuid, " heard from leader ",
                             v.leader_uuid.empty() ? "?" : v.leader_uuid, " ",
                             v.ms_since_leader_contact, " ms ago"));
    }
  }
  std::vector<std::string> why;
  if (!with_leader.empty()) {
    why.push_back(absl::StrCat("the tablet has a live leader (", absl::StrJoin(with_leader, "; "),
                               ")"));
  }
  const int majority = voters / 2 + 1;
  if (static_cast<int>(running.size()) >= majority) {
    why.push_back(absl::StrCat(running.size(), " of ", voters, " voters are running (",
                               absl::StrJoin(running, ", "), "): a majority can still elect a "
                               "leader"));
  }
  if (why.empty()) return absl::OkStatus();
  return absl::FailedPreconditionError(absl::StrCat(
      "refusing to force the config: the tablet's Raft group looks alive: ",
      absl::StrJoin(why, "; "),
      ". Forcing now would make a second leader, and the master would then discard what the "
      "real majority committed. Wait for the election timeout, or use a safe config change; "
      "--force overrides only when you know the other replicas are gone for good"));
}

absl::StatusOr<consensus::RaftConfigPB> Apply(const Request& req, const Plan& plan,
                                              const std::string& backup_dir,
                                              std::string* backup_path) {
  std::string json;
  google::protobuf::util::JsonPrintOptions opt;
  opt.add_whitespace = true;
  if (!google::protobuf::util::MessageToJsonString(plan.current, &json, opt).ok()) {
    return absl::InternalError("could not render the consensus state for the backup");
  }
  RETURN_IF_ERROR(io::CreateDirs(backup_dir));
  *backup_path = io::JoinPath(backup_dir, absl::StrCat("cstate-", req.tablet_id, "-",
                                                       absl::ToUnixMicros(absl::Now()), ".json"));
  RETURN_IF_ERROR(io::WriteFileAtomically(*backup_path, json));

  auto stub = tserver::ConsensusService::NewStub(rpc::NewChannel(req.tserver));
  grpc::ClientContext ctx;
  rpc::SetDeadline(&ctx, req.timeout);
  tserver::UnsafeChangeConfigRequestPB ureq;
  ureq.set_dest_uuid(plan.server_uuid);
  ureq.set_tablet_id(req.tablet_id);
  for (const auto& p : plan.forced.peers()) ureq.add_keep_uuids(p.permanent_uuid());
  ureq.set_caller_id("kmend unsafe-change-config");
  ureq.set_force(req.force);
  tserver::UnsafeChangeConfigResponsePB uresp;
  RETURN_IF_ERROR(rpc::FromGrpcStatus(stub->UnsafeChangeConfig(&ctx, ureq, &uresp),
                                         absl::StrCat(req.tserver, ": UnsafeChangeConfig")));
  return uresp.new_config();
}

}  // namespace kmend::unsafe_config
