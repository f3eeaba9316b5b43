#include "server/master/master_consensus_service.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "lib/raft/config.h"
#include "server/common/audit_interceptor.h"
#include "server/common/config_change_request.h"
#include "server/common/grpc_util.h"
#include "server/common/logger.h"
#include "server/master/raft_catalog_store.h"

namespace kmend::master {

using server::ToGrpcStatus;

void MasterConsensusService::SetDriver(std::shared_ptr<consensus_driver::RaftDriver> driver) {
  absl::MutexLock l(&mu_);
  driver_ = std::move(driver);
}

grpc::Status MasterConsensusService::Driver(const std::string& tablet_id,
                                            std::shared_ptr<consensus_driver::RaftDriver>* out) {
  if (tablet_id != kSysCatalogTabletId) {
    return ToGrpcStatus(absl::NotFoundError(absl::StrCat(
        "master ", uuid_, " hosts only the sys catalog tablet ", kSysCatalogTabletId, ", not ",
        tablet_id)));
  }
  {
    absl::MutexLock l(&mu_);
    *out = driver_;
  }
  if (*out == nullptr) {
    return ToGrpcStatus(absl::UnavailableError(
        absl::StrCat("master ", uuid_, " has not opened its sys catalog (starting or copying)")));
  }
  return grpc::Status::OK;
}

grpc::ServerReadReactor<tserver::RaftMessageRequestPB>* MasterConsensusService::RaftMessageStream(
    grpc::CallbackServerContext* ctx, tserver::RaftMessageResponsePB*) {
  return streams_.Open(ctx, [this](const tserver::RaftMessageRequestPB& req) {
    tserver::RaftMessageResponsePB ignored;
    (void)RaftMessage(nullptr, &req, &ignored);  // RaftMessage does not use its context
  });
}

grpc::Status MasterConsensusService::RaftMessage(grpc::ServerContext*,
                                                 const tserver::RaftMessageRequestPB* req,
                                                 tserver::RaftMessageResponsePB* resp) {
  std::shared_ptr<consensus_driver::RaftDriver> driver;
  {
    absl::MutexLock l(&mu_);
    driver = driver_;
  }
  for (int i = 0; i < req->messages_size(); ++i) {
    const consensus::RaftMessagePB& m = req->messages(i);
    if (!m.to_uuid().empty() && m.to_uuid() != uuid_) {
      // A master restarted on another data directory at the same address.
      return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                          absl::StrCat("message for ", m.to_uuid(), " reached master ", uuid_));
    }
    if (m.tablet_id() != kSysCatalogTabletId) {
      resp->add_unknown_tablet_message_indexes(i);
      continue;
    }
    if (driver == nullptr) {
      // Still learning the other masters' uuids: Raft tolerates the loss.
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          absl::StrCat("master ", uuid_, " has not opened its sys catalog yet"));
    }
    // A message the driver refuses (after shutdown, malformed) is dropped
    // alone: Raft tolerates lost messages.
    (void)driver->Receive(m);
  }
  return grpc::Status::OK;
}

grpc::Status MasterConsensusService::GetConsensusState(
    grpc::ServerContext*, const tserver::GetConsensusStateRequestPB* req,
    tserver::GetConsensusStateResponsePB* resp) {
  for (const std::string& id : req->tablet_ids()) {
    std::shared_ptr<consensus_driver::RaftDriver> d;
    if (grpc::Status s = Driver(id, &d); !s.ok()) return s;
  }
  std::shared_ptr<consensus_driver::RaftDriver> d;
  if (grpc::Status s = Driver(kSysCatalogTabletId, &d); !s.ok()) return s;
  raft::RaftStatus rs = d->GetStatus();
  tserver::ReplicaConsensusStatePB* out = resp->add_replicas();
  out->set_tablet_id(kSysCatalogTabletId);
  *out->mutable_cstate() = rs.ToConsensusStatePB();
  *out->mutable_last_logged_opid() = rs.last_logged;
  *out->mutable_last_committed_opid() = rs.committed;
  out->set_leader_lease_active(rs.leader_lease);
  if (rs.ticks_since_leader_contact >= 0) {
    out->set_ms_since_leader_contact(rs.ticks_since_leader_contact * tick_ms_);
  }
  return grpc::Status::OK;
}

