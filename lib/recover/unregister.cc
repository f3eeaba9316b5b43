#include "lib/recover/unregister.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "lib/check/checker.h"
#include "lib/rpc/grpc_util.h"
#include "proto/master.grpc.pb.h"

namespace kmend::recover {

absl::Status JudgeUnregister(const check::ClusterSnapshot& snap, const std::string& uuid) {
  const check::TabletServerFacts* server = nullptr;
  for (const auto& ts : snap.tablet_servers) {
    if (ts.uuid == uuid) server = &ts;
  }
  if (server == nullptr) {
    return absl::NotFoundError(absl::StrCat("tablet server ", uuid, " is not registered"));
  }
  if (server->live_per_master || server->reachable) {
    return absl::FailedPreconditionError(absl::StrCat(
        "tablet server ", uuid, " (", server->address, ") ",
        server->reachable ? "answers" : "heartbeats to the master",
        ": only a server that is gone can be unregistered"));
  }
  const check::KsckResults results = check::Check(snap);
  std::vector<std::string> only_copy;
  for (const check::TabletResult& t : results.tablets) {
    bool named = false, other_running = false;
    for (const check::ReplicaResult& r : t.replicas) {
      if (!r.in_master_config) continue;
      if (r.ts_uuid == uuid) {
        named = true;
      } else if (r.state == check::ReplicaState::kRunning ||
                 r.state == check::ReplicaState::kUnknown) {
        other_running = true;
      }
    }
    if (named && !other_running) only_copy.push_back(absl::StrCat(t.tablet_id, " (", t.table_name, ")"));
  }
  if (!only_copy.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "tablet server ", uuid, " may hold the only copy of ", only_copy.size(), " tablet(s): ",
        absl::StrJoin(only_copy, ", "),
        "; bring it (or another replica) back, or recover those tablets first"));
  }
  return absl::OkStatus();
}

namespace {

// Sends one request to every master in turn (not only the leader: each master
// keeps its own tablet-server registry) and keeps every answer.
template <typename Call>
std::vector<MasterAnswer> AskEveryMaster(const std::vector<std::string>& masters,
                                         std::chrono::milliseconds timeout,
                                         const char* rpc_name, const Call& call) {
  std::vector<MasterAnswer> out;
  for (const std::string& m : masters) {
    auto stub = master::MasterService::NewStub(rpc::NewChannel(m));
    grpc::ClientContext ctx;
    rpc::SetDeadline(&ctx, timeout);
    out.push_back({m, rpc::FromGrpcStatus(call(*stub, &ctx), absl::StrCat(m, ": ", rpc_name))});
  }
  return out;
}

}  // namespace

std::vector<MasterAnswer> UnregisterFromMasters(const std::vector<std::string>& masters,
                                                const std::string& uuid,
                                                std::chrono::milliseconds timeout) {
  master::UnregisterTServerRequestPB req;
  req.set_permanent_uuid(uuid);
  return AskEveryMaster(masters, timeout, "UnregisterTServer",
                        [&](master::MasterService::Stub& stub, grpc::ClientContext* ctx) {
                          master::UnregisterTServerResponsePB resp;
                          return stub.UnregisterTServer(ctx, req, &resp);
                        });
}

std::vector<MasterAnswer> SetMaintenanceOnMasters(const std::vector<std::string>& masters,
                                                  const std::string& uuid, bool enter,
                                                  std::chrono::milliseconds timeout) {
  master::SetTServerMaintenanceRequestPB req;
  req.set_permanent_uuid(uuid);
  req.set_enter(enter);
  return AskEveryMaster(masters, timeout, "SetTServerMaintenance",
                        [&](master::MasterService::Stub& stub, grpc::ClientContext* ctx) {
                          master::SetTServerMaintenanceResponsePB resp;
                          return stub.SetTServerMaintenance(ctx, req, &resp);
                        });
}

}  // namespace kmend::recover
