#include "server/tserver/tserver_services.h"

#include <memory>

#include "absl/strings/str_cat.h"
#include "lib/raft/config.h"
#include "server/common/audit_interceptor.h"
#include "server/common/config_change_request.h"
#include "server/common/grpc_util.h"
#include "server/common/logger.h"

namespace kmend::tserver {
namespace {

using server::ToGrpcStatus;

// Requests carrying dest_uuid are refused by any other server, so that an
// address now used by a different server never acts on them.
absl::Status CheckDest(const std::string& dest, const std::string& self) {
  if (!dest.empty() && dest != self) {
    return absl::FailedPreconditionError(absl::StrCat(
        "request is for tablet server ", dest, " but this is ", self));
  }
  return absl::OkStatus();
}

// A hosted replica has no Raft receiver when it does not run Raft: it is
// TOMBSTONED, FAILED or COPYING, or READY but starting up or shutting down.
// The sender's transport drops the batch on any error and retries later,
// which is right for all of these: the messages are for a replica that may
// run Raft again (after a tablet copy or restart).
grpc::Status NotRunningRaft(const TabletReplica& replica) {
  return ToGrpcStatus(absl::FailedPreconditionError(
      absl::StrCat("tablet ", replica.tablet_id(), " is hosted but not running Raft (state ",
                   tablet::TabletDataState_Name(replica.data_state()), ")")));
}

}  // namespace

grpc::Status TabletServerServiceImpl::CreateTablet(grpc::ServerContext*,
                                                   const CreateTabletRequestPB* req,
                                                   CreateTabletResponsePB*) {
  absl::Status s = CheckDest(req->dest_uuid(), uuid_);
  if (s.ok() && req->has_copy_from_address()) {
    s = manager_->CopyTabletFrom(req->tablet_id(), req->copy_from_address());
    if (s.ok()) {
      KLOG(INFO) << "copied tablet " << req->tablet_id() << " from " << req->copy_from_address();
    }
    return ToGrpcStatus(s);
  }
  if (s.ok()) s = manager_->CreateTablet(*req);
  if (s.ok()) {
    KLOG(INFO) << "created tablet " << req->tablet_id() << " of table '" << req->table_name()
               << "' with " << req->initial_config().peers_size() << " peers";
  }
  return ToGrpcStatus(s);
}

grpc::Status TabletServerServiceImpl::DeleteTablet(grpc::ServerContext*,
                                                   const DeleteTabletRequestPB* req,
                                                   DeleteTabletResponsePB*) {
  absl::Status s = CheckDest(req->dest_uuid(), uuid_);
  if (s.ok()) {
    std::optional<int64_t> cas;
    if (req->has_cas_config_opid_index_less_or_equal()) {
      cas = req->cas_config_opid_index_less_or_equal();
    }
    s = manager_->DeleteTablet(req->tablet_id(), req->tombstone(), req->reason(), cas);
  }
  if (s.ok()) {
    KLOG(INFO) << (req->tombstone() ? "tombstoned" : "deleted") << " tablet "
               << req->tablet_id() << ": " << req->reason();
  }
  return ToGrpcStatus(s);
}

grpc::ServerUnaryReactor* TabletServerServiceImpl::Write(grpc::CallbackServerContext* ctx,
                                                         const grpc::ByteBuffer* request,
                                                         grpc::ByteBuffer* response) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  // The request and the response live until the answer (a Raft worker's).
  struct Call {
    WriteRequestPB req;
    WriteResponsePB resp;
  };
  auto call = std::make_shared<Call>();
  grpc::ByteBuffer bytes(*request);  // a reference to the same slices
  if (grpc::Status parsed = grpc::SerializationTraits<WriteRequestPB>::Deserialize(&bytes, &call->req);
      !parsed.ok()) {
    // gRPC's message is the missing required fields (ops.ops[0].type), if any.
    reactor->Finish(grpc::Status(
        grpc::StatusCode::INVALID_ARGUMENT,
        parsed.error_message().empty()
            ? std::string("malformed WriteRequestPB")
            : absl::StrCat("WriteRequestPB: missing required fields: ", parsed.error_message())));
    return reactor;
  }
  auto r = manager_->Lookup(call->req.tablet_id());
  if (!r.ok()) {
    reactor->Finish(ToGrpcStatus(r.status()));
    return reactor;
  }
  // `replica` keeps the replica alive until its answer.
  std::shared_ptr<TabletReplica> replica = *r;
  replica->WriteAsync(call->req, &call->resp,
                      [this, replica, reactor, call, response](absl::Status s) {
                        if (s.ok() && ack_log_ != nullptr) {
                          ack_log_->Append(call->req.tablet_id(), call->resp.op_id().term(),
                                           call->resp.op_id().index(), uuid_);
                        }
                        if (!s.ok()) return reactor->Finish(ToGrpcStatus(s));
                        bool own_buffer = false;
                        reactor->Finish(grpc::SerializationTraits<WriteResponsePB>::Serialize(
                            call->resp, response, &own_buffer));
                      });
  return reactor;
}

