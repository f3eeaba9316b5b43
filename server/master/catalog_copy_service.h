// CatalogCopyService on a master (proto/master.proto): StartCatalogCopy
// (leader -> lagging master) handed to the master, and the session calls
// served from a CatalogCopySource; plus GrpcCatalogCopyPeer, the client side
// of the session calls (catalog_copy_client.h).
//
// Thread safety: gRPC calls the service concurrently; the callbacks must be
// thread-safe. Lifetime: the source and callbacks must outlive the service.
#ifndef KMEND_SERVER_MASTER_CATALOG_COPY_SERVICE_H_
#define KMEND_SERVER_MASTER_CATALOG_COPY_SERVICE_H_

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "proto/master.grpc.pb.h"
#include "server/master/catalog_copy_client.h"
#include "server/master/catalog_copy_source.h"

namespace kmend::master {

class CatalogCopyServiceImpl final : public CatalogCopyService::Service {
 public:
  using BeginFn = std::function<absl::StatusOr<BeginCatalogCopyResponsePB>(
      const BeginCatalogCopyRequestPB&)>;
  using StartFn =
      std::function<absl::StatusOr<StartCatalogCopyResponsePB>(const StartCatalogCopyRequestPB&)>;
  // `begin` opens a session on `source` with a consistent snapshot of this
  // master (the master holds off its WAL GC meanwhile; Unavailable when it
  // must not serve one, e.g. not the leader); `start` handles a request to
  // copy from a leader.
  CatalogCopyServiceImpl(CatalogCopySource* source, BeginFn begin, StartFn start)
      : source_(source), begin_(std::move(begin)), start_(std::move(start)) {}

  grpc::Status StartCatalogCopy(grpc::ServerContext*, const StartCatalogCopyRequestPB* req,
                                StartCatalogCopyResponsePB* resp) override;
  grpc::Status BeginCatalogCopy(grpc::ServerContext*, const BeginCatalogCopyRequestPB* req,
                                BeginCatalogCopyResponsePB* resp) override;
  grpc::Status FetchCatalogCopyData(grpc::ServerContext*, const FetchCatalogCopyDataRequestPB* req,
                                    FetchCatalogCopyDataResponsePB* resp) override;
  grpc::Status EndCatalogCopy(grpc::ServerContext*, const EndCatalogCopyRequestPB* req,
                              EndCatalogCopyResponsePB* resp) override;

 private:
  CatalogCopySource* const source_;
  const BeginFn begin_;
  const StartFn start_;
};

class GrpcCatalogCopyPeer : public CatalogCopyPeer {
 public:
  GrpcCatalogCopyPeer(const std::string& address, std::chrono::milliseconds rpc_timeout);
  absl::StatusOr<BeginCatalogCopyResponsePB> Begin(const BeginCatalogCopyRequestPB& req) override;
  absl::StatusOr<FetchCatalogCopyDataResponsePB> Fetch(
      const FetchCatalogCopyDataRequestPB& req) override;
  absl::Status End(const std::string& session_id) override;

 private:
  const std::string address_;
  const std::chrono::milliseconds timeout_;
  std::unique_ptr<CatalogCopyService::Stub> stub_;
};

}  // namespace kmend::master

#endif  // KMEND_SERVER_MASTER_CATALOG_COPY_SERVICE_H_