grpc::Status MasterConsensusService::ChangeConfig(grpc::ServerContext*,
                                                  const tserver::ChangeConfigRequestPB* req,
                                                  tserver::ChangeConfigResponsePB* resp) {
  std::shared_ptr<consensus_driver::RaftDriver> d;
  if (grpc::Status s = Driver(req->tablet_id(), &d); !s.ok()) return s;
  absl::StatusOr<raft::ConfigChange> parsed =
      server::ConfigChangeFromRequest(*req, server::PeerAddress::kRequired);
  if (!parsed.ok()) return ToGrpcStatus(parsed.status());
  const raft::ConfigChange& change = *parsed;
  absl::StatusOr<consensus::OpId> id = d->ChangeConfig(change);
  if (!id.ok()) return ToGrpcStatus(id.status());
  absl::Status s = d->WaitForApplied(*id, absl::Seconds(10));
  if (!s.ok()) return ToGrpcStatus(s);
  *resp->mutable_op_id() = *id;
  KLOG(INFO) << "sys catalog: config change " << raft::ChangeTypeName(change.type) << " "
             << change.uuid << " committed at " << id->term() << "." << id->index();
  return grpc::Status::OK;
}

grpc::Status MasterConsensusService::UnsafeChangeConfig(
    grpc::ServerContext* ctx, const tserver::UnsafeChangeConfigRequestPB* req,
    tserver::UnsafeChangeConfigResponsePB* resp) {
  if (!req->dest_uuid().empty() && req->dest_uuid() != uuid_) {
    return ToGrpcStatus(absl::FailedPreconditionError(
        absl::StrCat("UnsafeChangeConfig for ", req->dest_uuid(), " reached master ", uuid_)));
  }
  std::shared_ptr<consensus_driver::RaftDriver> d;
  if (grpc::Status s = Driver(req->tablet_id(), &d); !s.ok()) return s;
  absl::StatusOr<consensus::RaftConfigPB> next = raft::MakeForcedConfig(
      d->GetStatus().committed_config,
      std::vector<std::string>(req->keep_uuids().begin(), req->keep_uuids().end()));
  if (!next.ok()) {
    return ToGrpcStatus(absl::InvalidArgumentError(
        absl::StrCat("UnsafeChangeConfig of the sys catalog: ", next.status().message())));
  }
  // The core refuses (unless forced) while this master leads or heard from a
  // leader within an election timeout, as on a tablet server.
  absl::StatusOr<consensus::OpId> id = d->UnsafeChangeConfig(*next, req->force(), absl::Seconds(10));
  if (!id.ok()) return ToGrpcStatus(id.status());
  // The audit line of this call (server/common/audit_interceptor.h).
  ctx->AddTrailingMetadata(
      server::kAuditDetailKey,
      absl::StrCat("forced catalog voters ", raft::ConfigSummary(*next), " at op ", id->term(),
                   ".", id->index(), req->force() ? " (FORCED past a live leader)" : ""));
  KLOG(WARNING) << "sys catalog: UNSAFE config change by '" << req->caller_id() << "'"
                << (req->force() ? " (FORCED past a live leader)" : "") << " forced "
                << next->peers_size() << " master(s) at op " << id->term() << "." << id->index();
  *resp->mutable_new_config() = d->GetStatus().pending_config.value_or(*next);
  // Campaign now: the catalog has no leader (the core refused otherwise), and
  // every second without one is a second without CreateTable.
  absl::Status campaign = d->Campaign();
  if (!campaign.ok()) {
    KLOG(INFO) << "sys catalog: no campaign after the forced config: " << campaign.message();
  }
  return grpc::Status::OK;
}

}  // namespace kmend::master