grpc::Status TabletServerServiceImpl::Scan(grpc::ServerContext*, const ScanRequestPB* req,
                                           ScanResponsePB* resp) {
  auto r = manager_->Lookup(req->tablet_id());
  if (!r.ok()) return ToGrpcStatus(r.status());
  return ToGrpcStatus((*r)->Scan(*req, resp));
}

grpc::Status TabletServerServiceImpl::Checksum(grpc::ServerContext*,
                                               const ChecksumRequestPB* req,
                                               ChecksumResponsePB* resp) {
  auto r = manager_->Lookup(req->tablet_id());
  if (!r.ok()) return ToGrpcStatus(r.status());
  return ToGrpcStatus((*r)->Checksum(*req, resp));
}

grpc::Status ConsensusServiceImpl::RaftMessage(grpc::ServerContext*,
                                               const RaftMessageRequestPB* req,
                                               RaftMessageResponsePB* resp) {
  // Any request, also an empty liveness call, proves its sender alive.
  if (liveness_ != nullptr) liveness_->Heard(req->from_uuid(), req->from_incarnation());
  // The hosted replica of the first message that found no Raft receiver.
  std::shared_ptr<TabletReplica> not_running;
  for (int i = 0; i < req->messages_size(); ++i) {
    const auto& m = req->messages(i);
    if (!m.to_uuid().empty() && m.to_uuid() != uuid_) {
      return ToGrpcStatus(CheckDest(m.to_uuid(), uuid_));
    }
    if (router_ != nullptr) {
      absl::Status s = router_->Deliver(m);
      // A message the driver refuses (malformed, after shutdown) is dropped
      // alone, not the whole batch: Raft tolerates lost messages.
      if (!absl::IsNotFound(s)) continue;
    }
    auto hosted = manager_->Lookup(m.tablet_id());
    if (hosted.ok()) {
      if (not_running == nullptr) not_running = *hosted;
    } else {
      resp->add_unknown_tablet_message_indexes(i);
    }
  }
  if (not_running != nullptr) return NotRunningRaft(*not_running);
  return grpc::Status::OK;
}

grpc::ServerReadReactor<RaftMessageRequestPB>* ConsensusServiceImpl::RaftMessageStream(
    grpc::CallbackServerContext* ctx, RaftMessageResponsePB*) {
  return streams_.Open(ctx, [this](const RaftMessageRequestPB& req) {
    RaftMessageResponsePB ignored;
    (void)RaftMessage(nullptr, &req, &ignored);  // RaftMessage does not use its context
  });
}

grpc::Status ConsensusServiceImpl::RaftEndpoint(grpc::ServerContext*,
                                                const RaftEndpointRequestPB*,
                                                RaftEndpointResponsePB* resp) {
  if (const int port = tcp_.port(); port > 0) resp->set_tcp_port(static_cast<uint32_t>(port));
  return grpc::Status::OK;
}

grpc::Status ConsensusServiceImpl::ChangeConfig(grpc::ServerContext*,
                                                const ChangeConfigRequestPB* req,
                                                ChangeConfigResponsePB* resp) {
  auto r = manager_->Lookup(req->tablet_id());
  if (!r.ok()) return ToGrpcStatus(r.status());
  auto driver = (*r)->driver();
  if (!driver.ok()) return ToGrpcStatus(driver.status());
  absl::StatusOr<raft::ConfigChange> parsed =
      server::ConfigChangeFromRequest(*req, server::PeerAddress::kOptional);
  if (!parsed.ok()) return ToGrpcStatus(parsed.status());
  const raft::ConfigChange& change = *parsed;
  absl::StatusOr<consensus::OpId> id = (*driver)->ChangeConfig(change);
  if (!id.ok()) return ToGrpcStatus(id.status());
  // Answer once the change is committed (and applied here).
  absl::Status s = (*driver)->WaitForApplied(*id, absl::Seconds(10));
  if (!s.ok()) return ToGrpcStatus(s);
  *resp->mutable_op_id() = *id;
  KLOG(INFO) << "tablet " << req->tablet_id() << ": config change "
             << raft::ChangeTypeName(change.type) << " " << change.uuid << " committed at "
             << id->term() << "." << id->index();
  return grpc::Status::OK;
}

