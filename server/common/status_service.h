// StatusService (proto/status.proto), the same on masters and tablet
// servers: the common ServerInfoPB plus whatever the server adds (replicas on
// a tablet server, catalog state on a master) through a StatusSource.
//
// Thread safety: the service is called from gRPC threads concurrently; the
// StatusSource must be thread-safe. Lifetime: `source` and `clock` outlive
// the service.
#ifndef KMEND_SERVER_COMMON_STATUS_SERVICE_H_
#define KMEND_SERVER_COMMON_STATUS_SERVICE_H_

#include <atomic>
#include <string>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "proto/status.grpc.pb.h"
#include "server/common/clock.h"

namespace kmend::server {

// What a server adds to its status answer.
class StatusSource {
 public:
  virtual ~StatusSource() = default;
  // Fills the server-specific parts of *resp (replicas, master). Errors
  // become the RPC's status.
  virtual absl::Status FillStatus(const GetStatusRequestPB& req, GetStatusResponsePB* resp) = 0;
};

class StatusServiceImpl final : public StatusService::Service {
 public:
  StatusServiceImpl(ServerRole role, std::string uuid, std::string fs_root, const Clock* clock,
                    StatusSource* source);

  // Called once the RPC server knows its bound address.
  void SetRpcAddress(const HostPortPB& address);

  // ServerInfoPB as GetStatus reports it now.
  ServerInfoPB Info() const;

  grpc::Status GetStatus(grpc::ServerContext* ctx, const GetStatusRequestPB* req,
                         GetStatusResponsePB* resp) override;

 private:
  const ServerRole role_;
  const std::string uuid_;
  const std::string fs_root_;
  const Clock* const clock_;
  StatusSource* const source_;
  const int64_t start_mono_us_;
  const int64_t start_wall_us_;
  mutable absl::Mutex mu_;
  HostPortPB rpc_address_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kmend::server

#endif  // KMEND_SERVER_COMMON_STATUS_SERVICE_H_
