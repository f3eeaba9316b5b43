#include "lib/recover/force_config.h"

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

namespace kmend::recover {

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

absl::StatusOr<ForcePlan> MakeForcePlan(const ForceRequest& req) {
  if (req.voters.empty()) return absl::InvalidArgumentError("--voters: at least one uuid");
  ForcePlan plan;
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
  plan.last_logged = self.last_logged_opid();
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

absl::StatusOr<ForcePlan> MakeForcePlanWaitingForLeases(
    const ForceRequest& req, const std::function<void(const ForcePlan&)>& on_wait) {
  const absl::Time give_up = absl::Now() + absl::FromChrono(req.lease_wait);
  while (true) {
    absl::StatusOr<ForcePlan> plan = MakeForcePlan(req);
    if (!plan.ok() || req.force || JudgeSafety(*plan).ok() || !MajorityLost(*plan) ||
        absl::Now() >= give_up) {
      return plan;
    }
    if (on_wait) on_wait(*plan);
    absl::SleepFor(absl::Milliseconds(100));
  }
}

absl::StatusOr<consensus::RaftConfigPB> ApplyForce(const ForceRequest& req, const ForcePlan& plan,
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
  // The server waits up to 10 s for the forced entry to be durable: a
  // shorter deadline would report a failure for a force that happened.
  rpc::SetDeadline(&ctx, req.timeout + std::chrono::seconds(10));
  tserver::UnsafeChangeConfigRequestPB ureq;
  ureq.set_dest_uuid(plan.server_uuid);
  ureq.set_tablet_id(req.tablet_id);
  for (const auto& p : plan.forced.peers()) ureq.add_keep_uuids(p.permanent_uuid());
  ureq.set_caller_id(req.caller_id);
  ureq.set_force(req.force);
  tserver::UnsafeChangeConfigResponsePB uresp;
  RETURN_IF_ERROR(rpc::FromGrpcStatus(stub->UnsafeChangeConfig(&ctx, ureq, &uresp),
                                         absl::StrCat(req.tserver, ": UnsafeChangeConfig")));
  return uresp.new_config();
}

}  // namespace kmend::recover
