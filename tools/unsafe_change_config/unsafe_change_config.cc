#include "tools/unsafe_change_config/unsafe_change_config.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "google/protobuf/util/json_util.h"
#include "lib/io/file.h"
#include "lib/util/status_macros.h"
#include "proto/status.grpc.pb.h"
#include "proto/tserver.grpc.pb.h"
#include "server/common/grpc_util.h"

namespace kmend::unsafe_config {

absl::StatusOr<Plan> MakePlan(const Request& req) {
  if (req.voters.empty()) return absl::InvalidArgumentError("--voters: at least one uuid");
  auto channel = server::NewChannel(req.tserver);
  Plan plan;
  {
    auto stub = server::StatusService::NewStub(channel);
    grpc::ClientContext ctx;
    server::SetDeadline(&ctx, req.timeout);
    server::GetStatusRequestPB sreq;
    sreq.add_tablet_ids(req.tablet_id);
    server::GetStatusResponsePB sresp;
    RETURN_IF_ERROR(server::FromGrpcStatus(stub->GetStatus(&ctx, sreq, &sresp),
                                           absl::StrCat(req.tserver, ": GetStatus")));
    plan.server_uuid = sresp.server().uuid();
  }
  auto stub = tserver::ConsensusService::NewStub(channel);
  grpc::ClientContext ctx;
  server::SetDeadline(&ctx, req.timeout);
  tserver::GetConsensusStateRequestPB creq;
  creq.add_tablet_ids(req.tablet_id);
  tserver::GetConsensusStateResponsePB cresp;
  RETURN_IF_ERROR(server::FromGrpcStatus(stub->GetConsensusState(&ctx, creq, &cresp),
                                         absl::StrCat(req.tserver, ": GetConsensusState")));
  if (cresp.replicas_size() != 1) {
    return absl::NotFoundError(
        absl::StrCat(req.tserver, " has no running replica of tablet ", req.tablet_id));
  }
  plan.current = cresp.replicas(0).cstate();
  std::set<std::string> keep(req.voters.begin(), req.voters.end());
  if (!keep.count(plan.server_uuid)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--voters must include the server being forced (", plan.server_uuid, " at ",
                     req.tserver, ")"));
  }
  std::set<std::string> members;
  for (const auto& p : plan.current.committed_config().peers()) {
    members.insert(p.permanent_uuid());
    if (keep.count(p.permanent_uuid())) {
      *plan.forced.add_peers() = p;
    } else {
      plan.dropped.push_back(p.permanent_uuid());
    }
  }
  for (const std::string& v : keep) {
    if (!members.count(v)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--voters: ", v, " is not in the committed config of tablet ", req.tablet_id));
    }
  }
  if (plan.dropped.empty()) {
    return absl::FailedPreconditionError(
        "--voters keeps every member of the committed config: nothing to force");
  }
  return plan;
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

  auto stub = tserver::ConsensusService::NewStub(server::NewChannel(req.tserver));
  grpc::ClientContext ctx;
  server::SetDeadline(&ctx, req.timeout);
  tserver::UnsafeChangeConfigRequestPB ureq;
  ureq.set_dest_uuid(plan.server_uuid);
  ureq.set_tablet_id(req.tablet_id);
  for (const auto& p : plan.forced.peers()) ureq.add_keep_uuids(p.permanent_uuid());
  ureq.set_caller_id("kmend unsafe-change-config");
  tserver::UnsafeChangeConfigResponsePB uresp;
  RETURN_IF_ERROR(server::FromGrpcStatus(stub->UnsafeChangeConfig(&ctx, ureq, &uresp),
                                         absl::StrCat(req.tserver, ": UnsafeChangeConfig")));
  return uresp.new_config();
}

}  // namespace kmend::unsafe_config
