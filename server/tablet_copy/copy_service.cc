#include "server/tablet_copy/copy_service.h"

#include "server/common/grpc_util.h"

namespace kmend::tablet_copy {

grpc::Status TabletCopyServiceImpl::BeginTabletCopySession(
    grpc::ServerContext*, const tserver::BeginTabletCopySessionRequestPB* req,
    tserver::BeginTabletCopySessionResponsePB* resp) {
  auto r = manager_->BeginSession(*req);
  if (!r.ok()) return server::ToGrpcStatus(r.status());
  *resp = std::move(*r);
  return grpc::Status::OK;
}

grpc::Status TabletCopyServiceImpl::FetchData(grpc::ServerContext*,
                                              const tserver::FetchDataRequestPB* req,
                                              tserver::FetchDataResponsePB* resp) {
  auto r = manager_->FetchData(*req);
  if (!r.ok()) return server::ToGrpcStatus(r.status());
  *resp->mutable_chunk() = std::move(*r);
  return grpc::Status::OK;
}

grpc::Status TabletCopyServiceImpl::EndTabletCopySession(
    grpc::ServerContext*, const tserver::EndTabletCopySessionRequestPB* req,
    tserver::EndTabletCopySessionResponsePB*) {
  return server::ToGrpcStatus(manager_->EndSession(req->session_id(), req->is_success()));
}

}  // namespace kmend::tablet_copy
