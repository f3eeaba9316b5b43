#include "server/master/catalog_copy_service.h"

#include "absl/strings/str_cat.h"
#include "server/common/grpc_util.h"

namespace kmend::master {

grpc::Status CatalogCopyServiceImpl::StartCatalogCopy(grpc::ServerContext*,
                                                      const StartCatalogCopyRequestPB* req,
                                                      StartCatalogCopyResponsePB* resp) {
  absl::StatusOr<StartCatalogCopyResponsePB> r = start_(*req);
  if (!r.ok()) return server::ToGrpcStatus(r.status());
  *resp = std::move(*r);
  return grpc::Status::OK;
}

grpc::Status CatalogCopyServiceImpl::BeginCatalogCopy(grpc::ServerContext*,
                                                      const BeginCatalogCopyRequestPB* req,
                                                      BeginCatalogCopyResponsePB* resp) {
  absl::StatusOr<BeginCatalogCopyResponsePB> r = begin_(*req);
  if (!r.ok()) return server::ToGrpcStatus(r.status());
  *resp = std::move(*r);
  return grpc::Status::OK;
}

grpc::Status CatalogCopyServiceImpl::FetchCatalogCopyData(
    grpc::ServerContext*, const FetchCatalogCopyDataRequestPB* req,
    FetchCatalogCopyDataResponsePB* resp) {
  absl::StatusOr<FetchCatalogCopyDataResponsePB> r = source_->Fetch(*req);
  if (!r.ok()) return server::ToGrpcStatus(r.status());
  *resp = std::move(*r);
  return grpc::Status::OK;
}

grpc::Status CatalogCopyServiceImpl::EndCatalogCopy(grpc::ServerContext*,
                                                    const EndCatalogCopyRequestPB* req,
                                                    EndCatalogCopyResponsePB*) {
  return server::ToGrpcStatus(source_->End(req->session_id()));
}

GrpcCatalogCopyPeer::GrpcCatalogCopyPeer(const std::string& address,
                                         std::chrono::milliseconds rpc_timeout)
    : address_(address),
      timeout_(rpc_timeout),
      stub_(CatalogCopyService::NewStub(server::NewChannel(address))) {}

absl::StatusOr<BeginCatalogCopyResponsePB> GrpcCatalogCopyPeer::Begin(
    const BeginCatalogCopyRequestPB& req) {
  grpc::ClientContext ctx;
  server::SetDeadline(&ctx, timeout_);
  BeginCatalogCopyResponsePB resp;
  absl::Status s = server::FromGrpcStatus(stub_->BeginCatalogCopy(&ctx, req, &resp),
                                          absl::StrCat("BeginCatalogCopy at ", address_));
  if (!s.ok()) return s;
  return resp;
}

absl::StatusOr<FetchCatalogCopyDataResponsePB> GrpcCatalogCopyPeer::Fetch(
    const FetchCatalogCopyDataRequestPB& req) {
  grpc::ClientContext ctx;
  server::SetDeadline(&ctx, timeout_);
  FetchCatalogCopyDataResponsePB resp;
  absl::Status s = server::FromGrpcStatus(stub_->FetchCatalogCopyData(&ctx, req, &resp),
                                          absl::StrCat("FetchCatalogCopyData at ", address_));
  if (!s.ok()) return s;
  return resp;
}

absl::Status GrpcCatalogCopyPeer::End(const std::string& session_id) {
  grpc::ClientContext ctx;
  server::SetDeadline(&ctx, timeout_);
  EndCatalogCopyRequestPB req;
  req.set_session_id(session_id);
  EndCatalogCopyResponsePB resp;
  return server::FromGrpcStatus(stub_->EndCatalogCopy(&ctx, req, &resp),
                                absl::StrCat("EndCatalogCopy at ", address_));
}

}  // namespace kmend::master
