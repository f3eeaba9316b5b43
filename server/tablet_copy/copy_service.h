// TabletCopyService (proto/tablet_copy.proto) over a TabletCopySourceManager:
// the gRPC edge only, converting absl::Status to grpc::Status.
//
// Wiring in a tablet server: build one TabletCopySourceManager with the
// server's TabletCopySourceProvider, wrap it in a TabletCopyServiceImpl and
// pass the service to RpcServer::Start with the others.
//
// Thread safety: as the manager (thread-safe). Lifetime: the manager must
// outlive the service, and the service the gRPC server's Shutdown.
#ifndef KMEND_SERVER_TABLET_COPY_COPY_SERVICE_H_
#define KMEND_SERVER_TABLET_COPY_COPY_SERVICE_H_

#include "grpcpp/grpcpp.h"
#include "proto/tablet_copy.grpc.pb.h"
#include "server/tablet_copy/copy_source.h"

namespace kmend::tablet_copy {

class TabletCopyServiceImpl final : public tserver::TabletCopyService::Service {
 public:
  explicit TabletCopyServiceImpl(TabletCopySourceManager* manager) : manager_(manager) {}

  grpc::Status BeginTabletCopySession(grpc::ServerContext* ctx,
                                      const tserver::BeginTabletCopySessionRequestPB* req,
                                      tserver::BeginTabletCopySessionResponsePB* resp) override;
  grpc::Status FetchData(grpc::ServerContext* ctx, const tserver::FetchDataRequestPB* req,
                         tserver::FetchDataResponsePB* resp) override;
  grpc::Status EndTabletCopySession(grpc::ServerContext* ctx,
                                    const tserver::EndTabletCopySessionRequestPB* req,
                                    tserver::EndTabletCopySessionResponsePB* resp) override;

 private:
  TabletCopySourceManager* const manager_;
};

}  // namespace kmend::tablet_copy

#endif  // KMEND_SERVER_TABLET_COPY_COPY_SERVICE_H_