grpc::Status ConsensusServiceImpl::UnsafeChangeConfig(grpc::ServerContext* ctx,
                                                      const UnsafeChangeConfigRequestPB* req,
                                                      UnsafeChangeConfigResponsePB* resp) {
  absl::Status s = CheckDest(req->dest_uuid(), uuid_);
  if (!s.ok()) return ToGrpcStatus(s);
  auto r = manager_->Lookup(req->tablet_id());
  if (!r.ok()) return ToGrpcStatus(r.status());
  auto driver = (*r)->driver();
  if (!driver.ok()) return ToGrpcStatus(driver.status());
  absl::StatusOr<consensus::RaftConfigPB> next = raft::MakeForcedConfig(
      (*driver)->GetStatus().committed_config,
      std::vector<std::string>(req->keep_uuids().begin(), req->keep_uuids().end()));
  if (!next.ok()) {
    return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
        "UnsafeChangeConfig of tablet ", req->tablet_id(), ": ", next.status().message())));
  }
  // The core refuses (unless forced) while this replica leads or heard from
  // a leader within an election timeout; it answers once the entry is durable.
  absl::StatusOr<consensus::OpId> id =
      (*driver)->UnsafeChangeConfig(*next, req->force(), absl::Seconds(10));
  if (!id.ok()) return ToGrpcStatus(id.status());
  // The audit line of this call (server/common/audit_interceptor.h) says
  // what was forced and where.
  ctx->AddTrailingMetadata(
      server::kAuditDetailKey,
      absl::StrCat("forced voters ", raft::ConfigSummary(*next), " at op ", id->term(), ".",
                   id->index(), req->force() ? " (FORCED past a live leader)" : ""));
  KLOG(WARNING) << "tablet " << req->tablet_id() << ": UNSAFE config change by '"
                << req->caller_id() << "'" << (req->force() ? " (FORCED past a live leader)" : "")
                << " forced " << next->peers_size() << " peer(s) at op " << id->term() << "."
                << id->index();
  *resp->mutable_new_config() = (*driver)->GetStatus().pending_config.value_or(*next);
  // Campaign now instead of after an election timeout (1-2 s of unavailability
  // per forced tablet): the group has no leader (the core refused otherwise)
  // and an early election is as safe as a timed-out one.
  absl::Status campaign = (*driver)->Campaign();
  if (!campaign.ok()) {
    KLOG(INFO) << "tablet " << req->tablet_id() << ": no campaign after the forced config: "
               << campaign.message();
  }
  return grpc::Status::OK;
}

grpc::Status ConsensusServiceImpl::GetConsensusState(grpc::ServerContext*,
                                                     const GetConsensusStateRequestPB* req,
                                                     GetConsensusStateResponsePB* resp) {
  std::vector<std::shared_ptr<TabletReplica>> replicas;
  if (req->tablet_ids_size() == 0) {
    replicas = manager_->List();
  } else {
    for (const std::string& id : req->tablet_ids()) {
      auto r = manager_->Lookup(id);
      if (!r.ok()) return ToGrpcStatus(r.status());
      replicas.push_back(*r);
    }
  }
  for (const auto& r : replicas) {
    if (r->data_state() == tablet::TABLET_DATA_FAILED) continue;
    ReplicaConsensusStatePB* out = resp->add_replicas();
    out->set_tablet_id(r->tablet_id());
    r->FillConsensusState(out);
  }
  return grpc::Status::OK;
}

grpc::Status ConsensusServiceImpl::StepDown(grpc::ServerContext*, const StepDownRequestPB* req,
                                            StepDownResponsePB*) {
  auto r = manager_->Lookup(req->tablet_id());
  if (!r.ok()) return ToGrpcStatus(r.status());
  auto driver = (*r)->driver();
  if (!driver.ok()) return ToGrpcStatus(driver.status());
  if (req->has_new_leader_uuid()) {
    return ToGrpcStatus((*driver)->TransferLeadership(req->new_leader_uuid()));
  }
  return ToGrpcStatus((*driver)->StepDown());
}

grpc::Status ConsensusServiceImpl::StartTabletCopy(grpc::ServerContext*,
                                                   const StartTabletCopyRequestPB* req,
                                                   StartTabletCopyResponsePB* resp) {
  if (rebuilder_ == nullptr) {
    return ToGrpcStatus(absl::UnimplementedError("StartTabletCopy: not on this server"));
  }
  absl::StatusOr<StartTabletCopyResponsePB> r = rebuilder_->Start(*req);
  if (!r.ok()) return ToGrpcStatus(r.status());
  *resp = *std::move(r);
  return grpc::Status::OK;
}

grpc::Status ConsensusServiceImpl::GetTabletCopyProgress(
    grpc::ServerContext*, const GetTabletCopyProgressRequestPB* req,
    GetTabletCopyProgressResponsePB* resp) {
  if (rebuilder_ == nullptr) {
    return ToGrpcStatus(absl::UnimplementedError("GetTabletCopyProgress: not on this server"));
  }
  absl::StatusOr<server::TabletCopyProgressPB> p = rebuilder_->Progress(req->tablet_id());
  if (!p.ok()) return ToGrpcStatus(p.status());
  *resp->mutable_progress() = *std::move(p);
  return grpc::Status::OK;
}

}  // namespace kmend::tserver
